import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  MerkleAccumulator,
  createNodeSigner,
  leafHash,
  privateKeyPemFromSeed,
  toBase64url,
  verifyRecord,
} from '@edca/records';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openFileJournal, type AppendedRecord } from '@edca/kernel';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/journal-crash-child.ts', import.meta.url));
const ROUNDS = 30;
const BUDGET_MS = 60_000;
const MIN_ROUNDS = 10;
const CHECKPOINT_EVERY = 5;

interface Round {
  /** seq → hash of every append the child reported as resolved. */
  readonly acked: Map<number, string>;
  readonly sawReady: boolean;
}

/**
 * Runs the child, SIGKILLs it `delayMs` after its first acknowledged append (or after spawn when
 * `early`), and returns the acknowledgements from complete stdout lines. Timing the kill from the
 * first ack, not from `ready`, keeps a loaded machine (a worker signer slow to start) from turning
 * every round into a kill before anything was acknowledged.
 */
function runChild(
  path: string,
  seedHex: string,
  delayMs: number,
  early: boolean,
  signer: 'node' | 'worker',
): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, path, 'crash', seedHex, String(CHECKPOINT_EVERY), signer],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acked = new Map<number, string>();
    let sawReady = false;
    let buffer = '';
    let stderr = '';
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    if (early) setTimeout(kill, delayMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('ready')) {
          sawReady = true;
        } else if (line.startsWith('ack ')) {
          if (!early && acked.size === 0) setTimeout(kill, delayMs);
          for (const pair of line.slice(4).split(' ')) {
            const [seq, hash] = [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)];
            acked.set(Number(seq), hash);
          }
        }
        nl = buffer.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // A partial last stdout line (no newline) is ignored: it may not name a whole append.
      if (signal !== 'SIGKILL') {
        reject(new Error(`child exited with ${code} ${signal}: ${stderr}`));
        return;
      }
      resolve({ acked, sawReady });
    });
  });
}

async function readAll(path: string, signerSeed: Uint8Array): Promise<AppendedRecord[]> {
  const signer = createNodeSigner(privateKeyPemFromSeed(signerSeed));
  const journal = await openFileJournal({ path, stream: 'crash', signer, checkpointEvery: CHECKPOINT_EVERY });
  try {
    const out: AppendedRecord[] = [];
    for await (const r of journal.read()) out.push(r);
    return out;
  } finally {
    await journal.close();
  }
}

describe('file journal under SIGKILL', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edca-journal-crash-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when a writer is killed at random moments, many times over', () => {
    it('keeps every acknowledged record, an intact chain and valid checkpoints after every restart', async () => {
      const path = join(dir, 'journal.jsonl');
      const seed = randomBytes(32);
      const signer = createNodeSigner(privateKeyPemFromSeed(seed));
      const everAcked = new Map<number, string>();
      const verified = new Map<number, string>();
      let checkpoints = 0;
      const started = Date.now();
      let rounds = 0;
      let acks = 0;
      const acksBy = { node: 0, worker: 0 };
      // At least MIN_ROUNDS kills however slow the machine; up to ROUNDS within the time budget.
      for (let i = 0; i < ROUNDS && (i < MIN_ROUNDS || Date.now() - started < BUDGET_MS); i++) {
        // Mostly kill while appending; every fifth round kill early, possibly during open/recovery.
        const early = i % 5 === 4;
        const delay = early ? 150 + Math.floor(Math.random() * 900) : Math.floor(Math.random() * 400);
        // Alternate the signer: one by one on the writer's thread, or in batches on a worker thread.
        const kind = i % 2 === 1 ? 'worker' : 'node';
        const round = await runChild(path, seed.toString('hex'), delay, early, kind);
        rounds += 1;
        acks += round.acked.size;
        acksBy[kind] += round.acked.size;
        for (const [seq, hash] of round.acked) everAcked.set(seq, hash);

        // The parent reopens (taking over the dead child's lock) and checks everything.
        const records = await readAll(path, seed);
        let prev: string | null = null;
        const tree = new MerkleAccumulator();
        for (const [k, r] of records.entries()) {
          expect(r.record.seq).toBe(k + 1);
          expect(r.record.prev).toBe(prev);
          // Same hash as an earlier round's verified record means the same bytes: verify once.
          if (verified.get(r.record.seq) !== r.hash) {
            expect(() => verifyRecord(r.record, signer.publicKey)).not.toThrow();
            verified.set(r.record.seq, r.hash);
          }
          if (r.record.type === 'checkpoint') {
            expect(r.record.body).toEqual({ size: k, root: toBase64url(tree.root()) });
            checkpoints += 1;
          }
          tree.append(leafHash(r.bytes));
          prev = r.hash;
        }
        for (const [seq, hash] of everAcked) expect(records[seq - 1]?.hash).toBe(hash);
      }
      expect(rounds).toBeGreaterThanOrEqual(MIN_ROUNDS);
      expect(checkpoints).toBeGreaterThan(0);
      // The test must have exercised acknowledged appends, not only kills during startup.
      expect(acks).toBeGreaterThan(rounds);
      expect(acksBy.node).toBeGreaterThan(0);
      expect(acksBy.worker).toBeGreaterThan(0);
    });
  });
});
