import {
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import nacl from 'tweetnacl';
import { toBase64url } from './base64url.js';
import { sha256 } from './digest.js';
import { RecordsError } from './errors.js';
import { decodePoint, encodePoint, isIdentity, isSmallOrder, multiply } from './internal/edwards.js';
import {
  sodiumAddon,
  sodiumAddonPath,
  sodiumUnavailableReason,
  type SodiumEd25519,
} from './internal/sodium.js';

/**
 * Which Ed25519 implementation computes the verification equation (or signs): `sodium` is
 * libsodium through the optional `sodium-native` addon, `node` is node:crypto (OpenSSL), `tweetnacl`
 * the portable pure-JavaScript one. All three run behind the same strict pre-checks and give the
 * same verdicts and byte-identical signatures.
 */
export type Ed25519Backend = 'sodium' | 'node' | 'tweetnacl';

/**
 * The backend used when none is named: `sodium` when the addon loads in this process (and
 * `EDCA_DISABLE_SODIUM` is not set), else `node`.
 * @example
 * defaultEd25519Backend(); // 'sodium' on linux-x64 with glibc ≥ 2.33, 'node' on Alpine
 */
export function defaultEd25519Backend(): 'sodium' | 'node' {
  return sodiumAddon() === undefined ? 'node' : 'sodium';
}

/**
 * Whether a backend can run in this process (`node` and `tweetnacl` always can).
 * @example
 * isEd25519BackendAvailable('sodium'); // false when sodium-native did not load
 */
export function isEd25519BackendAvailable(backend: Ed25519Backend): boolean {
  if (backend === 'sodium') return sodiumAddon() !== undefined;
  return backend === 'node' || backend === 'tweetnacl';
}

/**
 * The resolved file of the loaded `sodium-native` addon, for a worker thread that verifies or signs
 * with libsodium itself (`require` it there); `undefined` when the `sodium` backend is not available.
 * @example
 * new Worker(source, { eval: true, workerData: { sodium: sodiumAddonFile() ?? null } });
 */
export function sodiumAddonFile(): string | undefined {
  return sodiumAddonPath();
}

/** The loaded addon, or `ED25519_BACKEND_UNAVAILABLE` (with the reason it did not load). */
function requireSodium(): SodiumEd25519 {
  const addon = sodiumAddon();
  if (addon === undefined)
    throw new RecordsError(
      'ED25519_BACKEND_UNAVAILABLE',
      `the sodium backend is not available: ${sodiumUnavailableReason() ?? 'unknown reason'}`,
    );
  return addon;
}

/**
 * The signing port: async so a KMS or HSM can stand behind it; `sign` returns a 64-byte
 * RFC 8032 Ed25519 signature over exactly the given bytes.
 */
export interface Signer {
  /** `kidOf(publicKey)`. */
  readonly kid: string;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Signs `message` (already domain-separated by the caller). */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// The group order L in little-endian bytes (RFC 8032 §5.1), for the canonical-S check.
const L_BYTES = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

// RFC 8032 §5.1.7 step 1 requires S < L; without it a signature has a second valid form
// (S + L), which tweetnacl accepts. Compared from the most significant byte down.
function isCanonicalScalar(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i] ?? 0;
    const l = L_BYTES[i] ?? 0;
    if (s < l) return true;
    if (s > l) return false;
  }
  return false;
}

