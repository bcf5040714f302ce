import { describe, expect, it } from 'vitest';
import type { Arp, ArpSession, ProposalFormat } from '@edca/arp';
import { loadRecords, SESSION_A, smallBankArp } from './helpers.js';

/** What a host does with model output: intake, resolve, and only then run the handler. */
async function host(arp: Arp, raw: unknown, format: ProposalFormat, session: ArpSession): Promise<string> {
  const intake = arp.intake(raw, format, session);
  if (!intake.ok) return intake.code;
  const resolved = arp.resolve(intake.proposal, session);
  if (!resolved.ok) return resolved.code;
  await resolved.run(resolved.call, { idempotencyKey: 'k1' });
  return 'EXECUTED';
}

const openaiCall = (name: string, args: Record<string, unknown>): unknown => ({
  choices: [
    {
      message: {
        role: 'assistant',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name, arguments: JSON.stringify(args) } }],
      },
    },
  ],
});

describe('tool drift (issue 4, item 5)', () => {
  describe('when the model drifts through invented tools for one request', () => {
    it('refuses search_user, find_user, search and database_query with the same code and runs no handler', async () => {
      const { arp, calls } = smallBankArp();
      expect(arp.project(loadRecords(), SESSION_A).ok).toBe(true);
      const drift: [string, Record<string, unknown>][] = [
        ['search_user', { query: 'john' }],
        ['find_user', { name: 'john' }],
        ['search', { query: 'john', type: 'user' }],
        ['database_query', { sql: "SELECT * FROM users WHERE name LIKE '%john%'" }],
      ];
      const codes: string[] = [];
      for (const [name, args] of drift) {
        for (const format of ['openai', 'anthropic', 'mcp'] as const) {
          const raw =
            format === 'openai'
              ? openaiCall(name, args)
              : format === 'anthropic'
                ? { content: [{ type: 'tool_use', id: 't', name, input: args }] }
                : { name, arguments: args };
          codes.push(await host(arp, raw, format, SESSION_A));
        }
      }
      expect(new Set(codes)).toEqual(new Set(['UNKNOWN_INTENT']));
      expect(codes).toHaveLength(12);
      expect(calls).toEqual([]);
    });

    it('accepts only the declared intent, which reaches its handler once', async () => {
      const { arp, calls } = smallBankArp();
      expect(await host(arp, openaiCall('find_customer', { name: 'john' }), 'openai', SESSION_A)).toBe(
        'EXECUTED',
      );
      expect(calls).toEqual(['crm.lookupByName']);
    });
  });

  describe('when the declared intent carries raw SQL, a path or a URL', () => {
    const payloads = [
      "SELECT * FROM users WHERE name LIKE '%john%'",
      "john' OR '1'='1",
      'select name from users',
      'john; drop table users',
      'john -- comment',
      '/etc/passwd',
      '../../secrets',
      'C:\\Windows\\system32',
      'https://evil.example/x',
      'file:///etc/passwd',
      'www.example.com',
    ];
    for (const name of payloads) {
      it(`refuses ${JSON.stringify(name)} with SCHEMA_VIOLATION and runs no handler`, async () => {
        const { arp, calls } = smallBankArp();
        expect(await host(arp, { intent: 'find_customer', params: { name } }, 'json', SESSION_A)).toBe(
          'SCHEMA_VIOLATION',
        );
        expect(calls).toEqual([]);
      });
    }

    it('still accepts ordinary names with accents, apostrophes and hyphens', async () => {
      const { arp } = smallBankArp();
      for (const name of ["O'Brien", 'Anne-Marie Dupré', 'J. R. R. Tolkien', 'Zoë Ørsted']) {
        expect(await host(arp, { intent: 'find_customer', params: { name } }, 'json', SESSION_A), name).toBe(
          'EXECUTED',
        );
      }
    });
  });
});
