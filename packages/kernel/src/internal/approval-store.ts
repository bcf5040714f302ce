// Pending approvals in the store: created from an escalation record (its `pendingApproval` terms).
import type { AppendedRecord } from '../journal.js';
import type { KernelContext } from './context.js';
import { isObject } from './permit-body.js';

/** Creates the store's pending approval of a journaled escalation (its id is the record hash). */
export async function createPendingFor(ctx: KernelContext, appended: AppendedRecord): Promise<void> {
  const body = appended.record.body;
  const pending = isObject(body) ? body['pendingApproval'] : undefined;
  if (!isObject(body) || !isObject(pending)) return;
  const { actionHash } = body;
  const { count, role, expiresAt } = pending;
  // The kernel wrote these terms itself (decide-plan.ts); anything else is not an escalation it made.
  if (typeof actionHash !== 'string' || typeof role !== 'string' || typeof expiresAt !== 'string') return;
  await ctx.store.createApproval({
    id: appended.hash,
    actionHash,
    required: { count: Number(count), role },
    createdAt: appended.record.at,
    expiresAt,
  });
}
