import { InvalidArgumentError, Option } from 'commander';

/** How many diagnostics or findings a command prints unless told otherwise: a wrong file stays readable. */
export const DEFAULT_MAX_FINDINGS = 20;

function parseMaxFindings(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('must be a non-negative integer (0 prints every one)');
  return n;
}

/** The `--max-findings <n>` option shared by `edca validate` and `edca audit verify`. */
export function maxFindingsOption(what: string): Option {
  return new Option('--max-findings <n>', `print at most n ${what} and count the rest (0 prints every one)`)
    .argParser(parseMaxFindings)
    .default(DEFAULT_MAX_FINDINGS);
}

/** The first `max` items (all of them when `max` is 0) and how many were left out. */
export function capFindings<T>(items: readonly T[], max: number): { shown: readonly T[]; omitted: number } {
  if (max === 0 || items.length <= max) return { shown: items, omitted: 0 };
  return { shown: items.slice(0, max), omitted: items.length - max };
}

/** The line that stands for the left-out items, so a capped list never looks complete. */
export function omittedLine(omitted: number, what: string): string {
  return `… and ${omitted} more ${what} (--max-findings 0 prints every one)`;
}
