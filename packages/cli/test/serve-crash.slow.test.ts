// `edca serve` SIGKILLed in the middle of a tools/call, then started again on the same journal:
// the escalation decided before the crash is still pending and can be approved with `edca approve`,
// the interrupted call is resolved by the kernel's recovery, and the journal verifies intact.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { decodeRecord } from '@edca/records';
import { writeServerKeys } from '../../mcp/test/support/keys.js';
import { cli } from './support/cli.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cliMain = join(root, 'packages/cli/src/main.ts');
const config = join(root, 'packages/mcp/test/support/server.config.ts');
const mapFile = join(root, 'packages/mcp/test/support/servicing-map.yaml');

let dir: string | undefined;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function startServer(
  d: string,
): Promise<{ child: ChildProcess; client: Client; exited: Promise<unknown> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cliMain, 'serve', '--config', config, '--http', '0'],
    {
      cwd: root,
      env: { ...process.env, EDCA_MCP_TEST_DIR: d },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const exited = new Promise((done) => child.once('exit', done));
  const url = await new Promise<string>((found, fail) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\S+)/.exec(out);
      if (m) found(m[1]!);
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('exit', () => fail(new Error(`serve exited: ${err}`)));
  });
  const client = new Client({ name: 'crash-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return { child, client, exited };
}

async function refs(client: Client): Promise<Record<string, string>> {
  const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
  return (JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> })
    .entities;
}

describe('edca serve killed with SIGKILL', () => {
  describe('when it is killed during a tools/call after an escalation', () => {
    it('restarts on the same journal, keeps the pending approval, takes edca approve, and the journal verifies', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-serve-crash-'));
      const { approverKey, trust } = writeServerKeys(dir);
      const journal = join(dir, 'journal.jsonl');

      const first = await startServer(dir);
      const r = await refs(first.client);
      const escalated = await first.client.callTool({
        name: 'refund_payment',
        arguments: { payment: r['payment']!, amount: 300 },
      });
      const id = (escalated.structuredContent as { approval: string }).approval;
      const inFlight = first.client
        .callTool({ name: 'freeze_card', arguments: { card: r['card']! } })
        .catch(() => null);
      await new Promise((w) => setTimeout(w, 20));
      first.child.kill('SIGKILL');
      await first.exited;
      await inFlight;

      const listed = await cli(['approvals', 'list', '--journal', journal]);
      expect(listed.out).toContain(id);

      const second = await startServer(dir);
      const approved = await cli(['approve', id, '--key', approverKey, '--journal', journal]);
      expect(approved.err).toBe('');
      expect(approved.code).toBe(0);
      expect(approved.out).toMatch(/server: (pending|decided)/);
      // The approved escalation is no longer pending. The freeze_card call the SIGKILL interrupted
      // may have journaled its own escalation first (it depends on timing); if so, that one is
      // durable and rightly stays pending.
      const after = (await cli(['approvals', 'list', '--journal', journal])).out;
      expect(after).not.toContain(id);
      expect(
        after === 'no pending approvals\n' || /^sha256:[0-9a-f]{64} {2}freeze_card {2}/.test(after),
      ).toBe(true);
      await second.client.close();
      second.child.kill('SIGTERM');
      await second.exited;

      const maps = join(dir, 'maps');
      mkdirSync(maps);
      copyFileSync(mapFile, join(maps, 'servicing-map.yaml'));
      const audit = await cli(['audit', 'verify', journal, '--trust', trust, '--maps', maps, '--json']);
      expect(audit.code).toBe(0);
      const report = JSON.parse(audit.out) as {
        findings: unknown[];
        replay: { decisions: number; replayed: number };
      };
      expect(report.findings).toEqual([]);
      // Every decision a map made replays (a mismatch would be a finding): the escalation, and the
      // interrupted freeze_card only if the SIGKILL came after its decision (under load it often
      // comes before). A kernel refusal names no map rule and is not replayed.
      const mapDecisions = readFileSync(journal, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => decodeRecord(l))
        .filter(
          (rec) => rec.type === 'decision' && !(rec.body as { rule: string }).rule.startsWith('kernel.'),
        );
      expect(mapDecisions.length).toBeGreaterThanOrEqual(1);
      expect(report.replay.replayed).toBe(mapDecisions.length);
    }, 300_000);
  });
});
