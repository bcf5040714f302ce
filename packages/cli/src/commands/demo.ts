import { Option, type Command } from 'commander';
import type { CliIo } from '../io.js';
import { runDemo } from '../internal/demo/run.js';
import { addModelFlags, proposerFromFlags, type ModelFlags } from '../internal/model-flags.js';

/**
 * `edca demo --out DIR [--keys KEYDIR] [--clock system|fixed] [--model openai|anthropic --base-url URL
 * --model-name NAME]`: a retail-banking servicing session with a scripted, drifting model (or, with
 * `--model`, a real one: each scene is one governed session) on the embedded file journal, then an
 * offline audit of that journal. Exit 0 when the journal verifies, 1 on audit findings, 2 on usage or I/O errors.
 */
export function registerDemo(program: Command, io: CliIo): void {
  const cmd = program
    .command('demo')
    .description('run a retail-banking session with a drifting scripted model, then audit its journal')
    .requiredOption('--out <dir>', 'directory for journal.jsonl, trust.json, maps/ and (new) keys/')
    .option('--keys <dir>', 'reuse the demo keys in this directory (generated there on first use)')
    .addOption(
      new Option('--clock <kind>', 'system time, or a fixed scripted clock for byte-identical journals')
        .choices(['system', 'fixed'])
        .default('system'),
    );
  addModelFlags(cmd).action(
    async (flags: { out: string; keys?: string; clock: 'system' | 'fixed' } & ModelFlags) => {
      const proposer = proposerFromFlags(flags, process.env);
      await runDemo(
        {
          out: flags.out,
          clock: flags.clock,
          ...(flags.keys === undefined ? {} : { keys: flags.keys }),
          ...(proposer === undefined ? {} : { proposer }),
        },
        io,
      );
    },
  );
}
