import { loadStateMap, safeCompile, type CompiledMap } from '@edca/semantic';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixtureRecords, loadFixtureMap } from './helpers.js';

// Nullable, optional, nested and list fields; list macros; aggregate facets. One small map with
// every new type, written as YAML so positions are real.
const MAP = `edca: state-map/v1
name: structured
version: '1'
owner: ops
time: true
sources:
  account:
    fields:
      ACCT_NO: string
      CLOSED_AT: { type: timestamp, nullable: true }
      MIDDLE_NAME: { type: string, optional: true }
      LIMIT: { type: integer, nullable: true }
      ADDR: { type: object, fields: { POST_CD: string, CTRY_CD: string } }
      TXNS:
        type: list
        max_items: 5
        items:
          type: object
          fields:
            AMT_PENCE: integer
            TYPE_CD: { type: enum, values: [PUR, CHB, RFD] }
            AT: timestamp
            NOTE: { type: string, nullable: true }
      TAGS: { type: list, max_items: 3, items: { type: string, max_length: 8 } }
facets:
  open:
    values: ['yes', 'no']
    rules:
      - { when: account.CLOSED_AT == null, value: 'yes' }
      - { value: 'no' }
  named:
    values: [middle, plain]
    rules:
      - { when: account.MIDDLE_NAME != null, value: middle }
      - { value: plain }
  uk:
    values: ['yes', 'no']
    rules:
      - { when: "account.ADDR.CTRY_CD == 'GB'", value: 'yes' }
      - { value: 'no' }
  big_purchase:
    values: ['yes', 'no']
    rules:
      - { when: "account.TXNS.exists(t, t.TYPE_CD == 'PUR' && t.AMT_PENCE > 10000)", value: 'yes' }
      - { value: 'no' }
  one_refund:
    values: ['yes', 'no']
    rules:
      - { when: "account.TXNS.exists_one(t, t.TYPE_CD == 'RFD')", value: 'yes' }
      - { value: 'no' }
  all_small:
    values: ['yes', 'no']
    rules:
      - { when: "account.TXNS.map(t, t.AMT_PENCE).all(a, a < 5000) && size(account.TAGS) < 3", value: 'yes' }
      - { value: 'no' }
  chargebacks:
    values: [none, one, several]
    from: { count: account.TXNS, where: "item.TYPE_CD == 'CHB'" }
    bands: [{ below: 1, value: none }, { below: 2, value: one }, { value: several }]
  recent_chargebacks:
    values: [none, some]
    from: { count: account.TXNS, where: "item.TYPE_CD == 'CHB'", within: P90D, at: AT }
    bands: [{ below: 1, value: none }, { value: some }]
  spend:
    values: [low, high]
    from: { sum: account.TXNS.AMT_PENCE, where: "item.TYPE_CD == 'PUR'" }
    bands: [{ below: 2, value: low }, { value: high }]
  largest:
    values: [none, small, large]
    from: { max: account.TXNS.AMT_PENCE }
    bands: [{ below: 10000, value: small }, { value: large }]
    default: none
  smallest:
    values: [tiny, other]
    from: { min: account.TXNS.AMT_PENCE }
    bands: [{ below: 100, value: tiny }, { value: other }]
    default: other
  tags:
    values: [none, some]
    from: { size: account.TAGS }
    bands: [{ below: 1, value: none }, { value: some }]
  limit:
    values: [low, high]
    from: account.LIMIT
    bands: [{ below: 1000, value: low }, { value: high }]
    default: low
intents:
  note:
    description: Add a note.
`;

const NOW = '2026-12-01T00:00:00Z';
const txn = (
  AMT_PENCE: number,
  TYPE_CD: string,
  AT = '2026-11-20T10:00:00Z',
  NOTE: string | null = null,
) => ({
  AMT_PENCE,
  TYPE_CD,
  AT,
  NOTE,
});
const base = () => ({
  account: {
    ACCT_NO: 'A-1',
    CLOSED_AT: null as string | null,
    LIMIT: 5000,
    ADDR: { POST_CD: 'LS6 2QT', CTRY_CD: 'GB', UNDECLARED: 'x' },
    TXNS: [txn(2500, 'PUR'), txn(1200, 'CHB')] as unknown[],
    TAGS: ['a'] as unknown[],
  } as Record<string, unknown>,
});

