import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createNodeSigner,
  createSigner,
  createSodiumSigner,
  createTweetnaclSigner,
  defaultEd25519Backend,
  isAcceptablePublicKey,
  kidOf,
  privateKeyPemFromSeed,
  RecordsError,
  verifyEd25519,
  type Ed25519Backend,
  type Signer,
} from '@edca/records';
import { decodePoint, encodePoint, isSmallOrder, multiply, P } from '../src/internal/edwards.js';
import { BACKENDS } from './backends.js';
import { hex } from './vectors.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'NO_ERROR';
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return (e as RecordsError).code;
  }
};

describe(`the signers of every backend (${BACKENDS.join(', ')})`, () => {
  const signerOf = (backend: Ed25519Backend, seed: Uint8Array): Signer =>
    backend === 'tweetnacl'
      ? createTweetnaclSigner(seed)
      : backend === 'sodium'
        ? createSodiumSigner(privateKeyPemFromSeed(seed))
        : createNodeSigner(privateKeyPemFromSeed(seed));

  describe('when given the same seed (property)', () => {
    it('derive the same public key and kid and produce byte-identical signatures', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 300 }),
          async (seed, msg) => {
            const [a, ...others] = BACKENDS.map((b) => signerOf(b, seed));
            const sa = await a!.sign(msg);
            for (const b of others) {
              expect(Buffer.from(a!.publicKey).equals(Buffer.from(b.publicKey))).toBe(true);
              expect(a!.kid).toBe(b.kid);
              expect(Buffer.from(sa).toString('hex')).toBe(Buffer.from(await b.sign(msg)).toString('hex'));
            }
            for (const backend of BACKENDS) expect(verifyEd25519(a!.publicKey, msg, sa, backend)).toBe(true);
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  describe('when a signature, message or key is altered (property)', () => {
    it('every backend gives the same verdict', async () => {
      const signer = createNodeSigner(privateKeyPemFromSeed(new Uint8Array(32).fill(9)));
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 200 }),
          fc.constantFrom('sig', 'msg', 'key', 'none'),
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          async (msg, part, at, bit) => {
            const sig = Uint8Array.from(await signer.sign(msg));
            const key = Uint8Array.from(signer.publicKey);
            const m = part === 'msg' && msg.length === 0 ? new Uint8Array([0]) : Uint8Array.from(msg);
            const target = part === 'sig' ? sig : part === 'key' ? key : part === 'msg' ? m : undefined;
            if (target !== undefined && !(part === 'msg' && msg.length === 0))
              target[at % target.length] = (target[at % target.length] ?? 0) ^ (1 << bit);
            const verdicts = BACKENDS.map((b) => verifyEd25519(key, m, sig, b));
            expect(new Set(verdicts).size).toBe(1);
            expect(verdicts[0]).toBe(part === 'none');
          },
        ),
        { numRuns: 200 },
      );
    });
  });
});

describe('createSodiumSigner', () => {
  describe.runIf(BACKENDS.includes('sodium'))('when the key is not an Ed25519 private key', () => {
    it('refuses garbage with KEY_INVALID and an EC key with KEY_UNSUPPORTED', () => {
      expect(codeOf(() => createSodiumSigner('not a pem'))).toBe('KEY_INVALID');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(codeOf(() => createSodiumSigner(privateKey))).toBe('KEY_UNSUPPORTED');
    });
  });
  describe('when choosing a signer for a key', () => {
    it('createSigner signs with the default backend and verifies on every backend', async () => {
      const signer = createSigner(privateKeyPemFromSeed(new Uint8Array(32).fill(3)));
      const reference = createNodeSigner(privateKeyPemFromSeed(new Uint8Array(32).fill(3)));
      const msg = new TextEncoder().encode('default backend');
      expect(await signer.sign(msg)).toEqual(await reference.sign(msg));
      expect(defaultEd25519Backend()).toBe(BACKENDS.includes('sodium') ? 'sodium' : 'node');
    });
  });
});

