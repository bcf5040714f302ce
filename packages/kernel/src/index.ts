export { KernelError } from './errors.js';
export type { KernelErrorCode } from './errors.js';
export { HandlerError, isFinalHandlerError } from './handler-error.js';
export type { AppendedRecord, Journal, JournalHead, RecordDraft } from './journal.js';
export { assertDraftEnvelopes } from './journal.js';
export { DEFAULT_CHECKPOINT_EVERY, JournalCore, journalCorrupt, journalUnavailable } from './journal-core.js';
export type {
  ChainState,
  JournalAccumulator,
  JournalCoreOptions,
  JournalGroup,
  JournalJob,
  JournalSink,
  StoredChain,
} from './journal-core.js';
export { openFileJournal } from './file-journal.js';
export type { FileJournal, FileJournalOptions, FileJournalRecovery } from './file-journal.js';
export { createMemoryStore } from './memory-store.js';
export type {
  AddApproverResult,
  ApprovalStatus,
  ApproverEntry,
  KernelStore,
  PendingApproval,
  PendingApprovalInit,
  Reservation,
  ReserveResult,
} from './store.js';
export { systemClock, toRfc3339 } from './clock.js';
export type { Clock } from './clock.js';
export { KERNEL_REASON_CODES } from './reason-codes.js';
export type { KernelReasonCode } from './reason-codes.js';
export { createDecisionCache, decisionKeyOf, evaluateDecision } from './decision.js';
/** The action hash a permit is bound to; defined in `@edca/records` so the auditor recomputes it. */
export { actionHashOf } from '@edca/records';
export type { DecisionCache, DecisionCacheOptions, KernelDecisionResult, Proposal } from './decision.js';
export { APPROVAL_DOMAIN, approvalMessage, signApproval, verifyApproval } from './approval.js';
export type { ApprovalCheck, ApprovalStatement, SignedApproval } from './approval.js';
export { createKernel } from './kernel.js';
export type {
  ApproveRefusalCode,
  ApproveResult,
  DecideContext,
  Decision,
  DecisionReason,
  ExecuteRefusalCode,
  ExecuteResult,
  HandlerFailureCode,
  IdempotencyCheck,
  Kernel,
  KernelEvents,
  KernelOptions,
  Loader,
  Permit,
  PlanResult,
  PlanStep,
  RecoveryReport,
} from './types.js';
export { createScriptedProposer } from './proposer.js';
export type {
  Proposer,
  ProposerMessage,
  ProposerOutput,
  ProposerTurn,
  ScriptedProposer,
  ScriptedTurn,
} from './proposer.js';
export { digestModelOutput } from './session-records.js';
export type { IntakeRefusalReport, SessionEndReport, SessionRecordRef } from './session-records.js';
export type {
  CheckpointWitness,
  CheckpointWitnessResult,
  KernelWitnessedCheckpoint,
  WitnessPolicy,
} from './witness-gate.js';
