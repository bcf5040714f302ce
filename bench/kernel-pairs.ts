/**
 * `pnpm bench:kernel` of this checkout against another, in alternating runs: whether a change made
 * the kernel slower, on a machine where runs of one build differ by up to a quarter. Each pair runs
 * `bench/kernel.bench.ts --json` once in each tree, one after the other (the other tree first in odd
 * pairs, this one first in even pairs, so a drift in the load favours neither), each from its own
 * folder so that it runs on its own packages. The pairs are summarized as ratios, this checkout over
 * the other (bench/paired.ts): the permit rates with the signer on a worker and inline, and the CPU
 * per permit of the kernel's thread and of the whole process.
 *
 *   node --import tsx bench/kernel-pairs.ts --against /path/to/old-checkout [--pairs 12] [--save]
 *
 * `--backend node` (the default) sets EDCA_DISABLE_SODIUM=1 in both runs: node:crypto, the one
 * Ed25519 backend every commit has; `--backend default` leaves each tree its own default. Give the
 * other tree as a `git worktree` of the older commit with its dependencies installed and built
 * (`pnpm install && pnpm run build`: its signing worker starts from its `dist`). `--against` may
 * name this checkout too: an A/A run, which shows how far pairs of one build differ. A run takes
 * about 20 s, so a pair takes about 40 s. `--save` writes the JSON to
 * `bench/results/kernel-pairs-<UTC time>.json`. A run that fails ends the series: the pairs made
 * before it are still summarized (and saved), with `failure` and `pairsAsked`, and the exit code is 1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pairedRatio } from './paired.js';
import { refuse, runnerArgs } from './runner-args.js';
import { commitOf, saveAndSay } from './save.js';

function usage(message: string): never {
  return refuse('kernel-pairs', message);
}
const values = runnerArgs('kernel-pairs', {
  against: { type: 'string' },
  pairs: { type: 'string', default: '12' },
  backend: { type: 'string', default: 'node' },
  json: { type: 'boolean', default: false },
  save: { type: 'boolean', default: false },
});
const pairs = Number(values.pairs);
if (!Number.isSafeInteger(pairs) || pairs < 1) usage('--pairs must be a positive integer');
const backend = values.backend;
if (backend !== 'node' && backend !== 'default') usage('--backend must be node or default');
if (values.against === undefined) usage('--against DIR is required (the checkout to compare with)');

const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const other = resolve(values.against);
for (const root of [here, other])
  if (!existsSync(join(root, 'bench/kernel.bench.ts')))
    usage(`${root} is not an edca checkout with bench/kernel.bench.ts`);

/** The figures of one bench run this runner compares. */
interface Run {
  readonly permitsPerSec: number;
  readonly inlineSignerPermitsPerSec: number;
  readonly mainThreadCpuUsPerPermit: number;
  readonly cpuUsPerPermit: number;
  readonly loadBefore: number;
}
const METRICS = [
  'permitsPerSec',
  'inlineSignerPermitsPerSec',
  'mainThreadCpuUsPerPermit',
  'cpuUsPerPermit',
] as const;

function positive(value: unknown, name: string, root: string): number {
  if (typeof value !== 'number' || !(value > 0)) throw new Error(`the bench on ${root} gave no ${name}`);
  return value;
}

