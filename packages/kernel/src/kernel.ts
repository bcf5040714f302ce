/**
 * The runtime kernel: decide (pure, cached), sign and journal the decision, then execute a verified,
 * unconsumed, unexpired permit through its route, journaling the attempt before the handler runs
 * and the outcome after. Every failure path refuses with a stable code (docs/reason-codes.md).
 */
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import {
  attemptsWithoutOutcome,
  emptyLedger,
  prune,
  type HoldCounter,
  type LedgerState,
  type PermitEntry,
  type Violation,
} from '@edca/ledger';
import {
  digestEquals,
  recordHash,
  safeVerifyRecord,
  toFrozenJson,
  verifyEd25519,
  type Digest,
  type JsonValue,
  type SignedRecord,
  type Signer,
  type TrustFile,
} from '@edca/records';
import { verifyApproval, type SignedApproval } from './approval.js';
import { toRfc3339, type Clock } from './clock.js';
import {
  createDecisionCache,
  decisionKeyOf,
  evaluateDecision,
  type DecisionCache,
  type DecisionCacheOptions,
  type DecisionResult,
  type Proposal,
} from './decision.js';
import { KernelError } from './errors.js';
import { isFinalHandlerError } from './handler-error.js';
import type { AppendedRecord, Journal, RecordDraft } from './journal.js';
import { createMemoryStore } from './memory-store.js';
import type { KernelStore, PendingApproval, Reservation } from './store.js';
import { createBreaker, type Breaker } from './internal/breaker.js';
import { createLeases, DEFAULT_LEASE_MS } from './internal/leases.js';
import {
  createLedgerJournal,
  DEFAULT_SNAPSHOT_EVERY,
  foldJournal,
  seedSettledRemainder,
} from './internal/ledger-journal.js';
import { actionHashFor, counterName, scopeIdsOf } from './internal/action.js';
import {
  appendIntakeRefusal,
  appendSessionEnd,
  type IntakeRefusalReport,
  type SessionEndReport,
  type SessionRecordRef,
} from './session-records.js';
import { createArp, findSquashedTerms } from '@edca/arp';
import type {
  Arp,
  ArpHandler,
  ArpSession,
  DecisionInput,
  IntentSpec,
  LimitSpec,
  MapSpec,
  PrivateCall,
  RefRegistry,
} from './internal/seams.js';

const VERSION = '0.1.0';

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
  readonly reasons: readonly string[];
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
  | { readonly status: 'refused'; readonly code: string; readonly message: string }
  | {
      readonly status: 'completed' | 'failed' | 'unknown';
      readonly permit: Digest;
      readonly attempt: Digest;
      /** The outcome record; null only when the journal failed to take it (recovery resolves it). */
      readonly outcome: Digest | null;
      readonly result?: unknown;
      readonly error?: { readonly code: string };
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
  readonly code?: string;
  readonly steps: readonly { readonly decision: Decision; readonly execution?: ExecuteResult }[];
  readonly compensations: readonly {
    readonly step: number;
    readonly decision: Decision;
    readonly execution?: ExecuteResult;
  }[];
}

/** The result of `approve`. */
export type ApproveResult =
  | { readonly status: 'refused'; readonly code: string; readonly message: string }
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
  readonly maps: readonly MapSpec[];
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
  /** Shared state; default: an in-memory store rebuilt from the journal at startup. */
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

interface PermitBody {
  verdict: 'permit';
  decisionKey: Digest;
  policyDigest: Digest;
  stateHash: Digest;
  actionHash: Digest;
  input: DecisionInput;
  rule: string;
  expiresAt: string;
  /** Record format 2: the permit's reservations (identity and counters) and the approval it used. */
  hold?: { id: string; counters: HoldCounter[] };
  approval?: string;
}

interface Entry {
  readonly map: MapSpec;
  readonly arp: Arp;
  readonly loader: Loader;
}

interface Held {
  readonly ids: readonly string[];
  /** The session the permit was decided in (lets the same process execute it without a context). */
  readonly session?: ArpSession;
  /** Epoch ms after which the permit can no longer run (its holds lapse in the store too). */
  readonly until: number;
}

const SELF_TEST_INTENT = '__edca_self_test_forbidden__';
const PROBE = new TextEncoder().encode('edca-kernel-probe-v1\n');

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Creates a kernel: validates options, runs the startup self-test, replays the journal (rebuilding
 * the default store and resolving attempts that have no outcome), and journals `policy.activated`
 * for maps not yet activated.
 * @throws KernelError KERNEL_CONFIG_INVALID for malformed options; KERNEL_SELF_TEST_FAILED when the map,
 *   routes, forbidden-proposal check, signer or journal fail the self-test
 * @example const kernel = await createKernel({ maps, signer, journal, clock: systemClock, handlers });
 */
