export { KernelError } from './errors.js';
export type { KernelErrorCode } from './errors.js';
export type { AppendedRecord, Journal, JournalHead, RecordDraft } from './journal.js';
