/**
 * A `fetch` for Node hosts written on `node:http` / `node:https` with keep-alive agents, to hand
 * to the official MCP client's Streamable HTTP transport (`new StreamableHTTPClientTransport(url,
 * { fetch: nodeHttpFetch() })`).
 *
 * Why: Node's own `fetch` (undici) builds a WHATWG `Request`, runs the Fetch standard's steps and
 * keeps an `abort` listener on the caller's signal until the `Request` is garbage-collected; for a
 * small JSON-RPC POST on loopback that is several times the CPU of the HTTP exchange itself
 * (docs/benchmarks.md). This one sends the request with `http.request`, answers with a real
 * `Response`, and drops its `abort` listener as soon as the exchange ends. An answer that says
 * its length (`Content-Length`, up to 4 MiB) and is not an SSE stream nor compressed — the JSON
 * body of every MCP request answered without SSE — is read whole before the `Response` is handed
 * over, and its `json()` and `text()` decode those bytes directly: a web `ReadableStream` for a
 * body that is already in memory, and the Fetch body-reading steps over it, cost more CPU per
 * call than the rest of the client's handling of the answer. Any other answer (SSE, no length,
 * compressed) gets a body stream fed by the socket as data arrives. Not the `node-fetch` package:
 * its `Response` body is a Node stream, and the client reads an SSE answer with the web stream's
 * `pipeThrough`.
 *
 * What it does not do: cookies, caches, CORS, credentials modes, `Request` objects as input,
 * `FormData` bodies, `Accept-Encoding` negotiation (it asks for nothing, and decodes a `gzip`,
 * `deflate` or `br` answer a server sends anyway).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** The `fetch` signature the MCP client's transports take (`FetchLike`). */
export type NodeHttpFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Options of {@link nodeHttpFetch}. */
export interface NodeHttpFetchOptions {
  /** The agent for `http:` URLs; default: a new keep-alive agent of this fetch's own. */
  readonly agent?: HttpAgent;
  /** The agent for `https:` URLs; default: a new keep-alive agent of this fetch's own. */
  readonly httpsAgent?: HttpsAgent;
}

/** As many redirects as the Fetch standard follows before it fails. */
const MAX_REDIRECTS = 20;
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/**
 * The largest answer read whole before the `Response` is handed over (a JSON-RPC answer is a few
 * KB); a longer one is streamed as it arrives.
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** How long an idle kept-alive connection is kept when the server announces no shorter time. */
const IDLE_SOCKET_MS = 60_000;

/** Methods a server may receive twice with the effect of once (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The request went out on a reused connection that the server had closed; nothing came back. */
class StaleConnection extends TypeError {
  constructor(cause: Error) {
    super('fetch failed', { cause });
  }
}

/**
 * A `fetch` on `node:http` with keep-alive connections, for the official MCP client on Node:
 * methods, headers, string / bytes / `URLSearchParams` / `Blob` / `ReadableStream` request bodies,
 * streamed response bodies (SSE, answers without a length), answers with a `Content-Length` of
 * up to 4 MiB read whole before the promise resolves, `AbortSignal`s (before and during the
 * exchange, and while the body is read), `redirect: 'follow' | 'manual' | 'error'`. A network
 * failure rejects with `TypeError('fetch failed')` whose `cause` is Node's error (`code:
 * 'ECONNREFUSED'`, …), an abort with the signal's reason, as `fetch` does; a connection that
 * breaks before a whole answer arrived, with `TypeError('terminated')`.
 * @example
 * const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: nodeHttpFetch() });
 */
