/**
 * Limits: the reservations a permit holds on its counters, as decided and as signed in its body
 * (record format 2, `hold`), and their end when the permit's outcome is known.
 */
import type { JsonValue } from '@edca/records';
import type { CompiledIntent, CompiledLimit, DecisionInput } from '@edca/semantic';
import type { Reservation } from '../store.js';
import { counterName } from './action.js';
import type { KernelContext } from './context.js';
import type { PermitBody } from './permit-body.js';
import type { MapRegistry } from './registry.js';

/** What one permit adds to a limit: 1 for a rate, the amount param for a budget (∞ if malformed). */
export function amountOf(limit: CompiledLimit, input: DecisionInput): number {
  if (limit.kind === 'rate') return 1;
  const value = limit.amountParam === undefined ? undefined : input.proposal.params[limit.amountParam];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : Number.POSITIVE_INFINITY;
}

/** The reservations a new permit takes, one per limit of its intent, on the named counters. */
export function reservationsFor(
  intent: CompiledIntent,
  input: DecisionInput,
  counterNames: readonly string[],
  holdUntil: number,
  holdId: string,
  nowMs: number,
): Reservation[] {
  const out: Reservation[] = [];
  for (let i = 0; i < intent.limits.length; i++) {
    const limit = intent.limits[i]!;
    const id = `${holdId}|${limit.key}`;
    const counter = counterNames[i]!;
    const amount = amountOf(limit, input);
    // Built whole rather than spread: one object of one shape per reservation.
    out.push(
      limit.windowMs > 0
        ? {
            id,
            counter,
            amount,
            max: limit.max,
            holdUntil,
            windowEnd: Math.floor(nowMs / limit.windowMs) * limit.windowMs + limit.windowMs,
          }
        : { id, counter, amount, max: limit.max, holdUntil },
    );
  }
  return out;
}

/** The `hold` of a permit body (format 2): its identity and the counters it holds. */
export function holdOf(
  reservations: readonly Reservation[],
  intent: CompiledIntent,
  holdId: string,
): JsonValue {
  // Members in RFC 8785 order, as the record's canonical text sorts them.
  return {
    counters: reservations.map((r, i) => ({
      amount: r.amount,
      counter: r.counter,
      key: intent.limits[i]!.key,
      max: r.max,
      windowEnd: r.windowEnd ?? null,
    })),
    id: holdId,
  };
}

/**
 * The reservations a journaled permit holds. A format 2 permit names them (`hold`); for an older
 * one they are rebuilt the old way (per-principal counters; an entity's id was not recorded, so
 * per-entity limits fall back to the shared `none` counter).
 */
export function reservationsOfPermit(registry: MapRegistry, body: PermitBody, atMs: number): Reservation[] {
  const expiresAtMs = Date.parse(body.expiresAt);
  if (body.hold !== undefined) {
    const holdId = body.hold.id;
    return body.hold.counters.map((c) => ({
      id: `${holdId}|${c.key}`,
      counter: c.counter,
      amount: c.amount,
      max: c.max,
      holdUntil: expiresAtMs,
      ...(c.windowEnd === null ? {} : { windowEnd: c.windowEnd }),
    }));
  }
  const intent = registry.byDigest(body.policyDigest)?.map.intent(body.input.proposal.intent);
  if (!intent) return [];
  const tag = `${body.decisionKey}|${body.expiresAt}`;
  return intent.limits.map((limit) => ({
    id: `${tag}|${limit.key}`,
    counter: counterName(limit, body.input.principal, {}, atMs),
    amount: amountOf(limit, body.input),
    max: limit.max,
    holdUntil: expiresAtMs,
  }));
}

/** The reservation ids of a permit: remembered by this process, else read from its body. */
export function reservationIdsOf(
  ctx: KernelContext,
  permitHash: string,
  body: PermitBody,
): readonly string[] {
  return ctx.held.get(permitHash)?.ids ?? reservationsOfPermit(ctx.registry, body, 0).map((r) => r.id);
}

/**
 * Ends a permit's holds once its outcome is known: a failed action releases them; a completed one
 * settles them, and so does an unknown outcome (assuming the action did not happen could pass a limit).
 */
export async function settleHeld(
  ctx: KernelContext,
  permitHash: string,
  status: 'completed' | 'failed' | 'unknown',
  body?: PermitBody,
): Promise<void> {
  const h = ctx.held.take(permitHash);
  const ids = h?.ids ?? (body ? reservationsOfPermit(ctx.registry, body, 0).map((r) => r.id) : []);
  // Issued together, so a store that batches calls ends them with one statement.
  await Promise.all(ids.map((id) => (status === 'failed' ? ctx.store.release(id) : ctx.store.settle(id))));
}
