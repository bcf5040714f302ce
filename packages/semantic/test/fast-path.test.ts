// Which shapes the native closure specializes; that it gives exactly the CEL plan's answer is the
// shared fast-path harness's property (test/fast-paths: semantic.condition).
import { celEnv, plan } from '@bufbuild/cel';
import { describe, expect, it } from 'vitest';
import { checkCondition } from '../src/internal/cel-check.js';
import { fastPath } from '../src/internal/fast-path.js';
import { conditionEnv, NOT_FAST_CONDITIONS, SPECIALIZED_CONDITIONS } from './conditions.js';

const env = celEnv({});

describe('fastPath', () => {
  describe.each(SPECIALIZED_CONDITIONS)('for %s', (text) => {
    const c = checkCondition(text, conditionEnv);
    const slow = plan(env, c.parsed!) as unknown as (b: Record<string, unknown>) => unknown;
    const fast = fastPath(c.parsed!.expr, c.names, slow);
    it('is specialized', () => expect(fast).toBeDefined());
  });

  it.each(NOT_FAST_CONDITIONS)('leaves %s to CEL', (text) => {
    const c = checkCondition(text, conditionEnv);
    expect(fastPath(c.parsed!.expr, c.names, () => null)).toBeUndefined();
  });
});
