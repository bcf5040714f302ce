/** Stable exit codes of the `edca` command: scripts rely on them. */
export const EXIT = {
  /** The command did what was asked and every check passed. */
  OK: 0,
  /** A check failed: an invalid map, a refused proposal, audit findings. */
  CHECK_FAILED: 1,
  /** The command line was wrong, or a file could not be read or written. */
  USAGE_OR_IO: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * An error a command raises to stop with a given exit code and a one-line message with a stable code.
 * Never carries a stack trace to the user.
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, exitCode: ExitCode = EXIT.USAGE_OR_IO) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}
