import { describe, expect, it } from 'vitest';
import { createTweetnaclSigner, verifyEd25519 } from '@edca/records';
import { djbSignInput } from './ed25519-vectors.js';
import { hex } from './vectors.js';

describe("djb's sign.input on tweetnacl (all 1024 lines)", () => {
  describe('when signing and verifying with tweetnacl', () => {
    it('reproduces every public key and signature, and verifies each', async () => {
      const vectors = djbSignInput();
      expect(vectors).toHaveLength(1024);
      for (const v of vectors) {
        const signer = createTweetnaclSigner(hex(v.seed));
        expect(Buffer.from(signer.publicKey).toString('hex')).toBe(v.pub);
        expect(Buffer.from(await signer.sign(hex(v.msg))).toString('hex')).toBe(v.sig);
        expect(verifyEd25519(hex(v.pub), hex(v.msg), hex(v.sig), 'tweetnacl')).toBe(true);
      }
    });
  });
});
