import { findSquashedTerms } from '@edca/arp';
import { loadStateMap } from '@edca/semantic';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { capFindings, maxFindingsOption, omittedLine } from '../findings-cap.js';
import { readTextInput, type CliIo } from '../io.js';
import { formatDiagnostic } from '../map-file.js';
import { notAStateMapReason } from '../sniff.js';

/**
 * `edca validate MAP`: the first `--max-findings` diagnostics with file:line:col and a count of the
 * rest; exit 0 valid, 1 invalid or not a state map at all (NOT_A_STATE_MAP), 2 unreadable.
 */
export function registerValidate(program: Command, io: CliIo): void {
  program
    .command('validate')
    .description('check a state map and report its errors with file:line:col, path and code')
    .argument('<map>', 'state map (YAML or JSON; - for standard input)')
    .option('--json', 'print the result as one JSON object')
    .addOption(maxFindingsOption('diagnostics'))
    .action((mapPath: string, opts: { json?: boolean; maxFindings: number }) => {
      const text = readTextInput(mapPath);
      const notAMap = notAStateMapReason(text);
      if (notAMap !== null) {
        const message = `${mapPath}: not a state map: ${notAMap}`;
        if (opts.json === true) {
          io.stdout(`${JSON.stringify({ file: mapPath, valid: false, code: 'NOT_A_STATE_MAP', message })}\n`);
        }
        throw new CliError('NOT_A_STATE_MAP', message, EXIT.CHECK_FAILED);
      }
      const r = loadStateMap(text, mapPath);
      // The leak guard's view of the map: public state words that spell a private term would
      // withhold every view showing them side by side (the kernel refuses such a map at start).
      const squashed = (r.ok ? findSquashedTerms(r.value) : []).map((q) => ({
        code: q.code,
        severity: 'warning' as const,
        path: 'facets, machines',
        message: q.message,
        file: mapPath,
      }));
      const diagnostics = r.ok ? r.warnings : r.diagnostics;
      const errors = diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = diagnostics.length - errors + squashed.length;
      const { shown, omitted } = capFindings([...diagnostics, ...squashed], opts.maxFindings);
      if (opts.json === true) {
        io.stdout(
          `${JSON.stringify({
            file: mapPath,
            valid: r.ok,
            ...(r.ok ? { name: r.value.name, version: r.value.version, digest: r.value.digest } : {}),
            errors,
            warnings,
            diagnostics: shown,
            ...(omitted > 0 ? { omitted } : {}),
          })}\n`,
        );
      } else {
        for (const d of shown) {
          io.stdout(
            d.code === 'PRIVATE_TERM_SQUASHED'
              ? `${mapPath}: warning ${d.code} ${d.path}: ${d.message}\n`
              : `${formatDiagnostic(d)}\n`,
          );
        }
        if (omitted > 0) io.stdout(`${omittedLine(omitted, 'diagnostic(s)')}\n`);
        if (r.ok) {
          io.stdout(
            `${mapPath}: valid (${r.value.name} ${r.value.version}, ${warnings} warning(s)), digest ${r.value.digest}\n`,
          );
        }
      }
      if (!r.ok)
        throw new CliError(
          'MAP_INVALID',
          `${mapPath}: ${errors} error(s), ${warnings} warning(s)`,
          EXIT.CHECK_FAILED,
        );
    });
}
