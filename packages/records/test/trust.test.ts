import { describe, expect, it } from 'vitest';
import {
  addTrustedKey,
  findTrustedKey,
  generateKeyPair,
  parseTrustFile,
  publicKeyOfTrusted,
  RecordsError,
  serializeTrustFile,
  toBase64url,
  trustedKeyFor,
  type TrustFile,
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

const kernel = generateKeyPair(TEST_SEED);
const approver = generateKeyPair(new Uint8Array(32).fill(42));
const trust: TrustFile = {
  version: 1,
  keys: [
    trustedKeyFor(kernel.publicKey, 'kernel', '2026-01-01T00:00:00.000Z', {
      notAfter: '2026-07-01T00:00:00Z',
      name: 'k1',
    }),
    trustedKeyFor(approver.publicKey, 'approver', '2026-01-01T00:00:00Z'),
  ],
};
const text = serializeTrustFile(trust);

describe('parseTrustFile', () => {
  describe('when the file is valid', () => {
    it('round-trips serializeTrustFile', () => {
      expect(parseTrustFile(text)).toEqual(trust);
      expect(text.endsWith('}\n')).toBe(true);
      expect(publicKeyOfTrusted(trust.keys[0]!)).toEqual(kernel.publicKey);
    });
  });
  describe('when the file is invalid', () => {
    const edit = (f: (v: { version: number; keys: Record<string, unknown>[] }) => void): string => {
      const v = JSON.parse(text) as { version: number; keys: Record<string, unknown>[] };
      f(v);
      return JSON.stringify(v);
    };
    const cases: [string, string, string][] = [
      ['not JSON', '{', 'TRUST_SYNTAX'],
      ['a duplicate JSON key', '{"version":1,"version":1,"keys":[]}', 'TRUST_SYNTAX'],
      ['version 2', edit((v) => (v.version = 2)), 'TRUST_INVALID'],
      ['an unknown field', edit((v) => (v.keys[0]!.comment = 'x')), 'TRUST_INVALID'],
      ['another algorithm', edit((v) => (v.keys[0]!.alg = 'ES256')), 'TRUST_INVALID'],
      [
        'a public key of 31 bytes',
        edit((v) => (v.keys[0]!.publicKey = toBase64url(new Uint8Array(31)))),
        'TRUST_INVALID',
      ],
      [
        'a small-order public key',
        edit((v) => (v.keys[0]!.publicKey = toBase64url(new Uint8Array(32)))),
        'TRUST_INVALID',
      ],
      [
        'padded base64',
        edit((v) => (v.keys[0]!.publicKey = `${String(v.keys[0]!.publicKey)}=`)),
        'TRUST_INVALID',
      ],
      ['a local time', edit((v) => (v.keys[0]!.notBefore = '2026-01-01T00:00:00')), 'TRUST_INVALID'],
      [
        'notAfter before notBefore',
        edit((v) => (v.keys[0]!.notAfter = '2025-01-01T00:00:00Z')),
        'TRUST_INVALID',
      ],
      ['an upper-case role', edit((v) => (v.keys[0]!.role = 'Kernel')), 'TRUST_INVALID'],
      [
        'a kid not derived from the key',
        edit((v) => (v.keys[0]!.kid = v.keys[1]!.kid)),
        'TRUST_KID_MISMATCH',
      ],
      [
        'the same key twice',
        edit((v) => v.keys.push({ ...v.keys[0]!, role: 'approver' })),
        'TRUST_DUPLICATE_KID',
      ],
    ];
    it.each(cases)('refuses %s', (_n, t, code) => {
      expect(codeOf(() => parseTrustFile(t))).toBe(code);
    });
    it('refuses adding a key already present', () => {
      expect(codeOf(() => addTrustedKey(trust, trust.keys[1]!))).toBe('TRUST_DUPLICATE_KID');
    });
  });
});

describe('findTrustedKey', () => {
  describe('when the window and role match', () => {
    it('finds the key from notBefore (inclusive) to notAfter (exclusive)', () => {
      expect(findTrustedKey(trust, kernel.kid, 'kernel', '2026-01-01T00:00:00.000Z')).toBe(trust.keys[0]);
      expect(findTrustedKey(trust, kernel.kid, 'kernel', '2026-06-30T23:59:59.999Z')).toBe(trust.keys[0]);
      expect(findTrustedKey(trust, approver.kid, 'approver', '2099-01-01T00:00:00.000Z')).toBe(trust.keys[1]);
    });
  });
  describe('when the window, role or kid do not match', () => {
    it('returns undefined', () => {
      expect(findTrustedKey(trust, kernel.kid, 'kernel', '2025-12-31T23:59:59.999Z')).toBeUndefined();
      expect(findTrustedKey(trust, kernel.kid, 'kernel', '2026-07-01T00:00:00.000Z')).toBeUndefined();
      expect(findTrustedKey(trust, kernel.kid, 'approver', '2026-02-01T00:00:00.000Z')).toBeUndefined();
      expect(
        findTrustedKey(trust, 'ed25519:AAAAAAAAAAAAAAAAAAAAAA', 'kernel', '2026-02-01T00:00:00.000Z'),
      ).toBeUndefined();
    });
    it('refuses an instant that is not one', () => {
      expect(codeOf(() => findTrustedKey(trust, kernel.kid, 'kernel', 'yesterday'))).toBe('RECORD_INVALID');
    });
  });
});
