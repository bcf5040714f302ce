/**
 * A `fetch` for Node hosts written on the dispatcher API of `undici` (an `Agent` keeping
 * connections alive), to hand to the official MCP client's Streamable HTTP transport (`new
 * StreamableHTTPClientTransport(url, { fetch: nodeHttpFetch() })`).
 *
 * Why: Node's own `fetch` (undici's `fetch`) builds a WHATWG `Request`, runs the Fetch standard's
 * steps and keeps an `abort` listener on the caller's signal until the `Request` is
 * garbage-collected; for a small JSON-RPC POST on loopback that is several times the CPU of the
 * HTTP exchange itself (docs/benchmarks.md). This one hands the request to undici's
 * `Dispatcher.dispatch` with a handler of its own — the HTTP/1.1 client under Node's `fetch`
 * without the Fetch steps, and with less CPU per exchange than `node:http` — answers with a real
 * `Response`, and drops its `abort` listener as soon as the exchange ends. An answer that says its
 * length (`Content-Length`, up to 4 MiB) and is not an SSE stream nor compressed — the JSON body of
 * every MCP request answered without SSE — is read whole before the `Response` is handed over,
 * and its `json()` and `text()` decode those bytes directly: a web `ReadableStream` for a body
 * that is already in memory, and the Fetch body-reading steps over it, cost more CPU per call
 * than the rest of the client's handling of the answer. Any other answer (SSE, no length,
 * compressed) gets a body stream fed by the connection as data arrives.
 *
 * What it does not do: cookies, caches, CORS, credentials modes, `Request` objects as input,
 * `FormData` bodies, `Accept-Encoding` negotiation (it asks for nothing, and decodes a `gzip`,
 * `deflate` or `br` answer a server sends anyway), retries of its dispatcher (undici's core sends
 * a request at most once; only this module re-sends, and only an idempotent one).
 */
import { Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';

/** The `fetch` signature the MCP client's transports take (`FetchLike`). */
export type NodeHttpFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Options of {@link nodeHttpFetch}. */
export interface NodeHttpFetchOptions {
  /**
   * The undici dispatcher (`Agent`, `Pool`, `ProxyAgent`, …) every request goes through, for
   * `http:` and `https:` URLs alike (TLS options go to its `connect`); default: a keep-alive
   * `Agent` of this fetch's own, with no headers or body timeout (a caller bounds a call with
   * its `signal`, as with `fetch`). A dispatcher set to retry (undici's `RetryAgent` or retry
   * interceptor) would defeat the rule that a POST is sent once: give one that does not.
   */
  readonly dispatcher?: Dispatcher;
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

/**
 * The connection broke (closed or reset by the server) after the request went out and before
 * any of its answer came back: typically a kept-alive connection the server closed as the request
 * was written.
 */
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
  // undici honours the server's `Keep-Alive: timeout=N` hint (less a margin) and keeps an idle
  // connection IDLE_SOCKET_MS when there is none. No headers/body timeout: a tool call may take
  // long and an SSE stream may stay silent; the caller's signal bounds a call.
  const dispatcher =
    options.dispatcher ?? new Agent({ keepAliveTimeout: IDLE_SOCKET_MS, headersTimeout: 0, bodyTimeout: 0 });
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
      const response = await exchange(current, init.signal ?? undefined, dispatcher).catch((err: unknown) => {
        // A connection that broke before any answer (a kept-alive one the server closed as
        // the request went out): the server may have acted on the request, so only an
        // idempotent one goes once more on a new connection (a POST's tools/call could execute
        // twice; a stream body cannot be sent again).
        if (!(err instanceof StaleConnection) || !IDEMPOTENT_METHODS.has(current.method)) throw err;
        if (current.body instanceof Readable) throw err;
        return exchange(current, init.signal ?? undefined, dispatcher);
      });
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

/** Error codes of a connection that closed or was reset under a request. */
const BROKEN_CONNECTION_CODES: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * One HTTP exchange: resolves with the `Response` once the head has arrived (once the whole body
 * has, for an answer read whole).
 */
function exchange(out: Outgoing, signal: AbortSignal | undefined, dispatcher: Dispatcher): Promise<Response> {
  return new Promise((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- fetch rejects with the signal's reason as given
    if (signal?.aborted === true) return reject(abortReason(signal));
    let controller: Dispatcher.DispatchController | undefined;
    /** The signal's reason once it fired: what the promise or the body stream fails with. */
    let abortedWith: unknown;
    /** Whether the promise has settled (or the body stream is the one to fail). */
    let settled = false;
    /** Where the answer's body goes once its head has arrived. */
    let sink: BodySink | undefined;
    const onAbort = (): void => {
      abortedWith = abortReason(signal!);
      // Before the request has a connection there is no controller yet: onRequestStart aborts.
      controller?.abort(abortedWith as Error);
    };
    const stopListening = (): void => signal?.removeEventListener('abort', onAbort);
    signal?.addEventListener('abort', onAbort, { once: true });
    const fail = (err: unknown): void => {
      stopListening();
      if (settled) return;
      settled = true;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- as above
      reject(err);
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (abortedWith !== undefined) ctl.abort(abortedWith as Error);
      },
      onResponseStart(ctl, statusCode, rawHeaders, statusMessage) {
        let init: ReturnType<typeof responseInit>;
        try {
          init = responseInit(statusCode, statusMessage ?? '', rawHeaders);
        } catch (err) {
          return ctl.abort(new TypeError('fetch failed', { cause: err }));
        }
        if (readsWhole(init, out.method)) {
          sink = wholeBody((bytes) => {
            if (settled) return;
            settled = true;
            stopListening();
            try {
              resolve(new BufferedResponse(bytes, init, out.url.href).asResponse());
            } catch (err) {
              // A status `Response` cannot carry (above 599).
              reject(new TypeError('fetch failed', { cause: err }));
            }
          });
          return;
        }
        let response: Response;
        try {
          const streamed = streamedBody(ctl, init, out.method, stopListening);
          response = new Response(streamed.body, init);
          sink = streamed.sink;
        } catch (err) {
          // A status `Response` cannot carry (above 599).
          return ctl.abort(new TypeError('fetch failed', { cause: err }));
        }
        Object.defineProperty(response, 'url', { value: out.url.href });
        settled = true;
        resolve(response);
      },
      onResponseData(_ctl, chunk) {
        // undici hands over an empty chunk when it resumes a paused message; pausing again on it
        // would stall the body (each resume would yield one more empty chunk).
        if (chunk.length > 0) sink?.data(chunk);
      },
      onResponseEnd() {
        sink?.end();
      },
      onResponseError(_ctl, err) {
        if (abortedWith !== undefined) {
          sink?.fail(abortedWith);
          return fail(abortedWith);
        }
        if (sink !== undefined) {
          // The head had arrived: the message broke before its end.
          const terminated = new TypeError('terminated', { cause: err });
          sink.fail(terminated);
          return fail(terminated);
        }
        if (err instanceof TypeError && err.message === 'fetch failed') return fail(err);
        const code = (err as NodeJS.ErrnoException).code;
        fail(
          code !== undefined && BROKEN_CONNECTION_CODES.has(code)
            ? new StaleConnection(err)
            : new TypeError('fetch failed', { cause: err }),
        );
      },
    };
    try {
      dispatcher.dispatch(
        {
          origin: out.url.origin,
          path: `${out.url.pathname}${out.url.search}`,
          method: out.method,
          headers: out.headers,
          body: out.body ?? null,
        },
        handler,
      );
    } catch (err) {
      // Options undici refuses (a header value it cannot send, …).
      fail(new TypeError('fetch failed', { cause: err }));
    }
  });
}

/** What the handler feeds an answer's body into. */
interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  fail(reason: unknown): void;
}

