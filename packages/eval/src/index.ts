/**
 * `@edca/eval`: what a compromised model can and cannot do through edca, in numbers.
 *
 * - {@link loadSuite}, {@link loadBuiltInSuite}: the suite format (`edca: eval-suite/v1`).
 * - {@link evaluateSuite}: every user task and every (user task × injection task) pair, with no
 *   kernel and through the real kernel, each run's journal verified with `@edca/audit`.
 * - {@link renderEvaluationTable}: the table `edca eval` prints.
 * @packageDocumentation
 */
export { EVAL_ERROR_CODES, EvalError, type EvalErrorCode } from './errors.js';
export {
  BUILT_IN_SUITES_DIR,
  builtInSuiteNames,
  loadBuiltInSuite,
  loadSuite,
  loadSuiteFile,
  suiteSchema,
  type CompiledHandler,
  type InjectionTask,
  type ScriptedProposal,
  type Suite,
  type SuiteDocument,
  type UserTask,
} from './suite.js';
export {
  APPROVER_BEHAVIOURS,
  EVAL_MODEL_ID,
  runBaseline,
  runThroughKernel,
  createRunDirectory,
  removeRunDirectory,
  type ApproverBehaviour,
  type ProposalFate,
  type ProposalOutcome,
  type RunKeys,
  type RunResult,
} from './run.js';
export {
  evaluateSuite,
  stopLabel,
  type EvaluateOptions,
  type InjectionSummary,
  type ModeSummary,
  type SuiteEvaluation,
  type Tally,
} from './evaluate.js';
export { renderEvaluationTable } from './table.js';
