/**
 * The journal front end every `Journal` adapter shares: the append queue, group commit, the chain tip
 * (seq, prev, time, Merkle accumulator, records since the last checkpoint), signing (inline, or in
 * batches on a chain signer's worker), checkpoints, the closing checkpoint and the fail-closed state.
 * An adapter supplies only a {@link JournalSink}: how a signed group becomes durable (and, for a
 * store other writers share, how the group is moved onto a chain that advanced meanwhile), plus its
 * own open, `head()` and `read()`. See docs/journal.md ("One journal core").
 */
import {
  MAX_RECORD_BYTES,
  RecordsError,
  checkRecordBody,
  isChainSigner,
  leafHash,
  prepareRecord,
  sealChain,
  sealRecord,
  toBase64url,
  type Digest,
  type PreparedRecord,
  type RecordType,
  type Signer,
  type UnsignedRecord,
} from '@edca/records';

import { systemClock, type Clock } from './clock.js';
import { KernelError } from './errors.js';
import { LineArena, pushContiguous } from './internal/line-arena.js';
import { assertDraftEnvelopes, type AppendedRecord, type RecordDraft } from './journal.js';

/** A `checkpoint` follows every N-th non-checkpoint record unless a journal is told otherwise. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** A `KernelError` JOURNAL_UNAVAILABLE: the journal cannot append or read (now, or until reopened). */
export const journalUnavailable = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_UNAVAILABLE', message, cause === undefined ? undefined : { cause });

/** A `KernelError` JOURNAL_CORRUPT: stored records do not decode, chain or match their head. */
export const journalCorrupt = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_CORRUPT', message, cause === undefined ? undefined : { cause });

/** Records signed between two looks at the sink (see `#sign`). */
const CHECK_EVERY = 32;
/** Most records per batch handed to a chain signer's worker (one round trip each). */
const SEAL_BATCH = 64;
/** Fewest records worth a second seal round trip while one group is being made durable. */
const SEAL_BATCH_WHILE_WRITING = 32;

/** The RFC 6962 accumulator the core extends: records' `MerkleAccumulator`, or any stored form of it. */
export interface JournalAccumulator {
  readonly size: number;
  append(leaf: Uint8Array): void;
  /**
   * Appends the leaf of a record's line (`append(leafHash(line))`) without allocating the leaf's
   * input and hash per line, as `MerkleAccumulator.appendLine` does; optional.
   */
  appendLine?(line: Uint8Array): void;
  root(): Uint8Array;
}

/** Where a chain stands after its last record. */
export interface ChainState {
  /** seq of the last record (0 when empty). */
  readonly seq: number;
  /** Hash of the last record (null when empty). */
  readonly hash: Digest | null;
  /** `at` of the last record (null when empty): no later record is dated before it. */
  readonly at: string | null;
  /** Non-checkpoint records since the last checkpoint. */
  readonly sinceCheckpoint: number;
}

/** A chain as stored, with its accumulator over records `1..seq`: what a group is moved onto. */
export interface StoredChain<A extends JournalAccumulator> extends ChainState {
  readonly accumulator: A;
}

