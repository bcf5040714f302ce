/**
 * Every fast path of `@edca/semantic`, each a `{ reference, fast }` pair defined beside its code,
 * held to its reference by the shared differential harness (test/fast-paths.test.ts).
 */
import { conditionPath } from './fast-path.js';

/** The fast paths of `@edca/semantic`, by name. */
export const semanticFastPaths = {
  condition: conditionPath,
} as const;
