export { PostgresStoreError } from './errors.js';
export type { PostgresStoreErrorCode } from './errors.js';
export { migrate, SCHEMA_VERSION } from './migrate.js';
export type { MigrateResult } from './migrate.js';
export { postgresStore } from './postgres-store.js';
export type { PostgresStoreOptions } from './postgres-store.js';
