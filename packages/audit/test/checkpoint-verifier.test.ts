import { leafHash } from '@edca/records';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastLeafHash } from '../src/internal/checkpoint-verifier.js';

describe('fastLeafHash', () => {
  describe('when given lines of any length, one after the other', () => {
    it('equals records.leafHash (RFC 6962 §2.1) on each', () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ maxLength: 9000 }), { maxLength: 20 }), (lines) => {
          for (const l of lines) {
            const b = Buffer.from(l);
            expect(Buffer.from(fastLeafHash(b)).equals(Buffer.from(leafHash(b)))).toBe(true);
          }
        }),
        { numRuns: 100, seed: 3 },
      );
    });
  });
});
