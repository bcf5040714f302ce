/**
 * Opening a journal file: scan every line, check the chain, verify the tail, find a torn tail.
 *
 * The rules (docs/journal.md, "Recovery"):
 * - every complete line must parse as a JSON record of the journal's stream with the next `seq` and
 *   `prev = sha256 of the previous line's bytes`; every `checkpoint` must hold the true RFC 6962 root.
 *   The hash chain makes any change to a line visible at the next line, so lines before the tail are
 *   only parsed (JSON.parse), not strictly decoded; the last `verifyTail` lines (at least one, so the
 *   line no `prev` protects is always covered) are strictly decoded (canonical bytes, envelope, body
 *   schema) and their signatures verified (`verifyRecordLine`) with the journal's own key (or a key
 *   the caller lists for earlier kids);
 * - bytes after the last newline are a torn tail: never acknowledged (an append resolves only after
 *   its whole group, newline included, is synced), so they are cut away;
 * - a final complete line that does not decode and contains a NUL byte is also a torn tail (a crash
 *   after the file grew but before the data block reached the disk reads back as zeros);
 * - anything else that fails is JOURNAL_CORRUPT: an acknowledged record is never dropped silently.
 * A full verification of every signature is the auditor's job (`edca audit verify`).
 */
import type { FileHandle } from 'node:fs/promises';

import {
  MerkleAccumulator,
  digestBytes,
  leafHash,
  toBase64url,
  verifyRecordLine,
  type Digest,
  type JsonValue,
} from '@edca/records';

import { KernelError } from '../errors.js';
import { parseLineObject, readJournalLines } from './journal-lines.js';

/** Every `INDEX_STRIDE`-th record's file offset is kept, so `read(fromSeq)` seeks instead of scanning. */
export const INDEX_STRIDE = 1024;

/** What a scan of a journal file established. */
export interface RecoveredJournal {
  readonly seq: number;
  readonly hash: Digest | null;
  /** The last record's `at` (null when empty): later records are never dated before it. */
  readonly at: string | null;
  /** Byte length of the valid prefix (ends with a newline, or 0). */
  readonly size: number;
  /** Bytes after `size` that were a torn tail (0 when the file ended cleanly). */
  readonly tornBytes: number;
  readonly accumulator: MerkleAccumulator;
  /** Non-checkpoint records since the last checkpoint (or the start). */
  readonly sinceCheckpoint: number;
  /** `index[k]` is the offset of record `k * INDEX_STRIDE + 1`. */
  readonly index: number[];
  readonly verifiedSignatures: number;
}

export interface RecoverOptions {
  readonly stream: string;
  /** Keys accepted for tail signatures, by kid (the journal's own key first). */
  readonly keys: ReadonlyMap<string, Uint8Array>;
  /** How many last lines are strictly decoded and signature-checked; at least 1. */
  readonly verifyTail: number;
}

const corrupt = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_CORRUPT', message, cause === undefined ? undefined : { cause });

/** The fields recovery reads from a line before strict decoding. */
interface LineHeader {
  readonly type: string;
  readonly stream: string;
  readonly seq: number;
  readonly prev: string | null;
  readonly at: string;
  readonly body: JsonValue;
}

/** Parses a line just enough to follow the chain; undefined when it is not a record-shaped JSON object. */
function parseHeader(bytes: Uint8Array): LineHeader | undefined {
  const r = parseLineObject(bytes);
  if (r === undefined) return undefined;
  if (typeof r['type'] !== 'string' || typeof r['stream'] !== 'string') return undefined;
  if (typeof r['at'] !== 'string') return undefined;
  if (typeof r['seq'] !== 'number' || !(r['prev'] === null || typeof r['prev'] === 'string'))
    return undefined;
  if (!Object.hasOwn(r, 'body')) return undefined;
  return r as unknown as LineHeader;
}

/** Checks that a `checkpoint` body is exactly `{ size, root }` for the records before it. */
export function checkpointMatches(
  record: { readonly seq: number; readonly body: JsonValue },
  accumulator: MerkleAccumulator,
): boolean {
  const body = record.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  return (
    keys.length === 2 &&
    body['size'] === accumulator.size &&
    body['size'] === record.seq - 1 &&
    body['root'] === toBase64url(accumulator.root())
  );
}

/**
 * Scans `[0, end)` of an open journal file.
 * @throws KernelError JOURNAL_CORRUPT on any undecodable, unchained, misplaced or badly signed record before the torn tail.
 */
export async function recoverJournal(
  file: FileHandle,
  end: number,
  options: RecoverOptions,
): Promise<RecoveredJournal> {
  const accumulator = new MerkleAccumulator();
  const index: number[] = [];
  // A ring of the last `verifyTail` lines (order does not matter for verification).
  const tail: { seq: number; bytes: Uint8Array }[] = [];
  let seq = 0;
  let hash: Digest | null = null;
  let at: string | null = null;
  let size = 0;
  let sinceCheckpoint = 0;
  let suspect: { offset: number; bytes: Uint8Array } | undefined;
  let tornAt: number | undefined;

  for await (const line of readJournalLines(file, 0, end)) {
    if (suspect !== undefined) {
      throw corrupt(`journal line at byte ${suspect.offset} (after seq ${seq}) is not a record`);
    }
    if (!line.complete) {
      tornAt = line.offset;
      break;
    }
    const record = parseHeader(line.bytes);
    if (record === undefined) {
      suspect = { offset: line.offset, bytes: line.bytes };
      continue;
    }
    if (record.stream !== options.stream) {
      throw corrupt(`journal seq ${record.seq} belongs to stream ${record.stream}, not ${options.stream}`);
    }
    if (record.seq !== seq + 1) throw corrupt(`journal seq ${record.seq} follows seq ${seq}`);
    if (record.prev !== hash) throw corrupt(`journal seq ${record.seq} does not chain to seq ${seq}`);
    if (record.type === 'checkpoint') {
      if (!checkpointMatches(record, accumulator)) {
        throw corrupt(`journal checkpoint seq ${record.seq} does not match the records before it`);
      }
      sinceCheckpoint = 0;
    } else {
      sinceCheckpoint += 1;
    }
    if ((record.seq - 1) % INDEX_STRIDE === 0) index.push(line.offset);
    accumulator.append(leafHash(line.bytes));
    hash = digestBytes(line.bytes);
    seq = record.seq;
    at = record.at;
    size = line.offset + line.bytes.length + 1;
    tail[(record.seq - 1) % options.verifyTail] = { seq: record.seq, bytes: line.bytes };
  }

  if (suspect !== undefined) {
    if (!suspect.bytes.includes(0)) {
      throw corrupt(`journal last line at byte ${suspect.offset} (after seq ${seq}) is not a record`);
    }
    tornAt = suspect.offset;
  }

  for (const line of tail) {
    try {
      verifyRecordLine(line.bytes, (r) => options.keys.get(r.kid));
    } catch (error) {
      throw corrupt(
        `journal seq ${line.seq} does not decode strictly or verify with the journal's keys`,
        error,
      );
    }
  }

  return {
    seq,
    hash,
    at,
    size,
    tornBytes: tornAt === undefined ? 0 : end - tornAt,
    accumulator,
    sinceCheckpoint,
    index,
    verifiedSignatures: tail.length,
  };
}
