// Regression tests for what a journal means across a restart (issue 13, "Why"): every guarantee the
// kernel gives before a restart must hold after one, on the same journal.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, type Signer } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { loadLedgerMap } from './support/ledger-map.js';
import type { ArpHandler } from '@edca/arp';
import { APPROVAL_DOMAIN, signApproval, type Decision } from '@edca/kernel';
import {
  agent,
  approverKeys,
  bankHandlers,
  createBank,
  makeHarness,
  testClock,
  type Bank,
  type Harness,
  type HarnessOptions,
  type TestClock,
} from './support/harness.js';

const dirs: string[] = [];
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Handlers of the bank plus credit and note, which record an effect per idempotency key. */
function handlers(bank: Bank, gate?: { before?: () => Promise<void> }): Record<string, ArpHandler> {
  const effect =
    (name: string): ArpHandler =>
    async (call, context) => {
      await gate?.before?.();
      if (bank.effects.some((e) => e.key === context.idempotencyKey && e.handler === name))
        return { deduped: true };
      bank.effects.push({
        handler: name,
        key: context.idempotencyKey,
        id: call.realParams['PAY_ID'] as string,
      });
      return { ok: true };
    };
  return { ...bankHandlers(bank), 'pay.credit': effect('pay.credit'), 'pay.note': effect('pay.note') };
}

interface World {
  readonly dir: string;
  readonly pem: string;
  readonly bank: Bank;
  readonly clock: TestClock;
  readonly keys: ReturnType<typeof approverKeys>;
}

function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'edca-ledger-restart-'));
  dirs.push(dir);
  return {
    dir,
    pem: generateKeyPair().privateKeyPem,
    bank: createBank(),
    clock: testClock(),
    keys: approverKeys(),
  };
}

async function start(
  w: World,
  extra: { map?: CompiledMap; gate?: { before?: () => Promise<void> } } & Partial<HarnessOptions> = {},
): Promise<Harness> {
  const h = await makeHarness({
    dir: w.dir,
    signerPem: w.pem,
    bank: w.bank,
    clock: w.clock,
    trust: w.keys.trust,
    maps: [extra.map ?? loadLedgerMap()],
    overrides: { handlers: handlers(w.bank, extra.gate), ...extra.overrides },
  });
  open.push(h);
  return h;
}

async function stop(h: Harness): Promise<void> {
  open.splice(open.indexOf(h), 1);
  await h.close();
}

const ctx = (h: Harness) => ({ session: h.session, ...agent });
const credit = (h: Harness, id: string, amount: number) => ({
  intent: 'credit_payment',
  params: { payment: h.refFor(id), amount },
});
const note = (h: Harness, id: string) => ({ intent: 'note_payment', params: { payment: h.refFor(id) } });

async function approveWith(h: Harness, decision: Decision, signer: Signer) {
  return h.kernel.approve(
    await signApproval(
      {
        domain: APPROVAL_DOMAIN,
        decision: decision.approval!.id,
        actionHash: decision.actionHash!,
        verdict: 'approve',
        approver: { kid: signer.kid, role: 'approver' },
        at: '2026-03-01T10:00:00.000Z',
      },
      signer,
    ),
  );
}

async function decideAndRun(
  h: Harness,
  proposal: { intent: string; params: Record<string, string | number> },
): Promise<Decision> {
  const d = await h.kernel.decide(proposal, ctx(h));
  if (d.permit) expect((await h.kernel.execute(d.permit, { session: h.session })).status).toBe('completed');
  return d;
}

