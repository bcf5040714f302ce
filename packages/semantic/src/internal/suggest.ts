import { closest, distance } from 'fastest-levenshtein';

/**
 * `; did you mean 'frozen'?` when `value` is a likely misspelling of one of `candidates` (a
 * Levenshtein distance of at most a third of the name, at least two from four letters on, one
 * below), else the empty string.
 */
export function didYouMean(value: string, candidates: readonly string[]): string {
  if (candidates.length === 0) return '';
  const best = closest(value, [...candidates]);
  const longer = Math.max(value.length, best.length);
  // Two edits allow a swapped pair of letters ('nnoe'); names under four letters allow one.
  const max = longer < 4 ? 1 : Math.max(2, Math.floor(longer / 3));
  return distance(value, best) <= max ? `; did you mean '${best}'?` : '';
}
