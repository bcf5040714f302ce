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
  readonly windowEnd: number | undefined;
  holdUntil: number;
  settled: boolean;
}

/**
 * Creates an in-process `KernelStore` (a kernel created without a store uses one whose counters
 * are its ledger fold). Every method runs synchronously inside one microtask, so it is atomic in
 * one process.
 * @example const store = createMemoryStore(); await store.consumePermit('sha256:…', at);
 */
export function createMemoryStore(): KernelStore {
  return new MemoryStore();
}

/** @internal Misuse surfaces as a rejected promise (never a synchronous throw), like any remote store. */
export function run<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** @internal Counters and their reservations, bounded by the windows that have not ended. */
export class Reservations {
  readonly held = new Map<string, Held>();
  // The reservation ids of each counter: one id as a string (most counters see one reservation per
  // window, so no Set per counter on the permit path), a Set from the second on.
  readonly byCounter = new Map<string, string | Set<string>>();
  // Reservation ids by the end of their counter's window, and the earliest such end: once a window
  // has ended no decision reads its counter again, so its reservations (settled ones too) go.
  private readonly byWindowEnd = new Map<number, Set<string>>();
  private nextWindowEnd = Number.POSITIVE_INFINITY;

  forgetEndedWindows(now: number): void {
    if (now < this.nextWindowEnd) return;
    this.nextWindowEnd = Number.POSITIVE_INFINITY;
    for (const [end, ids] of this.byWindowEnd) {
      if (end > now) {
        this.nextWindowEnd = Math.min(this.nextWindowEnd, end);
        continue;
      }
      this.byWindowEnd.delete(end);
      for (const id of ids) this.drop(id);
    }
  }

  /** Forgets a reservation. */
  drop(id: string): void {
    const held = this.held.get(id);
    if (held === undefined) return;
    this.held.delete(id);
    if (held.windowEnd !== undefined) this.byWindowEnd.get(held.windowEnd)?.delete(id);
    const ids = this.byCounter.get(held.counter);
    if (ids === id || (typeof ids !== 'string' && ids?.delete(id) === true && ids.size === 0))
      this.byCounter.delete(held.counter);
  }

  /** What one reservation adds to its counter's usage at `now` (dropping a lapsed hold). */
  countOf(id: string, now: number): number {
    const held = this.held.get(id);
    if (held === undefined) return 0;
    if (held.settled || held.holdUntil > now) return held.amount;
    // An unsettled hold past its time never counts again: drop it so memory stays bounded.
    this.drop(id);
    return 0;
  }

  usageOfIds(ids: string | Set<string>, now: number): number {
    if (typeof ids === 'string') return this.countOf(ids, now);
    let total = 0;
    for (const id of [...ids]) total += this.countOf(id, now);
    return total;
  }

  usage(counter: string, now: number): number {
    const ids = this.byCounter.get(counter);
    return ids === undefined ? 0 : this.usageOfIds(ids, now);
  }

  /**
   * Checks every wanted reservation against its max (with the others of the same call, and `base`:
   * usage held elsewhere), then takes them all, or none.
   */
  reserve(wanted: readonly Reservation[], now: number, base?: (counter: string) => number): ReserveResult {
    this.forgetEndedWindows(now);
    const pending = new Map<string, number>();
    // Counters that had no reservation at all (the usual case: a new customer, a new window): the
    // second pass sets them without looking them up again (each lookup in a map of every live hold
    // costs cache misses).
    const fresh: boolean[] = [];
    for (let i = 0; i < wanted.length; i++) {
      const r = wanted[i]!;
      if (this.held.has(r.id) || wanted.some((w, j) => j !== i && w.id === r.id)) {
        throw new KernelError('STORE_MISUSE', `reservation id ${r.id} reused`);
      }
      if (!(r.amount >= 0) || !Number.isFinite(r.amount)) {
        throw new KernelError('STORE_MISUSE', `reservation ${r.id} has a bad amount`);
      }
      const ids = this.byCounter.get(r.counter);
      fresh.push(ids === undefined && !pending.has(r.counter));
      const own = ids === undefined ? 0 : this.usageOfIds(ids, now);
      const usage = own + (base?.(r.counter) ?? 0) + (pending.get(r.counter) ?? 0);
      if (usage + r.amount > r.max) return { ok: false, counter: r.counter, usage };
      pending.set(r.counter, (pending.get(r.counter) ?? 0) + r.amount);
    }
    for (let i = 0; i < wanted.length; i++) this.take(wanted[i]!, fresh[i]!);
    return { ok: true };
  }

