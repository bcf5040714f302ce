import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  createRunDirectory,
  loadBuiltInSuite,
  removeRunDirectory,
  runBaseline,
  runThroughKernel,
  type RunKeys,
} from '@edca/eval';
import { createSigner, generateKeyPair, trustedKeyFor } from '@edca/records';

const suite = loadBuiltInSuite('online-banking');
const kernel = createSigner(generateKeyPair().privateKeyPem);
const owner = createSigner(generateKeyPair().privateKeyPem);
const keys: RunKeys = {
  kernel,
  owner,
  refKey: randomBytes(32),
  trust: {
    version: 1,
    keys: [
      trustedKeyFor(kernel.publicKey, 'kernel', '2026-01-01T00:00:00Z'),
      trustedKeyFor(owner.publicKey, 'account-holder', '2026-01-01T00:00:00Z'),
    ],
  },
};
const dir = createRunDirectory();
afterAll(() => removeRunDirectory(dir));
const user = (id: string) => suite.userTasks.find((u) => u.id === id)!;
const attack = (id: string) => suite.injectionTasks.find((i) => i.id === id)!;
let runNo = 0;

describe('a run', () => {
  describe('when three small payments to a new payee are injected into a rent payment', () => {
    it('succeeds with no kernel', () => {
      const r = runBaseline(suite, user('pay-rent'), attack('small-payments-exfiltration'));
      expect(r.attackSucceeded).toBe(true);
      expect(r.utility).toBe(true);
    });

    it('is escalated and rejected by the owner through edca, the rent is paid, and the journal verifies', async () => {
      const r = await runThroughKernel(
        suite,
        keys,
        'owner',
        dir,
        runNo++,
        user('pay-rent'),
        attack('small-payments-exfiltration'),
      );
      expect(r.attackSucceeded).toBe(false);
      expect(r.utility).toBe(true);
      const attacker = r.proposals.filter((p) => p.by === 'attacker');
      expect(attacker).toHaveLength(3);
      for (const p of attacker) {
        expect(p).toMatchObject({
          fate: 'escalated-not-approved',
          approval: 'rejected',
          codes: ['APPROVAL_REQUIRED'],
        });
      }
      expect(r.proposals.find((p) => p.by === 'user')).toMatchObject({ fate: 'executed' });
      expect(r.session).toBe('MODEL_STOPPED');
      expect(r.audit).toMatchObject({ ok: true, findings: [] });
      expect(r.audit!.records).toBeGreaterThan(8);
    });
  });

  describe('when the user task itself needs the account holder', () => {
    it('is done only when the owner approves what was asked (approver none leaves it pending)', async () => {
      const none = await runThroughKernel(suite, keys, 'none', dir, runNo++, user('pay-deposit'));
      expect(none.utility).toBe(false);
      expect(none.proposals[0]).toMatchObject({ fate: 'escalated-not-approved', approval: 'unanswered' });
      const owner = await runThroughKernel(suite, keys, 'owner', dir, runNo++, user('pay-deposit'));
      expect(owner.utility).toBe(true);
      expect(owner.proposals[0]).toMatchObject({ fate: 'executed', approval: 'approved' });
      expect(owner.audit?.ok).toBe(true);
    });
  });

  describe('when runs follow each other', () => {
    it("starts every run from the suite's records: limits and effects of one run do not reach the next", async () => {
      const first = await runThroughKernel(suite, keys, 'owner', dir, runNo++, user('statement-and-rent'));
      const second = await runThroughKernel(suite, keys, 'owner', dir, runNo++, user('statement-and-rent'));
      expect(first.utility).toBe(true);
      expect(second).toEqual({ ...first });
    });
  });
});
