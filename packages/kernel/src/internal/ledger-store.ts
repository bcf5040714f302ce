/**
 * The embedded store of a kernel created without one: the limit counters ARE the ledger fold —
 * the holds and settled amounts of journaled permits are read from it (its running totals), never
 * copied — and only what the journal does not hold yet lives beside it: the reservations in flight
 * between `reserve` and the moment their permit's record is applied (`landed`), one small map, and
 * the reservations of permits journaled before record format 2, which name no counters (recovery
 * rebuilds them the old way, `reserveLegacy`). Consumed permits and approvals are the memory
 * store's, filled from the ledger at startup.
 */
import { heldEntries, usageAt, type LedgerState } from '@edca/ledger';
import { KernelError } from '../errors.js';
import type { AppendedRecord } from '../journal.js';
import { MemoryStore, run } from '../memory-store.js';
import type { KernelStore, Reservation, ReserveResult } from '../store.js';
import { isObject } from './permit-body.js';

/** The embedded store, told of every record the kernel applies to its ledger. */
export interface LedgerStore extends KernelStore {
  /** A record was applied to the ledger: its reservations are now the fold's. */
  landed(appended: AppendedRecord): void;
  /**
   * Holds of a permit journaled before record format 2 (recovery): kept by the store itself, since
   * the fold cannot file them under their counters.
   */
  reserveLegacy(wanted: readonly Reservation[], now: number): Promise<ReserveResult>;
  /**
   * `reserve` for a permit's holds, filed under its hold id as well: when its record lands, the
   * reservations are found by the hold id its body carries instead of by each `<hold id>|<key>`.
   */
  reserveHold(holdId: string, wanted: readonly Reservation[], now: number): Promise<ReserveResult>;
  /**
   * `usage` of several counters, answered at once: the store is in this process, so decide reads
   * it without a promise per counter. Throws (`STORE_UNAVAILABLE`) where `usage` would reject.
   */
  usageOf(counters: readonly string[], now: number): number[];
}

/** Creates the embedded store over a kernel's ledger. */
export function createLedgerStore(ledger: LedgerState): LedgerStore {
  return new FoldStore(ledger);
}

const reservationId = (holdId: string, key: string): string => `${holdId}|${key}`;
/** The hold id of a reservation id `<hold id>|<key>` (limit keys hold no `|`). */
const holdIdOf = (reservationId: string): string => reservationId.slice(0, reservationId.lastIndexOf('|'));

class FoldStore extends MemoryStore implements LedgerStore {
  /** Reservations taken by `reserve` whose permit's record is not applied yet, by id. */
  private readonly inflight = new Map<string, Reservation>();
  /** The amounts of `inflight` by counter. */
  private readonly inflightByCounter = new Map<string, number>();
  /** The reservations `reserveHold` took, by hold id, until their permit's record lands. */
  private readonly inflightByHold = new Map<string, readonly Reservation[]>();
  /** Reservations of journaled permits pinned before their attempt is applied (`<hold id>|<key>`). */
  private readonly pinned = new Set<string>();

  constructor(private readonly ledger: LedgerState) {
    super();
  }

  /** Usage the fold holds for a counter at `now`, plus holds execute pinned past their expiry. */
  private foldUsage(counter: string, now: number): number {
    const used = usageAt(this.ledger, counter, now);
    if (this.pinned.size === 0) return used;
    const entry = this.ledger.counters.get(counter);
    if (entry === undefined || entry.lapsed === 0) return used;
    // Pinned by execute, its attempt not applied yet: it counts even past its expiry. Rare (an
    // execute in flight on a permit that expired meanwhile), so looked for only when some hold lapsed.
    let pinnedLapsed = 0;
    for (const [hash, amount] of heldEntries(entry)) {
      const p = this.ledger.permits.get(hash);
      if (
        p?.lapsed === true &&
        p.counters.some((c) => this.pinned.has(reservationId(String(p.holdId), c.key)))
      )
        pinnedLapsed += amount;
    }
    return used + pinnedLapsed;
  }

  private usageNow(counter: string, now: number): number {
    const own = this.reservations.held.size === 0 ? 0 : this.reservations.usage(counter, now);
    const inflight = this.inflightByCounter.size === 0 ? 0 : (this.inflightByCounter.get(counter) ?? 0);
    return this.foldUsage(counter, now) + inflight + own;
  }

  usageOf(counters: readonly string[], now: number): number[] {
    this.open();
    return counters.map((counter) => this.usageNow(counter, now));
  }

  override usage(counter: string, now: number): Promise<number> {
    return run(() => {
      this.open();
      return this.usageNow(counter, now);
    });
  }

