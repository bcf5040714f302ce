/**
 * Paired comparison of two builds measured in alternating runs (bench/kernel-pairs.ts): on a
 * shared machine a run's speed drifts with the load, so each run of one build is compared with the
 * run of the other build made right beside it, and the ratios are summarized on a log scale
 * (a build twice as fast and one half as fast average to level). Node built-ins only.
 */

/** Two-sided 95% quantiles of Student's t for 1–30 degrees of freedom (beyond: the normal 1.96). */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** What {@link pairedRatio} says of `mine` against `theirs`, pair by pair. */
export interface PairedRatio {
  /** Geometric mean of mine / theirs over the pairs. */
  readonly ratio: number;
  /** 95% interval of that mean (Student's t on the logarithms); null with fewer than two pairs. */
  readonly interval: readonly [number, number] | null;
  /** Pairs in which mine was above theirs. */
  readonly above: number;
  readonly pairs: number;
}

/**
 * The paired ratio of two equally long series of positive measurements, `mine[i]` made beside
 * `theirs[i]`.
 * @throws RangeError when the series differ in length, are empty, or hold a value that is not a
 *   positive finite number
 */
export function pairedRatio(mine: readonly number[], theirs: readonly number[]): PairedRatio {
  if (mine.length !== theirs.length || mine.length === 0)
    throw new RangeError('pairedRatio needs two non-empty series of equal length');
  const logs = mine.map((m, i) => {
    const t = theirs[i]!;
    if (!(m > 0 && t > 0 && Number.isFinite(m) && Number.isFinite(t)))
      throw new RangeError(`pair ${i + 1} holds a value that is not a positive number`);
    return Math.log(m / t);
  });
  const n = logs.length;
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  let interval: [number, number] | null = null;
  if (n > 1) {
    const variance = logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
    const half = (T95[n - 2] ?? 1.96) * Math.sqrt(variance / n);
    interval = [Math.exp(mean - half), Math.exp(mean + half)];
  }
  return { ratio: Math.exp(mean), interval, above: logs.filter((x) => x > 0).length, pairs: n };
}
