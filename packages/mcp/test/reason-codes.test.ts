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

describe('McpError codes', () => {
  describe('when the catalogue is read', () => {
    it('documents every code in docs/reason-codes.md and docs/mcp.md', () => {
      for (const code of MCP_ERROR_CODES) {
        expect(docs, code).toContain(`\`${code}\``);
        expect(mcpDoc, code).toContain(`\`${code}\``);
      }
    });
    it('asserts every code in at least one @edca/mcp test', () => {
      const untested = MCP_ERROR_CODES.filter((code) => !tests.includes(`'${code}'`));
      expect(untested).toEqual([]);
    });
  });
});

describe('HTTP refusal codes (error.data.code of the Streamable HTTP endpoint)', () => {
  describe('when the catalogue is read', () => {
    it('documents every code in docs/reason-codes.md and docs/mcp.md', () => {
      for (const code of HTTP_REFUSAL_CODES) {
        expect(docs, code).toContain(`\`${code}\``);
        expect(mcpDoc, code).toContain(`\`${code}\``);
      }
    });
    it('asserts every code in at least one @edca/mcp test', () => {
      const untested = HTTP_REFUSAL_CODES.filter((code) => !tests.includes(`'${code}'`));
      expect(untested).toEqual([]);
    });
  });
});

describe('stdio refusal codes (error.data.code of the line serveStdio writes back)', () => {
  describe('when the catalogue is read', () => {
    it('documents every code in docs/reason-codes.md and docs/mcp.md', () => {
      for (const code of STDIO_REFUSAL_CODES) {
        expect(docs, code).toContain(`\`${code}\``);
        expect(mcpDoc, code).toContain(`\`${code}\``);
      }
    });
    it('asserts every code in at least one @edca/mcp test', () => {
      const untested = STDIO_REFUSAL_CODES.filter((code) => !tests.includes(`'${code}'`));
      expect(untested).toEqual([]);
    });
  });
});
