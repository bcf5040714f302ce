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
  MAX_RECORD_BYTES,
  RecordsError,
  checkRecordBody,
  digestBytes,
  isChainSigner,
  leafHash,
  prepareRecord,
  sealChain,
  sealRecord,
  toBase64url,
  type Digest,
  type PreparedRecord,
  type MerkleAccumulator,
  type RecordType,
  type SignedRecord,
  type Signer,
  type UnsignedRecord,
} from '@edca/records';

import { systemClock, type Clock } from './clock.js';
import { KernelError } from './errors.js';
import {
  assertDraftEnvelopes,
  type AppendedRecord,
  type Journal,
  type JournalHead,
  type RecordDraft,
} from './journal.js';
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

const DEFAULT_CHECKPOINT_EVERY = 1000;
const DEFAULT_VERIFY_TAIL = 1000;
/** Records signed between two looks at the disk (see `#sign`): ~3 ms of signing on this machine. */
const CHECK_EVERY = 32;
/** Most records per batch handed to a chain signer's worker (one round trip each; ≈ 3.5 ms of signing). */
const SEAL_BATCH = 64;
const NEWLINE = new Uint8Array([0x0a]);

const unavailable = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_UNAVAILABLE', message, cause === undefined ? undefined : { cause });

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
    throw error instanceof KernelError ? error : unavailable(`cannot lock journal ${options.path}`, error);
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
      throw unavailable(`cannot open journal ${options.path}`, error);
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
    throw error instanceof KernelError ? error : unavailable(`cannot recover journal ${options.path}`, error);
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

/** One append call waiting in the queue. `drafts` empty with `checkpoint` set: the close checkpoint. */
interface Job {
  readonly drafts: readonly RecordDraft[];
  readonly closeCheckpoint: boolean;
  readonly resolve: (records: AppendedRecord[]) => void;
  readonly reject: (error: unknown) => void;
}

/** A queued record of the chain-signer pipeline: prepared, or a checkpoint waiting for its root. */
type Slot =
  | { readonly kind: 'record'; readonly prepared: PreparedRecord; readonly into: AppendedRecord[] }
  | { readonly kind: 'checkpoint'; readonly seq: number; readonly at: string };

/** A job of the pipeline: done once the record `lastSeq` is sealed (and then durable with its group). */
interface WaitingJob {
  readonly job: Job;
  readonly records: AppendedRecord[];
  readonly lastSeq: number;
}

/** Where the chain's time stands, for {@link stampAfter}. */
interface TimeTip {
  at: string | null;
  atMs: number;
}

/**
 * A record is never dated before the record it follows (an auditor flags time running backwards):
 * concurrent callers stamp drafts before they reach the queue, and checkpoints use the journal's
 * clock, so `at` is raised to the previous record's when it is earlier. Moves `tip` on.
 */
function stampAfter(tip: TimeTip, at: string): string {
  const atMs = Date.parse(at);
  if (atMs < tip.atMs && tip.at !== null) return tip.at;
  tip.at = at;
  tip.atMs = atMs;
  return at;
}

/** Signed records of several jobs, written with one write and one fdatasync. */
interface Group {
  readonly jobs: { readonly job: Job; readonly records: AppendedRecord[] }[];
  readonly chunks: Uint8Array[];
  /** Offsets (relative to the group start) and seqs of lines, for the read index. */
  readonly lines: { readonly seq: number; readonly at: number }[];
  bytes: number;
  lastSeq: number;
  lastHash: Digest | null;
}

class FileJournalImpl implements FileJournal {
  readonly stream: string;
  readonly path: string;
  readonly recovery: FileJournalRecovery;

  readonly #signer: Signer;
  /** True for a chain signer: records are prepared here and sealed in batches off-thread. */
  readonly #batched: boolean;
  readonly #checkpointEvery: number;
  readonly #clock: Clock;
  readonly #fsync: boolean;
  readonly #lock: JournalLock;
  readonly #handle: FileHandle;
  readonly #file: JournalAppendFile;
  readonly #accumulator: MerkleAccumulator;
  readonly #index: number[];

