/** `"key":` of member names seen before (views repeat the same names every time; bounded). */
const keyTexts = new Map<string, string>();

/**
 * RFC 8785 canonical JSON for the values this package builds itself (views and results: plain
 * objects, arrays, strings, finite numbers, booleans, null). Object keys are sorted by UTF-16
 * code units (RFC 8785 §3.2.3); strings and numbers are serialized exactly as ECMAScript
 * JSON.stringify does, which is what RFC 8785 §3.2.2.2 and §3.2.2.3 prescribe. Tests check the
 * output against `@edca/records` canonicalize byte for byte; this exists because views are on
 * the hot path and are already known to be I-JSON by construction.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let sep = '';
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    let keyText = keyTexts.get(k);
    if (keyText === undefined) {
      keyText = `${JSON.stringify(k)}:`;
      if (keyTexts.size < 4096) keyTexts.set(k, keyText);
    }
    out += sep + keyText + canonicalJson(v);
    sep = ',';
  }
  return `${out}}`;
}
