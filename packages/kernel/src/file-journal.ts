/**
 * The embedded file journal: append-only JSON Lines of exact signed record bytes, fsync before an
 * append resolves, group commit, a signed RFC 6962 checkpoint every N records, a single-writer lock,
 * and recovery that cuts a torn tail but never an acknowledged record. Format, locking, group commit
 * and recovery are described in docs/journal.md.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

import {
  digestBytes,
  type Digest,
  type MerkleAccumulator,
  type SignedRecord,
  type Signer,
} from '@edca/records';

import type { Clock } from './clock.js';
import { KernelError } from './errors.js';
import type { AppendedRecord, Journal, JournalHead, RecordDraft } from './journal.js';
import {
  DEFAULT_CHECKPOINT_EVERY,
  JournalCore,
  journalCorrupt,
  journalUnavailable,
  type JournalGroup,
} from './journal-core.js';
import { parseLineObject, readJournalLines } from './internal/journal-lines.js';
import { acquireJournalLock, type JournalLock } from './internal/journal-lock.js';
import { INDEX_STRIDE, recoverJournal } from './internal/journal-recover.js';

/** Options of {@link openFileJournal}. */
export interface FileJournalOptions {
  /** The journal file; created if missing. The lock is `path + '.lock'`. */
  readonly path: string;
  /** The stream every record carries (one journal file per stream). */
  readonly stream: string;
  /**
   * Signs every record, checkpoints included; its key also verifies the tail on open. A worker
   * signer (`createWorkerSigner` of @edca/records) signs and hashes on its own thread, batch by
   * batch, so the caller's thread keeps deciding meanwhile (docs/journal.md, "Signing off-thread").
   */
  readonly signer: Signer;
  /** A `checkpoint` follows every N-th non-checkpoint record (default 1000). */
  readonly checkpointEvery?: number;
  /** Time source (epoch ms) for checkpoint timestamps; defaults to the system clock. */
  readonly clock?: Clock;
  /** `false` skips fdatasync: appends are then NOT durable (tests and benchmarks only). Default `true`. */
  readonly fsync?: boolean;
  /** How many of the last records are strictly decoded and signature-verified on open (default 1000, at least 1). */
  readonly verifyTail?: number;
  /** Public keys of earlier journal signers (after a key rotation) accepted when verifying the tail. */
  readonly previousKeys?: readonly { readonly kid: string; readonly publicKey: Uint8Array }[];
}

/** What opening the file found. */
export interface FileJournalRecovery {
  /** Records found intact. */
  readonly records: number;
  /** Bytes of a torn tail cut away (0 when the file ended cleanly). */
  readonly truncatedBytes: number;
  /** How many tail records had their signatures verified. */
  readonly verifiedSignatures: number;
  /** True when a stale lock of a dead process was taken over. */
  readonly tookOverStaleLock: boolean;
}

/** A {@link Journal} backed by one file. */
export interface FileJournal extends Journal {
  readonly path: string;
  readonly recovery: FileJournalRecovery;
}

/**
 * The file operations on the append path, a seam for fault-injection tests (a real disk does not
 * fail on demand). Not part of the public API.
 */
export interface JournalAppendFile {
  /** Appends all of `data` (the file is opened with O_APPEND). */
  write(data: Uint8Array): Promise<void>;
  /** fdatasync. */
  sync(): Promise<void>;
}

/** Internal hooks for tests. */
export interface FileJournalHooks {
  readonly wrapFile?: (file: JournalAppendFile) => JournalAppendFile;
}

const DEFAULT_VERIFY_TAIL = 1000;

const errorCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

/**
 * Opens (or creates) a file journal: takes the lock, scans and verifies the file, cuts a torn tail.
 * @throws KernelError JOURNAL_LOCKED when another live writer holds the file; JOURNAL_CORRUPT when the
 *   stored records do not verify before the tail; JOURNAL_UNAVAILABLE when the file cannot be opened.
 * @throws TypeError / RangeError on malformed options.
 * @example
 * const journal = await openFileJournal({ path: 'edca.journal', stream: 'bank-1', signer });
 * const [permit] = await journal.append([{ type: 'decision', at: '2026-01-01T00:00:00.000Z', body }]);
 * await journal.close();
 */
export async function openFileJournal(options: FileJournalOptions): Promise<FileJournal> {
  return openFileJournalWith(options, {});
}

