export { KernelError } from './errors.js';
export type { KernelErrorCode } from './errors.js';
export type { AppendedRecord, Journal, JournalHead, RecordDraft } from './journal.js';
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
