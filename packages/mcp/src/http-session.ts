/**
 * One Streamable HTTP session (MCP 2025-11-25, "Transports" §Streamable HTTP) as an SDK `Transport`
 * written straight on `node:http`: a POST's JSON-RPC messages go to the session's server and its
 * answer goes back as one `application/json` body, a GET opens the session's one SSE stream for
 * messages unrelated to a request, a DELETE ends the session.
 *
 * Why not the SDK's `NodeStreamableHTTPServerTransport`: it wraps the web-standard transport, so
 * every request is turned into a `Request` (URL, `Headers`, body stream, abort signal) and every
 * answer into a `Response` that an adapter writes back, and each message is checked by zod schemas
 * several times over (`isJSONRPCRequest`, `isInitializeRequest`, … are each a `safeParse`). Here
 * the envelope is checked once, by hand, for what the transport itself relies on (JSON-RPC 2.0
 * §4–5: `jsonrpc`, `method`, `id`, `result`/`error`); the parameters of each request are validated
 * by the SDK's protocol layer against the method's schema, as with any transport.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  isJsonContentType,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';

type RequestId = string | number;

/** The most messages one POST may carry (a JSON-RPC batch), as the SDK's own transport allows. */
export const MAX_BATCH_MESSAGES = 100;

/** How often an idle GET stream gets an SSE comment, so proxies and clients keep it open. */
const SSE_KEEP_ALIVE_MS = 15_000;

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * Why the Streamable HTTP endpoint refused a request, as `error.data.code` of the JSON-RPC error
 * body it answers with (`id: null`); the HTTP status and JSON-RPC code are those the MCP SDK's own
 * transports use for the same refusal.
 */
export const HTTP_REFUSAL_CODES = [
  'UNAUTHORIZED',
  'HOST_NOT_ALLOWED',
  'ORIGIN_NOT_ALLOWED',
  'NOT_FOUND',
  'PARSE_ERROR',
  'PAYLOAD_TOO_LARGE',
  'INVALID_MESSAGE',
  'BATCH_TOO_LARGE',
  'NOT_ACCEPTABLE',
  'UNSUPPORTED_MEDIA_TYPE',
  'SESSION_REQUIRED',
  'SESSION_NOT_FOUND',
  'PROTOCOL_VERSION_UNSUPPORTED',
  'ALREADY_INITIALIZED',
  'REQUEST_ID_IN_FLIGHT',
  'SSE_STREAM_EXISTS',
  'METHOD_NOT_ALLOWED',
  'INTERNAL_ERROR',
] as const;
/** One of {@link HTTP_REFUSAL_CODES}. */
export type HttpRefusalCode = (typeof HTTP_REFUSAL_CODES)[number];

const REFUSALS: Readonly<Record<HttpRefusalCode, readonly [status: number, rpc: number, message: string]>> = {
  UNAUTHORIZED: [401, -32000, 'Unauthorized: a valid bearer token is required'],
  HOST_NOT_ALLOWED: [403, -32000, 'Forbidden: the Host header does not name the loopback'],
  ORIGIN_NOT_ALLOWED: [403, -32000, 'Forbidden: the Origin is not a loopback page'],
  NOT_FOUND: [404, -32000, 'Not Found: the endpoint is /mcp'],
  PARSE_ERROR: [400, -32700, 'Parse error: Invalid JSON'],
  PAYLOAD_TOO_LARGE: [413, -32000, 'Payload Too Large: Request body must not exceed 4194304 bytes'],
  INVALID_MESSAGE: [400, -32700, 'Parse error: Invalid JSON-RPC message'],
  BATCH_TOO_LARGE: [400, -32600, 'Invalid Request: Batch must not exceed 100 messages'],
  NOT_ACCEPTABLE: [406, -32000, 'Not Acceptable: Client must accept application/json and text/event-stream'],
  UNSUPPORTED_MEDIA_TYPE: [415, -32000, 'Unsupported Media Type: Content-Type must be application/json'],
  SESSION_REQUIRED: [400, -32000, 'Bad Request: Mcp-Session-Id header is required; start with initialize'],
  SESSION_NOT_FOUND: [404, -32001, 'Session not found'],
  PROTOCOL_VERSION_UNSUPPORTED: [400, -32000, 'Bad Request: Unsupported protocol version'],
  ALREADY_INITIALIZED: [400, -32600, 'Invalid Request: Server already initialized'],
  REQUEST_ID_IN_FLIGHT: [400, -32600, 'Invalid Request: a request with this id is already in flight'],
  SSE_STREAM_EXISTS: [409, -32000, 'Conflict: Only one SSE stream is allowed per session'],
  METHOD_NOT_ALLOWED: [405, -32000, 'Method not allowed.'],
  INTERNAL_ERROR: [500, -32603, 'Internal error'],
};

