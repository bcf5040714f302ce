/**
 * Every fast path of `@edca/audit`, each a `{ reference, fast }` pair defined beside its code, held
 * to its reference by the shared differential harness (test/fast-paths.test.ts).
 */
import { actionHashPath } from './action-hash-bytes.js';
import { decisionInputBytesPath } from './member-bytes.js';

/** The fast paths of `@edca/audit`, by name. */
export const auditFastPaths = {
  decisionInputBytes: decisionInputBytesPath,
  actionHash: actionHashPath,
} as const;
