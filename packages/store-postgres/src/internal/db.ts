/**
 * Connection plumbing shared by the journal and the store: pool ownership, a checked-out client that
 * cannot crash the process when its connection dies, and transactions.
 */
import pg from 'pg';
import { PostgresStoreError } from '../errors.js';

/** How a caller hands us a database: a URL (we own the pool) or a pool (the caller owns it). */
export type ConnectionOptions =
  | { readonly connectionString: string; readonly pool?: undefined; readonly poolSize?: number }
  | { readonly pool: pg.Pool; readonly connectionString?: undefined; readonly poolSize?: undefined };

/** A pool plus whether closing the journal or store should end it. */
export interface Db {
  readonly pool: pg.Pool;
  readonly owned: boolean;
}

/** Opens (or adopts) a pool. @throws PostgresStoreError PG_CONFIG_INVALID */
export function openDb(options: ConnectionOptions, defaultSize: number): Db {
  const given = options as { connectionString?: unknown; pool?: unknown; poolSize?: unknown };
  if (given.pool !== undefined && given.connectionString !== undefined) {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'give either connectionString or pool, not both');
  }
  if (given.pool !== undefined) {
    if (!(given.pool instanceof pg.Pool)) {
      throw new PostgresStoreError('PG_CONFIG_INVALID', 'pool must be a pg.Pool');
    }
    return { pool: given.pool, owned: false };
  }
  if (typeof given.connectionString !== 'string' || given.connectionString === '') {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'a connectionString or a pool is required');
  }
  const size = given.poolSize ?? defaultSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'poolSize must be a positive integer');
  }
  const pool = new pg.Pool({ connectionString: given.connectionString, max: size });
  // An idle client whose connection dies is reported on the pool; unobserved, that event would crash
  // the process. The pool drops the client, and the next checkout connects afresh.
  pool.on('error', () => {});
  return { pool, owned: true };
}

/** A checked-out client that records whether its connection reported an error. */
export interface Lease {
  readonly client: pg.PoolClient;
  /** True once the connection emitted an error: the client must not be reused. */
  readonly broken: boolean;
  /** Returns the client to the pool, or destroys it when `destroy` or `broken`. */
  release(destroy?: boolean): void;
}

/**
 * Checks a client out with an error listener attached in the same tick as the checkout. A connection
 * error is emitted as an event on the client; if the server's error message arrives in the same
 * socket read as the end of the connection handshake, it is emitted before an `await pool.connect()`
 * continuation could attach a listener, and an unobserved 'error' event crashes the process.
 */
export function lease(pool: pg.Pool): Promise<Lease> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client, done) => {
      if (err !== undefined || client === undefined) {
        reject(err instanceof Error ? err : new Error('no client'));
        return;
      }
      let broken = false;
      const onError = (): void => {
        broken = true;
      };
      client.on('error', onError);
      resolve({
        client,
        get broken() {
          return broken;
        },
        release(destroy = false) {
          client.off('error', onError);
          done(destroy || broken);
        },
      });
    });
  });
}

/** Returned by a transaction body to roll back (not an error: e.g. a limit refused) and still yield a value. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/**
 * Runs `fn` in a transaction and commits (or rolls back when `fn` returns a `Rollback`). Any error rolls
 * back; when even the rollback fails the connection is destroyed, never reused in an unknown state.
 * `begin` may carry `SET LOCAL` statements.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T | Rollback<T>>,
  begin = 'BEGIN',
): Promise<T> {
  const l = await lease(pool);
  const client = l.client;
  // The session is reusable only when the transaction provably ended (COMMIT or ROLLBACK answered)
  // and the connection reported no error.
  let ended = false;
  try {
    await client.query(begin);
    let result: T | Rollback<T>;
    try {
      result = await fn(client);
    } catch (err) {
      await client.query('ROLLBACK').then(
        () => {
          ended = true;
        },
        () => {},
      );
      throw err;
    }
    if (result instanceof Rollback) {
      await client.query('ROLLBACK');
      ended = true;
      return result.value;
    }
    await client.query('COMMIT');
    ended = true;
    return result;
  } finally {
    l.release(!ended);
  }
}

/** The SQLSTATE of a server error, if `err` is one. */
export function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}
