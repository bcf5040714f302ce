/**
 * The life-cycle rules of a journal as one incremental fold: `apply(state, record)` moves the
 * state past one record and names every rule the record broke. One handler per record type, in a
 * map typed by `RecordType`, so a new record type does not compile until it is handled here.
 * No I/O and no clock: time comes from the records.
 */
import { isObject } from '@edca/records';
import type { RecordBody, RecordType } from '@edca/records';
import type {
  ApprovalEntry,
  AttemptEntry,
  HoldCounter,
  LedgerRecord,
  LedgerState,
  OutcomeStatus,
  PermitEntry,
  Violation,
  ViolationCode,
} from './state.js';
import { addHold, counterEntry, dropHolds, enqueueExpiry, entryUsageAt, unlapse } from './usage.js';

/** The result of `apply`: the next state and the rules the record broke (none for a sound journal). */
export interface ApplyResult {
  readonly state: LedgerState;
  readonly violations: readonly Violation[];
}

/**
 * The body of a `T` record as the fold reads it: the member names of records' `RecordBody<T>` (so a
 * renamed or removed field does not compile here), each value still checked before use.
 */
type BodyOf<T extends RecordType> = { readonly [K in keyof RecordBody<T>]?: unknown };

interface Ctx<T extends RecordType> {
  readonly state: LedgerState;
  readonly seq: number;
  readonly atMs: number;
  readonly hash: string;
  readonly kid: string;
  readonly body: BodyOf<T>;
  readonly bytes: Uint8Array | undefined;
  readonly report: (code: ViolationCode, message: string) => void;
}

type Handler<T extends RecordType> = (ctx: Ctx<T>) => void;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** The role of the system key: never an approver of its own escalations. */
const KERNEL_ROLE = 'kernel';

/** A model session's record after its `session.ended` is SESSION_REOPENED; the first end is kept. */
function applySessionRecord(ctx: Ctx<'intake.refused' | 'session.ended'>, what: string, ends: boolean): void {
  const session = str(ctx.body['session']);
  if (session === undefined) return ctx.report('BODY_INVALID', `the ${what} names no session`);
  const endedAt = ctx.state.endedSessions.get(session);
  if (endedAt !== undefined) {
    ctx.report('SESSION_REOPENED', `${what} for session ${session}, which ended at seq ${endedAt}`);
  } else if (ends) {
    ctx.state.endedSessions.set(session, ctx.seq);
  }
}

const handlers: { readonly [T in RecordType]: Handler<T> } = {
  'intake.refused': (ctx) => applySessionRecord(ctx, 'a refused model output', false),
  'session.ended': (ctx) => applySessionRecord(ctx, 'a second end', true),
  'policy.activated': applyActivation,
  shadow: applyShadow,
  'key.added': () => undefined,
  'key.retired': () => undefined,
  checkpoint: () => undefined,
  // A snapshot states the fold so far and changes nothing; the auditor compares it with its own
  // fold (`snapshotMatches`) before applying it, and a restart starts from it (`restoreSnapshot`).
  snapshot: () => undefined,
  decision: applyDecision,
  approval: applyApproval,
  attempt: applyAttempt,
  outcome: applyOutcome,
};

/**
 * Applies one record. The state is threaded through the fold: it is updated in place and returned
 * (copy it with `structuredClone` to keep an earlier one). A record that breaks a rule still moves
 * the state as far as it can, so one bad record yields its own violations and not a cascade.
 * @example
 * let state = emptyLedger();
 * for (const r of records) ({ state } = apply(state, r));
 */
