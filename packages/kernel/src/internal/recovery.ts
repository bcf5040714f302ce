/**
 * Startup recovery: the `@edca/ledger` fold of the journal — from its last snapshot on when there
 * is one — becomes the kernel's live state; then what the fold leaves open is resolved: the
 * embedded store is filled from it, maps not yet activated are activated, and the attempts without
 * an outcome of this instance, and of instances whose lease lapsed, get one.
 */
import { attemptsWithoutOutcome, permitBody, prune, type AttemptEntry, type PermitEntry } from '@edca/ledger';
import type { Digest } from '@edca/records';
import { activationBodies } from '../activation.js';
import { toRfc3339 } from '../clock.js';
import { KernelError } from '../errors.js';
import type { RecordDraft } from '../journal.js';
import type { RecoveryReport } from '../types.js';
import { createPendingFor } from './approval-store.js';
import type { KernelContext } from './context.js';
import { unknownEscalation } from './execute.js';
import { createLeases, type Leases } from './leases.js';
import { DEFAULT_SNAPSHOT_EVERY, foldJournal, type FoldedJournal } from './ledger-journal.js';
import { reservationsOfPermit, settleHeld } from './limits.js';
import type { PermitBody } from './permit-body.js';

/**
 * Folds the journal into the kernel's ledger, from the last snapshot on when there is one, and
 * moves the kernel's appends past it.
 */
async function foldFromSnapshot(ctx: KernelContext): Promise<FoldedJournal> {
  let folded: FoldedJournal;
  try {
    // A snapshot is looked for where one must be if this configuration wrote it.
    const lookback = 4 * (ctx.settings.snapshotEvery || DEFAULT_SNAPSHOT_EVERY);
    folded = await foldJournal(ctx.journal, ctx.ledger, lookback);
  } catch (error) {
    throw new KernelError('KERNEL_SELF_TEST_FAILED', 'the journal cannot be read back', { cause: error });
  }
  ctx.ledgerJournal.startAt(ctx.ledger.seq);
  return folded;
}

/**
 * The lease keeper of this instance: another instance's attempts are resolved as startup resolves
 * this instance's own.
 */
export function leasesOf(ctx: KernelContext): Leases {
  return createLeases({
    store: ctx.store,
    journal: ctx.journal,
    clock: ctx.clock,
    instance: ctx.settings.instance,
    leaseMs: ctx.settings.leaseMs,
    resolve: (attempt, permit) => resolveDangling(ctx, attempt, permit),
  });
}

/** This instance's attempts without an outcome, signed with its key: another's are its own to resolve. */
function ownDangling(ctx: KernelContext): AttemptEntry[] {
  return attemptsWithoutOutcome(ctx.ledger, ctx.settings.instance).filter((a) => a.kid === ctx.signer.kid);
}

/**
 * Recovers: folds the journal, fills the embedded store, activates policies, resolves dangling
 * attempts (this instance's, and those of instances whose lease lapsed), then has `leases` watch
 * a shared stream for more.
 * @throws KernelError KERNEL_SELF_TEST_FAILED when the journal cannot be read or does not take a record
 */
export async function recover(ctx: KernelContext, leases: Leases): Promise<RecoveryReport> {
  const { records, fromSnapshot, violations } = await foldFromSnapshot(ctx);
  // Several instances share the store: this one watches the stream for attempts of instances whose
  // lease lapsed, from a copy of the fold taken before this kernel appends anything.
  const stream = ctx.ownStore || !leases.enabled ? undefined : structuredClone(ctx.ledger);
  await leases.renew();
  const now = ctx.clock.now();
  ctx.holdIds.resumeAfter(ctx.ledger.atMs);
  if (ctx.ownStore) await seedStore(ctx, now);
  prune(ctx.ledger, now);
  await activatePolicies(ctx);
  const dangling = [...ownDangling(ctx), ...(await leases.lapsed(attemptsWithoutOutcome(ctx.ledger)))];
  const resolved: { permit: Digest; status: 'completed' | 'failed' | 'unknown' }[] = [];
  for (const attempt of dangling) {
    if (!(await leases.claim(attempt))) continue;
    const status = await resolveDangling(ctx, attempt, ctx.ledger.permits.get(attempt.permit));
    resolved.push({ permit: attempt.permit as Digest, status });
  }
  if (stream !== undefined) leases.watch(stream);
  return { records, fromSnapshot, violations, dangling: dangling.length, resolved };
}

/** Journals `policy.activated` for every loaded map the journal has not activated yet. */
async function activatePolicies(ctx: KernelContext): Promise<void> {
  const maps = ctx.registry.entries.map((e) => e.map);
  for (const body of activationBodies(maps, ctx.ledger, ctx.options)) {
    try {
      const [appended] = await ctx.append([
        { type: 'policy.activated', at: toRfc3339(ctx.clock.now()), body },
      ]);
      if (!appended || appended.record.kid !== ctx.signer.kid)
        throw new KernelError(
          'KERNEL_SELF_TEST_FAILED',
          'the journal signs with another key than the kernel signer',
        );
    } catch (error) {
      if (error instanceof KernelError && error.code === 'KERNEL_SELF_TEST_FAILED') throw error;
      throw new KernelError('KERNEL_SELF_TEST_FAILED', 'the journal does not take a record', {
        cause: error,
      });
    }
  }
}

