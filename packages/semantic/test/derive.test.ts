import { digestValue } from '@edca/records';
import { DERIVE_CODES, loadStateMap, type CompiledMap, type StateMapDocument } from '@edca/semantic';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixtureRecords, loadFixtureMap, MAPS, readFixture } from './helpers.js';

/** The records' clock: windowed counts (insurance prior claims) need it when there are items. */
const NOW = { now: '2026-12-01T00:00:00Z' };

const FAILS: Record<string, { code: string; path: string }> = {
  'retail-banking/fail-missing-field': { code: 'SOURCE_FIELD_MISSING', path: 'account.DAYS_PAST_DUE' },
  'retail-banking/fail-missing-source': { code: 'SOURCE_MISSING', path: 'contact' },
  'retail-banking/fail-mistyped-field': { code: 'SOURCE_FIELD_INVALID', path: 'payment.AMT_CENTS' },
  'retail-banking/fail-unknown-code': { code: 'SOURCE_FIELD_INVALID', path: 'account.ACCT_STATUS_CD' },
  'insurance-claims/fail-unknown-loss-type': { code: 'FACET_NO_MATCH', path: 'facets.loss_type' },
  'insurance-claims/fail-bad-timestamp': { code: 'SOURCE_FIELD_INVALID', path: 'claim.RPT_DT' },
};

/** An arbitrary for one declared source field: a valid value. */
function validField(f: StateMapDocument['sources'][string]['fields'][string]): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'string':
      return fc.string({ maxLength: f.max_length ?? 20 });
    case 'integer':
      return fc.integer({ min: -1_000_000, max: 10_000_000 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'timestamp':
      return fc
        .date({ min: new Date('2000-01-01'), max: new Date('2040-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString());
    case 'enum':
      return fc.constantFrom(...f.values);
    case 'object':
      return fc.record(Object.fromEntries(Object.entries(f.fields).map(([n, sub]) => [n, validField(sub)])));
    case 'list':
      return fc.array(validField(f.items), { maxLength: Math.min(f.max_items, 5) });
  }
}

const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ maxLength: 3 }),
  fc.double(),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
);

/** Records for every declared source; with `corrupt`, any field may be junk or absent. */
function recordsArb(map: CompiledMap, corrupt: boolean): fc.Arbitrary<Record<string, unknown>> {
  const sources: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [sname, s] of Object.entries(map.document.sources)) {
    const fields: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [fname, f] of Object.entries(s.fields))
      fields[fname] = corrupt ? fc.oneof(validField(f), junk) : validField(f);
    sources[sname] = fc.record(fields);
  }
  return fc.record(sources);
}

