import { readFileSync } from 'node:fs';
import { loadStateMap, type CompiledMap } from '@edca/semantic';

/**
 * The test map plus `credit_payment` (per-payment budget 400 a day, escalates above 160, one
 * approver) and `note_payment` (per-payment rate 3 an hour); `version` makes a new map digest.
 */
export function loadLedgerMap(version = '1'): CompiledMap {
  const text = readFileSync(new URL('./ledger-map.yaml', import.meta.url), 'utf8').replace(
    "version: '1'",
    `version: '${version}'`,
  );
  const r = loadStateMap(text, 'ledger-map.yaml');
  if (!r.ok) throw new Error(`ledger map invalid: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}
