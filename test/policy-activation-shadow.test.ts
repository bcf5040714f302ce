// Issue 17, points 3 and 4 on the kernel and audit side: a kernel that requires signed activation
// refuses unsigned, forged and rolled-back maps (across a restart on a file journal), and a shadow
// candidate map decides beside the live one without changing what runs or what limits count.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createReplayMaps, safeVerifyJournal, type AuditReport } from '@edca/audit';
import { KernelError } from '@edca/kernel';
import {
  ACTIVATION_DOMAIN,
  createNodeSigner,
  decodeRecord,
  encodeRecord,
  generateKeyPair,
  signActivation,
  signRecord,
  recordHash,
  toBase64url,
  type JsonValue,
  type SignedActivation,
  type Signer,
  type TrustFile,
} from '@edca/records';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import {
  agent,
  createBank,
  loadTestMap,
  makeHarness,
  testClock,
  type Bank,
  type Harness,
  type TestClock,
} from '../packages/kernel/test/support/harness.js';

const dirs: string[] = [];
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const TESTS = `sha256:${'7'.repeat(64)}` as const;

/** The test map with its escalation threshold moved: refunds above 100 (not 500) wait for approval. */
function candidateMap(): CompiledMap {
  const text = readFileSync(
    new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
    'utf8',
  ).replace("escalate_when: 'params.amount > 500.0'", "escalate_when: 'params.amount > 100.0'");
  const r = loadStateMap(text, 'candidate.yaml');
  if (!r.ok) throw new Error('candidate map invalid');
  return r.value;
}

interface World {
  readonly dir: string;
  readonly pem: string;
  readonly kernelSigner: Signer;
  readonly owner: Signer;
  readonly stranger: Signer;
  readonly trust: TrustFile;
  readonly bank: Bank;
  readonly clock: TestClock;
}

function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'edca-activation-'));
  dirs.push(dir);
  const pem = generateKeyPair().privateKeyPem;
  const kernelSigner = createNodeSigner(pem);
  const owner = createNodeSigner(generateKeyPair().privateKeyPem);
  const stranger = createNodeSigner(generateKeyPair().privateKeyPem);
  const entry = (s: Signer, role: string) => ({
    kid: s.kid,
    alg: 'Ed25519' as const,
    publicKey: toBase64url(s.publicKey),
    role,
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: null,
  });
  return {
    dir,
    pem,
    kernelSigner,
    owner,
    stranger,
    trust: {
      version: 1,
      keys: [entry(kernelSigner, 'kernel'), entry(owner, 'policy-owner'), entry(stranger, 'approver')],
    },
    bank: createBank(),
    clock: testClock(),
  };
}

function activate(map: CompiledMap, revision: number, signer: Signer): Promise<SignedActivation> {
  return signActivation(
    {
      domain: ACTIVATION_DOMAIN,
      map: map.name,
      mapDigest: map.digest,
      revision,
      tests: TESTS,
      owner: { kid: signer.kid, role: 'policy-owner' },
      at: '2026-03-01T09:00:00.000Z',
    },
    signer,
  );
}

async function start(
  w: World,
  map: CompiledMap,
  activation: SignedActivation | undefined,
  extra: { shadow?: CompiledMap[] } = {},
): Promise<Harness> {
  const h = await makeHarness({
    dir: w.dir,
    signerPem: w.pem,
    bank: w.bank,
    clock: w.clock,
    trust: w.trust,
    maps: [map],
    overrides: {
      requireSignedActivation: true,
      ...(activation ? { activations: { [map.name]: activation } } : {}),
      ...(extra.shadow ? { shadow: extra.shadow } : {}),
    },
  });
  open.push(h);
  return h;
}

async function stop(h: Harness): Promise<void> {
  open.splice(open.indexOf(h), 1);
  await h.close();
}

async function refusedWith(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(KernelError);
    return (err as KernelError).code;
  }
  throw new Error('the kernel started');
}

async function audit(w: World, text: string, maps?: CompiledMap[]): Promise<AuditReport> {
  const r = await safeVerifyJournal(text, {
    trust: w.trust,
    workers: 0,
    ...(maps ? { maps: createReplayMaps(maps) } : {}),
  });
  return r.ok ? r.value : r.error.report!;
}

const journalText = (w: World): string => readFileSync(join(w.dir, 'journal.jsonl'), 'utf8');

const refund = (h: Harness, id: string, amount: number) => ({
  intent: 'refund_payment',
  params: { payment: h.refFor(id), amount },
});
const ctx = (h: Harness) => ({ session: h.session, ...agent });

