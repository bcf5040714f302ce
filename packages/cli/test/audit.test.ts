import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@edca/cli';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';
import { resignLine, rewriteFrom, toText } from '../../../test/helpers/tamper.js';
import type { JsonValue } from '@edca/records';
import { captureIo } from '../../../test/helpers/cli-io.js';

let dir: string;
let j: GeneratedJournal;
let journal: string;
let trust: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edca-audit-cli-'));
  j = await generateJournal({ records: 250, checkpointEvery: 50, seed: 5 });
  journal = join(dir, 'journal.jsonl');
  trust = join(dir, 'trust.json');
  writeFileSync(journal, j.text);
  writeFileSync(trust, j.keys.trustText);
});

describe('edca audit verify', () => {
  describe('when the journal is intact', () => {
    it('prints a summary with counts, time range and keys, and exits 0', async () => {
      const io = captureIo();
      expect(await runCli(['audit', 'verify', journal, '--trust', trust], io)).toBe(0);
      const out = io.out();
      expect(out).toContain('INTACT');
      expect(out).toContain(`records: ${j.lines.length}`);
      expect(out).toMatch(/decisions by verdict: escalate \d+, permit \d+, refuse \d+/);
      expect(out).toContain(`time range: ${j.sealed[0]!.record.at}`);
      expect(out).toContain(j.keys.kernel.kid);
      expect(out).toContain('risk officer');
    });

    it('prints the JSON report with --json and writes an HTML report with --html', async () => {
      const io = captureIo();
      const html = join(dir, 'report.html');
      expect(await runCli(['audit', 'verify', journal, '--trust', trust, '--json', '--html', html], io)).toBe(
        0,
      );
      const report = JSON.parse(io.out()) as { ok: boolean; records: number; findings: unknown[] };
      expect(report).toMatchObject({ ok: true, records: j.lines.length, findings: [] });
      expect(readFileSync(html, 'utf8')).toContain('INTACT');
    });

    it('verifies in --checkpoints-only mode', async () => {
      const io = captureIo();
      expect(
        await runCli(['audit', 'verify', journal, '--trust', trust, '--checkpoints-only', '--json'], io),
      ).toBe(0);
      expect(JSON.parse(io.out())).toMatchObject({ ok: true, mode: 'checkpoints-only' });
    });
  });

  describe('when the journal has findings', () => {
    it('lists each failure with its seq and code and exits 1', async () => {
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, toText(await resignLine(j.lines, 42, j.keys.stranger)));
      const io = captureIo();
      expect(await runCli(['audit', 'verify', bad, '--trust', trust], io)).toBe(1);
      expect(io.out()).toMatch(/seq 42 \(line 42\)\s+UNKNOWN_KEY/);
      expect(io.out()).toMatch(/seq 43 \(line 43\)\s+PREV_MISMATCH/);
      expect(io.err()).toContain('AUDIT_FINDINGS');
      const json = captureIo();
      expect(await runCli(['audit', 'verify', bad, '--trust', trust, '--json'], json)).toBe(1);
      expect(
        (JSON.parse(json.out()) as { findings: { code: string; seq: number }[] }).findings[0],
      ).toMatchObject({
        code: 'UNKNOWN_KEY',
        seq: 42,
      });
    });

    it('exits 1 with TRUNCATED when --expect-size is larger than the journal', async () => {
      const io = captureIo();
      expect(await runCli(['audit', 'verify', journal, '--trust', trust, '--expect-size', '9999'], io)).toBe(
        1,
      );
      expect(io.out()).toContain('TRUNCATED');
    });
  });

  describe('when the command line or files are wrong', () => {
    it('exits 2 for a missing journal, a bad trust file, a missing --trust and a bad number', async () => {
      const badTrust = join(dir, 'bad-trust.json');
      writeFileSync(badTrust, '{"version":1,"keys":[{}]}');
      const cases: string[][] = [
        ['audit', 'verify', join(dir, 'missing.jsonl'), '--trust', trust],
        ['audit', 'verify', journal, '--trust', badTrust],
        ['audit', 'verify', journal],
        ['audit', 'verify', journal, '--trust', trust, '--expect-size', 'x'],
        ['audit', 'verify', journal, '--trust', trust, '--maps', join(dir, 'no-such-dir')],
        ['audit', 'prove', journal, '--seq', '0'],
        ['audit', 'verify', journal, '--trust', trust, '--checkpoints-only', '--maps', dir],
      ];
      for (const argv of cases) {
        const io = captureIo();
        expect(await runCli(argv, io), argv.join(' ')).toBe(2);
      }
    });
  });
});

describe('edca audit prove and check-proof', () => {
  describe('when a record is covered by a checkpoint', () => {
    it('writes a proof that check-proof accepts without the journal, and refuses an altered one', async () => {
      const proofFile = join(dir, 'proof-77.json');
      expect(await runCli(['audit', 'prove', journal, '--seq', '77', '--out', proofFile], captureIo())).toBe(
        0,
      );
      const io = captureIo();
      expect(await runCli(['audit', 'check-proof', proofFile, '--trust', trust], io)).toBe(0);
      expect(io.out()).toContain('proof VALID: record 77');
      const proof = JSON.parse(readFileSync(proofFile, 'utf8')) as { record: string };
      const altered = join(dir, 'proof-altered.json');
      writeFileSync(altered, JSON.stringify({ ...proof, record: j.lines[77] }));
      const bad = captureIo();
      expect(await runCli(['audit', 'check-proof', altered, '--trust', trust, '--json'], bad)).toBe(1);
      expect(JSON.parse(bad.out())).toMatchObject({ ok: false, code: 'PROOF_INVALID' });
    });

    it('prints the proof on standard output without --out', async () => {
      const io = captureIo();
      expect(await runCli(['audit', 'prove', journal, '--seq', '3'], io)).toBe(0);
      expect(JSON.parse(io.out())).toMatchObject({ format: 'edca-inclusion-proof-v1', leafIndex: 2 });
    });
  });
});

