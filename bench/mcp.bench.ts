/**
 * What a `tools/call` through MCP adds over calling the kernel directly (issue 15, item 8): the
 * same permitted `freeze_card` decided, journaled (no fsync) and executed by a no-op handler,
 * - directly: `kernel.decide` + `kernel.execute` (the baseline)
 * All kernels and servers, in this process and in the children, are `fixtures/mcp-bench-child.ts`
 * run from the packages' `dist` on the same map file and records: the baseline and the calls
 * through MCP run the same code with the same set-up (this process runs itself again with
 * bench/tsconfig.dist.json, so that tsx maps `@edca/*` to the dist, not to the sources).
 * - through the MCP server in process (linked in-memory transports): the server's own cost
 * - over stdio to a child process serving the same kernel set-up (from the packages' `dist`,
 *   without a TypeScript loader: `pnpm run build` first)
 * - over Streamable HTTP on 127.0.0.1, the server in this process (client and server share one
 *   thread, so each call pays both sides' CPU in turn)
 * - over Streamable HTTP on 127.0.0.1 to a child process serving the same kernel set-up (an agent
 *   and the server it calls are two processes, as with stdio)
 * The two HTTP cases run twice: the official client with its default `fetch` (Node's undici), and
 * the same client given `nodeHttpFetch()` from `@edca/mcp` (keep-alive `node:http`).
 *
 * Each transport is measured in pairs interleaved with the baseline (direct, then through MCP,
 * then the other order), after a warm-up of both: on a shared machine the load drifts within
 * seconds, and two cases measured one after the other would compare two different machines.
 * "Added" is median(through MCP) − median(direct) and p99(through MCP) − p99(direct) over the
 * same stretch of time; the median of the per-pair differences is reported beside it. The load
 * average before and after each transport is part of the result, and so is the CPU time per call
 * of each side: this process (per pair: the direct call plus the call through MCP) and, for a
 * child process, the child (from /proc, Linux only). For HTTP, `abortListeners` is how many abort
 * listeners the official client's transport signal holds at the end (docs/mcp.md, Known limits).
 * Target: ≤ 1 ms added per call on loopback (median).
 *
 *   pnpm bench mcp            # a table
 *   pnpm bench mcp --json     # one JSON object
 *   EDCA_MCP_BENCH_PAIRS=3000 pnpm bench mcp   # more pairs (default 1500, after the warm-up)
 *
 * The warm-up runs until the calls through MCP stop getting faster (see `warmUp`): a server
 * process that has just started, and a client on a transport it has not used yet, take thousands
 * of calls to reach their steady per-call cost (the JIT compiling the per-call path), and a
 * fixed 200 pairs measured part of that start-up as if every call paid it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { Client, InMemoryTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type * as EdcaMcp from '@edca/mcp';
import type * as BenchChild from './fixtures/mcp-bench-child.js';
import { benchRecords } from './fixtures/mcp-bench-server.js';
import { quantile, report, type BenchRow } from './harness.js';

const SESSION = { stream: 'bench', session: 'direct' };
const root = fileURLToPath(new URL('../', import.meta.url));

// This process's kernel must run the packages' dist as the server processes do, but tsx maps every
// `@edca/*` import, the dist's own included, to the sources through tsconfig.json's `paths`: run
// again with bench/tsconfig.dist.json, whose `paths` name the dist.
if (process.env['TSX_TSCONFIG_PATH'] === undefined) {
  const again = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'bench', 'tsconfig.dist.json') },
    },
  );
  process.exit(again.status ?? 1);
}
const PAIRS = Number(process.env['EDCA_MCP_BENCH_PAIRS'] ?? 1500);
/** Warm-up blocks of this many pairs, at least MIN_WARMUP_BLOCKS, at most MAX_WARMUP_BLOCKS. */
const WARMUP_BLOCK = 250;
const MIN_WARMUP_BLOCKS = 10;
const MAX_WARMUP_BLOCKS = 24;
if (!existsSync(fileURLToPath(new URL('../packages/mcp/dist/node-fetch.js', import.meta.url)))) {
  console.error('bench mcp: the server process runs from dist; run `pnpm run build` first');
  process.exit(2);
}

