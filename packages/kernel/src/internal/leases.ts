/**
 * Instance leases (issue 13.6). Each kernel instance renews a lease in the shared store while it
 * runs. An attempt without an outcome belongs to the instance that made it; another instance
 * resolves it (asks the idempotency check, or records OUTCOME_UNKNOWN) only once that instance's
 * lease lapsed: at startup, and while running by folding the stream's new records every third of a
 * lease. Taking an attempt over is claimed in the store first, so exactly one instance resolves it.
 */
import {
  apply,
  attemptsWithoutOutcome,
  prune,
  type AttemptEntry,
  type LedgerState,
  type PermitEntry,
} from '@edca/ledger';

import type { Clock } from '../clock.js';
import type { Journal } from '../journal.js';
import type { KernelStore } from '../store.js';

/** Lease length when the kernel option `leaseMs` is not given. */
export const DEFAULT_LEASE_MS = 30_000;

/** What the lease keeper needs from the kernel. */
export interface LeaseDeps {
  readonly store: KernelStore;
  readonly journal: Journal;
  readonly clock: Clock;
  readonly instance: string;
  readonly leaseMs: number;
  /** Resolves an attempt (journals its outcome); the kernel's recovery step. */
  readonly resolve: (attempt: AttemptEntry, permit: PermitEntry | undefined) => Promise<unknown>;
}

/** The lease keeper of one kernel instance. */
export interface Leases {
  /** Whether the store keeps leases (without them no instance resolves another's attempts). */
  readonly enabled: boolean;
  /** Renews this instance's lease; a store failure is retried at the next renewal. */
  renew(): Promise<void>;
  /** The attempts of other instances, among `open`, whose lease has lapsed at the kernel's now. */
  lapsed(open: readonly AttemptEntry[]): Promise<AttemptEntry[]>;
  /** Claims the resolution of an attempt: true for exactly one instance. */
  claim(attempt: AttemptEntry): Promise<boolean>;
  /**
   * Starts renewing and watching the stream from `state` (the fold of records 1..`state.seq`, a copy
   * the keeper then owns): another instance's attempt is resolved once its lease lapsed.
   */
  watch(state: LedgerState): void;
  /** Stops renewing and watching; resolves once a running round ended. */
  stop(): Promise<void>;
}

/**
 * Creates the lease keeper.
 * @example const leases = createLeases({ store, journal, clock, instance, leaseMs, resolve });
 */
export function createLeases(deps: LeaseDeps): Leases {
  const { store, journal, clock, instance, leaseMs } = deps;
  const renewLease = store.renewLease?.bind(store);
  const leaseOf = store.leaseOf?.bind(store);
  const enabled = renewLease !== undefined && leaseOf !== undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let round: Promise<void> | undefined;
  let stopped = false;

  async function renew(): Promise<void> {
    if (renewLease === undefined) return;
    try {
      await renewLease(instance, clock.now() + leaseMs);
    } catch {
      // The store is down: the lease may lapse and another instance may take over, as it should.
    }
  }

  async function lapsed(open: readonly AttemptEntry[]): Promise<AttemptEntry[]> {
    if (leaseOf === undefined) return [];
    const now = clock.now();
    const ends = new Map<string, number | null>();
    const out: AttemptEntry[] = [];
    for (const a of open) {
      // Attempts of older journals name no instance: nobody can tell whose they are.
      if (a.instance === undefined || a.instance === instance) continue;
      if (!ends.has(a.instance)) ends.set(a.instance, await leaseOf(a.instance));
      const end = ends.get(a.instance);
      // An instance that never held a lease may be one that keeps none: never taken over.
      if (end !== null && end !== undefined && end < now) out.push(a);
    }
    return out;
  }

  const claim = (attempt: AttemptEntry): Promise<boolean> =>
    enabled
      ? store.consumePermit(`resolve:${attempt.hash}`, new Date(clock.now()).toISOString())
      : Promise.resolve(true);

  async function sweep(state: LedgerState): Promise<void> {
    await renew();
    for await (const r of journal.read(state.seq + 1)) apply(state, r);
    prune(state, clock.now());
    for (const attempt of await lapsed(attemptsWithoutOutcome(state))) {
      if (stopped) return;
      if (!(await claim(attempt))) continue;
      await deps.resolve(attempt, state.permits.get(attempt.permit));
    }
  }

  return {
    enabled,
    renew,
    lapsed,
    claim,
    watch(state) {
      if (!enabled || stopped) return;
      timer = setInterval(
        () => {
          if (round !== undefined) return;
          round = sweep(state)
            .catch(() => undefined)
            .finally(() => {
              round = undefined;
            });
        },
        Math.max(1, Math.floor(leaseMs / 3)),
      );
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      await round;
    },
  };
}
