import { canonicalize as jcs } from 'json-canonicalize';
import { RecordsError, type RecordsErrorCode } from './errors.js';
import type { FastPath } from './fast-path.js';

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
/** `String.prototype.isWellFormed` (ES2024, in Node 20): no lone surrogate. Internal to records. */
export const isWellFormed = (s: string): boolean => (s as unknown as WellFormed).isWellFormed();

/** A JSON number token (RFC 8259 §6), sticky: set `lastIndex`, then `exec`. Internal to records. */
export const JSON_NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

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

function refuse(code: Extract<RecordsErrorCode, `IJSON_${string}`>, message: string, path: string): never {
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
  const fast = canonicalTextPath.fast(value, limits);
  return fast !== undefined ? fast : canonicalTextPath.reference(value, limits);
}

// ---- the composing fast path -------------------------------------------------------------------
// RFC 8785 of an object is `{` + its members `"key":JCS(value)` sorted by UTF-16 code units and
// joined by `,` + `}`; of an array `[` + JCS of each element joined by `,` + `]`; of a string or
// number what JSON.stringify writes (json-canonicalize itself is exactly this recursion with
// JSON.stringify at the leaves). `composeCanonical` builds the same text in one pass that also does
// the I-JSON checks, and reuses the text of a deeply frozen container it has seen before (the
// kernel's abstract state is hashed at derive time, then again inside the decision key and inside
// the decision record). It answers `undefined` on anything unusual (every input `assertIJson` or
// json-canonicalize would refuse, an object reached twice, a size or depth near a limit), and then
// `canonicalize` runs the slow path, which refuses with the same code and path as it always did.
// The fast-path harness (records.canonicalText) checks byte equality against the slow path.

/** The remembered canonical text of a deeply frozen container, with what the checks need. */
interface Known {
  readonly text: string;
  /** assertIJson's size estimate of the subtree. */
  readonly size: number;
  /** Deepest container below this one, relative (0: no container inside). */
  readonly height: number;
  /** Every container of the subtree, so an object reached twice is still noticed. */
  readonly containers: readonly object[];
}

const known = new WeakMap<object, Known>();

// The copies toFrozenJson makes carry their Known in a private class field instead of in `known`: a
// WeakMap entry per short-lived copy costs V8 about a microsecond (ephemeron work in every GC), a
// private field almost nothing. A private name is invisible to reflection (no key, no symbol, not
// copied by spread or structuredClone) and only this module can read or write it, so nothing
// outside can make an object vouch for a text. (The "return override" trick: the base constructor
// returns the object given, and the derived constructor installs the field on it.)
const ReturnItself = function (o: object) {
  return o;
} as unknown as new (o: object) => object;

class Remembered extends ReturnItself {
  readonly #known: Known;
  private constructor(o: object, k: Known) {
    super(o);
    this.#known = k;
  }
  /** Installs `k` on `o`, which must be extensible (a fresh copy, before it is frozen). */
  static set(o: object, k: Known): void {
    new Remembered(o, k);
  }
  static get(o: object): Known | undefined {
    return #known in o ? o.#known : undefined;
  }
}

function rememberedOf(v: object): Known | undefined {
  return Remembered.get(v) ?? known.get(v);
}

const NO_CONTAINERS: object[] = [];

/**
 * The cursor of one composing call (`composeCanonical` or `toFrozenJson`): what `compose` and
 * `copyFrozen` report about the subtree they just returned, beside the text or copy they return.
 */
class Composition {
  /** assertIJson's size estimate of the subtree. */
  size = 0;
  /** Deepest container below, relative (-1: the subtree is a leaf). */
  height = -1;
  /** The subtree's containers when the whole subtree is frozen, else undefined. */
  frozen: object[] | undefined = NO_CONTAINERS;
  /** The text copyFrozen just wrote for the subtree it returned. */
  text = '';
  /**
   * toFrozenJson only: the `containers` of every copy it makes: a token standing for all of the
   * copy's own containers (they are fresh, so reaching any of them twice means reaching the token
   * twice), then the containers of the remembered parts it shares instead of copying. Sub-copies
   * answer for the whole list: a value holding two parts of one copy takes the slow path. Correct,
   * only slower, and the kernel never does it.
   */
  readonly shared: object[] = [{}];
}
/** A member name's text: `"key":` as the first member, `,"key":` after another. */
interface KeyText {
  readonly first: string;
  readonly next: string;
}

