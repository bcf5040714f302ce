import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  MerkleAccumulator,
  merkleRoot,
  nodeHash,
  RecordsError,
  verifyConsistency,
  verifyInclusion,
} from '@edca/records';
import { listJsonFilesDeep, readVectorJson } from './vectors.js';

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const hx = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const leaves = (n: number): Uint8Array[] =>
  Array.from({ length: n }, (_v, i) => leafHash(new TextEncoder().encode(`leaf ${i}`)));

// RFC 6962 §2.1 MTH, written directly from the definition as an oracle.
function mth(d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}

describe('leafHash and nodeHash (RFC 6962 §2.1)', () => {
  describe('when hashing', () => {
    it('prefixes 0x00 for leaves and 0x01 for nodes', () => {
      const data = new TextEncoder().encode('x');
      expect(hx(leafHash(data))).toBe(hx(sha(Uint8Array.of(0), data)));
      const l = leafHash(data);
      expect(hx(nodeHash(l, l))).toBe(hx(sha(Uint8Array.of(1), l, l)));
    });
    it('refuses node inputs that are not 32 bytes with MERKLE_HASH_LENGTH', () => {
      expect(() => nodeHash(new Uint8Array(31), new Uint8Array(32))).toThrow(RecordsError);
      try {
        nodeHash(new Uint8Array(32), new Uint8Array(33));
      } catch (e) {
        expect((e as RecordsError).code).toBe('MERKLE_HASH_LENGTH');
      }
    });
  });
});

describe('merkleRoot', () => {
  describe('when given 0..70 leaves', () => {
    it('equals the recursive MTH definition and the accumulator', () => {
      const acc = new MerkleAccumulator();
      expect(hx(acc.root())).toBe(hx(merkleRoot([])));
      for (let n = 0; n <= 70; n++) {
        const d = leaves(n);
        expect(hx(merkleRoot(d)), `n=${n}`).toBe(hx(mth(d)));
        if (n > 0) acc.append(d[n - 1]!);
        expect(acc.size).toBe(n);
        expect(hx(acc.root()), `acc n=${n}`).toBe(hx(mth(d)));
      }
    });
    it('hashes the empty tree to SHA-256 of nothing', () => {
      expect(hx(merkleRoot([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    });
  });
});

describe('inclusion and consistency proofs (RFC 6962 §2.1.1–2.1.2, RFC 9162 §2.1.3–2.1.4)', () => {
  describe('when generated for every index and old size of trees up to 40 leaves', () => {
    it('verify against the roots, and fail for the wrong index, root, or a truncated or extended path', () => {
      for (let n = 1; n <= 40; n++) {
        const d = leaves(n);
        const root = merkleRoot(d);
        for (let i = 0; i < n; i++) {
          const proof = inclusionProof(i, d);
          expect(verifyInclusion(d[i]!, i, n, proof, root), `incl ${i}/${n}`).toBe(true);
          if (n > 1) expect(verifyInclusion(d[i]!, (i + 1) % n, n, proof, root)).toBe(false);
          if (proof.length > 0) expect(verifyInclusion(d[i]!, i, n, proof.slice(0, -1), root)).toBe(false);
          expect(verifyInclusion(d[i]!, i, n, [...proof, root], root)).toBe(false);
          expect(verifyInclusion(d[i]!, i, n, proof, leafHash(root))).toBe(false);
        }
        for (let m = 1; m <= n; m++) {
          const proof = consistencyProof(m, d);
          const rootM = merkleRoot(d.slice(0, m));
          expect(verifyConsistency(m, n, rootM, root, proof), `cons ${m}/${n}`).toBe(true);
          if (m < n) {
            expect(verifyConsistency(m, n, leafHash(rootM), root, proof)).toBe(false);
            expect(verifyConsistency(m, n, rootM, leafHash(root), proof)).toBe(false);
          }
        }
      }
    });
  });
  describe('when a proof is tampered with (property)', () => {
    it('flipping any bit of any proof node breaks inclusion and consistency', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 300 }),
          fc.nat(),
          fc.nat(),
          fc.nat({ max: 255 }),
          (n, a, b, bit) => {
            const d = leaves(n);
            const root = merkleRoot(d);
            const i = a % n;
            const proof = inclusionProof(i, d);
            const j = b % proof.length;
            proof[j] = Uint8Array.from(proof[j]!);
            proof[j][bit >> 3]! ^= 1 << (bit & 7);
            expect(verifyInclusion(d[i]!, i, n, proof, root)).toBe(false);
            const m = (a % (n - 1)) + 1;
            const cp = consistencyProof(m, d);
            const k = b % cp.length;
            cp[k] = Uint8Array.from(cp[k]!);
            cp[k][bit >> 3]! ^= 1 << (bit & 7);
            expect(verifyConsistency(m, n, merkleRoot(d.slice(0, m)), root, cp)).toBe(false);
          },
        ),
        { numRuns: 200 },
      );
    });
  });
  describe('when arguments are out of range', () => {
    it('refuses generation with MERKLE_RANGE', () => {
      const d = leaves(3);
      for (const f of [
        () => inclusionProof(3, d),
        () => inclusionProof(-1, d),
        () => consistencyProof(0, d),
        () => consistencyProof(4, d),
      ]) {
        try {
          f();
          expect.unreachable();
        } catch (e) {
          expect((e as RecordsError).code).toBe('MERKLE_RANGE');
        }
      }
    });
  });
});

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const collect = <T>(kind: 'inclusion' | 'consistency'): [string, T][] =>
  listJsonFilesDeep(`transparency-dev-merkle/testdata/${kind}`).map(
    (f) => [f, readVectorJson<T>(`transparency-dev-merkle/testdata/${kind}/${f}`)] as [string, T],
  );

// The one case where this verifier and the Go library differ on purpose: sizes equal (1), empty proof,
// equal roots that are not 32 bytes. The Go library compares the roots as opaque bytes and accepts;
// we refuse anything that is not a SHA-256 hash (docs/record-format.md §Merkle).
const CONVENTION = 'additional/sizes-are-equal-one-and-proof-is-empty.json';

describe('transparency-dev/merkle vectors', () => {
  const inclusion = collect<InclusionVector>('inclusion');
  const consistency = collect<ConsistencyVector>('consistency');

  it('finds all 196 vector files', () => {
    expect(inclusion.length + consistency.length).toBe(196);
  });

  describe('when verifying inclusion proofs', () => {
    it.each(inclusion)('%s', (_name, v) => {
      const ok = verifyInclusion(
        b64(v.leafHash),
        v.leafIdx,
        v.treeSize,
        (v.proof ?? []).map(b64),
        b64(v.root),
      );
      expect(ok).toBe(!v.wantErr);
    });
  });

  describe('when verifying consistency proofs', () => {
    it.each(consistency.filter(([n]) => n !== CONVENTION))('%s', (_name, v) => {
      const ok = verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), (v.proof ?? []).map(b64));
      expect(ok).toBe(!v.wantErr);
    });
    it('refuses the documented convention case that the Go library accepts', () => {
      const found = consistency.find(([n]) => n === CONVENTION);
      expect(found).toBeDefined();
      const v = found![1];
      expect(v.wantErr).toBe(false);
      expect(b64(v.root1).length).not.toBe(32);
      expect(verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), [])).toBe(false);
    });
  });
});
