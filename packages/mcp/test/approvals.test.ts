import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { signApproval, toRfc3339 } from '@edca/kernel';
import {
  createNodeSigner,
  decodeRecord,
  generateKeyPair,
  loadPrivateKeyFile,
  recordHash,
  type Digest,
} from '@edca/records';
import {
  defineServer,
  findPendingApproval,
  McpError,
  openServerRuntime,
  pendingApprovals,
  writeApprovalToInbox,
  type PendingApprovalInfo,
  type ServerRuntime,
} from '../src/index.js';
import { createServicingBank, MAP_PATH, servicingHandlers, servicingRecords } from './support/bank.js';
import { writeServerKeys } from './support/keys.js';

let dir: string | undefined;
const open: ServerRuntime[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(
  d: string,
  bank = createServicingBank(),
): Promise<{ runtime: ServerRuntime; client: Client }> {
  const config = defineServer({
    maps: [fileURLToPath(MAP_PATH)],
    keys: { kernel: 'kernel.key.pem', refKey: 'ref-key.b64u' },
    trust: 'trust.json',
    journal: 'journal.jsonl',
    stream: 'mcp-test',
    approvals: { pollMs: 60_000 },
    principal: { id: 'agent-7', attributes: {} },
    views: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
    loaders: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
    handlers: servicingHandlers(bank),
  });
  const runtime = await openServerRuntime(config, { baseDir: d });
  open.push(runtime);
  const [c, s] = InMemoryTransport.createLinkedPair();
  await runtime.mcp.connect(s);
  const client = new Client({ name: 'approvals-agent', version: '1.0.0' });
  await client.connect(c);
  return { runtime, client };
}

async function escalate(client: Client): Promise<Digest> {
  const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
  const refs = (
    JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> }
  ).entities;
  const result = await client.callTool({
    name: 'refund_payment',
    arguments: { payment: refs['payment']!, amount: 300 },
  });
  return (result.structuredContent as { approval: Digest }).approval;
}