export function nodeHttpFetch(options: NodeHttpFetchOptions = {}): NodeHttpFetch {
  // With a `timeout`, Node's agent honours the server's `Keep-Alive: timeout=N` hint and drops an
  // idle connection a second before the server would (without one it ignores the hint).
  const agent = options.agent ?? new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const httpsAgent = options.httpsAgent ?? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  return async (input, init = {}) => {
    if (typeof input !== 'string' && !(input instanceof URL))
      throw new TypeError('nodeHttpFetch takes a URL or a string, not a Request');
    const url = new URL(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) });
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = plainHeaders(init.headers);
    const body = await requestBody(init.body, headers);
    if (body !== undefined && (method === 'GET' || method === 'HEAD'))
      throw new TypeError(`a ${method} request cannot have a body`);
    const redirect = init.redirect ?? 'follow';
    let current = { url, method, body, headers };
    for (let followed = 0; ; followed++) {
      const response = await exchange(current, init.signal ?? undefined, agent, httpsAgent).catch(
        (err: unknown) => {
          // A kept-alive connection the server closed as the request went out: nothing was
          // answered, but the server may have acted on the request, so only an idempotent one
          // goes once more on a new connection (a POST's tools/call could execute twice; a
          // stream body cannot be sent again).
          if (!(err instanceof StaleConnection) || !IDEMPOTENT_METHODS.has(current.method)) throw err;
          if (current.body instanceof Readable) throw err;
          return exchange(current, init.signal ?? undefined, agent, httpsAgent);
        },
      );
      const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
      if (location === null || redirect === 'manual') return response;
      if (!(response instanceof BufferedResponse)) await response.body?.cancel();
      if (redirect === 'error') throw new TypeError('fetch failed', { cause: new Error('redirect refused') });
      if (followed === MAX_REDIRECTS)
        throw new TypeError('fetch failed', { cause: new Error('too many redirects') });
      const next = new URL(location, current.url);
      // 303, and 301/302 after a POST, turn into a GET without a body (Fetch §4.4 step 12).
      const toGet =
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && current.method === 'POST');
      if (!toGet && current.body instanceof Readable)
        throw new TypeError('fetch failed', { cause: new Error('cannot send a stream body again') });
      const nextHeaders = { ...current.headers };
      if (toGet)
        for (const h of ['content-type', 'content-length', 'transfer-encoding']) delete nextHeaders[h];
      if (next.origin !== current.url.origin) delete nextHeaders['authorization'];
      current = {
        url: next,
        method: toGet && current.method !== 'HEAD' ? 'GET' : current.method,
        body: toGet ? undefined : current.body,
        headers: nextHeaders,
      };
    }
  };
}

type Body = string | Uint8Array | Readable | undefined;

/** The request's headers as one lower-case record (repeated names joined as `Headers` joins them). */
function plainHeaders(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (init === undefined) return out;
  if (init instanceof Headers) {
    init.forEach((value, name) => {
      out[name] = value;
    });
    return out;
  }
  const pairs: [string, string][] = Array.isArray(init)
    ? (init as [string, string][])
    : Object.entries(init as Record<string, string>);
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  }
  return out;
}

/** The body to send, with the `Content-Type` `fetch` would add when the caller gave none. */
async function requestBody(body: RequestInit['body'], headers: Record<string, string>): Promise<Body> {
  if (body === undefined || body === null) return undefined;
  const type = (value: string): void => {
    headers['content-type'] ??= value;
  };
  if (typeof body === 'string') {
    type('text/plain;charset=UTF-8');
    return body;
  }
  if (body instanceof URLSearchParams) {
    type('application/x-www-form-urlencoded;charset=UTF-8');
    return body.toString();
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Blob) {
    if (body.type !== '') type(body.type);
    return new Uint8Array(await body.arrayBuffer());
  }
  if (body instanceof ReadableStream) return Readable.fromWeb(body as never);
  throw new TypeError('nodeHttpFetch sends string, bytes, URLSearchParams, Blob or ReadableStream bodies');
}

interface Outgoing {
  readonly url: URL;
  readonly method: string;
  readonly body: Body;
  readonly headers: Record<string, string>;
}

