/**
 * Serving an {@link EdcaMcpServer} over stdio (one session per process) or Streamable HTTP (one
 * session per `Mcp-Session-Id`, each its own edca session), on 127.0.0.1 unless told otherwise.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { localhostHostValidation, NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { EdcaMcpServer } from './server.js';

/**
 * Serves one session on this process's stdin/stdout; resolves when the client hangs up.
 * @example await serveStdio(runtime.mcp);
 */
export async function serveStdio(mcp: EdcaMcpServer): Promise<void> {
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((done) => {
    transport.onclose = () => done();
  });
  await mcp.connect(transport);
  // The SDK's stdio transport does not notice stdin's end on its own in every runtime.
  process.stdin.once('end', () => void transport.close());
  await closed;
}

/** A listening Streamable HTTP endpoint. */
export interface HttpEndpoint {
  /** `http://host:port/mcp`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/**
 * Serves Streamable HTTP at `/mcp` on `host` (default 127.0.0.1) and `port` (0: any free port).
 * On a loopback host, requests whose `Host` header is not a loopback name are refused (DNS
 * rebinding).
 * @example const http = await serveHttp(runtime.mcp, { port: 8808 }); console.log(http.url);
 */
export async function serveHttp(
  mcp: EdcaMcpServer,
  options: { readonly port: number; readonly host?: string },
): Promise<HttpEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const checkHost = LOOPBACK.has(host) ? localhostHostValidation() : undefined;
  const transports = new Map<string, NodeStreamableHTTPServerTransport>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (checkHost !== undefined && !checkHost(req, res)) return;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = await readBody(req);
      } catch {
        jsonRpcError(res, 400, -32700, 'Parse error');
        return;
      }
    }
    if (sessionId !== undefined) {
      const transport = transports.get(sessionId);
      if (transport === undefined) {
        jsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      await transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      jsonRpcError(res, 400, -32000, 'Bad Request: no session; start with initialize');
      return;
    }
    const id = randomUUID();
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      enableJsonResponse: true,
      onsessioninitialized: (sid) => {
        transports.set(sid, transport);
      },
      onsessionclosed: (sid) => {
        transports.delete(sid);
      },
    });
    transport.onclose = () => {
      transports.delete(id);
    };
    await mcp.connect(transport, id);
    await transport.handleRequest(req, res, body);
  }

  const server: HttpServer = createServer((req, res) => {
    handle(req, res).catch(() => jsonRpcError(res, 500, -32603, 'Internal error'));
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port, host, () => ready());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/mcp`,
    port,
    async close() {
      const all = [...transports.values()];
      transports.clear();
      await Promise.allSettled(all.map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
