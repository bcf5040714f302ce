// Use from another project: examples/embed, copied outside the repository, installs the packed
// @edca tarballs into its own node_modules and runs the README quickstart: keygen, the embedding
// code twice (one key file, one journal), then `edca audit verify` finds the journal intact.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = readdirSync(join(root, 'packages')).every((p) =>
  existsSync(join(root, 'packages', p, 'dist', 'index.js')),
);
const work = mkdtempSync(join(tmpdir(), 'edca-example-embed-'));
const project = join(work, 'embed');

const run = (cmd: string, args: readonly string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(cmd, args, { cwd: project, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('examples/embed, installed from the packed tarballs', () => {
  beforeAll(() => {
    // Never a silent skip: the tarballs are packed from the built packages.
    if (!built) throw new Error('the packages are not built: run `pnpm run build` (the install does it)');
    mkdirSync(project);
    for (const f of ['package.json', 'embed.ts', 'cards.yaml', 'install.sh']) {
      copyFileSync(join(root, 'examples', 'embed', f), join(project, f));
    }
    execFileSync('sh', ['install.sh'], {
      cwd: project,
      env: { ...process.env, EDCA_REPO: root },
      stdio: 'ignore',
      timeout: 900_000,
    });
  }, 900_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('has its own copies of the packages, not links into the repository', () => {
    for (const p of ['kernel', 'records', 'semantic', 'cli']) {
      const real = realpathSync(join(project, 'node_modules', '@edca', p));
      expect(real.startsWith(root), real).toBe(false);
      expect(existsSync(join(real, 'LICENSE')) && existsSync(join(real, 'README.md'))).toBe(true);
    }
  });

  it('keygen, embed twice, then audit verify: intact, both runs under the one trusted key', () => {
    const edca = join(project, 'node_modules', '.bin', 'edca');
    const tsx = join(project, 'node_modules', '.bin', 'tsx');
    expect(run(edca, ['keygen', '--out', 'keys']).code).toBe(0);
    const first = run(tsx, ['embed.ts']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const second = run(tsx, ['embed.ts']);
    expect(second.err).toBe('');
    expect(second.code).toBe(0);
    const verify = run(edca, ['audit', 'verify', 'edca.journal', '--trust', 'keys/trust.json', '--json']);
    expect(verify.code, verify.err).toBe(0);
    const report = JSON.parse(verify.out) as { ok: boolean; byType: Record<string, number> };
    expect(report.ok).toBe(true);
    expect(report.byType).toMatchObject({ 'policy.activated': 1, decision: 2, attempt: 2, outcome: 2 });
  }, 300_000);
});
