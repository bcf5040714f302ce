// Restart equivalence on PostgreSQL (issue 13): the scenarios of the kernel's file-journal property
// test, with the journal and the store in one database; a restart closes the kernel and its pools.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { createKernel } from '@edca/kernel';
import { postgresJournal, postgresStore } from '@edca/store-postgres';
import {
  approverKeys,
  createBank,
  REF_KEY,
  testClock,
  type Bank,
  bankLoaders,
} from '../../kernel/test/support/harness.js';
import { loadLedgerMap } from '../../kernel/test/support/ledger-map.js';
import {
  commands,
  modalHandlers,
  runScenario,
  type Driver,
  type Life,
  type RunTrace,
} from '../../kernel/test/support/restart-model.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

async function pgLife(
  bank: Bank,
  mode: { next: 'ok' | 'fail' | 'hang' },
  keys: ReturnType<typeof approverKeys>,
): Promise<Life> {
  const url = await server.createDatabase('restart');
  const pem = generateKeyPair().privateKeyPem;
  const clock = testClock();
  const map = loadLedgerMap();
  const session = { stream: 'test', session: 'model-session-1' };
  const start = async () => {
    const signer = createNodeSigner(pem);
    const journal = postgresJournal({ connectionString: url, stream: 'test', signer, clock });
    const store = postgresStore({ connectionString: url });
    const kernel = await createKernel({
      maps: [map],
      loaders: bankLoaders(bank),
      refKey: REF_KEY,
      signer,
      journal,
      store,
      clock,
      trust: keys.trust,
      handlers: modalHandlers(bank, mode),
      handlerTimeoutMs: 20,
      retries: 0,
    });
    const arp = kernel.arps.get('kernel-refunds')!;
    const driver: Driver = {
      kernel,
      session,
      clock,
      refFor(id) {
        const view = arp.project({ tbl_pay: { ...bank.rows.get(id)! } }, session);
        if (!view.ok) throw new Error(view.code);
        return view.value.entities['payment']!;
      },
    };
    const close = async () => {
      await kernel.close();
      await journal.close();
      await store.close();
    };
    return { driver, close };
  };
  let now = await start();
  return {
    current: () => now.driver,
    async restart() {
      await now.close();
      now = await start();
    },
    close: () => now.close(),
  };
}

async function bothWays(cmds: Parameters<typeof runScenario>[0]): Promise<[RunTrace, RunTrace]> {
  const traces: RunTrace[] = [];
  for (const restarts of [false, true]) {
    const bank = createBank();
    const mode = { next: 'ok' as 'ok' | 'fail' | 'hang' };
    const keys = approverKeys();
    const life = await pgLife(bank, mode, keys);
    try {
      traces.push(await runScenario(cmds, life, { bank, mode, keys, restarts }));
    } finally {
      await life.close();
    }
  }
  return [traces[0]!, traces[1]!];
}

describe('restart equivalence (PostgreSQL journal and store)', () => {
  describe('when random decide / approve / execute sequences run with and without kernel restarts', () => {
    it(
      'allows exactly the same decisions, executions and effects, and never passes a limit',
      { timeout: 300_000 },
      async () => {
        await fc.assert(
          fc.asyncProperty(commands, async (cmds) => {
            const [plain, restarted] = await bothWays(cmds);
            expect(restarted.steps).toEqual(plain.steps);
            expect(restarted.effects).toEqual(plain.effects);
            for (const total of Object.values(restarted.credited)) expect(total).toBeLessThanOrEqual(400);
          }),
          { numRuns: Number(process.env['EDCA_RESTART_RUNS'] ?? 3), endOnFailure: true },
        );
      },
    );
  });
});
