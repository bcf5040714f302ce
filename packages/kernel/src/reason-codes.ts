/**
 * Every reason code the kernel itself can put in a refusal, escalation or execution result.
 * Codes that originate in `@edca/semantic` (`evaluate`) or `@edca/arp` (`intake`/`resolve`) keep
 * their names and pass through unchanged; the catalogue is docs/reason-codes.md.
 */
export const KERNEL_REASON_CODES = [
  'NO_MAP_LOADED',
  'UNKNOWN_INTENT',
  'SCHEMA_VIOLATION',
  'REF_NOT_ISSUED',
  'DERIVATION_FAILED',
  'CONDITION_ERROR',
  'NO_RULE_MATCHED',
  'LIMIT_EXCEEDED',
  'STALE_STATE',
  'SIGNER_UNAVAILABLE',
  'JOURNAL_UNAVAILABLE',
  'STORE_UNAVAILABLE',
  'PERMIT_INVALID',
  'PERMIT_EXPIRED',
  'PERMIT_CONSUMED',
  'APPROVAL_NOT_FOUND',
  'APPROVAL_INVALID',
  'APPROVAL_UNTRUSTED',
  'APPROVAL_REJECTED',
  'APPROVAL_EXPIRED',
  'PLAN_INVALID',
  'PLAN_ABORTED',
  'HANDLER_FAILED',
  'HANDLER_FAILED_FINAL',
  'HANDLER_TIMEOUT',
  'CIRCUIT_OPEN',
  'OUTCOME_UNKNOWN',
  'KERNEL_CLOSED',
  'WITNESS_QUORUM_UNMET',
] as const;

/** A reason code the kernel itself produces. */
export type KernelReasonCode = (typeof KERNEL_REASON_CODES)[number];
