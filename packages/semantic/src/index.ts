import { compileDocument } from './internal/compile.js';
import { placeDiagnostics, parseText } from './internal/load.js';
import { pathToString, type RawDiagnostic } from './internal/diagnostics.js';
import { SemanticError, type Diagnostic } from './errors.js';
import type { CompiledMap, CompileResult, LoadResult, StateMapInput } from './types.js';

export { DERIVE_CODES, DIAGNOSTIC_CODES, REASON_CODES, SemanticError } from './errors.js';
export type { DeriveCode, Diagnostic, DiagnosticCode, ReasonCode, SemanticErrorCode } from './errors.js';
export type {
  AbstractState,
  CompiledIntent,
  CompiledLimit,
  CompiledMachine,
  CompiledMap,
  CompileResult,
  DecisionInput,
  DecisionResult,
  DeriveOptions,
  DeriveResult,
  ExplainedDerive,
  LoadResult,
  ParamSpec,
  StateMapDocument,
  StateMapInput,
} from './types.js';
export { stateMapSchema } from './internal/schema.js';
export { STATE_MAP_SCHEMA_ID, stateMapJsonSchema } from './json-schema.js';

/**
 * Types a state map written in TypeScript (the same document as the YAML form, checked by the
 * compiler as you type); returns it unchanged for `compile`.
 *
 * @example
 * const map = compile(defineStateMap({ edca: 'state-map/v1', name: 'x', version: '1', owner: 'ops', sources: {}, facets: {}, intents: {} }));
 */
export function defineStateMap(document: StateMapInput): StateMapInput {
  return document;
}

/**
 * Compiles a state-map document (already parsed from YAML/JSON) without throwing.
 *
 * @example
 * const r = safeCompile(document);
 * if (!r.ok) for (const d of r.diagnostics) console.error(d.code, d.path, d.message);
 */
export function safeCompile(document: unknown): CompileResult {
  const r = compileDocument(document);
  if (!r.ok) return { ok: false, diagnostics: r.diagnostics.map(toDiagnostic) };
  return { ok: true, value: r.map, warnings: r.warnings.map(toDiagnostic) };
}

/**
 * Compiles a state-map document into an immutable `CompiledMap`.
 *
 * @throws {SemanticError} `MAP_INVALID` with every diagnostic when the document has errors.
 * @example
 * const map = compile(document);
 * const r = map.derive(records);
 */
export function compile(document: unknown): CompiledMap {
  const r = safeCompile(document);
  if (!r.ok) {
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    throw new SemanticError(
      'MAP_INVALID',
      `state map has ${errors.length} error(s); first: ${errors[0]?.code ?? ''} at ${errors[0]?.path ?? ''}`,
      r.diagnostics,
    );
  }
  return r.value;
}

/**
 * Parses a YAML or JSON state map and compiles it; every diagnostic carries `file:line:col`.
 *
 * @example
 * const r = loadStateMap(readFileSync('map.yaml', 'utf8'), 'map.yaml');
 */
export function loadStateMap(text: string, file: string): LoadResult {
  const parsed = parseText(text);
  if (parsed.errors.length > 0) {
    return {
      ok: false,
      diagnostics: parsed.errors.map((d, i) => ({
        code: d.code,
        severity: d.severity,
        path: pathToString(d.path),
        message: d.message,
        file,
        ...(parsed.errorPositions[i] ?? {}),
      })),
    };
  }
  const r = compileDocument(parsed.value);
  if (!r.ok) return { ok: false, diagnostics: placeDiagnostics(r.diagnostics, file, parsed) };
  return { ok: true, value: r.map, warnings: placeDiagnostics(r.warnings, file, parsed) };
}

function toDiagnostic(d: RawDiagnostic): Diagnostic {
  return { code: d.code, severity: d.severity, path: pathToString(d.path), message: d.message };
}
