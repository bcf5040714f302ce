import { loadStateMap, type CompiledMap, type Diagnostic } from '@edca/semantic';
import { CliError, EXIT } from './exit-codes.js';
import { capFindings, DEFAULT_MAX_FINDINGS, omittedLine } from './findings-cap.js';
import { readTextInput, type CliIo } from './io.js';
import { notAStateMapReason } from './sniff.js';

/** `file:line:col: severity CODE path: message`, the shape editors and CI annotate from. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === undefined ? (d.file ?? '') : `${d.file ?? ''}:${d.line}:${d.col ?? 1}`;
  return `${where}: ${d.severity} ${d.code} ${d.path === '' ? '(document)' : d.path}: ${d.message}`;
}

/**
 * Throws NOT_A_STATE_MAP (exit 1) when `text` is not a state map at all (a README, a journal), so
 * the user reads one reason instead of a diagnostic per line.
 */
export function assertStateMapShape(text: string, path: string): void {
  const reason = notAStateMapReason(text);
  if (reason !== null)
    throw new CliError('NOT_A_STATE_MAP', `${path}: not a state map: ${reason}`, EXIT.CHECK_FAILED);
}

/**
 * Reads and compiles a state map for any command that needs one. An unreadable file exits 2
 * (IO_READ_FAILED); a file that is no state map exits 1 (NOT_A_STATE_MAP); an invalid map prints
 * its first diagnostics to stderr and exits 1 (MAP_INVALID).
 */
export function loadMapFile(path: string, io: CliIo): CompiledMap {
  const text = readTextInput(path);
  assertStateMapShape(text, path);
  const r = loadStateMap(text, path);
  if (!r.ok) {
    const { shown, omitted } = capFindings(r.diagnostics, DEFAULT_MAX_FINDINGS);
    for (const d of shown) io.stderr(`${formatDiagnostic(d)}\n`);
    if (omitted > 0)
      io.stderr(`${omittedLine(omitted, 'diagnostic(s)')}; edca validate ${path} lists them\n`);
    const n = r.diagnostics.filter((d) => d.severity === 'error').length;
    throw new CliError('MAP_INVALID', `${path}: ${n} error(s)`, EXIT.CHECK_FAILED);
  }
  return r.value;
}
