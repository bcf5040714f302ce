/**
 * The fold state as a `snapshot` record body, and back. A snapshot is the state after record
 * `through`, pruned at `prunedAt` (what can no longer change a decision is left out), so a restart
 * folds from it instead of from the first record, and its size is bounded by what is live.
 *
 * The body is canonical: entries sorted by seq (or name), infinities as null, and the maps the fold
 * derives (open attempts, escalations by action, approving kids) left out, so that the kernel's
 * live state and an auditor's full fold give the same bytes when they mean the same. The sets of
 * non-permit decisions and of shadow records are left out as well: they only name the mistake in a
 * violation message (an attempt on either is refused all the same). Signed activations and the
 * revision of each digest are kept: the kernel refuses a rollback by them.
 */
import { digestValue, type JsonValue } from '@edca/records';

import type {
  ActivationEntry,
  ApprovalEntry,
  AttemptEntry,
  CounterEntry,
  HoldCounter,
  LedgerState,
  OutcomeStatus,
  PermitEntry,
} from './state.js';
import { emptyLedger, permitBody } from './state.js';
import { addHold, counterEntry, enqueueExpiry, heldEntries } from './usage.js';

/** The body of a `snapshot` record (docs/record-format.md, "Snapshots"). */
export interface SnapshotBody {
  /** The seq of the last record the state folds. */
  readonly through: number;
  /** RFC 3339: the instant the state was pruned at. */
  readonly prunedAt: string;
  readonly state: JsonValue;
}

/** Why a snapshot body cannot be restored. */
export class SnapshotError extends Error {
  /** Stable code: SNAPSHOT_INVALID. */
  readonly code = 'SNAPSHOT_INVALID';
}

// ---- what pruning keeps (shared with `prune`) --------------------------------------------------

/** A counter is kept while its window has not ended: a decision may still read it. */
export const keepsCounter = (c: CounterEntry, nowMs: number): boolean =>
  c.windowEnd === null || c.windowEnd > nowMs;

/**
 * A permit is kept until it expired, and after while an attempt on it has no outcome. The fold takes
 * an attempt dated at the expiry instant, so the permit is kept through that instant.
 */
export const keepsPermit = (p: PermitEntry, nowMs: number): boolean =>
  p.expiresAtMs >= nowMs || p.status === 'attempted';

/** An approval is kept through its window's last instant, and after while it is still pending. */
export const keepsApproval = (a: ApprovalEntry, nowMs: number): boolean =>
  a.expiresAtMs >= nowMs || (a.usedBy === undefined && !a.rejected && !a.resolved);

// ---- state → body -------------------------------------------------------------------------------

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const bySeq = (a: { readonly seq: number }, b: { readonly seq: number }): number => a.seq - b.seq;
const byKey = (a: readonly [string, unknown], b: readonly [string, unknown]): number =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;

/**
 * A permit's signed body is kept while the permit may still run or has an attempt to resolve (its
 * input is needed then), and for permits of format 1 (their holds are computed from it). Past that
 * its hold is all a reader needs, and the entry's own fields restate it: the body is left out.
 */
const needsBody = (p: PermitEntry): boolean =>
  p.status === 'outstanding' || p.status === 'attempted' || p.holdId === undefined;

/** The body a restored permit gets when its snapshot left it out: its expiry and its hold. */
function slimBody(p: {
  readonly expiresAtMs: number;
  readonly holdId: string | undefined;
  readonly counters: readonly HoldCounter[];
  readonly policyDigest: string;
}): Readonly<Record<string, unknown>> {
  return {
    policyDigest: p.policyDigest,
    expiresAt: Number.isFinite(p.expiresAtMs) ? new Date(p.expiresAtMs).toISOString() : undefined,
    hold: { id: p.holdId, counters: p.counters },
  };
}

function permitJson(p: PermitEntry): JsonValue {
  return {
    hash: p.hash,
    seq: p.seq,
    atMs: p.atMs,
    expiresAtMs: finite(p.expiresAtMs),
    actionHash: p.actionHash,
    policyDigest: p.policyDigest,
    intent: p.intent,
    body: needsBody(p) ? (permitBody(p) as JsonValue) : null,
    holdId: orNull(p.holdId),
    counters: p.counters as unknown as JsonValue,
    approval: orNull(p.approval),
    attemptHashes: [...p.attemptHashes],
    attempts: p.attempts,
    lastTry: p.lastTry,
    lastIdempotencyKey: orNull(p.lastIdempotencyKey),
    lastAttempt: orNull(p.lastAttempt),
    charged: p.charged,
    status: p.status,
  };
}