/**
 * The server process's script: `fixtures/mcp-bench-child.ts` with its types stripped and its
 * `@edca/*` imports pointed at the packages' `dist`, so the child runs without a TypeScript loader.
 */
function childScript(): string {
  const source = readFileSync(new URL('./fixtures/mcp-bench-child.ts', import.meta.url), 'utf8');
  const js = ts
    .transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    .outputText.replace(/from '@edca\/([a-z-]+)'/g, (_m, pkg: string) => {
      return `from '${new URL(`../packages/${pkg}/dist/index.js`, import.meta.url).href}'`;
    });
  const path = join(mkdtempSync(join(tmpdir(), 'edca-mcp-bench-child-')), 'server.mjs');
  writeFileSync(path, js);
  return path;
}
const serverScript = childScript();
const mapPath = fileURLToPath(new URL('../packages/mcp/test/support/servicing-map.yaml', import.meta.url));
const recordsJson = JSON.stringify(benchRecords());
const mapArgs = ['--map', mapPath, '--records', recordsJson];
// The same module (and so the same `@edca/*` dist modules) the server processes run.
const { startBenchServer } = (await import(pathToFileURL(serverScript).href)) as typeof BenchChild;
const { nodeHttpFetch, serveHttp } = (await import(
  new URL('../packages/mcp/dist/index.js', import.meta.url).href
)) as typeof EdcaMcp;

async function refOf(client: Client): Promise<string> {
  const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
  return (JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> })
    .entities['card']!;
}

function callVia(name: string, client: Client, card: string): () => Promise<void> {
  return async () => {
    const r = await client.callTool({ name: 'freeze_card', arguments: { card } });
    if (r.isError === true) throw new Error(`${name}: ${JSON.stringify(r.structuredContent)}`);
  };
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function row(name: string, samplesMs: readonly number[], cpuUs: number, note?: string): BenchRow {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5) * 1000;
  return {
    suite: 'mcp',
    name,
    samples: sorted.length,
    medianUs: round(median, 2),
    p99Us: round(quantile(sorted, 0.99) * 1000, 2),
    meanUs: round((sorted.reduce((a, b) => a + b, 0) / sorted.length) * 1000, 2),
    perSecond: Math.round(1e6 / median),
    cpuUs: round(cpuUs, 2),
    ...(note === undefined ? {} : { note }),
  };
}

/**
 * User + system CPU of another process so far, in µs, from /proc/<pid>/stat (fields 14 and 15,
 * in clock ticks of 10 ms on Linux); undefined where there is no /proc.
 */
