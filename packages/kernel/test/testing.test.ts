import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// `@edca/kernel/testing` is imported by third parties' tests under any runner: its modules take the
// runner's functions as arguments, so none of them may import one.
describe('@edca/kernel/testing', () => {
  describe('when its modules are read', () => {
    it('imports no test runner, only node:, @edca/ and relative modules', () => {
      const dir = new URL('../src/testing/', import.meta.url);
      const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
      expect(files.length).toBeGreaterThanOrEqual(4);
      for (const f of files) {
        const text = readFileSync(new URL(f, dir), 'utf8');
        const specifiers = [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map(
          (m) => m[1]!,
        );
        for (const s of specifiers) expect(s, `${f} imports ${s}`).toMatch(/^(node:|@edca\/|\.\/|\.\.\/)/);
      }
    });
  });
});
