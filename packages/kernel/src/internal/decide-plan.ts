/**
 * The pure part of `decide`: the decision input, the approvals it counts, the body of the decision
 * record and the answer built from the journaled record. No I/O and no clock; decide.ts does the I/O.
 */
import { digestEquals, toFrozenJson, type Digest, type JsonValue } from '@edca/records';
import type { ApprovalEntry } from '@edca/ledger';
import type { DecisionInput } from '@edca/semantic';
import { toRfc3339 } from '../clock.js';
import { decisionKeyOf, type KernelDecisionResult } from '../decision.js';
import type { AppendedRecord } from '../journal.js';
import type { PendingApproval } from '../store.js';
import type { DecideContext, Decision, DecisionReason } from '../types.js';
import { actionHashFor } from './action.js';
import type { MapEntry } from './registry.js';
import type { Settings } from './settings.js';

/** A decision input with its decision key and action hash. */
export interface Planned {
  readonly input: DecisionInput;
  readonly decisionKey: Digest;
  readonly actionHash: Digest;
}

/** A kernel refusal that was not journaled (no map, a closed kernel, a malformed request). */
export function refusal(
  rule: string,
  reasons: readonly DecisionReason[],
  extra: Partial<Decision> = {},
): Decision {
  return {
    verdict: 'refuse',
    rule,
    reasons,
    decisionKey: null,
    stateHash: null,
    policyDigest: null,
    actionHash: null,
    accountable: null,
    record: null,
    cached: false,
    ...extra,
  };
}

/**
 * The decision input of a request, as a kernel-owned, deeply frozen copy whose canonical text is
 * remembered as it is made: the decision key, the action hash (its params) and the decision record
 * reuse that text instead of serializing the input three times. Input that is not plain I-JSON data
 * stays as given, and is checked (and refused) exactly as before.
 * @throws RecordsError IJSON_* when the request is not I-JSON
 */
export function planInput(
  entry: MapEntry,
  proposal: DecisionInput['proposal'],
  principal: DecideContext['principal'],
  state: DecisionInput['state'],
  approvals: DecisionInput['approvals'],
  counters: Record<string, number>,
  nowMs: number,
): Planned {
  // Members in sorted order (RFC 8785 §3.2.3), so toFrozenJson writes the text as it copies.
  const draft: DecisionInput = {
    approvals,
    counters,
    ...(entry.map.usesTime ? { now: toRfc3339(nowMs) } : {}),
    policyDigest: entry.map.digest,
    principal: { attributes: principal.attributes, id: principal.id },
    proposal,
    state,
  };
  const input = toFrozenJson(draft) ?? draft;
  return { input, decisionKey: decisionKeyOf(input), actionHash: actionHashFor(input.proposal) };
}

/** Why a request that names an approval cannot use it. */
export type ApprovalRefusalCode =
  'APPROVAL_NOT_FOUND' | 'APPROVAL_REJECTED' | 'APPROVAL_EXPIRED' | 'APPROVAL_INVALID';

/**
 * The approvals a request may count: the distinct approvers of a pending approval for the same
 * action that is neither rejected, expired nor used (an approval authorizes one permit).
 */
