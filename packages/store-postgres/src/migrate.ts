import { createHash } from 'node:crypto';
import type pg from 'pg';
import { PostgresStoreError } from './errors.js';
import { lease, type Lease } from './internal/db.js';
import { MIGRATIONS } from './internal/migrations.js';

/** What `migrate` did. */
export interface MigrateResult {
  /** Versions applied by this call (empty when the database was already current). */
  readonly applied: readonly number[];
  /** The schema version the database is at now. */
  readonly version: number;
}

/** The schema version this package writes and expects. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

// pg_advisory_xact_lock(key1, key2): 'edca' as an int32, then 1 for "schema". Transaction-scoped, so a
// crashed migrator cannot leave it held.
const LOCK_KEY_1 = 0x65646361;
const LOCK_KEY_2 = 1;

const checksumOf = (sql: string): string => createHash('sha256').update(sql, 'utf8').digest('hex');

/**
 * Brings the `edca` schema up to `SCHEMA_VERSION`, idempotently: all missing migrations run in ONE
 * transaction under an advisory lock, so instances starting at the same moment wait for each other
 * instead of racing, and a failure leaves the schema unchanged.
 * @example await migrate(new pg.Pool({ connectionString }));
 * @throws PostgresStoreError PG_SCHEMA_TOO_NEW when the database has a version this package does not
 *   know; PG_MIGRATION_MISMATCH when an applied migration's checksum differs; PG_MIGRATION_FAILED when
 *   the server refuses or cannot be reached.
 */
export async function migrate(pool: pg.Pool): Promise<MigrateResult> {
  let l: Lease;
  try {
    l = await lease(pool);
  } catch (err) {
    throw new PostgresStoreError('PG_MIGRATION_FAILED', 'cannot connect to run migrations', { cause: err });
  }
  const client = l.client;
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_KEY_1, LOCK_KEY_2]);
    await client.query('CREATE SCHEMA IF NOT EXISTS edca');
    await client.query(
      `CREATE TABLE IF NOT EXISTS edca.schema_migrations (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         checksum   text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM edca.schema_migrations ORDER BY version',
    );
    for (const row of rows) {
      const known = MIGRATIONS[row.version - 1];
      if (known === undefined) {
        throw new PostgresStoreError(
          'PG_SCHEMA_TOO_NEW',
          `the database has schema migration ${row.version} (${row.name}); this package knows up to ${SCHEMA_VERSION}`,
        );
      }
      if (known.name !== row.name || checksumOf(known.sql) !== row.checksum) {
        throw new PostgresStoreError(
          'PG_MIGRATION_MISMATCH',
          `schema migration ${row.version} in the database differs from the one shipped (${known.name})`,
        );
      }
    }
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO edca.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        checksumOf(m.sql),
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { applied, version: SCHEMA_VERSION };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    if (err instanceof PostgresStoreError) throw err;
    broken = true;
    throw new PostgresStoreError('PG_MIGRATION_FAILED', 'the schema migration failed', { cause: err });
  } finally {
    l.release(broken);
  }
}
