import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { registerApprovals } from './approvals.js';
import { registerAudit } from './audit.js';
import { registerDemo } from './demo.js';
import { registerEval } from './eval.js';
import { registerDiff } from './diff.js';
import { registerGraph } from './graph.js';
import { registerIntake } from './intake.js';
import { registerJournal } from './journal.js';
import { registerPolicy } from './policy.js';
import { registerTest } from './test.js';
import { registerKeygen } from './keygen.js';
import { registerSchema } from './schema.js';
import { registerServe } from './serve.js';
import { registerRun } from './run.js';
import { registerStates } from './states.js';
import { registerValidate } from './validate.js';
import { registerView } from './view.js';
import { registerWitness } from './witness.js';

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
  registerView(_program, _io);
  registerIntake(_program, _io);
  registerKeygen(_program, _io);
  registerDemo(_program, _io);
  registerJournal(_program, _io);
  registerWitness(_program, _io);
  registerSchema(_program, _io);
  registerServe(_program, _io);
  registerApprovals(_program, _io);
  registerRun(_program, _io);
  registerTest(_program, _io);
  registerPolicy(_program, _io);
  registerEval(_program, _io);
  registerDiff(_program, _io);
}
