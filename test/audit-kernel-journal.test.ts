/**
 * The seam between the kernel and the auditor, end to end: a real kernel (real map, ARP routes,
 * file journal, Ed25519 keys, approver statements signed with the kernel's `signApproval`) writes a
 * journal; `@edca/audit`, which never imports the kernel, must find it intact, replay every
 * decision to the same verdict, rule and reasons, and prove single records.
 */
import { readFileSync } from 'node:fs';
import {
  checkInclusionProof,
  createInclusionProof,
  loadReplayMaps,
  safeVerifyJournal,
  type AuditReport,
} from '@edca/audit';
import {
  signApproval,
  APPROVAL_DOMAIN,
  openFileJournal,
  type Decision,
  type KernelOptions,
} from '@edca/kernel';
import { toBase64url, type JsonValue, type TrustFile } from '@edca/records';
import { rewriteFrom } from './helpers/tamper.js';
import { afterEach, describe, expect, it } from 'vitest';
import { agent, approverKeys, makeHarness, type Harness } from '../packages/kernel/test/support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function runDay(
  overrides: Partial<KernelOptions> = {},
): Promise<{ harness: Harness; trust: TrustFile; text: string }> {
  const keys = approverKeys();
  const harness = await makeHarness({ trust: keys.trust, overrides });
  h = harness;
  const ctx = { session: harness.session, ...agent };
  // a small refund: permit, then execution
  const small = await harness.kernel.decide(
    { intent: 'refund_payment', params: { payment: harness.refFor('P-1'), amount: 40 } },
    ctx,
  );
  expect(small.verdict).toBe('permit');
  expect((await harness.kernel.execute(small.permit!, { session: harness.session })).status).toBe(
    'completed',
  );
  // a large refund: escalation, two approvals (one duplicate), permit, execution
  const big: Decision = await harness.kernel.decide(
    { intent: 'refund_payment', params: { payment: harness.refFor('P-2'), amount: 800 } },
    ctx,
  );
  expect(big.verdict).toBe('escalate');
  let decided: Decision | undefined;
  for (const a of keys.approvers.slice(0, 2)) {
    const statement = {
      domain: APPROVAL_DOMAIN,
      decision: big.approval!.id,
      actionHash: big.actionHash!,
      verdict: 'approve',
      approver: { kid: a.kid, role: 'approver' },
      at: '2026-03-01T10:01:00.000Z',
    } as const;
    const r = await harness.kernel.approve(await signApproval(statement, a));
    if (r.status === 'decided') decided = r.decision;
  }
  expect(decided?.verdict).toBe('permit');
  expect((await harness.kernel.execute(decided!.permit!, { session: harness.session })).status).toBe(
    'completed',
  );
  // a failing handler (retried once, then failed), and an unknown intent (kernel refusal)
  harness.bank.faults.set('pay.hold', 'throw');
  const hold = await harness.kernel.decide(
    { intent: 'hold_payment', params: { payment: harness.refFor('P-3') } },
    ctx,
  );
  if (hold.verdict === 'permit') await harness.kernel.execute(hold.permit!, { session: harness.session });
  await harness.kernel.decide({ intent: 'wire_everything', params: {} }, ctx);
  await harness.kernel.close();
  await harness.journal.close();
  const trust: TrustFile = {
    version: 1,
    keys: [
      ...keys.trust.keys,
      {
        kid: harness.signer.kid,
        alg: 'Ed25519',
        publicKey: toBase64url(harness.signer.publicKey),
        role: 'kernel',
        notBefore: '2020-01-01T00:00:00.000Z',
        notAfter: null,
      },
    ],
  };
  return { harness, trust, text: readFileSync(harness.journalPath, 'utf8') };
}