/** The texts of member names seen before (the same few hundred names recur in every record). */
const keyTexts = new Map<string, KeyText>();
/** A character past Latin-1 (a string with none fits one byte per character). */
const PAST_LATIN1 = /[\u0100-\uffff]/;

/**
 * The texts of a well-formed member name, remembered. Kept in one byte per character when they
 * fit: a name cut out of a text with a character past Latin-1 (a map read from YAML) is a two-byte
 * string however plain its characters, and a text with one two-byte part is two-byte as a whole,
 * twice the memory and a slower UTF-8 encoding for every record that names it. The leading comma
 * is part of the text so that a member costs one concatenation less.
 */
function keyTextOf(key: string): KeyText {
  let first = JSON.stringify(key) + ':';
  if (!PAST_LATIN1.test(first)) first = Buffer.from(first, 'latin1').toString('latin1');
  const next = ',' + first;
  const text: KeyText = {
    first,
    next: PAST_LATIN1.test(next) ? next : Buffer.from(next, 'latin1').toString('latin1'),
  };
  if (keyTexts.size < 4096) keyTexts.set(key, text);
  return text;
}

/**
 * Object.keys sorted by UTF-16 code units (RFC 8785 §3.2.3), as Array.prototype.sort's default
 * order is; an insertion sort (faster than the generic sort for the few members of a record object),
 * the generic sort past 16 members.
 */
function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** The indices of `keys` (distinct) in the order of {@link sortedKeys}. */
function sortedOrder(keys: readonly string[]): number[] {
  const order: number[] = [];
  for (let i = 0; i < keys.length; i++) order.push(i);
  if (keys.length > 16) return order.sort((x, y) => (keys[x]! < keys[y]! ? -1 : 1));
  for (let i = 1; i < order.length; i++) {
    const o = order[i]!;
    let j = i - 1;
    while (j >= 0 && keys[order[j]!]! > keys[o]!) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = o;
  }
  return order;
}

// Printable ASCII without `"` and `\`: JSON.stringify writes such a string between quotes as it is
// (RFC 8785 §3.2.2.2), and it is well formed. Most strings of a record are like that.
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** The longest string {@link isPlainAscii} checks by a loop. */
const PLAIN_LOOP_MAX = 12;

/**
 * Whether `v` is printable ASCII without `"` and `\` (what PLAIN_ASCII matches). A loop for short
 * strings, where a regular expression's fixed cost per call dominates; the regular expression past
 * {@link PLAIN_LOOP_MAX} characters. Measured on Node 20 here: the loop costs about 4 ns a
 * character (each charCodeAt dispatches on the string's representation), the expression about 1 ns
 * a character plus 40 ns a call, so a digest (71 characters) is checked about three times faster
 * by the expression.
 */