/** One HTTP exchange: resolves with the `Response` once the head has arrived. */
function exchange(
  out: Outgoing,
  signal: AbortSignal | undefined,
  agent: HttpAgent,
  httpsAgent: HttpsAgent,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- fetch rejects with the signal's reason as given
    if (signal?.aborted === true) return reject(abortReason(signal));
    const https = out.url.protocol === 'https:';
    const headers = { ...out.headers };
    if (typeof out.body === 'string') headers['content-length'] ??= String(Buffer.byteLength(out.body));
    else if (out.body instanceof Uint8Array) headers['content-length'] ??= String(out.body.byteLength);
    const req = (https ? httpsRequest : httpRequest)({
      protocol: out.url.protocol,
      hostname: out.url.hostname.startsWith('[') ? out.url.hostname.slice(1, -1) : out.url.hostname,
      port: out.url.port,
      path: `${out.url.pathname}${out.url.search}`,
      method: out.method,
      headers,
      agent: https ? httpsAgent : agent,
    });
    // Whatever is running when the signal fires (the request, or the reading of the body).
    let onAbort: (() => void) | undefined;
    let settled = false;
    const stopListening = (): void => {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      onAbort = undefined;
    };
    if (signal !== undefined) {
      onAbort = () => {
        stopListening();
        const reason = abortReason(signal);
        req.destroy();
        if (!settled) {
          settled = true;
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as above
          reject(reason);
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    req.once('error', (err: NodeJS.ErrnoException) => {
      stopListening();
      if (settled) return;
      settled = true;
      const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      reject(stale ? new StaleConnection(err) : new TypeError('fetch failed', { cause: err }));
    });
    req.once('response', (res) => {
      if (readsWhole(res, out.method)) {
        // The promise settles when the body has arrived; until then an abort rejects it (onAbort).
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => {
          if (settled) return;
          settled = true;
          stopListening();
          const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          try {
            resolve(new BufferedResponse(bytes, responseInit(res), out.url.href).asResponse());
          } catch (err) {
            // A status `Response` cannot carry (above 599).
            reject(new TypeError('fetch failed', { cause: err }));
          }
        });
        // The connection closed before the whole message arrived.
        res.once('close', () => {
          if (settled || res.complete) return;
          settled = true;
          stopListening();
          reject(new TypeError('terminated', { cause: new Error('other side closed') }));
        });
        return;
      }
      settled = true;
      let response: Response;
      try {
        response = toResponse(res, out, signal, stopListening, (stop) => {
          // From now on an abort errors the body stream instead of the (settled) promise.
          if (signal === undefined) return;
          signal.removeEventListener('abort', onAbort!);
          onAbort = () => {
            stopListening();
            req.destroy();
            stop(abortReason(signal));
          };
          signal.addEventListener('abort', onAbort, { once: true });
        });
      } catch (err) {
        // A status `Response` cannot carry (below 200 or above 599).
        stopListening();
        req.destroy();
        return reject(new TypeError('fetch failed', { cause: err }));
      }
      resolve(response);
    });
    if (out.body instanceof Readable) {
      out.body.once('error', (err) => req.destroy(err));
      out.body.pipe(req);
    } else req.end(out.body);
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Whether the answer is read whole before its `Response` is handed over (see the module's TSDoc). */
function readsWhole(res: IncomingMessage, method: string): boolean {
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(res.statusCode ?? 0)) return false;
  const length = res.headers['content-length'];
  if (length === undefined || Number(length) > MAX_BUFFERED_BYTES) return false;
  if (res.headers['content-encoding'] !== undefined) return false;
  const type = res.headers['content-type'];
  return type === undefined || !/^\s*text\/event-stream\b/i.test(type);
}

function responseInit(res: IncomingMessage): { status: number; statusText: string; headers: Headers } {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers };
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

// Node's types declare `Response`'s members as properties, which a subclass may not redefine as
// methods or accessors; at run time they are the prototype's methods and getters, as in any class.
const ResponseBase = Response as unknown as new (body: null, init: ResponseInit) => object;
type FullResponse = Response & { bytes(): Promise<Uint8Array> };

/**
 * A `Response` whose body has been read whole. `text()` and `json()` decode the bytes directly
 * (UTF-8, a leading BOM dropped, as the Fetch standard's `text()` does); `body`, `arrayBuffer()`,
 * `blob()`, `bytes()`, `formData()` go through an ordinary `Response` made from the bytes on first
 * use. A body is read once: a second read rejects with a `TypeError`, as `fetch`'s does.
 */
class BufferedResponse extends ResponseBase {
  readonly #bytes: Buffer;
  readonly #init: ResponseInit;
  readonly #url: string;
  #used = false;
  /** The ordinary `Response` over the bytes, once something other than text()/json() asked for it. */
  #full: FullResponse | undefined;

  constructor(bytes: Buffer, init: ResponseInit, url: string) {
    super(null, init);
    this.#bytes = bytes;
    this.#init = init;
    this.#url = url;
  }

  get url(): string {
    return this.#url;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#whole().body;
  }

  get bodyUsed(): boolean {
    return this.#full === undefined ? this.#used : this.#full.bodyUsed;
  }

  text(): Promise<string> {
    if (this.#full !== undefined) return this.#full.text();
    if (this.#used) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
    this.#used = true;
    const b = this.#bytes;
    const bom = b.length >= 3 && b[0] === UTF8_BOM[0] && b[1] === UTF8_BOM[1] && b[2] === UTF8_BOM[2];
    return Promise.resolve(b.toString('utf8', bom ? 3 : 0));
  }

  json(): Promise<unknown> {
    return this.text().then((text) => JSON.parse(text) as unknown);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#whole().arrayBuffer();
  }

  blob(): Promise<Blob> {
    return this.#whole().blob();
  }

  bytes(): Promise<Uint8Array> {
    return this.#whole().bytes();
  }

  formData(): Promise<FormData> {
    return this.#whole().formData();
  }

  clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.#bytes, this.#init, this.#url).asResponse();
  }

  /** This object as what it is at run time (a `Response`), for the types. */
  asResponse(): Response {
    return this as unknown as Response;
  }

  #whole(): FullResponse {
    if (this.#full === undefined) {
      this.#full = new Response(this.#bytes, this.#init) as FullResponse;
      // Read already (text() or json()): the ordinary Response's body is used up as well.
      if (this.#used) void this.#full.arrayBuffer();
    }
    return this.#full;
  }
}

function decoderFor(encoding: string | undefined): Transform | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    case undefined:
    default:
      return undefined;
  }
}

/**
 * The `Response` of an exchange whose head has arrived: its body a byte stream fed by the socket
 * as data comes (paused while the reader is behind), ending when the message ends, erroring when
 * the connection breaks before the end or the signal aborts.
 */
function toResponse(
  res: IncomingMessage,
  out: Outgoing,
  signal: AbortSignal | undefined,
  stopListening: () => void,
  onBodyAbort: (stop: (reason: unknown) => void) => void,
): Response {
  const init = responseInit(res);
  const status = init.status;
  let body: ReadableStream<Uint8Array> | null = null;
  if (out.method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    res.resume();
    stopListening();
  } else {
    const decoder = decoderFor(res.headers['content-encoding']);
    const source: Readable = decoder === undefined ? res : res.pipe(decoder);
    if (decoder !== undefined) res.once('error', (err) => decoder.destroy(err));
    let done = false;
    body = new ReadableStream<Uint8Array>({
      start(controller) {
        const stop = (reason: unknown): void => {
          if (done) return;
          done = true;
          stopListening();
          controller.error(reason);
          source.destroy();
        };
        onBodyAbort(stop);
        if (signal?.aborted === true) return stop(abortReason(signal));
        source.on('data', (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) <= 0) source.pause();
        });
        source.once('end', () => {
          if (done) return;
          done = true;
          stopListening();
          controller.close();
        });
        source.once('error', (err) => stop(new TypeError('terminated', { cause: err })));
        // The connection closed before the whole message arrived.
        res.once('close', () => {
          if (!res.complete) stop(new TypeError('terminated', { cause: new Error('other side closed') }));
        });
      },
      pull() {
        source.resume();
      },
      cancel() {
        done = true;
        stopListening();
        source.destroy();
        res.destroy();
      },
    });
  }
  const response = new Response(body, init);
  Object.defineProperty(response, 'url', { value: out.url.href });
  return response;
}