/** {@link openFileJournal} with test hooks; internal. */
export async function openFileJournalWith(
  options: FileJournalOptions,
  hooks: FileJournalHooks,
): Promise<FileJournal> {
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const verifyTail = options.verifyTail ?? DEFAULT_VERIFY_TAIL;
  if (typeof options.path !== 'string' || options.path === '')
    throw new TypeError('path must be a file path');
  if (typeof options.stream !== 'string' || options.stream === '')
    throw new TypeError('stream must be a string');
  if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 1) {
    throw new RangeError('checkpointEvery must be a positive integer');
  }
  if (!Number.isSafeInteger(verifyTail) || verifyTail < 1) throw new RangeError('verifyTail must be >= 1');

  const signer: unknown = options.signer;
  if (
    typeof signer !== 'object' ||
    signer === null ||
    !('kid' in signer && typeof signer.kid === 'string') ||
    !('publicKey' in signer && signer.publicKey instanceof Uint8Array) ||
    !('sign' in signer && typeof signer.sign === 'function')
  ) {
    throw new TypeError('signer must be a Signer (kid, publicKey, sign)');
  }
  const keys = new Map<string, Uint8Array>([[options.signer.kid, options.signer.publicKey]]);
  for (const k of options.previousKeys ?? []) if (!keys.has(k.kid)) keys.set(k.kid, k.publicKey);

  const lock = await acquireJournalLock(options.path).catch((error: unknown) => {
    throw error instanceof KernelError
      ? error
      : journalUnavailable(`cannot lock journal ${options.path}`, error);
  });
  let file: FileHandle | undefined;
  try {
    const existed = await stat(options.path).then(
      () => true,
      (e: unknown) => {
        if (errorCode(e) === 'ENOENT') return false;
        throw e;
      },
    );
    try {
      file = await open(options.path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o640);
      // A new file's directory entry must be durable too, or a crash could lose the whole file.
      if (!existed) await syncDirectory(dirname(options.path));
    } catch (error) {
      throw journalUnavailable(`cannot open journal ${options.path}`, error);
    }
    const end = (await file.stat()).size;
    const recovered = await recoverJournal(file, end, { stream: options.stream, keys, verifyTail });
    if (recovered.tornBytes > 0) {
      // The torn tail was never acknowledged; cut it so the next append starts on a line boundary.
      await file.truncate(recovered.size);
      await file.datasync();
    }
    const journal = new FileJournalImpl(options, hooks, lock, file, {
      checkpointEvery,
      seq: recovered.seq,
      hash: recovered.hash,
      at: recovered.at,
      size: recovered.size,
      accumulator: recovered.accumulator,
      sinceCheckpoint: recovered.sinceCheckpoint,
      index: recovered.index,
      recovery: {
        records: recovered.seq,
        truncatedBytes: recovered.tornBytes,
        verifiedSignatures: recovered.verifiedSignatures,
        tookOverStaleLock: lock.tookOver,
      },
    });
    return journal;
  } catch (error) {
    await file?.close();
    await lock.release();
    // I/O errors while scanning or cutting the tail: the journal cannot be used (yet).
    throw error instanceof KernelError
      ? error
      : journalUnavailable(`cannot recover journal ${options.path}`, error);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

interface InitialState {
  readonly checkpointEvery: number;
  readonly seq: number;
  readonly hash: Digest | null;
  readonly at: string | null;
  readonly size: number;
  readonly accumulator: MerkleAccumulator;
  readonly sinceCheckpoint: number;
  readonly index: number[];
  readonly recovery: FileJournalRecovery;
}

class FileJournalImpl implements FileJournal {
  readonly stream: string;
  // The lock keeps every other writer out while it is open.
  readonly exclusive = true;
  readonly path: string;
  readonly recovery: FileJournalRecovery;

  readonly #core: JournalCore<MerkleAccumulator>;
  readonly #lock: JournalLock;
  readonly #handle: FileHandle;
  readonly #file: JournalAppendFile;
  readonly #fsync: boolean;
  readonly #index: number[];
  // The durable end: what head() and read() expose, moved once a group is written and synced.
  #durableSeq: number;
  #durableHash: Digest | null;
  #durableSize: number;

  constructor(
    options: FileJournalOptions,
    hooks: FileJournalHooks,
    lock: JournalLock,
    handle: FileHandle,
    initial: InitialState,
  ) {
    this.stream = options.stream;
    this.path = options.path;
    this.recovery = initial.recovery;
    this.#fsync = options.fsync ?? true;
    this.#lock = lock;
    this.#handle = handle;
    const plain: JournalAppendFile = {
      write: async (data) => {
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await handle.write(data, done, data.length - done);
          if (bytesWritten <= 0) throw new Error('write made no progress');
          done += bytesWritten;
        }
      },
      sync: () => handle.datasync(),
    };
    this.#file = hooks.wrapFile ? hooks.wrapFile(plain) : plain;
    this.#index = initial.index;
    this.#durableSeq = initial.seq;
    this.#durableHash = initial.hash;
    this.#durableSize = initial.size;
    this.#core = new JournalCore({
      stream: options.stream,
      signer: options.signer,
      checkpointEvery: initial.checkpointEvery,
      ...(options.clock ? { clock: options.clock } : {}),
      initial: {
        seq: initial.seq,
        hash: initial.hash,
        at: initial.at,
        sinceCheckpoint: initial.sinceCheckpoint,
        accumulator: initial.accumulator,
      },
      // The lock makes this process the only writer: the chain never moves under a group.
      sink: { shared: false, commit: (group) => this.#commit(group) },
    });
  }

  append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    return this.#core.append(drafts);
  }

  head(): Promise<JournalHead> {
    if (this.#core.closed) return Promise.reject(journalUnavailable('journal is closed'));
    return Promise.resolve({ seq: this.#durableSeq, hash: this.#durableHash });
  }

  read(fromSeq = 1): AsyncIterable<AppendedRecord> {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1)
      throw new RangeError('fromSeq must be a positive integer');
    // Snapshot the durable end now: records appended later are not part of this read.
    return this.#readRange(fromSeq, this.#durableSeq, this.#durableHash, this.#durableSize);
  }

  /** Seals the journal (a final checkpoint covers every record, so a clean file ends with a signed root), then lets go of the file and its lock. */
  close(): Promise<void> {
    return this.#core.shutdown(async () => {
      await this.#handle.close();
      await this.#lock.release();
    });
  }

  /** The sink: one write and one fdatasync per group; then the read index and durable end move. */
  async #commit(group: JournalGroup): Promise<JournalGroup> {
    try {
      // A group is most often one sealed batch: written from its own buffer rather than a copy.
      const only = group.chunks.length === 1 ? group.chunks[0]! : undefined;
      await this.#file.write(
        only?.length === group.byteLength ? only : Buffer.concat(group.chunks, group.byteLength),
      );
      if (this.#fsync) await this.#file.sync();
    } catch (error) {
      throw journalUnavailable(
        'journal write or fdatasync failed; the journal refuses appends until reopened',
        error,
      );
    }
    let at = this.#durableSize;
    for (const { record, bytes } of group.records) {
      if ((record.seq - 1) % INDEX_STRIDE === 0) this.#index.push(at);
      at += bytes.length + 1;
    }
    if (at - this.#durableSize !== group.byteLength)
      throw new Error('invariant: the group lines are its records and their newlines');
    this.#durableSize = at;
    this.#durableSeq = group.tip.seq;
    this.#durableHash = group.tip.hash;
    return group;
  }

  /**
   * Reads `[fromSeq, lastSeq]` from disk. Lines are only parsed (JSON.parse), not strictly decoded, and
   * each record is yielded only once its bytes are proven: line k's sha256 must equal line k+1's `prev`,
   * and the last line's hash must equal the durable head hash this journal holds in memory (computed
   * when it wrote or verified those bytes). By induction from the head, every yielded record has
   * exactly the bytes that were signed and acknowledged, so the strict decode (~3x the cost of the
   * parse) adds nothing; a changed line is JOURNAL_CORRUPT before it is yielded.
   */
  async *#readRange(
    fromSeq: number,
    lastSeq: number,
    lastHash: Digest | null,
    end: number,
  ): AsyncGenerator<AppendedRecord> {
    if (this.#core.closed) throw journalUnavailable('journal is closed');
    if (fromSeq > lastSeq) return;
    const slot = Math.floor((fromSeq - 1) / INDEX_STRIDE);
    const start = this.#index[slot];
    if (start === undefined) throw corruptAt(fromSeq, 'has no index entry');
    let seq = slot * INDEX_STRIDE;
    let hash: Digest | null | undefined = seq === 0 ? null : undefined;
    let pending: AppendedRecord | undefined;
    // A separate read-only handle: a read may outlive close() of the writer without touching its fd.
    const handle = await open(this.path, constants.O_RDONLY);
    try {
      for await (const line of readJournalLines(handle, start, end)) {
        if (!line.complete) throw corruptAt(seq + 1, 'has no newline');
        const record = parseRecordLine(line.bytes);
        if (record === undefined) throw corruptAt(seq + 1, 'is not a record');
        if (record.seq !== seq + 1 || record.stream !== this.stream)
          throw corruptAt(seq + 1, 'is out of sequence');
        // This check proves the previous line's bytes, so the previous record may now be yielded.
        if (hash !== undefined && record.prev !== hash) throw corruptAt(seq, 'does not match the next prev');
        if (pending !== undefined) yield pending;
        seq = record.seq;
        hash = digestBytes(line.bytes);
        pending = seq >= fromSeq ? { record, hash, bytes: line.bytes } : undefined;
        if (seq >= lastSeq) break;
      }
      if (seq !== lastSeq) throw corruptAt(seq + 1, 'is missing');
      if (hash !== lastHash) throw corruptAt(seq, 'does not match the durable head');
      if (pending !== undefined) yield pending;
    } finally {
      await handle.close();
    }
  }
}

const corruptAt = (seq: number, what: string): KernelError => journalCorrupt(`journal record ${seq} ${what}`);

/** Parses a line this journal wrote (and proves by hash afterwards); undefined if it is not record-shaped. */
function parseRecordLine(bytes: Uint8Array): SignedRecord | undefined {
  const r = parseLineObject(bytes);
  if (r === undefined) return undefined;
  const ok =
    typeof r['type'] === 'string' &&
    typeof r['stream'] === 'string' &&
    typeof r['seq'] === 'number' &&
    (r['prev'] === null || typeof r['prev'] === 'string') &&
    typeof r['at'] === 'string' &&
    Object.hasOwn(r, 'body') &&
    typeof r['kid'] === 'string' &&
    typeof r['sig'] === 'string';
  return ok ? (r as unknown as SignedRecord) : undefined;
}
