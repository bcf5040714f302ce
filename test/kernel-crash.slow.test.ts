// Crash test (issue 5, item 10): a child process embeds the kernel with the file journal and
// performs governed executions; it is killed with SIGKILL at random moments, many times over.
// After every restart: the journal verifies (chain and signatures, via @edca/records), no handler
// ran without an earlier journaled permit and attempt, no permit was executed twice, and every
// attempt up to the recovery point ends in an outcome.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createNodeSigner,
  decodeRecord,
  generateKeyPair,
  recordHash,
  verifyRecord,
  type SignedRecord,
} from '@edca/records';

const ROUNDS = Number(process.env['EDCA_CRASH_ROUNDS'] ?? 10);
const root = new URL('..', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'edca-crash-'));
const pem = generateKeyPair().privateKeyPem;
writeFileSync(join(dir, 'kernel.pem'), pem, { mode: 0o600 });
const publicKey = createNodeSigner(pem).publicKey;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function startChild(
  mode: 'work' | 'recover',
  stall?: 'freeze-after' | 'unfreeze-before',
): {
  child: ChildProcess;
  ready: Promise<boolean>;
  stalled: Promise<boolean>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/kernel-crash-child.ts', dir, mode], {
    cwd: root,
    env: { ...process.env, EDCA_CRASH_STALL: stall ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let onStalled: (v: boolean) => void = () => undefined;
  const stalled = new Promise<boolean>((resolve) => {
    onStalled = resolve;
  });
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) resolve(true);
      if (b.toString().includes('stalled')) onStalled(true);
    });
    void exited.then((code) => {
      if (code !== null && code !== 0) throw new Error(`child failed (${code}): ${stderr}`);
      resolve(false);
      onStalled(false);
    });
  });
  return { child, ready, stalled, exited };
}

interface Scan {
  readonly records: { record: SignedRecord; hash: string }[];
}

// Lines whose signature was already verified in an earlier round (same seq, same bytes): the chain
// below is still checked on every line every round, so a changed line cannot hide behind this.
const verifiedLines = new Map<number, string>();

/** Verifies the whole journal file with @edca/records: strict decode, signature, seq and hash chain. */
function verifyJournalFile(): Scan {
  const text = readFileSync(join(dir, 'journal.jsonl'), 'utf8');
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a torn line the next open will cut away
  const records: { record: SignedRecord; hash: string }[] = [];
  let prev: string | null = null;
  for (const [i, line] of lines.entries()) {
    const record = decodeRecord(line);
    if (verifiedLines.get(i + 1) !== line) {
      verifyRecord(record, publicKey);
      verifiedLines.set(i + 1, line);
    }
    expect(record.seq).toBe(i + 1);
    expect(record.prev).toBe(prev);
    prev = recordHash(record);
    records.push({ record, hash: prev });
  }
  return { records };
}

function readEffects(): { h: string; key: string; card: string }[] {
  const path = join(dir, 'effects.jsonl');
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop();
  return lines.map((l) => JSON.parse(l) as { h: string; key: string; card: string });
}

type Effects = ReturnType<typeof readEffects>;

/**
 * Checks the invariants. `effects` must be read BEFORE the journal scan: a handler writes its effect
 * only after the attempt is durable, so every effect read earlier has its permit and attempt in the
 * later scan, even while the child keeps working.
 */
function checkInvariants(
  effects: Effects,
  scan: Scan,
  recoveredSeq: number,
): { permits: number; attempts: number; effects: number } {
  const permits = new Set<string>();
  const attempted = new Set<string>();
  const outcomes = new Map<string, string>();
  for (const { record, hash } of scan.records) {
    const body = record.body as Record<string, unknown>;
    if (record.type === 'decision' && body['verdict'] === 'permit') permits.add(hash);
    if (record.type === 'attempt') {
      // An attempt is only ever journaled for a permit journaled before it.
      expect(permits.has(body['permit'] as string)).toBe(true);
      if (record.seq <= recoveredSeq) attempted.add(body['permit'] as string);
    }
    if (record.type === 'outcome' && record.seq <= recoveredSeq) {
      outcomes.set(body['permit'] as string, body['status'] as string);
    }
  }
  const keys = effects.map((e) => e.key);
  // No handler ran without a journaled permit and attempt; no permit ran twice.
  for (const key of keys) {
    expect(permits.has(key), `effect for ${key} without a journaled permit`).toBe(true);
    expect(
      scan.records.some(
        (r) => r.record.type === 'attempt' && (r.record.body as Record<string, unknown>)['permit'] === key,
      ),
    ).toBe(true);
  }
  expect(new Set(keys).size).toBe(keys.length);
  // Every attempt up to the recovery point ends in an outcome; outcomes agree with the effects.
  for (const permit of attempted)
    expect(outcomes.has(permit), `attempt of ${permit} without outcome`).toBe(true);
  const done = new Set(keys);
  for (const [permit, status] of outcomes) {
    if (status === 'completed') expect(done.has(permit)).toBe(true);
    if (done.has(permit)) expect(['completed', 'unknown']).toContain(status);
  }
  return { permits: permits.size, attempts: attempted.size, effects: keys.length };
}

