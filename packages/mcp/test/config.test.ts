import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  createEdcaMcpServer,
  createUpstreams,
  loadServerConfig,
  openServerRuntime,
  UpstreamFailure,
  writeApprovalToInbox,
  type ServerConfig,
} from '../src/index.js';
import { MAP_PATH } from './support/bank.js';
import { makeMcpFixture, type McpFixture } from './support/fixture.js';
import { writeServerKeys } from './support/keys.js';

let dir: string | undefined;
let fx: McpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const code = (c: string): unknown => expect.objectContaining({ code: c });

function base(d: string): ServerConfig {
  return {
    maps: [fileURLToPath(MAP_PATH)],
    keys: { kernel: join(d, 'kernel.key.pem'), refKey: join(d, 'ref-key.b64u') },
    trust: join(d, 'trust.json'),
    journal: join(d, 'journal.jsonl'),
    principal: { id: 'agent-7', attributes: {} },
    views: { 'mcp-servicing': () => Promise.resolve({}) },
    loaders: { 'mcp-servicing': () => Promise.resolve({}) },
    handlers: { 'cards.freeze': () => 1, 'cards.unfreeze': () => 1, 'payments.refund': () => 1 },
  };
}

describe('server configuration', () => {
  describe('when the file cannot be used', () => {
    it('refuses a missing file (CONFIG_UNREADABLE) and a module without a config (CONFIG_INVALID)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      await expect(loadServerConfig(join(dir, 'nope.yaml'))).rejects.toThrow(code('CONFIG_UNREADABLE'));
      writeFileSync(join(dir, 'empty.mjs'), 'export const other = 1;\n');
      await expect(loadServerConfig(join(dir, 'empty.mjs'))).rejects.toThrow(code('CONFIG_INVALID'));
      writeFileSync(join(dir, 'x.txt'), '');
      await expect(loadServerConfig(join(dir, 'x.txt'))).rejects.toThrow(code('CONFIG_INVALID'));
    });

    it('refuses YAML with an unknown field, or a loader that is not an upstream tool (CONFIG_INVALID)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      const common =
        'maps: [m.yaml]\nkeys: { kernel: k, refKey: r }\njournal: j\nprincipal: { id: a }\nviews: {}\n';
      writeFileSync(join(dir, 'a.yaml'), `${common}loaders: {}\nhandlers: { x: y }\n`);
      await expect(loadServerConfig(join(dir, 'a.yaml'))).rejects.toThrow(/CONFIG_INVALID|handlers/);
      await expect(loadServerConfig(join(dir, 'a.yaml'))).rejects.toThrow(code('CONFIG_INVALID'));
      writeFileSync(join(dir, 'b.yaml'), `${common}loaders: { m: ./records.js }\n`);
      await expect(loadServerConfig(join(dir, 'b.yaml'))).rejects.toThrow(/mcp:<upstream>\/<tool>/);
      writeFileSync(join(dir, 'c.yaml'), `${common}loaders: {}\nmaps: [again.yaml]\n`);
      await expect(loadServerConfig(join(dir, 'c.yaml'))).rejects.toThrow(code('CONFIG_INVALID'));
    });

    it('loads a valid YAML gateway configuration', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      writeFileSync(
        join(dir, 'ok.yaml'),
        'maps: [m.yaml]\nkeys: { kernel: k, refKey: r }\njournal: j\nprincipal: { id: a }\n' +
          'views: { m: "mcp:core/READ" }\nloaders: { m: { tool: "mcp:core/READ", arguments: { x: 1 } } }\n' +
          'upstreams: { core: { url: "http://127.0.0.1:9/mcp" } }\n',
      );
      const loaded = await loadServerConfig(join(dir, 'ok.yaml'));
      expect(loaded.baseDir).toBe(dir);
      expect(loaded.config.principal).toEqual({ id: 'a', attributes: {} });
    });
  });

  describe('when the runtime opens a configuration', () => {
    it('refuses both a journal and a store, or neither (CONFIG_INVALID)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      writeServerKeys(dir);
      await expect(
        openServerRuntime({ ...base(dir), store: 'postgres://x/y' }, { baseDir: dir }),
      ).rejects.toThrow(code('CONFIG_INVALID'));
      const { journal: _j, ...none } = base(dir);
      await expect(openServerRuntime(none, { baseDir: dir })).rejects.toThrow(code('CONFIG_INVALID'));
    });

    it('refuses a postgres store it is not given a way to open (CONFIG_INVALID)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      writeServerKeys(dir);
      const { journal: _j, ...rest } = base(dir);
      await expect(
        openServerRuntime({ ...rest, store: 'postgres://x/y', approvals: { inbox: 'in' } }, { baseDir: dir }),
      ).rejects.toThrow(code('CONFIG_INVALID'));
    });

    it('refuses an unreadable key file (CONFIG_UNREADABLE / CONFIG_INVALID)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      writeServerKeys(dir);
      await expect(
        openServerRuntime(
          { ...base(dir), keys: { kernel: join(dir, 'kernel.key.pem'), refKey: 'missing' } },
          { baseDir: dir },
        ),
      ).rejects.toThrow(code('CONFIG_UNREADABLE'));
      writeFileSync(join(dir, 'short.b64u'), 'AAAA\n', { mode: 0o600 });
      await expect(
        openServerRuntime(
          { ...base(dir), keys: { kernel: join(dir, 'kernel.key.pem'), refKey: 'short.b64u' } },
          { baseDir: dir },
        ),
      ).rejects.toThrow(code('CONFIG_INVALID'));
    });

    it('refuses a loader naming an undeclared upstream (UPSTREAM_UNKNOWN)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      writeServerKeys(dir);
      await expect(
        openServerRuntime({ ...base(dir), loaders: { 'mcp-servicing': 'mcp:ghost/READ' } }, { baseDir: dir }),
      ).rejects.toThrow(code('UPSTREAM_UNKNOWN'));
    });

    it('refuses a map without a view loader (VIEW_LOADER_MISSING)', async () => {
      fx = await makeMcpFixture();
      expect(() =>
        createEdcaMcpServer({
          kernel: fx!.kernel,
          stream: 's',
          principal: { id: 'a', attributes: {} },
          views: {},
        }),
      ).toThrow(code('VIEW_LOADER_MISSING'));
    });
  });

  describe('when a view or an upstream cannot answer', () => {
    it('answers a view resource whose loader fails with VIEW_UNAVAILABLE', async () => {
      fx = await makeMcpFixture({
        views: { 'mcp-servicing': () => Promise.reject(new Error('core down: tbl X')) },
      });
      const client: Client = await fx.connect();
      const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
      const text = (res.contents[0] as { text: string }).text;
      expect(JSON.parse(text)).toMatchObject({ edca_refusal: 'VIEW_UNAVAILABLE' });
      expect(text).not.toContain('core down');
      await expect(client.readResource({ uri: 'edca://view/nope' })).rejects.toThrow();
    });

    it('fails an unreachable upstream with UPSTREAM_UNAVAILABLE and an unknown one with UPSTREAM_UNKNOWN', async () => {
      const ups = createUpstreams({ core: { url: 'http://127.0.0.1:9/mcp' } }, { timeoutMs: 2000, refs: [] });
      await expect(ups.call('mcp:core/READ', {})).rejects.toThrow(
        expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE' }),
      );
      await expect(ups.call('mcp:core/READ', {})).rejects.toBeInstanceOf(UpstreamFailure);
      await expect(ups.call('mcp:other/READ', {})).rejects.toThrow(code('UPSTREAM_UNKNOWN'));
      await ups.close();
    });

    it('refuses an inbox it cannot write (INBOX_UNWRITABLE)', () => {
      dir = mkdtempSync(join(tmpdir(), 'edca-config-'));
      writeFileSync(join(dir, 'file'), '');
      expect(() =>
        writeApprovalToInbox(join(dir!, 'file', 'inbox'), { statement: {} as never, sig: 'x' }),
      ).toThrow(code('INBOX_UNWRITABLE'));
    });
  });
});
