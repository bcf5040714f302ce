const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

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
