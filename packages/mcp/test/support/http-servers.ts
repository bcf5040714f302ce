// Streamable HTTP servers for the wire tests (http-session, node-fetch): edca's own, on the test
// fixture, and a plain SDK server for what edca's tools never do. Each registers its closing in
// the caller's `cleanups`, which the test file's afterEach runs.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Server, type Transport } from '@modelcontextprotocol/server';
import { serveHttp, type HttpEndpoint, type McpSessionHandle } from '../../src/index.js';
import { makeMcpFixture, type McpFixture } from './fixture.js';

export type Cleanups = (() => Promise<unknown>)[];

export interface ServedEdca {
  readonly fixture: McpFixture;
  readonly http: HttpEndpoint;
  readonly handles: McpSessionHandle[];
}

/** edca's MCP server on the test fixture over serveHttp (with a bearer token when given). */
export async function serveEdca(cleanups: Cleanups, token?: string): Promise<ServedEdca> {
  const fixture = await makeMcpFixture();
  cleanups.push(() => fixture.close());
  const handles: McpSessionHandle[] = [];
  const http = await serveHttp(
    {
      async connect(transport: Transport, id?: string) {
        const handle = await fixture.mcp.connect(transport, id);
        handles.push(handle);
        return handle;
      },
    },
    { port: 0, ...(token === undefined ? {} : { token }) },
  );
  cleanups.push(() => http.close());
  return { fixture, http, handles };
}

/** A plain SDK server whose `tools/call` is `onCall` (what edca's own tools never do: log, hang). */
export async function serveTool(
  cleanups: Cleanups,
  onCall: (ctx: { notify: (data: string) => Promise<void> }) => Promise<string>,
): Promise<HttpEndpoint> {
  const http = await serveHttp(
    {
      async connect(transport: Transport) {
        const server = new Server({ name: 't', version: '1' }, { capabilities: { tools: {}, logging: {} } });
        server.setRequestHandler('tools/call', async (_request, ctx) => {
          const text = await onCall({
            notify: (data) =>
              ctx.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data } }),
          });
          return { content: [{ type: 'text', text }] };
        });
        await server.connect(transport);
        return { session: { stream: 's', session: 's' }, server, close: () => server.close() };
      },
    },
    { port: 0 },
  );
  cleanups.push(() => http.close());
  return http;
}

/**
 * Connects the official client to edca's server over HTTP (with `fetch` when given) and has the
 * server send `notifications/resources/updated` until the client's GET stream carries one; returns
 * the URI the client received.
 */
export async function resourceUpdateOverHttp(
  cleanups: Cleanups,
  fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>,
): Promise<string> {
  const { http, handles } = await serveEdca(cleanups);
  const client = new Client({ name: 'agent', version: '1' });
  const updated = new Promise<string>((done) => {
    client.setNotificationHandler('notifications/resources/updated', (n) => done(n.params.uri));
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(http.url), fetch === undefined ? {} : { fetch }),
  );
  cleanups.push(() => client.close());
  // The client opens its GET stream after `initialized`; the update is sent until it is there.
  const timer = setInterval(() => void handles[0]!.server.sendResourceUpdated({ uri: 'edca://view/x' }), 20);
  try {
    return await updated;
  } finally {
    clearInterval(timer);
  }
}
