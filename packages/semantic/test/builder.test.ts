import { compile, defineStateMap, loadStateMap } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import { readFixture } from './helpers.js';

describe('defineStateMap', () => {
  describe('when the same map is written in TypeScript and in YAML', () => {
    it('compiles to the same digest', () => {
      const map = defineStateMap({
        edca: 'state-map/v1',
        name: 'overdraft-requests',
        version: '1.0',
        owner: 'head-of-lending',
        sources: {
          account: {
            fields: {
              ACCT_NO: 'string',
              STATUS_CD: { type: 'enum', values: ['OPN', 'CLS'] },
              OD_LIMIT_CENTS: 'integer',
            },
          },
        },
        entities: { account: { source: 'account', id: 'ACCT_NO' } },
        facets: {
          standing: {
            values: ['open', 'closed'],
            rules: [{ when: "account.STATUS_CD == 'CLS'", value: 'closed' }, { value: 'open' }],
          },
          limit_band: {
            values: ['none', 'small', 'large'],
            from: 'account.OD_LIMIT_CENTS',
            bands: [{ below: 1, value: 'none' }, { below: 100000, value: 'small' }, { value: 'large' }],
          },
        },
        machines: {
          overdraft: {
            entity: 'account',
            states: ['none', 'arranged'],
            initial: 'none',
            rules: [{ when: 'account.OD_LIMIT_CENTS > 0', state: 'arranged' }, { state: 'none' }],
          },
        },
        intents: {
          arrange_overdraft: {
            description: 'Arrange an overdraft on the account.',
            machine: 'overdraft',
            transition: { from: ['none'], to: 'arranged' },
            params: { account: { ref: 'account' }, amount: { type: 'number', minimum: 50, maximum: 2500 } },
            allowed_when: "facets.standing == 'open' && params.amount <= 1000.0",
          },
        },
      });
      defineStateMap({
        edca: 'state-map/v1',
        name: 'x',
        version: '1',
        owner: 'ops',
        sources: {},
        facets: {},
        intents: {},
        // @ts-expect-error a misspelt key is a compile error in TypeScript, as it is a load error in YAML
        intent: {},
      });
      const yaml = loadStateMap(readFixture('invalid/valid-base.yaml'), 'valid-base.yaml');
      expect(yaml.ok && compile(map).digest).toBe(yaml.ok && yaml.value.digest);
    });
  });
});
