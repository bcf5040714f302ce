// Crash test of the governed session records (issue 16): a child process runs sessions on the file
// journal and is killed with SIGKILL at random moments. After each kill the journal is reopened
// (recovery cuts a torn tail) and verified by @edca/audit: intact, and every `intake.refused` and
// `session.ended` record the child saw resolve is there with its seq and type.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeVerifyJournal } from '@edca/audit';
import { createNodeSigner, generateKeyPair, toBase64url, type TrustFile } from '@edca/records';
import { afterAll, describe, expect, it } from 'vitest';

const ROUNDS = Number(process.env['EDCA_CRASH_ROUNDS'] ?? 6);
const root = new URL('..', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'edca-session-crash-'));
const pem = generateKeyPair().privateKeyPem;
writeFileSync(join(dir, 'kernel.pem'), pem, { mode: 0o600 });
const signer = createNodeSigner(pem);
const trust: TrustFile = {
  version: 1,
  keys: [
    {
      kid: signer.kid,
      alg: 'Ed25519',
      publicKey: toBase64url(signer.publicKey),
      role: 'kernel',
      notBefore: '2020-01-01T00:00:00.000Z',
      notAfter: null,
    },
  ],
};

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(mode: 'work' | 'recover', killAfterMs?: number): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/models-session-crash-child.ts', dir, mode],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (killAfterMs !== undefined && out.includes('ready') && !child.killed) {
      setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    }
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve(out);
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });
}

describe('governed session records under SIGKILL', () => {
  it('keeps every record that resolved, and the journal verifies after each restart', async () => {
    const durable = new Map<number, string>();
    for (let round = 0; round < ROUNDS; round += 1) {
      const out = await run('work', 300 + Math.floor(Math.random() * 900));
      for (const m of out.matchAll(/^durable (\S+) (\d+)$/gm)) durable.set(Number(m[2]), m[1]!);
      await run('recover');
      const text = readFileSync(join(dir, 'journal.jsonl'), 'utf8');
      const r = await safeVerifyJournal(text, { trust, workers: 0 });
      const report = r.ok ? r.value : r.error.report!;
      expect(report.findings).toEqual([]);
      const bySeq = new Map(
        text
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as { seq: number; type: string })
          .map((rec) => [rec.seq, rec.type]),
      );
      for (const [seq, type] of durable) expect(bySeq.get(seq)).toBe(type);
    }
    expect([...durable.values()].filter((t) => t === 'session.ended').length).toBeGreaterThan(0);
    expect([...durable.values()].filter((t) => t === 'intake.refused').length).toBeGreaterThan(0);
  });
});
