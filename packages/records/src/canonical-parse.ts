import { RecordsError, type RecordsErrorCode } from './errors.js';
import { DEFAULT_IJSON_LIMITS, type IJsonLimits, type JsonValue } from './ijson.js';

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
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-f]{4}/y;

type WellFormed = { isWellFormed(): boolean };

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
  if (!(text as unknown as WellFormed).isWellFormed())
    throw new RecordsError('IJSON_LONE_SURROGATE', 'lone surrogate in text');
  // The parser's state is module-level (the functions below are not closures), so a call
  // allocates nothing but the result: the auditor parses every journal line.
  src = text;
  i = 0;
  depthLimit = maxDepth;
  nextBackslash = text.indexOf('\\');
  if (nextBackslash === -1) nextBackslash = text.length;
  try {
    const result = value(0);
    if (i !== text.length) {
      if (isWs(text.charCodeAt(i))) notCanonical('trailing whitespace');
      fail('IJSON_SYNTAX', 'trailing characters');
    }
    return result;
  } finally {
    src = '';
  }
}

let src = '';
let i = 0;
let depthLimit = 0;
let nextBackslash = 0;

function fail(code: RecordsErrorCode, what: string): never {
  throw new RecordsError(code, `${what} at offset ${i}`);
}
// Any text that is not JSON at all is a syntax error; JSON in another spelling is not canonical.
function notCanonical(what: string): never {
  return fail('RECORD_NOT_CANONICAL', what);
}

function str(): string {
  i++; // opening quote
  const end = src.indexOf('"', i);
  if (end === -1) return fail('IJSON_SYNTAX', 'unterminated string');
  if (nextBackslash > end) {
    const s = src.slice(i, end);
    i = end + 1;
    return s;
  }
  const s = escapedStr();
  nextBackslash = src.indexOf('\\', i);
  if (nextBackslash === -1) nextBackslash = src.length;
  return s;
}

function escapedStr(): string {
  const text = src;
  let out = '';
  let start = i;
  let escapedSurrogate = false;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x22) break;
    if (Number.isNaN(c)) fail('IJSON_SYNTAX', 'unterminated string');
    if (c < 0x20) fail('IJSON_SYNTAX', 'raw control character in string');
    if (c !== 0x5c) {
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
        if (/[0-9a-fA-F]{4}/y.test(text.slice(i + 2, i + 6))) notCanonical('upper-case \\u escape');
        fail('IJSON_SYNTAX', 'invalid \\u escape');
      }
      const cp = parseInt(text.slice(i + 2, i + 6), 16);
      // Only control characters without a short form are written as \u00xx. A surrogate escape is
      // judged after the string: a lone one is an I-JSON error, a pair merely non-canonical.
      if (cp >= 0xd800 && cp <= 0xdfff) escapedSurrogate = true;
      else if (cp >= 0x20 || SHORT_CONTROLS.has(cp)) notCanonical('unnecessary \\u escape');
      out += String.fromCharCode(cp);
      i += 6;
    } else if (e === 0x2f) {
      notCanonical('escaped solidus');
    } else fail('IJSON_SYNTAX', 'invalid escape');
    start = i;
  }
  out += text.slice(start, i);
  i++; // closing quote
  if (!(out as unknown as WellFormed).isWellFormed())
    fail('IJSON_LONE_SURROGATE', 'lone surrogate in string');
  if (escapedSurrogate) notCanonical('escaped surrogate pair');
  return out;
}

function value(depth: number): JsonValue {
  const text = src;
  const c = text.charCodeAt(i);
  if (c === 0x22) return str();
  if (c === 0x7b) {
    if (depth >= depthLimit) fail('IJSON_TOO_DEEP', `nesting deeper than ${depthLimit}`);
    i++;
    const obj: Record<string, JsonValue> = {};
    if (text.charCodeAt(i) === 0x7d) {
      i++;
      return obj;
    }
    let prev: string | undefined;
    for (;;) {
      if (text.charCodeAt(i) !== 0x22) {
        if (isWs(text.charCodeAt(i))) notCanonical('whitespace');
        fail('IJSON_SYNTAX', 'expected a string key');
      }
      const key = str();
      // RFC 8785 §3.2.3: members sorted by UTF-16 code units; equal keys are duplicates.
      if (prev !== undefined && !(prev < key))
        notCanonical(prev === key ? `duplicate key ${JSON.stringify(key)}` : 'members out of order');
      prev = key;
      if (text.charCodeAt(i) !== 0x3a) {
        if (isWs(text.charCodeAt(i))) notCanonical('whitespace');
        fail('IJSON_SYNTAX', 'expected :');
      }
      i++;
      const v = value(depth + 1);
      if (key === '__proto__')
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      const d = text.charCodeAt(i++);
      if (d === 0x7d) return obj;
      if (d !== 0x2c) {
        i--;
        if (isWs(d)) notCanonical('whitespace');
        fail('IJSON_SYNTAX', 'expected , or }');
      }
    }
  }
  if (c === 0x5b) {
    if (depth >= depthLimit) fail('IJSON_TOO_DEEP', `nesting deeper than ${depthLimit}`);
    i++;
    const arr: JsonValue[] = [];
    if (text.charCodeAt(i) === 0x5d) {
      i++;
      return arr;
    }
    for (;;) {
      arr.push(value(depth + 1));
      const d = text.charCodeAt(i++);
      if (d === 0x5d) return arr;
      if (d !== 0x2c) {
        i--;
        if (isWs(d)) notCanonical('whitespace');
        fail('IJSON_SYNTAX', 'expected , or ]');
      }
    }
  }
  if (c === 0x74 && text.startsWith('true', i)) {
    i += 4;
    return true;
  }
  if (c === 0x66 && text.startsWith('false', i)) {
    i += 5;
    return false;
  }
  if (c === 0x6e && text.startsWith('null', i)) {
    i += 4;
    return null;
  }
  NUMBER.lastIndex = i;
  const m = NUMBER.exec(text);
  if (m === null) {
    if (isWs(c)) notCanonical('whitespace');
    return fail('IJSON_SYNTAX', 'unexpected character');
  }
  const token = m[0];
  const n = Number(token);
  if (!Number.isFinite(n)) fail('IJSON_NON_FINITE_NUMBER', `${token} overflows a double`);
  if (Number.isInteger(n) && !Number.isSafeInteger(n) && (Math.abs(n) < 1e21 || !/[.eE]/.test(token)))
    fail('IJSON_UNSAFE_INTEGER', `integer ${token} is beyond ±(2^53−1)`);
  // RFC 8785 §3.2.2.3: the ECMAScript Number-to-String form, which String() produces.
  if (String(n) !== token) notCanonical(`number ${token} is not in ECMAScript form ${String(n)}`);
  i += token.length;
  return n;
}

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
