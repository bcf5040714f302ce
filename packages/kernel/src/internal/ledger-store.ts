/**
 * The embedded store of a kernel created without one: the limit counters ARE the ledger fold —
 * the holds and settled amounts of journaled permits are read from it, never copied — and only
 * what the journal does not hold yet lives beside it: a reservation between `reserve` and the
 * moment its permit's record is applied (`landed`), and the reservations of permits journaled
 * before record format 2, which name no counters (recovery rebuilds them the old way).
 * Consumed permits and approvals are the memory store's, filled from the ledger at startup.
 */
import type { LedgerState } from '@edca/ledger';
import type { AppendedRecord } from '../journal.js';
import { MemoryStore, run } from '../memory-store.js';
import type { KernelStore, Reservation, ReserveResult } from '../store.js';
import { isObject } from './permit-body.js';

/** The embedded store, told of every record the kernel applies to its ledger. */
export interface LedgerStore extends KernelStore {
  /** A record was applied to the ledger: its reservations are now the fold's. */
  landed(appended: AppendedRecord): void;
}

/** Creates the embedded store over a kernel's ledger. */
export function createLedgerStore(ledger: LedgerState): LedgerStore {
  return new FoldStore(ledger);
}

class FoldStore extends MemoryStore implements LedgerStore {
  /** Reservations of journaled permits pinned before their attempt is applied (`<hold id>|<key>`). */
  private readonly pinned = new Set<string>();

  constructor(private readonly ledger: LedgerState) {
    super();
  }

  /** Usage the fold holds for a counter at `now`: settled, and holds of live or attempted permits. */
  private foldUsage(counter: string, now: number): number {
    const entry = this.ledger.counters.get(counter);
    if (entry === undefined) return 0;
    let total = entry.settled;
    for (const [hash, amount] of entry.held) {
      const p = this.ledger.permits.get(hash);
      if (p === undefined) continue;
      if (p.status !== 'outstanding' || p.expiresAtMs > now) total += amount;
      // Pinned by execute, its attempt not applied yet: it counts even past its expiry.
      else if (p.counters.some((c) => this.pinned.has(`${p.holdId}|${c.key}`))) total += amount;
    }
    return total;
  }

  override usage(counter: string, now: number): Promise<number> {
    return run(() => {
      this.open();
      return this.foldUsage(counter, now) + this.reservations.usage(counter, now);
    });
  }

  override reserve(wanted: readonly Reservation[], now: number): Promise<ReserveResult> {
    return run(() => {
      this.open();
      return this.reservations.reserve(wanted, now, (counter) => this.foldUsage(counter, now));
    });
  }

  override pin(reservationId: string): Promise<void> {
    const own = this.reservations.held.has(reservationId);
    if (!own) this.pinned.add(reservationId);
    return own ? super.pin(reservationId) : run(() => this.open());
  }

  override settle(reservationId: string): Promise<void> {
    this.pinned.delete(reservationId);
    return super.settle(reservationId);
  }

  override release(reservationId: string): Promise<void> {
    this.pinned.delete(reservationId);
    return super.release(reservationId);
  }

  landed(appended: AppendedRecord): void {
    const { type, body } = appended.record;
    if (!isObject(body)) return;
    if (type === 'decision' && isObject(body['hold'])) {
      const { id, counters } = body['hold'];
      if (typeof id !== 'string' || !Array.isArray(counters)) return;
      for (const c of counters)
        if (isObject(c) && typeof c['key'] === 'string') this.reservations.drop(`${id}|${c['key']}`);
    } else if (type === 'attempt' && typeof body['permit'] === 'string') {
      const p = this.ledger.permits.get(body['permit']);
      for (const c of p?.counters ?? []) this.pinned.delete(`${p!.holdId}|${c.key}`);
    }
  }
}
