import { describe, expect, it } from 'vitest';
import { digestBytes, digestEquals, digestValue, isDigest, sha256, toDigest } from '@edca/records';

describe('digests', () => {
  describe('when hashing', () => {
    it('formats sha256:<64 lower-case hex> (FIPS 180-4 "abc")', () => {
      expect(digestBytes('abc')).toBe(
        'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
      expect(toDigest(sha256(new TextEncoder().encode('abc')))).toBe(digestBytes('abc'));
      expect(isDigest(digestBytes(''))).toBe(true);
    });
    it('digests values by their canonical bytes', () => {
      expect(digestValue({ b: [1, 2], a: 'x' })).toBe(digestBytes('{"a":"x","b":[1,2]}'));
    });
    it('refuses a hash that is not 32 bytes', () => {
      expect(() => toDigest(new Uint8Array(31))).toThrow(RangeError);
    });
  });
  describe('when comparing', () => {
    it('is true only for identical strings, of any length', () => {
      const a = digestBytes('a');
      expect(digestEquals(a, digestBytes('a'))).toBe(true);
      expect(digestEquals(a, digestBytes('b'))).toBe(false);
      expect(digestEquals(a, a.slice(0, -1))).toBe(false);
      expect(digestEquals(a, a.toUpperCase())).toBe(false);
    });
    it('rejects malformed digests in isDigest', () => {
      expect(isDigest(`sha256:${'A'.repeat(64)}`)).toBe(false);
      expect(isDigest(`sha512:${'a'.repeat(64)}`)).toBe(false);
      expect(isDigest(`sha256:${'a'.repeat(63)}`)).toBe(false);
    });
  });
});