  // The chain tip: includes records signed but not yet durable.
  #tipSeq: number;
  #tipHash: Digest | null;
  #tipAt: string | null;
  #tipAtMs: number;
  #sinceCheckpoint: number;
  // The durable head: what head() and read() expose.
  #durableSeq: number;
  #durableHash: Digest | null;
  #durableSize: number;

  #queue: Job[] = [];
  #pump: Promise<void> | undefined;
  // The chain-signer pipeline (see #appendBatched).
  #slots: Slot[] = [];
  readonly #waiting: WaitingJob[] = [];
  #sealed: Group | undefined;
  #sealInFlight = false;
  #diskInFlight = false;
  #scheduled = false;
  readonly #idle: (() => void)[] = [];
  #wake: (() => void) | undefined;
  #failure: KernelError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

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
    this.#signer = options.signer;
    this.#batched = isChainSigner(options.signer);
    this.#checkpointEvery = initial.checkpointEvery;
    this.#clock = options.clock ?? systemClock;
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
    this.#accumulator = initial.accumulator;
    this.#index = initial.index;
    this.#tipSeq = this.#durableSeq = initial.seq;
    this.#tipHash = this.#durableHash = initial.hash;
    this.#tipAt = initial.at;
    this.#tipAtMs = initial.at === null ? Number.NEGATIVE_INFINITY : Date.parse(initial.at);
    this.#sinceCheckpoint = initial.sinceCheckpoint;
    this.#durableSize = initial.size;
  }

  append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    if (this.#closed) return Promise.reject(unavailable('journal is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    try {
      validateDrafts(drafts);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    if (drafts.length === 0) return Promise.resolve([]);
    // Signing happens later: keep what was validated, not the caller's (mutable) array and drafts.
    const copy = drafts.map((d): RecordDraft => ({ type: d.type, at: d.at, body: d.body }));
    if (this.#batched) return this.#appendBatched(copy);
    return new Promise<AppendedRecord[]>((resolve, reject) => {
      this.#enqueue({ drafts: copy, closeCheckpoint: false, resolve, reject });
    });
  }

  head(): Promise<JournalHead> {
    if (this.#closed) return Promise.reject(unavailable('journal is closed'));
    return Promise.resolve({ seq: this.#durableSeq, hash: this.#durableHash });
  }

  read(fromSeq = 1): AsyncIterable<AppendedRecord> {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1)
      throw new RangeError('fromSeq must be a positive integer');
    // Snapshot the durable end now: records appended later are not part of this read.
    return this.#readRange(fromSeq, this.#durableSeq, this.#durableHash, this.#durableSize);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    let error: Error | undefined;
    try {
      if (this.#batched) await this.#closeBatched();
      await this.#pump;
      // Seal the journal: a final checkpoint covers every record, so a clean file ends with a signed root.
      if (this.#failure === undefined && this.#sinceCheckpoint > 0) {
        await new Promise<AppendedRecord[]>((resolve, reject) => {
          this.#enqueue({ drafts: [], closeCheckpoint: true, resolve, reject });
        });
      }
      await this.#pump;
    } catch (e) {
      error = e instanceof Error ? e : unavailable(String(e));
    }
    await this.#handle.close();
    await this.#lock.release();
    if (error !== undefined) throw error;
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    if (this.#wake) {
      this.#wake();
      this.#wake = undefined;
    }
    // The loop clears #pump itself, synchronously, when it exits: clearing it later (in a `finally`)
    // left a window where a job enqueued after the loop's last check found #pump still set and was
    // never written (an append that never resolved).
    this.#pump ??= this.#run();
  }

  /**
   * The group-commit loop. While one group's write+fdatasync is in flight, jobs that arrive are
   * signed into the next group (CPU work overlaps the disk wait); when the disk is done, the next
   * group is written with one write and one fdatasync. Groups are written strictly in order, and a
   * group starts only after the previous one is durable, so a failure never leaves a later group
   * acknowledged.
   */
  async #run(): Promise<void> {
    try {
      await this.#loop();
    } catch (error) {
      // A broken invariant in the loop: fail closed rather than leave appends pending forever.
      const failure = unavailable(
        'journal append loop failed; the journal refuses appends until reopened',
        error,
      );
      this.#fail(failure);
      for (const job of this.#queue.splice(0)) job.reject(failure);
      this.#pump = undefined;
    }
  }

  async #loop(): Promise<void> {
    let inFlight: { promise: Promise<void>; done: boolean } | undefined;
    let next: Group | undefined;
    for (;;) {
      if (inFlight?.done) inFlight = undefined;
      if (inFlight === undefined && next !== undefined) {
        const group = next;
        next = undefined;
        if (this.#failure) {
          for (const { job } of group.jobs) job.reject(this.#failure);
          continue;
        }
        // Nothing to write or sync (every call was refused alone, or a close found nothing to seal).
        if (group.bytes === 0) {
          for (const { job, records } of group.jobs) job.resolve(records);
          continue;
        }
        const flight = { promise: Promise.resolve(), done: false };
        flight.promise = this.#commit(group).finally(() => {
          flight.done = true;
        });
        inFlight = flight;
        continue;
      }
      if (this.#queue.length > 0) {
        const jobs = this.#queue.splice(0);
        if (this.#failure) {
          for (const job of jobs) job.reject(this.#failure);
          continue;
        }
        next ??= {
          jobs: [],
          chunks: [],
          lines: [],
          bytes: 0,
          lastSeq: this.#tipSeq,
          lastHash: this.#tipHash,
        };
        try {
          const flight = inFlight;
          const rest = await this.#sign(jobs, next, () => flight === undefined || flight.done);
          // Not signed yet: back to the front, ahead of anything that arrived meanwhile (call order).
          if (rest.length > 0) this.#queue.unshift(...rest);
        } catch (error) {
          const failure = unavailable(
            'journal signer failed; the journal refuses appends until reopened',
            error,
          );
          this.#fail(failure);
          for (const job of jobs) if (!next.jobs.some((j) => j.job === job)) job.reject(failure);
          for (const { job } of next.jobs) job.reject(failure);
          next = undefined;
        }
        continue;
      }
      if (inFlight === undefined) {
        this.#pump = undefined;
        return;
      }
      // Wait for the disk, or for a new job to sign meanwhile.
      const arrived = new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      await Promise.race([inFlight.promise, arrived]);
      this.#wake = undefined;
    }
  }

  /**
   * Assigns seq/prev, signs and encodes the jobs' records onto the chain tip, inserting checkpoints.
   * Every {@link CHECK_EVERY} records it looks at the disk: when the disk is idle it stops and returns
   * the jobs not yet signed, so what is signed gets written now and the rest is signed while that
   * write+fdatasync runs (otherwise a crowd of appenders that all sit in one group would alternate
   * signing and syncing instead of overlapping them). While the disk is busy it yields one event
   * loop turn at each check, so a finished fdatasync is noticed mid-batch.
   */
  async #sign(jobs: readonly Job[], group: Group, diskIdle: () => boolean): Promise<Job[]> {
    let sinceCheck = 0;
    for (const [i, job] of jobs.entries()) {
      if (sinceCheck >= CHECK_EVERY && group.jobs.length > 0) {
        sinceCheck = 0;
        if (!diskIdle()) await new Promise<void>((resolve) => setImmediate(resolve));
        if (diskIdle()) return jobs.slice(i);
      }
      sinceCheck += job.drafts.length;
      const records: AppendedRecord[] = [];
      for (const [k, draft] of job.drafts.entries()) {
        let appended: AppendedRecord;
        try {
          appended = await this.#signOne(draft.type, draft.at, draft.body, group);
        } catch (error) {
          // Sealing mutates nothing until it succeeds: a job that fails on its FIRST draft is refused
          // alone and the chain goes on. After that the chain tip has moved: the caller must fail closed.
          if (k > 0) throw error;
          job.reject(
            error instanceof RecordsError && !error.code.startsWith('SIG_')
              ? error
              : unavailable('journal signer failed; nothing was appended', error),
          );
          break;
        }
        records.push(appended);
        this.#sinceCheckpoint += 1;
        if (this.#sinceCheckpoint >= this.#checkpointEvery) await this.#checkpoint(group);
      }
      if (records.length < job.drafts.length) continue;
      if (job.closeCheckpoint && this.#sinceCheckpoint > 0) await this.#checkpoint(group);
      group.jobs.push({ job, records });
    }
    return [];
  }

  async #checkpoint(group: Group): Promise<void> {
    const at = new Date(this.#clock.now()).toISOString();
    const body = { size: this.#accumulator.size, root: toBase64url(this.#accumulator.root()) };
    await this.#signOne('checkpoint', at, body, group);
    this.#sinceCheckpoint = 0;
  }

  async #signOne(
    type: RecordType,
    at: string,
    body: RecordDraft['body'],
    group: Group,
  ): Promise<AppendedRecord> {
    const time: TimeTip = { at: this.#tipAt, atMs: this.#tipAtMs };
    const stamped = stampAfter(time, at);
    const unsigned: UnsignedRecord = {
      type,
      stream: this.stream,
      seq: this.#tipSeq + 1,
      prev: this.#tipHash,
      at: stamped,
      body,
      kid: this.#signer.kid,
    };
    const { record, bytes, hash } = await sealRecord(unsigned, this.#signer);
    this.#accumulator.append(leafHash(bytes));
    this.#tipSeq = record.seq;
    this.#tipHash = hash;
    this.#tipAt = time.at;
    this.#tipAtMs = time.atMs;
    group.lines.push({ seq: record.seq, at: group.bytes });
    group.chunks.push(bytes, NEWLINE);
    group.bytes += bytes.length + 1;
    group.lastSeq = record.seq;
    group.lastHash = hash;
    return { record, hash, bytes };
  }

  // ---- the pipeline for a chain signer --------------------------------------------------------
  // append() checks, stamps and canonicalizes its drafts at once (prepareRecord, on the caller's
  // turn), which fixes their seqs in call order. Prepared records are sealed (signed and hashed) by
  // the signer's worker in batches, one batch in flight at a time, each continuing the chain of the
  // previous one; sealed records wait for the disk, which writes and syncs them as one group while the
  // worker seals the next batch and this thread prepares the batch after. A job resolves once the
  // group holding its last record is durable. A checkpoint's seq and time are fixed when it is
  // placed, its root once every record before it is sealed. Any seal or disk failure fails closed.

  /** Prepares a job's drafts and queues them; refuses the job alone, moving nothing, if one is refused. */
  #appendBatched(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    const records: AppendedRecord[] = [];
    const slots: Slot[] = [];
    const tip = { seq: this.#tipSeq, at: this.#tipAt, atMs: this.#tipAtMs, since: this.#sinceCheckpoint };
    let lastSeq = 0;
    try {
      for (const draft of drafts) {
        const at = stampAfter(tip, draft.at);
        tip.seq += 1;
        lastSeq = tip.seq;
        const prepared = prepareRecord({
          type: draft.type,
          stream: this.stream,
          seq: tip.seq,
          at,
          body: draft.body,
          kid: this.#signer.kid,
        });
        slots.push({ kind: 'record', prepared, into: records });
        tip.since += 1;
        if (tip.since >= this.#checkpointEvery) {
          tip.seq += 1;
          slots.push({ kind: 'checkpoint', seq: tip.seq, at: stampAfter(tip, this.#nowIso()) });
          tip.since = 0;
        }
      }
    } catch (error) {
      return Promise.reject(
        error instanceof RecordsError ? error : unavailable('journal could not prepare the record', error),
      );
    }
    this.#tipSeq = tip.seq;
    this.#tipAt = tip.at;
    this.#tipAtMs = tip.atMs;
    this.#sinceCheckpoint = tip.since;
    this.#slots.push(...slots);
    return new Promise<AppendedRecord[]>((resolve, reject) => {
      this.#waiting.push({ job: { drafts, closeCheckpoint: false, resolve, reject }, records, lastSeq });
      this.#schedule();
    });
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  /** Runs the pipeline once the current turn's appends are queued (they then share a batch). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pumpSeal();
      this.#pumpDisk();
    });
  }

  /** Sends the next batch to the signer's worker when none is in flight. */
  #pumpSeal(): void {
    if (this.#sealInFlight || this.#failure !== undefined || this.#slots.length === 0) return;
    const batch: PreparedRecord[] = [];
    const into: (AppendedRecord[] | undefined)[] = [];
    try {
      const first = this.#slots[0]!;
      if (first.kind === 'checkpoint') {
        // Every record before it is sealed (batches end before a checkpoint), so the root is known.
        if (this.#accumulator.size !== first.seq - 1)
          throw new Error('invariant: checkpoint root does not cover exactly the records before it');
        const body = { size: this.#accumulator.size, root: toBase64url(this.#accumulator.root()) };
        batch.push(
          prepareRecord({
            type: 'checkpoint',
            stream: this.stream,
            seq: first.seq,
            at: first.at,
            body,
            kid: this.#signer.kid,
          }),
        );
        into.push(undefined);
        this.#slots.shift();
      }
      let n = 0;
      while (n < this.#slots.length && batch.length < SEAL_BATCH) {
        const slot = this.#slots[n]!;
        if (slot.kind === 'checkpoint') break;
        batch.push(slot.prepared);
        into.push(slot.into);
        n += 1;
      }
      this.#slots.splice(0, n);
    } catch (error) {
      this.#failAll(
        unavailable('journal append pipeline failed; the journal refuses appends until reopened', error),
      );
      return;
    }
    this.#sealInFlight = true;
    sealChain(this.#tipHash, batch, this.#signer).then(
      (sealed) => {
        this.#sealInFlight = false;
        if (this.#failure !== undefined) return;
        const group = (this.#sealed ??= {
          jobs: [],
          chunks: [],
          lines: [],
          bytes: 0,
          lastSeq: 0,
          lastHash: null,
        });
        let at = group.bytes;
        for (const [i, s] of sealed.records.entries()) {
          this.#accumulator.append(s.leaf);
          this.#tipHash = s.hash;
          group.lines.push({ seq: s.record.seq, at });
          at += s.bytes.length + 1;
          group.lastSeq = s.record.seq;
          group.lastHash = s.hash;
          into[i]?.push({ record: s.record, hash: s.hash, bytes: s.bytes });
        }
        if (at - group.bytes !== sealed.lines.length)
          throw new Error('invariant: sealed lines are not the records and their newlines');
        group.chunks.push(sealed.lines);
        group.bytes = at;
        while (this.#waiting.length > 0 && this.#waiting[0]!.lastSeq <= group.lastSeq) {
          const { job, records } = this.#waiting.shift()!;
          group.jobs.push({ job, records });
        }
        this.#pumpDisk();
        this.#pumpSeal();
        this.#settleIdle();
      },
      (error: unknown) => {
        this.#sealInFlight = false;
        this.#failAll(
          unavailable('journal signer failed; the journal refuses appends until reopened', error),
        );
      },
    );
  }

  /** Writes and syncs what is sealed when the disk is free. */
  #pumpDisk(): void {
    if (this.#diskInFlight || this.#failure !== undefined || this.#sealed === undefined) return;
    const group = this.#sealed;
    this.#sealed = undefined;
    this.#diskInFlight = true;
    // #commit reports disk failures itself; anything it throws besides is a broken invariant: fail closed.
    void this.#commit(group)
      .catch((error: unknown) => {
        for (const { job } of group.jobs) job.reject(unavailable('journal commit failed', error));
        this.#fail(unavailable('journal commit failed; the journal refuses appends until reopened', error));
      })
      .then(() => {
        this.#diskInFlight = false;
        if (this.#failure !== undefined) this.#failAll(this.#failure);
        this.#pumpDisk();
        this.#settleIdle();
      });
  }

  /** Fails the journal closed and rejects every job not yet acknowledged. */
  #failAll(failure: KernelError): void {
    this.#fail(failure);
    const error = this.#failure ?? failure;
    this.#slots = [];
    const sealed = this.#sealed;
    this.#sealed = undefined;
    for (const { job } of sealed?.jobs ?? []) job.reject(error);
    for (const { job } of this.#waiting.splice(0)) job.reject(error);
    this.#settleIdle();
  }

  #pipelineIdle(): boolean {
    return (
      !this.#sealInFlight &&
      !this.#diskInFlight &&
      this.#sealed === undefined &&
      (this.#slots.length === 0 || this.#failure !== undefined) &&
      this.#waiting.length === 0
    );
  }

  #settleIdle(): void {
    if (!this.#pipelineIdle()) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once nothing is queued, sealing or being written. */
  #drain(): Promise<void> {
    if (this.#pipelineIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** close() for the pipeline: drain, seal the journal with a checkpoint, drain again. */
  async #closeBatched(): Promise<void> {
    await this.#drain();
    if (this.#failure === undefined && this.#sinceCheckpoint > 0) {
      const tip = { seq: this.#tipSeq, at: this.#tipAt, atMs: this.#tipAtMs, since: 0 };
      const at = stampAfter(tip, this.#nowIso());
      this.#tipSeq += 1;
      this.#tipAt = tip.at;
      this.#tipAtMs = tip.atMs;
      this.#sinceCheckpoint = 0;
      this.#slots.push({ kind: 'checkpoint', seq: this.#tipSeq, at });
      await new Promise<AppendedRecord[]>((resolve, reject) => {
        const job: Job = { drafts: [], closeCheckpoint: true, resolve, reject };
        this.#waiting.push({ job, records: [], lastSeq: this.#tipSeq });
        this.#schedule();
      });
    }
    // A failure was reported to the appends it refused; close still releases the file and lock.
    await this.#drain();
  }

  /** Writes and syncs one group, then acknowledges its jobs; on any failure the journal fails closed. */
  async #commit(group: Group): Promise<void> {
    try {
      await this.#file.write(Buffer.concat(group.chunks, group.bytes));
      if (this.#fsync) await this.#file.sync();
    } catch (error) {
      this.#fail(
        unavailable('journal write or fdatasync failed; the journal refuses appends until reopened', error),
      );
      for (const { job } of group.jobs) job.reject(this.#failure);
      return;
    }
    for (const line of group.lines) {
      if ((line.seq - 1) % INDEX_STRIDE === 0) this.#index.push(this.#durableSize + line.at);
    }
    this.#durableSize += group.bytes;
    this.#durableSeq = group.lastSeq;
    this.#durableHash = group.lastHash;
    for (const { job, records } of group.jobs) job.resolve(records);
  }

  #fail(error: KernelError): void {
    this.#failure ??= error;
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
    if (this.#closed) throw unavailable('journal is closed');
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

const corruptAt = (seq: number, what: string): KernelError =>
  new KernelError('JOURNAL_CORRUPT', `journal record ${seq} ${what}`);

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

/** Room left in a line for the envelope around a body (stream, kid, sig, prev, …). */
const ENVELOPE_ALLOWANCE = 4096;

/**
 * Refuses malformed drafts before they reach the signing pipeline: once a group is being signed,
 * any failure fails the whole journal closed, so a bad draft must be caught here, alone.
 */
function validateDrafts(drafts: unknown): asserts drafts is readonly RecordDraft[] {
  assertDraftEnvelopes(drafts);
  for (const [k, draft] of drafts.entries()) {
    // The first draft's body schema and size are checked by sealRecord itself (a failure there refuses
    // the job alone, before anything moved); later drafts must be checked here, since by the time
    // they are sealed the job's first records have moved the chain tip.
    if (k === 0) continue;
    checkRecordBody(draft);
    // RFC 8785 serializes strings and numbers as ECMAScript does, so this is the canonical length.
    if (Buffer.byteLength(JSON.stringify(draft.body), 'utf8') > MAX_RECORD_BYTES - ENVELOPE_ALLOWANCE) {
      throw new RangeError('draft.body is too large for one record line');
    }
  }
}
