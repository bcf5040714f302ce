import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrate, postgresStore } from '@edca/store-postgres';
import { runStoreSuite } from '@edca/kernel/testing';
import { PG_HOOK_TIMEOUT, startPgServer, type PgServer } from './pg-server.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPgServer();
}, PG_HOOK_TIMEOUT);
afterAll(async () => {
  await server.stop();
}, PG_HOOK_TIMEOUT);

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
