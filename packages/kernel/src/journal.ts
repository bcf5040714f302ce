/**
 * The `Journal` port: where the kernel puts signed responsibility records.
 *
 * Implemented by the embedded file journal (`file-journal.ts`) and by `@edca/store-postgres`.
 * Every implementation must pass the shared suite `runJournalSuite` of `@edca/kernel/testing`.
 * See docs/contracts.md (the pinned shape) and docs/journal.md (the file journal).
 */
import {
  isRecordInstant,
  isRecordType,
  type Digest,
  type JsonValue,
  type RecordType,
  type SignedRecord,
} from '@edca/records';

/** A record the caller wants appended: the journal assigns `stream`, `seq`, `prev`, `kid` and `sig`. */
export interface RecordDraft {
  readonly type: RecordType;
  /** RFC 3339 UTC timestamp with milliseconds, from the caller's clock port. */
  readonly at: string;
  readonly body: JsonValue;
}

/**
 * Checks what every `Journal` checks of a draft before it joins a group: an array of drafts, each
 * with a known record type, not a `checkpoint` (the journal writes those itself), and an `at` that
 * is a real RFC 3339 UTC instant with milliseconds. A bad draft must be refused alone, before it can
 * fail other callers' appends; the body is left to the adapter (each checks it where it is cheapest).
 * @throws TypeError for a malformed list or draft, or a caller-made checkpoint.
 */
export function assertDraftEnvelopes(drafts: unknown): asserts drafts is readonly RecordDraft[] {
  if (!Array.isArray(drafts)) throw new TypeError('drafts must be an array');
  for (const item of drafts as unknown[]) {
    if (typeof item !== 'object' || item === null) throw new TypeError('a draft must be an object');
    const draft = item as RecordDraft;
    if (!isRecordType(draft.type)) throw new TypeError('draft.type must be a record type');
    if (draft.type === 'checkpoint')
      throw new TypeError('checkpoint records are written by the journal itself');
    if (!isRecordInstant(draft.at)) {
      throw new TypeError('draft.at must be an RFC 3339 UTC timestamp with milliseconds');
    }
  }
}

/** A record as stored: the signed record, its hash (`recordHash`) and its exact line bytes (`encodeRecord`). */
export interface AppendedRecord {
  readonly record: SignedRecord;
  readonly hash: Digest;
  /** The exact bytes the journal stores (no trailing newline); Merkle leaves are over these bytes. */
  readonly bytes: Uint8Array;
}

/** The last record of a journal: `seq` 0 and `hash` null when the journal is empty. */
export interface JournalHead {
  readonly seq: number;
  readonly hash: Digest | null;
}

/** An append-only, hash-chained, signed record log for one stream. */
export interface Journal {
  /** The stream every record of this journal carries. */
  readonly stream: string;
  /**
   * True when no other writer can append to the stream while this journal is open (the file
   * journal's lock): every record it holds is either one of its appends or a checkpoint it inserted.
   * Absent or false, readers that need to know check the records in between.
   */
  readonly exclusive?: boolean;
  /**
   * Assigns seq and prev, signs with the journal's signer, writes the drafts in order as one group and
   * resolves only once they are durable (fsync / COMMIT). Inserts a `checkpoint` every N records.
   * The result holds the drafts' records in order (checkpoints it inserted are not included); a
   * caller-made `checkpoint` draft is refused (TypeError), since only the journal knows the root.
   * A record is never dated before the record it follows: an earlier draft `at` is raised to the
   * previous record's (callers stamp drafts before they queue, and instances' clocks differ).
   * @throws KernelError JOURNAL_UNAVAILABLE when the write, the sync or the signer fails, or after close;
   *   the journal then refuses every later append until reopened.
   */
  append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]>;
  /** The last durable record's seq and hash. @throws KernelError JOURNAL_UNAVAILABLE after close. */
  head(): Promise<JournalHead>;
  /**
   * Yields every durable record with `seq >= fromSeq` (default 1) in order, with exact bytes and hash.
   * @throws KernelError JOURNAL_CORRUPT when stored bytes do not decode or chain; JOURNAL_UNAVAILABLE after close.
   */
  read(fromSeq?: number): AsyncIterable<AppendedRecord>;
  /** Waits for in-flight appends, releases resources (the file lock); idempotent; later calls fail with JOURNAL_UNAVAILABLE. */
  close(): Promise<void>;
}
