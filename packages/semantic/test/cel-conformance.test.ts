// A slice of the CEL conformance suite (cel-spec testdata shipped in @bufbuild/cel-spec): the
// evaluator must give the spec's value for every plain expression in the suites that cover what
// state maps use, and our static checker must agree with cel-go's checker on every expression it
// accepts (and refuse what cel-go refuses).
import { celEnv, isCelError, isCelUint, parse, plan } from '@bufbuild/cel';
import { tests } from '@bufbuild/cel-spec/testdata/conformance.js';
import { describe, expect, it } from 'vitest';
import { checkCondition } from '../src/internal/cel-check.js';

type Serialized = (typeof tests)['suites'] extends (infer S)[] | undefined ? S : never;
interface Case {
  suite: string;
  name: string;
  expr: string;
  value?: Record<string, unknown>;
  evalError: boolean;
  type?: string;
  error?: string;
}

const SUITES = ['basic', 'comparisons', 'conversions', 'fp_math', 'integer_math', 'lists', 'logic', 'string'];
const SCALARS = ['boolValue', 'int64Value', 'uint64Value', 'doubleValue', 'stringValue'];

function collect(): Case[] {
  const out: Case[] = [];
  const walk = (s: Serialized, path: string): void => {
    for (const sub of s.suites ?? []) walk(sub, `${path}/${sub.name}`);
    for (const t of s.tests ?? []) {
      const o = t.original as Record<string, unknown> & { expr: string; name?: string };
      if (o.bindings || o.typeEnv || o.container || o.disableMacros || o.checkOnly || o.disableCheck)
        continue;
      const value = o.value as Record<string, unknown> | undefined;
      const evalError = o.evalError !== undefined;
      if (!evalError && (value === undefined || !SCALARS.some((k) => k in value))) continue;
      out.push({
        suite: path,
        name: o.name ?? o.expr,
        expr: o.expr,
        ...(value ? { value } : {}),
        evalError,
        ...(t.type !== undefined ? { type: t.type } : {}),
        ...(t.error !== undefined ? { error: t.error } : {}),
      });
    }
  };
  for (const s of tests.suites ?? []) if (SUITES.includes(s.name)) walk(s, s.name);
  return out;
}

function matches(c: Case, r: unknown): boolean {
  if (c.evalError) return isCelError(r);
  const v = c.value!;
  if ('boolValue' in v) return r === v.boolValue;
  if ('int64Value' in v) return typeof r === 'bigint' && r === BigInt(v.int64Value as string);
  if ('uint64Value' in v) return isCelUint(r) && r.value === BigInt(v.uint64Value as string);
  if ('stringValue' in v) return r === v.stringValue;
  const d = v.doubleValue;
  if (typeof r !== 'number') return false;
  if (d === 'NaN') return Number.isNaN(r);
  if (d === 'Infinity' || d === '-Infinity') return r === Number(d);
  return r === d;
}

const cases = collect();
const env = celEnv({});
const empty = { vars: new Map(), namespaces: new Map() };
const CHECKED = new Set(['bool', 'int', 'uint', 'double', 'string']);

describe('CEL conformance slice', () => {
  it('covers a meaningful number of cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(634);
  });

  describe('when @bufbuild/cel evaluates the plain expressions', () => {
    it('gives the value or error the spec expects for every one', () => {
      const failures = cases.filter((c) => {
        let r: unknown;
        try {
          r = plan(env, parse(c.expr))({});
        } catch (err) {
          r = err;
        }
        return !matches(c, r);
      });
      expect(failures.map((c) => `${c.suite}/${c.name}: ${c.expr}`)).toEqual([]);
    });
  });

  describe('when our checker accepts an expression', () => {
    it('infers the same type as cel-go', () => {
      const disagreements: string[] = [];
      let accepted = 0;
      for (const c of cases) {
        if (c.type === undefined || !CHECKED.has(c.type)) continue;
        const r = checkCondition(c.expr, empty, true);
        if (r.type === undefined) continue; // outside the subset state maps support
        accepted++;
        if (r.type.k !== c.type)
          disagreements.push(`${c.suite}/${c.name}: ${c.expr} → ours ${r.type.k}, cel-go ${c.type}`);
      }
      expect(disagreements).toEqual([]);
      expect(accepted).toBeGreaterThan(200);
    });
  });

  describe('when cel-go refuses an expression at check time', () => {
    it('refuses it too', () => {
      const missed = cases
        .filter((c) => c.error !== undefined && /no matching overload|undeclared reference/.test(c.error))
        .filter((c) => checkCondition(c.expr, empty, true).issues.length === 0)
        .map((c) => `${c.suite}/${c.name}: ${c.expr}`);
      expect(missed).toEqual([]);
    });
  });
});