function isPlainAscii(v: string): boolean {
  if (v.length > PLAIN_LOOP_MAX) return PLAIN_ASCII.test(v);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** JSON.stringify of a well-formed string; undefined for a lone surrogate (refused by I-JSON). */
function quote(v: string): string | undefined {
  if (isPlainAscii(v)) return '"' + v + '"';
  return isWellFormed(v) ? JSON.stringify(v) : undefined;
}

function compose(
  v: unknown,
  depth: number,
  maxDepth: number,
  seen: Set<object>,
  out: Composition,
): string | undefined {
  switch (typeof v) {
    case 'string':
      out.size = v.length + 2;
      out.height = -1;
      out.frozen = NO_CONTAINERS;
      return quote(v);
    case 'number':
      if (!Number.isFinite(v) || isUnsafeInteger(v)) return undefined;
      out.size = 1;
      out.height = -1;
      out.frozen = NO_CONTAINERS;
      // JSON.stringify of a finite number is its ECMAScript ToString (-0 included: both give "0").
      return String(v);
    case 'boolean':
      out.size = 4;
      out.height = -1;
      out.frozen = NO_CONTAINERS;
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) {
        out.size = 4;
        out.height = -1;
        out.frozen = NO_CONTAINERS;
        return 'null';
      }
      const hit = rememberedOf(v);
      if (hit !== undefined) {
        if (depth + hit.height >= maxDepth) return undefined;
        for (const c of hit.containers) {
          if (seen.has(c)) return undefined;
          seen.add(c);
        }
        out.size = hit.size;
        out.height = hit.height;
        out.frozen = hit.containers as object[];
        return hit.text;
      }
      if (depth >= maxDepth || seen.has(v)) return undefined;
      seen.add(v);
      let text: string;
      let size = 2;
      let height = 0;
      let frozen: object[] | undefined = Object.isFrozen(v) ? [v] : undefined;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return undefined;
        text = '[';
        for (let i = 0; i < v.length; i++) {
          const part = compose(v[i] as unknown, depth + 1, maxDepth, seen, out);
          if (part === undefined) return undefined;
          if (i > 0) text += ',';
          text += part;
          size += out.size;
          if (out.height + 1 > height) height = out.height + 1;
          if (frozen !== undefined) {
            if (out.frozen === undefined) frozen = undefined;
            else if (out.frozen.length > 0) frozen.push(...out.frozen);
          }
        }
        text += ']';
      } else {
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return undefined;
        const obj = v as Record<string, unknown>;
        // json-canonicalize hands any object with a toJSON (own or inherited) to JSON.stringify.
        if ((obj.toJSON !== undefined && obj.toJSON !== null) || Object.hasOwn(obj, 'toJSON'))
          return undefined;
        if (Object.getOwnPropertySymbols(obj).length > 0) return undefined;
        const keys = sortedKeys(obj);
        text = '{';
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          // A remembered name was checked well formed when it was first seen.
          let keyText = keyTexts.get(key);
          if (keyText === undefined) {
            if (!isWellFormed(key)) return undefined;
            keyText = keyTextOf(key);
          }
          const member = obj[key];
          if (member === undefined) return undefined;
          // A remembered text must not depend on a getter: only frozen data members count.
          if (frozen !== undefined && !Object.hasOwn(Object.getOwnPropertyDescriptor(obj, key)!, 'value'))
            frozen = undefined;
          const part = compose(member, depth + 1, maxDepth, seen, out);
          if (part === undefined) return undefined;
          text += (i === 0 ? keyText.first : keyText.next) + part;
          size += key.length + 3 + out.size;
          if (out.height + 1 > height) height = out.height + 1;
          if (frozen !== undefined) {
            if (out.frozen === undefined) frozen = undefined;
            else if (out.frozen.length > 0) frozen.push(...out.frozen);
          }
        }
        text += '}';
      }
      if (frozen !== undefined) known.set(v, { text, size, height, containers: frozen });
      out.size = size;
      out.height = height;
      out.frozen = frozen;
      return text;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return undefined;
  }
}

// ---- frozen copies with their text remembered ---------------------------------------------------
// A caller that canonicalizes the same data several times (the kernel: the decision input for the
// decision key, its params for the action hash, the whole input again inside the decision record)
// copies it once into deeply frozen containers whose text is remembered as the copy is made; a
// deeply frozen container already remembered is shared, not copied. The copy refuses (undefined)
// exactly where compose would, and also on a source container reached twice (json-canonicalize
// calls some of those circular), so canonicalize of the copy equals canonicalize of the source.

/**
 * A deeply frozen copy of `value` with the RFC 8785 text of every container remembered, so that
 * {@link canonicalize} of the copy, or of any value holding it, reuses the text. Answers `undefined`
 * for anything but plain I-JSON data (plain objects and dense arrays, data members only, no symbol
 * keys or `toJSON`, strict strings and numbers, no container reached twice, within the default
 * limits): the caller then keeps the original, whose canonicalization refuses as it always did.
 * @example
 * const copy = toFrozenJson({ b: [1], a: 'x' }); // frozen; canonicalize(copy) === '{"a":"x","b":[1]}'
 */
export function toFrozenJson<T>(value: T): T | undefined {
  const out = new Composition();
  const copy = copyFrozen(value, 0, new Set(), out);
  if (copy === undefined || out.size > DEFAULT_IJSON_LIMITS.maxBytes) return undefined;
  return copy as T;
}

