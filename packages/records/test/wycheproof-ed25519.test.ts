import { describe, expect, it } from 'vitest';
import { verifyEd25519 } from '@edca/records';
import { wycheproofEd25519 } from './ed25519-vectors.js';
import { BACKENDS } from './backends.js';
import { hex } from './vectors.js';

describe('Wycheproof ed25519_test.json', () => {
  const { numberOfTests, tests } = wycheproofEd25519();

  it('holds the 151 tests it announces', () => {
    expect(numberOfTests).toBe(151);
    expect(tests).toHaveLength(151);
    // The file has no "acceptable" verdicts: every test is a hard valid or invalid.
    expect(tests.filter((t) => t.result === 'acceptable')).toEqual([]);
  });

  for (const backend of BACKENDS) {
    describe(`when verifying with ${backend} under the strict policy`, () => {
      it('gives the expected verdict on 151 of 151', () => {
        const wrong = tests.filter(
          (t) => verifyEd25519(hex(t.pk), hex(t.msg), hex(t.sig), backend) !== (t.result === 'valid'),
        );
        expect(wrong.map((t) => `tc${t.tcId} ${t.comment}`)).toEqual([]);
      });
    });
  }

  describe(`when comparing the backends (${BACKENDS.join(', ')})`, () => {
    it('they agree on every test', () => {
      const differ = tests.filter(
        (t) => new Set(BACKENDS.map((b) => verifyEd25519(hex(t.pk), hex(t.msg), hex(t.sig), b))).size !== 1,
      );
      expect(differ).toEqual([]);
    });
  });
});
