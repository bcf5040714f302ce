/**
 * `execute`: verify a permit, consume it, run its handler through its route with a timeout, bounded
 * retries and a per-handler circuit breaker, journaling an attempt before each try and the outcome
 * after. A handler that throws or hangs yields an outcome, never an exception.
 */
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import {
  digestEquals,
  encodeRecord,
  RecordsError,
  verifyRecordHash,
  type Digest,
  type JsonValue,
} from '@edca/records';
import type { ArpHandler, ArpSession, PrivateCall } from '@edca/arp';
import { toRfc3339 } from '../clock.js';
import { isFinalHandlerError } from '../handler-error.js';
import type { RecordDraft } from '../journal.js';
import type { ExecuteRefusalCode, ExecuteResult, HandlerFailureCode, Permit } from '../types.js';
import { actionHashFor } from './action.js';
import { createPendingFor } from './approval-store.js';
import type { KernelContext } from './context.js';
import { deriveFor } from './derive.js';
import { reservationIdsOf, settleHeld } from './limits.js';
import { isObject, type PermitBody } from './permit-body.js';
import type { MapEntry, Transition } from './registry.js';

type Refused = Extract<ExecuteResult, { status: 'refused' }>;
const refusedExec = (code: ExecuteRefusalCode, message: string): Refused => ({
  status: 'refused',
  code,
  message,
});

/**
 * The hash of a permit's record, once its bytes are known to be signed by this kernel: either they
 * are exactly the line this process signed and journaled for that permit hash (`held`), or its
 * signature verifies under the kernel's key. Undefined when neither holds.
 */
function signedHashOf(ctx: KernelContext, permit: Permit): Digest | undefined {
  const record = permit.record;
  try {
    const own = typeof permit.hash === 'string' ? ctx.held.get(permit.hash)?.line : undefined;
    if (own !== undefined) {
      // The bytes this process sealed under permit.hash: equal bytes are that signed record, so the
      // signature check (an Ed25519 verify, the costliest step of `execute`'s own work) would only
      // repeat what sealing them did. Any other bytes take the full check below.
      const bytes = encodeRecord(record);
      if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(own)) return permit.hash;
    }
    return verifyRecordHash(record, ctx.signer.publicKey);
  } catch (error) {
    if (!(error instanceof RecordsError)) throw error;
    return undefined;
  }
}

/** Verifies that a permit is a permit record signed by this kernel, bound to its action. */
export function readPermit(ctx: KernelContext, permit: Permit): { readonly body: PermitBody } | Refused {
  const record = permit?.record;
  if (!isObject(record) || record.type !== 'decision' || record.kid !== ctx.signer.kid)
    return refusedExec('PERMIT_INVALID', 'not a decision record signed by this kernel');
  const hash = signedHashOf(ctx, permit);
  if (hash === undefined) return refusedExec('PERMIT_INVALID', 'the permit signature does not verify');
  if (typeof permit.hash !== 'string' || !digestEquals(hash, permit.hash))
    return refusedExec('PERMIT_INVALID', 'the permit hash does not match its record');
  const body = record.body;
  if (
    !isObject(body) ||
    body['verdict'] !== 'permit' ||
    typeof body['expiresAt'] !== 'string' ||
    !isObject(body['input'])
  )
    return refusedExec('PERMIT_INVALID', 'the record is not a permit');
  const typed = body as unknown as PermitBody;
  if (!isObject(typed.input.proposal) || !digestEquals(actionHashFor(typed.input.proposal), typed.actionHash))
    return refusedExec('PERMIT_INVALID', 'the permit is not bound to its action');
  return { body: typed };
}

/** What one run of a handler gave. */
type Run =
  { status: 'completed'; result: unknown } | { status: 'failed' | 'unknown'; code: HandlerFailureCode };

async function runHandler(
  ctx: KernelContext,
  run: ArpHandler,
  call: PrivateCall,
  idempotencyKey: string,
): Promise<Run> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ctx.settings.handlerTimeoutMs);
  });
  try {
    const running = Promise.resolve().then(() => run(call, { idempotencyKey, signal: controller.signal }));
    running.catch(() => undefined); // a late rejection after a timeout must not become unhandled
    const raced = await Promise.race([running.then((result) => ({ result })), timeout]);
    if (raced === 'timeout') {
      controller.abort();
      return { status: 'unknown', code: 'HANDLER_TIMEOUT' };
    }
    return { status: 'completed', result: raced.result };
  } catch (error) {
    return { status: 'failed', code: isFinalHandlerError(error) ? 'HANDLER_FAILED_FINAL' : 'HANDLER_FAILED' };
  } finally {
    clearTimeout(timer);
  }
}

