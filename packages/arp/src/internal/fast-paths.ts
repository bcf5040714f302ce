/**
 * Every fast path of `@edca/arp`, each a `{ reference, fast }` pair defined beside its code, held to
 * its reference by the shared differential harness (test/fast-paths.test.ts). Views are written by
 * `@edca/records` `canonicalize`, whose own fast path is listed there.
 */
import { tokensPath } from './leak-guard.js';
import { scaleExactPath } from './units.js';

/** The fast paths of `@edca/arp`, by name. */
export const arpFastPaths = {
  scaleExact: scaleExactPath,
  tokens: tokensPath,
} as const;
