import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { scaleExact } from '@edca/arp';

describe('scaleExact', () => {
  describe('when the product is a whole, safe integer', () => {
    it('multiplies exactly where floating point would not', () => {
      expect(1.005 * 1000).not.toBe(1005);
      expect(0.29 * 100).not.toBe(29);
      expect(scaleExact(0.29, 100)).toBe(29);
      expect(scaleExact(12.34, 100)).toBe(1234);
      expect(scaleExact(0.07, 100)).toBe(7);
      expect(scaleExact(1.005, 1000)).toBe(1005);
      expect(scaleExact(-2.5, 10)).toBe(-25);
      expect(scaleExact(-0, 100)).toBe(0);
      expect(scaleExact(3, 0.5)).toBeUndefined();
      expect(scaleExact(4, 0.5)).toBe(2);
    });

    it('round-trips every amount with at most two decimals', () => {
      fc.assert(
        fc.property(fc.integer({ min: -1e12, max: 1e12 }), (cents) => {
          expect(scaleExact(cents / 100, 100)).toBe(cents);
        }),
      );
    });
  });

  describe('when the product is not representable', () => {
    it('refuses fractions of the unit, unsafe integers and non-finite numbers', () => {
      expect(scaleExact(10.005, 100)).toBeUndefined();
      expect(scaleExact(1e-7, 100)).toBeUndefined();
      expect(scaleExact(1e300, 100)).toBeUndefined();
      expect(scaleExact(Number.MAX_SAFE_INTEGER, 10)).toBeUndefined();
      expect(scaleExact(Number.NaN, 100)).toBeUndefined();
      expect(scaleExact(Number.POSITIVE_INFINITY, 100)).toBeUndefined();
    });
  });
});
