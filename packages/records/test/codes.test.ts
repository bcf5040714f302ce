import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const src = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8');
const union = src.slice(
  src.indexOf('export type RecordsErrorCode'),
  src.indexOf(';', src.indexOf('export type RecordsErrorCode')),
);
const codes = [...union.matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]!);

const docs = readFileSync(new URL('../../../docs/reason-codes.md', import.meta.url), 'utf8');
const section = docs.slice(
  docs.indexOf('## `@edca/records`'),
  docs.indexOf('\n## ', docs.indexOf('## `@edca/records`') + 1),
);
const testDir = new URL('./', import.meta.url);
const tests = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.ts') && f !== 'codes.test.ts')
  .map((f) => readFileSync(new URL(f, testDir), 'utf8'))
  .join('\n');

describe('RecordsErrorCode', () => {
  describe('when listing the closed union', () => {
    it('has the codes', () => {
      expect(codes.length).toBeGreaterThanOrEqual(30);
      expect(new Set(codes).size).toBe(codes.length);
    });
    it.each(codes)('%s is documented in docs/reason-codes.md and asserted by a test', (code) => {
      expect(section).toContain(`\`${code}\``);
      expect(tests).toContain(`'${code}'`);
    });
  });
});
