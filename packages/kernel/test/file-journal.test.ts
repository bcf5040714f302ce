import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  MerkleAccumulator,
  RecordsError,
  createNodeSigner,
  createWorkerSigner,
  decodeRecord,
  isChainSigner,
  encodeRecord,
  leafHash,
  toBase64url,
  signRecord,
  type SignedRecord,
  type Signer,
} from '@edca/records';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { KernelError, openFileJournal, type AppendedRecord, type FileJournal } from '@edca/kernel';

import { openFileJournalWith, type JournalAppendFile } from '../src/file-journal.js';
import { expectValidChain, runJournalSuite, suiteDraft } from '@edca/kernel/testing';

// Every file-journal test runs with both kinds of signer: one that signs on the calling thread
// (records sealed one by one) and a worker signer (records prepared here, sealed in batches).
const SIGNERS: readonly (readonly [string, (key: KeyObject) => Signer])[] = [
  ['node signer', createNodeSigner],
  ['worker signer', createWorkerSigner],
];

for (const [kind, makeSigner] of SIGNERS) {
  runJournalSuite(
    { describe, it, beforeEach, afterEach, expect },
    `file journal (${kind})`,
    async ({ stream, signer, checkpointEvery }) => {
      const dir = await mkdtemp(join(tmpdir(), 'edca-journal-suite-'));
      const path = join(dir, 'journal.jsonl');
      return {
        open: () => openFileJournal({ path, stream, signer, checkpointEvery }),
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
    makeSigner,
  );
}

async function collect(iterable: AsyncIterable<AppendedRecord>): Promise<AppendedRecord[]> {
  const out: AppendedRecord[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(KernelError);
    return (error as KernelError).code;
  }
  throw new Error('expected a KernelError');
}

const lines = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).split('\n');

describe.each(SIGNERS)('openFileJournal with a %s', (_kind, makeSigner) => {
  let dir: string;
  let path: string;
  let signer: Signer;
  const open: FileJournal[] = [];
  const signers: Signer[] = [];
  const stream = 'bank-1';

  const openJournal = async (
    extra: Partial<Parameters<typeof openFileJournal>[0]> = {},
  ): Promise<FileJournal> => {
    const j = await openFileJournal({ path, stream, signer, checkpointEvery: 1000, ...extra });
    open.push(j);
    return j;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edca-file-journal-'));
    path = join(dir, 'journal.jsonl');
    signer = makeSigner(generateKeyPairSync('ed25519').privateKey);
    signers.push(signer);
  });

  afterEach(async () => {
    for (const j of open.splice(0)) await j.close().catch(() => undefined);
    for (const s of signers.splice(0)) if (isChainSigner(s)) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('when records are appended', () => {
    it('stores each record as exactly encodeRecord(record) plus a newline', async () => {
      const j = await openJournal();
      const out = await j.append([suiteDraft('a'), suiteDraft('b')]);
      const file = await readFile(path);
      const expected = Buffer.concat(
        out.flatMap((r) => [Buffer.from(encodeRecord(r.record)), Buffer.from('\n')]),
      );
      expect(file.equals(expected)).toBe(true);
    });

    it('acknowledges concurrent calls in call order along the chain', async () => {
      const j = await openJournal({ checkpointEvery: 7 });
      const calls = Array.from({ length: 100 }, (_, i) =>
        j.append([suiteDraft(`x${i}`), suiteDraft(`y${i}`)]),
      );
      const results = await Promise.all(calls);
      const firstSeqs = results.map((out) => out[0]!.record.seq);
      expect([...firstSeqs].sort((a, b) => a - b)).toEqual(firstSeqs);
      expectValidChain(await collect(j.read()), signer, stream);
    });

    it('takes an append that arrives any number of microtasks after the previous one resolved', async () => {
      const j = await openJournal();
      for (let k = 0; k < 40; k++) {
        await j.append([suiteDraft(String(k))]);
        for (let i = 0; i < k; i++) await Promise.resolve();
      }
      // A lost wake-up would leave one of these appends pending forever (and this test timing out).
      expect((await j.head()).seq).toBe(40);
    }, 10_000);

    it('keeps lines apart from Node’s buffer pool and writes a group’s lines from their own memory', async () => {
      // The ledger keeps live permits' lines for minutes: a line in a pool slab would pin the slab
      // and the short-lived buffers beside it.
      const written: Uint8Array[] = [];
      const j = await openFileJournalWith(
        { path, stream, signer },
        {
          wrapFile: (file) => ({
            write: (data) => {
              written.push(data);
              return file.write(data);
            },
            sync: () => file.sync(),
          }),
        },
      );
      open.push(j);
      const out = await j.append([suiteDraft('a'), suiteDraft('b'), suiteDraft('c')]);
      expect(written).toHaveLength(1);
      const data = written[0]!;
      for (const r of out) {
        expect(r.bytes.buffer).toBe(data.buffer);
        expect(r.bytes.buffer.byteLength).not.toBe(Buffer.poolSize);
      }
      for (const [i, r] of out.entries()) {
        if (i === 0) continue;
        const before = out[i - 1]!.bytes;
        expect(r.bytes.byteOffset).toBe(before.byteOffset + before.length + 1);
      }
      expect(Buffer.from(data).equals(await readFile(path))).toBe(true);
    });

    it('shares one fdatasync among appends that arrive while a sync is in flight', async () => {
      let syncs = 0;
      const j = await openFileJournalWith(
        { path, stream, signer },
        {
          wrapFile: (file) => ({
            write: (data) => file.write(data),
            sync: async () => {
              syncs += 1;
              await file.sync();
            },
          }),
        },
      );
      open.push(j);
      await Promise.all(Array.from({ length: 200 }, (_, i) => j.append([suiteDraft(String(i))])));
      expect(syncs).toBeGreaterThan(0);
      expect(syncs).toBeLessThan(200);
      expect((await j.head()).seq).toBe(200);
    });

    it('starts writing a crowd of appenders before all of them are signed, and signs the rest meanwhile', async () => {
      const groups: number[] = [];
      let syncing = false;
      let signedWhileSyncing = 0;
      const counting: Signer = {
        kid: signer.kid,
        publicKey: signer.publicKey,
        sign: (m) => {
          if (syncing) signedWhileSyncing += 1;
          return signer.sign(m);
        },
      };
      const j = await openFileJournalWith(
        { path, stream, signer: counting },
        {
          wrapFile: (file) => ({
            write: async (data) => {
              groups.push(data.filter((b) => b === 0x0a).length);
              await file.write(data);
            },
            sync: async () => {
              syncing = true;
              // A slow disk: the overlap is what keeps throughput up.
              await new Promise((r) => setTimeout(r, 20));
              await file.sync();
              syncing = false;
            },
          }),
        },
      );
      open.push(j);
      await Promise.all(Array.from({ length: 256 }, (_, i) => j.append([suiteDraft(String(i))])));
      expect(groups.reduce((a, b) => a + b, 0)).toBe(256);
      expect(groups[0]).toBeLessThan(256);
      expect(groups.length).toBeGreaterThan(1);
      expect(signedWhileSyncing).toBeGreaterThan(0);
      expectValidChain(await collect(j.read()), signer, stream);
    });

    it('resolves only after the group that holds the record is synced', async () => {
      const events: string[] = [];
      const j = await openFileJournalWith(
        { path, stream, signer },
        {
          wrapFile: (file) => ({
            write: async (data) => {
              await file.write(data);
              events.push('write');
            },
            sync: async () => {
              await file.sync();
              events.push('sync');
            },
          }),
        },
      );
      open.push(j);
      await j.append([suiteDraft('a')]).then(() => events.push('resolved'));
      expect(events).toEqual(['write', 'sync', 'resolved']);
    });

    it('refuses malformed drafts without harming the journal', async () => {
      const j = await openJournal();
      await expect(j.append([{ ...suiteDraft('a'), at: '2026-01-02' }])).rejects.toBeInstanceOf(TypeError);
      await expect(j.append([{ ...suiteDraft('a'), body: { n: Number.NaN } }])).rejects.toBeInstanceOf(
        RecordsError,
      );
      const [r] = await j.append([suiteDraft('ok')]);
      expect(r!.record.seq).toBe(1);
    });

    it('refuses a body too large for one line, first or later in a call, without harming the journal', async () => {
      const j = await openJournal();
      const huge = suiteDraft('x'.repeat(1_100_000));
      await expect(j.append([huge])).rejects.toBeInstanceOf(RecordsError);
      await expect(j.append([suiteDraft('a'), huge])).rejects.toBeInstanceOf(RangeError);
      const [r] = await j.append([suiteDraft('ok')]);
      expect(r!.record.seq).toBe(1);
    });

    it('refuses a draft with a bad body alone when it shares a group with good ones', async () => {
      const j = await openJournal();
      const bad = { ...suiteDraft('bad'), body: { unknown: true } };
      const calls = [
        j.append([suiteDraft('a')]),
        j.append([bad]),
        j.append([suiteDraft('b'), bad]),
        j.append([suiteDraft('c')]),
      ];
      const settled = await Promise.allSettled(calls);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(RecordsError);
      expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(RecordsError);
      const all = await collect(j.read());
      expect(all).toHaveLength(2);
      expectValidChain(all, signer, stream);
    });
  });

  describe('when reading', () => {
    it('reads the durable records as of the call, even while appends go on', async () => {
      const j = await openJournal({ checkpointEvery: 3 });
      await j.append(Array.from({ length: 2000 }, (_, i) => suiteDraft(String(i))));
      const head = await j.head();
      const iterable = j.read(1500);
      const more = Promise.all(Array.from({ length: 50 }, (_, i) => j.append([suiteDraft(`m${i}`)])));
      const during = await collect(j.read(1500));
      await more;
      // Iterated only after the later appends were durable: still the records as of the call.
      const got = await collect(iterable);
      expect(during.at(-1)!.hash).toBe(head.hash);
      expect(got[0]!.record.seq).toBe(1500);
      expect(got.at(-1)!.record.seq).toBe(head.seq);
      expect(got.at(-1)!.hash).toBe(head.hash);
    });

    it('refuses a line changed after open with JOURNAL_CORRUPT, yielding only the records before it', async () => {
      const j = await openJournal();
      const out = await j.append(Array.from({ length: 5 }, (_, i) => suiteDraft(`r${i}`)));
      const text = await readFile(path, 'utf8');
      // Same length, different bytes: another program scribbling on the file behind the lock.
      await writeFile(path, text.replace('"r2"', '"R2"'));
      const seen: number[] = [];
      let code: string | undefined;
      try {
        for await (const r of j.read()) seen.push(r.record.seq);
      } catch (error) {
        code = (error as KernelError).code;
      }
      expect(code).toBe('JOURNAL_CORRUPT');
      expect(seen).toEqual([1, 2]);
      expect(out).toHaveLength(5);
    });

    it('refuses a changed last line with JOURNAL_CORRUPT', async () => {
      const j = await openJournal();
      await j.append([suiteDraft('a'), suiteDraft('b')]);
      const text = await readFile(path, 'utf8');
      await writeFile(path, text.replace('"b"', '"B"'));
      await expect(collect(j.read())).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT' });
    });
  });

  describe('when any mix of call sizes, concurrency, reopens and intervals is used', () => {
    it('keeps the chain, places a checkpoint after every N records and signs true roots', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 6 }),
          fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), {
            minLength: 1,
            maxLength: 4,
          }),
          async (every, sessions) => {
            const file = join(dir, `prop-${Math.random().toString(36).slice(2)}.jsonl`);
            let expected = 0;
            for (const calls of sessions) {
              // One session: concurrent calls, then a clean close (which may seal with a checkpoint).
              const j = await openFileJournal({ path: file, stream, signer, checkpointEvery: every });
              const drafts = calls.map((n, c) =>
                Array.from({ length: n }, (_, k) => suiteDraft(`${c}.${k}`)),
              );
              const out = await Promise.all(drafts.map((d) => j.append(d)));
              out.forEach((o, c) => expect(o).toHaveLength(calls[c]!));
              expected += calls.reduce((a, b) => a + b, 0);
              await j.close();
            }
            const j = await openFileJournal({ path: file, stream, signer, checkpointEvery: every });
            const all = await collect(j.read());
            await j.close();
            expectValidChain(all, signer, stream);
            expect(all.filter((r) => r.record.type !== 'checkpoint')).toHaveLength(expected);
            // Never more than N records without a checkpoint; a clean close leaves a checkpoint last.
            let since = 0;
            const tree = new MerkleAccumulator();
            for (const r of all) {
              if (r.record.type === 'checkpoint') {
                expect(r.record.body).toEqual({ size: tree.size, root: toBase64url(tree.root()) });
                since = 0;
              } else {
                since += 1;
                expect(since).toBeLessThanOrEqual(every);
              }
              tree.append(leafHash(r.bytes));
            }
            expect(all.at(-1)!.record.type).toBe('checkpoint');
          },
        ),
        { numRuns: 25 },
      );
    });
  });

  describe('when the journal is closed cleanly', () => {
    it('seals it with a checkpoint over every record, and continues after reopening', async () => {
      const j = await openJournal({ checkpointEvery: 1000 });
      await j.append([suiteDraft('a'), suiteDraft('b')]);
      await j.close();
      const text = await lines(path);
      expect(text).toHaveLength(4); // two records, the checkpoint, and the empty string after the last "\n"
      const cp = decodeRecord(text[2]!);
      expect(cp.type).toBe('checkpoint');
      expect((cp.body as { size: number }).size).toBe(2);
      const again = await openJournal();
      expect(again.recovery).toMatchObject({ records: 3, truncatedBytes: 0 });
      const [next] = await again.append([suiteDraft('c')]);
      expect(next!.record.seq).toBe(4);
    });

    it('keeps time from running backwards across checkpoints and reopen', async () => {
      const clock = { now: () => Date.parse('2026-03-03T03:03:03.003Z') };
      const j = await openJournal({ clock });
      await j.append([suiteDraft('a', '2026-05-05T05:05:05.005Z')]);
      await j.close();
      const again = await openJournal({ clock });
      const [b] = await again.append([suiteDraft('b', '2026-01-01T00:00:00.000Z')]);
      expect(b!.record.at).toBe('2026-05-05T05:05:05.005Z');
      const ats = (await collect(again.read())).map((r) => r.record.at);
      expect(ats).toEqual(Array.from({ length: 3 }, () => '2026-05-05T05:05:05.005Z'));
    });

    it('adds no second checkpoint when nothing followed the last one', async () => {
      const j = await openJournal({ checkpointEvery: 2 });
      await j.append([suiteDraft('a'), suiteDraft('b')]);
      await j.close();
      expect((await lines(path)).filter((l) => l !== '')).toHaveLength(3);
    });
  });

  describe('when the last line is torn', () => {
    it('cuts a tail without a newline and keeps every complete record', async () => {
      const j = await openJournal();
      const out = await j.append([suiteDraft('a'), suiteDraft('b')]);
      await j.close();
      open.splice(0);
      const sealed = await collect((await openJournal()).read());
      await open.splice(0)[0]!.close();
      const size = (await stat(path)).size;
      // A crash mid-write of a group that was never acknowledged leaves part of a line.
      await appendFile(path, Buffer.from(encodeRecord(out[1]!.record)).subarray(0, 40));
      const again = await openJournal();
      expect(again.recovery.truncatedBytes).toBe(40);
      expect((await stat(path)).size).toBe(size);
      expect(await again.head()).toEqual({ seq: sealed.length, hash: sealed.at(-1)!.hash });
      const [c] = await again.append([suiteDraft('c')]);
      expect(c!.record.prev).toBe(sealed.at(-1)!.hash);
      expectValidChain(await collect(again.read()), signer, stream);
    });

    it('cuts a final line that reads back as zeros', async () => {
      const j = await openJournal();
      await j.append([suiteDraft('a')]);
      await j.close();
      open.splice(0);
      const size = (await stat(path)).size;
      await appendFile(path, Buffer.concat([Buffer.alloc(300), Buffer.from('"}\n')]));
      const again = await openJournal();
      expect(again.recovery.truncatedBytes).toBe(303);
      expect((await stat(path)).size).toBe(size);
    });
  });

  describe('when stored records are corrupt', () => {
    const writeThree = async (): Promise<string[]> => {
      const j = await openJournal();
      await j.append([suiteDraft('a'), suiteDraft('b'), suiteDraft('c')]);
      await j.close();
      open.splice(0);
      return (await lines(path)).filter((l) => l !== '');
    };
    const rewrite = (text: string[]): Promise<void> => writeFile(path, text.map((l) => `${l}\n`).join(''));

    it('refuses a changed byte before the tail with JOURNAL_CORRUPT', async () => {
      const text = await writeThree();
      text[1] = text[1]!.replace('"b"', '"B"');
      await rewrite(text);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses a missing record with JOURNAL_CORRUPT', async () => {
      const text = await writeThree();
      text.splice(1, 1);
      await rewrite(text);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses an undecodable complete last line with JOURNAL_CORRUPT rather than dropping it', async () => {
      const text = await writeThree();
      text[text.length - 1] = text.at(-1)!.slice(0, -5);
      await rewrite(text);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses garbage followed by more records with JOURNAL_CORRUPT even when it holds zeros', async () => {
      const text = await writeThree();
      text.splice(1, 0, '\u0000\u0000\u0000');
      await rewrite(text);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses a tail record re-signed by a foreign key with JOURNAL_CORRUPT', async () => {
      const text = await writeThree();
      const last = decodeRecord(text.at(-1)!);
      const mallory = createNodeSigner(generateKeyPairSync('ed25519').privateKey);
      const { sig: _sig, ...unsigned } = last;
      const forged: SignedRecord = await signRecord({ ...unsigned, kid: mallory.kid }, mallory);
      text[text.length - 1] = Buffer.from(encodeRecord(forged)).toString('utf8');
      await rewrite(text);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses a tail record whose signature does not verify with JOURNAL_CORRUPT', async () => {
      const text = await writeThree();
      const last = decodeRecord(text.at(-1)!);
      const other = decodeRecord(text[0]!);
      text[text.length - 1] = Buffer.from(encodeRecord({ ...last, sig: other.sig })).toString('utf8');
      await rewrite(text);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses a checkpoint with a wrong root with JOURNAL_CORRUPT', async () => {
      const j = await openJournal({ checkpointEvery: 2 });
      await j.append([suiteDraft('a'), suiteDraft('b'), suiteDraft('c')]);
      await j.close();
      open.splice(0);
      const text = (await lines(path)).filter((l) => l !== '');
      const cp = decodeRecord(text[2]!);
      const { sig: _sig, ...unsigned } = cp;
      const forged = await signRecord({ ...unsigned, body: { size: 2, root: 'A'.repeat(43) } }, signer);
      text[2] = Buffer.from(encodeRecord(forged)).toString('utf8');
      await rewrite(text.slice(0, 3));
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
    });

    it('refuses a file of another stream with JOURNAL_CORRUPT', async () => {
      await writeThree();
      expect(await codeOf(openJournal({ stream: 'bank-2' }))).toBe('JOURNAL_CORRUPT');
    });

    it('accepts an earlier signer only when it is listed in previousKeys', async () => {
      await writeThree();
      const old = signer;
      signer = makeSigner(generateKeyPairSync('ed25519').privateKey);
      signers.push(signer);
      expect(await codeOf(openJournal())).toBe('JOURNAL_CORRUPT');
      const j = await openJournal({ previousKeys: [{ kid: old.kid, publicKey: old.publicKey }] });
      const [r] = await j.append([suiteDraft('d')]);
      expect(r!.record.kid).toBe(signer.kid);
    });
  });

  describe('when the file cannot be opened', () => {
    it('fails with JOURNAL_UNAVAILABLE', async () => {
      expect(await codeOf(openJournal({ path: join(dir, 'missing-dir', 'j.jsonl') }))).toBe(
        'JOURNAL_UNAVAILABLE',
      );
    });
  });

  describe('when another writer holds the file', () => {
    it('refuses a second open with JOURNAL_LOCKED until the first closes', async () => {
      const j = await openJournal();
      expect(await codeOf(openJournal())).toBe('JOURNAL_LOCKED');
      await j.close();
      await expect(openJournal()).resolves.toBeDefined();
    });

    it('takes over a stale lock left by a dead process', async () => {
      const child = spawnSync(process.execPath, ['-e', '0']);
      const dead = child.pid;
      const lock = { pid: dead, host: hostname(), nonce: 'dead', at: '2026-01-01T00:00:00.000Z' };
      await writeFile(`${path}.lock`, JSON.stringify(lock));
      const j = await openJournal();
      expect(j.recovery.tookOverStaleLock).toBe(true);
      expect(JSON.parse(await readFile(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
      await j.close();
      await expect(stat(`${path}.lock`)).rejects.toThrow();
    });

    it('lets exactly one of two racing opens take over the same stale lock', async () => {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      const lock = { pid: dead, host: hostname(), nonce: 'dead', at: '2026-01-01T00:00:00.000Z' };
      await writeFile(`${path}.lock`, JSON.stringify(lock));
      const settled = await Promise.allSettled([openJournal(), openJournal()]);
      const won = settled.filter((s) => s.status === 'fulfilled');
      const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0]!.reason as KernelError).code).toBe('JOURNAL_LOCKED');
    });

    it('refuses a lock held by a live process on this host or any process on another host', async () => {
      const live = { pid: process.ppid, host: hostname(), nonce: 'live', at: '2026-01-01T00:00:00.000Z' };
      await writeFile(`${path}.lock`, JSON.stringify(live));
      expect(await codeOf(openJournal())).toBe('JOURNAL_LOCKED');
      await writeFile(`${path}.lock`, JSON.stringify({ ...live, pid: 999_999_999, host: 'elsewhere' }));
      expect(await codeOf(openJournal())).toBe('JOURNAL_LOCKED');
    });

    it('refuses an unreadable lock file with JOURNAL_LOCKED', async () => {
      await writeFile(`${path}.lock`, 'garbage');
      expect(await codeOf(openJournal())).toBe('JOURNAL_LOCKED');
    });
  });

  describe('when the disk fails', () => {
    const failing = (fail: 'write' | 'sync', after: { count: number }) => (file: JournalAppendFile) => ({
      write: async (data: Uint8Array): Promise<void> => {
        if (fail === 'write' && after.count-- <= 0) {
          await file.write(data.subarray(0, Math.floor(data.length / 2)));
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        await file.write(data);
      },
      sync: async (): Promise<void> => {
        if (fail === 'sync' && after.count-- <= 0)
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        await file.sync();
      },
    });

    for (const fail of ['write', 'sync'] as const) {
      it(`rejects with JOURNAL_UNAVAILABLE when ${fail} fails and refuses every later append`, async () => {
        const j = await openFileJournalWith(
          { path, stream, signer },
          { wrapFile: failing(fail, { count: 1 }) },
        );
        open.push(j);
        const [a] = await j.append([suiteDraft('a')]);
        const pending = Array.from({ length: 20 }, (_, i) => j.append([suiteDraft(`p${i}`)]));
        const settled = await Promise.allSettled(pending);
        expect(settled.every((s) => s.status === 'rejected')).toBe(true);
        for (const s of settled) {
          expect(((s as PromiseRejectedResult).reason as KernelError).code).toBe('JOURNAL_UNAVAILABLE');
        }
        expect(await codeOf(j.append([suiteDraft('after')]))).toBe('JOURNAL_UNAVAILABLE');
        expect(await j.head()).toEqual({ seq: 1, hash: a!.hash });
        await j.close();
        open.splice(0);

        // Reopened on a healthy disk: the acknowledged record is there and the chain goes on.
        const again = await openJournal();
        const all = await collect(again.read());
        expect(all[0]!.hash).toBe(a!.hash);
        expectValidChain(all, signer, stream);
        await again.append([suiteDraft('b')]);
      });
    }

    it('rejects with JOURNAL_UNAVAILABLE when the signer fails, and goes on once it recovers', async () => {
      let calls = 0;
      const flaky: Signer = {
        kid: signer.kid,
        publicKey: signer.publicKey,
        sign: (m) => (++calls === 2 ? Promise.reject(new Error('HSM offline')) : signer.sign(m)),
      };
      const j = await openFileJournal({ path, stream, signer: flaky });
      open.push(j);
      const [a] = await j.append([suiteDraft('a')]);
      expect(await codeOf(j.append([suiteDraft('b')]))).toBe('JOURNAL_UNAVAILABLE');
      expect(await j.head()).toEqual({ seq: 1, hash: a!.hash });
      const [c] = await j.append([suiteDraft('c')]);
      expect(c!.record.seq).toBe(2);
      expect(c!.record.prev).toBe(a!.hash);
    });

    it('fails closed when the signer fails in the middle of a call', async () => {
      let calls = 0;
      const flaky: Signer = {
        kid: signer.kid,
        publicKey: signer.publicKey,
        sign: (m) => (++calls === 3 ? Promise.reject(new Error('HSM offline')) : signer.sign(m)),
      };
      const j = await openFileJournal({ path, stream, signer: flaky });
      open.push(j);
      const [a] = await j.append([suiteDraft('a')]);
      expect(await codeOf(j.append([suiteDraft('b'), suiteDraft('c')]))).toBe('JOURNAL_UNAVAILABLE');
      expect(await codeOf(j.append([suiteDraft('d')]))).toBe('JOURNAL_UNAVAILABLE');
      expect(await j.head()).toEqual({ seq: 1, hash: a!.hash });
    });
  });
});

