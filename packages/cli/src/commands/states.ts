import { parseJson, RecordsError } from '@edca/records';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readTextInput, type CliIo } from '../io.js';
import { loadMapFile } from '../map-file.js';

/** `edca states MAP --data RECORD.json`: prints the derived abstract state (exit 1 when derivation fails closed). */
export function registerStates(program: Command, io: CliIo): void {
  program
    .command('states')
    .description('derive the abstract state of business records under a state map')
    .argument('<map>', 'state map (YAML or JSON)')
    .requiredOption('--data <file>', 'business records as JSON, keyed by source name (- for standard input)')
    .option(
      '--now <time>',
      'RFC 3339 time the records are read at, for time-windowed counts (default: the current time)',
    )
    .action((mapPath: string, opts: { data: string; now?: string }) => {
      const map = loadMapFile(mapPath, io);
      const text = readTextInput(opts.data);
      let records: unknown;
      try {
        records = parseJson(text);
      } catch (err) {
        if (err instanceof RecordsError) throw new CliError('DATA_INVALID', `${opts.data}: ${err.message}`);
        throw err;
      }
      if (records === null || typeof records !== 'object' || Array.isArray(records)) {
        throw new CliError('DATA_INVALID', `${opts.data}: expected a JSON object keyed by source name`);
      }
      const now = opts.now ?? new Date().toISOString();
      if (Number.isNaN(Date.parse(now)) || !/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/.test(now))
        throw new CliError('USAGE', `--now: '${now}' is not an RFC 3339 time with an offset`);
      const r = map.derive(records as Record<string, unknown>, { now });
      if (!r.ok) {
        io.stdout(
          `${JSON.stringify({ ok: false, code: r.code, path: r.path, message: r.message }, null, 2)}\n`,
        );
        throw new CliError(r.code, `${opts.data}: derivation failed closed at ${r.path}`, EXIT.CHECK_FAILED);
      }
      const out = {
        ok: true,
        map: { name: map.name, version: map.version, digest: map.digest },
        state: r.state,
        stateHash: r.stateHash,
        intents: map.intentsFor(r.state),
      };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    });
}
