import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { digestValue, type JsonValue } from '../src/index.js';
import { actionHashOf, refsOf } from '../src/action-hash.js';

// The refs an action hash covers: every opaque ref anywhere in the params, distinct and sorted. The
// first implementation (a Set filled by a recursive walk, then sorted) is the reference.
function referenceRefsOf(params: Record<string, JsonValue>): string[] {
  const found = new Set<string>();
  const walk = (value: JsonValue): void => {
    if (typeof value === 'string') {
      if (/^ref_[A-Za-z0-9_-]{22}$/.test(value)) found.add(value);
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (value !== null && typeof value === 'object') {
      for (const item of Object.values(value)) walk(item);
    }
  };
  for (const value of Object.values(params)) walk(value);
  return [...found].sort();
}

// A small pool, so the same ref recurs in one proposal, plus arbitrary ones.
const ref = fc.oneof(
  fc.constantFrom(`ref_${'A'.repeat(22)}`, `ref_${'b'.repeat(22)}`, `ref_${'_'.repeat(11)}${'-'.repeat(11)}`),
  fc.stringMatching(/^[A-Za-z0-9_-]{22}$/).map((s) => `ref_${s}`),
);
const leaf = fc.oneof(
  ref,
  ref,
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant('ref_short'),
);
const value: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('v'), { maxKeys: 3 }),
  ),
})).v;

describe('refsOf', () => {
  describe('when params hold refs at any depth, repeated or not', () => {
    it('gives exactly the distinct refs, sorted, as the reference walk does', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 5 }), (params) => {
          expect(refsOf(params)).toEqual(referenceRefsOf(params));
        }),
        { numRuns: 3000 },
      );
    });
  });
});

describe('actionHashOf', () => {
  describe('when a proposal names refs in its params', () => {
    it('is the digest of { intent, params, refs } with the refs the params hold', () => {
      const a = `ref_${'A'.repeat(22)}`;
      const b = `ref_${'b'.repeat(22)}`;
      const params = { to: b, from: { card: a }, list: [a, 'ref_short'] };
      expect(actionHashOf({ intent: 'move', params })).toBe(
        digestValue({ intent: 'move', params, refs: [a, b] }),
      );
    });
  });
});
