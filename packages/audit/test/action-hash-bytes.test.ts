import { canonicalize, type JsonValue } from '@edca/records';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionHashFromInputBytes } from '../src/internal/action-hash-bytes.js';
import {
  firstObjectMember,
  hasExactMembers,
  memberValue,
  objectMembers,
} from '../src/internal/member-bytes.js';

const isIJson = (v: unknown): boolean => {
  try {
    canonicalize(v);
    return true;
  } catch {
    return false;
  }
};
const INPUT = Buffer.from('"input":');

/** A decision line whose input may hold a decoy `proposal` key nested before the real one. */
function lineOf(proposal: JsonValue, decoy: JsonValue): Buffer {
  const input = {
    approvals: [],
    principal: { attributes: { proposal: decoy }, id: 'p' },
    proposal,
    state: { facets: {}, machines: {} },
  };
  return Buffer.from(canonicalize({ at: 'now', body: { accountable: 'a', input }, kid: 'k' }));
}

describe('actionHashFromInputBytes (fast) against actionHashOf (reference)', () => {
  describe('when the proposal has other members, or none', () => {
    it('declines (undefined), so the caller uses the reference', () => {
      const extra = firstObjectMember(lineOf({ intent: 'x', params: {}, zzz: 1 }, null), INPUT)!;
      expect(actionHashFromInputBytes(extra, {})).toBeUndefined();
      const none = firstObjectMember(lineOf(null, null), INPUT)!;
      expect(actionHashFromInputBytes(none, {})).toBeUndefined();
    });
  });
});

describe('objectMembers', () => {
  describe('when given the canonical bytes of any object', () => {
    it('lists exactly its top-level members with their canonical value bytes', () => {
      fc.assert(
        fc.property(
          fc
            .dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>)
            .filter(isIJson),
          (obj) => {
            const bytes = Buffer.from(canonicalize(obj));
            const members = objectMembers(bytes)!;
            const parsed = JSON.parse(bytes.toString()) as Record<string, JsonValue>;
            // JSON.parse puts integer-like keys first; RFC 8785 orders by UTF-16 code units.
            expect(members.map((m) => JSON.parse(`"${m.key}"`) as string).sort()).toEqual(
              Object.keys(parsed).sort(),
            );
            for (const m of members)
              expect(m.value.toString()).toBe(canonicalize(parsed[JSON.parse(`"${m.key}"`) as string]!));
          },
        ),
        { numRuns: 300, seed: 15 },
      );
    });
  });

  describe('when the bytes are not an object', () => {
    it('returns undefined', () => {
      for (const text of ['[1]', '{"a":1', '{"a"1}', '{"a":1,}', '"x"'])
        expect(objectMembers(Buffer.from(text))).toBeUndefined();
      expect(objectMembers(Buffer.from('{}'))).toEqual([]);
    });
  });
});

describe('memberValue and hasExactMembers', () => {
  describe('when given any bytes, canonical objects or not', () => {
    it('answer exactly what the member list of objectMembers says', () => {
      const texts = fc.oneof(
        fc
          .dictionary(
            fc.constantFrom('intent', 'params', 'proposal', 'x', 'é'),
            fc.jsonValue({ maxDepth: 2 }),
          )
          .filter(isIJson)
          .map((o) => canonicalize(o)),
        fc.constantFrom('[1]', '{"a":1', '{"a"1}', '{"proposal":1,}', '"x"', '{}', '{"intent":1,"params":2}'),
      );
      const names = ['intent', 'params', 'proposal', 'x', 'é'];
      fc.assert(
        fc.property(texts, (text) => {
          const bytes = Buffer.from(text);
          const members = objectMembers(bytes);
          for (const name of names) {
            const expected = members?.find((m) => m.key === name)?.value;
            expect(memberValue(bytes, Buffer.from(name))?.toString()).toBe(expected?.toString());
          }
          for (const keys of [['intent', 'params'], ['x'], []]) {
            const expected =
              members !== undefined && JSON.stringify(members.map((m) => m.key)) === JSON.stringify(keys);
            expect(
              hasExactMembers(
                bytes,
                keys.map((k) => Buffer.from(k)),
              ),
            ).toBe(expected);
          }
        }),
        { numRuns: 400, seed: 16 },
      );
    });
  });
});
