/**
 * The bare transport hop under an MCP call, without MCP: a ~2.3 KB JSON answer (the size of a
 * `tools/call` result) to a small JSON request, from a child process, over
 * - a pipe, one line each way (what stdio carries),
 * - `node:http` POST on 127.0.0.1 with a keep-alive agent (the floor for HTTP on Node),
 * - `nodeHttpFetch()` from `@edca/mcp` (undici's dispatcher; dist: `pnpm run build` first) to the
 *   same server,
 * - Node's `fetch` to the same server.
 * The four run interleaved (one call of each in turn) after 2,000 calls of each; then each runs a
 * block alone to read the child's CPU per call from /proc (Linux). Not a suite of `pnpm bench`:
 * it measures Node, not edca, and answers "how much of a call over HTTP is the hop itself".
 *
 *   node --import tsx bench/mcp-hop.ts            # 4,000 calls of each
 *   EDCA_HOP_CALLS=10000 node --import tsx bench/mcp-hop.ts
 */
import { spawn } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type * as EdcaMcp from '@edca/mcp';
import { procStatCpuUs, quantile } from './harness.js';

const ANSWER = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: { content: [{ type: 'text', text: 'x'.repeat(1100) }], structuredContent: { a: 'y'.repeat(1000) } },
});
const REQUEST = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'freeze_card', arguments: { card: 'ref_0123456789abcdef' } },
});

function serveHttpChild(): void {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ANSWER) });
      res.end(ANSWER);
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
  process.stdin.resume();
  process.stdin.once('end', () => process.exit(0));
}

function servePipeChild(): void {
  let buffered = '';
  process.stdin.on('data', (data: Buffer) => {
    buffered += data.toString('utf8');
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      process.stdout.write(`${ANSWER}\n`);
    }
  });
}

/** User + system CPU of a process so far, in µs. */
const processCpuUs = (pid: number): number => procStatCpuUs(`/proc/${pid}/stat`);

async function main(): Promise<void> {
  const { nodeHttpFetch } = (await import(
    new URL('../packages/mcp/dist/index.js', import.meta.url).href
  )) as typeof EdcaMcp;
  const self = fileURLToPath(import.meta.url);
  const httpChild = spawn(process.execPath, [...process.execArgv, self, 'http-child'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((done) =>
    httpChild.stdout.once('data', (b: Buffer) => done(b.toString('utf8').trim())),
  );
  const pipeChild = spawn(process.execPath, [...process.execArgv, self, 'pipe-child'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let answered: ((line: string) => void) | undefined;
  let lines = '';
  pipeChild.stdout.on('data', (data: Buffer) => {
    lines += data.toString('utf8');
    const nl = lines.indexOf('\n');
    if (nl < 0) return;
    const line = lines.slice(0, nl);
    lines = lines.slice(nl + 1);
    answered?.(line);
  });
  const agent = new Agent({ keepAlive: true });
  const fetchNode = nodeHttpFetch();
  const url = `http://127.0.0.1:${port}/mcp`;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const cases: [string, () => Promise<unknown>, number][] = [
    [
      'pipe (one line each way)',
      () =>
        new Promise((done) => {
          answered = (line) => done(JSON.parse(line));
          pipeChild.stdin.write(`${REQUEST}\n`);
        }),
      pipeChild.pid!,
    ],
    [
      'node:http request, keep-alive',
      () =>
        new Promise((done, fail) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              path: '/mcp',
              method: 'POST',
              agent,
              headers: { ...headers, 'content-length': Buffer.byteLength(REQUEST) },
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => done(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
            },
          );
          req.once('error', fail);
          req.end(REQUEST);
        }),
      httpChild.pid!,
    ],
    [
      'nodeHttpFetch()',
      async () =>
        (await fetchNode(url, { method: 'POST', headers: new Headers(headers), body: REQUEST })).json(),
      httpChild.pid!,
    ],
    [
      "Node's fetch",
      async () => (await fetch(url, { method: 'POST', headers: new Headers(headers), body: REQUEST })).json(),
      httpChild.pid!,
    ],
  ];
  const calls = Number(process.env['EDCA_HOP_CALLS'] ?? 4000);
  for (const [, call] of cases) for (let i = 0; i < 2000; i++) await call();
  const loadBefore = loadavg()[0]!;
  const times = cases.map(() => [] as number[]);
  const cpu = cases.map(() => 0);
  for (let i = 0; i < calls; i++)
    for (let k = 0; k < cases.length; k++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await cases[k]![1]();
      times[k]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[k]! += c.user + c.system;
    }
  const rows = [];
  for (let k = 0; k < cases.length; k++) {
    const [name, call, pid] = cases[k]!;
    const s0 = processCpuUs(pid);
    for (let i = 0; i < 2000; i++) await call();
    const serverCpu = (processCpuUs(pid) - s0) / 2000;
    const sorted = times[k]!.sort((a, b) => a - b);
    rows.push({
      case: name,
      medianUs: Math.round(quantile(sorted, 0.5) * 1000),
      p99Us: Math.round(quantile(sorted, 0.99) * 1000),
      clientCpuUs: Math.round(cpu[k]! / calls),
      serverCpuUs: Math.round(serverCpu),
    });
  }
  console.table(rows);
  console.log(`calls: ${calls} of each; load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
  httpChild.stdin.end();
  pipeChild.stdin.end();
}

if (process.argv[2] === 'http-child') serveHttpChild();
else if (process.argv[2] === 'pipe-child') servePipeChild();
else await main();
