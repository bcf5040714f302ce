import {
  addTrustedKey,
  consistencyProof,
  createNodeSigner,
  generateKeyPair,
  leafHash,
  toBase64url,
  trustedKeyFor,
  type JsonValue,
  type Signer,
  type TrustFile,
} from '@edca/records';
import {
  createWitness,
  newestWitnessed,
  safeVerifyJournal,
  type AddCheckpointRequest,
  type WitnessedState,
  type WitnessFile,
  type WitnessStateStore,
} from '@edca/audit';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';
import { rewriteFrom, toText } from '../../../test/helpers/tamper.js';

const NOW = 1_780_000_000;

function memoryStore(): WitnessStateStore & { map: Map<string, WitnessedState> } {
  const map = new Map<string, WitnessedState>();
  return {
    map,
    load: (o) => Promise.resolve(map.get(o)),
    save: (o, s) => {
      map.set(o, s);
      return Promise.resolve();
    },
  };
}

/** The request for the checkpoint at line `cpSeq` (1-based), with a proof from `oldSize`. */
function requestFor(lines: readonly string[], cpSeq: number, oldSize: number): AddCheckpointRequest {
  const cp = lines[cpSeq - 1]!;
  const size = (JSON.parse(cp) as { body: { size: number } }).body.size;
  const leaves = lines.slice(0, size).map((l) => leafHash(Buffer.from(l, 'utf8')));
  const proof = oldSize === 0 || oldSize >= size ? [] : consistencyProof(oldSize, leaves).map(toBase64url);
  return { checkpoint: cp, oldSize, proof };
}

let j: GeneratedJournal;
let witnesses: Signer[];
let trust: TrustFile;
beforeAll(async () => {
  j = await generateJournal({ records: 120, checkpointEvery: 30, seed: 9 });
  witnesses = [1, 2, 3].map((n) => createNodeSigner(generateKeyPair(Buffer.alloc(32, n)).privateKeyPem));
  trust = witnesses.reduce(
    (t, w, i) =>
      addTrustedKey(t, trustedKeyFor(w.publicKey, 'witness', '2020-01-01T00:00:00.000Z', { name: `w${i}` })),
    j.keys.trust,
  );
});

describe('createWitness', () => {
  describe('when checkpoints grow consistently', () => {
    it('cosigns the first, then each consistent extension, and keeps the largest size', async () => {
      const store = memoryStore();
      const w = createWitness({ signer: witnesses[0]!, trust, store });
      const [c1, c2] = j.seqs.checkpoints;
      const first = await w.addCheckpoint(requestFor(j.lines, c1!, 0), NOW);
      expect(first.ok).toBe(true);
      const held = store.map.get(j.stream)!;
      const second = await w.addCheckpoint(requestFor(j.lines, c2!, held.size), NOW + 1);
      expect(second).toMatchObject({ ok: true, checkpoint: { origin: j.stream } });
      expect(store.map.get(j.stream)!.size).toBeGreaterThan(held.size);
      // A new witness over the same store (a restart) remembers the size.
      const again = createWitness({ signer: witnesses[0]!, trust, store });
      const stale = await again.addCheckpoint(requestFor(j.lines, c1!, 0), NOW + 2);
      expect(stale).toMatchObject({
        ok: false,
        code: 'WITNESS_CONFLICT',
        size: store.map.get(j.stream)!.size,
      });
    });
  });

  describe('when a checkpoint goes back or forks', () => {
    it('refuses a smaller checkpoint (WITNESS_ROLLBACK) and another root at the same size (WITNESS_INCONSISTENT)', async () => {
      const store = memoryStore();
      const w = createWitness({ signer: witnesses[0]!, trust, store });
      const [c1, c2] = j.seqs.checkpoints;
      expect((await w.addCheckpoint(requestFor(j.lines, c2!, 0), NOW)).ok).toBe(true);
      const size = store.map.get(j.stream)!.size;
      expect(await w.addCheckpoint(requestFor(j.lines, c1!, size), NOW)).toMatchObject({
        ok: false,
        code: 'WITNESS_ROLLBACK',
      });
      // History rewritten with the kernel key before the cosigned checkpoint: same size, new root.
      const forged = await rewriteFrom(
        j.lines,
        j.seqs.permits[0]!,
        j.keys.kernel,
        (r) => ({
          body: { ...(r.body as Record<string, JsonValue>), proposer: { modelId: 'another-model' } },
        }),
        j.keys.approver,
      );
      const fork = await w.addCheckpoint(requestFor(forged, c2!, size), NOW);
      expect(fork).toMatchObject({ ok: false, code: 'WITNESS_INCONSISTENT' });
      const later = await w.addCheckpoint(requestFor(forged, j.seqs.checkpoints[3]!, size), NOW);
      expect(later).toMatchObject({ ok: false, code: 'WITNESS_INCONSISTENT' });
      expect(store.map.get(j.stream)!.size).toBe(size);
    });
  });

  describe('when the request is not a trusted checkpoint', () => {
    it('refuses untrusted logs and malformed requests with stable codes', async () => {
      const w = createWitness({ signer: witnesses[0]!, trust, store: memoryStore() });
      const untrusted = { version: 1 as const, keys: trust.keys.filter((k) => k.role !== 'kernel') };
      const blind = createWitness({ signer: witnesses[0]!, trust: untrusted, store: memoryStore() });
      const req = requestFor(j.lines, j.seqs.checkpoints[0]!, 0);
      expect(await blind.addCheckpoint(req, NOW)).toMatchObject({ ok: false, code: 'WITNESS_UNTRUSTED_LOG' });
      expect(await w.addCheckpoint({ ...req, extra: 1 }, NOW)).toMatchObject({ code: 'WITNESS_BAD_REQUEST' });
      expect(await w.addCheckpoint({ ...req, checkpoint: j.lines[1] }, NOW)).toMatchObject({
        code: 'WITNESS_BAD_REQUEST',
      });
      const tampered = req.checkpoint.replace(/"size":(\d+)/, (_m, n: string) => `"size":${Number(n) + 1}`);
      expect(await w.addCheckpoint({ ...req, checkpoint: tampered }, NOW)).toMatchObject({
        code: 'WITNESS_BAD_REQUEST',
      });
    });
  });
});

