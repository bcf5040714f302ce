import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { registerAudit } from './audit.js';
import { registerGraph } from './graph.js';
import { registerStates } from './states.js';
import { registerValidate } from './validate.js';

/**
 * Registers every `edca` subcommand. Each command lives in its own file in this folder and
 * exports `register<Name>(program, io)`; add one line here per command.
 */
export function registerCommands(_program: Command, _io: CliIo): void {
  // commands are registered here
  registerValidate(_program, _io);
  registerGraph(_program, _io);
  registerStates(_program, _io);
  registerAudit(_program, _io);
}
