import { describe, expect, it } from 'vitest';
import { bodyAcceptedFast, isValidRecordInstant } from '../src/fast-decode.js';
import { checkedBodySchemas } from '../src/record-types.js';
import type { JsonValue } from '@edca/records';

// The differential properties of both checks (against zod, against the Date round trip) are in
// the shared fast-path harness (test/fast-paths); these are the named edge cases.

describe('bodyAcceptedFast', () => {
  describe('when a permit holds counters and names its approval (record format 2)', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    const counter = {
      key: 'refund.budget',
      counter: 'refund.budget|customer:ab|0',
      amount: 25,
      max: 2000,
      windowEnd: 1,
    };
    const permit = (hold: JsonValue): JsonValue => ({
      ...{ verdict: 'permit', decisionKey: d, policyDigest: d, stateHash: d, actionHash: d, input: {} },
      ...{ rule: 'r', reasons: [], accountable: 'a', principal: 'p', proposer: {} },
      ...{ expiresAt: '2026-12-05T12:00:00.000Z', approval: d, hold },
    });
    it('accepts a sound hold without zod, and refuses each near miss as zod does', () => {
      const sound = permit({ id: 'default.1.0.x', counters: [counter, { ...counter, windowEnd: null }] });
      expect(bodyAcceptedFast('decision', sound)).toBe(true);
      for (const miss of [
        { amount: -1 },
        { amount: '25' },
        { max: '2000' },
        { windowEnd: 1.5 },
        { windowEnd: -1 },
        { windowEnd: undefined },
        { key: '' },
        { extra: 1 },
      ]) {
        const c = JSON.parse(JSON.stringify({ ...counter, ...miss })) as JsonValue;
        const b = permit({ id: 'h', counters: [c] });
        expect(checkedBodySchemas.decision.safeParse(b).success, JSON.stringify(miss)).toBe(false);
        expect(bodyAcceptedFast('decision', b), JSON.stringify(miss)).toBe(false);
      }
      for (const h of [
        { id: '', counters: [] },
        { id: 'h' },
        { id: 'h', counters: [], x: 1 },
      ] as JsonValue[]) {
        expect(checkedBodySchemas.decision.safeParse(permit(h)).success).toBe(false);
        expect(bodyAcceptedFast('decision', permit(h))).toBe(false);
      }
    });
  });

  describe('when the body is not an object', () => {
    it('does not accept it', () => {
      for (const b of [null, [], 'x', 1, true] as JsonValue[])
        expect(bodyAcceptedFast('checkpoint', b)).toBe(false);
    });
  });

  describe('when a key is __proto__', () => {
    it('refuses it as an unknown key, like zod', () => {
      const b = JSON.parse(`{"__proto__":{},"root":"${'A'.repeat(43)}","size":1}`) as JsonValue;
      expect(checkedBodySchemas.checkpoint.safeParse(b).success).toBe(false);
      expect(bodyAcceptedFast('checkpoint', b)).toBe(false);
    });
  });
});

describe('isValidRecordInstant', () => {
  const roundTrip = (at: string): boolean => {
    const ms = Date.parse(at);
    return !Number.isNaN(ms) && new Date(ms).toISOString() === at;
  };
  describe('when the text has the record format', () => {
    it('knows the leap days and month ends', () => {
      for (const [at, ok] of [
        ['2024-02-29T00:00:00.000Z', true],
        ['2000-02-29T12:00:00.000Z', true],
        ['1900-02-29T12:00:00.000Z', false],
        ['2023-02-29T12:00:00.000Z', false],
        ['2026-04-31T12:00:00.000Z', false],
        ['2026-12-31T23:59:59.999Z', true],
        ['2026-12-31T24:00:00.000Z', false],
        ['2026-06-30T23:59:60.000Z', false],
        ['0000-01-01T00:00:00.000Z', true],
      ] as const) {
        expect(isValidRecordInstant(at), at).toBe(ok);
        expect(roundTrip(at), at).toBe(ok);
      }
    });
  });
});
