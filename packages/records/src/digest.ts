import { hash, timingSafeEqual } from 'node:crypto';
import { canonicalTextWithinLimit, type IJsonLimits } from './ijson.js';
import { DIGEST_PATTERN } from './wire.js';

/** A SHA-256 digest as text: `sha256:` and 64 lower-case hex digits. */
export type Digest = `sha256:${string}`;

/**
 * SHA-256 of bytes, or of the UTF-8 encoding of a string.
 * @example
 * sha256('abc').length; // 32
 */
export function sha256(data: Uint8Array | string): Uint8Array {
  // crypto.hash (Node ≥ 20.12): one-shot, cheaper than createHash for record-sized inputs.
  return hash('sha256', data, 'buffer');
}

/**
 * Formats a 32-byte hash as a {@link Digest}.
 * @throws RangeError when `hash` is not 32 bytes
 * @example
 * toDigest(sha256('')); // 'sha256:e3b0c442…'
 */
export function toDigest(hash: Uint8Array): Digest {
  if (hash.length !== 32) throw new RangeError(`a SHA-256 hash has 32 bytes, got ${hash.length}`);
  return `sha256:${Buffer.from(hash.buffer, hash.byteOffset, hash.length).toString('hex')}`;
}

/**
 * `sha256:<hex>` of bytes or of a string's UTF-8.
 * @example
 * digestBytes('abc'); // 'sha256:ba7816bf…'
 */
export function digestBytes(data: Uint8Array | string): Digest {
  return `sha256:${hash('sha256', data, 'hex')}`;
}

/**
 * Digest of a value's RFC 8785 canonical bytes (after the strict I-JSON check).
 * @throws RecordsError any `IJSON_*` code
 * @example
 * digestValue({ b: 1, a: 2 }) === digestValue({ a: 2, b: 1 }); // true
 */
export function digestValue(value: unknown, limits?: IJsonLimits): Digest {
  // Hashing the text encodes it as UTF-8 inside node:crypto: no intermediate Buffer.
  return digestBytes(canonicalTextWithinLimit(value, limits));
}

/**
 * Whether `value` is a well-formed {@link Digest}.
 * @example
 * isDigest('sha256:' + '0'.repeat(64)); // true
 */
export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

/**
 * Constant-time equality of two digest strings (time depends only on the lengths).
 * @example
 * digestEquals(digestBytes('a'), digestBytes('a')); // true
 */
export function digestEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    // Still spend a comparison so a length mismatch is not measurably faster.
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}
