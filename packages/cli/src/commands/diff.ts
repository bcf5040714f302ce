import type { Command } from 'commander';
import { DiffError, diffJournal, diffMaps, type JournalDiff, type MapDiff } from '@edca/policy';
import type { CompiledMap } from '@edca/semantic';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { describeJournalSource, journalSourceLines, parseJournalSource } from '../journal-source.js';
import { loadMapFile } from '../map-file.js';

interface DiffFlags {
  journal?: string;
  store?: string;
  stream?: string;
  fromShadow?: boolean;
  json?: boolean;
}

/** A map that does not load is a usage error here: exit 1 means "the maps decide differently". */
function loadMap(path: string, io: CliIo): CompiledMap {
  try {
    return loadMapFile(path, io);
  } catch (err) {
    if (err instanceof CliError) throw new CliError(err.code, err.message, EXIT.USAGE_OR_IO);
    throw err;
  }
}

const answer = (a: { verdict: string; rule: string; reasons: readonly string[] }): string =>
  `${a.verdict} ${a.rule} [${a.reasons.join(', ')}]`;

function renderText(source: string, maps: MapDiff, journal: JournalDiff): string {
  const out: string[] = [];
  out.push(
    `edca diff: ${maps.old.name} ${maps.old.version} (${maps.old.digest}) → ${maps.new.name} ${maps.new.version} (${maps.new.digest})`,
  );
  out.push(`map changes: ${maps.changes.length}`);
  for (const c of maps.changes) out.push(`  ${c.change.padEnd(7)} ${c.kind.padEnd(10)} ${c.name}`);
  const how = journal.source === 'shadow' ? 'shadow decisions read from' : 'decisions re-decided from';
  out.push(
    `${how} ${source}: ${journal.decisions} compared, ${journal.changed} changed` +
      ` (${journal.skipped} kernel pre-check(s) skipped` +
      (journal.source === 'shadow' ? `, ${journal.unshadowed} without a shadow` : '') +
      ')',
  );
  if (journal.oldMismatches > 0)
    out.push(
      `warning: ${journal.oldMismatches} decision(s) do not replay under OLD itself (edca audit verify --maps shows them)`,
    );
  for (const [intent, d] of Object.entries(journal.byIntent)) {
    if (d.changed === 0) continue;
    out.push(`intent ${intent}: ${d.changed} of ${d.decisions} decision(s) changed`);
    for (const g of d.groups) {
      out.push(`  ${g.count} × ${answer(g.from)}`);
      out.push(`      → ${answer(g.to)}`);
      out.push(`      e.g. seq ${g.examples.join(', ')}`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * `edca diff OLD NEW --journal FILE | --store URL --stream S [--from-shadow] [--json]`: what NEW
 * changes against OLD, statically (intents, states, transitions, limits, approvals, facets) and on
 * the decisions journaled under OLD (re-decided under NEW, or read from shadow records). Exit 0 no
 * decision changed, 1 some did, 2 usage or input errors.
 */
export function registerDiff(program: Command, io: CliIo): void {
  program
    .command('diff')
    .description("show what a new map changes: a static diff, and its verdicts on OLD's journaled decisions")
    .argument('<old>', 'the state map in force (its digest selects the journaled decisions)')
    .argument('<new>', 'the candidate state map')
    .option('--journal <file>', 'the journal (JSON Lines) to re-decide')
    .option('--store <location>', 'read the journal from a PostgreSQL store (postgres://…) instead')
    .option('--stream <name>', 'the stream to read from --store')
    .option('--from-shadow', "read NEW's shadow decisions from the journal instead of re-deciding")
    .option('--json', 'print the diff as JSON')
    .action(async (oldPath: string, newPath: string, flags: DiffFlags) => {
      if ((flags.journal === undefined) === (flags.store === undefined))
        throw new CliError('USAGE', 'give exactly one of --journal FILE or --store <location>');
      if (flags.stream !== undefined && flags.store === undefined)
        throw new CliError('USAGE', '--stream goes with --store');
      const source = parseJournalSource(flags.journal ?? flags.store!, flags.stream);
      const oldMap = loadMap(oldPath, io);
      const newMap = loadMap(newPath, io);
      const maps = diffMaps(oldMap, newMap);
      let journal: JournalDiff;
      try {
        journal = await diffJournal(journalSourceLines(source), oldMap, newMap, {
          fromShadow: flags.fromShadow === true,
        });
      } catch (err) {
        if (err instanceof DiffError)
          throw new CliError(err.code, `${describeJournalSource(source)}: ${err.message}`);
        throw err;
      }
      if (journal.decisions === 0 && journal.skipped === 0)
        io.stderr(`edca diff: no decision under ${oldMap.digest} in ${describeJournalSource(source)}\n`);
      if (flags.json === true) io.stdout(`${JSON.stringify({ maps, journal }, null, 2)}\n`);
      else io.stdout(renderText(describeJournalSource(source), maps, journal));
      if (journal.changed > 0)
        throw new CliError('DIFF_CHANGED', `${journal.changed} decision(s) change`, EXIT.CHECK_FAILED);
    });
}
