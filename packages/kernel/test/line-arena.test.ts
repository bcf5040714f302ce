import { describe, expect, it } from 'vitest';

import { LINE_CHUNK_BYTES, LineArena, pushContiguous } from '../src/internal/line-arena.js';

const line = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe('LineArena', () => {
  it('copies lines next to each other, each followed by a newline, and later lines change no earlier one', () => {
    const arena = new LineArena();
    const a = arena.add(line(10, 0x61));
    const b = arena.add(line(5, 0x62));
    expect(b.bytes.buffer).toBe(a.bytes.buffer);
    expect(b.bytes.byteOffset).toBe(a.bytes.byteOffset + 11);
    expect(Buffer.from(a.withNewline).toString()).toBe('aaaaaaaaaa\n');
    expect(Buffer.from(b.withNewline).toString()).toBe('bbbbb\n');
    expect(Buffer.from(a.bytes).toString()).toBe('aaaaaaaaaa');
  });

  it('starts a fresh chunk when a line does not fit, and gives a longer line a chunk of its own', () => {
    const arena = new LineArena();
    const first = arena.add(line(LINE_CHUNK_BYTES - 100, 0x61));
    const second = arena.add(line(200, 0x62));
    expect(second.bytes.buffer).not.toBe(first.bytes.buffer);
    expect(second.bytes.byteOffset).toBe(0);
    const big = arena.add(line(3 * LINE_CHUNK_BYTES, 0x63));
    expect(big.withNewline.buffer.byteLength).toBe(3 * LINE_CHUNK_BYTES + 1);
    expect(big.withNewline[3 * LINE_CHUNK_BYTES]).toBe(0x0a);
    expect(Buffer.from(first.bytes).every((x) => x === 0x61)).toBe(true);
    expect(Buffer.from(second.bytes).every((x) => x === 0x62)).toBe(true);
  });

  it('never hands out memory of Node’s shared buffer pool', () => {
    const arena = new LineArena();
    for (let i = 0; i < 50; i++)
      expect(arena.add(line(40, 0x61)).bytes.buffer.byteLength).toBe(LINE_CHUNK_BYTES);
  });
});

describe('pushContiguous', () => {
  it('merges a view that continues the last one in the same memory, and keeps the others apart', () => {
    const arena = new LineArena();
    const chunks: Uint8Array[] = [];
    const a = arena.add(line(3, 0x61));
    const b = arena.add(line(3, 0x62));
    pushContiguous(chunks, a.withNewline);
    pushContiguous(chunks, b.withNewline);
    expect(chunks).toHaveLength(1);
    expect(Buffer.from(chunks[0]!).toString()).toBe('aaa\nbbb\n');
    const other = Buffer.from('zzz\n');
    pushContiguous(chunks, other);
    // Not adjacent in the same memory (a gap, or another buffer): kept as its own chunk.
    const c = arena.add(line(3, 0x63));
    pushContiguous(chunks, c.withNewline);
    expect(chunks.map((x) => Buffer.from(x).toString())).toEqual(['aaa\nbbb\n', 'zzz\n', 'ccc\n']);
  });
});
