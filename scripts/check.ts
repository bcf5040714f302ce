// `pnpm run check`: everything CI runs, in phases, and how long each took. Each step is a script of
// the root package.json (one definition of each command), run by the shell with the workspace's
// node_modules/.bin first on PATH, as pnpm would.
//
// The three static checks (eslint with type information, prettier, tsc) are single-threaded, so
// they run side by side; their output is printed whole as each ends, never interleaved. The test
// suites then run one after the other (the slow suite runs its files one at a time: its timings
// and SIGKILLs must not compete with the unit suite). The first failing phase stops the run with
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
  readonly output: string;
}

const timings: string[] = [];
const started = performance.now();

/** Runs one step; `capture` buffers its output (for steps that run side by side). */
function run(step: Step, capture: boolean): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const command = scripts[step.script];
    if (command === undefined) {
      resolve({ name: step.name, code: 1, seconds: 0, output: `check: no script "${step.script}"\n` });
      return;
    }
    const child = spawn(command, {
      cwd: root,
      shell: true,
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: { ...process.env, PATH },
    });
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString('utf8')));
    const done = (code: number): void =>
      resolve({ name: step.name, code, seconds: (performance.now() - t0) / 1000, output });
    child.on('error', (err) => {
      output += `check: cannot start ${command}: ${err.message}\n`;
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
  const r = await run(step, false);
  timings.push(`${r.name} ${r.seconds.toFixed(1)} s`);
  if (r.code !== 0) {
    process.stderr.write(`check: ${r.name} failed (exit ${r.code})\n`);
    stop(r.code);
  }
}

async function sideBySide(name: string, steps: readonly Step[]): Promise<void> {
  process.stderr.write(`\ncheck: ${name}: ${steps.map((s) => s.name).join(', ')} side by side\n`);
  const t0 = performance.now();
  const ran = await Promise.all(
    steps.map(async (s) => {
      const r = await run(s, true);
      process.stdout.write(`\n── ${r.name} (exit ${r.code}, ${r.seconds.toFixed(1)} s)\n${r.output}`);
      return r;
    }),
  );
  const parts = ran.map((r) => `${r.name} ${r.seconds.toFixed(1)} s`).join(', ');
  timings.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)} s (${parts})`);
  const failed = ran.find((r) => r.code !== 0);
  if (failed !== undefined) {
    process.stderr.write(`check: ${failed.name} failed (exit ${failed.code})\n`);
    stop(failed.code);
  }
}

await sequential({ name: 'browser', script: 'ensure-browser' });
await sideBySide('static', [
  { name: 'eslint', script: 'lint:eslint' },
  { name: 'typecheck', script: 'typecheck' },
  { name: 'prettier', script: 'lint:prettier' },
]);
await sequential({ name: 'unit', script: 'test' });
await sequential({ name: 'slow', script: 'test:slow' });
stop(0);