function approvalJson(a: ApprovalEntry): JsonValue {
  return {
    id: a.id,
    seq: a.seq,
    atMs: a.atMs,
    actionHash: a.actionHash,
    required: a.required === undefined ? null : { ...a.required },
    expiresAtMs: finite(a.expiresAtMs),
    approvers: a.approvers.map((x) => ({ ...x })),
    rejected: a.rejected,
    usedBy: orNull(a.usedBy),
    resolved: a.resolved,
  };
}

function attemptJson(a: AttemptEntry): JsonValue {
  return {
    hash: a.hash,
    seq: a.seq,
    permit: a.permit,
    actionHash: a.actionHash,
    idempotencyKey: a.idempotencyKey,
    tryNo: a.tryNo,
    instance: orNull(a.instance),
    kid: a.kid,
    status: orNull(a.status),
    superseded: a.superseded,
  };
}

const activationJson = (a: ActivationEntry): JsonValue => ({
  map: a.map,
  policyDigest: a.policyDigest,
  revision: a.revision,
  owner: a.owner,
  seq: a.seq,
});

/**
 * The snapshot state of `state` pruned at `nowMs`, without changing `state`: what `prune(state,
 * nowMs)` would keep, in canonical order. The kernel writes it; the auditor computes it from its
 * full fold and compares.
 * @example const json = snapshotState(state, Date.parse(prunedAt));
 */
export function snapshotState(state: LedgerState, nowMs: number): JsonValue {
  const permits = [...state.permits.values()].filter((p) => keepsPermit(p, nowMs));
  const kept = new Set(permits.map((p) => p.hash));
  const attempts = [...state.attempts.values()].filter((a) => kept.has(a.permit));
  const counters = [...state.counters.entries()]
    .filter(([, c]) => keepsCounter(c, nowMs))
    .sort(byKey)
    .map(([counter, c]) => ({
      counter,
      settled: c.settled,
      held: heldEntries(c)
        .filter(([hash]) => kept.has(hash))
        .sort(byKey),
      windowEnd: c.windowEnd,
    }));
  return {
    policies: [...state.policies].sort(),
    permits: permits.sort(bySeq).map(permitJson),
    approvals: [...state.approvals.values()]
      .filter((a) => keepsApproval(a, nowMs))
      .sort(bySeq)
      .map(approvalJson),
    attempts: attempts.sort(bySeq).map(attemptJson),
    counters,
    endedSessions: [...state.endedSessions.entries()].sort(byKey),
    activations: [...state.activations.values()].sort(bySeq).map(activationJson),
    revisions: [...state.revisions.entries()].sort(byKey),
  };
}

/**
 * Every permit a snapshot keeps writes at least its three digests (line hash, action hash, policy
 * digest): `"sha256:` + 64 hex + `"` each.
 */
const PERMIT_FLOOR_BYTES = 3 * 73;

/**
 * A lower bound on the length of `JSON.stringify` of a snapshot of `state` at `nowMs`, computed
 * without building it: a writer that finds the floor over its record limit skips the snapshot
 * without serialising a state it could not write anyway.
 * @example if (snapshotSizeFloor(ledger, now) > limit) skip();
 */
export function snapshotSizeFloor(state: LedgerState, nowMs: number): number {
  let kept = 0;
  for (const p of state.permits.values()) if (keepsPermit(p, nowMs)) kept += 1;
  return kept * PERMIT_FLOOR_BYTES;
}

/**
 * Whether a snapshot body is the state `state` (the fold of every record up to `body.through`) pruned
 * at `body.prunedAt`: canonical digests compared, so member order does not matter.
 * @example if (!snapshotMatches(state, body)) report('SNAPSHOT_MISMATCH', …);
 */
export function snapshotMatches(state: LedgerState, body: SnapshotBody): boolean {
  const nowMs = Date.parse(body.prunedAt);
  if (Number.isNaN(nowMs)) return false;
  return digestValue(snapshotState(state, nowMs)) === digestValue(body.state);
}

// ---- body → state -------------------------------------------------------------------------------

type Obj = Readonly<Record<string, JsonValue>>;

const fail = (message: string): never => {
  throw new SnapshotError(`snapshot state: ${message}`);
};
const obj = (v: JsonValue | undefined, what: string): Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : fail(`${what} is not an object`);
const arr = (v: JsonValue | undefined, what: string): readonly JsonValue[] =>
  Array.isArray(v) ? v : fail(`${what} is not an array`);
