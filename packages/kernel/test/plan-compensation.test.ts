import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { agent, makeHarness, type Harness } from './support/harness.js';

// The test map, with a hold that takes one more param (a reason) than the release that undoes it.
function mapWithReasonedHold(): CompiledMap {
  const text = readFileSync(new URL('./support/refund-map.yaml', import.meta.url), 'utf8')
    .replace(
      '    params:\n      payment: { ref: payment }\n    compensation: release_hold',
      '    params:\n      payment: { ref: payment }\n      reason: { type: string, enum: [dispute, fraud] }\n    compensation: release_hold',
    )
    .replace(
      '    handler: pay.hold\n    params:\n      payment: { field: PAY_ID }',
      '    handler: pay.hold\n    params:\n      payment: { field: PAY_ID }\n      reason: { field: HOLD_RSN }',
    );
  const r = loadStateMap(text, 'refund-map-reasoned-hold.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  expect(r.value.intent('hold_payment')?.params).toHaveProperty('reason');
  return r.value;
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('runPlan', () => {
  describe('when the declared compensation takes fewer params than the step it undoes', () => {
    it('passes it only the params it declares, so the undo is permitted and runs', async () => {
      h = await makeHarness({ maps: [mapWithReasonedHold()] });
      const ref = h.refFor('P-1');
      h.bank.faults.set('pay.refund', 'throw');
      const r = await h.kernel.runPlan(
        [
          { proposal: { intent: 'hold_payment', params: { payment: ref, reason: 'dispute' } } },
          { proposal: { intent: 'refund_payment', params: { payment: ref, amount: 10 } } },
        ],
        { session: h.session, ...agent },
      );
      expect(r).toMatchObject({ status: 'compensated', code: 'HANDLER_FAILED' });
      expect(r.compensations[0]!.decision).toMatchObject({ verdict: 'permit', reasons: ['ALLOWED'] });
      expect(h.bank.effects.map((e) => e.handler)).toEqual(['pay.hold', 'pay.release']);
      expect(h.bank.rows.get('P-1')!.STATUS_CD).toBe('SETL');
    });
  });
});
