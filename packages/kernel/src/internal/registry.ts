/**
 * The map registry, built once at startup: one ARP layer (route table) per compiled map, and the
 * lookups every module needs — the map of an intent, of a policy digest, the handler of an intent,
 * the machine transition an action makes.
 */
import { createArp, type Arp } from '@edca/arp';
import type { CompiledMap, DecisionInput } from '@edca/semantic';
import { KernelError } from '../errors.js';
import { createShadowSet, type ShadowSet } from '../shadow.js';
import type { KernelOptions, Loader } from '../types.js';

/** A loaded map: its compiled form, its ARP layer and its loader. */
export interface MapEntry {
  readonly map: CompiledMap;
  readonly arp: Arp;
  readonly loader: Loader;
}

/** A state-machine step an action takes. */
export type Transition = { readonly machine: string; readonly from: string; readonly to: string };

/** The loaded maps and the lookups over them. */
export interface MapRegistry {
  readonly entries: readonly MapEntry[];
  /** The map kernel pre-check refusals of an unknown intent are journaled under (the first one). */
  readonly fallback: MapEntry | undefined;
  /** Candidate maps decided beside the live ones and journaled as `shadow` records. */
  readonly shadows: ShadowSet | undefined;
  byIntent(intent: string): MapEntry | undefined;
  byDigest(policyDigest: string): MapEntry | undefined;
  /** Remembers the handler a route resolved an intent to (recovery of a map no longer loaded). */
  noteHandler(intent: string, handler: string): void;
  /** The handler of an intent under a policy: the map's route table, else the last one resolved. */
  handlerFor(policyDigest: string, intent: string): string | undefined;
  /** The transition an action on this input makes, if its intent moves a machine. */
  transitionFor(entry: MapEntry, input: DecisionInput): Transition | undefined;
}

function arpOf(map: CompiledMap, options: KernelOptions): Arp {
  try {
    return createArp({
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
}

/**
 * Builds the registry: every map once, every intent declared by one map only.
 * @throws KernelError KERNEL_CONFIG_INVALID for a map loaded twice or an intent of two maps;
 *   KERNEL_SELF_TEST_FAILED for a map without loader or whose routes do not check
 */
export function createRegistry(options: KernelOptions): MapRegistry {
  const entries: MapEntry[] = [];
  const intents = new Map<string, MapEntry>();
  const digests = new Map<string, MapEntry>();
  for (const map of options.maps) {
    if (digests.has(map.digest))
      throw new KernelError('KERNEL_CONFIG_INVALID', `map ${map.name} is loaded twice`);
    const loader = options.loaders[map.name];
    if (typeof loader !== 'function')
      throw new KernelError('KERNEL_SELF_TEST_FAILED', `map ${map.name} has no loader`);
    const entry: MapEntry = { map, arp: arpOf(map, options), loader };
    entries.push(entry);
    digests.set(map.digest, entry);
    for (const intent of map.intentNames) {
      if (intents.has(intent))
        throw new KernelError('KERNEL_CONFIG_INVALID', `intent ${intent} is declared by two maps`);
      intents.set(intent, entry);
    }
  }
  const handlerByIntent = new Map<string, string>();
  return {
    entries,
    fallback: entries[0],
    shadows: options.shadow === undefined ? undefined : createShadowSet(options.shadow, options.maps),
    byIntent: (intent) => intents.get(intent),
    byDigest: (digest) => digests.get(digest),
    noteHandler: (intent, handler) => void handlerByIntent.set(intent, handler),
    handlerFor: (digest, intent) =>
      digests.get(digest)?.map.document?.routes?.[intent]?.handler ?? handlerByIntent.get(intent),
    transitionFor(entry, input) {
      const machine = entry.map.intent(input.proposal.intent)?.machine;
      if (machine === undefined) return undefined;
      const from = input.state.machines[machine];
      if (from === undefined) return undefined;
      const to = entry.map.next(machine, from, input.proposal.intent);
      return to === undefined ? undefined : { machine, from, to };
    },
  };
}
