import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { apply, emptyLedger, snapshotMatches, type SnapshotBody } from '@edca/ledger';
import type { Journal, KernelOptions } from '@edca/kernel';
import { approverKeys, createBank, testClock } from './support/harness.js';
import {
  commands,
  fileLife,
  runScenario,
  type Command,
  type Life,
  type RunTrace,
} from './support/restart-model.js';

/** Permits, an execution and restarts after enough records that a snapshot precedes each restart. */
const SNAPSHOT_THEN_RESTART: Command[] = [
  { op: 'credit', pay: 1, amount: 50 },
  { op: 'credit', pay: 2, amount: 100 },
  { op: 'note', pay: 3 },
  { op: 'restart' },
  { op: 'execute', permit: 0, mode: 'ok' },
  { op: 'credit', pay: 1, amount: 150 },
  { op: 'restart' },
  { op: 'execute', permit: 1, mode: 'ok' },
];

/** What the snapshots of a run's journal were: how many, how many restarts folded from one, how many wrong. */
interface SnapshotUse {
  written: number;
  restoredFrom: number;
  mismatched: number;
}

/** Folds a journal the way the auditor does and checks every snapshot against the fold before it. */
async function checkSnapshots(journal: Journal, use: SnapshotUse): Promise<void> {
  const state = emptyLedger();
  for await (const r of journal.read()) {
    if (r.record.type === 'snapshot') {
      use.written += 1;
      if (!snapshotMatches(state, r.record.body as unknown as SnapshotBody)) use.mismatched += 1;
    }
    apply(state, r);
  }
}

/**
 * Runs the commands twice (without and with restarts), each on its own journal, bank and clock;
 * `overrides` are the restarted run's kernel options.
 */
export async function bothWays(
  cmds: readonly Command[],
  overrides: Partial<KernelOptions> = {},
  use?: SnapshotUse,
): Promise<[RunTrace, RunTrace]> {
  const traces: RunTrace[] = [];
  for (const restarts of [false, true]) {
    const bank = createBank();
    const mode = { next: 'ok' as 'ok' | 'fail' | 'hang' };
    const keys = approverKeys();
    const inner = await fileLife({
      bank,
      mode,
      keys,
      clock: testClock(),
      ...(restarts ? { overrides } : {}),
    });
    const life: Life = {
      ...inner,
      async restart() {
        await inner.restart();
        if (use && inner.current().kernel.recovery.fromSnapshot > 0) use.restoredFrom += 1;
      },
    };
    try {
      traces.push(await runScenario(cmds, life, { bank, mode, keys, restarts }));
      if (restarts && use) await checkSnapshots(inner.journal(), use);
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

  describe('when the restarted kernels write a snapshot every few records and restart from it', () => {
    it(
      'still allows exactly the same, and every snapshot is the fold of the records before it',
      { timeout: 240_000 },
      async () => {
        const use: SnapshotUse = { written: 0, restoredFrom: 0, mismatched: 0 };
        await fc.assert(
          fc.asyncProperty(commands, async (cmds) => {
            const [plain, restarted] = await bothWays(cmds, { snapshotEvery: 2 }, use);
            expect(restarted.steps).toEqual(plain.steps);
            expect(restarted.effects).toEqual(plain.effects);
            for (const total of Object.values(restarted.credited)) expect(total).toBeLessThanOrEqual(400);
          }),
          {
            // The example below and then EDCA_RESTART_RUNS random sequences (fast-check counts
            // examples in numRuns).
            numRuns: 1 + Number(process.env['EDCA_RESTART_RUNS'] ?? 8),
            endOnFailure: true,
            // Random sequences restart after a snapshot only by chance (eight random runs had no such
            // restart in 2 of 25 tries): this one always does, so the restore is exercised each time.
            examples: [[SNAPSHOT_THEN_RESTART]],
          },
        );
        expect(use.mismatched).toBe(0);
        expect(use.written).toBeGreaterThan(0);
        expect(use.restoredFrom).toBeGreaterThan(0);
      },
    );
  });
});
