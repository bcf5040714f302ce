// Bearer-token authentication on the Streamable HTTP endpoint, driven by the official MCP client
// (its transport sends the header through `requestInit`) and by plain fetch for the wire shape.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  checkHttpOptions,
  defineServer,
  McpError,
  openServerRuntime,
  serveHttp,
  type HttpEndpoint,
  type ServerRuntime,
} from '../src/index.js';
import { createServicingBank, MAP_PATH, servicingHandlers, servicingRecords } from './support/bank.js';
import { writeServerKeys } from './support/keys.js';

const TOKEN = 'b5e1f7c2a9d04e6f8a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f';

let dir: string | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function serve(token: string | undefined): Promise<{ runtime: ServerRuntime; http: HttpEndpoint }> {
  dir = mkdtempSync(join(tmpdir(), 'edca-http-auth-'));
  writeServerKeys(dir);
  const bank = createServicingBank();
  const runtime = await openServerRuntime(
    defineServer({
      maps: [fileURLToPath(MAP_PATH)],
      keys: { kernel: 'kernel.key.pem', refKey: 'ref-key.b64u' },
      trust: 'trust.json',
      journal: 'journal.jsonl',
      approvals: { pollMs: 60_000 },
      principal: { id: 'agent-7', attributes: {} },
      views: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
      loaders: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
      handlers: servicingHandlers(bank),
    }),
    { baseDir: dir },
  );
  cleanups.push(() => runtime.close());
  const http = await serveHttp(runtime.mcp, { port: 0, ...(token === undefined ? {} : { token }) });
  cleanups.push(() => http.close());
  return { runtime, http };
}

async function connect(url: string, authorization?: string): Promise<Client> {
  const client = new Client({ name: 'http-agent', version: '1.0.0' });
  const requestInit = authorization === undefined ? {} : { requestInit: { headers: { authorization } } };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), requestInit));
  cleanups.push(() => client.close());
  return client;
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};

describe('serveHttp with a bearer token', () => {
  describe('when the client sends the token', () => {
    it('serves the session: tools list and a permitted call executes', async () => {
      const { http } = await serve(TOKEN);
      const client = await connect(http.url, `Bearer ${TOKEN}`);
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('freeze_card');
      const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
      const card = (
        JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> }
      ).entities['card']!;
      const call = await client.callTool({ name: 'freeze_card', arguments: { card } });
      expect(call.structuredContent).toMatchObject({ outcome: 'completed' });
    });
  });

  describe('when the client sends no token or another one', () => {
    it.each([
      ['no Authorization header', undefined],
      ['another token', `Bearer ${TOKEN.slice(0, -1)}0`],
      ['the token under another scheme', `Basic ${TOKEN}`],
      ['the token with a prefix', `Bearer x${TOKEN}`],
    ])('the official client cannot connect (%s)', async (_, authorization) => {
      const { http } = await serve(TOKEN);
      await expect(connect(http.url, authorization)).rejects.toThrow(/401|Unauthorized/);
    });

    it('answers 401 with WWW-Authenticate and a JSON-RPC error body, before reading the request', async () => {
      const { http } = await serve(TOKEN);
      const res = await fetch(http.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(initialize),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="edca"');
      expect(await res.json()).toEqual({
        jsonrpc: '2.0',
        error: {
          code: -32000,
          message: 'Unauthorized: a valid bearer token is required',
          data: { code: 'UNAUTHORIZED' },
        },
        id: null,
      });
      // Another path is not revealed either: 401, not 404.
      expect((await fetch(http.url.replace('/mcp', '/other'))).status).toBe(401);
      const ok = await fetch(http.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `bearer ${TOKEN}`,
        },
        body: JSON.stringify(initialize),
      });
      expect(ok.status).toBe(200);
    });
  });

  describe('when the endpoint is not on loopback or the token is weak', () => {
    it('refuses to serve without a token (HTTP_TOKEN_REQUIRED) or with a short one (HTTP_TOKEN_INVALID)', () => {
      expect(() => checkHttpOptions({ port: 0, host: '0.0.0.0' })).toThrow(
        expect.objectContaining({ code: 'HTTP_TOKEN_REQUIRED' }),
      );
      expect(() => checkHttpOptions({ port: 0, host: '10.1.2.3' })).toThrow(McpError);
      expect(() => checkHttpOptions({ port: 0, token: 'hunter2' })).toThrow(
        expect.objectContaining({ code: 'HTTP_TOKEN_INVALID' }),
      );
      expect(() => checkHttpOptions({ port: 0, token: `${TOKEN} ` })).toThrow(
        expect.objectContaining({ code: 'HTTP_TOKEN_INVALID' }),
      );
      expect(() => checkHttpOptions({ port: 0, host: '0.0.0.0', token: TOKEN })).not.toThrow();
      expect(() => checkHttpOptions({ port: 0, host: '::1' })).not.toThrow();
    });

    it('serveHttp itself refuses a non-loopback host without a token, and listens on nothing', async () => {
      const { runtime } = await serve(undefined);
      await expect(serveHttp(runtime.mcp, { port: 0, host: '0.0.0.0' })).rejects.toMatchObject({
        code: 'HTTP_TOKEN_REQUIRED',
      });
    });
  });
});