describe('createKernel with requireSignedActivation', () => {
  describe('when a map comes without a valid activation', () => {
    it('refuses to start with ACTIVATION_MISSING, ACTIVATION_UNTRUSTED, ACTIVATION_MISMATCH or ACTIVATION_INVALID', async () => {
      const w = world();
      const map = loadTestMap();
      expect(await refusedWith(start(w, map, undefined))).toBe('ACTIVATION_MISSING');
      expect(await refusedWith(start(w, map, await activate(map, 1, w.stranger)))).toBe(
        'ACTIVATION_UNTRUSTED',
      );
      expect(await refusedWith(start(w, map, await activate(candidateMap(), 1, w.owner)))).toBe(
        'ACTIVATION_MISMATCH',
      );
      const good = await activate(map, 1, w.owner);
      const forged = { ...good, statement: { ...good.statement, revision: 2 } };
      expect(await refusedWith(start(w, map, forged))).toBe('ACTIVATION_INVALID');
      // Nothing was put in force by any of them.
      expect(journalText(w)).not.toContain('"activation"');
    });
  });

  describe('when revisions are activated one after another across restarts', () => {
    it('refuses a revision not higher than the journal holds (ACTIVATION_ROLLBACK) and rolls back only at a higher revision', async () => {
      const w = world();
      const v1 = loadTestMap();
      const v2 = candidateMap();
      const first = await start(w, v1, await activate(v1, 1, w.owner));
      await stop(first);
      // A restart with the same statement is not a new activation.
      const again = await start(w, v1, await activate(v1, 1, w.owner));
      await stop(again);
      const second = await start(w, v2, await activate(v2, 2, w.owner));
      await stop(second);
      // The old content at its old revision, or any revision not above 2, is a rollback.
      expect(await refusedWith(start(w, v1, await activate(v1, 1, w.owner)))).toBe('ACTIVATION_ROLLBACK');
      expect(await refusedWith(start(w, v1, await activate(v1, 2, w.owner)))).toBe('ACTIVATION_ROLLBACK');
      // Rolling back is the old content signed at a higher revision.
      const rolledBack = await start(w, v1, await activate(v1, 3, w.owner));
      const d = await rolledBack.kernel.decide(refund(rolledBack, 'P-1', 200), ctx(rolledBack));
      expect(d.verdict).toBe('permit');
      await stop(rolledBack);

      const records = journalText(w)
        .trimEnd()
        .split('\n')
        .map((l) => decodeRecord(l));
      const activations = records.filter((r) => r.type === 'policy.activated');
      expect(
        activations.map(
          (r) => (r.body as unknown as { activation: SignedActivation }).activation.statement.revision,
        ),
      ).toEqual([1, 2, 3]);

      const report = await audit(w, journalText(w), [v1, v2]);
      expect(report.findings).toEqual([]);
      expect(report.activations?.map((a) => [a.revision, a.policyDigest, a.decisions])).toEqual([
        [1, v1.digest, 0],
        [2, v2.digest, 0],
        [3, v1.digest, 1],
      ]);
      expect(report.activations?.[2]).toMatchObject({ owner: w.owner.kid, firstDecision: d.record!.seq });
    });
  });

  describe('when a journaled activation is signed by a key that is no policy owner, or at a lower revision', () => {
    it('makes edca audit verify report ACTIVATION_UNTRUSTED and ACTIVATION_ROLLBACK', async () => {
      const w = world();
      const v1 = loadTestMap();
      const v2 = candidateMap();
      const h = await start(w, v1, await activate(v1, 5, w.owner));
      // Records signed by the kernel key that a kernel would refuse to write.
      const fake = async (body: Record<string, unknown>) =>
        h.journal.append([{ type: 'policy.activated', at: '2026-03-01T10:00:00.000Z', body: body as never }]);
      const base = { name: v2.name, version: v2.version, owner: v2.owner, policyDigest: v2.digest };
      await fake({ ...base, activation: await activate(v2, 6, w.stranger) });
      await fake({ ...base, activation: await activate(v2, 4, w.owner) });
      await stop(h);
      const report = await audit(w, journalText(w));
      expect(report.findings.map((f) => [f.seq, f.code])).toEqual([
        [2, 'ACTIVATION_UNTRUSTED'],
        [3, 'ACTIVATION_ROLLBACK'],
      ]);
    });
  });
});

describe('createKernel activation and shadow options', () => {
  describe('when they name no loaded map, or lack a trust file', () => {
    it('refuses to start with KERNEL_CONFIG_INVALID', async () => {
      const w = world();
      const live = loadTestMap();
      const act = await activate(live, 1, w.owner);
      const bad = async (overrides: Record<string, unknown>, trust = true): Promise<string> => {
        const h = makeHarness({
          dir: w.dir,
          signerPem: w.pem,
          clock: w.clock,
          ...(trust ? { trust: w.trust } : {}),
          maps: [live],
          overrides,
        });
        return refusedWith(h.then((x) => (open.push(x), x)));
      };
      expect(await bad({ activations: { 'no-such-map': act } })).toBe('KERNEL_CONFIG_INVALID');
      expect(await bad({ requireSignedActivation: true, activations: { [live.name]: act } }, false)).toBe(
        'KERNEL_CONFIG_INVALID',
      );
      expect(await bad({ shadow: [live] })).toBe('KERNEL_CONFIG_INVALID');
      const stranger = loadStateMap(
        readFileSync(
          new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
          'utf8',
        ).replace('name: kernel-refunds', 'name: other-refunds'),
        'other.yaml',
      );
      if (!stranger.ok) throw new Error('map invalid');
      expect(await bad({ shadow: [stranger.value] })).toBe('KERNEL_CONFIG_INVALID');
      expect(await bad({ shadow: [candidateMap(), candidateMap()] })).toBe('KERNEL_CONFIG_INVALID');
    });
  });
});

