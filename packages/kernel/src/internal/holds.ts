/**
 * What this process remembers of the permits it holds reservations for, and the hold ids it signs
 * into them.
 */
import type { ArpSession } from '@edca/arp';

/**
 * Hold ids are `<instance>.<ms>.<n>.<key>`: unique per permit for one instance (n counts permits
 * within a millisecond; ms never goes back, and after a restart starts past the journal's last
 * record, whose time is at or after every earlier hold's), and reproducible under a scripted clock.
 */
export interface HoldIds {
  next(nowMs: number, decisionKey: string): string;
  /** After recovery: later ids start past `atMs`, the time of the journal's last record. */
  resumeAfter(atMs: number): void;
}

/** Creates the hold id sequence of one instance. */
export function createHoldIds(instance: string): HoldIds {
  let holdMs = Number.NEGATIVE_INFINITY;
  let holdN = 0;
  return {
    next(nowMs, decisionKey) {
      if (nowMs > holdMs) {
        holdMs = nowMs;
        holdN = 0;
      } else holdN += 1;
      // The decision key part keeps instances that share a name (the default) apart in one store; a
      // remaining collision (same decision, same ms, same n on two instances) is retried with the next n.
      return `${instance}.${holdMs}.${holdN}.${decisionKey.slice(7, 23)}`;
    },
    resumeAfter(atMs) {
      if (Number.isFinite(atMs)) holdMs = atMs + 1;
      holdN = -1;
    },
  };
}

/** A permit this process holds reservations for. */
export interface Held {
  readonly ids: readonly string[];
  /** The session the permit was decided in (lets the same process execute it without a context). */
  readonly session?: ArpSession;
  /** Epoch ms after which the permit can no longer run (its holds lapse in the store too). */
  readonly until: number;
  /**
   * The permit's signed line as this process journaled it (absent for a permit recovery found). A
   * permit presented with exactly these bytes is this kernel's own: `execute` then need not check
   * its signature again.
   */
  readonly line?: Uint8Array;
}

/** The permits of this process, by permit hash, forgotten once they expire unused. */
export interface HeldPermits {
  get(permitHash: string): Held | undefined;
  /** A permit recovery found (no session: it was decided by an earlier process). */
  restore(permitHash: string, held: Held): void;
  /** A permit just decided; forgets those expired at `nowMs`. */
  add(permitHash: string, held: Held, nowMs: number): void;
  /** Forgets a permit (its outcome settled or released its holds), returning what it held. */
  take(permitHash: string): Held | undefined;
}

/** Creates the permit memory of one kernel. */
export function createHeldPermits(): HeldPermits {
  const held = new Map<string, Held>();
  /**
   * The permits `add` took, oldest first (hashes and expiries side by side: no object per permit),
   * so that forgetting the expired ones costs only those (a scan of all of `held` would be
   * O(permits alive)). Expiries follow the clock, so the queue is in expiry order up to clock steps
   * back; an expired entry left behind such a step is forgotten a little later, which execute
   * cannot tell (it refuses an expired permit before it reads `held`).
   */
  const hashes: string[] = [];
  const untils: number[] = [];
  let head = 0;
  const forgetExpired = (nowMs: number): void => {
    while (head < hashes.length && untils[head]! <= nowMs) {
      held.delete(hashes[head]!);
      head += 1;
    }
    if (head > 1024 && head * 2 > hashes.length) {
      hashes.splice(0, head);
      untils.splice(0, head);
      head = 0;
    }
  };
  return {
    get: (hash) => held.get(hash),
    restore: (hash, entry) => void held.set(hash, entry),
    add(hash, entry, nowMs) {
      held.set(hash, entry);
      hashes.push(hash);
      untils.push(entry.until);
      forgetExpired(nowMs);
    },
    take(hash) {
      const entry = held.get(hash);
      held.delete(hash);
      return entry;
    },
  };
}
