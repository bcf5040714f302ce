// bench/kernel-pairs.ts runs `pnpm bench:kernel` on two checkouts in alternating pairs (minutes; a
// real pair runs in the slow suite, test/kernel-pairs.slow.test.ts). Here: the paired statistics it
// reports, and its refusal of arguments it cannot run.
import { describe, expect, it } from 'vitest';
import { pairedRatio } from '../bench/paired.js';
import { repoRoot as root, runScript } from './helpers/run-script.js';

describe('pairedRatio', () => {
  it('is the geometric mean of the pairs’ ratios, with a Student t interval on their logarithms', () => {
    // Ratios 2 and 4: geometric mean 2^1.5. Logs ln 2 and ln 4, standard error (ln 4 − ln 2) / 2,
    // t(0.975, 1 degree of freedom) = 12.706.
    const r = pairedRatio([2, 8], [1, 2]);
    expect(r.ratio).toBeCloseTo(2 ** 1.5, 12);
    const half = 12.706 * (Math.log(2) / 2);
    expect(r.interval![0]).toBeCloseTo(Math.exp(1.5 * Math.log(2) - half), 9);
    expect(r.interval![1]).toBeCloseTo(Math.exp(1.5 * Math.log(2) + half), 6);
    expect(r).toMatchObject({ above: 2, pairs: 2 });
  });
  it('gives a faster and a slower pair of the same size a level ratio, which an arithmetic mean would not', () => {
    const r = pairedRatio([200, 50], [100, 100]);
    expect(r.ratio).toBeCloseTo(1, 12);
    expect(r.above).toBe(1);
  });
  it('takes t for 11 degrees of freedom (2.201) with twelve pairs', () => {
    const mine = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 110 : 90));
    const theirs = Array.from({ length: 12 }, () => 100);
    const r = pairedRatio(mine, theirs);
    const logs = mine.map((m) => Math.log(m / 100));
    const mean = logs.reduce((a, b) => a + b, 0) / 12;
    const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / 11);
    expect(r.interval![1]).toBeCloseTo(Math.exp(mean + (2.201 * sd) / Math.sqrt(12)), 9);
    expect(r.above).toBe(6);
  });
  it('has no interval for one pair, and refuses series it cannot compare', () => {
    expect(pairedRatio([3], [2])).toEqual({ ratio: 1.5, interval: null, above: 1, pairs: 1 });
    expect(() => pairedRatio([], [])).toThrow(RangeError);
    expect(() => pairedRatio([1, 2], [1])).toThrow(/equal length/);
    expect(() => pairedRatio([1, 0], [1, 1])).toThrow(/pair 2 holds a value that is not a positive number/);
    expect(() => pairedRatio([1, Number.NaN], [1, 1])).toThrow(RangeError);
  });
});

describe('bench/kernel-pairs.ts', () => {
  it('says which tree’s bench failed in which pair, and exits 1 when no pair was made', () => {
    // The bench refuses a zero-second permit run before it measures anything.
    const r = runScript(['bench/kernel-pairs.ts', '--against', root], {
      env: { ...process.env, EDCA_KERNEL_BENCH_SECONDS: '0' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kernel-pairs: the bench failed on the other checkout in pair 1: /m);
    expect(r.stderr).toMatch(/EDCA_KERNEL_BENCH_SECONDS must be a number of seconds/);
    expect(r.stderr).toMatch(/^kernel-pairs: no pair was made, nothing to compare$/m);
    expect(r.stdout).toBe('');
  });
  it.each([
    [[], /--against DIR is required/],
    [['--against', root, '--pairs=0'], /--pairs must be a positive integer/],
    [['--against', root, '--pairs=x'], /--pairs must be a positive integer/],
    [['--against', root, '--backend=sodium'], /--backend must be node or default/],
    [['--against=/nonexistent'], /\/nonexistent is not an edca checkout/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j with exit code 2', (args, message) => {
    const r = runScript(['bench/kernel-pairs.ts', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kernel-pairs: /);
    expect(r.stderr).toMatch(message);
  });
});
