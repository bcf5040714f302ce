import { parse } from '@bufbuild/cel';
import type { DiagnosticCode } from '../errors.js';
import { didYouMean } from './suggest.js';

// A static type checker for the CEL subset state maps use. @bufbuild/cel 0.6 does not export its
// checker, and we need finer diagnostics than it gives anyway (an unknown facet is not an unknown
// param; a literal outside a facet's closed set is its own error). The subset: literals, names
// declared by the map, logical, comparison and arithmetic operators, `in` over lists, the
// conditional operator, size(), string methods (startsWith, endsWith, contains, matches),
// conversions (int, uint, double, string, timestamp, duration), field selection on declared
// nested objects, and the list macros (all, exists, exists_one, filter, map) over declared lists,
// whose loop variable takes the declared element type. `has()` and map/message literals are
// refused: every name a condition reads is then known at load time, which is what lets
// intentsFor() tell state-only conditions from the rest.

type ParsedExpr = ReturnType<typeof parse>;
type Expr = ParsedExpr['expr'];

/**
 * A static CEL type; strings may carry the closed set they belong to, objects their declared
 * fields. `nullable` marks a value that may be `null` at run time (a nullable or optional field).
 */
export type CelT = (
  | { readonly k: 'bool' | 'int' | 'uint' | 'double' | 'null' | 'bytes' | 'timestamp' | 'duration' | 'dyn' }
  | { readonly k: 'string'; readonly values?: readonly string[]; readonly setName?: string }
  | { readonly k: 'list'; readonly elem: CelT }
  | { readonly k: 'object'; readonly fields: ReadonlyMap<string, CelT>; readonly what: string }
) & { readonly nullable?: boolean };

export const T = {
  bool: { k: 'bool' },
  int: { k: 'int' },
  uint: { k: 'uint' },
  double: { k: 'double' },
  string: { k: 'string' },
  timestamp: { k: 'timestamp' },
  duration: { k: 'duration' },
  dyn: { k: 'dyn' },
  null: { k: 'null' },
  bytes: { k: 'bytes' },
} as const satisfies Record<string, CelT>;

/** What a condition may read: qualified variable names, and how to name a miss per namespace. */
export interface CheckEnv {
  readonly vars: ReadonlyMap<string, CelT>;
  readonly namespaces: ReadonlyMap<
    string,
    {
      readonly code: DiagnosticCode;
      readonly what: string;
      readonly hint?: (field: string) => string | undefined;
    }
  >;
}

export interface CheckIssue {
  readonly code: DiagnosticCode;
  readonly message: string;
  /** 0-based offset into the condition text. */
  readonly offset: number;
}

export interface CheckedCondition {
  readonly text: string;
  readonly parsed: ParsedExpr | undefined;
  readonly issues: readonly CheckIssue[];
  /** Every qualified variable name the condition reads, with its declared type. */
  readonly names: ReadonlyMap<string, CelT>;
  /** `true`/`false` when the condition is that literal. */
  readonly constant: boolean | undefined;
  /** The static type of the whole expression, when it type-checks. */
  readonly type: CelT | undefined;
}

const isNum = (t: CelT): boolean => t.k === 'int' || t.k === 'uint' || t.k === 'double';
const show = (t: CelT): string =>
  t.k === 'list' ? `list(${show(t.elem)})` : t.k === 'object' ? t.what : t.k;

function sameType(a: CelT, b: CelT): boolean {
  if (a.k === 'dyn' || b.k === 'dyn') return true;
  if (a.k === 'list' && b.k === 'list') return sameType(a.elem, b.elem);
  if (a.k === 'object' || b.k === 'object') return a === b;
  return a.k === b.k;
}

