import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('workspace', () => {
  describe('when reading the root package.json', () => {
    it('pins every dev dependency to an exact version', () => {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        devDependencies: Record<string, string>;
      };
      for (const [name, version] of Object.entries(pkg.devDependencies)) {
        expect(version, name).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
      }
    });
  });
});
