// `edca approvals list`, `edca approve` and `edca reject` against a server running in this
// process on a file journal (the server's inbox watcher takes the statements).
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { openServerRuntime, type ServerRuntime } from '@edca/mcp';
import {
  createServicingBank,
  MAP_PATH,
  servicingHandlers,
  servicingRecords,
  type ServicingBank,
} from '../../mcp/test/support/bank.js';
import { writeServerKeys } from '../../mcp/test/support/keys.js';
import { decodeRecord } from '@edca/records';
import { cli } from './support/cli.js';

let dir: string | undefined;
let runtime: ServerRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function escalated(): Promise<{
  id: string;
  client: Client;
  bank: ServicingBank;
  approverKey: string;
  journal: string;
}> {
  dir = mkdtempSync(join(tmpdir(), 'edca-approvals-cli-'));
  const { approverKey } = writeServerKeys(dir);
  const bank = createServicingBank();
  runtime = await openServerRuntime(
    {
      maps: [fileURLToPath(MAP_PATH)],
      keys: { kernel: 'kernel.key.pem', refKey: 'ref-key.b64u' },
      trust: 'trust.json',
      journal: 'journal.jsonl',
      approvals: { pollMs: 50 },
      principal: { id: 'agent-7', attributes: {} },
      views: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
      loaders: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
      handlers: servicingHandlers(bank),
    },
    { baseDir: dir },
  );
  const [c, s] = InMemoryTransport.createLinkedPair();
  await runtime.mcp.connect(s);
  const client = new Client({ name: 'cli-agent', version: '1.0.0' });
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
  return { id, client, bank, approverKey, journal: join(dir, 'journal.jsonl') };
}

describe('edca approvals / approve / reject', () => {
  describe('when an approver rejects with a reason', () => {
    it('the running server refuses the action, tells the agent, journals the signed reason, and a later approve is APPROVAL_REJECTED', async () => {
      const { id, client, bank, approverKey, journal } = await escalated();
      const updated: string[] = [];
      client.setNotificationHandler('notifications/resources/updated', (n) => {
        updated.push(n.params.uri);
      });
      const r = await cli([
        'reject',
        id,
        '--key',
        approverKey,
        '--reason',
        'customer withdrew',
        '--journal',
        journal,
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`rejected ${id}`);
      expect(r.out).toContain('server: refused');
      expect(bank.payment.PAY_STAT).toBe('SETL');
      const res = await client.readResource({ uri: `edca://approval/${id}` });
      expect(JSON.parse((res.contents[0] as { text: string }).text)).toMatchObject({ status: 'rejected' });
      expect(updated).toEqual([`edca://approval/${id}`]);
      const rejection = readFileSync(journal, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => decodeRecord(l))
        .find((rec) => rec.type === 'approval')!;
      expect(rejection.body).toMatchObject({
        decision: id,
        verdict: 'reject',
        statement: { verdict: 'reject', reason: 'customer withdrew' },
      });
      expect((await cli(['approvals', 'list', '--journal', journal])).out).toBe('no pending approvals\n');
      const late = await cli(['approve', id, '--key', approverKey, '--journal', journal]);
      expect(late.code).toBe(2);
      expect(late.err).toContain('APPROVAL_REJECTED');
      expect(late.err).toContain('customer withdrew');
      await client.close();
    });
  });

  describe('when an approver approves with a reason', () => {
    it('signs and journals it with the approval, and the action runs', async () => {
      const { id, client, bank, approverKey, journal } = await escalated();
      const r = await cli([
        'approve',
        id,
        '--key',
        approverKey,
        '--reason',
        'called the customer back',
        '--journal',
        journal,
      ]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('server: decided permit, executed: completed');
      expect(bank.payment.PAY_STAT).toBe('RFND');
      const approval = readFileSync(journal, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => decodeRecord(l))
        .find((rec) => rec.type === 'approval')!;
      expect(approval.body).toMatchObject({
        verdict: 'approve',
        statement: { reason: 'called the customer back' },
      });
      await client.close();
    });
  });

  describe('when the command line or the key is wrong', () => {
    it('exits 2 with USAGE, APPROVAL_NOT_FOUND or KEY_FILE_PERMISSIONS, and signs nothing (a reason must be one line)', async () => {
      const { id, client, approverKey, journal } = await escalated();
      const none = await cli(['approve', id, '--key', approverKey]);
      expect(none.code).toBe(2);
      expect(none.err).toContain('USAGE');
      const unknown = await cli(['approve', 'sha256:00000000', '--key', approverKey, '--journal', journal]);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain('APPROVAL_NOT_FOUND');
      chmodSync(approverKey, 0o644);
      const loose = await cli(['approve', id, '--key', approverKey, '--journal', journal]);
      expect(loose.code).toBe(2);
      expect(loose.err).toContain('KEY_FILE_PERMISSIONS');
      chmodSync(approverKey, 0o600);
      const noReason = await cli(['reject', id, '--key', approverKey, '--journal', journal]);
      expect(noReason.code).toBe(2);
      const twoLines = await cli([
        'reject',
        id,
        '--key',
        approverKey,
        '--reason',
        'ok\nserver: decided permit',
        '--journal',
        journal,
      ]);
      expect(twoLines.code).toBe(2);
      expect(twoLines.err).toContain('USAGE');
      expect((await cli(['approvals', 'list', '--journal', journal])).out).toContain(id);
      await client.close();
    });
  });
});
