// Which shapes the native closure specializes; that it gives exactly the CEL plan's answer is the
// shared fast-path harness's property (test/fast-paths: semantic.condition).
import { celEnv, plan } from '@bufbuild/cel';
import { describe, expect, it } from 'vitest';
import { checkCondition, T, type CelT, type CheckEnv } from '../src/internal/cel-check.js';
import { fastPath } from '../src/internal/fast-path.js';

const env = celEnv({});
const vars = new Map<string, CelT>([
  ['s.code', { k: 'string', values: ['A', 'B', 'C'] }],
  ['s.n', T.int],
  ['s.flag', T.bool],
  ['s.x', T.double],
]);
const checkEnv: CheckEnv = { vars, namespaces: new Map() };

const SHAPES = [
  "s.code == 'A'",
  "'B' == s.code",
  "s.code != 'C'",
  's.flag',
  's.n == 0',
  's.n != 7',
  's.n < 10',
  's.n <= 10',
  's.n > -3',
  's.n >= 120',
  '120 >= s.n',
  '-5 < s.n',
  's.x > 1.5',
  's.x <= 100',
  's.x == 0',
  '!s.flag',
  "s.code in ['A', 'C']",
  's.n > 1 && s.flag',
  "s.code == 'A' || s.x > 50.0",
  "!(s.code != 'B' && s.n >= 0) || (s.flag && s.x < -10.0)",
];
const NOT_FAST = [
  'size(s.code) > 0',
  's.n + 1 > 2',
  "s.code < 'B'",
  's.n > 1.5',
  's.flag && size(s.code) > 0',
];

describe('fastPath', () => {
  describe.each(SHAPES)('for %s', (text) => {
    const c = checkCondition(text, checkEnv);
    const slow = plan(env, c.parsed!) as unknown as (b: Record<string, unknown>) => unknown;
    const fast = fastPath(c.parsed!.expr, c.names, slow);
    it('is specialized', () => expect(fast).toBeDefined());
  });

  it.each(NOT_FAST)('leaves %s to CEL', (text) => {
    const c = checkCondition(text, checkEnv);
    expect(fastPath(c.parsed!.expr, c.names, () => null)).toBeUndefined();
  });
});
