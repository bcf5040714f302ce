import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, postgresStore } from '@edca/store-postgres';
import { runStoreSuite } from '@edca/kernel/testing';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

runStoreSuite({ describe, it, beforeEach, afterEach, expect }, 'postgres', async () => {
  const url = await server.createDatabase();
  // Two stores with their own pools on one database: two kernel instances.
  return { store: postgresStore({ connectionString: url }), peer: postgresStore({ connectionString: url }) };
});

describe('postgresStore', () => {
  describe('when many instances reserve the same counter at once', () => {
    it('never lets the total pass max', async () => {
      const url = await server.createDatabase();
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      await migrate(pool);
      const stores = Array.from({ length: 4 }, () => postgresStore({ connectionString: url, poolSize: 4 }));
      const t = Date.parse('2026-01-01T00:00:00.000Z');
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          stores[i % 4]!.reserve(
            [
              { id: `a${i}`, counter: 'refund.budget|p:a|0', amount: 3, max: 250, holdUntil: t + 60_000 },
              { id: `b${i}`, counter: 'refund.rate|p:a|0', amount: 1, max: 70, holdUntil: t + 60_000 },
            ],
            t,
          ),
        ),
      );
      // The rate limit (70) binds before the budget (83 × 3 = 249).
      expect(results.filter((r) => r.ok)).toHaveLength(70);
      expect(await stores[0]!.usage('refund.rate|p:a|0', t)).toBe(70);
      expect(await stores[1]!.usage('refund.budget|p:a|0', t)).toBe(210);
      const db = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM edca.limit_reservations');
      expect(db.rows[0]!.n).toBe('140');
      await Promise.all(stores.map((s) => s.close()));
      await pool.end();
    });
  });

  describe('when one instance makes many calls at once (they share statements)', () => {
    it('consumes a permit for exactly one of many calls in one batch', async () => {
      const store = postgresStore({ connectionString: await server.createDatabase(), poolSize: 2 });
      const same = await Promise.all(
        Array.from({ length: 20 }, () => store.consumePermit('sha256:one', 't')),
      );
      expect(same.filter(Boolean)).toHaveLength(1);
      const distinct = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.consumePermit(`sha256:d${i}`, 't')),
      );
      expect(distinct.every(Boolean)).toBe(true);
      expect(
        await Promise.all([store.isPermitConsumed('sha256:d3'), store.isPermitConsumed('sha256:no')]),
      ).toEqual([true, false]);
      await store.close();
    });

    it('checks each reserve call of a batch on the holds of the calls before it, all or none', async () => {
      const store = postgresStore({ connectionString: await server.createDatabase(), poolSize: 2 });
      const t = 1_000;
      const hold = (id: string, counter: string, amount: number, max: number) => ({
        id,
        counter,
        amount,
        max,
        holdUntil: t + 60_000,
      });
      // Warm up: the counter rows exist, so the calls below race inside one batch.
      await store.reserve([hold('w1', 'k', 0, 10), hold('w2', 'm', 0, 100)], t);
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          store.reserve([hold(`m${i}`, 'm', 1, 100), hold(`k${i}`, 'k', 1, 10)], t),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      // A refused call reserved nothing: its hold on `m` was not kept either.
      expect(await Promise.all([store.usage('k', t), store.usage('m', t)])).toEqual([10, 10]);
      // Calls of one batch at different instants: each counts the holds unexpired at its own now,
      // and the holds that earlier calls of the batch took.
      await store.reserve([{ id: 'z0', counter: 'z', amount: 2, max: 3, holdUntil: t + 500 }], t);
      const lapse = (id: string, now: number) =>
        store.reserve([{ id, counter: 'z', amount: 2, max: 3, holdUntil: now + 1_000 }], now);
      expect(await Promise.all([lapse('z1', t), lapse('z2', t + 600), lapse('z3', t + 700)])).toEqual([
        { ok: false, counter: 'z', usage: 2 },
        { ok: true },
        { ok: false, counter: 'z', usage: 2 },
      ]);
      // One id in two calls of one batch: the second finds it in use.
      const [first, second] = await Promise.allSettled([
        store.reserve([hold('dup', 'm', 1, 100)], t),
        store.reserve([hold('dup', 'm', 1, 100)], t),
      ]);
      expect(first).toMatchObject({ status: 'fulfilled', value: { ok: true } });
      expect(second).toMatchObject({ status: 'rejected', reason: { code: 'STORE_MISUSE' } });
      await store.close();
    });

    it('fails only the call with a bad argument, not the others of its batch', async () => {
      const store = postgresStore({ connectionString: await server.createDatabase(), poolSize: 2 });
      await store.reserve([{ id: 'a', counter: 'c', amount: 2, max: 10, holdUntil: 100 }], 0);
      const [good, bad, other] = await Promise.allSettled([
        store.usage('c', 0),
        store.usage('c', 0.5),
        store.usage('c', 200),
      ]);
      expect(good).toEqual({ status: 'fulfilled', value: 2 });
      expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'STORE_MISUSE' } });
      expect(other).toEqual({ status: 'fulfilled', value: 0 });
      // One batch, several instants: each call counts exactly the holds unexpired at its own now.
      expect(
        await Promise.all([
          store.usage('c', 0),
          store.usage('c', 200),
          store.usage('c', 99),
          store.usage('c', 100),
        ]),
      ).toEqual([2, 0, 2, 0]);
      await store.close();
    });

    it('settles several holds of one counter in one statement into its settled total', async () => {
      const store = postgresStore({ connectionString: await server.createDatabase(), poolSize: 2 });
      const ids = ['s1', 's2', 's3', 's4'];
      for (const id of ids) {
        expect((await store.reserve([{ id, counter: 'c', amount: 5, max: 100, holdUntil: 10 }], 0)).ok).toBe(
          true,
        );
      }
      await Promise.all([...ids.map((id) => store.settle(id)), store.settle('s1')]);
      // Settled amounts count after their holds would have lapsed.
      expect(await store.usage('c', 1_000)).toBe(20);
      await Promise.all([store.release('s2'), store.pin('s3')]);
      expect(await store.usage('c', 1_000)).toBe(20);
      await store.close();
    });
  });

  describe('when executions consume and pin in one statement (consumeAndPin)', () => {
    it('consumes each permit for exactly one call across instances and pins only that call’s holds', async () => {
      const url = await server.createDatabase();
      const a = postgresStore({ connectionString: url, poolSize: 2 });
      const b = postgresStore({ connectionString: url, poolSize: 2 });
      const t = Date.parse('2026-01-01T00:00:00.000Z');
      const holdUntil = t + 1_000;
      const counter = 'refund.rate|p:a|0';
      for (let p = 0; p < 6; p += 1) {
        const reserved = await a.reserve([{ id: `h${p}`, counter, amount: 1, max: 100, holdUntil }], t);
        expect(reserved.ok).toBe(true);
      }
      // Permit 5 was consumed the old way before: a later consumeAndPin must neither win nor pin.
      expect(await a.consumePermit('sha256:p5', 't')).toBe(true);
      const calls = Array.from({ length: 60 }, (_, i) => {
        const p = i % 6;
        return { p, won: (i % 2 === 0 ? a : b).consumeAndPin!(`sha256:p${p}`, 't', [`h${p}`]) };
      });
      const results = await Promise.all(calls.map(async (c) => ({ p: c.p, won: await c.won })));
      for (let p = 0; p < 6; p += 1) {
        expect(results.filter((r) => r.p === p && r.won)).toHaveLength(p === 5 ? 0 : 1);
        expect(await b.isPermitConsumed(`sha256:p${p}`)).toBe(true);
      }
      // Past the holds' end only the pinned ones still count: permits 0-4, not 5.
      expect(await a.usage(counter, holdUntil + 1)).toBe(5);
      // A call that lost never pins: another permit's call naming h5 does not win, h5 stays unpinned.
      expect(await b.consumeAndPin!('sha256:p0', 't', ['h5'])).toBe(false);
      expect(await b.usage(counter, holdUntil + 1)).toBe(5);
      await Promise.all([a.close(), b.close()]);
    });

    it('refuses mismatched arrays in the server function (invalid_parameter_value)', async () => {
      const pool = new pg.Pool({ connectionString: await server.createDatabase(), max: 1 });
      await migrate(pool);
      await expect(
        pool.query(`SELECT * FROM edca.consume_pin_many('{a}', '{}', '{}', '{}')`),
      ).rejects.toMatchObject({ code: '22023' });
      await pool.end();
    });
  });

  describe('when amounts are decimal', () => {
    it('checks them in exact decimal arithmetic', async () => {
      const url = await server.createDatabase();
      const store = postgresStore({ connectionString: url });
      const t = 0;
      const r = (id: string, amount: number) => ({ id, counter: 'c', amount, max: 0.3, holdUntil: 10 });
      expect((await store.reserve([r('x1', 0.1), r('x2', 0.2)], t)).ok).toBe(true);
      expect(await store.usage('c', t)).toBe(0.3);
      expect(await store.reserve([r('x3', 0.0001)], t)).toEqual({ ok: false, counter: 'c', usage: 0.3 });
      await store.close();
    });
  });

  describe('when a timestamp is malformed', () => {
    it('refuses with STORE_MISUSE', async () => {
      const url = await server.createDatabase();
      const store = postgresStore({ connectionString: url });
      await expect(store.listExpiredApprovals('not a time')).rejects.toMatchObject({ code: 'STORE_MISUSE' });
      await store.close();
    });
  });

  describe('when the database cannot be reached', () => {
    it('fails with STORE_UNAVAILABLE', async () => {
      const store = postgresStore({ connectionString: 'postgres://nobody:x@127.0.0.1:1/none' });
      await expect(store.consumePermit('sha256:00', 'x')).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
      await store.close();
    });
  });

  describe('when options are malformed', () => {
    it('throws PG_CONFIG_INVALID', () => {
      expect(() => postgresStore({ connectionString: '' })).toThrow(
        expect.objectContaining({ code: 'PG_CONFIG_INVALID' }),
      );
    });
  });
});
