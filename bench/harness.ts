/**
 * The shared benchmark harness: every case runs in its own tinybench `Bench` with a warm-up, then
 * for at least `time` ms and at least `iterations` calls; results are reported per call in µs
 * (median = p50, p99, mean) and as calls per second. `--json` prints one JSON object instead of a table.
 *
 *   import { runCases, report, isMain } from './harness.js';
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { resolveWorkerModule } from '@edca/records';
import { Bench, hrtimeNow } from 'tinybench';

/** One operation to measure. */
export interface BenchCase {
  readonly name: string;
  readonly fn: () => unknown;
  /** Minimum measuring time in ms (default 1000). */
  readonly time?: number;
  /** Minimum number of measured calls (default 64). */
  readonly iterations?: number;
  /** Warm-up time in ms (default 250). */
  readonly warmupTime?: number;
  /** Minimum warm-up calls (default 16). */
  readonly warmupIterations?: number;
  /** A target or a remark printed beside the result. */
  readonly note?: string;
}

/** What one case measured; times in µs per call. */
export interface BenchRow {
  readonly suite: string;
  readonly name: string;
  readonly samples: number;
  readonly medianUs: number;
  readonly p99Us: number;
  readonly meanUs: number;
  /** 1e6 / median: calls per second on one core. */
  readonly perSecond: number;
  /**
   * Process CPU time (user + system, all threads, warm-up included) per call: less sensitive than
   * wall time to other processes competing for the cores, more sensitive to GC.
   */
  readonly cpuUs: number;
  readonly note?: string;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Runs the cases one after the other (never concurrently) and returns one row per case. */
export async function runCases(suite: string, cases: readonly BenchCase[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of cases) {
    const bench = new Bench({
      name: `${suite}: ${c.name}`,
      now: hrtimeNow,
      throws: true,
      warmup: true,
      time: c.time ?? 1000,
      iterations: c.iterations ?? 64,
      warmupTime: c.warmupTime ?? 250,
      warmupIterations: c.warmupIterations ?? 16,
    });
    let calls = 0;
    const fn = c.fn;
    bench.add(c.name, () => {
      calls++;
      return fn();
    });
    const cpu0 = process.cpuUsage();
    await bench.run();
    const cpu = process.cpuUsage(cpu0);
    const task = bench.tasks[0];
    const result = task?.result;
    if (result === undefined) throw new Error(`${c.name}: no result`);
    if (result.error !== undefined) throw result.error;
    const l = result.latency;
    const median = (l.p50 ?? l.mean) * 1000;
    rows.push({
      suite,
      name: c.name,
      samples: l.samples.length,
      medianUs: round(median),
      p99Us: round((l.p99 ?? l.max) * 1000),
      meanUs: round(l.mean * 1000),
      perSecond: Math.round(1e6 / median),
      cpuUs: round((cpu.user + cpu.system) / Math.max(calls, 1)),
      ...(c.note === undefined ? {} : { note: c.note }),
    });
  }
  return rows;
}

/** The machine a run happened on, printed with every report (numbers only mean something with it). */
export function machine(): {
  node: string;
  cpu: string;
  cpus: number;
  loadAverage1m: number;
  workerThreads: WorkerStart;
} {
  return {
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: availableParallelism(),
    loadAverage1m: round(loadavg()[0] ?? 0),
    workerThreads: workerStart(),
  };
}

/**
 * How the journal's signing worker and the audit's verifying workers start in this run: `build`
 * (the fresh `dist` of their packages, as the CLI runs them) or `tsx` (compiled from the sources
 * in each worker, which costs start-up CPU inside the measured calls: run `pnpm run build` first).
 */
type WorkerStart = 'build' | 'tsx';
let started: WorkerStart | undefined;
function workerStart(): WorkerStart {
  if (started !== undefined) return started;
  const at = (file: string): string => new URL(`../packages/${file}`, import.meta.url).href;
  const vias = [
    resolveWorkerModule(at('records/src/seal-chain.ts'), './internal/seal-worker').via,
    resolveWorkerModule(at('audit/src/internal/signature-pool.ts'), './signature-worker').via,
  ];
  started = vias.every((v) => v === 'build') ? 'build' : 'tsx';
  if (started === 'tsx')
    process.stderr.write(
      'bench: the packages are not freshly built, so worker threads compile from the sources as they start; run `pnpm run build` for the shipped start-up cost\n',
    );
  return started;
}

/** Whether `--json` was passed. */
export const jsonMode = (): boolean => process.argv.includes('--json');

/** Prints rows as a table (or one JSON object with --json), with the machine they ran on. */
export function report(suite: string, rows: readonly BenchRow[], extra: Record<string, unknown> = {}): void {
  if (jsonMode()) {
    console.log(JSON.stringify({ suite, machine: machine(), ...extra, rows }));
    return;
  }
  const m = machine();
  console.log(`\n${suite} — Node ${m.node}, ${m.cpu} (${m.cpus} CPUs), load ${m.loadAverage1m}`);
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  console.log(
    `${'case'.padEnd(w)}  ${'median µs'.padStart(12)}  ${'p99 µs'.padStart(12)}  ${'per s'.padStart(10)}  ${'cpu µs'.padStart(10)}  samples`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(w)}  ${r.medianUs.toFixed(2).padStart(12)}  ${r.p99Us.toFixed(2).padStart(12)}  ${String(r.perSecond).padStart(10)}  ${r.cpuUs.toFixed(2).padStart(10)}  ${String(r.samples).padStart(7)}${r.note === undefined ? '' : `  ${r.note}`}`,
    );
  }
  for (const [k, v] of Object.entries(extra))
    console.log(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/** Whether the module with this `import.meta.url` is the script node was started with. */
export const isMain = (metaUrl: string): boolean => process.argv[1] === fileURLToPath(metaUrl);

/** The q-quantile (0..1) of ascending samples, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * User + system CPU in µs of the process or thread whose `/proc/…/stat` is at `statPath` (Linux;
 * clock ticks of 10 ms). Throws if the file is gone (the process or thread ended).
 */
export function procStatCpuUs(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
