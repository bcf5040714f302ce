import { celEnv, isCelError, plan, type CelResult, type parse } from '@bufbuild/cel';
import type { FastPath } from '@edca/records';
import type { CelT, CheckedCondition } from './cel-check.js';

type Expr = ReturnType<typeof parse>['expr'];
type Bindings = Record<string, unknown>;

// Most derivation rules are a single comparison of one field with a literal
// (`card.CARD_STATUS_CD == 'BLK_TMP'`, `payment.SETTLED_DAYS_AGO <= 120`, `customer.VULN_FLAG`).
// For exactly these shapes, whose CEL meaning is plain equality or ordering of a value the zod
// source check already typed, a native closure gives the same answer as the CEL plan at a tenth
// of the cost. Anything else runs through @bufbuild/cel. `fast-path.test.ts` checks the two
// agree on random inputs for every condition of the fixture maps.

const FLIP: Record<string, string> = {
  '_<_': '_>_',
  '_<=_': '_>=_',
  '_>_': '_<_',
  '_>=_': '_<=_',
  '_==_': '_==_',
  '_!=_': '_!=_',
};

function nameOf(e: Expr): string | undefined {
  const k = e.exprKind;
  if (k.case === 'identExpr') return k.value.name;
  if (k.case === 'selectExpr' && !k.value.testOnly && k.value.operand !== undefined) {
    const base = nameOf(k.value.operand);
    return base === undefined ? undefined : `${base}.${k.value.field}`;
  }
  return undefined;
}

/**
 * A native closure equivalent to `expr`, or undefined when the shape is not one we specialize.
 * Handled: a field compared with a literal (string `==`/`!=`, int and double ordering), a
 * boolean field, `x in [string literals]`, and `!`, `&&`, `||` over those. When any name the
 * expression reads is unbound (intentsFor runs conditions with the state only) the closure
 * defers to `slow`, the CEL plan, so CEL's treatment of missing names (errors, absorbed by
 * `&&`/`||`) is kept exactly; with every name bound no leaf can error, and JS boolean logic is
 * CEL's.
 */
export function fastPath<R>(
  expr: Expr,
  vars: ReadonlyMap<string, CelT>,
  slow: (b: Bindings) => R,
): ((b: Bindings) => boolean | R) | undefined {
  const body = fastBody(vars, expr);
  if (body === undefined) return undefined;
  const names = [...new Set(body.names)];
  const test = body.test;
  if (names.length === 1) {
    const only = names[0]!;
    return (b) => (b[only] === undefined ? slow(b) : test(b));
  }
  return (b) => {
    for (const n of names) if (b[n] === undefined) return slow(b);
    return test(b);
  };
}

type Body = { readonly names: readonly string[]; readonly test: (b: Bindings) => boolean };

const SAFE = 2 ** 53;

function fastBody(allVars: ReadonlyMap<string, CelT>, expr: Expr): Body | undefined {
  // A name that may be null (nullable or optional field) is left to CEL: `null < 5` is an error
  // there, which JS comparison would turn into an answer.
  const vars: ReadonlyMap<string, CelT> = new Map([...allVars].filter(([, t]) => t.nullable !== true));
  return fastBodyOf(expr, vars);
}