export function apply(state: LedgerState, appended: LedgerRecord): ApplyResult {
  const { record, hash } = appended;
  // Made only when a rule is broken: a sound record (nearly all of them) allocates no list.
  let violations: Violation[] | undefined;
  const seq = record.seq;
  const report = (code: ViolationCode, message: string): void => {
    (violations ??= []).push({ seq, code, message });
  };
  const atMs = recordTimes.parse(record.at);
  const handler = (handlers as Readonly<Record<string, Handler<RecordType> | undefined>>)[record.type];
  if (handler === undefined || !isObject(record.body) || Number.isNaN(atMs)) {
    report('BODY_INVALID', `record ${seq} is not a ${record.type} record the ledger can read`);
  } else {
    handler({ state, seq, atMs, hash, kid: record.kid, body: record.body, bytes: appended.bytes, report });
  }
  state.seq = seq;
  if (atMs > state.atMs) state.atMs = atMs;
  return { state, violations: violations ?? NO_VIOLATIONS };
}

const NO_VIOLATIONS: readonly Violation[] = Object.freeze([]);

/**
 * `Date.parse` that remembers the last text it parsed: records appended together mostly share
 * their millisecond, and permits their expiry, so most calls are a string comparison.
 */
function lastParsed(): { parse(text: string): number } {
  let last: string | undefined;
  let lastMs = Number.NaN;
  return {
    parse(text) {
      if (text !== last) {
        lastMs = Date.parse(text);
        last = text;
      }
      return lastMs;
    },
  };
}
const recordTimes = lastParsed();
const expiryTimes = lastParsed();

// ---- policies ----------------------------------------------------------------------------------

/**
 * A policy put in force. With a signed statement (record format 3) the fold checks what needs no
 * key: the statement names this record's map and digest, and its revision is strictly higher than
 * every revision of that map before (anti-rollback; rolling back is the old content signed at a
 * higher revision). The signature and the owner's key are the auditor's to check (they need trust).
 */
function applyActivation(ctx: Ctx<'policy.activated'>): void {
  const { state, body, report } = ctx;
  const digest = str(body['policyDigest']);
  if (digest === undefined) return report('BODY_INVALID', 'the policy activation names no digest');
  state.policies.add(digest);
  const activation = body['activation'];
  if (activation === undefined) return;
  const statement =
    isObject(activation) && isObject(activation['statement']) ? activation['statement'] : undefined;
  const owner =
    statement !== undefined && isObject(statement['owner']) ? str(statement['owner']['kid']) : undefined;
  const revision = statement?.['revision'];
  const map = str(statement?.['map']);
  if (statement === undefined || owner === undefined || typeof revision !== 'number' || map === undefined) {
    return report('BODY_INVALID', 'the activation statement lacks its map, revision or owner');
  }
  const name = str(body['name']);
  if (map !== name || statement['mapDigest'] !== digest) {
    report(
      'ACTIVATION_MISMATCH',
      `the statement activates ${map} ${String(statement['mapDigest'])}, the record ${String(name)} ${digest}`,
    );
    return;
  }
  const before = state.activations.get(map);
  if (before !== undefined && revision <= before.revision) {
    report(
      'ACTIVATION_ROLLBACK',
      `revision ${revision} of ${map} after revision ${before.revision} (seq ${before.seq}): revisions only go up`,
    );
    return;
  }
  state.activations.set(map, { map, policyDigest: digest, revision, owner, seq: ctx.seq });
  state.revisions.set(digest, revision);
}

/** A candidate map's decision: never a permit, so it holds nothing and nothing may run it. */
function applyShadow(ctx: Ctx<'shadow'>): void {
  ctx.state.shadows.add(ctx.hash);
}

// ---- decisions ---------------------------------------------------------------------------------

