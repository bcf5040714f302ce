import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize as jcs } from 'json-canonicalize';
import { canonicalBytes, canonicalize, digestBytes, digestValue } from '@edca/records';
import { ijsonValue } from './arbitraries.js';
import { fast, outcome, slow } from './canonical-oracle.js';

// canonicalize composes the RFC 8785 text itself and reuses the text of deeply frozen containers;
// the slow path (the strict walk, then json-canonicalize) is the reference it must equal exactly.
// The differential property over any value and limit is the shared fast-path harness's
// (test/fast-paths); these are the cases around it.

const deepFreeze = <T>(v: T): T => {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
};

describe('canonicalize (composing fast path)', () => {
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
