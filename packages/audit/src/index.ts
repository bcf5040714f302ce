export { AuditError, type AuditErrorCode } from './errors.js';
export { FINDING_CODES, FINDING_DESCRIPTIONS, type Finding, type FindingCode } from './findings.js';
export type { AuditReport, KeyUse, UnfinishedAction, VerifyMode } from './report.js';
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
export { renderTextReport, renderHtmlReport } from './render.js';
export type { TextReportOptions } from './render.js';
