/**
 * `decide`: the thin I/O wrapper around decide-plan.ts — derive the state, read the approvals and
 * the limit usage, reserve the permit's holds, journal the decision — with tracing and events.
 */
import type { Span } from '@opentelemetry/api';
import type { Digest, JsonValue } from '@edca/records';
import type { CompiledIntent, DecisionInput } from '@edca/semantic';
import { toRfc3339 } from '../clock.js';
import { decisionKeyOf, evaluateDecision, type KernelDecisionResult, type Proposal } from '../decision.js';
import { KernelError } from '../errors.js';
import type { AppendedRecord } from '../journal.js';
import type { Reservation } from '../store.js';
import type { DecideContext, Decision, DecisionReason } from '../types.js';
import { actionHashFor, counterName } from './action.js';
import { createPendingFor } from './approval-store.js';
import type { KernelContext } from './context.js';
import {
  approvalsFor,
  decisionBody,
  decisionOf,
  planInput,
  refusal,
  type ApprovalRefusalCode,
  type DecisionMeta,
  type Planned,
} from './decide-plan.js';
import { deriveFor } from './derive.js';
import { holdOf, reservationsFor } from './limits.js';
import { isObject } from './permit-body.js';
import type { MapEntry } from './registry.js';

/** Journals a decision; if the journal does not take it, the answer is a refusal and no permit exists. */
export async function journalDecision(
  ctx: KernelContext,
  entry: MapEntry,
  input: DecisionInput,
  result: KernelDecisionResult,
  meta: DecisionMeta,
): Promise<{ decision: Decision; appended: AppendedRecord | null }> {
  const { body, pendingApproval, base } = decisionBody(ctx.settings, entry, input, result, meta);
  let appended: AppendedRecord;
  try {
    const out = await ctx.append([{ type: 'decision', at: toRfc3339(meta.nowMs), body }]);
    if (!out[0]) throw new KernelError('JOURNAL_UNAVAILABLE', 'the journal returned no record');
    appended = out[0];
  } catch {
    const code = await ctx.diagnoseAppendFailure();
    return {
      decision: { ...base, verdict: 'refuse', rule: 'kernel.journal', reasons: [code], record: null },
      appended: null,
    };
  }
  return { decision: decisionOf(base, appended, pendingApproval), appended };
}

/** The request a kernel pre-check refused, and what is known of it. */
export interface KernelRefusal {
  readonly entry: MapEntry;
  readonly proposal: { intent: string; params: Record<string, JsonValue> };
  readonly context: DecideContext;
  readonly rule: string;
  readonly reasons: readonly DecisionReason[];
  readonly state?: DecisionInput['state'];
  readonly stateHash?: Digest;
  readonly nowMs: number;
}

/**
 * Journals a refusal made before `evaluate` could run, so the audit sees every decision (its rule
 * starts with `kernel.` and is not replayed by evaluate).
 */
export async function journalKernelRefusal(ctx: KernelContext, r: KernelRefusal): Promise<Decision> {
  const { entry, proposal, context } = r;
  let planned: Planned;
  try {
    const state = r.state ?? { facets: {}, machines: {} };
    const input: DecisionInput = {
      policyDigest: entry.map.digest,
      state,
      proposal,
      principal: context.principal,
      approvals: [],
      counters: {},
    };
    planned = { input, actionHash: actionHashFor(proposal), decisionKey: decisionKeyOf(input) };
  } catch {
    return refusal(r.rule, r.reasons, { policyDigest: entry.map.digest });
  }
  const { decision } = await journalDecision(
    ctx,
    entry,
    planned.input,
    { verdict: 'refuse', rule: r.rule, reasons: r.reasons, accountable: entry.map.owner },
    {
      decisionKey: planned.decisionKey,
      stateHash: r.stateHash ?? entry.map.stateHash(planned.input.state),
      actionHash: planned.actionHash,
      context,
      nowMs: r.nowMs,
      cached: false,
    },
  );
  return decision;
}

