import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { approverKeys, createBank, testClock } from './support/harness.js';
import { commands, fileLife, runScenario, type Command, type RunTrace } from './support/restart-model.js';

/** Runs the commands twice (without and with restarts), each on its own journal, bank and clock. */
export async function bothWays(cmds: readonly Command[]): Promise<[RunTrace, RunTrace]> {
  const traces: RunTrace[] = [];
  for (const restarts of [false, true]) {
    const bank = createBank();
    const mode = { next: 'ok' as 'ok' | 'fail' | 'hang' };
    const keys = approverKeys();
    const life = await fileLife({ bank, mode, keys, clock: testClock() });
    try {
      traces.push(await runScenario(cmds, life, { bank, mode, keys, restarts }));
    } finally {
      await life.close();
    }
  }
  return [traces[0]!, traces[1]!];
}

describe('restart equivalence (file journal)', () => {
  describe('when random decide / approve / execute sequences run with and without kernel restarts', () => {
    it(
      'allows exactly the same decisions, executions and effects, and never passes a limit',
      { timeout: 240_000 },
      async () => {
        await fc.assert(
          fc.asyncProperty(commands, async (cmds) => {
            const [plain, restarted] = await bothWays(cmds);
            expect(restarted.steps).toEqual(plain.steps);
            expect(restarted.effects).toEqual(plain.effects);
            for (const total of Object.values(restarted.credited)) expect(total).toBeLessThanOrEqual(400);
          }),
          { numRuns: Number(process.env['EDCA_RESTART_RUNS'] ?? 5), endOnFailure: true },
        );
      },
    );
  });
});
