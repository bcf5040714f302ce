// A real edca MCP server for in-process tests: the real kernel, file journal, keys and ARP, and
// the official MCP client over the SDK's linked in-memory transports. Only the bank is a double.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { createKernel, openFileJournal, systemClock, type FileJournal, type Kernel } from '@edca/kernel';
import { createNodeSigner, generateKeyPair, trustedKeyFor, type Signer, type TrustFile } from '@edca/records';
import { createEdcaMcpServer, type EdcaMcpServer, type EdcaMcpServerOptions } from '../../src/index.js';
import {
  createServicingBank,
  loadServicingMap,
  servicingHandlers,
  servicingRecords,
  type ServicingBank,
} from './bank.js';

export interface McpFixture {
  readonly kernel: Kernel;
  readonly journal: FileJournal;
  readonly mcp: EdcaMcpServer;
  readonly bank: ServicingBank;
  readonly approver: Signer;
  readonly trust: TrustFile;
  readonly dir: string;
  /** Connects a new official MCP client over a linked in-memory pair (a new edca session, `mcp-<sessionId>`). */
  connect(sessionId?: string): Promise<Client>;
  close(): Promise<void>;
}

export const PRINCIPAL = { id: 'agent-7', attributes: {} };
/** The fixture's ref key: a test can mint the refs a session will be shown. */
export const FIXTURE_REF_KEY = new Uint8Array(32).fill(7);
/** The journal stream of the fixture: the `stream` half of its edca sessions. */
export const FIXTURE_STREAM = 'mcp-test';

export async function makeMcpFixture(extra: Partial<EdcaMcpServerOptions> = {}): Promise<McpFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'edca-mcp-'));
  const signer = createNodeSigner(generateKeyPair().privateKeyPem);
  const approver = createNodeSigner(generateKeyPair().privateKeyPem);
  const trust: TrustFile = {
    version: 1,
    keys: [
      trustedKeyFor(signer.publicKey, 'kernel', '2020-01-01T00:00:00.000Z'),
      trustedKeyFor(approver.publicKey, 'approver', '2020-01-01T00:00:00.000Z'),
    ],
  };
  const bank = createServicingBank();
  const map = loadServicingMap();
  const journal = await openFileJournal({
    path: join(dir, 'journal.jsonl'),
    stream: FIXTURE_STREAM,
    signer,
    fsync: false,
  });
  const kernel = await createKernel({
    maps: [map],
    loaders: { [map.name]: () => Promise.resolve(servicingRecords(bank)) },
    refKey: FIXTURE_REF_KEY,
    signer,
    journal,
    clock: systemClock,
    handlers: servicingHandlers(bank),
    trust,
  });
  const mcp = createEdcaMcpServer({
    kernel,
    stream: FIXTURE_STREAM,
    principal: PRINCIPAL,
    views: { [map.name]: () => Promise.resolve(servicingRecords(bank)) },
    ...extra,
  });
  const clients: Client[] = [];
  return {
    kernel,
    journal,
    mcp,
    bank,
    approver,
    trust,
    dir,
    async connect(sessionId) {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await mcp.connect(serverSide, sessionId);
      const client = new Client({ name: 'fixture-agent', version: '1.0.0' });
      await client.connect(clientSide);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await mcp.close();
      await kernel.close();
      await journal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