function copyFrozen(v: unknown, depth: number, seen: Set<object>, out: Composition): unknown {
  // Leaves, and containers whose text is remembered, are kept as they are (after compose's checks).
  if (typeof v !== 'object' || v === null || rememberedOf(v) !== undefined) {
    const text = compose(v, depth, DEFAULT_IJSON_LIMITS.maxDepth, seen, out);
    if (text === undefined) return undefined;
    if (out.frozen!.length > 0) out.shared.push(...out.frozen!);
    out.text = text;
    return v;
  }
  if (depth >= DEFAULT_IJSON_LIMITS.maxDepth || seen.has(v)) return undefined;
  seen.add(v);
  let text: string;
  let size = 2;
  let height = 0;
  let result: unknown[] | Record<string, unknown>;
  // Members are read once (a getter's value is copied as data), like JSON.parse(JSON.stringify(v)).
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return undefined;
    const n = v.length;
    const arr: unknown[] = [];
    text = '[';
    for (let i = 0; i < n; i++) {
      const item = copyFrozen(v[i], depth + 1, seen, out); // a hole reads undefined: refused
      if (item === undefined) return undefined;
      arr.push(item);
      if (i > 0) text += ',';
      text += out.text;
      size += out.size;
      if (out.height + 1 > height) height = out.height + 1;
    }
    text += ']';
    result = arr;
  } else {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return undefined;
    const obj = v as Record<string, unknown>;
    if (obj.toJSON !== undefined || Object.getOwnPropertySymbols(obj).length > 0) return undefined;
    // The copy keeps the original's member order (a refusal at a limit names the same path when the
    // slow path walks the copy); the text is written in sorted order.
    const keys = Object.keys(obj);
    // Members already in sorted order (as the kernel writes its objects) go straight into the text.
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
    const parts: string[] | undefined = sorted ? undefined : new Array<string>(keys.length);
    const copy: Record<string, unknown> = {};
    text = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      // "__proto__" would set the copy's prototype instead of a member.
      if (key === '__proto__') return undefined;
      let keyText = keyTexts.get(key);
      if (keyText === undefined) {
        if (!isWellFormed(key)) return undefined;
        keyText = keyTextOf(key);
      }
      const member = copyFrozen(obj[key], depth + 1, seen, out);
      if (member === undefined) return undefined;
      copy[key] = member;
      if (parts !== undefined) parts[i] = keyText.first + out.text;
      else text += (i > 0 ? keyText.next : keyText.first) + out.text;
      size += key.length + 3 + out.size;
      if (out.height + 1 > height) height = out.height + 1;
    }
    if (parts !== undefined) {
      const order = sortedOrder(keys);
      for (let i = 0; i < order.length; i++) {
        if (i > 0) text += ',';
        text += parts[order[i]!]!;
      }
    }
    text += '}';
    result = copy;
  }
  if (size > DEFAULT_IJSON_LIMITS.maxBytes) return undefined;
  const containers = out.shared;
  Remembered.set(result, { text, size, height, containers });
  Object.freeze(result);
  out.text = text;
  out.size = size;
  out.height = height;
  out.frozen = containers;
  return result;
}

/**
 * The RFC 8785 text of `value` when it passes every I-JSON check with room under the limits, else
 * undefined (the caller then runs the slow path for its exact refusal).
 */
function composeCanonical(value: unknown, limits?: IJsonLimits): string | undefined {
  const maxDepth = limits?.maxDepth ?? DEFAULT_IJSON_LIMITS.maxDepth;
  const maxBytes = limits?.maxBytes ?? DEFAULT_IJSON_LIMITS.maxBytes;
  const out = new Composition();
  const text = compose(value, 0, maxDepth, new Set(), out);
  if (text === undefined || out.size > maxBytes) return undefined;
  return text;
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

/**
 * The text of {@link canonicalBytes} without encoding it: the same checks, including the byte
 * limit (UTF-8 length is at most 3 per UTF-16 unit, so short texts skip counting). Internal: for
 * hashing a value straight from its text (digestValue).
 */
export function canonicalTextWithinLimit(value: unknown, limits?: IJsonLimits): string {
  const text = canonicalize(value, limits);
  const maxBytes = limits?.maxBytes ?? DEFAULT_IJSON_LIMITS.maxBytes;
  if (text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes)
    refuse('IJSON_TOO_LARGE', `larger than ${maxBytes} bytes`, '');
  return text;
}

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
  const fast = parseJsonTextPath.fast(text, maxDepth);
  return fast !== undefined ? fast : parseJsonTextPath.reference(text, maxDepth);
}

