import { Option, type Command } from 'commander';
import { PROPOSAL_FORMATS, type ProposalFormat } from '@edca/arp';
import { CliError, EXIT } from '../exit-codes.js';
import { readTextInput, type CliIo } from '../io.js';
import { loadMapFile } from '../map-file.js';
import { arpStartupError, cliArp, readRecords, refFlags, type ArpCliOptions } from './view.js';

/** What each `--format` accepts, for `--help` (docs/threat-model.md has the same table). */
export const FORMAT_SHAPES = `
Shapes each --format accepts (one tool call; JSON text or a file):
  json       {"intent": NAME, "params": {...}} and nothing else
  openai     a chat completion {"choices": [{"message": {"tool_calls": [...]}}]} with one choice,
             a message {"tool_calls": [...]}, a Responses object {"output": [..., {"type":
             "function_call", ...}]}, a bare tool call {"type": "function", "function": {"name",
             "arguments": JSON text}} or a bare {"type": "function_call", "name", "arguments"} item
  anthropic  a message {"content": [...]}, a content array, or a bare {"type": "tool_use",
             "name", "input": {...}} block
  mcp        a JSON-RPC {"jsonrpc": "2.0", "method": "tools/call", "params": {"name",
             "arguments"}} request, or its params {"name", "arguments"}
Text around the call (text blocks, reasoning items) is ignored; no call is NO_PROPOSAL, two are
MULTIPLE_PROPOSALS, another shape is INTAKE_MALFORMED.
`;

/**
 * `edca intake MAP --format json|openai|anthropic|mcp FILE`: parses model output into a
 * proposal and prints it (exit 0), or prints the refusal with its `code` (exit 1). With
 * `--data`, the view for those records is projected first in the same session, so refs that
 * `edca view` printed (same key, stream and session) are accepted; without it no ref is issued.
 */
export function registerIntake(program: Command, io: CliIo): void {
  refFlags(
    program
      .command('intake')
      .description('parse model output (a tool call) into a proposal, or print why it is refused')
      .argument('<map>', 'state map (YAML or JSON)')
      .argument('<file>', 'model output as JSON (- for standard input)')
      .addOption(
        new Option('--format <format>', 'shape of the model output')
          .choices(PROPOSAL_FORMATS)
          .makeOptionMandatory(),
      )
      .option('--data <file>', 'business records whose view was shown first (issues its refs)')
      .addHelpText('after', FORMAT_SHAPES),
  ).action(
    (mapPath: string, file: string, opts: ArpCliOptions & { format: ProposalFormat; data?: string }) => {
      const map = loadMapFile(mapPath, io);
      const records = opts.data === undefined ? undefined : readRecords(opts.data);
      const text = readTextInput(file);
      let built: ReturnType<typeof cliArp>;
      try {
        built = cliArp(map, opts);
      } catch (err) {
        arpStartupError(err);
      }
      const { arp, session } = built;
      if (records !== undefined) {
        const view = arp.project(records, session);
        if (!view.ok) {
          io.stdout(`${JSON.stringify(view)}\n`);
          throw new CliError(view.code, `${opts.data ?? ''}: the view could not be built`, EXIT.CHECK_FAILED);
        }
      }
      const r = arp.intake(text, opts.format, session);
      io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      if (!r.ok) {
        const issues = r.issues?.map((i) => `${i.path} ${i.problem}`).join(', ');
        throw new CliError(r.code, issues ? `${r.message}: ${issues}` : r.message, EXIT.CHECK_FAILED);
      }
    },
  );
}
