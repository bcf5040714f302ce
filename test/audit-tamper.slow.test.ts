/**
 * The tamper suite of issue 6: a realistic signed journal of more than 10,000 records (the
 * kernel's record format and life cycles, see test/helpers/journal-generator.ts), then every kind
 * of tampering, each of which the verifier must detect AND locate (line = the tampered record's
 * seq in the original journal). What truncation can and cannot show without a witness is pinned
 * here too (docs/audit-guide.md, "What the journal alone cannot prove").
 */
import { digestValue, type JsonValue } from '@edca/records';
import {
  checkJournalConsistency,
  safeVerifyJournal,
  type AuditReport,
  type VerifyJournalOptions,
} from '@edca/audit';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateJournal, type GeneratedJournal } from './helpers/journal-generator.js';
import {
  deleteLine,
  duplicateLine,
  flipByte,
  lineOfOffset,
  resignLine,
  rewriteFrom,
  swapLines,
  toText,
} from './helpers/tamper.js';

let j: GeneratedJournal;
beforeAll(async () => {
  j = await generateJournal({ records: 10_000, checkpointEvery: 250, seed: 2026 });
});

// About 45 full verifications: on the main thread (`workers: 0`), since starting a signature worker
// pool for each one costs more CPU than the checks themselves. The pool gives the same reports
// (packages/audit/test/verify-journal.test.ts), and the intact journal and one re-signed record
// below still go through it.
async function verify(
  journal: Uint8Array | string | readonly string[],
  extra: Partial<VerifyJournalOptions> = {},
  pool = false,
): Promise<AuditReport> {
  const r = await safeVerifyJournal(journal, {
    trust: j.keys.trust,
    ...(pool ? {} : { workers: 0 }),
    ...extra,
  });
  return r.ok ? r.value : r.error.report!;
}

const bodyOf = (seq: number): Record<string, JsonValue> =>
  j.sealed[seq - 1]!.record.body as Record<string, JsonValue>;