// ---- the native fast path of parseJson ------------------------------------------------------------
// JSON.parse has the same grammar (whitespace, numbers, escapes, no BOM) but keeps the last of
// duplicated keys and lets lone surrogates, deep nesting and inexact integers through. The walk
// below checks the parsed value for the last three, and proves there was no duplicate key by
// counting: every member owns one ':' outside strings, so with no `\u003a` escape in the text the
// ':' characters of the text are exactly the members plus the ':' inside the strings that were
// kept; a dropped duplicate leaves a member (and its ':') uncounted. Anything doubtful (a parse
// error included) answers undefined, and the strict parser runs for its exact refusal.

/**
 * The ':' characters the parsed value accounts for (one per member, plus those inside its strings),
 * or -1 when the value breaks an I-JSON rule or the depth limit.
 */
function colonsOf(v: unknown, depth: number, maxDepth: number): number {
  if (typeof v === 'string') {
    if (!isWellFormed(v)) return -1;
    let n = 0;
    for (let i = v.indexOf(':'); i !== -1; i = v.indexOf(':', i + 1)) n++;
    return n;
  }
  if (typeof v === 'number')
    return Number.isFinite(v) && !(Number.isInteger(v) && !Number.isSafeInteger(v)) ? 0 : -1;
  if (typeof v !== 'object' || v === null) return 0; // boolean or null
  if (depth >= maxDepth) return -1;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const c = colonsOf(v[i], depth + 1, maxDepth);
      if (c < 0) return -1;
      n += c;
    }
    return n;
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  n = keys.length;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const k = colonsOf(key, depth + 1, maxDepth);
    const c = k < 0 ? -1 : colonsOf(obj[key], depth + 1, maxDepth);
    if (c < 0) return -1;
    n += k + c;
  }
  return n;
}

function parseJsonFast(text: string, maxDepth: number): JsonValue | undefined {
  if (text.includes('u003a') || text.includes('u003A')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  let colons = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) colons++;
  if (colonsOf(value, 0, maxDepth) !== colons) return undefined;
  return value as JsonValue;
}

/** `line L:C` (1-based) of index `i` of `text`: what a person finds in an editor, unlike an offset. */
function lineColumn(text: string, i: number): string {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf('\n'); k !== -1 && k < i; k = text.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return `line ${line}:${i - lineStart + 1}`;
}

/** The strict single-pass parser: the reference for parseJson's outcome (internal; tests compare). */
export function parseJsonStrict(text: string, maxDepth: number): JsonValue {
  let i = 0;
  const stack: (string | number)[] = [];
  const syntax = (what: string): never =>
    refuse('IJSON_SYNTAX', `${what} at ${lineColumn(text, i)}`, pointer(stack));
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
    JSON_NUMBER.lastIndex = i;
    const m = JSON_NUMBER.exec(text);
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

// ---- the fast paths of this module, each beside its reference (listed in internal/fast-paths.ts) --

/**
 * RFC 8785 text of a value. Reference: the strict I-JSON walk, then json-canonicalize. Fast: one
 * composing pass that also checks, reusing remembered texts of frozen containers.
 */
export const canonicalTextPath: FastPath<[value: unknown, limits: IJsonLimits | undefined], string> = {
  reference: (value, limits) => {
    assertIJson(value, limits);
    return jcs(value);
  },
  fast: composeCanonical,
};

/**
 * Strict parse of a text already within the byte limit. Reference: the single-pass strict parser.
 * Fast: JSON.parse, then a walk that proves no I-JSON rule was lost.
 */
export const parseJsonTextPath: FastPath<[text: string, maxDepth: number], JsonValue> = {
  reference: parseJsonStrict,
  fast: parseJsonFast,
};

/**
 * Whether `value` is a JSON object: an object that is neither null nor an array.
 * @example
 * isObject({ a: 1 }); // true;  isObject([1]); // false
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
