import { Command, CommanderError } from 'commander';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { processIo, type CliIo } from './io.js';
import { registerCommands } from './commands/index.js';
import { VERSION } from './version.js';

/** Builds the `edca` program; every command writes through `io`. */
export function createProgram(io: CliIo): Command {
  const program = new Command('edca')
    .description('edca: a runtime kernel that lets a language model propose and never execute')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run edca --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  registerCommands(program, io);
  return program;
}

/**
 * Runs the CLI with `argv` (without node and script) and resolves to the exit code.
 * Usage errors exit 2, failed checks 1; no stack trace reaches the user for bad input.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
        return EXIT.OK;
      }
      return EXIT.USAGE_OR_IO;
    }
    if (err instanceof CliError) {
      io.stderr(`edca: ${err.code}: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`edca: INTERNAL_ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.USAGE_OR_IO;
  }
}
