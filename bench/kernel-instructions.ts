/**
 * Instructions per permit, counted by valgrind: a measure of the kernel's permit path that the
 * machine's load moves far less than it moves time (wall-clock permit rates on a shared 2-core
 * machine differ by up to a quarter between runs of one build). It runs
 * `bench/fixtures/permit-loop.ts --marks` under `valgrind --tool=callgrind` with instrumentation
 * off, switches it on when the loop says `mark` after its WARM permits, and dumps the counts when it
 * says `mark` again after COUNT more (`callgrind_control`): only those COUNT permits are counted, so
 * start-up, compilation and warm-up are left out instead of subtracted. Counted per thread: the
 * kernel's thread (the one that bounds the permit rate when the journal signs on a worker) and all
 * threads (V8's collector helpers, libuv's, the signing worker). `--signer node` signs on the
 * kernel's thread, `--signer worker` on a worker thread, node:crypto in both (the backend every
 * commit has). With `--against DIR` (another checkout, e.g. a `git worktree` of an older commit) the
 * same loop runs on that tree's sources in the same rounds, side by side on the two cores. Not a
 * suite of `pnpm bench`: a round takes minutes (valgrind runs Node about 30–50 times slower), and it
 * needs valgrind (`apt install valgrind`).
 *
 *   node --import tsx bench/kernel-instructions.ts --against /path/to/old-checkout
 *   node --import tsx bench/kernel-instructions.ts --rounds 3 --count 10000 --warm 2000 --signer worker --json
 *
 * `--save` also writes the JSON to `bench/results/kernel-instructions-<UTC time>.json`, as
 * `pnpm bench --save` does for the suites.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { refuse, runnerArgs } from './runner-args.js';
import { commitOf, saveAndSay } from './save.js';

function usage(message: string): never {
  return refuse('kernel-instructions', message);
}
const values = runnerArgs('kernel-instructions', {
  against: { type: 'string' },
  rounds: { type: 'string', default: '3' },
  count: { type: 'string', default: '10000' },
  warm: { type: 'string', default: '2000' },
  signer: { type: 'string', default: 'node' },
  json: { type: 'boolean', default: false },
  save: { type: 'boolean', default: false },
});
const rounds = Number(values.rounds);
const count = Number(values.count);
const warm = Number(values.warm);
for (const [name, n] of [
  ['rounds', rounds],
  ['count', count],
  ['warm', warm],
] as const) {
  if (!Number.isSafeInteger(n) || n < (name === 'warm' ? 0 : 1))
    usage(`--${name} must be a ${name === 'warm' ? 'non-negative' : 'positive'} integer`);
}

const signer = values.signer;
if (signer !== 'node' && signer !== 'worker') {
  usage('--signer must be node or worker');
}

const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const loop = fileURLToPath(new URL('fixtures/permit-loop.ts', import.meta.url));
const trees = [{ name: 'this checkout', root: here }];
if (values.against !== undefined) {
  const root = resolve(values.against);
  if (root === here) {
    usage('--against names this checkout; give another one');
  }
  trees.push({ name: values.against, root });
}
for (const t of trees) {
  if (!existsSync(join(t.root, 'packages/kernel/src/index.ts'))) {
    usage(`${t.root} is not an edca checkout (no packages/kernel/src/index.ts)`);
  }
}

if (spawnSync('valgrind', ['--version']).status !== 0 || spawnSync('callgrind_control', ['-h']).error) {
  usage('valgrind is not installed (Debian: apt install valgrind)');
}

/** Instructions of the counted permits of one run, on the kernel's thread and on all threads. */
interface Counted {
  readonly kernelThread: number;
  readonly allThreads: number;
  /** The journal's fdatasync calls (one per group of records written) during the counted permits. */
  readonly syncs: number;
}

/**
 * The totals of callgrind's first dump, one file per thread (`<out>.1-01` is the process's first
 * thread, the kernel's).
 */