/**
 * Refuses a request with its status and a JSON-RPC error that belongs to no request (`id: null`),
 * `data.code` being the refusal's code; nothing when the answer has already begun.
 */
export function refuseHttp(
  res: ServerResponse,
  code: HttpRefusalCode,
  options: { readonly detail?: string; readonly headers?: Record<string, string> } = {},
): void {
  if (res.headersSent) return;
  const [status, rpc, message] = REFUSALS[code];
  const text = options.detail === undefined ? message : `${message}: ${options.detail}`;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    error: { code: rpc, message: text, data: { code } },
    id: null,
  });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...options.headers,
  });
  res.end(body);
}

/** What kind of JSON-RPC 2.0 message `value` is, or undefined when it is none (§4, §5). */
export function jsonRpcKind(value: unknown): 'request' | 'notification' | 'response' | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const m = value as Record<string, unknown>;
  if (m['jsonrpc'] !== '2.0') return undefined;
  const id = m['id'];
  const validId = typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));
  if (typeof m['method'] === 'string') {
    if (!('id' in m)) return 'notification';
    return validId ? 'request' : undefined;
  }
  if ('result' in m !== 'error' in m && validId) return 'response';
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One POST that carried requests, answered once every one of them has its response. */
interface Exchange {
  readonly res: ServerResponse;
  readonly ids: readonly RequestId[];
  readonly responses: Map<RequestId, JSONRPCMessage>;
  /** Set once a related message made this answer an SSE stream instead of one JSON body. */
  sse: boolean;
  done: boolean;
}

/**
 * The server side of one Streamable HTTP session; `serveHttp` routes each request carrying its
 * `Mcp-Session-Id` (and the `initialize` that opens it) to {@link NodeHttpSession.handle}.
 */
