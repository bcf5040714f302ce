// The Streamable HTTP wire (MCP 2025-11-25 "Transports" §Streamable HTTP) of serveHttp's own
// node:http session transport: plain fetch for the exact status codes and headers, the official
// client for sessions, the GET stream and a request answered as an SSE stream.
import { afterEach, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Transport } from '@modelcontextprotocol/server';
import { HTTP_REFUSAL_CODES, serveHttp, type HttpRefusalCode } from '../src/index.js';
import { makeMcpFixture } from './support/fixture.js';
import { resourceUpdateOverHttp, serveEdca, serveTool, type Cleanups } from './support/http-servers.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const ACCEPT_BOTH = 'application/json, text/event-stream';
const VERSION = '2025-11-25';

function initializeMessage(id: number | string = 1): Record<string, unknown> {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'wire', version: '1' } },
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Opens a session with a raw initialize + initialized; returns the headers every later request needs. */
async function openSession(url: string): Promise<Record<string, string>> {
  const res = await post(url, initializeMessage());
  expect(res.status).toBe(200);
  const sid = res.headers.get('mcp-session-id');
  expect(sid).toMatch(/^[0-9a-f-]{36}$/);
  await res.json();
  const headers = { 'mcp-session-id': sid!, 'mcp-protocol-version': VERSION };
  const initialized = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  expect(initialized.status).toBe(202);
  return headers;
}

interface WireError {
  readonly code: number;
  readonly message: string;
  readonly data: { readonly code: HttpRefusalCode };
}

async function errorOf(res: Response): Promise<WireError> {
  const body = (await res.json()) as { jsonrpc: string; error: WireError; id: null };
  expect(body.jsonrpc).toBe('2.0');
  expect(body.id).toBeNull();
  expect(HTTP_REFUSAL_CODES).toContain(body.error.data.code);
  return body.error;
}

