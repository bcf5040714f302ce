import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createNodeSigner,
  generateKeyPair,
  leafHash,
  merkleRoot,
  toBase64url,
  verifyRecord,
  type Signer,
} from '@edca/records';
import type { AppendedRecord } from '@edca/kernel';
import { openPostgresJournal, postgresJournal } from '@edca/store-postgres';
import { expectLinearStream, readAll } from './journal-checks.js';
import { postgresJournalWith } from '../src/postgres-journal.js';
import { runJournalSuite, suiteDraft } from '@edca/kernel/testing';
import { PG_HOOK_TIMEOUT } from './pg-server.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();
let url: string;
beforeAll(async () => {
  url = await server.createDatabase();
}, PG_HOOK_TIMEOUT);

// Every test gets its own stream on one database: streams are independent chains.
runJournalSuite(
  { describe, it, beforeEach, afterEach, expect },
  'postgres journal',
  ({ stream, signer, checkpointEvery }) =>
    Promise.resolve({
      open: () => openPostgresJournal({ connectionString: url, stream, signer, checkpointEvery }),
      dispose: () => Promise.resolve(),
    }),
);

const newSigner = (): Signer => createNodeSigner(generateKeyPair().privateKeyPem);
let streams = 0;
const freshStream = (): string => `pg-${process.pid}-${++streams}`;

