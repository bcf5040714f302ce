import { describe, expect, it } from 'vitest';
import type { ArpRefusal, IntakeAccepted } from '@edca/arp';
import { loadRecords, SESSION_A, SESSION_B, smallBankArp } from './helpers.js';

function setup() {
  const ctx = smallBankArp();
  const view = ctx.arp.project(loadRecords(), SESSION_A);
  if (!view.ok) throw new Error(view.code);
  return { ...ctx, account: view.value.entities.account!, card: view.value.entities.card! };
}

const accepted = (r: IntakeAccepted | ArpRefusal): IntakeAccepted => {
  if (!r.ok) throw new Error(`refused: ${r.code} ${JSON.stringify(r.issues)}`);
  return r;
};

describe('arp.intake', () => {
  describe('when the same proposal arrives in each of the four formats', () => {
    it('yields the same proposal from plain JSON, OpenAI chat, OpenAI Responses, Anthropic and MCP', () => {
      const { arp, account } = setup();
      const args = { account, amount: 12.5, reason: 'duplicate' };
      const text = JSON.stringify(args);
      const expected = { intent: 'refund_fee', params: args };
      const shapes: [Parameters<typeof arp.intake>[1], unknown][] = [
        ['json', { intent: 'refund_fee', params: args }],
        ['json', JSON.stringify({ intent: 'refund_fee', params: args })],
        [
          'openai',
          {
            id: 'chatcmpl-1',
            choices: [
              {
                index: 0,
                finish_reason: 'tool_calls',
                message: {
                  role: 'assistant',
                  content: null,
                  tool_calls: [
                    { id: 'call_1', type: 'function', function: { name: 'refund_fee', arguments: text } },
                  ],
                },
              },
            ],
          },
        ],
        [
          'openai',
          {
            role: 'assistant',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'refund_fee', arguments: text } },
            ],
          },
        ],
        [
          'openai',
          {
            id: 'resp_1',
            output: [
              { type: 'reasoning', id: 'rs_1', summary: [] },
              { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'refund_fee', arguments: text },
            ],
          },
        ],
        [
          'anthropic',
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'I will refund the fee.' },
              { type: 'tool_use', id: 'toolu_1', name: 'refund_fee', input: args },
            ],
          },
        ],
        ['anthropic', { type: 'tool_use', id: 'toolu_1', name: 'refund_fee', input: args }],
        // bare OpenAI calls, as a bare tool_use block above: one element of tool_calls, one output item
        ['openai', { id: 'call_1', type: 'function', function: { name: 'refund_fee', arguments: text } }],
        ['openai', { function: { name: 'refund_fee', arguments: text } }],
        ['openai', { type: 'function_call', call_id: 'call_1', name: 'refund_fee', arguments: text }],
        ['mcp', { name: 'refund_fee', arguments: args }],
        [
          'mcp',
          { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'refund_fee', arguments: args } },
        ],
      ];
      for (const [format, raw] of shapes) {
        expect(accepted(arp.intake(raw, format, SESSION_A)).proposal, format).toEqual(expected);
      }
    });

    it('keeps the provider call id so the host can answer the call', () => {
      const { arp, card } = setup();
      const r = accepted(
        arp.intake(
          { content: [{ type: 'tool_use', id: 'toolu_9', name: 'freeze_card', input: { card } }] },
          'anthropic',
          SESSION_A,
        ),
      );
      expect(r.callId).toBe('toolu_9');
    });
  });

  describe('when the params do not fit the intent', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['an unknown key', { amount: 10, reason: 'duplicate', note: 'x' }],
      [
        'a __proto__ key',
        JSON.parse('{"amount":10,"reason":"duplicate","__proto__":{"admin":true}}') as Record<
          string,
          unknown
        >,
      ],
      ['a missing param', { reason: 'duplicate' }],
      ['an amount above the bound', { amount: 500.01, reason: 'duplicate' }],
      ['an amount below the bound', { amount: 0, reason: 'duplicate' }],
      ['an amount with a fraction of a cent', { amount: 10.005, reason: 'duplicate' }],
      ['an amount as a string', { amount: '10', reason: 'duplicate' }],
      ['an enum value outside the set', { amount: 10, reason: 'goodwill' }],
    ];
    for (const [what, extra] of cases) {
      it(`refuses ${what} with SCHEMA_VIOLATION`, () => {
        const { arp, account } = setup();
        const r = arp.intake({ intent: 'refund_fee', params: { account, ...extra } }, 'json', SESSION_A);
        expect(r).toMatchObject({ ok: false, code: 'SCHEMA_VIOLATION' });
      });
    }

    it('names the offending path but never echoes the value', () => {
      const { arp, account } = setup();
      const r = arp.intake(
        { intent: 'refund_fee', params: { account, amount: 9999, reason: 'duplicate' } },
        'json',
        SESSION_A,
      );
      expect(r.ok).toBe(false);
      expect(JSON.stringify(r)).not.toContain('9999');
      expect((r as ArpRefusal).issues).toEqual([{ path: '/amount', problem: 'too_big' }]);
    });

    it('names each key the intent does not have at its own path', () => {
      const { arp, account } = setup();
      const odd = 'x'.repeat(65);
      const r = arp.intake(
        {
          intent: 'refund_fee',
          params: { account, amount: 10, reason: 'duplicate', currency: 'GBP', notify: true, [odd]: 1 },
        },
        'json',
        SESSION_A,
      );
      expect((r as ArpRefusal).issues).toEqual([
        { path: '/currency', problem: 'unrecognized_keys' },
        { path: '/notify', problem: 'unrecognized_keys' },
        { path: '/ (unnamed key)', problem: 'unrecognized_keys' },
      ]);
      expect(JSON.stringify(r)).not.toContain(odd);
    });
  });

  describe('when a ref was not issued to this session', () => {
    it('refuses an invented ref of the right shape with REF_NOT_ISSUED', () => {
      const { arp } = setup();
      const r = arp.intake(
        { intent: 'freeze_card', params: { card: 'ref_AAAAAAAAAAAAAAAAAAAAAA' } },
        'json',
        SESSION_A,
      );
      expect(r).toMatchObject({ ok: false, code: 'REF_NOT_ISSUED' });
    });

    it('refuses a ref issued to another session with REF_NOT_ISSUED', () => {
      const { arp, card } = setup();
      const r = arp.intake({ intent: 'freeze_card', params: { card } }, 'json', SESSION_B);
      expect(r).toMatchObject({ ok: false, code: 'REF_NOT_ISSUED' });
    });

    it('refuses a real id or a malformed ref with SCHEMA_VIOLATION', () => {
      const { arp } = setup();
      for (const card of ['tok_9f8e7d', 'ref_short', 'ref_AAAAAAAAAAAAAAAAAAAAAA ', 42]) {
        const r = arp.intake({ intent: 'freeze_card', params: { card } }, 'json', SESSION_A);
        expect(r).toMatchObject({ ok: false, code: 'SCHEMA_VIOLATION' });
      }
    });

    it('refuses a ref of another entity kind with REF_KIND_MISMATCH', () => {
      const { arp, account } = setup();
      const r = arp.intake({ intent: 'freeze_card', params: { card: account } }, 'json', SESSION_A);
      expect(r).toMatchObject({ ok: false, code: 'REF_KIND_MISMATCH' });
    });
  });

  describe('when the envelope is malformed', () => {
    const cases: [string, Parameters<ReturnType<typeof smallBankArp>['arp']['intake']>[1], unknown][] = [
      ['text that is not JSON', 'json', '{"intent": "refund_fee", '],
      ['JSON with a duplicate key', 'json', '{"intent":"find_customer","intent":"refund_fee","params":{}}'],
      [
        'a plain proposal with an extra key',
        'json',
        { intent: 'find_customer', params: { name: 'john' }, sudo: true },
      ],
      [
        'OpenAI arguments that are not JSON',
        'openai',
        {
          tool_calls: [{ type: 'function', function: { name: 'find_customer', arguments: '{name: john}' } }],
        },
      ],
      [
        'OpenAI arguments as an object',
        'openai',
        {
          tool_calls: [
            { type: 'function', function: { name: 'find_customer', arguments: { name: 'john' } } },
          ],
        },
      ],
      [
        'an OpenAI function_call without arguments',
        'openai',
        { output: [{ type: 'function_call', name: 'find_customer' }] },
      ],
      ['an Anthropic tool_use without a name', 'anthropic', { content: [{ type: 'tool_use', input: {} }] }],
      ['an MCP call with a numeric name', 'mcp', { name: 7, arguments: {} }],
      ['a bare OpenAI tool call without a name', 'openai', { function: { arguments: '{}' } }],
      ['a bare OpenAI function_call item without arguments', 'openai', { type: 'function_call', name: 'x' }],
      ['a number', 'json', 42],
      ['null', 'openai', null],
      ['a value with NaN', 'json', { intent: 'find_customer', params: { name: Number.NaN } }],
      [
        'a proposal with a __proto__ key',
        'json',
        '{"intent":"find_customer","__proto__":{"a":1},"params":{"name":"jo"}}',
      ],
    ];
    for (const [what, format, raw] of cases) {
      it(`refuses ${what} with INTAKE_MALFORMED`, () => {
        const { arp } = setup();
        expect(arp.intake(raw, format, SESSION_A)).toMatchObject({ ok: false, code: 'INTAKE_MALFORMED' });
      });
    }
  });

  describe('when the output holds no call or several', () => {
    it('refuses a text-only answer with NO_PROPOSAL', () => {
      const { arp } = setup();
      expect(
        arp.intake({ content: [{ type: 'text', text: 'Done!' }] }, 'anthropic', SESSION_A),
      ).toMatchObject({
        code: 'NO_PROPOSAL',
      });
      expect(
        arp.intake(
          { choices: [{ message: { role: 'assistant', content: 'hi', tool_calls: null } }] },
          'openai',
          SESSION_A,
        ),
      ).toMatchObject({ code: 'NO_PROPOSAL' });
      expect(arp.intake({ output: [{ type: 'message', content: [] }] }, 'openai', SESSION_A)).toMatchObject({
        code: 'NO_PROPOSAL',
      });
    });

    it('refuses two calls at once with MULTIPLE_PROPOSALS', () => {
      const { arp } = setup();
      const call = { type: 'function', function: { name: 'find_customer', arguments: '{"name":"john"}' } };
      expect(arp.intake({ tool_calls: [call, call] }, 'openai', SESSION_A)).toMatchObject({
        code: 'MULTIPLE_PROPOSALS',
      });
    });
  });

  describe('when the payload is too large or too deep', () => {
    it('refuses with PAYLOAD_TOO_LARGE before parsing', () => {
      const { arp } = setup();
      const big = JSON.stringify({ intent: 'find_customer', params: { name: 'a'.repeat(20_000) } });
      expect(arp.intake(big, 'json', SESSION_A)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      expect(arp.intake(JSON.parse(big), 'json', SESSION_A)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      let deep: unknown = 'x';
      for (let i = 0; i < 40; i++) deep = [deep];
      expect(
        arp.intake({ intent: 'find_customer', params: { name: deep } }, 'json', SESSION_A),
      ).toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
    });

    it('refuses JSON text nested deeper than the limit as PAYLOAD_TOO_LARGE, as it does a parsed value', () => {
      const { arp } = setup();
      const deep = `${'['.repeat(40)}"x"${']'.repeat(40)}`;
      const text = `{"intent":"find_customer","params":{"name":${deep}}}`;
      expect(arp.intake(text, 'json', SESSION_A)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      const call = { type: 'function', function: { name: 'find_customer', arguments: `{"name":${deep}}` } };
      expect(arp.intake({ tool_calls: [call] }, 'openai', SESSION_A)).toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
    });

    it('honours a configured limit', () => {
      const { arp } = smallBankArp({ limits: { maxBytes: 64 } });
      const r = arp.intake({ intent: 'find_customer', params: { name: 'a'.repeat(60) } }, 'json', SESSION_A);
      expect(r).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    });
  });

  describe('when given anything at all', () => {
    it('never throws', async () => {
      const fc = (await import('fast-check')).default;
      const { arp } = setup();
      fc.assert(
        fc.property(
          fc.oneof(fc.jsonValue(), fc.string()),
          fc.constantFrom('json', 'openai', 'anthropic', 'mcp' as const),
          (raw, format) => {
            const r = arp.intake(raw, format, SESSION_A);
            expect(typeof r.ok).toBe('boolean');
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});

describe('declared string patterns', () => {
  describe('when the map declares an unanchored pattern', () => {
    it('matches it against the whole value, not a substring', async () => {
      const { compile } = await import('@edca/semantic');
      const { createArp } = await import('@edca/arp');
      const { loadFixtureMap, countingHandlers, TEST_KEY } = await import('./helpers.js');
      const doc = structuredClone(loadFixtureMap().document) as unknown as {
        intents: { find_customer: { params: { name: { pattern?: string } } } };
      };
      doc.intents.find_customer.params.name.pattern = '[A-Za-z ]+';
      const arp = createArp({ map: compile(doc), refKey: TEST_KEY, handlers: countingHandlers().handlers });
      const ask = (name: string) =>
        arp.intake({ intent: 'find_customer', params: { name } }, 'json', SESSION_A);
      expect(ask('John Smith').ok).toBe(true);
      expect(ask('John Smith 42')).toMatchObject({ code: 'SCHEMA_VIOLATION' });
    });
  });
});
