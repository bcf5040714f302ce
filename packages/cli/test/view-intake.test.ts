import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '@edca/cli';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MAP = join(root, 'packages/arp/test/fixtures/small-bank.yaml');
const DATA = join(root, 'packages/arp/test/fixtures/records-open.json');

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => void (out += t), stderr: (t) => void (err += t), isTty: false };
  const code = await runCli(argv, io);
  return { code, out, err };
}

function tmpFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'edca-cli-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

describe('edca view', () => {
  describe('when given a map and records', () => {
    it('prints exactly the model view as canonical JSON and exits 0', async () => {
      const r = await run(['view', MAP, '--data', DATA]);
      expect(r.code).toBe(0);
      const view = JSON.parse(r.out) as {
        edca_view: number;
        state: unknown;
        entities: Record<string, string>;
      };
      expect(view.edca_view).toBe(1);
      expect(view.state).toEqual({
        facets: { account_standing: 'open', balance_band: '100-500' },
        machines: { card: 'usable' },
      });
      expect(r.out).not.toContain('ACC-000123');
      expect((await run(['view', MAP, '--data', DATA])).out).toBe(r.out);
    });

    it('binds refs to the session and key flags', async () => {
      const a = JSON.parse((await run(['view', MAP, '--data', DATA])).out) as { entities: { card: string } };
      const b = JSON.parse((await run(['view', MAP, '--data', DATA, '--session', 'other'])).out) as {
        entities: { card: string };
      };
      const key = tmpFile('ref.key', `${'ab'.repeat(32)}\n`);
      const c = JSON.parse((await run(['view', MAP, '--data', DATA, '--ref-key-file', key])).out) as {
        entities: { card: string };
      };
      expect(new Set([a.entities.card, b.entities.card, c.entities.card]).size).toBe(3);
    });
  });

  describe('when the view would leak', () => {
    it('prints the refusal with its code and exits 1', async () => {
      const data = tmpFile(
        'leak.json',
        JSON.stringify({
          cust_acct: { acct_id: 'A1', bal_minor: 1, acct_status_cd: 'ACTV' },
          cust_card: { card_tok: 't', pan_last4: '1', card_status_cd: 'ISSD' },
          cust_msg: { msg_body: 'my email is a@example.com' },
        }),
      );
      const r = await run(['view', MAP, '--data', data]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'LEAK_DETECTED' });
      expect(r.out).not.toContain('a@example.com');
    });
  });

  describe('when the input is unusable', () => {
    it('exits 2 for a missing file, bad JSON, a bad key file or a missing flag, without a stack trace', async () => {
      const bad = tmpFile('bad.json', '{"cust_acct": ');
      const shortKey = tmpFile('short.key', 'abcd');
      for (const argv of [
        ['view', MAP, '--data', '/nonexistent/records.json'],
        ['view', MAP, '--data', bad],
        ['view', MAP, '--data', DATA, '--ref-key-file', shortKey],
        ['view', MAP],
      ]) {
        const r = await run(argv);
        expect(r.code, argv.join(' ')).toBe(2);
        expect(r.err).not.toMatch(/\n\s+at /);
      }
    });
  });
});

describe('edca intake', () => {
  const call = (name: string, args: unknown) =>
    tmpFile(
      'call.json',
      JSON.stringify({
        tool_calls: [{ id: 'c1', type: 'function', function: { name, arguments: JSON.stringify(args) } }],
      }),
    );

  describe('when the model output is a declared intent', () => {
    it('prints the proposal and exits 0', async () => {
      const r = await run(['intake', MAP, '--format', 'openai', call('find_customer', { name: 'john' })]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual({
        ok: true,
        proposal: { intent: 'find_customer', params: { name: 'john' } },
        callId: 'c1',
      });
    });

    it('accepts a ref from edca view when given the same records, session and key', async () => {
      const view = JSON.parse((await run(['view', MAP, '--data', DATA])).out) as {
        entities: { card: string };
      };
      const file = tmpFile(
        'mcp.json',
        JSON.stringify({ name: 'freeze_card', arguments: { card: view.entities.card } }),
      );
      const ok = await run(['intake', MAP, '--format', 'mcp', '--data', DATA, file]);
      expect(ok.code).toBe(0);
      const foreign = await run([
        'intake',
        MAP,
        '--format',
        'mcp',
        '--data',
        DATA,
        '--session',
        'other',
        file,
      ]);
      expect(foreign.code).toBe(1);
      expect(JSON.parse(foreign.out)).toMatchObject({ code: 'REF_NOT_ISSUED' });
    });
  });

  describe('when the model output is refused', () => {
    it('prints the refusal with its code and exits 1', async () => {
      for (const [file, code] of [
        [call('database_query', { sql: 'SELECT * FROM users' }), 'UNKNOWN_INTENT'],
        [call('find_customer', { name: '../../etc/passwd' }), 'SCHEMA_VIOLATION'],
        [tmpFile('x.json', 'not json'), 'INTAKE_MALFORMED'],
      ] as const) {
        const r = await run(['intake', MAP, '--format', 'openai', file]);
        expect(r.code).toBe(1);
        expect(JSON.parse(r.out)).toMatchObject({ ok: false, code });
        expect(r.err).toContain(code);
      }
    });
  });

  describe('when the command line is wrong', () => {
    it('exits 2 for an unknown format, a missing format or an unreadable file', async () => {
      const f = call('find_customer', { name: 'john' });
      expect((await run(['intake', MAP, '--format', 'gemini', f])).code).toBe(2);
      expect((await run(['intake', MAP, f])).code).toBe(2);
      expect((await run(['intake', MAP, '--format', 'json', '/nonexistent.json'])).code).toBe(2);
    });
  });

  describe('when reading standard input', () => {
    it('parses FILE - from stdin', () => {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'packages/cli/src/main.ts'),
          'intake',
          MAP,
          '--format',
          'anthropic',
          '-',
        ],
        {
          cwd: root,
          input: JSON.stringify({
            content: [{ type: 'tool_use', id: 't1', name: 'find_customer', input: { name: 'Ann' } }],
          }),
          encoding: 'utf8',
        },
      );
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, proposal: { intent: 'find_customer' } });
    });
  });
});
