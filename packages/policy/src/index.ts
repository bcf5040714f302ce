// The public API of @edca/policy: the tools a policy owner changes a state map with.
export { ACTIVATION_DOMAIN, POLICY_OWNER_ROLE, verifyActivation } from '@edca/records';
export { POLICY_ERROR_CODES, PolicyError } from './errors.js';
export type { PolicyErrorCode } from './errors.js';
export { SUITE_FORMAT, parseSuite, suiteSchema } from './suite.js';
export type { TestCase, TestSuite } from './suite.js';
export {
  COVERAGE_KINDS,
  REPORT_FORMAT,
  coverageItemSchema,
  reportDigest,
  testReportSchema,
} from './report.js';
export type { CoverageItem, TestCaseResult, TestReport } from './report.js';
export { coverageItems } from './coverage.js';
export { DEFAULT_TEST_TIME, runTests } from './run-tests.js';
export { signPolicy } from './sign.js';
export type { SignPolicyOptions, SignPolicyResult } from './sign.js';
export { diffMaps, type MapChange, type MapChangeKind, type MapDiff } from './map-diff.js';
export {
  diffJournal,
  type ChangeGroup,
  type DecisionAnswer,
  type DiffJournalOptions,
  type IntentDiff,
  type JournalDiff,
} from './journal-diff.js';
export { DiffError, type DiffErrorCode } from './diff-error.js';
