// The deterministic ES6 number test sequence of cyberphone/json-canonicalization (testdata/README.md
// "ES6 Numbers"): the static and serial values, then doubles drawn from a SHA-256 chain. Each line
// of the reference file is `<hex of the IEEE-754 bits>,<expected serialization>\n`.
import { createHash } from 'node:crypto';
import { canonicalize as jcs } from 'json-canonicalize';
import { expect } from 'vitest';
import { canonicalize, RecordsError } from '@edca/records';
import { readVector } from './vectors.js';

const README = 'rfc8785-cyberphone-json-canonicalization/testdata/README.md';

function staticU64s(): bigint[] {
  const text = readVector(README);
  const start = text.indexOf('staticU64s = new BigUint64Array([');
  const end = text.indexOf('])', start);
  return [...text.slice(start, end).matchAll(/0x([0-9a-f]+)n/g)].map((m) => BigInt(`0x${m[1]!}`));
}

/** The README's table of SHA-256 checksums of the first N lines. */
export function expectedChecksums(): Map<number, string> {
  const rows = [...readVector(README).matchAll(/^\| ([0-9a-f]{64}) \| (\d+)\s+\|/gm)];
  return new Map(rows.map((m) => [Number(m[2]), m[1]!]));
}

/** Yields [bits, value] for the sequence, in order. */
export function* es6Numbers(): Generator<[bigint, number]> {
  const u = new BigUint64Array(1);
  const f = new Float64Array(u.buffer);
  for (const bits of staticU64s()) {
    u[0] = bits;
    yield [bits, f[0]!];
  }
  for (let i = 0n; i < 2000n; i++) {
    u[0] = 0x0010000000000000n + i;
    yield [u[0], f[0]!];
  }
  let block = new Uint8Array(32);
  let data: number[] = [];
  for (;;) {
    let x = 0;
    while (x === 0 || !Number.isFinite(x)) {
      if (data.length === 0) {
        block = new Uint8Array(createHash('sha256').update(block).digest());
        data = [...new Float64Array(block.buffer, 0, 4)];
      }
      x = data.shift()!;
    }
    f[0] = x;
    yield [u[0]!, x];
  }
}

/** Hashes the first n lines `<hex>,<serialization>\n`, checking our canonicalize on the way. */
export function checkFirst(n: number): { sha256: string; refused: number } {
  const h = createHash('sha256');
  let refused = 0;
  let i = 0;
  for (const [bits, x] of es6Numbers()) {
    if (i++ === n) break;
    const expected = jcs(x);
    h.update(`${bits.toString(16)},${expected}\n`);
    // Our canonicalize writes the same bytes, except that it refuses integers beyond 2^53 that
    // would be written as digits (the I-JSON number rule).
    if (Number.isInteger(x) && !Number.isSafeInteger(x) && Math.abs(x) < 1e21) {
      refused++;
      expect(() => canonicalize(x)).toThrow(RecordsError);
    } else if (canonicalize(x) !== expected)
      throw new Error(`${bits.toString(16)}: ${canonicalize(x)} ≠ ${expected}`);
  }
  return { sha256: h.digest('hex'), refused };
}
