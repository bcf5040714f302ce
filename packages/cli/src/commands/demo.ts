import { Option, type Command } from 'commander';
import type { CliIo } from '../io.js';
import { runDemo } from '../internal/demo/run.js';

/**
 * `edca demo --out DIR [--keys KEYDIR] [--clock system|fixed]`: a retail-banking servicing session
 * with a scripted, drifting model on the embedded file journal, then an offline audit of that journal.
 * Exit 0 when the journal verifies, 1 on audit findings, 2 on usage or I/O errors.
 */
export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run a retail-banking session with a drifting scripted model, then audit its journal')
    .requiredOption('--out <dir>', 'directory for journal.jsonl, trust.json, maps/ and (new) keys/')
    .option('--keys <dir>', 'reuse the demo keys in this directory (generated there on first use)')
    .addOption(
      new Option('--clock <kind>', 'system time, or a fixed scripted clock for byte-identical journals')
        .choices(['system', 'fixed'])
        .default('system'),
    )
    .action(async (flags: { out: string; keys?: string; clock: 'system' | 'fixed' }) => {
      await runDemo(
        { out: flags.out, clock: flags.clock, ...(flags.keys === undefined ? {} : { keys: flags.keys }) },
        io,
      );
    });
}