function journalPending(d: string): PendingApprovalInfo[] {
  const lines = readFileSync(join(d, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean);
  const records = lines.map((l) => {
    const record = decodeRecord(l);
    return { record, hash: recordHash(record) };
  });
  return pendingApprovals(records, Date.now());
}

function pendingOf(runtime: ServerRuntime, id: Digest): PendingApprovalInfo {
  return findPendingApproval(journalPending(join(runtime.journalPath!, '..')), id);
}

describe('approvals outside the model channel', () => {
  describe('when a statement is dropped into the inbox of a running server', () => {
    it('takes a valid approval, runs the action and files the answer in done/', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-approvals-'));
      const { approverKey } = writeServerKeys(dir);
      const bank = createServicingBank();
      const { runtime, client } = await start(dir, bank);
      const id = await escalate(client);
      const pending = pendingOf(runtime, id);
      const approver = loadPrivateKeyFile(approverKey);
      const signed = await signApproval(
        {
          domain: 'edca-approval-v1',
          decision: id,
          actionHash: pending.actionHash,
          verdict: 'approve',
          approver: { kid: approver.kid, role: 'approver' },
          at: toRfc3339(Date.now()),
        },
        approver,
      );
      const file = writeApprovalToInbox(runtime.inbox, signed);
      await runtime.drainApprovals();
      expect(existsSync(file)).toBe(false);
      const done = JSON.parse(readFileSync(join(runtime.inbox, 'done', file.split('/').pop()!), 'utf8')) as {
        answer: { status: string; execution: { status: string } };
      };
      expect(done.answer).toMatchObject({ status: 'decided', execution: { status: 'completed' } });
      expect(bank.payment.PAY_STAT).toBe('RFND');
    });

    it('refuses a statement signed by a key the trust file does not name (APPROVAL_UNTRUSTED); nothing runs', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-approvals-'));
      writeServerKeys(dir);
      const bank = createServicingBank();
      const { runtime, client } = await start(dir, bank);
      const id = await escalate(client);
      const pending = pendingOf(runtime, id);
      const stranger = createNodeSigner(generateKeyPair().privateKeyPem);
      const signed = await signApproval(
        {
          domain: 'edca-approval-v1',
          decision: id,
          actionHash: pending.actionHash,
          verdict: 'approve',
          approver: { kid: stranger.kid, role: 'approver' },
          at: toRfc3339(Date.now()),
        },
        stranger,
      );
      const file = writeApprovalToInbox(runtime.inbox, signed);
      await runtime.drainApprovals();
      const done = JSON.parse(readFileSync(join(runtime.inbox, 'done', file.split('/').pop()!), 'utf8')) as {
        answer: { status: string; code: string };
      };
      expect(done.answer).toMatchObject({ status: 'refused', code: 'APPROVAL_UNTRUSTED' });
      expect(bank.payment.PAY_STAT).toBe('SETL');
      expect(journalPending(dir).map((p) => p.id)).toEqual([id]);
    });

    it('moves a file that is not a statement to malformed/', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-approvals-'));
      writeServerKeys(dir);
      const { runtime } = await start(dir);
      writeFileSync(join(runtime.inbox, 'junk.json'), '{"statement": 1, "statement": 2}');
      await runtime.drainApprovals();
      expect(readdirSync(join(runtime.inbox, 'malformed'))).toEqual(['junk.json']);
    });
  });

  describe('when the server restarts', () => {
    it('takes a statement dropped while it was down and journals the approval', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-approvals-'));
      const { approverKey } = writeServerKeys(dir);
      const first = await start(dir);
      const id = await escalate(first.client);
      const pending = pendingOf(first.runtime, id);
      await first.runtime.close();
      open.splice(open.indexOf(first.runtime), 1);
      expect(journalPending(dir).map((p) => p.id)).toEqual([id]);

      const approver = loadPrivateKeyFile(approverKey);
      const signed = await signApproval(
        {
          domain: 'edca-approval-v1',
          decision: id,
          actionHash: pending.actionHash,
          verdict: 'approve',
          approver: { kid: approver.kid, role: 'approver' },
          at: toRfc3339(Date.now()),
        },
        approver,
      );
      writeApprovalToInbox(join(dir, 'journal.jsonl.approvals'), signed);
      const second = await start(dir);
      await second.runtime.drainApprovals();
      expect(journalPending(dir)).toEqual([]);
      const types = readFileSync(join(dir, 'journal.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { type: string }).type);
      expect(types).toContain('approval');
    });
  });

  describe('when an approver names an approval by id prefix', () => {
    const info = (id: string, status: PendingApprovalInfo['status'] = 'pending'): PendingApprovalInfo => ({
      id: id as Digest,
      intent: 'refund_payment',
      actionHash: `sha256:${'0'.repeat(64)}`,
      required: { count: 1, role: 'approver' },
      expiresAt: '2099-01-01T00:00:00.000Z',
      approvers: 0,
      decidedAt: '2026-01-01T00:00:00.000Z',
      status,
    });
    const a = info(`sha256:abcdef01${'1'.repeat(56)}`);
    const b = info(`sha256:abcdef01${'2'.repeat(56)}`);

    it('finds the one match, and refuses an unknown (APPROVAL_NOT_FOUND) or ambiguous (APPROVAL_AMBIGUOUS) prefix', () => {
      expect(findPendingApproval([a, b], `abcdef01${'1'.repeat(8)}`)).toBe(a);
      expect(() => findPendingApproval([a, b], 'ffffffff')).toThrow(
        expect.objectContaining({ code: 'APPROVAL_NOT_FOUND' }),
      );
      expect(() => findPendingApproval([a, b], 'abcdef01')).toThrow(
        expect.objectContaining({ code: 'APPROVAL_AMBIGUOUS' }),
      );
      expect(() => findPendingApproval([a], 'xyz')).toThrow(McpError);
    });

    it.each([
      ['rejected', 'APPROVAL_REJECTED'],
      ['expired', 'APPROVAL_EXPIRED'],
      ['approved', 'APPROVAL_CLOSED'],
    ] as const)('refuses one that is %s with %s', (status, code) => {
      const closed = info(`sha256:abcdef01${'3'.repeat(56)}`, status);
      expect(() => findPendingApproval([a, closed], `abcdef01${'3'.repeat(8)}`)).toThrow(
        expect.objectContaining({ code }),
      );
    });
  });
});