export class NodeHttpSession implements Transport {
  /** Set when the session's `initialize` is taken; sent back as `Mcp-Session-Id`. */
  sessionId: string | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage, extra?: MessageExtraInfo) => void) | undefined;

  readonly #id: string;
  #supported: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS;
  #started = false;
  #closed = false;
  readonly #pending = new Map<RequestId, Exchange>();
  #stream: ServerResponse | undefined;
  #keepAlive: NodeJS.Timeout | undefined;

  /** @param id the session id this session will announce when its `initialize` arrives. */
  constructor(id: string) {
    this.#id = id;
  }

  /** Called by the SDK's server on connect: the versions an `MCP-Protocol-Version` header may name. */
  setSupportedProtocolVersions(versions: string[]): void {
    this.#supported = [...versions];
  }

  /** Required by `Transport`; the session has nothing to open (each HTTP request brings its own). */
  start(): Promise<void> {
    if (this.#started) return Promise.reject(new Error('the session transport is already started'));
    this.#started = true;
    return Promise.resolve();
  }

  /**
   * Serves one HTTP request of this session. `body` is the POST body already read and parsed as
   * JSON (`serveHttp` reads it once, before routing).
   */
  handle(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    if (this.#closed) return refuseHttp(res, 'SESSION_NOT_FOUND');
    switch (req.method) {
      case 'POST':
        return this.#post(req, res, body);
      case 'GET':
        return this.#get(req, res);
      case 'DELETE':
        return this.#delete(req, res);
      case undefined:
      default:
        return refuseHttp(res, 'METHOD_NOT_ALLOWED', { headers: { allow: 'GET, POST, DELETE' } });
    }
  }

  /** The session header and the protocol version header of a request after `initialize`. */
  #checkSession(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.sessionId === undefined) {
      refuseHttp(res, 'SESSION_REQUIRED');
      return false;
    }
    const sid = header(req, 'mcp-session-id');
    if (sid === undefined) {
      refuseHttp(res, 'SESSION_REQUIRED');
      return false;
    }
    if (sid !== this.sessionId) {
      refuseHttp(res, 'SESSION_NOT_FOUND');
      return false;
    }
    // Without the header the version negotiated at initialize applies (§Protocol Version Header).
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !this.#supported.includes(version)) {
      refuseHttp(res, 'PROTOCOL_VERSION_UNSUPPORTED', {
        detail: `${version} (supported versions: ${this.#supported.join(', ')})`,
      });
      return false;
    }
    return true;
  }

  #post(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const accept = header(req, 'accept') ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream'))
      return refuseHttp(res, 'NOT_ACCEPTABLE');
    if (!isJsonContentType(header(req, 'content-type'))) return refuseHttp(res, 'UNSUPPORTED_MEDIA_TYPE');
    const messages = Array.isArray(body) ? (body as unknown[]) : [body];
    if (messages.length > MAX_BATCH_MESSAGES) return refuseHttp(res, 'BATCH_TOO_LARGE');
    const requests: RequestId[] = [];
    let initialize = 0;
    for (const message of messages) {
      const kind = jsonRpcKind(message);
      if (kind === undefined) return refuseHttp(res, 'INVALID_MESSAGE');
      if (kind !== 'request') continue;
      const m = message as { id: RequestId; method: string };
      if (m.method === 'initialize') initialize++;
      requests.push(m.id);
    }
    if (initialize > 0) {
      if (this.sessionId !== undefined) return refuseHttp(res, 'ALREADY_INITIALIZED');
      this.sessionId = this.#id;
    } else if (!this.#checkSession(req, res)) return;
    // A request id still being answered cannot be taken again: its answer would go to either POST.
    if (requests.some((id, i) => this.#pending.has(id) || requests.indexOf(id) !== i))
      return refuseHttp(res, 'REQUEST_ID_IN_FLIGHT');
    const batch = messages as JSONRPCMessage[];
    if (requests.length === 0) {
      res.writeHead(202, { 'content-length': 0 }).end();
      for (const message of batch) this.onmessage?.(message);
      return;
    }
    const exchange: Exchange = { res, ids: requests, responses: new Map(), sse: false, done: false };
    for (const id of requests) this.#pending.set(id, exchange);
    // A client that hangs up (or cancels) gets no answer: forget its ids so they do not leak.
    res.once('close', () => {
      if (!exchange.done) this.#forget(exchange);
    });
    for (const message of batch) this.onmessage?.(message);
  }

  #get(req: IncomingMessage, res: ServerResponse): void {
    if (!(header(req, 'accept') ?? '').includes('text/event-stream'))
      return refuseHttp(res, 'NOT_ACCEPTABLE');
    if (!this.#checkSession(req, res)) return;
    if (this.#stream !== undefined) return refuseHttp(res, 'SSE_STREAM_EXISTS');
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId! });
    res.flushHeaders();
    this.#stream = res;
    const timer = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEP_ALIVE_MS);
    timer.unref();
    this.#keepAlive = timer;
    res.once('close', () => {
      clearInterval(timer);
      if (this.#stream === res) {
        this.#stream = undefined;
        this.#keepAlive = undefined;
      }
    });
  }

  #delete(req: IncomingMessage, res: ServerResponse): void {
    if (!this.#checkSession(req, res)) return;
    res.writeHead(200, { 'content-length': 0 }).end();
    void this.close();
  }

  #forget(exchange: Exchange): void {
    exchange.done = true;
    for (const id of exchange.ids) if (this.#pending.get(id) === exchange) this.#pending.delete(id);
  }

  /** Sends a message of the session's server: a response to its POST, or a message on an SSE stream. */
  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const m = message as { id?: RequestId; method?: unknown };
    if (m.method === undefined && m.id !== undefined) return this.#respond(m.id, message);
    const related = options?.relatedRequestId;
    const exchange = related === undefined ? undefined : this.#pending.get(related);
    if (exchange !== undefined) {
      // A message about a request still being answered (progress, a log line, a question to the
      // client) turns that answer into an SSE stream: a JSON body could not carry it (§Sending
      // Messages to the Server, 5: the server MAY send requests and notifications before the response).
      if (!exchange.sse) this.#startSse(exchange);
      exchange.res.write(sseEvent(message));
      return Promise.resolve();
    }
    // Anything else goes on the GET stream; without one open, the client is not listening and
    // the message is dropped (there is no event store to replay it from).
    this.#stream?.write(sseEvent(message));
    return Promise.resolve();
  }

  #startSse(exchange: Exchange): void {
    exchange.sse = true;
    exchange.res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId! });
  }

  #respond(id: RequestId, message: JSONRPCMessage): Promise<void> {
    const exchange = this.#pending.get(id);
    if (exchange === undefined)
      return Promise.reject(new Error(`No connection established for request ID: ${String(id)}`));
    exchange.responses.set(id, message);
    if (exchange.sse) exchange.res.write(sseEvent(message));
    if (exchange.responses.size < exchange.ids.length) return Promise.resolve();
    this.#forget(exchange);
    const { res } = exchange;
    if (exchange.sse) {
      res.end();
      return Promise.resolve();
    }
    const answers = exchange.ids.map((i) => exchange.responses.get(i)!);
    const body = JSON.stringify(answers.length === 1 ? answers[0] : answers);
    // One string body with its length: Node writes the head and the body in one go.
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'mcp-session-id': this.sessionId!,
    });
    res.end(body);
    return Promise.resolve();
  }

  /** Ends the session: requests still waiting are answered `Session not found`, the GET stream ends. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const waiting = new Set(this.#pending.values());
    this.#pending.clear();
    for (const exchange of waiting) {
      exchange.done = true;
      if (exchange.sse) exchange.res.end();
      else refuseHttp(exchange.res, 'SESSION_NOT_FOUND');
    }
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#stream?.end();
    this.#stream = undefined;
    this.onclose?.();
    return Promise.resolve();
  }
}

function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}
