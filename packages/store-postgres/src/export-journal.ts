/**
 * Raw export of a stream's stored bytes, for auditors: no decoding or verification here, so a
 * damaged journal is handed over exactly as stored and `edca audit verify` reports what is wrong.
 */
import { KernelError } from '@edca/kernel';
import { openDb, type ConnectionOptions } from './internal/db.js';
import { PostgresStoreError } from './errors.js';

/** Options of `exportJournal`. */
export type ExportJournalOptions = ConnectionOptions & {
  readonly stream: string;
  /** First seq to export (default 1). */
  readonly fromSeq?: number;
};

/** One stored record: its seq and the exact signed bytes (one JSON Lines line without the newline). */
export interface StoredRecordBytes {
  readonly seq: number;
  readonly bytes: Uint8Array;
}

const PAGE = 1000;

/**
 * Yields the stored bytes of every record of a stream, in seq order, up to the head as it was when
 * the export started (later appends are not included, so the export is a consistent prefix).
 * @example for await (const r of exportJournal({ connectionString, stream: 'bank-1' })) out.write(r.bytes);
 * @throws PostgresStoreError PG_CONFIG_INVALID for malformed options; KernelError JOURNAL_UNAVAILABLE when
 *   the database cannot be read or the stream does not exist; JOURNAL_CORRUPT (after yielding every record
 *   present) when records between the last one found and the head are missing.
 */
export async function* exportJournal(options: ExportJournalOptions): AsyncGenerator<StoredRecordBytes> {
  const fromSeq = options.fromSeq ?? 1;
  if (typeof options.stream !== 'string' || options.stream === '') {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'stream must be a non-empty string');
  }
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'fromSeq must be a positive integer');
  }
  const db = openDb(options, 1);
  try {
    let head: number;
    try {
      const { rows } = await db.pool.query<{ seq: string }>(
        'SELECT seq::text AS seq FROM edca.journal_heads WHERE stream = $1',
        [options.stream],
      );
      const row = rows[0];
      if (row === undefined) {
        throw new KernelError('JOURNAL_UNAVAILABLE', `no journal stream ${options.stream} in this database`);
      }
      head = Number(row.seq);
    } catch (err) {
      if (err instanceof KernelError) throw err;
      throw new KernelError('JOURNAL_UNAVAILABLE', 'cannot read the journal head', { cause: err });
    }
    let next = fromSeq;
    while (next <= head) {
      let rows: { seq: string; bytes: Buffer }[];
      try {
        ({ rows } = await db.pool.query<{ seq: string; bytes: Buffer }>(
          `SELECT r.seq::text AS seq, r.bytes FROM edca.journal_records r
            WHERE r.stream = $1 AND r.seq >= $2 AND r.seq <= $3 ORDER BY r.seq LIMIT $4`,
          [options.stream, next, head, PAGE],
        ));
      } catch (err) {
        throw new KernelError('JOURNAL_UNAVAILABLE', 'cannot read journal records', { cause: err });
      }
      if (rows.length === 0) {
        // Everything present was handed over; the missing tail is reported, never silently dropped.
        throw new KernelError('JOURNAL_CORRUPT', `journal ${options.stream} has no records ${next}..${head}`);
      }
      for (const row of rows) {
        yield { seq: Number(row.seq), bytes: Uint8Array.from(row.bytes) };
        next = Number(row.seq) + 1;
      }
    }
  } finally {
    if (db.owned) await db.pool.end().catch(() => {});
  }
}

/** The streams in a database with their head seq. @throws KernelError JOURNAL_UNAVAILABLE */
export async function listJournalStreams(
  options: ConnectionOptions,
): Promise<{ readonly stream: string; readonly seq: number }[]> {
  const db = openDb(options, 1);
  try {
    const { rows } = await db.pool.query<{ stream: string; seq: string }>(
      'SELECT stream, seq::text AS seq FROM edca.journal_heads ORDER BY stream',
    );
    return rows.map((r) => ({ stream: r.stream, seq: Number(r.seq) }));
  } catch (err) {
    throw new KernelError('JOURNAL_UNAVAILABLE', 'cannot list journal streams', { cause: err });
  } finally {
    if (db.owned) await db.pool.end().catch(() => {});
  }
}
