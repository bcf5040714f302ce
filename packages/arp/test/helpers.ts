import { readFileSync } from 'node:fs';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import {
  createArp,
  createMemoryRefRegistry,
  type Arp,
  type ArpHandler,
  type ArpOptions,
  type LeakIncident,
} from '@edca/arp';

/** Loads a map fixture of this package (test/fixtures/NAME.yaml), failing loudly if invalid. */
export function loadFixtureMap(name = 'small-bank'): CompiledMap {
  const file = new URL(`./fixtures/${name}.yaml`, import.meta.url);
  const r = loadStateMap(readFileSync(file, 'utf8'), `${name}.yaml`);
  if (!r.ok) throw new Error(`fixture ${name} is invalid: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

/** Loads a JSON records fixture of this package. */
export function loadRecords(name = 'records-open'): Record<string, Record<string, unknown>> {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Record<
    string,
    Record<string, unknown>
  >;
}

/** A fixed 32-byte ref key for tests. */
export const TEST_KEY = new Uint8Array(32).fill(7);

/** Handlers that count their calls, so tests can assert that none ran. */
export function countingHandlers(): { handlers: Record<string, ArpHandler>; calls: string[] } {
  const calls: string[] = [];
  const h =
    (name: string): ArpHandler =>
    () => {
      calls.push(name);
      return { ok: true };
    };
  return {
    calls,
    handlers: {
      'cards.v2.freezeCard': h('cards.v2.freezeCard'),
      'ledger.postFeeReversal': h('ledger.postFeeReversal'),
      'crm.lookupByName': h('crm.lookupByName'),
    },
  };
}

/** An ARP over the small-bank fixture, with counting handlers and an incident list. */
export function smallBankArp(overrides: Partial<ArpOptions> = {}): {
  arp: Arp;
  calls: string[];
  incidents: LeakIncident[];
} {
  const { handlers, calls } = countingHandlers();
  const incidents: LeakIncident[] = [];
  const arp = createArp({
    map: loadFixtureMap(),
    refKey: TEST_KEY,
    handlers,
    refRegistry: createMemoryRefRegistry(),
    onIncident: (i) => incidents.push(i),
    ...overrides,
  });
  return { arp, calls, incidents };
}

export const SESSION_A = { stream: 'bank-eu', session: 'chat-a' } as const;
export const SESSION_B = { stream: 'bank-eu', session: 'chat-b' } as const;
