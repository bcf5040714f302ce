// `pnpm run check`: everything CI runs, in phases, and how long each took. Each step is a script of
// the root package.json (one definition of each command), run by the shell with the workspace's
// node_modules/.bin first on PATH, as pnpm would.
//
// The phases run one after the other. eslint with type information and tsc each build the whole
// program; side by side they were not faster on the shared 2-core machine (docs/benchmarks.md).
// The slow suite runs after the unit suite: its timings and SIGKILLs must not compete with it. The first failing phase stops the run with
// its exit code; a summary of every phase's wall time goes to stderr either way.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const scripts = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const PATH = [join(root, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter);

/** A phase of the check: a root package.json script, shown under `name`. */
interface Step {
  readonly name: string;
  readonly script: string;
}

interface Ran {
  readonly name: string;
  readonly code: number;
  readonly seconds: number;
}

const timings: string[] = [];
const started = performance.now();

/** Runs one step, its output going straight to ours. */
function run(step: Step): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const command = scripts[step.script];
    if (command === undefined) {
      process.stderr.write(`check: no script "${step.script}" in package.json\n`);
      resolve({ name: step.name, code: 1, seconds: 0 });
      return;
    }
    const child = spawn(command, {
      cwd: root,
      shell: true,
      stdio: 'inherit',
      env: { ...process.env, PATH },
    });
    const done = (code: number): void =>
      resolve({ name: step.name, code, seconds: (performance.now() - t0) / 1000 });
    child.on('error', (err) => {
      process.stderr.write(`check: cannot start ${command}: ${err.message}\n`);
      done(127);
    });
    child.on('close', (code, signal) => done(code ?? (signal === null ? 1 : 128)));
  });
}

function summary(): void {
  const total = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`\ncheck: ${timings.join(', ')}; total ${total} s\n`);
}

function stop(code: number): never {
  summary();
  process.exit(code);
}

async function sequential(step: Step): Promise<void> {
  process.stderr.write(`\ncheck: ${step.name}\n`);
  const r = await run(step);
  timings.push(`${r.name} ${r.seconds.toFixed(1)} s`);
  if (r.code !== 0) {
    process.stderr.write(`check: ${r.name} failed (exit ${r.code})\n`);
    stop(r.code);
  }
}

await sequential({ name: 'browser', script: 'ensure-browser' });
await sequential({ name: 'eslint', script: 'lint:eslint' });
await sequential({ name: 'prettier', script: 'lint:prettier' });
await sequential({ name: 'typecheck', script: 'typecheck' });
await sequential({ name: 'unit', script: 'test' });
await sequential({ name: 'slow', script: 'test:slow' });
stop(0);