describe('shadow evaluation', () => {
  describe('when a candidate map is loaded beside the active one', () => {
    it('journals a shadow per decision and leaves verdicts, execution and limits as without it, across a restart', async () => {
      const live = loadTestMap();
      const candidate = candidateMap();
      // The same traffic on two journals: one kernel with the shadow, one without.
      const run = async (shadow: boolean) => {
        const w = world();
        const act = await activate(live, 1, w.owner);
        const opts = shadow ? { shadow: [candidate] } : {};
        const verdicts: string[] = [];
        let h = await start(w, live, act, opts);
        for (let i = 0; i < 6; i++) {
          const d = await h.kernel.decide(refund(h, `P-${i + 1}`, 300), ctx(h));
          verdicts.push(d.verdict);
          if (d.permit)
            expect((await h.kernel.execute(d.permit, { session: h.session })).status).toBe('completed');
        }
        await stop(h);
        h = await start(w, live, act, opts);
        // The budget (2000 per principal per day) is used by the six live refunds of 300 only.
        for (const amount of [200, 100])
          verdicts.push((await h.kernel.decide(refund(h, 'P-9', amount), ctx(h))).verdict);
        await stop(h);
        return { w, verdicts, effects: w.bank.effects.length };
      };
      const withShadow = await run(true);
      const without = await run(false);
      expect(withShadow.verdicts).toEqual(without.verdicts);
      expect(withShadow.verdicts).toEqual([
        'permit',
        'permit',
        'permit',
        'permit',
        'permit',
        'permit',
        'permit',
        'refuse',
      ]);
      expect(withShadow.effects).toBe(6);

      const records = journalText(withShadow.w)
        .trimEnd()
        .split('\n')
        .map((l) => decodeRecord(l));
      const shadows = records.filter((r) => r.type === 'shadow');
      const decisions = records.filter(
        (r) => r.type === 'decision' && !(r.body as { rule: string }).rule.startsWith('kernel.'),
      );
      expect(shadows).toHaveLength(decisions.length);
      expect(shadows.map((r) => (r.body as { verdict: string }).verdict).slice(0, 6)).toEqual(
        Array(6).fill('escalate'),
      );
      expect(
        records.some(
          (r) =>
            r.type === 'attempt' &&
            shadows.some((s) => recordHash(s) === (r.body as { permit: string }).permit),
        ),
      ).toBe(false);

      const report = await audit(withShadow.w, journalText(withShadow.w), [live, candidate]);
      expect(report.findings).toEqual([]);
      expect(report.shadows).toBe(shadows.length);
    });
  });

  describe('when an attempt runs a shadow record, or a shadow does not match its input', () => {
    it('makes the audit report SHADOW_EXECUTED and SHADOW_INCONSISTENT', async () => {
      const w = world();
      const live = loadTestMap();
      const act = await activate(live, 1, w.owner);
      const h = await start(w, live, act, { shadow: [candidateMap()] });
      await h.kernel.decide(refund(h, 'P-1', 300), ctx(h));
      await stop(h);
      const lines = journalText(w).trimEnd().split('\n');
      const shadowLine = lines.findIndex((l) => decodeRecord(l).type === 'shadow');
      const shadow = decodeRecord(lines[shadowLine]!);
      const body = shadow.body as Record<string, JsonValue>;
      const { sig: _sig, ...unsigned } = shadow;
      // Re-sign a changed shadow and an attempt on it with the kernel key (an insider's forgery).
      const changed = await signRecord(
        { ...unsigned, body: { ...body, decisionKey: `sha256:${'0'.repeat(64)}` } },
        w.kernelSigner,
      );
      lines[shadowLine] = new TextDecoder().decode(encodeRecord(changed));
      const attempt = await signRecord(
        {
          stream: shadow.stream,
          seq: shadow.seq + 1,
          prev: recordHash(changed),
          at: shadow.at,
          type: 'attempt',
          kid: w.kernelSigner.kid,
          body: { permit: recordHash(changed), actionHash: body['decisionKey'], idempotencyKey: 'k', try: 1 },
        } as never,
        w.kernelSigner,
      );
      const text =
        [...lines.slice(0, shadowLine + 1), new TextDecoder().decode(encodeRecord(attempt))].join('\n') +
        '\n';
      writeFileSync(join(w.dir, 'tampered.jsonl'), text);
      const report = await audit(w, text);
      expect(report.findings.map((f) => f.code)).toEqual(['SHADOW_INCONSISTENT', 'SHADOW_EXECUTED']);
    });
  });
});
