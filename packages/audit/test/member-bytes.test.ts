import { canonicalize, digestValue, type JsonValue } from '@edca/records';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstObjectMember } from '../src/internal/member-bytes.js';

const MARKER = Buffer.from('"input":');

describe('firstObjectMember', () => {
  describe('when the line is a canonical decision-like record', () => {
    it('returns exactly the canonical bytes of input, for any input and any earlier strings', () => {
      const isIJson = (v: unknown): boolean => {
        try {
          canonicalize(v);
          return true;
        } catch {
          return false;
        }
      };
      const json = (fc.jsonValue() as fc.Arbitrary<JsonValue>).filter(isIJson);
      fc.assert(
        fc.property(
          fc.string({ unit: 'binary' }).filter(isIJson),
          fc.string().filter(isIJson),
          fc.dictionary(fc.string(), json),
          (at, accountable, input) => {
            const line = Buffer.from(canonicalize({ at, body: { accountable, input, zz: 1 }, kid: 'k' }));
            const slice = firstObjectMember(line, MARKER);
            expect(slice?.toString()).toBe(canonicalize(input));
            expect(digestValue(input)).toBe(digestValue(JSON.parse(slice!.toString()) as JsonValue));
          },
        ),
        { numRuns: 300, seed: 6 },
      );
    });
  });

  describe('when there is no such member or it is not an object', () => {
    it('returns undefined', () => {
      expect(firstObjectMember(Buffer.from('{"a":1}'), MARKER)).toBeUndefined();
      expect(firstObjectMember(Buffer.from('{"input":[1]}'), MARKER)).toBeUndefined();
      expect(firstObjectMember(Buffer.from('{"input":{"a":'), MARKER)).toBeUndefined();
    });
  });
});
