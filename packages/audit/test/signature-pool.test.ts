import { readFileSync } from 'node:fs';
import { generateKeyPair, createNodeSigner, verifyEd25519 } from '@edca/records';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../records/test/backends.js';
import { createWorkerVerifier } from '../src/internal/signature-pool.js';

// The pool's backends that run here (tweetnacl is not one of them).
const POOL_BACKENDS = BACKENDS.filter((b) => b !== 'tweetnacl');

// Vectors live in the repository's test/vectors/ (see test/vectors/README.md).
const vector = (path: string): string =>
  readFileSync(new URL(`../../../test/vectors/${path}`, import.meta.url), 'utf8');
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

interface Case {
  readonly name: string;
  readonly pk: Uint8Array;
  readonly msg: Uint8Array;
  readonly sig: Uint8Array;
}

function allVectors(): Case[] {
  const cases: Case[] = [];
  const wp = JSON.parse(vector('wycheproof/testvectors_v1/ed25519_test.json')) as {
    testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string }[] }[];
  };
  for (const g of wp.testGroups) {
    for (const t of g.tests)
      cases.push({ name: `wycheproof ${t.tcId}`, pk: hex(g.publicKey.pk), msg: hex(t.msg), sig: hex(t.sig) });
  }
  const zip = JSON.parse(vector('rfc8032-noble-ed25519/test/vectors/ed25519/zip215.json')) as {
    vk_bytes: string;
    sig_bytes: string;
  }[];
  zip.forEach((z, i) =>
    cases.push({
      name: `zip215 ${i}`,
      pk: hex(z.vk_bytes),
      msg: Buffer.from('Zcash'),
      sig: hex(z.sig_bytes),
    }),
  );
  const edge = JSON.parse(vector('rfc8032-noble-ed25519/test/vectors/ed25519/edge-cases.json')) as {
    message: string;
    pub_key: string;
    signature: string;
  }[];
  edge.forEach((e, i) =>
    cases.push({ name: `edge ${i}`, pk: hex(e.pub_key), msg: hex(e.message), sig: hex(e.signature) }),
  );
  const rfc = JSON.parse(vector('rfc8032-section7.1-ed25519.json')) as {
    vectors: { name: string; pub: string; msg: string; sig: string }[];
  };
  for (const v of rfc.vectors) cases.push({ name: v.name, pk: hex(v.pub), msg: hex(v.msg), sig: hex(v.sig) });
  return cases;
}

/** Runs every case through the worker pool and resolves to the verdicts in order. */
async function poolVerdicts(
  cases: readonly Case[],
  threads = 2,
  backend?: 'sodium' | 'node',
): Promise<boolean[]> {
  const keys: Uint8Array[] = [];
  const index = new Map<string, number>();
  for (const c of cases) {
    const id = Buffer.from(c.pk).toString('hex');
    if (!index.has(id)) {
      index.set(id, keys.length);
      keys.push(c.pk);
    }
  }
  const out: boolean[] = new Array<boolean>(cases.length);
  const pool = createWorkerVerifier(
    keys,
    threads,
    (v, tag) => {
      out[tag] = v;
    },
    backend,
  );
  cases.forEach((c, i) => pool.submit(index.get(Buffer.from(c.pk).toString('hex'))!, c.msg, c.sig, i));
  try {
    await pool.drain();
  } finally {
    await pool.close();
  }
  return out;
}

describe('createWorkerVerifier', () => {
  describe('when given every RFC 8032, Wycheproof, ZIP-215 and edge-case vector', () => {
    for (const backend of POOL_BACKENDS) {
      it(`gives exactly the verdict of records.verifyEd25519 (the strict policy) on each (${backend})`, async () => {
        const cases = allVectors();
        expect(cases.length).toBeGreaterThan(350);
        const pooled = await poolVerdicts(cases, 2, backend);
        // Against every backend of records, the pool's own included: one policy, one answer.
        for (const reference of BACKENDS) {
          const mismatches = cases
            .filter((c, i) => pooled[i] !== verifyEd25519(c.pk, c.msg, c.sig, reference))
            .map((c) => `${reference}: ${c.name}`);
          expect(mismatches).toEqual([]);
        }
        // the vectors exercise both outcomes
        expect(pooled.filter(Boolean).length).toBeGreaterThan(10);
        expect(pooled.filter((v) => !v).length).toBeGreaterThan(100);
      });
    }
  });

  describe('when signatures are mutated at random', () => {
    it.each(POOL_BACKENDS)('agrees with records.verifyEd25519 on every mutation (%s)', async (backend) => {
      const { privateKeyPem, publicKey } = generateKeyPair(new Uint8Array(32).fill(9));
      const signer = createNodeSigner(privateKeyPem);
      const msg = Buffer.from('edca pool property');
      const sig = await signer.sign(msg);
      const mutations = fc.sample(
        fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 255 })),
        { numRuns: 300, seed: 42 },
      );
      const cases: Case[] = mutations.map(([pos, mask], i) => {
        const s = Uint8Array.from(sig);
        s[pos] = s[pos]! ^ mask;
        return { name: `mutation ${i}`, pk: publicKey, msg, sig: s };
      });
      cases.push({ name: 'original', pk: publicKey, msg, sig });
      const pooled = await poolVerdicts(cases, 1, backend);
      expect(pooled.at(-1)).toBe(true);
      expect(
        cases.filter((c, i) => pooled[i] !== verifyEd25519(c.pk, c.msg, c.sig, backend)).map((c) => c.name),
      ).toEqual([]);
    });
  });

  describe('when a key is not acceptable under the strict policy', () => {
    it.each(POOL_BACKENDS)('refuses every signature under it (%s)', async (backend) => {
      const smallOrder = hex('0100000000000000000000000000000000000000000000000000000000000000');
      const verdicts = await poolVerdicts(
        [{ name: 'identity key', pk: smallOrder, msg: new Uint8Array(0), sig: new Uint8Array(64) }],
        1,
        backend,
      );
      expect(verdicts).toEqual([false]);
    });
  });

  describe('when checks are submitted faster than they are verified', () => {
    it('reports saturated at a bounded queue, and capacity() resolves once results came back', async () => {
      const { privateKeyPem, publicKey } = generateKeyPair(new Uint8Array(32).fill(3));
      const signer = createNodeSigner(privateKeyPem);
      const msg = Buffer.from('bounded');
      const sig = await signer.sign(msg);
      const verdicts: boolean[] = [];
      const tags: number[] = [];
      const pool = createWorkerVerifier([publicKey], 1, (v, tag) => {
        verdicts.push(v);
        tags.push(tag);
      });
      let submitted = 0;
      try {
        // 256 checks make a batch; one worker takes at most 3 batches before the pool is saturated.
        while (!pool.saturated) {
          pool.submit(0, msg, submitted % 2 === 0 ? sig : new Uint8Array(64), submitted);
          submitted++;
          expect(submitted).toBeLessThanOrEqual(3 * 256);
        }
        expect(submitted).toBe(3 * 256);
        await pool.capacity();
        expect(pool.saturated).toBe(false);
        expect(verdicts.length).toBeGreaterThanOrEqual(256);
        await pool.drain();
      } finally {
        await pool.close();
      }
      expect(verdicts.length).toBe(submitted);
      // Every result comes back with its own tag: the even ones carried the good signature.
      expect(tags).toEqual([...Array(submitted).keys()]);
      expect(verdicts).toEqual(tags.map((t) => t % 2 === 0));
    });
  });
});
