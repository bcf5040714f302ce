/**
 * The kernel's public types: what `createKernel` takes and what its methods answer. Every result is
 * a value with a closed code union (docs/reason-codes.md), never an exception.
 */
import type { Violation } from '@edca/ledger';
import type { Digest, JsonValue, SignedActivation, SignedRecord, Signer, TrustFile } from '@edca/records';
import type { CompiledMap, DeriveCode, ReasonCode } from '@edca/semantic';
import type { Arp, ArpHandler, ArpRefusalCode, ArpSession, PrivateCall, RefRegistry } from '@edca/arp';
import type { ApprovalCheck, SignedApproval } from './approval.js';
import type { Clock } from './clock.js';
import type { DecisionCache, DecisionCacheOptions, Proposal } from './decision.js';
import type { Journal } from './journal.js';
import type { WitnessPolicy } from './witness-gate.js';
import type { KernelReasonCode } from './reason-codes.js';
import type { IntakeRefusalReport, SessionEndReport, SessionRecordRef } from './session-records.js';
import type { KernelStore, PendingApproval } from './store.js';

/**
 * A reason in a decision: the map's own (`@edca/semantic`), the kernel's, ARP's when a proposal does
 * not resolve, a derivation's, or the failing step of a plan (`STEP_<n>`, after `PLAN_INVALID`).
 */
export type DecisionReason = ReasonCode | KernelReasonCode | ArpRefusalCode | DeriveCode | `STEP_${number}`;

/** Why `execute` refused before any handler ran. */
export type ExecuteRefusalCode =
  | Extract<
      KernelReasonCode,
      | 'KERNEL_CLOSED'
      | 'PERMIT_INVALID'
      | 'PERMIT_EXPIRED'
      | 'PERMIT_CONSUMED'
      | 'STORE_UNAVAILABLE'
      | 'STALE_STATE'
      | 'CIRCUIT_OPEN'
      | 'SIGNER_UNAVAILABLE'
      | 'JOURNAL_UNAVAILABLE'
      | 'DERIVATION_FAILED'
    >
  | ArpRefusalCode;

/** Why a handler's run did not complete. */
export type HandlerFailureCode = Extract<
  KernelReasonCode,
  'HANDLER_FAILED' | 'HANDLER_FAILED_FINAL' | 'HANDLER_TIMEOUT'
>;

/** Why `approve` refused a statement. */
export type ApproveRefusalCode =
  | Extract<
      KernelReasonCode,
      | 'KERNEL_CLOSED'
      | 'APPROVAL_NOT_FOUND'
      | 'APPROVAL_EXPIRED'
      | 'APPROVAL_REJECTED'
      | 'SIGNER_UNAVAILABLE'
      | 'JOURNAL_UNAVAILABLE'
    >
  | Extract<ApprovalCheck, { ok: false }>['code'];

/** Who is asking: the model session (for refs), the accountable principal and the proposing model. */
export interface DecideContext {
  /** The ARP session the proposal's refs were issued to. */
  readonly session: ArpSession;
  readonly principal: { readonly id: string; readonly attributes: Record<string, JsonValue> };
  /** The model that proposed and the digest of its prompt template, as the host knows them. */
  readonly proposer: { readonly modelId: string; readonly promptTemplateDigest: string };
  /** Decide again with the approvals gathered on this pending approval (its escalate record hash). */
  readonly approvalId?: Digest;
}

/** A signed, journaled permit: the `decision` record (verdict `permit`) and its hash. */
export interface Permit {
  readonly record: SignedRecord;
  readonly hash: Digest;
}

/** The answer of `decide`: a value, never an exception. */
export interface Decision {
  readonly verdict: 'permit' | 'refuse' | 'escalate';
  readonly rule: string;
  readonly reasons: readonly DecisionReason[];
  /** Null only when the decision input could not be built (no map, malformed context). */
  readonly decisionKey: Digest | null;
  readonly stateHash: Digest | null;
  readonly policyDigest: Digest | null;
  readonly actionHash: Digest | null;
  readonly accountable: string | null;
  /** The journaled decision record; null when it could not be journaled (then the verdict is refuse). */
  readonly record: { readonly hash: Digest; readonly seq: number } | null;
  readonly permit?: Permit;
  readonly approval?: {
    readonly id: Digest;
    readonly required: { count: number; role: string };
    readonly expiresAt: string;
  };
  /** Whether the evaluation came from the decision cache. */
  readonly cached: boolean;
}

