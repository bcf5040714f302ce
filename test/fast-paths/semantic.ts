import fc from 'fast-check';
import { checkCondition } from '../../packages/semantic/src/internal/cel-check.js';
import {
  isConditionError,
  planCondition,
  type PlannedCondition,
} from '../../packages/semantic/src/internal/fast-path.js';
import { semanticFastPaths } from '../../packages/semantic/src/internal/fast-paths.js';
import {
  conditionEnv,
  NOT_FAST_CONDITIONS,
  SPECIALIZED_CONDITIONS,
} from '../../packages/semantic/test/conditions.js';
import { defineFastPath } from './harness.js';

const planned = (text: string): PlannedCondition<unknown> =>
  planCondition(checkCondition(text, conditionEnv));
const specialized = SPECIALIZED_CONDITIONS.map(planned);
const conditions = [...specialized, ...NOT_FAST_CONDITIONS.map(planned)];

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
