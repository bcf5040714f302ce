import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toRfc3339 } from '@edca/kernel';

// toRfc3339 remembers the text of the last two seconds it formatted; new Date(ms).toISOString() is
// the reference it must equal for every input, in any order of calls.
const reference = (ms: number): string | { thrown: string } => {
  try {
    return new Date(ms).toISOString();
  } catch (e) {
    return { thrown: (e as Error).name };
  }
};
const actual = (ms: number): string | { thrown: string } => {
  try {
    return toRfc3339(ms);
  } catch (e) {
    return { thrown: (e as Error).name };
  }
};

const DATE_MAX = 8.64e15;
const someMs = fc.oneof(
  fc.integer({ min: -DATE_MAX, max: DATE_MAX }),
  fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
  fc.integer({ min: -2000, max: 2000 }),
  fc.constantFrom(DATE_MAX, -DATE_MAX, DATE_MAX + 1, -DATE_MAX - 1, 253402300799999, 253402300800000),
  fc.double({ noNaN: false }),
);

describe('toRfc3339', () => {
  describe('when called in any order, near and far apart', () => {
    it('gives exactly what Date.prototype.toISOString gives, or throws the same error', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(someMs, fc.array(fc.integer({ min: -1500, max: 1500 }), { maxLength: 6 })), {
            maxLength: 20,
          }),
          (runs) => {
            for (const [start, steps] of runs) {
              expect(actual(start)).toEqual(reference(start));
              // Neighbours of the last input: mostly the remembered seconds, across their edges.
              for (const step of steps) {
                const ms = Number.isSafeInteger(start) ? start + step : step;
                expect(actual(ms)).toEqual(reference(ms));
              }
            }
          },
        ),
        { numRuns: 2000 },
      );
    });
  });

  describe('when the milliseconds need padding', () => {
    it('writes three digits, for positive and negative times', () => {
      for (const ms of [
        1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_010, 1_700_000_000_999, -1, -999, -1000, -1001,
      ]) {
        toRfc3339(ms - (ms % 1000)); // remember the second first
        expect(toRfc3339(ms)).toBe(new Date(ms).toISOString());
      }
    });
  });
});
