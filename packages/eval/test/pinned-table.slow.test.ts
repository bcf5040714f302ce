import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateSuite, loadBuiltInSuite, renderEvaluationTable } from '@edca/eval';

// The tables docs/evaluation.md quotes, pinned: a change to the kernel, the ARP layer, a map or a
// suite that lets one more attack through (or costs one more task) changes a number here and fails.
// After a deliberate change, regenerate with `pnpm --silent edca eval --suite NAME > packages/eval/test/expected/NAME.txt`
// and say why in the commit.
describe('edca eval tables', () => {
  it.each(['online-banking', 'insurance-claims'])(
    '%s: every run as pinned, every journal intact',
    async (name) => {
      const result = await evaluateSuite(loadBuiltInSuite(name));
      const expected = readFileSync(new URL(`./expected/${name}.txt`, import.meta.url), 'utf8');
      expect(renderEvaluationTable(result)).toBe(expected);
      for (const mode of result.modes.filter((m) => m.mode === 'edca')) {
        expect(mode.audit).toEqual({ journals: 108, intact: 108, findings: {} });
      }
    },
  );
});
