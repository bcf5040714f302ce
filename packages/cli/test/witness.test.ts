import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWitness } from '@edca/audit';
import { runCli } from '@edca/cli';
import {
  addTrustedKey,
  createNodeSigner,
  generateKeyPair,
  serializeTrustFile,
  trustedKeyFor,
  writePrivateKeyFile,
} from '@edca/records';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointRequest, createFileWitnessStore, serveWitness } from '../src/commands/witness.js';
import { captureIo } from '../../../test/helpers/cli-io.js';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';
import { toText } from '../../../test/helpers/tamper.js';

let dir: string;
let j: GeneratedJournal;
let key: string;
let trust: string;
let early: string;
let full: string;
const witnessKey = generateKeyPair(Buffer.alloc(32, 7));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-witness-'));
  j = await generateJournal({ records: 120, checkpointEvery: 30, seed: 4 });
  key = join(dir, 'witness.key.pem');
  writePrivateKeyFile(key, witnessKey.privateKeyPem);
  trust = join(dir, 'trust.json');
  const entry = trustedKeyFor(witnessKey.publicKey, 'witness', '2020-01-01T00:00:00.000Z', {
    name: 'witness A',
  });
  writeFileSync(trust, serializeTrustFile(addTrustedKey(j.keys.trust, entry)));
  early = join(dir, 'early.jsonl');
  writeFileSync(early, toText(j.lines.slice(0, j.seqs.checkpoints[1])));
  full = join(dir, 'full.jsonl');
  writeFileSync(full, j.text);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edca witness cosign', () => {
  it('cosigns a log as it grows across runs, refuses it cut back, and audit verify --witnesses finds the cut', async () => {
    const state = join(dir, 'state');
    const out = join(dir, 'witnessed.json');
    const args = ['--key', key, '--trust', trust, '--state', state, '--out', out];
    const first = captureIo();
    expect(await runCli(['witness', 'cosign', early, ...args], first)).toBe(0);
    expect(first.out()).toContain('(first checkpoint of this log)');
    const second = captureIo();
    expect(await runCli(['witness', 'cosign', full, ...args], second), second.err()).toBe(0);
    expect(second.out()).toMatch(
      /COSIGNED: .* size \d+ by witness .* \(consistent with the cosigned size \d+\)/,
    );

    const rollback = captureIo();
    expect(await runCli(['witness', 'cosign', early, ...args], rollback)).toBe(1);
    expect(rollback.err()).toContain('WITNESS_ROLLBACK');

    const intact = captureIo();
    expect(await runCli(['audit', 'verify', full, '--trust', trust, '--witnesses', out], intact)).toBe(0);
    expect(intact.out()).toMatch(/witnessed: records 1\.\.\d+ cosigned by 1 witness\(es\)/);
    // The cut journal verifies intact on its own, but not against the witness.
    expect(await runCli(['audit', 'verify', early, '--trust', trust], captureIo())).toBe(0);
    const cut = captureIo();
    expect(await runCli(['audit', 'verify', early, '--trust', trust, '--witnesses', out], cut)).toBe(1);
    expect(cut.out()).toContain('TRUNCATED');
    const quorum = captureIo();
    const strict = ['--witnesses', out, '--witness-quorum', '2'];
    expect(await runCli(['audit', 'verify', early, '--trust', trust, ...strict], quorum)).toBe(0);
    expect(quorum.out()).toContain(
      'witnessed: no checkpoint of this stream with enough valid witness cosignatures',
    );
  });

  it('exits 2 with WITNESS_STATE_CORRUPT when its state file is damaged, and cosigns nothing', async () => {
    const state = join(dir, 'corrupt-state');
    const out = join(dir, 'corrupt-witnessed.json');
    const args = ['--key', key, '--trust', trust, '--state', state, '--out', out];
    expect(await runCli(['witness', 'cosign', early, ...args], captureIo())).toBe(0);
    for (const f of readdirSync(state)) writeFileSync(join(state, f), '{"origin":');
    const io = captureIo();
    expect(await runCli(['witness', 'cosign', full, ...args], io)).toBe(2);
    expect(io.err()).toContain('WITNESS_STATE_CORRUPT');
  });

  it('exits 2 with WITNESS_FILE_INVALID for a malformed witnesses file', async () => {
    const bad = join(dir, 'bad-witnessed.json');
    writeFileSync(bad, '{"version":2}');
    const io = captureIo();
    expect(await runCli(['audit', 'verify', full, '--trust', trust, '--witnesses', bad], io)).toBe(2);
    expect(io.err()).toContain('WITNESS_FILE_INVALID');
  });
});

describe('edca witness serve (HTTP)', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const { parseTrustFile } = await import('@edca/records');
    const { readFileSync } = await import('node:fs');
    const witness = createWitness({
      signer: createNodeSigner(witnessKey.privateKeyPem),
      trust: parseTrustFile(readFileSync(trust, 'utf8')),
      store: createFileWitnessStore(join(dir, 'http-state')),
    });
    server = await serveWitness(witness, 0, '127.0.0.1');
    const addr = server.address() as { port: number };
    url = `http://127.0.0.1:${addr.port}/add-checkpoint`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = async (body: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('cosigns over HTTP, answers a stale old size with 409 and the size it holds, and a bad body with 400', async () => {
    const journal = Buffer.from(j.text);
    const ok = await post(JSON.stringify(checkpointRequest(journal, 0)));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ ok: true, cosignature: { kid: witnessKey.kid } });
    const stale = await post(JSON.stringify(checkpointRequest(Buffer.from(toText(j.lines.slice(0, 40))), 0)));
    expect(stale.status).toBe(409);
    expect(stale.json).toMatchObject({ ok: false, code: 'WITNESS_CONFLICT' });
    const bad = await post('not json');
    expect(bad).toMatchObject({ status: 400, json: { code: 'WITNESS_BAD_REQUEST' } });
  });
});