/** Whether the action with this idempotency key already happened (resolves attempts left without an outcome). */
export type IdempotencyCheck = (idempotencyKey: string) => Promise<'completed' | 'absent'>;

/** Loads the private business records a map derives its abstract state from. */
export type Loader = (request: {
  readonly map: string;
  readonly intent: string;
  /** Real field name → the entity each ref param resolved to. */
  readonly refs: PrivateCall['realRefs'];
  readonly principal: DecideContext['principal'];
}) => Promise<Record<string, unknown>>;

/** The result of `execute`: a refusal before anything ran, or a journaled outcome. */
export type ExecuteResult =
  | { readonly status: 'refused'; readonly code: ExecuteRefusalCode; readonly message: string }
  | {
      readonly status: 'completed' | 'failed' | 'unknown';
      readonly permit: Digest;
      readonly attempt: Digest;
      /** The outcome record; null only when the journal failed to take it (recovery resolves it). */
      readonly outcome: Digest | null;
      readonly result?: unknown;
      readonly error?: { readonly code: HandlerFailureCode };
      readonly transition?: { readonly machine: string; readonly from: string; readonly to: string };
    };

/** A plan step: a proposal and, optionally, the proposal that undoes it. */
export interface PlanStep {
  readonly proposal: Proposal;
  readonly compensation?: Proposal;
}

/** The result of `runPlan`. */
export interface PlanResult {
  readonly status: 'completed' | 'refused' | 'compensated' | 'failed';
  /** The first reason of the step that stopped the plan (a refusal, an execution's code). */
  readonly code?: DecisionReason;
  readonly steps: readonly { readonly decision: Decision; readonly execution?: ExecuteResult }[];
  readonly compensations: readonly {
    readonly step: number;
    readonly decision: Decision;
    readonly execution?: ExecuteResult;
  }[];
}

/** The result of `approve`. */
export type ApproveResult =
  | { readonly status: 'refused'; readonly code: ApproveRefusalCode; readonly message: string }
  | {
      readonly status: 'pending';
      readonly approvers: number;
      readonly required: number;
      readonly record: Digest;
    }
  | { readonly status: 'decided'; readonly decision: Decision; readonly record: Digest };

/** Events the kernel emits (after journaling). */
export interface KernelEvents {
  decision: Decision & { readonly intent: string };
  outcome: Extract<ExecuteResult, { permit: Digest }> & { readonly intent: string };
  approval: {
    readonly id: Digest;
    readonly kid: string;
    readonly verdict: 'approve' | 'reject';
    readonly status: PendingApproval['status'];
  };
}

/** What startup recovery found and did. */
export interface RecoveryReport {
  /** Records folded at startup: from the last snapshot on when there is one. */
  readonly records: number;
  /** The seq of the `snapshot` record startup folded from; 0 when it folded the whole journal. */
  readonly fromSnapshot: number;
  /** Life-cycle rules the journal breaks (the first 100), as the ledger fold found them. */
  readonly violations: readonly Violation[];
  readonly dangling: number;
  readonly resolved: readonly {
    readonly permit: Digest;
    readonly status: 'completed' | 'failed' | 'unknown';
  }[];
}

