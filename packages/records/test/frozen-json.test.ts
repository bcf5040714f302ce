import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize as jcs } from 'json-canonicalize';
import { canonicalize, toFrozenJson } from '@edca/records';
import { ijsonValue } from './arbitraries.js';
import { anything, fast, slow } from './canonical-oracle.js';

// toFrozenJson copies plain I-JSON data into deeply frozen containers whose canonical text is
// remembered as the copy is made. The slow path (the strict walk, then json-canonicalize) on the
// ORIGINAL value is the reference: canonicalize of the copy, alone or inside other values, at any
// limits, must give the same text or the same refusal.

const isDeeplyFrozen = (v: unknown): boolean =>
  typeof v !== 'object' ||
  v === null ||
  (Object.isFrozen(v) && Object.values(v).every((member) => isDeeplyFrozen(member)));

// A "__proto__" member cannot be copied by assignment: toFrozenJson answers undefined for it.
const hasProtoKey = (v: unknown): boolean =>
  typeof v === 'object' &&
  v !== null &&
  (Object.hasOwn(v, '__proto__') || Object.values(v).some((member) => hasProtoKey(member)));

describe('toFrozenJson', () => {
  describe('when the value is strict I-JSON', () => {
    it('copies it deeply frozen, equal, leaving the original as it was', () => {
      fc.assert(
        fc.property(ijsonValue, (v) => {
          fc.pre(!hasProtoKey(v));
          const before = jcs(v);
          const copy = toFrozenJson(v);
          expect(copy).toEqual(v);
          expect(isDeeplyFrozen(copy)).toBe(true);
          expect(jcs(v)).toBe(before);
          if (typeof v === 'object' && v !== null) {
            expect(copy).not.toBe(v);
            expect(Object.isFrozen(v)).toBe(false);
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('canonicalizes the copy, alone or inside new containers, exactly as the original at any limit', () => {
      fc.assert(
        fc.property(
          ijsonValue,
          ijsonValue,
          fc.integer({ min: 1, max: 10 }),
          fc.integer({ min: 1, max: 600 }),
          (a, b, maxDepth, maxBytes) => {
            fc.pre(!hasProtoKey(a));
            const copy = toFrozenJson(a);
            const limits = { maxDepth, maxBytes };
            expect(fast(copy)).toEqual(slow(a));
            expect(fast(copy, limits)).toEqual(slow(a, limits));
            const inside = (x: unknown): unknown => ({ k: [b, { x }], n: 1 });
            expect(fast(inside(copy))).toEqual(slow(inside(a)));
            expect(fast(inside(copy), limits)).toEqual(slow(inside(a), limits));
          },
        ),
        { numRuns: 2000 },
      );
    });

    it('shares a remembered frozen part instead of copying it, and still agrees with the slow path', () => {
      fc.assert(
        fc.property(ijsonValue, ijsonValue, (a, b) => {
          fc.pre(!hasProtoKey(a) && !hasProtoKey(b));
          const part = toFrozenJson(a);
          const copy = toFrozenJson({ part, b });
          expect(copy?.part).toBe(part);
          expect(fast(copy)).toEqual(slow({ part: a, b }));
          // The same part reached twice: the copy is refused (json-canonicalize calls some of those
          // circular), or canonicalize of a value holding it twice takes the slow path.
          if (typeof part === 'object' && part !== null)
            expect(toFrozenJson({ p: part, q: part })).toBeUndefined();
          expect(fast([copy, part])).toEqual(slow([{ part: a, b }, a]));
        }),
        { numRuns: 1000 },
      );
    });

    it('writes sorted members for objects with many keys, keeping the original member order', () => {
      fc.assert(
        fc.property(fc.dictionary(fc.string(), ijsonValue, { minKeys: 17, maxKeys: 60 }), (v) => {
          const copy = toFrozenJson(v);
          if (hasProtoKey(v)) {
            expect(copy).toBeUndefined();
            return;
          }
          expect(canonicalize(copy)).toBe(jcs(v));
          expect(Object.keys(copy!)).toEqual(Object.keys(v));
        }),
        { numRuns: 200 },
      );
    });

    it('agrees with the slow path for a value holding one copy, or two parts of it, twice', () => {
      const copy = toFrozenJson({ a: { k: [1, 2] }, ab: { k: [3] } })!;
      for (const v of [
        { a: copy, ab: copy },
        { a: copy, b: copy },
        [copy, copy],
        { a: copy.a, ab: copy },
        { a: copy.a, b: copy.ab },
        { x: copy.a.k, y: copy.a },
      ]) {
        expect(fast(v)).toEqual(slow(v));
      }
    });
  });

  describe('when the value is not plain I-JSON data', () => {
    it('answers undefined, or a copy that canonicalizes exactly as the original', () => {
      fc.assert(
        fc.property(anything, (v) => {
          const copy = toFrozenJson(v);
          if (copy !== undefined) {
            expect(fast(copy)).toEqual(slow(v));
            expect(isDeeplyFrozen(copy)).toBe(true);
          }
        }),
        { numRuns: 3000 },
      );
    });

    it('answers undefined for each value the slow path refuses or treats specially', () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      const shared = { k: 1 };
      let deep: unknown = 1;
      for (let i = 0; i < 70; i++) deep = [deep];
      for (const v of [
        undefined,
        Number.NaN,
        2 ** 60,
        '\ud800',
        { [String.fromCharCode(0xdc00)]: 1 },
        { a: undefined },
        [1, , 3], // eslint-disable-line no-sparse-arrays
        new Date(0),
        { toJSON: () => 1 },
        { [Symbol('s')]: 1 },
        Object.defineProperty({}, '__proto__', { value: 1, enumerable: true }),
        cyclic,
        { a: shared, b: shared },
        deep,
        { big: 'x'.repeat(1_100_000) },
        () => 1,
        1n,
      ]) {
        expect(toFrozenJson(v)).toBeUndefined();
      }
    });

    it('reads a getter once and copies its value as data', () => {
      let n = 0;
      const tricky = Object.defineProperty({}, 'n', { enumerable: true, get: () => ++n });
      const copy = toFrozenJson({ t: tricky });
      expect(copy).toEqual({ t: { n: 1 } });
      expect(canonicalize(copy)).toBe('{"t":{"n":1}}');
      expect(canonicalize(copy)).toBe('{"t":{"n":1}}');
      expect(n).toBe(1);
    });
  });

  describe('when the copy is spread or cloned', () => {
    it('gives plain objects that canonicalize as data, carrying no remembered text', () => {
      const copy = toFrozenJson({ a: 1, b: { c: 'x' } })!;
      const spread = { ...copy, a: 2 };
      expect(canonicalize(spread)).toBe('{"a":2,"b":{"c":"x"}}');
      expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
      expect(Object.keys(copy)).toEqual(['a', 'b']);
      expect(canonicalize(structuredClone(copy))).toBe('{"a":1,"b":{"c":"x"}}');
    });
  });
});
