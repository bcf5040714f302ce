import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository's root folder (with a trailing slash). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** What a script run by {@link runScript} did. */
export interface ScriptRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How {@link runScript} runs a script. */
export interface ScriptOptions {
  /** Killed past this (its code is then null); default 60 s. */
  readonly timeoutMs?: number;
  /** Its environment; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to its standard input, which is then closed. */
  readonly input?: string;
}

/**
 * Runs `node --import tsx ARGS…` from the repository's root (a bench runner or fixture by its
 * path, then its arguments) and waits for it to end.
 */
export function runScript(args: readonly string[], options: ScriptOptions = {}): ScriptRun {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
