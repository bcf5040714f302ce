import { canonicalBytes, RECORD_SIGNATURE_DOMAIN, type JsonValue, type SignedRecord } from '@edca/records';

// The exact bytes that signatures cover (docs/contracts.md). Records: `edca-record-v1` 0x00 ‖
// JCS(record without sig), defined by @edca/records. Approvals: `edca-approval-v1` 0x0a ‖
// JCS(statement), defined by the kernel's approval.ts, which the auditor must not import; the
// cross-package test test/audit-kernel-journal.test.ts pins that both agree.

const RECORD_PREFIX = Buffer.from(`${RECORD_SIGNATURE_DOMAIN}\0`, 'latin1');

/** The approval signature domain; an approver's statement carries it as `domain`. */
export const APPROVAL_DOMAIN = 'edca-approval-v1';
const APPROVAL_PREFIX = Buffer.from(`${APPROVAL_DOMAIN}\n`, 'latin1');

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
export function recordSigningParts(bytes: Buffer, record: SignedRecord): [Buffer, Buffer, Buffer] {
  const tail = Buffer.byteLength(
    `"stream":${JSON.stringify(record.stream)},"type":${JSON.stringify(record.type)}}`,
  );
  const member = `"sig":"${record.sig}",`;
  const cut = bytes.length - tail - member.length;
  if (bytes.toString('latin1', cut, cut + member.length) !== member) {
    throw new Error('invariant: a canonical record has its sig member before stream and type');
  }
  return [RECORD_PREFIX, bytes.subarray(0, cut), bytes.subarray(cut + member.length)];
}

const SIG_KEY = Buffer.from('"sig":"', 'latin1');
/** Bytes of the `"sig":"<86 characters>",` member of a canonical record line. */
export const SIG_MEMBER_BYTES = 95;

/**
 * Where the `"sig":"…",` member starts in a canonical record line, found without building any
 * string: it is the last `"sig":"` of the line, because only `stream` and `type` follow it and a
 * JSON string cannot hold that sequence unescaped (nested `sig` keys, as in an approval body, sit
 * inside `body`, before it). The signed message is then {@link RECORD_SIGNING_PREFIX} ‖ the line
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

/** The domain prefix of record signatures: `edca-record-v1` 0x00. */
export const RECORD_SIGNING_PREFIX: Uint8Array = RECORD_PREFIX;

/** The bytes an approver signs: `edca-approval-v1` 0x0a ‖ JCS(statement). */
export function approvalSigningBytes(statement: JsonValue): Buffer {
  return Buffer.concat([APPROVAL_PREFIX, canonicalBytes(statement)]);
}

/**
 * Whether a record's `sig` (86 base64url characters, checked by the decoder) is the canonical
 * encoding of its 64 bytes: the last character carries 2 bits and 4 zero bits, so only A, Q, g
 * and w may end it. B, R, h, x… decode to the same bytes, and the signature does not cover its
 * own text, so without this check the last line's sig could be re-spelled unnoticed (records'
 * `verifyRecordLine` refuses it as SIG_ENCODING alike).
 */
export function isCanonicalSig(sig: string): boolean {
  const c = sig.charCodeAt(sig.length - 1);
  return c === 0x41 || c === 0x51 || c === 0x67 || c === 0x77;
}
