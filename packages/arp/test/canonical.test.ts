import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize } from '@edca/records';
import { canonicalJson } from '../src/internal/canonical.js';

describe('canonicalJson', () => {
  describe('when given any I-JSON value', () => {
    it('produces the same bytes as the RFC 8785 canonicalize of @edca/records', () => {
      fc.assert(
        fc.property(fc.jsonValue({ noUnicodeString: false }), (value) => {
          let expected: string;
          try {
            expected = canonicalize(value);
          } catch {
            return; // not I-JSON (unsafe integer, lone surrogate): views never hold such values
          }
          expect(canonicalJson(value)).toBe(expected);
        }),
        { numRuns: 500 },
      );
    });
  });
});
