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
  let first = true;
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}
