import { runCli } from '../../src/program.js';

/** Runs the CLI in process with `argv`, capturing what it writes and its exit code. */
export async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdout: (t: string) => (out += t),
    stderr: (t: string) => (err += t),
    isTty: false,
  });
  return { code, out, err };
}
