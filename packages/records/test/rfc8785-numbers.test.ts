import { describe, expect, it } from 'vitest';
import { checkFirst, expectedChecksums } from './es6-numbers.js';

describe('RFC 8785 §3.2.2.3 number serialization (cyberphone ES6 test sequence)', () => {
  describe('when serializing the first 10,000 generated numbers', () => {
    it('reproduces the README checksums for 1,000 and 10,000 lines', () => {
      const sums = expectedChecksums();
      expect(checkFirst(1000).sha256).toBe(sums.get(1000));
      const r = checkFirst(10_000);
      expect(r.sha256).toBe(sums.get(10_000));
      expect(r.refused).toBeGreaterThan(0);
    });
  });
});
