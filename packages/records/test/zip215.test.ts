import { describe, expect, it } from 'vitest';
import { verifyEd25519 } from '@edca/records';
import { decodePoint, isSmallOrder } from '../src/internal/edwards.js';
import { zip215 } from './ed25519-vectors.js';
import { BACKENDS } from './backends.js';
import { hex } from './vectors.js';

// ZIP-215 cases: every combination of small-order A and R encodings (canonical and not), signed
// over "Zcash". ZIP-215 (cofactored, lenient decoding) accepts all 196; the strict policy refuses all,
// because each has a small-order or non-canonical A or R.
describe('the ZIP-215 set', () => {
  const cases = zip215();
  const message = new TextEncoder().encode('Zcash');

  it('has 196 cases, all valid under ZIP-215', () => {
    expect(cases).toHaveLength(196);
    expect(cases.every((c) => c.valid_zip215)).toBe(true);
  });

  for (const backend of BACKENDS) {
    describe(`when verifying with ${backend}`, () => {
      it('refuses every case', () => {
        const accepted = cases.filter((c) =>
          verifyEd25519(hex(c.vk_bytes), message, hex(c.sig_bytes), backend),
        );
        expect(accepted).toEqual([]);
      });
    });
  }

  describe('when classifying the cases', () => {
    it('each has a small-order or non-canonical A or R', () => {
      const bad = (enc: Uint8Array): boolean => {
        const p = decodePoint(enc);
        return p === undefined || isSmallOrder(p);
      };
      const ok = cases.filter((c) => !bad(hex(c.vk_bytes)) && !bad(hex(c.sig_bytes).subarray(0, 32)));
      expect(ok).toEqual([]);
    });
    it('includes the 3 that legacy (RFC 8032 cofactorless) verifiers accept, refused for their small-order key', () => {
      const legacy = cases.filter((c) => c.valid_legacy);
      expect(legacy).toHaveLength(3);
      for (const c of legacy) {
        const a = decodePoint(hex(c.vk_bytes));
        expect(a !== undefined && isSmallOrder(a)).toBe(true);
      }
    });
  });
});
