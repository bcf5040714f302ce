// Derivation: a proposal resolved through its map's routes, the private records loaded, and the
// abstract state derived from them — the same for decide, execute (again, to detect staleness) and plans.
import type { ArpHandler, ArpRefusalCode, ArpSession, PrivateCall } from '@edca/arp';
import type { JsonValue, Digest } from '@edca/records';
import type { DecisionInput } from '@edca/semantic';
import { toRfc3339, type Clock } from '../clock.js';
import type { DecideContext, DecisionReason } from '../types.js';
import { scopeIdsOf } from './action.js';
import type { MapEntry, MapRegistry } from './registry.js';

/** A derived request: the abstract state, the private call it resolves to, the scopes of its limits. */
export interface Derived {
  readonly state: DecisionInput['state'];
  readonly stateHash: Digest;
  readonly call: PrivateCall;
  readonly run: ArpHandler;
  /** Real id of each entity kind in this request (scopes per-entity limits). */
  readonly scopeIds: Record<string, string>;
}

/** A derivation that failed: the kernel rule and reasons its refusal is journaled with. */
export interface DeriveFailure {
  readonly ok: false;
  readonly rule: 'kernel.route' | 'kernel.derive';
  readonly reasons: readonly [ArpRefusalCode | 'DERIVATION_FAILED', ...DecisionReason[]];
}

/** Resolves, loads and derives one proposal; a value, never an exception. */
export async function deriveFor(
  registry: MapRegistry,
  clock: Clock,
  entry: MapEntry,
  proposal: { intent: string; params: Record<string, JsonValue> },
  session: ArpSession,
  principal: DecideContext['principal'],
): Promise<{ ok: true; value: Derived } | DeriveFailure> {
  let resolved: ReturnType<MapEntry['arp']['resolve']>;
  try {
    resolved = entry.arp.resolve(proposal, session);
  } catch {
    // A malformed session is the host's misuse; the proposal is refused all the same (fail closed).
    return { ok: false, rule: 'kernel.route', reasons: ['SCHEMA_VIOLATION'] };
  }
  if (!resolved.ok) return { ok: false, rule: 'kernel.route', reasons: [resolved.code] };
  registry.noteHandler(proposal.intent, resolved.call.handler);
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
  let derived: ReturnType<MapEntry['map']['derive']>;
  try {
    // `now` matters only to maps with time-windowed counts; the injected clock keeps it replayable.
    derived = entry.map.derive(records, { now: toRfc3339(clock.now()) });
  } catch {
    return { ok: false, rule: 'kernel.derive', reasons: ['DERIVATION_FAILED'] };
  }
  if (!derived.ok) return { ok: false, rule: 'kernel.derive', reasons: ['DERIVATION_FAILED', derived.code] };
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
