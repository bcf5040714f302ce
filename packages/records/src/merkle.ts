import { hash as oneShotHash } from 'node:crypto';
import { RecordsError } from './errors.js';

// RFC 6962 §2.1 / RFC 9162 §2.1.1: domain-separated SHA-256 so a leaf never equals a node.
// crypto.hash (Node ≥ 20.12) is a one-shot digest: no Hash object per node of 65 bytes.
const sha = (data: Uint8Array): Uint8Array => oneShotHash('sha256', data, 'buffer');

const EMPTY_ROOT = sha(new Uint8Array(0));

const checkHash = (h: Uint8Array, what: string): void => {
  if (!(h instanceof Uint8Array) || h.length !== 32)
    throw new RecordsError('MERKLE_HASH_LENGTH', `${what} must be a 32-byte hash`);
};

/**
 * RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
 * @example
 * leafHash(encodeRecord(record));
 */
export function leafHash(data: Uint8Array): Uint8Array {
  const buf = Buffer.allocUnsafe(data.length + 1);
  buf[0] = 0;
  buf.set(data, 1);
  return sha(buf);
}

/**
 * RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
 * @throws RecordsError `MERKLE_HASH_LENGTH`
 * @example
 * nodeHash(leafHash(a), leafHash(b));
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  checkHash(left, 'left');
  checkHash(right, 'right');
  const buf = Buffer.allocUnsafe(65);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha(buf);
}

// MTH(D[lo:hi]) for hi > lo, bottom-up: pairing neighbours and carrying an odd last node up
// unchanged builds exactly RFC 6962's tree (left subtree = largest power of two < n).
function subtreeRoot(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return leaves[lo] as Uint8Array;
  const buf = Buffer.allocUnsafe(65);
  buf[0] = 1;
  let level: Uint8Array[] = new Array<Uint8Array>(Math.ceil(n / 2));
  for (let i = 0; i < n; i += 2) {
    const l = leaves[lo + i] as Uint8Array;
    if (i + 1 < n) {
      buf.set(l, 1);
      buf.set(leaves[lo + i + 1] as Uint8Array, 33);
      level[i >> 1] = sha(buf);
    } else level[i >> 1] = l;
  }
  while (level.length > 1) {
    const next = new Array<Uint8Array>(Math.ceil(level.length / 2));
    for (let i = 0; i < level.length; i += 2) {
      if (i + 1 < level.length) {
        buf.set(level[i] as Uint8Array, 1);
        buf.set(level[i + 1] as Uint8Array, 33);
        next[i >> 1] = sha(buf);
      } else next[i >> 1] = level[i] as Uint8Array;
    }
    level = next;
  }
  return level[0] as Uint8Array;
}

const checkLeaves = (leafHashes: readonly Uint8Array[]): void => {
  for (const h of leafHashes) checkHash(h, 'a leaf hash');
};

/**
 * RFC 6962 §2.1 Merkle Tree Hash of a list of leaf hashes; SHA-256("") for no leaves.
 * @throws RecordsError `MERKLE_HASH_LENGTH`
 * @example
 * merkleRoot(lines.map(leafHash));
 */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  checkLeaves(leafHashes);
  return leafHashes.length === 0
    ? Uint8Array.from(EMPTY_ROOT)
    : Uint8Array.from(subtreeRoot(leafHashes, 0, leafHashes.length));
}

const largestPowerOfTwoBelow = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

/**
 * RFC 6962 §2.1.1 audit path of leaf `index` in the tree of `leafHashes` (leaf to root order).
 * @throws RecordsError `MERKLE_RANGE` (index outside 0..n−1), `MERKLE_HASH_LENGTH`
 * @example
 * verifyInclusion(hashes[3], 3, hashes.length, inclusionProof(3, hashes), merkleRoot(hashes)); // true
 */
export function inclusionProof(index: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  const n = leafHashes.length;
  if (!Number.isSafeInteger(index) || index < 0 || index >= n)
    throw new RecordsError('MERKLE_RANGE', `leaf index ${index} is outside a tree of ${n}`);
  checkLeaves(leafHashes);
  const path: Uint8Array[] = [];
  // PATH(m, D[lo:hi]), iteratively; siblings are collected root-first, then reversed.
  let lo = 0;
  let hi = n;
  let m = index;
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (m < k) {
      path.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      m -= k;
    }
  }
  return path.reverse().map((h) => Uint8Array.from(h));
}

