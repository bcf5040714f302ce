import {
  REASON_CODES,
  type AbstractState,
  type CompiledMap,
  type DecisionInput,
  type DecisionResult,
} from '@edca/semantic';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paramsArb, principalArb, stateArb } from './arbitraries.js';
import { fixtureRecords, loadFixtureMap } from './helpers.js';

const bank = loadFixtureMap('retail-banking');
const claims = loadFixtureMap('insurance-claims');

function stateOf(map: CompiledMap, mapName: string, file: string): AbstractState {
  const r = map.derive(fixtureRecords(mapName).get(file)!, { now: '2026-12-01T00:00:00Z' });
  if (!r.ok) throw new Error(`${file}: ${r.code}`);
  return r.state;
}
const good = stateOf(bank, 'retail-banking', 'good-standing');
const vulnerable = stateOf(bank, 'retail-banking', 'vulnerable-premier-frozen');
const kycPending = stateOf(bank, 'retail-banking', 'arrears-broken-plan');
const draftClaim = stateOf(claims, 'insurance-claims', 'fire-draft');
const approvedClaim = stateOf(claims, 'insurance-claims', 'water-approved');

const refund = { payment: 'ref_pay_01', amount: 120.5, reason: 'duplicate_charge' };
const agent = { id: 'agent-17', attributes: { role: 'agent', strong_auth: true } };
const handler = { id: 'h-3', attributes: { role: 'claims-handler', payout_authority: 20000 } };

function input(
  map: CompiledMap,
  over: Partial<DecisionInput> & { intent: string; params: Record<string, unknown> },
): DecisionInput {
  const { intent, params, ...rest } = over;
  return {
    policyDigest: map.digest,
    state: good,
    proposal: { intent, params: params as DecisionInput['proposal']['params'] },
    principal: agent,
    approvals: [],
    counters: Object.fromEntries((map.intent(intent)?.limits ?? []).map((l) => [l.key, 0])),
    ...rest,
  };
}

const seen = new Set<string>();
function decide(map: CompiledMap, i: DecisionInput): DecisionResult {
  const d = map.evaluate(i);
  for (const r of d.reasons) seen.add(r);
  return d;
}

