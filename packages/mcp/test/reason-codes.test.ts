import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_REFUSAL_CODES, MCP_ERROR_CODES, STDIO_REFUSAL_CODES } from '../src/index.js';

const docs = readFileSync(new URL('../../../docs/reason-codes.md', import.meta.url), 'utf8');
const mcpDoc = readFileSync(new URL('../../../docs/mcp.md', import.meta.url), 'utf8');
const testDir = new URL('./', import.meta.url);
const tests = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.ts') && f !== 'reason-codes.test.ts')
  .map((f) => readFileSync(new URL(f, testDir), 'utf8'))
  .join('\n');

const catalogues: readonly (readonly [string, readonly string[]])[] = [
  ['McpError codes', MCP_ERROR_CODES],
  ['HTTP refusal codes (error.data.code of the Streamable HTTP endpoint)', HTTP_REFUSAL_CODES],
  ['stdio refusal codes (error.data.code of the line serveStdio writes back)', STDIO_REFUSAL_CODES],
];

describe.each(catalogues)('%s', (_name, codes) => {
  describe('when the catalogue is read', () => {
    it('documents every code in docs/reason-codes.md and docs/mcp.md', () => {
      for (const code of codes) {
        expect(docs, code).toContain(`\`${code}\``);
        expect(mcpDoc, code).toContain(`\`${code}\``);
      }
    });
    it('asserts every code in at least one @edca/mcp test', () => {
      const untested = codes.filter((code) => !tests.includes(`'${code}'`));
      expect(untested).toEqual([]);
    });
  });
});
