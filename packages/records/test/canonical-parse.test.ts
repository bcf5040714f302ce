import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize, parseCanonicalJson, RecordsError, type JsonValue } from '@edca/records';
import { ijsonValue } from './arbitraries.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'NO_ERROR';
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return (e as RecordsError).code;
  }
};

// Random re-spellings of a value as JSON text: key order shuffled, optional whitespace, other
// escapes and number forms. The oracle for "canonical" is canonicalize(JSON.parse(text)) === text.
const respell = (v: JsonValue, rnd: () => number): string => {
  const ws = (): string => (rnd() < 0.05 ? ' ' : '');
  const str = (s: string): string => {
    let out = JSON.stringify(s);
    if (rnd() < 0.1) out = out.replace(/[a-z]/, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (rnd() < 0.05) out = out.replace('/', '\\/');
    if (rnd() < 0.05) out = out.replace(/\\u00([0-9a-f]{2})/, (_m, h: string) => `\\u00${h.toUpperCase()}`);
    return out;
  };
  const go = (x: JsonValue): string => {
    if (x === null || typeof x === 'boolean') return String(x);
    if (typeof x === 'number') {
      const r = rnd();
      if (r < 0.05 && Number.isInteger(x)) return `${x}.0`;
      if (r < 0.1) return x.toExponential();
      return JSON.stringify(x);
    }
    if (typeof x === 'string') return str(x);
    if (Array.isArray(x)) return `[${ws()}${x.map(go).join(`${ws()},${ws()}`)}${ws()}]`;
    const keys = Object.keys(x).sort();
    if (rnd() < 0.1) keys.reverse();
    return `{${ws()}${keys.map((k) => `${str(k)}${ws()}:${ws()}${go(x[k]!)}`).join(',')}${ws()}}`;
  };
  return go(v);
};

describe('parseCanonicalJson', () => {
  describe('when the text is canonical', () => {
    it('accepts every output of canonicalize and returns an equal value (property)', () => {
      fc.assert(
        fc.property(ijsonValue, (v) => {
          const text = canonicalize(v);
          const parsed = parseCanonicalJson(text);
          expect(canonicalize(parsed)).toBe(text);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('when the text is any spelling of a value', () => {
    it('accepts it exactly when canonicalize would reproduce it (property, oracle json-canonicalize)', () => {
      fc.assert(
        fc.property(ijsonValue, fc.integer(), (v, seed) => {
          let s = seed;
          const rnd = (): number => {
            s = (Math.imul(s, 1103515245) + 12345) | 0;
            return ((s >>> 8) & 0xffff) / 0x10000;
          };
          const text = respell(v, rnd);
          const canonical = canonicalize(JSON.parse(text)) === text;
          expect(codeOf(() => parseCanonicalJson(text)) === 'NO_ERROR').toBe(canonical);
        }),
        { numRuns: 2000 },
      );
    });
  });

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
