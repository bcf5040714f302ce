import { leafHash, MerkleAccumulator, merkleRoot } from '@edca/records';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineMerkle } from '../src/internal/line-merkle.js';

describe('LineMerkle', () => {
  describe('when lines are appended one by one', () => {
    it("has records' MerkleAccumulator and merkleRoot root after every line (property)", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
              // Longer than the initial leaf buffer, so it has to grow.
              { weight: 1, arbitrary: fc.uint8Array({ minLength: 4096, maxLength: 9000 }) },
            ),
            { maxLength: 70 },
          ),
          (lines) => {
            const fast = new LineMerkle();
            const reference = new MerkleAccumulator();
            expect(fast.root().equals(Buffer.from(reference.root()))).toBe(true);
            const leaves: Uint8Array[] = [];
            for (const line of lines) {
              fast.appendLine(line);
              reference.append(leafHash(line));
              leaves.push(leafHash(line));
              const root = fast.root();
              expect(root.equals(Buffer.from(reference.root()))).toBe(true);
              expect(root.equals(Buffer.from(merkleRoot(leaves)))).toBe(true);
              expect(fast.size).toBe(leaves.length);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  describe('when the tree is empty', () => {
    it('has the root SHA-256 of the empty string (RFC 6962 §2.1)', () => {
      expect(new LineMerkle().root().toString('hex')).toBe(
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      );
    });
  });
});
