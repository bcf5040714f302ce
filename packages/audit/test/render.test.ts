import { renderHtmlReport, renderTextReport, type AuditReport, type TrailDecision } from '@edca/audit';
import { describe, expect, it } from 'vitest';

const report: AuditReport = {
  ok: false,
  mode: 'full',
  stream: 'tenant-<a>',
  records: 3,
  byType: { decision: 2, checkpoint: 1 },
  byVerdict: { permit: 1, refuse: 1 },
  byOutcome: {},
  sessions: { ended: 0, byEndReason: {}, intakeRefusals: {} },
  timeRange: { first: '2026-03-01T09:00:00.000Z', last: '2026-03-01T09:00:01.000Z' },
  keysUsed: [{ kid: 'ed25519:abc', role: 'kernel', name: 'kernel "1"', signatures: 3 }],
  signaturesChecked: 3,
  checkpoints: { count: 1, last: { seq: 3, size: 2, root: 'r' }, uncovered: 0 },
  replay: { decisions: 2, replayed: 2, mismatches: 1 },
  findings: [{ code: 'REPLAY_MISMATCH', seq: 2, line: 2, message: 'rule <script>alert(1)</script> differs' }],
  unfinished: [{ kind: 'escalation-unresolved', seq: 1, actionHash: 'sha256:00' }],
};

describe('renderTextReport', () => {
  describe('when the report has findings', () => {
    it('prints the status, counts, keys, replay, unfinished actions and each finding with seq and code', () => {
      const text = renderTextReport(report, 'j.jsonl');
      expect(text).toContain('j.jsonl: 1 FINDING(S)');
      expect(text).toContain('by type: checkpoint 1, decision 2');
      expect(text).toContain('decisions by verdict: permit 1, refuse 1');
      expect(text).toContain('ed25519:abc  kernel  kernel "1"  3 signature(s)');
      expect(text).toContain('replay: 2 of 2 decision(s) replayed, 1 mismatch(es)');
      expect(text).toContain('checkpoints: 1, last at seq 3 covering records 1..2; 0 record(s) after it');
      expect(text).toContain('outcomes by status: none');
      expect(text).toContain('time range: 2026-03-01T09:00:00.000Z .. 2026-03-01T09:00:01.000Z');
      expect(text).toContain('seq 1  escalation-unresolved');
      expect(text).toContain('seq 2 (line 2)  REPLAY_MISMATCH');
    });
  });
});

describe('renderHtmlReport', () => {
  describe('when messages and names hold markup', () => {
    it('escapes them, so a journal cannot inject script into the report', () => {
      const html = renderHtmlReport(report, 'j.jsonl');
      expect(html).not.toContain('<script>alert');
      expect(html.match(/<script>/g)).toHaveLength(1);
      expect(html).toContain('&#60;script&#62;');
      expect(html).toContain('tenant-&#60;a&#62;');
      expect(html).toContain('<code>REPLAY_MISMATCH</code>');
    });
  });

  describe('when given a trail', () => {
    const decision = (seq: number, intent: string): TrailDecision => ({
      seq,
      at: `2026-03-01T09:00:0${seq}.000Z`,
      intent,
      verdict: 'permit',
      rule: 'r',
      reasons: ['ALLOWED'],
      accountable: 'owner',
      principal: 'agent',
      model: 'm',
      steps: [
        { seq: seq + 10, at: '2026-03-01T09:00:09.000Z', type: 'outcome', summary: 'completed', detail: '' },
      ],
    });

    it('lists decisions with data-seq/data-verdict, escapes intents and links findings to records', () => {
      const html = renderHtmlReport(report, 'j.jsonl', { decisions: [decision(2, '<b>x</b>')], others: [] });
      expect(html).toContain(
        '<tr id="rec-2" data-seq="2" data-verdict="permit" data-intent="&#60;b&#62;x&#60;/b&#62;">',
      );
      expect(html).not.toContain('<b>x</b>');
      expect(html).toContain('<a href="#rec-2">2</a>');
      expect(html).toContain('<li id="rec-12">');
    });

    it('caps the listed decisions and says how many were left out', () => {
      const trail = { decisions: [decision(1, 'a'), decision(2, 'b'), decision(3, 'c')], others: [] };
      const html = renderHtmlReport(report, 'j.jsonl', trail, { maxDecisions: 2 });
      expect(html.match(/<tr id="rec-\d" data-seq/g)).toHaveLength(2);
      expect(html).toContain('1 later decision(s) not listed here');
    });
  });
});