// y < p = 2^255 − 19, ignoring the sign bit (RFC 8032 §5.1.3 step 1 "decoding fails").
function isCanonicalY(b: Uint8Array, offset: number): boolean {
  if (((b[offset + 31] ?? 0) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (b[offset + i] !== 0xff) return true;
  return (b[offset] ?? 0) < 0xed;
}

const latin1 = (b: Uint8Array, start = 0, end = b.length): string =>
  Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');

// The eight points of order dividing 8, generated from one point of order exactly 8 (its
// encoding is libsodium's blocklist entry), plus the two non-canonical "x = 0, sign 1"
// encodings. Computed and self-checked at load so no hand-typed table can be wrong.
const REFUSED_R: ReadonlySet<string> = (() => {
  const t8 = decodePoint(
    Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex'),
  );
  if (t8 === undefined || isIdentity(multiply(t8, 4n)) || !isIdentity(multiply(t8, 8n)))
    throw new Error('edwards25519 torsion self-check failed');
  const set = new Set<string>();
  for (let k = 0n; k < 8n; k++) set.add(latin1(encodePoint(multiply(t8, k))));
  if (set.size !== 8) throw new Error('edwards25519 torsion self-check failed');
  set.add(latin1(Buffer.from('01'.padEnd(62, '0') + '80', 'hex')));
  set.add(latin1(Buffer.from('ec' + 'ff'.repeat(31), 'hex')));
  return set;
})();

const REFUSED_R_FIRST_BYTES: ReadonlySet<number> = new Set([...REFUSED_R].map((r) => r.charCodeAt(0)));

interface KeyEntry {
  /** Canonical encoding of a curve point that is not of small order. */
  readonly acceptable: boolean;
  readonly kid: string;
  nodeKey: KeyObject | undefined;
}

// Verifiers see few distinct keys (a trust file); the cache keeps the point decoding
// (bigint arithmetic) and the KeyObject off the hot path. Cleared when it grows past the bound.
const KEY_CACHE_MAX = 4096;
const keyCache = new Map<string, KeyEntry>();

// A verifier usually checks many records against one key object: remember the last one by
// identity, guarded by a byte comparison so a caller mutating its array cannot confuse us. A module
// cache like `keyCache`: it changes no verdict, only how often a key object is built.
let lastKey: { ref: Uint8Array; copy: Buffer; entry: KeyEntry } | undefined;

function keyEntry(publicKey: Uint8Array): KeyEntry {
  if (lastKey !== undefined && lastKey.ref === publicKey && lastKey.copy.equals(publicKey))
    return lastKey.entry;
  const entry = keyEntryByBytes(publicKey);
  lastKey = { ref: publicKey, copy: Buffer.from(publicKey), entry };
  return entry;
}

function keyEntryByBytes(publicKey: Uint8Array): KeyEntry {
  const id = latin1(publicKey);
  let entry = keyCache.get(id);
  if (entry === undefined) {
    const point = decodePoint(publicKey);
    entry = {
      acceptable: point !== undefined && !isSmallOrder(point),
      kid: kidOf(publicKey),
      nodeKey: undefined,
    };
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(id, entry);
  }
  return entry;
}

/**
 * The key id of a public key: `ed25519:` + base64url of the first 16 bytes of its SHA-256.
 * @throws RecordsError `KEY_INVALID` when `publicKey` is not 32 bytes
 * @example
 * kidOf(signer.publicKey); // 'ed25519:3hI3…' (30 characters)
 */
export function kidOf(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32)
    throw new RecordsError('KEY_INVALID', 'an Ed25519 public key has 32 bytes');
  return `ed25519:${toBase64url(sha256(publicKey).subarray(0, 16))}`;
}

/**
 * Whether a public key passes the strict policy: a canonical encoding (y < p, no "negative
 * zero") of a curve point that is not of small order. Cached per key.
 * @example
 * isAcceptablePublicKey(new Uint8Array(32)); // false (y = 0 is a point of order 4)
 */
export function isAcceptablePublicKey(publicKey: Uint8Array): boolean {
  return publicKey instanceof Uint8Array && publicKey.length === 32 && keyEntry(publicKey).acceptable;
}

/** @internal The cached kid of a key (used by the record path to avoid re-hashing). */
export function cachedKidOf(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32)
    throw new RecordsError('KEY_INVALID', 'an Ed25519 public key has 32 bytes');
  return keyEntry(publicKey).kid;
}

