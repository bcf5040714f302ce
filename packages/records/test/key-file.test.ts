import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  loadPrivateKeyFile,
  RecordsError,
  verifyEd25519,
  writePrivateKeyFile,
} from '@edca/records';
import { TEST_SEED } from './fixtures.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'NO_ERROR';
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return (e as RecordsError).code;
  }
};
const dir = (): string => mkdtempSync(join(tmpdir(), 'edca-key-'));

describe('generateKeyPair', () => {
  describe('when called without a seed', () => {
    it('returns a fresh PKCS#8 PEM, its public key and kid', () => {
      const a = generateKeyPair();
      const b = generateKeyPair();
      expect(a.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(a.kid).not.toBe(b.kid);
      expect(a.publicKey).toHaveLength(32);
    });
  });
  describe('when called with a seed', () => {
    it('is deterministic', () => {
      expect(generateKeyPair(TEST_SEED)).toEqual(generateKeyPair(TEST_SEED));
    });
  });
});

describe('writePrivateKeyFile and loadPrivateKeyFile', () => {
  describe('when the file is private', () => {
    it('writes mode 0600 and loads a signer for the same key', async () => {
      const pair = generateKeyPair();
      const path = join(dir(), 'k.key.pem');
      writePrivateKeyFile(path, pair.privateKeyPem);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const signer = loadPrivateKeyFile(path);
      expect(signer.kid).toBe(pair.kid);
      const msg = new Uint8Array([1, 2, 3]);
      expect(verifyEd25519(pair.publicKey, msg, await signer.sign(msg))).toBe(true);
    });
  });
  describe('when the file exists already', () => {
    it('refuses to overwrite with KEY_FILE_EXISTS', () => {
      const path = join(dir(), 'k.key.pem');
      writeFileSync(path, 'x', { mode: 0o600 });
      expect(codeOf(() => writePrivateKeyFile(path, generateKeyPair().privateKeyPem))).toBe(
        'KEY_FILE_EXISTS',
      );
      expect(readFileSync(path, 'utf8')).toBe('x');
    });
  });
  describe('when group or others may access the file', () => {
    it.each([0o640, 0o604, 0o620, 0o602, 0o644, 0o660])(
      'refuses mode %o with KEY_FILE_PERMISSIONS',
      (mode) => {
        const path = join(dir(), 'k.key.pem');
        writePrivateKeyFile(path, generateKeyPair().privateKeyPem);
        chmodSync(path, mode);
        expect(codeOf(() => loadPrivateKeyFile(path))).toBe('KEY_FILE_PERMISSIONS');
      },
    );
    it('accepts mode 0400', () => {
      const path = join(dir(), 'k.key.pem');
      writePrivateKeyFile(path, generateKeyPair().privateKeyPem);
      chmodSync(path, 0o400);
      expect(codeOf(() => loadPrivateKeyFile(path))).toBe('NO_ERROR');
    });
  });
  describe('when the file is missing, not a file, or not a key', () => {
    it('refuses with KEY_FILE_UNREADABLE or KEY_INVALID', () => {
      const d = dir();
      expect(codeOf(() => loadPrivateKeyFile(join(d, 'missing.pem')))).toBe('KEY_FILE_UNREADABLE');
      chmodSync(d, 0o700);
      expect(codeOf(() => loadPrivateKeyFile(d))).toBe('KEY_FILE_UNREADABLE');
      const path = join(d, 'junk.pem');
      writeFileSync(path, 'junk', { mode: 0o600 });
      expect(codeOf(() => loadPrivateKeyFile(path))).toBe('KEY_INVALID');
    });
  });
});
