/** Every stable code a {@link ModelsError} can carry (docs/models.md, docs/reason-codes.md). */
export const MODELS_ERROR_CODES = [
  'MODEL_RATE_LIMITED',
  'MODEL_SERVER_ERROR',
  'MODEL_CONNECTION_FAILED',
  'MODEL_TIMEOUT',
  'MODEL_REQUEST_REJECTED',
  'MODEL_RESPONSE_INVALID',
  'MODEL_ABORTED',
  'PROPOSER_CONFIG_INVALID',
  'SESSION_CONFIG_INVALID',
] as const;

/** One stable code of `@edca/models`. */
export type ModelsErrorCode = (typeof MODELS_ERROR_CODES)[number];

/** The transport errors a session retries (within its bounds); every other code ends the session. */
export const RETRYABLE_CODES: ReadonlySet<ModelsErrorCode> = new Set([
  'MODEL_RATE_LIMITED',
  'MODEL_SERVER_ERROR',
  'MODEL_CONNECTION_FAILED',
  'MODEL_TIMEOUT',
]);

/** The error class of `@edca/models`, with a closed, stable `code`. */
export class ModelsError extends Error {
  override readonly name = 'ModelsError';

  /**
   * Creates an error with a stable code; `retryAfterMs` is the server's `retry-after` (429/503),
   * `status` the HTTP status when there was one.
   */
  constructor(
    readonly code: ModelsErrorCode,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly retryAfterMs?: number;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** Whether a session may retry the call that failed with this error. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }
}
