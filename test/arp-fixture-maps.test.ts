import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createArp, type Arp } from '@edca/arp';
import { loadStateMap } from '@edca/semantic';

// The ARP layer over the two fixture maps the policy owners wrote (retail banking, insurance
// claims): every business record either projects to a view that holds none of its private
// values, or is refused closed.
const root = new URL('../', import.meta.url);

function arpFor(name: string): Arp {
  const r = loadStateMap(readFileSync(new URL(`fixtures/maps/${name}.yaml`, root), 'utf8'), `${name}.yaml`);
  if (!r.ok) throw new Error(`${name} does not load`);
  const handlers = Object.fromEntries(
    Object.values(r.value.document.routes).map((x) => [x.handler, () => undefined]),
  );
  return createArp({ map: r.value, refKey: new Uint8Array(32).fill(9), handlers });
}

/** Every string and number in the records at least 4 characters long: the private values. */
function privateValues(records: unknown, out: string[] = []): string[] {
  if (typeof records === 'string' && records.length >= 4) out.push(records);
  else if (typeof records === 'number' && String(records).length >= 4) out.push(String(records));
  else if (typeof records === 'object' && records !== null)
    for (const v of Object.values(records)) privateValues(v, out);
  return out;
}

for (const name of ['retail-banking', 'insurance-claims']) {
  describe(`arp over fixtures/maps/${name}.yaml`, () => {
    const arp = arpFor(name);
    const dir = new URL(`fixtures/records/${name}/`, root);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

    it('starts: every intent routes to a handler and the map publishes no private word', () => {
      expect(arp.vocabulary.terms.length).toBeGreaterThan(10);
    });

    it('guards the names and codes of nested objects and list items', () => {
      const nested =
        name === 'retail-banking'
          ? ['TXNS', 'TXN_ID', 'AMT_PENCE', 'TYPE_CD', 'CHB', 'PUR', 'POSTED_DAYS_AGO', 'CLOSED_AT']
          : [
              'LINE_ITEMS',
              'AMOUNT_PENCE',
              'STATUS_CD',
              'VOID',
              'ADDR',
              'CTRY_CD',
              'PREV_CLM_HIST',
              'OUTCOME_CD',
            ];
      // The guard keeps its terms normalized: lower case, separators as spaces.
      for (const term of nested)
        expect(arp.vocabulary.terms, term).toContain(term.toLowerCase().replaceAll('_', ' '));
    });

    for (const file of files) {
      const records = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Record<string, unknown>;
      if (file.startsWith('fail-')) {
        it(`refuses ${file} closed with STATE_UNDERIVABLE`, () => {
          expect(arp.project(records, { stream: 's', session: file })).toMatchObject({
            code: 'STATE_UNDERIVABLE',
          });
        });
        continue;
      }
      it(`projects ${file} without any private value or name outside allowed display and free text`, () => {
        const session = { stream: 's', session: file };
        // The records' clock, for the insurer's count of prior claims in a three-year window.
        const view = arp.project(records, session, { now: '2026-12-01T00:00:00Z' });
        if (!view.ok) throw new Error(`${file}: ${view.code}`);
        expect(arp.project(records, session, { now: '2026-12-01T00:00:00Z' })).toEqual(view);
        const { untrusted: _u, display: _d, ...rest } = view.value;
        const structural = JSON.stringify(rest);
        for (const value of privateValues(records)) expect(structural, value).not.toContain(value);
        // An independent check of the guard: no private term as a whole snake_case word.
        for (const term of arp.vocabulary.terms) {
          expect(structural.toLowerCase(), term).not.toMatch(
            new RegExp(`(?<![a-z0-9])${term.replace(/ /g, '_')}(?![a-z0-9])`),
          );
        }
      });
    }
  });
}