function applyDecision(ctx: Ctx<'decision'>): void {
  const { state, body, hash, report } = ctx;
  const verdict = body['verdict'];
  const actionHash = str(body['actionHash']);
  const policyDigest = str(body['policyDigest']);
  const input = body['input'];
  if (actionHash === undefined || policyDigest === undefined || !isObject(input)) {
    report('BODY_INVALID', `decision ${ctx.seq} lacks its action hash, policy or input`);
    return;
  }
  if (!state.policies.has(policyDigest)) {
    report('POLICY_DIGEST_UNKNOWN', `policy ${policyDigest} was not activated before`);
  }
  if (verdict === 'escalate') {
    state.nonPermits.add(hash);
    openEscalation(ctx, actionHash);
    return;
  }
  // A permit or a refusal for an action answers every escalation of that action (looked up only
  // when some escalation is on record: hashing the action hash is a cost of its own).
  if (state.approvalsByAction.size > 0)
    for (const id of state.approvalsByAction.get(actionHash) ?? []) state.approvals.get(id)!.resolved = true;
  if (verdict !== 'permit') {
    state.nonPermits.add(hash);
    return;
  }
  const approvals = Array.isArray(input['approvals']) ? (input['approvals'] as unknown[]) : [];
  for (const a of approvals) {
    const kid = isObject(a) ? str(a['kid']) : undefined;
    if (kid === undefined || !(state.approvedKids.get(actionHash)?.has(kid) ?? false)) {
      report(
        'APPROVAL_MISSING',
        `the permit counts an approval by ${kid} that is not in the journal before it`,
      );
    }
  }
  const approval = approvals.length > 0 ? useApproval(ctx, actionHash, str(body['approval'])) : undefined;
  const proposal = isObject(input['proposal']) ? input['proposal'] : {};
  const expiresAt = str(body['expiresAt']);
  const hold = isObject(body['hold']) ? body['hold'] : undefined;
  const permit: PermitEntry = {
    hash,
    seq: ctx.seq,
    atMs: ctx.atMs,
    expiresAtMs: expiresAt === undefined ? Number.POSITIVE_INFINITY : expiryTimes.parse(expiresAt),
    actionHash,
    policyDigest,
    intent: str(proposal['intent']) ?? '',
    body: ctx.bytes === undefined ? body : undefined,
    line: ctx.bytes,
    holdId: hold === undefined ? undefined : str(hold['id']),
    counters:
      hold !== undefined && Array.isArray(hold['counters']) ? (hold['counters'] as HoldCounter[]) : [],
    approval,
    attemptHashes: [],
    lapsed: false,
    charged: 'held',
    attempts: 0,
    lastTry: 0,
    lastIdempotencyKey: undefined,
    lastAttempt: undefined,
    status: 'outstanding',
  };
  state.permits.set(hash, permit);
  if (hold !== undefined) holdCounters(ctx, permit);
  enqueueExpiry(state, permit);
}

function openEscalation(ctx: Ctx<'decision'>, actionHash: string): void {
  const { state, body, hash } = ctx;
  const pending = isObject(body['pendingApproval']) ? body['pendingApproval'] : undefined;
  const count = pending?.['count'];
  const role = str(pending?.['role']);
  const expiresAt = str(pending?.['expiresAt']);
  const entry: ApprovalEntry = {
    id: hash,
    seq: ctx.seq,
    atMs: ctx.atMs,
    actionHash,
    required: typeof count === 'number' && role !== undefined ? { count, role } : undefined,
    expiresAtMs: expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(expiresAt),
    approvers: [],
    rejected: false,
    usedBy: undefined,
    resolved: false,
  };
  state.approvals.set(hash, entry);
  const list = state.approvalsByAction.get(actionHash);
  if (list === undefined) state.approvalsByAction.set(actionHash, [hash]);
  else list.push(hash);
}

const granted = (a: ApprovalEntry): boolean =>
  a.required !== undefined && !a.rejected && a.approvers.length >= a.required.count;

/**
 * Marks the approval a permit uses. Format 2 permits name it (`approval`); for older ones it is the
 * oldest granted, unused escalation of the same action. Used twice is APPROVAL_REUSED.
 */
function useApproval(
  ctx: Ctx<'decision'>,
  actionHash: string,
  named: string | undefined,
): string | undefined {
  const { state, report } = ctx;
  const ids = named !== undefined ? [named] : (state.approvalsByAction.get(actionHash) ?? []);
  let used: ApprovalEntry | undefined;
  for (const id of ids) {
    const a = state.approvals.get(id);
    if (a === undefined || a.actionHash !== actionHash) continue;
    if (granted(a) && a.usedBy === undefined) {
      a.usedBy = ctx.hash;
      return id;
    }
    if (a.usedBy !== undefined) used ??= a;
  }
  if (used !== undefined) {
    report('APPROVAL_REUSED', `the approval ${used.id} already authorized the permit ${used.usedBy}`);
  } else if (named !== undefined) {
    report('APPROVAL_INVALID', `the permit names approval ${named}, which is not granted for its action`);
  }
  return undefined;
}