function processCpuUs(pid: number | null | undefined): number | undefined {
  if (pid === null || pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/** How many abort listeners the official HTTP client transport's own signal holds (diagnostic). */
function abortListeners(transport: StreamableHTTPClientTransport): number {
  const signal = (transport as unknown as { _abortController?: AbortController })._abortController?.signal;
  return signal === undefined ? 0 : getEventListeners(signal, 'abort').length;
}

interface Paired {
  readonly rows: readonly [BenchRow, BenchRow];
  readonly added: {
    readonly medianAddedUs: number;
    readonly p99AddedUs: number;
    readonly pairedMedianAddedUs: number;
    readonly pairs: number;
    /** Pairs run before measuring, until the calls through MCP stopped getting faster. */
    readonly warmupPairs: number;
    /** The median call through MCP (µs) of each warm-up block of 250 pairs, in order. */
    readonly warmupBlockMediansUs: readonly number[];
    readonly loadBefore: number;
    readonly loadAfter: number;
    /** The server child's CPU per call through MCP (µs), when the server runs in a child process. */
    readonly serverCpuPerCallUs?: number;
  };
}

/**
 * Runs pairs of both in blocks until the calls through MCP reach their steady cost: at least
 * MIN_WARMUP_BLOCKS blocks, then until a block's median is no more than 3 % below the best median
 * before it (no longer improving), at most MAX_WARMUP_BLOCKS blocks. Returns the pairs it ran and
 * each block's median call through MCP (µs): how the cost fell while the process warmed up.
 */
async function warmUp(
  direct: () => Promise<void>,
  via: () => Promise<void>,
): Promise<{ pairs: number; blockMediansUs: number[] }> {
  const blockMediansUs: number[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let block = 1; block <= MAX_WARMUP_BLOCKS; block++) {
    const times: number[] = [];
    for (let i = 0; i < WARMUP_BLOCK; i++) {
      await direct();
      const t0 = performance.now();
      await via();
      times.push(performance.now() - t0);
    }
    const median = quantile(
      times.sort((a, b) => a - b),
      0.5,
    );
    blockMediansUs.push(round(median * 1000));
    const improving = median < best * 0.97;
    best = Math.min(best, median);
    if (block >= MIN_WARMUP_BLOCKS && !improving) return { pairs: block * WARMUP_BLOCK, blockMediansUs };
  }
  return { pairs: MAX_WARMUP_BLOCKS * WARMUP_BLOCK, blockMediansUs };
}

/** `pairs` calls of each, interleaved (alternating which goes first), after a warm-up of both. */
async function paired(
  name: string,
  direct: () => Promise<void>,
  via: () => Promise<void>,
  pairs: number,
  childPid?: number,
): Promise<Paired> {
  const warm = await warmUp(direct, via);
  const loadBefore = loadavg()[0]!;
  const d: number[] = [];
  const m: number[] = [];
  const cpu0 = process.cpuUsage();
  const child0 = processCpuUs(childPid);
  for (let i = 0; i < pairs; i++) {
    const first = i % 2 === 0 ? direct : via;
    const second = i % 2 === 0 ? via : direct;
    const t0 = performance.now();
    await first();
    const t1 = performance.now();
    await second();
    const t2 = performance.now();
    (first === direct ? d : m).push(t1 - t0);
    (first === direct ? m : d).push(t2 - t1);
  }
  const cpu = process.cpuUsage(cpu0);
  const child1 = processCpuUs(childPid);
  const serverCpu =
    child0 === undefined || child1 === undefined ? undefined : round((child1 - child0) / pairs);
  const cpuPerPair = (cpu.user + cpu.system) / pairs;
  const sd = [...d].sort((a, b) => a - b);
  const sm = [...m].sort((a, b) => a - b);
  const diffs = m.map((x, i) => x - d[i]!).sort((a, b) => a - b);
  return {
    rows: [
      row(`direct (interleaved with ${name})`, d, Number.NaN),
      row(`tools/call, ${name}`, m, cpuPerPair, 'cpu µs: this process, per pair (direct + call)'),
    ],
    added: {
      medianAddedUs: round((quantile(sm, 0.5) - quantile(sd, 0.5)) * 1000),
      p99AddedUs: round((quantile(sm, 0.99) - quantile(sd, 0.99)) * 1000),
      pairedMedianAddedUs: round(quantile(diffs, 0.5) * 1000),
      pairs,
      warmupPairs: warm.pairs,
      warmupBlockMediansUs: warm.blockMediansUs,
      loadBefore: round(loadBefore, 2),
      loadAfter: round(loadavg()[0]!, 2),
      ...(serverCpu === undefined ? {} : { serverCpuPerCallUs: serverCpu }),
    },
  };
}

async function main(): Promise<void> {
  const local = await startBenchServer(mapPath, recordsJson);
  const arp = local.kernel.arps.get('mcp-servicing')!;
  const view = arp.project(local.records, SESSION);
  if (!view.ok) throw new Error(view.code);
  const proposal = { intent: 'freeze_card', params: { card: view.value.entities['card']! } };
  const context = {
    session: SESSION,
    principal: { id: 'bench-agent', attributes: {} },
    proposer: { modelId: 'bench', promptTemplateDigest: `sha256:${'0'.repeat(64)}` },
  };
  const direct = async (): Promise<void> => {
    const d = await local.kernel.decide(proposal, context);
    if (d.permit === undefined) throw new Error(`direct: ${d.verdict} ${d.reasons.join(',')}`);
    const x = await local.kernel.execute(d.permit, { session: SESSION });
    if (x.status !== 'completed') throw new Error(`direct: ${x.status}`);
  };

  const [c, s] = InMemoryTransport.createLinkedPair();
  await local.mcp.connect(s);
  const memory = new Client({ name: 'bench', version: '1' });
  await memory.connect(c);

  const http = await serveHttp(local.mcp, { port: 0 });
  const httpTransport = new StreamableHTTPClientTransport(new URL(http.url));
  const httpClient = new Client({ name: 'bench', version: '1' });
  await httpClient.connect(httpTransport);
  const nodeTransport = new StreamableHTTPClientTransport(new URL(http.url), { fetch: nodeHttpFetch() });
  const nodeClient = new Client({ name: 'bench', version: '1' });
  await nodeClient.connect(nodeTransport);

  const stdioTransport = new StdioClientTransport({
    command: process.execPath,
    args: [serverScript, ...mapArgs],
    cwd: root,
  });
  const stdio = new Client({ name: 'bench', version: '1' });
  await stdio.connect(stdioTransport);

  const httpChild = spawn(process.execPath, [serverScript, ...mapArgs, '--http'], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const childUrl = await new Promise<string>((done, fail) => {
    httpChild.once('error', fail);
    httpChild.stdout.once('data', (line: Buffer) => done(line.toString('utf8').trim()));
  });
  const childTransport = new StreamableHTTPClientTransport(new URL(childUrl));
  const childClient = new Client({ name: 'bench', version: '1' });
  await childClient.connect(childTransport);
  const childNodeTransport = new StreamableHTTPClientTransport(new URL(childUrl), { fetch: nodeHttpFetch() });
  const childNodeClient = new Client({ name: 'bench', version: '1' });
  await childNodeClient.connect(childNodeTransport);

  const runs: [string, Client, number | undefined, StreamableHTTPClientTransport | undefined][] = [
    ['in-memory transport', memory, undefined, undefined],
    ['stdio (child process)', stdio, stdioTransport.pid ?? undefined, undefined],
    ['Streamable HTTP 127.0.0.1, server in this process', httpClient, undefined, httpTransport],
    [
      'Streamable HTTP 127.0.0.1, server in this process, nodeHttpFetch',
      nodeClient,
      undefined,
      nodeTransport,
    ],
    ['Streamable HTTP 127.0.0.1, server in a child process', childClient, httpChild.pid, childTransport],
    [
      'Streamable HTTP 127.0.0.1, server in a child process, nodeHttpFetch',
      childNodeClient,
      httpChild.pid,
      childNodeTransport,
    ],
  ];
  const rows: BenchRow[] = [];
  const added: Record<string, Paired['added'] & { abortListeners?: number }> = {};
  for (const [name, client, pid, transport] of runs) {
    const result = await paired(name, direct, callVia(name, client, await refOf(client)), PAIRS, pid);
    rows.push(...result.rows);
    added[`tools/call, ${name}`] = {
      ...result.added,
      ...(transport === undefined ? {} : { abortListeners: abortListeners(transport) }),
    };
  }
  report('mcp', rows, { addedOverDirect: added, target: 'median added ≤ 1000 µs on loopback' });
  await Promise.allSettled(
    [memory, httpClient, nodeClient, stdio, childClient, childNodeClient].map((c) => c.close()),
  );
  httpChild.stdin.end();
  await http.close();
  await local.close();
  rmSync(dirname(serverScript), { recursive: true, force: true });
}

await main();
