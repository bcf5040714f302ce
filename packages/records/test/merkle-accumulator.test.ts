import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, MerkleAccumulator, merkleRoot } from '../src/index.js';

const lineArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  // Longer than the initial leaf buffer, so it has to grow.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 4096, maxLength: 9000 }) },
);

describe('MerkleAccumulator', () => {
  describe('when lines or leaf hashes are appended one by one', () => {
    it('has the merkleRoot of every prefix, by appendLine and by append alike (property)', () => {
      fc.assert(
        fc.property(fc.array(lineArb, { maxLength: 70 }), (lines) => {
          const byLine = new MerkleAccumulator();
          const byLeaf = new MerkleAccumulator();
          const leaves: Uint8Array[] = [];
          for (const line of lines) {
            byLine.appendLine(line);
            byLeaf.append(leafHash(line));
            leaves.push(leafHash(line));
            const root = Buffer.from(merkleRoot(leaves));
            expect(byLine.root().equals(root)).toBe(true);
            expect(byLeaf.root().equals(root)).toBe(true);
            expect(byLine.size).toBe(leaves.length);
          }
        }),
        { numRuns: 150 },
      );
    });
  });

  describe('when the frontier is stored and loaded at any point', () => {
    it('goes on to the RFC 6962 root of every size, and a clone does not share state', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (n, cut) => {
          const all = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
          let acc = new MerkleAccumulator();
          let copy: MerkleAccumulator | undefined;
          all.forEach((leaf, i) => {
            if (i === Math.min(cut, n)) {
              acc = MerkleAccumulator.fromFrontier(acc.size, acc.frontier())!;
              copy = acc.clone();
            }
            acc.append(leaf);
          });
          expect(acc.size).toBe(n);
          expect(acc.root().equals(Buffer.from(merkleRoot(all)))).toBe(true);
          if (copy !== undefined) {
            const at = Math.min(cut, n);
            expect(copy.size).toBe(at);
            expect(copy.root().equals(Buffer.from(merkleRoot(all.slice(0, at))))).toBe(true);
          }
        }),
        { numRuns: 60 },
      );
    });
  });

  describe('when the stored frontier does not fit the size', () => {
    it('refuses to load it', () => {
      const acc = new MerkleAccumulator();
      for (let i = 0; i < 5; i++) acc.append(leafHash(Buffer.from([i])));
      expect(acc.frontier()).toHaveLength(64); // 5 = 0b101: two subtrees
      expect(MerkleAccumulator.fromFrontier(6, acc.frontier())).toBeDefined();
      expect(MerkleAccumulator.fromFrontier(7, acc.frontier())).toBeUndefined();
      expect(MerkleAccumulator.fromFrontier(5, acc.frontier().subarray(0, 63))).toBeUndefined();
      expect(MerkleAccumulator.fromFrontier(-1, new Uint8Array(0))).toBeUndefined();
      expect(MerkleAccumulator.fromFrontier(0.5, new Uint8Array(0))).toBeUndefined();
    });
  });

  describe('when a leaf hash is not 32 bytes', () => {
    it('throws MERKLE_HASH_LENGTH', () => {
      const acc = new MerkleAccumulator();
      expect(() => acc.append(new Uint8Array(31))).toThrow(
        expect.objectContaining({ code: 'MERKLE_HASH_LENGTH' }) as unknown,
      );
      expect(acc.size).toBe(0);
    });
  });

  describe('when the tree is empty', () => {
    it('has the root SHA-256 of the empty string (RFC 6962 §2.1)', () => {
      expect(new MerkleAccumulator().root().toString('hex')).toBe(
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      );
    });
  });
});
