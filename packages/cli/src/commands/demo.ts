import { Option, type Command } from 'commander';
import type { CliIo } from '../io.js';
import { runDemo } from '../internal/demo/run.js';
import { collect, readActivationFiles, readOwnerKeys } from '../activation-files.js';
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
    )
    .option('--require-signed-activation', "refuse to start unless the map has its owner's signed activation")
    .option(
      '--activation <file>',
      'a signed activation (edca policy sign) of the demo map; repeatable',
      collect,
    )
    .option('--owner-trust <file>', "a trust file whose policy-owner keys join the demo's trust file");
  addModelFlags(cmd).action(
    async (
      flags: {
        out: string;
        keys?: string;
        clock: 'system' | 'fixed';
        requireSignedActivation?: boolean;
        activation?: string[];
        ownerTrust?: string;
      } & ModelFlags,
    ) => {
      const proposer = proposerFromFlags(flags, process.env);
      const activations = readActivationFiles(flags.activation ?? []);
      const ownerKeys = flags.ownerTrust === undefined ? [] : readOwnerKeys(flags.ownerTrust);
      await runDemo(
        {
          out: flags.out,
          clock: flags.clock,
          ...(flags.keys === undefined ? {} : { keys: flags.keys }),
          ...(proposer === undefined ? {} : { proposer }),
          ...(flags.requireSignedActivation === true ? { requireSignedActivation: true } : {}),
          ...(flags.activation === undefined ? {} : { activations }),
          ...(ownerKeys.length === 0 ? {} : { ownerKeys }),
        },
        io,
      );
    },
  );
}
