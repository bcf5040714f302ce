export { PostgresStoreError } from './errors.js';
export type { PostgresStoreErrorCode } from './errors.js';
export { migrate, SCHEMA_VERSION } from './migrate.js';
export type { MigrateResult } from './migrate.js';
export { postgresStore } from './postgres-store.js';
export type { PostgresStoreOptions } from './postgres-store.js';
export { openPostgresJournal, postgresJournal } from './postgres-journal.js';
export type { PostgresJournal, PostgresJournalOptions } from './postgres-journal.js';
