import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestValue } from '@edca/records';
import type { CompiledMap, DecisionInput } from '@edca/semantic';
import { createDecisionCache, decisionKeyOf, evaluateDecision } from '@edca/kernel';
import { loadTestMap } from './support/harness.js';

const map = loadTestMap();

const inputArb = (m: CompiledMap): fc.Arbitrary<DecisionInput> =>
  fc.record({
    policyDigest: fc.constant(m.digest),
    state: fc.record({
      facets: fc.record({ size: fc.constantFrom('small', 'large') }),
      machines: fc.record({ payment: fc.constantFrom('pending', 'settled', 'held', 'refunded') }),
    }),
    proposal: fc.oneof(
      fc.record({
        intent: fc.constant('refund_payment'),
        params: fc.record({
          payment: fc.constant('ref_AAAAAAAAAAAAAAAAAAAAAA'),
          amount: fc.oneof(
            fc.integer({ min: 1, max: 10_000 }),
            fc.double({ min: 0.01, max: 10_000, noNaN: true }),
          ),
        }),
      }),
      fc.record({
        intent: fc.constantFrom('hold_payment', 'release_hold'),
        params: fc.record({ payment: fc.constant('ref_AAAAAAAAAAAAAAAAAAAAAA') }),
      }),
      fc.record({ intent: fc.constantFrom('wire_money', 'refund_payment'), params: fc.constant({}) }),
    ),
    principal: fc.record({
      id: fc.constantFrom('a', 'b'),
      attributes: fc.record({ tier: fc.constantFrom('agent', 'supervisor', 'intern') }),
    }),
    approvals: fc
      .uniqueArray(fc.constantFrom('k1', 'k2', 'k3'), { maxLength: 3 })
      .map((kids) => kids.sort().map((kid) => ({ kid, role: kid === 'k3' ? 'auditor' : 'approver' }))),
    counters: fc.record({
      'refund.rate': fc.integer({ min: 0, max: 60 }),
      'refund.budget': fc.integer({ min: 0, max: 2500 }),
    }),
  });

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}

describe('decision key', () => {
  describe('when inputs are equal as values', () => {
    it('is the SHA-256 of the RFC 8785 bytes, independent of key order', () => {
      fc.assert(
        fc.property(inputArb(map), (input) => {
          const reordered = reverseKeys(input) as DecisionInput;
          expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(input));
          expect(decisionKeyOf(input)).toBe(digestValue(input));
          expect(decisionKeyOf(reordered)).toBe(decisionKeyOf(input));
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe('decision cache', () => {
  describe('when many random inputs are decided', () => {
    it('answers exactly as the uncached evaluation, before and after eviction', () => {
      const cache = createDecisionCache({ maxEntries: 64, maxBytes: 64 * 1024 });
      const verdicts = new Set<string>();
      fc.assert(
        fc.property(inputArb(map), (input) => {
          const key = decisionKeyOf(input);
          const fresh = map.evaluate(input);
          const first = evaluateDecision(map, input, { cache, key });
          const second = evaluateDecision(map, input, { cache, key });
          expect(first).toEqual(fresh);
          expect(second).toEqual(fresh);
          verdicts.add(fresh.verdict);
          expect(cache.size).toBeLessThanOrEqual(64);
          expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
        }),
        { numRuns: 2000 },
      );
      // The generator reaches every verdict, so the comparison covers all of them.
      expect([...verdicts].sort()).toEqual(['escalate', 'permit', 'refuse']);
    });
  });

  describe('when the byte bound is tighter than the entry bound', () => {
    it('evicts by bytes', () => {
      const cache = createDecisionCache({ maxEntries: 10_000, maxBytes: 2_000 });
      fc.assert(
        fc.property(inputArb(map), (input) => {
          evaluateDecision(map, input, { cache, key: decisionKeyOf(input) });
          expect(cache.bytes).toBeLessThanOrEqual(2_000);
        }),
        { numRuns: 300 },
      );
      expect(cache.size).toBeLessThan(300);
    });
  });

  describe('when a bound is not a positive integer', () => {
    it('throws RangeError', () => {
      expect(() => createDecisionCache({ maxEntries: 0 })).toThrow(RangeError);
      expect(() => createDecisionCache({ maxBytes: 1.5 })).toThrow(RangeError);
    });
  });
});

describe('evaluateDecision', () => {
  const input: DecisionInput = {
    policyDigest: map.digest,
    state: { facets: { size: 'small' }, machines: { payment: 'settled' } },
    proposal: { intent: 'hold_payment', params: { payment: 'ref_AAAAAAAAAAAAAAAAAAAAAA' } },
    principal: { id: 'a', attributes: {} },
    approvals: [],
    counters: {},
  };
  const broken = (evaluate: () => unknown): CompiledMap =>
    ({ owner: 'owner-role', evaluate }) as unknown as CompiledMap;

  describe('when the policy evaluation throws', () => {
    it('refuses with CONDITION_ERROR and does not cache it', () => {
      const cache = createDecisionCache();
      const r = evaluateDecision(
        broken(() => {
          throw new Error('boom');
        }),
        input,
        { cache, key: decisionKeyOf(input) },
      );
      expect(r).toEqual({
        verdict: 'refuse',
        rule: 'kernel.evaluate',
        reasons: ['CONDITION_ERROR'],
        accountable: 'owner-role',
      });
      expect(cache.size).toBe(0);
    });
  });

  describe('when the policy answers without a valid verdict or reason', () => {
    it('refuses with NO_RULE_MATCHED', () => {
      expect(
        evaluateDecision(
          broken(() => ({ verdict: 'maybe', rule: 'r', reasons: ['X'], accountable: 'o' })),
          input,
        ),
      ).toMatchObject({
        verdict: 'refuse',
        reasons: ['NO_RULE_MATCHED'],
      });
      expect(
        evaluateDecision(
          broken(() => ({ verdict: 'refuse', rule: 'r', reasons: [], accountable: 'o' })),
          input,
        ),
      ).toMatchObject({
        verdict: 'refuse',
        reasons: ['NO_RULE_MATCHED'],
      });
    });
  });

  describe('when a condition fails at run time in the real map', () => {
    it('passes the semantic CONDITION_ERROR / PARAMS_INVALID codes through unchanged', () => {
      const bad = {
        ...input,
        proposal: {
          intent: 'refund_payment',
          params: { payment: 'ref_AAAAAAAAAAAAAAAAAAAAAA', amount: 'x' },
        },
      };
      expect(evaluateDecision(map, bad as unknown as DecisionInput).reasons).toEqual(['PARAMS_INVALID']);
    });
  });
});
