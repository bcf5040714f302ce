import {
  AuditError,
  checkInclusionProof,
  checkJournalConsistency,
  createInclusionProof,
  type InclusionProofDocument,
} from '@edca/audit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createGeneratorKeys,
  generateJournal,
  type GeneratedJournal,
} from '../../../test/helpers/journal-generator.js';
import { resignLine, toText } from '../../../test/helpers/tamper.js';

let j: GeneratedJournal;
beforeAll(async () => {
  j = await generateJournal({ records: 300, checkpointEvery: 40, seed: 11 });
});

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(AuditError);
    return (err as AuditError).code;
  }
};

describe('createInclusionProof and checkInclusionProof', () => {
  describe('when the record is covered by the latest checkpoint', () => {
    it('proves every record against the last checkpoint without the journal', () => {
      const last = j.seqs.checkpoints.at(-1)!;
      for (const seq of [1, 2, 77, 150, last - 1]) {
        const proof = createInclusionProof(j.text, seq);
        expect(proof.treeSize).toBe(last - 1);
        expect(proof.leafIndex).toBe(seq - 1);
        expect(proof.checkpoint).toBe(j.lines[last - 1]);
        const v = checkInclusionProof(JSON.stringify(proof), j.keys.trust);
        expect(v.record.seq).toBe(seq);
        expect(v.checkpoint.seq).toBe(last);
      }
    });
  });

  describe('when the record is the last checkpoint (no checkpoint covers it)', () => {
    it('proves it by its own signature, and refuses the proof once altered', () => {
      const last = j.seqs.checkpoints.at(-1)!;
      const proof = createInclusionProof(j.text, last);
      expect(proof).toMatchObject({ leafIndex: last - 1, treeSize: last - 1, auditPath: [] });
      expect(proof.record).toBe(j.lines[last - 1]);
      expect(proof.checkpoint).toBe(proof.record);
      const v = checkInclusionProof(JSON.stringify(proof), j.keys.trust);
      expect(v.record.seq).toBe(last);
      expect(v.checkpoint.seq).toBe(last);
      const other = createGeneratorKeys(99).trust;
      for (const [altered, trust] of [
        [{ ...proof, leafIndex: last - 2 }, j.keys.trust],
        [{ ...proof, auditPath: ['A'.repeat(43)] }, j.keys.trust],
        [{ ...proof, treeSize: last }, j.keys.trust],
        [proof, other],
      ] as const)
        expect(codeOf(() => checkInclusionProof(altered, trust))).toBe('PROOF_INVALID');
    });
  });

  describe('when the record is after the last checkpoint, or absent', () => {
    it('refuses with PROOF_UNAVAILABLE or ARGUMENT_INVALID', () => {
      const cut = toText(j.lines.slice(0, j.seqs.checkpoints[0]! + 3));
      expect(codeOf(() => createInclusionProof(cut, j.seqs.checkpoints[0]! + 2))).toBe('PROOF_UNAVAILABLE');
      expect(codeOf(() => createInclusionProof(j.text, j.lines.length + 1))).toBe('PROOF_UNAVAILABLE');
      expect(codeOf(() => createInclusionProof(j.text, 0))).toBe('ARGUMENT_INVALID');
    });
  });

  describe('when any part of the proof is altered', () => {
    let proof: InclusionProofDocument;
    beforeAll(() => {
      proof = createInclusionProof(j.text, 100);
    });

    it('refuses a changed record, path, index, size or checkpoint with PROOF_INVALID', async () => {
      const other = j.lines[100]!;
      const variants: unknown[] = [
        { ...proof, record: other },
        { ...proof, record: proof.record.replace('"seq":100', '"seq":101') },
        { ...proof, leafIndex: 98 },
        { ...proof, treeSize: proof.treeSize - 1 },
        { ...proof, auditPath: [...proof.auditPath].reverse() },
        { ...proof, auditPath: proof.auditPath.slice(1) },
        { ...proof, checkpoint: j.lines[j.seqs.checkpoints[0]! - 1] },
        { ...proof, extra: true },
        'not json',
      ];
      for (const v of variants)
        expect(codeOf(() => checkInclusionProof(v, j.keys.trust))).toBe('PROOF_INVALID');
      const resigned = await resignLine(j.lines, 100, j.keys.spareKernel);
      expect(codeOf(() => checkInclusionProof({ ...proof, record: resigned[99] }, j.keys.trust))).toBe(
        'PROOF_INVALID',
      );
    });

    it('refuses a proof whose checkpoint is signed by a key the trust file does not list', () => {
      const other = createGeneratorKeys(99).trust;
      expect(codeOf(() => checkInclusionProof(proof, other))).toBe('PROOF_INVALID');
    });
  });
});

describe('checkJournalConsistency', () => {
  describe('when the newer copy extends the older one', () => {
    it('links the two signed roots with an RFC 6962 consistency proof', () => {
      const cut = j.seqs.checkpoints[2]! + 5;
      const r = checkJournalConsistency(toText(j.lines.slice(0, cut)), j.text, j.keys.trust);
      expect(r.old.seq).toBe(j.seqs.checkpoints[2]);
      expect(r.new.seq).toBe(j.seqs.checkpoints.at(-1));
      expect(r.proof.length).toBeGreaterThan(0);
      expect(r.tailRecords).toBe(6); // the checkpoint record itself and the 5 after it
    });
  });

  describe('when history was rewritten or truncated', () => {
    it('refuses with CONSISTENCY_FAILED', async () => {
      const older = toText(j.lines.slice(0, j.seqs.checkpoints[3]));
      const changed = await resignLine(j.lines, 10, j.keys.kernel, (r) => ({
        at: r.at.replace(/\.\d{3}Z$/, '.999Z'),
      }));
      // a newer copy with record 10 changed and every later checkpoint left as it was
      expect(codeOf(() => checkJournalConsistency(older, toText(changed), j.keys.trust))).toBe(
        'CONSISTENCY_FAILED',
      );
      // a "newer" copy that is shorter than the older one (truncation)
      const shorter = toText(j.lines.slice(0, j.seqs.checkpoints[1]));
      expect(codeOf(() => checkJournalConsistency(older, shorter, j.keys.trust))).toBe('CONSISTENCY_FAILED');
      // records after the older checkpoint that differ in the newer copy
      const olderTail = [...j.lines.slice(0, j.seqs.checkpoints[3]! + 2)];
      const newerTail = await resignLine(j.lines, j.seqs.checkpoints[3]! + 1, j.keys.kernel, (r) => ({
        at: r.at.replace(/\.\d{3}Z$/, '.999Z'),
      }));
      expect(codeOf(() => checkJournalConsistency(toText(olderTail), toText(newerTail), j.keys.trust))).toBe(
        'CONSISTENCY_FAILED',
      );
    });
  });

  describe('when the older copy does not match its own checkpoint', () => {
    it('refuses with CONSISTENCY_FAILED instead of trusting its root', () => {
      const olderLines = j.lines.slice(0, j.seqs.checkpoints[3]);
      olderLines[1] = olderLines[1]!.replace('"seq":2', '"seq":2 ');
      expect(() => checkJournalConsistency(toText(olderLines), j.text, j.keys.trust)).toThrow(
        /older copy does not match its own checkpoint root/,
      );
      // an older copy that is only a checkpoint claims records that do not precede it
      const cp = j.lines[j.seqs.checkpoints[3]! - 1]!;
      expect(() => checkJournalConsistency(toText([cp]), j.text, j.keys.trust)).toThrow(/fewer precede it/);
    });
  });
});
