/**
 * What a `tools/call` through MCP adds over calling the kernel directly (issue 15, item 8): the
 * same permitted `freeze_card` decided, journaled (no fsync) and executed by a no-op handler,
 * - directly: `kernel.decide` + `kernel.execute` (the baseline)
 * - through the MCP server in process (linked in-memory transports): the server's own cost
 * - over stdio to a child process serving the same kernel
 * - over Streamable HTTP on 127.0.0.1 (server and client in this process)
 * Target: ≤ 1 ms added per call on loopback (median).
 *
 *   pnpm bench mcp            # a table
 *   pnpm bench mcp --json     # one JSON object
 */
import { fileURLToPath } from 'node:url';
import { Client, InMemoryTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { serveHttp } from '@edca/mcp';
import { makeBenchServer, type BenchServer } from './fixtures/mcp-bench-server.js';
import { report, runCases, type BenchRow } from './harness.js';

const SESSION = { stream: 'bench', session: 'direct' };
const root = fileURLToPath(new URL('../', import.meta.url));

async function refOf(client: Client): Promise<string> {
  const res = await client.readResource({ uri: 'edca://view/mcp-servicing' });
  return (JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> })
    .entities['card']!;
}

function callCase(
  name: string,
  client: Client,
  card: string,
): { name: string; fn: () => Promise<void>; time: number } {
  return {
    name,
    time: 3000,
    fn: async () => {
      const r = await client.callTool({ name: 'freeze_card', arguments: { card } });
      if (r.isError === true) throw new Error(`${name}: ${JSON.stringify(r.structuredContent)}`);
    },
  };
}

async function main(): Promise<void> {
  const local: BenchServer = await makeBenchServer();
  const arp = local.kernel.arps.get('mcp-servicing')!;
  const view = arp.project(local.records, SESSION);
  if (!view.ok) throw new Error(view.code);
  const proposal = { intent: 'freeze_card', params: { card: view.value.entities['card']! } };
  const context = {
    session: SESSION,
    principal: { id: 'bench-agent', attributes: {} },
    proposer: { modelId: 'bench', promptTemplateDigest: `sha256:${'0'.repeat(64)}` },
  };
  const direct = {
    name: 'direct: kernel.decide + execute',
    time: 3000,
    fn: async () => {
      const d = await local.kernel.decide(proposal, context);
      if (d.permit === undefined) throw new Error(`direct: ${d.verdict} ${d.reasons.join(',')}`);
      const x = await local.kernel.execute(d.permit, { session: SESSION });
      if (x.status !== 'completed') throw new Error(`direct: ${x.status}`);
    },
  };

  const [c, s] = InMemoryTransport.createLinkedPair();
  await local.mcp.connect(s);
  const memory = new Client({ name: 'bench', version: '1' });
  await memory.connect(c);

  const http = await serveHttp(local.mcp, { port: 0 });
  const httpClient = new Client({ name: 'bench', version: '1' });
  await httpClient.connect(new StreamableHTTPClientTransport(new URL(http.url)));

  const stdio = new Client({ name: 'bench', version: '1' });
  await stdio.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', fileURLToPath(new URL('./fixtures/mcp-bench-server.ts', import.meta.url))],
      cwd: root,
    }),
  );

  const rows: BenchRow[] = await runCases('mcp', [
    direct,
    callCase('tools/call, in-memory transport', memory, await refOf(memory)),
    callCase('tools/call, stdio (child process)', stdio, await refOf(stdio)),
    callCase('tools/call, Streamable HTTP 127.0.0.1', httpClient, await refOf(httpClient)),
  ]);
  const base = rows[0]!;
  const added = Object.fromEntries(
    rows.slice(1).map((r) => [
      r.name,
      {
        medianAddedUs: Number((r.medianUs - base.medianUs).toFixed(1)),
        p99AddedUs: Number((r.p99Us - base.p99Us).toFixed(1)),
      },
    ]),
  );
  report('mcp', rows, { addedOverDirect: added, target: 'median added ≤ 1000 µs on loopback' });
  await Promise.allSettled([memory.close(), httpClient.close(), stdio.close()]);
  await http.close();
  await local.close();
}

await main();
