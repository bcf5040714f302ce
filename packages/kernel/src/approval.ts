/**
 * Approval statements: what an approver signs to approve or reject one escalated action.
 *
 * The signed bytes are `"edca-approval-v1\n" ‖ RFC 8785(statement)`: the domain prefix keeps an
 * approval signature from ever being valid as a record or any other edca signature, and the
 * statement binds the approver to the escalate record's hash AND the action hash.
 */
import {
  approvalMessage,
  APPROVAL_DOMAIN,
  BASE64URL_PATTERN,
  findTrustedKey,
  isApprovalStatementShape,
  verifyEd25519,
  type ApprovalStatement,
  type Digest,
  type Signer,
  type TrustFile,
} from '@edca/records';

// The statement format and its signed bytes are wire constants of @edca/records (the auditor checks
// the same bytes); the kernel keeps exporting them so its API stays.
export { approvalMessage, APPROVAL_DOMAIN, type ApprovalStatement };

/** A statement with its Ed25519 signature (base64url, 64 bytes). */
export interface SignedApproval {
  readonly statement: ApprovalStatement;
  readonly sig: string;
}

/**
 * Signs an approval statement with an approver's signer (the approver tool's side).
 * @throws RecordsError IJSON_* for a malformed statement; whatever the signer throws
 * @example const signed = await signApproval(statement, approverSigner);
 */
export async function signApproval(statement: ApprovalStatement, signer: Signer): Promise<SignedApproval> {
  const sig = await signer.sign(approvalMessage(statement));
  return { statement, sig: Buffer.from(sig).toString('base64url') };
}

/** Why an approval was not accepted. */
export type ApprovalCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly code: 'APPROVAL_INVALID' | 'APPROVAL_UNTRUSTED';
      readonly message: string;
    };

/**
 * Verifies an approval strictly: shape and domain (a `reason`, if any, well formed; no unknown member), binding to the expected escalate record and action
 * hash, a trusted key with the required role valid at `at`, and the Ed25519 signature over the
 * domain-separated bytes.
 * @example verifyApproval(signed, trust, { decision, actionHash, role: 'approver', at }).ok;
 */
export function verifyApproval(
  signed: SignedApproval,
  trust: TrustFile,
  expected: {
    readonly decision: Digest;
    readonly actionHash: Digest;
    readonly role: string;
    readonly at: string;
  },
): ApprovalCheck {
  const s = signed.statement;
  if (!isApprovalStatementShape(s) || typeof signed.sig !== 'string' || !BASE64URL_PATTERN.test(signed.sig)) {
    return { ok: false, code: 'APPROVAL_INVALID', message: 'malformed approval statement' };
  }
  if (s.decision !== expected.decision || s.actionHash !== expected.actionHash) {
    return {
      ok: false,
      code: 'APPROVAL_INVALID',
      message: 'the statement is bound to another decision or action',
    };
  }
  if (s.approver.role !== expected.role) {
    return { ok: false, code: 'APPROVAL_UNTRUSTED', message: `the approval needs role ${expected.role}` };
  }
  const key = findTrustedKey(trust, s.approver.kid, expected.role, expected.at);
  if (!key) {
    return {
      ok: false,
      code: 'APPROVAL_UNTRUSTED',
      message: 'no trusted key with the required role for this kid',
    };
  }
  let message: Uint8Array;
  try {
    message = approvalMessage(s);
  } catch {
    return { ok: false, code: 'APPROVAL_INVALID', message: 'the statement is not I-JSON' };
  }
  const publicKey = Buffer.from(key.publicKey, 'base64url');
  const sig = Buffer.from(signed.sig, 'base64url');
  if (sig.length !== 64 || !verifyEd25519(publicKey, message, sig)) {
    return { ok: false, code: 'APPROVAL_INVALID', message: 'the approval signature does not verify' };
  }
  return { ok: true };
}
