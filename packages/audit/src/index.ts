export { AuditError, type AuditErrorCode } from './errors.js';
export { FINDING_CODES, FINDING_DESCRIPTIONS, type Finding, type FindingCode } from './findings.js';
export type { AuditReport, KeyUse, PolicyActivationUse, UnfinishedAction, VerifyMode } from './report.js';
export {
  describeReplay,
  replayDecision,
  type RecordedDecision,
  type Replay,
  type ReplayDifference,
} from './replay.js';
export {
  safeVerifyJournal,
  verifyJournal,
  type JournalInput,
  type VerifyJournalOptions,
  type VerifyJournalResult,
} from './verify-journal.js';
export { createReplayMaps, loadReplayMaps, type ReplayMaps } from './replay-maps.js';
export {
  checkInclusionProof,
  checkJournalConsistency,
  createInclusionProof,
  type ConsistencyReport,
  type InclusionProofDocument,
  type VerifiedInclusion,
} from './proofs.js';
export { renderTextReport, type TextReportOptions } from './render.js';
export { renderHtmlReport, type HtmlReportOptions } from './html-report.js';
export {
  collectAuditTrail,
  type AuditTrail,
  type TrailDecision,
  type TrailRecord,
  type TrailStep,
} from './trail.js';
export {
  checkpointNote,
  cosignatureMessage,
  createWitness,
  newestWitnessed,
  parseWitnessFile,
  WITNESS_ROLE,
  type AddCheckpointRequest,
  type AddCheckpointResult,
  type Cosignature,
  type Witness,
  type WitnessedCheckpoint,
  type WitnessedSize,
  type WitnessedState,
  type WitnessFile,
  type WitnessRefusalCode,
  type WitnessStateStore,
} from './witness.js';
