/**
 * The shared `Journal` suite: every implementation (file journal, PostgreSQL journal) must pass it.
 *
 * Usage, from an adapter's test file:
 *
 *   runJournalSuite({ describe, it, beforeEach, afterEach, expect }, 'file journal', async ({ stream, signer, checkpointEvery }) => {
 *     const dir = await mkdtemp(...);
 *     return {
 *       open: () => openFileJournal({ path: join(dir, 'j'), stream, signer, checkpointEvery }),
 *       dispose: () => rm(dir, { recursive: true, force: true }),
 *     };
 *   });
 *
 * `open()` must return a journal over the SAME durable storage each time (so a reopen sees what an
 * earlier, closed journal appended); the suite closes every journal it opens before the next open.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

import {
  createNodeSigner,
  decodeRecord,
  isChainSigner,
  encodeRecord,
  leafHash,
  merkleRoot,
  recordHash,
  toBase64url,
  verifyRecord,
  type JsonValue,
  type Signer,
} from '@edca/records';
import { strict as assert } from 'node:assert';

import { KernelError } from '../errors.js';
import type { AppendedRecord, Journal, RecordDraft } from '../index.js';
import type { TestApi } from './test-api.js';

/** What the suite asks an adapter for. */
export interface JournalSuiteParams {
  /** A stream name unique to this test. */
  readonly stream: string;
  readonly signer: Signer;
  /** The adapter must insert a checkpoint after every `checkpointEvery` non-checkpoint records. */
  readonly checkpointEvery: number;
}

/** Durable storage for one test: `open()` may be called again after the previous journal is closed. */
export interface JournalSuiteHarness {
  open(): Promise<Journal>;
  dispose(): Promise<void>;
}

/** Builds the storage for one test. */
export type JournalSuiteFactory = (params: JournalSuiteParams) => Promise<JournalSuiteHarness>;

const CHECKPOINT_EVERY = 4;
const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A valid draft whose body names it, so order can be checked after the fact. */
export function suiteDraft(label: string, at = '2026-01-02T03:04:05.006Z'): RecordDraft {
  return {
    type: 'policy.activated',
    at,
    body: { policyDigest: DIGEST, name: label, version: '1.0.0', owner: 'journal-suite' },
  };
}

const labelOf = (r: AppendedRecord): JsonValue => {
  const body = r.record.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body['name'] ?? null) : null;
};

