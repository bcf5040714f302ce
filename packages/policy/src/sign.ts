/**
 * The policy owner's signing tool: runs the test suites on exactly the map content being
 * activated and, only if every case passes, signs an activation statement binding the map's
 * name and digest, a revision number and the digest of the passing report.
 */
import {
  ACTIVATION_DOMAIN,
  findTrustedKey,
  POLICY_OWNER_ROLE,
  signActivation,
  verifyActivation,
  type SignedActivation,
  type Signer,
  type TrustFile,
} from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { PolicyError } from './errors.js';
import { reportDigest, type TestReport } from './report.js';
import { runTests } from './run-tests.js';
import type { TestSuite } from './suite.js';

/** What {@link signPolicy} needs. */
export interface SignPolicyOptions {
  readonly map: CompiledMap;
  /** The suites to run; at least one. */
  readonly suites: readonly TestSuite[];
  /** The policy owner's key; its kid must be in `trust` with role `policy-owner`, valid at `at`. */
  readonly signer: Signer;
  readonly trust: TrustFile;
  /** A positive integer, higher than any revision of this map activated before. */
  readonly revision: number;
  /** RFC 3339 UTC instant of signing (the caller's clock). */
  readonly at: string;
}

/** The outcome of {@link signPolicy}: a signed activation, or the report of the failing run. */
export type SignPolicyResult =
  | { readonly ok: true; readonly activation: SignedActivation; readonly report: TestReport }
  | { readonly ok: false; readonly code: 'TESTS_FAILED'; readonly report: TestReport };

/**
 * Runs the suites and signs the activation only when every case passes.
 * @throws PolicyError REVISION_INVALID, KEY_NOT_POLICY_OWNER (checked before anything runs);
 *   SUITE_MAP_MISMATCH, TEST_KERNEL_FAILED from the run
 * @example const r = await signPolicy({ map, suites, signer, trust, revision: 3, at: new Date().toISOString() });
 */
export async function signPolicy(options: SignPolicyOptions): Promise<SignPolicyResult> {
  const { map, signer, trust, revision, at } = options;
  if (!Number.isSafeInteger(revision) || revision < 1)
    throw new PolicyError(
      'REVISION_INVALID',
      `the revision must be a positive integer, got ${String(revision)}`,
    );
  if (findTrustedKey(trust, signer.kid, POLICY_OWNER_ROLE, at) === undefined)
    throw new PolicyError(
      'KEY_NOT_POLICY_OWNER',
      `key ${signer.kid} is not in the trust file with role ${POLICY_OWNER_ROLE} valid at ${at}`,
    );
  if (options.suites.length === 0) throw new PolicyError('SUITE_INVALID', 'no test suite to run');
  const report = await runTests(map, options.suites);
  if (report.summary.failed > 0) return { ok: false, code: 'TESTS_FAILED', report };
  const activation = await signActivation(
    {
      domain: ACTIVATION_DOMAIN,
      map: map.name,
      mapDigest: map.digest,
      revision,
      tests: reportDigest(report),
      owner: { kid: signer.kid, role: POLICY_OWNER_ROLE },
      at,
    },
    signer,
  );
  // What a kernel will check, checked before the file leaves the owner's machine.
  const check = verifyActivation(activation, trust, { map: map.name, mapDigest: map.digest });
  if (!check.ok)
    throw new Error(`invariant: a fresh activation does not verify: ${check.code} ${check.message}`);
  return { ok: true, activation, report };
}
