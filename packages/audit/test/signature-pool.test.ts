import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, createNodeSigner, verifyEd25519 } from '@edca/records';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../records/test/backends.js';
import { createWorkerVerifier, workerExecArgv } from '../src/internal/signature-pool.js';

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
    /** Submits until the pool says saturated; every other check carries a bad signature. */
    async function flood(
      helpInline: boolean,
    ): Promise<{ tags: number[]; verdicts: boolean[]; inline: number }> {
      const { privateKeyPem, publicKey } = generateKeyPair(new Uint8Array(32).fill(3));
      const signer = createNodeSigner(privateKeyPem);
      const msg = Buffer.from('bounded');
      const sig = await signer.sign(msg);
      const results = new Map<number, boolean>();
      const pool = createWorkerVerifier(
        [publicKey],
        1,
        (v, tag) => {
          expect(results.has(tag)).toBe(false);
          results.set(tag, v);
        },
        undefined,
        { helpInline },
      );
      let submitted = 0;
      let inline: number;
      try {
        // 256 checks make a batch; one worker has at most 3 batches unanswered, so the 4th full
        // batch finds no room unless the worker answered meanwhile.
        const bad = new Uint8Array(64);
        for (let round = 0; round < 3; round++) {
          while (!pool.saturated) {
            pool.submit(0, msg, submitted % 2 === 0 ? sig : bad, submitted);
            submitted++;
            expect(submitted).toBeLessThanOrEqual(64 * 256);
          }
          expect(submitted % 256).toBe(0);
          await pool.capacity();
          expect(pool.saturated).toBe(false);
        }
        await pool.drain();
        inline = pool.inline;
      } finally {
        await pool.close();
      }
      const tags = [...results.keys()].sort((a, b) => a - b);
      return { tags, verdicts: tags.map((t) => results.get(t)!), inline };
    }

    it('reports saturated when a full batch finds no worker with room, and verifies that batch itself', async () => {
      const { tags, verdicts, inline } = await flood(true);
      expect(tags).toEqual([...Array(tags.length).keys()]);
      // Every result comes back once, with its own tag: the even ones carried the good signature.
      expect(verdicts).toEqual(tags.map((t) => t % 2 === 0));
      // The first saturation comes long before a worker can even start, so at least that batch was
      // verified here; later ones may have found the worker free again.
      expect(inline).toBeGreaterThanOrEqual(256);
      expect(inline % 256).toBe(0);
    });

    it('waits for a worker instead when helpInline is off', async () => {
      const { tags, verdicts, inline } = await flood(false);
      expect(verdicts).toEqual(tags.map((t) => t % 2 === 0));
      expect(inline).toBe(0);
    });
  });
});

describe('workerExecArgv', () => {
  describe('when the parent runs with preloads and other options', () => {
    it('drops every preload with its value and keeps the rest in order', () => {
      expect(
        workerExecArgv([
          '--import',
          'tsx',
          '--max-old-space-size=100',
          '--import=./agent.mjs',
          '-r',
          'dotenv/config',
          '--require=x',
          '--loader',
          'ts-node/esm',
          '--experimental-loader=y',
          '--cpu-prof',
        ]),
      ).toEqual(['--max-old-space-size=100', '--cpu-prof']);
    });
  });
});

describe('a pool started by a process with options a worker may not set', () => {
  it('starts its workers without them and verifies on them', () => {
    // `node --max-old-space-size=…` (an auditor raising the heap for a large journal) made every
    // worker start throw ERR_WORKER_INVALID_EXEC_ARGV, so `edca audit verify` failed.
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const out = execFileSync(
      process.execPath,
      [
        '--max-old-space-size=512',
        '--stack-size=900',
        '--import',
        'tsx',
        'packages/audit/test/signature-pool-child.ts',
      ],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(JSON.parse(out)).toEqual({ verdicts: [true, false], inline: 0 });
  });
});
