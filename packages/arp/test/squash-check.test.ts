import { describe, expect, it } from 'vitest';
import { createArp, findSquashedTerms } from '@edca/arp';
import { loadFixtureMap, SESSION_A, TEST_KEY } from './helpers.js';

describe('findSquashedTerms', () => {
  describe('when public state words run together into a private code', () => {
    const map = loadFixtureMap('sim-lines');

    it('names the private term and the public words, in order', () => {
      const found = findSquashedTerms(map);
      expect(found).toEqual([
        expect.objectContaining({
          code: 'PRIVATE_TERM_SQUASHED',
          term: 'sim term',
          category: 'enum_code',
          words: ['sim', 'terminated'],
        }),
      ]);
      expect(found[0]!.message).toContain('"sim" + "terminated"');
    });

    it('reports what really happens at run time: the view with both words is withheld', () => {
      const arp = createArp({
        map,
        refKey: TEST_KEY,
        handlers: { 'lines.reactivate': () => ({ ok: true }) },
      });
      const line = (stat: string) => ({ line_tbl: { line_no: 'L-1', kind_cd: 'PHYS', stat_cd: stat } });
      expect(arp.project(line('LIVE'), SESSION_A).ok).toBe(true);
      expect(arp.project(line('SIM_TERM'), SESSION_A)).toMatchObject({ ok: false, code: 'LEAK_DETECTED' });
    });

    it('is silent once the owner allows the term', () => {
      expect(findSquashedTerms(map, ['SIM_TERM'])).toEqual([]);
    });
  });

  describe('when no public words spell a private term', () => {
    it('finds nothing in the small-bank fixture', () => {
      expect(findSquashedTerms(loadFixtureMap())).toEqual([]);
    });
  });
});
