// A rejection across a server restart: `edca serve` (stdio child) escalates a refund and goes
// away; `edca reject` signs the rejection with its reason while no server runs; the next server
// takes it from the inbox, the kernel journals it, and from then on the escalation stays rejected
// (for `edca approve` and for a signed approval dropped straight into the inbox). `edca audit
// verify` accepts the real rejection and finds the forged ones.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { collectAuditTrail } from '@edca/audit';
import { approvalMessage, signApproval, toRfc3339 } from '@edca/kernel';
import { writeApprovalToInbox } from '@edca/mcp';
import {
  decodeRecord,
  loadPrivateKeyFile,
  sealRecord,
  type Digest,
  type JsonValue,
  type Signer,
} from '@edca/records';
import { cli } from './support/cli.js';
import { writeServerKeys } from '../../mcp/test/support/keys.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cliMain = join(root, 'packages/cli/src/main.ts');
const config = join(root, 'packages/mcp/test/support/server.config.ts');

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function startServer(d: string): Promise<Client> {
  const client = new Client({ name: 'restart-agent', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', cliMain, 'serve', '--config', config],
      env: { ...process.env, EDCA_MCP_TEST_DIR: d },
      cwd: root,
      stderr: 'pipe',
    }),
  );
  return client;
}

/** The server's answer to an inbox statement, once it filed it under done/. */
async function answerOf(inbox: string, file: string): Promise<Record<string, unknown>> {
  const done = join(inbox, 'done', file.split('/').pop()!);
  for (let i = 0; i < 300 && !existsSync(done); i++) await new Promise((r) => setTimeout(r, 100));
  return (JSON.parse(readFileSync(done, 'utf8')) as { answer: Record<string, unknown> }).answer;
}

/** Replaces line `seq` by a copy re-signed with `signer` after `edit` (a kernel-key insider). */
async function resign(
  lines: readonly string[],
  seq: number,
  signer: Signer,
  edit: (body: { [k: string]: JsonValue }) => { [k: string]: JsonValue },
): Promise<string> {
  const rec = decodeRecord(lines[seq - 1]!);
  const { sig: _sig, ...unsigned } = rec;
  const sealed = await sealRecord(
    { ...unsigned, body: edit(rec.body as { [k: string]: JsonValue }) },
    signer,
  );
  const out = [...lines];
  out[seq - 1] = Buffer.from(sealed.bytes).toString('utf8');
  return `${out.join('\n')}\n`;
}

interface Finding {
  code: string;
  seq: number | null;
  message: string;
}

async function auditOf(text: string, trust: string): Promise<{ code: number; findings: Finding[] }> {
  const file = join(dir!, `audited-${Date.now()}.jsonl`);
  writeFileSync(file, text);
  const r = await cli(['audit', 'verify', file, '--trust', trust, '--json']);
  return { code: r.code, findings: (JSON.parse(r.out) as { findings: Finding[] }).findings };
}

