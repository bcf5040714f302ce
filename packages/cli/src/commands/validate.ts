import { findSquashedTerms } from '@edca/arp';
import { loadStateMap } from '@edca/semantic';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readTextInput, type CliIo } from '../io.js';
import { formatDiagnostic } from '../map-file.js';

/** `edca validate MAP`: every error at once with file:line:col; exit 0 valid, 1 invalid, 2 unreadable. */
export function registerValidate(program: Command, io: CliIo): void {
  program
    .command('validate')
    .description('check a state map and report every error with file:line:col, path and code')
    .argument('<map>', 'state map (YAML or JSON; - for standard input)')
    .option('--json', 'print the result as one JSON object')
    .action((mapPath: string, opts: { json?: boolean }) => {
      const text = readTextInput(mapPath);
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
      if (opts.json === true) {
        io.stdout(
          `${JSON.stringify({
            file: mapPath,
            valid: r.ok,
            ...(r.ok ? { name: r.value.name, version: r.value.version, digest: r.value.digest } : {}),
            errors,
            warnings,
            diagnostics: [...diagnostics, ...squashed],
          })}\n`,
        );
      } else {
        for (const d of diagnostics) io.stdout(`${formatDiagnostic(d)}\n`);
        for (const q of squashed) io.stdout(`${mapPath}: warning ${q.code} ${q.path}: ${q.message}\n`);
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
