/** One journal line: its exact bytes (no newline) and its 1-based line number. */
export interface JournalLine {
  readonly bytes: Buffer;
  readonly line: number;
}

const NEWLINE = 0x0a;

/**
 * Splits a journal into lines without copying. Input is the file bytes, the file text, or lines
 * already split (each without its newline). A final newline ends the last line; it opens no
 * empty one. A blank line in the middle is kept, so the verifier reports it.
 */
export function toJournalLines(input: Uint8Array | string | readonly (string | Uint8Array)[]): JournalLine[] {
  if (typeof input === 'string') return splitBytes(Buffer.from(input, 'utf8'));
  if (input instanceof Uint8Array) {
    return splitBytes(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  }
  return input.map((l, i) => ({
    bytes: typeof l === 'string' ? Buffer.from(l, 'utf8') : Buffer.from(l.buffer, l.byteOffset, l.byteLength),
    line: i + 1,
  }));
}

function splitBytes(buf: Buffer): JournalLine[] {
  const lines: JournalLine[] = [];
  let start = 0;
  let n = 1;
  while (start < buf.length) {
    let end = buf.indexOf(NEWLINE, start);
    if (end === -1) end = buf.length;
    lines.push({ bytes: buf.subarray(start, end), line: n++ });
    start = end + 1;
  }
  return lines;
}