describe('createNodeSigner', () => {
  describe('when the key is not an Ed25519 private key', () => {
    it('refuses garbage with KEY_INVALID', () => {
      expect(codeOf(() => createNodeSigner('not a pem'))).toBe('KEY_INVALID');
    });
    it('refuses an EC key with KEY_UNSUPPORTED', () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(codeOf(() => createNodeSigner(privateKey))).toBe('KEY_UNSUPPORTED');
    });
    it('refuses a public key with KEY_INVALID', () => {
      const { publicKey } = generateKeyPairSync('ed25519');
      expect(codeOf(() => createNodeSigner(publicKey))).toBe('KEY_INVALID');
    });
  });
  describe('when the seed has the wrong length', () => {
    it('refuses with KEY_INVALID', () => {
      expect(codeOf(() => createTweetnaclSigner(new Uint8Array(31)))).toBe('KEY_INVALID');
      expect(codeOf(() => privateKeyPemFromSeed(new Uint8Array(33)))).toBe('KEY_INVALID');
    });
  });
});

describe('kidOf', () => {
  describe('when given a public key', () => {
    it('is ed25519: + base64url of the first 16 bytes of its SHA-256', () => {
      // RFC 8032 TEST 1 public key
      const pk = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
      const expected = createHash('sha256').update(pk).digest().subarray(0, 16).toString('base64url');
      expect(kidOf(pk)).toBe(`ed25519:${expected}`);
      expect(kidOf(pk)).toMatch(/^ed25519:[A-Za-z0-9_-]{22}$/);
    });
    it('refuses a key that is not 32 bytes with KEY_INVALID', () => {
      expect(codeOf(() => kidOf(new Uint8Array(31)))).toBe('KEY_INVALID');
    });
  });
});

describe('verifyEd25519 strict policy', () => {
  const seed = new Uint8Array(32).fill(3);
  const signer = createTweetnaclSigner(seed);
  const msg = new TextEncoder().encode('policy');

  describe('when the key is not acceptable', () => {
    it('refuses every small-order point as a key (the 8 torsion points)', () => {
      const t8 = decodePoint(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'));
      expect(t8).toBeDefined();
      for (let k = 0n; k < 8n; k++) {
        const enc = encodePoint(multiply(t8!, k));
        expect(isAcceptablePublicKey(enc)).toBe(false);
      }
    });
    it('refuses a non-canonical encoding (y ≥ p) of an otherwise valid key', () => {
      // y = 1 + p is the identity, non-canonically; y + p < 2^255 only for y < 19.
      const enc = new Uint8Array(32);
      let y = 1n + P;
      for (let i = 0; i < 32; i++) {
        enc[i] = Number(y & 0xffn);
        y >>= 8n;
      }
      expect(decodePoint(enc)).toBeUndefined();
      expect(isAcceptablePublicKey(enc)).toBe(false);
    });
    it('refuses bytes that are not a curve point', () => {
      // y = 2 has no x on edwards25519.
      const enc = new Uint8Array(32);
      enc[0] = 2;
      expect(decodePoint(enc)).toBeUndefined();
      expect(isAcceptablePublicKey(enc)).toBe(false);
    });
    it('accepts a real key, which is not of small order', () => {
      expect(isAcceptablePublicKey(signer.publicKey)).toBe(true);
      expect(isSmallOrder(decodePoint(signer.publicKey)!)).toBe(false);
    });
  });

  describe('when the caller reuses one key array', () => {
    it('notices the array changed in place (no stale cached key)', async () => {
      const other = createTweetnaclSigner(new Uint8Array(32).fill(4));
      const sig = await signer.sign(msg);
      const key = Uint8Array.from(signer.publicKey);
      expect(verifyEd25519(key, msg, sig)).toBe(true);
      key.set(other.publicKey);
      expect(verifyEd25519(key, msg, sig)).toBe(false);
      expect(verifyEd25519(key, msg, await other.sign(msg))).toBe(true);
      key.set(new Uint8Array(32));
      expect(verifyEd25519(key, msg, sig)).toBe(false);
    });
  });

  describe('when the signature is malformed', () => {
    it('refuses wrong lengths and never throws on bytes', async () => {
      const sig = await signer.sign(msg);
      expect(verifyEd25519(signer.publicKey, msg, sig.subarray(0, 63))).toBe(false);
      expect(verifyEd25519(signer.publicKey.subarray(0, 31), msg, sig)).toBe(false);
      expect(verifyEd25519(signer.publicKey, msg, new Uint8Array(64))).toBe(false);
    });
    it('throws TypeError for non-bytes and an unknown backend', async () => {
      const sig = await signer.sign(msg);
      expect(() => verifyEd25519('x' as unknown as Uint8Array, msg, sig)).toThrow(TypeError);
      expect(() => verifyEd25519(signer.publicKey, msg, sig, 'openssl' as 'node')).toThrow(TypeError);
    });
  });
});