describe('verifyJournal with witnessed checkpoints', () => {
  let file: WitnessFile;
  beforeAll(async () => {
    // Two of three witnesses cosign the third checkpoint.
    const cp = j.seqs.checkpoints[2]!;
    const results = await Promise.all(
      witnesses
        .slice(0, 2)
        .map((signer) =>
          createWitness({ signer, trust, store: memoryStore() }).addCheckpoint(
            requestFor(j.lines, cp, 0),
            NOW,
          ),
        ),
    );
    const cosignatures = results.map((r) => (r.ok ? r.cosignature : expect.fail('not cosigned')));
    const { origin, size, root } = results[0]!.ok ? results[0]!.checkpoint : expect.fail('not cosigned');
    file = { version: 1, checkpoints: [{ origin, size, root, cosignatures }] };
  });

  it('reports the newest witnessed size of an intact journal', async () => {
    const r = await safeVerifyJournal(j.text, { trust, witnesses: { file, quorum: 2 } });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.witnessed).toMatchObject({ size: file.checkpoints[0]!.size, rejected: 0 });
  });

  it('finds a journal cut back before the witnessed checkpoint (TRUNCATED), which alone verifies intact', async () => {
    const cut = toText(j.lines.slice(0, j.seqs.checkpoints[1]));
    expect((await safeVerifyJournal(cut, { trust })).ok).toBe(true);
    const r = await safeVerifyJournal(cut, { trust, witnesses: { file } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.report!.findings.map((f) => f.code)).toEqual(['TRUNCATED']);
  });

  it('finds history rewritten under the witnessed checkpoint (WITNESS_INCONSISTENT)', async () => {
    const forged = await rewriteFrom(
      j.lines,
      j.seqs.permits[0]!,
      j.keys.kernel,
      (r) => ({ body: { ...(r.body as Record<string, JsonValue>), proposer: { modelId: 'another-model' } } }),
      j.keys.approver,
    );
    expect((await safeVerifyJournal(toText(forged), { trust })).ok).toBe(true);
    const r = await safeVerifyJournal(toText(forged), { trust, witnesses: { file } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.report!.findings.map((f) => f.code)).toEqual(['WITNESS_INCONSISTENT']);
  });

  it('counts only valid, canonically spelled cosignatures from distinct trusted witnesses toward the quorum', () => {
    const cp = file.checkpoints[0]!;
    const respell: Record<string, string> = { A: 'B', Q: 'R', g: 'h', w: 'x' };
    const bad = cp.cosignatures.map((c) => ({ ...c, sig: c.sig.slice(0, -1) + respell[c.sig.slice(-1)]! }));
    const doubled: WitnessFile = {
      version: 1,
      checkpoints: [{ ...cp, cosignatures: [cp.cosignatures[0]!, cp.cosignatures[0]!] }],
    };
    expect(newestWitnessed(file, j.stream, trust, 2).best?.witnesses).toHaveLength(2);
    expect(newestWitnessed(file, j.stream, trust, 3).best).toBeNull();
    expect(newestWitnessed(doubled, j.stream, trust, 2).best).toBeNull();
    const respelled = newestWitnessed(
      { version: 1, checkpoints: [{ ...cp, cosignatures: bad }] },
      j.stream,
      trust,
    );
    expect(respelled).toEqual({ best: null, rejected: 2 });
    expect(newestWitnessed(file, j.stream, j.keys.trust).best).toBeNull();
  });
});
