import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_REASON_CODES } from '@edca/kernel';

const docs = readFileSync(new URL('../../../docs/reason-codes.md', import.meta.url), 'utf8');
const testDir = new URL('./', import.meta.url);
const tests = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.ts') && f !== 'reason-codes.test.ts')
  .map((f) => readFileSync(new URL(f, testDir), 'utf8'))
  .join('\n');

describe('kernel reason codes', () => {
  describe('when the catalogue is read', () => {
    it('documents every code in docs/reason-codes.md', () => {
      for (const code of KERNEL_REASON_CODES) expect(docs, code).toContain(`\`${code}\``);
    });
    it('asserts every code in at least one kernel test', () => {
      for (const code of KERNEL_REASON_CODES) expect(tests, code).toContain(`'${code}'`);
    });
  });
});