/** Parses and type-checks one condition against `env` (any result type with `allowAnyType`, for conformance tests); never throws. */
export function checkCondition(text: string, env: CheckEnv, allowAnyType = false): CheckedCondition {
  const issues: CheckIssue[] = [];
  const names = new Map<string, CelT>();
  let parsed: ParsedExpr;
  try {
    parsed = parse(text);
  } catch (err) {
    const loc = (err as { location?: { start?: { offset?: number } } }).location;
    const msg = err instanceof Error ? err.message.replace(/^<input>:\d+:\d+: /, '') : String(err);
    issues.push({
      code: 'CONDITION_SYNTAX_ERROR',
      message: `not valid CEL: ${msg}`,
      offset: loc?.start?.offset ?? 0,
    });
    return { text, parsed: undefined, issues, names, constant: undefined, type: undefined };
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  const at = (e: Expr): number => positions[String(e.id)] ?? 0;
  const fail = (e: Expr, code: DiagnosticCode, message: string): undefined => {
    issues.push({ code, message, offset: at(e) });
    return undefined;
  };

  const qualifiedName = (e: Expr): string | undefined => {
    const k = e.exprKind;
    if (k.case === 'identExpr') return k.value.name;
    if (k.case === 'selectExpr' && !k.value.testOnly && k.value.operand !== undefined) {
      const base = qualifiedName(k.value.operand);
      return base === undefined ? undefined : `${base}.${k.value.field}`;
    }
    return undefined;
  };

  // Loop variables of macros in scope, innermost last; they shadow nothing the map declares
  // (declared names are qualified or reserved) and never count as names the condition reads.
  const locals: Map<string, CelT>[] = [];
  const local = (name: string): CelT | undefined => {
    for (let i = locals.length - 1; i >= 0; i--) {
      const t = locals[i]!.get(name);
      if (t !== undefined) return t;
    }
    return undefined;
  };

  /** The type of field `field` of a value of type `t`, or an error at `e`. */
  const fieldOfType = (e: Expr, t: CelT, field: string): CelT | undefined => {
    if (t.k === 'dyn') return T.dyn;
    if (t.k !== 'object')
      return fail(e, 'CONDITION_TYPE_ERROR', `field selection '.${field}' on a ${show(t)}, not an object`);
    const f = t.fields.get(field);
    if (f !== undefined) return f;
    return fail(
      e,
      'CONDITION_UNKNOWN_NAME',
      `unknown field '${field}' of ${t.what} (declared: ${[...t.fields.keys()].join(', ')})`,
    );
  };

  const resolve = (e: Expr, name: string): CelT | undefined => {
    const t = env.vars.get(name);
    if (t !== undefined) {
      names.set(name, t);
      return t;
    }
    const dot = name.indexOf('.');
    const root = dot < 0 ? name : name.slice(0, dot);
    const ns = env.namespaces.get(root);
    if (ns !== undefined && dot > 0) {
      const field = name.slice(dot + 1);
      const known = [...env.vars.keys()]
        .filter((k) => k.startsWith(`${root}.`))
        .map((k) => k.slice(root.length + 1));
      return fail(
        e,
        ns.code,
        `unknown ${ns.what} '${field}'${hintFor(ns.hint, field)}${didYouMean(field, known)}`,
      );
    }
    return fail(e, 'CONDITION_UNKNOWN_NAME', `unknown name '${name}' here`);
  };

  /** A string literal compared with a closed-set value must be in the set. */
  const checkMember = (setT: CelT, lit: Expr): void => {
    if (setT.k !== 'string' || setT.values === undefined) return;
    const k = lit.exprKind;
    if (k.case === 'constExpr' && k.value.constantKind.case === 'stringValue') {
      const v = k.value.constantKind.value;
      if (!setT.values.includes(v)) {
        fail(
          lit,
          'VALUE_NOT_IN_SET',
          `'${v}' is not a value of ${setT.setName ?? 'this set'} (one of: ${setT.values.join(', ')})${didYouMean(v, setT.values)}`,
        );
      }
    }
  };

  const literalString = (e: Expr): string | undefined => {
    const k = e.exprKind;
    return k.case === 'constExpr' && k.value.constantKind.case === 'stringValue'
      ? k.value.constantKind.value
      : undefined;
  };

  const typeOf = (e: Expr): CelT | undefined => {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr': {
        const c = k.value.constantKind;
        switch (c.case) {
          case 'boolValue':
            return T.bool;
          case 'int64Value':
            return T.int;
          case 'uint64Value':
            return T.uint;
          case 'doubleValue':
            return T.double;
          case 'stringValue':
            return T.string;
          case 'bytesValue':
            return T.bytes;
          case 'nullValue':
            return T.null;
          case 'durationValue':
          case 'timestampValue':
          case undefined:
            return fail(e, 'CONDITION_TYPE_ERROR', 'unsupported literal');
        }
        return undefined;
      }
      case 'identExpr':
        return local(k.value.name) ?? resolve(e, k.value.name);
      case 'selectExpr': {
        if (k.value.testOnly)
          return fail(
            e,
            'CONDITION_TYPE_ERROR',
            'has() is not supported: a declared field is always bound (an absent optional one as null: test `x == null`)',
          );
        const name = qualifiedName(e);
        const operand = k.value.operand;
        const rooted = operand !== undefined && local(rootIdent(operand) ?? '') !== undefined;
        // A declared qualified name (`payment.AMT_CENTS`) resolves as one variable; below a
        // declared object (`claim.ADDR.POST_CD`) or a macro's loop variable (`t.TYPE_CD`), the
        // selection is a field of its operand's declared type.
        if (name !== undefined && !rooted) {
          if (env.vars.has(name)) return resolve(e, name);
          const underObject = [...env.vars.keys()].some((v) => name.startsWith(`${v}.`));
          if (!underObject || operand === undefined) return resolve(e, name);
        }
        const ot = operand === undefined ? undefined : typeOf(operand);
        return ot === undefined ? undefined : fieldOfType(e, ot, k.value.field);
      }
      case 'listExpr': {
        let elem: CelT = T.dyn;
        let ok = true;
        for (const el of k.value.elements) {
          const t = typeOf(el);
          if (t === undefined) {
            ok = false;
            continue;
          }
          if (elem.k === 'dyn') elem = t;
          else if (!sameType(elem, t)) {
            ok = false;
            fail(el, 'CONDITION_TYPE_ERROR', `list mixes ${show(elem)} and ${show(t)}`);
          }
        }
        return ok ? { k: 'list', elem } : undefined;
      }
      case 'callExpr':
        return typeOfCall(e, k.value.function, k.value.target, k.value.args);
      case 'structExpr':
        return fail(e, 'CONDITION_TYPE_ERROR', 'map and message literals are not supported');
      case 'comprehensionExpr': {
        const c = k.value;
        if (c.iterVar2 !== '' || c.iterRange === undefined || c.accuInit === undefined)
          return fail(e, 'CONDITION_TYPE_ERROR', 'only the list macros all, exists, exists_one, filter, map');
        const range = typeOf(c.iterRange);
        if (range === undefined) return undefined;
        if (range.k !== 'list' && range.k !== 'dyn')
          return fail(c.iterRange, 'CONDITION_TYPE_ERROR', `macros iterate over lists, not ${show(range)}`);
        if (env.vars.has(c.iterVar) || env.namespaces.has(c.iterVar) || local(c.iterVar) !== undefined)
          return fail(e, 'CONDITION_TYPE_ERROR', `loop variable '${c.iterVar}' shadows a name in scope`);
        let accu = typeOf(c.accuInit);
        if (accu === undefined) return undefined;
        const scope = new Map<string, CelT>([
          [c.iterVar, range.k === 'list' ? range.elem : T.dyn],
          [c.accuVar, accu],
        ]);
        locals.push(scope);
        try {
          if (c.loopCondition !== undefined && typeOf(c.loopCondition) === undefined) return undefined;
          const step = c.loopStep === undefined ? undefined : typeOf(c.loopStep);
          if (step === undefined) return undefined;
          // map/filter start from `[]` (a list of dyn): the step says what the items are.
          if (accu.k === 'list' && accu.elem.k === 'dyn' && step.k === 'list') accu = step;
          scope.set(c.accuVar, accu);
          return c.result === undefined ? undefined : typeOf(c.result);
        } finally {
          locals.pop();
        }
      }
      case undefined:
        return fail(e, 'CONDITION_TYPE_ERROR', 'unsupported expression');
    }
  };

  const typeOfCall = (
    e: Expr,
    fn: string,
    target: Expr | undefined,
    args: readonly Expr[],
  ): CelT | undefined => {
    const argTypes = args.map((a) => typeOf(a));
    const targetType = target === undefined ? undefined : typeOf(target);
    if (argTypes.some((t) => t === undefined) || (target !== undefined && targetType === undefined))
      return undefined;
    const ts = argTypes as CelT[];
    const [a, b] = ts;
    const bad = (): undefined =>
      fail(
        e,
        'CONDITION_TYPE_ERROR',
        `no overload of '${fn.replace(/^@/, '')}' for (${[targetType, ...ts]
          .filter((t) => t !== undefined)
          .map(show)
          .join(', ')})`,
      );
    const binary = target === undefined && ts.length === 2 && a !== undefined && b !== undefined;
    switch (fn) {
      case '_&&_':
      case '_||_':
        return ts.every((t) => t.k === 'bool' || t.k === 'dyn') ? T.bool : bad();
      case '!_':
      case '@not_strictly_false':
        return a !== undefined && (a.k === 'bool' || a.k === 'dyn') ? T.bool : bad();
      case '_==_':
      case '_!=_': {
        if (!binary) return bad();
        if (!(sameType(a, b) || (isNum(a) && isNum(b)) || a.k === 'null' || b.k === 'null')) return bad();
        checkMember(a, args[1]!);
        checkMember(b, args[0]!);
        return T.bool;
      }
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_': {
        if (!binary) return bad();
        const ok =
          (isNum(a) && isNum(b)) ||
          (sameType(a, b) && ['string', 'timestamp', 'duration', 'bool', 'dyn'].includes(a.k));
        return ok ? T.bool : bad();
      }
      case '@in': {
        if (!binary || (b.k !== 'list' && b.k !== 'dyn')) return bad();
        if (b.k === 'list') {
          if (!(sameType(a, b.elem) || (isNum(a) && isNum(b.elem)))) return bad();
          const list = args[1]!.exprKind;
          if (list.case === 'listExpr') for (const el of list.value.elements) checkMember(a, el);
        }
        return T.bool;
      }
      case '_+_': {
        if (!binary) return bad();
        if (a.k === 'timestamp' && b.k === 'duration') return T.timestamp;
        if (a.k === 'duration' && b.k === 'timestamp') return T.timestamp;
        if (a.k === 'list' && b.k === 'list' && sameType(a, b)) return a.elem.k === 'dyn' ? b : a;
        if (sameType(a, b) && ['int', 'uint', 'double', 'string', 'duration'].includes(a.k))
          return a.k === 'string' ? T.string : ({ k: a.k } as CelT);
        return bad();
      }
      case '_-_': {
        if (!binary) return bad();
        if (a.k === 'timestamp' && b.k === 'timestamp') return T.duration;
        if (a.k === 'timestamp' && b.k === 'duration') return T.timestamp;
        if (sameType(a, b) && ['int', 'uint', 'double', 'duration'].includes(a.k)) return a;
        return bad();
      }
      case '_*_':
      case '_/_':
        return binary && sameType(a, b) && isNum(a) ? a : bad();
      case '_%_':
        return binary && sameType(a, b) && (a.k === 'int' || a.k === 'uint') ? a : bad();
      case '-_':
        return a !== undefined && ['int', 'double', 'duration'].includes(a.k) ? a : bad();
      case '_?_:_': {
        const c = ts[2];
        if (a === undefined || b === undefined || c === undefined || a.k !== 'bool') return bad();
        if (sameType(b, c)) return b.k === 'string' && c.k === 'string' ? T.string : b;
        return bad();
      }
      case '_[_]':
        return binary && a.k === 'list' && b.k === 'int' ? a.elem : bad();
      case 'size': {
        const subject =
          target === undefined ? (ts.length === 1 ? a : undefined) : ts.length === 0 ? targetType : undefined;
        return subject !== undefined &&
          (subject.k === 'string' || subject.k === 'list' || subject.k === 'bytes')
          ? T.int
          : bad();
      }
      case 'startsWith':
      case 'endsWith':
      case 'contains':
      case 'matches': {
        if (targetType?.k !== 'string' || ts.length !== 1 || a?.k !== 'string') return bad();
        if (fn === 'matches') {
          const pattern = literalString(args[0]!);
          if (pattern !== undefined) {
            try {
              new RegExp(pattern, 'u');
            } catch {
              return fail(args[0]!, 'CONDITION_TYPE_ERROR', `invalid regular expression '${pattern}'`);
            }
          }
        }
        return T.bool;
      }
      case 'int':
      case 'uint':
      case 'double':
        return target === undefined &&
          a !== undefined &&
          ts.length === 1 &&
          (isNum(a) || a.k === 'string' || (fn === 'int' && a.k === 'timestamp'))
          ? T[fn]
          : bad();
      case 'string':
        return target === undefined && a !== undefined && ts.length === 1 && a.k !== 'list'
          ? T.string
          : bad();
      case 'timestamp':
      case 'duration': {
        if (target !== undefined || ts.length !== 1 || a?.k !== 'string') return bad();
        const lit = literalString(args[0]!);
        if (lit !== undefined) {
          const valid = fn === 'timestamp' ? isRfc3339(lit) : /^-?(\d+(\.\d+)?(h|m|s|ms|us|ns))+$/.test(lit);
          if (!valid) return fail(args[0]!, 'CONDITION_TYPE_ERROR', `invalid ${fn} literal '${lit}'`);
        }
        return fn === 'timestamp' ? T.timestamp : T.duration;
      }
      default:
        return fail(e, 'CONDITION_TYPE_ERROR', `unknown or unsupported function '${fn}'`);
    }
  };

  const t = typeOf(parsed.expr);
  if (t !== undefined && t.k !== 'bool' && t.k !== 'dyn' && !allowAnyType) {
    issues.push({
      code: 'CONDITION_TYPE_ERROR',
      message: `a condition must be boolean, this one is ${show(t)}`,
      offset: 0,
    });
  }
  const root = parsed.expr.exprKind;
  const constant =
    root.case === 'constExpr' && root.value.constantKind.case === 'boolValue'
      ? root.value.constantKind.value
      : undefined;
  return { text, parsed, issues, names, constant, type: issues.length === 0 ? t : undefined };
}

/** Whether `e` is a chain of selections rooted at a macro's loop variable. */
function rootIdent(e: Expr): string | undefined {
  const k = e.exprKind;
  if (k.case === 'identExpr') return k.value.name;
  if (k.case === 'selectExpr' && k.value.operand !== undefined) return rootIdent(k.value.operand);
  return undefined;
}

function hintFor(hint: ((field: string) => string | undefined) | undefined, field: string): string {
  const h = hint?.(field);
  return h === undefined ? '' : ` (${h})`;
}

/** RFC 3339 date-time with an explicit offset, as CEL's timestamp() requires. */
export function isRfc3339(s: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(s) &&
    !Number.isNaN(Date.parse(s))
  );
}