/**
 * RFC 6962 §2.1.2 consistency proof between the first `m` leaves and all of `leafHashes`.
 * @throws RecordsError `MERKLE_RANGE` (unless 0 < m ≤ n), `MERKLE_HASH_LENGTH`
 * @example
 * verifyConsistency(4, 7, merkleRoot(h.slice(0, 4)), merkleRoot(h), consistencyProof(4, h)); // true
 */
export function consistencyProof(m: number, leafHashes: readonly Uint8Array[]): Uint8Array[] {
  const n = leafHashes.length;
  if (!Number.isSafeInteger(m) || m < 1 || m > n)
    throw new RecordsError('MERKLE_RANGE', `old size ${m} is outside 1..${n}`);
  checkLeaves(leafHashes);
  // SUBPROOF(m, D[lo:hi], b), iteratively; nodes are collected root-first, then reversed.
  const proof: Uint8Array[] = [];
  let lo = 0;
  let hi = n;
  let mm = m;
  let complete = true;
  while (mm !== hi - lo) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (mm <= k) {
      proof.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      proof.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      mm -= k;
      complete = false;
    }
  }
  if (!complete) proof.push(subtreeRoot(leafHashes, lo, hi));
  return proof.reverse().map((h) => Uint8Array.from(h));
}

const equal32 = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === 32 && b.length === 32 && Buffer.from(a.buffer, a.byteOffset, 32).equals(b);

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === 32;

/**
 * RFC 9162 §2.1.3.2 inclusion proof verification; false for any malformed input.
 * @example
 * verifyInclusion(leafHash(line), 0, 1, [], leafHash(line)); // true
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(leaf) || !isHash(root) || !Number.isSafeInteger(index) || !Number.isSafeInteger(size))
    return false;
  if (index < 0 || index >= size || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal32(r, root);
}

/**
 * RFC 9162 §2.1.4.2 consistency proof verification between sizes m ≤ n; false for any
 * malformed input. Equal sizes verify only with an empty proof and equal roots; m = 0 is refused.
 * @example
 * verifyConsistency(1, 1, root, root, []); // true
 */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isHash(rootM) || !isHash(rootN) || !Number.isSafeInteger(m) || !Number.isSafeInteger(n)) return false;
  if (m < 1 || m > n || !proof.every(isHash)) return false;
  if (m === n) return proof.length === 0 && equal32(rootM, rootN);
  if (proof.length === 0) return false;
  let path = [...proof];
  // If m is an exact power of two, the old root itself is the first node of the path.
  if ((m & (m - 1)) === 0) path = [rootM, ...path];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else sr = nodeHash(sr, c);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal32(fr, rootM) && equal32(sr, rootN);
}

const HASH_BYTES = 32;
// A safe-integer size has at most 53 set bits, so at most 53 perfect subtrees.
const MAX_LEVELS = 64;
const NO_LEAF = new Uint8Array(0);

const popcount = (n: number): number => {
  let count = 0;
  for (let s = n; s > 0; s = Math.floor(s / 2)) count += s % 2;
  return count;
};

/**
 * An append-only RFC 6962 tree that keeps only the roots of its perfect subtrees (a "compact
 * range", one root per set bit of the size, largest first): append is amortized O(1) hashes,
 * root() is O(log n). The journals, the PostgreSQL frontier and the auditor all use this one.
 *
 * The roots live in one buffer allocated with the accumulator, and every hash is taken as latin1
 * text (`'binary'`: one character per byte) written straight into its slot: node's one-shot hash
 * with a Buffer result allocates an ArrayBuffer per call, base64 text costs more to decode, and the
 * auditor takes about two hashes per journal line.
 * @example
 * const acc = new MerkleAccumulator(); acc.append(leafHash(line)); acc.root();
 */
export class MerkleAccumulator {
  // #stack[i * 32 …] is the root of a perfect subtree; sizes strictly decrease (the set bits of size).
  readonly #stack = Buffer.alloc(MAX_LEVELS * HASH_BYTES);
  #levels = 0;
  #size = 0;
  // 0x00 ‖ line, the input of a leaf hash; grown for a longer line.
  #leafInput = Buffer.alloc(1 + 4096);
  // 0x01 ‖ left ‖ right, the input of an inner node (RFC 6962 §2.1).
  readonly #node = Buffer.alloc(1 + 2 * HASH_BYTES);