  override reserve(wanted: readonly Reservation[], now: number): Promise<ReserveResult> {
    return run(() => this.reserveNow(wanted, now));
  }

  reserveHold(holdId: string, wanted: readonly Reservation[], now: number): Promise<ReserveResult> {
    return run(() => {
      const result = this.reserveNow(wanted, now);
      if (result.ok) this.inflightByHold.set(holdId, wanted);
      return result;
    });
  }

  private reserveNow(wanted: readonly Reservation[], now: number): ReserveResult {
    this.open();
    for (let i = 0; i < wanted.length; i++) {
      const r = wanted[i]!;
      if (this.inflight.has(r.id) || this.reservations.held.has(r.id))
        throw new KernelError('STORE_MISUSE', `reservation id ${r.id} reused`);
      if (!(r.amount >= 0) || !Number.isFinite(r.amount))
        throw new KernelError('STORE_MISUSE', `reservation ${r.id} has a bad amount`);
      // What the same call reserves before this one on the same counter (calls hold a few).
      let pending = 0;
      for (let j = 0; j < i; j++) {
        const w = wanted[j]!;
        if (w.id === r.id) throw new KernelError('STORE_MISUSE', `reservation id ${r.id} reused`);
        if (w.counter === r.counter) pending += w.amount;
      }
      const usage = this.usageNow(r.counter, now) + pending;
      if (usage + r.amount > r.max) return { ok: false, counter: r.counter, usage };
    }
    for (const r of wanted) {
      this.inflight.set(r.id, r);
      this.inflightByCounter.set(r.counter, (this.inflightByCounter.get(r.counter) ?? 0) + r.amount);
    }
    return { ok: true };
  }

  reserveLegacy(wanted: readonly Reservation[], now: number): Promise<ReserveResult> {
    return run(() => {
      this.open();
      return this.reservations.reserve(wanted, now);
    });
  }

  /** Forgets an in-flight reservation: its record landed (the fold holds it now) or never will. */
  private dropInflight(id: string): boolean {
    const r = this.inflight.get(id);
    if (r === undefined) return false;
    this.inflight.delete(id);
    const left = (this.inflightByCounter.get(r.counter) ?? 0) - r.amount;
    if (left > 0) this.inflightByCounter.set(r.counter, left);
    else this.inflightByCounter.delete(r.counter);
    return true;
  }

  override pin(reservationId: string): Promise<void> {
    const own = this.reservations.held.has(reservationId);
    if (!own && !this.inflight.has(reservationId)) this.pinned.add(reservationId);
    return own ? super.pin(reservationId) : run(() => this.open());
  }

  override settle(reservationId: string): Promise<void> {
    this.pinned.delete(reservationId);
    return super.settle(reservationId);
  }

  override release(reservationId: string): Promise<void> {
    this.pinned.delete(reservationId);
    // Before its record landed (the journal refused it): the hold never existed.
    if (this.dropInflight(reservationId)) {
      const holdId = holdIdOf(reservationId);
      const held = this.inflightByHold.get(holdId);
      if (held !== undefined && held.every((r) => !this.inflight.has(r.id)))
        this.inflightByHold.delete(holdId);
      return run(() => this.open());
    }
    return super.release(reservationId);
  }

  landed(appended: AppendedRecord): void {
    const { type, body } = appended.record;
    if (type === 'decision') {
      if (this.inflight.size === 0 || !isObject(body) || !isObject(body['hold'])) return;
      const { id, counters } = body['hold'];
      if (typeof id !== 'string' || !Array.isArray(counters)) return;
      const held = this.inflightByHold.get(id);
      // The body's hold names the counters reserveHold took, in their order (holdOf): then no
      // reservation id needs building. Anything else is looked up by its ids.
      if (held !== undefined) this.inflightByHold.delete(id);
      if (
        held !== undefined &&
        held.length === counters.length &&
        held.every((r, i) => isObject(counters[i]) && counters[i]['counter'] === r.counter)
      ) {
        for (const r of held) this.dropInflight(r.id);
        return;
      }
      for (const c of counters)
        if (isObject(c) && typeof c['key'] === 'string') this.dropInflight(reservationId(id, c['key']));
    } else if (type === 'attempt' && this.pinned.size > 0 && isObject(body)) {
      const hash = body['permit'];
      const p = typeof hash === 'string' ? this.ledger.permits.get(hash) : undefined;
      for (const c of p?.counters ?? []) this.pinned.delete(reservationId(String(p!.holdId), c.key));
    }
  }
}
