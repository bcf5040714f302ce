import { readFileSync } from 'node:fs';
import { POLICY_ERROR_CODES } from '@edca/policy';
import { describe, expect, it } from 'vitest';

const docs = readFileSync(new URL('../../../docs/reason-codes.md', import.meta.url), 'utf8');
const section = docs.slice(docs.indexOf('## `@edca/policy`'));

describe('PolicyError codes', () => {
  it('documents every code in the @edca/policy section of docs/reason-codes.md', () => {
    expect(section.length).toBeLessThan(docs.length);
    for (const code of POLICY_ERROR_CODES) expect(section).toContain(`\`${code}\``);
  });
});
