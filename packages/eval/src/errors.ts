/** Every stable code an {@link EvalError} can carry (docs/evaluation.md, docs/reason-codes.md). */
export const EVAL_ERROR_CODES = [
  'EVAL_SUITE_NOT_FOUND',
  'EVAL_SUITE_INVALID',
  'EVAL_MAP_INVALID',
  'EVAL_MAP_CHANGED',
  'EVAL_CHECK_ERROR',
] as const;

/** One stable code of `@edca/eval`. */
export type EvalErrorCode = (typeof EVAL_ERROR_CODES)[number];

/** The error class of `@edca/eval`: a suite that cannot be run, with a closed, stable `code`. */
export class EvalError extends Error {
  override readonly name = 'EvalError';

  /** Creates an error with a stable code; `path` names the place in the suite file when there is one. */
  constructor(
    readonly code: EvalErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}
