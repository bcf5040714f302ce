/**
 * Reads a JSON Lines file region as lines of exact bytes, in bounded memory.
 */
import type { FileHandle } from 'node:fs/promises';

/** One line: its bytes without the newline, and the file offset of its first byte. */
export interface JournalFileLine {
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** False only for trailing bytes with no newline after them (a torn tail). */
  readonly complete: boolean;
}

const CHUNK = 1 << 20;
const NEWLINE = 0x0a;

/** Yields the lines of `[start, end)`; the last item is incomplete when the region does not end in "\n". */
export async function* readJournalLines(
  file: FileHandle,
  start: number,
  end: number,
): AsyncGenerator<JournalFileLine> {
  let carry: Uint8Array = new Uint8Array(0);
  let carryOffset = start;
  let position = start;
  while (position < end) {
    const want = Math.min(CHUNK, end - position);
    const chunk = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await file.read(chunk, got, want - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got === 0) break;
    position += got;
    const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
    let from = 0;
    for (let nl = data.indexOf(NEWLINE, from); nl !== -1; nl = data.indexOf(NEWLINE, from)) {
      // Copy: a chunk must not stay alive behind one line's bytes.
      yield { offset: carryOffset + from, bytes: new Uint8Array(data.subarray(from, nl)), complete: true };
      from = nl + 1;
    }
    carry = new Uint8Array(data.subarray(from));
    carryOffset += from;
  }
  if (carry.length > 0) yield { offset: carryOffset, bytes: carry, complete: false };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a journal line as a JSON object (not strictly: the chain and hashes prove the bytes);
 * undefined when it is not UTF-8 JSON or not an object.
 */
export function parseLineObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