describe('derive', () => {
  describe.each(MAPS)('with the %s fixture records', (name) => {
    const map = loadFixtureMap(name);
    const records = fixtureRecords(name);

    it('derives every ok record and fails closed with the stable code for every fail record', () => {
      for (const [file, rec] of records) {
        const r = map.derive(rec, NOW);
        const want = FAILS[`${name}/${file}`];
        if (want === undefined) {
          expect(r.ok, file).toBe(true);
          expect(r.ok && r.stateHash).toBe(map.stateHash(r.ok ? r.state : { facets: {}, machines: {} }));
        } else expect(r, file).toMatchObject({ ok: false, ...want });
        expect(file.startsWith('fail-')).toBe(want !== undefined);
      }
    });

    it('reaches every facet value and every machine state, so every rule is exercised', () => {
      const seen = new Map<string, Set<string>>();
      for (const rec of records.values()) {
        const r = map.derive(rec, NOW);
        if (!r.ok) continue;
        for (const [k, v] of Object.entries(r.state.facets))
          seen.set(`facets.${k}`, (seen.get(`facets.${k}`) ?? new Set()).add(v));
        for (const [k, v] of Object.entries(r.state.machines))
          seen.set(`machines.${k}`, (seen.get(`machines.${k}`) ?? new Set()).add(v));
      }
      const doc = map.document;
      for (const [f, decl] of Object.entries(doc.facets)) {
        // Each rule/band yields a distinct value, so reaching every value reaches every rule.
        const produced = decl.rules ? decl.rules.map((r) => r.value) : decl.bands!.map((b) => b.value);
        expect(new Set(produced).size, f).toBe(produced.length);
        expect([...(seen.get(`facets.${f}`) ?? [])].sort(), f).toEqual([...decl.values].sort());
      }
      for (const [m, decl] of Object.entries(doc.machines)) {
        const produced = (decl.rules ?? []).map((r) => r.state);
        expect(new Set(produced).size, m).toBe(produced.length);
        expect([...(seen.get(`machines.${m}`) ?? [])].sort(), m).toEqual([...decl.states].sort());
      }
    });

    it('is deterministic and either total or fails closed, for any records (property)', () => {
      fc.assert(
        fc.property(recordsArb(map, true), (rec) => {
          const a = map.derive(rec, NOW);
          const b = map.derive(structuredClone(rec), NOW);
          expect(b).toEqual(a);
          if (a.ok) {
            // The memoized hash is the hash of the state.
            expect(a.stateHash).toBe(map.stateHash(a.state));
            for (const [f, v] of Object.entries(a.state.facets)) expect(map.facetValues[f]).toContain(v);
            for (const m of map.machines) expect(m.states).toContain(a.state.machines[m.name]);
            expect(Object.keys(a.state.facets)).toEqual(Object.keys(map.facetValues));
          } else {
            expect(DERIVE_CODES).toContain(a.code);
            expect(a.path.length).toBeGreaterThan(0);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('never fails on well-typed records except where the map deliberately has no value (property)', () => {
      fc.assert(
        fc.property(recordsArb(map, false), (rec) => {
          const r = map.derive(rec, NOW);
          const unknownLossType =
            name === 'insurance-claims' && (rec.claim as Record<string, unknown>).LOSS_TYPE_CD === 'UNK';
          if (unknownLossType)
            expect(r).toMatchObject({ ok: false, code: 'FACET_NO_MATCH', path: 'facets.loss_type' });
          else expect(r.ok).toBe(true);
        }),
        { numRuns: 300 },
      );
    });

    it('returns a frozen state and keeps the compiled map immutable', () => {
      const r = map.derive(records.values().next().value!, NOW);
      expect(r.ok && Object.isFrozen(r.state) && Object.isFrozen(r.state.facets)).toBe(true);
      expect(Object.isFrozen(map)).toBe(true);
      expect(Object.isFrozen(map.document.intents)).toBe(true);
      expect(() => {
        (map.document.facets as Record<string, unknown>).x = 1;
      }).toThrow(TypeError);
    });
  });

  describe('when the input is not an object of sources', () => {
    const map = loadFixtureMap('retail-banking');
    it('never throws, and fails closed, for arbitrary values (property)', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.anything(),
            fc.dictionary(fc.constantFrom('customer', 'account', 'card', 'payment'), fc.anything()),
          ),
          (v) => {
            const r = map.derive(v as Record<string, unknown>, NOW);
            expect(r.ok).toBe(false);
          },
        ),
        { numRuns: 300 },
      );
    });
    it('fails closed with SOURCE_MISSING', () => {
      for (const bad of [null, 'x', 3])
        expect(map.derive(bad as never)).toMatchObject({ ok: false, code: 'SOURCE_MISSING' });
      expect(
        map.derive({ ...fixtureRecords('retail-banking').get('good-standing'), card: [] }),
      ).toMatchObject({ ok: false, code: 'SOURCE_MISSING', path: 'card' });
    });
  });

  describe('when a machine rule matches nothing or a condition fails at run time', () => {
    const text = readFixture('invalid/valid-base.yaml')
      .replace('      - { state: none }\n', '')
      .replace(
        "account.STATUS_CD == 'CLS'\"",
        "account.STATUS_CD == 'CLS' && 1 / account.OD_LIMIT_CENTS > 0\"",
      );
    const r = loadStateMap(text, 'm.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const map = r.value;
    it('fails closed with MACHINE_NO_MATCH', () => {
      expect(map.derive({ account: { ACCT_NO: 'a', STATUS_CD: 'OPN', OD_LIMIT_CENTS: 0 } })).toMatchObject({
        ok: false,
        code: 'MACHINE_NO_MATCH',
        path: 'machines.overdraft',
      });
    });
    it('fails closed with CONDITION_ERROR naming the rule', () => {
      expect(map.derive({ account: { ACCT_NO: 'a', STATUS_CD: 'CLS', OD_LIMIT_CENTS: 0 } })).toMatchObject({
        ok: false,
        code: 'CONDITION_ERROR',
        path: 'facets.standing.rules[0].when',
      });
    });
    it('fails closed when a band facet has no default and the value is above the last band', () => {
      const banded = loadStateMap(text.replace('      - { value: large }\n', ''), 'm.yaml');
      expect(
        banded.ok &&
          banded.value.derive({ account: { ACCT_NO: 'a', STATUS_CD: 'OPN', OD_LIMIT_CENTS: 5_000_000 } }),
      ).toMatchObject({
        ok: false,
        code: 'FACET_NO_MATCH',
        path: 'facets.limit_band',
      });
    });
  });

  describe('when the same state is derived twice', () => {
    it('returns the same deeply frozen state object with its hash (memoized), equal to a fresh derivation', () => {
      const map = loadFixtureMap('retail-banking');
      const good = fixtureRecords('retail-banking').get('good-standing')!;
      const a = map.derive(good);
      const b = map.derive(structuredClone(good));
      expect(a.ok && b.ok).toBe(true);
      if (!a.ok || !b.ok) return;
      expect(b.state).toBe(a.state);
      expect(
        Object.isFrozen(a.state) && Object.isFrozen(a.state.facets) && Object.isFrozen(a.state.machines),
      ).toBe(true);
      expect(b.stateHash).toBe(digestValue(b.state));
      const fresh = loadFixtureMap('retail-banking').derive(good);
      expect(fresh.ok && fresh.state).toEqual(a.state);
    });
  });
});