/** A request past its pre-checks: derived, its approvals read, its counters named. */
interface Request {
  readonly entry: MapEntry;
  readonly proposal: Proposal;
  readonly normalized: { intent: string; params: Record<string, JsonValue> };
  readonly context: DecideContext;
  readonly state: DecisionInput['state'];
  readonly stateHash: Digest;
  readonly intent: CompiledIntent | undefined;
  readonly counterNames: readonly string[];
  readonly approvals: DecisionInput['approvals'];
  readonly nowMs: number;
}

/** Journals a refusal of a derived request (its state is known). */
function refuseRequest(
  ctx: KernelContext,
  req: Request,
  rule: string,
  reasons: readonly DecisionReason[],
): Promise<Decision> {
  const { entry, normalized: proposal, context, state, stateHash, nowMs } = req;
  return journalKernelRefusal(ctx, { entry, proposal, context, rule, reasons, state, stateHash, nowMs });
}

const refuseApproval = (ctx: KernelContext, req: Request, code: ApprovalRefusalCode): Promise<Decision> =>
  refuseRequest(ctx, req, 'kernel.approval', [code]);

/** Decides one proposal: pre-checks, derivation, approvals, then the evaluation under limits. */
async function decideOnce(
  ctx: KernelContext,
  proposal: Proposal,
  context: DecideContext,
  span: Span,
): Promise<Decision> {
  if (ctx.closed) return refusal('kernel.closed', ['KERNEL_CLOSED']);
  const unwitnessed = await ctx.witnessGate?.check(ctx.clock.now());
  if (unwitnessed) return refusal('kernel.witness', [unwitnessed]);
  const fallback = ctx.registry.fallback;
  if (!fallback) return refusal('kernel.no-map', ['NO_MAP_LOADED']);
  if (!isObject(proposal) || typeof proposal.intent !== 'string' || !isObject(proposal.params)) {
    return refusal('kernel.intake', ['SCHEMA_VIOLATION']);
  }
  const nowMs = ctx.clock.now();
  const normalized = { intent: proposal.intent, params: proposal.params };
  const entry = ctx.registry.byIntent(proposal.intent);
  if (!entry) {
    const reasons = ['UNKNOWN_INTENT'] as const;
    return journalKernelRefusal(ctx, {
      entry: fallback,
      proposal: normalized,
      context,
      rule: 'kernel.intake',
      reasons,
      nowMs,
    });
  }
  const derived = await deriveFor(
    ctx.registry,
    ctx.clock,
    entry,
    normalized,
    context.session,
    context.principal,
  );
  if (!derived.ok) {
    const { rule, reasons } = derived;
    return journalKernelRefusal(ctx, { entry, proposal: normalized, context, rule, reasons, nowMs });
  }
  const intent = entry.map.intent(proposal.intent);
  // Counter names depend only on the request, not on the round: name them once.
  const scopes = new Map<string, string>();
  const counterNames = (intent?.limits ?? []).map((limit) =>
    counterName(limit, context.principal, derived.value.scopeIds, nowMs, scopes),
  );
  const { state, stateHash } = derived.value;
  const req: Request = {
    entry,
    proposal,
    normalized,
    context,
    state,
    stateHash,
    intent,
    counterNames,
    approvals: [],
    nowMs,
  };
  if (context.approvalId === undefined) return decideUnderLimits(ctx, req, span);
  const found = approvalsFor(
    await ctx.store.getApproval(context.approvalId),
    ctx.ledger.approvals.get(context.approvalId),
    () => actionHashFor(normalized),
    nowMs,
  );
  if (!found.ok) return refuseApproval(ctx, req, found.code);
  return decideUnderLimits(ctx, { ...req, approvals: found.approvals }, span);
}

