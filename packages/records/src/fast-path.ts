/**
 * A hand-written fast path kept beside the reference it must agree with.
 *
 * `reference` is the definition: total, and the one that refuses with the precise code and message.
 * `fast` is accept-only: for any arguments it answers exactly what `reference` answers (the same
 * value, or a refusal where the reference refuses), or `undefined` where it proves nothing, and the
 * caller then runs `reference`. So a fast path can be deleted without changing any verdict.
 *
 * Each package lists its pairs in one module (`src/internal/fast-paths.ts`), and one differential
 * property harness (`test/fast-paths.test.ts` at the top of the repository) holds every listed pair
 * to that rule on generated inputs.
 * @example
 * const half: FastPath<[n: number], number> = {
 *   reference: (n) => n / 2,
 *   fast: (n) => (Number.isSafeInteger(n) && n % 2 === 0 ? n >> 1 : undefined),
 * };
 */
export interface FastPath<A extends readonly unknown[], R> {
  /** The definition the fast path must equal. */
  readonly reference: (...args: A) => R;
  /** The reference's answer, or `undefined`: "not proven here, run the reference". */
  readonly fast: (...args: A) => R | undefined;
}
