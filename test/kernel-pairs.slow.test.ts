// One real pair of bench/kernel-pairs.ts: `bench/kernel.bench.ts --json` run twice on this checkout
// (an A/A comparison), with permit runs shortened to half a second, and its JSON summary read back.
import { expect, it } from 'vitest';
import { repoRoot as root, runScript } from './helpers/run-script.js';

it('runs the kernel bench once in each tree and reports the paired ratios', () => {
  const r = runScript(['bench/kernel-pairs.ts', '--against', root, '--pairs', '1', '--json'], {
    timeoutMs: 180_000,
    env: { ...process.env, EDCA_KERNEL_BENCH_SECONDS: '0.5' },
  });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/^pair 1\/1: permits\/s \(worker signer\) \d+ against \d+/m);
  const out = JSON.parse(r.stdout.trim()) as {
    suite: string;
    backend: string;
    pairs: number;
    trees: { tree: string; commit: string | null; runs: Record<string, number>[] }[];
    summary: Record<
      string,
      { thisCheckout: number; against: number; ratio: number; interval95: unknown; pairsAbove: number }
    >;
  };
  expect(out).toMatchObject({ suite: 'kernel-pairs', backend: 'node', pairs: 1 });
  expect(out.trees.map((t) => t.tree)).toEqual(['this checkout', 'against']);
  expect(out.trees[0]!.commit).toBe(out.trees[1]!.commit);
  for (const t of out.trees) {
    expect(t.runs).toHaveLength(1);
    for (const v of Object.values(t.runs[0]!)) expect(v).toBeGreaterThanOrEqual(0);
    expect(t.runs[0]!['permitsPerSec']).toBeGreaterThan(0);
  }
  expect(Object.keys(out.summary)).toEqual([
    'permitsPerSec',
    'inlineSignerPermitsPerSec',
    'mainThreadCpuUsPerPermit',
    'cpuUsPerPermit',
  ]);
  for (const [metric, s] of Object.entries(out.summary)) {
    // The ratio is the two runs' own figures divided, as reported (rounded to 3 decimals).
    const mine = out.trees[0]!.runs[0]![metric]!;
    const theirs = out.trees[1]!.runs[0]![metric]!;
    expect(s.ratio).toBeCloseTo(mine / theirs, 2);
    expect(s.interval95).toBeNull();
    expect(s.pairsAbove).toBe(mine > theirs ? 1 : 0);
  }
}, 200_000);
