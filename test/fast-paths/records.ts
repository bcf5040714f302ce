import fc from 'fast-check';
import { canonicalize, type IJsonLimits, type JsonValue } from '@edca/records';
import { recordsFastPaths } from '../../packages/records/src/internal/fast-paths.js';
import { ijsonValue } from '../../packages/records/test/arbitraries.js';
import { anything } from '../../packages/records/test/canonical-oracle.js';
import { defineFastPath } from './harness.js';
import { typedBody, validTypedBody } from './record-bodies.js';

const deepFreeze = <T>(v: T): T => {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
};
// A deep copy through JSON keeps the data and drops the frozen state.
const thaw = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A deeply frozen part whose text canonicalize has remembered, inside new containers at any depth. */
const withRememberedParts: fc.Arbitrary<unknown> = fc
  .tuple(ijsonValue, ijsonValue, fc.string(), fc.boolean())
  .map(([a, b, key, nested]) => {
    const part = deepFreeze(thaw(a));
    canonicalize(part); // remember its text
    return nested
      ? [[{ p: part }], b, [[part]]]
      : { x: { [key]: part, z: [b, { inner: 1 }] }, y: [1, 'two', b] };
  });

const limits: fc.Arbitrary<IJsonLimits | undefined> = fc.option(
  fc.record({ maxDepth: fc.integer({ min: 1, max: 8 }), maxBytes: fc.integer({ min: 1, max: 400 }) }),
  { nil: undefined },
);

/**
 * Strings of every length around where ijson checks plainness by a loop or by a regular expression
 * (12 characters) and past it: mostly plain ASCII, sometimes one character that is not (a quote, a
 * backslash, a control, DEL, Latin-1, a lone or paired surrogate) at any place.
 */
const plainUnit = fc.constantFrom('a', 'Z', '0', ' ', '~', ':', '|', '_', '-', '.');
const oddUnit = fc.constantFrom(
  '"',
  '\\',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '\u2028',
  '\ud800',
  '\udc00',
  '\u{1f600}',
);
const aroundThreshold: fc.Arbitrary<string> = fc
  .tuple(
    // Every length equally likely: fast-check's default size keeps strings near ten characters.
    fc.integer({ min: 0, max: 80 }).chain((n) => fc.string({ unit: plainUnit, minLength: n, maxLength: n })),
    fc.option(oddUnit),
    fc.nat(),
  )
  .map(([plain, odd, at]) => {
    if (odd === null) return plain;
    const i = at % (plain.length + 1);
    return plain.slice(0, i) + odd + plain.slice(i);
  });
const stringsAroundThreshold: fc.Arbitrary<unknown> = fc.oneof(
  aroundThreshold,
  fc.array(aroundThreshold, { maxLength: 4 }),
  fc.dictionary(aroundThreshold, aroundThreshold, { maxKeys: 4 }),
);

defineFastPath({
  name: 'records.canonicalText',
  pair: recordsFastPaths.canonicalText,
  arbitrary: fc.tuple(fc.oneof(ijsonValue, withRememberedParts, anything, stringsAroundThreshold), limits),
  answers: fc.tuple(ijsonValue, fc.constant(undefined)),
  numRuns: 3000,
});

