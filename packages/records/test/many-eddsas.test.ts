import { describe, expect, it } from 'vitest';
import { verifyEd25519 } from '@edca/records';
import { decodePoint, isSmallOrder, L, leToBigint } from '../src/internal/edwards.js';
import { edgeCases } from './ed25519-vectors.js';
import { BACKENDS } from './backends.js';
import { hex } from './vectors.js';

// "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko; eprint 2020/1244), Table 5/6 cases 0–11.
// The strict policy accepts only case 3 (mixed-order A and R, valid under the cofactorless
// equation); see docs/signatures.md for the case-by-case reasons.
const EXPECTED_ACCEPTED = [3];

describe('the 12 "many EdDSAs" edge cases', () => {
  const cases = edgeCases();

  it('has 12 cases', () => {
    expect(cases).toHaveLength(12);
  });

  for (const backend of BACKENDS) {
    describe(`when verifying with ${backend}`, () => {
      it(`accepts exactly cases ${EXPECTED_ACCEPTED.join(', ')}`, () => {
        const accepted = cases
          .map((c, i) => (verifyEd25519(hex(c.pub_key), hex(c.message), hex(c.signature), backend) ? i : -1))
          .filter((i) => i >= 0);
        expect(accepted).toEqual(EXPECTED_ACCEPTED);
      });
    });
  }

  describe('when classifying why a case is refused', () => {
    it('each refused case breaks a stated rule of the policy or the cofactorless equation', () => {
      const reasons = cases.map((c) => {
        const sig = hex(c.signature);
        const a = decodePoint(hex(c.pub_key));
        const r = decodePoint(sig.subarray(0, 32));
        const s = leToBigint(sig.subarray(32));
        if (s >= L) return 'S ≥ L';
        if (a === undefined) return 'A non-canonical';
        if (isSmallOrder(a)) return 'A small order';
        if (r === undefined) return 'R non-canonical';
        if (isSmallOrder(r)) return 'R small order';
        return 'equation';
      });
      expect(reasons).toEqual([
        'A small order',
        'A small order',
        'R small order',
        'equation', // case 3: accepted (the cofactorless equation holds)
        'equation', // 4, 5: hold only under the cofactored equation
        'equation',
        'S ≥ L',
        'S ≥ L',
        'R non-canonical',
        'R non-canonical',
        'A non-canonical',
        'A non-canonical',
      ]);
    });
  });
});
