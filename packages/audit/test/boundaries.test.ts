import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The audit guide promises an auditor a verifier that runs offline and does not contain the
// runtime it judges: no kernel, no store, no network or database client, in code or dependencies.
const src = new URL('../src/', import.meta.url);
const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
const specifiers = files.flatMap((f) =>
  [...readFileSync(new URL(f, src), 'utf8').matchAll(/\bfrom '([^']+)'|\bimport\('([^']+)'\)/g)].map((m) => ({
    file: f,
    spec: m[1] ?? m[2]!,
  })),
);
const FORBIDDEN =
  /^(@edca\/(kernel|store-postgres|mcp|models|cli|arp)|node:(net|http|https|http2|dgram|dns|tls|child_process)|pg|undici)$/;

describe('@edca/audit boundaries', () => {
  describe('when its sources and dependencies are read', () => {
    it('imports neither the kernel nor any network, database or process module', () => {
      expect(files.length).toBeGreaterThan(10);
      expect(specifiers.filter((s) => FORBIDDEN.test(s.spec))).toEqual([]);
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      expect(Object.keys(pkg.dependencies).filter((d) => FORBIDDEN.test(d))).toEqual([]);
    });

    it('the guard catches a forbidden import (and not a look-alike)', () => {
      expect(FORBIDDEN.test('@edca/kernel')).toBe(true);
      expect(FORBIDDEN.test('node:http')).toBe(true);
      expect(FORBIDDEN.test('@edca/ledger')).toBe(false);
      expect(FORBIDDEN.test('node:crypto')).toBe(false);
    });
  });
});