/** Options of `createKernel`. */
export interface KernelOptions {
  /** Compiled state maps; the kernel builds one `@edca/arp` layer (route table) per map. */
  readonly maps: readonly CompiledMap[];
  /** Loads the private records of a map (by map name) that its abstract state derives from. */
  readonly loaders: Readonly<Record<string, Loader>>;
  /** The HMAC key of opaque refs (≥ 32 bytes) and, for many instances, a shared ref registry. */
  readonly refKey: Uint8Array;
  readonly refRegistry?: RefRegistry;
  /** The kernel's key; the journal must sign with the same key (permits are verified against it). */
  readonly signer: Signer;
  readonly journal: Journal;
  readonly clock: Clock;
  /** The host's handlers by route name: the only code that changes the real system. */
  readonly handlers: Readonly<Record<string, ArpHandler>>;
  /** Per handler: how to tell whether an idempotency key already took effect (used by recovery). */
  readonly idempotencyChecks?: Readonly<Record<string, IdempotencyCheck>>;
  /** Shared state; default: an embedded store over the journal's ledger fold (docs/kernel.md, "State"). */
  readonly store?: KernelStore;
  /** Approver keys and roles (required for approvals). */
  readonly trust?: TrustFile;
  readonly cache?: DecisionCacheOptions;
  /** Permit lifetime (default 5 min). */
  readonly permitTtlMs?: number;
  /** How long an escalation waits for approvers (default 24 h). */
  readonly approvalTtlMs?: number;
  /** Per-try handler timeout (default 10 s) and extra tries after a failure (default 2). */
  readonly handlerTimeoutMs?: number;
  readonly retries?: number;
  readonly breaker?: { readonly threshold: number; readonly cooldownMs: number };
  /**
   * This kernel instance's name (default `default`), written in every attempt: startup recovery
   * resolves only this instance's attempts that have no outcome. Give each instance sharing a
   * journal its own, stable across restarts.
   */
  readonly instance?: string;
  /**
   * Every this many records the kernel writes its ledger state into the journal as a signed
   * `snapshot` record, and a restart folds from the last one (default 10,000; 0: never). A kernel
   * whose stream another writer appends to writes none.
   */
  readonly snapshotEvery?: number;
  /**
   * How long this instance's lease in the store lasts (default 30 s); it is renewed every third of
   * that. Another instance resolves this instance's attempts left without an outcome only once its
   * lease lapsed. Leases need a store that keeps them (`@edca/store-postgres`).
   */
  readonly leaseMs?: number;
  /**
   * Refuse to start unless every map has a signed activation in `activations` (docs/kernel.md,
   * "Signed activation"); default false. Needs `trust` with the `policy-owner` keys.
   */
  readonly requireSignedActivation?: boolean;
  /**
   * The policy owner's signed activation of each map, by map name: journaled in its
   * `policy.activated` record. A given activation is always checked, required or not.
   */
  readonly activations?: Readonly<Record<string, SignedActivation>>;
  /**
   * Candidate maps evaluated beside the active map of the same name: each of its decisions is
   * also journaled as a `shadow` record (never a permit, never executed, never counted).
   */
  readonly shadow?: readonly CompiledMap[];
  /** Witnesses that must cosign (k of n) the journal's newest checkpoint before the kernel decides again. */
  readonly witnesses?: WitnessPolicy;
}

/** The kernel. */
export interface Kernel {
  /** Decides a proposal; a permit or escalation is signed and durably journaled before this resolves. */
  decide(proposal: Proposal, context: DecideContext): Promise<Decision>;
  /**
   * Verifies and consumes a permit, runs its handler through its route, journals attempt and outcome.
   * `context.session` resolves the permit's refs; it may be left out in the process that decided.
   */
  execute(permit: Permit, context?: { readonly session: ArpSession }): Promise<ExecuteResult>;
  /** Takes one signed approval statement for a pending escalation; decides again once enough approvers agree. */
  approve(signed: SignedApproval): Promise<ApproveResult>;
  /** Refuses every escalation whose approval window has passed; returns how many. */
  expireApprovals(): Promise<number>;
  /** Checks a plan against the state machine as a whole, then runs it step by step, compensating on failure. */
  runPlan(steps: readonly PlanStep[], context: DecideContext): Promise<PlanResult>;
  /**
   * Journals a signed `intake.refused` record for model output `arp.intake` refused (code, public
   * message, format and the output's SHA-256, never the output); resolves once it is durable.
   * @throws KernelError JOURNAL_UNAVAILABLE; RecordsError RECORD_INVALID_BODY for a malformed report
   */
  recordIntakeRefusal(report: IntakeRefusalReport): Promise<SessionRecordRef>;
  /**
   * Journals the signed `session.ended` record of a governed session; resolves once it is durable.
   * @throws KernelError JOURNAL_UNAVAILABLE; RecordsError RECORD_INVALID_BODY for a malformed report
   */
  endSession(report: SessionEndReport): Promise<SessionRecordRef>;
  /** Subscribes to an event; returns the unsubscribe function. Listener errors never reach the kernel. */
  on<K extends keyof KernelEvents>(event: K, listener: (payload: KernelEvents[K]) => void): () => void;
  readonly recovery: RecoveryReport;
  /** The ARP layer of each map (by map name): project views and take proposals in through these. */
  readonly arps: ReadonlyMap<string, Arp>;
  readonly cache: DecisionCache;
  readonly store: KernelStore;
  close(): Promise<void>;
}
