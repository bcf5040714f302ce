import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkRecordBody,
  createTweetnaclSigner,
  decodeRecord,
  digestBytes,
  encodeRecord,
  kidOf,
  RecordsError,
  recordHash,
  safeVerifyRecord,
  safeVerifyRecordLine,
  sealRecord,
  signingMessage,
  signRecord,
  verifyEd25519,
  verifyRecord,
  verifyRecordHash,
  verifyRecordLine,
  type RecordsErrorCode,
  type SignedRecord,
  type Signer,
  type UnsignedRecord,
} from '@edca/records';
import { checkpointRecord, permitRecord, TEST_SEED, testSigner } from './fixtures.js';

const codeOf = async (f: () => unknown): Promise<RecordsErrorCode | 'NO_ERROR'> => {
  try {
    await f();
    return 'NO_ERROR';
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return (e as RecordsError).code;
  }
};

const signer = testSigner();
const other = createTweetnaclSigner(new Uint8Array(32).fill(9));

describe('signRecord', () => {
  describe('when the record is well-formed', () => {
    it('signs the domain-separated canonical bytes of every field but sig', async () => {
      const unsigned = permitRecord(signer.kid);
      const record = await signRecord(unsigned, signer);
      const msg = signingMessage(unsigned);
      expect(Buffer.from(msg.subarray(0, 15)).toString('latin1')).toBe('edca-record-v1\0');
      expect(verifyEd25519(signer.publicKey, msg, Buffer.from(record.sig, 'base64url'))).toBe(true);
      expect({ ...record, sig: undefined }).toEqual({ ...unsigned, sig: undefined });
    });
    it('gives byte-identical records with the node and tweetnacl signers', async () => {
      const nacl = createTweetnaclSigner(TEST_SEED);
      expect(nacl.kid).toBe(signer.kid);
      const unsigned = permitRecord(signer.kid);
      expect(await signRecord(unsigned, nacl)).toEqual(await signRecord(unsigned, signer));
    });
  });

  describe('when the record is malformed', () => {
    const base = (): Record<string, unknown> => ({ ...permitRecord(signer.kid) });
    const cases: [string, (r: Record<string, unknown>) => void, RecordsErrorCode][] = [
      ['an unknown field', (r) => (r.extra = 1), 'RECORD_INVALID'],
      ['a missing field', (r) => delete r.at, 'RECORD_INVALID'],
      ['an unknown type', (r) => (r.type = 'decision.v2'), 'RECORD_INVALID'],
      ['seq 0', (r) => (r.seq = 0), 'RECORD_INVALID'],
      ['a fractional seq', (r) => (r.seq = 1.5), 'RECORD_INVALID'],
      ['seq 1 with a prev', (r) => (r.seq = 1), 'RECORD_INVALID'],
      ['seq 2 without a prev', (r) => (r.prev = null), 'RECORD_INVALID'],
      ['an upper-case prev digest', (r) => (r.prev = `sha256:${'A'.repeat(64)}`), 'RECORD_INVALID'],
      ['at without milliseconds', (r) => (r.at = '2026-03-01T09:30:00Z'), 'RECORD_INVALID'],
      ['at with an offset', (r) => (r.at = '2026-03-01T09:30:00.000+01:00'), 'RECORD_INVALID'],
      ['at on February 30', (r) => (r.at = '2026-02-30T09:30:00.000Z'), 'RECORD_INVALID'],
      ['an empty stream', (r) => (r.stream = ''), 'RECORD_INVALID'],
      ['a malformed kid', (r) => (r.kid = 'kernel-1'), 'RECORD_INVALID'],
      ['a sig on an unsigned record', (r) => (r.sig = 'x'), 'RECORD_INVALID'],
      [
        'a body with an undefined optional member',
        (r) => (r.body = { ...(r.body as object), expiresAt: undefined }),
        'IJSON_UNDEFINED',
      ],
      ['a body missing a field', (r) => (r.body = { verdict: 'permit' }), 'RECORD_INVALID_BODY'],
      [
        'a body with an unknown key',
        (r) => (r.body = { ...(r.body as object), extra: 1 }),
        'RECORD_INVALID_BODY',
      ],
      [
        'a body with a bad verdict',
        (r) => (r.body = { ...(r.body as object), verdict: 'maybe' }),
        'RECORD_INVALID_BODY',
      ],
      [
        'a body with NaN',
        (r) => (r.body = { ...(r.body as object), input: { x: NaN } }),
        'IJSON_NON_FINITE_NUMBER',
      ],
      ['another signer kid', (r) => (r.kid = other.kid), 'RECORD_KID_MISMATCH'],
    ];
    it.each(cases)('refuses %s', async (_n, mutate, code) => {
      const r = base();
      mutate(r);
      expect(await codeOf(() => signRecord(r as unknown as UnsignedRecord, signer))).toBe(code);
    });
    it('refuses a signer that returns a malformed signature', async () => {
      const broken: Signer = { ...signer, sign: () => Promise.resolve(new Uint8Array(63)) };
      expect(await codeOf(() => signRecord(permitRecord(signer.kid), broken))).toBe('SIG_INVALID');
    });
    it('refuses a lone surrogate in the stream name', async () => {
      expect(await codeOf(() => signRecord({ ...permitRecord(signer.kid), stream: 'a\ud800' }, signer))).toBe(
        'IJSON_LONE_SURROGATE',
      );
    });
  });
});

