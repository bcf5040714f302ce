import { DERIVE_CODES, DIAGNOSTIC_CODES, REASON_CODES } from '@edca/semantic';
import { describe, expect, it } from 'vitest';
import { readFixture } from './helpers.js';

describe('docs/reason-codes.md', () => {
  const doc = readFixture('../docs/reason-codes.md');
  const reference = readFixture('../docs/state-maps.md');
  it.each([...REASON_CODES, ...DERIVE_CODES, ...DIAGNOSTIC_CODES, 'MAP_INVALID'])('lists %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
  it.each([...DIAGNOSTIC_CODES])('explains %s with an example in state-maps.md', (code) => {
    expect(reference).toMatch(new RegExp(`\\| \`${code}\`( \\(warning\\))? +\\|`));
  });
});
