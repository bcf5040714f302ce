import { CANONICAL_SIG_PATTERN, RECORD_SIGNING_PREFIX, type SignedRecord } from '@edca/records';

// Where a record's signed bytes sit inside its canonical line. The signing domains and the approval
// message are wire constants of @edca/records (`RECORD_SIGNING_PREFIX`, `approvalMessage`).

/**
 * The bytes a record's signature covers, cut from its canonical line: in RFC 8785 member order
 * `sig` sits just before `stream` and `type`, so removing the `"sig":"…",` member leaves the
 * canonical unsigned record (no second canonicalization; `signingMessage` gives the same bytes).
 * Only called on lines `decodeRecord` accepted as canonical.
 */
export function recordSigningBytes(bytes: Buffer, record: SignedRecord): Buffer {
  return Buffer.concat(recordSigningParts(bytes, record));
}

/** {@link recordSigningBytes} as three slices (prefix, line before `sig`, line after it): no copy. */
export function recordSigningParts(bytes: Buffer, record: SignedRecord): [Uint8Array, Buffer, Buffer] {
  const tail = Buffer.byteLength(
    `"stream":${JSON.stringify(record.stream)},"type":${JSON.stringify(record.type)}}`,
  );
  const member = `"sig":"${record.sig}",`;
  const cut = bytes.length - tail - member.length;
  if (bytes.toString('latin1', cut, cut + member.length) !== member) {
    throw new Error('invariant: a canonical record has its sig member before stream and type');
  }
  return [RECORD_SIGNING_PREFIX, bytes.subarray(0, cut), bytes.subarray(cut + member.length)];
}

const SIG_KEY = Buffer.from('"sig":"', 'latin1');
/** Bytes of the `"sig":"<86 characters>",` member of a canonical record line. */
export const SIG_MEMBER_BYTES = 95;

/**
 * Where the `"sig":"…",` member starts in a canonical record line, found without building any
 * string: it is the last `"sig":"` of the line, because only `stream` and `type` follow it and a
 * JSON string cannot hold that sequence unescaped (nested `sig` keys, as in an approval body, sit
 * inside `body`, before it). The signed message is then `RECORD_SIGNING_PREFIX` ‖ the line
 * without those 95 bytes: what {@link recordSigningParts} gives, with no copy or slice here.
 * Only called on lines `decodeRecord` accepted as canonical.
 */
export function recordSigAt(bytes: Buffer): number {
  const at = bytes.lastIndexOf(SIG_KEY);
  if (at <= 0 || bytes[at - 1] !== 0x2c || bytes[at + 93] !== 0x22 || bytes[at + 94] !== 0x2c) {
    throw new Error('invariant: a canonical record has its sig member before stream and type');
  }
  return at;
}

/**
 * Whether a record's `sig` (86 base64url characters, checked by the decoder) is the canonical
 * encoding of its 64 bytes: the last character carries 2 bits and 4 zero bits, so only A, Q, g
 * and w may end it. B, R, h, x… decode to the same bytes, and the signature does not cover its
 * own text, so without this check the last line's sig could be re-spelled unnoticed (records'
 * `verifyRecordLine` refuses it as SIG_ENCODING alike).
 */
export function isCanonicalSig(sig: string): boolean {
  return CANONICAL_SIG_PATTERN.test(sig);
}
