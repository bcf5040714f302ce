// `edca serve --demo`: the demo's bank, map and keys as an MCP server configuration. Sessions see
// the first demo customer (a double charge: a refund within limits executes, one above £500
// escalates to the refund approver). DIR receives what `edca demo` writes: maps/, trust.json, keys/.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerConfig } from '@edca/mcp';
import { serializeTrustFile, trustedKeyFor } from '@edca/records';
import { CliError } from '../../exit-codes.js';
import { bankHandlers, createBank, CUSTOMERS, ownerOf, recordsFor } from './bank.js';
import { loadOrCreateKeys } from './keys.js';
import {
  APPROVER_NAME,
  APPROVER_ROLE,
  HANDLER_RETRIES,
  KEYS_NOT_BEFORE,
  loadMap,
  PRINCIPAL,
  STREAM,
} from './run.js';

/** What `edca serve --demo` prepared in its output folder. */
export interface DemoServeSetup {
  readonly config: ServerConfig;
  readonly journalPath: string;
  readonly trustPath: string;
  readonly mapsDir: string;
  readonly keysDir: string;
}

function write(path: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    throw new CliError(
      'IO_WRITE_FAILED',
      `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/**
 * Prepares `out` (maps, trust file, keys) and the configuration serving the demo bank; an existing
 * journal there is continued, so the keys must be the same ones (they are reused from `keys`).
 * @throws CliError IO_WRITE_FAILED, KEYS_* (unusable keys)
 */
export function demoServeSetup(out: string, keysDir?: string): DemoServeSetup {
  const mapsDir = join(out, 'maps');
  write(out, () => mkdirSync(mapsDir, { recursive: true }));
  const keys = loadOrCreateKeys(keysDir ?? join(out, 'keys'));
  const { map, path } = loadMap();
  write(join(mapsDir, 'retail-banking.yaml'), () => copyFileSync(path, join(mapsDir, 'retail-banking.yaml')));
  const trust = {
    version: 1 as const,
    keys: [
      trustedKeyFor(keys.kernel.publicKey, 'kernel', KEYS_NOT_BEFORE, { name: 'edca demo kernel' }),
      trustedKeyFor(keys.approver.publicKey, APPROVER_ROLE, KEYS_NOT_BEFORE, { name: APPROVER_NAME }),
    ],
  };
  const trustPath = join(out, 'trust.json');
  write(trustPath, () => writeFileSync(trustPath, serializeTrustFile(trust)));
  const bank = createBank();
  const journalPath = join(out, 'journal.jsonl');
  const config: ServerConfig = {
    maps: [map],
    keys: { kernel: keys.kernel, refKey: keys.refKey },
    trust,
    journal: journalPath,
    stream: STREAM,
    principal: { id: PRINCIPAL.id, attributes: { ...PRINCIPAL.attributes } },
    views: { [map.name]: () => Promise.resolve(recordsFor(bank, CUSTOMERS.okafor)) },
    loaders: {
      [map.name]: ({ refs }) => {
        const target = Object.values(refs)[0];
        const owner = target === undefined ? undefined : ownerOf(bank, target);
        return Promise.resolve(owner === undefined ? {} : recordsFor(bank, owner));
      },
    },
    handlers: bankHandlers(bank),
    retries: HANDLER_RETRIES,
    info: { name: 'edca-demo-bank', version: '0.1.0' },
  };
  return { config, journalPath, trustPath, mapsDir, keysDir: keys.dir };
}
