/**
 * Every fast path of `@edca/records`, each a `{ reference, fast }` pair defined beside its code.
 * A hand-written shortcut that is not listed here is not allowed: the shared differential harness
 * (test/fast-paths.test.ts) runs each listed pair on generated inputs and fails on any pair it has
 * no generator for.
 */
import { canonicalParsePath } from '../canonical-parse.js';
import { bodyCheckPath, recordInstantPath } from '../fast-decode.js';
import { canonicalTextPath, parseJsonTextPath } from '../ijson.js';

/** The fast paths of `@edca/records`, by name. */
export const recordsFastPaths = {
  canonicalText: canonicalTextPath,
  parseJsonText: parseJsonTextPath,
  canonicalParse: canonicalParsePath,
  bodyCheck: bodyCheckPath,
  recordInstant: recordInstantPath,
} as const;