describe('evaluate', () => {
  describe('when everything passes', () => {
    it('permits with ALLOWED, naming allowed_when and the intent owner', () => {
      expect(decide(bank, input(bank, { intent: 'refund_payment', params: refund }))).toEqual({
        verdict: 'permit',
        rule: 'intents.refund_payment.allowed_when',
        reasons: ['ALLOWED'],
        accountable: 'refunds-team-lead',
      });
    });
    it('names the intent itself when it has no allowed_when', () => {
      expect(
        decide(bank, input(bank, { intent: 'freeze_card', params: { card: 'ref_c', reason: 'misplaced' } })),
      ).toMatchObject({
        verdict: 'permit',
        rule: 'intents.freeze_card',
        accountable: 'head-of-cards',
      });
    });
  });

  describe('when the input is not a DecisionInput', () => {
    it('refuses INPUT_INVALID for malformed envelopes', () => {
      const ok = input(bank, { intent: 'refund_payment', params: refund });
      for (const bad of [
        null,
        'x',
        {},
        { ...ok, approvals: 'none' },
        { ...ok, counters: null },
        { ...ok, proposal: { intent: 'refund_payment' } },
        { ...ok, principal: { id: 7, attributes: {} } },
      ]) {
        expect(decide(bank, bad as unknown as DecisionInput)).toMatchObject({
          verdict: 'refuse',
          reasons: ['INPUT_INVALID'],
          rule: 'input',
        });
      }
    });
    it('never throws and never permits for arbitrary values (property)', () => {
      fc.assert(
        fc.property(fc.anything(), (v) => {
          expect(bank.evaluate(v as DecisionInput).verdict).toBe('refuse');
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('when the policy digest differs', () => {
    it('refuses POLICY_DIGEST_MISMATCH', () => {
      const d = decide(
        bank,
        input(bank, { intent: 'refund_payment', params: refund, policyDigest: claims.digest }),
      );
      expect(d).toMatchObject({
        verdict: 'refuse',
        reasons: ['POLICY_DIGEST_MISMATCH'],
        rule: 'policy',
        accountable: 'head-of-retail-servicing',
      });
    });
  });

  describe('when the intent is not declared', () => {
    it.each(['database_query', 'search_user', '__proto__', 'constructor', 'toString', ''])(
      'refuses %j with UNKNOWN_INTENT and the map owner',
      (intent) => {
        expect(decide(bank, input(bank, { intent, params: {} }))).toEqual({
          verdict: 'refuse',
          rule: 'intents',
          reasons: ['UNKNOWN_INTENT'],
          accountable: 'head-of-retail-servicing',
        });
      },
    );
  });

  describe('when the state does not fit the map', () => {
    it.each([
      ['an unknown facet value', { ...good, facets: { ...good.facets, kyc: 'trusted' } }],
      ['a missing machine', { facets: good.facets, machines: { card: 'active' } }],
      ['an extra facet', { ...good, facets: { ...good.facets, secret: 'x' } }],
      ['no facets at all', { machines: good.machines } as unknown as AbstractState],
    ])('refuses %s with STATE_INVALID', (_what, state) => {
      expect(
        decide(bank, input(bank, { intent: 'refund_payment', params: refund, state: state })),
      ).toMatchObject({ verdict: 'refuse', reasons: ['STATE_INVALID'] });
    });
  });

  describe('when params do not fit the intent', () => {
    it.each([
      ['an amount below the minimum', { ...refund, amount: 0 }],
      ['an amount off the penny grid', { ...refund, amount: 10.001 }],
      ['a reason outside the enum', { ...refund, reason: 'because' }],
      ['an extra key', { ...refund, account_no: '12345678' }],
      ['a missing key', { payment: 'ref_pay_01', amount: 10 }],
      ['raw SQL as a ref', { ...refund, payment: '1; DROP TABLE payments' }],
      ['a string amount', { ...refund, amount: '120.50' }],
    ])('refuses %s with PARAMS_INVALID', (_what, params) => {
      expect(decide(bank, input(bank, { intent: 'refund_payment', params }))).toMatchObject({
        verdict: 'refuse',
        reasons: ['PARAMS_INVALID'],
        rule: 'intents.refund_payment.params',
      });
    });
    it('refuses a principal attribute of the wrong type that a condition reads', () => {
      const d = decide(
        bank,
        input(bank, {
          intent: 'unfreeze_card',
          params: { card: 'ref_c' },
          state: vulnerable,
          principal: { id: 'a', attributes: { strong_auth: 'yes' } },
        }),
      );
      expect(d).toMatchObject({
        verdict: 'refuse',
        reasons: ['PARAMS_INVALID'],
        rule: 'principal.attributes.strong_auth',
      });
    });
  });

  describe('when the machine is in the wrong state', () => {
    it('refuses TRANSITION_NOT_ALLOWED', () => {
      expect(decide(bank, input(bank, { intent: 'unfreeze_card', params: { card: 'ref_c' } }))).toMatchObject(
        {
          verdict: 'refuse',
          reasons: ['TRANSITION_NOT_ALLOWED'],
          rule: 'intents.unfreeze_card.transition',
        },
      );
    });
  });

  describe('when allowed_when is false', () => {
    it('refuses NOT_ALLOWED naming the rule (KYC pending)', () => {
      const state = { ...kycPending, machines: { ...kycPending.machines, payment: 'settled' } };
      expect(decide(bank, input(bank, { intent: 'refund_payment', params: refund, state }))).toMatchObject({
        verdict: 'refuse',
        reasons: ['NOT_ALLOWED'],
        rule: 'intents.refund_payment.allowed_when',
      });
    });
    it('refuses a goodwill refund over £100 (a condition on params)', () => {
      expect(
        decide(
          bank,
          input(bank, {
            intent: 'refund_payment',
            params: { ...refund, reason: 'goodwill', amount: 100.01 },
          }),
        ).reasons,
      ).toEqual(['NOT_ALLOWED']);
      expect(
        decide(
          bank,
          input(bank, { intent: 'refund_payment', params: { ...refund, reason: 'goodwill', amount: 100 } }),
        ).reasons,
      ).toEqual(['ALLOWED']);
    });
    it('refuses a payout above the principal authority', () => {
      const i = input(claims, {
        intent: 'issue_payout',
        params: { claim: 'ref_cl', amount: 20000.01, payee: 'repairer' },
        state: approvedClaim,
        principal: handler,
      });
      expect(decide(claims, i).reasons).toEqual(['NOT_ALLOWED']);
    });
  });

  describe('when a limit would be passed', () => {
    it('refuses LIMIT_EXCEEDED on the rate at its maximum', () => {
      const d = decide(
        bank,
        input(bank, {
          intent: 'refund_payment',
          params: refund,
          counters: { 'refund.rate': 3, 'refund.budget': 0 },
        }),
      );
      expect(d).toMatchObject({
        verdict: 'refuse',
        reasons: ['LIMIT_EXCEEDED'],
        rule: 'intents.refund_payment.limits[refund.rate]',
      });
    });
    it('counts the budget in the request amount: exactly the maximum passes, a penny more is refused', () => {
      const at = (used: number) =>
        decide(
          bank,
          input(bank, {
            intent: 'refund_payment',
            params: { ...refund, amount: 150 },
            counters: { 'refund.rate': 0, 'refund.budget': used },
          }),
        );
      expect(at(1850).verdict).toBe('permit');
      expect(at(1850.01)).toMatchObject({
        reasons: ['LIMIT_EXCEEDED'],
        rule: 'intents.refund_payment.limits[refund.budget]',
      });
    });
    it('refuses COUNTER_MISSING when the kernel passes no usage for a declared key', () => {
      expect(
        decide(
          bank,
          input(bank, { intent: 'refund_payment', params: refund, counters: { 'refund.rate': 0 } }),
        ),
      ).toMatchObject({
        reasons: ['COUNTER_MISSING'],
        rule: 'intents.refund_payment.limits[refund.budget]',
      });
      expect(
        decide(
          bank,
          input(bank, {
            intent: 'refund_payment',
            params: refund,
            counters: { 'refund.rate': -1, 'refund.budget': 0 },
          }),
        ).reasons,
      ).toEqual(['COUNTER_MISSING']);
    });
  });

  describe('when escalation applies', () => {
    it('escalates APPROVAL_REQUIRED over the threshold, naming escalate_when and the approvals needed', () => {
      expect(
        decide(bank, input(bank, { intent: 'refund_payment', params: { ...refund, amount: 500.01 } })),
      ).toEqual({
        verdict: 'escalate',
        rule: 'intents.refund_payment.escalate_when',
        reasons: ['APPROVAL_REQUIRED'],
        accountable: 'refunds-team-lead',
        approvalsRequired: { count: 1, role: 'refund-approver' },
      });
    });
    it('permits APPROVALS_MET once an approver with the role has approved', () => {
      const d = decide(
        bank,
        input(bank, {
          intent: 'refund_payment',
          params: { ...refund, amount: 600 },
          approvals: [{ kid: 'ed25519:k1', role: 'refund-approver' }],
        }),
      );
      expect(d).toMatchObject({
        verdict: 'permit',
        reasons: ['APPROVALS_MET'],
        rule: 'intents.refund_payment.approvals',
      });
    });
    it('ignores approvals with another role', () => {
      const d = decide(
        bank,
        input(bank, {
          intent: 'refund_payment',
          params: { ...refund, amount: 600 },
          approvals: [{ kid: 'ed25519:k1', role: 'fraud-analyst' }],
        }),
      );
      expect(d.verdict).toBe('escalate');
    });
    it('counts distinct approvers: one key twice is one approval of the two a payout needs', () => {
      const payout = { claim: 'ref_cl', amount: 5000, payee: 'policyholder' };
      const twice = [
        { kid: 'ed25519:a', role: 'claims-approver' },
        { kid: 'ed25519:a', role: 'claims-approver' },
      ];
      const one = decide(
        claims,
        input(claims, {
          intent: 'issue_payout',
          params: payout,
          state: approvedClaim,
          principal: handler,
          approvals: twice,
        }),
      );
      expect(one).toMatchObject({
        verdict: 'escalate',
        rule: 'intents.issue_payout.approvals',
        approvalsRequired: { count: 2, role: 'claims-approver' },
      });
      const two = decide(
        claims,
        input(claims, {
          intent: 'issue_payout',
          params: payout,
          state: approvedClaim,
          principal: handler,
          approvals: [twice[0]!, { kid: 'ed25519:b', role: 'claims-approver' }],
        }),
      );
      expect(two).toMatchObject({
        verdict: 'permit',
        reasons: ['APPROVALS_MET'],
        accountable: 'claims-director',
      });
    });
  });

  describe('when the map reads time', () => {
    const fnol = { claim: 'ref_cl', loss_date: '2026-11-01', loss_kind: 'fire', estimated_amount: 1200 };
    it('refuses TIME_REQUIRED without a valid now', () => {
      expect(
        decide(
          claims,
          input(claims, { intent: 'record_first_notice_of_loss', params: fnol, state: draftClaim }),
        ).reasons,
      ).toEqual(['TIME_REQUIRED']);
      expect(
        decide(
          claims,
          input(claims, {
            intent: 'record_first_notice_of_loss',
            params: fnol,
            state: draftClaim,
            now: 'yesterday',
          }),
        ).reasons,
      ).toEqual(['TIME_REQUIRED']);
    });
    it('decides with now as an input: a future loss date is refused, an old one escalates', () => {
      const at = (loss_date: string) =>
        decide(
          claims,
          input(claims, {
            intent: 'record_first_notice_of_loss',
            params: { ...fnol, loss_date },
            state: draftClaim,
            now: '2026-11-21T09:00:00.000Z',
          }),
        );
      expect(at('2026-11-20').reasons).toEqual(['ALLOWED']);
      expect(at('2026-12-01').reasons).toEqual(['NOT_ALLOWED']);
      expect(at('2026-01-02')).toMatchObject({
        verdict: 'escalate',
        approvalsRequired: { role: 'senior-claims-handler' },
      });
    });
    it('does not ask for time where no condition reads it', () => {
      expect(
        decide(
          claims,
          input(claims, { intent: 'withdraw_claim', params: { claim: 'ref_cl' }, state: draftClaim }),
        ).reasons,
      ).toEqual(['ALLOWED']);
    });
  });

  describe('when a condition fails at run time', () => {
    it('refuses CONDITION_ERROR naming the condition (an impossible date)', () => {
      const params = { claim: 'ref_cl', loss_date: '2026-19-39', loss_kind: 'fire', estimated_amount: 1 };
      expect(
        decide(
          claims,
          input(claims, {
            intent: 'record_first_notice_of_loss',
            params,
            state: draftClaim,
            now: '2026-11-21T09:00:00.000Z',
          }),
        ),
      ).toMatchObject({
        verdict: 'refuse',
        reasons: ['CONDITION_ERROR'],
        rule: 'intents.record_first_notice_of_loss.allowed_when',
      });
    });
  });

  describe('as a pure function', () => {
    it('gives the same result for the same input and never mutates it (property)', () => {
      fc.assert(
        fc.property(
          stateArb(bank),
          fc.constantFrom(...bank.intentNames),
          principalArb(bank),
          fc.integer({ min: 0, max: 5 }),
          (state, intent, principal, used) => {
            const params = fc.sample(paramsArb(bank, intent), { numRuns: 1, seed: used })[0]!;
            const i = input(bank, {
              intent,
              params,
              state,
              principal: principal as DecisionInput['principal'],
              counters: Object.fromEntries(bank.intent(intent)!.limits.map((l) => [l.key, used])),
            });
            const frozen = structuredClone(i);
            const a = bank.evaluate(i);
            expect(bank.evaluate(structuredClone(i))).toEqual(a);
            expect(i).toEqual(frozen);
            expect(['permit', 'refuse', 'escalate']).toContain(a.verdict);
            expect(a.reasons.every((r) => (REASON_CODES as readonly string[]).includes(r))).toBe(true);
          },
        ),
        { numRuns: 400 },
      );
    });
  });

  it('has a test above for every reason code', () => {
    expect([...seen].sort()).toEqual([...REASON_CODES].sort());
  });
});

describe('intentsFor', () => {
  it('lists what may be proposed in a good-standing state, with certain escalations apart', () => {
    expect(bank.intentsFor(good)).toEqual({
      allowed: [
        'refund_payment',
        'partial_refund',
        'freeze_card',
        'report_card_lost',
        'change_address',
        'waive_fee',
      ],
      escalating: [],
    });
  });
  it('moves intents whose escalation the state already decides to escalating, and drops what the state forbids', () => {
    const r = bank.intentsFor(vulnerable);
    // refunds: outside the chargeback window; unfreeze: address changed last week; fee waiver:
    // one already granted this year. Escalation is certain from the state alone.
    expect(r).toEqual({ allowed: ['report_card_lost'], escalating: ['unfreeze_card', 'waive_fee'] });
  });
  it('agrees with evaluate: a hidden intent is never permitted, an escalating one never permitted without approval (property)', () => {
    for (const map of [bank, claims]) {
      fc.assert(
        fc.property(
          stateArb(map),
          fc.constantFrom(...map.intentNames),
          principalArb(map),
          fc.nat(),
          (state, intent, principal, seed) => {
            const params = fc.sample(paramsArb(map, intent), { numRuns: 1, seed })[0]!;
            const listed = map.intentsFor(state);
            const d = map.evaluate(
              input(map, {
                intent,
                params,
                state,
                principal: principal as DecisionInput['principal'],
                now: '2026-11-21T09:00:00.000Z',
              }),
            );
            if (!listed.allowed.includes(intent) && !listed.escalating.includes(intent))
              expect(d.verdict).toBe('refuse');
            if (listed.escalating.includes(intent)) expect(d.verdict).not.toBe('permit');
          },
        ),
        { numRuns: 500 },
      );
    }
  });
  it('returns fresh arrays: a caller mutating one answer cannot change the next', () => {
    const first = bank.intentsFor(good);
    first.allowed.length = 0;
    first.escalating.push('database_query');
    expect(bank.intentsFor(good).allowed).toContain('refund_payment');
    expect(bank.intentsFor(good).escalating).toEqual([]);
  });
  it('lists nothing for a state that does not fit the map', () => {
    expect(bank.intentsFor({ facets: {}, machines: {} })).toEqual({ allowed: [], escalating: [] });
  });
});
