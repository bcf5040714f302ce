import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from 'yaml';
import type { Diagnostic } from '../errors.js';
import { pathToString, type RawDiagnostic } from './diagnostics.js';

/** Parsed text plus a way to place a document path at `line:col`. */
export interface ParsedText {
  readonly value: unknown;
  readonly errors: readonly RawDiagnostic[];
  readonly errorPositions: readonly { line: number; col: number }[];
  locate(d: RawDiagnostic): { line: number; col: number } | undefined;
}

/**
 * Parses YAML 1.2 or JSON (a JSON text is YAML) and keeps the concrete syntax tree, so every
 * diagnostic can point at the line and column of the offending node. Duplicate keys are an error
 * (DUPLICATE_NAME), never last-wins.
 */
export function parseText(text: string): ParsedText {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    merge: false,
  });
  const errors: RawDiagnostic[] = [];
  const errorPositions: { line: number; col: number }[] = [];
  for (const e of doc.errors) {
    const pos = lineCounter.linePos(e.pos[0]);
    errorPositions.push({ line: pos.line, col: pos.col });
    errors.push({
      code: e.code === 'DUPLICATE_KEY' ? 'DUPLICATE_NAME' : 'PARSE_ERROR',
      // yaml says "Map keys must be unique"; say which rule of ours that breaks.
      severity: 'error',
      path: [],
      message:
        e.code === 'DUPLICATE_KEY'
          ? 'this key is declared twice; names must be unique'
          : (e.message.split('\n')[0] ?? e.message),
    });
  }
  if (errors.length === 0) compactScalars(doc);
  const value: unknown = errors.length === 0 ? doc.toJS({ maxAliasCount: 50 }) : undefined;

  const locate = (d: RawDiagnostic): { line: number; col: number } | undefined => {
    let node: unknown = doc.contents;
    let found: Node | undefined = isNodeLike(node) ? node : undefined;
    for (const seg of d.path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg),
        );
        if (pair === undefined) break;
        node = pair.value ?? pair.key;
        if (isNodeLike(node)) found = node;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (isNodeLike(node)) found = node;
      } else break;
    }
    if (found?.range === undefined || found.range === null) return undefined;
    let offset = found.range[0];
    // Point inside a condition: plain and quoted scalars on one line map offsets 1:1.
    if (d.offset !== undefined && isScalar(found)) {
      if (found.type === 'PLAIN') offset += d.offset;
      else if (found.type === 'QUOTE_DOUBLE' || found.type === 'QUOTE_SINGLE') offset += 1 + d.offset;
      else if (found.type === 'BLOCK_FOLDED' || found.type === 'BLOCK_LITERAL') {
        offset = blockOffset(text, found.range[0], found.range[1], d.offset) ?? offset;
      }
    }
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };
  return { value, errors, errorPositions, locate };
}

/** A character past Latin-1 (a string with none fits one byte per character). */
const PAST_LATIN1 = /[\u0100-\uffff]/;

/**
 * Re-makes every string scalar that has only Latin-1 characters as a one-byte string, before the
 * document becomes JavaScript values. A text with one character past Latin-1 (a `£` is in it, a
 * `—` is not) is held in two bytes per character, and so is every string the parser cuts out of
 * it: the map's names and enum values, which every decision copies into its state, its record and
 * the hashes of both. V8 keeps a string joined from a two-byte part in two bytes, and a member name
 * stays as it was first interned (the same name written in code then IS the map's two-byte one),
 * so one such name doubled every record text and sent every UTF-8 encoding of it down the slow
 * path. Same characters, same document: only the representation changes.
 */
function compactScalars(doc: ReturnType<typeof parseDocument>): void {
  visit(doc, {
    Scalar(_key, node) {
      const v = node.value;
      if (typeof v === 'string' && !PAST_LATIN1.test(v))
        node.value = Buffer.from(v, 'latin1').toString('latin1');
    },
  });
}

/**
 * Source offset of character `at` of a block scalar's value (`>-` or `|`): content lines share an
 * indentation and are joined by one character (a space when folded, a newline when literal).
 */
function blockOffset(text: string, start: number, end: number, at: number): number | undefined {
  const lines = text.slice(start, end).split('\n');
  const header = lines[0] ?? '';
  const content = lines.slice(1);
  const widths = content.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length);
  if (widths.length === 0) return undefined;
  const indent = Math.min(...widths);
  let pos = start + header.length + 1;
  let remaining = at;
  for (const line of content) {
    const body = line.slice(indent);
    if (remaining <= body.length) return pos + indent + remaining;
    remaining -= body.length + 1;
    pos += line.length + 1;
  }
  return undefined;
}

function isNodeLike(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && 'range' in v;
}

/** Places raw diagnostics in `file` (line and column when a tree is known). */
export function placeDiagnostics(
  raw: readonly RawDiagnostic[],
  file: string,
  parsed?: ParsedText,
): Diagnostic[] {
  return raw.map((d) => {
    const pos = parsed?.locate(d);
    return {
      code: d.code,
      severity: d.severity,
      path: pathToString(d.path),
      message: d.message,
      file,
      ...(pos ? { line: pos.line, col: pos.col } : {}),
    };
  });
}
