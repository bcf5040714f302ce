/**
 * The kernel's ledger and its journal kept in step: every record the kernel appends is applied to
 * the ledger, the ledger is pruned as time passes, and every `snapshotEvery` records its state is
 * written into the journal as a signed `snapshot` record. A restart folds from the last snapshot
 * instead of from the first record (`foldJournal`).
 *
 * A snapshot must be exactly the fold of the records before it (the auditor checks it): it is
 * written with no append of this kernel in flight, after checking that every record of the stream
 * the kernel did not append itself is a checkpoint. A stream another writer appends to (several
 * instances on one PostgreSQL stream) gets no snapshots from this kernel: its ledger is not the
 * stream's fold.
 */
import {
  apply,
  prune,
  restoreSnapshot,
  SnapshotError,
  snapshotSizeFloor,
  snapshotState,
  type LedgerState,
  type SnapshotBody,
  type Violation,
} from '@edca/ledger';
import { MAX_RECORD_BYTES, type JsonValue } from '@edca/records';

import type { Clock } from '../clock.js';
import type { AppendedRecord, Journal, RecordDraft } from '../journal.js';

/** Records between snapshots when the kernel option `snapshotEvery` is not given. */
export const DEFAULT_SNAPSHOT_EVERY = 10_000;
/** Records between two prunes of the live ledger. */
const PRUNE_EVERY = 4096;
/** A snapshot line leaves this much of a record's byte limit to the envelope and the signature. */
const ENVELOPE_BYTES = 4096;

const toRfc3339 = (ms: number): string => new Date(ms).toISOString();

/** What a snapshot attempt did (for tests and benchmarks). */
export interface SnapshotStats {
  written: number;
  /** Skipped: the state did not fit one record. */
  tooLarge: number;
  /** Another writer's record was seen on the stream: snapshots are off for this kernel. */
  foreign: boolean;
}

/** The kernel's appends through its ledger. */
export interface LedgerJournal {
  /** Appends drafts (after a snapshot being written), applies them to the ledger, may start a snapshot. */
  append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]>;
  /** From now on the ledger folds every record up to `seq` (after recovery). */
  startAt(seq: number): void;
  /** Resolves once no snapshot is being written. */
  idle(): Promise<void>;
  readonly stats: SnapshotStats;
}

/** What `createLedgerJournal` keeps in step. */
export interface LedgerJournalOptions {
  readonly journal: Journal;
  readonly ledger: LedgerState;
  readonly clock: Clock;
  /** 0: never write snapshots. */
  readonly snapshotEvery: number;
  /**
   * A prune forgets only what expired this long before now, and a snapshot is pruned as of then:
   * a permit execute checked unexpired just before its expiry keeps its holds while its attempt is
   * on its way to the journal.
   */
  readonly pruneGraceMs: number;
  /** Told of every record applied to the ledger, in order (the embedded store follows the fold). */
  readonly applied?: (appended: AppendedRecord) => void;
}

/**
 * Applies the records of the stream after `base` that the kernel did not append (`applied`):
 * checkpoints the journal inserted (read back only when the journal is not exclusive). Returns the
 * head seq the ledger then folds through, or undefined when another writer's record is there.
 */
async function catchUp(
  journal: Journal,
  base: number,
  applied: ReadonlySet<number>,
  fold: (appended: AppendedRecord) => void,
): Promise<number | undefined> {
  const head = await journal.head();
  // Only checkpoints can lie between an exclusive journal's appends, and they change nothing but
  // the ledger's seq: nothing to read.
  if (journal.exclusive === true) return head.seq;
  for (let seq = base + 1; seq <= head.seq; seq++) {
    if (applied.has(seq)) continue;
    let found: AppendedRecord | undefined;
    for await (const r of journal.read(seq)) {
      found = r;
      break;
    }
    if (found?.record.type !== 'checkpoint') return undefined;
    fold(found);
  }
  return head.seq;
}

/**
 * Prunes `ledger` as of `pruneGraceMs` before `nowMs` and returns its `snapshot` record, or
 * undefined when it does not fit one record.
 */
function snapshotDraft(
  ledger: LedgerState,
  through: number,
  nowMs: number,
  pruneGraceMs: number,
): RecordDraft | undefined {
  const prunedMs = nowMs - pruneGraceMs;
  prune(ledger, prunedMs);
  const limit = MAX_RECORD_BYTES - ENVELOPE_BYTES;
  if (snapshotSizeFloor(ledger, prunedMs) > limit) return undefined;
  const body: SnapshotBody = {
    through,
    prunedAt: toRfc3339(prunedMs),
    state: snapshotState(ledger, prunedMs),
  };
  if (JSON.stringify(body).length > limit) return undefined;
  return { type: 'snapshot', at: toRfc3339(nowMs), body: body as unknown as JsonValue };
}

/**
 * Whether a snapshot of `ledger` (pruned as `snapshotDraft` prunes it) cannot fit one record; then
 * the skip is counted in `stats`. Writing a snapshot first waits for every append in flight and
 * holds new ones back; a state past one record now is past it after them too (they only add
 * permits), so the wait can be skipped. Only for an exclusive journal: nothing but this kernel's
 * appends and checkpoints come between.
 */
function skipsTooLarge(
  ledger: LedgerState,
  nowMs: number,
  pruneGraceMs: number,
  stats: SnapshotStats,
): boolean {
  if (snapshotSizeFloor(ledger, nowMs - pruneGraceMs) <= MAX_RECORD_BYTES - ENVELOPE_BYTES) return false;
  stats.tooLarge += 1;
  return true;
}

