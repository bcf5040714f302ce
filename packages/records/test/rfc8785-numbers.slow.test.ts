import { describe, expect, it } from 'vitest';
import { checkFirst, expectedChecksums } from './es6-numbers.js';

describe('RFC 8785 §3.2.2.3 number serialization, 1,000,000 generated numbers', () => {
  describe('when serializing the first 1,000,000', () => {
    it('reproduces the README checksum', () => {
      expect(checkFirst(1_000_000).sha256).toBe(expectedChecksums().get(1_000_000));
    });
  });
});
