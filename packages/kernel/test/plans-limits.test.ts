import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@edca/records';
import { createMemoryRefRegistry } from '@edca/arp';
import { createMemoryStore, type AppendedRecord } from '@edca/kernel';
import { agent, createBank, makeHarness, testClock, type Harness } from './support/harness.js';

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

describe('plans', () => {
  describe('when every step can run', () => {
    it('runs step B only after step A completed', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      const r = await h.kernel.runPlan(
        [
          { proposal: { intent: 'hold_payment', params: { payment: ref } } },
          { proposal: { intent: 'refund_payment', params: { payment: ref, amount: 10 } } },
        ],
        ctx(h),
      );
      expect(r.status).toBe('completed');
      expect(r.steps.map((s) => s.execution?.status)).toEqual(['completed', 'completed']);
      expect(h.bank.effects.map((e) => e.handler)).toEqual(['pay.hold', 'pay.refund']);
      const b = r.steps[1]!.decision.permit!.record.body as {
        input: { state: { machines: Record<string, string> } };
      };
      expect(b.input.state.machines['payment']).toBe('held');
    });
  });

  describe('when the plan breaks the state machine', () => {
    it('refuses the whole plan with PLAN_INVALID before step 1 and runs nothing', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      const r = await h.kernel.runPlan(
        [
          { proposal: { intent: 'refund_payment', params: { payment: ref, amount: 10 } } },
          { proposal: { intent: 'hold_payment', params: { payment: ref } } },
        ],
        ctx(h),
      );
      expect(r).toMatchObject({ status: 'refused', code: 'PLAN_INVALID' });
      expect(r.steps[0]!.decision).toMatchObject({ verdict: 'refuse', reasons: ['PLAN_INVALID', 'STEP_2'] });
      expect(h.bank.effects).toEqual([]);
      expect((await records(h)).filter((x) => x.record.type === 'attempt')).toEqual([]);
    });
  });

  describe('when a later step fails', () => {
    it('runs the declared compensations in reverse order and journals them as compensated', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      h.bank.faults.set('pay.refund', 'throw');
      const r = await h.kernel.runPlan(
        [
          { proposal: { intent: 'hold_payment', params: { payment: ref } } },
          { proposal: { intent: 'refund_payment', params: { payment: ref, amount: 10 } } },
        ],
        ctx(h),
      );
      expect(r).toMatchObject({ status: 'compensated', code: 'HANDLER_FAILED' });
      expect(r.compensations.map((c) => [c.step, c.execution?.status])).toEqual([[0, 'completed']]);
      expect(h.bank.effects.map((e) => e.handler)).toEqual(['pay.hold', 'pay.release']);
      expect(h.bank.rows.get('P-1')!.STATUS_CD).toBe('SETL');
      const outcomes = (await records(h))
        .filter((x) => x.record.type === 'outcome')
        .map((x) => x.record.body);
      expect(outcomes.at(-1)).toMatchObject({
        status: 'compensated',
        permit: r.steps[0]!.decision.permit!.hash,
      });
    });

    it('stops at a refused step with its reason (PLAN_ABORTED for an escalation)', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      const r = await h.kernel.runPlan(
        [
          { proposal: { intent: 'hold_payment', params: { payment: ref } } },
          { proposal: { intent: 'refund_payment', params: { payment: ref, amount: 900 } } },
        ],
        ctx(h),
      );
      expect(r).toMatchObject({ status: 'compensated', code: 'PLAN_ABORTED' });
      expect(h.bank.rows.get('P-1')!.STATUS_CD).toBe('SETL');
    });
  });
});

