// nodeHttpFetch as the official MCP client's fetch against edca's own Streamable HTTP server
// (sessions, tool calls, the GET stream, a POST answered as SSE, an aborted call, a bearer
// token), and as a plain fetch against a small node:http server for what MCP does not exercise.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createUpstreams, nodeHttpFetch } from '../src/index.js';
import { resourceUpdateOverHttp, serveEdca, serveTool, type Cleanups } from './support/http-servers.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function connect(
  url: string,
  init: RequestInit = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: nodeHttpFetch(),
    requestInit: init,
  });
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

/** A node:http server answering each request with `handler`; its base URL. */
async function plainServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
  });
}

describe('nodeHttpFetch', () => {
  describe('as the official client’s fetch against edca’s Streamable HTTP server', () => {
    it('opens a session, lists tools, reads the view and calls a tool; no abort listener is left behind', async () => {
      const { http } = await serveEdca(cleanups);
      const { client, transport } = await connect(http.url);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['freeze_card', 'refund_payment', 'unfreeze_card']);
      const view = await client.readResource({ uri: 'edca://view/mcp-servicing' });
      const card = (
        JSON.parse((view.contents[0] as { text: string }).text) as {
          entities: Record<string, string>;
        }
      ).entities['card']!;
      const result = await client.callTool({ name: 'freeze_card', arguments: { card } });
      expect(result.isError).toBe(false);
      expect(result.structuredContent).toMatchObject({ edca_result: 1, outcome: 'completed' });
      for (let i = 0; i < 30; i++) await client.listTools();
      const signal = (transport as unknown as { _abortController: AbortController })._abortController.signal;
      // At most the one of the GET stream, which stays open for the session's lifetime.
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    });

    it('receives a message on the GET stream (SSE) that the server sends unprompted', async () => {
      expect(await resourceUpdateOverHttp(cleanups, nodeHttpFetch())).toBe('edca://view/x');
    });

    it('reads a POST answered as an SSE stream: the log message first, then the result', async () => {
      const http = await serveTool(cleanups, async ({ notify }) => {
        await notify('working');
        return 'done';
      });
      const { client } = await connect(http.url);
      const logged: unknown[] = [];
      client.setNotificationHandler('notifications/message', (n) => {
        logged.push(n.params.data);
      });
      const result = await client.callTool({ name: 'anything', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'done' }]);
      expect(logged).toEqual(['working']);
    });

    it('rejects a call whose signal aborts while the server works, and the session goes on', async () => {
      let release: (() => void) | undefined;
      let arrived: (() => void) | undefined;
      const http = await serveTool(cleanups, async () => {
        arrived?.();
        await new Promise<void>((done) => (release = done));
        return 'late';
      });
      const { client } = await connect(http.url);
      const abort = new AbortController();
      const inHandler = new Promise<void>((done) => (arrived = done));
      const call = client.callTool({ name: 'slow', arguments: {} }, { signal: abort.signal });
      await inHandler;
      abort.abort(new Error('the user gave up'));
      await expect(call).rejects.toThrow(/gave up/);
      release?.();
      const next = new Promise<void>((done) => (arrived = done));
      const again = client.callTool({ name: 'slow', arguments: {} });
      await next;
      release?.();
      expect((await again).content).toEqual([{ type: 'text', text: 'late' }]);
    });

    it('sends the bearer token of requestInit headers; without it the server answers 401', async () => {
      const token = 'a'.repeat(40);
      const { http } = await serveEdca(cleanups, token);
      const { client } = await connect(http.url, { headers: { authorization: `Bearer ${token}` } });
      expect((await client.listTools()).tools).toHaveLength(3);
      const denied = new Client({ name: 'agent', version: '1' });
      await expect(
        denied.connect(new StreamableHTTPClientTransport(new URL(http.url), { fetch: nodeHttpFetch() })),
      ).rejects.toThrow();
    });
  });

  describe('as the gateway’s connection to an HTTP upstream', () => {
    it('calls the upstream tool, and a call past its timeout fails UPSTREAM_TIMEOUT while the next succeeds', async () => {
      let calls = 0;
      let release: (() => void) | undefined;
      const http = await serveTool(cleanups, async () => {
        calls++;
        if (calls === 2) await new Promise<void>((done) => (release = done));
        return JSON.stringify({ answer: calls });
      });
      const ups = createUpstreams({ core: { url: http.url } }, { timeoutMs: 5000, refs: ['mcp:core/read'] });
      cleanups.push(() => ups.close());
      expect(await ups.call('mcp:core/read', {})).toEqual({ answer: 1 });
      await expect(ups.call('mcp:core/read', {}, { timeoutMs: 100 })).rejects.toMatchObject({
        code: 'UPSTREAM_TIMEOUT',
      });
      release?.();
      expect(await ups.call('mcp:core/read', {})).toEqual({ answer: 3 });
    });
  });

  describe('as a plain fetch', () => {
    it('sends method, headers and a streamed body; answers status, headers and body', async () => {
      const base = await plainServer((req, res) => {
        void readAll(req).then((body) => {
          res.writeHead(201, 'Made', {
            'content-type': 'application/json',
            'x-seen': req.headers['x-mine'] ?? '',
          });
          res.end(
            JSON.stringify({ method: req.method, url: req.url, body, type: req.headers['content-type'] }),
          );
        });
      });
      const fetchNode = nodeHttpFetch();
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('one,'));
          c.enqueue(new TextEncoder().encode('two'));
          c.close();
        },
      });
      const res = await fetchNode(`${base}/p?q=1`, {
        method: 'put',
        headers: new Headers({ 'x-mine': 'yes', 'content-type': 'text/csv' }),
        body: stream,
        duplex: 'half',
      });
      expect(res.status).toBe(201);
      expect(res.statusText).toBe('Made');
      expect(res.ok).toBe(true);
      expect(res.headers.get('x-seen')).toBe('yes');
      expect(res.url).toBe(`${base}/p?q=1`);
      expect(await res.json()).toEqual({ method: 'PUT', url: '/p?q=1', body: 'one,two', type: 'text/csv' });
      const plain = await fetchNode(base, { method: 'POST', body: 'hi' });
      expect(await plain.json()).toMatchObject({ body: 'hi', type: 'text/plain;charset=UTF-8' });
      await expect(fetchNode(base, { method: 'GET', body: 'x' })).rejects.toThrow(TypeError);
    });

    it('streams a body as it arrives, and aborting while it is read errors the stream', async () => {
      let finish: (() => void) | undefined;
      const base = await plainServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        finish = () => res.end('data: last\n\n');
      });
      const fetchNode = nodeHttpFetch();
      const whole = await fetchNode(base);
      const reader = whole.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
      finish!();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: last\n\n');
      expect((await reader.read()).done).toBe(true);
      const abort = new AbortController();
      const open = await fetchNode(base, { signal: abort.signal });
      const openReader = open.body!.getReader();
      await openReader.read();
      abort.abort();
      await expect(openReader.read()).rejects.toMatchObject({ name: 'AbortError' });
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
      await expect(fetchNode(base, { signal: abort.signal })).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('reads an answer with Content-Length whole before it resolves; its body is read once, as text, JSON, bytes or a stream', async () => {
      let rest: (() => void) | undefined;
      const json = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { text: 'é'.repeat(3000) } });
      const bytes = Buffer.from(json);
      const base = await plainServer((req, res) => {
        if (req.url === '/bom') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 5 });
          return void res.end(Buffer.from([0xef, 0xbb, 0xbf, 0x34, 0x32]));
        }
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
        if (req.url === '/whole') return void res.end(bytes);
        // Half of the body, cut inside a two-byte character, the rest later.
        res.write(bytes.subarray(0, 1001));
        rest = () => res.end(bytes.subarray(1001));
      });
      const fetchNode = nodeHttpFetch();
      let resolved = false;
      const pending = fetchNode(`${base}/half`).then((r) => {
        resolved = true;
        return r;
      });
      await new Promise((done) => setTimeout(done, 50));
      expect(resolved).toBe(false);
      rest!();
      const res = await pending;
      expect(res).toBeInstanceOf(Response);
      expect(res.url).toBe(`${base}/half`);
      expect(res.headers.get('content-length')).toBe(String(bytes.length));
      const copy = res.clone();
      expect(res.bodyUsed).toBe(false);
      expect(await res.json()).toEqual(JSON.parse(json));
      expect(res.bodyUsed).toBe(true);
      await expect(res.text()).rejects.toThrow(TypeError);
      await expect(res.arrayBuffer()).rejects.toThrow(TypeError);
      expect(() => res.clone()).toThrow(TypeError);
      expect(await copy.text()).toBe(json);
      const streamed = await fetchNode(`${base}/whole`);
      const chunks: Uint8Array[] = [];
      for await (const chunk of streamed.body! as AsyncIterable<Uint8Array>) chunks.push(chunk);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(json);
      expect(streamed.bodyUsed).toBe(true);
      await expect(streamed.json()).rejects.toThrow(TypeError);
      expect(Buffer.from(await (await fetchNode(`${base}/whole`)).arrayBuffer()).equals(bytes)).toBe(true);
      expect(await (await fetchNode(`${base}/bom`)).text()).toBe('42');
      await expect((await fetchNode(`${base}/bom`)).json()).resolves.toBe(42);
    });

    it('rejects while an answer with Content-Length arrives: with the signal’s reason on abort, TypeError when the connection breaks', async () => {
      const base = await plainServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
        res.write('{"partial":');
        if (req.url === '/break') setTimeout(() => res.socket?.destroy(), 20);
      });
      const fetchNode = nodeHttpFetch();
      const abort = new AbortController();
      const aborted = fetchNode(`${base}/hang`, { signal: abort.signal });
      setTimeout(() => abort.abort(), 20);
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
      expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
      const other = new AbortController();
      await expect(fetchNode(`${base}/break`, { signal: other.signal })).rejects.toMatchObject({
        name: 'TypeError',
        message: 'terminated',
      });
      expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    });

    it('rejects with TypeError "fetch failed" and Node’s error as cause when nothing listens', async () => {
      const base = await plainServer(() => undefined);
      const port = new URL(base).port;
      await cleanups.pop()!();
      await expect(nodeHttpFetch()(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({
        name: 'TypeError',
        message: 'fetch failed',
        cause: { code: 'ECONNREFUSED' },
      });
      await expect(nodeHttpFetch()('ftp://127.0.0.1/')).rejects.toThrow(TypeError);
    });

    it('sends an idempotent request once more when the kept-alive connection it went out on was closed by the server, never a POST', async () => {
      let connections = 0;
      const received: string[] = [];
      const base = await plainServer((req, res) => {
        const socket = req.socket as typeof req.socket & { served?: number };
        if (socket.served === undefined) connections++;
        socket.served = (socket.served ?? 0) + 1;
        void readAll(req).then((body) => {
          received.push(`${req.method} ${body}`);
          // The server drops each connection when a second request arrives on it, unanswered:
          // the request reached it, so only an idempotent one may be sent again.
          if (socket.served! > 1) return void socket.destroy();
          res.end(`answer to ${req.method} ${body}`);
        });
      });
      const fetchNode = nodeHttpFetch();
      // undici's pool opens another connection for a request sent while the last one is still
      // being checked for a close that came in while it was idle: wait until it is idle.
      const idle = (): Promise<void> => new Promise((done) => setTimeout(done, 20));
      expect(await (await fetchNode(base, { method: 'PUT', body: 'one' })).text()).toBe('answer to PUT one');
      await idle();
      expect(await (await fetchNode(base, { method: 'DELETE' })).text()).toBe('answer to DELETE ');
      expect(connections).toBe(2);
      expect(received).toEqual(['PUT one', 'DELETE ', 'DELETE ']);
      // A POST (an MCP tools/call) that may have been acted on is not sent twice.
      await idle();
      await expect(fetchNode(base, { method: 'POST', body: 'two' })).rejects.toMatchObject({
        message: 'fetch failed',
        cause: { code: 'UND_ERR_SOCKET', message: 'other side closed' },
      });
      await idle();
      expect(received.filter((r) => r === 'POST two')).toHaveLength(1);
    });

    it('sends a POST once when its connection breaks before any answer, new or kept-alive; an idempotent request once more', async () => {
      const received: string[] = [];
      let getsDropped = 0;
      const base = await plainServer((req, res) => {
        void readAll(req).then((body) => {
          received.push(`${req.method} ${req.url} ${body}`);
          if (req.method === 'POST' || (req.url === '/once' && getsDropped++ === 0))
            return void req.socket.destroy();
          res.end(`answer to ${req.method}`);
        });
      });
      const fetchNode = nodeHttpFetch();
      // On a new connection: nothing to reuse yet.
      await expect(fetchNode(`${base}/call`, { method: 'POST', body: 'a' })).rejects.toMatchObject({
        name: 'TypeError',
        message: 'fetch failed',
      });
      expect(await (await fetchNode(`${base}/once`)).text()).toBe('answer to GET');
      expect(await (await fetchNode(`${base}/after`)).text()).toBe('answer to GET');
      // On the kept-alive connection that answered the last GET.
      await new Promise((done) => setTimeout(done, 20));
      await expect(fetchNode(`${base}/call`, { method: 'POST', body: 'b' })).rejects.toThrow('fetch failed');
      await new Promise((done) => setTimeout(done, 50));
      expect(received).toEqual(['POST /call a', 'GET /once ', 'GET /once ', 'GET /after ', 'POST /call b']);
    });

    it('sends every request through the dispatcher it is given', async () => {
      const base = await plainServer((req, res) => res.end(`${req.method} ${req.url}`));
      const seen: string[] = [];
      const agent = new Agent();
      cleanups.push(() => agent.close());
      const counted = agent.compose((dispatch) => (opts, handler) => {
        seen.push(`${opts.method} ${opts.path}`);
        return dispatch(opts, handler);
      });
      const fetchNode = nodeHttpFetch({ dispatcher: counted });
      expect(await (await fetchNode(`${base}/a?b=1`, { method: 'DELETE' })).text()).toBe('DELETE /a?b=1');
      expect(seen).toEqual(['DELETE /a?b=1']);
    });

    it('streams a long answer with no length, plain or gzip, to a slow reader whole and in order; a break errors the stream', async () => {
      // Different bytes in every 64 KiB piece, so a lost, doubled or reordered piece shows.
      const pieces = Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, `piece ${i};`));
      const whole = Buffer.concat(pieces);
      const base = await plainServer((req, res) => {
        const zipped = req.url === '/gz';
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          ...(zipped ? { 'content-encoding': 'gzip' } : {}),
        });
        if (req.url === '/break') {
          res.write(pieces[0]);
          return void setTimeout(() => res.socket?.destroy(), 20);
        }
        const bytes = zipped ? gzipSync(whole) : whole;
        for (let at = 0; at < bytes.length; at += 64 * 1024) res.write(bytes.subarray(at, at + 64 * 1024));
        res.end();
      });
      const fetchNode = nodeHttpFetch();
      for (const path of ['/plain', '/gz']) {
        const res = await fetchNode(`${base}${path}`);
        const chunks: Uint8Array[] = [];
        for await (const chunk of res.body! as AsyncIterable<Uint8Array>) {
          chunks.push(chunk);
          // A reader slower than the connection: the body must pause it, not drop or reorder.
          if (chunks.length % 8 === 0) await new Promise((done) => setTimeout(done, 2));
        }
        expect(Buffer.concat(chunks).equals(whole)).toBe(true);
      }
      const broken = await fetchNode(`${base}/break`);
      const reader = broken.body!.getReader();
      await reader.read();
      let failure: unknown;
      for (;;) {
        const next = await reader.read().catch((err: unknown) => err);
        if (!('done' in (next as object))) {
          failure = next;
          break;
        }
        if ((next as { done: boolean }).done) break;
      }
      expect(failure).toMatchObject({ name: 'TypeError', message: 'terminated' });
    });

    it('decodes a gzip answer, gives 204 a null body, and follows, returns or refuses a redirect', async () => {
      const base = await plainServer((req, res) => {
        if (req.url === '/gz') {
          res.writeHead(200, { 'content-encoding': 'gzip' });
          res.end(gzipSync('unzipped'));
        } else if (req.url === '/none') {
          res.writeHead(204).end();
        } else if (req.url === '/moved') {
          res.writeHead(303, { location: '/there' }).end();
        } else {
          void readAll(req).then((body) => res.end(`${req.method} ${req.url} ${body}`));
        }
      });
      const fetchNode = nodeHttpFetch();
      expect(await (await fetchNode(`${base}/gz`)).text()).toBe('unzipped');
      const none = await fetchNode(`${base}/none`);
      expect(none.status).toBe(204);
      expect(none.body).toBeNull();
      expect(await (await fetchNode(`${base}/moved`, { method: 'POST', body: 'x' })).text()).toBe(
        'GET /there ',
      );
      const manual = await fetchNode(`${base}/moved`, { redirect: 'manual' });
      expect(manual.status).toBe(303);
      expect(manual.headers.get('location')).toBe('/there');
      await expect(fetchNode(`${base}/moved`, { redirect: 'error' })).rejects.toThrow(TypeError);
    });
  });
});
