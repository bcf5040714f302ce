/**
 * What every kernel module shares: the ports, the checked settings, the map registry and the live
 * state. The live state is the `@edca/ledger` fold of the journal — built by startup recovery and
 * moved by every record this kernel appends (`append`), so the running kernel and a restarted one
 * read the same facts — plus what only this process can know (the sessions permits were decided in,
 * the requests waiting for approvers, the circuit breakers).
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { emptyLedger, type LedgerState } from '@edca/ledger';
import { verifyEd25519, type Signer } from '@edca/records';
import type { Clock } from '../clock.js';
import { createDecisionCache, type DecisionCache, type Proposal } from '../decision.js';
import type { AppendedRecord, Journal, RecordDraft } from '../journal.js';
import type { KernelStore } from '../store.js';
import type { DecideContext, KernelEvents, KernelOptions } from '../types.js';
import { createBreaker, type Breaker } from './breaker.js';
import { createHeldPermits, createHoldIds, type HeldPermits, type HoldIds } from './holds.js';
import { createLedgerJournal, type LedgerJournal } from './ledger-journal.js';
import { createLedgerStore, type LedgerStore } from './ledger-store.js';
import type { MapRegistry } from './registry.js';
import type { Settings } from './settings.js';
import { createWitnessGate, type WitnessGate } from '../witness-gate.js';

const VERSION = '0.1.0';
/** Signed by the self-test and when an append fails, to tell a broken signer from a broken journal. */
export const PROBE = new TextEncoder().encode('edca-kernel-probe-v1\n');
/**
 * A prune forgets only what expired this long ago: a permit checked unexpired by execute just
 * before its expiry keeps its holds while its attempt is still on its way to the journal.
 */
const PRUNE_GRACE_MS = 60_000;

type Listeners = { [K in keyof KernelEvents]: Set<(payload: KernelEvents[K]) => void> };

/** The shared state of one kernel. */
export interface KernelContext {
  readonly options: KernelOptions;
  readonly settings: Settings;
  readonly registry: MapRegistry;
  readonly signer: Signer;
  readonly journal: Journal;
  readonly clock: Clock;
  readonly store: KernelStore;
  /**
   * Whether the store is the embedded one this kernel made: its counters are the ledger's, its
   * approvals and consumed permits are filled from the ledger at startup (docs/kernel.md, "State").
   */
  readonly ownStore: boolean;
  /** That embedded store, when it is the store (recovery seeds holds of old permits into it). */
  readonly embedded: LedgerStore | undefined;
  readonly cache: DecisionCache;
  readonly tracer: Tracer;
  readonly ledger: LedgerState;
  /** The kernel's appends through its ledger: applied, pruned, and snapshotted every `snapshotEvery`. */
  readonly ledgerJournal: LedgerJournal;
  readonly holdIds: HoldIds;
  readonly held: HeldPermits;
  /** Escalations decided in this process, by escalate record hash: decided again once approved. */
  readonly pendingRequests: Map<string, { proposal: Proposal; context: DecideContext }>;
  readonly listeners: Listeners;
  /** The k-of-n checkpoint cosignatures the kernel waits for, when `witnesses` is set. */
  readonly witnessGate: WitnessGate | undefined;
  closed: boolean;
  /** Appends records and applies them to the ledger, in order (`ledgerJournal.append`). */
  append(drafts: RecordDraft[]): Promise<AppendedRecord[]>;
  emit<K extends keyof KernelEvents>(event: K, payload: KernelEvents[K]): void;
  breakerFor(handler: string): Breaker;
  /** After a failed append: whether the signer still signs (then the journal is the culprit). */
  diagnoseAppendFailure(): Promise<'SIGNER_UNAVAILABLE' | 'JOURNAL_UNAVAILABLE'>;
}

/** Builds the shared state of a kernel from checked settings and a built registry. */
export function createContext(
  options: KernelOptions,
  settings: Settings,
  registry: MapRegistry,
): KernelContext {
  const { signer, journal, clock } = options;
  const ledger = emptyLedger();
  const embedded = options.store === undefined ? createLedgerStore(ledger) : undefined;
  const breakers = new Map<string, Breaker>();
  const witnessGate = options.witnesses && createWitnessGate(options.witnesses, journal);
  const ledgerJournal = createLedgerJournal({
    journal,
    ledger,
    clock,
    snapshotEvery: settings.snapshotEvery,
    pruneGraceMs: PRUNE_GRACE_MS,
    applied: (appended: AppendedRecord) => {
      embedded?.landed(appended);
      witnessGate?.observe([appended]);
    },
  });
  const ctx: KernelContext = {
    options,
    settings,
    registry,
    signer,
    journal,
    clock,
    store: options.store ?? embedded!,
    ownStore: embedded !== undefined,
    embedded,
    cache: createDecisionCache(options.cache),
    tracer: trace.getTracer('@edca/kernel', VERSION),
    ledger,
    ledgerJournal,
    holdIds: createHoldIds(settings.instance),
    held: createHeldPermits(),
    pendingRequests: new Map(),
    listeners: { decision: new Set(), outcome: new Set(), approval: new Set() },
    witnessGate,
    closed: false,
    append: (drafts) => ledgerJournal.append(drafts),
    emit(event, payload) {
      for (const listener of ctx.listeners[event]) {
        try {
          listener(payload);
        } catch {
          // A host listener's bug must not turn a journaled decision into a crash.
        }
      }
    },
    breakerFor(handler) {
      let b = breakers.get(handler);
      if (!b) {
        b = createBreaker(settings.breaker);
        breakers.set(handler, b);
      }
      return b;
    },
    async diagnoseAppendFailure() {
      try {
        const sig = await signer.sign(PROBE);
        return verifyEd25519(signer.publicKey, PROBE, sig) ? 'JOURNAL_UNAVAILABLE' : 'SIGNER_UNAVAILABLE';
      } catch {
        return 'SIGNER_UNAVAILABLE';
      }
    },
  };
  return ctx;
}
