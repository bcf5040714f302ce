/**
 * Faults on the shared PostgreSQL journal: instances killed with SIGKILL mid-append, and connections
 * cut (pg_terminate_backend) at random moments, while another instance keeps appending to the same
 * stream. Afterwards every acknowledged record is in the stream at the seq it was acknowledged with,
 * and the stream is one linear chain whose records verify with their instance's key.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createNodeSigner, fromBase64url, generateKeyPair, verifyRecord, type Signer } from '@edca/records';
import type { RecordDraft } from '@edca/kernel';
import { openPostgresJournal, type PostgresJournal } from '@edca/store-postgres';
import { expectLinearStream, readAll } from './journal-checks.js';
import { withDatabase } from './pg-server.js';
import { usePgServer } from './use-pg-server.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/journal-append-child.ts', import.meta.url));

const server = usePgServer();

/** A small deterministic PRNG (mulberry32) so a failing run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ITERATIONS = 250;

const draft = (name: string): RecordDraft => ({
  type: 'policy.activated',
  at: '2026-01-02T03:04:05.006Z',
  body: { policyDigest: `sha256:${'ef'.repeat(32)}`, name, version: '1', owner: 'faults' },
});

/** Appends until `stop()`; records every acknowledged seq → hash. */
function steadyAppender(journal: PostgresJournal, acks: Map<number, string>): { stop: () => Promise<void> } {
  let running = true;
  let i = 0;
  const loop = (async () => {
    while (running) {
      const out = await journal.append([draft(`steady.${i++}`)]);
      for (const r of out) acks.set(r.record.seq, r.hash);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('postgres journal faults', () => {
  describe('when instances are killed with SIGKILL in the middle of appends', () => {
    it('keeps every acknowledged record and one linear chain, and the survivors never block', async () => {
      const url = await server.createDatabase();
      const stream = 'sigkill';
      const random = prng(0x5eed);
      const signer = createNodeSigner(generateKeyPair().privateKeyPem);
      const keys = new Map<string, Uint8Array>([[signer.kid, signer.publicKey]]);
      const steady = await openPostgresJournal({
        connectionString: url,
        stream,
        signer,
        checkpointEvery: 16,
      });
      const acks = new Map<number, string>();
      const appender = steadyAppender(steady, acks);
      const rounds = 8;
      let childAcks = 0;
      for (let round = 0; round < rounds; round++) {
        const target = 5 + Math.floor(random() * 150);
        const proc = spawn(process.execPath, ['--import', 'tsx', child, url, stream, `k${round}`], {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
          proc.on('exit', (code, signal) => resolve(signal ?? code)),
        );
        let seen = 0;
        let stderr = '';
        proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const lines = createInterface({ input: proc.stdout });
        await new Promise<void>((resolve, reject) => {
          lines.on('line', (line) => {
            const [tag, a, b] = line.split(' ');
            if (tag === 'kid') keys.set(a!, fromBase64url(b!));
            if (tag === 'ack') {
              acks.set(Number(a), b!);
              seen += 1;
              if (seen === target) {
                proc.kill('SIGKILL');
                resolve();
              }
            }
          });
          void exited.then(() =>
            seen >= target ? resolve() : reject(new Error(`child exited early: ${stderr}`)),
          );
        });
        expect(await exited).toBe('SIGKILL');
        childAcks += seen;
      }
      await appender.stop();
      const all = await readAll(steady);
      await steady.close();

      expectLinearStream(all, stream);
      for (const [seq, hash] of acks) expect(all[seq - 1]?.hash).toBe(hash);
      for (const r of all) verifyRecord(r.record, keys.get(r.record.kid)!);
      expect(childAcks).toBeGreaterThanOrEqual(rounds * 5);
      expect(acks.size).toBeGreaterThan(childAcks);
      // The killed instances' kids appear in the chain: they really appended to the shared stream.
      expect(new Set(all.map((r) => r.record.kid)).size).toBe(rounds + 1);
    });
  });

  describe('when an instance’s connections are cut at random moments, COMMIT included', () => {
    it('rejects the affected appends, loses nothing acknowledged and keeps the chain linear', async () => {
      const url = await server.createDatabase();
      const stream = 'cut';
      const random = prng(0xc07);
      const victimUrl = `${withDatabase(url, new URL(url).pathname.slice(1))}?application_name=edca-victim`;
      const steadySigner = createNodeSigner(generateKeyPair().privateKeyPem);
      const victimSigner: Signer = createNodeSigner(generateKeyPair().privateKeyPem);
      const steady = await openPostgresJournal({
        connectionString: url,
        stream,
        signer: steadySigner,
        checkpointEvery: 8,
      });
      const acks = new Map<number, string>();
      const appender = steadyAppender(steady, acks);
      const killer = new pg.Client({ connectionString: url });
      killer.on('error', () => {});
      await killer.connect();

      let victim = await openPostgresJournal({
        connectionString: victimUrl,
        stream,
        signer: victimSigner,
        checkpointEvery: 8,
      });
      let rejected = 0;
      let reopened = 0;
      let killing = true;
      // Set after an open was cut: the next open runs uncut, or a loaded machine whose opens take
      // longer than the gap between kills would retry forever.
      let calm = false;
      const kills = (async () => {
        let n = 0;
        while (killing) {
          await new Promise((r) => setTimeout(r, 1 + random() * 25));
          if (calm) continue;
          const res = await killer.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'edca-victim'`,
          );
          n += res.rowCount ?? 0;
        }
        return n;
      })();
      for (let i = 0; i < ITERATIONS; i++) {
        try {
          const out = await victim.append([draft(`victim.${i}.a`), draft(`victim.${i}.b`)]);
          for (const r of out) acks.set(r.record.seq, r.hash);
        } catch (err) {
          expect(err).toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
          rejected += 1;
          await expect(victim.append([draft('refused')])).rejects.toMatchObject({
            code: 'JOURNAL_UNAVAILABLE',
          });
          await victim.close().catch(() => {});
          // Reopen (the connection may be cut again while opening: retry).
          for (;;) {
            try {
              victim = await openPostgresJournal({
                connectionString: victimUrl,
                stream,
                signer: victimSigner,
                checkpointEvery: 8,
              });
              break;
            } catch {
              calm = true;
              await new Promise((r) => setTimeout(r, 5));
            }
          }
          calm = false;
          reopened += 1;
        }
      }
      killing = false;
      const terminated = await kills;
      await victim.close().catch(() => {});
      await appender.stop();
      const all = await readAll(steady);
      await Promise.all([steady.close(), killer.end()]);

      expect(terminated).toBeGreaterThan(10);
      expect(rejected).toBeGreaterThan(5);
      expect(reopened).toBe(rejected);
      expectLinearStream(all, stream);
      for (const [seq, hash] of acks) expect(all[seq - 1]?.hash).toBe(hash);
      const keys = new Map([
        [steadySigner.kid, steadySigner.publicKey],
        [victimSigner.kid, victimSigner.publicKey],
      ]);
      for (const r of all) verifyRecord(r.record, keys.get(r.record.kid)!);
      // A call's drafts are all in or all out: never half a group.
      const names = new Set(all.map((r) => (r.record.body as { name?: string }).name));
      for (let i = 0; i < ITERATIONS; i++)
        expect(names.has(`victim.${i}.a`)).toBe(names.has(`victim.${i}.b`));
    });
  });
});
