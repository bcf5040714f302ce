import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseJson, RecordsError } from '@edca/records';
import { parseJsonStrict } from '../src/ijson.js';
import { ijsonValue } from './arbitraries.js';

// parseJson tries JSON.parse plus a checking walk first; the strict single-pass parser is the
// reference: same value (own keys, order, -0) or the same refusal code, path and message.
type Outcome = { value: unknown } | { code: string; path: string; message: string };

const outcome = (f: () => unknown): Outcome => {
  try {
    return { value: f() };
  } catch (e) {
    if (!(e instanceof RecordsError)) throw e;
    return { code: e.code, path: e.path ?? '', message: e.message };
  }
};

const agree = (text: string, maxDepth = 64): void => {
  const fast = outcome(() => parseJson(text, { maxDepth }));
  const strict = outcome(() => parseJsonStrict(text, maxDepth));
  expect(fast).toEqual(strict);
  if ('value' in fast && 'value' in strict) {
    expect(Object.is(fast.value, -0)).toBe(Object.is(strict.value, -0));
    expect(JSON.stringify(fast.value)).toBe(JSON.stringify(strict.value));
  }
};

// Strings that may hold lone surrogates, ':' and characters JSON must escape.
const nasty = fc.string({
  unit: fc.constantFrom(':', '"', '\\', 'a', '\u0001', '\ud800', '\udc00', '\u{1f600}', 'é'),
  maxLength: 6,
});

describe('parseJson (native fast path)', () => {
  describe('when the text is any JSON', () => {
    it('returns what the strict parser returns, or refuses as it does', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.json(),
            ijsonValue.map((v) => JSON.stringify(v, null, 1)),
          ),
          (text) => {
            agree(text);
          },
        ),
        { numRuns: 2000 },
      );
    });

    it('agrees at every depth limit', () => {
      fc.assert(
        fc.property(fc.json(), fc.integer({ min: 1, max: 6 }), (text, maxDepth) => {
          agree(text, maxDepth);
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('when keys are duplicated, strings are odd or the text is damaged', () => {
    it('refuses a duplicated key however colons and escapes are placed', () => {
      fc.assert(
        fc.property(nasty, nasty, nasty, fc.boolean(), (k, a, b, escapeColon) => {
          const key = JSON.stringify(k);
          const esc = (s: string): string => {
            const t = JSON.stringify(s);
            return escapeColon ? t.replaceAll(':', '\\u003a') : t;
          };
          agree(`{${key}:${esc(a)},${key}:${esc(b)}}`);
          agree(`{"x":{${key}:1,"y":${esc(a)}},"z":[${esc(b)}],${key}:{${key}:2}}`);
          agree(`[{${esc(a)}:${esc(b)}},{${key}:${esc(a)},${key}:[]}]`);
        }),
        { numRuns: 2000 },
      );
    });

    it('agrees on damaged texts (a character removed, doubled or replaced)', () => {
      fc.assert(
        fc.property(
          fc.json(),
          fc.nat(),
          fc.constantFrom(
            '',
            ':',
            ',',
            '"',
            '{',
            '}',
            '[',
            ']',
            '\\',
            ' ',
            '\ufeff',
            '1e999',
            '9007199254740993',
          ),
          (text, at, insert) => {
            const i = text.length === 0 ? 0 : at % text.length;
            agree(text.slice(0, i) + insert + text.slice(i + 1));
            agree(text.slice(0, i) + insert + text.slice(i));
          },
        ),
        { numRuns: 3000 },
      );
    });

    it('refuses the known cases with their codes', () => {
      for (const text of [
        '{"a":1,"a":2}',
        '{"a:":1,"a:":2}',
        '{"a":"\\u003a","a":"x"}',
        '["\\ud800"]',
        '9007199254740993',
        '1e400',
        '9007199254740993.0',
        '{"__proto__":1}',
        '-0',
      ])
        agree(text);
    });
  });
});
