import { serialize } from 'node:v8';
import { canonicalize, toFrozenJson } from '@edca/records';
import { describe, expect, it } from 'vitest';

/** V8 holds the string in one byte per character (v8.serialize tags it `"`, a two-byte one `c`). */
const isOneByte = (s: string): boolean => serialize(s)[2] === 0x22;

/**
 * An ASCII name held in two bytes per character, as a name cut out of a text with a character past
 * Latin-1 is (a state map read from YAML); unique, so no one-byte copy of it was interned before.
 */
function twoByteName(): string {
  const name = (`member_${Math.random().toString(36).slice(2)}` + '\u2014').slice(0, -1);
  expect(isOneByte(name)).toBe(false);
  return name;
}

describe('canonical text of two-byte member names', () => {
  it('is one-byte when every character fits', () => {
    const key = twoByteName();
    const text = canonicalize({ [key]: 'plain', b: [1, 2] });
    expect(text).toBe(`{"b":[1,2],"${key}":"plain"}`);
    expect(isOneByte(text)).toBe(true);
  });

  it('is one-byte through a frozen copy too', () => {
    const key = twoByteName();
    const copy = toFrozenJson({ [key]: { x: 1 } });
    expect(copy).toBeDefined();
    const text = canonicalize({ input: copy });
    expect(text).toBe(`{"input":{"${key}":{"x":1}}}`);
    expect(isOneByte(text)).toBe(true);
  });

  it('keeps a name past Latin-1 as it is', () => {
    expect(canonicalize({ 'a\u2014b': 1 })).toBe('{"a\u2014b":1}');
  });
});
