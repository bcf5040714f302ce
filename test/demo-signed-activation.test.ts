// `edca demo --require-signed-activation`: the demo kernel refuses to start without the policy
// owner's statement, and with one it journals the statement and the audit names its revision.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@edca/cli';
import {
  ACTIVATION_DOMAIN,
  createNodeSigner,
  generateKeyPair,
  serializeTrustFile,
  signActivation,
  trustedKeyFor,
} from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import { captureIo } from './helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'edca-demo-activation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function demo(args: string[]) {
  const io = captureIo();
  const code = await runCli(['demo', '--clock', 'fixed', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe('edca demo --require-signed-activation', () => {
  it('refuses to start without an activation (ACTIVATION_MISSING, exit 2), and runs with a signed one whose revision the audit reports', async () => {
    const refused = await demo(['--out', join(dir, 'a'), '--require-signed-activation']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('ACTIVATION_MISSING');

    const text = readFileSync(join(dir, 'a', 'maps', 'retail-banking.yaml'), 'utf8');
    const loaded = loadStateMap(text, 'retail-banking.yaml');
    if (!loaded.ok) throw new Error('demo map does not load');
    const map = loaded.value;
    const owner = createNodeSigner(generateKeyPair().privateKeyPem);
    const ownerTrust = join(dir, 'owner-trust.json');
    writeFileSync(
      ownerTrust,
      serializeTrustFile({
        version: 1,
        keys: [trustedKeyFor(owner.publicKey, 'policy-owner', '2020-01-01T00:00:00.000Z')],
      }),
    );
    const activation = join(dir, 'activation.json');
    const signed = await signActivation(
      {
        domain: ACTIVATION_DOMAIN,
        map: map.name,
        mapDigest: map.digest,
        revision: 4,
        tests: `sha256:${'1'.repeat(64)}`,
        owner: { kid: owner.kid, role: 'policy-owner' },
        at: '2026-01-01T00:00:00.000Z',
      },
      owner,
    );
    writeFileSync(activation, JSON.stringify(signed));
    // Without the owner's key in the trust file the statement is not trusted.
    const untrusted = await demo([
      '--out',
      join(dir, 'b'),
      '--require-signed-activation',
      '--activation',
      activation,
    ]);
    expect(untrusted.code).toBe(2);
    expect(untrusted.err).toContain('ACTIVATION_UNTRUSTED');

    const ok = await demo([
      '--out',
      join(dir, 'c'),
      '--require-signed-activation',
      '--activation',
      activation,
      '--owner-trust',
      ownerTrust,
    ]);
    expect(ok.code).toBe(0);
    const first = JSON.parse(readFileSync(join(dir, 'c', 'journal.jsonl'), 'utf8').split('\n')[0]!) as {
      type: string;
      body: { activation?: unknown };
    };
    expect(first.type).toBe('policy.activated');
    expect(first.body.activation).toEqual(signed);
    const io = captureIo();
    expect(
      await runCli(
        ['audit', 'verify', join(dir, 'c', 'journal.jsonl'), '--trust', join(dir, 'c', 'trust.json')],
        io,
      ),
    ).toBe(0);
    expect(io.out()).toMatch(
      new RegExp(`seq 1  ${map.name} revision 4  ${map.digest}  owner ${owner.kid}  \\d+ decision`),
    );
  });
});
