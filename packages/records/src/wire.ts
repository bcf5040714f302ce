/**
 * The wire constants of edca, defined once: the text patterns of digests, key ids, signatures and
 * record times, and the domain-separated messages that signatures cover (docs/record-format.md,
 * docs/contracts.md). Every other module, in records and in the packages above it, imports them
 * from here, so a format change is one edit.
 */
import type { Digest } from './digest.js';
import { canonicalBytes, type JsonValue } from './ijson.js';

/** A {@link Digest}: `sha256:` and 64 lower-case hex digits. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** A key id: `ed25519:` and 22 base64url characters (the first 16 bytes of the key's SHA-256). */
export const KID_PATTERN = /^ed25519:[A-Za-z0-9_-]{22}$/;

/** Unpadded base64url text (RFC 4648 §5), of any length. */
export const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;

/** A record's `sig`: 86 base64url characters, the length of 64 bytes unpadded. */
export const SIG_PATTERN = /^[A-Za-z0-9_-]{86}$/;

/**
 * A `sig` that is the canonical encoding of its 64 bytes: the last character carries 2 data bits
 * and 4 zero bits, so only A, Q, g and w may end it. Other spellings decode to the same bytes, and
 * a signature does not cover its own text, so they are refused (`SIG_ENCODING`).
 */
export const CANONICAL_SIG_PATTERN = /^[A-Za-z0-9_-]{85}[AQgw]$/;

/** An RFC 3339 UTC instant, with 0 to 9 fraction digits. */
export const RFC3339_UTC_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** A record's `at`: RFC 3339 UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
export const RECORD_AT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A stable code as records carry it: SCREAMING_SNAKE, 1 to 64 characters. */
export const SCREAMING_CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** The domain-separation tag of record signatures (docs/record-format.md §Signature). */
export const RECORD_SIGNATURE_DOMAIN = 'edca-record-v1';

/** What a record signature covers before the canonical record: the domain and one 0x00 byte. */
export const RECORD_SIGNING_PREFIX: Uint8Array = Buffer.from(`${RECORD_SIGNATURE_DOMAIN}\0`, 'latin1');

/** The domain-separation tag of approval signatures; a statement carries it as `domain`. */
export const APPROVAL_DOMAIN = 'edca-approval-v1';

/** What an approval signature covers before the canonical statement: the domain and 0x0a. */
export const APPROVAL_SIGNING_PREFIX: Uint8Array = Buffer.from(`${APPROVAL_DOMAIN}\n`, 'latin1');

/** What an approver signs to approve or reject one escalated action. */
export interface ApprovalStatement {
  readonly domain: typeof APPROVAL_DOMAIN;
  /** Hash of the journaled `escalate` decision record (the pending approval's id). */
  readonly decision: Digest;
  readonly actionHash: Digest;
  readonly verdict: 'approve' | 'reject';
  readonly approver: { readonly kid: string; readonly role: string };
  /** RFC 3339 UTC instant the approver signed at (informational; the kernel's clock decides expiry). */
  readonly at: string;
  /**
   * Why the approver decided so, in their words (`edca reject --reason`): signed with the rest, so
   * the journaled reason is the approver's and nobody else's. Optional; see
   * {@link APPROVAL_REASON_PATTERN}.
   */
  readonly reason?: string;
}

/**
 * The members an approval statement may have: the six every statement has, and `reason`. Anything
 * else makes the statement malformed (kernel: `APPROVAL_INVALID`; audit: an `APPROVAL_INVALID`
 * finding), so the signed bytes hold nothing a reader does not understand.
 */
export const APPROVAL_STATEMENT_MEMBERS: ReadonlySet<string> = new Set([
  'domain',
  'decision',
  'actionHash',
  'verdict',
  'approver',
  'at',
  'reason',
]);

/**
 * A statement's `reason`: 1 to 1000 code points with no control character (`Cc`: C0, DEL, C1)
 * and no line or paragraph separator, so a reason printed by a tool or a report is one line and
 * cannot rewrite the terminal.
 */
export const APPROVAL_REASON_PATTERN = /^[^\p{Cc}\p{Zl}\p{Zp}]{1,1000}$/u;

/**
 * Whether `value` has the shape of an {@link ApprovalStatement}: the approval domain, a verdict,
 * string `decision`, `actionHash` and `at`, an approver `{ kid, role }` of strings, a well-formed
 * `reason` if any, and no other member. Binding and signature are the verifier's to check.
 * @example
 * isApprovalStatementShape({ ...statement, reason: 'customer withdrew' }); // true
 */
export function isApprovalStatementShape(value: unknown): value is ApprovalStatement {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const s = value as Record<string, unknown>;
  const approver = s['approver'];
  const reason = s['reason'];
  return (
    Object.keys(s).every((k) => APPROVAL_STATEMENT_MEMBERS.has(k)) &&
    s['domain'] === APPROVAL_DOMAIN &&
    (s['verdict'] === 'approve' || s['verdict'] === 'reject') &&
    typeof s['decision'] === 'string' &&
    typeof s['actionHash'] === 'string' &&
    typeof s['at'] === 'string' &&
    typeof approver === 'object' &&
    approver !== null &&
    !Array.isArray(approver) &&
    typeof (approver as Record<string, unknown>)['kid'] === 'string' &&
    typeof (approver as Record<string, unknown>)['role'] === 'string' &&
    (reason === undefined || (typeof reason === 'string' && APPROVAL_REASON_PATTERN.test(reason)))
  );
}

/**
 * The exact bytes an approver signs: `edca-approval-v1` 0x0a ‖ RFC 8785(statement). The domain keeps
 * an approval signature from ever being valid as a record signature, and the statement binds the
 * approver to the escalate record's hash and the action hash. The auditor calls it on the statement
 * a journal recorded, which is any I-JSON value until checked.
 * @throws RecordsError `IJSON_*` when the statement is not I-JSON
 * @example
 * approvalMessage(statement).subarray(0, 17); // 'edca-approval-v1\n'
 */
export function approvalMessage(statement: ApprovalStatement | JsonValue): Uint8Array {
  const body = canonicalBytes(statement);
  const out = new Uint8Array(APPROVAL_SIGNING_PREFIX.length + body.length);
  out.set(APPROVAL_SIGNING_PREFIX, 0);
  out.set(body, APPROVAL_SIGNING_PREFIX.length);
  return out;
}
