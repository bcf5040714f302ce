import { RecordsError, type RecordsErrorCode } from './errors.js';
import type { FastPath } from './fast-path.js';
import {
  canonicalize,
  DEFAULT_IJSON_LIMITS,
  isWellFormed,
  JSON_NUMBER,
  parseJson,
  type IJsonLimits,
  type JsonValue,
} from './ijson.js';

// Two-character escapes RFC 8785 §3.2.2.2 keeps (as ES2019 JSON.stringify writes them).
const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x22: '"',
  0x5c: '\\',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};
const SHORT_CONTROLS = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d]);
const HEX4 = /[0-9a-f]{4}/y;

/**
 * Parses text that must already be in RFC 8785 canonical form, checking the form while parsing
 * instead of re-serializing: no whitespace, members in strictly increasing UTF-16 order (so no
 * duplicates), strings escaped exactly as RFC 8785 §3.2.2.2 prescribes, numbers exactly as
 * ECMAScript writes them (§3.2.2.3), and the strict I-JSON rules of `assertIJson`.
 * Accepts exactly the strings `canonicalize` can produce (property-tested against it).
 * @throws RecordsError `RECORD_NOT_CANONICAL` (valid JSON, other spelling), `IJSON_SYNTAX`,
 *   `IJSON_LONE_SURROGATE`, `IJSON_UNSAFE_INTEGER`, `IJSON_TOO_DEEP`, `IJSON_TOO_LARGE`
 * @example
 * parseCanonicalJson('{"a":1,"b":[true]}'); // ok;  parseCanonicalJson('{"b":1,"a":2}') throws RECORD_NOT_CANONICAL
 */
export function parseCanonicalJson(text: string, limits?: IJsonLimits): JsonValue {
  const maxDepth = limits?.maxDepth ?? DEFAULT_IJSON_LIMITS.maxDepth;
  const maxBytes = limits?.maxBytes ?? DEFAULT_IJSON_LIMITS.maxBytes;
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes)
    throw new RecordsError('IJSON_TOO_LARGE', `larger than ${maxBytes} bytes`);
  // Canonical text has no raw control character anywhere (no whitespace outside strings, escapes
  // inside) and no raw lone surrogate, so both are checked once over the whole text; strings then
  // only need the next quote and the next backslash.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(text)) {
    // Valid JSON (whitespace between tokens) is merely not canonical; anything else is a syntax error.
    let json = true;
    try {
      JSON.parse(text);
    } catch {
      json = false;
    }
    throw json
      ? new RecordsError('RECORD_NOT_CANONICAL', 'whitespace between tokens')
      : new RecordsError('IJSON_SYNTAX', 'raw control character');
  }
  if (!isWellFormed(text)) throw new RecordsError('IJSON_LONE_SURROGATE', 'lone surrogate in text');
  const c = new Cursor(text, maxDepth);
  const result = value(c, 0);
  if (c.i !== text.length) {
    if (isWs(text.charCodeAt(c.i))) notCanonical(c, 'trailing whitespace');
    fail(c, 'IJSON_SYNTAX', 'trailing characters');
  }
  return result;
}

/**
 * The parser's state, passed to each step: the text, the offset reached, the depth limit and the
 * offset of the next backslash (a string before it has no escape, so it is one slice).
 */
class Cursor {
  i = 0;
  nextBackslash: number;
  constructor(
    readonly src: string,
    readonly depthLimit: number,
  ) {
    const b = src.indexOf('\\');
    this.nextBackslash = b === -1 ? src.length : b;
  }
}

function fail(c: Cursor, code: RecordsErrorCode, what: string): never {
  throw new RecordsError(code, `${what} at offset ${c.i}`);
}
// Any text that is not JSON at all is a syntax error; JSON in another spelling is not canonical.
function notCanonical(c: Cursor, what: string): never {
  return fail(c, 'RECORD_NOT_CANONICAL', what);
}

function str(c: Cursor): string {
  const src = c.src;
  const start = c.i + 1; // past the opening quote
  const end = src.indexOf('"', start);
  if (end === -1) {
    c.i = start;
    return fail(c, 'IJSON_SYNTAX', 'unterminated string');
  }
  if (c.nextBackslash > end) {
    c.i = end + 1;
    return src.slice(start, end);
  }
  c.i = start;
  const s = escapedStr(c);
  const b = src.indexOf('\\', c.i);
  c.nextBackslash = b === -1 ? src.length : b;
  return s;
}

function escapedStr(c: Cursor): string {
  const text = c.src;
  // The offset lives in a local through the loop and goes back to the cursor at the end and
  // before every refusal (whose message names it).
  let i = c.i;
  const stop = (code: RecordsErrorCode, what: string): never => {
    c.i = i;
    return fail(c, code, what);
  };
  let out = '';
  let start = i;
  let escapedSurrogate = false;
  for (;;) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) break;
    if (Number.isNaN(ch)) stop('IJSON_SYNTAX', 'unterminated string');
    if (ch < 0x20) stop('IJSON_SYNTAX', 'raw control character in string');
    if (ch !== 0x5c) {
      i++;
      continue;
    }
    out += text.slice(start, i);
    const e = text.charCodeAt(i + 1);
    const short = SHORT_ESCAPES[e];
    if (short !== undefined) {
      out += short;
      i += 2;
    } else if (e === 0x75) {
      HEX4.lastIndex = i + 2;
      if (!HEX4.test(text)) {
        if (/[0-9a-fA-F]{4}/y.test(text.slice(i + 2, i + 6)))
          stop('RECORD_NOT_CANONICAL', 'upper-case \\u escape');
        stop('IJSON_SYNTAX', 'invalid \\u escape');
      }
      const cp = parseInt(text.slice(i + 2, i + 6), 16);
      // Only control characters without a short form are written as \u00xx. A surrogate escape is
      // judged after the string: a lone one is an I-JSON error, a pair merely non-canonical.
      if (cp >= 0xd800 && cp <= 0xdfff) escapedSurrogate = true;
      else if (cp >= 0x20 || SHORT_CONTROLS.has(cp)) stop('RECORD_NOT_CANONICAL', 'unnecessary \\u escape');
      out += String.fromCharCode(cp);
      i += 6;
    } else if (e === 0x2f) {
      stop('RECORD_NOT_CANONICAL', 'escaped solidus');
    } else stop('IJSON_SYNTAX', 'invalid escape');
    start = i;
  }
  out += text.slice(start, i);
  c.i = i + 1; // past the closing quote
  if (!isWellFormed(out)) fail(c, 'IJSON_LONE_SURROGATE', 'lone surrogate in string');
  if (escapedSurrogate) notCanonical(c, 'escaped surrogate pair');
  return out;
}