describe('a journal means the same after a restart', () => {
  describe('when an approved action ran and the kernel restarts', () => {
    it('refuses a second permit on the same approval with APPROVAL_INVALID (one approval, one payout)', async () => {
      const w = world();
      const first = await start(w);
      const escalated = await first.kernel.decide(credit(first, 'P-1', 170), ctx(first));
      expect(escalated.verdict).toBe('escalate');
      const approved = await approveWith(first, escalated, w.keys.approvers[0]!);
      expect(approved.status).toBe('decided');
      if (approved.status !== 'decided') return;
      expect(approved.decision).toMatchObject({ verdict: 'permit', reasons: ['APPROVALS_MET'] });
      await first.kernel.execute(approved.decision.permit!, { session: first.session });
      const again = { ...ctx(first), approvalId: escalated.approval!.id };
      expect(await first.kernel.decide(credit(first, 'P-1', 170), again)).toMatchObject({
        verdict: 'refuse',
        reasons: ['APPROVAL_INVALID'],
      });
      await stop(first);

      const second = await start(w);
      const after = await second.kernel.decide(credit(second, 'P-1', 170), {
        ...ctx(second),
        approvalId: escalated.approval!.id,
      });
      expect(after).toMatchObject({ verdict: 'refuse', reasons: ['APPROVAL_INVALID'] });
      expect(w.bank.effects.filter((e) => e.handler === 'pay.credit')).toHaveLength(1);
    });
  });

  describe('when a per-entity limit is used up and the kernel restarts', () => {
    it('still refuses LIMIT_EXCEEDED on the entity budget after completed actions', async () => {
      const w = world();
      const first = await start(w);
      for (let i = 0; i < 4; i++) await decideAndRun(first, credit(first, 'P-2', 100));
      expect(await first.kernel.decide(credit(first, 'P-2', 100), ctx(first))).toMatchObject({
        verdict: 'refuse',
        reasons: ['LIMIT_EXCEEDED'],
      });
      await stop(first);
      const second = await start(w);
      expect(await second.kernel.decide(credit(second, 'P-2', 100), ctx(second))).toMatchObject({
        verdict: 'refuse',
        reasons: ['LIMIT_EXCEEDED'],
      });
      // Another entity has its own budget.
      expect((await second.kernel.decide(credit(second, 'P-3', 50), ctx(second))).verdict).toBe('permit');
    });

    it('still refuses LIMIT_EXCEEDED on the entity rate after completed actions', async () => {
      const w = world();
      const first = await start(w);
      for (let i = 0; i < 3; i++) await decideAndRun(first, note(first, 'P-4'));
      expect((await first.kernel.decide(note(first, 'P-4'), ctx(first))).reasons).toEqual(['LIMIT_EXCEEDED']);
      await stop(first);
      const second = await start(w);
      expect((await second.kernel.decide(note(second, 'P-4'), ctx(second))).reasons).toEqual([
        'LIMIT_EXCEEDED',
      ]);
    });

    it('keeps the holds of permits outstanding at the restart on the entity counter', async () => {
      const w = world();
      const first = await start(w);
      const permits: Decision[] = [];
      for (let i = 0; i < 4; i++)
        permits.push(await first.kernel.decide(credit(first, 'P-5', 100), ctx(first)));
      expect(permits.map((p) => p.verdict)).toEqual(['permit', 'permit', 'permit', 'permit']);
      await stop(first);
      const second = await start(w);
      expect((await second.kernel.decide(credit(second, 'P-5', 100), ctx(second))).reasons).toEqual([
        'LIMIT_EXCEEDED',
      ]);
      // The outstanding permits still run after the restart, and their usage stays.
      const run = await second.kernel.execute(permits[0]!.permit!, { session: second.session });
      expect(run.status).toBe('completed');
      expect((await second.kernel.decide(credit(second, 'P-5', 100), ctx(second))).reasons).toEqual([
        'LIMIT_EXCEEDED',
      ]);
    });
  });

  describe('a permit decided before the restart', () => {
    it('has its signature checked by the new process: a changed copy is refused, the genuine one runs', async () => {
      const w = world();
      const first = await start(w);
      const d = await first.kernel.decide(credit(first, 'P-6', 100), ctx(first));
      expect(d.verdict).toBe('permit');
      await stop(first);
      const second = await start(w);
      const permit = d.permit!;
      const body = {
        ...(permit.record.body as Record<string, unknown>),
        expiresAt: '2099-01-01T00:00:00.000Z',
      };
      expect(
        await second.kernel.execute(
          { record: { ...permit.record, body }, hash: permit.hash },
          { session: second.session },
        ),
      ).toMatchObject({ status: 'refused', code: 'PERMIT_INVALID' });
      second.refFor('P-6'); // the new session is issued the entity's ref again, as a view would
      expect(await second.kernel.execute(permit, { session: second.session })).toMatchObject({
        status: 'completed',
      });
      expect(await second.kernel.execute(permit, { session: second.session })).toMatchObject({
        status: 'refused',
        code: 'PERMIT_CONSUMED',
      });
    });
  });

  describe('when a permit expires while its handler runs', () => {
    it('keeps its hold, so no new permit takes the headroom and the budget is never exceeded', async () => {
      const w = world();
      let release: () => void = () => undefined;
      let entered: () => void = () => undefined;
      const inHandler = new Promise<void>((resolve) => (entered = resolve));
      let block = true;
      const gate = {
        before: async () => {
          if (!block) return;
          block = false;
          w.clock.advance(2_000); // the permit (TTL 1 s) expires while the handler runs
          entered();
          await new Promise<void>((resolve) => (release = resolve));
        },
      };
      const h = await start(w, { gate, overrides: { permitTtlMs: 1_000, handlerTimeoutMs: 60_000 } });
      const a = await h.kernel.decide(credit(h, 'P-6', 150), ctx(h));
      expect(a.verdict).toBe('permit');
      const running = h.kernel.execute(a.permit!, { session: h.session });
      await inHandler;
      const b = await h.kernel.decide(credit(h, 'P-6', 150), ctx(h));
      const c = await h.kernel.decide(credit(h, 'P-6', 150), ctx(h));
      release();
      expect((await running).status).toBe('completed');
      expect(b.verdict).toBe('permit');
      expect(c).toMatchObject({ verdict: 'refuse', reasons: ['LIMIT_EXCEEDED'] });
    });
  });

  describe('when the process died between attempt and outcome and the map changed version', () => {
    it('starts and records OUTCOME_UNKNOWN instead of throwing a ReferenceError', async () => {
      const w = world();
      const first = await start(w);
      const d = await first.kernel.decide(credit(first, 'P-7', 10), ctx(first));
      const body = d.permit!.record.body as { actionHash: string };
      await first.journal.append([
        {
          type: 'attempt',
          at: '2026-03-01T10:00:00.000Z',
          body: {
            permit: d.permit!.hash,
            actionHash: body.actionHash,
            idempotencyKey: d.permit!.hash,
            try: 1,
          },
        },
      ]);
      await stop(first);
      const second = await start(w, { map: loadLedgerMap('2') });
      expect(second.kernel.recovery).toMatchObject({
        dangling: 1,
        resolved: [{ permit: d.permit!.hash, status: 'unknown' }],
      });
    });
  });

  describe('when one caller repeats an identical decision within one millisecond', () => {
    it('permits every one (reservation ids are unique per permit), never STORE_UNAVAILABLE', async () => {
      const w = world();
      const h = await start(w);
      // Amount 0: usage stays the same, so the decision key and expiry repeat exactly.
      const proposal = credit(h, 'P-8', 0);
      const verdicts: string[] = [];
      for (let i = 0; i < 40; i++) {
        const d = await h.kernel.decide(proposal, ctx(h));
        verdicts.push(d.verdict === 'permit' ? 'permit' : d.reasons.join(','));
      }
      expect(verdicts).toEqual(Array.from({ length: 40 }, () => 'permit'));
    });
  });
});

