/**
 * Recognises a file given to the wrong command (a README to `validate`, a state map to `audit
 * verify`) so the user gets one message naming the first reason instead of hundreds of diagnostics
 * that each describe the same mistake.
 */
import { isMap, isScalar, parseDocument } from 'yaml';

/** Why `text` is not a state map at all, or `null` when it is one (valid or not). */
export function notAStateMapReason(text: string): string | null {
  const doc = parseDocument(text, { prettyErrors: true });
  const contents = doc.contents;
  if (!isMap(contents)) {
    const first = doc.errors[0];
    if (first !== undefined) {
      const at = first.linePos?.[0];
      const where = at === undefined ? '' : `line ${at.line}:${at.col}: `;
      const what = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return `${where}${what} (it does not parse as YAML or JSON)`;
    }
    if (contents === null || (isScalar(contents) && contents.value === null)) return 'the file is empty';
    const kind = isScalar(contents) ? 'a single value' : 'a list';
    return `the document is ${kind}, not a mapping with \`edca: state-map/v1\``;
  }
  const marker: unknown = contents.get('edca');
  if (marker === undefined) {
    if (contents.has('seq') && contents.has('sig')) {
      return 'it looks like an edca journal (check it with edca audit verify)';
    }
    return 'no `edca: state-map/v1` at the top level';
  }
  // `state-map/v2` is a state map of a version this build does not know: ordinary diagnostics say so.
  if (typeof marker === 'string' && marker.startsWith('state-map/')) return null;
  return `\`edca\` is ${JSON.stringify(marker)}, not "state-map/v1"`;
}

// The members that make a line a journal record; a record missing only its signature is still one (a finding).
const RECORD_FIELDS = ['seq', 'prev', 'type', 'stream', 'at'] as const;

function lineReason(line: Buffer): string | null {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return 'it is not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'it is not a JSON object';
  const missing = RECORD_FIELDS.filter((f) => !(f in value));
  if (missing.length > 0) return `it has no ${missing.map((f) => `\`${f}\``).join(', ')}`;
  return null;
}

/**
 * Why `bytes` is not an edca journal at all, or `null` when at least one line is shaped like a
 * record. A journal with damaged lines is still a journal: the audit reports each damaged line.
 */
export function notAJournalReason(bytes: Buffer): string | null {
  let first: { line: number; reason: string } | null = null;
  let start = 0;
  let lineNo = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    lineNo += 1;
    const line = bytes.subarray(start, end);
    start = end + 1;
    if (line.toString('utf8').trim() === '') continue;
    const reason = lineReason(line);
    if (reason === null) return null;
    first ??= { line: lineNo, reason };
  }
  if (first === null) return null;
  const looksLikeMap = notAStateMapReason(bytes.toString('utf8')) === null;
  const hint = looksLikeMap ? '; it looks like a state map (check it with edca validate)' : '';
  return `no line is an edca record; line ${first.line}: ${first.reason}${hint}`;
}
