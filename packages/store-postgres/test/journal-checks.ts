import { expect } from 'vitest';
import { decodeRecord, digestBytes } from '@edca/records';
import type { AppendedRecord, Journal } from '@edca/kernel';

/** Every record of a journal from `fromSeq` on. */
export async function readAll(journal: Journal, fromSeq = 1): Promise<AppendedRecord[]> {
  const out: AppendedRecord[] = [];
  for await (const r of journal.read(fromSeq)) out.push(r);
  return out;
}

/** Seqs 1..n, each prev the hash of the exact bytes before it, hashes and bytes consistent. */
export function expectLinearStream(records: readonly AppendedRecord[], stream: string): void {
  let prev: string | null = null;
  records.forEach((r, i) => {
    expect(r.record.seq).toBe(i + 1);
    expect(r.record.stream).toBe(stream);
    expect(r.record.prev).toBe(prev);
    expect(digestBytes(r.bytes)).toBe(r.hash);
    expect(decodeRecord(r.bytes)).toEqual(r.record);
    prev = r.hash;
  });
}
