/** Every stable code a `PostgresStoreError` can carry. */
export type PostgresStoreErrorCode =
  /** The options are malformed: no connection, both a pool and a URL, a bad stream name or checkpoint interval. */
  | 'PG_CONFIG_INVALID'
  /** The database carries a schema migration this package does not know: a newer edca wrote it. */
  | 'PG_SCHEMA_TOO_NEW'
  /** An applied migration's recorded checksum differs from the one shipped: the schema was edited by hand. */
  | 'PG_MIGRATION_MISMATCH'
  /** The migration could not run (the server refused or the connection failed). */
  | 'PG_MIGRATION_FAILED';

/**
 * The error class of `@edca/store-postgres` for misuse and schema problems. Runtime failures of the
 * journal and the store are reported through the ports' own `KernelError` codes
 * (`JOURNAL_UNAVAILABLE`, `JOURNAL_CORRUPT`, `STORE_UNAVAILABLE`, `STORE_MISUSE`).
 */
export class PostgresStoreError extends Error {
  override readonly name = 'PostgresStoreError';

  /** Creates an error with a stable code and a human message; `cause` keeps the underlying error. */
  constructor(
    readonly code: PostgresStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