describe('a kernel restarting from a snapshot', () => {
  describe('when the permits that used a budget were pruned before the snapshot', () => {
    it('still counts their usage (LIMIT_EXCEEDED), and folds only the records after the snapshot', async () => {
      const w = world();
      const overrides = { snapshotEvery: 5 };
      const first = await start(w, { overrides });
      for (let i = 0; i < 4; i++) await decideAndRun(first, credit(first, 'P-2', 100));
      // Past the permits' lifetime, within the budget's 24 h window: a snapshot now prunes them.
      w.clock.advance(10 * 60_000);
      for (let i = 0; i < 3; i++) await decideAndRun(first, note(first, 'P-6'));
      const head = await first.journal.head();
      await stop(first);

      const second = await start(w, { overrides });
      expect(second.kernel.recovery.fromSnapshot).toBeGreaterThan(13);
      expect(second.kernel.recovery.records).toBeLessThan(head.seq - 13);
      expect(await second.kernel.decide(credit(second, 'P-2', 100), ctx(second))).toMatchObject({
        verdict: 'refuse',
        reasons: ['LIMIT_EXCEEDED'],
      });
      expect((await second.kernel.decide(note(second, 'P-6'), ctx(second))).reasons).toEqual([
        'LIMIT_EXCEEDED',
      ]);
      expect((await second.kernel.decide(credit(second, 'P-3', 100), ctx(second))).verdict).toBe('permit');
    });
  });

  describe('when part of a budget was used by permits the snapshot pruned', () => {
    it('counts that usage exactly once: what fits the rest is permitted, one unit more is not', async () => {
      const w = world();
      const overrides = { snapshotEvery: 3 };
      const first = await start(w, { overrides });
      for (let i = 0; i < 3; i++) await decideAndRun(first, credit(first, 'P-2', 100));
      w.clock.advance(10 * 60_000);
      for (let i = 0; i < 3; i++) await decideAndRun(first, note(first, 'P-6'));
      await stop(first);

      const second = await start(w, { overrides });
      expect(second.kernel.recovery.fromSnapshot).toBeGreaterThan(0);
      // 300 of the 400 budget were used: 100 more fit, and then not even 1.
      expect((await second.kernel.decide(credit(second, 'P-2', 101), ctx(second))).reasons).toEqual([
        'LIMIT_EXCEEDED',
      ]);
      expect((await decideAndRun(second, credit(second, 'P-2', 100))).verdict).toBe('permit');
      expect((await second.kernel.decide(credit(second, 'P-2', 1), ctx(second))).reasons).toEqual([
        'LIMIT_EXCEEDED',
      ]);
      expect(w.bank.effects.filter((e) => e.handler === 'pay.credit')).toHaveLength(4);
    });
  });

  describe('when snapshots are off', () => {
    it('writes none and folds the whole journal', async () => {
      const w = world();
      const first = await start(w, { overrides: { snapshotEvery: 0 } });
      for (let i = 0; i < 4; i++) await decideAndRun(first, credit(first, 'P-2', 100));
      await stop(first);
      const second = await start(w);
      expect(second.kernel.recovery.fromSnapshot).toBe(0);
      expect(second.kernel.recovery.records).toBe((await second.journal.head()).seq);
    });
  });

  describe('when snapshotEvery is not a non-negative integer', () => {
    it('refuses the options with KERNEL_CONFIG_INVALID', async () => {
      const w = world();
      await expect(start(w, { overrides: { snapshotEvery: -1 } })).rejects.toMatchObject({
        code: 'KERNEL_CONFIG_INVALID',
      });
    });
  });
});
