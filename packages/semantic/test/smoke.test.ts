import { describe, expect, it } from 'vitest';
import { compile, loadStateMap } from '@edca/semantic';

const TEXT = `
edca: state-map/v1
name: smoke
version: '1'
owner: ops-lead
sources:
  acct:
    fields:
      STATUS_CD: { type: enum, values: [OPN, CLS] }
      BAL_CENTS: integer
facets:
  standing:
    values: [open, closed]
    rules:
      - when: "acct.STATUS_CD == 'CLS'"
        value: closed
      - value: open
  balance_band:
    values: [low, high]
    from: acct.BAL_CENTS
    bands:
      - { below: 10000, value: low }
      - { value: high }
machines:
  account:
    states: [open, closed]
    initial: open
    terminal: [closed]
    rules:
      - { when: "acct.STATUS_CD == 'CLS'", state: closed }
      - { state: open }
intents:
  close_account:
    description: Close the account.
    machine: account
    transition: { from: [open], to: closed }
    allowed_when: "facets.balance_band == 'low'"
`;

describe('loadStateMap', () => {
  describe('when the map is valid', () => {
    it('derives and evaluates', () => {
      const r = loadStateMap(TEXT, 'smoke.yaml');
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const map = r.value;
      const d = map.derive({ acct: { STATUS_CD: 'OPN', BAL_CENTS: 500 } });
      expect(d).toMatchObject({
        ok: true,
        state: { facets: { standing: 'open', balance_band: 'low' }, machines: { account: 'open' } },
      });
      if (!d.ok) return;
      const decision = map.evaluate({
        policyDigest: map.digest,
        state: d.state,
        proposal: { intent: 'close_account', params: {} },
        principal: { id: 'p1', attributes: {} },
        approvals: [],
        counters: {},
      });
      expect(decision).toEqual({
        verdict: 'permit',
        rule: 'intents.close_account.allowed_when',
        reasons: ['ALLOWED'],
        accountable: 'ops-lead',
      });
      expect(compile(map.document).digest).toBe(map.digest);
    });
  });
});
