// The benchmarks refuse a mistyped option before they start anything: a typo in `--streams` used
// to run a different set of rows without a word. Checked natively, in a second each.
import { describe, expect, it } from 'vitest';
import { runScript } from './helpers/run-script.js';

describe('bench/postgres.bench.ts', () => {
  it.each([
    ['--streams=foo', /--streams must be one, per-instance or both/],
    ['--modes=x', /--modes must be decide, execute or both/],
    ['--instances=0,a', /--instances must be a comma-separated list of positive integers/],
    ['--seconds=-1', /--seconds must be a positive number/],
  ])('refuses %s with exit code 2 before starting a server', (arg, message) => {
    const r = runScript(['bench/postgres.bench.ts', arg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^postgres bench: /);
    expect(r.stderr).toMatch(message);
  });
});

describe('bench/run.ts (`pnpm bench`)', () => {
  it.each([
    [
      ['postgres', '--cpu-prof', '/tmp/profiles'],
      /no bench\/\*\.bench\.ts file matches \/tmp\/profiles \(an option with a value is written --name=value\)/,
    ],
    [['nosuchsuite'], /no bench\/\*\.bench\.ts file matches nosuchsuite/],
  ])('refuses %j with exit code 2 before running a suite', (args, message) => {
    const r = runScript(['bench/run.ts', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toMatch(/=== bench\//);
  });
});

describe('bench/kernel.bench.ts', () => {
  it.each(['0', 'x', '601'])(
    'refuses EDCA_KERNEL_BENCH_SECONDS=%s with exit code 2 before it measures',
    (seconds) => {
      const r = runScript(['bench/kernel.bench.ts', '--json'], {
        env: { ...process.env, EDCA_KERNEL_BENCH_SECONDS: seconds },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `^kernel bench: EDCA_KERNEL_BENCH_SECONDS must be a number of seconds above 0 and at most 600, got ${seconds}$`,
          'm',
        ),
      );
      expect(r.stdout).toBe('');
    },
  );
});
