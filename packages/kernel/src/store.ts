/**
 * The `KernelStore` port: the kernel's shared mutable state (consumed-permit markers, pending
 * approvals, limit counters).
 *
 * Decisions are pure and cached locally; everything that must hold ACROSS kernel instances lives
 * here. The embedded default (no `store` option) reads its limit counters from the kernel's ledger
 * fold and keeps the rest in memory, filled from the journal at startup (docs/kernel.md, "State");
 * `@edca/store-postgres` implements the same port for many instances. Every implementation must pass
 * `@edca/kernel/testing` (`runStoreSuite(test, name, factory)`).
 *
 * Every method is atomic on its own: the store never offers a read-then-write pair the caller has to
 * keep consistent, because two kernel instances may call it at the same moment.
 */

/** An approver counted toward a pending approval (distinct by `kid`). */
export interface ApproverEntry {
  readonly kid: string;
  readonly role: string;
  /** Hash of the journaled `approval` record that carried this approver's signed statement. */
  readonly record: string;
  readonly at: string;
}

/** Life cycle of a pending approval; only `pending` can change, and only once. */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/** What the kernel stores when a decision escalates. */
export interface PendingApprovalInit {
  /** The hash of the journaled `escalate` decision record; the approval's identity. */
  readonly id: string;
  /** digestValue({ intent, params, refs }) of the escalated action; approvals are bound to it. */
  readonly actionHash: string;
  /** The approvals the policy requires. */
  readonly required: { readonly count: number; readonly role: string };
  readonly createdAt: string;
  /** RFC 3339; after this instant the approval can only expire (fail closed: timeout refuses). */
  readonly expiresAt: string;
}

/** A pending (or resolved) approval as stored. */
export interface PendingApproval extends PendingApprovalInit {
  readonly status: ApprovalStatus;
  /** Distinct approvers, in the order they were added. */
  readonly approvers: readonly ApproverEntry[];
  readonly resolvedAt: string | null;
}

/** Result of adding an approver: `added` is false when that `kid` was already counted. */
export interface AddApproverResult {
  readonly approval: PendingApproval;
  readonly added: boolean;
}

/** One counter increment the kernel wants to hold while a permit is outstanding. */
export interface Reservation {
  /**
   * Unique id: the kernel uses `<hold id>|<limit key>`, the hold id being a random id unique per
   * permit and signed in the permit body (`hold.id`), so any instance can pin, settle or release it.
   */
  readonly id: string;
  /** The counter: limit key, subject scope and window start, e.g. `refund.budget|p:alice|0`. */
  readonly counter: string;
  readonly amount: number;
  /** The limit: the reservation succeeds only when usage + amount ≤ max. */
  readonly max: number;
  /** Epoch ms; an unsettled reservation stops counting after this instant (its permit expired). */
  readonly holdUntil: number;
  /**
   * Epoch ms at which the counter's window ends (absent: never): from then on no decision reads the
   * counter, so a store may forget its reservations, settled ones included.
   */
  readonly windowEnd?: number;
}

/** The outcome of `reserve`: on success every counter was reserved, otherwise none was. */
export type ReserveResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** The counter that would have passed its max, and its usage at that moment. */
      readonly counter: string;
      readonly usage: number;
    };

/** The kernel's shared state port. All timestamps are caller-supplied (the kernel's clock port). */
export interface KernelStore {
  /**
   * Marks a permit consumed; true only for the ONE call (across every instance sharing the store)
   * that consumed it, false if it already was.
   * @throws KernelError STORE_UNAVAILABLE
   */
  consumePermit(permitHash: string, at: string): Promise<boolean>;
  /** Whether the permit was consumed. @throws KernelError STORE_UNAVAILABLE */
  isPermitConsumed(permitHash: string): Promise<boolean>;
  /**
   * Optional: `consumePermit`, then `pin` of every id in `reservationIds` only if this call consumed
   * the permit, as one atomic step (a store on a server does both in one round trip). Resolves as
   * `consumePermit` does; when it rejects, neither happened. Without it the kernel calls
   * `consumePermit` and then `pin`.
   * @throws KernelError STORE_UNAVAILABLE
   */
  consumeAndPin?(permitHash: string, at: string, reservationIds: readonly string[]): Promise<boolean>;

  /**
   * Creates a pending approval; idempotent for the same id (returns the stored one unchanged).
   * @throws KernelError STORE_MISUSE when `required.count` < 1; STORE_UNAVAILABLE
   */
  createApproval(init: PendingApprovalInit): Promise<PendingApproval>;
  /** The stored approval or undefined. @throws KernelError STORE_UNAVAILABLE */
  getApproval(id: string): Promise<PendingApproval | undefined>;
  /**
   * Adds a distinct approver while the approval is pending; a second entry with the same kid is not
   * counted (`added: false`); a resolved approval is returned unchanged with `added: false`.
   * @throws KernelError STORE_MISUSE for an unknown id; STORE_UNAVAILABLE
   */
  addApprover(id: string, approver: ApproverEntry): Promise<AddApproverResult>;
  /**
   * Moves a pending approval to `approved`, `rejected` or `expired` (compare-and-set: only from
   * `pending`); returns the stored approval, whose status tells whether this call won.
   * @throws KernelError STORE_MISUSE for an unknown id or status `pending`; STORE_UNAVAILABLE
   */
  resolveApproval(
    id: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    at: string,
  ): Promise<PendingApproval>;
  /** Pending approvals whose `expiresAt` ≤ `now`. @throws KernelError STORE_UNAVAILABLE */
  listExpiredApprovals(now: string): Promise<PendingApproval[]>;

  /**
   * Atomically checks and reserves every reservation (all or none): each succeeds only when the
   * counter's usage (settled + unexpired held reservations at `now`) plus `amount` ≤ `max`.
   * Under any concurrency, a counter's usage never passes the max of a reservation that succeeded.
   * @throws KernelError STORE_MISUSE for a reused id or a negative amount; STORE_UNAVAILABLE
   */
  reserve(reservations: readonly Reservation[], now: number): Promise<ReserveResult>;
  /**
   * Keeps a held reservation counting until it is settled or released, whatever its `holdUntil`
   * (its permit was attempted: the action may be running); idempotent.
   * @throws KernelError STORE_UNAVAILABLE
   */
  pin(reservationId: string): Promise<void>;
  /** Makes a held reservation permanent (the action happened); idempotent. @throws KernelError STORE_UNAVAILABLE */
  settle(reservationId: string): Promise<void>;
  /** Drops a held reservation (the action did not happen); idempotent. @throws KernelError STORE_UNAVAILABLE */
  release(reservationId: string): Promise<void>;
  /** Current usage of a counter at `now`. @throws KernelError STORE_UNAVAILABLE */
  usage(counter: string, now: number): Promise<number>;

  /**
   * Records that kernel instance `instance` is alive until `untilMs` (epoch ms, the kernel's clock);
   * a later call replaces it. Another instance takes over the attempts an instance left without an
   * outcome only once its lease lapsed (docs/kernel.md, "Several instances"). Optional: a store
   * without leases never lets an instance resolve another's attempts.
   * @throws KernelError STORE_UNAVAILABLE
   */
  renewLease?(instance: string, untilMs: number): Promise<void>;
  /** The end of `instance`'s lease (epoch ms), or null when it never held one. @throws KernelError STORE_UNAVAILABLE */
  leaseOf?(instance: string): Promise<number | null>;

  /** Releases resources; later calls fail with STORE_UNAVAILABLE. */
  close(): Promise<void>;
}
