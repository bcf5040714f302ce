import {
  canonicalize,
  decodeRecord,
  digestValue,
  isEd25519BackendAvailable,
  signingMessage,
  toBase64url,
  type JsonValue,
  type SignedRecord,
} from '@edca/records';
import {
  AuditError,
  safeVerifyJournal,
  verifyJournal,
  createReplayMaps,
  type AuditReport,
  type FindingCode,
} from '@edca/audit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  approvalMessage,
  createGeneratorKeys,
  generateJournal,
  JournalWriter,
  type GeneratedJournal,
} from '../../../test/helpers/journal-generator.js';
import {
  deleteLine,
  duplicateLine,
  flipByte,
  resignLine,
  rewriteFrom,
  swapLines,
  toText,
} from '../../../test/helpers/tamper.js';

let j: GeneratedJournal;
const rewrite = (
  lines: readonly string[],
  seq: number,
  _signer: unknown,
  edit: Parameters<typeof rewriteFrom>[3],
): Promise<string[]> => rewriteFrom(lines, seq, j.keys.kernel, edit, j.keys.approver);
beforeAll(async () => {
  j = await generateJournal({ records: 400, checkpointEvery: 50, seed: 7 });
});

async function findingsOf(
  journal: string | Uint8Array | readonly string[],
  workers = 0,
): Promise<AuditReport> {
  const r = await safeVerifyJournal(journal, { trust: j.keys.trust, workers });
  if (r.ok) return r.value;
  expect(r.error).toBeInstanceOf(AuditError);
  expect(r.error.code).toBe('JOURNAL_INVALID');
  return r.error.report!;
}

const has = (report: AuditReport, code: FindingCode, seq: number): boolean =>
  report.findings.some((f) => f.code === code && f.seq === seq);

const bodyOf = (r: SignedRecord): Record<string, JsonValue> => r.body as Record<string, JsonValue>;