  private take(r: Reservation, fresh: boolean): void {
    const { counter, amount, holdUntil, windowEnd } = r;
    this.held.set(r.id, { counter, amount, holdUntil, settled: false, windowEnd });
    const ids = fresh ? undefined : this.byCounter.get(r.counter);
    if (ids === undefined) this.byCounter.set(r.counter, r.id);
    else if (typeof ids === 'string') this.byCounter.set(r.counter, new Set([ids, r.id]));
    else ids.add(r.id);
    if (r.windowEnd !== undefined) {
      const ids = this.byWindowEnd.get(r.windowEnd);
      if (ids === undefined) this.byWindowEnd.set(r.windowEnd, new Set([r.id]));
      else ids.add(r.id);
      if (r.windowEnd < this.nextWindowEnd) this.nextWindowEnd = r.windowEnd;
    }
  }
}

/** @internal The in-process store; the kernel's ledger-backed store extends it. */
export class MemoryStore implements KernelStore {
  private readonly consumed = new Set<string>();
  private readonly approvals = new Map<string, PendingApproval>();
  protected readonly reservations = new Reservations();
  private closed = false;
  /** Lease ends by instance (one process shares a memory store, so this only serves the port). */
  private readonly leases = new Map<string, number>();

  protected open(): void {
    if (this.closed) throw new KernelError('STORE_UNAVAILABLE', 'the memory store was closed');
  }

  private approvalOf(id: string): PendingApproval {
    const found = this.approvals.get(id);
    if (!found) throw new KernelError('STORE_MISUSE', `no approval ${id}`);
    return found;
  }

  consumePermit(permitHash: string): Promise<boolean> {
    return run(() => {
      this.open();
      if (this.consumed.has(permitHash)) return false;
      this.consumed.add(permitHash);
      return true;
    });
  }

  isPermitConsumed(permitHash: string): Promise<boolean> {
    return run(() => {
      this.open();
      return this.consumed.has(permitHash);
    });
  }

  createApproval(init: PendingApprovalInit): Promise<PendingApproval> {
    return run(() => {
      this.open();
      if (!Number.isInteger(init.required.count) || init.required.count < 1) {
        throw new KernelError('STORE_MISUSE', 'an approval needs a positive integer count');
      }
      const existing = this.approvals.get(init.id);
      if (existing) return existing;
      const created: PendingApproval = {
        ...init,
        required: { ...init.required },
        status: 'pending',
        approvers: [],
        resolvedAt: null,
      };
      this.approvals.set(init.id, created);
      return created;
    });
  }

  getApproval(id: string): Promise<PendingApproval | undefined> {
    return run(() => {
      this.open();
      return this.approvals.get(id);
    });
  }

  addApprover(id: string, approver: ApproverEntry): Promise<AddApproverResult> {
    return run(() => {
      this.open();
      const current = this.approvalOf(id);
      if (current.status !== 'pending' || current.approvers.some((a) => a.kid === approver.kid)) {
        return { approval: current, added: false };
      }
      const next: PendingApproval = { ...current, approvers: [...current.approvers, { ...approver }] };
      this.approvals.set(id, next);
      return { approval: next, added: true };
    });
  }

  resolveApproval(
    id: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    at: string,
  ): Promise<PendingApproval> {
    return run(() => {
      this.open();
      if ((status as ApprovalStatus) === 'pending') {
        throw new KernelError('STORE_MISUSE', 'cannot resolve an approval to pending');
      }
      const current = this.approvalOf(id);
      if (current.status !== 'pending') return current;
      const next: PendingApproval = { ...current, status, resolvedAt: at };
      this.approvals.set(id, next);
      return next;
    });
  }

  listExpiredApprovals(now: string): Promise<PendingApproval[]> {
    return run(() => {
      this.open();
      const at = Date.parse(now);
      return [...this.approvals.values()].filter(
        (a) => a.status === 'pending' && Date.parse(a.expiresAt) <= at,
      );
    });
  }

  reserve(wanted: readonly Reservation[], now: number): Promise<ReserveResult> {
    return run(() => {
      this.open();
      return this.reservations.reserve(wanted, now);
    });
  }

  pin(reservationId: string): Promise<void> {
    return run(() => {
      this.open();
      const held = this.reservations.held.get(reservationId);
      if (held && !held.settled) held.holdUntil = Number.POSITIVE_INFINITY;
    });
  }

  settle(reservationId: string): Promise<void> {
    return run(() => {
      this.open();
      const held = this.reservations.held.get(reservationId);
      if (held) held.settled = true;
    });
  }

  release(reservationId: string): Promise<void> {
    return run(() => {
      this.open();
      const held = this.reservations.held.get(reservationId);
      if (held && !held.settled) this.reservations.drop(reservationId);
    });
  }

  usage(counter: string, now: number): Promise<number> {
    return run(() => {
      this.open();
      return this.reservations.usage(counter, now);
    });
  }

  renewLease(instance: string, untilMs: number): Promise<void> {
    return run(() => {
      this.open();
      this.leases.set(instance, untilMs);
    });
  }

  leaseOf(instance: string): Promise<number | null> {
    return run(() => {
      this.open();
      return this.leases.get(instance) ?? null;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
