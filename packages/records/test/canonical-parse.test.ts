import { describe, expect, it } from 'vitest';
import { parseCanonicalJson, RecordsError } from '@edca/records';

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'NO_ERROR';
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return (e as RecordsError).code;
  }
};

// Accepting exactly the texts canonicalize writes, with equal values, is the shared fast-path
// harness's property (test/fast-paths: records.canonicalParse); these are the named cases.
describe('parseCanonicalJson', () => {
  describe('when the text is not canonical', () => {
    const cases: [string, string, string][] = [
      ['whitespace', '{"a": 1}', 'RECORD_NOT_CANONICAL'],
      ['leading whitespace', ' 1', 'RECORD_NOT_CANONICAL'],
      ['trailing newline', '[1]\n', 'RECORD_NOT_CANONICAL'],
      ['members out of order', '{"b":1,"a":2}', 'RECORD_NOT_CANONICAL'],
      ['UTF-16 order, not code point order', '{"😀":1,"€":2}', 'RECORD_NOT_CANONICAL'],
      ['a duplicate key', '{"a":1,"a":1}', 'RECORD_NOT_CANONICAL'],
      ['an escaped letter', '["\\u0061"]', 'RECORD_NOT_CANONICAL'],
      ['an escaped solidus', '["\\/"]', 'RECORD_NOT_CANONICAL'],
      ['\\u000a for \\n', '["\\u000a"]', 'RECORD_NOT_CANONICAL'],
      ['upper-case hex escape', '["\\u001F"]', 'RECORD_NOT_CANONICAL'],
      ['an escaped surrogate pair', '["\\ud83d\\ude00"]', 'RECORD_NOT_CANONICAL'],
      ['1.0', '[1.0]', 'RECORD_NOT_CANONICAL'],
      ['-0', '[-0]', 'RECORD_NOT_CANONICAL'],
      ['1E30', '[1E30]', 'RECORD_NOT_CANONICAL'],
      ['1e30 without +', '[1e30]', 'RECORD_NOT_CANONICAL'],
      ['0.0000001 for 1e-7', '[0.0000001]', 'RECORD_NOT_CANONICAL'],
      ['a lone surrogate escape', '["\\ud800"]', 'IJSON_LONE_SURROGATE'],
      ['an unsafe integer', '[9007199254740993]', 'IJSON_UNSAFE_INTEGER'],
      ['a raw control character', '["\t"]', 'IJSON_SYNTAX'],
      ['a BOM', '\ufeff[]', 'IJSON_SYNTAX'],
      ['truncated', '{"a":1', 'IJSON_SYNTAX'],
      ['too deep', '['.repeat(65) + ']'.repeat(65), 'IJSON_TOO_DEEP'],
    ];
    it.each(cases)('refuses %s', (_n, text, code) => {
      expect(codeOf(() => parseCanonicalJson(text))).toBe(code);
    });
  });

  describe('when the canonical text holds the edge spellings', () => {
    it('accepts them', () => {
      for (const t of [
        '["\\u001f","\\n","\\"","\\\\","\u007f","\u2028"]',
        '[1e+30,1e-7,0.000001,-1.5,0]',
        '{"":0,"a":{"__proto__":1}}',
      ]) {
        expect(
          codeOf(() => parseCanonicalJson(t)),
          t,
        ).toBe('NO_ERROR');
      }
    });
  });
});
