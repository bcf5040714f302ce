/**
 * The state a journal folds into: permits, approvals, limit counters, attempts and activated
 * policies. Plain data (Maps, arrays, numbers, strings), so `structuredClone` copies it.
 */

import { isObject } from '@edca/records';

/** A record as the fold reads it: the signed record's envelope fields it needs, and its hash. */
export interface LedgerRecord {
  readonly record: {
    readonly type: string;
    readonly seq: number;
    readonly at: string;
    readonly kid: string;
    readonly body: unknown;
  };
  /** `recordHash(record)`: the identity permits, escalations and attempts are referred to by. */
  readonly hash: string;
  /**
   * The record's signed line, when the caller has it. A permit then keeps these bytes (outside the
   * garbage-collected heap) rather than its body's object tree, and decodes the body again only
   * when asked for it (a snapshot, a recovery).
   */
  readonly bytes?: Uint8Array;
}

/** A rule of the journal life cycle a record broke; `seq` locates it. */
export interface Violation {
  readonly seq: number;
  readonly code: ViolationCode;
  readonly message: string;
}

/** Stable codes of life-cycle violations (docs/reason-codes.md, "Ledger"). */
export type ViolationCode =
  | 'POLICY_DIGEST_UNKNOWN'
  | 'ATTEMPT_WITHOUT_PERMIT'
  | 'ATTEMPT_ACTION_MISMATCH'
  | 'PERMIT_EXPIRED'
  | 'PERMIT_REUSED'
  | 'OUTCOME_WITHOUT_ATTEMPT'
  | 'OUTCOME_MISMATCH'
  | 'OUTCOME_DUPLICATE'
  | 'OUTCOME_SUPERSEDED'
  | 'APPROVAL_MISSING'
  | 'APPROVAL_INVALID'
  | 'APPROVAL_REUSED'
  | 'LIMIT_OVERRUN'
  | 'SESSION_REOPENED'
  | 'ACTIVATION_ROLLBACK'
  | 'ACTIVATION_MISMATCH'
  | 'SHADOW_EXECUTED'
  | 'BODY_INVALID';

/** The status an outcome record gives an attempt. */
export type OutcomeStatus = 'completed' | 'failed' | 'unknown' | 'compensated';

/** One counter a permit holds (record format 2: the `hold.counters` of a permit body). */
export interface HoldCounter {
  readonly key: string;
  /** `<limit key>|<scope>|<window start ms>`; an entity scope is hashed, never the real id. */
  readonly counter: string;
  readonly amount: number;
  readonly max: number;
  /** Epoch ms at which the counter's window ends; null for a limit without a window. */
  readonly windowEnd: number | null;
}

/** A permit and where it is in its life: outstanding → attempted → an outcome. */
export interface PermitEntry {
  readonly hash: string;
  readonly seq: number;
  readonly atMs: number;
  readonly expiresAtMs: number;
  readonly actionHash: string;
  readonly policyDigest: string;
  readonly intent: string;
  /**
   * The signed body (recovery needs its input — state, proposal, principal — to resolve an
   * attempt), or undefined when the permit keeps its `line` instead: read it with `permitBody`.
   */
  readonly body: Readonly<Record<string, unknown>> | undefined;
  /**
   * The permit's signed line, kept instead of its body when the fold was given it: bytes outside
   * the garbage-collected heap, where a live body's object tree (and the canonical texts a writer
   * remembered on it) would be traced by every major collection.
   */
  readonly line: Uint8Array | undefined;
  /** The reservation identity (format 2), unique per permit; undefined for older permits. */
  readonly holdId: string | undefined;
  readonly counters: readonly HoldCounter[];
  /** The escalation whose approval this permit used, if any. */
  readonly approval: string | undefined;
  /** Hashes of every attempt on this permit (tries of one execution), oldest first. */
  readonly attemptHashes: string[];
  attempts: number;
  lastTry: number;
  lastIdempotencyKey: string | undefined;
  lastAttempt: string | undefined;
  /** Where its amounts are: held on its counters, settled into them, or released. */
  charged: 'held' | 'settled' | 'released';
  /**
   * Its holds count in its counters' `lapsed`: it expired unattempted as of the last instant the
   * state was asked about (see `expiries`). Derived: a snapshot does not write it.
   */
  lapsed: boolean;
  /** Status of the last attempt's outcome; `attempted` while it has none. */
  status: 'outstanding' | 'attempted' | OutcomeStatus;
}

/** A map's signed activation as the journal holds it (record format 3). */
export interface ActivationEntry {
  /** The map's name. */
  readonly map: string;
  readonly policyDigest: string;
  readonly revision: number;
  /** The policy owner's key that signed the statement. */
  readonly owner: string;
  /** The seq of the `policy.activated` record. */
  readonly seq: number;
}