async function collect(iterable: AsyncIterable<AppendedRecord>): Promise<AppendedRecord[]> {
  const out: AppendedRecord[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * Checks the whole journal: contiguous seqs from 1, prev links, hashes, exact bytes, signatures.
 * A plain check (node:assert), usable from any test runner.
 * @throws AssertionError naming the first record that breaks the chain
 */
export function expectValidChain(records: readonly AppendedRecord[], signer: Signer, stream: string): void {
  let prev: string | null = null;
  records.forEach((r, i) => {
    const at = `record ${i + 1}`;
    assert.equal(r.record.seq, i + 1, `${at}: seq`);
    assert.equal(r.record.prev, prev, `${at}: prev`);
    assert.equal(r.record.stream, stream, `${at}: stream`);
    assert.equal(r.record.kid, signer.kid, `${at}: kid`);
    assert.equal(r.hash, recordHash(r.record), `${at}: hash`);
    assert.ok(Buffer.from(r.bytes).equals(Buffer.from(encodeRecord(r.record))), `${at}: bytes`);
    assert.deepEqual(decodeRecord(r.bytes), r.record, `${at}: decoded`);
    verifyRecord(r.record, signer.publicKey);
    prev = r.hash;
  });
}

/** How the suite makes the journal's signer from a fresh key (default: `createNodeSigner`). */
export type SuiteSignerFactory = (key: KeyObject) => Signer;

/**
 * Registers the shared `Journal` tests under `describe(name)`. A worker signer made by `makeSigner`
 * is closed after each test.
 */
export function runJournalSuite(
  t: TestApi,
  name: string,
  factory: JournalSuiteFactory,
  makeSigner: SuiteSignerFactory = createNodeSigner,
): void {
  const { describe, it, beforeEach, afterEach, expect } = t;
  describe(`Journal port: ${name}`, () => {
    let signer: Signer;
    let harness: JournalSuiteHarness;
    let journal: Journal;
    let counter = 0;

    beforeEach(async () => {
      signer = makeSigner(generateKeyPairSync('ed25519').privateKey);
      counter += 1;
      const stream = `suite-${process.pid}-${Date.now()}-${counter}`;
      harness = await factory({ stream, signer, checkpointEvery: CHECKPOINT_EVERY });
      journal = await harness.open();
    });

    afterEach(async () => {
      await journal.close();
      await harness.dispose();
      if (isChainSigner(signer)) await signer.close();
    });

    const reopen = async (): Promise<Journal> => {
      await journal.close();
      journal = await harness.open();
      return journal;
    };

    describe('when empty', () => {
      it('reports head seq 0 with a null hash and reads nothing', async () => {
        expect(await journal.head()).toEqual({ seq: 0, hash: null });
        expect(await collect(journal.read())).toEqual([]);
      });

      it('resolves an empty append with no records and no change', async () => {
        expect(await journal.append([])).toEqual([]);
        expect(await journal.head()).toEqual({ seq: 0, hash: null });
      });
    });

    describe('when drafts are appended', () => {
      it('assigns seq from 1 and chains prev to the previous record hash', async () => {
        const out = await journal.append([suiteDraft('a'), suiteDraft('b'), suiteDraft('c')]);
        expect(out.map((r) => r.record.seq)).toEqual([1, 2, 3]);
        expectValidChain(out, signer, journal.stream);
        expect(out.map(labelOf)).toEqual(['a', 'b', 'c']);
      });

      it('keeps the draft type, time (on a fresh journal) and body, signed with the journal key', async () => {
        const draft = suiteDraft('kept', '2030-12-31T23:59:59.999Z');
        const [r] = await journal.append([draft]);
        expect(r!.record.type).toBe(draft.type);
        expect(r!.record.at).toBe(draft.at);
        expect(r!.record.body).toEqual(draft.body);
        expect(r!.record.kid).toBe(signer.kid);
        expect(() => verifyRecord(r!.record, signer.publicKey)).not.toThrow();
      });

      it('moves head to the last appended record', async () => {
        await journal.append([suiteDraft('a')]);
        const out = await journal.append([suiteDraft('b'), suiteDraft('c')]);
        expect(await journal.head()).toEqual({ seq: 3, hash: out[1]!.hash });
      });

      it('reads back the exact bytes and hashes it returned', async () => {
        const out = await journal.append([suiteDraft('a'), suiteDraft('b')]);
        const read = await collect(journal.read());
        expect(read).toHaveLength(2);
        read.forEach((r, i) => {
          expect(Buffer.from(r.bytes).equals(Buffer.from(out[i]!.bytes))).toBe(true);
          expect(r.hash).toBe(out[i]!.hash);
          expect(r.record).toEqual(out[i]!.record);
        });
      });

      it('never dates a record before the record it follows', async () => {
        const [a] = await journal.append([suiteDraft('late', '2026-05-05T05:05:05.005Z')]);
        const out = await journal.append([
          suiteDraft('early', '2026-01-01T00:00:00.000Z'),
          suiteDraft('later', '2026-06-06T06:06:06.006Z'),
        ]);
        expect(a!.record.at).toBe('2026-05-05T05:05:05.005Z');
        expect(out[0]!.record.at).toBe('2026-05-05T05:05:05.005Z');
        expect(out[1]!.record.at).toBe('2026-06-06T06:06:06.006Z');
        const all = await collect(journal.read());
        for (let k = 1; k < all.length; k++) {
          expect(Date.parse(all[k]!.record.at)).toBeGreaterThanOrEqual(Date.parse(all[k - 1]!.record.at));
        }
      });

      it('refuses a caller-made checkpoint record', async () => {
        const bad: RecordDraft = {
          type: 'checkpoint',
          at: '2026-01-02T03:04:05.006Z',
          body: { size: 0, root: '' },
        };
        await expect(journal.append([bad])).rejects.toThrow();
        expect(await journal.head()).toEqual({ seq: 0, hash: null });
      });

      it('refuses a draft whose `at` is not a real RFC 3339 UTC instant with milliseconds', async () => {
        for (const at of ['2026-02-30T10:00:00.000Z', '2026-01-02T03:04:05Z', '2026-01-02 03:04:05.006Z']) {
          await expect(journal.append([{ type: 'outcome', at, body: {} }])).rejects.toThrow(TypeError);
        }
        expect(await journal.head()).toEqual({ seq: 0, hash: null });
      });
    });

    describe('when many appends run concurrently', () => {
      it('keeps every call contiguous and in draft order, and the whole chain valid', async () => {
        const calls = Array.from({ length: 60 }, (_, i) =>
          Array.from({ length: (i % 3) + 1 }, (__, k) => suiteDraft(`c${i}.${k}`)),
        );
        const results = await Promise.all(calls.map((drafts) => journal.append(drafts)));
        results.forEach((out, i) => {
          expect(out.map(labelOf)).toEqual(calls[i]!.map((d) => (d.body as { name: string }).name));
          const seqs = out.map((r) => r.record.seq);
          const first = seqs[0]!;
          // Contiguous, unless the journal put a checkpoint between two of this call's drafts.
          const read = seqs.map((s) => s - first);
          expect(read[0]).toBe(0);
          for (let k = 1; k < read.length; k++) expect(read[k]! - read[k - 1]!).toBeLessThanOrEqual(2);
        });
        const all = await collect(journal.read());
        expectValidChain(all, signer, journal.stream);
        const appended = all.filter((r) => r.record.type !== 'checkpoint');
        expect(appended).toHaveLength(calls.flat().length);
        const bySeq = new Map(results.flat().map((r) => [r.record.seq, r]));
        for (const r of appended) expect(bySeq.get(r.record.seq)?.hash).toBe(r.hash);
      });
    });

    describe('when the journal is reopened', () => {
      it('keeps every acknowledged record with its bytes and continues the chain', async () => {
        const before = await journal.append([suiteDraft('a'), suiteDraft('b'), suiteDraft('c')]);
        const reopened = await reopen();
        const read = await collect(reopened.read());
        for (const r of before) {
          const again = read[r.record.seq - 1];
          expect(again?.hash).toBe(r.hash);
          expect(Buffer.from(again!.bytes).equals(Buffer.from(r.bytes))).toBe(true);
        }
        const head = await reopened.head();
        expect(head.seq).toBe(read.length);
        expect(head.hash).toBe(read.at(-1)!.hash);
        const [next] = await reopened.append([suiteDraft('d')]);
        expect(next!.record.seq).toBe(head.seq + 1);
        expect(next!.record.prev).toBe(head.hash);
        expectValidChain(await collect(reopened.read()), signer, reopened.stream);
      });
    });

    describe('when records pass the checkpoint interval', () => {
      it(`writes a checkpoint after every ${CHECKPOINT_EVERY} records with the RFC 6962 root of all before it`, async () => {
        const out: AppendedRecord[] = [];
        out.push(...(await journal.append([suiteDraft('1')])));
        out.push(
          ...(await journal.append([suiteDraft('2'), suiteDraft('3'), suiteDraft('4'), suiteDraft('5')])),
        );
        for (let i = 6; i <= 10; i++) out.push(...(await journal.append([suiteDraft(String(i))])));
        // append() returns only the drafts' records, never the checkpoints it inserted.
        expect(out.map(labelOf)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
        expect(out.every((r) => r.record.type !== 'checkpoint')).toBe(true);

        const all = await collect(journal.read());
        expectValidChain(all, signer, journal.stream);
        const types = all.map((r) => (r.record.type === 'checkpoint' ? 'C' : 'r')).join('');
        expect(types).toBe('rrrrCrrrrCrr');
        for (const cp of all.filter((r) => r.record.type === 'checkpoint')) {
          const size = cp.record.seq - 1;
          const root = merkleRoot(all.slice(0, size).map((r) => leafHash(r.bytes)));
          expect(cp.record.body).toEqual({ size, root: toBase64url(root) });
        }
      });
    });

    describe('when reading from an offset', () => {
      it('yields the records from that seq on, in order', async () => {
        await journal.append(Array.from({ length: 7 }, (_, i) => suiteDraft(String(i))));
        const all = await collect(journal.read());
        for (const from of [1, 2, 5, all.length]) {
          const part = await collect(journal.read(from));
          expect(part.map((r) => r.record.seq)).toEqual(all.slice(from - 1).map((r) => r.record.seq));
          expect(part.map((r) => r.hash)).toEqual(all.slice(from - 1).map((r) => r.hash));
        }
        expect(await collect(journal.read(all.length + 1))).toEqual([]);
      });
    });

    describe('when the journal is closed', () => {
      it('refuses append and head with JOURNAL_UNAVAILABLE', async () => {
        await journal.append([suiteDraft('a')]);
        await journal.close();
        const appendError = await rejection(journal.append([suiteDraft('b')]));
        expect(appendError).toBeInstanceOf(KernelError);
        expect((appendError as KernelError).code).toBe('JOURNAL_UNAVAILABLE');
        const headError = await rejection(journal.head());
        expect(headError).toBeInstanceOf(KernelError);
        expect((headError as KernelError).code).toBe('JOURNAL_UNAVAILABLE');
      });

      it('first finishes the appends still in flight', async () => {
        const pending = Array.from({ length: 30 }, (_, i) => journal.append([suiteDraft(`p${i}`)]));
        const closing = journal.close();
        const settled = await Promise.all(pending);
        await closing;
        const reopened = await reopen();
        const read = await collect(reopened.read());
        for (const [r] of settled) expect(read[r!.record.seq - 1]?.hash).toBe(r!.hash);
      });

      it('still made every acknowledged record durable', async () => {
        const out = await journal.append([suiteDraft('a'), suiteDraft('b')]);
        const reopened = await reopen();
        const read = await collect(reopened.read());
        expect(read.slice(0, 2).map((r) => r.hash)).toEqual(out.map((r) => r.hash));
      });
    });
  });
}