describe('edca reject across a server restart (stdio child)', () => {
  it('the next server journals the signed rejection, the escalation stays rejected, and the audit checks it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'edca-reject-restart-'));
    const { approverKey, trust } = writeServerKeys(dir);
    const journal = join(dir, 'journal.jsonl');
    const inbox = `${journal}.approvals`;

    const first = await startServer(dir);
    const view = await first.readResource({ uri: 'edca://view/mcp-servicing' });
    const refs = (
      JSON.parse((view.contents[0] as { text: string }).text) as { entities: Record<string, string> }
    ).entities;
    const escalated = await first.callTool({
      name: 'refund_payment',
      arguments: { payment: refs['payment']!, amount: 249.99 },
    });
    const id = (escalated.structuredContent as { approval: Digest }).approval;
    expect(id).toMatch(/^sha256:/);
    await first.close();

    const reason = 'customer withdrew the claim on the phone';
    const rejected = await cli([
      'reject',
      id,
      '--key',
      approverKey,
      '--reason',
      reason,
      '--journal',
      journal,
      '--wait',
      '0',
    ]);
    expect(rejected.err).toBe('');
    expect(rejected.code).toBe(0);
    const statementFile = /statement: (.+)\n/.exec(rejected.out)![1]!;

    const second = await startServer(dir);
    expect(await answerOf(inbox, statementFile)).toMatchObject({
      status: 'refused',
      code: 'APPROVAL_REJECTED',
    });
    const lines = readFileSync(journal, 'utf8').trimEnd().split('\n');
    const rejection = lines.map((l) => decodeRecord(l)).find((r) => r.type === 'approval')!;
    expect(rejection.body).toMatchObject({ decision: id, verdict: 'reject', statement: { reason } });

    expect((await cli(['approvals', 'list', '--journal', journal])).out).toBe('no pending approvals\n');
    const viaCli = await cli(['approve', id, '--key', approverKey, '--journal', journal]);
    expect(viaCli.code).toBe(2);
    expect(viaCli.err).toContain('APPROVAL_REJECTED');

    // An approval that skips the CLI's check is refused by the restarted kernel itself.
    const approver = loadPrivateKeyFile(approverKey);
    const actionHash = (rejection.body as { actionHash: Digest }).actionHash;
    const late = await signApproval(
      {
        domain: 'edca-approval-v1',
        decision: id,
        actionHash,
        verdict: 'approve',
        approver: { kid: approver.kid, role: 'approver' },
        at: toRfc3339(Date.now()),
      },
      approver,
    );
    expect(await answerOf(inbox, writeApprovalToInbox(inbox, late))).toMatchObject({
      status: 'refused',
      code: 'APPROVAL_REJECTED',
    });
    await second.close();

    const final = readFileSync(journal, 'utf8').trimEnd().split('\n');
    expect(final.map((l) => decodeRecord(l)).filter((r) => r.type === 'approval')).toHaveLength(1);
    expect(await auditOf(`${final.join('\n')}\n`, trust)).toEqual({ code: 0, findings: [] });
    const trail = collectAuditTrail(Buffer.from(`${final.join('\n')}\n`));
    const escalation = trail.decisions.find((d) => d.verdict === 'escalate')!;
    expect(escalation.steps).toContainEqual(
      expect.objectContaining({ type: 'approval', summary: 'reject', detail: `approver: ${reason}` }),
    );

    // Forged: the reason rewritten after the approver signed (the record re-signed with the kernel key).
    const seq = rejection.seq;
    const kernel = loadPrivateKeyFile(join(dir, 'kernel.key.pem'));
    const edited = await auditOf(
      await resign(final, seq, kernel, (b) => ({
        ...b,
        statement: { ...(b['statement'] as { [k: string]: JsonValue }), reason: 'fraud confirmed' },
      })),
      trust,
    );
    expect(edited.code).not.toBe(0);
    const badSig = edited.findings.find((f) => f.code === 'APPROVAL_INVALID' && f.seq === seq);
    expect(badSig?.message).toContain('does not verify');

    // Forged: a rejection signed by the kernel's key in the approver's place (not an approver role).
    const statement = {
      ...(rejection.body as { statement: { [k: string]: JsonValue } }).statement,
      approver: { kid: kernel.kid, role: 'approver' },
    };
    const sig = Buffer.from(await kernel.sign(approvalMessage(statement))).toString('base64url');
    const byKernel = await auditOf(
      await resign(final, seq, kernel, (b) => ({
        ...b,
        approver: { kid: kernel.kid, role: 'approver' },
        statement,
        sig,
      })),
      trust,
    );
    expect(byKernel.findings).toContainEqual(expect.objectContaining({ code: 'APPROVAL_INVALID', seq }));

    // Forged: a statement with a member no approver tool writes.
    const extra = await auditOf(
      await resign(final, seq, kernel, (b) => ({
        ...b,
        statement: { ...(b['statement'] as { [k: string]: JsonValue }), override: true },
      })),
      trust,
    );
    const malformed = extra.findings.find((f) => f.code === 'APPROVAL_INVALID' && f.seq === seq);
    expect(malformed?.message).toContain('malformed');
  }, 180_000);
});