/**
 * Strict Ed25519 verification (RFC 8032 §5.1.7, cofactorless), the same policy whatever the
 * backend: 32-byte key, 64-byte signature, S < L, the key a canonical encoding of a point not of
 * small order, R a canonical encoding not of small order, then `[S]B = R + [k]A` compared on the
 * encoding of R. Returns false on any failure, never throws for bad bytes. The backend defaults to
 * {@link defaultEd25519Backend}.
 * @throws TypeError when an argument is not a Uint8Array or the backend is unknown;
 *   RecordsError `ED25519_BACKEND_UNAVAILABLE` when `sodium` is named and the addon did not load
 * @example
 * verifyEd25519(signer.publicKey, msg, await signer.sign(msg)); // true
 */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  backend: Ed25519Backend = defaultEd25519Backend(),
): boolean {
  if (
    !(publicKey instanceof Uint8Array) ||
    !(message instanceof Uint8Array) ||
    !(signature instanceof Uint8Array)
  )
    throw new TypeError('verifyEd25519 takes Uint8Array arguments');
  // Whether the backend can run does not depend on the bytes: checked before any of them.
  const addon = backend === 'sodium' ? requireSodium() : undefined;
  if (addon === undefined && backend !== 'node' && backend !== 'tweetnacl')
    throw new TypeError(`unknown Ed25519 backend ${String(backend)}`);
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!isCanonicalScalar(signature)) return false;
  if (!isCanonicalY(signature, 0)) return false;
  if (REFUSED_R_FIRST_BYTES.has(signature[0] ?? 0) && REFUSED_R.has(latin1(signature, 0, 32))) return false;
  const entry = keyEntry(publicKey);
  if (!entry.acceptable) return false;
  if (addon !== undefined) {
    // Both lengths are exact here: libsodium alone would verify the first 64 bytes of a longer
    // signature. Its argument assertions throw; no input that reaches it should, but a throw is a no.
    try {
      return addon.crypto_sign_verify_detached(signature, message, publicKey);
    } catch {
      return false;
    }
  }
  if (backend === 'tweetnacl') return nacl.sign.detached.verify(message, signature, publicKey);
  entry.nodeKey ??= createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return nodeVerify(null, message, entry.nodeKey, signature);
}

/**
 * PKCS#8 PEM (RFC 8410) of the Ed25519 private key with this 32-byte seed.
 * @throws RecordsError `KEY_INVALID` when the seed is not 32 bytes
 * @example
 * privateKeyPemFromSeed(new Uint8Array(32)).startsWith('-----BEGIN PRIVATE KEY-----'); // true
 */
