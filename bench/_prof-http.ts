import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { serveHttp } from '@edca/mcp';
import { makeBenchServer } from './fixtures/mcp-bench-server.js';
const local = await makeBenchServer();
const http = await serveHttp(local.mcp, { port: 0 });
const c = new Client({ name: 'bench', version: '1' });
await c.connect(new StreamableHTTPClientTransport(new URL(http.url)));
const res = await c.readResource({ uri: 'edca://view/mcp-servicing' });
const card = (JSON.parse((res.contents[0] as { text: string }).text) as { entities: Record<string, string> }).entities['card']!;
const n = Number(process.env['N'] ?? 1500);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const r = await c.callTool({ name: 'freeze_card', arguments: { card } });
  if (r.isError === true) throw new Error(JSON.stringify(r.structuredContent));
}
console.log(`${n} calls, ${((performance.now() - t0) / n).toFixed(3)} ms/call`);
await c.close(); await http.close(); await local.close();
