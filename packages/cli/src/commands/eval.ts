import {
  APPROVER_BEHAVIOURS,
  builtInSuiteNames,
  evaluateSuite,
  EvalError,
  loadBuiltInSuite,
  loadSuiteFile,
  renderEvaluationTable,
  type ApproverBehaviour,
  type Suite,
  type SuiteEvaluation,
} from '@edca/eval';
import { KernelError } from '@edca/kernel';
import { Option, type Command } from 'commander';
import { CliError } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** A shipped suite's name, or a path to a suite file (anything with a slash or a YAML extension). */
function loadNamed(name: string): Suite {
  return /[/\\]|\.ya?ml$/.test(name) ? loadSuiteFile(name) : loadBuiltInSuite(name);
}

/**
 * `edca eval [--suite NAME] [--approver none|owner] [--json]`: runs every user task and every
 * (user task × injection task) pair of the shipped suites (or one) with no kernel and through
 * edca, and prints the table. Exit 0 when the run completed (the table is the result), 2 on
 * usage errors and suites that cannot run.
 */
export function registerEval(program: Command, io: CliIo): void {
  program
    .command('eval')
    .description(
      'measure utility and attack success of a scripted compromised agent, with no kernel and through edca',
    )
    .option(
      '--suite <name>',
      `a shipped suite (${builtInSuiteNames().join(', ')}) or a suite file; default: every shipped suite`,
    )
    .addOption(
      new Option('--approver <behaviour>', 'who answers escalations; default: both, one row each').choices([
        ...APPROVER_BEHAVIOURS,
      ]),
    )
    .option('--json', 'print the results (every run included) as JSON')
    .action(async (opts: { suite?: string; approver?: ApproverBehaviour; json?: boolean }) => {
      const approvers = opts.approver === undefined ? APPROVER_BEHAVIOURS : [opts.approver];
      const results: SuiteEvaluation[] = [];
      try {
        const suites = (opts.suite === undefined ? builtInSuiteNames() : [opts.suite]).map(loadNamed);
        for (const suite of suites) results.push(await evaluateSuite(suite, { approvers }));
      } catch (err) {
        if (err instanceof EvalError) throw new CliError(err.code, err.message);
        // The kernel refused the suite's map at startup: the suite cannot run, say why.
        if (err instanceof KernelError) {
          const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
          throw new CliError(err.code, `${err.message}${cause}`);
        }
        throw err;
      }
      if (opts.json === true) {
        io.stdout(`${JSON.stringify({ edca_eval: 1, suites: results }, null, 2)}\n`);
        return;
      }
      io.stdout(results.map(renderEvaluationTable).join('\n'));
    });
}
