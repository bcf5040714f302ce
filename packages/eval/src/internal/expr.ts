// CEL over the evaluation environment: the checks of a suite (utility, attack success) and the
// effects of its handlers are expressions, not code, so a suite is data a reviewer can read. The
// environment holds JSON; CEL reads integers as `int`, so whole numbers are handed over as bigints
// and come back as numbers.
import { celEnv, isCelError, isCelList, isCelMap, parse, plan, type CelResult } from '@bufbuild/cel';
import { EvalError } from '../errors.js';

const ENV = celEnv({});

/** A parsed, planned expression with the suite path it came from. */
export interface Expr {
  readonly text: string;
  readonly path: string;
  readonly run: (bindings: Record<string, unknown>) => CelResult;
}

/**
 * Parses and plans `text`, or throws EVAL_SUITE_INVALID naming `path`.
 * @throws EvalError EVAL_SUITE_INVALID when the text is not CEL
 */
export function compileExpr(text: string, path: string): Expr {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new EvalError(
      'EVAL_SUITE_INVALID',
      `${path}: not a CEL expression (${err instanceof Error ? err.message : String(err)})`,
      path,
    );
  }
  const planned = plan(ENV, parsed) as unknown as (b: Record<string, unknown>) => CelResult;
  return { text, path, run: planned };
}

/** JSON → CEL input: integers become bigints (CEL `int`), everything else as it is. */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  }
  return value;
}

/** CEL result → JSON scalar; lists, maps and errors have no place in a record field. */
function fromCel(value: CelResult, expr: Expr): string | number | boolean | null {
  if (isCelError(value)) throw new EvalError('EVAL_CHECK_ERROR', `${expr.path}: ${value.message}`, expr.path);
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (!Number.isSafeInteger(n))
      throw new EvalError('EVAL_CHECK_ERROR', `${expr.path}: ${value} is not a safe integer`, expr.path);
    return n;
  }
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (isCelList(value) || isCelMap(value))
    throw new EvalError(
      'EVAL_CHECK_ERROR',
      `${expr.path}: yields a list or map, not a field value`,
      expr.path,
    );
  throw new EvalError('EVAL_CHECK_ERROR', `${expr.path}: yields a value no record field holds`, expr.path);
}

/**
 * Evaluates a check to a boolean; an error (an unknown field, a type mismatch) is a broken suite.
 * @throws EvalError EVAL_CHECK_ERROR when the expression errs or is not boolean
 */
export function evalBool(expr: Expr, bindings: Record<string, unknown>): boolean {
  const r = expr.run(bindings);
  if (typeof r === 'boolean') return r;
  if (isCelError(r)) throw new EvalError('EVAL_CHECK_ERROR', `${expr.path}: ${r.message}`, expr.path);
  throw new EvalError('EVAL_CHECK_ERROR', `${expr.path}: is not a boolean condition`, expr.path);
}

/**
 * Evaluates an effect's value expression to a JSON scalar.
 * @throws EvalError EVAL_CHECK_ERROR when the expression errs or yields a list, map or unsafe integer
 */
export function evalValue(expr: Expr, bindings: Record<string, unknown>): string | number | boolean | null {
  return fromCel(expr.run(bindings), expr);
}