/** Holds the permit's amounts; the fold checks the kernel never let a counter pass its max. */
function holdCounters(ctx: Ctx<'decision'>, permit: PermitEntry): void {
  for (const c of permit.counters) {
    const entry = counterEntry(ctx.state, c);
    const used = entryUsageAt(ctx.state, entry, ctx.atMs);
    if (used + c.amount > c.max) {
      ctx.report(
        'LIMIT_OVERRUN',
        `counter ${c.counter} holds ${used} of ${c.max}; the permit adds ${c.amount}`,
      );
    }
    addHold(entry, permit.hash, c.amount);
  }
}

// ---- approvals ---------------------------------------------------------------------------------

function applyApproval(ctx: Ctx<'approval'>): void {
  const { state, body, report } = ctx;
  const id = str(body['decision']);
  const approver = isObject(body['approver']) ? body['approver'] : undefined;
  const kid = str(approver?.['kid']);
  const role = str(approver?.['role']);
  const esc = id === undefined ? undefined : state.approvals.get(id);
  if (esc === undefined)
    return report('APPROVAL_INVALID', `approval of ${id}, which is not an earlier escalation`);
  if (esc.actionHash !== body['actionHash'])
    return report('APPROVAL_INVALID', 'the approval is for another action than its escalation');
  if (kid === undefined || role === undefined)
    return report('BODY_INVALID', 'the approval names no approver');
  if (role === KERNEL_ROLE)
    return report(
      'APPROVAL_INVALID',
      'the approver is the kernel: the system key cannot approve its own escalation',
    );
  if (ctx.atMs > esc.expiresAtMs)
    return report('APPROVAL_INVALID', "given after the escalation's approval window closed");
  if (esc.required !== undefined && role !== esc.required.role)
    return report('APPROVAL_INVALID', `approver role ${role}, the escalation requires ${esc.required.role}`);
  if (body['verdict'] === 'reject') {
    esc.rejected = true;
    esc.resolved = true;
    return;
  }
  if (!esc.approvers.some((a) => a.kid === kid))
    esc.approvers.push({ kid, role, record: ctx.hash, atMs: ctx.atMs });
  const kids = state.approvedKids.get(esc.actionHash);
  if (kids === undefined) state.approvedKids.set(esc.actionHash, new Set([kid]));
  else kids.add(kid);
}

// ---- attempts and outcomes ---------------------------------------------------------------------

