import fc from 'fast-check';
import { leafHash, merkleRoot } from '@edca/records';
import { describe, expect, it } from 'vitest';
import { MerkleFrontier } from '../../src/internal/merkle-frontier.js';

const leaves = (n: number): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`leaf ${i}`)));

describe('MerkleFrontier', () => {
  describe('when leaves are appended', () => {
    it('has the RFC 6962 root of every prefix, also after a store and load at any point', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (n, cut) => {
          const all = leaves(n);
          let f = MerkleFrontier.empty();
          all.forEach((leaf, i) => {
            if (i === Math.min(cut, n)) f = MerkleFrontier.decode(f.size, f.encode())!;
            f.append(leaf);
          });
          expect(f.size).toBe(n);
          expect(Buffer.from(f.root()).equals(Buffer.from(merkleRoot(all)))).toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  });

  describe('when the stored bytes do not fit the size', () => {
    it('refuses to load them', () => {
      const f = MerkleFrontier.empty();
      for (const leaf of leaves(5)) f.append(leaf);
      expect(f.encode()).toHaveLength(64); // 5 = 0b101: two subtrees
      expect(MerkleFrontier.decode(6, f.encode())).toBeDefined();
      expect(MerkleFrontier.decode(7, f.encode())).toBeUndefined();
      expect(MerkleFrontier.decode(5, f.encode().subarray(0, 63))).toBeUndefined();
      expect(MerkleFrontier.decode(-1, new Uint8Array(0))).toBeUndefined();
    });
  });
});
