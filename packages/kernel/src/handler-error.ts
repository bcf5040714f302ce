/**
 * What a handler throws to say how its failure should be treated. A handler that throws anything
 * else (or a `HandlerError` without `final`) failed transiently: the kernel tries again with the
 * same idempotency key, up to `retries` times. A business refusal ("no posted fee to waive") will
 * not change on a second try, so the handler marks it final and the kernel records one attempt and
 * a `failed` outcome with `HANDLER_FAILED_FINAL`.
 *
 * The message stays in the host's process: the journal records only the code, because a handler's
 * message may carry private fields.
 *
 * @example throw new HandlerError('no posted late fee on the account', { final: true });
 */
export class HandlerError extends Error {
  override readonly name = 'HandlerError';

  /** `true`: retrying cannot succeed, so the kernel does not retry. */
  readonly final: boolean;

  /** Creates a handler failure; `final` defaults to `false` (transient, retried). */
  constructor(message: string, options?: { readonly final?: boolean; readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.final = options?.final === true;
  }
}

/** Whether a handler's thrown value says retrying cannot help (a `HandlerError` with `final: true`). */
export function isFinalHandlerError(error: unknown): boolean {
  return error instanceof HandlerError && error.final;
}