describe('postgresJournal', () => {
  describe('when created without waiting', () => {
    it('connects and migrates on first use, as createKernel receives it', async () => {
      const db = await server.createDatabase();
      const journal = postgresJournal({ connectionString: db, signer: newSigner() });
      expect(journal.stream).toBe('default');
      const [r] = await journal.append([suiteDraft('lazy')]);
      expect(r!.record.seq).toBe(1);
      expect(await journal.head()).toEqual({ seq: 1, hash: r!.hash });
      await journal.close();
    });
  });

  describe('when options are malformed', () => {
    it('throws PG_CONFIG_INVALID', () => {
      const signer = newSigner();
      for (const bad of [
        { connectionString: url, signer, stream: '' },
        { connectionString: url, signer, checkpointEvery: 0 },
        { connectionString: url, signer: undefined as unknown as Signer },
        { connectionString: '', signer },
      ]) {
        expect(() => postgresJournal(bad)).toThrow(expect.objectContaining({ code: 'PG_CONFIG_INVALID' }));
      }
    });
  });

  describe('when several instances append to one stream at once', () => {
    it('keeps one linear chain holding every acknowledged record, with valid checkpoints', async () => {
      const stream = freshStream();
      const signers = Array.from({ length: 4 }, newSigner);
      const journals = await Promise.all(
        signers.map((signer) =>
          openPostgresJournal({ connectionString: url, stream, signer, checkpointEvery: 7 }),
        ),
      );
      const acknowledged = await Promise.all(
        journals.flatMap((j, n) =>
          Array.from({ length: 40 }, (_, i) =>
            j.append(Array.from({ length: (i % 3) + 1 }, (__, k) => suiteDraft(`i${n}.c${i}.${k}`))),
          ),
        ),
      );
      for (const call of acknowledged) {
        for (let k = 1; k < call.length; k++) {
          // Contiguous within a call, except for a checkpoint the journal put between two drafts.
          expect(call[k]!.record.seq - call[k - 1]!.record.seq).toBeGreaterThanOrEqual(1);
          expect(call[k]!.record.seq - call[k - 1]!.record.seq).toBeLessThanOrEqual(2);
        }
      }
      await Promise.all(journals.map((j) => j.close()));
      const reader = await openPostgresJournal({ connectionString: url, stream, signer: newSigner() });
      const all = await readAll(reader);
      await reader.close();
      expectLinearStream(all, stream);
      const keys = new Map(signers.map((s) => [s.kid, s.publicKey]));
      for (const r of all) verifyRecord(r.record, keys.get(r.record.kid)!);
      const bySeq = new Map(all.map((r) => [r.record.seq, r.hash]));
      const flat = acknowledged.flat();
      expect(flat).toHaveLength(4 * (14 * 1 + 13 * 2 + 13 * 3));
      for (const r of flat) expect(bySeq.get(r.record.seq)).toBe(r.hash);
      expect(all.filter((r) => r.record.type !== 'checkpoint')).toHaveLength(flat.length);
      // Every checkpoint signs the RFC 6962 root of all records before it, whichever instance wrote it.
      const checkpoints = all.filter((r) => r.record.type === 'checkpoint');
      expect(checkpoints.length).toBeGreaterThanOrEqual(Math.floor(flat.length / 7));
      for (const cp of checkpoints) {
        const size = cp.record.seq - 1;
        const root = merkleRoot(all.slice(0, size).map((r) => leafHash(r.bytes)));
        expect(cp.record.body).toEqual({ size, root: toBase64url(root) });
      }
    });
  });

  describe('when an instance’s clock is behind the chain', () => {
    it('never dates a record before the record it follows', async () => {
      const stream = freshStream();
      const a = await openPostgresJournal({ connectionString: url, stream, signer: newSigner() });
      const b = await openPostgresJournal({ connectionString: url, stream, signer: newSigner() });
      await a.append([suiteDraft('ahead', '2026-05-05T10:00:00.500Z')]);
      const [late] = await b.append([suiteDraft('behind', '2026-05-05T09:59:59.000Z')]);
      const [later] = await b.append([suiteDraft('later', '2026-05-05T10:00:01.000Z')]);
      expect(late!.record.at).toBe('2026-05-05T10:00:00.500Z');
      expect(later!.record.at).toBe('2026-05-05T10:00:01.000Z');
      const all = await readAll(a);
      for (let i = 1; i < all.length; i++) {
        expect(Date.parse(all[i]!.record.at)).toBeGreaterThanOrEqual(Date.parse(all[i - 1]!.record.at));
      }
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('when one instance appends concurrently', () => {
    it('commits many calls in few transactions (group commit)', async () => {
      let transactions = 0;
      const journal = postgresJournalWith(
        { connectionString: url, stream: freshStream(), signer: newSigner() },
        {
          beforeCommit: () => {
            transactions += 1;
            return Promise.resolve();
          },
        },
      );
      await journal.ready();
      const out = await Promise.all(
        Array.from({ length: 100 }, (_, i) => journal.append([suiteDraft(`g${i}`)])),
      );
      expect(out.map((r) => r[0]!.record.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      expect(transactions).toBeLessThan(10);
      await journal.close();
    });
  });

  describe('when the database default is synchronous_commit off', () => {
    it('still commits appends synchronously', async () => {
      const db = await server.createDatabase();
      const admin = new pg.Client({ connectionString: db });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${new URL(db).pathname.slice(1)} SET synchronous_commit = off`);
      await admin.end();
      const seen: string[] = [];
      const journal = postgresJournalWith(
        { connectionString: db, stream: 's', signer: newSigner() },
        {
          beforeCommit: async (client) => {
            const r = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
            seen.push(r.rows[0]!.synchronous_commit);
          },
        },
      );
      const plain = new pg.Client({ connectionString: db });
      await plain.connect();
      expect(
        (await plain.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!
          .synchronous_commit,
      ).toBe('off');
      await plain.end();
      await journal.append([suiteDraft('a')]);
      expect(seen).toEqual(['on']);
      await journal.close();
    });
  });

  describe('when someone changes a stored record in the database', () => {
    it('refuses UPDATE, DELETE and TRUNCATE of journal records', async () => {
      const stream = freshStream();
      const journal = await openPostgresJournal({ connectionString: url, stream, signer: newSigner() });
      await journal.append([suiteDraft('a'), suiteDraft('b')]);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      for (const sql of [
        `UPDATE edca.journal_records SET type = 'x' WHERE stream = '${stream}'`,
        `DELETE FROM edca.journal_records WHERE stream = '${stream}'`,
        'TRUNCATE edca.journal_records CASCADE',
      ]) {
        await expect(c.query(sql)).rejects.toMatchObject({ code: '42501' });
      }
      await c.end();
      expect((await readAll(journal)).map((r) => r.record.seq)).toEqual([1, 2]);
      await journal.close();
    });

    it('reports JOURNAL_CORRUPT when bytes, hash column or head were altered behind its back', async () => {
      const db = await server.createDatabase();
      const signer = newSigner();
      const journal = await openPostgresJournal({ connectionString: db, stream: 's', signer });
      await journal.append([suiteDraft('a'), suiteDraft('b'), suiteDraft('c')]);
      await journal.close(); // seals with checkpoint 4
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      await c.query('ALTER TABLE edca.journal_records DISABLE TRIGGER journal_records_append_only');
      const reopen = () => openPostgresJournal({ connectionString: db, stream: 's', signer });

      // A changed body byte: still decodes? No: canonical bytes with a changed letter change the hash.
      await c.query(
        `UPDATE edca.journal_records SET bytes = convert_to(replace(convert_from(bytes, 'UTF8'), '"b"', '"x"'), 'UTF8')
          WHERE stream = 's' AND seq = 2`,
      );
      let j = await reopen();
      await expect(readAll(j)).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT' });
      await expect(readAll(j, 3)).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT' });
      await j.close();

      // A record removed from the middle.
      await c.query(`DELETE FROM edca.journal_records WHERE stream = 's' AND seq = 2`);
      j = await reopen();
      await expect(readAll(j)).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT' });
      await j.close();

      // A head that does not match the last record: refused at open.
      await c.query(`UPDATE edca.journal_heads SET hash = 'sha256:${'0'.repeat(64)}' WHERE stream = 's'`);
      await expect(reopen()).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT' });
      await c.end();
    });
  });

  describe('when its database connection is cut in the middle of an append', () => {
    it('rejects the append, refuses until reopened, and loses nothing acknowledged', async () => {
      const stream = freshStream();
      const signer = newSigner();
      const killer = new pg.Client({ connectionString: url });
      await killer.connect();
      let cut = false;
      const victim = postgresJournalWith(
        { connectionString: url, stream, signer, checkpointEvery: 5 },
        {
          beforeCommit: async (client) => {
            if (cut) return;
            cut = true;
            const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
            await killer.query('SELECT pg_terminate_backend($1)', [pid]);
          },
        },
      );
      const other = await openPostgresJournal({
        connectionString: url,
        stream,
        signer: newSigner(),
        checkpointEvery: 5,
      });
      const before = await other.append([suiteDraft('o1'), suiteDraft('o2')]);
      // The victim's transaction dies holding the head lock; the server rolls it back and the other
      // instance, queued on the same lock, proceeds.
      const [victimResult, otherResult] = await Promise.allSettled([
        victim.append([suiteDraft('v1'), suiteDraft('v2')]),
        other.append([suiteDraft('o3')]),
      ]);
      expect(victimResult.status).toBe('rejected');
      expect((victimResult as PromiseRejectedResult).reason).toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
      expect(otherResult.status).toBe('fulfilled');
      await expect(victim.append([suiteDraft('v3')])).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
      await victim.close();

      const reopened = await openPostgresJournal({
        connectionString: url,
        stream,
        signer,
        checkpointEvery: 5,
      });
      const after = await reopened.append([suiteDraft('v4')]);
      const all = await readAll(reopened);
      expectLinearStream(all, stream);
      const labels = all.map((r) => (r.record.body as { name?: string }).name ?? 'C');
      expect(labels).not.toContain('v1');
      expect(labels).not.toContain('v2');
      for (const r of [
        ...before,
        ...(otherResult as PromiseFulfilledResult<AppendedRecord[]>).value,
        ...after,
      ]) {
        expect(all[r.record.seq - 1]!.hash).toBe(r.hash);
      }
      await Promise.all([reopened.close(), other.close(), killer.end()]);
    });
  });
});