function readDump(dir: string): Omit<Counted, 'syncs'> {
  let kernelThread: number | undefined;
  let allThreads = 0;
  for (const name of readdirSync(dir)) {
    const m = /\.1-(\d+)$/.exec(name);
    if (m === null) continue;
    const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, name), 'utf8'));
    if (total === null) throw new Error(`callgrind dump ${name} has no totals`);
    const n = Number(total[1]);
    allThreads += n;
    if (Number(m[1]) === 1) kernelThread = n;
  }
  if (kernelThread === undefined) throw new Error('callgrind wrote no dump of the first thread');
  return { kernelThread, allThreads };
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** Counts the COUNT permits of one run of the loop on the sources of `root`. */
function instructions(root: string): Promise<Counted> {
  const dumps = mkdtempSync(join(tmpdir(), 'edca-instructions-'));
  return new Promise<Counted>((done, fail) => {
    const child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        '--instr-atstart=no',
        '--separate-threads=yes',
        `--callgrind-out-file=${join(dumps, 'callgrind.out')}`,
        process.execPath,
        '--import',
        'tsx',
        loop,
        root,
        String(warm),
        String(count),
        '--marks',
        '--signer',
        signer,
      ],
      // From the tree's own folder: tsx maps each `@edca/*` import through the tsconfig.json it finds
      // there, so the tree's kernel runs on the tree's own packages, not on this checkout's.
      { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const control = (...args: string[]): void => {
      execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' });
    };
    // A loop that dies between a mark and our answer closes its input: writing then fails with EPIPE,
    // and the 'close' handler below reports the loop's exit instead.
    child.stdin.on('error', () => undefined);
    let err = '';
    let printed = '';
    let marks = 0;
    let pending = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      pending += c.toString();
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line !== 'mark') {
          printed += line + '\n';
          continue;
        }
        marks += 1;
        try {
          // First mark: count from here. Second: write the counts, then stop counting.
          if (marks === 1) control('-i', 'on');
          else {
            control('-d');
            control('-i', 'off');
          }
        } catch (e) {
          child.kill();
          fail(asError(e));
          return;
        }
        child.stdin.write('go\n');
      }
    });
    child.on('error', fail);
    child.on('close', (code) => {
      try {
        if (code !== 0 || marks !== 2 || !printed.includes('"count"'))
          throw new Error(`the permit loop failed on ${root} (exit ${code}):\n${err.slice(-2000)}`);
        const counted = readDump(dumps);
        const last = printed.trim().split('\n').at(-1)!;
        let syncs: unknown;
        try {
          ({ syncs } = JSON.parse(last) as { syncs?: unknown });
        } catch (cause) {
          throw new Error(`the permit loop on ${root} ended with a line that is not JSON: ${last}`, {
            cause,
          });
        }
        if (typeof syncs !== 'number' || !Number.isSafeInteger(syncs))
          throw new Error(`the permit loop on ${root} reported no fdatasync count: ${last}`);
        done({
          kernelThread: counted.kernelThread / count,
          allThreads: counted.allThreads / count,
          syncs,
        });
      } catch (e) {
        fail(asError(e));
      } finally {
        rmSync(dumps, { recursive: true, force: true });
      }
    });
  });
}

const loadBefore = loadavg();
const startedAt = new Date();
const counts = new Map<string, Counted[]>(trees.map((t) => [t.root, []]));
const fmt = (n: number): string => Math.round(n).toLocaleString('en');
for (let r = 1; r <= rounds; r++) {
  const round = await Promise.all(trees.map((t) => instructions(t.root)));
  trees.forEach((t, i) => counts.get(t.root)!.push(round[i]!));
  const minutes = ((Date.now() - startedAt.getTime()) / 60_000).toFixed(1);
  console.error(
    `round ${r}/${rounds} (${minutes} min), instructions per permit (kernel thread / all threads): ` +
      trees
        .map(
          (t, i) =>
            `${t.name} ${fmt(round[i]!.kernelThread)} / ${fmt(round[i]!.allThreads)} (${round[i]!.syncs} fdatasync)`,
        )
        .join(', '),
  );
}

const mean = (xs: readonly number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
/** Sample standard deviation as a share of the mean (0 for one round). */
const spread = (xs: readonly number[]): number => {
  if (xs.length < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
  return Number((Math.sqrt(variance) / m).toFixed(4));
};
const summary = (xs: readonly number[]) => ({
  perRound: xs.map((n) => Math.round(n)),
  mean: mean(xs),
  relativeStdDev: spread(xs),
});
const result = {
  suite: 'kernel-instructions',
  method: 'callgrind, counted between the marks',
  signer,
  warm,
  count,
  rounds,
  // Which tree and its commit, not its path: a saved result names no folder of the machine.
  trees: trees.map((t, i) => ({
    tree: i === 0 ? 'this checkout' : 'against',
    commit: commitOf(t.root),
    kernelThread: summary(counts.get(t.root)!.map((c) => c.kernelThread)),
    allThreads: summary(counts.get(t.root)!.map((c) => c.allThreads)),
    // Groups written during the counted permits: trees compare best when they grouped alike.
    fdatasyncPerRound: counts.get(t.root)!.map((c) => c.syncs),
  })),
};
if (values.save) {
  const against = result.trees[1];
  const command = [
    'node --import tsx bench/kernel-instructions.ts',
    ...(against === undefined ? [] : [`--against <a checkout of ${against.commit ?? 'another commit'}>`]),
    `--rounds ${rounds} --count ${count} --warm ${warm} --signer ${signer} --save`,
    ...(values.json ? ['--json'] : []),
  ].join(' ');
  saveAndSay({
    suite: 'kernel-instructions',
    command,
    startedAt,
    loadBefore,
    results: [result],
  });
}
if (values.json) console.log(JSON.stringify(result));
else {
  for (const [i, t] of result.trees.entries())
    for (const part of ['kernelThread', 'allThreads'] as const)
      console.log(
        `${trees[i]!.name} (${t.commit ?? 'no commit'}), ${part === 'kernelThread' ? 'kernel thread' : 'all threads'}: ` +
          `${fmt(t[part].mean)} instructions per permit (rounds: ${t[part].perRound.map(fmt).join(', ')}; ` +
          `relative standard deviation ${(t[part].relativeStdDev * 100).toFixed(2)}%)`,
      );
  if (result.trees.length === 2) {
    const [a, b] = result.trees;
    console.log(
      `this checkout / the other: kernel thread ${(a!.kernelThread.mean / b!.kernelThread.mean).toFixed(3)}, ` +
        `all threads ${(a!.allThreads.mean / b!.allThreads.mean).toFixed(3)}`,
    );
  }
}
