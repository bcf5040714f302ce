// `edca serve` as a child process, driven by the official MCP client over stdio and over
// Streamable HTTP on loopback; approvals come from `edca approve` through the server's inbox, and
// the journal is then verified offline with `edca audit verify --maps`.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { cli } from './support/cli.js';
import { writeServerKeys } from '../../mcp/test/support/keys.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cliMain = join(root, 'packages/cli/src/main.ts');
const config = join(root, 'packages/mcp/test/support/server.config.ts');
const mapFile = join(root, 'packages/mcp/test/support/servicing-map.yaml');
const TOKEN = '0d6b2f4e8a1c3e5f7092b4d6f8a0c2e4f6a8b0d2e4f6a8c0e2a4c6e8f0b2d4f6';

let dir: string | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

type CallResult = Awaited<ReturnType<Client['callTool']>>;
const body = (r: CallResult): Record<string, unknown> => r.structuredContent as Record<string, unknown>;

async function refsOf(client: Client): Promise<Record<string, string>> {
  const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
  return (JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> })
    .entities;
}

describe('edca serve (child process)', () => {
  describe('when an agent drives it over stdio through the whole scenario', () => {
    it('refuses drift, bad arguments and a forbidden call, executes a permitted one, runs an approved escalation, and the journal verifies', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-serve-'));
      const { approverKey, trust } = writeServerKeys(dir);
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', cliMain, 'serve', '--config', config],
        env: { ...process.env, EDCA_MCP_TEST_DIR: dir },
        cwd: root,
        stderr: 'pipe',
      });
      const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
      await client.connect(transport);
      cleanups.push(() => client.close());

      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['freeze_card', 'refund_payment', 'unfreeze_card']);
      const refs = await refsOf(client);

      const drift = await client.callTool({
        name: 'database_query',
        arguments: { sql: 'SELECT * FROM crd_tbl' },
      });
      expect(drift.isError).toBe(true);
      expect(body(drift)['edca_refusal']).toBe('UNKNOWN_INTENT');

      const bad = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: refs['payment']!, amount: 'lots' },
      });
      expect(bad.isError).toBe(true);
      expect(body(bad)['edca_refusal']).toBe('SCHEMA_VIOLATION');

      const forbidden = await client.callTool({ name: 'unfreeze_card', arguments: { card: refs['card']! } });
      expect(forbidden.isError).toBe(true);
      expect(body(forbidden)['edca_refusal']).toBe('TRANSITION_NOT_ALLOWED');

      const permitted = await client.callTool({ name: 'freeze_card', arguments: { card: refs['card']! } });
      expect(permitted.isError).toBe(false);
      expect(body(permitted)).toMatchObject({ outcome: 'completed', intent: 'freeze_card' });

      const escalated = await client.callTool({
        name: 'refund_payment',
        arguments: { payment: refs['payment']!, amount: 249.99 },
      });
      expect(escalated.isError).toBe(false);
      const pending = body(escalated) as { approval: string; waits_for: unknown; resource: string };
      expect(pending.waits_for).toEqual({ count: 1, role: 'approver' });

      const journal = join(dir, 'journal.jsonl');
      const listed = await cli(['approvals', 'list', '--journal', journal]);
      expect(listed.code).toBe(0);
      expect(listed.out).toContain(pending.approval);
      expect(listed.out).toContain('refund_payment');

      const approved = await cli([
        'approve',
        pending.approval.slice(0, 20),
        '--key',
        approverKey,
        '--journal',
        journal,
      ]);
      expect(approved.err).toBe('');
      expect(approved.code).toBe(0);
      expect(approved.out).toContain('server: decided permit, executed: completed');

      const after = await client.readResource({ uri: pending.resource });
      const state = JSON.parse((after.contents[0] as { text: string }).text) as {
        status: string;
        result: { outcome: string };
      };
      expect(state).toMatchObject({ status: 'approved', result: { outcome: 'completed' } });
      expect((await cli(['approvals', 'list', '--journal', journal])).out).toBe('no pending approvals\n');

      await client.close();
      await new Promise((r) => setTimeout(r, 300));
      const maps = join(dir, 'maps');
      mkdirSync(maps);
      copyFileSync(mapFile, join(maps, 'servicing-map.yaml'));
      const audit = await cli(['audit', 'verify', journal, '--trust', trust, '--maps', maps, '--json']);
      expect(audit.code).toBe(0);
      const report = JSON.parse(audit.out) as {
        findings: unknown[];
        replay: { decisions: number; replayed: number; mismatches: number };
      };
      expect(report.findings).toEqual([]);
      // refused (forbidden), permit (freeze), escalate, and the permit after the approval
      expect(report.replay.decisions).toBe(4);
      expect(report.replay).toMatchObject({ replayed: 4, mismatches: 0 });
    }, 120_000);
  });

  describe('when it serves Streamable HTTP on loopback', () => {
    it('gives each HTTP session its own edca session and executes a permitted call, for clients with the bearer token only', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-serve-http-'));
      writeServerKeys(dir);
      const tokenFile = join(dir, 'mcp.token');
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      const child: ChildProcess = spawn(
        process.execPath,
        ['--import', 'tsx', cliMain, 'serve', '--config', config, '--http', '0', '--token-file', tokenFile],
        { cwd: root, env: { ...process.env, EDCA_MCP_TEST_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      cleanups.push(async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
      });
      const url = await new Promise<string>((found, fail) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(out);
          if (m) found(m[1]!);
        });
        child.once('exit', () => fail(new Error(`serve exited: ${out}`)));
      });
      const connect = async (token = TOKEN): Promise<Client> => {
        const c = new Client({ name: 'http-agent', version: '1.0.0' });
        const headers = { authorization: `Bearer ${token}` };
        await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
        cleanups.push(() => c.close());
        return c;
      };
      await expect(connect(TOKEN.replace(/^./, 'f'))).rejects.toThrow(/401|Unauthorized/);
      const a = await connect();
      const b = await connect();
      expect((await a.listTools()).tools).toHaveLength(3);
      const refsA = await refsOf(a);
      const refsB = await refsOf(b);
      expect(refsA['card']).not.toBe(refsB['card']);
      const foreign = await b.callTool({ name: 'freeze_card', arguments: { card: refsA['card']! } });
      expect(body(foreign)['edca_refusal']).toBe('REF_NOT_ISSUED');
      const ok = await a.callTool({ name: 'freeze_card', arguments: { card: refsA['card']! } });
      expect(body(ok)).toMatchObject({ outcome: 'completed' });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }, 120_000);
  });

  describe('when HTTP authentication is missing or misconfigured', () => {
    it('refuses to start with HTTP_TOKEN_REQUIRED, TOKEN_FILE_PERMISSIONS, HTTP_TOKEN_INVALID or USAGE (exit 2), before opening the journal', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-serve-auth-'));
      const tokenFile = join(dir, 'mcp.token');
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      const serve = (...extra: string[]) =>
        cli(['serve', '--config', join(dir!, 'absent.config.ts'), '--http', '0', ...extra]);
      const open = await serve('--host', '0.0.0.0');
      expect(open.code).toBe(2);
      expect(open.err).toContain('HTTP_TOKEN_REQUIRED');
      const noHttp = await cli(['serve', '--config', config, '--token-file', tokenFile]);
      expect(noHttp.code).toBe(2);
      expect(noHttp.err).toContain('USAGE');
      chmodSync(tokenFile, 0o644);
      const loose = await serve('--host', '0.0.0.0', '--token-file', tokenFile);
      expect(loose.code).toBe(2);
      expect(loose.err).toContain('TOKEN_FILE_PERMISSIONS');
      process.env['EDCA_MCP_TOKEN'] = 'hunter2';
      try {
        const weak = await serve('--host', '0.0.0.0');
        expect(weak.code).toBe(2);
        expect(weak.err).toContain('HTTP_TOKEN_INVALID');
      } finally {
        delete process.env['EDCA_MCP_TOKEN'];
      }
      expect(existsSync(join(dir, 'journal.jsonl'))).toBe(false);
    });
  });

  describe('when it serves the demo bank (--demo --out DIR)', () => {
    it('lists the retail-banking intents, writes what edca demo writes, and a refund within limits executes', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-serve-demo-'));
      const out = join(dir, 'out');
      const client = new Client({ name: 'demo-agent', version: '1.0.0' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: ['--import', 'tsx', cliMain, 'serve', '--demo', '--out', out],
          cwd: root,
          stderr: 'pipe',
        }),
      );
      cleanups.push(() => client.close());
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['refund_payment', 'freeze_card']));
      const res = await client.readResource({ uri: 'edca://view/retail-banking-servicing' });
      const view = JSON.parse((res.contents[0] as { text: string }).text) as {
        entities: Record<string, string>;
      };
      const payment = view.entities['payment']!;
      const refund = await client.callTool({
        name: 'refund_payment',
        arguments: { payment, amount: 249.99, reason: 'duplicate_charge' },
      });
      expect(body(refund)).toMatchObject({ outcome: 'completed', intent: 'refund_payment' });
      for (const f of [
        'trust.json',
        'maps/retail-banking.yaml',
        'keys/kernel.key.pem',
        'keys/approver.key.pem',
        'journal.jsonl',
      ])
        expect(existsSync(join(out, f)), f).toBe(true);
      await client.close();
      await new Promise((r) => setTimeout(r, 300));
      const audit = await cli([
        'audit',
        'verify',
        join(out, 'journal.jsonl'),
        '--trust',
        join(out, 'trust.json'),
        '--maps',
        join(out, 'maps'),
      ]);
      expect(audit.code).toBe(0);
    }, 120_000);
  });
});
