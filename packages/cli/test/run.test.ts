/**
 * `edca run`: one governed session from a config module against the loopback replay server (the
 * official OpenAI SDK pointed at it), printing the per-step trace and journaling a verifiable
 * journal with the session's records.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@edca/cli';
import { afterEach, describe, expect, it } from 'vitest';
import { captureIo } from '../../../test/helpers/cli-io.js';
import { startReplayServer, type ReplayServer } from '../../models/test/support/replay-server.js';

let server: ReplayServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

const CONFIG = `
const rows = new Map([['P-1', { PAY_ID: 'P-1', STATUS_CD: 'SETL', AMT_CENTS: 5001 }]]);
const setStatus = (status) => (call) => {
  rows.get(String(call.realParams.PAY_ID)).STATUS_CD = status;
  return { ok: true };
};
export default {
  map: 'refund-map.yaml',
  journal: 'out/journal.jsonl',
  keys: 'out/keys',
  principal: { id: 'agent-7', attributes: { tier: 'agent' } },
  records: () => ({ tbl_pay: { ...rows.get('P-1') } }),
  loader: ({ refs }) => Promise.resolve({ tbl_pay: { ...rows.get(refs.PAY_ID.id) } }),
  handlers: { 'pay.hold': setStatus('HOLD'), 'pay.release': setStatus('SETL'), 'pay.refund': setStatus('RFND') },
  bounds: { maxTurns: 5, retryBaseMs: 1 },
};
`;

function chat(toolCall: { name: string; args: string } | null, text: string | null): unknown {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1764926400,
    model: 'local-model',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text,
          ...(toolCall === null
            ? {}
            : {
                tool_calls: [
                  {
                    id: 'call_1',
                    type: 'function',
                    function: { name: toolCall.name, arguments: toolCall.args },
                  },
                ],
              }),
        },
        finish_reason: toolCall === null ? 'stop' : 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 700, completion_tokens: 20, total_tokens: 720 },
  };
}

function setUp(): string {
  dir = mkdtempSync(join(tmpdir(), 'edca-run-'));
  copyFileSync(
    new URL('../../kernel/test/support/refund-map.yaml', import.meta.url),
    join(dir, 'refund-map.yaml'),
  );
  writeFileSync(join(dir, 'edca.run.mjs'), CONFIG);
  return join(dir, 'edca.run.mjs');
}

describe('edca run', () => {
  describe('when a local OpenAI-compatible server drifts once, then answers in text', () => {
    it('prints the per-step trace, exits 0 and journals intake.refused and session.ended', async () => {
      const config = setUp();
      server = await startReplayServer([
        { path: '/v1/chat/completions', body: chat({ name: 'search_user', args: '{"q":"P-1"}' }, null) },
        { path: '/v1/chat/completions', body: chat(null, 'I cannot search; nothing was changed.') },
      ]);
      const io = captureIo();
      const code = await runCli(
        [
          'run',
          '--config',
          config,
          '--model',
          'openai',
          '--base-url',
          `${server.origin}/v1`,
          '--model-name',
          'local-model',
          '--goal',
          'put P-1 on hold',
          '--session',
          's-1',
        ],
        io,
      );
      expect(io.err()).toBe('');
      expect(code).toBe(0);
      const out = io.out();
      expect(out).toContain('proposes  search_user');
      expect(out).toContain('refuse · UNKNOWN_INTENT · arp.intake');
      expect(out).toContain('journaled as intake.refused');
      expect(out).toContain('session ended: MODEL_STOPPED after 2 turn(s); tokens 1400 in + 40 out');
      const lines = readFileSync(join(dir!, 'out', 'journal.jsonl'), 'utf8')
        .trimEnd()
        .split('\n');
      const types = lines.map((l) => (JSON.parse(l) as { type: string }).type);
      expect(types.filter((t) => t === 'intake.refused')).toHaveLength(1);
      expect(types.filter((t) => t !== 'checkpoint').at(-1)).toBe('session.ended');
      expect(out).toContain("model's answer: I cannot search");
      expect((server.requests[0]!.body['tools'] as unknown[]).length).toBeGreaterThan(0);
    });
  });

  describe('when the model keeps failing with 500', () => {
    it('exits 1 with MODEL_UNAVAILABLE after the bounded retries', async () => {
      const config = setUp();
      const err500 = { path: '/v1/chat/completions', status: 500, body: { error: { message: 'boom' } } };
      server = await startReplayServer([err500, err500, err500]);
      const io = captureIo();
      const code = await runCli(
        [
          'run',
          '--config',
          config,
          '--model',
          'openai',
          '--base-url',
          `${server.origin}/v1`,
          '--model-name',
          'm',
          '--goal',
          'x',
        ],
        io,
      );
      expect(code).toBe(1);
      expect(io.err()).toContain('MODEL_UNAVAILABLE');
      expect(io.out()).toContain('MODEL_SERVER_ERROR on try 3 (not retried)');
      expect(server.requests).toHaveLength(3);
    });
  });

  describe('when the flags or the config are wrong', () => {
    it('exits 2 with a stable code and no stack trace', async () => {
      const config = setUp();
      const cases: [string[], string][] = [
        [['run', '--config', config, '--goal', 'x'], 'MODEL_FLAGS_INVALID'],
        [['run', '--config', config, '--model', 'openai', '--goal', 'x'], 'MODEL_FLAGS_INVALID'],
        [
          [
            'run',
            '--config',
            join(dir!, 'missing.mjs'),
            '--model',
            'openai',
            '--model-name',
            'm',
            '--goal',
            'x',
          ],
          'CONFIG_INVALID',
        ],
      ];
      for (const [argv, codeName] of cases) {
        const io = captureIo();
        expect(await runCli(argv, io)).toBe(2);
        expect(io.err()).toContain(codeName);
        expect(io.err()).not.toMatch(/\n\s+at /);
      }
      writeFileSync(join(dir!, 'bad.mjs'), 'export default { map: 1 };');
      const io = captureIo();
      expect(
        await runCli(
          [
            'run',
            '--config',
            join(dir!, 'bad.mjs'),
            '--model',
            'anthropic',
            '--model-name',
            'm',
            '--goal',
            'x',
          ],
          io,
        ),
      ).toBe(2);
      expect(io.err()).toContain('CONFIG_INVALID');
    });
  });
});

describe('edca demo --model', () => {
  describe('when pointed at an OpenAI-compatible server', () => {
    it('runs every scene as a governed session, journals it, and verifies the journal', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-demo-model-'));
      const final = { path: '/v1/chat/completions', body: chat(null, 'Done; nothing else to do.') };
      server = await startReplayServer([
        { path: '/v1/chat/completions', body: chat({ name: 'find_user', args: '{"name":"Jane"}' }, null) },
        final,
        final,
        final,
      ]);
      const io = captureIo();
      const code = await runCli(
        [
          'demo',
          '--out',
          join(dir, 'out'),
          '--model',
          'openai',
          '--base-url',
          `${server.origin}/v1`,
          '--model-name',
          'local-model',
        ],
        io,
      );
      expect(io.err()).toBe('');
      expect(code).toBe(0);
      expect(io.out()).toContain('openai-chat:local-model: a real model');
      expect(io.out()).toContain('refuse · UNKNOWN_INTENT · arp.intake');
      expect(io.out()).toContain('INTACT');
      const types = readFileSync(join(dir, 'out', 'journal.jsonl'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type);
      expect(types.filter((t) => t === 'session.ended')).toHaveLength(3);
      expect(types.filter((t) => t === 'intake.refused')).toHaveLength(1);
      expect(server.remaining()).toBe(0);
    });
  });
});
