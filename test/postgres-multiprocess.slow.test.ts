/**
 * Many kernel instances, one PostgreSQL database (issue 8, item 4): 4 kernel processes × 2,000
 * governed executions (project → decide → execute, through the real kernel, journal and store).
 * A rate limit and a budget per principal must hold in TOTAL across the instances, no permit may
 * execute twice (every 10th permit is raced by all four instances, and every permit is executed a
 * second time by its own instance), and afterwards `edca journal export` + `edca audit verify`
 * (with decision replay against the map) find the whole stream intact.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pg } from '../packages/store-postgres/test/pg.js';
import { describe, expect, it } from 'vitest';
import { runCli } from '@edca/cli';
import { decodeRecord, type SignedRecord } from '@edca/records';
import { usePgServer } from '../packages/store-postgres/test/use-pg-server.js';
import {
  defaultConfig,
  mapDir,
  prepareAppTables,
  repoRoot,
  scratchDir,
  spawnChild,
  writeKernelKeys,
} from './postgres-mp-support.js';
import { captureIo } from './helpers/cli-io.js';

const INSTANCES = 4;
const PER_INSTANCE = 2000;
const RATE_MAX = 3000; // refund.rate per principal (the map)
const BUDGET_MAX = 6000; // refund.budget per principal, in pounds (the map)

const server = usePgServer();
let unsettledIds: string[] | undefined;

const sum = (tallies: Record<string, number>[], pred: (key: string) => boolean): number =>
  tallies.reduce((n, t) => n + Object.entries(t).reduce((m, [k, v]) => m + (pred(k) ? v : 0), 0), 0);

describe('PostgreSQL store with 4 kernel processes', () => {
  it('holds budget and rate limit in total, never executes a permit twice, and the exported journal audits intact', async () => {
    const url = await server.createDatabase('edca_mp');
    const dir = scratchDir();
    await prepareAppTables(url, INSTANCES, PER_INSTANCE);
    // One deployment key: any instance can verify (and so race) another's permit.
    const { keyFiles, trustFile } = writeKernelKeys(dir, 1);

    const children = Array.from({ length: INSTANCES }, (_, k) =>
      spawnChild({
        ...defaultConfig(url, k, keyFiles[0]!),
        count: PER_INSTANCE,
        contestedEvery: 10,
        instances: INSTANCES,
        executeTwice: true,
        waitForGo: true,
        // Half the instances let the store's writes skip their own WAL flush (the journal is on
        // the same server), and one instance of each kind ends its holds with the store's own
        // statements (the default) instead of on the journal's appends: the totals and
        // exactly-once checks below hold for the mix. Instances 1 and 2 group-commit their
        // handlers' writes as the benchmark's host does (one statement for concurrent executions).
        ...(k % 2 === 0 ? { storeCommit: 'off' as const } : {}),
        ...(k < 2 ? { storeRides: false } : {}),
        ...(k === 1 || k === 2 ? { hostWriteBatch: true } : {}),
      }),
    );
    // All instances share one kernel key, so each one's startup recovery would take the others'
    // in-flight attempts for its own: start the load once every instance has recovered.
    await Promise.all(children.map((c) => c.waitFor((l) => l['type'] === 'started')));
    for (const c of children) c.proc.kill('SIGUSR2');
    const codes = await Promise.all(children.map((c) => c.exited));
    for (const [k, c] of children.entries()) expect(codes[k], c.stderr()).toBe(0);
    const tallies = children.map(
      (c) => (c.lines.find((l) => l['type'] === 'done')!['tally'] ?? {}) as Record<string, number>,
    );

    // ---- side effects: the host's own log, unguarded ------------------------------------------
    const db = new pg.Client({ connectionString: url });
    db.on('error', () => {});
    await db.connect();
    const dupKeys = await db.query(
      'SELECT idempotency_key, count(*) FROM mp_effects GROUP BY idempotency_key HAVING count(*) > 1',
    );
    expect(dupKeys.rows).toEqual([]);
    const dupPays = await db.query('SELECT pay_id FROM mp_effects GROUP BY pay_id HAVING count(*) > 1');
    expect(dupPays.rows).toEqual([]);
    // Principal by payment index parity (even: agent-a, 1 pound; odd: agent-b, 3 pounds).
    const perPrincipal = await db.query<{ principal: string; n: string; cents: string }>(
      `SELECT CASE WHEN split_part(pay_id, '-', 2)::int % 2 = 0 THEN 'agent-a' ELSE 'agent-b' END AS principal,
                count(*)::text AS n, sum(cents)::text AS cents
           FROM mp_effects GROUP BY 1 ORDER BY 1`,
    );
    const by = Object.fromEntries(perPrincipal.rows.map((r) => [r.principal, r]));
    for (const p of ['agent-a', 'agent-b']) {
      expect(Number(by[p]!.n)).toBeLessThanOrEqual(RATE_MAX);
      expect(Number(by[p]!.cents) / 100).toBeLessThanOrEqual(BUDGET_MAX);
    }
    // Both limits really bound: agent-a stops at the rate (3,000 × 1), agent-b at the budget (2,000 × 3).
    expect(Number(by['agent-a']!.n)).toBe(RATE_MAX);
    expect(Number(by['agent-b']!.cents) / 100).toBe(BUDGET_MAX);
    const effects = Number(by['agent-a']!.n) + Number(by['agent-b']!.n);
    // Read now, asserted in the next test (see docs/postgres.md, "Known issues").
    const unsettled = await db.query<{ id: string }>(
      'SELECT id FROM edca.limit_reservations WHERE NOT settled',
    );
    unsettledIds = unsettled.rows.map((r) => r.id);
    await db.end();

    // ---- what the instances saw -----------------------------------------------------------------
    const permits = sum(tallies, (k) => k.startsWith('decision.permit.'));
    expect(permits).toBe(effects);
    expect(sum(tallies, (k) => k.startsWith('decision.'))).toBe(INSTANCES * PER_INSTANCE);
    expect(sum(tallies, (k) => k === 'decision.refuse.LIMIT_EXCEEDED')).toBe(
      INSTANCES * PER_INSTANCE - effects,
    );
    const published = sum(tallies, (k) => k === 'contested.published');
    expect(published).toBeGreaterThan(400);
    // Every raced permit ran exactly once, whichever instance won; the other three were refused.
    expect(sum(tallies, (k) => k === 'contested.completed.ok')).toBe(published);
    expect(sum(tallies, (k) => k.startsWith('contested.refused.'))).toBe(published * (INSTANCES - 1));
    expect(
      sum(tallies, (k) => k.startsWith('contested.refused.') && k !== 'contested.refused.PERMIT_CONSUMED'),
    ).toBeLessThan(published * (INSTANCES - 1));
    const own = sum(tallies, (k) => k === 'execute.completed.ok');
    expect(own + published).toBe(effects);
    expect(sum(tallies, (k) => k === 'again.refused.PERMIT_CONSUMED')).toBe(own);

    // ---- the journal, exported by the CLI and audited ------------------------------------------
    const out = join(dir, 'journal.jsonl');
    const fd = openSync(out, 'w');
    const exportCode = await new Promise<number | null>((resolve) => {
      const p = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'packages/cli/src/main.ts',
          'journal',
          'export',
          '--store',
          url,
          '--stream',
          'mp',
        ],
        { cwd: repoRoot, stdio: ['ignore', fd, 'inherit'] },
      );
      p.on('exit', resolve);
    });
    closeSync(fd);
    expect(exportCode).toBe(0);
    const records: SignedRecord[] = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => decodeRecord(l));
    const io = captureIo();
    const auditCode = await runCli(['audit', 'verify', out, '--trust', trustFile, '--maps', mapDir], io);
    expect(io.out(), io.out()).toMatch(/INTACT/);
    expect(auditCode).toBe(0);

    // The journal tells the same story as the side-effect log.
    const byType = (t: string) => records.filter((r) => r.type === t);
    const outcomes = byType('outcome').map((r) => r.body as { status: string; permit: string });
    expect(outcomes.filter((o) => o.status === 'completed')).toHaveLength(effects);
    expect(new Set(outcomes.map((o) => o.permit)).size).toBe(outcomes.length);
    expect(byType('attempt')).toHaveLength(effects);
    expect(
      byType('decision').filter((r) => (r.body as { verdict: string }).verdict === 'permit'),
    ).toHaveLength(effects);
    records.forEach((r, i) => expect(r.seq).toBe(i + 1));
  }, 480_000);

  it('leaves no reservation of an executed permit unsettled', () => {
    // Every permit was executed, so every reservation must be settled: a hold left unsettled would
    // lapse at the permit's expiry and hand its usage back, letting later requests pass the limit.
    expect(unsettledIds).toBeDefined();
    expect(unsettledIds).toEqual([]);
  });
});
