import { serialize } from 'node:v8';
import { canonicalize } from '@edca/records';
import { describe, expect, it } from 'vitest';
import { fixtureRecords, loadFixtureMap, readFixture } from './helpers.js';

/** V8 holds the string in one byte per character (v8.serialize tags it `"`, a two-byte one `c`). */
const isOneByte = (s: string): boolean => serialize(s)[2] === 0x22;

describe('strings of a map read from a text with characters past Latin-1', () => {
  it('are one-byte, so decision states and records are one-byte texts', () => {
    // The fixture has a character past Latin-1, which makes V8 hold the whole text in two bytes.
    expect(/[\u0100-\uffff]/.test(readFixture('maps/retail-banking.yaml'))).toBe(true);
    const map = loadFixtureMap('retail-banking');
    const derived = map.derive(fixtureRecords('retail-banking').get('good-standing')!);
    if (!derived.ok) throw new Error(derived.code);
    const { facets, machines } = derived.state;
    for (const value of [...Object.values(facets), ...Object.values(machines)])
      expect(isOneByte(value), value).toBe(true);
    expect(isOneByte(canonicalize(derived.state))).toBe(true);
    const intent = map.intent('refund_payment')!;
    for (const limit of intent.limits) expect(isOneByte(limit.key), limit.key).toBe(true);
    expect(isOneByte(map.owner)).toBe(true);
  });

  it('keep every character: a string past Latin-1 is unchanged', () => {
    const map = loadFixtureMap('retail-banking');
    expect(JSON.stringify(map.document)).toContain('Shown as \u2022\u2022\u2022\u2022 1234.');
  });
});
