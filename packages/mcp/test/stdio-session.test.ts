// The stdio wire (MCP 2025-11-25 "Transports" §stdio) of serveStdio's own session transport, on
// in-memory streams in front of the real server: lines however the chunks fall, a JSON-RPC error
// for a line that is no message, the session's end with its input. The official client over a
// real child process is in packages/cli/test/serve.test.ts.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_STDIO_LINE_BYTES,
  serveStdio,
  STDIO_REFUSAL_CODES,
  StdioSession,
  type EdcaMcpServer,
} from '../src/index.js';
import { makeMcpFixture, type McpFixture } from './support/fixture.js';

const VERSION = '2025-11-25';
let fixture: McpFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** A server on in-memory stdin/stdout: write raw chunks, read the lines it answers with. */
interface Wire {
  write(chunk: string | Buffer): void;
  /** The next message the server writes (one line, parsed). */
  next(): Promise<Record<string, unknown>>;
  /** Every raw byte the server wrote so far. */
  readonly raw: () => string;
  readonly input: PassThrough;
  readonly served: Promise<void>;
}

function wire(
  mcp: Pick<EdcaMcpServer, 'connect'>,
  session?: (i: PassThrough, o: PassThrough) => StdioSession,
): Wire {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  output.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      all += `${line}\n`;
      const w = waiting.shift();
      if (w === undefined) lines.push(line);
      else w(line);
      nl = text.indexOf('\n');
    }
  });
  let all = '';
  const served =
    session === undefined
      ? serveStdio(mcp, input, output)
      : (async () => {
          const s = session(input, output);
          const closed = new Promise<void>((done) => {
            s.onclose = done;
          });
          await mcp.connect(s);
          await closed;
        })();
  return {
    write: (chunk) => input.write(chunk),
    async next() {
      const line = lines.shift() ?? (await new Promise<string>((done) => waiting.push(done)));
      return JSON.parse(line) as Record<string, unknown>;
    },
    raw: () => all,
    input,
    served,
  };
}

const line = (message: unknown): string => `${JSON.stringify(message)}\n`;
const initialize = (id: number): string =>
  line({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'wire', version: '1' } },
  });
const initialized = line({ jsonrpc: '2.0', method: 'notifications/initialized' });

async function open(w: Wire): Promise<void> {
  w.write(initialize(1));
  const answer = await w.next();
  expect(answer).toMatchObject({ jsonrpc: '2.0', id: 1, result: { protocolVersion: VERSION } });
  w.write(initialized);
}

function expectRefusal(message: Record<string, unknown>, code: string, rpc: number): void {
  expect(message['jsonrpc']).toBe('2.0');
  expect(message['id']).toBeNull();
  const error = message['error'] as { code: number; message: string; data: { code: string } };
  expect(error.code).toBe(rpc);
  expect(error.data.code).toBe(code);
  expect(STDIO_REFUSAL_CODES).toContain(error.data.code);
}