describe('limits', () => {
  describe('when many refunds are decided at once', () => {
    it('never lets the budget pass its max (usage is part of the input; reservations are atomic)', async () => {
      h = await makeHarness();
      const harness = h;
      const refs = Array.from({ length: 40 }, (_, i) => harness.refFor(`P-${i + 1}`));
      // budget 2000 per principal per day; 40 concurrent refunds of 100 each.
      const decisions = await Promise.all(
        refs.map((ref) =>
          harness.kernel.decide(
            { intent: 'refund_payment', params: { payment: ref, amount: 100 } },
            ctx(harness),
          ),
        ),
      );
      const permits = decisions.filter((d) => d.verdict === 'permit');
      expect(permits).toHaveLength(20);
      for (const d of decisions.filter((x) => x.verdict === 'refuse'))
        expect(d.reasons).toEqual(['LIMIT_EXCEEDED']);
      const counters = permits.map(
        (d) => (d.permit!.record.body as { input: { counters: Record<string, number> } }).input.counters,
      );
      for (const c of counters) expect(c['refund.budget']! + 100).toBeLessThanOrEqual(2000);
    });
  });

  describe('when a permitted action fails', () => {
    it('releases its reservation on a failed outcome and keeps it on completion', async () => {
      h = await makeHarness();
      const a = await h.kernel.decide(
        { intent: 'refund_payment', params: { payment: h.refFor('P-1'), amount: 1500 } },
        ctx(h),
      );
      expect(a.verdict).toBe('escalate');
      const small = async (id: string, amount: number) =>
        h!.kernel.decide({ intent: 'refund_payment', params: { payment: h!.refFor(id), amount } }, ctx(h!));
      const p1 = await small('P-2', 400);
      const p2 = await small('P-3', 400);
      const p3 = await small('P-4', 400);
      const p4 = await small('P-5', 400);
      const p5 = await small('P-6', 400);
      expect([p1, p2, p3, p4, p5].map((d) => d.verdict)).toEqual([
        'permit',
        'permit',
        'permit',
        'permit',
        'permit',
      ]);
      const over = await small('P-7', 400);
      expect(over).toMatchObject({ verdict: 'refuse', reasons: ['LIMIT_EXCEEDED'] });
      h.bank.faults.set('pay.refund', 'throw');
      expect((await h.kernel.execute(p1.permit!, { session: h.session })).status).toBe('failed');
      h.bank.faults.clear();
      expect((await h.kernel.execute(p2.permit!, { session: h.session })).status).toBe('completed');
      const retry = await small('P-7', 400);
      expect(retry.verdict).toBe('permit');
      expect(
        (retry.permit!.record.body as { input: { counters: Record<string, number> } }).input.counters,
      ).toEqual({
        'refund.budget': 1600,
        'refund.rate': 4,
      });
    });

    it('releases reservations of permits that expired unused', async () => {
      h = await makeHarness();
      for (let i = 1; i <= 5; i += 1) {
        const d = await h.kernel.decide(
          { intent: 'refund_payment', params: { payment: h.refFor(`P-${i}`), amount: 400 } },
          ctx(h),
        );
        expect(d.verdict).toBe('permit');
      }
      const over = await h.kernel.decide(
        { intent: 'refund_payment', params: { payment: h.refFor('P-9'), amount: 400 } },
        ctx(h),
      );
      expect(over.reasons).toEqual(['LIMIT_EXCEEDED']);
      h.clock.advance(5 * 60_000);
      const later = await h.kernel.decide(
        { intent: 'refund_payment', params: { payment: h.refFor('P-9'), amount: 400 } },
        ctx(h),
      );
      expect(later.verdict).toBe('permit');
    });
  });

  describe('when two kernel instances share one store', () => {
    /** Two kernels with their own journals, sharing the store, the bank, the clock, the key and the refs. */
    async function twoInstances(): Promise<[Harness, Harness]> {
      const shared = {
        store: createMemoryStore(),
        bank: createBank(),
        clock: testClock(),
        signerPem: generateKeyPair().privateKeyPem,
        overrides: { refRegistry: createMemoryRefRegistry() },
      };
      return [await makeHarness(shared), await makeHarness(shared)];
    }

    it('settles the usage of a permit decided by one and executed by the other', async () => {
      const [a, b] = await twoInstances();
      try {
        const d = await a.kernel.decide(
          { intent: 'refund_payment', params: { payment: a.refFor('P-1'), amount: 400 } },
          ctx(a),
        );
        expect((await b.kernel.execute(d.permit!, { session: b.session })).status).toBe('completed');
        // Long after the permit's expiry, the executed refund still counts against the budget.
        a.clock.advance(10 * 60_000);
        const verdicts: string[] = [];
        for (let i = 2; i <= 6; i += 1) {
          const next = await a.kernel.decide(
            { intent: 'refund_payment', params: { payment: a.refFor(`P-${i}`), amount: 400 } },
            ctx(a),
          );
          verdicts.push(next.verdict === 'refuse' ? next.reasons[0]! : next.verdict);
        }
        expect(verdicts).toEqual(['permit', 'permit', 'permit', 'permit', 'LIMIT_EXCEEDED']);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('settles it even when the journal moved the permit record`s `at` forward', async () => {
      // A journal raises a draft's `at` to its predecessor's (time never runs backwards in the
      // chain). The reservation ids must not depend on that `at`, or the executing instance
      // rebuilds ids that were never reserved and the usage lapses at the permit's expiry.
      const [a, b] = await twoInstances();
      try {
        const first = await a.kernel.decide(
          { intent: 'refund_payment', params: { payment: a.refFor('P-1'), amount: 400 } },
          ctx(a),
        );
        expect((await a.kernel.execute(first.permit!)).status).toBe('completed');
        a.clock.advance(-1_000); // the host clock steps back: the next record's `at` is raised
        const second = await a.kernel.decide(
          { intent: 'refund_payment', params: { payment: a.refFor('P-2'), amount: 400 } },
          ctx(a),
        );
        expect(second.permit!.record.at).toBe(first.permit!.record.at);
        expect((await b.kernel.execute(second.permit!, { session: b.session })).status).toBe('completed');
        a.clock.advance(10 * 60_000);
        const verdicts: string[] = [];
        for (let i = 3; i <= 6; i += 1) {
          const next = await a.kernel.decide(
            { intent: 'refund_payment', params: { payment: a.refFor(`P-${i}`), amount: 400 } },
            ctx(a),
          );
          verdicts.push(next.verdict === 'refuse' ? next.reasons[0]! : next.verdict);
        }
        expect(verdicts).toEqual(['permit', 'permit', 'permit', 'LIMIT_EXCEEDED']);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