  /**
   * The tree whose stored frontier ({@link MerkleAccumulator.frontier}) is `frontier`, of `size`
   * leaves; undefined when those bytes cannot be the frontier of a tree of that size.
   * @example
   * MerkleAccumulator.fromFrontier(acc.size, acc.frontier())?.root(); // acc.root()
   */
  static fromFrontier(size: number, frontier: Uint8Array): MerkleAccumulator | undefined {
    if (!Number.isSafeInteger(size) || size < 0 || !(frontier instanceof Uint8Array)) return undefined;
    if (frontier.length !== popcount(size) * HASH_BYTES) return undefined;
    const acc = new MerkleAccumulator();
    acc.#stack.set(frontier, 0);
    acc.#levels = frontier.length / HASH_BYTES;
    acc.#size = size;
    return acc;
  }

  /** How many leaves were appended. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash (`leafHash(bytes)`).
   * @throws RecordsError `MERKLE_HASH_LENGTH`
   */
  append(leaf: Uint8Array): void {
    checkHash(leaf, 'a leaf hash');
    this.#push(leaf, NO_LEAF);
  }

  /** Appends the leaf of `line`, SHA-256(0x00 ‖ line) (RFC 6962 §2.1): `append(leafHash(line))`. */
  appendLine(line: Uint8Array): void {
    if (line.length + 1 > this.#leafInput.length) this.#leafInput = Buffer.alloc(2 * (line.length + 1));
    const input = this.#leafInput;
    input[0] = 0;
    input.set(line, 1);
    this.#push(undefined, input.subarray(0, line.length + 1));
  }

  // Pushes `leaf`, or the leaf hash of `leafInput`, merging once per trailing one bit of the size.
  #push(leaf: Uint8Array | undefined, leafInput: Uint8Array): void {
    const node = this.#node;
    node[0] = 1;
    let h = '';
    if (leaf !== undefined) node.set(leaf, 1 + HASH_BYTES);
    else h = oneShotHash('sha256', leafInput, 'binary');
    for (let s = this.#size; s % 2 === 1; s = Math.floor(s / 2)) {
      this.#levels--;
      const at = this.#levels * HASH_BYTES;
      this.#stack.copy(node, 1, at, at + HASH_BYTES);
      if (h !== '') node.write(h, 1 + HASH_BYTES, HASH_BYTES, 'latin1');
      h = oneShotHash('sha256', node, 'binary');
    }
    const at = this.#levels * HASH_BYTES;
    if (h === '') this.#stack.set(leaf as Uint8Array, at);
    else this.#stack.write(h, at, HASH_BYTES, 'latin1');
    this.#levels++;
    this.#size++;
  }

  /** The RFC 6962 root over every leaf appended so far (SHA-256("") when empty), a new Buffer. */
  root(): Buffer {
    if (this.#levels === 0) return Buffer.from(EMPTY_ROOT);
    const r = Buffer.alloc(HASH_BYTES);
    let at = (this.#levels - 1) * HASH_BYTES;
    this.#stack.copy(r, 0, at, at + HASH_BYTES);
    const node = this.#node;
    node[0] = 1;
    for (let i = this.#levels - 2; i >= 0; i--) {
      at = i * HASH_BYTES;
      this.#stack.copy(node, 1, at, at + HASH_BYTES);
      r.copy(node, 1 + HASH_BYTES);
      r.write(oneShotHash('sha256', node, 'binary'), 0, HASH_BYTES, 'latin1');
    }
    return r;
  }

  /**
   * The stored form of the tree: its subtree roots concatenated, largest subtree first (32 bytes
   * per set bit of `size`). With the size, {@link MerkleAccumulator.fromFrontier} restores it.
   */
  frontier(): Uint8Array {
    return Uint8Array.from(this.#stack.subarray(0, this.#levels * HASH_BYTES));
  }

  /** An independent copy (extending it leaves this one as it is). */
  clone(): MerkleAccumulator {
    return MerkleAccumulator.fromFrontier(this.#size, this.#stack.subarray(0, this.#levels * HASH_BYTES))!;
  }
}