describe('kernel crash safety', () => {
  describe('when the host is SIGKILLed at random moments, again and again', () => {
    it(
      'resolves an attempt cut off between its journaled attempt and its outcome',
      { timeout: 120_000 },
      async () => {
        // Killed inside the handler: once after the freeze took effect (its idempotency check says
        // completed), once before an unfreeze took effect (no check: unknown, escalated).
        for (const [stall, expected] of [
          ['freeze-after', 'completed'],
          ['unfreeze-before', 'unknown'],
        ] as const) {
          rmSync(join(dir, 'recovered.json'), { force: true });
          const worker = startChild('work', stall);
          expect(await worker.ready).toBe(true);
          expect(await worker.stalled).toBe(true);
          worker.child.kill('SIGKILL');
          await worker.exited;
          const restart = startChild('recover');
          expect(await restart.exited).toBe(0);
          const recovered = JSON.parse(readFileSync(join(dir, 'recovered.json'), 'utf8')) as {
            dangling: number;
            resolved: { permit: string; status: string }[];
            headSeq: number;
          };
          expect(recovered.dangling).toBe(1);
          expect(recovered.resolved.map((r) => r.status)).toEqual([expected]);
          const effects = readEffects();
          const scan = verifyJournalFile();
          checkInvariants(effects, scan, recovered.headSeq);
          const cut = recovered.resolved[0]!.permit;
          expect(effects.some((e) => e.key === cut)).toBe(expected === 'completed');
          if (expected === 'unknown') {
            const escalation = scan.records.filter((r) => r.record.type === 'decision').at(-1)!;
            expect(escalation.record.body).toMatchObject({
              verdict: 'escalate',
              reasons: ['OUTCOME_UNKNOWN'],
            });
          }
        }
      },
    );

    it('keeps the journal verifiable and every execution accounted for', { timeout: 300_000 }, async () => {
      let checked = 0;
      for (let round = 0; round < ROUNDS; round += 1) {
        rmSync(join(dir, 'recovered.json'), { force: true });
        const { child, ready, exited } = startChild('work');
        // Mostly kill while executing; sometimes during startup recovery itself.
        const duringStartup = round % 5 === 4;
        if (duringStartup) {
          await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
        } else {
          expect(await ready).toBe(true);
          const recovered = JSON.parse(readFileSync(join(dir, 'recovered.json'), 'utf8')) as {
            headSeq: number;
          };
          const effects = readEffects();
          checkInvariants(effects, verifyJournalFile(), recovered.headSeq);
          checked += 1;
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
        }
        child.kill('SIGKILL');
        await exited;
      }
      // A final restart that only recovers, then the full check.
      rmSync(join(dir, 'recovered.json'), { force: true });
      const { exited } = startChild('recover');
      expect(await exited).toBe(0);
      const recovered = JSON.parse(readFileSync(join(dir, 'recovered.json'), 'utf8')) as { headSeq: number };
      const effects = readEffects();
      const scan = verifyJournalFile();
      // After the recovery point, a clean close adds only its sealing checkpoint.
      expect(scan.records.slice(recovered.headSeq).map((r) => r.record.type)).toEqual(['checkpoint']);
      const last = checkInvariants(effects, scan, recovered.headSeq);
      expect(checked).toBeGreaterThan(ROUNDS / 2);
      // The run did real work: permits were executed across the crashes.
      expect(last.effects).toBeGreaterThan(ROUNDS);
      expect(last.attempts).toBeGreaterThanOrEqual(last.effects);
    });
  });
});
