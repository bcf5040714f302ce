// Shared by everyone writing in @edca/kernel: add new codes to `KernelErrorCode` here (one closed union
// for the package), keep them SCREAMING_SNAKE and stable, and document each in docs/. Created by the
// journal work; JOURNAL_* codes belong to the Journal port and the file journal.

/** Every stable code a `KernelError` can carry. */
export type KernelErrorCode =
  /** The journal cannot write, sync or sign, or was closed; after a write/sync failure it refuses appends until reopened. */
  | 'JOURNAL_UNAVAILABLE'
  /** Stored journal bytes fail to decode, verify or chain before the tail. */
  | 'JOURNAL_CORRUPT'
  /** Another live process holds the journal's single-writer lock. */
  | 'JOURNAL_LOCKED'
  /** The kernel store (consumed permits, approvals, counters) cannot be reached or written. */
  | 'STORE_UNAVAILABLE'
  /** A store call broke its contract (unknown approval, reservation settled twice, bad argument). */
  | 'STORE_MISUSE'
  /** `createKernel` options are malformed (missing port, duplicate map, handler without a route). */
  | 'KERNEL_CONFIG_INVALID'
  /** The startup self-test failed (map, routes, forbidden proposal, signer or journal); the kernel refuses to start. */
  | 'KERNEL_SELF_TEST_FAILED'
  /** `requireSignedActivation` is on and a map has no signed activation statement. */
  | 'ACTIVATION_MISSING'
  /** A map's activation statement is malformed or its signature does not verify. */
  | 'ACTIVATION_INVALID'
  /** A map's activation is not signed by a `policy-owner` key of the trust file valid at its `at`. */
  | 'ACTIVATION_UNTRUSTED'
  /** A map's activation statement names another map name or content digest. */
  | 'ACTIVATION_MISMATCH'
  /** A map's activation revision is not higher than one the journal already activated (anti-rollback). */
  | 'ACTIVATION_ROLLBACK';

/** The error class of `@edca/kernel`, with a closed, stable `code`. */
export class KernelError extends Error {
  override readonly name = 'KernelError';

  /** Creates an error with a stable code and a human message; `cause` keeps the underlying error. */
  constructor(
    readonly code: KernelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
