import { readdirSync, readFileSync } from 'node:fs';
import { stateMapJsonSchema, stateMapSchema } from '@edca/semantic';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fixture, readFixture, ROOT } from './helpers.js';

// The JSON Schema editors use is generated from the zod schema the loader checks with. Here it
// must agree with that zod schema: accept every valid fixture, reject every structurally invalid
// document (what zod refuses by shape, not by a cross-field rule), and be the file shipped.
const schema = stateMapJsonSchema();
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

const yamlDoc = (rel: string): unknown => parseYaml(readFixture(rel), { uniqueKeys: false }) as unknown;
const base = yamlDoc('invalid/valid-base.yaml') as Record<string, unknown>;

/** Whether zod refuses `doc` by its shape: some issue that is not a custom (cross-field) rule. */
function structurallyInvalid(doc: unknown): boolean {
  const r = stateMapSchema.safeParse(doc);
  return !r.success && r.error.issues.some((i) => i.code !== 'custom');
}

type Doc = Record<string, unknown> & {
  sources: { account: { fields: Record<string, unknown> } };
  facets: { limit_band: { from: unknown } };
};
const mutate = (f: (d: Doc) => void): unknown => {
  const d = structuredClone(base) as Doc;
  f(d);
  return d;
};
const account = (d: Doc): Record<string, unknown> => d.sources.account.fields;

// Each breaks the shape in one way, mostly in the new field types.
const STRUCTURAL: Record<string, unknown> = {
  'unknown top-level key': mutate((d) => (d.polices = {})),
  'missing owner': mutate((d) => delete d.owner),
  'bad map name': mutate((d) => (d.name = 'Overdraft Requests')),
  'unknown field type': mutate((d) => (account(d).X = 'decimal')),
  'list without max_items': mutate((d) => (account(d).X = { type: 'list', items: 'integer' })),
  'list over 10,000 items': mutate(
    (d) => (account(d).X = { type: 'list', max_items: 10_001, items: 'integer' }),
  ),
  'list without items': mutate((d) => (account(d).X = { type: 'list', max_items: 3 })),
  'object without fields': mutate((d) => (account(d).X = { type: 'object' })),
  'nullable not a boolean': mutate((d) => (account(d).X = { type: 'string', nullable: 'yes' })),
  'unknown key in a nested field': mutate(
    (d) => (account(d).X = { type: 'object', fields: { Y: { type: 'integer', max_items: 3 } } }),
  ),
  'bad nested field name': mutate((d) => (account(d).X = { type: 'object', fields: { 'Y-Z': 'integer' } })),
  'unknown aggregate': mutate((d) => (d.facets.limit_band.from = { avg: 'account.OD_LIMIT_CENTS' })),
  'aggregate with an unknown key': mutate(
    (d) => (d.facets.limit_band.from = { count: 'account.X', filter: "item == 'a'" }),
  ),
  'window with months': mutate(
    (d) => (d.facets.limit_band.from = { count: 'account.X', within: 'P3M', at: 'T' }),
  ),
  'size with a filter': mutate((d) => (d.facets.limit_band.from = { size: 'account.X', where: 'true' })),
  'string max_length over the bound': mutate(
    (d) => (account(d).X = { type: 'string', max_length: 1_000_001 }),
  ),
};

describe('the state-map JSON Schema', () => {
  it('is the file shipped in the package, as `edca schema state-map` prints it', () => {
    const shipped = JSON.parse(
      readFileSync(`${ROOT}packages/semantic/state-map.schema.json`, 'utf8'),
    ) as unknown;
    expect(shipped).toEqual(schema);
  });

  it.each(['maps/retail-banking.yaml', 'maps/insurance-claims.yaml', 'invalid/valid-base.yaml'])(
    'accepts the valid fixture %s, which references it for editors',
    (rel) => {
      expect(validate(yamlDoc(rel)), JSON.stringify(validate.errors)).toBe(true);
      if (rel.startsWith('maps/'))
        expect(readFixture(rel)).toMatch(
          /^# yaml-language-server: \$schema=\.\.\/\.\.\/packages\/semantic\/state-map\.schema\.json$/m,
        );
    },
  );

  it('accepts every invalid fixture whose error is not structural, and rejects every structural one', () => {
    const files = readdirSync(fixture('invalid')).filter(
      (f) => f.endsWith('.yaml') && f !== 'parse-error.yaml',
    );
    let rejected = 0;
    for (const f of files) {
      const doc = yamlDoc(`invalid/${f}`);
      const structural = structurallyInvalid(doc);
      expect(validate(doc), f).toBe(!structural);
      if (structural) rejected++;
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it.each(Object.entries(STRUCTURAL))('rejects a document with %s, as zod does', (_what, doc) => {
    expect(structurallyInvalid(doc)).toBe(true);
    expect(validate(doc)).toBe(false);
  });

  it('accepts the new field types and aggregates in every spelling zod accepts', () => {
    const doc = mutate((d) => {
      Object.assign(account(d), {
        CLOSED_AT: { type: 'timestamp', nullable: true },
        MIDDLE_NAME: { type: 'string', optional: true },
        ADDR: { type: 'object', fields: { POST_CD: 'string', CTRY_CD: 'string' } },
        TXNS: {
          type: 'list',
          max_items: 500,
          items: {
            type: 'object',
            fields: { AMT_PENCE: 'integer', TYPE_CD: { type: 'enum', values: ['CHB'] } },
          },
        },
      });
      d.facets.limit_band.from = {
        count: 'account.TXNS',
        where: "item.TYPE_CD == 'CHB'",
        within: 'P90D',
        at: 'AT',
      };
    });
    expect(structurallyInvalid(doc)).toBe(false);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  });
});
