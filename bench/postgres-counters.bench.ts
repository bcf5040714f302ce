/**
 * `pnpm bench postgres-counters`: what one `reserve` and one `usage` of the PostgreSQL store cost
 * as a counter's unsettled holds grow (0 to 100,000 held reservations, as thousands of permits
 * decided and not yet executed leave them). With a running total per counter they should not
 * grow with the holds; summing the holds on every call, they grow linearly.
 *
 * Calls are made one after another (each its own statement and round trip), so the figure is one
 * call's latency: the client's work, the round trip and the server's work.
 *
 *   pnpm bench postgres-counters          # table
 *   pnpm bench postgres-counters --json   # one JSON object
 */
import { loadavg } from 'node:os';
import { postgresStore } from '@edca/store-postgres';
import { pg } from '../packages/store-postgres/test/pg.js';
import { startPgServer } from '../packages/store-postgres/test/pg-server.js';

const json = process.argv.includes('--json');
const HOLDS = [0, 1_000, 10_000, 100_000];
const CALLS = 200;
const NOW = Date.parse('2026-01-01T00:00:00.000Z');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One measured row. */
export interface CountersBenchRow {
  /** Unsettled, unexpired holds on the counter before the calls. */
  readonly holds: number;
  readonly reserveMsMedian: number;
  readonly usageMsMedian: number;
}

const server = await startPgServer();
const url = await server.createDatabase('edca_counters');
const store = postgresStore({ connectionString: url, poolSize: 2 });
const admin = new pg.Client({ connectionString: url });
const rows: CountersBenchRow[] = [];
const loadBefore = loadavg()[0]!;
try {
  await store.usage('warm-up', NOW); // migrates
  await admin.connect();
  for (const holds of HOLDS) {
    const counter = `refund.budget|p:bench-${holds}|0`;
    await admin.query('INSERT INTO edca.limit_counters (counter) VALUES ($1)', [counter]);
    await admin.query(
      `INSERT INTO edca.limit_reservations (id, counter, amount, hold_until)
       SELECT 'pre-' || $1 || '-' || i, $1, 1, $2::bigint + 3600000 FROM generate_series(1, $3) AS i`,
      [counter, NOW, holds],
    );
    await admin.query('ANALYZE edca.limit_reservations');
    const reserveMs: number[] = [];
    const usageMs: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      let t = performance.now();
      const r = await store.reserve(
        [{ id: `b-${holds}-${i}`, counter, amount: 1, max: 1e12, holdUntil: NOW + 3_600_000 }],
        NOW + i,
      );
      reserveMs.push(performance.now() - t);
      if (!r.ok) throw new Error('reserve refused');
      t = performance.now();
      await store.usage(counter, NOW + i);
      usageMs.push(performance.now() - t);
    }
    rows.push({
      holds,
      reserveMsMedian: Number(median(reserveMs).toFixed(3)),
      usageMsMedian: Number(median(usageMs).toFixed(3)),
    });
  }
} finally {
  await admin.end().catch(() => {});
  await store.close();
  await server.stop();
}
const result = {
  suite: 'postgres-counters',
  callsPerRow: CALLS,
  loadAverage: [Number(loadBefore.toFixed(1)), Number(loadavg()[0]!.toFixed(1))],
  rows,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`PostgreSQL counters: ${CALLS} calls per row, load average ${result.loadAverage.join(' → ')}`);
  console.table(rows);
}