describe('audit tamper suite (10,000+ records)', () => {
  describe('when the journal is untouched', () => {
    it('verifies intact, in full and checkpoints-only mode', async () => {
      expect(j.lines.length).toBeGreaterThanOrEqual(10_000);
      const full = await verify(j.text, {}, true);
      expect(full.findings).toEqual([]);
      expect(full.signaturesChecked).toBe(j.lines.length + j.seqs.approvals.length);
      expect((await verify(j.text, { mode: 'checkpoints-only' })).findings).toEqual([]);
    });
  });

  describe('when one byte anywhere is flipped', () => {
    it('reports a finding located at the line of that byte, for every sampled position', async () => {
      const bytes = Buffer.byteLength(j.text);
      // 24 positions spread over the file (seeded), plus a newline, a signature, a seq digit,
      // a prev hash, a checkpoint root and the last byte.
      let s = 12345;
      const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
      const positions = Array.from({ length: 24 }, () => Math.floor(rnd() * bytes));
      const line500 = Buffer.byteLength(toText(j.lines.slice(0, 499)));
      const l500 = j.lines[499]!;
      positions.push(line500 + Buffer.byteLength(l500)); // the newline after record 500
      positions.push(line500 + l500.indexOf('"sig":"') + 20);
      positions.push(line500 + l500.indexOf('"seq":') + 6);
      positions.push(line500 + l500.indexOf('"prev":"sha256:') + 30);
      const cp = j.seqs.checkpoints[5]!;
      const cpStart = Buffer.byteLength(toText(j.lines.slice(0, cp - 1)));
      positions.push(cpStart + j.lines[cp - 1]!.indexOf('"root":"') + 12);
      positions.push(bytes - 2);
      for (const pos of positions) {
        const line = lineOfOffset(j.text, pos);
        const r = await verify(flipByte(j.text, pos));
        expect(r.ok, `byte ${pos}`).toBe(false);
        expect(r.findings[0]!.line, `byte ${pos} (line ${line}): ${r.findings[0]!.code}`).toBe(line);
      }
    }, 1_200_000); // 30 full verifications of 10,000+ records: minutes on a loaded 2-CPU machine
  });

  describe('when whole lines are deleted, swapped or duplicated', () => {
    it('locates a deleted line: SEQ_GAP and PREV_MISMATCH where it was', async () => {
      const r = await verify(deleteLine(j.lines, 4321));
      expect(r.findings[0]).toMatchObject({ code: 'SEQ_GAP', seq: 4322, line: 4321 });
      expect(r.findings[0]!.message).toContain('expected 4321');
      expect(r.findings.some((f) => f.code === 'PREV_MISMATCH' && f.line === 4321)).toBe(true);
    });

    it('locates two swapped lines', async () => {
      const r = await verify(swapLines(j.lines, 2000, 7000));
      expect(r.findings[0]).toMatchObject({ code: 'SEQ_GAP', seq: 7000, line: 2000 });
      expect(r.findings.some((f) => f.line === 7000 && f.code === 'SEQ_OUT_OF_ORDER')).toBe(true);
    });

    it('locates a duplicated line', async () => {
      const r = await verify(duplicateLine(j.lines, 6000));
      expect(r.findings[0]).toMatchObject({ code: 'SEQ_OUT_OF_ORDER', seq: 6000, line: 6001 });
    });
  });

  describe('when the journal is truncated', () => {
    it('detects a cut inside a line (LINE_MALFORMED at the last line)', async () => {
      const cut = j.text.slice(0, j.text.length - 40);
      const r = await verify(cut);
      expect(r.findings[0]).toMatchObject({ code: 'LINE_MALFORMED', line: j.lines.length });
    });

    it('detects records cut from the front (SEQ_GAP and PREV_MISMATCH at line 1)', async () => {
      const r = await verify(j.lines.slice(100));
      expect(r.findings[0]).toMatchObject({ code: 'SEQ_GAP', seq: 101, line: 1 });
    });

    it('cannot see a cut at a record boundary from the journal alone, but can with a witness', async () => {
      // Every prefix of a valid journal is a valid journal: only an outside witness of the size
      // (or an older copy) reveals the lost tail. This test pins that limit.
      const kept = j.lines.slice(0, 8000);
      expect((await verify(kept)).findings).toEqual([]);
      const witnessed = await verify(kept, { expectedSize: j.lines.length });
      expect(witnessed.findings[0]).toMatchObject({ code: 'TRUNCATED', seq: 8001 });
      expect(() => checkJournalConsistency(j.text, toText(kept), j.keys.trust)).toThrow(/CONSISTENCY|older/);
    });
  });

  describe('when records are re-signed', () => {
    it('locates a record re-signed with a key the trust file does not list (UNKNOWN_KEY)', async () => {
      const resigned = await resignLine(j.lines, 5555, j.keys.stranger);
      for (const pool of [false, true]) {
        const r = await verify(resigned, {}, pool);
        expect(r.findings[0]).toMatchObject({ code: 'UNKNOWN_KEY', seq: 5555 });
      }
    });

    it('locates a field changed and re-signed with a valid key: the chain breaks right after it', async () => {
      const seq = j.seqs.outcomes.find((o) => o > 3000)!;
      const lines = await resignLine(j.lines, seq, j.keys.kernel, () => ({
        body: { ...bodyOf(seq), status: 'compensated' },
      }));
      const r = await verify(lines);
      expect(r.findings[0]).toMatchObject({ code: 'PREV_MISMATCH', seq: seq + 1 });
      expect(r.findings.some((f) => f.code === 'CHECKPOINT_ROOT_MISMATCH')).toBe(true);
      // the same change re-signed with the other trusted kernel key: same location
      const spare = await verify(
        await resignLine(j.lines, seq, j.keys.spareKernel, () => ({
          body: { ...bodyOf(seq), status: 'compensated' },
        })),
      );
      expect(spare.findings[0]).toMatchObject({ code: 'PREV_MISMATCH', seq: seq + 1 });
    });

    it('shows a history fully rewritten with the valid key only against an older copy', async () => {
      const seq = j.seqs.outcomes.find((o) => o > 3000)!;
      const rewritten = await rewriteFrom(
        j.lines,
        seq,
        j.keys.kernel,
        () => ({ body: { ...bodyOf(seq), status: 'compensated' } }),
        j.keys.approver,
      );
      expect((await verify(rewritten)).findings).toEqual([]);
      expect(() =>
        checkJournalConsistency(toText(j.lines.slice(0, 5000)), toText(rewritten), j.keys.trust),
      ).toThrow(/does not extend/);
    });
  });

  describe('when two journals are spliced', () => {
    it('locates the splice (STREAM_MISMATCH and PREV_MISMATCH at the first foreign record)', async () => {
      const other = await generateJournal({
        records: 10_000,
        checkpointEvery: 250,
        seed: 2026,
        stream: 'tenant-b/cards',
      });
      const r = await verify([...j.lines.slice(0, 3333), ...other.lines.slice(3333)]);
      expect(r.findings[0]).toMatchObject({ code: 'STREAM_MISMATCH', seq: 3334, line: 3334 });
      expect(r.findings.some((f) => f.code === 'PREV_MISMATCH' && f.seq === 3334)).toBe(true);
    });
  });

  describe('when the kernel key itself writes a lie', () => {
    it('locates a forged approval (statement changed, approver signature kept)', async () => {
      const seq = j.seqs.approvals.find((a) => a > 2000 && bodyOf(a)['verdict'] === 'reject')!;
      const lines = await rewriteFrom(
        j.lines,
        seq,
        j.keys.kernel,
        () => {
          const b = bodyOf(seq);
          return {
            body: {
              ...b,
              verdict: 'approve',
              statement: { ...(b['statement'] as Record<string, JsonValue>), verdict: 'approve' },
            },
          };
        },
        j.keys.approver,
      );
      const r = await verify(lines);
      expect(r.findings[0]).toMatchObject({ code: 'APPROVAL_INVALID', seq });
      expect(r.findings[0]!.message).toContain('signature');
    });

    it('locates an attempt that no permit allowed', async () => {
      const seq = j.sealed.find(
        (s) =>
          s.record.seq > 7000 && s.record.type === 'decision' && bodyOf(s.record.seq)['verdict'] === 'refuse',
      )!.record.seq;
      const lines = await rewriteFrom(
        j.lines,
        seq,
        j.keys.kernel,
        () => ({
          type: 'attempt',
          body: {
            permit: digestValue('no such permit'),
            actionHash: bodyOf(seq)['actionHash']!,
            idempotencyKey: 'k',
            try: 1,
          },
        }),
        j.keys.approver,
      );
      const r = await verify(lines);
      expect(r.findings[0]).toMatchObject({ code: 'ATTEMPT_WITHOUT_PERMIT', seq });
    });
  });
});