describe('audit of a journal the kernel wrote', () => {
  describe('when nothing was tampered with', () => {
    it('finds it intact, approvals included, and replays every decision identically', async () => {
      const { harness, trust, text } = await runDay();
      const mapText = readFileSync(
        new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
        'utf8',
      );
      const maps = loadReplayMaps([{ file: 'refund-map.yaml', text: mapText }]);
      const r = await safeVerifyJournal(text, { trust, maps, workers: 0 });
      const report: AuditReport = r.ok ? r.value : r.error.report!;
      expect(report.findings).toEqual([]);
      expect(report.byType['approval']).toBe(2);
      expect(report.byVerdict['permit']).toBeGreaterThanOrEqual(2);
      expect(report.byOutcome['completed']).toBe(2);
      expect(report.replay?.mismatches).toBe(0);
      expect(report.replay?.replayed).toBeGreaterThanOrEqual(3);
      expect(report.keysUsed.map((k) => k.role).sort()).toEqual(['approver', 'approver', 'kernel']);
      expect(harness.map.digest).toBe(maps.byDigest.keys().next().value);
    });

    it('proves a permit record against the last checkpoint', async () => {
      const { trust, text } = await runDay();
      const lines = text.trimEnd().split('\n');
      const permitSeq =
        lines.findIndex((l) => l.includes('"verdict":"permit"') && l.includes('"type":"decision"')) + 1;
      const proof = createInclusionProof(text, permitSeq);
      expect(checkInclusionProof(proof, trust).record.seq).toBe(permitSeq);
    });
  });

  describe('when the kernel decided by itself (rejection, expiry, plan, unknown outcome, retries)', () => {
    it('finds it intact with maps: every kernel.* record passes the pre-check replay', async () => {
      const keys = approverKeys();
      const harness = await makeHarness({ trust: keys.trust });
      h = harness;
      const ctx = { session: harness.session, ...agent };
      const big = (payment: string) =>
        harness.kernel.decide(
          { intent: 'refund_payment', params: { payment: harness.refFor(payment), amount: 800 } },
          ctx,
        );
      // rejected by an approver: the kernel journals kernel.approval APPROVAL_REJECTED
      const rejected = await big('P-4');
      const a = keys.approvers[0]!;
      const statement = {
        domain: APPROVAL_DOMAIN,
        decision: rejected.approval!.id,
        actionHash: rejected.actionHash!,
        verdict: 'reject',
        approver: { kid: a.kid, role: 'approver' },
        at: '2026-03-01T10:01:00.000Z',
      } as const;
      expect((await harness.kernel.approve(await signApproval(statement, a))).status).toBe('refused');
      // a plan whose first step the state machine does not allow: kernel.plan
      const plan = await harness.kernel.runPlan(
        [{ proposal: { intent: 'release_hold', params: { payment: harness.refFor('P-6') } } }],
        ctx,
      );
      expect(plan.code).toBe('PLAN_INVALID');
      // a handler that hangs on both tries: try 1 superseded, try 2 unknown, then kernel.outcome-unknown
      harness.bank.faults.set('pay.hold', 'hang');
      const hang = await harness.kernel.decide(
        { intent: 'hold_payment', params: { payment: harness.refFor('P-7') } },
        ctx,
      );
      expect((await harness.kernel.execute(hang.permit!, { session: harness.session })).status).toBe(
        'unknown',
      );
      // a transient failure, then success on the second try
      harness.bank.faults.set('pay.hold', 'flaky');
      const flaky = await harness.kernel.decide(
        { intent: 'hold_payment', params: { payment: harness.refFor('P-8') } },
        ctx,
      );
      expect((await harness.kernel.execute(flaky.permit!, { session: harness.session })).status).toBe(
        'completed',
      );
      // an escalation nobody answered, expired: kernel.approval APPROVAL_EXPIRED
      await big('P-5');
      harness.clock.advance(25 * 60 * 60_000);
      expect(await harness.kernel.expireApprovals()).toBeGreaterThanOrEqual(1);
      await harness.kernel.close();
      await harness.journal.close();
      const text = readFileSync(harness.journalPath, 'utf8');
      for (const rule of ['APPROVAL_REJECTED', 'APPROVAL_EXPIRED', 'PLAN_INVALID', 'OUTCOME_UNKNOWN'])
        expect(text).toContain(`"reasons":["${rule}"`);
      expect(text).toContain('"try":2');
      const trust: TrustFile = {
        version: 1,
        keys: [
          ...keys.trust.keys,
          {
            kid: harness.signer.kid,
            alg: 'Ed25519',
            publicKey: toBase64url(harness.signer.publicKey),
            role: 'kernel',
            notBefore: '2020-01-01T00:00:00.000Z',
            notAfter: null,
          },
        ],
      };
      const mapText = readFileSync(
        new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
        'utf8',
      );
      const maps = loadReplayMaps([{ file: 'refund-map.yaml', text: mapText }]);
      const r = await safeVerifyJournal(text, { trust, maps, workers: 0, now: '2026-03-03T00:00:00.000Z' });
      const report: AuditReport = r.ok ? r.value : r.error.report!;
      expect(report.findings).toEqual([]);
    });
  });

  describe('when one approval authorized a second permit (issue 13: one approval, two payouts)', () => {
    it.each([
      ['names it (record format 2)', true],
      ['does not name it (older journals)', false],
    ])('reports APPROVAL_REUSED at the second permit when the permit %s', async (_, named) => {
      const { harness, trust } = await runDay();
      const all = readFileSync(harness.journalPath, 'utf8').trimEnd().split('\n');
      const first = all
        .map((l) => JSON.parse(l) as { type: string; at: string; body: Record<string, JsonValue> })
        .find((r) => r.type === 'decision' && (r.body['reasons'] as string[])[0] === 'APPROVALS_MET')!;
      expect(first.body['approval']).toBeDefined();
      const body = { ...first.body };
      if (!named) delete body['approval'];
      const journal = await openFileJournal({
        path: harness.journalPath,
        stream: 'test',
        signer: harness.signer,
        fsync: false,
      });
      const [second] = await journal.append([{ type: 'decision', at: first.at, body }]);
      await journal.close();
      const text = readFileSync(harness.journalPath, 'utf8');
      const r = await safeVerifyJournal(text, { trust, workers: 0 });
      const report: AuditReport = r.ok ? r.value : r.error.report!;
      expect(report.findings.map((f) => [f.code, f.seq])).toEqual([['APPROVAL_REUSED', second!.record.seq]]);
    });
  });

  describe('when the kernel wrote snapshots of its ledger (issue 13.5)', () => {
    it('finds each one equal to the fold of the records before it', async () => {
      const { trust, text } = await runDay({ snapshotEvery: 3 });
      const r = await safeVerifyJournal(text, { trust, workers: 0 });
      const report: AuditReport = r.ok ? r.value : r.error.report!;
      expect(report.findings).toEqual([]);
      expect(report.byType['snapshot']).toBeGreaterThanOrEqual(2);
    });

    it.each([
      ['leaves out an activated policy', (s: Record<string, JsonValue>) => ({ ...s, policies: [] })],
      ['claims a permit was never made', (s: Record<string, JsonValue>) => ({ ...s, permits: [] })],
    ])('reports SNAPSHOT_MISMATCH at a re-signed snapshot that %s', async (_, change) => {
      const { harness, trust, text } = await runDay({ snapshotEvery: 3 });
      const lines = text.trimEnd().split('\n');
      const seq = lines.findLastIndex((l) => l.includes('"type":"snapshot"')) + 1;
      const forged = await rewriteFrom(lines, seq, harness.signer, (rec) => {
        const body = rec.body as Record<string, JsonValue>;
        return { body: { ...body, state: change(body['state'] as Record<string, JsonValue>) } };
      });
      const r = await safeVerifyJournal(forged, { trust, workers: 0 });
      const report: AuditReport = r.ok ? r.value : r.error.report!;
      expect(report.findings.map((f) => [f.code, f.seq])).toEqual([['SNAPSHOT_MISMATCH', seq]]);
    });
  });

  describe('when a decision in the journal differs from what its policy gives', () => {
    it('reports REPLAY_MISMATCH at that decision', async () => {
      const { harness, trust, text } = await runDay();
      const lines = text.trimEnd().split('\n');
      // the last decision the map evaluated (after the approvals, so no approver must re-sign)
      const seq =
        lines.findLastIndex((l) => l.includes('"type":"decision"') && !l.includes('"rule":"kernel.')) + 1;
      const forged = await rewriteFrom(lines, seq, harness.signer, (r) => ({
        body: { ...(r.body as Record<string, JsonValue>), rule: 'forged.rule' },
      }));
      const mapText = readFileSync(
        new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
        'utf8',
      );
      const maps = loadReplayMaps([{ file: 'refund-map.yaml', text: mapText }]);
      const r = await safeVerifyJournal(forged, { trust, maps, workers: 0 });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.report!.findings).toEqual([expect.objectContaining({ code: 'REPLAY_MISMATCH', seq })]);
        expect(r.error.report!.findings[0]!.message).toContain('forged.rule');
      }
    });
  });

  describe('when the state map given for replay is another version', () => {
    it('refuses to replay against it (REPLAY_MAP_MISSING), never against a different digest', async () => {
      const { trust, text } = await runDay();
      const mapText = readFileSync(
        new URL('../packages/kernel/test/support/refund-map.yaml', import.meta.url),
        'utf8',
      );
      const edited = mapText.replace('params.amount > 500.0', 'params.amount > 600.0');
      expect(edited).not.toBe(mapText);
      const maps = loadReplayMaps([{ file: 'edited.yaml', text: edited }]);
      const r = await safeVerifyJournal(text, { trust, maps, workers: 0 });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.report!.findings.map((f) => f.code)).toEqual(['REPLAY_MAP_MISSING']);
        expect(r.error.report!.replay?.mismatches).toBe(0);
      }
    });
  });
});
