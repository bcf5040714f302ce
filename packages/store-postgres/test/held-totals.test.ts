// Migration 7: every counter keeps a running total of its unsettled holds. The total must always equal
// the sum of the holds it stands for, and usage read through it must equal the plain sum the port
// defines, whatever the order of reserves, pins, settles, releases, lapses, clocks that go back,
// store restarts and instances reserving at once.
import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { createKernel, type Kernel, type KernelStore, type Reservation } from '@edca/kernel';
import { migrate, postgresJournal, postgresStore } from '@edca/store-postgres';
import {
  agent,
  bankHandlers,
  createBank,
  loadTestMap,
  REF_KEY,
  testClock,
  type Bank,
  type TestClock,
  bankLoaders,
} from '../../kernel/test/support/harness.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

/** Counters whose running total differs from the sum of the holds it stands for (expected: none). */
async function drift(pool: pg.Pool): Promise<{ counter: string; held: string; sum: string }[]> {
  const { rows } = await pool.query<{ counter: string; held: string; sum: string }>(
    `SELECT c.counter, c.held::text AS held,
            COALESCE(sum(h.amount) FILTER (WHERE NOT h.settled AND h.hold_until > c.swept_until), 0)::text AS sum
       FROM edca.limit_counters c LEFT JOIN edca.limit_reservations h ON h.counter = c.counter
      GROUP BY c.counter, c.held
     HAVING c.held <> COALESCE(sum(h.amount) FILTER (WHERE NOT h.settled AND h.hold_until > c.swept_until), 0)`,
  );
  return rows;
}

/** The port's definition of usage, computed from every hold (what the running total replaces). */
async function summedUsage(pool: pg.Pool, counter: string, now: number): Promise<number> {
  const { rows } = await pool.query<{ used: string }>(
    `SELECT (COALESCE((SELECT settled FROM edca.limit_counters WHERE counter = $1), 0)
             + COALESCE((SELECT sum(amount) FROM edca.limit_reservations
                          WHERE counter = $1 AND NOT settled AND hold_until > $2), 0))::text AS used`,
    [counter, now],
  );
  return Number(rows[0]!.used);
}

interface ModelHold {
  counter: string;
  amount: number;
  holdUntil: number;
  settled: boolean;
}

const MAX_BIGINT = Number.MAX_SAFE_INTEGER; // stands for "pinned" in the model

/** The store port's semantics, in memory: usage is settled plus unexpired unsettled holds. */
class Model {
  readonly holds = new Map<string, ModelHold>();
  usage(counter: string, now: number): number {
    let used = 0;
    for (const h of this.holds.values()) {
      if (h.counter !== counter) continue;
      if (h.settled || h.holdUntil > now) used += h.amount;
    }
    return used;
  }
  reserve(wanted: readonly Reservation[], now: number): boolean {
    const seen = new Map<string, number>();
    for (const r of wanted) {
      const used = seen.get(r.counter) ?? this.usage(r.counter, now);
      if (used + r.amount > r.max) return false;
      seen.set(r.counter, used + r.amount);
    }
    for (const r of wanted) {
      this.holds.set(r.id, { counter: r.counter, amount: r.amount, holdUntil: r.holdUntil, settled: false });
    }
    return true;
  }
}

const COUNTERS = ['a', 'b', 'c'] as const;
const call = fc.record({
  parts: fc.uniqueArray(
    fc.record({ counter: fc.constantFrom(...COUNTERS), amount: fc.integer({ min: 0, max: 5 }) }),
    { minLength: 1, maxLength: 2, selector: (p) => p.counter },
  ),
  max: fc.integer({ min: 3, max: 25 }),
  ttl: fc.integer({ min: 1_000, max: 60_000 }),
});
const op = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      calls: fc.array(call, { minLength: 1, maxLength: 4 }),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      kind: fc.constantFrom('pin' as const, 'settle' as const, 'release' as const),
      pick: fc.nat(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.integer({ min: -3_000, max: 40_000 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('usage' as const), counter: fc.constantFrom(...COUNTERS) }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('restart' as const) }), weight: 1 },
);