/** One `bench/kernel.bench.ts --json` in `root`, from its own folder. */
function benchRun(root: string): Run {
  const loadBefore = Number(loadavg()[0]!.toFixed(2));
  const env = { ...process.env };
  if (backend === 'node') env['EDCA_DISABLE_SODIUM'] = '1';
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/kernel.bench.ts', '--json'], {
    cwd: root,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`the bench failed on ${root} (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  let out: {
    permitsPerSec?: unknown;
    inlineSignerPermitsPerSec?: unknown;
    permitRun?: Record<string, unknown>;
  };
  try {
    out = JSON.parse(last) as typeof out;
  } catch (cause) {
    throw new Error(`the bench on ${root} ended with a line that is not JSON: ${last.slice(0, 200)}`, {
      cause,
    });
  }
  return {
    permitsPerSec: positive(out.permitsPerSec, 'permitsPerSec', root),
    inlineSignerPermitsPerSec: positive(out.inlineSignerPermitsPerSec, 'inlineSignerPermitsPerSec', root),
    mainThreadCpuUsPerPermit: positive(
      out.permitRun?.['mainThreadCpuUsPerPermit'],
      'permitRun.mainThreadCpuUsPerPermit',
      root,
    ),
    cpuUsPerPermit: positive(out.permitRun?.['cpuUsPerPermit'], 'permitRun.cpuUsPerPermit', root),
    loadBefore,
  };
}

const loadBefore = loadavg();
const startedAt = new Date();
const mine: Run[] = [];
const theirs: Run[] = [];
// A run that fails ends the series; the pairs made before it are still summarized (and saved).
let failure: string | undefined;
/** Which tree is running, for the failure: the saved result names the tree, never its folder. */
let running = '';
const runOn = (tree: 'this checkout' | 'the other checkout'): Run => {
  running = tree;
  return benchRun(tree === 'this checkout' ? here : other);
};
for (let p = 1; p <= pairs; p++) {
  let a: Run;
  let b: Run;
  try {
    // The other tree first in odd pairs, this one first in even pairs.
    if (p % 2 === 1) {
      b = runOn('the other checkout');
      a = runOn('this checkout');
    } else {
      a = runOn('this checkout');
      b = runOn('the other checkout');
    }
  } catch (err) {
    failure = `the bench failed on ${running} in pair ${p}`;
    // The details (paths, the bench's stderr) go to stderr only.
    console.error(`kernel-pairs: ${failure}: ${(err as Error).message}`);
    break;
  }
  mine.push(a);
  theirs.push(b);
  console.error(
    `pair ${p}/${pairs}: permits/s (worker signer) ${a.permitsPerSec} against ${b.permitsPerSec}, ` +
      `inline ${a.inlineSignerPermitsPerSec} against ${b.inlineSignerPermitsPerSec}; ` +
      `kernel thread ${a.mainThreadCpuUsPerPermit} against ${b.mainThreadCpuUsPerPermit} µs per permit`,
  );
}

const made = mine.length;
if (made === 0) {
  console.error('kernel-pairs: no pair was made, nothing to compare');
  process.exit(1);
}
if (failure !== undefined) process.exitCode = 1;

const mean = (xs: readonly number[]): number =>
  Number((xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(1));
const round3 = (x: number): number => Number(x.toFixed(3));
const result = {
  suite: 'kernel-pairs',
  method: 'bench/kernel.bench.ts --json in each tree, alternating; ratios this checkout / the other',
  backend,
  pairs: made,
  // Set when a run failed: the pairs before it are the ones summarized.
  ...(failure === undefined ? {} : { pairsAsked: pairs, failure }),
  trees: [
    { tree: 'this checkout', commit: commitOf(here), runs: mine },
    // Which commit, not its path: a saved result names no folder of the machine.
    { tree: 'against', commit: commitOf(other), runs: theirs },
  ],
  summary: Object.fromEntries(
    METRICS.map((m) => {
      const r = pairedRatio(
        mine.map((x) => x[m]),
        theirs.map((x) => x[m]),
      );
      return [
        m,
        {
          thisCheckout: mean(mine.map((x) => x[m])),
          against: mean(theirs.map((x) => x[m])),
          ratio: round3(r.ratio),
          interval95: r.interval === null ? null : r.interval.map(round3),
          pairsAbove: r.above,
        },
      ];
    }),
  ),
};
if (values.save) {
  saveAndSay({
    suite: 'kernel-pairs',
    command:
      `node --import tsx bench/kernel-pairs.ts --against <a checkout of ${result.trees[1]!.commit ?? 'another commit'}> ` +
      `--pairs ${pairs} --backend ${backend} --save${values.json ? ' --json' : ''}`,
    startedAt,
    loadBefore,
    results: [result],
  });
}
if (values.json) console.log(JSON.stringify(result));
else {
  const commits = `${result.trees[0]!.commit ?? 'this checkout'} / ${result.trees[1]!.commit ?? 'the other'}`;
  for (const m of METRICS) {
    const s = result.summary[m]!;
    const interval = s.interval95 === null ? '' : ` (95% ${s.interval95[0]}–${s.interval95[1]})`;
    console.log(
      `${m}: ${s.thisCheckout} against ${s.against} (means); ${commits} ${s.ratio}${interval}, ` +
        `higher in ${s.pairsAbove} of ${made} pairs`,
    );
  }
}
