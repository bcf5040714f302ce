import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVAL_ERROR_CODES } from '@edca/eval';

const doc = (name: string): string => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');
const tests = readFileSync(new URL('./suite.test.ts', import.meta.url), 'utf8');

describe('EvalError codes', () => {
  it.each(EVAL_ERROR_CODES)('%s is documented and asserted by a test', (code) => {
    expect(doc('reason-codes.md')).toContain(`\`${code}\``);
    expect(doc('evaluation.md')).toContain(`\`${code}\``);
    expect(tests).toContain(`'${code}'`);
  });
});