describe('sealRecord', () => {
  describe('when sealing a record', () => {
    it('returns exactly encodeRecord bytes and recordHash', async () => {
      for (const unsigned of [
        permitRecord(signer.kid),
        checkpointRecord(signer.kid),
        { ...permitRecord(signer.kid), stream: 'ström-€-😀' },
      ]) {
        const sealed = await sealRecord(unsigned, signer);
        expect(Buffer.from(sealed.bytes).equals(Buffer.from(encodeRecord(sealed.record)))).toBe(true);
        expect(sealed.hash).toBe(recordHash(sealed.record));
        expect(sealed.hash).toBe(digestBytes(sealed.bytes));
      }
    });
  });
});

describe('verifyRecord', () => {
  describe('when the record is untouched', () => {
    it('verifies on both backends', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      expect(() => verifyRecord(record, signer.publicKey)).not.toThrow();
      expect(() => verifyRecord(record, signer.publicKey, 'tweetnacl')).not.toThrow();
      expect(safeVerifyRecord(record, signer.publicKey)).toEqual({ ok: true, value: record });
    });
  });
  describe('when the record or key is wrong', () => {
    it('refuses another key with RECORD_KID_MISMATCH', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      const r = safeVerifyRecord(record, other.publicKey);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('RECORD_KID_MISMATCH');
    });
    it('refuses any changed field with SIG_INVALID', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      const changed: SignedRecord[] = [
        { ...record, seq: 3 },
        { ...record, stream: 'bank-eu-2' },
        { ...record, at: '2026-03-01T09:30:00.126Z' },
        { ...record, prev: `sha256:${'b'.repeat(64)}` },
        { ...record, body: { ...(record.body as object), verdict: 'refuse' } },
      ];
      for (const c of changed)
        expect(await codeOf(() => verifyRecord(c, signer.publicKey))).toBe('SIG_INVALID');
    });
    it('refuses a non-canonical base64url signature with SIG_ENCODING', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      // The last character carries 4 unused bits; setting one gives the same bytes, another spelling.
      const last = record.sig.at(-1) ?? 'A';
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twin = alphabet[alphabet.indexOf(last) + 1] ?? 'B';
      expect(
        await codeOf(() =>
          verifyRecord({ ...record, sig: record.sig.slice(0, -1) + twin }, signer.publicKey),
        ),
      ).toBe('SIG_ENCODING');
    });
    it('refuses a malleated signature (S + L) with SIG_INVALID on both backends', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      const sig = Buffer.from(record.sig, 'base64url');
      let s = 0n;
      for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] ?? 0);
      s += 2n ** 252n + 27742317777372353535851937790883648493n;
      for (let i = 32; i < 64; i++) {
        sig[i] = Number(s & 0xffn);
        s >>= 8n;
      }
      const malleated = { ...record, sig: sig.toString('base64url') };
      expect(await codeOf(() => verifyRecord(malleated, signer.publicKey))).toBe('SIG_INVALID');
      expect(await codeOf(() => verifyRecord(malleated, signer.publicKey, 'tweetnacl'))).toBe('SIG_INVALID');
    });
  });
});

