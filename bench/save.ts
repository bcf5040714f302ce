/**
 * What `--save` keeps: one run's JSON in `bench/results/<suite>-<UTC time>.json`, with the command,
 * the commit, the machine and the load average (`pnpm bench --save` and
 * `bench/kernel-instructions.ts --save`). Node built-ins only, so `bench/run.ts` loads nothing else.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const repository = fileURLToPath(new URL('..', import.meta.url));

/**
 * The commit of the checkout at `dir` (default: the one this file is in), `+dirty` when a tracked
 * file differs; null outside git.
 */
export function commitOf(dir = repository): string | null {
  const r = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    cwd: dir,
    encoding: 'utf8',
  });
  return `${r.stdout.trim()}${dirty.stdout.trim() === '' ? '' : '+dirty'}`;
}

/**
 * Writes one run's JSON to `bench/results/<suite>-<UTC time>.json` (what `--save` keeps): the
 * command, the commit, the machine, the load average before and now, and the results as printed.
 * Returns the file's path.
 */
export function saveResult(run: {
  readonly suite: string;
  readonly command: string;
  readonly startedAt: Date;
  readonly loadBefore: readonly number[];
  readonly results: readonly unknown[];
}): string {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const path = `${dir}${run.suite}-${run.startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  const record = {
    suite: run.suite,
    command: run.command,
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: commitOf(),
    machine: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length },
    loadAverageBefore: run.loadBefore.map((l) => Number(l.toFixed(2))),
    loadAverageAfter: loadavg().map((l) => Number(l.toFixed(2))),
    results: run.results,
  };
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

/** {@link saveResult}, then says on stderr where the file went (`saved <path>`). */
export function saveAndSay(run: Parameters<typeof saveResult>[0]): void {
  console.error(`saved ${saveResult(run)}`);
}