/**
 * Wraps a journal so the kernel's ledger moves with every record appended.
 * @example const lj = createLedgerJournal({ journal, ledger, clock, snapshotEvery: 10_000, pruneGraceMs: 60_000 });
 */
export function createLedgerJournal(options: LedgerJournalOptions): LedgerJournal {
  const { journal, ledger, clock, snapshotEvery, pruneGraceMs } = options;
  const fold = (appended: AppendedRecord): void => {
    apply(ledger, appended);
    options.applied?.(appended);
  };
  const stats: SnapshotStats = { written: 0, tooLarge: 0, foreign: false };
  let inflight = 0;
  const waiting: (() => void)[] = [];
  let gate: Promise<void> | undefined;
  let sincePrune = 0;
  /** The seq the last snapshot (or recovery) folded through, and the seqs applied since. */
  let base = 0;
  const applied = new Set<number>();
  /** Records applied since `base`; their seqs are remembered only when catchUp reads them. */
  let appliedCount = 0;
  const remember = journal.exclusive !== true;

  async function append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    while (gate !== undefined) await gate;
    inflight += 1;
    try {
      const out = await journal.append(drafts);
      for (const appended of out) {
        fold(appended);
        appliedCount += 1;
        if (remember) applied.add(appended.record.seq);
      }
      sincePrune += out.length;
      if (sincePrune >= PRUNE_EVERY) {
        sincePrune = 0;
        prune(ledger, clock.now() - pruneGraceMs);
      }
      return out;
    } finally {
      inflight -= 1;
      if (inflight === 0) for (const wake of waiting.splice(0)) wake();
      if (snapshotEvery > 0 && !stats.foreign && gate === undefined && appliedCount >= snapshotEvery) {
        if (!remember && skipsTooLarge(ledger, clock.now(), pruneGraceMs, stats)) appliedCount = 0;
        else gate = writeSnapshot();
      }
    }
  }

  async function writeSnapshot(): Promise<void> {
    try {
      if (inflight > 0) await new Promise<void>((resolve) => waiting.push(resolve));
      const through = await catchUp(journal, base, applied, fold);
      if (through === undefined) {
        stats.foreign = true;
        return;
      }
      ledger.seq = through;
      const draft = snapshotDraft(ledger, through, clock.now(), pruneGraceMs);
      // A state too large for one record is not written: restarts fold from the previous snapshot.
      if (draft === undefined) {
        stats.tooLarge += 1;
        resetBase(through);
        return;
      }
      const [appended] = await journal.append([draft]);
      if (appended !== undefined) {
        fold(appended);
        resetBase(appended.record.seq);
        stats.written += 1;
      }
    } catch {
      // The journal failed: it refuses every later append, and the next decision says so.
    } finally {
      gate = undefined;
    }
  }

  function resetBase(seq: number): void {
    base = seq;
    applied.clear();
    appliedCount = 0;
  }

  return {
    append,
    startAt: (seq) => resetBase(seq),
    idle: async () => {
      while (gate !== undefined) await gate;
    },
    stats,
  };
}

/** What folding the journal at startup found. */
export interface FoldedJournal {
  /** Records folded (from the snapshot on, when one was used). */
  readonly records: number;
  /** The seq of the snapshot the fold started from; 0 when it folded every record. */
  readonly fromSnapshot: number;
  readonly violations: readonly Violation[];
}

/**
 * Folds the journal into `ledger` (empty): from the last snapshot within the last `lookback` records
 * when there is one, else from the first record. A snapshot that does not restore is skipped.
 * @throws whatever `journal.read` throws (the caller names it)
 */
export async function foldJournal(
  journal: Journal,
  ledger: LedgerState,
  lookback: number,
): Promise<FoldedJournal> {
  const head = await journal.head();
  let snapshot: AppendedRecord | undefined;
  if (head.seq > 0 && lookback > 0) {
    for await (const r of journal.read(Math.max(1, head.seq - lookback + 1))) {
      if (r.record.type === 'snapshot') snapshot = r;
    }
  }
  let from = 1;
  let fromSnapshot = 0;
  if (snapshot !== undefined) {
    const body = snapshot.record.body as unknown as SnapshotBody;
    try {
      assign(ledger, restoreSnapshot(body, Date.parse(snapshot.record.at)));
      from = body.through + 1;
      fromSnapshot = snapshot.record.seq;
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
    }
  }
  let records = 0;
  const violations: Violation[] = [];
  for await (const appended of journal.read(from)) {
    records += 1;
    const found = apply(ledger, appended).violations;
    if (found.length > 0 && violations.length < 100) violations.push(...found);
  }
  return { records, fromSnapshot, violations: violations.slice(0, 100) };
}

function refill<K, V>(to: Map<K, V>, from: ReadonlyMap<K, V>): void {
  to.clear();
  for (const [key, value] of from) to.set(key, value);
}

/** Moves `source` into `target` (the kernel's ledger object is shared by reference). */
function assign(target: LedgerState, source: LedgerState): void {
  target.seq = source.seq;
  target.atMs = source.atMs;
  target.policies.clear();
  for (const p of source.policies) target.policies.add(p);
  refill(target.activations, source.activations);
  refill(target.revisions, source.revisions);
  target.shadows.clear();
  target.nonPermits.clear();
  refill(target.permits, source.permits);
  refill(target.approvals, source.approvals);
  refill(target.approvalsByAction, source.approvalsByAction);
  refill(target.approvedKids, source.approvedKids);
  refill(target.attempts, source.attempts);
  refill(target.open, source.open);
  refill(target.counters, source.counters);
  target.expiries.items.length = 0;
  for (const p of source.expiries.items) target.expiries.items.push(p);
  target.expiries.head = source.expiries.head;
  refill(target.endedSessions, source.endedSessions);
}