/** A body gathered whole, handed to `done` at its end. */
function wholeBody(done: (bytes: Buffer) => void): BodySink {
  const chunks: Buffer[] = [];
  return {
    data: (chunk) => void chunks.push(chunk),
    end: () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    fail: () => undefined,
  };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Whether the answer is read whole before its `Response` is handed over (see the module's TSDoc). */
function readsWhole(init: { status: number; headers: Headers }, method: string): boolean {
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(init.status)) return false;
  const length = init.headers.get('content-length');
  if (length === null || Number(length) > MAX_BUFFERED_BYTES) return false;
  if (init.headers.has('content-encoding')) return false;
  const type = init.headers.get('content-type');
  return type === null || !/^\s*text\/event-stream\b/i.test(type);
}

function responseInit(
  status: number,
  statusText: string,
  raw: Record<string, string | string[] | undefined>,
): { status: number; statusText: string; headers: Headers } {
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (typeof value === 'string') headers.append(name, value);
    else if (value !== undefined) for (const v of value) headers.append(name, v);
  }
  return { status, statusText, headers };
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
 * The body of an answer whose head has arrived, as a byte stream fed as data comes (the
 * connection paused while the reader is behind), ending when the message ends, erroring when
 * the connection breaks before the end or the signal aborts; `null` for HEAD and null-body
 * statuses.
 */
function streamedBody(
  ctl: Dispatcher.DispatchController,
  init: { status: number; headers: Headers },
  method: string,
  stopListening: () => void,
): { body: ReadableStream<Uint8Array> | null; sink: BodySink } {
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(init.status))
    return { body: null, sink: { data: () => undefined, end: stopListening, fail: () => undefined } };
  const decoder = decoderFor(init.headers.get('content-encoding') ?? undefined);
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  let done = false;
  const finish = (reason?: unknown): void => {
    if (done) return;
    done = true;
    stopListening();
    if (reason === undefined) stream.close();
    else stream.error(reason);
  };
  const enqueue = (chunk: Buffer): void => {
    if (done) return;
    stream.enqueue(chunk);
    if ((stream.desiredSize ?? 1) <= 0) {
      if (decoder === undefined) ctl.pause();
      else decoder.pause();
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      stream = c;
    },
    pull() {
      if (decoder === undefined) ctl.resume();
      else decoder.resume();
    },
    cancel() {
      done = true;
      stopListening();
      decoder?.destroy();
      ctl.abort(new Error('body cancelled'));
    },
  });
  if (decoder === undefined) return { body, sink: { data: enqueue, end: () => finish(), fail: finish } };
  // Compressed: the connection feeds the decoder (paused while the decoder is full), the decoder
  // the stream (paused while the reader is behind).
  decoder.on('data', enqueue);
  decoder.once('end', () => finish());
  decoder.once('error', (err) => {
    finish(new TypeError('terminated', { cause: err }));
    ctl.abort(err);
  });
  decoder.on('drain', () => ctl.resume());
  return {
    body,
    sink: {
      data: (chunk) => {
        if (!decoder.write(chunk)) ctl.pause();
      },
      end: () => void decoder.end(),
      fail: (reason) => {
        finish(reason);
        decoder.destroy();
      },
    },
  };
}
