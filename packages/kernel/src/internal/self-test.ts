/**
 * The startup self-test: every map refuses a known-forbidden proposal and can show all of its own
 * states, the signer signs a probe that verifies, the journal answers.
 */
import { findSquashedTerms } from '@edca/arp';
import { verifyEd25519 } from '@edca/records';
import { KernelError } from '../errors.js';
import { PROBE, type KernelContext } from './context.js';

const SELF_TEST_INTENT = '__edca_self_test_forbidden__';

const fail = (message: string, cause?: unknown): never => {
  throw new KernelError('KERNEL_SELF_TEST_FAILED', message, cause === undefined ? undefined : { cause });
};

function checkMaps(ctx: KernelContext): void {
  for (const { map } of ctx.registry.entries) {
    if (!map.owner || !map.digest || map.intentNames.length === 0)
      fail(`map ${map.name} has no owner, digest or intents`);
    let verdict: string;
    try {
      verdict = map.evaluate({
        policyDigest: map.digest,
        state: { facets: {}, machines: {} },
        proposal: { intent: SELF_TEST_INTENT, params: {} },
        principal: { id: 'edca-self-test', attributes: {} },
        approvals: [],
        counters: {},
      }).verdict;
    } catch (error) {
      verdict = 'error';
      fail(`map ${map.name} threw on a known-forbidden proposal`, error);
    }
    if (verdict !== 'refuse') fail(`map ${map.name} did not refuse a known-forbidden proposal`);
    // A state whose public words spell a private term would be withheld in every view that shows
    // it: a map that cannot show some of its own states is refused here, not found out one
    // withheld view at a time.
    const squashed = findSquashedTerms(map);
    if (squashed.length > 0) fail(`map ${map.name}: ${squashed.map((q) => q.message).join('; ')}`);
  }
}

/**
 * Runs the self-test.
 * @throws KernelError KERNEL_SELF_TEST_FAILED naming the first check that failed
 */
export async function selfTest(ctx: KernelContext): Promise<void> {
  checkMaps(ctx);
  try {
    const sig = await ctx.signer.sign(PROBE);
    if (!verifyEd25519(ctx.signer.publicKey, PROBE, sig))
      fail('the signer produced a signature that does not verify');
  } catch (error) {
    if (error instanceof KernelError) throw error;
    fail('the signer does not sign', error);
  }
  try {
    await ctx.journal.head();
  } catch (error) {
    fail('the journal does not answer', error);
  }
}
