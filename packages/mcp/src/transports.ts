/**
 * Serving an {@link EdcaMcpServer} over stdio (one session per process) or Streamable HTTP (one
 * session per `Mcp-Session-Id`, each its own edca session), on 127.0.0.1 unless told otherwise.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import {
  isInitializeRequest,
  localhostAllowedHostnames,
  validateHostHeader,
  validateOriginHeader,
} from '@modelcontextprotocol/server';
import { McpError } from './errors.js';
import { NodeHttpSession, refuseHttp } from './http-session.js';
import type { EdcaMcpServer } from './server.js';
import { StdioSession } from './stdio-session.js';

/**
 * Serves one session on this process's stdin/stdout (or the given streams) through a
 * {@link StdioSession}; resolves when the client hangs up (stdin ends).
 * @example await serveStdio(runtime.mcp);
 */
export async function serveStdio(
  mcp: Pick<EdcaMcpServer, 'connect'>,
  input: Readable = process.stdin,
  output: Writable = process.stdout,
): Promise<void> {
  const transport = new StdioSession(input, output);
  const closed = new Promise<void>((done) => {
    transport.onclose = () => done();
  });
  await mcp.connect(transport);
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
const LOOPBACK_NAMES = localhostAllowedHostnames();

/**
 * The loopback guard against DNS rebinding (MCP "Transports" §Security Warning): the `Host` must
 * name the loopback, and a browser's `Origin`, when sent, must be a loopback page. A header value
 * once accepted is remembered, so a session's requests do not parse the same URL again and again.
 */
function hostCheck(): (req: IncomingMessage, res: ServerResponse) => boolean {
  const accepted = new Set<string>();
  return (req, res) => {
    const host = req.headers.host;
    if (host === undefined || !accepted.has(host)) {
      if (!validateHostHeader(host, LOOPBACK_NAMES).ok) {
        refuseHttp(res, 'HOST_NOT_ALLOWED');
        return false;
      }
      if (accepted.size < 64) accepted.add(host!);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!validateOriginHeader(origin, LOOPBACK_NAMES).ok) {
        refuseHttp(res, 'ORIGIN_NOT_ALLOWED');
        return false;
      }
    }
    return true;
  };
}

// Events rather than `for await`: the stream's async iterator costs more per request than the
// whole read of a typical (one-chunk) JSON-RPC body.
// A body over the limit is refused without keeping it: the rest is read and dropped, so the 413
// reaches the client (destroying the socket would leave it with a broken connection instead).
function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = (): void => {
      req.removeAllListeners('data');
      req.resume();
      fail(new Error('PAYLOAD_TOO_LARGE'));
    };
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return tooLarge();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return tooLarge();
      chunks.push(chunk);
    });
    req.once('error', fail);
    req.once('end', () => {
      if (size === 0) return done(undefined);
      try {
        const text =
          chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        done(JSON.parse(text) as unknown);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/**
 * A bearer token (RFC 6750 §2.1 `b64token`) of at least 32 characters: hex or base64url from a
 * random source fits (`openssl rand -hex 32`), a short password does not.
 */
export const HTTP_TOKEN_PATTERN = /^[A-Za-z0-9._~+/-]{32,}=*$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The check of every HTTP request's `Authorization: Bearer <token>`. Both sides are hashed first so
 * the comparison is constant-time whatever the presented length (`timingSafeEqual` needs equal
 * lengths and would otherwise leak the token's).
 */
function bearerCheck(token: string): (req: IncomingMessage) => boolean {
  const expected = sha256(token);
  return (req) => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    const presented = sha256(match?.[1] ?? '');
    return timingSafeEqual(presented, expected) && match !== null;
  };
}

/** Options of {@link serveHttp}. */
export interface HttpOptions {
  /** The port (0: any free port). */
  readonly port: number;
  /** The address to listen on; default 127.0.0.1. */
  readonly host?: string;
  /**
   * The bearer token every request must carry (`Authorization: Bearer <token>`), matching
   * {@link HTTP_TOKEN_PATTERN}. Required unless `host` is a loopback address.
   */
  readonly token?: string;
}

/**
 * Refuses what {@link serveHttp} would refuse, before a host opens anything else: a host that is
 * not loopback without a token, a token that does not match {@link HTTP_TOKEN_PATTERN}.
 * @throws McpError HTTP_TOKEN_REQUIRED, HTTP_TOKEN_INVALID
 * @example checkHttpOptions({ port: 8808, host: '0.0.0.0', token });
 */
export function checkHttpOptions(options: HttpOptions): void {
  const host = options.host ?? '127.0.0.1';
  if (options.token === undefined && !LOOPBACK.has(host))
    throw new McpError(
      'HTTP_TOKEN_REQUIRED',
      `serving on ${host}, which is not a loopback address, needs a bearer token`,
    );
  if (options.token !== undefined && !HTTP_TOKEN_PATTERN.test(options.token))
    throw new McpError(
      'HTTP_TOKEN_INVALID',
      'the bearer token must be at least 32 characters of A-Z a-z 0-9 - . _ ~ + / (e.g. openssl rand -hex 32)',
    );
}

/**
 * Serves Streamable HTTP at `/mcp` on `host` (default 127.0.0.1) and `port` (0: any free port).
 * On a loopback host, requests whose `Host` header is not a loopback name are refused (DNS
 * rebinding). With a `token`, a request without `Authorization: Bearer <token>` gets 401 and a
 * JSON-RPC error (`data.code: 'UNAUTHORIZED'`) before anything reads its body.
 * @throws McpError HTTP_TOKEN_REQUIRED (a host that is not loopback, without a token),
 *   HTTP_TOKEN_INVALID (a token that does not match {@link HTTP_TOKEN_PATTERN})
 * @example const http = await serveHttp(runtime.mcp, { port: 8808, token }); console.log(http.url);
 */
export async function serveHttp(
  mcp: Pick<EdcaMcpServer, 'connect'>,
  options: HttpOptions,
): Promise<HttpEndpoint> {
  checkHttpOptions(options);
  const host = options.host ?? '127.0.0.1';
  const loopback = LOOPBACK.has(host);
  const authorized = options.token === undefined ? undefined : bearerCheck(options.token);
  const checkHost = loopback ? hostCheck() : undefined;
  const sessions = new Map<string, NodeHttpSession>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (checkHost !== undefined && !checkHost(req, res)) return;
    if (authorized !== undefined && !authorized(req)) {
      refuseHttp(res, 'UNAUTHORIZED', { headers: { 'www-authenticate': 'Bearer realm="edca"' } });
      return;
    }
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== '/mcp') {
      refuseHttp(res, 'NOT_FOUND');
      return;
    }
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = await readBody(req);
      } catch (err) {
        if (err instanceof Error && err.message === 'PAYLOAD_TOO_LARGE')
          refuseHttp(res, 'PAYLOAD_TOO_LARGE', { headers: { connection: 'close' } });
        else refuseHttp(res, 'PARSE_ERROR');
        return;
      }
    }
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (session === undefined) {
        refuseHttp(res, 'SESSION_NOT_FOUND');
        return;
      }
      session.handle(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      refuseHttp(res, 'SESSION_REQUIRED');
      return;
    }
    const id = randomUUID();
    const session = new NodeHttpSession(id);
    session.onclose = () => {
      sessions.delete(id);
    };
    await mcp.connect(session, id);
    sessions.set(id, session);
    session.handle(req, res, body);
  }

  const server: HttpServer = createServer((req, res) => {
    handle(req, res).catch(() => refuseHttp(res, 'INTERNAL_ERROR'));
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
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(all.map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
