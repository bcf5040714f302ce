import { createWorkerSigner, generateKeyPair, verifyRecordLine, type ChainSigner } from '@edca/records';
import { afterEach, describe, expect, it } from 'vitest';

import { agent, makeHarness, type Harness } from './support/harness.js';

// The kernel with the journal signing on a worker thread (docs/journal.md, "Signing off-thread"):
// the same permits, executions and refusals as with a signer on the kernel's thread.
let h: Harness | undefined;
let signer: ChainSigner | undefined;
afterEach(async () => {
  await h?.close();
  await signer?.close();
  h = undefined;
  signer = undefined;
});

const ctx = (harness: Harness) => ({ session: harness.session, ...agent });

describe('kernel with a worker signer', () => {
  describe('when proposals are permitted and executed', () => {
    it('journals signed permits, attempts and outcomes that verify under the kernel key', async () => {
      signer = createWorkerSigner(generateKeyPair().privateKeyPem);
      h = await makeHarness({ signer });
      const harness = h;
      const decisions = await Promise.all(
        ['P-1', 'P-2', 'P-3'].map((id) =>
          harness.kernel.decide(
            { intent: 'refund_payment', params: { payment: harness.refFor(id), amount: 20 } },
            ctx(harness),
          ),
        ),
      );
      expect(decisions.map((d) => d.verdict)).toEqual(['permit', 'permit', 'permit']);
      for (const d of decisions) {
        expect(await harness.kernel.execute(d.permit!, { session: harness.session })).toMatchObject({
          status: 'completed',
        });
      }
      const types: string[] = [];
      for await (const r of harness.journal.read()) {
        verifyRecordLine(r.bytes, signer.publicKey);
        types.push(r.record.type);
      }
      expect(types.filter((t) => t === 'decision')).toHaveLength(3);
      expect(types.filter((t) => t === 'attempt')).toHaveLength(3);
      expect(types.filter((t) => t === 'outcome')).toHaveLength(3);
    });
  });

  describe('when the worker signer is closed under a running kernel', () => {
    it('refuses with SIGNER_UNAVAILABLE and issues no permit', async () => {
      signer = createWorkerSigner(generateKeyPair().privateKeyPem);
      h = await makeHarness({ signer });
      const ref = h.refFor('P-1');
      await signer.close();
      const d = await h.kernel.decide({ intent: 'hold_payment', params: { payment: ref } }, ctx(h));
      expect(d).toMatchObject({ verdict: 'refuse', reasons: ['SIGNER_UNAVAILABLE'], record: null });
      expect(d.permit).toBeUndefined();
    });
  });
});
