/** Why a policy tool stopped (docs/reason-codes.md, "@edca/policy"). */
export type PolicyErrorCode =
  /** A test suite is not YAML, or not the documented shape (the message has file:line:col). */
  | 'SUITE_INVALID'
  /** A suite names a different map than the one under test. */
  | 'SUITE_MAP_MISMATCH'
  /** The kernel a case is decided by could not be started on this map. */
  | 'TEST_KERNEL_FAILED'
  /** `signPolicy`: a case of the suites failed, so nothing is signed. */
  | 'TESTS_FAILED'
  /** `signPolicy`: the key is not in the trust file with role `policy-owner`, valid now. */
  | 'KEY_NOT_POLICY_OWNER'
  /** `signPolicy`: the revision is not a positive safe integer. */
  | 'REVISION_INVALID';

/** Every {@link PolicyErrorCode}, for tools and tests that list them. */
export const POLICY_ERROR_CODES = [
  'SUITE_INVALID',
  'SUITE_MAP_MISMATCH',
  'TEST_KERNEL_FAILED',
  'TESTS_FAILED',
  'KEY_NOT_POLICY_OWNER',
  'REVISION_INVALID',
] as const satisfies readonly PolicyErrorCode[];

/** The one error class of `@edca/policy`: a stable code and a message for people. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  /** Creates an error with a stable code; `cause` keeps the underlying error. */
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
