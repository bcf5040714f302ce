/**
 * The part of a test runner the conformance suites use: vitest's `describe`, `it`, `beforeEach`,
 * `afterEach` and `expect` fit it, and so does any runner with a Jest-style `expect`. The suites take
 * it as an argument so that importing `@edca/kernel/testing` loads no test runner.
 */

/** The matchers the suites call on `expect(actual)`. */
export interface SuiteAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatchObject(expected: object): void;
  toBeUndefined(): void;
  toHaveLength(length: number): void;
  toContain(item: unknown): void;
  toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): void;
  toBeGreaterThanOrEqual(expected: number): void;
  toBeLessThanOrEqual(expected: number): void;
  toThrow(expected?: unknown): void;
  readonly not: SuiteAssertion;
  readonly rejects: {
    toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): Promise<void>;
    toMatchObject(expected: object): Promise<void>;
    toThrow(expected?: unknown): Promise<void>;
  };
}

/** A test body; a returned promise is awaited. */
export type SuiteBody = () => void | Promise<void>;

/** What a conformance suite needs from the test runner. */
export interface TestApi {
  readonly describe: (name: string, body: () => void) => void;
  readonly it: (name: string, body: SuiteBody, timeout?: number) => void;
  readonly beforeEach: (body: SuiteBody) => void;
  readonly afterEach: (body: SuiteBody) => void;
  readonly expect: (actual: unknown, message?: string) => SuiteAssertion;
}