export async function createKernel(options: KernelOptions): Promise<Kernel> {
  const { signer, journal, clock } = options;
  const permitTtlMs = options.permitTtlMs ?? 5 * 60_000;
  const approvalTtlMs = options.approvalTtlMs ?? 24 * 60 * 60_000;
  const handlerTimeoutMs = options.handlerTimeoutMs ?? 10_000;
  const retries = options.retries ?? 2;
  const breakerOptions = options.breaker ?? { threshold: 5, cooldownMs: 30_000 };
  const instance = options.instance ?? 'default';
  if (typeof instance !== 'string' || instance.length === 0 || instance.length > 200) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'instance must be a string of 1..200 characters');
  }
  const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 0) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'snapshotEvery must be a non-negative integer');
  }
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'retries must be an integer in 0..10');
  }
  for (const [name, value] of [
    ['permitTtlMs', permitTtlMs],
    ['approvalTtlMs', approvalTtlMs],
    ['handlerTimeoutMs', handlerTimeoutMs],
    ['leaseMs', leaseMs],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new KernelError('KERNEL_CONFIG_INVALID', `${name} must be a positive integer`);
  }
  const entries: Entry[] = [];
  for (const map of options.maps) {
    if (entries.some((e) => e.map.digest === map.digest)) {
      throw new KernelError('KERNEL_CONFIG_INVALID', `map ${map.name} is loaded twice`);
    }
    const loader = options.loaders[map.name];
    if (typeof loader !== 'function') {
      throw new KernelError('KERNEL_SELF_TEST_FAILED', `map ${map.name} has no loader`);
    }
    let arp: Arp;
    try {
      arp = createArp({
        map,
        refKey: options.refKey,
        handlers: options.handlers,
        ...(options.refRegistry ? { refRegistry: options.refRegistry } : {}),
      });
    } catch (error) {
      throw new KernelError('KERNEL_SELF_TEST_FAILED', `the routes of map ${map.name} do not check`, {
        cause: error,
      });
    }
    entries.push({ map, arp, loader });
  }
  const byIntent = new Map<string, Entry>();
  const byDigest = new Map<string, Entry>();
  for (const entry of entries) {
    if (byDigest.has(entry.map.digest))
      throw new KernelError('KERNEL_CONFIG_INVALID', `map ${entry.map.name} is loaded twice`);
    byDigest.set(entry.map.digest, entry);
    for (const intent of entry.map.intentNames) {
      if (byIntent.has(intent))
        throw new KernelError('KERNEL_CONFIG_INVALID', `intent ${intent} is declared by two maps`);
      byIntent.set(intent, entry);
    }
  }
  const defaultEntry = entries[0];
  const ownStore = options.store === undefined;
  const store = options.store ?? createMemoryStore();
  const cache = createDecisionCache(options.cache);
  const tracer = trace.getTracer('@edca/kernel', VERSION);
  const listeners: { [K in keyof KernelEvents]: Set<(payload: KernelEvents[K]) => void> } = {
    decision: new Set(),
    outcome: new Set(),
    approval: new Set(),
  };
  const breakers = new Map<string, Breaker>();
  const held = new Map<string, Held>();
  /**
   * The permits decide added to `held`, oldest first, so that forgetting the expired ones costs only
   * those (a scan of all of `held` every 1024 permits is O(permits alive), 3M at 10k/s and a 5 min
   * TTL). Expiries follow the clock, so the queue is in expiry order up to clock steps back; an
   * expired entry left behind such a step is forgotten a little later, which execute cannot tell
   * (it refuses an expired permit before it reads `held`).
   */
  const heldQueue: { readonly hash: string; readonly until: number }[] = [];
  let heldHead = 0;
  const forgetExpiredPermits = (nowMs: number): void => {
    // Forget permits that expired unused: their holds have lapsed in the store already.
    while (heldHead < heldQueue.length && heldQueue[heldHead]!.until <= nowMs) {
      held.delete(heldQueue[heldHead]!.hash);
      heldHead += 1;
    }
    if (heldHead > 1024 && heldHead * 2 > heldQueue.length) {
      heldQueue.splice(0, heldHead);
      heldHead = 0;
    }
  };
  const pendingRequests = new Map<string, { proposal: Proposal; context: DecideContext }>();
  let closed = false;
  // The handler of each intent as its route resolved it (for recovery of a map no longer loaded).
  const handlerByIntent = new Map<string, string>();

  /**
   * What the journal means (permits, approvals, usage, attempts): the `@edca/ledger` fold of every
   * record, built by startup recovery and moved by every record this kernel appends.
   */
  const ledger: LedgerState = emptyLedger();
  const ledgerJournal = createLedgerJournal({ journal, ledger, clock, snapshotEvery });
  const leases = createLeases({
    store,
    journal,
    clock,
    instance,
    leaseMs,
    resolve: (attempt, permit) => resolveDangling(attempt, permit),
  });
  /**
   * Hold ids are `<instance>.<ms>.<n>.<key>`: unique per permit for one instance (n counts permits within
   * a millisecond; ms never goes back, and after a restart starts past the journal's last record,
   * whose time is at or after every earlier hold's), and reproducible under a scripted clock.
   */
  let holdMs = Number.NEGATIVE_INFINITY;
  let holdN = 0;
  const nextHoldId = (nowMs: number, decisionKey: string): string => {
    if (nowMs > holdMs) {
      holdMs = nowMs;
      holdN = 0;
    } else holdN += 1;
    // The decision key part keeps instances that share a name (the default) apart in one store; a
    // remaining collision (same decision, same ms, same n on two instances) is retried with the next n.
    return `${instance}.${holdMs}.${holdN}.${decisionKey.slice(7, 23)}`;
  };
  const append = (drafts: RecordDraft[]): Promise<AppendedRecord[]> => ledgerJournal.append(drafts);

  const emit = <K extends keyof KernelEvents>(event: K, payload: KernelEvents[K]): void => {
    for (const listener of listeners[event]) {
      try {
        listener(payload);
      } catch {
        // A host listener's bug must not turn a journaled decision into a crash.
      }
    }
  };
  const breakerFor = (handler: string): Breaker => {
    let b = breakers.get(handler);
    if (!b) {
      b = createBreaker(breakerOptions);
      breakers.set(handler, b);
    }
    return b;
  };

  // ---- self-test -------------------------------------------------------------------------------
  await selfTest();

  async function selfTest(): Promise<void> {
    const fail = (message: string, cause?: unknown): never => {
      throw new KernelError('KERNEL_SELF_TEST_FAILED', message, cause === undefined ? undefined : { cause });
    };
    for (const { map } of entries) {
      if (!map.owner || !map.digest || map.intentNames.length === 0)
        fail(`map ${map.name} has no owner, digest or intents`);
      let verdict: string;
      try {
        verdict = map.evaluate({
          policyDigest: map.digest,
          state: { facets: {}, machines: {} },
          proposal: { intent: SELF_TEST_INTENT, params: {} },
          principal: { id: 'edca-self-test', attributes: {} },
          approvals: [],
          counters: {},
        }).verdict;
      } catch (error) {
        verdict = 'error';
        fail(`map ${map.name} threw on a known-forbidden proposal`, error);
      }
      if (verdict !== 'refuse') fail(`map ${map.name} did not refuse a known-forbidden proposal`);
      // A state whose public words spell a private term would be withheld in every view that
      // shows it: a map that cannot show some of its own states is refused here, not found out
      // one withheld view at a time.
      const squashed = findSquashedTerms(map);
      if (squashed.length > 0) {
        fail(`map ${map.name}: ${squashed.map((q) => q.message).join('; ')}`);
      }
    }
    try {
      const sig = await signer.sign(PROBE);
      if (!verifyEd25519(signer.publicKey, PROBE, sig))
        fail('the signer produced a signature that does not verify');
    } catch (error) {
      if (error instanceof KernelError) throw error;
      fail('the signer does not sign', error);
    }
    try {
      await journal.head();
    } catch (error) {
      fail('the journal does not answer', error);
    }
  }

  // ---- recovery --------------------------------------------------------------------------------
  const recovery = await recover();

  async function recover(): Promise<RecoveryReport> {
    let folded: { records: number; fromSnapshot: number; violations: readonly Violation[] };
    try {
      // A snapshot is looked for where one must be if this configuration wrote it.
      folded = await foldJournal(journal, ledger, 4 * (snapshotEvery || DEFAULT_SNAPSHOT_EVERY));
    } catch (error) {
      throw new KernelError('KERNEL_SELF_TEST_FAILED', 'the journal cannot be read back', { cause: error });
    }
    const { records, fromSnapshot, violations } = folded;
    ledgerJournal.startAt(ledger.seq);
    // Several instances share the store: this one watches the stream for attempts of instances whose
    // lease lapsed, from a copy of the fold taken before this kernel appends anything.
    const stream = ownStore || !leases.enabled ? undefined : structuredClone(ledger);
    await leases.renew();
    const now = clock.now();
    if (Number.isFinite(ledger.atMs)) holdMs = ledger.atMs + 1;
    holdN = -1;
    if (ownStore) await seedStore(now);
    prune(ledger, now);
    await activatePolicies();
    // Attempts without an outcome: the process died between attempt and outcome.
    const resolved: { permit: Digest; status: 'completed' | 'failed' | 'unknown' }[] = [];
    // This instance's attempts, signed with its key, and those of instances whose lease lapsed.
    const open = attemptsWithoutOutcome(ledger);
    const dangling = [
      ...open.filter((a) => (a.instance === undefined || a.instance === instance) && a.kid === signer.kid),
      ...(await leases.lapsed(open)),
    ];
    for (const attempt of dangling) {
      if (!(await leases.claim(attempt))) continue;
      const permit = ledger.permits.get(attempt.permit);
      const status = await resolveDangling(attempt, permit);
      resolved.push({ permit: attempt.permit as Digest, status });
    }
    if (stream !== undefined) leases.watch(stream);
    return { records, fromSnapshot, violations, dangling: dangling.length, resolved };
  }

  async function activatePolicies(): Promise<void> {
    for (const entry of entries) {
      if (ledger.policies.has(entry.map.digest)) continue;
      const { map } = entry;
      try {
        const [appended] = await append([
          {
            type: 'policy.activated',
            at: toRfc3339(clock.now()),
            body: { policyDigest: map.digest, name: map.name, version: map.version, owner: map.owner },
          },
        ]);
        if (!appended || appended.record.kid !== signer.kid) {
          throw new KernelError(
            'KERNEL_SELF_TEST_FAILED',
            'the journal signs with another key than the kernel signer',
          );
        }
      } catch (error) {
        if (error instanceof KernelError && error.code === 'KERNEL_SELF_TEST_FAILED') throw error;
        throw new KernelError('KERNEL_SELF_TEST_FAILED', 'the journal does not take a record', {
          cause: error,
        });
      }
    }
  }

  /** Asks the handler's idempotency check (if any) what became of an attempt, and journals it. */
  async function resolveDangling(
    attempt: { readonly hash: string; readonly permit: string; readonly idempotencyKey: string },
    permit: PermitEntry | undefined,
  ): Promise<'completed' | 'failed' | 'unknown'> {
    const body = permit?.body as PermitBody | undefined;
    const entry = body ? byDigest.get(body.policyDigest) : undefined;
    let status: 'completed' | 'failed' | 'unknown' = 'unknown';
    const handlerName = body ? handlerNameFor(body) : undefined;
    const check = handlerName ? options.idempotencyChecks?.[handlerName] : undefined;
    if (check) {
      try {
        status = (await check(attempt.idempotencyKey)) === 'completed' ? 'completed' : 'failed';
      } catch {
        status = 'unknown';
      }
    }
    const transition = status === 'completed' && body && entry ? transitionFor(entry, body.input) : undefined;
    const drafts: RecordDraft[] = [
      {
        type: 'outcome',
        at: toRfc3339(clock.now()),
        body: {
          attempt: attempt.hash,
          permit: attempt.permit,
          status,
          ...(status === 'completed'
            ? {}
            : { error: { code: status === 'failed' ? 'HANDLER_FAILED' : 'OUTCOME_UNKNOWN' } }),
          ...(transition ? { transition } : {}),
        },
      },
    ];
    if (status === 'unknown' && body) drafts.push(unknownEscalation(body, attempt.permit));
    const appended = await append(drafts);
    if (status === 'unknown' && body && appended[1])
      await createPendingFor(appended[1], body.input.proposal.intent);
    await settleHeld(attempt.permit, status, body);
    return status;
  }

  /**
   * The embedded store starts empty: fill it from the ledger (approvals, consumed permits, the
   * holds of live permits and the usage of windows not yet ended), so it answers as it did before
   * the restart.
   */
  async function seedStore(now: number): Promise<void> {
    for (const a of ledger.approvals.values()) {
      if (a.required === undefined) continue;
      const id = a.id;
      await store.createApproval({
        id,
        actionHash: a.actionHash,
        required: a.required,
        createdAt: toRfc3339(a.atMs),
        expiresAt: toRfc3339(a.expiresAtMs),
      });
      for (const ap of a.approvers)
        await store.addApprover(id, {
          kid: ap.kid,
          role: ap.role,
          record: ap.record,
          at: toRfc3339(ap.atMs),
        });
      if (a.rejected) await store.resolveApproval(id, 'rejected', toRfc3339(a.atMs));
      else if (a.approvers.length >= a.required.count)
        await store.resolveApproval(id, 'approved', toRfc3339(a.atMs));
      if (a.usedBy !== undefined) await store.consumePermit(`approval:${id}`, toRfc3339(a.atMs));
    }
    for (const p of ledger.permits.values()) {
      const attempted = p.status !== 'outstanding';
      if (attempted) await store.consumePermit(p.hash, toRfc3339(p.atMs));
      if ((!attempted && p.expiresAtMs <= now) || p.charged === 'released') continue;
      const body = p.body as unknown as PermitBody;
      const reservations = reservationsOfPermit(body, p.atMs).filter(
        (r) => r.windowEnd === undefined || r.windowEnd > now,
      );
      if (reservations.length === 0) continue;
      const holdUntil = attempted ? Number.MAX_SAFE_INTEGER : p.expiresAtMs;
      const ok = await store.reserve(
        reservations.map((r) => ({ ...r, max: Number.MAX_VALUE, holdUntil })),
        now,
      );
      if (ok.ok && p.charged === 'settled') for (const r of reservations) await store.settle(r.id);
      held.set(p.hash, { ids: reservations.map((r) => r.id), until: holdUntil });
    }
    await seedSettledRemainder(store, ledger, now);
  }

  async function ensureApproval(id: string, body: Record<string, unknown>, at: string): Promise<void> {
    const pending = body['pendingApproval'];
    if (!isObject(pending)) return;
    await store.createApproval({
      id,
      actionHash: String(body['actionHash']),
      required: { count: Number(pending['count']), role: String(pending['role']) },
      createdAt: at,
      expiresAt: String(pending['expiresAt']),
    });
  }

  function handlerNameFor(body: PermitBody): string | undefined {
    // The permit does not store the route: the map's route table names the handler of an intent.
    const entry = byDigest.get(body.policyDigest);
    return (
      entry?.map.document?.routes?.[body.input.proposal.intent]?.handler ??
      handlerByIntent.get(body.input.proposal.intent)
    );
  }

  // ---- limits ----------------------------------------------------------------------------------
  function reservationsFor(
    intent: IntentSpec,
    input: DecisionInput,
    counterNames: readonly string[],
    holdUntil: number,
    holdId: string,
    nowMs: number,
  ): Reservation[] {
    return intent.limits.map((limit, i) => {
      const r: Reservation = {
        id: `${holdId}|${limit.key}`,
        counter: counterNames[i]!,
        amount: amountOf(limit, input),
        max: limit.max,
        holdUntil,
      };
      return limit.windowMs > 0 ? { ...r, windowEnd: windowEndOf(limit, nowMs) } : r;
    });
  }

  function windowEndOf(limit: LimitSpec, nowMs: number): number {
    return Math.floor(nowMs / limit.windowMs) * limit.windowMs + limit.windowMs;
  }

  /**
   * The reservations a journaled permit holds. A format 2 permit names them (`hold`); for an older
   * one they are rebuilt the old way (per-principal counters; an entity's id was not recorded, so
   * per-entity limits fall back to the shared `none` counter).
   */
  function reservationsOfPermit(body: PermitBody, atMs: number): Reservation[] {
    const expiresAtMs = Date.parse(body.expiresAt);
    if (body.hold !== undefined) {
      const holdId = body.hold.id;
      return body.hold.counters.map((c) => ({
        id: `${holdId}|${c.key}`,
        counter: c.counter,
        amount: c.amount,
        max: c.max,
        holdUntil: expiresAtMs,
        ...(c.windowEnd === null ? {} : { windowEnd: c.windowEnd }),
      }));
    }
    const intent = byDigest.get(body.policyDigest)?.map.intent(body.input.proposal.intent);
    if (!intent) return [];
    const tag = `${body.decisionKey}|${body.expiresAt}`;
    return intent.limits.map((limit) => ({
      id: `${tag}|${limit.key}`,
      counter: counterName(limit, body.input.principal, {}, atMs),
      amount: amountOf(limit, body.input),
      max: limit.max,
      holdUntil: expiresAtMs,
    }));
  }

  /** The `hold` of a permit body (format 2): its identity and the counters it holds. */
  function holdOf(reservations: readonly Reservation[], intent: IntentSpec, holdId: string): JsonValue {
    return {
      id: holdId,
      counters: reservations.map((r, i) => ({
        key: intent.limits[i]!.key,
        counter: r.counter,
        amount: r.amount,
        max: r.max,
        windowEnd: r.windowEnd ?? null,
      })),
    };
  }

  function amountOf(limit: LimitSpec, input: DecisionInput): number {
    if (limit.kind === 'rate') return 1;
    const value = limit.amountParam === undefined ? undefined : input.proposal.params[limit.amountParam];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0
      ? value
      : Number.POSITIVE_INFINITY;
  }

  async function settleHeld(
    permitHash: string,
    status: 'completed' | 'failed' | 'unknown',
    permit?: PermitBody,
  ): Promise<void> {
    const h = held.get(permitHash);
    held.delete(permitHash);
    const ids = h?.ids ?? (permit ? reservationsOfPermit(permit, 0).map((r) => r.id) : []);
    for (const id of ids) {
      // Unknown outcomes keep their usage: assuming the action did not happen could pass a limit.
      if (status === 'failed') await store.release(id);
      else await store.settle(id);
    }
  }

  // ---- decide ----------------------------------------------------------------------------------

  function refusal(rule: string, reasons: readonly string[], extra: Partial<Decision> = {}): Decision {
    return {
      verdict: 'refuse',
      rule,
      reasons,
      decisionKey: null,
      stateHash: null,
      policyDigest: null,
      actionHash: null,
      accountable: null,
      record: null,
      cached: false,
      ...extra,
    };
  }

  function transitionFor(
    entry: Entry,
    input: DecisionInput,
  ): { machine: string; from: string; to: string } | undefined {
    const machine = entry.map.intent(input.proposal.intent)?.machine;
    if (machine === undefined) return undefined;
    const from = input.state.machines[machine];
    if (from === undefined) return undefined;
    const to = entry.map.next(machine, from, input.proposal.intent);
    return to === undefined ? undefined : { machine, from, to };
  }

  async function diagnoseAppendFailure(): Promise<'SIGNER_UNAVAILABLE' | 'JOURNAL_UNAVAILABLE'> {
    try {
      const sig = await signer.sign(PROBE);
      return verifyEd25519(signer.publicKey, PROBE, sig) ? 'JOURNAL_UNAVAILABLE' : 'SIGNER_UNAVAILABLE';
    } catch {
      return 'SIGNER_UNAVAILABLE';
    }
  }

  interface Derived {
    readonly state: DecisionInput['state'];
    readonly stateHash: Digest;
    readonly call: PrivateCall;
    readonly run: ArpHandler;
    /** Real id of each entity kind in this request (scopes per-entity limits). */
    readonly scopeIds: Record<string, string>;
  }

  async function deriveFor(
    entry: Entry,
    proposal: { intent: string; params: Record<string, JsonValue> },
    session: ArpSession,
    principal: DecideContext['principal'],
  ): Promise<{ ok: true; value: Derived } | { ok: false; rule: string; reasons: string[] }> {
    let resolved: ReturnType<Arp['resolve']>;
    try {
      resolved = entry.arp.resolve(proposal, session);
    } catch {
      // A malformed session is the host's misuse; the proposal is refused all the same (fail closed).
      return { ok: false, rule: 'kernel.route', reasons: ['SCHEMA_VIOLATION'] };
    }
    if (!resolved.ok) return { ok: false, rule: 'kernel.route', reasons: [resolved.code] };
    handlerByIntent.set(proposal.intent, resolved.call.handler);
    let records: Record<string, unknown>;
    try {
      records = await entry.loader({
        map: entry.map.name,
        intent: proposal.intent,
        refs: resolved.call.realRefs,
        principal,
      });
    } catch {
      return { ok: false, rule: 'kernel.derive', reasons: ['DERIVATION_FAILED'] };
    }
    let derived: ReturnType<MapSpec['derive']>;
    try {
      // `now` matters only to maps with time-windowed counts; the injected clock keeps it replayable.
      derived = entry.map.derive(records, { now: toRfc3339(clock.now()) });
    } catch {
      return { ok: false, rule: 'kernel.derive', reasons: ['DERIVATION_FAILED'] };
    }
    if (!derived.ok)
      return { ok: false, rule: 'kernel.derive', reasons: ['DERIVATION_FAILED', derived.code] };
    return {
      ok: true,
      value: {
        state: derived.state,
        stateHash: derived.stateHash,
        call: resolved.call,
        run: resolved.run,
        scopeIds: scopeIdsOf(entry.map.document.entities, records, resolved.call.realRefs),
      },
    };
  }

  async function journalDecision(
    entry: Entry,
    input: DecisionInput,
    result: DecisionResult,
    meta: {
      decisionKey: Digest;
      stateHash: Digest;
      actionHash: Digest;
      context: DecideContext;
      nowMs: number;
      cached: boolean;
      /** Format 2 permit fields (`hold`, `approval`). */
      extra?: Record<string, JsonValue>;
    },
  ): Promise<{ decision: Decision; appended: AppendedRecord | null }> {
    const expiresAt = result.verdict === 'permit' ? toRfc3339(meta.nowMs + permitTtlMs) : undefined;
    const pendingApproval =
      result.verdict === 'escalate'
        ? {
            count: result.approvalsRequired?.count ?? 1,
            role: result.approvalsRequired?.role ?? 'approver',
            expiresAt: toRfc3339(meta.nowMs + approvalTtlMs),
          }
        : undefined;
    const body: Record<string, JsonValue> = {
      verdict: result.verdict,
      decisionKey: meta.decisionKey,
      policyDigest: entry.map.digest,
      stateHash: meta.stateHash,
      actionHash: meta.actionHash,
      input: input as unknown as JsonValue,
      rule: result.rule,
      reasons: [...result.reasons],
      accountable: result.accountable,
      principal: meta.context.principal.id,
      proposer: {
        modelId: meta.context.proposer.modelId,
        promptTemplateDigest: meta.context.proposer.promptTemplateDigest,
      },
    };
    // Assigned, not spread in: a conditional spread copies through the slow generic path.
    if (expiresAt) body['expiresAt'] = expiresAt;
    if (pendingApproval) body['pendingApproval'] = pendingApproval;
    if (meta.extra) for (const k in meta.extra) body[k] = meta.extra[k]!;
    const base = {
      verdict: result.verdict,
      rule: result.rule,
      reasons: result.reasons,
      decisionKey: meta.decisionKey,
      stateHash: meta.stateHash,
      policyDigest: entry.map.digest,
      actionHash: meta.actionHash,
      accountable: result.accountable,
      cached: meta.cached,
    };
    let appended: AppendedRecord;
    try {
      const out = await append([{ type: 'decision', at: toRfc3339(meta.nowMs), body }]);
      if (!out[0]) throw new KernelError('JOURNAL_UNAVAILABLE', 'the journal returned no record');
      appended = out[0];
    } catch {
      const code = await diagnoseAppendFailure();
      return {
        decision: { ...base, verdict: 'refuse', rule: 'kernel.journal', reasons: [code], record: null },
        appended: null,
      };
    }
    const record = { hash: appended.hash, seq: appended.record.seq };
    // A switch rather than ts-pattern on this per-decision path (its builder allocates a closure per
    // arm on every call); `never` keeps it exhaustive all the same.
    let decision: Decision;
    switch (result.verdict) {
      case 'permit':
        decision = { ...base, record, permit: { record: appended.record, hash: appended.hash } };
        break;
      case 'escalate':
        decision = {
          ...base,
          record,
          approval: {
            id: appended.hash,
            required: { count: pendingApproval!.count, role: pendingApproval!.role },
            expiresAt: pendingApproval!.expiresAt,
          },
        };
        break;
      case 'refuse':
        decision = { ...base, record };
        break;
      default:
        return result.verdict satisfies never;
    }
    return { decision, appended };
  }

  async function createPendingFor(appended: AppendedRecord, _intent: string): Promise<void> {
    const body = appended.record.body;
    if (isObject(body)) await ensureApproval(appended.hash, body, appended.record.at);
  }

  async function journalKernelRefusal(
    entry: Entry,
    proposal: { intent: string; params: Record<string, JsonValue> },
    context: DecideContext,
    rule: string,
    reasons: readonly string[],
    state: DecisionInput['state'] | undefined,
    stateHash: Digest | null,
    nowMs: number,
  ): Promise<Decision> {
    // A kernel pre-check refused before `evaluate` could run; it is journaled all the same so the
    // audit sees every decision (its rule starts with `kernel.` and is not replayed by evaluate).
    let input: DecisionInput;
    let actionHash: Digest;
    let decisionKey: Digest;
    try {
      input = {
        policyDigest: entry.map.digest,
        state: state ?? { facets: {}, machines: {} },
        proposal,
        principal: context.principal,
        approvals: [],
        counters: {},
      };
      actionHash = actionHashFor(proposal);
      decisionKey = decisionKeyOf(input);
    } catch {
      return refusal(rule, reasons, { policyDigest: entry.map.digest });
    }
    const { decision } = await journalDecision(
      entry,
      input,
      { verdict: 'refuse', rule, reasons, accountable: entry.map.owner },
      {
        decisionKey,
        stateHash: stateHash ?? entry.map.stateHash(input.state),
        actionHash,
        context,
        nowMs,
        cached: false,
      },
    );
    return decision;
  }

  async function decideOnce(proposal: Proposal, context: DecideContext, span: Span): Promise<Decision> {
    if (closed) return refusal('kernel.closed', ['KERNEL_CLOSED']);
    if (!defaultEntry) return refusal('kernel.no-map', ['NO_MAP_LOADED']);
    if (!isObject(proposal) || typeof proposal.intent !== 'string' || !isObject(proposal.params)) {
      return refusal('kernel.intake', ['SCHEMA_VIOLATION']);
    }
    const nowMs = clock.now();
    const normalized = { intent: proposal.intent, params: proposal.params };
    const entry = byIntent.get(proposal.intent);
    if (!entry) {
      return journalKernelRefusal(
        defaultEntry,
        normalized,
        context,
        'kernel.intake',
        ['UNKNOWN_INTENT'],
        undefined,
        null,
        nowMs,
      );
    }
    const derived = await deriveFor(entry, normalized, context.session, context.principal);
    if (!derived.ok)
      return journalKernelRefusal(
        entry,
        normalized,
        context,
        derived.rule,
        derived.reasons,
        undefined,
        null,
        nowMs,
      );
    const { state, stateHash } = derived.value;
    const intent = entry.map.intent(proposal.intent);
    const limits = intent?.limits ?? [];

    // Every approval refusal is journaled the same way; only its code differs.
    const refuseApproval = (
      code: 'APPROVAL_NOT_FOUND' | 'APPROVAL_REJECTED' | 'APPROVAL_EXPIRED' | 'APPROVAL_INVALID',
    ): Promise<Decision> =>
      journalKernelRefusal(entry, normalized, context, 'kernel.approval', [code], state, stateHash, nowMs);
    let approvals: { kid: string; role: string }[] = [];
    if (context.approvalId !== undefined) {
      const pending = await store.getApproval(context.approvalId);
      if (!pending) return refuseApproval('APPROVAL_NOT_FOUND');
      if (pending.status === 'rejected') return refuseApproval('APPROVAL_REJECTED');
      if (pending.status === 'expired' || Date.parse(pending.expiresAt) <= nowMs) {
        return refuseApproval('APPROVAL_EXPIRED');
      }
      if (!digestEquals(pending.actionHash, actionHashFor(normalized))) {
        return refuseApproval('APPROVAL_INVALID');
      }
      // An approval authorizes one permit: the ledger knows every permit that used one.
      if (ledger.approvals.get(context.approvalId)?.usedBy !== undefined) {
        return refuseApproval('APPROVAL_INVALID');
      }
      const distinct = new Map(pending.approvers.map((a) => [a.kid, { kid: a.kid, role: a.role }]));
      approvals = [...distinct.values()].sort((a, b) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
    }

    // Limits: usage is part of the input; a permit holds a reservation that is checked atomically
    // against max. If another decision took the headroom between read and reserve, decide again on
    // the fresh usage (which then refuses with LIMIT_EXCEEDED), so no counter ever passes its max.
    // Counter names depend only on the request, not on the round: name them once.
    const counterNames: string[] = [];
    const scopes = new Map<string, string>();
    for (const limit of limits)
      counterNames.push(counterName(limit, context.principal, derived.value.scopeIds, nowMs, scopes));
    let collisions = 0;
    for (let round = 0; round < 16; round += 1) {
      const counters: Record<string, number> = {};
      try {
        for (let i = 0; i < limits.length; i++)
          counters[limits[i]!.key] = await store.usage(counterNames[i]!, nowMs);
      } catch {
        return refusal('kernel.store', ['STORE_UNAVAILABLE'], { policyDigest: entry.map.digest, stateHash });
      }
      let input: DecisionInput;
      let decisionKey: Digest;
      let actionHash: Digest;
      try {
        // Members in sorted order (RFC 8785 §3.2.3), so toFrozenJson writes the text as it copies.
        const draft: DecisionInput = {
          approvals,
          counters,
          ...(entry.map.usesTime ? { now: toRfc3339(nowMs) } : {}),
          policyDigest: entry.map.digest,
          principal: { attributes: context.principal.attributes, id: context.principal.id },
          proposal: normalized,
          state,
        };
        // A kernel-owned, deeply frozen copy whose canonical text is remembered as it is made: the
        // decision key, the action hash (its params) and the decision record reuse that text instead
        // of serializing the input three times. Input that is not plain I-JSON data stays as given,
        // and is checked (and refused) exactly as before.
        input = toFrozenJson(draft) ?? draft;
        decisionKey = decisionKeyOf(input);
        actionHash = actionHashFor(input.proposal);
      } catch {
        return refusal('kernel.intake', ['SCHEMA_VIOLATION'], { policyDigest: entry.map.digest, stateHash });
      }
      const hit = cache.get(decisionKey);
      const wasCached = hit !== undefined;
      const result = hit ?? evaluateDecision(entry.map, input, { cache, key: decisionKey });
      if (span.isRecording()) span.setAttribute('edca.cached', wasCached);
      // The hold id, signed in the permit, names its reservations: unique per permit however many
      // identical decisions share a millisecond, and known to every instance and to recovery.
      const atMs = nowMs;
      const holdId = result.verdict === 'permit' && limits.length > 0 ? nextHoldId(nowMs, decisionKey) : '';
      const reservations =
        holdId !== '' && intent
          ? reservationsFor(intent, input, counterNames, atMs + permitTtlMs, holdId, nowMs)
          : [];
      if (reservations.length > 0) {
        let reserved;
        try {
          reserved = await store.reserve(reservations, nowMs);
        } catch (error) {
          if (error instanceof KernelError && error.code === 'STORE_MISUSE' && collisions < 3) {
            collisions += 1;
            continue;
          }
          return refusal('kernel.store', ['STORE_UNAVAILABLE'], {
            policyDigest: entry.map.digest,
            stateHash,
            decisionKey,
            actionHash,
          });
        }
        if (!reserved.ok) continue;
      }
      if (result.verdict === 'permit' && context.approvalId !== undefined && approvals.length > 0) {
        // An approval authorizes ONE permit: mark it used (atomically, across instances).
        let first: boolean;
        try {
          first = await store.consumePermit(`approval:${context.approvalId}`, toRfc3339(atMs));
        } catch {
          first = false;
        }
        if (!first) {
          for (const r of reservations) await store.release(r.id).catch(() => undefined);
          return refuseApproval('APPROVAL_INVALID');
        }
      }
      const extra: Record<string, JsonValue> = {};
      if (reservations.length > 0 && intent) extra['hold'] = holdOf(reservations, intent, holdId);
      if (result.verdict === 'permit' && context.approvalId !== undefined && approvals.length > 0)
        extra['approval'] = context.approvalId;
      const { decision, appended } = await journalDecision(entry, input, result, {
        decisionKey,
        stateHash,
        actionHash,
        context,
        nowMs: atMs,
        cached: wasCached,
        extra,
      });
      if (!appended) {
        for (const r of reservations) await store.release(r.id).catch(() => undefined);
        return decision;
      }
      if (result.verdict === 'permit') {
        held.set(appended.hash, {
          ids: reservations.map((r) => r.id),
          until: atMs + permitTtlMs,
          session: context.session,
        });
        heldQueue.push({ hash: appended.hash, until: atMs + permitTtlMs });
        forgetExpiredPermits(nowMs);
      }
      if (result.verdict === 'escalate') {
        try {
          await createPendingFor(appended, proposal.intent);
        } catch {
          return refusal('kernel.store', ['STORE_UNAVAILABLE'], {
            policyDigest: entry.map.digest,
            stateHash,
            decisionKey,
            actionHash,
          });
        }
        pendingRequests.set(appended.hash, { proposal, context });
      }
      return decision;
    }
    return journalKernelRefusal(
      entry,
      normalized,
      context,
      'kernel.limits',
      ['LIMIT_EXCEEDED'],
      state,
      stateHash,
      nowMs,
    );
  }

  async function decide(proposal: Proposal, context: DecideContext): Promise<Decision> {
    return tracer.startActiveSpan('edca.decide', async (span) => {
      try {
        // A span that does not record (the API's no-op, or one sampled out) drops attributes anyway
        // (OpenTelemetry API: isRecording); skip building them. The span itself is still started.
        const recording = span.isRecording();
        if (recording) span.setAttribute('edca.intent', String(proposal?.intent));
        const decision = await decideOnce(proposal, context, span);
        if (recording) {
          span.setAttribute('edca.verdict', decision.verdict);
          span.setAttribute('edca.rule', decision.rule);
          span.setAttribute('edca.reasons', [...decision.reasons]);
          if (decision.decisionKey) span.setAttribute('edca.decision_key', decision.decisionKey);
        }
        if (listeners.decision.size > 0) emit('decision', { ...decision, intent: String(proposal?.intent) });
        return decision;
      } finally {
        span.end();
      }
    });
  }

  // ---- execute ---------------------------------------------------------------------------------
  function refusedExec(code: string, message: string): ExecuteResult {
    return { status: 'refused', code, message };
  }

  function readPermit(
    permit: Permit,
  ): { ok: true; body: PermitBody } | { ok: false; code: string; message: string } {
    const record = permit?.record;
    if (!isObject(record) || record.type !== 'decision' || record.kid !== signer.kid) {
      return { ok: false, code: 'PERMIT_INVALID', message: 'not a decision record signed by this kernel' };
    }
    const verified = safeVerifyRecord(record, signer.publicKey);
    if (!verified.ok)
      return { ok: false, code: 'PERMIT_INVALID', message: 'the permit signature does not verify' };
    let hash: Digest;
    try {
      hash = recordHash(record);
    } catch {
      return { ok: false, code: 'PERMIT_INVALID', message: 'the permit is not canonical' };
    }
    if (typeof permit.hash !== 'string' || !digestEquals(hash, permit.hash)) {
      return { ok: false, code: 'PERMIT_INVALID', message: 'the permit hash does not match its record' };
    }
    const body = record.body;
    if (
      !isObject(body) ||
      body['verdict'] !== 'permit' ||
      typeof body['expiresAt'] !== 'string' ||
      !isObject(body['input'])
    ) {
      return { ok: false, code: 'PERMIT_INVALID', message: 'the record is not a permit' };
    }
    const typed = body as unknown as PermitBody;
    if (
      !isObject(typed.input.proposal) ||
      !digestEquals(actionHashFor(typed.input.proposal), typed.actionHash)
    ) {
      return { ok: false, code: 'PERMIT_INVALID', message: 'the permit is not bound to its action' };
    }
    return { ok: true, body: typed };
  }

  async function runHandler(
    run: ArpHandler,
    call: PrivateCall,
    idempotencyKey: string,
  ): Promise<{ status: 'completed'; result: unknown } | { status: 'failed' | 'unknown'; code: string }> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), handlerTimeoutMs);
    });
    try {
      const running = Promise.resolve().then(() => run(call, { idempotencyKey, signal: controller.signal }));
      running.catch(() => undefined); // a late rejection after a timeout must not become unhandled
      const raced = await Promise.race([running.then((result) => ({ result })), timeout]);
      if (raced === 'timeout') {
        controller.abort();
        return { status: 'unknown', code: 'HANDLER_TIMEOUT' };
      }
      return { status: 'completed', result: raced.result };
    } catch (error) {
      return {
        status: 'failed',
        code: isFinalHandlerError(error) ? 'HANDLER_FAILED_FINAL' : 'HANDLER_FAILED',
      };
    } finally {
      clearTimeout(timer);
    }
  }

  function unknownEscalation(body: PermitBody, permitHash: string): RecordDraft {
    const nowMs = clock.now();
    return {
      type: 'decision',
      at: toRfc3339(nowMs),
      body: {
        verdict: 'escalate',
        decisionKey: body.decisionKey,
        policyDigest: body.policyDigest,
        stateHash: body.stateHash,
        actionHash: body.actionHash,
        input: body.input as unknown as JsonValue,
        rule: 'kernel.outcome-unknown',
        reasons: ['OUTCOME_UNKNOWN'],
        accountable: byDigest.get(body.policyDigest)?.map.owner ?? 'unknown',
        principal: body.input.principal.id,
        proposer: { modelId: 'edca-kernel', promptTemplateDigest: permitHash },
        pendingApproval: { count: 1, role: 'approver', expiresAt: toRfc3339(nowMs + approvalTtlMs) },
      },
    };
  }

  async function executeOnce(
    permit: Permit,
    context: { readonly session: ArpSession } | undefined,
    span: Span,
  ): Promise<ExecuteResult> {
    if (closed) return refusedExec('KERNEL_CLOSED', 'the kernel is closed');
    const read = readPermit(permit);
    if (!read.ok) return refusedExec(read.code, read.message);
    const { body } = read;
    const nowMs = clock.now();
    span.setAttribute('edca.intent', body.input.proposal.intent);
    if (Date.parse(body.expiresAt) <= nowMs) return refusedExec('PERMIT_EXPIRED', 'the permit has expired');
    try {
      if (await store.isPermitConsumed(permit.hash))
        return refusedExec('PERMIT_CONSUMED', 'the permit was already used');
    } catch {
      return refusedExec('STORE_UNAVAILABLE', 'the kernel store does not answer');
    }
    const entry = byDigest.get(body.policyDigest);
    if (!entry) return refusedExec('PERMIT_INVALID', 'the permit names a policy that is not loaded');
    const session = context?.session ?? held.get(permit.hash)?.session;
    if (session === undefined) {
      return refusedExec('PERMIT_INVALID', 'no session to resolve the permit refs: pass { session }');
    }
    const derived = await deriveFor(entry, body.input.proposal, session, body.input.principal);
    if (!derived.ok)
      return refusedExec(derived.reasons[0] ?? 'DERIVATION_FAILED', 'the state cannot be derived again');
    if (!digestEquals(derived.value.stateHash, body.stateHash)) {
      return refusedExec('STALE_STATE', 'the state changed since the permit was issued');
    }
    const { call, run } = derived.value;
    const breaker = breakerFor(call.handler);
    if (!breaker.allow(nowMs))
      return refusedExec('CIRCUIT_OPEN', `handler ${call.handler} is failing; try later`);
    let consumed: boolean;
    try {
      consumed = await store.consumePermit(permit.hash, toRfc3339(nowMs));
    } catch {
      return refusedExec('STORE_UNAVAILABLE', 'the kernel store does not answer');
    }
    if (!consumed) return refusedExec('PERMIT_CONSUMED', 'the permit was already used');
    // From the attempt on, the permit's holds count until its outcome, even past its expiry.
    try {
      for (const r of held.get(permit.hash)?.ids ?? reservationsOfPermit(body, 0).map((x) => x.id))
        await store.pin(r);
    } catch {
      return refusedExec('STORE_UNAVAILABLE', 'the kernel store does not answer');
    }

    const idempotencyKey = permit.hash;
    const transition = transitionFor(entry, body.input);
    let attemptHash: Digest | null = null;
    let last: Awaited<ReturnType<typeof runHandler>> = { status: 'failed', code: 'HANDLER_FAILED' };
    for (let tryNo = 1; tryNo <= retries + 1; tryNo += 1) {
      try {
        const [attempt] = await append([
          {
            type: 'attempt',
            at: toRfc3339(clock.now()),
            body: { permit: permit.hash, actionHash: body.actionHash, idempotencyKey, try: tryNo, instance },
          },
        ]);
        attemptHash = attempt!.hash;
      } catch {
        // Without a durable attempt the handler must not run; the permit stays consumed (fail closed).
        if (attemptHash === null)
          return refusedExec(await diagnoseAppendFailure(), 'the attempt could not be journaled');
        break;
      }
      last = await runHandler(run, call, idempotencyKey);
      // Only a transient failure is tried again: a completed action or a final refusal is settled.
      if (last.status === 'completed' || last.code === 'HANDLER_FAILED_FINAL') break;
    }
    // A final refusal means the handler answered: it does not count towards opening the circuit.
    if (last.status === 'completed' || last.code === 'HANDLER_FAILED_FINAL') breaker.success();
    else breaker.failure(clock.now());
    const status = last.status;
    const outcomeBody = {
      attempt: attemptHash!,
      permit: permit.hash,
      status,
      ...(last.status === 'completed' ? {} : { error: { code: last.code } }),
      ...(status === 'completed' && transition ? { transition } : {}),
    };
    const drafts: RecordDraft[] = [{ type: 'outcome', at: toRfc3339(clock.now()), body: outcomeBody }];
    if (status === 'unknown') drafts.push(unknownEscalation(body, permit.hash));
    let outcomeHash: Digest | null = null;
    try {
      const appended = await append(drafts);
      outcomeHash = appended[0]!.hash;
      if (status === 'unknown' && appended[1])
        await createPendingFor(appended[1], body.input.proposal.intent).catch(() => undefined);
    } catch {
      // The outcome is not durable; startup recovery resolves this attempt (check or unknown).
    }
    await settleHeld(permit.hash, status, body).catch(() => undefined);
    span.setAttribute('edca.status', status);
    const result: ExecuteResult = {
      status,
      permit: permit.hash,
      attempt: attemptHash!,
      outcome: outcomeHash,
      ...(last.status === 'completed' && last.result !== undefined ? { result: last.result } : {}),
      ...(last.status !== 'completed' ? { error: { code: last.code } } : {}),
      ...(status === 'completed' && transition ? { transition } : {}),
    };
    emit('outcome', { ...result, intent: body.input.proposal.intent });
    return result;
  }

  async function execute(permit: Permit, context?: { readonly session: ArpSession }): Promise<ExecuteResult> {
    return tracer.startActiveSpan('edca.execute', async (span) => {
      try {
        const result = await executeOnce(permit, context, span);
        span.setAttribute('edca.status', result.status);
        if (result.status === 'refused') span.setAttribute('edca.code', result.code);
        if (result.status === 'failed' || result.status === 'unknown')
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.error?.code ?? result.status });
        return result;
      } finally {
        span.end();
      }
    });
  }

  // ---- approvals -------------------------------------------------------------------------------
  async function approve(signed: SignedApproval): Promise<ApproveResult> {
    if (closed) return { status: 'refused', code: 'KERNEL_CLOSED', message: 'the kernel is closed' };
    if (!options.trust)
      return { status: 'refused', code: 'APPROVAL_UNTRUSTED', message: 'the kernel has no trust file' };
    const id = signed?.statement?.decision;
    if (typeof id !== 'string')
      return { status: 'refused', code: 'APPROVAL_INVALID', message: 'malformed approval' };
    const pending = await store.getApproval(id);
    if (!pending)
      return { status: 'refused', code: 'APPROVAL_NOT_FOUND', message: 'no pending approval with this id' };
    const nowMs = clock.now();
    const at = toRfc3339(nowMs);
    if (
      pending.status === 'expired' ||
      (pending.status === 'pending' && Date.parse(pending.expiresAt) <= nowMs)
    ) {
      await expireOne(pending);
      return { status: 'refused', code: 'APPROVAL_EXPIRED', message: 'the approval window has passed' };
    }
    if (pending.status !== 'pending') {
      return {
        status: 'refused',
        code: pending.status === 'rejected' ? 'APPROVAL_REJECTED' : 'APPROVAL_INVALID',
        message: `approval already ${pending.status}`,
      };
    }
    const check = verifyApproval(signed, options.trust, {
      decision: id,
      actionHash: pending.actionHash as Digest,
      role: pending.required.role,
      at,
    });
    if (!check.ok) return { status: 'refused', code: check.code, message: check.message };
    const { statement } = signed;
    let appended: AppendedRecord;
    try {
      const out = await append([
        {
          type: 'approval',
          at,
          body: {
            decision: id,
            actionHash: pending.actionHash,
            verdict: statement.verdict,
            approver: { kid: statement.approver.kid, role: statement.approver.role },
            statement: statement as unknown as JsonValue,
            sig: signed.sig,
          },
        },
      ]);
      appended = out[0]!;
    } catch {
      return {
        status: 'refused',
        code: await diagnoseAppendFailure(),
        message: 'the approval could not be journaled',
      };
    }
    if (statement.verdict === 'reject') {
      const resolved = await store.resolveApproval(id, 'rejected', at);
      emit('approval', {
        id: id,
        kid: statement.approver.kid,
        verdict: 'reject',
        status: resolved.status,
      });
      await journalResolution(id, 'APPROVAL_REJECTED');
      return { status: 'refused', code: 'APPROVAL_REJECTED', message: 'an approver rejected the action' };
    }
    const added = await store.addApprover(id, {
      kid: statement.approver.kid,
      role: statement.approver.role,
      record: appended.hash,
      at,
    });
    const count = added.approval.approvers.length;
    emit('approval', {
      id: id,
      kid: statement.approver.kid,
      verdict: 'approve',
      status: added.approval.status,
    });
    if (count < pending.required.count) {
      return { status: 'pending', approvers: count, required: pending.required.count, record: appended.hash };
    }
    await store.resolveApproval(id, 'approved', at);
    const request = pendingRequests.get(id);
    if (!request) {
      return { status: 'pending', approvers: count, required: pending.required.count, record: appended.hash };
    }
    pendingRequests.delete(id);
    const decision = await decide(request.proposal, { ...request.context, approvalId: id });
    return { status: 'decided', decision, record: appended.hash };
  }

  async function journalResolution(
    id: string,
    code: 'APPROVAL_REJECTED' | 'APPROVAL_EXPIRED',
  ): Promise<void> {
    const request = pendingRequests.get(id);
    pendingRequests.delete(id);
    if (!request) return;
    const entry = byIntent.get(request.proposal.intent);
    if (!entry) return;
    await journalKernelRefusal(
      entry,
      { intent: request.proposal.intent, params: request.proposal.params },
      request.context,
      'kernel.approval',
      [code],
      undefined,
      null,
      clock.now(),
    );
  }

  async function expireOne(pending: PendingApproval): Promise<boolean> {
    const resolved = await store.resolveApproval(pending.id, 'expired', toRfc3339(clock.now()));
    if (resolved.status !== 'expired' || resolved.resolvedAt === null) return false;
    await journalResolution(pending.id, 'APPROVAL_EXPIRED');
    return true;
  }

  async function expireApprovals(): Promise<number> {
    const expired = await store.listExpiredApprovals(toRfc3339(clock.now()));
    let n = 0;
    for (const pending of expired) if (await expireOne(pending)) n += 1;
    return n;
  }

  // ---- plans -----------------------------------------------------------------------------------
  async function runPlan(steps: readonly PlanStep[], context: DecideContext): Promise<PlanResult> {
    const done: { step: number; decision: Decision; execution?: ExecuteResult }[] = [];
    const compensations: { step: number; decision: Decision; execution?: ExecuteResult }[] = [];
    if (steps.length === 0) return { status: 'refused', code: 'PLAN_INVALID', steps: [], compensations };
    // The whole plan is checked against the state machines before step 1: simulate every transition.
    const first = steps[0]!.proposal;
    const entry = byIntent.get(first.intent);
    if (!entry) {
      const decision = await decide(first, context);
      return {
        status: 'refused',
        code: decision.reasons[0] ?? 'UNKNOWN_INTENT',
        steps: [{ decision }],
        compensations,
      };
    }
    const derived = await deriveFor(
      entry,
      { intent: first.intent, params: first.params },
      context.session,
      context.principal,
    );
    if (!derived.ok) {
      const decision = await journalKernelRefusal(
        entry,
        first,
        context,
        derived.rule,
        derived.reasons,
        undefined,
        null,
        clock.now(),
      );
      return {
        status: 'refused',
        code: decision.reasons[0] ?? 'DERIVATION_FAILED',
        steps: [{ decision }],
        compensations,
      };
    }
    const machines: Record<string, string> = { ...derived.value.state.machines };
    for (const [i, step] of steps.entries()) {
      const stepEntry = byIntent.get(step.proposal.intent);
      const spec = stepEntry?.map.intent(step.proposal.intent);
      let ok = stepEntry !== undefined && spec !== undefined;
      if (ok && spec?.machine !== undefined) {
        const from = machines[spec.machine];
        const to =
          from === undefined ? undefined : stepEntry!.map.next(spec.machine, from, step.proposal.intent);
        if (to === undefined) ok = false;
        else machines[spec.machine] = to;
      }
      if (!ok) {
        const decision = await journalKernelRefusal(
          stepEntry ?? entry,
          { intent: step.proposal.intent, params: step.proposal.params },
          context,
          'kernel.plan',
          ['PLAN_INVALID', `STEP_${i + 1}`],
          { facets: derived.value.state.facets, machines },
          null,
          clock.now(),
        );
        return { status: 'refused', code: 'PLAN_INVALID', steps: [{ decision }], compensations };
      }
    }
    let failure: string | undefined;
    for (const [i, step] of steps.entries()) {
      const decision = await decide(step.proposal, context);
      if (decision.verdict !== 'permit' || !decision.permit) {
        done.push({ step: i, decision });
        failure = decision.verdict === 'escalate' ? 'PLAN_ABORTED' : (decision.reasons[0] ?? 'PLAN_ABORTED');
        break;
      }
      const execution = await execute(decision.permit, { session: context.session });
      done.push({ step: i, decision, execution });
      if (execution.status !== 'completed') {
        failure =
          execution.status === 'refused' ? execution.code : (execution.error?.code ?? execution.status);
        break;
      }
    }
    const stepsOut = done.map(({ decision, execution }) =>
      execution ? { decision, execution } : { decision },
    );
    if (failure === undefined) return { status: 'completed', steps: stepsOut, compensations };
    // Compensate the completed steps in reverse order.
    let allCompensated = true;
    for (const item of [...done].reverse()) {
      const exec = item.execution;
      if (!exec || exec.status !== 'completed') continue;
      const step = steps[item.step]!;
      const declared = byIntent.get(step.proposal.intent)?.map.intent(step.proposal.intent)?.compensation;
      // The undo gets only the params it declares: its strict schema refuses the step's others
      // (offer_payment_plan {account, months, …} is undone by withdraw_payment_plan {account}).
      const undoParams = declared ? byIntent.get(declared)?.map.intent(declared)?.params : undefined;
      const comp =
        step.compensation ??
        (declared
          ? {
              intent: declared,
              params: undoParams
                ? Object.fromEntries(
                    Object.entries(step.proposal.params).filter(([k]) => Object.hasOwn(undoParams, k)),
                  )
                : step.proposal.params,
            }
          : undefined);
      if (!comp) {
        allCompensated = false;
        continue;
      }
      const decision = await decide(comp, context);
      const execution = decision.permit
        ? await execute(decision.permit, { session: context.session })
        : undefined;
      compensations.push(
        execution ? { step: item.step, decision, execution } : { step: item.step, decision },
      );
      if (execution?.status === 'completed') {
        try {
          await append([
            {
              type: 'outcome',
              at: toRfc3339(clock.now()),
              body: { attempt: exec.attempt, permit: exec.permit, status: 'compensated' },
            },
          ]);
        } catch {
          // The compensation ran (its own outcome is journaled) but the mark on the original step is
          // not: report the plan as failed rather than compensated.
          allCompensated = false;
        }
      } else {
        allCompensated = false;
      }
    }
    return {
      status: allCompensated ? 'compensated' : 'failed',
      code: failure,
      steps: stepsOut,
      compensations,
    };
  }

  // Session records go through the ledger as well (it folds their life cycle).
  const ledgerAppends: Journal = {
    stream: journal.stream,
    append: (drafts) => ledgerJournal.append(drafts),
    head: () => journal.head(),
    read: (fromSeq) => journal.read(fromSeq),
    close: () => journal.close(),
  };

  return {
    decide,
    execute,
    approve,
    expireApprovals,
    runPlan,
    recordIntakeRefusal: (report) => appendIntakeRefusal(ledgerAppends, clock, report),
    endSession: (report) => appendSessionEnd(ledgerAppends, clock, report),
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    recovery,
    arps: new Map(entries.map((e) => [e.map.name, e.arp])),
    cache,
    store,
    async close() {
      closed = true;
      await leases.stop();
      await ledgerJournal.idle();
      if (ownStore) await store.close();
    },
  };
}
