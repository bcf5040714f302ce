/**
 * Stable codes of audit findings. A finding is a value in the report, never an exception; each one
 * names the record (by `seq`) where the problem was seen. The meaning of every code is in
 * `FINDING_DESCRIPTIONS` and, for auditors, in docs/audit-guide.md.
 */
export const FINDING_CODES = [
  'JOURNAL_EMPTY',
  'LINE_MALFORMED',
  'LINE_NOT_CANONICAL',
  'BODY_INVALID',
  'STREAM_MISMATCH',
  'SEQ_GAP',
  'SEQ_OUT_OF_ORDER',
  'PREV_MISMATCH',
  'TIME_REGRESSION',
  'TIME_IN_FUTURE',
  'UNKNOWN_KEY',
  'KEY_ROLE_MISMATCH',
  'KEY_NOT_VALID_AT',
  'KEY_RETIRED',
  'KEY_RECORD_MISMATCH',
  'SIGNATURE_INVALID',
  'CHECKPOINT_SIZE_MISMATCH',
  'CHECKPOINT_ROOT_MISMATCH',
  'POLICY_DIGEST_UNKNOWN',
  'DECISION_INCONSISTENT',
  'APPROVAL_INVALID',
  'APPROVAL_MISSING',
  'APPROVAL_REUSED',
  'LIMIT_OVERRUN',
  'ATTEMPT_WITHOUT_PERMIT',
  'ATTEMPT_ACTION_MISMATCH',
  'PERMIT_REUSED',
  'PERMIT_EXPIRED',
  'OUTCOME_WITHOUT_ATTEMPT',
  'OUTCOME_MISMATCH',
  'OUTCOME_DUPLICATE',
  'OUTCOME_SUPERSEDED',
  'REPLAY_MAP_MISSING',
  'REPLAY_MISMATCH',
  'TRUNCATED',
  'WITNESS_INCONSISTENT',
  'SESSION_REOPENED',
  'SNAPSHOT_MISMATCH',
  'ACTIVATION_INVALID',
  'ACTIVATION_UNTRUSTED',
  'ACTIVATION_MISMATCH',
  'ACTIVATION_ROLLBACK',
  'SHADOW_EXECUTED',
  'SHADOW_INCONSISTENT',
] as const;

/** One stable finding code. */
export type FindingCode = (typeof FINDING_CODES)[number];

/** One problem found in a journal, located by the record's `seq` and its 1-based line number. */
export interface Finding {
  readonly code: FindingCode;
  /** The record's `seq`; for a line that cannot be decoded, the `seq` expected at that position. */
  readonly seq: number;
  /** 1-based line number in the journal file. */
  readonly line: number;
  /** A human sentence with the specifics (expected and actual values). */
  readonly message: string;
}