// Strings that may hold lone surrogates, ':' and characters JSON must escape.
const nasty = fc.string({
  unit: fc.constantFrom(':', '"', '\\', 'a', '\u0001', '\ud800', '\udc00', '\u{1f600}', 'é'),
  maxLength: 6,
});
const duplicatedKeys = fc.tuple(nasty, nasty, nasty, fc.boolean()).chain(([k, a, b, escapeColon]) => {
  const key = JSON.stringify(k);
  const esc = (s: string): string => {
    const t = JSON.stringify(s);
    return escapeColon ? t.replaceAll(':', '\\u003a') : t;
  };
  return fc.constantFrom(
    `{${key}:${esc(a)},${key}:${esc(b)}}`,
    `{"x":{${key}:1,"y":${esc(a)}},"z":[${esc(b)}],${key}:{${key}:2}}`,
    `[{${esc(a)}:${esc(b)}},{${key}:${esc(a)},${key}:[]}]`,
  );
});
/** A text with one character removed, doubled or replaced by one that matters to JSON. */
const damaged = (texts: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(
      texts,
      fc.nat(),
      fc.boolean(),
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
    )
    .map(([text, at, replace, insert]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      return text.slice(0, i) + insert + text.slice(replace ? i + 1 : i);
    });
const known = fc.constantFrom(
  '{"a":1,"a":2}',
  '{"a:":1,"a:":2}',
  '{"a":"\\u003a","a":"x"}',
  '["\\ud800"]',
  '9007199254740993',
  '1e400',
  '9007199254740993.0',
  '{"__proto__":1}',
  '-0',
);
const anyJsonText = fc.oneof(
  fc.json(),
  ijsonValue.map((v) => JSON.stringify(v, null, 1)),
  duplicatedKeys,
  damaged(fc.json()),
  known,
);
// The parsed value and its member order (JSON.stringify keeps the order; toEqual does not look).
const withOrder = (v: unknown): unknown => [v, JSON.stringify(v)];

defineFastPath({
  name: 'records.parseJsonText',
  pair: recordsFastPaths.parseJsonText,
  arbitrary: fc.tuple(anyJsonText, fc.oneof(fc.constant(64), fc.integer({ min: 1, max: 6 }))),
  answers: fc.tuple(
    ijsonValue.map((v) => JSON.stringify(v)),
    fc.constant(64),
  ),
  normalize: withOrder,
  numRuns: 3000,
});

/**
 * Random re-spellings of a value as JSON text: key order shuffled, optional whitespace, other
 * escapes and number forms (most are not canonical).
 */
const respelled: fc.Arbitrary<string> = fc.tuple(ijsonValue, fc.integer()).map(([v, seed]) => {
  let s = seed;
  const rnd = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    return ((s >>> 8) & 0xffff) / 0x10000;
  };
  const ws = (): string => (rnd() < 0.05 ? ' ' : '');
  const str = (t: string): string => {
    let out = JSON.stringify(t);
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
});
const canonicalText = ijsonValue.map((v) => canonicalize(v));

defineFastPath({
  name: 'records.canonicalParse',
  pair: recordsFastPaths.canonicalParse,
  arbitrary: fc.tuple(
    fc.oneof(respelled, canonicalText, damaged(canonicalText), known),
    fc.option(fc.record({ maxDepth: fc.integer({ min: 1, max: 6 }) }), { nil: undefined }),
  ),
  answers: fc.tuple(canonicalText, fc.constant(undefined)),
  // A duplicate key is IJSON_DUPLICATE_KEY to the strict parser, out of canonical order here.
  refusals: 'any',
  normalize: withOrder,
  numRuns: 3000,
});

defineFastPath({
  name: 'records.bodyCheck',
  pair: recordsFastPaths.bodyCheck,
  arbitrary: typedBody,
  answers: validTypedBody,
  numRuns: 8000,
});

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
// Every field drawn over its whole two- or four-digit range, so out-of-range values are common.
const shapedInstant = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100, 0, 9999)),
    fc.integer({ min: 0, max: 99 }),
    fc.oneof(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 27, max: 32 })),
    fc.oneof(fc.integer({ min: 0, max: 99 }), fc.constantFrom(23, 24)),
    fc.oneof(fc.integer({ min: 0, max: 99 }), fc.constantFrom(59, 60)),
    fc.oneof(fc.integer({ min: 0, max: 99 }), fc.constantFrom(59, 60)),
    fc.integer({ min: 0, max: 999 }),
  )
  .map(
    ([y, mo, d, h, mi, s, ms]) =>
      `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}Z`,
  );
const realInstant = fc
  .date({
    min: new Date('0000-01-01T00:00:00Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());

defineFastPath({
  name: 'records.recordInstant',
  pair: recordsFastPaths.recordInstant,
  arbitrary: fc.tuple(fc.oneof(shapedInstant, realInstant)),
  answers: fc.tuple(realInstant),
  numRuns: 20_000,
});
