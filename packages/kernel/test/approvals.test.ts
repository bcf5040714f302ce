import { afterEach, describe, expect, it } from 'vitest';
import type { Digest, Signer } from '@edca/records';
import { APPROVAL_DOMAIN, signApproval, type AppendedRecord, type Decision } from '@edca/kernel';
import { agent, approverKeys, makeHarness, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ctx = (harness: Harness) => ({ session: harness.session, ...agent });

async function records(harness: Harness): Promise<AppendedRecord[]> {
  const out: AppendedRecord[] = [];
  for await (const r of harness.journal.read()) out.push(r);
  return out;
}

async function escalated(): Promise<{
  harness: Harness;
  decision: Decision;
  keys: ReturnType<typeof approverKeys>;
}> {
  const keys = approverKeys();
  const harness = await makeHarness({ trust: keys.trust });
  h = harness;
  const decision = await harness.kernel.decide(
    { intent: 'refund_payment', params: { payment: harness.refFor('P-1'), amount: 800 } },
    ctx(harness),
  );
  return { harness, decision, keys };
}

function statement(
  decision: Decision,
  signer: Signer,
  verdict: 'approve' | 'reject' = 'approve',
  role = 'approver',
) {
  return {
    domain: APPROVAL_DOMAIN,
    decision: decision.approval!.id,
    actionHash: decision.actionHash!,
    verdict,
    approver: { kid: signer.kid, role },
    at: '2026-03-01T10:01:00.000Z',
  } as const;
}

describe('approvals', () => {
  describe('when a proposal needs approval', () => {
    it('escalates, journals the escalation and creates a pending approval bound to the action hash', async () => {
      const { harness, decision } = await escalated();
      expect(decision).toMatchObject({ verdict: 'escalate', reasons: ['APPROVAL_REQUIRED'] });
      expect(decision.permit).toBeUndefined();
      expect(decision.approval).toMatchObject({
        id: decision.record!.hash,
        required: { count: 2, role: 'approver' },
      });
      const pending = await harness.kernel.store.getApproval(decision.approval!.id);
      expect(pending).toMatchObject({ status: 'pending', actionHash: decision.actionHash, approvers: [] });
      expect(harness.bank.effects).toEqual([]);
    });

    it('counts distinct approvers only and decides again with their approvals as input', async () => {
      const { harness, decision, keys } = await escalated();
      const [a, b] = keys.approvers as [Signer, Signer];
      const first = await harness.kernel.approve(await signApproval(statement(decision, a), a));
      expect(first).toMatchObject({ status: 'pending', approvers: 1, required: 2 });
      const dup = await harness.kernel.approve(await signApproval(statement(decision, a), a));
      expect(dup).toMatchObject({ status: 'pending', approvers: 1 });
      const second = await harness.kernel.approve(await signApproval(statement(decision, b), b));
      expect(second.status).toBe('decided');
      if (second.status !== 'decided') return;
      expect(second.decision).toMatchObject({ verdict: 'permit', reasons: ['APPROVALS_MET'] });
      const input = (second.decision.permit!.record.body as { input: { approvals: unknown } }).input;
      expect(input.approvals).toEqual([a.kid, b.kid].sort().map((kid) => ({ kid, role: 'approver' })));
      const approvalRecords = (await records(harness)).filter((r) => r.record.type === 'approval');
      expect(approvalRecords).toHaveLength(3);
      expect(approvalRecords[0]!.record.body).toMatchObject({
        decision: decision.approval!.id,
        actionHash: decision.actionHash,
        verdict: 'approve',
        approver: { kid: a.kid, role: 'approver' },
      });
      // The approval authorized one permit; it cannot mint a second (APPROVAL_INVALID).
      const reuse = await harness.kernel.decide(
        { intent: 'refund_payment', params: { payment: harness.refFor('P-1'), amount: 800 } },
        { ...ctx(harness), approvalId: decision.approval!.id },
      );
      expect(reuse).toMatchObject({ verdict: 'refuse', reasons: ['APPROVAL_INVALID'] });
      const run = await harness.kernel.execute(second.decision.permit!, { session: harness.session });
      expect(run.status).toBe('completed');
    });
  });

  describe('when an approval is not acceptable', () => {
    it('refuses an unknown escalation with APPROVAL_NOT_FOUND', async () => {
      const { harness, decision, keys } = await escalated();
      const a = keys.approvers[0]!;
      const unknown: Digest = `sha256:${'0'.repeat(64)}`;
      const s = { ...statement(decision, a), decision: unknown };
      expect(await harness.kernel.approve(await signApproval(s, a))).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_NOT_FOUND',
      });
    });

    it('refuses a statement bound to another action with APPROVAL_INVALID', async () => {
      const { harness, decision, keys } = await escalated();
      const a = keys.approvers[0]!;
      const other: Digest = `sha256:${'1'.repeat(64)}`;
      const s = { ...statement(decision, a), actionHash: other };
      expect(await harness.kernel.approve(await signApproval(s, a))).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_INVALID',
      });
    });

    it('refuses a signature by another key than the named approver with APPROVAL_INVALID', async () => {
      const { harness, decision, keys } = await escalated();
      const [a, b] = keys.approvers as [Signer, Signer];
      const signed = await signApproval(statement(decision, a), b);
      expect(await harness.kernel.approve(signed)).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_INVALID',
      });
      expect((await harness.kernel.store.getApproval(decision.approval!.id))?.approvers).toEqual([]);
    });

    it('refuses a key without the approver role with APPROVAL_UNTRUSTED', async () => {
      const { harness, decision, keys } = await escalated();
      const signed = await signApproval(statement(decision, keys.outsider), keys.outsider);
      expect(await harness.kernel.approve(signed)).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_UNTRUSTED',
      });
      const claimed = await signApproval(
        statement(decision, keys.outsider, 'approve', 'auditor'),
        keys.outsider,
      );
      expect(await harness.kernel.approve(claimed)).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_UNTRUSTED',
      });
    });
  });

  describe('when an approver rejects', () => {
    it('refuses with APPROVAL_REJECTED and journals the refusal', async () => {
      const { harness, decision, keys } = await escalated();
      const a = keys.approvers[0]!;
      const r = await harness.kernel.approve(await signApproval(statement(decision, a, 'reject'), a));
      expect(r).toMatchObject({ status: 'refused', code: 'APPROVAL_REJECTED' });
      const last = (await records(harness)).at(-1)!;
      expect(last.record.body).toMatchObject({ verdict: 'refuse', reasons: ['APPROVAL_REJECTED'] });
      const again = await harness.kernel.decide(
        { intent: 'refund_payment', params: { payment: harness.refFor('P-1'), amount: 800 } },
        { ...ctx(harness), approvalId: decision.approval!.id },
      );
      expect(again).toMatchObject({ verdict: 'refuse', reasons: ['APPROVAL_REJECTED'] });
    });
  });

  describe('when an approver rejects with a reason', () => {
    it('journals the reason inside the signed statement, and a later approval is refused APPROVAL_REJECTED', async () => {
      const { harness, decision, keys } = await escalated();
      const [a, b] = keys.approvers as [Signer, Signer];
      const reason = 'customer withdrew the request by phone';
      const signed = await signApproval({ ...statement(decision, a, 'reject'), reason }, a);
      expect(await harness.kernel.approve(signed)).toMatchObject({ code: 'APPROVAL_REJECTED' });
      const rejection = (await records(harness)).find((r) => r.record.type === 'approval')!;
      expect(rejection.record.body).toMatchObject({
        verdict: 'reject',
        statement: { reason },
        sig: signed.sig,
      });
      expect(await harness.kernel.approve(await signApproval(statement(decision, b), b))).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_REJECTED',
      });
      expect((await records(harness)).filter((r) => r.record.type === 'approval')).toHaveLength(1);
    });

    it.each([
      ['an empty reason', { reason: '' }],
      ['a reason over 1000 characters', { reason: 'x'.repeat(1001) }],
      ['a reason with a line break', { reason: 'ok\nAPPROVED by the CFO' }],
      ['a reason that is not text', { reason: 42 }],
      ['an unknown member', { note: 'hello' }],
    ])('refuses a statement with %s as APPROVAL_INVALID and journals nothing', async (_, extra) => {
      const { harness, decision, keys } = await escalated();
      const a = keys.approvers[0]!;
      const before = (await records(harness)).length;
      const signed = await signApproval(
        { ...statement(decision, a, 'reject'), ...extra } as unknown as Parameters<typeof signApproval>[0],
        a,
      );
      expect(await harness.kernel.approve(signed)).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_INVALID',
        message: 'malformed approval statement',
      });
      expect(await records(harness)).toHaveLength(before);
    });

    it('refuses a reason changed after signing (the signature covers it)', async () => {
      const { harness, decision, keys } = await escalated();
      const a = keys.approvers[0]!;
      const signed = await signApproval(
        { ...statement(decision, a, 'reject'), reason: 'fraud suspected' },
        a,
      );
      const altered = { ...signed, statement: { ...signed.statement, reason: 'customer asked' } };
      expect(await harness.kernel.approve(altered)).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_INVALID',
        message: 'the approval signature does not verify',
      });
    });
  });

  describe('when nobody approves in time', () => {
    it('expires the approval and refuses with APPROVAL_EXPIRED', async () => {
      const { harness, decision, keys } = await escalated();
      harness.clock.advance(24 * 60 * 60_000);
      expect(await harness.kernel.expireApprovals()).toBe(1);
      const last = (await records(harness)).at(-1)!;
      expect(last.record.body).toMatchObject({ verdict: 'refuse', reasons: ['APPROVAL_EXPIRED'] });
      const a = keys.approvers[0]!;
      expect(await harness.kernel.approve(await signApproval(statement(decision, a), a))).toMatchObject({
        status: 'refused',
        code: 'APPROVAL_EXPIRED',
      });
    });
  });
});