export function approvalsFor(
  pending: PendingApproval | undefined,
  inLedger: ApprovalEntry | undefined,
  /** The request's action hash, computed only when the approval is otherwise usable. */
  actionHash: () => Digest,
  nowMs: number,
): { ok: true; approvals: DecisionInput['approvals'] } | { ok: false; code: ApprovalRefusalCode } {
  if (!pending) return { ok: false, code: 'APPROVAL_NOT_FOUND' };
  if (pending.status === 'rejected') return { ok: false, code: 'APPROVAL_REJECTED' };
  if (pending.status === 'expired' || Date.parse(pending.expiresAt) <= nowMs)
    return { ok: false, code: 'APPROVAL_EXPIRED' };
  if (!digestEquals(pending.actionHash, actionHash())) return { ok: false, code: 'APPROVAL_INVALID' };
  if (inLedger?.usedBy !== undefined) return { ok: false, code: 'APPROVAL_INVALID' };
  const distinct = new Map(pending.approvers.map((a) => [a.kid, { kid: a.kid, role: a.role }]));
  const approvals = [...distinct.values()].sort((a, b) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
  return { ok: true, approvals };
}

/** What a decision record says besides its input: who asked, when it was decided, format 2 fields. */
export interface DecisionMeta {
  readonly decisionKey: Digest;
  readonly stateHash: Digest;
  readonly actionHash: Digest;
  readonly context: DecideContext;
  readonly nowMs: number;
  readonly cached: boolean;
  /** Format 2 permit fields (`hold`, `approval`). */
  readonly extra?: Record<string, JsonValue>;
}

/** The body of a decision record, the escalation's approval terms, and the answer's common part. */
export function decisionBody(
  settings: Settings,
  entry: MapEntry,
  input: DecisionInput,
  result: KernelDecisionResult,
  meta: DecisionMeta,
): { body: Record<string, JsonValue>; pendingApproval: PendingTerms | undefined; base: DecisionBase } {
  const pendingApproval: PendingTerms | undefined =
    result.verdict === 'escalate'
      ? {
          count: result.approvalsRequired?.count ?? 1,
          role: result.approvalsRequired?.role ?? 'approver',
          expiresAt: toRfc3339(meta.nowMs + settings.approvalTtlMs),
        }
      : undefined;
  // Members assigned in RFC 8785 order (the record's canonical text sorts them): the writer's sort
  // then finds them in place. Assigned one by one, not spread in: a conditional spread copies
  // through the slow generic path.
  const extra = meta.extra;
  const body: Record<string, JsonValue> = {};
  body['accountable'] = result.accountable;
  body['actionHash'] = meta.actionHash;
  if (extra?.['approval'] !== undefined) body['approval'] = extra['approval'];
  body['decisionKey'] = meta.decisionKey;
  if (result.verdict === 'permit') body['expiresAt'] = toRfc3339(meta.nowMs + settings.permitTtlMs);
  if (extra?.['hold'] !== undefined) body['hold'] = extra['hold'];
  body['input'] = input as unknown as JsonValue;
  if (pendingApproval) body['pendingApproval'] = { ...pendingApproval };
  body['policyDigest'] = entry.map.digest;
  body['principal'] = meta.context.principal.id;
  body['proposer'] = {
    modelId: meta.context.proposer.modelId,
    promptTemplateDigest: meta.context.proposer.promptTemplateDigest,
  };
  body['reasons'] = [...result.reasons];
  body['rule'] = result.rule;
  body['stateHash'] = meta.stateHash;
  body['verdict'] = result.verdict;
  if (extra) for (const k in extra) if (k !== 'approval' && k !== 'hold') body[k] = extra[k]!;
  const base: DecisionBase = {
    verdict: result.verdict,
    rule: result.rule,
    reasons: result.reasons,
    decisionKey: meta.decisionKey,
    stateHash: meta.stateHash,
    policyDigest: entry.map.digest,
    actionHash: meta.actionHash,
    accountable: result.accountable,
    cached: meta.cached,
  };
  return { body, pendingApproval, base };
}

/** The approval terms of an escalation. */
export interface PendingTerms {
  readonly count: number;
  readonly role: string;
  readonly expiresAt: string;
}

/** The part of a decision known before it is journaled. */
export type DecisionBase = Omit<Decision, 'record' | 'permit' | 'approval'>;

/**
 * The base's members (in the order decisionBody makes them) with the record. Written out rather
 * than spread: the members a literal defines after a spread are defined through the slow generic
 * path (V8 cannot know the spread's shape), a runtime call per member on every decision.
 */
function answered(base: DecisionBase, record: { hash: Digest; seq: number }): Mutable<Decision> {
  return {
    verdict: base.verdict,
    rule: base.rule,
    reasons: base.reasons,
    decisionKey: base.decisionKey,
    stateHash: base.stateHash,
    policyDigest: base.policyDigest,
    actionHash: base.actionHash,
    accountable: base.accountable,
    cached: base.cached,
    record,
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The answer for a journaled decision record. */
export function decisionOf(
  base: DecisionBase,
  appended: AppendedRecord,
  pendingApproval: PendingTerms | undefined,
): Decision {
  const record = { hash: appended.hash, seq: appended.record.seq };
  // A switch rather than ts-pattern on this per-decision path (its builder allocates a closure per
  // arm on every call); `never` keeps it exhaustive all the same.
  switch (base.verdict) {
    case 'permit': {
      const out = answered(base, record);
      out.permit = { record: appended.record, hash: appended.hash };
      return out;
    }
    case 'escalate': {
      const out = answered(base, record);
      out.approval = {
        id: appended.hash,
        required: { count: pendingApproval!.count, role: pendingApproval!.role },
        expiresAt: pendingApproval!.expiresAt,
      };
      return out;
    }
    case 'refuse':
      return answered(base, record);
    default:
      return base.verdict satisfies never;
  }
}
