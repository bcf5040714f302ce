import { describe, expect, it } from 'vitest';
import {
  createNodeSigner,
  createSodiumSigner,
  createTweetnaclSigner,
  privateKeyPemFromSeed,
  verifyEd25519,
  type Ed25519Backend,
  type Signer,
} from '@edca/records';
import { djbSignInput, rfc8032Section71, type SignVector } from './ed25519-vectors.js';
import { BACKENDS } from './backends.js';
import { hex } from './vectors.js';

const signers: Record<Ed25519Backend, (seed: Uint8Array) => Signer> = {
  sodium: (seed) => createSodiumSigner(privateKeyPemFromSeed(seed)),
  node: (seed) => createNodeSigner(privateKeyPemFromSeed(seed)),
  tweetnacl: (seed) => createTweetnaclSigner(seed),
};

async function check(v: SignVector, backend: Ed25519Backend): Promise<void> {
  const signer = signers[backend](hex(v.seed));
  expect(Buffer.from(signer.publicKey).toString('hex')).toBe(v.pub);
  const msg = hex(v.msg);
  const sig = await signer.sign(msg);
  expect(Buffer.from(sig).toString('hex')).toBe(v.sig);
  expect(verifyEd25519(hex(v.pub), msg, hex(v.sig), backend)).toBe(true);
  // Any change to the message must fail.
  const other =
    msg.length === 0 ? new Uint8Array([0]) : Uint8Array.from(msg, (b, i) => (i === 0 ? b ^ 1 : b));
  expect(verifyEd25519(hex(v.pub), other, hex(v.sig), backend)).toBe(false);
}

describe('RFC 8032 §7.1 Ed25519 test vectors', () => {
  const vectors = rfc8032Section71();
  it('has the five tests of the RFC', () => {
    expect(vectors.map((v) => v.name)).toEqual(['TEST 1', 'TEST 2', 'TEST 3', 'TEST 1024', 'TEST SHA(abc)']);
  });
  for (const backend of BACKENDS) {
    describe(`when signing and verifying with ${backend}`, () => {
      it.each(vectors.map((v) => [v.name, v] as const))('reproduces %s', async (_n, v) => {
        await check(v, backend);
      });
    });
  }
});

describe("djb's sign.input (1024 vectors)", () => {
  const vectors = djbSignInput();
  it('has 1024 lines', () => {
    expect(vectors).toHaveLength(1024);
  });
  for (const backend of BACKENDS.filter((b) => b !== 'tweetnacl')) {
    describe(`when signing and verifying with ${backend}`, () => {
      it('reproduces every public key and signature', async () => {
        for (const v of vectors) await check(v, backend);
      });
    });
  }
  // tweetnacl takes ~3 ms to sign and ~6 ms to verify: the full file is in sign-input.slow.test.ts;
  // here every 16th line keeps the unit suite fast while still crossing backends.
  describe('when signing and verifying with tweetnacl (every 16th line)', () => {
    it('reproduces those public keys and signatures', async () => {
      for (const v of vectors.filter((_v, i) => i % 16 === 0)) await check(v, 'tweetnacl');
    });
  });
});
