import type { AuditReport } from './report.js';

/** Every stable code an `AuditError` can carry. */
export type AuditErrorCode =
  /** The journal was verified and at least one finding was raised (`error.report` holds them all). */
  | 'JOURNAL_INVALID'
  /** The trust file is missing, malformed or holds no usable key. */
  | 'TRUST_INVALID'
  /** A state map given for replay does not load or compile, or two maps share one digest. */
  | 'MAPS_INVALID'
  /** An inclusion proof document is malformed, or does not verify. */
  | 'PROOF_INVALID'
  /** The record asked for is not in the journal or not covered by any checkpoint. */
  | 'PROOF_UNAVAILABLE'
  /** Two copies of a journal are not consistent (the newer one does not extend the older one). */
  | 'CONSISTENCY_FAILED'
  /** A witnessed-checkpoints file (`--witnesses`) is malformed. */
  | 'WITNESS_FILE_INVALID'
  /** An argument is of the wrong type or out of range (misuse by the caller). */
  | 'ARGUMENT_INVALID';

/** The error class of `@edca/audit`, with a closed, stable `code`. */
export class AuditError extends Error {
  override readonly name = 'AuditError';

  /** Creates an error with a stable code; `report` is set for `JOURNAL_INVALID`. */
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown; report?: AuditReport },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.report = options?.report;
  }

  /** The full report when the error is `JOURNAL_INVALID`. */
  readonly report: AuditReport | undefined;
}