/** One append call waiting for a group. `drafts` empty with `closeCheckpoint` set: the close seal. */
export interface JournalJob {
  readonly drafts: readonly RecordDraft[];
  readonly closeCheckpoint: boolean;
  readonly resolve: (records: AppendedRecord[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Signed records of several append calls, made durable together (one write+sync, one COMMIT). */
export interface JournalGroup {
  /** The chain this group continues (its first record's prev is `base.hash`). */
  readonly base: ChainState;
  /** Every record of the group in order, the checkpoints the core inserted included. */
  readonly records: AppendedRecord[];
  /** The records' lines (bytes, each followed by a newline), possibly as fewer, larger chunks. */
  readonly chunks: Uint8Array[];
  /** Total length of `chunks`. */
  byteLength: number;
  /** The chain after the group's last record. */
  tip: ChainState;
  /** What the sink's `snapshot` returned for the accumulator after the group's last record. */
  snapshot: Uint8Array | undefined;
  /** The calls the group acknowledges, with the records each one gets back (the core's business). */
  readonly jobs: { readonly job: JournalJob; readonly records: AppendedRecord[] }[];
}

/** How a group becomes durable: the one thing (besides open and read) an adapter writes. */
export interface JournalSink<A extends JournalAccumulator> {
  /**
   * True when other writers append to the same stored chain (several instances on one database):
   * groups are then committed one at a time, and `commit` may move a group onto a chain that
   * advanced meanwhile by calling `rebase`. False for a single-writer store (a locked file), whose
   * core signs the next group while the previous one is being made durable.
   */
  readonly shared: boolean;
  /**
   * Makes `group` durable and resolves with the group it wrote; rejects when nothing of it is known
   * durable (the journal then fails closed). A shared sink that finds the stored chain past
   * `group.base` calls `rebase` with the stored chain (while it keeps other writers out) and writes
   * the group it returns instead.
   */
  commit(
    group: JournalGroup,
    rebase: (stored: StoredChain<A>) => Promise<JournalGroup>,
  ): Promise<JournalGroup>;
  /** The stored form of the accumulator after a group, kept in `group.snapshot` (optional). */
  snapshot?(accumulator: A): Uint8Array;
}

/** Options of {@link JournalCore}. */
export interface JournalCoreOptions<A extends JournalAccumulator> {
  readonly stream: string;
  readonly signer: Signer;
  readonly checkpointEvery: number;
  readonly clock?: Clock;
  /** The chain as the adapter found it; a shared sink may start from any state (the first commit rebases). */
  readonly initial: StoredChain<A>;
  readonly sink: JournalSink<A>;
  /** Most draft records one group takes from the queue (a larger single call goes alone); default unlimited. */
  readonly maxGroupRecords?: number;
}

/** Where the chain's time stands, for {@link stampAfter}. */
interface TimeTip {
  at: string | null;
  atMs: number;
}

/**
 * A record is never dated before the record it follows (an auditor flags time running backwards):
 * concurrent callers stamp drafts before they reach the queue, instances' clocks differ, and
 * checkpoints use the journal's clock, so `at` is raised to the previous record's when it is
 * earlier. Moves `tip` on.
 */
function stampAfter(tip: TimeTip, at: string): string {
  const atMs = Date.parse(at);
  if (atMs < tip.atMs && tip.at !== null) return tip.at;
  tip.at = at;
  tip.atMs = atMs;
  return at;
}

/** A queued record of the chain-signer pipeline: prepared, or a checkpoint waiting for its root. */
type Slot =
  | { readonly kind: 'record'; readonly prepared: PreparedRecord; readonly into: AppendedRecord[] }
  | { readonly kind: 'checkpoint'; readonly seq: number; readonly at: string };

/** A job of the pipeline: done once the record `lastSeq` is sealed (and then durable with its group). */
interface WaitingJob {
  readonly job: JournalJob;
  readonly records: AppendedRecord[];
  readonly lastSeq: number;
}

const emptyGroup = (base: ChainState): JournalGroup => ({
  base,
  records: [],
  chunks: [],
  byteLength: 0,
  tip: base,
  snapshot: undefined,
  jobs: [],
});

/**
 * The shared journal front end. An adapter validates its options, opens its store, builds a core
 * over a {@link JournalSink} and forwards `append` and `close` to it.
 */
export class JournalCore<A extends JournalAccumulator> {
  readonly stream: string;

  readonly #signer: Signer;
  /** True for a chain signer on a single-writer sink: records are sealed in batches off-thread. */
  readonly #batched: boolean;
  /** Sign the next group while the previous one is being made durable (single-writer sinks). */
  readonly #overlap: boolean;
  readonly #checkpointEvery: number;
  readonly #maxGroupRecords: number;
  readonly #clock: Clock;
  readonly #sink: JournalSink<A>;
  #accumulator: A;
  /** Where lines signed on this thread are kept (see internal/line-arena.ts). */
  readonly #lines = new LineArena();

  // The chain tip: includes records signed but not yet durable.
  #tipSeq: number;
  #tipHash: Digest | null;
  #tipAt: string | null;
  #tipAtMs: number;
  #sinceCheckpoint: number;
  // The durable head.
  #durableSeq: number;
  #durableHash: Digest | null;

  #queue: JournalJob[] = [];
  #pump: Promise<void> | undefined;
  // The chain-signer pipeline (see #appendBatched).
  #slots: Slot[] = [];
  readonly #waiting: WaitingJob[] = [];
  #sealed: JournalGroup | undefined;
  #sealInFlight = false;
  #diskInFlight = false;
  /** A batch was sent to the signer since the group being written started. */
  #sealedDuringWrite = false;
  #scheduled = false;
  readonly #idle: (() => void)[] = [];
  #wake: (() => void) | undefined;
  #failure: KernelError | undefined;
  #closed = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: JournalCoreOptions<A>) {
    this.stream = options.stream;
    this.#signer = options.signer;
    this.#sink = options.sink;
    this.#batched = isChainSigner(options.signer) && !options.sink.shared;
    this.#overlap = !options.sink.shared;
    this.#checkpointEvery = options.checkpointEvery;
    this.#maxGroupRecords = options.maxGroupRecords ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    const initial = options.initial;
    this.#accumulator = initial.accumulator;
    this.#tipSeq = this.#durableSeq = initial.seq;
    this.#tipHash = this.#durableHash = initial.hash;
    this.#tipAt = initial.at;
    this.#tipAtMs = initial.at === null ? Number.NEGATIVE_INFINITY : Date.parse(initial.at);
    this.#sinceCheckpoint = initial.sinceCheckpoint;
  }

  /** seq and hash of the last record this core made durable (or found when it was built). */
  get durable(): { readonly seq: number; readonly hash: Digest | null } {
    return { seq: this.#durableSeq, hash: this.#durableHash };
  }

  /** True after `close()` began. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The `Journal.append` contract: validated, queued, signed in a group, resolved once durable. */
  append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    if (this.#closed) return Promise.reject(journalUnavailable('journal is closed'));
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

  /**
   * A journal adapter's `close()`: once, however often it is called — {@link close}, then `release`
   * (the adapter's file, lock or pool), which runs even when sealing failed; the sealing failure is
   * then what every call rejects with.
   */
  shutdown(release: () => Promise<void>): Promise<void> {
    this.#shutdown ??= (async () => {
      let error: Error | undefined;
      try {
        await this.close();
      } catch (e) {
        error = e instanceof Error ? e : journalUnavailable(`closing the journal failed: ${String(e)}`);
      }
      await release();
      if (error !== undefined) throw error;
    })();
    return this.#shutdown;
  }

  /**
   * Stops taking appends, waits for those in flight and seals the chain with a checkpoint over every
   * record when this core appended records since the last one. Rejects with the failure that
   * refused appends (the adapter still releases its resources).
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#batched) await this.#closeBatched();
    await this.#pump;
    if (this.#failure === undefined && this.#sinceCheckpoint > 0) {
      await new Promise<AppendedRecord[]>((resolve, reject) => {
        this.#enqueue({ drafts: [], closeCheckpoint: true, resolve, reject });
      });
    }
    await this.#pump;
  }

  #enqueue(job: JournalJob): void {
    this.#queue.push(job);
    if (this.#wake) {
      this.#wake();
      this.#wake = undefined;
    }
    // The loop clears #pump itself, synchronously, when it exits: clearing it later (in a `finally`)
    // would leave a window where a job enqueued after the loop's last check found #pump still set and
    // was never written (an append that never resolves).
    this.#pump ??= this.#run();
  }

  /**
   * The group-commit loop. Groups are made durable strictly in order, a group starts only after the
   * previous one is durable, so a failure never leaves a later group acknowledged. With a
   * single-writer sink, jobs that arrive while a group is in flight are signed into the next group
   * (CPU work overlaps the disk wait).
   */
  async #run(): Promise<void> {
    try {
      await this.#loop();
    } catch (error) {
      // A broken invariant in the loop: fail closed rather than leave appends pending forever.
      const failure = journalUnavailable(
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
    let next: JournalGroup | undefined;
    for (;;) {
      if (inFlight?.done) inFlight = undefined;
      if (inFlight === undefined && next !== undefined) {
        const group = next;
        next = undefined;
        if (this.#failure) {
          for (const { job } of group.jobs) job.reject(this.#failure);
          continue;
        }
        // Nothing to write (every call was refused alone, or a close found nothing to seal).
        if (group.records.length === 0) {
          for (const { job, records } of group.jobs) job.resolve(records);
          continue;
        }
        // Nothing was signed after this group, so the core's tip and accumulator are the group's end.
        group.tip = this.#tip();
        group.snapshot = this.#sink.snapshot?.(this.#accumulator);
        const flight = { promise: Promise.resolve(), done: false };
        flight.promise = this.#commit(group).finally(() => {
          flight.done = true;
        });
        inFlight = flight;
        continue;
      }
      if (this.#queue.length > 0 && (this.#overlap || inFlight === undefined)) {
        const jobs = this.#takeJobs();
        if (this.#failure) {
          for (const job of jobs) job.reject(this.#failure);
          continue;
        }
        next ??= emptyGroup(this.#tip());
        try {
          const flight = inFlight;
          // A shared sink commits one group at a time: sign the whole group before committing it.
          const sinkIdle = this.#overlap ? () => flight === undefined || flight.done : () => false;
          const rest = await this.#sign(jobs, next, sinkIdle);
          // Not signed yet: back to the front, ahead of anything that arrived meanwhile (call order).
          if (rest.length > 0) this.#queue.unshift(...rest);
        } catch (error) {
          const failure = journalUnavailable(
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
      // Wait for the sink, or for a new job to sign meanwhile.
      const arrived = new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      await Promise.race([inFlight.promise, arrived]);
      this.#wake = undefined;
    }
  }

  /** Whole calls from the queue, up to `maxGroupRecords` drafts (a larger single call goes alone). */
  #takeJobs(): JournalJob[] {
    let count = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const size = this.#queue[n]!.drafts.length;
      if (n > 0 && count + size > this.#maxGroupRecords) break;
      count += size;
      n += 1;
    }
    return this.#queue.splice(0, n);
  }

  #tip(): ChainState {
    return {
      seq: this.#tipSeq,
      hash: this.#tipHash,
      at: this.#tipAt,
      sinceCheckpoint: this.#sinceCheckpoint,
    };
  }

  /**
   * Assigns seq/prev, signs and encodes the jobs' records onto the chain tip, inserting checkpoints.
   * Every {@link CHECK_EVERY} records it looks at the sink: when the sink is idle it stops and returns
   * the jobs not yet signed, so what is signed gets written now and the rest is signed while that
   * group is made durable (otherwise a crowd of appenders that all sit in one group would alternate
   * signing and syncing instead of overlapping them). While the sink is busy it yields one event
   * loop turn at each check, so a finished write is noticed mid-batch.
   */
  async #sign(
    jobs: readonly JournalJob[],
    group: JournalGroup,
    sinkIdle: () => boolean,
  ): Promise<JournalJob[]> {
    let sinceCheck = 0;
    for (const [i, job] of jobs.entries()) {
      if (sinceCheck >= CHECK_EVERY && group.jobs.length > 0) {
        sinceCheck = 0;
        if (!sinkIdle()) await new Promise<void>((resolve) => setImmediate(resolve));
        if (sinkIdle()) return jobs.slice(i);
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
              : journalUnavailable('journal signer failed; nothing was appended', error),
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

  async #checkpoint(group: JournalGroup): Promise<void> {
    const at = this.#nowIso();
    const body = { size: this.#accumulator.size, root: toBase64url(this.#accumulator.root()) };
    await this.#signOne('checkpoint', at, body, group);
    this.#sinceCheckpoint = 0;
  }

  async #signOne(
    type: RecordType,
    at: string,
    body: RecordDraft['body'],
    group: JournalGroup,
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
    const sealed = await sealRecord(unsigned, this.#signer);
    const { record, hash } = sealed;
    const line = this.#lines.add(sealed.bytes);
    const bytes = line.bytes;
    if (this.#accumulator.appendLine) this.#accumulator.appendLine(bytes);
    else this.#accumulator.append(leafHash(bytes));
    this.#tipSeq = record.seq;
    this.#tipHash = hash;
    this.#tipAt = time.at;
    this.#tipAtMs = time.atMs;
    const appended: AppendedRecord = { record, hash, bytes };
    group.records.push(appended);
    pushContiguous(group.chunks, line.withNewline);
    group.byteLength += bytes.length + 1;
    return appended;
  }

  /** Makes one group durable and acknowledges its jobs; any failure fails the journal closed. */
  async #commit(group: JournalGroup): Promise<void> {
    let written: JournalGroup;
    try {
      written = await this.#sink.commit(group, (stored) => this.#rebase(group, stored));
    } catch (error) {
      const failure =
        error instanceof KernelError
          ? error
          : journalUnavailable(
              'journal write or commit failed; the journal refuses appends until reopened',
              error,
            );
      this.#fail(failure);
      for (const { job } of group.jobs) job.reject(this.#failure);
      return;
    }
    this.#durableSeq = written.tip.seq;
    this.#durableHash = written.tip.hash;
    for (const { job, records } of written.jobs) job.resolve(records);
  }

  /**
   * Re-signs a group's calls onto the chain as stored (another writer appended since this core last
   * saw it): the tip, time and accumulator become the stored ones. Only for shared sinks, whose loop
   * signs nothing else while a group is being committed.
   */
  async #rebase(group: JournalGroup, stored: StoredChain<A>): Promise<JournalGroup> {
    if (this.#overlap) throw new Error('invariant: only a shared sink may rebase a group');
    this.#accumulator = stored.accumulator;
    this.#tipSeq = stored.seq;
    this.#tipHash = stored.hash;
    this.#tipAt = stored.at;
    this.#tipAtMs = stored.at === null ? Number.NEGATIVE_INFINITY : Date.parse(stored.at);
    this.#sinceCheckpoint = stored.sinceCheckpoint;
    const again = emptyGroup(this.#tip());
    const rest = await this.#sign(
      group.jobs.map(({ job }) => job),
      again,
      () => false,
    );
    if (rest.length > 0) throw new Error('invariant: a rebase signs every call of its group');
    again.tip = this.#tip();
    again.snapshot = this.#sink.snapshot?.(this.#accumulator);
    return again;
  }

  #fail(error: KernelError): void {
    this.#failure ??= error;
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  // ---- the pipeline for a chain signer --------------------------------------------------------
  // append() checks, stamps and canonicalizes its drafts at once (prepareRecord, on the caller's
  // turn), which fixes their seqs in call order. Prepared records are sealed (signed and hashed) by
  // the signer's worker in batches, one batch in flight at a time, each continuing the chain of the
  // previous one; sealed records wait for the sink, which makes them durable as one group while the
  // worker seals the next batch (once enough records wait for one, else when the sink is free) and
  // this thread prepares the batch after. A job resolves once the
  // group holding its last record is durable. A checkpoint's seq and time are fixed when it is
  // placed, its root once every record before it is sealed. Any seal or sink failure fails closed.

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
        error instanceof RecordsError
          ? error
          : journalUnavailable('journal could not prepare the record', error),
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
    // One batch is sealed while a group is being written (the overlap); after it, more records wait
    // until a batch's worth is there or the disk is free: they could not be durable sooner, and a
    // fast signer would otherwise mean more, smaller round trips (each a fixed cost on this thread).
    if (this.#diskInFlight && this.#sealedDuringWrite && this.#slots.length < SEAL_BATCH_WHILE_WRITING)
      return;
    if (this.#diskInFlight) this.#sealedDuringWrite = true;
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
        journalUnavailable(
          'journal append pipeline failed; the journal refuses appends until reopened',
          error,
        ),
      );
      return;
    }
    this.#sealInFlight = true;
    sealChain(this.#tipHash, batch, this.#signer).then(
      (sealed) => {
        this.#sealInFlight = false;
        if (this.#failure !== undefined) return;
        const head = sealed.records[0]?.record;
        // A single-writer sink reads only the records and lines; base is informative here.
        const group = (this.#sealed ??= emptyGroup({
          seq: head === undefined ? this.#durableSeq : head.seq - 1,
          hash: head === undefined ? this.#durableHash : head.prev,
          at: null,
          sinceCheckpoint: 0,
        }));
        let bytes = 0;
        for (const [i, s] of sealed.records.entries()) {
          this.#accumulator.append(s.leaf);
          this.#tipHash = s.hash;
          const appended: AppendedRecord = { record: s.record, hash: s.hash, bytes: s.bytes };
          group.records.push(appended);
          bytes += s.bytes.length + 1;
          into[i]?.push(appended);
        }
        if (bytes !== sealed.lines.length)
          throw new Error('invariant: sealed lines are not the records and their newlines');
        group.chunks.push(sealed.lines);
        group.byteLength += bytes;
        const last = sealed.records[sealed.records.length - 1];
        if (last !== undefined) {
          group.tip = { seq: last.record.seq, hash: last.hash, at: last.record.at, sinceCheckpoint: 0 };
        }
        while (this.#waiting.length > 0 && this.#waiting[0]!.lastSeq <= group.tip.seq) {
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
          journalUnavailable('journal signer failed; the journal refuses appends until reopened', error),
        );
      },
    );
  }

  /** Makes what is sealed durable when the sink is free. */
  #pumpDisk(): void {
    if (this.#diskInFlight || this.#failure !== undefined || this.#sealed === undefined) return;
    const group = this.#sealed;
    this.#sealed = undefined;
    group.snapshot = this.#sink.snapshot?.(this.#accumulator);
    this.#diskInFlight = true;
    this.#sealedDuringWrite = this.#sealInFlight;
    // #commit reports sink failures itself; anything it throws besides is a broken invariant: fail closed.
    void this.#commit(group)
      .catch((error: unknown) => {
        const failure = journalUnavailable(
          'journal commit failed; the journal refuses appends until reopened',
          error,
        );
        for (const { job } of group.jobs) job.reject(failure);
        this.#fail(failure);
      })
      .then(() => {
        this.#diskInFlight = false;
        if (this.#failure !== undefined) this.#failAll(this.#failure);
        this.#pumpDisk();
        this.#pumpSeal();
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
        const job: JournalJob = { drafts: [], closeCheckpoint: true, resolve, reject };
        this.#waiting.push({ job, records: [], lastSeq: this.#tipSeq });
        this.#schedule();
      });
    }
    // A failure was reported to the appends it refused; close still releases the file and lock.
    await this.#drain();
  }
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
