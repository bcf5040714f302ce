import { canonicalize as jcs } from 'json-canonicalize';
import { RecordsError } from './errors.js';

/** A value of the JSON data model (RFC 8259) that passed the strict I-JSON check (RFC 7493). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/**
 * Limits applied by the strict I-JSON check and the strict parser.
 * Defaults: `maxDepth` 64 nested arrays/objects, `maxBytes` 1 MiB of UTF-8.
 */
export interface IJsonLimits {
  /** Deepest nesting of arrays and objects allowed; the top-level container is depth 1. */
  readonly maxDepth?: number;
  /**
   * Largest size in UTF-8 bytes: of the text given to `parseJson`, and of the output of
   * `canonicalBytes`. `assertIJson` refuses early when a cheap lower bound of the serialized
   * size (string and key lengths plus one per value) already passes it.
   */
  readonly maxBytes?: number;
}

/** The default limits, documented in docs/record-format.md §I-JSON. */
export const DEFAULT_IJSON_LIMITS: Readonly<Required<IJsonLimits>> = Object.freeze({
  maxDepth: 64,
  maxBytes: 1_048_576,
});

type WellFormed = { isWellFormed(): boolean };
const isWellFormed = (s: string): boolean => (s as unknown as WellFormed).isWellFormed();

// RFC 7493 §2.2: integers beyond ±(2^53−1) are not exact across implementations. A JS number
// carries no literal form, so the rule is applied to the canonical (ES6, RFC 8785 §3.2.2.3)
// output: a value that serializes as integer digits (|v| < 1e21) must be a safe integer. Larger
// integral doubles serialize in exponent form ("1e+30", RFC 8785's own example) and are accepted.
const isUnsafeInteger = (v: number): boolean =>
  Number.isInteger(v) && !Number.isSafeInteger(v) && Math.abs(v) < 1e21;

