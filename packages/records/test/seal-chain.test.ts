import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  RecordsError,
  createNodeSigner,
  createWorkerSigner,
  isChainSigner,
  leafHash,
  prepareRecord,
  privateKeyPemFromSeed,
  sealChain,
  sealRecord,
  verifyRecordLine,
  type ChainDraft,
  type Digest,
  type JsonValue,
  type PreparedRecord,
  type SealedChain,
  type SealedRecord,
  type Signer,
} from '@edca/records';
import { ijsonValue } from './arbitraries.js';
import { BACKENDS } from './backends.js';
import { TEST_SEED, checkpointRecord, permitRecord, testSigner } from './fixtures.js';

const pem = privateKeyPemFromSeed(TEST_SEED);
const plain = testSigner();
const worker = createWorkerSigner(pem);
// One worker signer per backend that runs here: their lines must be the same bytes.
const workers = BACKENDS.filter((b) => b !== 'tweetnacl').map((backend) =>
  createWorkerSigner(pem, { backend }),
);
afterAll(() => Promise.all([worker, ...workers].map((w) => w.close())));

/** The reference: sealRecord one record after the other, each prev the previous hash. */
async function sequential(prev: Digest | null, drafts: readonly ChainDraft[], signer: Signer) {
  const out: SealedRecord[] = [];
  let tip = prev;
  for (const d of drafts) {
    const sealed = await sealRecord({ ...d, prev: tip }, signer);
    out.push(sealed);
    tip = sealed.hash;
  }
  return out;
}

/** The joined lines are exactly each record's bytes followed by a newline. */
function expectLines(chain: SealedChain): void {
  const expected = chain.records.map((s) => `${Buffer.from(s.bytes).toString()}\n`).join('');
  expect(Buffer.from(chain.lines).toString()).toBe(expected);
}

/** Byte-for-byte what sealRecord gave one record after the other, with true leaf hashes. */
function expectSameAsSealRecord(chain: SealedChain, reference: readonly SealedRecord[]): void {
  expectLines(chain);
  const sealed = chain.records;
  const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
  expect(sealed.map((s) => text(s.bytes))).toEqual(reference.map((s) => text(s.bytes)));
  expect(sealed.map((s) => s.hash)).toEqual(reference.map((s) => s.hash));
  expect(sealed.map((s) => s.record)).toEqual(reference.map((s) => s.record));
  for (const s of sealed) expect(Buffer.from(s.leaf)).toEqual(Buffer.from(leafHash(s.bytes)));
}

const codeOf = async (p: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e instanceof RecordsError ? e.code : `${(e as Error).name}`;
  }
  return 'OK';
};

const stream = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const at = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** A decision or a checkpoint body, with arbitrary I-JSON where the schema takes any JSON. */
const body = fc.oneof(
  fc.record({ input: ijsonValue, principal: ijsonValue, proposer: ijsonValue }).map((j) => ({
    type: 'decision' as const,
    body: { ...(permitRecord('x').body as object), ...j },
  })),
  fc
    .nat({ max: 1e9 })
    .map((size) => ({ type: 'checkpoint' as const, body: checkpointRecord('x', size + 1).body })),
);
const chain = fc.record({
  stream,
  start: fc.integer({ min: 1, max: 2 ** 40 }),
  items: fc.array(fc.record({ at, body }), { minLength: 1, maxLength: 5 }),
});
const D = (c: string): Digest => `sha256:${c.repeat(64)}`;

type Chain = typeof chain extends fc.Arbitrary<infer T> ? T : never;
function draftsOf(c: Chain, kid: string): ChainDraft[] {
  return c.items.map((item, i) => ({
    type: item.body.type,
    stream: c.stream,
    seq: c.start + i,
    at: item.at,
    body: item.body.body,
    kid,
  }));
}