/** An escalation and the approvals gathered on it. */
export interface ApprovalEntry {
  /** The hash of the `escalate` decision record. */
  readonly id: string;
  readonly seq: number;
  readonly atMs: number;
  readonly actionHash: string;
  readonly required: { readonly count: number; readonly role: string } | undefined;
  readonly expiresAtMs: number;
  /** Distinct approving kids with their role, in order. */
  readonly approvers: {
    readonly kid: string;
    readonly role: string;
    readonly record: string;
    readonly atMs: number;
  }[];
  rejected: boolean;
  /** The permit that used the approval: an approval authorizes one permit. */
  usedBy: string | undefined;
  /** A later permit or refusal for the same action, or a rejection, closed the escalation. */
  resolved: boolean;
}

/** An attempt to run a permit. */
export interface AttemptEntry {
  readonly hash: string;
  readonly seq: number;
  readonly permit: string;
  readonly actionHash: string;
  readonly idempotencyKey: string;
  readonly tryNo: number;
  /** The kernel instance that ran it (format 2); undefined in older journals. */
  readonly instance: string | undefined;
  /** The key that signed the attempt record. */
  readonly kid: string;
  status: OutcomeStatus | undefined;
  /** A later try of the same execution replaced this one. */
  superseded: boolean;
}

/** Usage of one limit counter in one window: `settled + heldTotal - lapsed` at the last instant asked. */
export interface CounterEntry {
  settled: number;
  /**
   * The permits holding an amount on this counter (outstanding or attempted, without a final
   * outcome): one in `holder` (most counters only ever have one: no Map for them), the others in
   * `others`. Read them with `heldEntries`.
   */
  holder: string | undefined;
  holderAmount: number;
  others: Map<string, number> | undefined;
  /** The sum of the held amounts. */
  heldTotal: number;
  /** The part of `heldTotal` held by permits that had expired unattempted at the last instant asked. */
  lapsed: number;
  readonly windowEnd: number | null;
}

/**
 * The permits in order of expiry, and a cursor: the permits before `head` had expired as of the
 * last instant a usage was asked for (their holds, while unattempted, are `lapsed`). Derived from
 * the permits: a snapshot does not write it.
 */
export interface ExpiryQueue {
  readonly items: PermitEntry[];
  head: number;
}

/** The fold's state. */
export interface LedgerState {
  /** seq of the last record applied (0 before any). */
  seq: number;
  /** `at` of the last record applied, epoch ms. */
  atMs: number;
  readonly policies: Set<string>;
  /** The latest signed activation of each map, by map name (the highest revision seen). */
  readonly activations: Map<string, ActivationEntry>;
  /**
   * The revision that governs each policy digest: that of its latest signed activation. A digest
   * activated without a signed statement (record format 1 and 2) has none.
   */
  readonly revisions: Map<string, number>;
  /** Hashes of `shadow` records: candidate decisions that nothing may execute. */
  readonly shadows: Set<string>;
  readonly permits: Map<string, PermitEntry>;
  /** Hashes of decisions that are not permits (to name the mistake of an attempt on one). */
  readonly nonPermits: Set<string>;
  readonly approvals: Map<string, ApprovalEntry>;
  /** Escalation ids by action hash, oldest first. */
  readonly approvalsByAction: Map<string, string[]>;
  /** Kids that approved each action (any escalation), for APPROVAL_MISSING. */
  readonly approvedKids: Map<string, Set<string>>;
  readonly attempts: Map<string, AttemptEntry>;
  /** Attempts that have no outcome yet (hash → permit). */
  readonly open: Map<string, string>;
  readonly counters: Map<string, CounterEntry>;
  /** Every permit of `permits`, in order of expiry (limit usage in O(1), pruning by expiry). */
  readonly expiries: ExpiryQueue;
  /** Model sessions that ended (`session.ended`), with the seq of their end. */
  readonly endedSessions: Map<string, number>;
}

/**
 * The state of an empty journal.
 * @example const state = emptyLedger();
 */
export function emptyLedger(): LedgerState {
  return {
    seq: 0,
    atMs: Number.NEGATIVE_INFINITY,
    policies: new Set(),
    activations: new Map(),
    revisions: new Map(),
    shadows: new Set(),
    permits: new Map(),
    nonPermits: new Set(),
    approvals: new Map(),
    approvalsByAction: new Map(),
    approvedKids: new Map(),
    attempts: new Map(),
    open: new Map(),
    counters: new Map(),
    expiries: { items: [], head: 0 },
    endedSessions: new Map(),
  };
}

const utf8 = new TextDecoder();

/**
 * A permit's signed body: the one it holds, or the one decoded from the line it keeps instead.
 * @throws Error when a kept line no longer decodes to a record with a body (an invariant)
 * @example const input = permitBody(ledger.permits.get(hash)!)['input'];
 */
export function permitBody(permit: PermitEntry): Readonly<Record<string, unknown>> {
  if (permit.body !== undefined) return permit.body;
  const line: unknown = permit.line === undefined ? undefined : JSON.parse(utf8.decode(permit.line));
  const body = isObject(line) ? line['body'] : undefined;
  if (!isObject(body)) throw new Error(`invariant: permit ${permit.hash} has neither its body nor its line`);
  return body;
}
