import fc from 'fast-check';
import {
  checkCondition,
  T,
  type CelT,
  type CheckEnv,
} from '../../packages/semantic/src/internal/cel-check.js';
import {
  isConditionError,
  planCondition,
  type PlannedCondition,
} from '../../packages/semantic/src/internal/fast-path.js';
import { semanticFastPaths } from '../../packages/semantic/src/internal/fast-paths.js';
import { defineFastPath } from './harness.js';

const vars = new Map<string, CelT>([
  ['s.code', { k: 'string', values: ['A', 'B', 'C'] }],
  ['s.n', T.int],
  ['s.flag', T.bool],
  ['s.x', T.double],
]);
const checkEnv: CheckEnv = { vars, namespaces: new Map() };

/** Conditions of every shape the native closure specializes. */
const CONDITIONS = [
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
  '3 <= s.n',
  '0.5 > s.x',
  "'C' != s.code",
];
/** Shapes left to CEL. */
const NOT_FAST = ['size(s.code) > 0', 's.n + 1 > 2', "s.code < 'B'", 's.n > 1.5'];
const planned = (text: string): PlannedCondition<unknown> => planCondition(checkCondition(text, checkEnv));
const specialized = CONDITIONS.map(planned);
const conditions = [...specialized, ...NOT_FAST.map(planned)];

const bindings = fc.record({
  's.code': fc.constantFrom('A', 'B', 'C'),
  's.n': fc.bigInt({ min: -200n, max: 200n }),
  's.flag': fc.boolean(),
  's.x': fc.double({ min: -200, max: 200, noNaN: true }),
});
// Some names unbound (intentsFor runs conditions with the state only): the closure defers to CEL,
// keeping CEL's treatment of errors under && and ||.
const partial = bindings.chain((b) =>
  fc.subarray(Object.keys(b)).map((keep) => Object.fromEntries(keep.map((k) => [k, b[k as keyof typeof b]]))),
);

defineFastPath({
  name: 'semantic.condition',
  pair: semanticFastPaths.condition,
  arbitrary: fc.tuple(fc.constantFrom(...conditions), fc.oneof(bindings, partial)),
  answers: fc.tuple(fc.constantFrom(...specialized), bindings),
  normalize: (r) => (isConditionError(r) ? 'ERROR' : r),
  numRuns: 6000,
});
