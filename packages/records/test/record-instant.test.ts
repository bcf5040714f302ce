import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRecordInstant } from '@edca/records';

/** The definition: the `at` shape, and what Date.prototype.toISOString writes for that instant. */
const reference = (at: unknown): boolean => {
  if (typeof at !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(at)) return false;
  const ms = Date.parse(at);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === at;
};

const digits = (n: number) => fc.stringMatching(new RegExp(`^\\d{${n}}$`));
/** Texts of the `at` shape with any digits: most name no instant (month 13, Feb 30, hour 24, …). */
const shaped = fc
  .tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(3))
  .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
const real = fc
  .date({
    min: new Date('0000-01-01T00:00:00Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());

describe('isRecordInstant', () => {
  describe('when given texts of the at shape, real instants, or anything', () => {
    it('answers exactly as the Date round trip', () => {
      fc.assert(
        fc.property(fc.oneof(shaped, real, fc.string(), fc.anything()), (at) => {
          expect(isRecordInstant(at)).toBe(reference(at));
        }),
        { numRuns: 20_000 },
      );
    });

    it('knows leap days and month lengths', () => {
      expect(isRecordInstant('2024-02-29T00:00:00.000Z')).toBe(true);
      expect(isRecordInstant('2100-02-29T00:00:00.000Z')).toBe(false);
      expect(isRecordInstant('2000-02-29T23:59:59.999Z')).toBe(true);
      expect(isRecordInstant('2026-04-31T00:00:00.000Z')).toBe(false);
      expect(isRecordInstant('2026-01-01T24:00:00.000Z')).toBe(false);
      expect(isRecordInstant('2026-01-01T00:00:00Z')).toBe(false);
      expect(isRecordInstant(Date.parse('2026-01-01T00:00:00.000Z'))).toBe(false);
    });
  });
});
