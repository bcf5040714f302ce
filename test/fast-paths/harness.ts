/**
 * The one differential property harness for every fast path of every package. A package lists its
 * pairs (`{ reference, fast }`, `FastPath` of @edca/records) in `src/internal/fast-paths.ts`; each
 * pair registers here with the arguments to draw, and test/fast-paths.test.ts runs them all.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { FastPath } from '@edca/records';

/** How two refusals must agree: code, path and message; the code; or only in being refusals. */
export type RefusalAgreement = 'exact' | 'code' | 'any';

/** One registered pair and how to exercise it. */
export interface FastPathCase<A extends readonly unknown[], R> {
  /** `<package>.<name>`, the package's name for the pair in its fast-paths.ts. */
  readonly name: string;
  readonly pair: FastPath<A, R>;
  /** Arguments to try: typical ones, near misses and hostile ones. */
  readonly arbitrary: fc.Arbitrary<A>;
  /**
   * Arguments on which `fast` must answer (not undefined): the common case it exists for, so a fast
   * path that silently declines everything fails instead of passing vacuously.
   */
  readonly answers: fc.Arbitrary<A>;
  /** Default `exact`. */
  readonly refusals?: RefusalAgreement;
  /** Maps a result before comparing (for results with identity, such as CEL errors). */
  readonly normalize?: (result: R) => unknown;
  /** Default 1000. */
  readonly numRuns?: number;
}

type AnyCase = FastPathCase<readonly unknown[], unknown>;

const cases = new Map<string, AnyCase>();

/**
 * Registers a pair with the harness (once per name).
 * @example
 * defineFastPath({ name: 'arp.scaleExact', pair: arpFastPaths.scaleExact, arbitrary, answers });
 */
export function defineFastPath<A extends readonly unknown[], R>(c: FastPathCase<A, R>): void {
  if (cases.has(c.name)) throw new Error(`fast path ${c.name} registered twice`);
  cases.set(c.name, c as unknown as AnyCase);
}

/** Every registered pair, by name. */
export function registeredFastPaths(): ReadonlyMap<string, AnyCase> {
  return cases;
}

/** What a call gave: a value, or a refusal. */
export type Outcome = { readonly value: unknown } | { readonly refused: Record<string, unknown> };

function outcomeOf(
  run: () => unknown,
  refusals: RefusalAgreement,
  normalize: (r: unknown) => unknown,
): Outcome {
  let result: unknown;
  try {
    result = run();
  } catch (e) {
    const err = e as { code?: unknown; path?: unknown; message?: unknown; name?: unknown };
    if (refusals === 'any') return { refused: {} };
    const code = typeof err.code === 'string' ? err.code : `thrown ${String(err.name)}`;
    if (refusals === 'code') return { refused: { code } };
    return { refused: { code, path: err.path ?? '', message: err.message } };
  }
  return { value: result === undefined ? undefined : normalize(result) };
}

/**
 * Checks one call: where `fast` answers (a value or a refusal), the reference gives the same.
 * Answers whether `fast` answered.
 */
export function checkCall(c: AnyCase, args: readonly unknown[]): boolean {
  const refusals = c.refusals ?? 'exact';
  const normalize = c.normalize ?? ((r: unknown) => r);
  const fast = outcomeOf(() => c.pair.fast(...args), refusals, normalize);
  if ('value' in fast && fast.value === undefined) return false;
  const reference = outcomeOf(() => c.pair.reference(...args), refusals, normalize);
  expect(fast).toEqual(reference);
  return true;
}

/** Runs the differential property of one registered pair, and its coverage property. */
export function runFastPathCase(c: AnyCase): void {
  const numRuns = c.numRuns ?? 1000;
  fc.assert(
    fc.property(c.arbitrary, (args) => {
      checkCall(c, args);
    }),
    { numRuns },
  );
  fc.assert(
    fc.property(c.answers, (args) => {
      expect(checkCall(c, args), 'the fast path declined a case it exists for').toBe(true);
    }),
    { numRuns: Math.max(100, numRuns / 4) },
  );
}
