/**
 * Questions asked of a ledger state. Time is the caller's (`nowMs`): the state only knows the
 * instants written in its records.
 */
import { pruneExpired, usageAt } from './usage.js';
import { keepsApproval, keepsCounter, keepsPermit } from './snapshot.js';
import type { ApprovalEntry, AttemptEntry, LedgerState, PermitEntry } from './state.js';

/** Where an approval is in its life. */
export type ApprovalStatus = 'pending' | 'granted' | 'used' | 'rejected' | 'expired';

/**
 * The status of an escalation's approval at `nowMs`: used once a permit used it, rejected once an
 * approver rejected, expired once its window passed unused, granted once enough distinct approvers
 * agreed, pending before.
 */
export function approvalStatus(approval: ApprovalEntry, nowMs: number): ApprovalStatus {
  if (approval.usedBy !== undefined) return 'used';
  if (approval.rejected) return 'rejected';
  if (approval.expiresAtMs <= nowMs) return 'expired';
  const required = approval.required?.count ?? Number.POSITIVE_INFINITY;
  return approval.approvers.length >= required ? 'granted' : 'pending';
}

/** The approvals with a status at `nowMs`, oldest first. */
export function approvalsByStatus(
  state: LedgerState,
  status: ApprovalStatus,
  nowMs: number,
): ApprovalEntry[] {
  return [...state.approvals.values()].filter((a) => approvalStatus(a, nowMs) === status);
}

/** Permits that can still run at `nowMs`: not attempted and not expired. */
export function outstandingPermits(state: LedgerState, nowMs: number): PermitEntry[] {
  return [...state.permits.values()].filter((p) => p.status === 'outstanding' && p.expiresAtMs > nowMs);
}

/** Permits consumed by an attempt (whatever their outcome). */
export function consumedPermits(state: LedgerState): PermitEntry[] {
  return [...state.permits.values()].filter((p) => p.status !== 'outstanding');
}

/** Usage of a limit counter at `nowMs`: settled, and held by permits not yet settled or released. */
export function counterUsage(
  state: LedgerState,
  counter: string,
  nowMs: number,
): { readonly held: number; readonly settled: number } {
  const settled = state.counters.get(counter)?.settled ?? 0;
  return { held: usageAt(state, counter, nowMs) - settled, settled };
}

/**
 * Attempts without an outcome (the process that ran them died or lost its journal), oldest first;
 * with `instance`, only that instance's (attempts of journals older than format 2 name none and
 * belong to every instance).
 */
export function attemptsWithoutOutcome(state: LedgerState, instance?: string): AttemptEntry[] {
  const out: AttemptEntry[] = [];
  for (const hash of state.open.keys()) {
    const a = state.attempts.get(hash)!;
    if (instance === undefined || a.instance === undefined || a.instance === instance) out.push(a);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Something a journal leaves unfinished: what an auditor lists for follow-up. */
export interface Unfinished {
  readonly kind: 'attempt-without-outcome' | 'outcome-unknown' | 'escalation-unresolved';
  readonly seq: number;
  readonly actionHash: string;
}

/** Attempts without an outcome or with an unknown one, and escalations nothing answered, by seq. */
export function unfinished(state: LedgerState): Unfinished[] {
  const out: Unfinished[] = [];
  for (const a of state.attempts.values()) {
    if (a.superseded) continue;
    if (a.status === undefined)
      out.push({ kind: 'attempt-without-outcome', seq: a.seq, actionHash: a.actionHash });
    else if (a.status === 'unknown')
      out.push({ kind: 'outcome-unknown', seq: a.seq, actionHash: a.actionHash });
  }
  for (const e of state.approvals.values()) {
    if (!e.resolved) out.push({ kind: 'escalation-unresolved', seq: e.seq, actionHash: e.actionHash });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Policy digests activated so far. */
export function activatedPolicies(state: LedgerState): ReadonlySet<string> {
  return state.policies;
}

/**
 * Forgets what can no longer change a decision at or after `nowMs`, so a long-running state stays
 * bounded: counters whose window ended, permits that expired with no open attempt (with their
 * attempts), approvals whose window passed that are no longer pending, and the hashes of non-permit
 * decisions (kept only to word a violation). What it keeps is what `snapshotState` writes.
 * Audits keep everything (they do not call this).
 */
export function prune(state: LedgerState, nowMs: number): void {
  // Permits first: a pruned permit's holds leave the counters it held, before ended windows go.
  // An unattempted expired permit's holds lapsed; a settled one's amount moved to its counter.
  for (const p of pruneExpired(state, nowMs, (permit) => keepsPermit(permit, nowMs))) {
    for (const a of p.attemptHashes) {
      state.attempts.delete(a);
      state.open.delete(a);
    }
  }
  // forEach: no entry array per counter (a live state holds many).
  state.counters.forEach((c, name) => {
    if (!keepsCounter(c, nowMs)) state.counters.delete(name);
  });
  for (const [id, a] of state.approvals) {
    if (keepsApproval(a, nowMs)) continue;
    state.approvals.delete(id);
    const list = state.approvalsByAction.get(a.actionHash)?.filter((x) => x !== id) ?? [];
    if (list.length === 0) {
      state.approvalsByAction.delete(a.actionHash);
      state.approvedKids.delete(a.actionHash);
    } else state.approvalsByAction.set(a.actionHash, list);
  }
  state.nonPermits.clear();
}
