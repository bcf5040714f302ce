/**
 * Faults of one kernel instance among several on one PostgreSQL database (issue 8, item 5), through
 * the real kernel: the instance is killed with SIGKILL in the middle of executions, and its journal
 * connections are cut (pg_terminate_backend) in the middle of appends. The other instances carry on.
 * After the instance is restarted: every attempt has exactly one outcome (recovery resolved the
 * dangling ones through the handler's idempotency check), the outcome matches what the handler did,
 * no permit ran twice, nothing acknowledged is missing, and the exported chain audits intact.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '@edca/cli';
import { decodeRecord, recordHash, type SignedRecord } from '@edca/records';
import { exportJournal } from '@edca/store-postgres';
import { usePgServer } from '../packages/store-postgres/test/use-pg-server.js';
import { pg } from '../packages/store-postgres/test/pg.js';
import {
  defaultConfig,
  mapDir,
  prepareAppTables,
  scratchDir,
  spawnChild,
  writeKernelKeys,
  type Child,
} from './postgres-mp-support.js';
import { captureIo } from './helpers/cli-io.js';

const INSTANCES = 3;
const PER_INSTANCE = 300;
const VICTIM = 2;

const server = usePgServer();

interface Recovery {
  records: number;
  dangling: number;
  resolved: { permit: string; status: string }[];
}

/** Everything the fault tests check once all instances have finished. */
async function checkAftermath(url: string, dir: string, trustFile: string): Promise<SignedRecord[]> {
  const records: SignedRecord[] = [];
  const lines: string[] = [];
  for await (const r of exportJournal({ connectionString: url, stream: 'mp' })) {
    const text = Buffer.from(r.bytes).toString('utf8');
    lines.push(text);
    records.push(decodeRecord(text));
  }
  records.forEach((r, i) => expect(r.seq).toBe(i + 1));
  const file = join(dir, 'journal.jsonl');
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  const io = captureIo();
  const code = await runCli(['audit', 'verify', file, '--trust', trustFile, '--maps', mapDir], io);
  expect(io.out(), io.out()).toMatch(/INTACT/);
  expect(code).toBe(0);

  const hashOf = new Map<number, string>();
  const seqOfPermit = new Map<string, number>();
  for (const r of records) {
    const h = recordHash(r);
    hashOf.set(r.seq, h);
    if (r.type === 'decision' && (r.body as { verdict: string }).verdict === 'permit')
      seqOfPermit.set(h, r.seq);
  }
  const attempts = new Map<string, number>(); // permit → first attempt seq
  const outcomes = new Map<string, string[]>(); // permit → statuses
  for (const r of records) {
    const body = r.body as { permit?: string; status?: string };
    if (r.type === 'attempt' && !attempts.has(body.permit!)) attempts.set(body.permit!, r.seq);
    if (r.type === 'outcome')
      outcomes.set(body.permit!, [...(outcomes.get(body.permit!) ?? []), body.status!]);
  }
  // Every attempt ends in exactly one outcome; every attempt follows its journaled permit.
  for (const [permit, seq] of attempts) {
    expect(outcomes.get(permit), `outcomes of ${permit}`).toHaveLength(1);
    expect(seqOfPermit.get(permit)).toBeLessThan(seq);
  }
  for (const permit of outcomes.keys()) expect(attempts.has(permit)).toBe(true);

  const db = new pg.Client({ connectionString: url });

  db.on('error', () => {});
  await db.connect();
  const effects = await db.query<{ idempotency_key: string; n: string }>(
    'SELECT idempotency_key, count(*)::text AS n FROM mp_effects GROUP BY idempotency_key',
  );
  const paid = await db.query('SELECT pay_id FROM mp_effects GROUP BY pay_id HAVING count(*) > 1');
  await db.end();
  expect(paid.rows).toEqual([]);
  const effectKeys = new Set<string>();
  for (const e of effects.rows) {
    expect(e.n).toBe('1'); // no permit ran twice
    effectKeys.add(e.idempotency_key);
    // No handler ran without an earlier journaled permit and attempt.
    expect(attempts.has(e.idempotency_key), `effect ${e.idempotency_key} has an attempt`).toBe(true);
  }
  // The journal's outcome is what happened: completed exactly when the handler's effect exists.
  for (const [permit, statuses] of outcomes) {
    expect(statuses[0] === 'completed', `outcome of ${permit}`).toBe(effectKeys.has(permit));
  }
  return records;
}

async function waitAll(children: Child[]): Promise<void> {
  const codes = await Promise.all(children.map((c) => c.exited));
  children.forEach((c, k) => expect(codes[k], c.stderr()).toBe(0));
}

