import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sourceChecks } from '../src/internal/compile.js';

// derive checks every source row on every decision; a hand-written check accepts the common rows
// without zod and otherwise leaves the decision (and the refusal message) to zod. It must never
// accept a row zod refuses: the implication is checked here over field specs and arbitrary rows.
type FieldSpec = Parameters<typeof sourceChecks>[0][string];

const scalarSpec: fc.Arbitrary<FieldSpec> = fc.oneof(
  fc.constant<FieldSpec>({ type: 'string' }),
  fc.integer({ min: 1, max: 6 }).map((max_length): FieldSpec => ({ type: 'string', max_length })),
  fc.constantFrom<FieldSpec>(
    { type: 'integer' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'timestamp' },
  ),
  fc
    .uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 })
    .map((values): FieldSpec => ({ type: 'enum', values })),
);

/** Any field: scalars, objects and lists (nested), each maybe nullable and/or optional. */
const fieldSpec: fc.Arbitrary<FieldSpec> = fc
  .letrec<{ field: FieldSpec }>((tie) => ({
    field: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalarSpec,
      fc
        .dictionary(fc.constantFrom('a', 'b', 'c'), tie('field'), { minKeys: 1, maxKeys: 3 })
        .map((fields): FieldSpec => ({ type: 'object', fields })),
      fc
        .tuple(fc.integer({ min: 1, max: 3 }), tie('field'))
        .map(([max_items, items]): FieldSpec => ({ type: 'list', max_items, items })),
    ),
  }))
  .field.chain((f) =>
    fc
      .record({ nullable: fc.boolean(), optional: fc.boolean() }, { requiredKeys: [] })
      .map((flags): FieldSpec => ({ ...f, ...flags })),
  );

const fieldValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('a', 'b', 'ab', '😀😀😀', '2026-11-21T07:43:09.123Z', '2026-11-21T07:43:09+01:00', ''),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, -0, Number.NaN, Infinity, 0.5),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.anything(),
  fc.constantFrom({ a: 1, b: 'x', c: null }, { a: null }, [1, 2], [{ a: 1 }, { a: 'x' }], [], [[1]], {}),
);

const ABSENT = Symbol('absent');

/** Values shaped like the declaration (deep), with junk, nulls and absences mixed in at every level. */
function valueFor(f: FieldSpec): fc.Arbitrary<unknown> {
  const shaped = ((): fc.Arbitrary<unknown> => {
    switch (f.type) {
      case 'string':
        return fc.string({ maxLength: (f.max_length ?? 6) + 1 });
      case 'integer':
        return fc.oneof(fc.integer(), fc.constant(2 ** 53), fc.constant(0.5));
      case 'number':
        return fc.oneof(fc.double(), fc.constant(Number.NaN));
      case 'boolean':
        return fc.boolean();
      case 'timestamp':
        return fc.constantFrom('2026-11-21T07:43:09Z', 'yesterday');
      case 'enum':
        return fc.oneof(fc.constantFrom(...f.values), fc.string({ maxLength: 3 }));
      case 'object':
        return fc
          .tuple(...Object.entries(f.fields).map(([n, sub]) => valueFor(sub).map((v) => [n, v] as const)))
          .map((pairs) => Object.fromEntries(pairs.filter(([, v]) => v !== ABSENT)));
      case 'list':
        return fc.array(valueFor(f.items), { maxLength: f.max_items + 1 });
    }
  })();
  return fc.oneof(
    { weight: 8, arbitrary: shaped },
    { weight: 1, arbitrary: fc.constantFrom(null, ABSENT, undefined, 'x', 3, [], {}) },
  );
}

describe('sourceChecks', () => {
  describe('when the hand-written check accepts a row', () => {
    it('is a row the zod schema accepts too, for nested values of structured fields', () => {
      let accepted = 0;
      fc.assert(
        fc.property(
          fieldSpec.chain((f) => fc.tuple(fc.constant(f), valueFor(f))),
          ([f, v]) => {
            const { schema, accepts } = sourceChecks({ x: f });
            const row = v === ABSENT ? {} : { x: v };
            if (accepts(row)) {
              accepted++;
              expect(schema.safeParse(row).success).toBe(true);
            }
          },
        ),
        { numRuns: 3000 },
      );
      // Mostly well-shaped values, so the implication is exercised, not vacuous.
      expect(accepted).toBeGreaterThan(300);
    });
    it('is a row the zod schema accepts too', () => {
      fc.assert(
        fc.property(
          fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fieldSpec, { minKeys: 1, maxKeys: 4 }),
          fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fieldValue, { maxKeys: 3 }),
          fc.array(fieldValue, { minLength: 4, maxLength: 4 }),
          fc.constantFrom('plain', 'null-proto', 'class', 'array'),
          (fields, extra, values, kind) => {
            const { schema, accepts } = sourceChecks(fields);
            const names = Object.keys(fields);
            const data: Record<string, unknown> = { ...extra };
            names.forEach((n, i) => {
              data[n] = values[i % values.length];
            });
            const row: object =
              kind === 'plain'
                ? data
                : kind === 'null-proto'
                  ? Object.assign(Object.create(null) as object, data)
                  : kind === 'class'
                    ? Object.assign(new (class Row {})(), data)
                    : Object.assign([], data);
            if (accepts(row)) expect(schema.safeParse(row).success).toBe(true);
          },
        ),
        { numRuns: 5000 },
      );
    });

    it('accepts the usual rows (so the fast path is taken at all)', () => {
      const { accepts } = sourceChecks({
        id: { type: 'string', max_length: 8 },
        n: { type: 'integer' },
        x: { type: 'number' },
        ok: { type: 'boolean' },
        st: { type: 'enum', values: ['A', 'B'] },
      });
      expect(accepts({ id: 'C-1', n: 3, x: 1.5, ok: true, st: 'B', other: 'ignored' })).toBe(true);
      expect(accepts({ id: 'C-123456789', n: 3, x: 1.5, ok: true, st: 'B' })).toBe(false);
      expect(accepts({ id: 'C-1', n: 2 ** 53, x: 1.5, ok: true, st: 'B' })).toBe(false);
      expect(accepts({ id: 'C-1', n: 3, x: Number.NaN, ok: true, st: 'B' })).toBe(false);
      expect(accepts({ id: 'C-1', n: 3, x: 1.5, ok: 'yes', st: 'B' })).toBe(false);
      expect(accepts({ id: 'C-1', n: 3, x: 1.5, ok: true, st: 'C' })).toBe(false);
    });
  });
});