describe('verifyRecordHash', () => {
  describe('when the record is untouched', () => {
    it('returns its record hash, on both backends, for any stream text', async () => {
      const sealed = await sealRecord({ ...permitRecord(signer.kid), stream: 'ström-€-😀' }, signer);
      expect(verifyRecordHash(sealed.record, signer.publicKey)).toBe(sealed.hash);
      expect(verifyRecordHash(sealed.record, signer.publicKey, 'tweetnacl')).toBe(recordHash(sealed.record));
    });
  });
  describe('when the record or key is wrong', () => {
    it('refuses as verifyRecord does: a changed field, another key, a non-canonical value', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      const cases: [SignedRecord, Uint8Array][] = [
        [{ ...record, seq: 3 }, signer.publicKey],
        [{ ...record, body: { ...(record.body as object), verdict: 'refuse' } }, signer.publicKey],
        [{ ...record, stream: 'bank-eu-2' }, signer.publicKey],
        [record, other.publicKey],
        [{ ...record, body: { ...(record.body as object), amount: Number.NaN } }, signer.publicKey],
        [{ ...record, sig: 'A'.repeat(86) }, signer.publicKey],
      ];
      for (const [c, key] of cases) {
        const expected = await codeOf(() => verifyRecord(c, key));
        expect(expected).not.toBe('NO_ERROR');
        expect(await codeOf(() => verifyRecordHash(c, key))).toBe(expected);
      }
    });
  });
});

describe('decodeRecord', () => {
  describe('when the line is canonical', () => {
    it('round-trips encodeRecord', async () => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      expect(decodeRecord(encodeRecord(record))).toEqual(record);
      expect(decodeRecord(Buffer.from(encodeRecord(record)).toString())).toEqual(record);
    });
  });
  describe('when the line is not canonical or not a record', () => {
    const variants: [string, (line: string, r: SignedRecord) => string, RecordsErrorCode][] = [
      ['with a trailing newline', (l) => `${l}\n`, 'RECORD_NOT_CANONICAL'],
      ['with whitespace', (l) => l.replace('"seq":2', '"seq": 2'), 'RECORD_NOT_CANONICAL'],
      [
        'with reordered members',
        (_l, { type, ...rest }) => JSON.stringify({ type, ...rest }),
        'RECORD_NOT_CANONICAL',
      ],
      [
        'with a duplicated member',
        (l) => l.replace('{"at"', '{"at":"2026-03-01T09:30:00.125Z","at"'),
        'RECORD_NOT_CANONICAL',
      ],
      [
        'with an escaped letter',
        (l) => l.replace('"stream":"bank', '"stream":"\\u0062ank'),
        'RECORD_NOT_CANONICAL',
      ],
      ['with 2.0 for 2', (l) => l.replace('"seq":2', '"seq":2.0'), 'RECORD_NOT_CANONICAL'],
      ['with a BOM', (l) => `\ufeff${l}`, 'IJSON_SYNTAX'],
      ['truncated', (l) => l.slice(0, -1), 'IJSON_SYNTAX'],
      ['with an extra member', (l) => l.replace('{"at"', '{"a":1,"at"'), 'RECORD_INVALID'],
      [
        'with an invalid body',
        (l) => l.replace('"verdict":"permit"', '"verdict":"perhaps"'),
        'RECORD_INVALID_BODY',
      ],
      [
        'with a lone surrogate escape',
        (l) => l.replace('"stream":"bank', '"stream":"\\ud800bank'),
        'IJSON_LONE_SURROGATE',
      ],
    ];
    it.each(variants)('refuses a line %s', async (_n, mutate, code) => {
      const record = await signRecord(permitRecord(signer.kid), signer);
      const line = mutate(Buffer.from(encodeRecord(record)).toString(), record);
      expect(await codeOf(() => decodeRecord(line))).toBe(code);
    });
    it('refuses invalid UTF-8', async () => {
      const bytes = Buffer.from(encodeRecord(await signRecord(permitRecord(signer.kid), signer)));
      bytes[bytes.indexOf('bank')] = 0xff;
      expect(await codeOf(() => decodeRecord(bytes))).toBe('RECORD_NOT_CANONICAL');
    });
  });
});