function load(text = MAP): CompiledMap {
  const r = loadStateMap(text, 'structured.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics, null, 2));
  return r.value;
}

const facetsOf = (map: CompiledMap, rec: object, now: string | undefined = NOW) => {
  const r = map.derive(rec as Record<string, unknown>, now === undefined ? undefined : { now });
  if (!r.ok) throw new Error(`${r.code} at ${r.path}`);
  return r.state.facets;
};

describe('structured source fields', () => {
  const map = load();

  describe('when a nullable field is null or an optional one is absent', () => {
    it('reads null, which conditions can test', () => {
      const rec = base();
      expect(facetsOf(map, rec)).toMatchObject({ open: 'yes', named: 'plain', uk: 'yes', limit: 'high' });
      rec.account.CLOSED_AT = '2026-11-02T17:00:00Z';
      rec.account.MIDDLE_NAME = 'Ada';
      rec.account.LIMIT = null;
      expect(facetsOf(map, rec)).toMatchObject({ open: 'no', named: 'middle', limit: 'low' });
    });
  });

  describe('when a record breaks a declaration', () => {
    const cases: [string, (r: ReturnType<typeof base>) => void, string, string][] = [
      [
        'a nullable field is absent',
        (r) => delete r.account.CLOSED_AT,
        'SOURCE_FIELD_MISSING',
        'account.CLOSED_AT',
      ],
      [
        'a non-nullable field is null',
        (r) => (r.account.ADDR = null),
        'SOURCE_FIELD_INVALID',
        'account.ADDR',
      ],
      [
        'a nested field is absent',
        (r) => (r.account.ADDR = { POST_CD: 'X' }),
        'SOURCE_FIELD_MISSING',
        'account.ADDR.CTRY_CD',
      ],
      [
        'an item field has an unknown code',
        (r) => (r.account.TXNS = [txn(1, 'PUR'), txn(2, 'XXX')]),
        'SOURCE_FIELD_INVALID',
        'account.TXNS[1].TYPE_CD',
      ],
      [
        'an item field is missing',
        (r) => (r.account.TXNS = [{ AMT_PENCE: 1, AT: NOW, NOTE: null }]),
        'SOURCE_FIELD_MISSING',
        'account.TXNS[0].TYPE_CD',
      ],
      [
        'a list is longer than max_items',
        (r) => (r.account.TXNS = Array.from({ length: 6 }, () => txn(1, 'PUR'))),
        'SOURCE_LIST_TOO_LONG',
        'account.TXNS',
      ],
      [
        'a list is not an array',
        (r) => (r.account.TAGS = { 0: 'a' }),
        'SOURCE_FIELD_INVALID',
        'account.TAGS',
      ],
      [
        'a list item is too long',
        (r) => (r.account.TAGS = ['123456789']),
        'SOURCE_FIELD_INVALID',
        'account.TAGS[0]',
      ],
      ['an integer is a float', (r) => (r.account.LIMIT = 1.5), 'SOURCE_FIELD_INVALID', 'account.LIMIT'],
    ];
    it.each(cases)('fails closed when %s', (_what, mutate, code, path) => {
      const rec = base();
      mutate(rec);
      expect(map.derive(rec, { now: NOW })).toMatchObject({ ok: false, code, path });
    });
    it('refuses an oversized list without reading its items', () => {
      const rec = base();
      let reads = 0;
      const items = Array.from({ length: 100_000 }, () => txn(1, 'PUR'));
      rec.account.TXNS = new Proxy(items, {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
      expect(map.derive(rec, { now: NOW })).toMatchObject({ code: 'SOURCE_LIST_TOO_LONG' });
      expect(reads).toBe(0);
    });
    it('bounds a string without max_length (100,000 characters)', () => {
      const rec = base();
      rec.account.ACCT_NO = 'x'.repeat(100_001);
      expect(map.derive(rec, { now: NOW })).toMatchObject({
        code: 'SOURCE_FIELD_INVALID',
        path: 'account.ACCT_NO',
      });
    });
  });

  describe('when a map declares fields beyond the bounds', () => {
    const withField = (field: string) =>
      MAP.replace('      ACCT_NO: string\n', `      ACCT_NO: string\n${field}\n`);
    it('refuses nesting deeper than 4 levels', () => {
      const deep =
        '      D1: { type: object, fields: { D2: { type: object, fields: { D3: { type: object, fields: { D4: { type: object, fields: { D5: string } } } } } } } }';
      const r = loadStateMap(withField(deep), 'm.yaml');
      expect(!r.ok && r.diagnostics.map((d) => [d.code, d.path])).toEqual([
        ['SCHEMA_INVALID', 'sources.account.fields.D1.fields.D2.fields.D3.fields.D4.fields.D5'],
      ]);
    });
    it('refuses nested lists that could carry more than 100,000 items', () => {
      const r = loadStateMap(
        withField(
          '      L: { type: list, max_items: 1000, items: { type: list, max_items: 101, items: integer } }',
        ),
        'm.yaml',
      );
      expect(!r.ok && r.diagnostics.map((d) => d.code)).toEqual(['SCHEMA_INVALID']);
    });
    it('refuses max_items over 10,000 and optional list items', () => {
      expect(
        loadStateMap(withField('      L: { type: list, max_items: 10001, items: integer }'), 'm.yaml').ok,
      ).toBe(false);
      const r = loadStateMap(
        withField('      L: { type: list, max_items: 3, items: { type: integer, optional: true } }'),
        'm.yaml',
      );
      expect(!r.ok && r.diagnostics.map((d) => d.path)).toEqual(['sources.account.fields.L.items.optional']);
    });
  });
});

describe('conditions over nested fields and lists', () => {
  const map = load();

  it('evaluates exists, exists_one, all, map and size over the declared items', () => {
    const rec = base();
    expect(facetsOf(map, rec)).toMatchObject({ big_purchase: 'no', one_refund: 'no', all_small: 'yes' });
    rec.account.TXNS = [txn(20000, 'PUR'), txn(100, 'RFD')];
    expect(facetsOf(map, rec)).toMatchObject({ big_purchase: 'yes', one_refund: 'yes', all_small: 'no' });
    rec.account.TXNS = [txn(100, 'RFD'), txn(100, 'RFD')];
    expect(facetsOf(map, rec)).toMatchObject({ one_refund: 'no' });
  });

  const condition = (when: string) =>
    MAP.replace(`- { when: account.CLOSED_AT == null, value: 'yes' }`, `- { when: "${when}", value: 'yes' }`);
  const diagnostics = (when: string) => {
    const r = loadStateMap(condition(when), 'm.yaml');
    return r.ok ? [] : r.diagnostics.map((d) => `${d.code} ${d.line ?? 0}:${d.col ?? 0}`);
  };
  const line = MAP.split('\n').findIndex((l) => l.includes('account.CLOSED_AT == null')) + 1;
  const col = (when: string, sub: string) => `      - { when: "`.length + when.indexOf(sub) + 1;

  it('reports an unknown field of a list item at its file:line:col', () => {
    const when = "account.TXNS.exists(t, t.TYPE_CODE == 'CHB')";
    expect(diagnostics(when)).toEqual([`CONDITION_UNKNOWN_NAME ${line}:${col(when, '.TYPE_CODE')}`]);
  });
  it('reports an unknown field of a nested object at its file:line:col', () => {
    const when = "account.ADDR.COUNTRY == 'GB'";
    expect(diagnostics(when)).toEqual([`CONDITION_UNKNOWN_NAME ${line}:${col(when, '.COUNTRY')}`]);
  });
  it('type-checks the loop variable against the element type', () => {
    expect(diagnostics("account.TXNS.exists(t, t.AMT_PENCE == 'x')")[0]).toMatch(/^CONDITION_TYPE_ERROR/);
    expect(diagnostics('account.TXNS.all(t, t.AMT_PENCE)')[0]).toMatch(/^CONDITION_TYPE_ERROR/);
    expect(
      diagnostics("account.TXNS.filter(t, t.AMT_PENCE > 1).map(t, t.TYPE_CD).exists(c, c == 'CHB')"),
    ).toEqual([]);
    expect(diagnostics("account.TAGS.exists(g, g.startsWith('a'))")).toEqual([]);
    expect(diagnostics('account.ADDR.exists(x, true)')[0]).toMatch(/^CONDITION_TYPE_ERROR/);
  });
  it('checks a code compared inside a macro against the item enum', () => {
    const when = "account.TXNS.exists(t, t.TYPE_CD == 'CHARGEBACK')";
    expect(diagnostics(when)).toEqual([`VALUE_NOT_IN_SET ${line}:${col(when, "'CHARGEBACK'")}`]);
  });
  it('refuses a loop variable that shadows a declared name', () => {
    expect(diagnostics('account.TXNS.exists(account, true)')[0]).toMatch(/^CONDITION_TYPE_ERROR/);
  });
  it('fails closed (CONDITION_ERROR) when a condition orders a null', () => {
    const m = load(condition('account.LIMIT < 100'));
    const rec = base();
    rec.account.LIMIT = null;
    expect(m.derive(rec, { now: NOW })).toMatchObject({ ok: false, code: 'CONDITION_ERROR' });
    rec.account.LIMIT = 50;
    expect(m.derive(rec, { now: NOW })).toMatchObject({ ok: true });
  });
});

describe('aggregate facets', () => {
  const map = load();

  it('counts, sums, and takes max and min of the filtered items', () => {
    const rec = base();
    rec.account.TXNS = [txn(2500, 'PUR'), txn(1200, 'CHB'), txn(40, 'CHB'), txn(30000, 'RFD')];
    expect(facetsOf(map, rec)).toMatchObject({
      chargebacks: 'several',
      spend: 'high',
      largest: 'large',
      smallest: 'tiny',
      tags: 'some',
    });
    rec.account.TXNS = [];
    rec.account.TAGS = [];
    expect(facetsOf(map, rec)).toMatchObject({
      chargebacks: 'none',
      largest: 'none', // max of no items: the default
      smallest: 'other',
      tags: 'none',
    });
  });

  it('sums integers exactly, past 2^53, in any order', () => {
    // In doubles (2^53 - 1) + 2 - (2^53 - 1) is 1 (2^53 + 1 rounds to 2^53), and 2 in another
    // order; the exact sum is 2, which is not below 2.
    const big = Number.MAX_SAFE_INTEGER;
    expect(big + 2 - big).toBe(1);
    for (const order of [
      [big, 2, -big],
      [big, -big, 2],
      [2, -big, big],
    ]) {
      const rec = base();
      rec.account.TXNS = order.map((a) => txn(a, 'PUR'));
      expect(facetsOf(map, rec).spend).toBe('high');
    }
  });

  it('counts only items inside the window (now - P90D, now], and needs now only when there are items', () => {
    const rec = base();
    rec.account.TXNS = [
      txn(1, 'CHB', '2026-09-02T00:00:00Z'), // exactly 90 days before now: outside
      txn(1, 'CHB', '2026-12-01T00:00:01Z'), // after now: outside
    ];
    expect(facetsOf(map, rec).recent_chargebacks).toBe('none');
    rec.account.TXNS = [txn(1, 'CHB', '2026-09-02T00:00:01Z')];
    expect(facetsOf(map, rec).recent_chargebacks).toBe('some');
    expect(map.derive(rec)).toMatchObject({ ok: false, code: 'TIME_REQUIRED' });
    expect(map.derive(rec, { now: 'yesterday' })).toMatchObject({ ok: false, code: 'TIME_REQUIRED' });
    rec.account.TXNS = [];
    expect(map.derive(rec).ok).toBe(true);
  });

  it('is refused at load time when it reads what it cannot', () => {
    const facet = (from: string) =>
      MAP.replace(`from: { count: account.TXNS, where: "item.TYPE_CD == 'CHB'" }`, `from: ${from}`);
    const codes = (from: string, text = facet(from)) => {
      const r = loadStateMap(text, 'm.yaml');
      return r.ok ? [] : r.diagnostics.map((d) => d.code);
    };
    expect(codes('{ sum: account.TXNS.TYPE_CD }')).toEqual(['CONDITION_TYPE_ERROR']);
    expect(codes('{ count: account.ADDR }')).toEqual(['CONDITION_TYPE_ERROR']);
    expect(codes('{ count: account.TXNS.AMT_PENCE }')).toEqual(['CONDITION_TYPE_ERROR']);
    expect(codes('{ count: account.NOPE }')).toEqual(['UNKNOWN_REFERENCE']);
    expect(codes(`{ count: account.TXNS, where: "item.KIND == 'CHB'" }`)).toEqual(['CONDITION_UNKNOWN_NAME']);
    expect(codes(`{ count: account.TXNS, where: "item.AMT_PENCE" }`)).toEqual(['CONDITION_TYPE_ERROR']);
    expect(codes('{ count: account.TXNS, within: P90D }')).toEqual(['SCHEMA_INVALID']);
    expect(codes('{ count: account.TXNS, within: P90D, at: AMT_PENCE }')).toEqual(['CONDITION_TYPE_ERROR']);
    expect(codes('{ count: account.TXNS, within: P3M, at: AT }')).toEqual(['SCHEMA_INVALID']);
    expect(codes('x', MAP.replace('time: true\n', ''))).toEqual(['CONDITION_UNKNOWN_NAME']);
  });
});

describe('privacy of structured fields', () => {
  it('makes nested field names, item field names and item enum codes private vocabulary', () => {
    const words = load().privateVocabulary;
    for (const w of [
      'ADDR',
      'POST_CD',
      'CTRY_CD',
      'TXNS',
      'AMT_PENCE',
      'TYPE_CD',
      'CHB',
      'RFD',
      'NOTE',
      'TAGS',
    ])
      expect(words).toContain(w);
  });
  it('refuses a display value or free text read from a list or an object', () => {
    const withDisplay = (display: string) => `${MAP}display:\n${display}\n`;
    for (const d of [
      '  values: { t: { from: account.TXNS } }',
      '  values: { t: { from: account.TXNS.AMT_PENCE } }',
      '  values: { t: { from: account.ADDR } }',
      '  free_text: { t: { from: account.TXNS.NOTE } }',
    ]) {
      const r = loadStateMap(withDisplay(d), 'm.yaml');
      expect(!r.ok && r.diagnostics.map((x) => x.code), d).toEqual(['SCHEMA_INVALID']);
    }
    expect(loadStateMap(withDisplay('  values: { pc: { from: account.ADDR.POST_CD } }'), 'm.yaml').ok).toBe(
      true,
    );
  });
});

describe('determinism of aggregates', () => {
  const shuffled = <T>(xs: readonly T[]) =>
    fc.array(fc.nat(), { minLength: xs.length, maxLength: xs.length }).map((keys) =>
      xs
        .map((x, i) => [keys[i]!, i, x] as const)
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .map(([, , x]) => x),
    );

  it('derives the same state from any order of list items (property)', () => {
    const map = load();
    const item = fc.record({
      AMT_PENCE: fc.oneof(
        fc.integer({ min: -5, max: 5 }),
        fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
      ),
      TYPE_CD: fc.constantFrom('PUR', 'CHB', 'RFD'),
      AT: fc
        .date({ min: new Date('2026-06-01'), max: new Date('2026-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      NOTE: fc.constantFrom(null, 'n'),
    });
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 5 }).chain((items) => fc.tuple(fc.constant(items), shuffled(items))),
        ([items, permuted]) => {
          const a = base();
          a.account.TXNS = items;
          const b = base();
          b.account.TXNS = permuted;
          const ra = map.derive(a, { now: NOW });
          const rb = map.derive(b, { now: NOW });
          expect(rb).toEqual(ra);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each(['retail-banking', 'insurance-claims'] as const)(
    'derives the same state for the %s fixtures with their lists in any order (property)',
    (name) => {
      const map = loadFixtureMap(name);
      const records = [...fixtureRecords(name).values()].filter((r) => map.derive(r, { now: NOW }).ok);
      fc.assert(
        fc.property(fc.constantFrom(...records), fc.nat(), (rec, seed) => {
          const copy = structuredClone(rec) as Record<string, Record<string, unknown>>;
          let s = seed;
          for (const row of Object.values(copy))
            for (const [k, v] of Object.entries(row))
              if (Array.isArray(v))
                row[k] = [...(v as unknown[])].sort(() => ((s = (s * 1103515245 + 12345) % 2 ** 31) % 3) - 1);
          expect(map.derive(copy, { now: NOW })).toEqual(map.derive(rec, { now: NOW }));
        }),
        { numRuns: 200 },
      );
    },
  );

  it('is order-sensitive only where a condition reads an item by position', () => {
    const text = MAP.replace(
      `- { when: account.CLOSED_AT == null, value: 'yes' }`,
      `- { when: "account.TXNS[0].TYPE_CD == 'CHB'", value: 'yes' }`,
    );
    const map = load(text);
    const a = base();
    a.account.TXNS = [txn(1, 'CHB'), txn(2, 'PUR')];
    const b = base();
    b.account.TXNS = [txn(2, 'PUR'), txn(1, 'CHB')];
    expect(facetsOf(map, a).open).not.toBe(facetsOf(map, b).open);
  });
});

describe('safeCompile of structured fields from TypeScript', () => {
  it('accepts the issue spellings verbatim', () => {
    const r = safeCompile({
      edca: 'state-map/v1',
      name: 'spellings',
      version: '1',
      owner: 'ops',
      sources: {
        account: {
          fields: {
            CLOSED_AT: { type: 'timestamp', nullable: true },
            MIDDLE_NAME: { type: 'string', optional: true },
            ADDR: { type: 'object', fields: { POST_CD: 'string', CTRY_CD: 'string' } },
            TXNS: {
              type: 'list',
              max_items: 500,
              items: {
                type: 'object',
                fields: { AMT_PENCE: 'integer', TYPE_CD: { type: 'enum', values: ['PUR', 'CHB', 'RFD'] } },
              },
            },
          },
        },
      },
      facets: {
        chargebacks: {
          values: ['none', 'one', 'several'],
          from: { count: 'account.TXNS', where: "item.TYPE_CD == 'CHB'" },
          bands: [{ below: 1, value: 'none' }, { below: 2, value: 'one' }, { value: 'several' }],
        },
      },
      intents: { noop: { description: 'Nothing.' } },
    });
    expect(r.ok).toBe(true);
  });
});
