/**
 * The kernel's `witnesses` option (issue 14, point 7): k of n witnesses (`@edca/audit`'s
 * `createWitness`, the same code `edca witness serve` runs) must cosign the journal's newest
 * checkpoint before the kernel decides again. Checked across kernel restarts, and against a
 * journal cut back to an earlier checkpoint, which the witnesses (and so the kernel) refuse and
 * the auditor finds TRUNCATED from the cosignatures the kernel handed over.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createWitness,
  safeVerifyJournal,
  type Witness,
  type WitnessedState,
  type WitnessStateStore,
} from '@edca/audit';
import { openFileJournal, type CheckpointWitness, type KernelWitnessedCheckpoint } from '@edca/kernel';
import { createNodeSigner, generateKeyPair, toBase64url, type Signer, type TrustFile } from '@edca/records';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agent,
  createBank,
  makeHarness,
  testClock,
  type Harness,
} from '../packages/kernel/test/support/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'edca-kernel-witnesses-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const signer = createNodeSigner(generateKeyPair().privateKeyPem);
const witnessSigners: Signer[] = [1, 2, 3].map(() => createNodeSigner(generateKeyPair().privateKeyPem));
const entry = (s: Signer, role: string) => ({
  kid: s.kid,
  alg: 'Ed25519' as const,
  publicKey: toBase64url(s.publicKey),
  role,
  notBefore: '2020-01-01T00:00:00.000Z',
  notAfter: null,
});
const trust: TrustFile = {
  version: 1,
  keys: [entry(signer, 'kernel'), ...witnessSigners.map((s) => entry(s, 'witness'))],
};

/** A witness state that outlives every kernel in this file (the witnesses are other parties). */
function memoryStore(): WitnessStateStore {
  const states = new Map<string, WitnessedState>();
  return {
    load: (origin) => Promise.resolve(states.get(origin)),
    save: (origin, state) => {
      states.set(origin, state);
      return Promise.resolve();
    },
  };
}
const witnesses: Witness[] = witnessSigners.map((s) =>
  createWitness({ signer: s, trust, store: memoryStore() }),
);
const down = new Set<number>();
const reachable: CheckpointWitness[] = witnesses.map((w, i) => ({
  kid: w.kid,
  addCheckpoint: (request, now) =>
    down.has(i) ? Promise.reject(new Error('witness unreachable')) : w.addCheckpoint(request, now),
}));
const witnessed: KernelWitnessedCheckpoint[] = [];
const journalPath = join(dir, 'journal.jsonl');
const clock = testClock();
const bank = createBank();

async function start(): Promise<Harness> {
  const journal = await openFileJournal({
    path: journalPath,
    stream: 'witnessed',
    signer,
    clock,
    fsync: false,
    checkpointEvery: 3,
  });
  const h = await makeHarness({
    signer,
    clock,
    bank,
    overrides: {
      journal,
      witnesses: {
        witnesses: reachable,
        quorum: 2,
        onWitnessed: (c) => {
          witnessed.push(c);
        },
      },
    },
  });
  return {
    ...h,
    async close() {
      await h.close();
      await journal.close();
    },
  };
}

let payment = 0;
async function refund(h: Harness): Promise<string[]> {
  const d = await h.kernel.decide(
    { intent: 'refund_payment', params: { payment: h.refFor(`P-${++payment}`), amount: 10 } },
    { session: h.session, ...agent },
  );
  if (d.permit) await h.kernel.execute(d.permit, { session: h.session });
  return [d.verdict, d.rule, ...d.reasons];
}

describe('createKernel({ witnesses })', () => {
  it('decides while 2 of 3 witnesses cosign each new checkpoint, and hands the cosignatures over', async () => {
    const h = await start();
    for (let i = 0; i < 4; i++) expect((await refund(h))[0]).toBe('permit');
    expect(witnessed.length).toBeGreaterThanOrEqual(2);
    for (const c of witnessed) expect(c.cosignatures.length).toBeGreaterThanOrEqual(2);
    await h.close();
  });

  it('refuses every decision (kernel.witness WITNESS_QUORUM_UNMET) once a checkpoint has one cosignature, until a second witness is back', async () => {
    const h = await start();
    down.add(1).add(2);
    const answers: string[][] = [];
    for (let i = 0; i < 3; i++) answers.push(await refund(h));
    expect(answers.at(-1)).toEqual(['refuse', 'kernel.witness', 'WITNESS_QUORUM_UNMET']);
    down.delete(2);
    expect((await refund(h))[0]).toBe('permit');
    down.clear();
    await h.close();
  });

  it('after a restart on the same journal, the witnesses cosign its newest checkpoint again and the kernel decides', async () => {
    const h = await start();
    expect((await refund(h))[0]).toBe('permit');
    await h.close();
  });

  it('refuses to decide on a journal cut back to an earlier checkpoint, which the auditor finds TRUNCATED', async () => {
    const lines = readFileSync(journalPath, 'utf8').trimEnd().split('\n');
    const firstCheckpoint = lines.findIndex((l) => l.includes('"type":"checkpoint"')) + 1;
    expect(firstCheckpoint).toBeGreaterThan(0);
    writeFileSync(journalPath, lines.slice(0, firstCheckpoint).join('\n') + '\n');
    const h = await start();
    expect(await refund(h)).toEqual(['refuse', 'kernel.witness', 'WITNESS_QUORUM_UNMET']);
    await h.close();
    const cut = readFileSync(journalPath, 'utf8');
    const r = await safeVerifyJournal(cut, {
      trust,
      workers: 0,
      witnesses: {
        file: {
          version: 1,
          checkpoints: witnessed.map((c) => ({ ...c, cosignatures: [...c.cosignatures] })),
        },
        quorum: 2,
      },
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.report!.findings.map((f) => f.code)).toContain('TRUNCATED');
  });

  it('refuses a quorum outside 1..n with KERNEL_CONFIG_INVALID', async () => {
    await expect(
      makeHarness({ overrides: { witnesses: { witnesses: reachable, quorum: 4 } } }),
    ).rejects.toMatchObject({ code: 'KERNEL_CONFIG_INVALID' });
  });
});
