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
  digestValue,
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

/** A decision body whose input was changed, with the decision key recomputed so only `what` is wrong. */
function withInput(b: Body, change: (input: Body) => Body): Body {
  const input = change(b['input'] as Body);
  return { ...b, input, decisionKey: digestValue(input) };
}

describe('edca audit verify: a decision body recomputed from its own input', () => {
  it('finds a permit whose proposal changed while its action hash was kept', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, (b) =>
      withInput(b, (input) => {
        const proposal = input['proposal'] as Body;
        return {
          ...input,
          proposal: { ...proposal, params: { ...(proposal['params'] as Body), amount: 199.99 } },
        };
      }),
    );
    expectFinding(
      report,
      'DECISION_INCONSISTENT',
      seq,
      'the action hash is not the hash of the recorded proposal',
    );
  });

  it('finds a refusal rewritten into a permit under a kernel.* rule', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'refuse');
    const at = decodeRecord(lines[seq - 1]!).at;
    const report = await verifyEdited(seq, (b) => ({
      ...b,
      verdict: 'permit',
      rule: 'kernel.intake',
      reasons: ['UNKNOWN_INTENT'],
      expiresAt: new Date(Date.parse(at) + 300_000).toISOString(),
    }));
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'kernel.intake only refuses');
  });

  it('finds a permit recorded for another principal than its input names', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, (b) => ({ ...b, principal: 'someone-else' }));
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'principal "someone-else"');
  });
});

describe("edca audit verify --maps: the kernel's own pre-checks replayed", () => {
  it('finds an UNKNOWN_INTENT refusal for an intent the pinned map knows', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'refuse');
    const report = await verifyEdited(seq, (b) => ({
      ...withInput(b, (input) => ({ ...input, counters: {} })),
      rule: 'kernel.intake',
      reasons: ['UNKNOWN_INTENT'],
    }));
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'the map knows intent refund_payment');
  });

  it('finds a kernel refusal that records counters the kernel never reads for it', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'refuse');
    const report = await verifyEdited(seq, (b) => ({
      ...b,
      rule: 'kernel.limits',
      reasons: ['LIMIT_EXCEEDED'],
    }));
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'kernel.limits refusal with approvals or counters');
  });

  it('finds an APPROVAL_REJECTED refusal without a rejected escalation of its action', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'refuse');
    const report = await verifyEdited(seq, (b) => ({
      ...withInput(b, (input) => ({ ...input, counters: {} })),
      rule: 'kernel.approval',
      reasons: ['APPROVAL_REJECTED'],
    }));
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'no earlier escalation of this action was rejected');
  });

  it('finds an OUTCOME_UNKNOWN escalation that follows no unknown outcome', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'escalate');
    const report = await verifyEdited(seq, (b) => ({
      ...b,
      rule: 'kernel.outcome-unknown',
      reasons: ['OUTCOME_UNKNOWN'],
    }));
    expectFinding(report, 'DECISION_INCONSISTENT', seq, 'not a permit whose last outcome is unknown');
  });

  it('finds a permit whose state hash is not the hash of its recorded state', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, (b) => ({ ...b, stateHash: digestValue('another state') }));
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'state hash');
  });

  it('finds a permit whose input holds counters its intent has no limit for', async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, (b) =>
      withInput(b, (input) => ({ ...input, counters: { ...(input['counters'] as Body), invented: 0 } })),
    );
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'counters');
  });

  it("finds a permit whose input carries a time the map does not read, or another than the record's", async () => {
    const seq = seqOf((r) => r.type === 'decision' && (r.body as Body)['verdict'] === 'permit');
    const report = await verifyEdited(seq, (b) =>
      withInput(b, (input) => ({ ...input, now: '2026-01-01T00:00:00.000Z' })),
    );
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'now');
  });

  it('finds a completed outcome whose transition is not the one the map gives the permit', async () => {
    const seq = seqOf((r) => r.type === 'outcome' && (r.body as Body)['status'] === 'completed');
    const report = await verifyEdited(seq, (b) => ({
      ...b,
      transition: { ...(b['transition'] as Body), to: 'partially_refunded' },
    }));
    expectFinding(report, 'REPLAY_MISMATCH', seq, 'transition');
  });
});
