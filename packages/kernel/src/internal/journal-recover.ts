/**
 * Opening a journal file: scan every line, check the chain, verify the tail, find a torn tail.
 *
 * The rules (docs/journal.md, "Recovery"):
 * - every complete line must decode strictly (`decodeRecord`), carry the journal's stream, the next
 *   `seq` and `prev = hash of the previous line`; every `checkpoint` must hold the true RFC 6962 root;
 * - bytes after the last newline are a torn tail: never acknowledged (an append resolves only after
 *   its whole group, newline included, is synced), so they are cut away;
 * - a final complete line that does not decode and contains a NUL byte is also a torn tail (a crash
 *   after the file grew but before the data block reached the disk reads back as zeros);
 * - anything else that fails is JOURNAL_CORRUPT: an acknowledged record is never dropped silently;
 * - the signatures of the last `verifyTail` records are verified with the journal's own key (or a
 *   key the caller lists for earlier kids).
 */
import type { FileHandle } from 'node:fs/promises';

import {
  MerkleAccumulator,
  decodeRecord,
  digestBytes,
  leafHash,
  toBase64url,
  verifyRecord,
  type Digest,
  type SignedRecord,
} from '@edca/records';

import { KernelError } from '../errors.js';
import { readJournalLines } from './journal-lines.js';

/** Every `INDEX_STRIDE`-th record's file offset is kept, so `read(fromSeq)` seeks instead of scanning. */
export const INDEX_STRIDE = 1024;

/** What a scan of a journal file established. */
export interface RecoveredJournal {
  readonly seq: number;
  readonly hash: Digest | null;
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
  readonly verifyTail: number;
}

const corrupt = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_CORRUPT', message, cause === undefined ? undefined : { cause });

/** Checks that a `checkpoint` body is exactly `{ size, root }` for the records before it. */
export function checkpointMatches(record: SignedRecord, accumulator: MerkleAccumulator): boolean {
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
  // A ring of the last `verifyTail` records (order does not matter for verification).
  const tail: SignedRecord[] = [];
  let seq = 0;
  let hash: Digest | null = null;
  let size = 0;
  let sinceCheckpoint = 0;
  let suspect: { offset: number; bytes: Uint8Array; error: unknown } | undefined;
  let tornAt: number | undefined;

  for await (const line of readJournalLines(file, 0, end)) {
    if (suspect !== undefined) {
      throw corrupt(
        `journal line at byte ${suspect.offset} (after seq ${seq}) does not decode`,
        suspect.error,
      );
    }
    if (!line.complete) {
      tornAt = line.offset;
      break;
    }
    let record: SignedRecord;
    try {
      record = decodeRecord(line.bytes);
    } catch (error) {
      suspect = { offset: line.offset, bytes: line.bytes, error };
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
    size = line.offset + line.bytes.length + 1;
    if (options.verifyTail > 0) tail[(record.seq - 1) % options.verifyTail] = record;
  }

  if (suspect !== undefined) {
    if (!suspect.bytes.includes(0)) {
      throw corrupt(
        `journal last line at byte ${suspect.offset} (after seq ${seq}) does not decode`,
        suspect.error,
      );
    }
    tornAt = suspect.offset;
  }

  for (const record of tail) {
    const key = options.keys.get(record.kid);
    if (key === undefined) throw corrupt(`journal seq ${record.seq} is signed by unknown key ${record.kid}`);
    try {
      verifyRecord(record, key);
    } catch (error) {
      throw corrupt(`journal seq ${record.seq} has a bad signature`, error);
    }
  }

  return {
    seq,
    hash,
    size,
    tornBytes: tornAt === undefined ? 0 : end - tornAt,
    accumulator,
    sinceCheckpoint,
    index,
    verifiedSignatures: tail.length,
  };
}
