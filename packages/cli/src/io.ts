import { readFileSync } from 'node:fs';
import { CliError } from './exit-codes.js';

/** The streams a command writes to; injected so tests can run commands in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars only draw there). */
  readonly isTty: boolean;
  /** Whether stdout is a terminal: output for people may be indented there, never in a pipe. */
  readonly stdoutIsTty?: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTty: process.stderr.isTTY,
  stdoutIsTty: process.stdout.isTTY,
};

/** Reads a file (or standard input for `-`) as UTF-8, turning any failure into exit code 2. */
export function readTextInput(path: string): string {
  return readBytes(path).toString('utf8');
}

/** Reads a file (or standard input for `-`), as IO_READ_FAILED (exit code 2) on failure. */
export function readBytes(path: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (err) {
    throw new CliError(
      'IO_READ_FAILED',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
