import { KernelError } from './errors.js';
import type {
  AddApproverResult,
  ApprovalStatus,
  ApproverEntry,
  KernelStore,
  PendingApproval,
  PendingApprovalInit,
  Reservation,
  ReserveResult,
} from './store.js';

interface Held {
  readonly counter: string;
  readonly amount: number;
  holdUntil: number;
  settled: boolean;
}

/**
 * Creates the in-process `KernelStore` (the embedded default; the kernel rebuilds it from the journal
 * at startup). Every method runs synchronously inside one microtask, so it is atomic in one process.
 * @example const store = createMemoryStore(); await store.consumePermit('sha256:…', at);
 */
export function createMemoryStore(): KernelStore {
  const consumed = new Set<string>();
  const approvals = new Map<string, PendingApproval>();
  const reservations = new Map<string, Held>();
  // The reservation ids of each counter: one id as a string (most counters see one reservation per
  // window, so no Set per counter on the permit path), a Set from the second on.
  const byCounter = new Map<string, string | Set<string>>();
  // Reservation ids by the end of their counter's window, and the earliest such end: once a window
  // has ended no decision reads its counter again, so its reservations (settled ones too) go.
  const byWindowEnd = new Map<number, string[]>();
  let nextWindowEnd = Number.POSITIVE_INFINITY;
  let closed = false;
  /** Lease ends by instance (one process shares a memory store, so this only serves the port). */
  const leases = new Map<string, number>();
  const forgetEndedWindows = (now: number): void => {
    if (now < nextWindowEnd) return;
    nextWindowEnd = Number.POSITIVE_INFINITY;
    for (const [end, ids] of byWindowEnd) {
      if (end > now) {
        nextWindowEnd = Math.min(nextWindowEnd, end);
        continue;
      }
      byWindowEnd.delete(end);
      for (const id of ids) {
        const held = reservations.get(id);
        if (held === undefined) continue;
        reservations.delete(id);
        unlink(held.counter, id);
      }
    }
  };

  // Misuse surfaces as a rejected promise (never a synchronous throw), like any remote store.
  const run = <T>(body: () => T): Promise<T> => {
    try {
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const open = (): void => {
    if (closed) throw new KernelError('STORE_UNAVAILABLE', 'the memory store was closed');
  };
  /** What one reservation adds to its counter's usage at `now` (dropping a lapsed hold). */
  const countOf = (id: string, now: number): number => {
    const held = reservations.get(id);
    if (held === undefined) return 0;
    if (held.settled || held.holdUntil > now) return held.amount;
    // An unsettled hold past its time never counts again: drop it so memory stays bounded.
    reservations.delete(id);
    unlink(held.counter, id);
    return 0;
  };
  const usageOf = (counter: string, now: number): number => {
    const ids = byCounter.get(counter);
    return ids === undefined ? 0 : usageOfIds(ids, now);
  };
  const usageOfIds = (ids: string | Set<string>, now: number): number => {
    if (typeof ids === 'string') return countOf(ids, now);
    let total = 0;
    for (const id of [...ids]) total += countOf(id, now);
    return total;
  };
  const link = (counter: string, id: string): void => {
    const ids = byCounter.get(counter);
    if (ids === undefined) byCounter.set(counter, id);
    else if (typeof ids === 'string') byCounter.set(counter, new Set([ids, id]));
    else ids.add(id);
  };
  const unlink = (counter: string, id: string): void => {
    const ids = byCounter.get(counter);
    if (ids === id || (typeof ids !== 'string' && ids?.delete(id) === true && ids.size === 0))
      byCounter.delete(counter);
  };
  const approvalOf = (id: string): PendingApproval => {
    const found = approvals.get(id);
    if (!found) throw new KernelError('STORE_MISUSE', `no approval ${id}`);
    return found;
  };

  return {
    consumePermit(permitHash: string): Promise<boolean> {
      return run(() => {
        open();
        if (consumed.has(permitHash)) return false;
        consumed.add(permitHash);
        return true;
      });
    },
    isPermitConsumed(permitHash: string): Promise<boolean> {
      return run(() => {
        open();
        return consumed.has(permitHash);
      });
    },
    createApproval(init: PendingApprovalInit): Promise<PendingApproval> {
      return run(() => {
        open();
        if (!Number.isInteger(init.required.count) || init.required.count < 1) {
          throw new KernelError('STORE_MISUSE', 'an approval needs a positive integer count');
        }
        const existing = approvals.get(init.id);
        if (existing) return existing;
        const created: PendingApproval = {
          ...init,
          required: { ...init.required },
          status: 'pending',
          approvers: [],
          resolvedAt: null,
        };
        approvals.set(init.id, created);
        return created;
      });
    },
    getApproval(id: string): Promise<PendingApproval | undefined> {
      return run(() => {
        open();
        return approvals.get(id);
      });
    },
    addApprover(id: string, approver: ApproverEntry): Promise<AddApproverResult> {
      return run(() => {
        open();
        const current = approvalOf(id);
        if (current.status !== 'pending' || current.approvers.some((a) => a.kid === approver.kid)) {
          return { approval: current, added: false };
        }
        const next: PendingApproval = { ...current, approvers: [...current.approvers, { ...approver }] };
        approvals.set(id, next);
        return { approval: next, added: true };
      });
    },
    resolveApproval(
      id: string,
      status: Exclude<ApprovalStatus, 'pending'>,
      at: string,
    ): Promise<PendingApproval> {
      return run(() => {
        open();
        if ((status as ApprovalStatus) === 'pending') {
          throw new KernelError('STORE_MISUSE', 'cannot resolve an approval to pending');
        }
        const current = approvalOf(id);
        if (current.status !== 'pending') return current;
        const next: PendingApproval = { ...current, status, resolvedAt: at };
        approvals.set(id, next);
        return next;
      });
    },
    listExpiredApprovals(now: string): Promise<PendingApproval[]> {
      return run(() => {
        open();
        const at = Date.parse(now);
        return [...approvals.values()].filter((a) => a.status === 'pending' && Date.parse(a.expiresAt) <= at);
      });
    },
    reserve(wanted: readonly Reservation[], now: number): Promise<ReserveResult> {
      return run(() => {
        open();
        forgetEndedWindows(now);
        const pending = new Map<string, number>();
        // Counters that had no reservation at all (the usual case: a new customer, a new window): the
        // second pass sets them without looking them up again (each lookup in a map of every live
        // hold costs cache misses).
        const fresh: boolean[] = [];
        for (let i = 0; i < wanted.length; i++) {
          const r = wanted[i]!;
          if (reservations.has(r.id) || wanted.some((w, j) => j !== i && w.id === r.id)) {
            throw new KernelError('STORE_MISUSE', `reservation id ${r.id} reused`);
          }
          if (!(r.amount >= 0) || !Number.isFinite(r.amount)) {
            throw new KernelError('STORE_MISUSE', `reservation ${r.id} has a bad amount`);
          }
          const ids = byCounter.get(r.counter);
          fresh.push(ids === undefined && !pending.has(r.counter));
          const usage = (ids === undefined ? 0 : usageOfIds(ids, now)) + (pending.get(r.counter) ?? 0);
          if (usage + r.amount > r.max) return { ok: false, counter: r.counter, usage };
          pending.set(r.counter, (pending.get(r.counter) ?? 0) + r.amount);
        }
        for (let i = 0; i < wanted.length; i++) {
          const r = wanted[i]!;
          reservations.set(r.id, {
            counter: r.counter,
            amount: r.amount,
            holdUntil: r.holdUntil,
            settled: false,
          });
          if (fresh[i]) byCounter.set(r.counter, r.id);
          else link(r.counter, r.id);
          if (r.windowEnd !== undefined) {
            const ids = byWindowEnd.get(r.windowEnd);
            if (ids === undefined) byWindowEnd.set(r.windowEnd, [r.id]);
            else ids.push(r.id);
            if (r.windowEnd < nextWindowEnd) nextWindowEnd = r.windowEnd;
          }
        }
        return { ok: true };
      });
    },
    pin(reservationId: string): Promise<void> {
      return run(() => {
        open();
        const held = reservations.get(reservationId);
        if (held && !held.settled) held.holdUntil = Number.POSITIVE_INFINITY;
        return;
      });
    },
    settle(reservationId: string): Promise<void> {
      return run(() => {
        open();
        const held = reservations.get(reservationId);
        if (held) held.settled = true;
        return;
      });
    },
    release(reservationId: string): Promise<void> {
      return run(() => {
        open();
        const held = reservations.get(reservationId);
        if (held && !held.settled) {
          reservations.delete(reservationId);
          unlink(held.counter, reservationId);
        }
        return;
      });
    },
    usage(counter: string, now: number): Promise<number> {
      return run(() => {
        open();
        return usageOf(counter, now);
      });
    },
    renewLease(instance: string, untilMs: number): Promise<void> {
      return run(() => {
        open();
        leases.set(instance, untilMs);
      });
    },
    leaseOf(instance: string): Promise<number | null> {
      return run(() => {
        open();
        return leases.get(instance) ?? null;
      });
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
