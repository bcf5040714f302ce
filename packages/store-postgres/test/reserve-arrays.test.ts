// Migration 8 rewrote edca.reserve_many to run a fixed number of statements per batch. Its answers
// and what it leaves in the tables must be exactly those of migration 7's version, which stays
// available here under another name: random counters, stored holds (settled, pinned, lapsing
// between the batch's nows, swept past some of them) and random batches run through both, each in
// a transaction that is rolled back, from the same starting state.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@edca/store-postgres';
import { HELD_TOTALS_MIGRATION } from '../src/internal/held-totals.js';
import { PG_HOOK_TIMEOUT } from './pg-server.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();
let pool: pg.Pool;
beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await server.createDatabase('reserve_arrays'), max: 2 });
  await migrate(pool);
  // Migration 7's reserve_many, as it was shipped, under another name.
  const start = HELD_TOTALS_MIGRATION.indexOf('CREATE OR REPLACE FUNCTION edca.reserve_many(');
  const end = HELD_TOTALS_MIGRATION.indexOf('$fn$;', start) + '$fn$;'.length;
  expect(start).toBeGreaterThan(0);
  await pool.query(
    HELD_TOTALS_MIGRATION.slice(start, end).replace('edca.reserve_many(', 'edca.reserve_many_v7('),
  );
}, PG_HOOK_TIMEOUT);
afterAll(async () => {
  await pool?.end();
}, PG_HOOK_TIMEOUT);

const COUNTERS = ['a', 'b', 'c'];
const T0 = 1_000_000;

interface Hold {
  counter: string;
  amount: number;
  holdUntil: number;
  settled: boolean;
}
interface Wanted {
  counter: string;
  amount: number;
  max: number;
  holdUntil: number;
  reuse: boolean;
}

const holdArb = fc.record({
  counter: fc.constantFrom(...COUNTERS),
  amount: fc.integer({ min: 0, max: 5 }),
  // Around the batch's nows (T0 .. T0 + 20), some pinned.
  holdUntil: fc.oneof(fc.integer({ min: T0 - 10, max: T0 + 30 }), fc.constant(9_007_199_254_740_991)),
  settled: fc.boolean(),
});
const wantedArb = fc.record({
  counter: fc.constantFrom(...COUNTERS),
  amount: fc.integer({ min: 0, max: 6 }),
  max: fc.integer({ min: 0, max: 30 }),
  // Some holds of the batch lapse before a later request's now.
  holdUntil: fc.integer({ min: T0, max: T0 + 40 }),
  reuse: fc.boolean().map((b) => b && Math.random() < 0.1),
});
const scenarioArb = fc.record({
  settled: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 3, maxLength: 3 }),
  sweptTo: fc.array(fc.option(fc.integer({ min: T0 - 5, max: T0 + 25 })), { minLength: 3, maxLength: 3 }),
  holds: fc.array(holdArb, { maxLength: 12 }),
  requests: fc.array(
    fc.record({
      wanted: fc.array(wantedArb, { minLength: 1, maxLength: 3 }),
      now: fc.integer({ min: T0, max: T0 + 20 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  shuffle: fc.boolean(),
});

type Scenario = {
  settled: number[];
  sweptTo: (number | null)[];
  holds: Hold[];
  requests: { wanted: Wanted[]; now: number }[];
  shuffle: boolean;
};

/** Runs one batch through `fn` from the scenario's state; the answer and the tables after it. */
async function run(fn: string, s: Scenario): Promise<unknown> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('DELETE FROM edca.limit_reservations');
    await c.query('DELETE FROM edca.limit_counters');
    await c.query(
      `INSERT INTO edca.limit_counters (counter, settled) SELECT * FROM unnest($1::text[], $2::numeric[])`,
      [COUNTERS, s.settled],
    );
    if (s.holds.length > 0) {
      await c.query(
        `INSERT INTO edca.limit_reservations (id, counter, amount, hold_until, settled)
         SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::bigint[], $5::boolean[])`,
        [
          s.holds.map((_, i) => `h${i}`),
          s.holds.map((h) => h.counter),
          s.holds.map((h) => h.amount),
          s.holds.map((h) => h.holdUntil),
          s.holds.map((h) => h.settled),
        ],
      );
    }
    // A counter another caller swept further (the triggers keep held consistent with it).
    for (let i = 0; i < COUNTERS.length; i++) {
      const to = s.sweptTo[i];
      if (to === null || to === undefined) continue;
      await c.query(
        `UPDATE edca.limit_counters k
            SET held = k.held - COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                           WHERE h.counter = k.counter AND NOT h.settled
                                             AND h.hold_until > k.swept_until AND h.hold_until <= $2), 0),
                swept_until = $2
          WHERE k.counter = $1`,
        [COUNTERS[i], to],
      );
    }
    const entries = s.requests.flatMap((r, q) =>
      r.wanted.map((w, j) => ({ ...w, req: q + 1, id: w.reuse ? 'h0' : `r${q}-${j}` })),
    );
    // The function must not rely on a request's entries being next to each other.
    const order = s.shuffle ? [...entries].sort((x, y) => (x.id < y.id ? 1 : -1)) : entries;
    const { rows } = await c.query<{
      out_req: number | null;
      out_status: string;
      out_counter: string | null;
      out_usage: string | null;
    }>(
      `SELECT out_req, out_status, out_counter, out_usage::text AS out_usage
         FROM edca.${fn}($1::integer[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::bigint[], $7::bigint[])`,
      [
        order.map((e) => e.req),
        order.map((e) => e.id),
        order.map((e) => e.counter),
        order.map((e) => e.amount),
        order.map((e) => e.max),
        order.map((e) => e.holdUntil),
        s.requests.map((r) => r.now),
      ],
    );
    const counters = await c.query(
      'SELECT counter, settled::text, held::text, swept_until::text FROM edca.limit_counters ORDER BY counter',
    );
    const holds = await c.query(
      'SELECT id, counter, amount::text, hold_until::text, settled FROM edca.limit_reservations ORDER BY id',
    );
    return { answers: rows, counters: counters.rows, holds: holds.rows };
  } catch (err) {
    // A refusal is an outcome too: both versions must refuse the same batches.
    return { error: (err as { code?: string }).code ?? String(err) };
  } finally {
    await c.query('ROLLBACK').catch(() => {});
    c.release();
  }
}

describe('edca.reserve_many (migration 8)', () => {
  it('answers and writes exactly what migration 7 did, batch by batch', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const before = await run('reserve_many_v7', s);
        const after = await run('reserve_many', s);
        expect(after).toEqual(before);
      }),
      { numRuns: 150 },
    );
  }, 240_000);

  it('reports counters that have no row yet', async () => {
    const { rows } = await pool.query<{ out_status: string }>(
      `SELECT out_status FROM edca.reserve_many('{1}', '{x1}', '{nope}', '{1}', '{5}', '{10}', '{1}')`,
    );
    expect(rows).toEqual([{ out_status: 'missing' }]);
  });

  it('refuses arrays of different lengths', async () => {
    await expect(
      pool.query(`SELECT * FROM edca.reserve_many('{1,1}', '{x1}', '{a}', '{1}', '{5}', '{10}', '{1}')`),
    ).rejects.toMatchObject({ code: '22023' });
  });
});
