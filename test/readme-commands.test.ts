// The README's two fresh-machine commands are exact: the demo command prints only edca's own
// output (no pnpm script banner, no "ELIFECYCLE Command failed"), the same invocation keeps a
// failing command's exit code, and CI (.ci/run) runs exactly the README's test command.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const builtCli = join(root, 'packages', 'cli', 'dist', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'edca-readme-commands-'));

/** The command lines (not comments) of the README's first fenced block. */
function firstBlockCommands(): string[] {
  const fence = /```sh\n([\s\S]*?)```/.exec(readme);
  return (fence?.[1] ?? '').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

const INSTALL = 'npx -y pnpm@10.34.8 install --frozen-lockfile && ';
const [demoLine = '', testLine = ''] = firstBlockCommands();
/** What the README puts before `edca …`: the quiet pnpm invocation every edca command uses. */
const EDCA = demoLine.slice(INSTALL.length, demoLine.indexOf(' edca ') + ' edca'.length);

// As a user's shell runs them: without the npm_/pnpm_ variables a `pnpm run test` parent sets
// (npx warns about pnpm's own settings on stderr).
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_/i.test(k) && k !== 'PNPM_SCRIPT_SRC_DIR'),
);

function run(command: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', command], { cwd: root, env: userEnv, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NOISE = /^> |ELIFECYCLE|Command failed|WARN/m;

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the README's fresh-machine commands", () => {
  it('are exactly two, each installing first: the demo, then every check', () => {
    expect(firstBlockCommands()).toEqual([
      `${INSTALL}${EDCA} demo --out demo-out`,
      `${INSTALL}npx -y pnpm@10.34.8 run check`,
    ]);
    expect(EDCA).toBe('npx -y pnpm@10.34.8 --silent edca');
  });

  it('CI runs exactly the README test command', () => {
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(ci.at(-1)).toBe(testLine);
  });

  describe('when run through pnpm as the README writes them', () => {
    beforeAll(() => {
      // Never a silent skip: `pnpm edca` runs the built CLI.
      if (!existsSync(builtCli))
        throw new Error('the CLI is not built: run `pnpm run build` (the install does it)');
    });
    it('the demo prints only its own output, and exits 0', () => {
      const r = run(`${EDCA} demo --out ${join(work, 'demo-out')} --clock fixed`);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(NOISE);
      expect(r.stdout).toContain('journal');
    }, 200_000);

    it('a failing command keeps its exit code (2, then 1) and prints one line, no banner', () => {
      const io = run(`${EDCA} keygen --out /proc/nope`);
      expect({ code: io.code, stdout: io.stdout }).toEqual({ code: 2, stdout: '' });
      expect(io.stderr).toMatch(/^edca: IO_WRITE_FAILED: [^\n]*\n$/);

      const invalid = run(`${EDCA} validate fixtures/invalid/condition-type-error.yaml`);
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toMatch(/^edca: MAP_INVALID: [^\n]*\n$/);
      expect(invalid.stdout).not.toMatch(NOISE);
    }, 200_000);
  });
});