export function privateKeyPemFromSeed(seed: Uint8Array): string {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new RecordsError('KEY_INVALID', 'an Ed25519 seed has 32 bytes');
  const der = Buffer.concat([PKCS8_PREFIX, seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

/**
 * The raw 32-byte public key of an Ed25519 key object (private or public).
 * @throws RecordsError `KEY_UNSUPPORTED` when the key is not Ed25519
 * @example
 * publicKeyOf(createPrivateKey(privateKeyPemFromSeed(seed))).length; // 32
 */
export function publicKeyOf(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new RecordsError('KEY_UNSUPPORTED', `not an Ed25519 key: ${String(key.asymmetricKeyType)}`);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/**
 * A private key as a KeyObject, from PEM or as given. Internal to records (seal-chain.ts);
 * the algorithm is checked by {@link publicKeyOf}.
 * @throws RecordsError `KEY_INVALID` (unparsable PEM or not a private key)
 */
export function privateKeyObjectOf(privateKey: string | KeyObject): KeyObject {
  let key: KeyObject;
  if (typeof privateKey === 'string') {
    try {
      key = createPrivateKey(privateKey);
    } catch {
      throw new RecordsError('KEY_INVALID', 'not a PEM private key');
    }
  } else key = privateKey;
  if (key.type !== 'private') throw new RecordsError('KEY_INVALID', 'not a private key');
  return key;
}

/**
 * A {@link Signer} backed by node:crypto (OpenSSL), the default on Node.
 * @throws RecordsError `KEY_INVALID` (unparsable PEM or not a private key), `KEY_UNSUPPORTED` (not Ed25519)
 * @example
 * const signer = createNodeSigner(generateKeyPair().privateKeyPem);
 */
export function createNodeSigner(privateKey: string | KeyObject): Signer {
  const key = privateKeyObjectOf(privateKey);
  const publicKey = publicKeyOf(key);
  return Object.freeze({
    kid: kidOf(publicKey),
    publicKey,
    sign: (message: Uint8Array): Promise<Uint8Array> => {
      const sig = nodeSign(null, message, key);
      return Promise.resolve(new Uint8Array(sig.buffer, sig.byteOffset, sig.length));
    },
  });
}

/** The 32-byte seed of an Ed25519 private key object (its JWK `d`). */
function seedOf(key: KeyObject): Uint8Array {
  publicKeyOf(key); // KEY_UNSUPPORTED for another algorithm
  const d = key.export({ format: 'jwk' }).d;
  const seed = typeof d === 'string' ? Buffer.from(d, 'base64url') : Buffer.alloc(0);
  if (seed.length !== 32) throw new RecordsError('KEY_INVALID', 'an Ed25519 private key has a 32-byte seed');
  return seed;
}

/**
 * A {@link Signer} backed by libsodium (`sodium-native`), faster than node:crypto (docs/benchmarks.md); the
 * signatures are byte-identical (Ed25519 is deterministic).
 * @throws RecordsError `ED25519_BACKEND_UNAVAILABLE` (the addon did not load), `KEY_INVALID`
 *   (unparsable PEM or not a private key), `KEY_UNSUPPORTED` (not Ed25519)
 * @example
 * const signer = createSodiumSigner(generateKeyPair().privateKeyPem);
 */
export function createSodiumSigner(privateKey: string | KeyObject): Signer {
  const addon = requireSodium();
  const key = privateKeyObjectOf(privateKey);
  const publicKey = publicKeyOf(key);
  const seed = seedOf(key);
  const derived = new Uint8Array(32);
  const secretKey = new Uint8Array(64);
  addon.crypto_sign_seed_keypair(derived, secretKey, seed);
  seed.fill(0);
  if (!Buffer.from(derived).equals(publicKey))
    throw new RecordsError('ED25519_BACKEND_UNAVAILABLE', 'libsodium derived another public key');
  return Object.freeze({
    kid: kidOf(publicKey),
    publicKey,
    sign: (message: Uint8Array): Promise<Uint8Array> => {
      const sig = new Uint8Array(64);
      try {
        addon.crypto_sign_detached(sig, message, secretKey);
      } catch (error) {
        // An argument assertion: only a message that is not bytes gets here.
        return Promise.reject(
          new TypeError(`cannot sign: ${error instanceof Error ? error.message : String(error)}`),
        );
      }
      return Promise.resolve(sig);
    },
  });
}

/**
 * The fastest {@link Signer} this process has for a private key: libsodium when `sodium-native`
 * loads (see {@link defaultEd25519Backend}), else node:crypto.
 * @throws RecordsError `KEY_INVALID` (unparsable PEM or not a private key), `KEY_UNSUPPORTED` (not Ed25519)
 * @example
 * const signer = createSigner(generateKeyPair().privateKeyPem);
 */
export function createSigner(privateKey: string | KeyObject): Signer {
  return defaultEd25519Backend() === 'sodium' ? createSodiumSigner(privateKey) : createNodeSigner(privateKey);
}

/**
 * A {@link Signer} backed by tweetnacl (portable, pure JavaScript; about 80× slower).
 * @throws RecordsError `KEY_INVALID` when the seed is not 32 bytes
 * @example
 * const signer = createTweetnaclSigner(new Uint8Array(32).fill(7));
 */
export function createTweetnaclSigner(seed: Uint8Array): Signer {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new RecordsError('KEY_INVALID', 'an Ed25519 seed has 32 bytes');
  const pair = nacl.sign.keyPair.fromSeed(Uint8Array.from(seed));
  const publicKey = pair.publicKey;
  return Object.freeze({
    kid: kidOf(publicKey),
    publicKey,
    sign: (message: Uint8Array): Promise<Uint8Array> =>
      Promise.resolve(nacl.sign.detached(message, pair.secretKey)),
  });
}