/**
 * Limits: usage is part of the input; a permit holds a reservation that is checked atomically
 * against max. If another decision took the headroom between read and reserve, decide again on
 * the fresh usage (which then refuses with LIMIT_EXCEEDED), so no counter ever passes its max.
 */
async function decideUnderLimits(ctx: KernelContext, req: Request, span: Span): Promise<Decision> {
  const { entry, stateHash } = req;
  const limits = req.intent?.limits ?? [];
  let collisions = 0;
  for (let round = 0; round < 16; round += 1) {
    const counters: Record<string, number> = {};
    try {
      // Asked together, so a store that batches calls answers them in one statement; the embedded
      // store answers at once.
      const used =
        ctx.embedded !== undefined
          ? ctx.embedded.usageOf(req.counterNames, req.nowMs)
          : await Promise.all(req.counterNames.map((name) => ctx.store.usage(name, req.nowMs)));
      for (let i = 0; i < limits.length; i++) counters[limits[i]!.key] = used[i]!;
    } catch {
      return refusal('kernel.store', ['STORE_UNAVAILABLE'], { policyDigest: entry.map.digest, stateHash });
    }
    let planned: Planned;
    try {
      planned = planInput(
        entry,
        req.normalized,
        req.context.principal,
        req.state,
        req.approvals,
        counters,
        req.nowMs,
      );
    } catch {
      return refusal('kernel.intake', ['SCHEMA_VIOLATION'], { policyDigest: entry.map.digest, stateHash });
    }
    const hit = ctx.cache.get(planned.decisionKey);
    const result =
      hit ?? evaluateDecision(entry.map, planned.input, { cache: ctx.cache, key: planned.decisionKey });
    if (span.isRecording()) span.setAttribute('edca.cached', hit !== undefined);
    const held = await reserveHolds(ctx, req, planned, result);
    if (held === 'retry') continue;
    if (held === 'collision') {
      if (collisions < 3) {
        collisions += 1;
        continue;
      }
      return storeRefusal(req, planned);
    }
    if (held === 'unavailable') return storeRefusal(req, planned);
    return journalAndHold(ctx, req, planned, result, hit !== undefined, held);
  }
  return refuseRequest(ctx, req, 'kernel.limits', ['LIMIT_EXCEEDED']);
}

function storeRefusal(req: Request, planned: Planned): Decision {
  return refusal('kernel.store', ['STORE_UNAVAILABLE'], {
    policyDigest: req.entry.map.digest,
    stateHash: req.stateHash,
    decisionKey: planned.decisionKey,
    actionHash: planned.actionHash,
  });
}

/** A permit's holds as reserved in the store, with the hold id they share. */
interface Holds {
  readonly holdId: string;
  readonly reservations: readonly Reservation[];
}

/**
 * Reserves a permit's holds. The hold id, signed in the permit, names its reservations: unique per
 * permit however many identical decisions share a millisecond, and known to every instance and to
 * recovery. `retry` when the headroom went to another decision, `collision` when the id was taken.
 */
async function reserveHolds(
  ctx: KernelContext,
  req: Request,
  planned: Planned,
  result: KernelDecisionResult,
): Promise<Holds | 'retry' | 'collision' | 'unavailable'> {
  const { intent, nowMs } = req;
  if (result.verdict !== 'permit' || !intent || intent.limits.length === 0)
    return { holdId: '', reservations: [] };
  const holdId = ctx.holdIds.next(nowMs, planned.decisionKey);
  const holdUntil = nowMs + ctx.settings.permitTtlMs;
  const reservations = reservationsFor(intent, planned.input, req.counterNames, holdUntil, holdId, nowMs);
  try {
    const reserved =
      ctx.embedded !== undefined
        ? await ctx.embedded.reserveHold(holdId, reservations, nowMs)
        : await ctx.store.reserve(reservations, nowMs);
    return reserved.ok ? { holdId, reservations } : 'retry';
  } catch (error) {
    return error instanceof KernelError && error.code === 'STORE_MISUSE' ? 'collision' : 'unavailable';
  }
}

