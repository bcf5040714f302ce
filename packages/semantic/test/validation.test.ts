import { readdirSync } from 'node:fs';
import { compile, DIAGNOSTIC_CODES, loadStateMap, safeCompile, SemanticError } from '@edca/semantic';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fixture, readFixture } from './helpers.js';

const invalidFiles = readdirSync(fixture('invalid'))
  .filter((f) => f.endsWith('.yaml') && f !== 'valid-base.yaml')
  .sort();

function expectation(text: string): { code: string; line: number; col: number } {
  const m = /^# expect: ([A-Z_]+) at (\d+):(\d+)$/m.exec(text);
  if (m === null) throw new Error('fixture lacks an `# expect: CODE at LINE:COL` header');
  return { code: m[1]!, line: Number(m[2]), col: Number(m[3]) };
}

describe('validation', () => {
  describe('when the base of the invalid fixtures is loaded', () => {
    it('is valid with no warnings, so each fixture breaks exactly one thing', () => {
      const r = loadStateMap(readFixture('invalid/valid-base.yaml'), 'valid-base.yaml');
      expect(r.ok && r.warnings).toEqual([]);
    });
  });

  describe.each(invalidFiles)('when %s is loaded', (file) => {
    const text = readFixture(`invalid/${file}`);
    const want = expectation(text);
    const r = loadStateMap(text, `fixtures/invalid/${file}`);

    it(`reports ${want.code} at the expected file:line:col`, () => {
      const diagnostics = r.ok ? r.warnings : r.diagnostics;
      expect(diagnostics).toHaveLength(1);
      expect(diagnostics[0]).toMatchObject({
        code: want.code,
        file: `fixtures/invalid/${file}`,
        line: want.line,
        col: want.col,
      });
      expect(diagnostics[0]!.message.length).toBeGreaterThan(10);
    });

    const warning = want.code === 'RULE_NEVER_MATCHES' || want.code === 'RULES_INCOMPLETE';
    it(warning ? 'still loads (a warning)' : 'never loads', () => {
      expect(r.ok).toBe(warning);
    });
  });

  describe('when the invalid fixtures are taken together', () => {
    it('exercise every diagnostic code, one file per code', () => {
      const codes = invalidFiles.map((f) => expectation(readFixture(`invalid/${f}`)).code).sort();
      expect(codes).toEqual([...DIAGNOSTIC_CODES].sort());
      for (const f of invalidFiles)
        expect(f).toBe(
          `${expectation(readFixture(`invalid/${f}`))
            .code.toLowerCase()
            .replaceAll('_', '-')}.yaml`,
        );
    });
  });

  describe('when a map has several errors', () => {
    it('reports every one of them at once', () => {
      const text = readFixture('invalid/valid-base.yaml')
        .replace("facets.standing == 'open'", "facets.standng == 'open'")
        .replace('to: arranged }', 'to: approved }')
        .replace('{ value: open }', '{ value: active }');
      const r = loadStateMap(text, 'm.yaml');
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.diagnostics.map((d) => d.code).sort()).toEqual([
        'CONDITION_UNKNOWN_FACET',
        'TRANSITION_UNDECLARED_STATE',
        'VALUE_NOT_IN_SET',
      ]);
      for (const d of r.diagnostics) expect(d.line).toBeGreaterThan(0);
    });
  });

  describe('when the error is inside a condition written as a folded block (>-)', () => {
    it('points at the line and column of the offending literal', () => {
      const text = readFixture('maps/retail-banking.yaml');
      const broken = text.replace(
        "&& facets.payment_age == 'within-window'\n      && (params.reason",
        "&& facets.payment_age == 'within-windw'\n      && (params.reason",
      );
      expect(broken).not.toBe(text);
      const lines = broken.split('\n');
      const line = lines.findIndex((l) => l.includes("'within-windw'")) + 1;
      const col = lines[line - 1]!.indexOf("'within-windw'") + 1;
      const r = loadStateMap(broken, 'm.yaml');
      expect(!r.ok && r.diagnostics[0]).toMatchObject({
        code: 'VALUE_NOT_IN_SET',
        path: 'intents.refund_payment.allowed_when',
        line,
        col,
      });
    });
  });

  describe('when compile is given an invalid document', () => {
    const doc = parseYaml(readFixture('invalid/condition-type-error.yaml')) as unknown;
    it('throws SemanticError MAP_INVALID carrying the diagnostics', () => {
      let caught: unknown;
      try {
        compile(doc);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SemanticError);
      expect((caught as SemanticError).code).toBe('MAP_INVALID');
      expect((caught as SemanticError).diagnostics.map((d) => d.code)).toEqual(['CONDITION_TYPE_ERROR']);
    });
    it('safeCompile returns the same diagnostics as a value', () => {
      const r = safeCompile(doc);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.diagnostics[0]).toMatchObject({
        code: 'CONDITION_TYPE_ERROR',
        path: 'intents.arrange_overdraft.allowed_when',
      });
    });
    it('refuses a document that is not an object', () => {
      for (const bad of [null, 42, 'edca', []]) expect(safeCompile(bad).ok).toBe(false);
    });
  });

  describe('when the map is JSON', () => {
    const asJson = JSON.stringify(parseYaml(readFixture('maps/retail-banking.yaml')), null, 2);
    it('loads to the same digest as the YAML', () => {
      const a = loadStateMap(asJson, 'm.json');
      const b = loadStateMap(readFixture('maps/retail-banking.yaml'), 'm.yaml');
      expect(a.ok && b.ok && a.value.digest === b.value.digest).toBe(true);
    });
    it('refuses a duplicate key with DUPLICATE_NAME and its position (no last-wins)', () => {
      const text = '{\n  "edca": "state-map/v1",\n  "name": "x",\n  "name": "y"\n}';
      const r = loadStateMap(text, 'm.json');
      expect(!r.ok && r.diagnostics[0]).toMatchObject({ code: 'DUPLICATE_NAME', line: 4, col: 3 });
    });
  });

  describe('when names repeat inside lists or limit keys clash', () => {
    type Doc = {
      machines: Record<string, { states: string[] }>;
      intents: Record<string, Record<string, unknown>>;
      routes?: unknown;
      time?: boolean;
    };
    const base = parseYaml(readFixture('invalid/valid-base.yaml')) as Doc;
    it('reports a repeated state as DUPLICATE_NAME', () => {
      const doc = structuredClone(base);
      doc.machines.overdraft!.states = ['none', 'arranged', 'none'];
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics.map((d) => [d.code, d.path])).toEqual([
        ['DUPLICATE_NAME', 'machines.overdraft.states[2]'],
      ]);
    });
    it('reports one limit key declared two different ways as DUPLICATE_NAME', () => {
      const doc = structuredClone(base);
      doc.intents.arrange_overdraft!.limits = [
        { key: 'od.rate', kind: 'rate', max: 1, window: '30d', per: 'account' },
        { key: 'od.rate', kind: 'rate', max: 2, window: '30d', per: 'account' },
      ];
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics.map((d) => d.code)).toEqual(['DUPLICATE_NAME']);
    });
    it('reports a route for an undeclared intent and an unmapped param as UNKNOWN_REFERENCE', () => {
      const doc = structuredClone(base);
      doc.routes = {
        arrange_overdraft: { handler: 'lending.od.arrange', params: { account: { field: 'acct_no' } } },
        ghost: { handler: 'x' },
      };
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics.map((d) => [d.code, d.path])).toEqual([
        ['UNKNOWN_REFERENCE', 'routes.arrange_overdraft.params'],
        ['UNKNOWN_REFERENCE', 'routes.ghost'],
      ]);
    });
    it('reports a condition reading now without `time: true` as CONDITION_UNKNOWN_NAME', () => {
      const doc = structuredClone(base);
      doc.intents.arrange_overdraft!.allowed_when = "now > timestamp('2026-01-01T00:00:00Z')";
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics.map((d) => d.code)).toEqual(['CONDITION_UNKNOWN_NAME']);
      doc.time = true;
      expect(safeCompile(doc).ok).toBe(true);
    });
    it('type-checks a CEL macro against its element type', () => {
      const doc = structuredClone(base);
      doc.intents.arrange_overdraft!.allowed_when = '[1, 2].exists(x, x > 1)';
      expect(safeCompile(doc).ok).toBe(true);
      doc.intents.arrange_overdraft!.allowed_when = "[1, 2].exists(x, x == 'a')";
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics.map((d) => d.code)).toEqual(['CONDITION_TYPE_ERROR']);
    });
    it('refuses has(), which would hide what a condition reads', () => {
      const doc = structuredClone(base);
      doc.intents.arrange_overdraft!.allowed_when = 'has(params.amount)';
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics.map((d) => d.code)).toEqual(['CONDITION_TYPE_ERROR']);
    });
    it('refuses a condition that is not boolean', () => {
      const doc = structuredClone(base);
      doc.intents.arrange_overdraft!.allowed_when = 'params.amount + 1.0';
      const r = safeCompile(doc);
      expect(!r.ok && r.diagnostics[0]?.message).toMatch(/must be boolean/);
    });
  });
});
