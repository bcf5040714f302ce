import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize as jcs } from 'json-canonicalize';
import { canonicalBytes, canonicalize, digestBytes, digestValue } from '@edca/records';
import { ijsonValue } from './arbitraries.js';
import { anything, fast, outcome, slow } from './canonical-oracle.js';

// canonicalize composes the RFC 8785 text itself and reuses the text of deeply frozen containers;
// the slow path (the strict walk, then json-canonicalize) is the reference it must equal exactly.

const deepFreeze = <T>(v: T): T => {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
};

// A deep copy through JSON keeps the data and drops the frozen state.
const thaw = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('canonicalize (composing fast path)', () => {
  describe('when the value is strict I-JSON', () => {
    it('writes the bytes json-canonicalize writes, plain or deeply frozen, first or later call', () => {
      fc.assert(
        fc.property(ijsonValue, (v) => {
          const reference = jcs(v);
          expect(canonicalize(v)).toBe(reference);
          const frozen = deepFreeze(thaw(v));
          expect(canonicalize(frozen)).toBe(reference);
          expect(canonicalize(frozen)).toBe(reference); // now from the remembered text
        }),
        { numRuns: 2000 },
      );
    });

    it('splices remembered frozen parts into new containers byte for byte', () => {
      fc.assert(
        fc.property(ijsonValue, ijsonValue, fc.string(), (a, b, key) => {
          const part = deepFreeze(thaw(a));
          canonicalize(part); // remember it
          const outer = { [key]: part, z: [b, { inner: part === null ? 1 : 2 }] };
          const composed = { x: outer, y: [1, 'two', b] };
          expect(fast(composed)).toEqual(slow(composed));
          expect(canonicalize({ state: part, n: 1 })).toBe(jcs({ state: part, n: 1 }));
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('when digestValue hashes the text directly', () => {
    it('gives the digest of the canonical bytes, and the same refusal at the byte limit', () => {
      fc.assert(
        fc.property(ijsonValue, fc.integer({ min: 1, max: 300 }), (v, maxBytes) => {
          const viaBytes = (): string => digestBytes(canonicalBytes(v, { maxBytes }));
          const direct = (): string => digestValue(v, { maxBytes });
          expect(outcome(direct)).toEqual(outcome(viaBytes));
          expect(digestValue(v)).toBe(digestBytes(Buffer.from(jcs(v), 'utf8')));
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('when a value is refused or near a limit', () => {
    it('refuses exactly what the slow path refuses, with the same code, path and message', () => {
      fc.assert(
        fc.property(anything, (v) => {
          expect(fast(v)).toEqual(slow(v));
        }),
        { numRuns: 2000 },
      );
    });

    it('agrees at every depth and size limit, with remembered parts at any depth', () => {
      fc.assert(
        fc.property(
          ijsonValue,
          ijsonValue,
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 400 }),
          (a, b, maxDepth, maxBytes) => {
            const part = deepFreeze(thaw(a));
            canonicalize(part);
            const v = [[{ p: part }], b, part === null ? [] : [[part]]];
            const limits = { maxDepth, maxBytes };
            expect(fast(v, limits)).toEqual(slow(v, limits));
            expect(fast(part, limits)).toEqual(slow(part, limits));
          },
        ),
        { numRuns: 2000 },
      );
    });

    it('agrees when one object is reached twice (json-canonicalize calls some of those circular)', () => {
      const shared = deepFreeze({ k: [1, 2] });
      canonicalize(shared);
      for (const v of [
        { a: shared, ab: shared },
        { a: shared, b: shared },
        [shared, shared],
        { a: { k: shared.k }, b: shared },
      ]) {
        expect(fast(v)).toEqual(slow(v));
      }
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      expect(fast(cyclic)).toEqual(slow(cyclic));
    });

    it('does not remember a frozen object whose member is a getter', () => {
      let n = 0;
      const tricky = Object.freeze(Object.defineProperty({}, 'n', { enumerable: true, get: () => ++n }));
      expect(canonicalize(tricky)).toBe('{"n":1}');
      expect(canonicalize(tricky)).toBe('{"n":2}');
      expect(canonicalize({ t: tricky })).toBe('{"t":{"n":3}}');
    });
  });
});
