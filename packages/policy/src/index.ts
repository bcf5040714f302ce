// The public API of @edca/policy: the tools a policy owner changes a state map with.
export { ACTIVATION_DOMAIN, POLICY_OWNER_ROLE, verifyActivation } from '@edca/records';
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
