import { afterEach, describe, expect, it } from 'vitest';
import { digestValue, recordHash, verifyRecord, type SignedRecord } from '@edca/records';
import {
  actionHashOf,
  createKernel,
  openFileJournal,
  type AppendedRecord,
  type Decision,
} from '@edca/kernel';
import {
  agent,
  bankHandlers,
  createBank,
  makeHarness,
  switchableSigner,
  type Harness,
} from './support/harness.js';

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

async function lastDecision(harness: Harness): Promise<SignedRecord> {
  const all = await records(harness);
  const found = all.filter((r) => r.record.type === 'decision').at(-1);
  if (!found) throw new Error('no decision record');
  return found.record;
}

describe('decide', () => {
  describe('when a proposal is permitted', () => {
    it('journals a signed permit naming owner, principal and proposer before returning it', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      const d = await h.kernel.decide(
        { intent: 'refund_payment', params: { payment: ref, amount: 20 } },
        ctx(h),
      );
      expect(d.verdict).toBe('permit');
      const head = await h.journal.head();
      expect(d.record).toEqual({ hash: head.hash, seq: head.seq });
      const rec = d.permit!.record;
      verifyRecord(rec, h.signer.publicKey);
      expect(recordHash(rec)).toBe(d.permit!.hash);
      const body = rec.body as Record<string, unknown>;
      expect(body).toMatchObject({
        verdict: 'permit',
        accountable: 'refunds-desk',
        principal: 'agent-7',
        proposer: agent.proposer,
        policyDigest: h.map.digest,
        stateHash: d.stateHash,
        rule: d.rule,
        reasons: ['ALLOWED'],
      });
      expect(body['actionHash']).toBe(
        actionHashOf({ intent: 'refund_payment', params: { payment: ref, amount: 20 } }),
      );
      expect(body['decisionKey']).toBe(digestValue(body['input']));
      expect(Date.parse(body['expiresAt'] as string)).toBe(h.clock.t + 5 * 60_000);
    });

    it('records exactly the decision input, which replays to the same verdict', async () => {
      h = await makeHarness();
      const d = await h.kernel.decide(
        { intent: 'hold_payment', params: { payment: h.refFor('P-2') } },
        ctx(h),
      );
      const body = d.permit!.record.body as unknown as { input: Parameters<Harness['map']['evaluate']>[0] };
      expect(Object.keys(body.input).sort()).toEqual([
        'approvals',
        'counters',
        'policyDigest',
        'principal',
        'proposal',
        'state',
      ]);
      expect(body.input).not.toHaveProperty('now');
      expect(h.map.evaluate(body.input)).toMatchObject({ verdict: d.verdict, rule: d.rule });
    });

    it('gives the same decision key for the same inputs and serves the second from the cache', async () => {
      h = await makeHarness();
      const p = { intent: 'hold_payment', params: { payment: h.refFor('P-3') } };
      const a = await h.kernel.decide(p, ctx(h));
      const b = await h.kernel.decide(p, ctx(h));
      expect(a.decisionKey).toBe(b.decisionKey);
      expect([a.cached, b.cached]).toEqual([false, true]);
      expect(b.permit!.hash).not.toBe(a.permit!.hash);
    });
  });

  describe('when the input must be refused (fail closed)', () => {
    const cases: [string, (hh: Harness) => Promise<Decision>, string][] = [
      [
        'UNKNOWN_INTENT',
        (hh) => hh.kernel.decide({ intent: 'wire_money', params: {} }, ctx(hh)),
        'kernel.intake',
      ],
      [
        'SCHEMA_VIOLATION',
        (hh) =>
          hh.kernel.decide(
            { intent: 'hold_payment', params: { payment: hh.refFor('P-1'), extra: 1 } },
            ctx(hh),
          ),
        'kernel.route',
      ],
      [
        'REF_NOT_ISSUED',
        (hh) =>
          hh.kernel.decide(
            { intent: 'hold_payment', params: { payment: 'ref_AAAAAAAAAAAAAAAAAAAAAA' } },
            ctx(hh),
          ),
        'kernel.route',
      ],
      [
        'NOT_ALLOWED',
        (hh) =>
          hh.kernel.decide(
            { intent: 'refund_payment', params: { payment: hh.refFor('P-1'), amount: 6000 } },
            ctx(hh),
          ),
        'intents.refund_payment.allowed_when',
      ],
    ];
    for (const [code, run, rule] of cases) {
      it(`refuses with ${code} and journals the refusal`, async () => {
        h = await makeHarness();
        const d = await run(h);
        expect(d.verdict).toBe('refuse');
        expect(d.reasons).toContain(code);
        expect(d.rule).toBe(rule);
        expect(d.permit).toBeUndefined();
        const rec = await lastDecision(h);
        expect(rec.body).toMatchObject({ verdict: 'refuse', reasons: d.reasons });
        expect(h.bank.effects).toEqual([]);
      });
    }

    it('refuses a ref issued to another session with REF_NOT_ISSUED (foreign ref)', async () => {
      h = await makeHarness();
      const foreign = h.refFor('P-1', { stream: 'test', session: 'other-session' });
      const d = await h.kernel.decide({ intent: 'hold_payment', params: { payment: foreign } }, ctx(h));
      expect(d.reasons).toEqual(['REF_NOT_ISSUED']);
    });

    it('refuses with DERIVATION_FAILED when the records cannot be derived', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-4');
      h.bank.rows.delete('P-4');
      const d = await h.kernel.decide({ intent: 'hold_payment', params: { payment: ref } }, ctx(h));
      expect(d.verdict).toBe('refuse');
      expect(d.reasons[0]).toBe('DERIVATION_FAILED');
      expect(d.rule).toBe('kernel.derive');
      expect(d.record).not.toBeNull();
    });

    it('refuses with DERIVATION_FAILED when the loader throws', async () => {
      h = await makeHarness({
        overrides: { loaders: { 'kernel-refunds': () => Promise.reject(new Error('db down')) } },
      });
      const d = await h.kernel.decide(
        { intent: 'hold_payment', params: { payment: h.refFor('P-4') } },
        ctx(h),
      );
      expect(d.reasons).toEqual(['DERIVATION_FAILED']);
    });

    it('refuses a malformed proposal with SCHEMA_VIOLATION without evaluating', async () => {
      h = await makeHarness();
      const d = await h.kernel.decide({ intent: 7, params: null } as never, ctx(h));
      expect(d).toMatchObject({ verdict: 'refuse', reasons: ['SCHEMA_VIOLATION'], record: null });
    });

    it('refuses non-I-JSON principal attributes with SCHEMA_VIOLATION', async () => {
      h = await makeHarness();
      const d = await h.kernel.decide(
        { intent: 'hold_payment', params: { payment: h.refFor('P-1') } },
        { ...ctx(h), principal: { id: 'p', attributes: { bad: Number.NaN } } },
      );
      expect(d.reasons).toEqual(['SCHEMA_VIOLATION']);
    });
  });

  describe('when no map is loaded', () => {
    it('refuses everything with NO_MAP_LOADED', async () => {
      h = await makeHarness({ maps: [] });
      const d = await h.kernel.decide({ intent: 'hold_payment', params: {} }, ctx(h));
      expect(d).toMatchObject({ verdict: 'refuse', reasons: ['NO_MAP_LOADED'], record: null });
    });
  });

  describe('when the signer becomes unavailable', () => {
    it('refuses with SIGNER_UNAVAILABLE and issues no permit', async () => {
      const signer = switchableSigner();
      h = await makeHarness({ signer });
      const ref = h.refFor('P-1');
      signer.broken = true;
      const d = await h.kernel.decide({ intent: 'hold_payment', params: { payment: ref } }, ctx(h));
      expect(d).toMatchObject({ verdict: 'refuse', reasons: ['SIGNER_UNAVAILABLE'], record: null });
      expect(d.permit).toBeUndefined();
    });
  });

  describe('when the journal becomes unavailable', () => {
    it('refuses with JOURNAL_UNAVAILABLE and issues no permit', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      await h.journal.close();
      const d = await h.kernel.decide({ intent: 'hold_payment', params: { payment: ref } }, ctx(h));
      expect(d).toMatchObject({ verdict: 'refuse', reasons: ['JOURNAL_UNAVAILABLE'], record: null });
    });
  });

  describe('when the store becomes unavailable', () => {
    it('refuses a limited intent with STORE_UNAVAILABLE', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      await h.kernel.store.close();
      const d = await h.kernel.decide(
        { intent: 'refund_payment', params: { payment: ref, amount: 5 } },
        ctx(h),
      );
      expect(d).toMatchObject({ verdict: 'refuse', reasons: ['STORE_UNAVAILABLE'] });
    });
  });

  describe('when the kernel is closed', () => {
    it('refuses with KERNEL_CLOSED', async () => {
      h = await makeHarness();
      const ref = h.refFor('P-1');
      await h.kernel.close();
      const d = await h.kernel.decide({ intent: 'hold_payment', params: { payment: ref } }, ctx(h));
      expect(d.reasons).toEqual(['KERNEL_CLOSED']);
    });
  });

  describe('when several maps are given', () => {
    it('refuses to start with KERNEL_CONFIG_INVALID for the same map twice', async () => {
      h = await makeHarness();
      const journal = await openFileJournal({
        path: `${h.dir}/other.jsonl`,
        stream: 'x',
        signer: h.signer,
        fsync: false,
      });
      await expect(
        createKernel({
          maps: [h.map, h.map],
          loaders: { 'kernel-refunds': () => Promise.resolve({}) },
          refKey: new Uint8Array(32),
          signer: h.signer,
          journal,
          clock: h.clock,
          handlers: bankHandlers(createBank()),
        }),
      ).rejects.toMatchObject({ code: 'KERNEL_CONFIG_INVALID' });
      await journal.close();
    });
  });
});
