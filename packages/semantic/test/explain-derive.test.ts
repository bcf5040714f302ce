import { describe, expect, it } from 'vitest';
import { fixtureRecords, loadFixtureMap, MAPS } from './helpers.js';

const NOW = { now: '2026-12-01T00:00:00Z' };

describe('explainDerive', () => {
  describe('when the records derive', () => {
    for (const name of MAPS) {
      it(`gives derive's exact result for every ${name} fixture`, () => {
        const map = loadFixtureMap(name);
        for (const [, records] of fixtureRecords(name)) {
          const { matched, ...rest } = map.explainDerive(records, NOW);
          expect(rest).toEqual(map.derive(records, NOW));
          if (!rest.ok) continue;
          // Every facet and every machine with rules names the part of the map that chose its value.
          const machinesWithRules = Object.entries(map.document.machines)
            .filter(([, m]) => m.rules !== undefined)
            .map(([m]) => `machines.${m}`);
          expect(Object.keys(matched).sort()).toEqual(
            [...Object.keys(map.document.facets).map((f) => `facets.${f}`), ...machinesWithRules].sort(),
          );
        }
      });
    }

    it('names the first rule that matched, the band the value fell in, or the default', () => {
      const map = loadFixtureMap('retail-banking');
      const good = fixtureRecords('retail-banking').get('good-standing')!;
      const account = good['account'] as Record<string, unknown>;
      const r = map.explainDerive({
        ...good,
        account: { ...account, ACCT_STATUS_CD: 'DLQ', DAYS_PAST_DUE: 45 },
      });
      expect(r.ok).toBe(true);
      expect(r.matched['facets.account_standing']).toBe('facets.account_standing.rules[2]');
      expect(r.matched['facets.arrears_band']).toBe('facets.arrears_band.bands[2]');
      expect(r.matched['facets.kyc']).toBe('facets.kyc.rules[0]');
      expect(r.matched['facets.vulnerable']).toBe('facets.vulnerable.rules[1]');
      expect(r.matched['machines.address']).toBe('machines.address.rules[1]');
    });
  });

  describe('when derive fails closed', () => {
    it('returns the same refusal', () => {
      const map = loadFixtureMap('retail-banking');
      const bad = fixtureRecords('retail-banking').get('fail-missing-source')!;
      const r = map.explainDerive(bad);
      expect(r.ok).toBe(false);
      const { matched: _matched, ...rest } = r;
      expect(rest).toEqual(map.derive(bad));
    });
  });
});