function value(c: Cursor, depth: number): JsonValue {
  const text = c.src;
  const ch = text.charCodeAt(c.i);
  if (ch === 0x22) return str(c);
  if (ch === 0x7b) {
    if (depth >= c.depthLimit) fail(c, 'IJSON_TOO_DEEP', `nesting deeper than ${c.depthLimit}`);
    c.i++;
    const obj: Record<string, JsonValue> = {};
    if (text.charCodeAt(c.i) === 0x7d) {
      c.i++;
      return obj;
    }
    let prev: string | undefined;
    for (;;) {
      if (text.charCodeAt(c.i) !== 0x22) {
        if (isWs(text.charCodeAt(c.i))) notCanonical(c, 'whitespace');
        fail(c, 'IJSON_SYNTAX', 'expected a string key');
      }
      const key = str(c);
      // RFC 8785 §3.2.3: members sorted by UTF-16 code units; equal keys are duplicates.
      if (prev !== undefined && !(prev < key))
        notCanonical(c, prev === key ? `duplicate key ${JSON.stringify(key)}` : 'members out of order');
      prev = key;
      if (text.charCodeAt(c.i) !== 0x3a) {
        if (isWs(text.charCodeAt(c.i))) notCanonical(c, 'whitespace');
        fail(c, 'IJSON_SYNTAX', 'expected :');
      }
      c.i++;
      const v = value(c, depth + 1);
      if (key === '__proto__')
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      const d = text.charCodeAt(c.i);
      if (d === 0x7d) {
        c.i++;
        return obj;
      }
      if (d !== 0x2c) {
        if (isWs(d)) notCanonical(c, 'whitespace');
        fail(c, 'IJSON_SYNTAX', 'expected , or }');
      }
      c.i++;
    }
  }
  if (ch === 0x5b) {
    if (depth >= c.depthLimit) fail(c, 'IJSON_TOO_DEEP', `nesting deeper than ${c.depthLimit}`);
    c.i++;
    const arr: JsonValue[] = [];
    if (text.charCodeAt(c.i) === 0x5d) {
      c.i++;
      return arr;
    }
    for (;;) {
      arr.push(value(c, depth + 1));
      const d = text.charCodeAt(c.i);
      if (d === 0x5d) {
        c.i++;
        return arr;
      }
      if (d !== 0x2c) {
        if (isWs(d)) notCanonical(c, 'whitespace');
        fail(c, 'IJSON_SYNTAX', 'expected , or ]');
      }
      c.i++;
    }
  }
  if (ch === 0x74 && text.startsWith('true', c.i)) {
    c.i += 4;
    return true;
  }
  if (ch === 0x66 && text.startsWith('false', c.i)) {
    c.i += 5;
    return false;
  }
  if (ch === 0x6e && text.startsWith('null', c.i)) {
    c.i += 4;
    return null;
  }
  JSON_NUMBER.lastIndex = c.i;
  const m = JSON_NUMBER.exec(text);
  if (m === null) {
    if (isWs(ch)) notCanonical(c, 'whitespace');
    return fail(c, 'IJSON_SYNTAX', 'unexpected character');
  }
  const token = m[0];
  const n = Number(token);
  if (!Number.isFinite(n)) fail(c, 'IJSON_NON_FINITE_NUMBER', `${token} overflows a double`);
  if (Number.isInteger(n) && !Number.isSafeInteger(n) && (Math.abs(n) < 1e21 || !/[.eE]/.test(token)))
    fail(c, 'IJSON_UNSAFE_INTEGER', `integer ${token} is beyond ±(2^53−1)`);
  // RFC 8785 §3.2.2.3: the ECMAScript Number-to-String form, which String() produces.
  if (String(n) !== token) notCanonical(c, `number ${token} is not in ECMAScript form ${String(n)}`);
  c.i += token.length;
  return n;
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Parse a text that must be canonical. Reference: the strict parser, then the value's canonical
 * text must be the text itself. Fast (total): {@link parseCanonicalJson}, which checks the form
 * while parsing. Both accept the same texts with equal values; where both refuse the codes may
 * differ (a duplicate key is `IJSON_DUPLICATE_KEY` to the reference, merely out of canonical order
 * here).
 */
export const canonicalParsePath: FastPath<[text: string, limits: IJsonLimits | undefined], JsonValue> = {
  reference: (text, limits) => {
    const v = parseJson(text, limits);
    if (canonicalize(v, limits) !== text)
      throw new RecordsError('RECORD_NOT_CANONICAL', 'not the canonical text');
    return v;
  },
  fast: parseCanonicalJson,
};