const s = (v: JsonValue | undefined, what: string): string =>
  typeof v === 'string' ? v : fail(`${what} is not a string`);
const n = (v: JsonValue | undefined, what: string): number =>
  typeof v === 'number' ? v : fail(`${what} is not a number`);
const b = (v: JsonValue | undefined, what: string): boolean =>
  typeof v === 'boolean' ? v : fail(`${what} is not a boolean`);
const sOpt = (v: JsonValue | undefined, what: string): string | undefined =>
  v === null ? undefined : s(v, what);
const ms = (v: JsonValue | undefined, what: string): number =>
  v === null ? Number.POSITIVE_INFINITY : n(v, what);
const oneOf = <T extends string>(v: JsonValue | undefined, allowed: readonly T[], what: string): T =>
  typeof v === 'string' && (allowed as readonly string[]).includes(v)
    ? (v as T)
    : fail(`${what} is not one of ${allowed.join(', ')}`);

const OUTCOMES: readonly OutcomeStatus[] = ['completed', 'failed', 'unknown', 'compensated'];

function permitOf(v: JsonValue): PermitEntry {
  const o = obj(v, 'a permit');
  const entry = {
    hash: s(o['hash'], 'permit.hash'),
    seq: n(o['seq'], 'permit.seq'),
    atMs: n(o['atMs'], 'permit.atMs'),
    expiresAtMs: ms(o['expiresAtMs'], 'permit.expiresAtMs'),
    actionHash: s(o['actionHash'], 'permit.actionHash'),
    policyDigest: s(o['policyDigest'], 'permit.policyDigest'),
    intent: s(o['intent'], 'permit.intent'),
    body: o['body'] === null ? {} : obj(o['body'], 'permit.body'),
    line: undefined,
    holdId: sOpt(o['holdId'], 'permit.holdId'),
    counters: arr(o['counters'], 'permit.counters').map((c) => {
      const h = obj(c, 'a held counter');
      return {
        key: s(h['key'], 'counter.key'),
        counter: s(h['counter'], 'counter.counter'),
        amount: n(h['amount'], 'counter.amount'),
        max: n(h['max'], 'counter.max'),
        windowEnd: h['windowEnd'] === null ? null : n(h['windowEnd'], 'counter.windowEnd'),
      } satisfies HoldCounter;
    }),
    approval: sOpt(o['approval'], 'permit.approval'),
    attemptHashes: arr(o['attemptHashes'], 'permit.attemptHashes').map((x) => s(x, 'an attempt hash')),
    attempts: n(o['attempts'], 'permit.attempts'),
    lastTry: n(o['lastTry'], 'permit.lastTry'),
    lastIdempotencyKey: sOpt(o['lastIdempotencyKey'], 'permit.lastIdempotencyKey'),
    lastAttempt: sOpt(o['lastAttempt'], 'permit.lastAttempt'),
    charged: oneOf(o['charged'], ['held', 'settled', 'released'], 'permit.charged'),
    lapsed: false,
    status: oneOf(o['status'], ['outstanding', 'attempted', ...OUTCOMES], 'permit.status'),
  };
  if (o['body'] !== null) return entry;
  if (needsBody(entry)) fail(`permit ${entry.hash} needs its body`);
  return { ...entry, body: slimBody(entry) };
}

function approvalOf(v: JsonValue): ApprovalEntry {
  const o = obj(v, 'an approval');
  const required = o['required'] === null ? undefined : obj(o['required'], 'approval.required');
  return {
    id: s(o['id'], 'approval.id'),
    seq: n(o['seq'], 'approval.seq'),
    atMs: n(o['atMs'], 'approval.atMs'),
    actionHash: s(o['actionHash'], 'approval.actionHash'),
    required:
      required === undefined
        ? undefined
        : { count: n(required['count'], 'required.count'), role: s(required['role'], 'required.role') },
    expiresAtMs: ms(o['expiresAtMs'], 'approval.expiresAtMs'),
    approvers: arr(o['approvers'], 'approval.approvers').map((x) => {
      const a = obj(x, 'an approver');
      return {
        kid: s(a['kid'], 'approver.kid'),
        role: s(a['role'], 'approver.role'),
        record: s(a['record'], 'approver.record'),
        atMs: n(a['atMs'], 'approver.atMs'),
      };
    }),
    rejected: b(o['rejected'], 'approval.rejected'),
    usedBy: sOpt(o['usedBy'], 'approval.usedBy'),
    resolved: b(o['resolved'], 'approval.resolved'),
  };
}

