/**
 * Instructions per permit, counted by valgrind: a measure of the kernel's permit path that the
 * machine's load moves far less than it moves time (wall-clock permit rates on a shared 2-core
 * machine differ by up to a quarter between runs of one build; instruction counts by a few
 * percent, so compare trees side by side over several rounds). It runs
 * `bench/fixtures/permit-loop.ts` under `valgrind --tool=cachegrind` twice per round, with WARM
 * permits and then 0 or COUNT more, and reports (I(COUNT) − I(0)) / COUNT: start-up, compilation
 * and warm-up cancel out. Every thread of the process is counted (the kernel's, V8's collector
 * helpers, libuv's). With `--against DIR` (another checkout, e.g. a `git worktree` of an older
 * commit) the same loop runs on that tree's sources in the same rounds, the two runs of a round side
 * by side on the two cores. Not a suite of `pnpm bench`: a round takes minutes (valgrind runs Node
 * about 30–50 times slower), and it needs valgrind (`apt install valgrind`).
 *
 *   node --import tsx bench/kernel-instructions.ts --against /path/to/old-checkout
 *   node --import tsx bench/kernel-instructions.ts --rounds 3 --count 10000 --warm 2000 --json
 *
 * `--save` also writes the JSON to `bench/results/kernel-instructions-<UTC time>.json`, as
 * `pnpm bench --save` does for the suites.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { commitOf, saveResult } from './save.js';

function parseOptions() {
  return parseArgs({
    options: {
      against: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      count: { type: 'string', default: '10000' },
      warm: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
      save: { type: 'boolean', default: false },
    },
  });
}
let values: ReturnType<typeof parseOptions>['values'];
try {
  ({ values } = parseOptions());
} catch (err) {
  console.error(`kernel-instructions: ${(err as Error).message}`);
  process.exit(2);
}
const rounds = Number(values.rounds);
const count = Number(values.count);
const warm = Number(values.warm);
for (const [name, n] of [
  ['rounds', rounds],
  ['count', count],
  ['warm', warm],
] as const) {
  if (!Number.isSafeInteger(n) || n < (name === 'warm' ? 0 : 1)) {
    console.error(
      `kernel-instructions: --${name} must be a ${name === 'warm' ? 'non-negative' : 'positive'} integer`,
    );
    process.exit(2);
  }
}

const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const loop = fileURLToPath(new URL('fixtures/permit-loop.ts', import.meta.url));
const trees = [{ name: 'this checkout', root: here }];
if (values.against !== undefined) {
  const root = resolve(values.against);
  if (root === here) {
    console.error('kernel-instructions: --against names this checkout; give another one');
    process.exit(2);
  }
  trees.push({ name: values.against, root });
}
for (const t of trees) {
  if (!existsSync(join(t.root, 'packages/kernel/src/index.ts'))) {
    console.error(`kernel-instructions: ${t.root} is not an edca checkout (no packages/kernel/src/index.ts)`);
    process.exit(2);
  }
}

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('kernel-instructions: valgrind is not installed (Debian: apt install valgrind)');
  process.exit(2);
}

/** Instructions of one run of the loop (WARM, then `n` permits) on the sources of `root`. */
function instructions(root: string, n: number): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(
      'valgrind',
      [
        '--tool=cachegrind',
        '--cache-sim=no',
        '--cachegrind-out-file=/dev/null',
        process.execPath,
        '--import',
        'tsx',
        loop,
        root,
        String(warm),
        String(n),
      ],
      { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || m === null || !out.includes('"count"')) {
        fail(new Error(`the permit loop failed on ${root} (exit ${code}):\n${err.slice(-2000)}`));
        return;
      }
      done(Number(m[1]!.replaceAll(',', '')));
    });
  });
}

const loadBefore = loadavg();
const startedAt = new Date();
const perPermit = new Map<string, number[]>(trees.map((t) => [t.root, []]));
for (let r = 1; r <= rounds; r++) {
  // The base runs (0 extra permits) of both trees side by side, then the counted runs.
  const base = await Promise.all(trees.map((t) => instructions(t.root, 0)));
  const full = await Promise.all(trees.map((t) => instructions(t.root, count)));
  trees.forEach((t, i) => perPermit.get(t.root)!.push(Math.round((full[i]! - base[i]!) / count)));
  const minutes = ((Date.now() - startedAt.getTime()) / 60_000).toFixed(1);
  console.error(
    `round ${r}/${rounds} (${minutes} min): ` +
      trees.map((t) => `${t.name} ${perPermit.get(t.root)!.at(-1)!.toLocaleString('en')}`).join(', ') +
      ' instructions per permit',
  );
}

const mean = (xs: readonly number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
const result = {
  suite: 'kernel-instructions',
  warm,
  count,
  rounds,
  // Which tree and its commit, not its path: a saved result names no folder of the machine.
  trees: trees.map((t, i) => ({
    tree: i === 0 ? 'this checkout' : 'against',
    commit: commitOf(t.root),
    instructionsPerPermit: perPermit.get(t.root)!,
    mean: mean(perPermit.get(t.root)!),
  })),
};
if (values.save) {
  const against = result.trees[1];
  const command = [
    'node --import tsx bench/kernel-instructions.ts',
    ...(against === undefined ? [] : [`--against <a checkout of ${against.commit ?? 'another commit'}>`]),
    `--rounds ${rounds} --count ${count} --warm ${warm} --save`,
    ...(values.json ? ['--json'] : []),
  ].join(' ');
  const path = saveResult({
    suite: 'kernel-instructions',
    command,
    startedAt,
    loadBefore,
    results: [result],
  });
  console.error(`saved ${path}`);
}
if (values.json) console.log(JSON.stringify(result));
else {
  for (const [i, t] of result.trees.entries())
    console.log(
      `${trees[i]!.name} (${t.commit ?? 'no commit'}): ${t.mean.toLocaleString('en')} instructions per permit (rounds: ${t.instructionsPerPermit.map((n) => n.toLocaleString('en')).join(', ')})`,
    );
  if (result.trees.length === 2) {
    const [a, b] = result.trees;
    console.log(`this checkout / the other: ${(a!.mean / b!.mean).toFixed(3)}`);
  }
}
