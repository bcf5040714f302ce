import type { Command } from 'commander';
import type { CliIo } from '../io.js';

/**
 * Registers every `edca` subcommand. Each command lives in its own file in this folder and
 * exports `register<Name>(program, io)`; add one line here per command.
 */
export function registerCommands(_program: Command, _io: CliIo): void {
  // commands are registered here
}
