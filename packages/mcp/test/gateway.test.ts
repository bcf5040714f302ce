// The gateway: a no-code YAML configuration whose routes and loaders are tools of an upstream MCP
// server (a child process written with the official SDK). The agent sees only the map's intents;
// upstream failures become outcomes, never crashes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { loadServerConfig, openServerRuntime, type ServerRuntime } from '../src/index.js';
import { writeServerKeys } from './support/keys.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const upstreamScript = fileURLToPath(new URL('./support/upstream-server.ts', import.meta.url));
const mapFile = fileURLToPath(new URL('./support/gateway-map.yaml', import.meta.url));
const HIDDEN = [
  'corebank',
  'CRDSVC',
  'CORE_READ',
  'SYSTEM OVERRIDE',
  'ignore your instructions',
  'tok_4f9a',
  'CRD_TBL',
];

let dir: string;
let runtime: ServerRuntime;
let client: Client;
let faultFile: string;
const logs: string[] = [];

function setFault(mode: string): void {
  writeFileSync(faultFile, mode);
}

type CallResult = Awaited<ReturnType<Client['callTool']>>;
const body = (r: CallResult): Record<string, unknown> => r.structuredContent as Record<string, unknown>;

function expectHidden(value: unknown): void {
  const text = JSON.stringify(value);
  for (const word of HIDDEN) expect(text).not.toContain(word);
}

async function cardRef(): Promise<string> {
  const res = await client.readResource({ uri: 'edca://view/mcp-gateway' });
  const text = (res.contents[0] as { text: string }).text;
  expectHidden(text);
  return (JSON.parse(text) as { entities: Record<string, string> }).entities['card']!;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-gateway-'));
  writeServerKeys(dir);
  faultFile = join(dir, 'fault');
  setFault('');
  const yaml = [
    `maps: [${JSON.stringify(mapFile)}]`,
    'keys: { kernel: kernel.key.pem, refKey: ref-key.b64u }',
    'trust: trust.json',
    'journal: journal.jsonl',
    'stream: gateway',
    'principal: { id: agent-7 }',
    'views: { mcp-gateway: "mcp:corebank/CORE_READ_CUSTOMER" }',
    'loaders: { mcp-gateway: { tool: "mcp:corebank/CORE_READ_CUSTOMER", arguments: { customer: C-1 } } }',
    'upstreams:',
    '  corebank:',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [--import, tsx, ${JSON.stringify(upstreamScript)}]`,
    `    cwd: ${JSON.stringify(root)}`,
    `    env: { UPSTREAM_FAULT_FILE: ${JSON.stringify(faultFile)} }`,
    'timeouts: { upstreamMs: 20000, handlerMs: 1500 }',
    'retries: 0',
  ].join('\n');
  writeFileSync(join(dir, 'gateway.yaml'), yaml);
  const loaded = await loadServerConfig(join(dir, 'gateway.yaml'));
  runtime = await openServerRuntime(loaded.config, { baseDir: loaded.baseDir, log: (l) => logs.push(l) });
  const [c, s] = InMemoryTransport.createLinkedPair();
  await runtime.mcp.connect(s);
  client = new Client({ name: 'gateway-agent', version: '1.0.0' });
  await client.connect(c);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the gateway in front of an upstream MCP server', () => {
  describe('when the agent lists tools and reads its view', () => {
    it('shows only the map intents: no upstream name, tool, schema or (poisoned) description', async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['freeze_card', 'unfreeze_card']);
      expectHidden(tools);
      const { resources } = await client.listResources();
      expectHidden(resources);
      expect(await cardRef()).toMatch(/^ref_/);
    });
  });

  describe('when a permitted call runs through the upstream tool', () => {
    it('executes it there and answers with the projected result only', async () => {
      const result = await client.callTool({ name: 'freeze_card', arguments: { card: await cardRef() } });
      expect(result.isError).toBe(false);
      expect(body(result)).toMatchObject({
        outcome: 'completed',
        view: { state: { machines: { card: 'frozen' } } },
      });
      expectHidden(result);
    }, 60_000);
  });

  describe('when the upstream fails', () => {
    it('turns an upstream error result into a failed outcome without its text', async () => {
      setFault('error');
      const result = await client.callTool({ name: 'unfreeze_card', arguments: { card: await cardRef() } });
      expect(result.isError).toBe(true);
      expect(body(result)).toMatchObject({ outcome: 'failed', error: 'HANDLER_FAILED' });
      expect(JSON.stringify(result)).not.toContain('CRDSVC-500');
      expectHidden(result);
    }, 60_000);

    it('turns a malformed upstream answer into a failed outcome', async () => {
      setFault('malformed');
      const result = await client.callTool({ name: 'unfreeze_card', arguments: { card: await cardRef() } });
      expect(body(result)).toMatchObject({ outcome: 'failed', error: 'HANDLER_FAILED' });
    }, 60_000);

    it('turns an upstream that does not answer in time into an unknown outcome', async () => {
      setFault('hang');
      const result = await client.callTool({ name: 'unfreeze_card', arguments: { card: await cardRef() } });
      expect(result.isError).toBe(true);
      expect(body(result)).toMatchObject({ outcome: 'unknown' });
    }, 60_000);

    it('refuses a decision whose records the upstream answered malformed (DERIVATION_FAILED)', async () => {
      const ref = await cardRef();
      setFault('read-malformed');
      const result = await client.callTool({ name: 'unfreeze_card', arguments: { card: ref } });
      expect(result.isError).toBe(true);
      expect(body(result)['edca_refusal']).toBe('DERIVATION_FAILED');
    }, 60_000);

    it('survives an upstream that crashes mid-call, and reconnects to a fresh one', async () => {
      setFault('');
      const ref = await cardRef();
      setFault('crash');
      const crashed = await client.callTool({ name: 'unfreeze_card', arguments: { card: ref } });
      expect(crashed.isError).toBe(true);
      expect(body(crashed)).toMatchObject({ outcome: 'failed' });
      setFault('');
      // The restarted upstream starts from its own opening data: the card is active again there.
      const fresh = await cardRef();
      const result = await client.callTool({ name: 'freeze_card', arguments: { card: fresh } });
      expect(body(result)).toMatchObject({ outcome: 'completed' });
    }, 60_000);
  });
});