describe('sealChain', () => {
  describe('when sealing on the calling thread (a plain signer)', () => {
    it('gives exactly the bytes, hashes and records of sealRecord, one after the other', async () => {
      await fc.assert(
        fc.asyncProperty(chain, async (c) => {
          const drafts = draftsOf(c, plain.kid);
          const prev = c.start === 1 ? null : D('e');
          expectSameAsSealRecord(
            await sealChain(prev, drafts.map(prepareRecord), plain),
            await sequential(prev, drafts, plain),
          );
        }),
        { numRuns: 150 },
      );
    });
  });

  describe('when sealing on a worker thread (createWorkerSigner)', () => {
    it('is a chain signer with the same kid and public key as the node signer of the key', () => {
      expect(isChainSigner(worker)).toBe(true);
      expect(isChainSigner(plain)).toBe(false);
      expect(worker.kid).toBe(plain.kid);
      expect(worker.publicKey).toEqual(plain.publicKey);
    });

    it('signs with libsodium by default wherever the addon loads', () => {
      expect(worker.backend).toBe(BACKENDS.includes('sodium') ? 'sodium' : 'node');
      expect(workers.map((w) => w.backend)).toEqual(BACKENDS.filter((b) => b !== 'tweetnacl'));
    });

    for (const w of workers) {
      it(`gives exactly the bytes, hashes, leaves and records of sealRecord (${w.backend})`, async () => {
        await fc.assert(
          fc.asyncProperty(chain, async (c) => {
            const drafts = draftsOf(c, w.kid);
            const prev = c.start === 1 ? null : D('f');
            expectSameAsSealRecord(
              await sealChain(prev, drafts.map(prepareRecord), w),
              await sequential(prev, drafts, plain),
            );
          }),
          { numRuns: 100 },
        );
      });
    }

    it('seals chains submitted concurrently, each on its own prev', async () => {
      const drafts = Array.from({ length: 40 }, (_, i) => ({
        ...permitRecord(worker.kid, i + 2),
        body: { ...(permitRecord(worker.kid).body as object), rule: `r${i}` },
      })).map(({ prev: _prev, ...d }) => d);
      const [first, second] = await Promise.all([
        worker.sealChain(D('1'), drafts.slice(0, 20).map(prepareRecord)),
        worker.sealChain(D('2'), drafts.slice(20).map(prepareRecord)),
      ]);
      const a = first.records;
      const b = second.records;
      expect(a[0]!.record.prev).toBe(D('1'));
      expect(b[0]!.record.prev).toBe(D('2'));
      for (const s of [...a, ...b]) verifyRecordLine(s.bytes, plain.publicKey);
      expect(a[19]!.record.seq).toBe(21);
      expect(b[1]!.record.prev).toBe(b[0]!.hash);
    });

    it('seals records larger than its 64 KiB scratch buffer, multi-byte text included', async () => {
      const { prev: _prev, ...d } = permitRecord(worker.kid, 2);
      const big = { ...d, body: { ...(d.body as object), input: 'é€😀x'.repeat(40_000) } as JsonValue };
      const small = { ...d, seq: 3 };
      const chain = await worker.sealChain(D('c'), [prepareRecord(big), prepareRecord(small)]);
      const reference = await sequential(D('c'), [big, small], plain);
      expectLines(chain);
      expect(chain.records.map((s) => s.hash)).toEqual(reference.map((s) => s.hash));
    });

    it('answers an empty chain with no records', async () => {
      const empty = await worker.sealChain(null, []);
      expect(empty.records).toEqual([]);
      expect(empty.lines).toHaveLength(0);
    });
  });

  describe('when a record is not one sealRecord would sign', () => {
    const good = (): ChainDraft => {
      const { prev: _prev, ...d } = permitRecord(plain.kid);
      return d;
    };
    it('prepareRecord refuses with sealRecord’s code', async () => {
      const cases: ChainDraft[] = [
        { ...good(), body: { ...(good().body as object), verdict: 'maybe' } },
        { ...good(), body: { ...(good().body as object), input: { x: undefined } } as unknown as JsonValue },
        { ...good(), stream: 'a\ud800b' },
        { ...good(), stream: '' },
        { ...good(), seq: 0 },
        { ...good(), at: '2026-02-30T00:00:00.000Z' },
        { ...good(), kid: 'nope' },
        { ...good(), body: { ...(good().body as object), input: 'x'.repeat(1_048_600) } },
        {
          ...good(),
          body: {
            ...(good().body as object),
            input: JSON.parse('['.repeat(63) + ']'.repeat(63)) as JsonValue,
          },
        },
      ];
      for (const draft of cases) {
        const expected = await codeOf(sealRecord({ ...draft, prev: draft.seq === 1 ? null : D('a') }, plain));
        expect(expected).not.toBe('OK');
        expect(await codeOf(() => prepareRecord(draft))).toBe(expected);
      }
    });

    it('prepareRecord agrees with sealRecord at the depth and size limits, either way', async () => {
      const base = good();
      const withInput = (input: JsonValue): ChainDraft => ({
        ...base,
        body: { ...(base.body as object), input },
      });
      const nested = (depth: number): JsonValue =>
        JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as JsonValue;
      const seals = (draft: ChainDraft): Promise<boolean> =>
        sealRecord({ ...draft, prev: D('a') }, plain).then(
          () => true,
          () => false,
        );
      // The longest string input sealRecord takes (bisected): the byte limit is right after it.
      let lo = 1_040_000;
      let hi = 1_048_576;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (await seals(withInput('x'.repeat(mid)))) lo = mid;
        else hi = mid;
      }
      const drafts: ChainDraft[] = [
        ...[60, 61, 62, 63, 64].map((d) => withInput(nested(d))),
        ...[-1, 0, 1, 2].map((k) => withInput('x'.repeat(lo + k))),
        { ...base, stream: 'ströme-\u{1F600}' },
      ];
      const outcomes: boolean[] = [];
      for (const draft of drafts) {
        const sealed = await sealRecord({ ...draft, prev: D('a') }, plain).then(
          (r) => r,
          (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
        );
        outcomes.push(!(sealed instanceof Error));
        if (sealed instanceof Error) {
          expect(await codeOf(() => prepareRecord(draft))).toBe(await codeOf(Promise.reject(sealed)));
          continue;
        }
        const chain = await sealChain(D('a'), [prepareRecord(draft)], plain);
        expect(Buffer.from(chain.records[0]!.bytes).equals(Buffer.from(sealed.bytes))).toBe(true);
      }
      // Both sides of each limit were reached.
      expect(outcomes).toEqual([true, true, true, false, false, true, true, false, false, true]);
    });

    it('sealChain refuses a broken chain, a foreign kid and hand-made records', async () => {
      const a = prepareRecord({ ...good(), seq: 2 });
      const c = prepareRecord({ ...good(), seq: 4 });
      for (const signer of [plain, worker]) {
        expect(await codeOf(sealChain(D('a'), [a, c], signer))).toBe('RECORD_INVALID');
        expect(await codeOf(sealChain(null, [a], signer))).toBe('RECORD_INVALID');
        expect(await codeOf(sealChain(D('a'), [prepareRecord({ ...good(), seq: 1 })], signer))).toBe(
          'RECORD_INVALID',
        );
        const forged: PreparedRecord = { ...a, head: a.head.replace('permit', 'refuse') };
        expect(await codeOf(sealChain(D('a'), [forged], signer))).toBe('TypeError');
      }
      const other = createNodeSigner(privateKeyPemFromSeed(new Uint8Array(32).fill(9)));
      expect(await codeOf(sealChain(D('a'), [a], other))).toBe('RECORD_KID_MISMATCH');
    });

    it('refuses a signature that is not 64 bytes with SIG_INVALID', async () => {
      const short: Signer = { ...plain, sign: () => Promise.resolve(new Uint8Array(63)) };
      expect(await codeOf(sealChain(D('a'), [prepareRecord({ ...good(), seq: 2 })], short))).toBe(
        'SIG_INVALID',
      );
    });
  });

  describe('when the worker signer is misused or closed', () => {
    it('refuses keys that are not Ed25519 private keys', () => {
      expect(() => createWorkerSigner('not a pem')).toThrow(
        expect.objectContaining({ code: 'KEY_INVALID' }) as Error,
      );
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
      expect(() => createWorkerSigner(rsa)).toThrow(
        expect.objectContaining({ code: 'KEY_UNSUPPORTED' }) as Error,
      );
      const pub = generateKeyPairSync('ed25519').publicKey;
      expect(() => createWorkerSigner(pub)).toThrow(
        expect.objectContaining({ code: 'KEY_INVALID' }) as Error,
      );
    });

    it('rejects with SIGNER_UNAVAILABLE once closed, and close is idempotent', async () => {
      const w = createWorkerSigner(pem);
      expect(await w.sign(new Uint8Array([1]))).toEqual(await plain.sign(new Uint8Array([1])));
      const { prev: _prev, ...d } = checkpointRecord(w.kid, 1);
      expect((await w.sealChain(null, [prepareRecord(d)])).records).toHaveLength(1);
      await w.close();
      await w.close();
      expect(await codeOf(w.sealChain(null, [prepareRecord(d)]))).toBe('SIGNER_UNAVAILABLE');
      expect(await codeOf(w.sign(new Uint8Array([1])))).toBe('SIGNER_UNAVAILABLE');
    });

    it('rejects the seals in flight when the worker is closed under them', async () => {
      const w = createWorkerSigner(pem);
      const drafts = Array.from({ length: 200 }, (_, i) => {
        const { prev: _prev, ...d } = permitRecord(w.kid, i + 2);
        return prepareRecord(d);
      });
      const inFlight = codeOf(w.sealChain(D('a'), drafts));
      await w.close();
      expect(await inFlight).toBe('SIGNER_UNAVAILABLE');
    });
  });
});