describe('openFileJournal with a worker signer', () => {
  let dir: string;
  let path: string;
  let signer: ReturnType<typeof createWorkerSigner>;
  const open: FileJournal[] = [];
  const stream = 'bank-1';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edca-file-journal-worker-'));
    path = join(dir, 'journal.jsonl');
    signer = createWorkerSigner(generateKeyPairSync('ed25519').privateKey);
  });

  afterEach(async () => {
    for (const j of open.splice(0)) await j.close().catch(() => undefined);
    await signer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a crowd of appenders in several groups while the worker seals the rest', async () => {
    const groups: number[] = [];
    const j = await openFileJournalWith(
      { path, stream, signer, checkpointEvery: 100 },
      {
        wrapFile: (file) => ({
          write: async (data) => {
            groups.push(data.filter((b) => b === 0x0a).length);
            await file.write(data);
          },
          sync: async () => {
            await new Promise((r) => setTimeout(r, 20));
            await file.sync();
          },
        }),
      },
    );
    open.push(j);
    const out = await Promise.all(Array.from({ length: 256 }, (_, i) => j.append([suiteDraft(String(i))])));
    // 256 records and the two checkpoints after the 100th and 200th.
    expect(groups.reduce((a, b) => a + b, 0)).toBe(258);
    expect(groups.length).toBeGreaterThan(1);
    expect(groups[0]).toBeLessThan(258);
    expect(out.map(([r]) => r!.record.body)).toEqual(
      Array.from({ length: 256 }, (_, i) => suiteDraft(String(i)).body),
    );
    expectValidChain(await collect(j.read()), signer, stream);
  });

  it('fails closed with JOURNAL_UNAVAILABLE when the worker stops, and refuses every later append', async () => {
    const j = await openFileJournal({ path, stream, signer });
    open.push(j);
    const [a] = await j.append([suiteDraft('a')]);
    await signer.close();
    expect(await codeOf(j.append([suiteDraft('b')]))).toBe('JOURNAL_UNAVAILABLE');
    expect(await codeOf(j.append([suiteDraft('c')]))).toBe('JOURNAL_UNAVAILABLE');
    expect(await j.head()).toEqual({ seq: 1, hash: a!.hash });
    const text = await readFile(path, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(1);
  });
});
