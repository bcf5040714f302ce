// A loopback HTTP server that speaks the OpenAI and Anthropic wire formats by replaying recorded
// exchanges in order, so the official SDK clients run unmodified against it with no network. Each
// exchange is a response (status, headers, JSON body), a hang (never answers until the client
// gives up) or a connection reset. Every request is kept for the tests to inspect.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One recorded response, or a transport fault. */
export interface Exchange {
  /** The request path the client must send, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** The response body: JSON (serialized as the API would) or text sent as is. */
  readonly body?: unknown;
  /** Never answer (until the client disconnects). */
  readonly hang?: boolean;
  /** Destroy the connection instead of answering. */
  readonly reset?: boolean;
}

/** A request the server received. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

/** The running server. */
export interface ReplayServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /** Exchanges not served yet. */
  remaining(): number;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts a server on 127.0.0.1 with an ephemeral port that replays `exchanges` in order. */
export async function startReplayServer(exchanges: readonly Exchange[]): Promise<ReplayServer> {
  const queue = [...exchanges];
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const text = await readBody(req);
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.push({
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      });
      const next = queue.shift();
      if (next === undefined || next.path !== path) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { message: `replay: unexpected ${path}, expected ${next?.path ?? 'nothing'}` },
          }),
        );
        return;
      }
      if (next.reset === true) {
        req.socket.destroy();
        return;
      }
      if (next.hang === true) return;
      const body = typeof next.body === 'string' ? next.body : JSON.stringify(next.body ?? {}, null, 2);
      res.writeHead(next.status ?? 200, { 'content-type': 'application/json', ...next.headers });
      res.end(body);
    })();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    remaining: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
