// A server configuration as a host writes one: `edca serve --config` loads this module (through
// tsx) in a child process. Keys, trust file and journal live in EDCA_MCP_TEST_DIR.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { defineServer } from '@edca/mcp';
import { createServicingBank, MAP_PATH, servicingHandlers, servicingRecords } from './bank.js';

const dir = process.env['EDCA_MCP_TEST_DIR'] ?? '.';
const bank = createServicingBank();

export default defineServer({
  maps: [fileURLToPath(MAP_PATH)],
  keys: { kernel: join(dir, 'kernel.key.pem'), refKey: join(dir, 'ref-key.b64u') },
  trust: join(dir, 'trust.json'),
  journal: join(dir, 'journal.jsonl'),
  stream: 'mcp-test',
  approvals: { pollMs: 50 },
  principal: { id: 'agent-7', attributes: {} },
  views: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
  loaders: { 'mcp-servicing': () => Promise.resolve(servicingRecords(bank)) },
  handlers: servicingHandlers(bank),
});