describe('serveHttp (Streamable HTTP session transport)', () => {
  describe('when a client initializes and calls over POST', () => {
    it('answers each POST with one application/json body carrying Mcp-Session-Id, and 202 for notifications', async () => {
      const { http } = await serveEdca(cleanups);
      const init = await post(http.url, initializeMessage(7));
      expect(init.status).toBe(200);
      expect(init.headers.get('content-type')).toBe('application/json');
      const sid = init.headers.get('mcp-session-id')!;
      const answer = (await init.json()) as { id: number; result: { protocolVersion: string } };
      expect(answer.id).toBe(7);
      expect(answer.result.protocolVersion).toBe(VERSION);
      const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': VERSION };
      const note = await post(http.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
      expect(note.status).toBe(202);
      expect(await note.text()).toBe('');
      const list = await post(http.url, { jsonrpc: '2.0', id: 'a', method: 'tools/list' }, headers);
      expect(list.status).toBe(200);
      expect(list.headers.get('mcp-session-id')).toBe(sid);
      expect(list.headers.get('content-length')).not.toBeNull();
      const tools = (await list.json()) as { id: string; result: { tools: { name: string }[] } };
      expect(tools.id).toBe('a');
      expect(tools.result.tools.map((t) => t.name)).toContain('freeze_card');
    });

    it('answers a batch of requests with an array of their responses, in the batch order', async () => {
      const { http } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const res = await post(
        http.url,
        [
          { jsonrpc: '2.0', id: 2, method: 'resources/list' },
          { jsonrpc: '2.0', id: 1, method: 'tools/list' },
          { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99 } },
        ],
        headers,
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id: number; result: Record<string, unknown> }[];
      expect(body.map((r) => r.id)).toEqual([2, 1]);
      expect(body[0]!.result).toHaveProperty('resources');
      expect(body[1]!.result).toHaveProperty('tools');
    });

    it('gives each initialize its own session: the official client gets a different Mcp-Session-Id and edca session', async () => {
      const { http, handles } = await serveEdca(cleanups);
      const a = new Client({ name: 'a', version: '1' });
      const b = new Client({ name: 'b', version: '1' });
      const ta = new StreamableHTTPClientTransport(new URL(http.url));
      const tb = new StreamableHTTPClientTransport(new URL(http.url));
      await a.connect(ta);
      await b.connect(tb);
      cleanups.push(
        () => a.close(),
        () => b.close(),
      );
      expect(ta.sessionId).not.toBe(tb.sessionId);
      expect(handles.map((h) => h.session.session)).toEqual([`mcp-${ta.sessionId}`, `mcp-${tb.sessionId}`]);
    });
  });

  describe('when a POST breaks the transport rules', () => {
    it.each([
      ['no session id', {}, 400, -32000, 'SESSION_REQUIRED'],
      ['an unknown session id', { 'mcp-session-id': 'nope' }, 404, -32001, 'SESSION_NOT_FOUND'],
    ])('refuses a request with %s', async (_, headers, status, code, reason) => {
      const { http } = await serveEdca(cleanups);
      await openSession(http.url);
      const res = await post(http.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers);
      expect(res.status).toBe(status);
      const error = await errorOf(res);
      expect(error.code).toBe(code);
      expect(error.data.code).toBe(reason);
    });

    it('refuses a batch that would open a session (SESSION_REQUIRED) and a body over 4 MiB (413, PAYLOAD_TOO_LARGE)', async () => {
      const { http } = await serveEdca(cleanups);
      const batch = await post(http.url, [
        initializeMessage(1),
        { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      ]);
      expect(batch.status).toBe(400);
      expect((await errorOf(batch)).data.code).toBe('SESSION_REQUIRED');
      const huge = await post(http.url, JSON.stringify({ pad: 'x'.repeat(4 * 1024 * 1024) }));
      expect(huge.status).toBe(413);
      expect((await errorOf(huge)).data.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('refuses an unsupported MCP-Protocol-Version (400), a missing Accept (406), another Content-Type (415)', async () => {
      const { http } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
      const version = await post(http.url, list, { ...headers, 'mcp-protocol-version': '1999-01-01' });
      expect(version.status).toBe(400);
      const unsupported = await errorOf(version);
      expect(unsupported.message).toMatch(/Unsupported protocol version: 1999-01-01/);
      expect(unsupported.data.code).toBe('PROTOCOL_VERSION_UNSUPPORTED');
      const accept = await post(http.url, list, { ...headers, accept: 'application/json' });
      expect(accept.status).toBe(406);
      expect((await errorOf(accept)).data.code).toBe('NOT_ACCEPTABLE');
      const type = await post(http.url, list, { ...headers, 'content-type': 'text/plain' });
      expect(type.status).toBe(415);
      expect((await errorOf(type)).data.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      // The session still works after refusals.
      expect((await post(http.url, list, headers)).status).toBe(200);
    });

    it('refuses bad JSON and non-JSON-RPC bodies with -32700, and a second initialize with -32600', async () => {
      const { http } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const bad = await post(http.url, '{"jsonrpc":', headers);
      expect(bad.status).toBe(400);
      expect(await errorOf(bad)).toMatchObject({ code: -32700, data: { code: 'PARSE_ERROR' } });
      for (const body of [
        { jsonrpc: '1.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', id: 1.5, method: 'tools/list' },
        { jsonrpc: '2.0', id: 1 },
        [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'x'],
      ]) {
        const res = await post(http.url, body, headers);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(await errorOf(res)).toMatchObject({ code: -32700, data: { code: 'INVALID_MESSAGE' } });
      }
      const again = await post(http.url, initializeMessage(2), headers);
      expect(again.status).toBe(400);
      expect(await errorOf(again)).toMatchObject({ code: -32600, data: { code: 'ALREADY_INITIALIZED' } });
    });

    it('refuses a batch over 100 messages and a request id already in flight (-32600)', async () => {
      const { http } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const many = Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
      const big = await post(http.url, many, headers);
      expect(big.status).toBe(400);
      expect(await errorOf(big)).toMatchObject({ code: -32600, data: { code: 'BATCH_TOO_LARGE' } });
      const twice = await post(
        http.url,
        [
          { jsonrpc: '2.0', id: 5, method: 'ping' },
          { jsonrpc: '2.0', id: 5, method: 'ping' },
        ],
        headers,
      );
      expect(twice.status).toBe(400);
      expect(await errorOf(twice)).toMatchObject({ code: -32600, data: { code: 'REQUEST_ID_IN_FLIGHT' } });
    });

    it('answers other methods 405 with Allow, and other paths 404', async () => {
      const { http } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const put = await fetch(http.url, { method: 'PUT', headers });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('GET, POST, DELETE');
      expect((await errorOf(put)).data.code).toBe('METHOD_NOT_ALLOWED');
      const other = await fetch(http.url.replace('/mcp', '/mcpx'), { headers });
      expect(other.status).toBe(404);
      expect((await errorOf(other)).data.code).toBe('NOT_FOUND');
    });
  });

  describe('when the request comes from elsewhere than the loopback (DNS rebinding, a web page)', () => {
    it('refuses a Host that is not a loopback name and an Origin that is not a loopback page (403)', async () => {
      const { http } = await serveEdca(cleanups);
      const { request } = await import('node:http');
      const status = (headers: Record<string, string>): Promise<[number | undefined, string]> =>
        new Promise((done, fail) => {
          const req = request(
            http.url,
            {
              method: 'POST',
              headers: { accept: ACCEPT_BOTH, 'content-type': 'application/json', ...headers },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: WireError };
                done([res.statusCode, body.error?.data.code ?? 'ok']);
              });
            },
          );
          req.on('error', fail);
          req.end(JSON.stringify(initializeMessage()));
        });
      expect(await status({ host: 'attacker.example' })).toEqual([403, 'HOST_NOT_ALLOWED']);
      expect(await status({ origin: 'http://attacker.example' })).toEqual([403, 'ORIGIN_NOT_ALLOWED']);
      expect(await status({ origin: 'null' })).toEqual([403, 'ORIGIN_NOT_ALLOWED']);
      expect(await status({ origin: 'http://localhost:5173' })).toEqual([200, 'ok']);
      expect(await status({ host: `localhost:${http.port}` })).toEqual([200, 'ok']);
    });
  });

  describe('when the client opens the GET stream', () => {
    it('delivers messages unrelated to a request there as SSE, allows one stream per session (409)', async () => {
      const { http, handles } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const refused = await fetch(http.url, { headers: { ...headers, accept: 'application/json' } });
      expect(refused.status).toBe(406);
      expect((await errorOf(refused)).data.code).toBe('NOT_ACCEPTABLE');
      const stream = await fetch(http.url, { headers: { ...headers, accept: 'text/event-stream' } });
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toBe('text/event-stream');
      const second = await fetch(http.url, { headers: { ...headers, accept: 'text/event-stream' } });
      expect(second.status).toBe(409);
      expect((await errorOf(second)).data.code).toBe('SSE_STREAM_EXISTS');
      await handles[0]!.server.sendResourceUpdated({ uri: 'edca://approval/sha256:00' });
      const reader = stream.body!.getReader();
      const chunk = (await reader.read()) as { value?: Uint8Array };
      const text = new TextDecoder().decode(chunk.value);
      expect(text).toMatch(/^event: message\ndata: /);
      const data = JSON.parse(text.slice(text.indexOf('data: ') + 6)) as Record<string, unknown>;
      expect(data).toEqual({
        jsonrpc: '2.0',
        method: 'notifications/resources/updated',
        params: { uri: 'edca://approval/sha256:00' },
      });
      await reader.cancel();
    });

    it('the official client receives a resource update through it', async () => {
      expect(await resourceUpdateOverHttp(cleanups)).toBe('edca://view/x');
    });
  });

  describe('when a message about a request is sent before its response', () => {
    it('answers that POST as an SSE stream: the message, then the response', async () => {
      const http = await serveTool(cleanups, async ({ notify }) => {
        await notify('working');
        return 'done';
      });
      const client = new Client({ name: 'agent', version: '1' });
      const logged: unknown[] = [];
      client.setNotificationHandler('notifications/message', (n) => {
        logged.push(n.params.data);
      });
      await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
      cleanups.push(() => client.close());
      const result = await client.callTool({ name: 'anything', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'done' }]);
      expect(logged).toEqual(['working']);
      const headers = await openSession(http.url);
      const raw = await post(
        http.url,
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'x' } },
        headers,
      );
      expect(raw.headers.get('content-type')).toBe('text/event-stream');
      const events = (await raw.text()).split('\n\n').filter((e) => e !== '');
      expect(
        events.map((e) => JSON.parse(e.split('data: ')[1]!) as { method?: string; id?: number }),
      ).toMatchObject([
        { method: 'notifications/message' },
        { id: 3, result: { content: [{ type: 'text', text: 'done' }] } },
      ]);
    });
  });

  describe('when opening the session fails on the server', () => {
    it('answers 500 with INTERNAL_ERROR and keeps serving', async () => {
      let fail = true;
      const fixture = await makeMcpFixture();
      cleanups.push(() => fixture.close());
      const http = await serveHttp(
        {
          connect(transport: Transport, id?: string) {
            if (fail) return Promise.reject(new Error('no session today'));
            return fixture.mcp.connect(transport, id);
          },
        },
        { port: 0 },
      );
      cleanups.push(() => http.close());
      const res = await post(http.url, initializeMessage());
      expect(res.status).toBe(500);
      expect(await errorOf(res)).toMatchObject({ code: -32603, data: { code: 'INTERNAL_ERROR' } });
      fail = false;
      await openSession(http.url);
    });
  });

  describe('when the client deletes its session', () => {
    it('answers 200, closes the edca session, and every later request of it gets 404', async () => {
      const { http, fixture } = await serveEdca(cleanups);
      const headers = await openSession(http.url);
      const stream = await fetch(http.url, { headers: { ...headers, accept: 'text/event-stream' } });
      const del = await fetch(http.url, { method: 'DELETE', headers });
      expect(del.status).toBe(200);
      // The GET stream ends with the session.
      expect(await stream.text()).toBe('');
      const after = await post(http.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers);
      expect(after.status).toBe(404);
      expect(await errorOf(after)).toMatchObject({ code: -32001, data: { code: 'SESSION_NOT_FOUND' } });
      // The server forgot the session: a fresh one still works.
      await openSession(http.url);
      expect(fixture.mcp.tools.length).toBeGreaterThan(0);
    });
  });

  describe('when the client goes away before its answer', () => {
    it('forgets the request: the same id can be sent again on the session', async () => {
      let release: (() => void) | undefined;
      let arrived: (() => void) | undefined;
      const http = await serveTool(cleanups, async () => {
        arrived?.();
        await new Promise<void>((done) => (release = done));
        return 'late';
      });
      const headers = await openSession(http.url);
      const call = { jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'slow' } };
      const abort = new AbortController();
      const inHandler = new Promise<void>((done) => (arrived = done));
      const first = fetch(http.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
        body: JSON.stringify(call),
        signal: abort.signal,
      });
      await inHandler;
      abort.abort();
      await expect(first).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 50));
      const inHandlerAgain = new Promise<void>((done) => (arrived = done));
      const again = post(http.url, call, headers);
      await inHandlerAgain;
      release?.();
      const res = await again;
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: number }).id).toBe(42);
    });
  });
});
