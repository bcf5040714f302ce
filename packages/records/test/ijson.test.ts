import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  assertIJson,
  canonicalBytes,
  canonicalize,
  DEFAULT_IJSON_LIMITS,
  parseJson,
  RecordsError,
  type RecordsErrorCode,
} from '@edca/records';
import { ijsonValue } from './arbitraries.js';

const codeOf = (f: () => unknown): RecordsErrorCode | 'NO_ERROR' => {
  try {
    f();
    return 'NO_ERROR';
  } catch (e) {
    expect(e).toBeInstanceOf(RecordsError);
    return (e as RecordsError).code;
  }
};

const nest = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe('assertIJson', () => {
  describe('when a value is outside the I-JSON data model', () => {
    class Point {
      x = 1;
    }
    const cases: [string, unknown, RecordsErrorCode][] = [
      ['undefined at top level', undefined, 'IJSON_UNDEFINED'],
      ['undefined as a member', { a: undefined }, 'IJSON_UNDEFINED'],
      ['undefined in an array hole', new Array<number>(3), 'IJSON_UNDEFINED'],
      ['a function', { f: () => 1 }, 'IJSON_FUNCTION'],
      ['a symbol value', [Symbol('s')], 'IJSON_SYMBOL'],
      ['a symbol key', { [Symbol('k')]: 1 }, 'IJSON_SYMBOL'],
      ['a BigInt', { n: 1n }, 'IJSON_BIGINT'],
      ['NaN', { n: NaN }, 'IJSON_NON_FINITE_NUMBER'],
      ['+Infinity', [Infinity], 'IJSON_NON_FINITE_NUMBER'],
      ['-Infinity', -Infinity, 'IJSON_NON_FINITE_NUMBER'],
      ['2^53', 2 ** 53, 'IJSON_UNSAFE_INTEGER'],
      ['-(2^53)', -(2 ** 53), 'IJSON_UNSAFE_INTEGER'],
      ['1e20 (integral, canonicalizes to 21 digits)', 1e20, 'IJSON_UNSAFE_INTEGER'],
      ['-(1e21 − 2^17) (largest that canonicalizes to digits)', -(1e21 - 2 ** 17), 'IJSON_UNSAFE_INTEGER'],
      ['a lone high surrogate', 'a\ud800', 'IJSON_LONE_SURROGATE'],
      ['a lone low surrogate', ['\udc00b'], 'IJSON_LONE_SURROGATE'],
      ['a lone surrogate in a key', { '\ud800': 1 }, 'IJSON_LONE_SURROGATE'],
      ['a Date', { d: new Date(0) }, 'IJSON_NON_PLAIN_OBJECT'],
      ['a Map', new Map(), 'IJSON_NON_PLAIN_OBJECT'],
      ['a class instance', new Point(), 'IJSON_NON_PLAIN_OBJECT'],
      ['an object with toJSON', { toJSON: () => 1 }, 'IJSON_NON_PLAIN_OBJECT'],
      ['an object with a toJSON string', { toJSON: 'x', b: 1 }, 'IJSON_NON_PLAIN_OBJECT'],
      ['a typed array', new Uint8Array(2), 'IJSON_NON_PLAIN_OBJECT'],
      ['a boxed string', Object('s'), 'IJSON_NON_PLAIN_OBJECT'],
      ['an array subclass', new (class extends Array<number> {})(), 'IJSON_NON_PLAIN_OBJECT'],
    ];
    it.each(cases)('refuses %s', (_name, value, code) => {
      expect(codeOf(() => assertIJson(value))).toBe(code);
    });

    it('refuses a cycle as too deep instead of looping', () => {
      const a: unknown[] = [];
      a.push(a);
      expect(codeOf(() => assertIJson(a))).toBe('IJSON_TOO_DEEP');
    });

    it('names the path of the offending value', () => {
      try {
        assertIJson({ a: [{ 'b/c': undefined }] });
      } catch (e) {
        expect((e as RecordsError).path).toBe('/a/0/b~1c');
      }
      expect.assertions(1);
    });
  });

  describe('when a value is at or past the limits', () => {
    it(`accepts depth ${DEFAULT_IJSON_LIMITS.maxDepth} and refuses one more`, () => {
      expect(codeOf(() => assertIJson(nest(DEFAULT_IJSON_LIMITS.maxDepth)))).toBe('NO_ERROR');
      expect(codeOf(() => assertIJson(nest(DEFAULT_IJSON_LIMITS.maxDepth + 1)))).toBe('IJSON_TOO_DEEP');
    });
    it('honours a custom depth limit', () => {
      expect(codeOf(() => assertIJson({ a: { b: 1 } }, { maxDepth: 1 }))).toBe('IJSON_TOO_DEEP');
    });
    it('refuses a value larger than maxBytes', () => {
      expect(codeOf(() => assertIJson('x'.repeat(2_000_000)))).toBe('IJSON_TOO_LARGE');
      expect(codeOf(() => assertIJson(['abcdef'], { maxBytes: 8 }))).toBe('IJSON_TOO_LARGE');
    });
  });

  describe('when a value is I-JSON', () => {
    it('accepts the edge values', () => {
      const v = {
        max: Number.MAX_SAFE_INTEGER,
        min: Number.MIN_SAFE_INTEGER,
        float: 1.5e-300,
        huge: 1e300, // canonicalizes as "1e+300": exponent form, not integer digits
        e21: -1e21,
        neg0: -0,
        pair: '\ud83d\ude00',
        nul: null,
        nested: [[], {}, true, false],
        proto: Object.create(null) as unknown,
      };
      expect(codeOf(() => assertIJson(v))).toBe('NO_ERROR');
    });
  });
});