/** Asks the handler's idempotency check (if any) what became of an attempt. */
async function checkAttempt(
  ctx: KernelContext,
  body: PermitBody | undefined,
  idempotencyKey: string,
): Promise<'completed' | 'failed' | 'unknown'> {
  const handler = body ? ctx.registry.handlerFor(body.policyDigest, body.input.proposal.intent) : undefined;
  const check = handler ? ctx.options.idempotencyChecks?.[handler] : undefined;
  if (!check) return 'unknown';
  try {
    return (await check(idempotencyKey)) === 'completed' ? 'completed' : 'failed';
  } catch {
    return 'unknown';
  }
}

/** Resolves one attempt left without an outcome, and journals what became of it. */
async function resolveDangling(
  ctx: KernelContext,
  attempt: { readonly hash: string; readonly permit: string; readonly idempotencyKey: string },
  permit: PermitEntry | undefined,
): Promise<'completed' | 'failed' | 'unknown'> {
  const body = permit === undefined ? undefined : (permitBody(permit) as PermitBody);
  const entry = body ? ctx.registry.byDigest(body.policyDigest) : undefined;
  const status = await checkAttempt(ctx, body, attempt.idempotencyKey);
  const transition =
    status === 'completed' && body && entry ? ctx.registry.transitionFor(entry, body.input) : undefined;
  const outcome = {
    attempt: attempt.hash,
    permit: attempt.permit,
    status,
    ...(status === 'completed'
      ? {}
      : { error: { code: status === 'failed' ? 'HANDLER_FAILED' : 'OUTCOME_UNKNOWN' } }),
    ...(transition ? { transition } : {}),
  };
  const drafts: RecordDraft[] = [{ type: 'outcome', at: toRfc3339(ctx.clock.now()), body: outcome }];
  if (status === 'unknown' && body) drafts.push(unknownEscalation(ctx, body, attempt.permit));
  const appended = await ctx.append(drafts);
  if (status === 'unknown' && body && appended[1]) await createPendingFor(ctx, appended[1]);
  await settleHeld(ctx, attempt.permit, status, body);
  return status;
}

/** Fills the embedded store's approvals from the ledger. */
async function seedApprovals(ctx: KernelContext): Promise<void> {
  const { store } = ctx;
  for (const a of ctx.ledger.approvals.values()) {
    if (a.required === undefined) continue;
    const { id } = a;
    const at = toRfc3339(a.atMs);
    await store.createApproval({
      id,
      actionHash: a.actionHash,
      required: a.required,
      createdAt: at,
      expiresAt: toRfc3339(a.expiresAtMs),
    });
    for (const ap of a.approvers)
      await store.addApprover(id, { kid: ap.kid, role: ap.role, record: ap.record, at: toRfc3339(ap.atMs) });
    if (a.rejected) await store.resolveApproval(id, 'rejected', at);
    else if (a.approvers.length >= a.required.count) await store.resolveApproval(id, 'approved', at);
    if (a.usedBy !== undefined) await store.consumePermit(`approval:${id}`, at);
  }
}

/**
 * The embedded store starts empty: fill it from the ledger (approvals, consumed permits, and the
 * holds and usage of permits journaled before record format 2, which name no counters), so it
 * answers as it did before the restart. Format 2 holds need no copy: the store reads the ledger.
 */
async function seedStore(ctx: KernelContext, now: number): Promise<void> {
  const { store } = ctx;
  await seedApprovals(ctx);
  for (const p of ctx.ledger.permits.values()) {
    const attempted = p.status !== 'outstanding';
    if (attempted) await store.consumePermit(p.hash, toRfc3339(p.atMs));
    // A format 2 permit's holds are the ledger's own counters: nothing to copy.
    if (p.holdId !== undefined || (!attempted && p.expiresAtMs <= now) || p.charged === 'released') continue;
    const reservations = reservationsOfPermit(
      ctx.registry,
      permitBody(p) as unknown as PermitBody,
      p.atMs,
    ).filter((r) => r.windowEnd === undefined || r.windowEnd > now);
    if (reservations.length === 0) continue;
    const holdUntil = attempted ? Number.MAX_SAFE_INTEGER : p.expiresAtMs;
    const wanted = reservations.map((r) => ({ ...r, max: Number.MAX_VALUE, holdUntil }));
    const ok = await (ctx.embedded?.reserveLegacy(wanted, now) ?? store.reserve(wanted, now));
    if (ok.ok && p.charged === 'settled') for (const r of reservations) await store.settle(r.id);
    ctx.held.restore(p.hash, { ids: reservations.map((r) => r.id), until: holdUntil });
  }
}