describe('serveStdio (StdioSession)', () => {
  it('reads a message however its line is cut into chunks, several in one chunk, with CRLF, and answers each on one line', async () => {
    fixture = await makeMcpFixture();
    const w = wire(fixture.mcp);
    const init = Buffer.from(initialize(1), 'utf8');
    // Cut inside the line, including between the bytes of one multi-byte character of clientInfo.
    const withUmlaut = Buffer.from(init.toString('utf8').replace('"wire"', '"wïre"'), 'utf8');
    const cut = withUmlaut.indexOf(Buffer.from('ï', 'utf8')) + 1;
    w.write(withUmlaut.subarray(0, 10));
    w.write(withUmlaut.subarray(10, cut));
    w.write(withUmlaut.subarray(cut));
    expect(await w.next()).toMatchObject({ id: 1, result: { protocolVersion: VERSION } });
    const list = (id: number): string => line({ jsonrpc: '2.0', id, method: 'tools/list' });
    w.write(`${initialized}${list(2)}${list(3).replace('\n', '\r\n')}\n  \n${list(4).slice(0, 7)}`);
    w.write(list(4).slice(7));
    const answers = [await w.next(), await w.next(), await w.next()];
    expect(answers.map((a) => a['id'])).toEqual([2, 3, 4]);
    const tools = (answers[0]!['result'] as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(tools).toContain('freeze_card');
    // One message a line, nothing else on stdout.
    for (const l of w.raw().trimEnd().split('\n')) expect(() => JSON.parse(l) as unknown).not.toThrow();
    w.input.end();
    await w.served;
  });

  it('executes a permitted tools/call over the wire and shows no private field', async () => {
    fixture = await makeMcpFixture();
    const w = wire(fixture.mcp);
    await open(w);
    w.write(
      line({ jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'edca://view/mcp-servicing' } }),
    );
    const view = await w.next();
    const text = (view['result'] as { contents: { text: string }[] }).contents[0]!.text;
    const card = (JSON.parse(text) as { entities: Record<string, string> })['entities']['card']!;
    w.write(
      line({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'freeze_card', arguments: { card } },
      }),
    );
    const call = await w.next();
    expect(call['id']).toBe(3);
    const result = call['result'] as { isError?: boolean; structuredContent: Record<string, unknown> };
    expect(result.isError).not.toBe(true);
    expect(fixture.bank.card.CRD_STAT).toBe('BLK');
    // The bank's own card token and column names never reach the wire, only the ref the view issued.
    expect(w.raw()).not.toContain('tok_4f9a1c22e7');
    expect(w.raw()).not.toContain('CRD_');
    w.input.end();
    await w.served;
  });

  it('answers a line that is not JSON with PARSE_ERROR and one that is no JSON-RPC message with INVALID_MESSAGE, then goes on', async () => {
    fixture = await makeMcpFixture();
    const w = wire(fixture.mcp);
    await open(w);
    w.write('{"jsonrpc":"2.0","id":2,"method":\n');
    expectRefusal(await w.next(), 'PARSE_ERROR', -32700);
    for (const bad of [
      { id: 2, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2.5, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, result: {}, error: { code: 1, message: 'x' } },
      [{ jsonrpc: '2.0', id: 2, method: 'tools/list' }],
      'tools/list',
      null,
    ]) {
      w.write(line(bad));
      expectRefusal(await w.next(), 'INVALID_MESSAGE', -32600);
    }
    w.write(line({ jsonrpc: '2.0', id: 9, method: 'tools/list' }));
    expect(await w.next()).toMatchObject({ id: 9, result: { tools: expect.any(Array) as unknown } });
    w.input.end();
    await w.served;
  });

  it('refuses a line over the limit with MESSAGE_TOO_LARGE without keeping it, and reads the next line', async () => {
    expect(MAX_STDIO_LINE_BYTES).toBe(4 * 1024 * 1024);
    fixture = await makeMcpFixture();
    const w = wire(fixture.mcp, (i, o) => new StdioSession(i, o, { maxLineBytes: 200 }));
    await open(w);
    // Over the limit within one chunk, and over it across chunks (the rest dropped up to its newline).
    w.write(line({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { pad: 'x'.repeat(300) } }));
    expectRefusal(await w.next(), 'MESSAGE_TOO_LARGE', -32600);
    w.write(`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"pad":"${'y'.repeat(150)}`);
    w.write('y'.repeat(150));
    expectRefusal(await w.next(), 'MESSAGE_TOO_LARGE', -32600);
    w.write(`${'y'.repeat(50)}"}}\n${line({ jsonrpc: '2.0', id: 4, method: 'tools/list' })}`);
    const next = await w.next();
    expect(next['id']).toBe(4);
    expect(w.raw()).not.toContain('"id":3');
    w.input.end();
    await w.served;
  });

  it('ends the session when stdin ends, and refuses to send after', async () => {
    fixture = await makeMcpFixture();
    const input = new PassThrough();
    const output = new PassThrough();
    const session = new StdioSession(input, output);
    let closed = 0;
    await fixture.mcp.connect(session);
    const previous = session.onclose;
    session.onclose = () => {
      closed++;
      previous?.();
    };
    input.end();
    await new Promise((done) => setImmediate(done));
    await new Promise((done) => setImmediate(done));
    expect(closed).toBe(1);
    await expect(session.send({ jsonrpc: '2.0', method: 'notifications/x' })).rejects.toThrow(/closed/);
    await session.close();
    expect(closed).toBe(1);
  });
});
