/**
 * An RFC 6962 Merkle accumulator whose state can be stored: the roots of the perfect subtrees that
 * make up a tree of `size` leaves (one per set bit of `size`, largest first), 32 bytes each. Any
 * instance holding the journal head lock loads it from the head row, extends it and writes it back,
 * so checkpoints need no re-read of earlier records. Same algorithm as `MerkleAccumulator`
 * (RFC 6962 §2.1: MTH splits at the largest power of two below n).
 */
import { nodeHash, sha256 } from '@edca/records';

const HASH_BYTES = 32;

const popcount = (n: number): number => {
  let count = 0;
  for (let s = n; s > 0; s = Math.floor(s / 2)) count += s % 2;
  return count;
};

/** A compact range over leaves `1..size`. */
export class MerkleFrontier {
  readonly #stack: Uint8Array[];
  #size: number;

  private constructor(size: number, stack: Uint8Array[]) {
    this.#size = size;
    this.#stack = stack;
  }

  /** The empty tree. */
  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, []);
  }

  /** Loads a stored frontier; undefined when the bytes cannot belong to a tree of `size` leaves. */
  static decode(size: number, bytes: Uint8Array): MerkleFrontier | undefined {
    if (!Number.isSafeInteger(size) || size < 0) return undefined;
    if (bytes.length !== popcount(size) * HASH_BYTES) return undefined;
    const stack: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += HASH_BYTES)
      stack.push(Uint8Array.from(bytes.subarray(i, i + HASH_BYTES)));
    return new MerkleFrontier(size, stack);
  }

  /** How many leaves the tree holds. */
  get size(): number {
    return this.#size;
  }

  /** Appends one leaf hash (`leafHash(bytes)`). */
  append(leaf: Uint8Array): void {
    let h = leaf;
    // Merge once per trailing one bit of the old size.
    for (let s = this.#size; s % 2 === 1; s = Math.floor(s / 2)) h = nodeHash(this.#stack.pop()!, h);
    this.#stack.push(h);
    this.#size += 1;
  }

  /** The RFC 6962 root of the tree (SHA-256 of the empty string when empty). */
  root(): Uint8Array {
    const s = this.#stack;
    if (s.length === 0) return sha256(new Uint8Array(0));
    let r = s[s.length - 1]!;
    for (let i = s.length - 2; i >= 0; i--) r = nodeHash(s[i]!, r);
    return r;
  }

  /** The stored form: the subtree roots concatenated, largest subtree first. */
  encode(): Uint8Array {
    const out = new Uint8Array(this.#stack.length * HASH_BYTES);
    this.#stack.forEach((h, i) => out.set(h, i * HASH_BYTES));
    return out;
  }

  /** An independent copy (a failed transaction must not leave its leaves in the caller's frontier). */
  clone(): MerkleFrontier {
    return new MerkleFrontier(this.#size, [...this.#stack]);
  }
}
