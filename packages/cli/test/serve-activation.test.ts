// `edca serve --require-signed-activation --activation FILE` as a child process: it refuses to start
// without the policy owner's statement, and with one it journals the statement before serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ACTIVATION_DOMAIN,
  createNodeSigner,
  generateKeyPair,
  parseTrustFile,
  serializeTrustFile,
  signActivation,
  trustedKeyFor,
} from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import { writeServerKeys } from '../../mcp/test/support/keys.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cliMain = join(root, 'packages/cli/src/main.ts');
const config = join(root, 'packages/mcp/test/support/server.config.ts');
const mapFile = join(root, 'packages/mcp/test/support/servicing-map.yaml');

let dir: string | undefined;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGTERM');
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Runs `edca serve --config … --http 0 ARGS`; resolves when it listens (then stops it) or exits. */
function serve(args: string[]): Promise<{ code: number | null; listened: boolean; err: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cliMain, 'serve', '--config', config, '--http', '0', ...args],
    {
      cwd: root,
      env: { ...process.env, EDCA_MCP_TEST_DIR: dir! },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  let err = '';
  let listened = false;
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!listened && out.includes('listening on')) {
      listened = true;
      child.kill('SIGTERM');
    }
  });
  return new Promise((done) => child.once('exit', (code) => done({ code, listened, err })));
}

describe('edca serve --require-signed-activation', () => {
  it('exits 2 with ACTIVATION_MISSING without a statement, and serves with the owner-signed one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'edca-serve-activation-'));
    const { trust } = writeServerKeys(dir);
    const owner = createNodeSigner(generateKeyPair().privateKeyPem);
    const parsed = parseTrustFile(readFileSync(trust, 'utf8'));
    writeFileSync(
      trust,
      serializeTrustFile({
        version: 1,
        keys: [...parsed.keys, trustedKeyFor(owner.publicKey, 'policy-owner', '2020-01-01T00:00:00.000Z')],
      }),
    );
    const refused = await serve(['--require-signed-activation']);
    expect(refused).toMatchObject({ code: 2, listened: false });
    expect(refused.err).toContain('ACTIVATION_MISSING');

    const loaded = loadStateMap(readFileSync(mapFile, 'utf8'), mapFile);
    if (!loaded.ok) throw new Error('map does not load');
    const signed = await signActivation(
      {
        domain: ACTIVATION_DOMAIN,
        map: loaded.value.name,
        mapDigest: loaded.value.digest,
        revision: 1,
        tests: `sha256:${'2'.repeat(64)}`,
        owner: { kid: owner.kid, role: 'policy-owner' },
        at: '2026-01-01T00:00:00.000Z',
      },
      owner,
    );
    const activation = join(dir, 'activation.json');
    writeFileSync(activation, JSON.stringify(signed));
    const served = await serve(['--require-signed-activation', '--activation', activation]);
    // It listened (then the test stopped it): the kernel started with the statement.
    expect(served.listened).toBe(true);
    const first = JSON.parse(readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n')[0]!) as {
      type: string;
      body: { activation?: unknown };
    };
    expect(first).toMatchObject({ type: 'policy.activated', body: { activation: signed } });

    writeFileSync(activation, '{"statement":{}}');
    const bad = await serve(['--activation', activation]);
    expect(bad).toMatchObject({ code: 2, listened: false });
    expect(bad.err).toContain('ACTIVATION_FILE_INVALID');
  }, 120_000);
});
