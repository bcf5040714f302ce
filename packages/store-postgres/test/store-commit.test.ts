// `synchronousCommit: 'off'`: the store's batched writes commit without their own WAL flush, the
// other statements keep the server's setting. The server's I/O statistics (pg_stat_io, object
// 'wal') count the WAL fsyncs each kind of process made: with the option, the client backends that
// ran the store's writes made none of them (the WAL writer flushes in the background).
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelStore } from '@edca/kernel';
import { migrate, postgresStore, PostgresStoreError } from '@edca/store-postgres';
import { PG_HOOK_TIMEOUT } from './pg-server.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();
let url: string;
beforeAll(async () => {
  url = await server.createDatabase('store_commit');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await migrate(pool);
  await pool.end();
}, PG_HOOK_TIMEOUT);

/** WAL fsyncs made by client backends so far (their statistics are flushed when they exit). */
async function backendWalFsyncs(): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>(
      `SELECT COALESCE(sum(fsyncs), 0)::text AS n FROM pg_stat_io
        WHERE backend_type = 'client backend' AND object = 'wal'`,
    );
    return Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

/** One reserve, consume, pin and settle after the other, `n` times; then the store's backends exit. */
async function writes(store: KernelStore, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `${tag}-${i}`;
    expect(
      await store.reserve([{ id, counter: `k-${tag}`, amount: 1, max: 1e9, holdUntil: 2e12 }], 1e12),
    ).toEqual({
      ok: true,
    });
    expect(await store.consumePermit(`permit-${id}`, '2026-01-01T00:00:00.000Z')).toBe(true);
    await store.pin(id);
    await store.settle(id);
  }
  expect(await store.usage(`k-${tag}`, 1e12)).toBe(n);
  await store.close();
}

describe("postgresStore synchronousCommit: 'off'", () => {
  const N = 20;

  it('flushes the WAL at every write by default', async () => {
    const before = await backendWalFsyncs();
    await writes(postgresStore({ connectionString: url, poolSize: 1 }), 'sync', N);
    // Four committed writes per round, each waiting for its own flush (one connection, in turn).
    expect((await backendWalFsyncs()) - before).toBeGreaterThanOrEqual(3 * N);
  });

  it('leaves the flush to the WAL writer (and the next synchronous commit) with the option', async () => {
    const before = await backendWalFsyncs();
    const store = postgresStore({ connectionString: url, poolSize: 1, synchronousCommit: 'off' });
    await writes(store, 'async', N);
    expect((await backendWalFsyncs()) - before).toBeLessThanOrEqual(2);
  });

  it('refuses any other value with PG_CONFIG_INVALID', () => {
    expect(() => postgresStore({ connectionString: url, synchronousCommit: 'local' as 'off' })).toThrow(
      PostgresStoreError,
    );
  });
});