const pointer = (stack: readonly (string | number)[]): string =>
  stack.length === 0
    ? ''
    : '/' + stack.map((k) => String(k).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/**
 * Throws unless `value` is strict I-JSON: plain objects and arrays, finite numbers (any number
 * whose canonical form is integer digits must lie inside ±(2^53−1)), well-formed strings and keys,
 * within the depth and size limits.
 * @throws RecordsError `IJSON_UNDEFINED`, `IJSON_FUNCTION`, `IJSON_SYMBOL`, `IJSON_BIGINT`,
 *   `IJSON_NON_FINITE_NUMBER`, `IJSON_UNSAFE_INTEGER`, `IJSON_LONE_SURROGATE`,
 *   `IJSON_NON_PLAIN_OBJECT`, `IJSON_TOO_DEEP`, `IJSON_TOO_LARGE`
 * @example
 * assertIJson({ a: [1, 'x'] }); // ok; assertIJson({ a: NaN }) throws IJSON_NON_FINITE_NUMBER
 */
export function assertIJson(value: unknown, limits?: IJsonLimits): asserts value is JsonValue {
  const maxDepth = limits?.maxDepth ?? DEFAULT_IJSON_LIMITS.maxDepth;
  const maxBytes = limits?.maxBytes ?? DEFAULT_IJSON_LIMITS.maxBytes;
  const stack: (string | number)[] = [];
  let size = 0;
  const fail = (code: Parameters<typeof refuse>[0], message: string): never =>
    refuse(code, message, pointer(stack));

  const walk = (v: unknown, depth: number): void => {
    switch (typeof v) {
      case 'string':
        if (!isWellFormed(v)) fail('IJSON_LONE_SURROGATE', 'string contains a lone surrogate');
        size += v.length + 2;
        break;
      case 'number':
        if (!Number.isFinite(v)) fail('IJSON_NON_FINITE_NUMBER', `${v} is not a JSON number`);
        if (isUnsafeInteger(v)) fail('IJSON_UNSAFE_INTEGER', `integer ${v} is beyond ±(2^53−1)`);
        size += 1;
        break;
      case 'boolean':
        size += 4;
        break;
      case 'undefined':
        fail('IJSON_UNDEFINED', 'undefined is not a JSON value');
        break;
      case 'function':
        fail('IJSON_FUNCTION', 'a function is not a JSON value');
        break;
      case 'symbol':
        fail('IJSON_SYMBOL', 'a symbol is not a JSON value');
        break;
      case 'bigint':
        fail('IJSON_BIGINT', 'a BigInt is not a JSON value');
        break;
      case 'object': {
        if (v === null) {
          size += 4;
          break;
        }
        if (depth >= maxDepth) fail('IJSON_TOO_DEEP', `nesting deeper than ${maxDepth}`);
        if (Array.isArray(v)) {
          if (Object.getPrototypeOf(v) !== Array.prototype) fail('IJSON_NON_PLAIN_OBJECT', 'array subclass');
          size += 2;
          for (let i = 0; i < v.length; i++) {
            stack.push(i);
            walk(v[i], depth + 1);
            stack.pop();
          }
        } else {
          const proto: unknown = Object.getPrototypeOf(v);
          if (proto !== Object.prototype && proto !== null)
            fail('IJSON_NON_PLAIN_OBJECT', 'not a plain object (Date, Map, class instance, …)');
          if (Object.getOwnPropertySymbols(v).length > 0) fail('IJSON_SYMBOL', 'object has symbol keys');
          const obj = v as Record<string, unknown>;
          // json-canonicalize hands any object with a toJSON member to JSON.stringify unsorted.
          if (Object.hasOwn(obj, 'toJSON')) fail('IJSON_NON_PLAIN_OBJECT', 'object has toJSON');
          size += 2;
          for (const key of Object.keys(obj)) {
            stack.push(key);
            if (!isWellFormed(key)) fail('IJSON_LONE_SURROGATE', 'key contains a lone surrogate');
            size += key.length + 3;
            walk(obj[key], depth + 1);
            stack.pop();
          }
        }
        break;
      }
    }
    if (size > maxBytes) fail('IJSON_TOO_LARGE', `larger than ${maxBytes} bytes`);
  };
  walk(value, 0);
}

function refuse(
  code:
    | 'IJSON_UNDEFINED'
    | 'IJSON_FUNCTION'
    | 'IJSON_SYMBOL'
    | 'IJSON_BIGINT'
    | 'IJSON_NON_FINITE_NUMBER'
    | 'IJSON_UNSAFE_INTEGER'
    | 'IJSON_LONE_SURROGATE'
    | 'IJSON_NON_PLAIN_OBJECT'
    | 'IJSON_DUPLICATE_KEY'
    | 'IJSON_TOO_DEEP'
    | 'IJSON_TOO_LARGE'
    | 'IJSON_SYNTAX',
  message: string,
  path: string,
): never {
  throw new RecordsError(code, path === '' ? message : `${message} at ${path}`, path);
}

/**
 * RFC 8785 canonical JSON text of `value`, after the strict I-JSON check (so `undefined`,
 * `toJSON` and lone surrogates are refused instead of silently dropped, called or emitted).
 * @throws RecordsError any `IJSON_*` code of {@link assertIJson}
 * @example
 * canonicalize({ b: 1, a: 'x' }); // '{"a":"x","b":1}'
 */
export function canonicalize(value: unknown, limits?: IJsonLimits): string {
  assertIJson(value, limits);
  return jcs(value);
}

/**
 * UTF-8 bytes of {@link canonicalize}; refuses output larger than `maxBytes`.
 * @throws RecordsError any `IJSON_*` code of {@link assertIJson}
 * @example
 * canonicalBytes([1, 2]); // Uint8Array of '[1,2]'
 */
export function canonicalBytes(value: unknown, limits?: IJsonLimits): Uint8Array {
  const bytes = Buffer.from(canonicalize(value, limits), 'utf8');
  const maxBytes = limits?.maxBytes ?? DEFAULT_IJSON_LIMITS.maxBytes;
  if (bytes.length > maxBytes) refuse('IJSON_TOO_LARGE', `larger than ${maxBytes} bytes`, '');
  return bytes;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Strict JSON parser (RFC 8259 grammar, I-JSON values): refuses duplicate keys, lone
 * surrogates, non-finite or unsafe-integer numbers, a BOM, and input past the limits.
 * @throws RecordsError `IJSON_SYNTAX`, `IJSON_DUPLICATE_KEY`, `IJSON_LONE_SURROGATE`,
 *   `IJSON_NON_FINITE_NUMBER`, `IJSON_UNSAFE_INTEGER`, `IJSON_TOO_DEEP`, `IJSON_TOO_LARGE`
 * @example
 * parseJson('{"a":1}'); // { a: 1 };  parseJson('{"a":1,"a":2}') throws IJSON_DUPLICATE_KEY
 */
export function parseJson(text: string, limits?: IJsonLimits): JsonValue {
  const maxDepth = limits?.maxDepth ?? DEFAULT_IJSON_LIMITS.maxDepth;
  const maxBytes = limits?.maxBytes ?? DEFAULT_IJSON_LIMITS.maxBytes;
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes)
    refuse('IJSON_TOO_LARGE', `larger than ${maxBytes} bytes`, '');
  let i = 0;
  const stack: (string | number)[] = [];
  const syntax = (what: string): never => refuse('IJSON_SYNTAX', `${what} at offset ${i}`, pointer(stack));
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const str = (): string => {
    const start = i; // at the opening quote
    i++;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) syntax('unterminated string');
      if (c === 0x22) break;
      if (c < 0x20) syntax('control character in string');
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else i++;
    }
    i++;
    let s: string;
    if (escaped) {
      try {
        s = JSON.parse(text.slice(start, i)) as string;
      } catch {
        i = start;
        return syntax('invalid escape in string');
      }
    } else s = text.slice(start + 1, i - 1);
    if (!isWellFormed(s)) refuse('IJSON_LONE_SURROGATE', 'lone surrogate in string', pointer(stack));
    return s;
  };
  const value = (depth: number): JsonValue => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 0x22) return str();
    if (c === 0x7b || c === 0x5b) {
      if (depth >= maxDepth) refuse('IJSON_TOO_DEEP', `nesting deeper than ${maxDepth}`, pointer(stack));
      if (c === 0x5b) {
        i++;
        const arr: JsonValue[] = [];
        ws();
        if (text.charCodeAt(i) === 0x5d) {
          i++;
          return arr;
        }
        for (;;) {
          stack.push(arr.length);
          arr.push(value(depth + 1));
          stack.pop();
          ws();
          const d = text.charCodeAt(i++);
          if (d === 0x5d) return arr;
          if (d !== 0x2c) {
            i--;
            syntax('expected , or ]');
          }
        }
      }
      i++;
      const obj: Record<string, JsonValue> = {};
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 0x22) syntax('expected a string key');
        const key = str();
        if (Object.hasOwn(obj, key))
          refuse('IJSON_DUPLICATE_KEY', `duplicate key ${JSON.stringify(key)}`, pointer(stack));
        ws();
        if (text.charCodeAt(i) !== 0x3a) syntax('expected :');
        i++;
        stack.push(key);
        const v = value(depth + 1);
        stack.pop();
        // defineProperty so a "__proto__" key stays data and never changes the prototype.
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        const d = text.charCodeAt(i++);
        if (d === 0x7d) return obj;
        if (d !== 0x2c) {
          i--;
          syntax('expected , or }');
        }
      }
    }
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return syntax('unexpected character');
    i += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) refuse('IJSON_NON_FINITE_NUMBER', `${m[0]} overflows a double`, pointer(stack));
    // An integer literal (no fraction, no exponent) must be exact; so must any value that
    // canonicalizes to integer digits.
    const literalInteger = !/[.eE]/.test(m[0]);
    if ((literalInteger && !Number.isSafeInteger(n)) || isUnsafeInteger(n))
      refuse('IJSON_UNSAFE_INTEGER', `integer ${m[0]} is beyond ±(2^53−1)`, pointer(stack));
    return n;
  };
  const result = value(0);
  ws();
  if (i !== text.length) syntax('trailing characters');
  return result;
}