describe('the running held total of a counter (migration 7)', () => {
  describe('under any sequence of reserves, pins, settles, releases, lapses and restarts', () => {
    it('always equals the sum of the holds, and usage equals the summed definition', async () => {
      const url = await server.createDatabase('held');
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      await migrate(pool);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 30 }), async (ops) => {
          run += 1;
          const name = (c: string): string => `r${run}.${c}`;
          const model = new Model();
          const ids: string[] = [];
          let store: KernelStore = postgresStore({ connectionString: url, poolSize: 2 });
          let now = 1_000_000;
          let n = 0;
          try {
            for (const o of ops) {
              if (o.kind === 'reserve') {
                const wanted = o.calls.map((c) =>
                  c.parts.map((p): Reservation => ({
                    id: `r${run}.${(n += 1)}`,
                    counter: name(p.counter),
                    amount: p.amount,
                    max: c.max,
                    holdUntil: now + c.ttl,
                  })),
                );
                // Issued together: one batched statement, checked in call order.
                const got = await Promise.all(wanted.map((w) => store.reserve(w, now)));
                got.forEach((g, i) => {
                  expect(g.ok).toBe(model.reserve(wanted[i]!, now));
                  if (g.ok) ids.push(...wanted[i]!.map((r) => r.id));
                });
              } else if (o.kind === 'tick') {
                now += o.ms; // negative: this caller's clock is behind an earlier one's
              } else if (o.kind === 'usage') {
                expect(await store.usage(name(o.counter), now)).toBe(model.usage(name(o.counter), now));
              } else if (o.kind === 'restart') {
                await store.close();
                store = postgresStore({ connectionString: url, poolSize: 2 });
              } else if (ids.length > 0) {
                const id = ids[o.pick % ids.length]!;
                const h = model.holds.get(id);
                await store[o.kind](id);
                if (h && !h.settled) {
                  if (o.kind === 'pin') h.holdUntil = MAX_BIGINT;
                  else if (o.kind === 'settle') h.settled = true;
                  else model.holds.delete(id);
                }
              }
              expect(await drift(pool)).toEqual([]);
            }
            for (const c of COUNTERS) {
              for (const at of [now - 5_000, now, now + 30_000]) {
                const expected = model.usage(name(c), at);
                expect(await store.usage(name(c), at)).toBe(expected);
                expect(await summedUsage(pool, name(c), at)).toBe(expected);
              }
            }
          } finally {
            await store.close();
          }
        }),
        { numRuns: 25 },
      );
      await pool.end();
    });
  });

  describe('when two kernels reserve on the same counters at once, and one restarts', () => {
    it('keeps the total equal to the holds, and no counter passes its max', async () => {
      const url = await server.createDatabase('held2');
      const pem = generateKeyPair().privateKeyPem;
      const bank = createBank();
      const clock = testClock();
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      let a = await kernelOn(url, 'A', pem, bank, clock);
      const b = await kernelOn(url, 'B', pem, bank, clock);
      // 2 × 25 refunds of 90 against a budget of 2000: 22 fit, the rest are refused, by whichever instance.
      const first = await Promise.all(
        Array.from({ length: 50 }, (_, i) => refund(i % 2 === 0 ? a : b, bank, `P-${i + 1}`, 90)),
      );
      const permits = first.filter((d) => d.permit !== undefined);
      expect(permits).toHaveLength(22);
      expect(await drift(pool)).toEqual([]);
      // Some permits run (settled), one fails (released), the rest stay held.
      for (const d of permits.slice(0, 5)) await d.kernel.kernel.execute(d.permit!, { session: SESSION });
      bank.faults.set('pay.refund', 'final');
      await permits[5]!.kernel.kernel.execute(permits[5]!.permit!, { session: SESSION });
      bank.faults.delete('pay.refund');
      expect(await drift(pool)).toEqual([]);
      const budget = await counterOf(pool, 'refund.budget');
      expect(await summedUsage(pool, budget, clock.now())).toBe(22 * 90 - 90);

      // A restarts (new pools, startup recovery); the permits' holds lapse; both decide again.
      await a.close();
      a = await kernelOn(url, 'A', pem, bank, clock);
      clock.advance(16 * 60_000);
      const second = await Promise.all(
        Array.from({ length: 20 }, (_, i) => refund(i % 2 === 0 ? a : b, bank, `P-${(i % 6) + 1}`, 90)),
      );
      expect(await drift(pool)).toEqual([]);
      const used = await summedUsage(pool, budget, clock.now());
      expect(used).toBeLessThanOrEqual(2000);
      // 5 settled refunds stay counted; the lapsed holds make room for 22 - 5 new ones (of the 20 asked,
      // those whose payment was not refunded yet and still in a state that allows it).
      const held = await pool.query<{ held: string; settled: string }>(
        'SELECT held::text, settled::text FROM edca.limit_counters WHERE counter = $1',
        [budget],
      );
      expect(Number(held.rows[0]!.settled) + Number(held.rows[0]!.held)).toBe(used);
      expect(second.filter((d) => d.permit !== undefined).length * 90 + 5 * 90).toBe(used);
      await a.close();
      await b.close();
      await pool.end();
    });
  });
});

const SESSION = { stream: 'shared', session: 's1' };

interface Running {
  readonly kernel: Kernel;
  close(): Promise<void>;
}

async function kernelOn(
  url: string,
  name: string,
  pem: string,
  bank: Bank,
  clock: TestClock,
): Promise<Running> {
  const signer = createNodeSigner(pem);
  const journal = postgresJournal({ connectionString: url, stream: 'shared', signer, clock });
  const store = postgresStore({ connectionString: url });
  const kernel = await createKernel({
    maps: [loadTestMap()],
    loaders: bankLoaders(bank),
    refKey: REF_KEY,
    signer,
    journal,
    store,
    clock,
    handlers: bankHandlers(bank),
    handlerTimeoutMs: 2_000,
    retries: 0,
    instance: name,
  });
  return {
    kernel,
    close: async () => {
      await kernel.close();
      await journal.close();
      await store.close();
    },
  };
}

async function refund(k: Running, bank: Bank, id: string, amount: number) {
  const view = k.kernel.arps.get('kernel-refunds')!.project({ tbl_pay: { ...bank.rows.get(id)! } }, SESSION);
  if (!view.ok) throw new Error(view.code);
  const d = await k.kernel.decide(
    { intent: 'refund_payment', params: { payment: view.value.entities['payment']!, amount } },
    { session: SESSION, ...agent },
  );
  return { kernel: k, permit: d.permit, verdict: d.verdict };
}

async function counterOf(pool: pg.Pool, key: string): Promise<string> {
  const { rows } = await pool.query<{ counter: string }>(
    'SELECT counter FROM edca.limit_counters WHERE counter LIKE $1',
    [`${key}|%`],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.counter;
}
