import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);

interface PackageJson {
  name: string;
  license?: string;
  types?: string;
  exports?: Record<string, unknown>;
  files?: string[];
  devDependencies?: Record<string, string>;
}

const readJson = (url: URL): PackageJson => JSON.parse(readFileSync(url, 'utf8')) as PackageJson;

describe('workspace', () => {
  describe('when reading the root package.json', () => {
    it('pins every dev dependency to an exact version', () => {
      const pkg = readJson(new URL('package.json', root));
      for (const [name, version] of Object.entries(pkg.devDependencies ?? {})) {
        expect(version, name).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
      }
    });
  });

  describe('when reading each package', () => {
    const names = readdirSync(new URL('packages/', root)).filter((n) =>
      existsSync(new URL(`packages/${n}/package.json`, root)),
    );

    it.each(names)('@edca/%s is packable for use outside the workspace', (n) => {
      const dir = new URL(`packages/${n}/`, root);
      const pkg = readJson(new URL('package.json', dir));
      expect(pkg.name).toBe(`@edca/${n}`);
      expect(pkg.license).toBe('Apache-2.0');
      expect(pkg.types).toBe('./dist/index.d.ts');
      expect(pkg.exports?.['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
      expect(pkg.files).toEqual(expect.arrayContaining(['dist', '!dist/**/*.tsbuildinfo']));
      for (const f of ['LICENSE', 'README.md']) expect(existsSync(new URL(f, dir)), `${n}/${f}`).toBe(true);
    });
  });
});