/** The escalation journaled after an unknown outcome: a person decides what became of the action. */
export function unknownEscalation(ctx: KernelContext, body: PermitBody, permitHash: string): RecordDraft {
  const nowMs = ctx.clock.now();
  return {
    type: 'decision',
    at: toRfc3339(nowMs),
    body: {
      verdict: 'escalate',
      decisionKey: body.decisionKey,
      policyDigest: body.policyDigest,
      stateHash: body.stateHash,
      actionHash: body.actionHash,
      input: body.input as unknown as JsonValue,
      rule: 'kernel.outcome-unknown',
      reasons: ['OUTCOME_UNKNOWN'],
      accountable: ctx.registry.byDigest(body.policyDigest)?.map.owner ?? 'unknown',
      principal: body.input.principal.id,
      proposer: { modelId: 'edca-kernel', promptTemplateDigest: permitHash },
      pendingApproval: {
        count: 1,
        role: 'approver',
        expiresAt: toRfc3339(nowMs + ctx.settings.approvalTtlMs),
      },
    },
  };
}

/** A permit that passed every check and was consumed: ready to run. */
interface Ready {
  readonly body: PermitBody;
  readonly entry: MapEntry;
  readonly call: PrivateCall;
  readonly run: ArpHandler;
}

/** Every check before a handler may run, then the permit consumed and its holds pinned. */
async function prepare(
  ctx: KernelContext,
  permit: Permit,
  session: ArpSession | undefined,
  span: Span,
): Promise<Ready | Refused> {
  if (ctx.closed) return refusedExec('KERNEL_CLOSED', 'the kernel is closed');
  const read = readPermit(ctx, permit);
  if ('status' in read) return read;
  const { body } = read;
  const nowMs = ctx.clock.now();
  span.setAttribute('edca.intent', body.input.proposal.intent);
  if (Date.parse(body.expiresAt) <= nowMs) return refusedExec('PERMIT_EXPIRED', 'the permit has expired');
  try {
    if (await ctx.store.isPermitConsumed(permit.hash))
      return refusedExec('PERMIT_CONSUMED', 'the permit was already used');
  } catch {
    return refusedExec('STORE_UNAVAILABLE', 'the kernel store does not answer');
  }
  const entry = ctx.registry.byDigest(body.policyDigest);
  if (!entry) return refusedExec('PERMIT_INVALID', 'the permit names a policy that is not loaded');
  const inSession = session ?? ctx.held.get(permit.hash)?.session;
  if (inSession === undefined)
    return refusedExec('PERMIT_INVALID', 'no session to resolve the permit refs: pass { session }');
  const derived = await deriveFor(
    ctx.registry,
    ctx.clock,
    entry,
    body.input.proposal,
    inSession,
    body.input.principal,
  );
  if (!derived.ok) return refusedExec(derived.reasons[0], 'the state cannot be derived again');
  if (!digestEquals(derived.value.stateHash, body.stateHash))
    return refusedExec('STALE_STATE', 'the state changed since the permit was issued');
  const { call, run } = derived.value;
  if (!ctx.breakerFor(call.handler).allow(nowMs))
    return refusedExec('CIRCUIT_OPEN', `handler ${call.handler} is failing; try later`);
  const consumed = await consume(ctx, permit.hash, body, nowMs);
  return consumed ?? { body, entry, call, run };
}

/** Consumes the permit; from then on its holds count until its outcome, even past its expiry. */
async function consume(
  ctx: KernelContext,
  permitHash: string,
  body: PermitBody,
  nowMs: number,
): Promise<Refused | undefined> {
  const { store } = ctx;
  const ids = reservationIdsOf(ctx, permitHash, body);
  try {
    if (store.consumeAndPin !== undefined) {
      if (!(await store.consumeAndPin(permitHash, toRfc3339(nowMs), ids)))
        return refusedExec('PERMIT_CONSUMED', 'the permit was already used');
      return undefined;
    }
    if (!(await store.consumePermit(permitHash, toRfc3339(nowMs))))
      return refusedExec('PERMIT_CONSUMED', 'the permit was already used');
    // Issued together, so a store that batches calls pins them with one statement.
    await Promise.all(ids.map((id) => store.pin(id)));
  } catch {
    return refusedExec('STORE_UNAVAILABLE', 'the kernel store does not answer');
  }
  return undefined;
}

