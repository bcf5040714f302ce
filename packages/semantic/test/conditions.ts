import { T, type CelT, type CheckEnv } from '../src/internal/cel-check.js';

/** Four typed fields, one of each kind the native closure compares. */
export const conditionEnv: CheckEnv = {
  vars: new Map<string, CelT>([
    ['s.code', { k: 'string', values: ['A', 'B', 'C'] }],
    ['s.n', T.int],
    ['s.flag', T.bool],
    ['s.x', T.double],
  ]),
  namespaces: new Map(),
};

/** A condition of every shape the native closure specializes (literal left and right). */
export const SPECIALIZED_CONDITIONS = [
  "s.code == 'A'",
  "'B' == s.code",
  "s.code != 'C'",
  "'C' != s.code",
  's.flag',
  's.n == 0',
  's.n != 7',
  's.n < 10',
  's.n <= 10',
  's.n > -3',
  's.n >= 120',
  '120 >= s.n',
  '3 <= s.n',
  '-5 < s.n',
  's.x > 1.5',
  '0.5 > s.x',
  's.x <= 100',
  's.x == 0',
  '!s.flag',
  "s.code in ['A', 'C']",
  's.n > 1 && s.flag',
  "s.code == 'A' || s.x > 50.0",
  "!(s.code != 'B' && s.n >= 0) || (s.flag && s.x < -10.0)",
];

/** Shapes left to CEL. */
export const NOT_FAST_CONDITIONS = [
  'size(s.code) > 0',
  's.n + 1 > 2',
  "s.code < 'B'",
  's.n > 1.5',
  's.flag && size(s.code) > 0',
];
