import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadStateMap, type CompiledMap } from '@edca/semantic';

/** Repository root, so fixtures resolve the same from any working directory. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const fixture = (rel: string): string => `${ROOT}fixtures/${rel}`;
export const readFixture = (rel: string): string => readFileSync(fixture(rel), 'utf8');

/** Loads a fixture map, failing the test if it does not compile. */
export function loadFixtureMap(name: 'retail-banking' | 'insurance-claims'): CompiledMap {
  const r = loadStateMap(readFixture(`maps/${name}.yaml`), `fixtures/maps/${name}.yaml`);
  if (!r.ok) throw new Error(`fixture map ${name} is invalid: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

/** The business records of a fixture map, by file name without `.json`. */
export function fixtureRecords(map: string): Map<string, Record<string, unknown>> {
  const dir = fixture(`records/${map}`);
  const out = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.json'))
      out.set(f.slice(0, -5), JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Record<string, unknown>);
  }
  return out;
}

export const MAPS = ['retail-banking', 'insurance-claims'] as const;
