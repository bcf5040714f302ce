// End to end: the README's main job (`edca demo --out DIR`) writes a journal that @edca/audit
// verifies, with exactly the decisions the scripted session should produce, and two fixed-clock
// runs with the same keys write the same bytes (in-process, and through the built CLI when built).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplayMaps, verifyJournal, type AuditReport } from '@edca/audit';
import { runCli, type CliIo } from '@edca/cli';
import { parseTrustFile } from '@edca/records';
import { loadStateMap } from '@edca/semantic';

const root = fileURLToPath(new URL('..', import.meta.url));
const builtCli = join(root, 'packages', 'cli', 'dist', 'main.js');
const builtDemo = join(root, 'packages', 'cli', 'dist', 'commands', 'demo.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function demo(args: readonly string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    isTty: false,
  };
  const code = await runCli(['demo', ...args], io);
  return { code, stdout, stderr };
}

interface JournalLine {
  type: string;
  body: {
    verdict?: string;
    reasons?: string[];
    status?: string;
    error?: { code?: string };
    input?: { proposal?: { intent?: string } };
  };
}

function lines(path: string): JournalLine[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as JournalLine);
}

function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

let dir: string;
let first: Run;
let firstOut: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-demo-'));
  firstOut = join(dir, 'first');
  first = await demo(['--out', firstOut, '--clock', 'fixed']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edca demo', () => {
  describe('when run as the README runs it', () => {
    it('exits 0 and writes the journal, the trust file, the map and the keys', async () => {
      const out = join(dir, 'readme');
      const run = await demo(['--out', out]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      for (const f of ['journal.jsonl', 'trust.json', 'maps/retail-banking.yaml', 'keys/kernel.key.pem'])
        expect(existsSync(join(out, f)), f).toBe(true);
      expect(run.stdout).toContain('INTACT (full verification, stream retail-demo)');
    });
  });

  describe('when its journal is verified with @edca/audit', () => {
    let report: AuditReport;
    beforeAll(async () => {
      const trust = parseTrustFile(readFileSync(join(firstOut, 'trust.json'), 'utf8'));
      const map = loadStateMap(readFileSync(join(firstOut, 'maps/retail-banking.yaml'), 'utf8'), 'map.yaml');
      if (!map.ok) throw new Error('the demo map does not load');
      report = await verifyJournal(readFileSync(join(firstOut, 'journal.jsonl')), {
        trust,
        maps: createReplayMaps([map.value]),
      });
    });

    it('is intact and every decision replays to the same verdict', () => {
      expect(first.code).toBe(0);
      expect(report.ok).toBe(true);
      expect(report.findings).toEqual([]);
      expect(report.replay).toEqual({ decisions: 8, replayed: 8, mismatches: 0 });
      expect(report.unfinished).toEqual([]);
      expect(report.keysUsed.map((k) => k.role).sort()).toEqual(['kernel', 'refund-approver']);
    });

    it('holds exactly the expected decisions, approvals and outcomes', () => {
      const records = lines(join(firstOut, 'journal.jsonl'));
      const decisions = records.filter((r) => r.type === 'decision');
      expect(tally(decisions.map((d) => d.body.verdict!))).toEqual({ permit: 6, refuse: 1, escalate: 1 });
      expect(tally(decisions.flatMap((d) => d.body.reasons!))).toEqual({
        ALLOWED: 5,
        NOT_ALLOWED: 1,
        APPROVAL_REQUIRED: 1,
        APPROVALS_MET: 1,
      });
      expect(tally(decisions.map((d) => `${d.body.verdict!}:${d.body.input!.proposal!.intent!}`))).toEqual({
        'permit:refund_payment': 2,
        'refuse:refund_payment': 1,
        'escalate:refund_payment': 1,
        'permit:freeze_card': 1,
        'permit:offer_payment_plan': 1,
        'permit:waive_fee': 1,
        'permit:withdraw_payment_plan': 1,
      });
      expect(tally(records.filter((r) => r.type === 'outcome').map((o) => o.body.status!))).toEqual({
        completed: 5,
        failed: 1,
        compensated: 1,
      });
      expect(records.filter((r) => r.type === 'approval')).toHaveLength(1);
      // One attempt per executed permit: the fee waiver's business refusal is final, not retried.
      expect(records.filter((r) => r.type === 'attempt')).toHaveLength(6);
      const failed = records.find((r) => r.type === 'outcome' && r.body.status === 'failed');
      expect(failed?.body).toMatchObject({ error: { code: 'HANDLER_FAILED_FINAL' } });
    });

    it('refused the drifting outputs at intake, before the kernel, with stable codes', () => {
      expect(first.stdout).toContain(
        'refused at intake (never reached the kernel): REF_NOT_ISSUED 1, SCHEMA_VIOLATION 2, UNKNOWN_INTENT 4',
      );
      // The invented params are named, so whoever reads the transcript sees what to drop.
      expect(first.stdout).toMatch(
        /SCHEMA_VIOLATION · arp\.intake \(\/currency unrecognized_keys, \/notify_customer\s+unrecognized_keys\)/,
      );
      for (const tool of ['search_user', 'find_user', 'search', 'database_query'])
        expect(first.stdout).toMatch(
          new RegExp(`proposes {2}${tool} [^▸]*decision {2}refuse · UNKNOWN_INTENT · arp\\.intake`),
        );
    });

    it('never journals a private id of the bank (the model and the journal see refs)', () => {
      const text = readFileSync(join(firstOut, 'journal.jsonl'), 'utf8');
      for (const id of ['PMT-2026-11-0093312', 'tok_9b27e0d415', '40-22-61 70334518', 'C-0048213377'])
        expect(text).not.toContain(id);
      expect(text).toContain('"intent":"refund_payment"');
    });
  });

  describe('when run twice with the fixed clock and the same keys', () => {
    it('writes byte-identical journals', async () => {
      const second = join(dir, 'second');
      const run = await demo(['--out', second, '--keys', join(firstOut, 'keys'), '--clock', 'fixed']);
      expect(run.code).toBe(0);
      const a = readFileSync(join(firstOut, 'journal.jsonl'));
      const b = readFileSync(join(second, 'journal.jsonl'));
      expect(a.length).toBeGreaterThan(10_000);
      expect(b.equals(a)).toBe(true);
      expect(existsSync(join(second, 'keys'))).toBe(false);
    });
  });

  describe('when the out directory already holds a journal', () => {
    it('refuses with exit 2 and leaves the journal untouched', async () => {
      const before = readFileSync(join(firstOut, 'journal.jsonl'));
      const run = await demo(['--out', firstOut]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('OUT_EXISTS');
      expect(readFileSync(join(firstOut, 'journal.jsonl')).equals(before)).toBe(true);
    });
  });

  describe('when the key directory is incomplete or too open', () => {
    it('refuses with exit 2 and a stable code, before writing any journal', async () => {
      const keys = join(dir, 'partial-keys');
      mkdirSync(keys);
      copyFileSync(join(firstOut, 'keys', 'kernel.key.pem'), join(keys, 'kernel.key.pem'));
      const partial = await demo(['--out', join(dir, 'partial'), '--keys', keys]);
      expect(partial.code).toBe(2);
      expect(partial.stderr).toContain('KEYS_INCOMPLETE');
      expect(existsSync(join(dir, 'partial', 'journal.jsonl'))).toBe(false);

      const open = join(dir, 'open-keys');
      mkdirSync(open);
      for (const f of ['kernel.key.pem', 'approver.key.pem', 'ref-key.b64u'])
        copyFileSync(join(firstOut, 'keys', f), join(open, f));
      chmodSync(join(open, 'ref-key.b64u'), 0o644);
      const tooOpen = await demo(['--out', join(dir, 'open'), '--keys', open]);
      expect(tooOpen.code).toBe(2);
      expect(tooOpen.stderr).toContain('KEY_FILE_PERMISSIONS');
    });
  });

  describe.skipIf(!existsSync(builtDemo))('when the built CLI runs it', () => {
    it('exits 0 and writes the same journal as the in-process run', () => {
      const out = join(dir, 'built');
      const r = spawnSync(
        process.execPath,
        [builtCli, 'demo', '--out', out, '--keys', join(firstOut, 'keys'), '--clock', 'fixed'],
        { cwd: root, encoding: 'utf8', timeout: 120_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(
        readFileSync(join(out, 'journal.jsonl')).equals(readFileSync(join(firstOut, 'journal.jsonl'))),
      ).toBe(true);
    });
  });
});
