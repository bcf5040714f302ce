// The public API of @edca/ledger: what a journal means (permits, approvals, limit usage, attempts,
// activated policies) as one pure, incremental fold, and the questions asked of it. No I/O, no clock.
export {
  emptyLedger,
  permitBody,
  type LedgerState,
  type LedgerRecord,
  type Violation,
  type ViolationCode,
  type OutcomeStatus,
  type HoldCounter,
  type PermitEntry,
  type ApprovalEntry,
  type ActivationEntry,
  type AttemptEntry,
  type CounterEntry,
  type ExpiryQueue,
} from './state.js';
export { apply, type ApplyResult } from './fold.js';
export { usageAt, heldBy, heldEntries } from './usage.js';
export {
  approvalStatus,
  approvalsByStatus,
  outstandingPermits,
  consumedPermits,
  counterUsage,
  attemptsWithoutOutcome,
  unfinished,
  activatedPolicies,
  prune,
  type ApprovalStatus,
  type Unfinished,
} from './queries.js';
export {
  snapshotState,
  snapshotSizeFloor,
  snapshotMatches,
  restoreSnapshot,
  SnapshotError,
  type SnapshotBody,
} from './snapshot.js';
