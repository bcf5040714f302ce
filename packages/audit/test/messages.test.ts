import { decodeRecord, RECORD_SIGNING_PREFIX, signingMessage } from '@edca/records';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateJournal, type GeneratedJournal } from '../../../test/helpers/journal-generator.js';
import { recordSigAt, recordSigningBytes, SIG_MEMBER_BYTES } from '../src/internal/messages.js';

let j: GeneratedJournal;
beforeAll(async () => {
  j = await generateJournal({ records: 300, checkpointEvery: 50, seed: 11 });
});

describe('recordSigAt', () => {
  describe('when given each line of a journal (every record type, approvals with a nested sig)', () => {
    it('cuts out exactly the sig member: prefix + the rest is signingMessage of the record', () => {
      const types = new Set<string>();
      for (const text of j.lines) {
        const line = Buffer.from(text, 'utf8');
        const record = decodeRecord(line);
        types.add(record.type);
        const at = recordSigAt(line);
        const message = Buffer.concat([
          RECORD_SIGNING_PREFIX,
          line.subarray(0, at),
          line.subarray(at + SIG_MEMBER_BYTES),
        ]);
        expect(message.equals(Buffer.from(signingMessage(record)))).toBe(true);
        expect(message.equals(recordSigningBytes(line, record))).toBe(true);
        expect(line.toString('latin1', at, at + SIG_MEMBER_BYTES)).toBe(`"sig":"${record.sig}",`);
      }
      expect(types).toContain('approval');
      expect(types).toContain('checkpoint');
    });
  });

  describe('when the line has no sig member where a canonical record has it', () => {
    it('throws (an invariant, never reached for decoded lines)', () => {
      expect(() => recordSigAt(Buffer.from('{"a":1}'))).toThrow(/invariant/);
    });
  });
});