describe('verifyJournal', () => {
  describe('when the journal is intact', () => {
    it('reports no finding, with counts, time range, keys and checkpoints', async () => {
      const report = await verifyJournal(j.text, { trust: j.keys.trust, workers: 0 });
      expect(report.ok).toBe(true);
      expect(report.findings).toEqual([]);
      expect(report.records).toBe(j.lines.length);
      expect(report.stream).toBe(j.stream);
      const total = Object.values(report.byType).reduce((a, b) => a + b, 0);
      expect(total).toBe(j.lines.length);
      expect(report.byType['checkpoint']).toBe(j.seqs.checkpoints.length);
      expect(report.byVerdict['permit']).toBe(j.seqs.permits.length);
      expect(report.timeRange?.first).toBe(j.sealed[0]!.record.at);
      expect(report.timeRange?.last).toBe(j.sealed.at(-1)!.record.at);
      expect(report.keysUsed.map((k) => k.kid).sort()).toEqual(
        [j.keys.kernel.kid, j.keys.approver.kid].sort(),
      );
      expect(report.signaturesChecked).toBe(j.lines.length + j.seqs.approvals.length);
      expect(report.checkpoints.last?.seq).toBe(j.lines.length);
      expect(report.checkpoints.uncovered).toBe(0);
      expect(report.unfinished).toEqual([]);
    });

    it('gives the same report with signature checks on worker threads', async () => {
      const inline = await verifyJournal(j.text, { trust: j.keys.trust, workers: 0 });
      const pooled = await verifyJournal(j.text, { trust: j.keys.trust, workers: 2 });
      expect(pooled).toEqual(inline);
    });

    it('accepts the journal as bytes, as text and as lines', async () => {
      for (const input of [Buffer.from(j.text), j.text, j.lines]) {
        expect((await findingsOf(input)).ok).toBe(true);
      }
    });

    it('passes the checkpoints-only mode, checking one signature per checkpoint', async () => {
      const r = await verifyJournal(j.text, { trust: j.keys.trust, mode: 'checkpoints-only' });
      expect(r.ok).toBe(true);
      expect(r.signaturesChecked).toBe(j.seqs.checkpoints.length);
      expect(r.checkpoints.count).toBe(j.seqs.checkpoints.length);
    });
  });

  describe('when a record is tampered with', () => {
    it('reports SIGNATURE_INVALID at the record and PREV_MISMATCH at the next for a changed character', async () => {
      const seq = j.seqs.permits[3]!;
      const line = j.lines[seq - 1]!;
      const at = line.indexOf('"rule":"refund.') + 9;
      const lines = [...j.lines];
      lines[seq - 1] = line.slice(0, at) + 'X' + line.slice(at + 1);
      for (const workers of [0, 2]) {
        const r = await findingsOf(lines, workers);
        expect(r.findings[0]).toMatchObject({ code: 'SIGNATURE_INVALID', seq, line: seq });
        expect(has(r, 'PREV_MISMATCH', seq + 1)).toBe(true);
      }
    });

    it('reports SIGNATURE_INVALID for a sig whose unused last bits are set (same 64 bytes, other line)', async () => {
      // The last of 86 base64url characters carries 2 bits; only A, Q, g, w leave the other 4 zero.
      // B, R, h, x decode to the same signature, so only the encoding check can see the change.
      const seq = j.lines.length;
      const line = j.lines[seq - 1]!;
      const end = line.indexOf('","stream":');
      const last = line[end - 1]!;
      expect('AQgw').toContain(last);
      const lines = [...j.lines];
      lines[seq - 1] = line.slice(0, end - 1) + String.fromCharCode(last.charCodeAt(0) + 1) + line.slice(end);
      for (const workers of [0, 2]) {
        const r = await findingsOf(lines, workers);
        expect(r.findings).toEqual([expect.objectContaining({ code: 'SIGNATURE_INVALID', seq, line: seq })]);
      }
      // In checkpoints-only mode the same holds for a checkpoint's own sig.
      const cp = j.lines.findLastIndex((l) => l.includes('"type":"checkpoint"'));
      const cpLine = j.lines[cp]!;
      const cpEnd = cpLine.indexOf('","stream":');
      const cpLines = j.lines.slice(0, cp + 1);
      cpLines[cp] =
        cpLine.slice(0, cpEnd - 1) +
        String.fromCharCode(cpLine.charCodeAt(cpEnd - 1) + 1) +
        cpLine.slice(cpEnd);
      const r = await safeVerifyJournal(cpLines, { trust: j.keys.trust, mode: 'checkpoints-only' });
      expect(r.ok ? [] : r.error.report!.findings).toEqual([
        expect.objectContaining({ code: 'SIGNATURE_INVALID', seq: cp + 1 }),
      ]);
    });

    it('reports LINE_NOT_CANONICAL for added whitespace', async () => {
      const lines = [...j.lines];
      lines[9] = lines[9]!.replace('{', '{ ');
      const r = await findingsOf(lines);
      expect(r.findings[0]).toMatchObject({ code: 'LINE_NOT_CANONICAL', seq: 10, line: 10 });
    });

    it('reports LINE_MALFORMED for a line that is not JSON, and for a blank line', async () => {
      const r = await findingsOf(['{"not":"a record"}', ...j.lines.slice(1)]);
      expect(r.findings[0]).toMatchObject({ code: 'LINE_MALFORMED', seq: 1 });
      const utf8 = await findingsOf(flipByte(j.text, j.text.indexOf('\n') - 1, 0xff));
      expect(utf8.findings[0]).toMatchObject({ code: 'LINE_NOT_CANONICAL', seq: 1 });
      const blank = [...j.lines.slice(0, 5), '', ...j.lines.slice(5)];
      const r2 = await findingsOf(blank);
      expect(r2.findings[0]).toMatchObject({ code: 'LINE_MALFORMED', line: 6 });
    });

    it('reports BODY_INVALID for a body its type refuses, even when signed', async () => {
      const seq = j.seqs.attempts[0]!;
      const { sig: _sig, ...unsigned } = decodeRecord(j.lines[seq - 1]!);
      const changed = { ...unsigned, body: { ...bodyOf(unsigned as SignedRecord), extra: 1 } };
      const sig = toBase64url(await j.keys.kernel.sign(signingMessage(changed)));
      const lines = [...j.lines];
      lines[seq - 1] = canonicalize({ ...changed, sig });
      const r = await findingsOf(lines);
      expect(r.findings[0]).toMatchObject({ code: 'BODY_INVALID', seq });
    });

    it('reports SEQ_GAP and PREV_MISMATCH for a deleted line, and CHECKPOINT_SIZE_MISMATCH after it', async () => {
      const r = await findingsOf(deleteLine(j.lines, 20));
      expect(r.findings[0]).toMatchObject({ code: 'SEQ_GAP', seq: 21, line: 20 });
      expect(has(r, 'PREV_MISMATCH', 21)).toBe(true);
      expect(r.findings.some((f) => f.code === 'CHECKPOINT_SIZE_MISMATCH')).toBe(true);
    });

    it('reports SEQ_OUT_OF_ORDER for swapped and duplicated lines', async () => {
      const swapped = await findingsOf(swapLines(j.lines, 30, 31));
      expect(swapped.findings[0]).toMatchObject({ code: 'SEQ_GAP', seq: 31, line: 30 });
      expect(has(swapped, 'SEQ_OUT_OF_ORDER', 30)).toBe(true);
      const dup = await findingsOf(duplicateLine(j.lines, 40));
      expect(dup.findings[0]).toMatchObject({ code: 'SEQ_OUT_OF_ORDER', seq: 40, line: 41 });
    });

    it('reports UNKNOWN_KEY for a record re-signed with a key the trust file does not list', async () => {
      const r = await findingsOf(await resignLine(j.lines, 50, j.keys.stranger));
      expect(r.findings[0]).toMatchObject({ code: 'UNKNOWN_KEY', seq: 50 });
      expect(has(r, 'PREV_MISMATCH', 51)).toBe(true);
    });

    it('reports KEY_ROLE_MISMATCH for a record signed by an approver key', async () => {
      const r = await findingsOf(await resignLine(j.lines, 50, j.keys.approver));
      expect(r.findings[0]).toMatchObject({ code: 'KEY_ROLE_MISMATCH', seq: 50 });
    });

    it('reports PREV_MISMATCH and CHECKPOINT_ROOT_MISMATCH for a field changed and re-signed with the valid key', async () => {
      const seq = j.seqs.outcomes[2]!;
      const lines = await resignLine(j.lines, seq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), status: 'failed', error: { code: 'HANDLER_FAILED' } },
      }));
      const r = await findingsOf(lines);
      expect(r.findings[0]).toMatchObject({ code: 'PREV_MISMATCH', seq: seq + 1 });
      const cp = j.seqs.checkpoints.find((c) => c > seq)!;
      expect(has(r, 'CHECKPOINT_ROOT_MISMATCH', cp)).toBe(true);
    });

    it('reports STREAM_MISMATCH and PREV_MISMATCH where two journals are spliced', async () => {
      const other = await generateJournal({
        records: 400,
        checkpointEvery: 50,
        seed: 7,
        stream: 'tenant-b/cards',
      });
      const spliced = [...j.lines.slice(0, 120), ...other.lines.slice(120)];
      const r = await findingsOf(spliced);
      expect(r.findings[0]).toMatchObject({ code: 'STREAM_MISMATCH', seq: 121 });
      expect(has(r, 'PREV_MISMATCH', 121)).toBe(true);
    });
  });

  describe('when the history is rewritten with a valid kernel key', () => {
    it('reports ATTEMPT_WITHOUT_PERMIT when the permit is removed', async () => {
      const permit = j.seqs.permits[1]!;
      const lines = await rewrite(j.lines, permit, j.keys.kernel, () => null);
      const r = await findingsOf(lines);
      expect(r.findings.map((f) => f.code)).toContain('ATTEMPT_WITHOUT_PERMIT');
      const f = r.findings.find((x) => x.code === 'ATTEMPT_WITHOUT_PERMIT')!;
      // the attempt moved up one seq when the permit was dropped
      expect(f.seq).toBe(j.seqs.attempts.find((a) => a > permit)! - 1);
    });

    it('reports ATTEMPT_WITHOUT_PERMIT when an attempt points to a refusal', async () => {
      const refusal = j.sealed.find(
        (s) => s.record.type === 'decision' && bodyOf(s.record)['verdict'] === 'refuse',
      )!;
      const seq = j.seqs.attempts.find((a) => a > refusal.record.seq)!;
      const lines = await rewrite(j.lines, seq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), permit: refusal.hash },
      }));
      const r = await findingsOf(lines);
      expect(r.findings[0]).toMatchObject({ code: 'ATTEMPT_WITHOUT_PERMIT', seq });
    });

    it('reports PERMIT_REUSED for a second execution with one permit', async () => {
      const seq = j.seqs.outcomes[0]!;
      const outcome = j.sealed[seq - 1]!;
      const attempt = j.sealed.find((s) => s.hash === bodyOf(outcome.record)['attempt'])!;
      const lines = await rewrite(j.lines, seq + 1, j.keys.kernel, () => ({
        type: 'attempt',
        body: { ...bodyOf(attempt.record), idempotencyKey: 'second-run', try: 1 },
      }));
      const r = await findingsOf(lines);
      expect(r.findings[0]).toMatchObject({ code: 'PERMIT_REUSED', seq: seq + 1 });
    });

    it('reports ATTEMPT_ACTION_MISMATCH and PERMIT_EXPIRED', async () => {
      const seq = j.seqs.attempts[0]!;
      const lines = await rewrite(j.lines, seq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), actionHash: digestValue('another action') },
      }));
      expect((await findingsOf(lines)).findings[0]).toMatchObject({ code: 'ATTEMPT_ACTION_MISMATCH', seq });
      const permitSeq = j.seqs.permits.filter((p) => p < seq).at(-1)!;
      const expired = await rewrite(j.lines, permitSeq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), expiresAt: '2000-01-01T00:00:00.000Z' },
      }));
      const r = await findingsOf(expired);
      expect(r.findings.some((f) => f.code === 'PERMIT_EXPIRED')).toBe(true);
    });

    it('reports OUTCOME_WITHOUT_ATTEMPT, OUTCOME_MISMATCH and OUTCOME_DUPLICATE', async () => {
      const seq = j.seqs.outcomes[1]!;
      const noAttempt = await rewrite(j.lines, seq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), attempt: digestValue('nothing') },
      }));
      expect((await findingsOf(noAttempt)).findings[0]).toMatchObject({
        code: 'OUTCOME_WITHOUT_ATTEMPT',
        seq,
      });
      const otherPermit = await rewrite(j.lines, seq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), permit: j.sealed[j.seqs.permits[0]! - 1]!.hash },
      }));
      expect((await findingsOf(otherPermit)).findings[0]).toMatchObject({ code: 'OUTCOME_MISMATCH', seq });
      const outcome = j.sealed[seq - 1]!;
      const twice = await rewrite(j.lines, seq + 1, j.keys.kernel, () => ({
        type: 'outcome',
        body: bodyOf(outcome.record),
      }));
      const r = await findingsOf(twice);
      expect(r.findings[0]!.code).toBe('OUTCOME_DUPLICATE');
    });

    it('reports DECISION_INCONSISTENT when the recorded input no longer matches its decision key', async () => {
      const seq = j.seqs.permits[0]!;
      const lines = await rewrite(j.lines, seq, j.keys.kernel, (r) => {
        const b = bodyOf(r);
        return { body: { ...b, input: { ...(b['input'] as Record<string, JsonValue>), counters: {} } } };
      });
      expect((await findingsOf(lines)).findings[0]).toMatchObject({ code: 'DECISION_INCONSISTENT', seq });
    });

    it('reports POLICY_DIGEST_UNKNOWN for a decision under a policy never activated', async () => {
      const policySeq = j.sealed.findIndex((s) => s.record.type === 'policy.activated') + 1;
      const lines = await rewrite(j.lines, policySeq, j.keys.kernel, (r) => ({
        body: { ...bodyOf(r), policyDigest: digestValue('another policy') },
      }));
      const r = await findingsOf(lines);
      const first = j.sealed.find((s) => s.record.type === 'decision')!.record.seq;
      expect(r.findings[0]).toMatchObject({ code: 'POLICY_DIGEST_UNKNOWN', seq: first });
    });

    it('reports APPROVAL_MISSING for a permit that counts an approval the journal does not hold', async () => {
      const seq = j.seqs.approvals.find((a) => bodyOf(j.sealed[a - 1]!.record)['verdict'] === 'approve')!;
      const lines = await rewrite(j.lines, seq, j.keys.kernel, () => null);
      const r = await findingsOf(lines);
      // the permit that followed the approval moved up one seq
      expect(r.findings).toEqual([expect.objectContaining({ code: 'APPROVAL_MISSING', seq })]);
    });

    it('reports OUTCOME_SUPERSEDED for an outcome of a try a later try replaced', async () => {
      // A retried execution: try 1, try 2, then the outcome of try 2. A second outcome, `completed`,
      // for try 1 claims the superseded try ran after all.
      const retry = j.sealed.find((s) => s.record.type === 'attempt' && bodyOf(s.record)['try'] === 2)!;
      const first = j.sealed.find(
        (s) =>
          s.record.type === 'attempt' &&
          bodyOf(s.record)['permit'] === bodyOf(retry.record)['permit'] &&
          bodyOf(s.record)['try'] === 1,
      )!;
      const outcome = j.sealed.find(
        (s) => s.record.type === 'outcome' && bodyOf(s.record)['attempt'] === retry.hash,
      )!;
      const seq = outcome.record.seq + 1;
      const lines = await rewrite(duplicateLine(j.lines, outcome.record.seq), seq, j.keys.kernel, () => ({
        type: 'outcome',
        body: { attempt: first.hash, permit: bodyOf(first.record)['permit']!, status: 'completed' },
      }));
      const r = await findingsOf(lines);
      expect(r.findings).toEqual([expect.objectContaining({ code: 'OUTCOME_SUPERSEDED', seq })]);
    });

    it('lists an attempt without outcome and an unresolved escalation as unfinished, not as findings', async () => {
      const seq = j.seqs.outcomes[0]!;
      const lines = await rewrite(j.lines, seq, j.keys.kernel, () => null);
      const r = await findingsOf(lines);
      expect(r.findings).toEqual([]);
      expect(r.unfinished).toContainEqual(expect.objectContaining({ kind: 'attempt-without-outcome' }));
    });
  });

  describe('when approvals are checked', () => {
    const approvalCase = async (
      mutate: (
        statement: Record<string, JsonValue>,
        sign: (s: JsonValue) => Promise<string>,
      ) => Promise<{
        statement: JsonValue;
        sig: string;
        approver?: { kid: string; role: string };
      }>,
    ): Promise<{ report: AuditReport; seq: number }> => {
      const keys = createGeneratorKeys(3);
      const w = new JournalWriter('tenant-z', keys.kernel, 1000);
      const policyDigest = digestValue('p');
      await w.append('key.added', {
        kid: keys.kernel.kid,
        publicKey: toBase64url(keys.kernel.publicKey),
        role: 'kernel',
      });
      await w.append('policy.activated', { policyDigest, name: 'p', version: '1', owner: 'o' });
      const input = {
        policyDigest,
        state: { facets: {}, machines: {} },
        proposal: { intent: 'x', params: {} },
        principal: { id: 'u', attributes: {} },
        approvals: [],
        counters: {},
      };
      const actionHash = digestValue({ intent: 'x', params: {}, refs: [] });
      const esc = await w.append('decision', {
        verdict: 'escalate',
        decisionKey: digestValue(input),
        policyDigest,
        stateHash: digestValue(input.state),
        actionHash,
        input,
        rule: 'r',
        reasons: ['APPROVAL_REQUIRED'],
        accountable: 'o',
        principal: 'u',
        proposer: { modelId: 'm', promptTemplateDigest: digestValue('t') },
        pendingApproval: { count: 1, role: 'approver', expiresAt: '2027-01-01T00:00:00.000Z' },
      });
      const statement = {
        domain: 'edca-approval-v1',
        decision: esc.hash,
        actionHash,
        verdict: 'approve',
        approver: { kid: keys.approver.kid, role: 'approver' },
        at: '2026-03-01T09:00:05.000Z',
      };
      const sign = async (s: JsonValue): Promise<string> =>
        toBase64url(await keys.approver.sign(approvalMessage(s)));
      const m = await mutate(statement, sign);
      const approval = await w.append('approval', {
        decision: esc.hash,
        actionHash,
        verdict: 'approve',
        approver: m.approver ?? { kid: keys.approver.kid, role: 'approver' },
        statement: m.statement,
        sig: m.sig,
      });
      const permitInput = { ...input, approvals: [{ kid: keys.approver.kid, role: 'approver' }] };
      await w.append('decision', {
        verdict: 'permit',
        decisionKey: digestValue(permitInput),
        policyDigest,
        stateHash: digestValue(input.state),
        actionHash,
        input: permitInput,
        rule: 'r',
        reasons: [],
        accountable: 'o',
        principal: 'u',
        proposer: { modelId: 'm', promptTemplateDigest: digestValue('t') },
        expiresAt: '2027-01-01T00:00:00.000Z',
      });
      await w.checkpoint();
      const r = await safeVerifyJournal(w.lines(), { trust: keys.trust, workers: 0 });
      return { report: r.ok ? r.value : r.error.report!, seq: approval.record.seq };
    };

    it('accepts a statement signed by a trusted approver key with the required role', async () => {
      const { report } = await approvalCase(async (s, sign) => ({ statement: s, sig: await sign(s) }));
      expect(report.findings).toEqual([]);
      expect(report.unfinished).toEqual([]);
    });

    it('reports APPROVAL_INVALID for a statement whose signature does not verify (forged approval)', async () => {
      const { report, seq } = await approvalCase(async (s, sign) => ({
        statement: { ...s, at: '2026-03-02T00:00:00.000Z' },
        sig: await sign(s),
      }));
      expect(report.findings[0]).toMatchObject({ code: 'APPROVAL_INVALID', seq });
    });

    it('reports APPROVAL_INVALID for an approver signature spelled with non-zero unused bits', async () => {
      const respell: Record<string, string> = { A: 'B', Q: 'R', g: 'h', w: 'x' };
      const { report, seq } = await approvalCase(async (s, sign) => {
        const sig = await sign(s);
        // Same 64 bytes once decoded: only the spelling is not the canonical one.
        return { statement: s, sig: sig.slice(0, -1) + respell[sig.slice(-1)]! };
      });
      expect(report.findings[0]).toMatchObject({ code: 'APPROVAL_INVALID', seq });
      expect(report.findings[0]!.message).toContain('canonical base64url');
    });

    it('reports APPROVAL_INVALID for an approver key the trust file does not list', async () => {
      const stranger = createGeneratorKeys(3).stranger;
      const { report, seq } = await approvalCase(async (s) => {
        const st = { ...s, approver: { kid: stranger.kid, role: 'approver' } };
        return {
          statement: st,
          sig: toBase64url(await stranger.sign(approvalMessage(st))),
          approver: { kid: stranger.kid, role: 'approver' },
        };
      });
      expect(report.findings[0]).toMatchObject({ code: 'APPROVAL_INVALID', seq });
      expect(report.findings[0]!.message).toContain('UNKNOWN_KEY');
    });

    it('reports APPROVAL_INVALID for a statement bound to another action', async () => {
      const { report, seq } = await approvalCase(async (s, sign) => {
        const st = { ...s, actionHash: digestValue('other') };
        return { statement: st, sig: await sign(st) };
      });
      expect(report.findings[0]).toMatchObject({ code: 'APPROVAL_INVALID', seq });
    });

    it('reports APPROVAL_INVALID for a role other than the escalation requires', async () => {
      const { report, seq } = await approvalCase(async (s, sign) => {
        const st = { ...s, approver: { kid: (s['approver'] as { kid: string }).kid, role: 'clerk' } };
        return {
          statement: st,
          sig: await sign(st),
          approver: { kid: (s['approver'] as { kid: string }).kid, role: 'clerk' },
        };
      });
      expect(report.findings[0]).toMatchObject({ code: 'APPROVAL_INVALID', seq });
    });
  });

  describe('when either Ed25519 backend checks the signatures', () => {
    it('gives the same report, on the main thread and on workers, for an intact and a re-signed journal', async () => {
      const seq = j.seqs.permits[5]!;
      const lines = [...j.lines];
      // A sig of another line: well-formed bytes that do not verify here.
      const sigOf = (l: string): string => /"sig":"([^"]+)"/.exec(l)![1]!;
      lines[seq - 1] = lines[seq - 1]!.replace(sigOf(lines[seq - 1]!), sigOf(lines[seq]!));
      const backends = isEd25519BackendAvailable('sodium')
        ? (['sodium', 'node'] as const)
        : (['node'] as const);
      for (const journal of [j.text, lines]) {
        const reports: string[] = [];
        for (const signatureBackend of backends)
          for (const workers of [0, 2]) {
            const r = await safeVerifyJournal(journal, { trust: j.keys.trust, workers, signatureBackend });
            reports.push(JSON.stringify(r.ok ? r.value : r.error.report));
          }
        expect(new Set(reports).size).toBe(1);
      }
      const r = await findingsOf(lines, 2);
      expect(r.findings[0]).toMatchObject({ code: 'SIGNATURE_INVALID', seq });
      // Five worker pools: from the sources each worker thread first compiles its module with tsx.
    }, 120_000);
  });

  describe('when the journal fills many signature batches', () => {
    it('finds every re-signed record, whichever thread verified its batch', async () => {
      // Batches of 256 checks: with one worker the main thread verifies a batch itself whenever the
      // worker has three waiting, so the tampered records land in batches of both kinds.
      const big = await generateJournal({ records: 3000, checkpointEvery: 500, seed: 11 });
      const lines = [...big.lines];
      const tampered = [40, 300, 700, 1100, 1500, 1900, 2300, 2700, 2990].filter(
        (seq) => !lines[seq - 1]!.includes('"type":"checkpoint"'),
      );
      for (const seq of tampered) {
        const at = lines[seq - 1]!.indexOf('"sig":"') + 10;
        const c = lines[seq - 1]![at]!;
        lines[seq - 1] =
          lines[seq - 1]!.slice(0, at) + (c === 'A' ? 'B' : 'A') + lines[seq - 1]!.slice(at + 1);
      }
      const reports: AuditReport[] = [];
      for (const workers of [0, 1, 2]) {
        const r = await safeVerifyJournal(lines, { trust: big.keys.trust, workers });
        expect(r.ok).toBe(false);
        if (!r.ok) reports.push(r.error.report!);
      }
      const invalid = reports[0]!.findings.filter((f) => f.code === 'SIGNATURE_INVALID').map((f) => f.seq);
      expect(invalid).toEqual(tampered);
      expect(reports[1]).toEqual(reports[0]);
      expect(reports[2]).toEqual(reports[0]);
    }, 120_000);
  });

  describe('when the options are wrong', () => {
    it('throws ARGUMENT_INVALID and TRUST_INVALID instead of reporting', async () => {
      await expect(
        safeVerifyJournal(j.text, {
          trust: j.keys.trust,
          mode: 'checkpoints-only',
          maps: createReplayMaps([]),
        }),
      ).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' });
      await expect(
        safeVerifyJournal(j.text, { trust: j.keys.trust, expectedSize: -1 }),
      ).rejects.toMatchObject({
        code: 'ARGUMENT_INVALID',
      });
      await expect(safeVerifyJournal(j.text, { trust: j.keys.trust, workers: -1 })).rejects.toMatchObject({
        code: 'ARGUMENT_INVALID',
      });
      await expect(
        safeVerifyJournal(j.text, { trust: j.keys.trust, signatureBackend: 'openssl' as 'node' }),
      ).rejects.toMatchObject({ code: 'ARGUMENT_INVALID' });
      const bad = {
        version: 1 as const,
        keys: [{ ...j.keys.trust.keys[0]!, kid: j.keys.trust.keys[1]!.kid }],
      };
      await expect(safeVerifyJournal(j.text, { trust: bad })).rejects.toMatchObject({
        code: 'TRUST_INVALID',
      });
    });
  });

  describe('when a bad signature and a forged approval sit under recomputed checkpoints', () => {
    it('checkpoints-only says intact (it checks fingerprints and checkpoint signatures only); full verification does not', async () => {
      const permit = j.seqs.permits[0]!;
      const approval = j.seqs.approvals[0]!;
      const lines = [...j.lines];
      // a record signature altered in place, then a forged approver statement, each re-chained
      const rec = decodeRecord(lines[permit - 1]!);
      const sig = rec.sig.startsWith('A') ? 'B' + rec.sig.slice(1) : 'A' + rec.sig.slice(1);
      lines[permit - 1] = lines[permit - 1]!.replace(rec.sig, sig);
      let forged = await rewrite(lines, permit + 1, j.keys.kernel, (r) => ({ body: r.body }));
      forged = await rewriteFrom(forged, approval, j.keys.kernel, (r) => ({
        body: {
          ...bodyOf(r),
          statement: {
            ...(bodyOf(r)['statement'] as Record<string, JsonValue>),
            at: '2020-01-01T00:00:00.000Z',
          },
        },
      }));
      const quick = await verifyJournal(forged, { trust: j.keys.trust, mode: 'checkpoints-only' });
      expect(quick.ok).toBe(true);
      const full = await findingsOf(forged);
      expect(full.findings).toContainEqual(
        expect.objectContaining({ code: 'SIGNATURE_INVALID', seq: permit }),
      );
      expect(full.findings).toContainEqual(
        expect.objectContaining({ code: 'APPROVAL_INVALID', seq: approval }),
      );
    });
  });

  describe('when a line is cut inside its prev field (checkpoints-only)', () => {
    it('reports PREV_MISMATCH instead of throwing, for the first line and a later one', async () => {
      for (const at of [0, 5]) {
        const line = j.lines[at]!;
        const p = line.lastIndexOf(',"prev":') + ',"prev":'.length;
        // `null` is 4 characters: only a cut inside it damages the first line's prev.
        for (const cut of at === 0 ? [p + 2] : [p + 2, p + 10, p + 72]) {
          const lines = [...j.lines.slice(0, at), line.slice(0, cut) + ',"seq":' + String(at + 1)];
          const r = await safeVerifyJournal(toText(lines), { trust: j.keys.trust, mode: 'checkpoints-only' });
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error.report?.findings.map((f) => f.code)).toContain('PREV_MISMATCH');
        }
      }
    });
  });

  describe('when the journal is empty or shorter than a witness says', () => {
    it('reports JOURNAL_EMPTY and TRUNCATED', async () => {
      expect((await findingsOf('')).findings[0]!.code).toBe('JOURNAL_EMPTY');
      const r = await safeVerifyJournal(toText(j.lines.slice(0, 100)), {
        trust: j.keys.trust,
        expectedSize: j.lines.length,
      });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.report!.findings[0]).toMatchObject({ code: 'TRUNCATED', seq: 101 });
    });
  });

  describe("when records are dated after the verifier's now", () => {
    it('reports TIME_IN_FUTURE for each, beyond the allowed skew only', async () => {
      const last = j.lines.length;
      const future = await resignLine(j.lines, last, j.keys.kernel, () => ({
        at: '2999-01-01T00:00:00.000Z',
      }));
      const lastAt = decodeRecord(j.lines[last - 2]!).at;
      const r = await safeVerifyJournal(toText(future), { trust: j.keys.trust, now: lastAt });
      expect(r.ok).toBe(false);
      if (!r.ok)
        expect(r.error.report!.findings.filter((f) => f.code === 'TIME_IN_FUTURE')).toEqual([
          expect.objectContaining({ seq: last, line: last }),
        ]);
      // Without now there is no upper bound; within the skew there is no finding.
      expect((await safeVerifyJournal(toText(future), { trust: j.keys.trust })).ok).toBe(true);
      const at = decodeRecord(j.lines[last - 1]!).at;
      const skewed = new Date(Date.parse(at) - 60_000).toISOString();
      expect((await safeVerifyJournal(toText(j.lines), { trust: j.keys.trust, now: skewed })).ok).toBe(true);
      expect(
        (await safeVerifyJournal(toText(j.lines), { trust: j.keys.trust, now: skewed, maxSkewMs: 1000 })).ok,
      ).toBe(false);
    });

    it('refuses a now that is not an RFC 3339 date-time with ARGUMENT_INVALID', async () => {
      await expect(
        safeVerifyJournal(toText(j.lines), { trust: j.keys.trust, now: 'yesterday' }),
      ).rejects.toThrow(expect.objectContaining({ code: 'ARGUMENT_INVALID' }));
    });
  });
});
