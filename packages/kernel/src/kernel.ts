/**
 * The runtime kernel: decide (pure, cached), sign and journal the decision, then execute a verified,
 * unconsumed, unexpired permit through its route, journaling the attempt before the handler runs
 * and the outcome after. Every failure path refuses with a stable code (docs/reason-codes.md).
 *
 * `createKernel` only wires the modules under internal/: settings and the map registry (built
 * once), the shared context (ports and the ledger fold that is the live state), the self-test,
 * recovery, then decide, execute, approvals and plans over that one context.
 */
import { appendIntakeRefusal, appendSessionEnd } from './session-records.js';
import { approve, expireApprovals } from './internal/approvals.js';
import { createContext } from './internal/context.js';
import { decide } from './internal/decide.js';
import { execute } from './internal/execute.js';
import { runPlan } from './internal/plans.js';
import { leasesOf, recover } from './internal/recovery.js';
import { createRegistry } from './internal/registry.js';
import { selfTest } from './internal/self-test.js';
import { settingsOf } from './internal/settings.js';
import type { Journal } from './journal.js';
import type { Kernel, KernelOptions } from './types.js';

/**
 * Creates a kernel: validates options, runs the startup self-test, replays the journal (rebuilding
 * the default store and resolving attempts that have no outcome), and journals `policy.activated`
 * for maps not yet activated.
 * @throws KernelError KERNEL_CONFIG_INVALID for malformed options; KERNEL_SELF_TEST_FAILED when the map,
 *   routes, forbidden-proposal check, signer or journal fail the self-test
 * @example const kernel = await createKernel({ maps, signer, journal, clock: systemClock, handlers });
 */
export async function createKernel(options: KernelOptions): Promise<Kernel> {
  const settings = settingsOf(options);
  const ctx = createContext(options, settings, createRegistry(options));
  await selfTest(ctx);
  const leases = leasesOf(ctx);
  const recovery = await recover(ctx, leases);
  const { journal, clock, store } = ctx;
  // Session records go through the ledger as well: it folds their life cycle, and a record the
  // ledger did not see would turn its snapshots off.
  const sessions: Journal = {
    stream: journal.stream,
    append: (drafts) => ctx.append([...drafts]),
    head: () => journal.head(),
    read: (fromSeq) => journal.read(fromSeq),
    close: () => journal.close(),
  };
  return {
    decide: (proposal, context) => decide(ctx, proposal, context),
    execute: (permit, context) => execute(ctx, permit, context),
    approve: (signed) => approve(ctx, signed),
    expireApprovals: () => expireApprovals(ctx),
    runPlan: (steps, context) => runPlan(ctx, steps, context),
    recordIntakeRefusal: (report) => appendIntakeRefusal(sessions, clock, report),
    endSession: (report) => appendSessionEnd(sessions, clock, report),
    on(event, listener) {
      const set = ctx.listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    recovery,
    arps: new Map(ctx.registry.entries.map((e) => [e.map.name, e.arp])),
    cache: ctx.cache,
    store,
    async close() {
      ctx.closed = true;
      await leases.stop();
      await ctx.ledgerJournal.idle();
      if (ctx.ownStore) await store.close();
    },
  };
}
