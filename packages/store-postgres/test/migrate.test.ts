import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, PostgresStoreError, SCHEMA_VERSION } from '@edca/store-postgres';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

describe('migrate', () => {
  describe('when many instances start at the same moment', () => {
    it('applies every migration exactly once', async () => {
      const url = await server.createDatabase();
      const pools = Array.from({ length: 8 }, () => new pg.Pool({ connectionString: url, max: 1 }));
      const results = await Promise.all(pools.map((p) => migrate(p)));
      expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
      expect(results.flatMap((r) => r.applied)).toEqual(
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      );
      expect(results.every((r) => r.version === SCHEMA_VERSION)).toBe(true);
      const { rows } = await pools[0]!.query<{ version: number }>(
        'SELECT version FROM edca.schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      await Promise.all(pools.map((p) => p.end()));
    });
  });

  describe('when the database is already current', () => {
    it('applies nothing', async () => {
      const url = await server.createDatabase();
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      await migrate(pool);
      expect(await migrate(pool)).toEqual({ applied: [], version: SCHEMA_VERSION });
      await pool.end();
    });
  });

  describe('when an applied migration was edited', () => {
    it('refuses with PG_MIGRATION_MISMATCH and changes nothing', async () => {
      const url = await server.createDatabase();
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      await migrate(pool);
      await pool.query(`UPDATE edca.schema_migrations SET checksum = 'x' WHERE version = 1`);
      const err = await migrate(pool).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresStoreError);
      expect(err).toMatchObject({ code: 'PG_MIGRATION_MISMATCH' });
      await pool.end();
    });
  });

  describe('when a newer edca migrated the database', () => {
    it('refuses with PG_SCHEMA_TOO_NEW', async () => {
      const url = await server.createDatabase();
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      await migrate(pool);
      await pool.query(
        `INSERT INTO edca.schema_migrations (version, name, checksum) VALUES (${SCHEMA_VERSION + 1}, 'future', 'x')`,
      );
      await expect(migrate(pool)).rejects.toMatchObject({ code: 'PG_SCHEMA_TOO_NEW' });
      await pool.end();
    });
  });

  describe('when the server cannot be reached', () => {
    it('fails with PG_MIGRATION_FAILED', async () => {
      const pool = new pg.Pool({ connectionString: 'postgres://nobody:x@127.0.0.1:1/none', max: 1 });
      await expect(migrate(pool)).rejects.toMatchObject({ code: 'PG_MIGRATION_FAILED' });
      await pool.end();
    });
  });
});
