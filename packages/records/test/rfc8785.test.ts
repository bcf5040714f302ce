import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalize, parseJson } from '@edca/records';
import { listVectors, readVector } from './vectors.js';

const DIR = 'rfc8785-cyberphone-json-canonicalization/testdata';

describe('RFC 8785 testdata (cyberphone/json-canonicalization)', () => {
  const names = listVectors(`${DIR}/input`);

  it('finds the six vectors', () => {
    expect(names).toEqual([
      'arrays.json',
      'french.json',
      'structures.json',
      'unicode.json',
      'values.json',
      'weird.json',
    ]);
  });

  describe('when each input is parsed strictly and canonicalized', () => {
    it.each(names)('%s is byte-exact with output/ and outhex/', (name) => {
      const value = parseJson(readVector(`${DIR}/input/${name}`));
      const bytes = Buffer.from(canonicalBytes(value));
      // output/*.json has no trailing newline; outhex/*.txt is space-separated hex.
      expect(bytes.equals(Buffer.from(readVector(`${DIR}/output/${name}`), 'utf8'))).toBe(true);
      const outhex = readVector(`${DIR}/outhex/${name.replace('.json', '.txt')}`)
        .trim()
        .split(/\s+/)
        .join('');
      expect(bytes.toString('hex')).toBe(outhex.toLowerCase());
      expect(canonicalize(value)).toBe(readVector(`${DIR}/output/${name}`));
    });
  });

  describe('when the canonical output is parsed and canonicalized again', () => {
    it.each(names)('%s is a fixed point', (name) => {
      const out = readVector(`${DIR}/output/${name}`);
      expect(canonicalize(parseJson(out))).toBe(out);
    });
  });
});
