/**
 * Approvals: one signed statement at a time for a pending escalation, journaled, counted by distinct
 * approver; once enough agree the request is decided again with them. Rejections and timeouts are
 * journaled as refusals of the request.
 */
import type { Digest, JsonValue } from '@edca/records';
import { toRfc3339 } from '../clock.js';
import { verifyApproval, type SignedApproval } from '../approval.js';
import type { AppendedRecord } from '../journal.js';
import type { PendingApproval } from '../store.js';
import type { ApproveRefusalCode, ApproveResult } from '../types.js';
import type { KernelContext } from './context.js';
import { decide, journalKernelRefusal } from './decide.js';

const refused = (code: ApproveRefusalCode, message: string): ApproveResult => ({
  status: 'refused',
  code,
  message,
});

/** The pending approval a statement is for, if it can still take one. */
async function openApproval(
  ctx: KernelContext,
  id: string,
): Promise<{ ok: true; pending: PendingApproval; nowMs: number } | { ok: false; result: ApproveResult }> {
  const pending = await ctx.store.getApproval(id);
  if (!pending)
    return { ok: false, result: refused('APPROVAL_NOT_FOUND', 'no pending approval with this id') };
  const nowMs = ctx.clock.now();
  if (
    pending.status === 'expired' ||
    (pending.status === 'pending' && Date.parse(pending.expiresAt) <= nowMs)
  ) {
    await expireOne(ctx, pending);
    return { ok: false, result: refused('APPROVAL_EXPIRED', 'the approval window has passed') };
  }
  if (pending.status !== 'pending') {
    const code = pending.status === 'rejected' ? 'APPROVAL_REJECTED' : 'APPROVAL_INVALID';
    return { ok: false, result: refused(code, `approval already ${pending.status}`) };
  }
  return { ok: true, pending, nowMs };
}

/** `kernel.approve`: verifies and journals one statement, then counts it. */
export async function approve(ctx: KernelContext, signed: SignedApproval): Promise<ApproveResult> {
  if (ctx.closed) return refused('KERNEL_CLOSED', 'the kernel is closed');
  if (!ctx.options.trust) return refused('APPROVAL_UNTRUSTED', 'the kernel has no trust file');
  const id = signed?.statement?.decision;
  if (typeof id !== 'string') return refused('APPROVAL_INVALID', 'malformed approval');
  const found = await openApproval(ctx, id);
  if (!found.ok) return found.result;
  const { pending: open, nowMs } = found;
  const at = toRfc3339(nowMs);
  const check = verifyApproval(signed, ctx.options.trust, {
    decision: id,
    actionHash: open.actionHash as Digest,
    role: open.required.role,
    at,
  });
  if (!check.ok) return refused(check.code, check.message);
  const { statement } = signed;
  let appended: AppendedRecord;
  try {
    const body = {
      decision: id,
      actionHash: open.actionHash,
      verdict: statement.verdict,
      approver: { kid: statement.approver.kid, role: statement.approver.role },
      statement: statement as unknown as JsonValue,
      sig: signed.sig,
    };
    appended = (await ctx.append([{ type: 'approval', at, body }]))[0]!;
  } catch {
    return refused(await ctx.diagnoseAppendFailure(), 'the approval could not be journaled');
  }
  if (statement.verdict === 'reject') {
    const resolved = await ctx.store.resolveApproval(id, 'rejected', at);
    ctx.emit('approval', { id, kid: statement.approver.kid, verdict: 'reject', status: resolved.status });
    await journalResolution(ctx, id, 'APPROVAL_REJECTED');
    return refused('APPROVAL_REJECTED', 'an approver rejected the action');
  }
  return countApprover(ctx, open, statement.approver, appended.hash, at);
}

/** Counts an approver; once enough agree, decides the request again (if this process holds it). */
async function countApprover(
  ctx: KernelContext,
  pending: PendingApproval,
  approver: { readonly kid: string; readonly role: string },
  record: Digest,
  at: string,
): Promise<ApproveResult> {
  const { id } = pending;
  const added = await ctx.store.addApprover(id, { kid: approver.kid, role: approver.role, record, at });
  const count = added.approval.approvers.length;
  ctx.emit('approval', {
    id: id as Digest,
    kid: approver.kid,
    verdict: 'approve',
    status: added.approval.status,
  });
  const waiting: ApproveResult = {
    status: 'pending',
    approvers: count,
    required: pending.required.count,
    record,
  };
  if (count < pending.required.count) return waiting;
  await ctx.store.resolveApproval(id, 'approved', at);
  const request = ctx.pendingRequests.get(id);
  if (!request) return waiting;
  ctx.pendingRequests.delete(id);
  const decision = await decide(ctx, request.proposal, { ...request.context, approvalId: id as Digest });
  return { status: 'decided', decision, record };
}

/** Journals the refusal of a request whose approval was rejected or timed out. */
async function journalResolution(
  ctx: KernelContext,
  id: string,
  code: 'APPROVAL_REJECTED' | 'APPROVAL_EXPIRED',
): Promise<void> {
  const request = ctx.pendingRequests.get(id);
  ctx.pendingRequests.delete(id);
  if (!request) return;
  const entry = ctx.registry.byIntent(request.proposal.intent);
  if (!entry) return;
  await journalKernelRefusal(ctx, {
    entry,
    proposal: { intent: request.proposal.intent, params: request.proposal.params },
    context: request.context,
    rule: 'kernel.approval',
    reasons: [code],
    nowMs: ctx.clock.now(),
  });
}

async function expireOne(ctx: KernelContext, pending: PendingApproval): Promise<boolean> {
  const resolved = await ctx.store.resolveApproval(pending.id, 'expired', toRfc3339(ctx.clock.now()));
  if (resolved.status !== 'expired' || resolved.resolvedAt === null) return false;
  await journalResolution(ctx, pending.id, 'APPROVAL_EXPIRED');
  return true;
}

/** `kernel.expireApprovals`: refuses every escalation whose window has passed; returns how many. */
export async function expireApprovals(ctx: KernelContext): Promise<number> {
  const expired = await ctx.store.listExpiredApprovals(toRfc3339(ctx.clock.now()));
  let n = 0;
  for (const pending of expired) if (await expireOne(ctx, pending)) n += 1;
  return n;
}