describe('edca audit verify --now', () => {
  it('finds records dated after --now plus --max-skew, defaults to the clock, and refuses a bad time', async () => {
    const future = join(dir, 'future.jsonl');
    const last = j.lines.length;
    writeFileSync(
      future,
      toText(await resignLine(j.lines, last, j.keys.kernel, () => ({ at: '2999-01-01T00:00:00.000Z' }))),
    );
    const io = captureIo();
    expect(await runCli(['audit', 'verify', future, '--trust', trust], io)).toBe(1);
    expect(io.out()).toContain(`seq ${last} (line ${last})  TIME_IN_FUTURE`);
    const later = captureIo();
    expect(
      await runCli(['audit', 'verify', future, '--trust', trust, '--now', '2999-01-01T00:00:00Z'], later),
    ).toBe(0);
    const skew = captureIo();
    const args = ['--now', '2998-12-31T23:59:00Z', '--max-skew', '30'];
    expect(await runCli(['audit', 'verify', future, '--trust', trust, ...args], skew)).toBe(1);
    const bad = captureIo();
    expect(await runCli(['audit', 'verify', journal, '--trust', trust, '--now', 'soon'], bad)).toBe(2);
    expect(bad.err()).toContain('now must be an RFC 3339 date-time');
  });
});

describe('edca audit consistency', () => {
  describe('when the newer copy extends the older copy', () => {
    it('exits 0, and exits 1 for a history rewritten with the valid key that verify alone cannot see', async () => {
      const older = join(dir, 'older.jsonl');
      writeFileSync(older, toText(j.lines.slice(0, 120)));
      const io = captureIo();
      expect(await runCli(['audit', 'consistency', older, journal, '--trust', trust], io)).toBe(0);
      expect(io.out()).toContain('CONSISTENT');
      const rewritten = join(dir, 'rewritten.jsonl');
      // history rewritten with the valid kernel key: self-consistent, checkpoints re-signed
      const outcome = j.seqs.outcomes[0]!;
      const forged = await rewriteFrom(
        j.lines,
        outcome,
        j.keys.kernel,
        (r) => ({
          body: { ...(r.body as Record<string, JsonValue>), status: 'failed', error: { code: 'X' } },
        }),
        j.keys.approver,
      );
      writeFileSync(rewritten, toText(forged));
      expect(await runCli(['audit', 'verify', rewritten, '--trust', trust], captureIo())).toBe(0);
      const bad = captureIo();
      expect(await runCli(['audit', 'consistency', older, rewritten, '--trust', trust], bad)).toBe(1);
      expect(bad.err()).toContain('CONSISTENCY_FAILED');
    });
  });

  describe('when the older copy is itself damaged', () => {
    it('exits 1 with findings about the older copy, and compares nothing', async () => {
      const lines = [...j.lines.slice(0, 120)];
      lines[1] = lines[1]!.replace('"seq":2', '"seq":2 ');
      const older = join(dir, 'older-damaged.jsonl');
      writeFileSync(older, toText(lines));
      const io = captureIo();
      expect(await runCli(['audit', 'consistency', older, journal, '--trust', trust], io)).toBe(1);
      expect(io.out()).toContain('older-damaged.jsonl: ');
      expect(io.out()).toMatch(/seq 2 \(line 2\)/);
      expect(io.out()).not.toContain('CONSISTENT');
      expect(io.err()).toContain('OLD_JOURNAL_INVALID');
    });

    it('exits 1 for an older copy that holds only a checkpoint', async () => {
      const cp = j.lines.find((l) => l.includes('"type":"checkpoint"'))!;
      const older = join(dir, 'older-only-checkpoint.jsonl');
      writeFileSync(older, toText([cp]));
      const io = captureIo();
      expect(await runCli(['audit', 'consistency', older, journal, '--trust', trust], io)).toBe(1);
      expect(io.out()).not.toContain('later record');
      expect(io.err()).toContain('OLD_JOURNAL_INVALID');
    });
  });

  describe('when it says CONSISTENT', () => {
    it('says in words what it compared', async () => {
      const older = join(dir, 'older-words.jsonl');
      writeFileSync(older, toText(j.lines.slice(0, 120)));
      const io = captureIo();
      expect(await runCli(['audit', 'consistency', older, journal, '--trust', trust], io)).toBe(0);
      const out = io.out();
      expect(out).toContain(`contains ${older} unchanged`);
      expect(out).toContain('120 record(s), verified intact');
      expect(out).toMatch(/records 1\.\.101: an RFC 6962 consistency proof \(\d+ hash\(es\)\)/);
      expect(out).toContain('records 102..120 (after the older checkpoint): compared byte for byte');
    });
  });
});
