import { canonicalBytes, type FastPath, type JsonValue } from '@edca/records';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * The exact bytes of the object value of the first member `"name":` in a canonical JSON line,
 * or undefined when there is none or it is not an object.
 *
 * Why it is sound: inside a JSON string a quote is always escaped, so the byte sequence
 * `"name":` only occurs as a member key; and RFC 8785 serializes a value the same way wherever
 * it sits, so the slice of a canonical line is the canonical form of that value. This lets the
 * verifier hash a decision's `input` from the line instead of canonicalizing it again.
 * The caller must name a member that no earlier member can contain as a nested key.
 */
export function firstObjectMember(line: Buffer, marker: Buffer): Buffer | undefined {
  const at = line.indexOf(marker);
  if (at < 0) return undefined;
  const start = at + marker.length;
  if (line[start] !== OPEN_BRACE) return undefined;
  let depth = 0;
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (c === QUOTE) {
      for (i++; i < line.length && line[i] !== QUOTE; i++) if (line[i] === BACKSLASH) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return line.subarray(start, i + 1);
    }
  }
  return undefined;
}

const INPUT_MARKER = Buffer.from('"input":');

/**
 * The canonical bytes of a decision's `input`, given its canonical record line and the parsed
 * input. Reference: canonicalize the parsed input again. Fast: slice them out of the line (a
 * decision body has no member before `input` that could hold an `input` key).
 */
export const decisionInputBytesPath: FastPath<[line: Buffer, input: JsonValue], Buffer> = {
  reference: (_line, input) => Buffer.from(canonicalBytes(input)),
  fast: (line) => firstObjectMember(line, INPUT_MARKER),
};

/** The index just past the JSON value that starts at `i` (a canonical value: no whitespace). */
function skipValue(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) {
    for (i++; i < b.length && b[i] !== QUOTE; i++) if (b[i] === BACKSLASH) i++;
    return i + 1;
  }
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (; i < b.length; i++) {
      const d = b[i];
      if (d === QUOTE) {
        for (i++; i < b.length && b[i] !== QUOTE; i++) if (b[i] === BACKSLASH) i++;
      } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return b.length;
  }
  while (i < b.length && b[i] !== COMMA && b[i] !== CLOSE_BRACE && b[i] !== CLOSE_BRACKET) i++;
  return i;
}

/**
 * Walks the top-level members of the canonical bytes of a JSON object, in order, calling `visit`
 * with the offsets of each key's text (between its quotes, escapes left as written) and value;
 * false when the bytes are not an object of that form (members already visited stay visited).
 * Builds nothing itself, so a caller looking for one member allocates nothing per member.
 */
function scanMembers(
  obj: Buffer,
  visit: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void,
): boolean {
  if (obj[0] !== OPEN_BRACE || obj[obj.length - 1] !== CLOSE_BRACE) return false;
  let i = 1;
  if (obj[i] === CLOSE_BRACE) return i + 1 === obj.length;
  for (;;) {
    if (obj[i] !== QUOTE) return false;
    const keyEnd = skipValue(obj, i);
    if (obj[keyEnd] !== COLON) return false;
    const valueEnd = skipValue(obj, keyEnd + 1);
    if (valueEnd <= keyEnd + 1 || valueEnd > obj.length - 1) return false;
    visit(i + 1, keyEnd - 1, keyEnd + 1, valueEnd);
    if (obj[valueEnd] === CLOSE_BRACE) return valueEnd + 1 === obj.length;
    if (obj[valueEnd] !== COMMA) return false;
    i = valueEnd + 1;
  }
}

/**
 * The top-level members of the canonical bytes of a JSON object, in order, as key text (the
 * bytes between the quotes, escapes left as written) and value slice; undefined when the bytes
 * are not an object of that form. Unlike `firstObjectMember`, a key nested in an earlier member
 * is never mistaken for a top-level one.
 */
export function objectMembers(obj: Buffer): { key: string; value: Buffer }[] | undefined {
  const out: { key: string; value: Buffer }[] = [];
  const ok = scanMembers(obj, (ks, ke, vs, ve) =>
    out.push({ key: obj.toString('utf8', ks, ke), value: obj.subarray(vs, ve) }),
  );
  return ok ? out : undefined;
}

/** Whether `obj[start..end)` holds exactly the bytes of `key`. */
const keyIs = (obj: Buffer, start: number, end: number, key: Buffer): boolean =>
  end - start === key.length && obj.compare(key, 0, key.length, start, end) === 0;

/**
 * `objectMembers(obj)?.find((m) => m.key === key)?.value` (`key` as its UTF-8 bytes), without
 * building the list: the value of the first top-level member named `key`.
 */
export function memberValue(obj: Buffer, key: Buffer): Buffer | undefined {
  let start = -1;
  let end = -1;
  const ok = scanMembers(obj, (ks, ke, vs, ve) => {
    if (start === -1 && keyIs(obj, ks, ke, key)) {
      start = vs;
      end = ve;
    }
  });
  return ok && start !== -1 ? obj.subarray(start, end) : undefined;
}

/**
 * Whether the object's top-level keys are exactly `keys` (UTF-8 bytes), in that order:
 * `objectMembers(obj)?.map((m) => m.key)` equal to them, without building the list.
 */
export function hasExactMembers(obj: Buffer, keys: readonly Buffer[]): boolean {
  let n = 0;
  let same = true;
  const ok = scanMembers(obj, (ks, ke) => {
    const key = keys[n++];
    if (key === undefined || !keyIs(obj, ks, ke, key)) same = false;
  });
  return ok && same && n === keys.length;
}