/** One plain-language sentence per finding code, shown in reports and in the audit guide. */
export const FINDING_DESCRIPTIONS: Readonly<Record<FindingCode, string>> = {
  JOURNAL_EMPTY: 'The journal holds no record at all.',
  LINE_MALFORMED: 'A line is not a record: not JSON, a missing field, or a blank or cut-off line.',
  LINE_NOT_CANONICAL:
    'A line is a record but not written in the one canonical byte form; the stored bytes were altered.',
  BODY_INVALID: 'The body of a record does not have the fields its record type requires.',
  STREAM_MISMATCH: 'A record belongs to a different stream than the first record of the journal.',
  SEQ_GAP: 'Sequence numbers jump forward: records are missing before this one.',
  SEQ_OUT_OF_ORDER: 'A sequence number repeats or goes backwards: records were duplicated or reordered.',
  PREV_MISMATCH: 'The record does not name the hash of the record before it: the chain is broken here.',
  TIME_REGRESSION: 'The record is dated earlier than the record before it.',
  TIME_IN_FUTURE:
    "The record is dated later than the verifier's 'now' plus the allowed clock skew: it claims a time that has not come.",
  UNKNOWN_KEY: 'The record (or an approval) is signed with a key that the trust file does not list.',
  KEY_ROLE_MISMATCH:
    'The signing key is trusted, but not for this role (e.g. an approver key signed a kernel record).',
  KEY_NOT_VALID_AT:
    'The signing key was not valid at the time the record carries (before notBefore or after notAfter).',
  KEY_RETIRED: 'The signing key signed after the journal recorded its retirement.',
  KEY_RECORD_MISMATCH: 'A key record in the journal names a public key that differs from the trust file.',
  SIGNATURE_INVALID: 'The signature does not match the record bytes: the record was changed after signing.',
  CHECKPOINT_SIZE_MISMATCH:
    'A checkpoint claims a number of earlier records that differs from the records present.',
  CHECKPOINT_ROOT_MISMATCH:
    'A checkpoint root does not match the records before it: some earlier record was changed.',
  POLICY_DIGEST_UNKNOWN: 'A decision names a policy version that was not activated earlier in the journal.',
  DECISION_INCONSISTENT:
    'A decision record contradicts its own recorded input, or lacks what the kernel writes with its verdict (expiry, approval requirement).',
  APPROVAL_INVALID:
    "An approval is not valid: the approver's signature, key, role or binding to the escalated action is wrong.",
  APPROVAL_MISSING: 'A permit relies on an approval that does not appear earlier in the journal.',
  APPROVAL_REUSED:
    'A second permit used an approval that had already authorized a permit (approvals are single use).',
  LIMIT_OVERRUN: "A permit's hold took a limit counter past its max (format 2 journals, which record holds).",
  ATTEMPT_WITHOUT_PERMIT: 'An execution attempt does not point to an earlier permit.',
  ATTEMPT_ACTION_MISMATCH: 'An execution attempt is for a different action than its permit allowed.',
  PERMIT_REUSED: 'A permit was used for more than one execution (permits are single use).',
  PERMIT_EXPIRED: 'An execution attempt happened after its permit expired.',
  OUTCOME_WITHOUT_ATTEMPT: 'An outcome does not point to an earlier execution attempt.',
  OUTCOME_MISMATCH: 'An outcome names a permit other than the one its attempt used.',
  OUTCOME_DUPLICATE: 'An attempt has more than one final outcome.',
  OUTCOME_SUPERSEDED:
    'An outcome names a try that a later try of the same execution replaced (the kernel records the outcome of the last try only).',
  REPLAY_MAP_MISSING:
    'Replay was asked for, but no state map with the policy digest of this decision was given.',
  REPLAY_MISMATCH:
    'Re-running the decision under its pinned policy gives a different verdict, rule, reasons, accountable role or approval requirement.',
  TRUNCATED:
    'The journal has fewer records than the expected size given to the verifier, or than a checkpoint witnesses cosigned.',
  WITNESS_INCONSISTENT:
    'The records a witnessed checkpoint covers do not hash to the root the witnesses cosigned: history was rewritten.',
  SESSION_REOPENED:
    'A model session has a refused output or a second end after its `session.ended` record: it went on after it ended.',
  SNAPSHOT_MISMATCH:
    'A `snapshot` record does not state what the records before it mean: a kernel restarting from it would decide differently than from the whole journal.',
  ACTIVATION_INVALID:
    "A policy owner's activation statement is malformed, or its signature does not verify: the policy was not put in force by its owner.",
  ACTIVATION_UNTRUSTED:
    'An activation statement is signed by a key the trust file does not list with role `policy-owner` at the time it names.',
  ACTIVATION_MISMATCH:
    'An activation statement names another map or content digest than the `policy.activated` record that carries it.',
  ACTIVATION_ROLLBACK:
    'A signed activation has a revision not higher than an earlier activation of the same map: an old policy was put back without a new signature.',
  SHADOW_EXECUTED:
    'An attempt runs a shadow record: a candidate map decision, which is never a permit, was executed.',
  SHADOW_INCONSISTENT:
    'A shadow record does not match its own input: its decision key or policy is not the one its input names.',
};