describe('PostgreSQL store faults through the kernel', () => {
  describe('when one instance is killed with SIGKILL in the middle of executions', () => {
    it('resolves its attempts on restart and loses nothing acknowledged', async () => {
      const url = await server.createDatabase('edca_kill');
      const dir = scratchDir();
      await prepareAppTables(url, INSTANCES, PER_INSTANCE);
      const { keyFiles, trustFile } = writeKernelKeys(dir, INSTANCES);
      const config = (k: number) => ({
        ...defaultConfig(url, k, keyFiles[k]!),
        count: PER_INSTANCE,
        workers: 8,
        // The handler sleeps before and after its write, so a kill lands inside executions.
        handlerDelayMs: 15,
        // The killed instance's store writes skip their own WAL flush (journal on the same server).
        ...(k === VICTIM ? { storeCommit: 'off' as const } : {}),
      });
      const others = [0, 1].map((k) => spawnChild(config(k)));
      const recoveries: Recovery[] = [];
      let killed = 0;
      let victim = spawnChild(config(VICTIM));
      // Kill it mid-run up to three times, each time a little later, then let it finish.
      for (const after of [60, 120, 200]) {
        await victim.waitFor((l) => l['type'] === 'progress' || l['type'] === 'done');
        const seen = await victim.waitFor(
          (l) => l['type'] === 'done' || (l['type'] === 'progress' && Number(l['done']) >= after),
        );
        if (seen['type'] === 'done') break;
        victim.proc.kill('SIGKILL');
        expect(await victim.exited).toBe('SIGKILL');
        killed += 1;
        victim = spawnChild(config(VICTIM));
        const started = await victim.waitFor((l) => l['type'] === 'started');
        recoveries.push(started['recovery'] as Recovery);
      }
      await waitAll([...others, victim]);
      expect(killed).toBeGreaterThan(0);
      // Some kill hit an execution between its attempt and its outcome; recovery resolved it.
      const resolved = recoveries.flatMap((r) => r.resolved);
      expect(resolved.length).toBeGreaterThan(0);
      expect(recoveries.every((r) => r.dangling === r.resolved.length)).toBe(true);
      expect(resolved.every((r) => r.status === 'completed' || r.status === 'failed')).toBe(true);
      const records = await checkAftermath(url, dir, trustFile);
      // The survivors' work is all there.
      expect(records.filter((r) => r.type === 'outcome').length).toBeGreaterThanOrEqual(2 * PER_INSTANCE);
    }, 300_000);
  });

  describe('when one instance’s journal connections are cut in the middle of appends', () => {
    it('fails that instance closed, and after restart every attempt is resolved and the chain is linear', async () => {
      const url = await server.createDatabase('edca_cut');
      const dir = scratchDir();
      await prepareAppTables(url, INSTANCES, PER_INSTANCE);
      const { keyFiles, trustFile } = writeKernelKeys(dir, INSTANCES);
      const config = (k: number) => ({
        ...defaultConfig(url, k, keyFiles[k]!),
        count: PER_INSTANCE,
        workers: 8,
        handlerDelayMs: 5,
      });
      const others = [0, 1].map((k) => spawnChild(config(k)));
      const killer = new pg.Client({ connectionString: url });
      killer.on('error', () => {});
      await killer.connect();
      const recoveries: Recovery[] = [];
      let cuts = 0;
      let broken = 0;
      let victim = spawnChild(config(VICTIM));
      for (let round = 0; round < 12; round += 1) {
        const line = await victim.waitFor((l) => l['type'] === 'started');
        if (round > 0) recoveries.push(line['recovery'] as Recovery);
        // Cut every journal connection of the victim a few times while it appends.
        let exited = false;
        void victim.exited.then(() => (exited = true));
        await new Promise((r) => setTimeout(r, 300 + round * 150));
        while (!exited) {
          const r = await killer.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
            [`edca-i${VICTIM}-journal`],
          );
          cuts += r.rowCount ?? 0;
          await new Promise((res) => setTimeout(res, 20 + Math.floor(Math.random() * 60)));
          if (cuts >= 3 * (round + 1)) break;
        }
        const code = await victim.exited;
        if (code === 0) break;
        expect(code, victim.stderr()).toBe(3); // it stopped itself: its journal refused, fail closed
        broken += 1;
        victim = spawnChild(config(VICTIM));
      }
      await waitAll([...others, victim]);
      await killer.end();
      expect(cuts).toBeGreaterThan(0);
      expect(broken).toBeGreaterThan(0);
      const records = await checkAftermath(url, dir, trustFile);
      // Every payment of the survivors was refunded once; the victim finished its range after restarts.
      const db = new pg.Client({ connectionString: url });
      db.on('error', () => {});
      await db.connect();
      const left = await db.query(`SELECT pay_id FROM mp_payments WHERE status_cd <> 'RFND'`);
      await db.end();
      expect(left.rows).toEqual([]);
      expect(records.length).toBeGreaterThan(INSTANCES * PER_INSTANCE * 3);
      expect(recoveries.every((r) => r.dangling === r.resolved.length)).toBe(true);
    }, 300_000);
  });
});