async function releaseAll(ctx: KernelContext, holds: Holds): Promise<void> {
  await Promise.all(holds.reservations.map((r) => ctx.store.release(r.id).catch(() => undefined)));
}

/** Marks the approval a permit uses (atomically, across instances): it authorizes ONE permit. */
async function useApproval(ctx: KernelContext, req: Request): Promise<boolean> {
  try {
    return await ctx.store.consumePermit(`approval:${req.context.approvalId}`, toRfc3339(req.nowMs));
  } catch {
    return false;
  }
}

/** Journals the decision with what it holds and uses, and remembers a permit or an escalation. */
async function journalAndHold(
  ctx: KernelContext,
  req: Request,
  planned: Planned,
  result: KernelDecisionResult,
  cached: boolean,
  holds: Holds,
): Promise<Decision> {
  const usesApproval =
    result.verdict === 'permit' && req.context.approvalId !== undefined && req.approvals.length > 0;
  if (usesApproval && !(await useApproval(ctx, req))) {
    await releaseAll(ctx, holds);
    return refuseApproval(ctx, req, 'APPROVAL_INVALID');
  }
  const extra: Record<string, JsonValue> = {};
  if (holds.reservations.length > 0 && req.intent)
    extra['hold'] = holdOf(holds.reservations, req.intent, holds.holdId);
  if (usesApproval) extra['approval'] = req.context.approvalId!;
  const { decisionKey, actionHash } = planned;
  const meta = {
    decisionKey,
    stateHash: req.stateHash,
    actionHash,
    context: req.context,
    nowMs: req.nowMs,
    cached,
    extra,
  };
  const { decision, appended } = await journalDecision(ctx, req.entry, planned.input, result, meta);
  if (!appended) {
    await releaseAll(ctx, holds);
    return decision;
  }
  const shadowDraft = ctx.registry.shadows?.draftFor(
    req.entry.map,
    planned.input,
    appended.hash,
    toRfc3339(req.nowMs),
  );
  // The live decision is durable already: a lost shadow record only leaves a gap in the diff.
  if (shadowDraft) await ctx.append([shadowDraft]).catch(() => undefined);
  if (result.verdict === 'permit') {
    const until = req.nowMs + ctx.settings.permitTtlMs;
    const ids = holds.reservations.map((r) => r.id);
    ctx.held.add(
      appended.hash,
      { ids, until, session: req.context.session, line: appended.bytes },
      req.nowMs,
    );
  }
  if (result.verdict === 'escalate') {
    try {
      await createPendingFor(ctx, appended);
    } catch {
      return storeRefusal(req, planned);
    }
    ctx.pendingRequests.set(appended.hash, { proposal: req.proposal, context: req.context });
  }
  return decision;
}

/** `kernel.decide`: one span per decision, the `decision` event after it is journaled. */
export function decide(ctx: KernelContext, proposal: Proposal, context: DecideContext): Promise<Decision> {
  return ctx.tracer.startActiveSpan('edca.decide', async (span) => {
    try {
      // A span that does not record (the API's no-op, or one sampled out) drops attributes anyway
      // (OpenTelemetry API: isRecording); skip building them. The span itself is still started.
      const recording = span.isRecording();
      if (recording) span.setAttribute('edca.intent', String(proposal?.intent));
      const decision = await decideOnce(ctx, proposal, context, span);
      if (recording) {
        span.setAttribute('edca.verdict', decision.verdict);
        span.setAttribute('edca.rule', decision.rule);
        span.setAttribute('edca.reasons', [...decision.reasons]);
        if (decision.decisionKey) span.setAttribute('edca.decision_key', decision.decisionKey);
      }
      if (ctx.listeners.decision.size > 0)
        ctx.emit('decision', { ...decision, intent: String(proposal?.intent) });
      return decision;
    } finally {
      span.end();
    }
  });
}