/** Runs the handler, one journaled attempt per try; only a transient failure is tried again. */
async function runTries(
  ctx: KernelContext,
  permit: Permit,
  ready: Ready,
): Promise<{ attempt: Digest; last: Run } | Refused> {
  const idempotencyKey = permit.hash;
  const { instance } = ctx.settings;
  let attemptHash: Digest | null = null;
  let last: Run = { status: 'failed', code: 'HANDLER_FAILED' };
  for (let tryNo = 1; tryNo <= ctx.settings.retries + 1; tryNo += 1) {
    try {
      const body = {
        permit: permit.hash,
        actionHash: ready.body.actionHash,
        idempotencyKey,
        try: tryNo,
        instance,
      };
      const [attempt] = await ctx.append([{ type: 'attempt', at: toRfc3339(ctx.clock.now()), body }]);
      attemptHash = attempt!.hash;
    } catch {
      // Without a durable attempt the handler must not run; the permit stays consumed (fail closed).
      if (attemptHash === null)
        return refusedExec(await ctx.diagnoseAppendFailure(), 'the attempt could not be journaled');
      break;
    }
    last = await runHandler(ctx, ready.run, ready.call, idempotencyKey);
    if (last.status === 'completed' || last.code === 'HANDLER_FAILED_FINAL') break;
  }
  // A final refusal means the handler answered: it does not count towards opening the circuit.
  const breaker = ctx.breakerFor(ready.call.handler);
  if (last.status === 'completed' || last.code === 'HANDLER_FAILED_FINAL') breaker.success();
  else breaker.failure(ctx.clock.now());
  return { attempt: attemptHash!, last };
}

/** Journals the outcome (and, for an unknown one, an escalation), then settles the permit's holds. */
async function finish(
  ctx: KernelContext,
  permit: Permit,
  ready: Ready,
  attempt: Digest,
  last: Run,
): Promise<Extract<ExecuteResult, { permit: Digest }>> {
  const { body } = ready;
  const status = last.status;
  const transition: Transition | undefined =
    status === 'completed' ? ctx.registry.transitionFor(ready.entry, body.input) : undefined;
  const outcomeBody = {
    attempt,
    permit: permit.hash,
    status,
    ...(last.status === 'completed' ? {} : { error: { code: last.code } }),
    ...(transition ? { transition } : {}),
  };
  const drafts: RecordDraft[] = [{ type: 'outcome', at: toRfc3339(ctx.clock.now()), body: outcomeBody }];
  if (status === 'unknown') drafts.push(unknownEscalation(ctx, body, permit.hash));
  let outcome: Digest | null = null;
  try {
    const appended = await ctx.append(drafts);
    outcome = appended[0]!.hash;
    if (status === 'unknown' && appended[1]) await createPendingFor(ctx, appended[1]).catch(() => undefined);
  } catch {
    // The outcome is not durable; startup recovery resolves this attempt (check or unknown).
  }
  await settleHeld(ctx, permit.hash, status, body).catch(() => undefined);
  return {
    status,
    permit: permit.hash,
    attempt,
    outcome,
    ...(last.status === 'completed' && last.result !== undefined ? { result: last.result } : {}),
    ...(last.status !== 'completed' ? { error: { code: last.code } } : {}),
    ...(transition ? { transition } : {}),
  };
}

/** `kernel.execute`: one span per execution, the `outcome` event after the outcome is journaled. */
export function execute(
  ctx: KernelContext,
  permit: Permit,
  context?: { readonly session: ArpSession },
): Promise<ExecuteResult> {
  return ctx.tracer.startActiveSpan('edca.execute', async (span) => {
    try {
      const result = await executeOnce(ctx, permit, context?.session, span);
      span.setAttribute('edca.status', result.status);
      if (result.status === 'refused') span.setAttribute('edca.code', result.code);
      if (result.status === 'failed' || result.status === 'unknown')
        span.setStatus({ code: SpanStatusCode.ERROR, message: result.error?.code ?? result.status });
      return result;
    } finally {
      span.end();
    }
  });
}

async function executeOnce(
  ctx: KernelContext,
  permit: Permit,
  session: ArpSession | undefined,
  span: Span,
): Promise<ExecuteResult> {
  const ready = await prepare(ctx, permit, session, span);
  if ('status' in ready) return ready;
  const ran = await runTries(ctx, permit, ready);
  if ('status' in ran) return ran;
  const result = await finish(ctx, permit, ready, ran.attempt, ran.last);
  span.setAttribute('edca.status', result.status);
  ctx.emit('outcome', { ...result, intent: ready.body.input.proposal.intent });
  return result;
}
