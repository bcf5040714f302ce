/**
 * The stdio session (MCP 2025-11-25, "Transports" §stdio) as an SDK `Transport` written straight
 * on a readable and a writable stream: one JSON-RPC message per line each way.
 *
 * Why not the SDK's `StdioServerTransport`: it concatenates every chunk into one growing buffer,
 * checks each message with zod's JSON-RPC envelope schema (the protocol layer checks each request
 * against its method's schema again), and drops a line that is not JSON without a word. Here the
 * lines are cut where the chunks end, the envelope is checked once by hand for what the transport
 * relies on (as the HTTP session does: `jsonRpcKind`), and a line that is no JSON-RPC message is
 * answered with a JSON-RPC error (`id: null`) whose `error.data.code` says why, so a client that
 * sent it is not left waiting.
 */
import type { Readable, Writable } from 'node:stream';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import { jsonRpcKind } from './http-session.js';

/** The longest line (one message) the stdio session reads, as the HTTP endpoint's largest body. */
export const MAX_STDIO_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Why the stdio session answered a line with an error instead of handing it to the server, as
 * `error.data.code` of the JSON-RPC error (`id: null`) it writes back.
 */
export const STDIO_REFUSAL_CODES = ['PARSE_ERROR', 'INVALID_MESSAGE', 'MESSAGE_TOO_LARGE'] as const;
/** One of {@link STDIO_REFUSAL_CODES}. */
export type StdioRefusalCode = (typeof STDIO_REFUSAL_CODES)[number];

// The JSON-RPC 2.0 codes of §5.1: not JSON is a parse error, JSON that is no message an invalid request.
const REFUSALS: Readonly<Record<StdioRefusalCode, readonly [rpc: number, message: string]>> = {
  PARSE_ERROR: [-32700, 'Parse error: Invalid JSON'],
  INVALID_MESSAGE: [-32600, 'Invalid Request: not a JSON-RPC 2.0 message'],
  MESSAGE_TOO_LARGE: [-32600, `Invalid Request: a message must not exceed ${MAX_STDIO_LINE_BYTES} bytes`],
};

const NEWLINE = 0x0a;

/** Options of {@link StdioSession}. */
export interface StdioSessionOptions {
  /** The longest line read; default {@link MAX_STDIO_LINE_BYTES}. */
  readonly maxLineBytes?: number;
}

/**
 * The server side of one stdio session: messages are read from `input` (default `process.stdin`)
 * and written to `output` (default `process.stdout`), one a line. The session closes when `input`
 * ends or closes, or when `output` fails.
 * @example await mcp.connect(new StdioSession());
 */
export class StdioSession implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  readonly #input: Readable;
  readonly #output: Writable;
  readonly #max: number;
  /** The start of a line whose end has not arrived yet. */
  #partial: Buffer | undefined;
  /** True while the rest of an over-long line is being dropped, up to its newline. */
  #dropping = false;
  #started = false;
  #closed = false;

  /**
   * @param input where the client's messages arrive (default `process.stdin`)
   * @param output where the server's messages go (default `process.stdout`)
   */
  constructor(
    input: Readable = process.stdin,
    output: Writable = process.stdout,
    options: StdioSessionOptions = {},
  ) {
    this.#input = input;
    this.#output = output;
    this.#max = options.maxLineBytes ?? MAX_STDIO_LINE_BYTES;
  }

  /** Starts reading; called by the SDK's server on connect. */
  start(): Promise<void> {
    if (this.#started) return Promise.reject(new Error('the stdio session is already started'));
    this.#started = true;
    this.#input.on('data', this.#onData);
    this.#input.on('error', this.#onInputError);
    this.#input.on('end', this.#onEnd);
    this.#input.on('close', this.#onEnd);
    this.#output.on('error', this.#onOutputError);
    if (this.#input.readableEnded || this.#input.destroyed) setImmediate(this.#onEnd);
    return Promise.resolve();
  }

  /** Writes one message as one line. */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the stdio session is closed'));
    return this.#write(`${JSON.stringify(message)}\n`);
  }

  /** Stops reading; idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#input.off('data', this.#onData);
    this.#input.off('error', this.#onInputError);
    this.#input.off('end', this.#onEnd);
    this.#input.off('close', this.#onEnd);
    // A write failing after close (the client gone) is nobody's to report.
    this.#output.off('error', this.#onOutputError);
    this.#output.on('error', ignore);
    if (this.#input.listenerCount('data') === 0) this.#input.pause();
    this.#partial = undefined;
    this.onclose?.();
    return Promise.resolve();
  }

  #write(line: string): Promise<void> {
    if (this.#output.write(line)) return Promise.resolve();
    return new Promise((done, fail) => {
      const onDrain = (): void => {
        this.#output.off('error', onError);
        done();
      };
      const onError = (err: Error): void => {
        this.#output.off('drain', onDrain);
        fail(err);
      };
      this.#output.once('drain', onDrain);
      this.#output.once('error', onError);
    });
  }

  readonly #onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    let end = data.indexOf(NEWLINE);
    if (this.#partial !== undefined) {
      if (end === -1) {
        this.#keep(data);
        return;
      }
      // Only the line the partial belongs to is joined; the rest of the chunk is read in place.
      this.#line(Buffer.concat([this.#partial, data.subarray(0, end)]));
      this.#partial = undefined;
      start = end + 1;
      end = data.indexOf(NEWLINE, start);
    } else if (this.#dropping) {
      if (end === -1) return;
      this.#dropping = false;
      start = end + 1;
      end = data.indexOf(NEWLINE, start);
    }
    while (end !== -1 && !this.#closed) {
      this.#line(data.subarray(start, end));
      start = end + 1;
      end = data.indexOf(NEWLINE, start);
    }
    if (start < data.length && !this.#closed) this.#keep(data.subarray(start));
  };

  /** Keeps the start of a line until its newline arrives, or refuses it once it is too long. */
  #keep(data: Buffer): void {
    const size = (this.#partial?.length ?? 0) + data.length;
    if (size > this.#max) {
      this.#partial = undefined;
      this.#dropping = true;
      this.#refuse('MESSAGE_TOO_LARGE');
      return;
    }
    // A copy: the chunk's memory may be a slab the stream reuses.
    this.#partial = this.#partial === undefined ? Buffer.from(data) : Buffer.concat([this.#partial, data]);
  }

  #line(bytes: Buffer): void {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    if (end > this.#max) return this.#refuse('MESSAGE_TOO_LARGE');
    const text = bytes.toString('utf8', 0, end);
    if (text.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.#refuse('PARSE_ERROR');
    }
    if (jsonRpcKind(message) === undefined) return this.#refuse('INVALID_MESSAGE');
    try {
      this.onmessage?.(message as JSONRPCMessage);
    } catch (err) {
      this.onerror?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #refuse(code: StdioRefusalCode): void {
    const [rpc, message] = REFUSALS[code];
    const line = `${JSON.stringify({ jsonrpc: '2.0', error: { code: rpc, message, data: { code } }, id: null })}\n`;
    this.#write(line).catch((err: unknown) => this.#onOutputError(err as Error));
  }

  readonly #onInputError = (err: Error): void => {
    this.onerror?.(err);
  };

  readonly #onOutputError = (err: Error): void => {
    if (this.#closed) return;
    this.onerror?.(err);
    void this.close();
  };

  readonly #onEnd = (): void => {
    void this.close();
  };
}

function ignore(): void {}
