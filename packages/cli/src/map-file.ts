import { loadStateMap, type CompiledMap, type Diagnostic } from '@edca/semantic';
import { CliError, EXIT } from './exit-codes.js';
import { readTextInput, type CliIo } from './io.js';

/** `file:line:col: severity CODE path: message`, the shape editors and CI annotate from. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === undefined ? (d.file ?? '') : `${d.file ?? ''}:${d.line}:${d.col ?? 1}`;
  return `${where}: ${d.severity} ${d.code} ${d.path === '' ? '(document)' : d.path}: ${d.message}`;
}

/**
 * Reads and compiles a state map for any command that needs one. An unreadable file exits 2
 * (IO_READ_FAILED); an invalid map prints every diagnostic to stderr and exits 1 (MAP_INVALID).
 */
export function loadMapFile(path: string, io: CliIo): CompiledMap {
  const text = readTextInput(path);
  const r = loadStateMap(text, path);
  if (!r.ok) {
    for (const d of r.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
    const n = r.diagnostics.filter((d) => d.severity === 'error').length;
    throw new CliError('MAP_INVALID', `${path}: ${n} error(s)`, EXIT.CHECK_FAILED);
  }
  return r.value;
}
