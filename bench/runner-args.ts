/**
 * Command-line parsing of the bench runners that are not `pnpm bench` suites
 * (`kernel-pairs.ts`, `kernel-instructions.ts`): an unknown option or a bad value is refused with
 * `<runner>: <message>` on stderr and exit code 2, before anything is measured (`refuse` also
 * refuses a suite's bad setting, such as kernel.bench.ts's `EDCA_KERNEL_BENCH_SECONDS`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Says `<runner>: <message>` on stderr and exits with code 2 (a usage error). */
export function refuse(runner: string, message: string): never {
  console.error(`${runner}: ${message}`);
  process.exit(2);
}

/** The runner's options parsed strictly from its arguments (no positionals), or refused. */
export function runnerArgs<const O extends NonNullable<ParseArgsConfig['options']>>(
  runner: string,
  options: O,
): ReturnType<typeof parseArgs<{ options: O }>>['values'] {
  try {
    return parseArgs({ options }).values;
  } catch (err) {
    return refuse(runner, (err as Error).message);
  }
}