function fastBodyOf(expr: Expr, vars: ReadonlyMap<string, CelT>): Body | undefined {
  const k = expr.exprKind;
  const bare = nameOf(expr);
  if (bare !== undefined) {
    return vars.get(bare)?.k === 'bool' ? { names: [bare], test: (b) => b[bare] === true } : undefined;
  }
  if (k.case !== 'callExpr' || k.value.target !== undefined) return undefined;
  const fn0 = k.value.function;
  const args = k.value.args;
  if (fn0 === '!_' && args.length === 1) {
    const inner = fastBodyOf(args[0]!, vars);
    return inner === undefined ? undefined : { names: inner.names, test: (b) => !inner.test(b) };
  }
  if ((fn0 === '_&&_' || fn0 === '_||_') && args.length === 2) {
    const l = fastBodyOf(args[0]!, vars);
    const r = fastBodyOf(args[1]!, vars);
    if (l === undefined || r === undefined) return undefined;
    const names = [...l.names, ...r.names];
    return fn0 === '_&&_'
      ? { names, test: (b) => l.test(b) && r.test(b) }
      : { names, test: (b) => l.test(b) || r.test(b) };
  }
  if (args.length !== 2) return undefined;
  if (fn0 === '@in') {
    const name = nameOf(args[0]!);
    const list = args[1]!.exprKind;
    if (name === undefined || vars.get(name)?.k !== 'string' || list.case !== 'listExpr') return undefined;
    const members: string[] = [];
    for (const el of list.value.elements) {
      const c = el.exprKind;
      if (c.case !== 'constExpr' || c.value.constantKind.case !== 'stringValue') return undefined;
      members.push(c.value.constantKind.value);
    }
    const set = new Set(members);
    return { names: [name], test: (b) => set.has(b[name] as string) };
  }
  let fn = fn0;
  let [left, right] = args as [Expr, Expr];
  if (FLIP[fn] === undefined) return undefined;
  if (nameOf(left) === undefined) {
    [left, right] = [right, left];
    fn = FLIP[fn]!;
  }
  const name = nameOf(left);
  const lit = right.exprKind;
  if (name === undefined || lit.case !== 'constExpr') return undefined;
  const t = vars.get(name);
  const c = lit.value.constantKind;
  if (t?.k === 'string' && c.case === 'stringValue' && (fn === '_==_' || fn === '_!=_')) {
    const v = c.value;
    return { names: [name], test: fn === '_==_' ? (b) => b[name] === v : (b) => b[name] !== v };
  }
  // Bound ints are bigints (SOURCE_CONVERT, params), compared with a bigint literal: CEL int
  // ordering. Bound doubles are finite numbers; CEL compares double with int or double
  // numerically, which is JS ordering for literals within ±2^53.
  let v: bigint | number;
  if (t?.k === 'int' && c.case === 'int64Value') v = c.value;
  else if (t?.k === 'double' && c.case === 'doubleValue' && Number.isFinite(c.value)) v = c.value;
  else if (
    t?.k === 'double' &&
    c.case === 'int64Value' &&
    c.value <= BigInt(SAFE) &&
    c.value >= -BigInt(SAFE)
  ) {
    v = Number(c.value);
  } else return undefined;
  const names = [name];
  switch (fn) {
    case '_==_':
      return { names, test: (b) => b[name] === v };
    case '_!=_':
      return { names, test: (b) => b[name] !== v };
    case '_<_':
      return { names, test: (b) => (b[name] as typeof v) < v };
    case '_<=_':
      return { names, test: (b) => (b[name] as typeof v) <= v };
    case '_>_':
      return { names, test: (b) => (b[name] as typeof v) > v };
    case '_>=_':
      return { names, test: (b) => (b[name] as typeof v) >= v };
    default:
      return undefined;
  }
}

/** A checked condition with the plan CEL made of it (what the compiler holds per condition). */
export interface PlannedCondition<R> {
  readonly expr: Expr;
  /** Every qualified name the condition reads, with its declared type. */
  readonly names: ReadonlyMap<string, CelT>;
  /** The CEL plan. */
  readonly planned: (b: Bindings) => R;
}

/**
 * A condition run on bindings. Reference: the CEL plan. Fast: the native closure {@link fastPath}
 * builds, for the shapes it specializes (undefined for the others).
 */
export const conditionPath: FastPath<[condition: PlannedCondition<unknown>, bindings: Bindings], unknown> = {
  reference: (c, b) => c.planned(b),
  fast: (c, b) => fastPath(c.expr, c.names, c.planned)?.(b),
};

const ENV = celEnv({});

/**
 * The CEL plan of a checked condition, with what {@link fastPath} needs to specialize it.
 * Bindings hold only CEL inputs (strings, bigints, numbers, booleans, Timestamps).
 */
export function planCondition(c: CheckedCondition): PlannedCondition<CelResult> {
  if (c.parsed === undefined) throw new Error(`invariant: condition ${c.text} was not parsed`);
  return {
    expr: c.parsed.expr,
    names: c.names,
    planned: plan(ENV, c.parsed) as unknown as (b: Bindings) => CelResult,
  };
}

/** Whether a condition's result is a CEL error (not a value). */
export const isConditionError = (r: unknown): boolean => isCelError(r);