function attemptOf(v: JsonValue): AttemptEntry {
  const o = obj(v, 'an attempt');
  return {
    hash: s(o['hash'], 'attempt.hash'),
    seq: n(o['seq'], 'attempt.seq'),
    permit: s(o['permit'], 'attempt.permit'),
    actionHash: s(o['actionHash'], 'attempt.actionHash'),
    idempotencyKey: s(o['idempotencyKey'], 'attempt.idempotencyKey'),
    tryNo: n(o['tryNo'], 'attempt.tryNo'),
    instance: sOpt(o['instance'], 'attempt.instance'),
    kid: s(o['kid'], 'attempt.kid'),
    status: o['status'] === null ? undefined : oneOf(o['status'], OUTCOMES, 'attempt.status'),
    superseded: b(o['superseded'], 'attempt.superseded'),
  };
}

/**
 * The fold state a snapshot body holds, with the derived maps rebuilt; `seq` is `through` and
 * `atMs` the snapshot record's own instant (`atMs`), so folding goes on with record `through + 1`.
 * @throws SnapshotError SNAPSHOT_INVALID when the state is not one `snapshotState` writes.
 * @example const state = restoreSnapshot(body, Date.parse(record.at));
 */
export function restoreSnapshot(body: SnapshotBody, atMs: number): LedgerState {
  const o = obj(body.state, 'the state');
  const state = emptyLedger();
  state.seq = body.through;
  state.atMs = atMs;
  for (const p of arr(o['policies'], 'policies')) state.policies.add(s(p, 'a policy digest'));
  for (const v of arr(o['permits'], 'permits')) {
    const p = permitOf(v);
    state.permits.set(p.hash, p);
  }
  for (const v of arr(o['approvals'], 'approvals')) {
    const a = approvalOf(v);
    state.approvals.set(a.id, a);
    const list = state.approvalsByAction.get(a.actionHash);
    if (list === undefined) state.approvalsByAction.set(a.actionHash, [a.id]);
    else list.push(a.id);
    let kids = state.approvedKids.get(a.actionHash);
    if (kids === undefined) state.approvedKids.set(a.actionHash, (kids = new Set()));
    for (const x of a.approvers) kids.add(x.kid);
  }
  for (const v of arr(o['attempts'], 'attempts')) {
    const a = attemptOf(v);
    state.attempts.set(a.hash, a);
    if (a.status === undefined && !a.superseded) state.open.set(a.hash, a.permit);
  }
  for (const v of arr(o['counters'], 'counters')) {
    const c = obj(v, 'a counter');
    const entry = counterEntry(state, {
      key: '',
      counter: s(c['counter'], 'counter.counter'),
      amount: 0,
      max: 0,
      windowEnd: c['windowEnd'] === null ? null : n(c['windowEnd'], 'counter.windowEnd'),
    });
    entry.settled = n(c['settled'], 'counter.settled');
    for (const h of arr(c['held'], 'counter.held')) {
      const [hash, amount] = arr(h, 'a hold');
      addHold(entry, s(hash, 'hold.permit'), n(amount, 'hold.amount'));
    }
  }
  // The expiry queue is derived: every permit by expiry, none lapsed until usage is asked for.
  for (const p of [...state.permits.values()].sort(bySeq)) enqueueExpiry(state, p);
  for (const v of arr(o['endedSessions'], 'endedSessions')) {
    const [session, seq] = arr(v, 'an ended session');
    state.endedSessions.set(s(session, 'session'), n(seq, 'session.seq'));
  }
  for (const v of arr(o['activations'], 'activations')) {
    const a = obj(v, 'an activation');
    const map = s(a['map'], 'activation.map');
    state.activations.set(map, {
      map,
      policyDigest: s(a['policyDigest'], 'activation.policyDigest'),
      revision: n(a['revision'], 'activation.revision'),
      owner: s(a['owner'], 'activation.owner'),
      seq: n(a['seq'], 'activation.seq'),
    });
  }
  for (const v of arr(o['revisions'], 'revisions')) {
    const [digest, revision] = arr(v, 'a revision');
    state.revisions.set(s(digest, 'revision.digest'), n(revision, 'revision.revision'));
  }
  return state;
}
