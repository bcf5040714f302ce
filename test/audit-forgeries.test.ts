// What an insider holding the kernel key could rewrite in a real journal (the demo's), with every
// signature valid and the history re-chained: each edit below once verified INTACT with --maps.
// Each must now be a finding located at the edited record.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplayMaps, safeVerifyJournal, type AuditReport, type ReplayMaps } from '@edca/audit';
import { runCli } from '@edca/cli';
import {
  decodeRecord,
  loadPrivateKeyFile,
  parseTrustFile,
  type JsonValue,
  type Signer,
  type TrustFile,
} from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import { captureIo } from './helpers/cli-io.js';
import { rewriteFrom, toText } from './helpers/tamper.js';

type Body = { [k: string]: JsonValue };

let dir: string;
let lines: string[];
let kernel: Signer;
let approver: Signer;
let trust: TrustFile;
let maps: ReplayMaps;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-forgeries-'));
  const out = join(dir, 'demo');
  expect(await runCli(['demo', '--out', out, '--clock', 'fixed'], captureIo())).toBe(0);
  lines = readFileSync(join(out, 'journal.jsonl'), 'utf8').trimEnd().split('\n');
  kernel = loadPrivateKeyFile(join(out, 'keys', 'kernel.key.pem'));
  approver = loadPrivateKeyFile(join(out, 'keys', 'approver.key.pem'));
  trust = parseTrustFile(readFileSync(join(out, 'trust.json'), 'utf8'));
  const map = loadStateMap(readFileSync(join(out, 'maps', 'retail-banking.yaml'), 'utf8'), 'map.yaml');
  if (!map.ok) throw new Error('the demo map does not load');
  maps = createReplayMaps([map.value]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const seqOf = (pred: (r: ReturnType<typeof decodeRecord>) => boolean): number =>
  lines.map((l) => decodeRecord(l)).find(pred)!.seq;

async function verifyEdited(seq: number, edit: (body: Body) => Body): Promise<AuditReport> {
  const forged = await rewriteFrom(lines, seq, kernel, (r) => ({ body: edit(r.body as Body) }), approver);
  const result = await safeVerifyJournal(toText(forged), { trust, maps });
  expect(result.ok).toBe(false);
  return result.ok ? result.value : result.error.report!;
}

function expectFinding(report: AuditReport, code: string, seq: number, text?: string): void {
  const hit = report.findings.find((f) => f.code === code && f.seq === seq);
  expect(hit, `${code} at seq ${seq} in ${JSON.stringify(report.findings)}`).toBeDefined();
  if (text !== undefined) expect(hit!.message).toContain(text);
}

describe('edca audit verify --maps on a journal rewritten with the kernel key', () => {
  it('is intact before any edit', async () => {
    const result = await safeVerifyJournal(toText(lines), { trust, maps });
    expect(result.ok).toBe(true);
  });

  it("finds an escalation whose pendingApproval.role was rewritten to 'kernel'", async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'escalate');
    const report = await verifyEdited(seq, (b) => ({
      ...b,
      pendingApproval: { ...(b['pendingApproval'] as Body), role: 'kernel' },
    }));
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'an approver role is required');
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'approver role "kernel" → refund-approver');
  });

  it('finds an escalation whose pendingApproval was removed', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'escalate');
    const report = await verifyEdited(seq, ({ pendingApproval: _p, ...b }) => b);
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'without pendingApproval');
  });

  it('finds an escalation waiting for another role than the map requires', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'escalate');
    const report = await verifyEdited(seq, (b) => ({
      ...b,
      pendingApproval: { ...(b['pendingApproval'] as Body), role: 'junior-agent' },
    }));
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'approver role "junior-agent" → refund-approver');
  });

  it('finds a permit naming a different accountable role', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, (b) => ({ ...b, accountable: 'nobody-in-particular' }));
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'accountable nobody-in-particular → refunds-team-lead');
  });

  it('finds a permit without expiresAt', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, ({ expiresAt: _e, ...b }) => b);
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'a permit without expiresAt');
  });

  it("finds an approval given after its escalation's approval window closed", async () => {
    const esc = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'escalate');
    const approval = seqOf((r) => r.type === 'approval');
    const report = await verifyEdited(esc, (b) => ({
      ...b,
      pendingApproval: { ...(b['pendingApproval'] as Body), expiresAt: decodeRecord(lines[esc - 1]!).at },
    }));
    expectFinding(report, 'APPROVAL_INVALID', approval, 'approval window closed');
  });
});