function applyAttempt(ctx: Ctx<'attempt'>): void {
  const { state, body, report } = ctx;
  const permitHash = str(body['permit']) ?? '';
  const permit = state.permits.get(permitHash);
  if (permit === undefined) {
    if (state.shadows.has(permitHash)) {
      report('SHADOW_EXECUTED', `the attempt runs shadow decision ${permitHash}: a shadow is never a permit`);
      return;
    }
    report(
      'ATTEMPT_WITHOUT_PERMIT',
      state.nonPermits.has(permitHash)
        ? `the attempt points to decision ${permitHash}, which is not a permit`
        : `the attempt points to ${permitHash}, not a permit earlier in the journal`,
    );
    return;
  }
  const actionHash = str(body['actionHash']) ?? '';
  const idempotencyKey = str(body['idempotencyKey']) ?? '';
  const tryNo = typeof body['try'] === 'number' ? body['try'] : 0;
  if (permit.actionHash !== actionHash)
    report('ATTEMPT_ACTION_MISMATCH', `the permit at seq ${permit.seq} is for another action`);
  if (ctx.atMs > permit.expiresAtMs) report('PERMIT_EXPIRED', `the permit at seq ${permit.seq} had expired`);
  if (permit.attempts > 0) {
    // A retry of the same execution (same key, next try, no outcome yet) is not a reuse.
    const last = permit.lastAttempt === undefined ? undefined : state.attempts.get(permit.lastAttempt);
    const retry =
      permit.status === 'attempted' &&
      last?.status === undefined &&
      idempotencyKey === permit.lastIdempotencyKey &&
      tryNo === permit.lastTry + 1;
    if (!retry) report('PERMIT_REUSED', `the permit at seq ${permit.seq} was already used`);
    else if (last !== undefined) {
      last.superseded = true;
      state.open.delete(last.hash);
    }
  } else if (tryNo !== 1) {
    report('PERMIT_REUSED', `the first attempt with the permit at seq ${permit.seq} is try ${tryNo}`);
  }
  const attempt: AttemptEntry = {
    hash: ctx.hash,
    seq: ctx.seq,
    permit: permitHash,
    actionHash,
    idempotencyKey,
    tryNo,
    instance: str(body['instance']),
    kid: ctx.kid,
    status: undefined,
    superseded: false,
  };
  state.attempts.set(ctx.hash, attempt);
  state.open.set(ctx.hash, permitHash);
  permit.attempts += 1;
  permit.attemptHashes.push(ctx.hash);
  permit.lastTry = tryNo;
  permit.lastIdempotencyKey = idempotencyKey;
  permit.lastAttempt = ctx.hash;
  if (permit.status === 'outstanding') {
    // Attempted, it holds until its outcome even past its expiry.
    unlapse(state, permit);
    permit.status = 'attempted';
  }
}

const OUTCOMES: ReadonlySet<string> = new Set(['completed', 'failed', 'unknown', 'compensated']);

function applyOutcome(ctx: Ctx<'outcome'>): void {
  const { state, body, report } = ctx;
  const status = str(body['status']);
  if (status === undefined || !OUTCOMES.has(status))
    return report('BODY_INVALID', 'the outcome has no status');
  const attempt = state.attempts.get(str(body['attempt']) ?? '');
  if (attempt === undefined) {
    report(
      'OUTCOME_WITHOUT_ATTEMPT',
      `the outcome points to ${String(body['attempt'])}, not an earlier attempt`,
    );
    return;
  }
  if (attempt.permit !== body['permit'])
    report('OUTCOME_MISMATCH', `the attempt at seq ${attempt.seq} used another permit`);
  // The kernel writes the outcome of the last try only: an earlier try ended when the next began.
  if (attempt.superseded)
    report('OUTCOME_SUPERSEDED', `the attempt at seq ${attempt.seq} was replaced by a later try`);
  const prior = attempt.status;
  // After `unknown` the real outcome may follow; a completed action may be compensated once.
  const allowed =
    prior === undefined || prior === 'unknown' || (prior === 'completed' && status === 'compensated');
  if (!allowed) report('OUTCOME_DUPLICATE', `the attempt at seq ${attempt.seq} already has outcome ${prior}`);
  attempt.status = status as OutcomeStatus;
  state.open.delete(attempt.hash);
  const permit = state.permits.get(attempt.permit);
  if (permit === undefined) return;
  // Even a duplicate outcome is charged: whatever the journal says may have run counts.
  permit.status = status as OutcomeStatus;
  settle(state, permit, status as OutcomeStatus);
}

/**
 * Ends a permit's holds: a failed action releases them; anything else (completed, unknown — it may
 * have happened —, compensated) settles them, so a limit never counts less than what may have run,
 * even when a later attempt on a released permit reports that it ran after all.
 */
function settle(state: LedgerState, permit: PermitEntry, status: OutcomeStatus): void {
  if (permit.charged === 'settled' || (status === 'failed' && permit.charged === 'released')) return;
  unlapse(state, permit);
  dropHolds(state, permit);
  if (status !== 'failed') for (const c of permit.counters) counterEntry(state, c).settled += c.amount;
  permit.charged = status === 'failed' ? 'released' : 'settled';
}
