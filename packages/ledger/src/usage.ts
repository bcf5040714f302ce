/**
 * Limit usage kept incrementally, so that reading a counter costs O(1) however many permits hold
 * on it. A counter's usage at an instant is its settled amount plus the holds of permits that were
 * attempted or have not expired yet. Each counter keeps `heldTotal` (every hold it has) and
 * `lapsed` (the holds of permits that expired unattempted as of the last instant asked about);
 * usage is `settled + heldTotal - lapsed`.
 *
 * What has lapsed depends on the instant asked about, so permits are kept in order of expiry (the
 * `expiries` queue) with a cursor: every permit before it has expired as of the last instant asked
 * about, and its holds count in `lapsed` while it is still unattempted. Asking about a later
 * instant moves the cursor forward over what expired meanwhile; an earlier one (concurrent
 * decisions read the clock in one order and are journaled in another) moves it back. Both cost the
 * permits that expire between the two instants, nearly always none. The same queue lets `prune`
 * visit only the permits that expired instead of every permit.
 */
import type { CounterEntry, HoldCounter, LedgerState, PermitEntry } from './state.js';

/** Where a permit sorts among expiries: an unreadable expiry is already past (it never counts). */
const expiryOf = (p: PermitEntry): number => (Number.isNaN(p.expiresAtMs) ? -Infinity : p.expiresAtMs);

/** Whether a permit's holds lapse once it expired: it was never attempted and holds its amounts. */
const canLapse = (state: LedgerState, p: PermitEntry): boolean =>
  p.status === 'outstanding' && p.charged === 'held' && state.permits.get(p.hash) === p;

/** The amount a permit holds on a counter, or undefined when it holds none there. */
export function heldBy(entry: CounterEntry, permitHash: string): number | undefined {
  return entry.holder === permitHash ? entry.holderAmount : entry.others?.get(permitHash);
}

/** Every permit holding on a counter with its amount, in no particular order. */
export function heldEntries(entry: CounterEntry): [string, number][] {
  const out: [string, number][] = entry.holder === undefined ? [] : [[entry.holder, entry.holderAmount]];
  if (entry.others !== undefined) for (const [hash, amount] of entry.others) out.push([hash, amount]);
  return out;
}

function setHeld(entry: CounterEntry, permitHash: string, amount: number): void {
  if (entry.holder === undefined || entry.holder === permitHash) {
    entry.holder = permitHash;
    entry.holderAmount = amount;
  } else (entry.others ??= new Map()).set(permitHash, amount);
}

function deleteHeld(entry: CounterEntry, permitHash: string): void {
  if (entry.holder === permitHash) {
    entry.holder = undefined;
    entry.holderAmount = 0;
  } else entry.others?.delete(permitHash);
}

function addLapsed(state: LedgerState, p: PermitEntry, sign: 1 | -1): void {
  for (const c of p.counters) {
    const entry = state.counters.get(c.counter);
    if (entry !== undefined && heldBy(entry, p.hash) !== undefined) entry.lapsed += sign * c.amount;
  }
}

function lapse(state: LedgerState, p: PermitEntry): void {
  p.lapsed = true;
  addLapsed(state, p, 1);
}

/** A lapsed permit counts again (it was attempted) or is about to lose its holds (settled, pruned). */
export function unlapse(state: LedgerState, p: PermitEntry): void {
  if (!p.lapsed) return;
  p.lapsed = false;
  addLapsed(state, p, -1);
}

/** Moves the expiry cursor to `nowMs`: lapses what expired by then, restores what had not. */
function lapseAt(state: LedgerState, nowMs: number): void {
  const q = state.expiries;
  const items = q.items;
  while (q.head < items.length && expiryOf(items[q.head]!) <= nowMs) {
    const p = items[q.head]!;
    q.head += 1;
    if (!p.lapsed && canLapse(state, p)) lapse(state, p);
  }
  while (q.head > 0 && expiryOf(items[q.head - 1]!) > nowMs) {
    q.head -= 1;
    unlapse(state, items[q.head]!);
  }
}

/**
 * Adds a new permit to the expiry queue. Permits arrive nearly in expiry order (the same time to
 * live, decided moments apart), so the insertion point is found by walking back from the end.
 */
export function enqueueExpiry(state: LedgerState, p: PermitEntry): void {
  const q = state.expiries;
  const items = q.items;
  const key = expiryOf(p);
  let i = items.length;
  while (i > 0 && expiryOf(items[i - 1]!) > key) i -= 1;
  if (i === items.length) items.push(p);
  else items.splice(i, 0, p);
  // Before the cursor: it had expired as of the last instant asked about.
  if (i < q.head) {
    q.head += 1;
    if (canLapse(state, p)) lapse(state, p);
  }
}

/** The counter's entry, created with the window of the hold that first names it. */
export function counterEntry(state: LedgerState, c: HoldCounter): CounterEntry {
  let entry = state.counters.get(c.counter);
  if (entry === undefined) {
    entry = {
      settled: 0,
      holder: undefined,
      holderAmount: 0,
      others: undefined,
      heldTotal: 0,
      lapsed: 0,
      windowEnd: c.windowEnd,
    };
    state.counters.set(c.counter, entry);
  }
  return entry;
}

/** Holds `amount` of a counter for a permit. */
export function addHold(entry: CounterEntry, permitHash: string, amount: number): void {
  setHeld(entry, permitHash, (heldBy(entry, permitHash) ?? 0) + amount);
  entry.heldTotal += amount;
}

/** Drops a permit's holds from its counters (call `unlapse` first). */
export function dropHolds(state: LedgerState, p: PermitEntry): void {
  for (const c of p.counters) {
    const entry = state.counters.get(c.counter);
    const amount = entry === undefined ? undefined : heldBy(entry, p.hash);
    if (entry === undefined || amount === undefined) continue;
    deleteHeld(entry, p.hash);
    entry.heldTotal -= amount;
  }
}

/**
 * Usage of a counter at `nowMs`: settled amounts, plus the holds of permits that were attempted
 * (held until their outcome) or have not expired yet.
 */
export function usageAt(state: LedgerState, counter: string, nowMs: number): number {
  const entry = state.counters.get(counter);
  return entry === undefined ? 0 : entryUsageAt(state, entry, nowMs);
}

/** {@link usageAt} of a counter whose entry the caller holds already (one look-up, not two). */
export function entryUsageAt(state: LedgerState, entry: CounterEntry, nowMs: number): number {
  lapseAt(state, nowMs);
  return entry.settled + entry.heldTotal - entry.lapsed;
}

/**
 * Forgets the permits `keeps` lets go (they expired before `nowMs` and have no open attempt), with
 * their holds, visiting only the permits that expired. Returns the forgotten ones.
 */
export function pruneExpired(
  state: LedgerState,
  nowMs: number,
  keeps: (p: PermitEntry) => boolean,
): PermitEntry[] {
  const q = state.expiries;
  const items = q.items;
  const gone: PermitEntry[] = [];
  const kept: PermitEntry[] = [];
  let end = 0;
  let head = q.head;
  for (; end < items.length; end++) {
    const p = items[end]!;
    if (expiryOf(p) >= nowMs) break;
    if (state.permits.get(p.hash) !== p) {
      // Already gone from the state (a restored copy replaced it): nothing to drop.
    } else if (keeps(p)) {
      kept.push(p);
      continue;
    } else {
      unlapse(state, p);
      dropHolds(state, p);
      state.permits.delete(p.hash);
      gone.push(p);
    }
    if (end < q.head) head -= 1;
  }
  if (end > kept.length) {
    items.splice(0, end, ...kept);
    q.head = head;
  }
  return gone;
}
