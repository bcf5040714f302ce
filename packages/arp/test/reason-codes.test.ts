import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARP_ERROR_CODES, ARP_REFUSAL_CODES } from '@edca/arp';

describe('docs/reason-codes.md', () => {
  describe('when reading the @edca/arp section', () => {
    it('lists every refusal and error code', () => {
      const doc = readFileSync(new URL('../../../docs/reason-codes.md', import.meta.url), 'utf8');
      const start = doc.indexOf('## `@edca/arp`');
      const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
      expect(start).toBeGreaterThan(-1);
      for (const code of [...ARP_REFUSAL_CODES, ...ARP_ERROR_CODES])
        expect(section).toContain(`| \`${code}\``);
    });
  });
});
