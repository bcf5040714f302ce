/** Stable codes of `DiffError` (docs/reason-codes.md, "`edca diff`"). */
export type DiffErrorCode =
  /** A journal line is not a record (not JSON, not canonical, a malformed body). */
  'DIFF_JOURNAL_INVALID';

/** The error of `diffJournal`: a journal it cannot read as records. */
export class DiffError extends Error {
  override readonly name = 'DiffError';

  /** Creates an error with a stable code and a human message. */
  constructor(
    readonly code: DiffErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
