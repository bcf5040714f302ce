import type { parse } from '@bufbuild/cel';
import type { CelT } from './cel-check.js';

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
 * When the name is unbound (intentsFor runs conditions with the state only) it defers to `slow`,
 * the CEL plan, so CEL's treatment of the missing name is kept.
 */
export function fastPath<R>(
  expr: Expr,
  vars: ReadonlyMap<string, CelT>,
  slow: (b: Bindings) => R,
): ((b: Bindings) => boolean | R) | undefined {
  const body = fastBody(expr, vars);
  if (body === undefined) return undefined;
  const { name, test } = body;
  return (b) => {
    const x = b[name];
    return x === undefined ? slow(b) : test(x);
  };
}

function fastBody(
  expr: Expr,
  vars: ReadonlyMap<string, CelT>,
): { name: string; test: (x: unknown) => boolean } | undefined {
  const k = expr.exprKind;
  const bare = nameOf(expr);
  if (bare !== undefined) {
    return vars.get(bare)?.k === 'bool' ? { name: bare, test: (x) => x === true } : undefined;
  }
  if (k.case !== 'callExpr' || k.value.target !== undefined || k.value.args.length !== 2) return undefined;
  let fn = k.value.function;
  let [left, right] = k.value.args as [Expr, Expr];
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
    return { name, test: fn === '_==_' ? (x) => x === v : (x) => x !== v };
  }
  if (t?.k === 'int' && c.case === 'int64Value') {
    // Bound ints are bigints (SOURCE_CONVERT), compared with a bigint literal: CEL int ordering.
    const v = c.value;
    switch (fn) {
      case '_==_':
        return { name, test: (x) => (x as bigint) === v };
      case '_!=_':
        return { name, test: (x) => (x as bigint) !== v };
      case '_<_':
        return { name, test: (x) => (x as bigint) < v };
      case '_<=_':
        return { name, test: (x) => (x as bigint) <= v };
      case '_>_':
        return { name, test: (x) => (x as bigint) > v };
      case '_>=_':
        return { name, test: (x) => (x as bigint) >= v };
      default:
        return undefined;
    }
  }
  return undefined;
}