describe('verifyRecordLine', () => {
  describe('when the line is a signed record', () => {
    it('returns the record, its bytes and its hash, with a key or a key function', async () => {
      const sealed = await sealRecord({ ...permitRecord(signer.kid), stream: 'ström-€-😀' }, signer);
      expect(verifyRecordLine(sealed.bytes, signer.publicKey)).toEqual(sealed);
      expect(
        verifyRecordLine(sealed.bytes, (r) => (r.kid === signer.kid ? signer.publicKey : undefined)).hash,
      ).toBe(sealed.hash);
      expect(verifyRecordLine(sealed.bytes, signer.publicKey, 'tweetnacl').hash).toBe(sealed.hash);
    });
    it('refuses with KEY_UNTRUSTED when the key function has no key', async () => {
      const sealed = await sealRecord(permitRecord(signer.kid), signer);
      const r = safeVerifyRecordLine(sealed.bytes, () => undefined);
      expect(r.ok ? 'ok' : r.error.code).toBe('KEY_UNTRUSTED');
    });
    it('refuses another key with RECORD_KID_MISMATCH', async () => {
      const sealed = await sealRecord(permitRecord(signer.kid), signer);
      const r = safeVerifyRecordLine(sealed.bytes, other.publicKey);
      expect(r.ok ? 'ok' : r.error.code).toBe('RECORD_KID_MISMATCH');
    });
  });

  describe('when any single byte of a signed line changes (property)', () => {
    it('verification fails, whatever the position and new value', async () => {
      const sealed = await sealRecord(permitRecord(signer.kid), signer);
      const line = Buffer.from(sealed.bytes);
      fc.assert(
        fc.property(fc.nat({ max: line.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, delta) => {
          const tampered = Buffer.from(line);
          tampered[pos] = ((tampered[pos] ?? 0) + delta) & 0xff;
          expect(safeVerifyRecordLine(tampered, signer.publicKey).ok).toBe(false);
          // The object path fails too, when the tampered line still decodes at all.
          let decoded: SignedRecord | undefined;
          try {
            decoded = decodeRecord(tampered);
          } catch {
            decoded = undefined;
          }
          if (decoded !== undefined) expect(safeVerifyRecord(decoded, signer.publicKey).ok).toBe(false);
        }),
        { numRuns: 2000 },
      );
    });
    it('every position, changed once, fails', async () => {
      const sealed = await sealRecord(permitRecord(signer.kid), signer);
      const line = Buffer.from(sealed.bytes);
      for (let pos = 0; pos < line.length; pos++) {
        const tampered = Buffer.from(line);
        tampered[pos] = (tampered[pos] ?? 0) ^ 0x01;
        expect(safeVerifyRecordLine(tampered, signer.publicKey).ok, `byte ${pos}`).toBe(false);
      }
    });
  });
});

describe('checkRecordBody', () => {
  describe('when a body matches its type', () => {
    it('accepts a bare minimal body of every type', () => {
      const d = `sha256:${'0'.repeat(64)}`;
      const bodies: Pick<UnsignedRecord, 'type' | 'body'>[] = [
        {
          type: 'policy.activated',
          body: { policyDigest: d, name: 'refunds', version: '1.0.0', owner: 'ops' },
        },
        {
          type: 'key.added',
          body: {
            kid: kidOf(signer.publicKey),
            publicKey: Buffer.from(signer.publicKey).toString('base64url'),
            role: 'kernel',
          },
        },
        {
          type: 'key.retired',
          body: {
            kid: kidOf(signer.publicKey),
            publicKey: Buffer.from(signer.publicKey).toString('base64url'),
            role: 'kernel',
          },
        },
        {
          type: 'approval',
          body: {
            decision: d,
            actionHash: d,
            verdict: 'approve',
            approver: { kid: signer.kid, role: 'approver' },
            statement: { a: 1 },
            sig: 'A'.repeat(86),
          },
        },
        { type: 'attempt', body: { permit: d, actionHash: d, idempotencyKey: 'k1', try: 1 } },
        { type: 'outcome', body: { attempt: d, permit: d, status: 'failed', error: { code: 'TIMEOUT' } } },
        { type: 'checkpoint', body: { size: 10, root: 'A'.repeat(43) } },
      ];
      for (const b of bodies) expect(() => checkRecordBody(b)).not.toThrow();
    });
  });
});
