/**
 * Store writes that ride on a journal append: the settles and releases that end an execution's
 * holds, written by the same statement (and transaction) as the next journal group, instead of a
 * statement of their own. `execute` ends the holds once the outcome is durable; under load the
 * journal's next group (other executions' attempts and outcomes, decisions) is already on its way
 * and carries them.
 *
 * A rider is only ever a write whose outcome does not depend on the journal: if no commit takes it
 * (the journal is idle, failed or closed), or the commit that took it fails, the store runs it with
 * its own statement, as without a journal.
 */

/** One settle or release waiting for a journal commit. */
export interface Rider {
  readonly kind: 'settle' | 'release';
  readonly id: string;
  /** Runs the write with the store's own statement (when no commit carries it). */
  readonly alone: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** What a journal offers the store: `take` a rider, or refuse (undefined) when no commit is coming. */
export interface RiderCarrier {
  ride(kind: 'settle' | 'release', id: string, alone: () => Promise<void>): Promise<void> | undefined;
}

/** The carrier of a `postgresJournal`, reachable by the store through this symbol. */
export const RIDER_CARRIER: unique symbol = Symbol('edca.store-postgres.rider-carrier');

/** Runs riders nobody carried, each with the store's own statement; settles their promises. */
export function runAlone(riders: readonly Rider[]): void {
  for (const r of riders) r.alone().then(r.resolve, r.reject);
}

/** The ids of riders of one kind, for the append statement. */
export function idsOf(riders: readonly Rider[], kind: Rider['kind']): string[] {
  return riders.filter((r) => r.kind === kind).map((r) => r.id);
}