describe('canonicalize', () => {
  describe('when given values json-canonicalize would silently alter', () => {
    it('refuses undefined members instead of dropping them', () => {
      expect(codeOf(() => canonicalize({ a: 1, b: undefined }))).toBe('IJSON_UNDEFINED');
    });
    it('refuses toJSON instead of calling it', () => {
      expect(codeOf(() => canonicalize({ d: new Date(0) }))).toBe('IJSON_NON_PLAIN_OBJECT');
    });
    it('refuses lone surrogates instead of emitting them', () => {
      expect(codeOf(() => canonicalize({ s: '\udfff' }))).toBe('IJSON_LONE_SURROGATE');
    });
  });
  describe('when given I-JSON', () => {
    it('sorts keys by UTF-16 code units and writes ES6 numbers', () => {
      expect(canonicalize({ b: 1e-7, a: [1.0, -0, 0.000001], '\u20ac': 1, '\ud83d\ude00': 2 })).toBe(
        '{"a":[1,0,0.000001],"b":1e-7,"€":1,"😀":2}',
      );
    });
    it('refuses canonical output past maxBytes', () => {
      expect(codeOf(() => canonicalBytes({ a: 'é'.repeat(6) }, { maxBytes: 17 }))).toBe('IJSON_TOO_LARGE');
      expect(Buffer.from(canonicalBytes({ a: 'é'.repeat(6) }, { maxBytes: 20 })).toString()).toBe(
        '{"a":"éééééé"}',
      );
    });
    it('round-trips through parseJson for any JSON value (property)', () => {
      fc.assert(
        fc.property(ijsonValue, (v) => {
          const text = canonicalize(v);
          expect(canonicalize(parseJson(text))).toBe(text);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('parseJson', () => {
  describe('when the text is not strict I-JSON', () => {
    const cases: [string, string, RecordsErrorCode][] = [
      ['a duplicate key', '{"a":1,"a":2}', 'IJSON_DUPLICATE_KEY'],
      ['a nested duplicate key', '{"x":[{"k":1,"j":0,"k":1}]}', 'IJSON_DUPLICATE_KEY'],
      ['a duplicate key spelled with an escape', '{"a":1,"\\u0061":2}', 'IJSON_DUPLICATE_KEY'],
      ['a duplicate __proto__ key', '{"__proto__":1,"__proto__":2}', 'IJSON_DUPLICATE_KEY'],
      ['an escaped lone surrogate', '["\\ud800"]', 'IJSON_LONE_SURROGATE'],
      ['a lone surrogate in a key', '{"\\udc00":1}', 'IJSON_LONE_SURROGATE'],
      ['an overflowing number', '[1e400]', 'IJSON_NON_FINITE_NUMBER'],
      ['an unsafe integer', '9007199254740993', 'IJSON_UNSAFE_INTEGER'],
      ['2^53 as a literal', '[-9007199254740992]', 'IJSON_UNSAFE_INTEGER'],
      ['a 31-digit integer literal', '1000000000000000000000000000000', 'IJSON_UNSAFE_INTEGER'],
      ['an exponent that is an unsafe integer', '9.007199254740993e15', 'IJSON_UNSAFE_INTEGER'],
      ['a trailing comma', '[1,]', 'IJSON_SYNTAX'],
      ['a leading zero', '01', 'IJSON_SYNTAX'],
      ['a BOM', '\ufeff{}', 'IJSON_SYNTAX'],
      ['NaN', 'NaN', 'IJSON_SYNTAX'],
      ['single quotes', "{'a':1}", 'IJSON_SYNTAX'],
      ['a raw control character', '"a\nb"', 'IJSON_SYNTAX'],
      ['a bad escape', '"\\x41"', 'IJSON_SYNTAX'],
      ['trailing garbage', '{} {}', 'IJSON_SYNTAX'],
      ['an unterminated string', '"abc', 'IJSON_SYNTAX'],
      ['empty text', '', 'IJSON_SYNTAX'],
      ['too deep', '['.repeat(65) + ']'.repeat(65), 'IJSON_TOO_DEEP'],
      ['too large', `"${'x'.repeat(DEFAULT_IJSON_LIMITS.maxBytes)}"`, 'IJSON_TOO_LARGE'],
    ];
    it.each(cases)('refuses %s', (_name, text, code) => {
      expect(codeOf(() => parseJson(text))).toBe(code);
    });
  });
  describe('when the text is strict I-JSON', () => {
    it('parses values and whitespace like JSON.parse', () => {
      const text = ' { "a" : [ 1 , -2.5e3 , true , false , null , "\\u00e9\\n" ] , "b" : { } } ';
      expect(parseJson(text)).toEqual(JSON.parse(text));
    });
    it('accepts exponent-form numbers beyond 2^53, as RFC 8785 §3.2.2.3 does (1E30)', () => {
      expect(canonicalize(parseJson('[1E30, 4.50, 2e-3]'))).toBe('[1e+30,4.5,0.002]');
    });
    it('keeps a __proto__ key as data without changing the prototype', () => {
      const v = parseJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
      expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
      expect(Object.keys(v)).toEqual(['__proto__']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
    it('agrees with JSON.parse on any JSON text (property)', () => {
      fc.assert(
        fc.property(ijsonValue, (v) => {
          const text = JSON.stringify(v, null, 1);
          expect(parseJson(text)).toEqual(JSON.parse(text));
        }),
        { numRuns: 300 },
      );
    });
  });
});
