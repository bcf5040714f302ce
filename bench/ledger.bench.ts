/**
 * Ledger benchmark: the fold's bookkeeping of one permit as the kernel does it — read the usage of
 * the permit's two counters, then fold its `decision` record (which checks and holds both) — while
 * the permits before it stay live (unexpired, unattempted, as in `pnpm bench:kernel`). Per permit,
 * CPU µs, once with a fresh counter per permit (a limit per entity) and once with every permit on
 * one shared counter (a per-principal rate): usage must not grow with the holds on a counter.
 *
 *   pnpm bench ledger            # a table
 *   pnpm bench ledger --json     # ONE JSON object
 */
import { apply, emptyLedger, usageAt, type LedgerRecord } from '@edca/ledger';
import { jsonMode, machine } from './harness.js';

const POLICY = `sha256:${'a'.repeat(64)}`;
const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const WINDOW_END = T0 + 3_600_000;
const TTL_MS = 300_000;
const hashOf = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const record = (seq: number, type: string, atMs: number, body: unknown): LedgerRecord => ({
  record: { type, seq, at: new Date(atMs).toISOString(), kid: 'ed25519:bench', body },
  hash: hashOf(seq),
});

/** µs of CPU per permit over `permits` permits (one per ms), after `live` permits already held. */
function run(live: number, permits: number, shared: boolean): number {
  const state = emptyLedger();
  apply(
    state,
    record(1, 'policy.activated', T0, { policyDigest: POLICY, name: 'm', version: '1', owner: 'o' }),
  );
  const decision = (i: number): LedgerRecord => {
    const now = T0 + i;
    const rate = shared ? 'refund.rate|p:agent-42|0' : `refund.rate|e:${i}|0`;
    return record(i + 2, 'decision', now, {
      verdict: 'permit',
      actionHash: hashOf(1e9 + i),
      policyDigest: POLICY,
      input: { proposal: { intent: 'refund_payment', params: {} }, approvals: [] },
      expiresAt: new Date(now + TTL_MS).toISOString(),
      hold: {
        id: `bench.${now}.0`,
        counters: [
          { key: 'refund.rate', counter: rate, amount: 1, max: 1e12, windowEnd: WINDOW_END },
          {
            key: 'refund.budget',
            counter: `refund.budget|e:${i}|0`,
            amount: 25,
            max: 1e12,
            windowEnd: WINDOW_END,
          },
        ],
      },
    });
  };
  // Records are built before the clock starts: only the fold is measured.
  const records = Array.from({ length: live + permits }, (_, i) => decision(i));
  for (let i = 0; i < live; i++) apply(state, records[i]!);
  const cpu0 = process.cpuUsage();
  for (let i = live; i < live + permits; i++) {
    const r = records[i]!;
    const body = r.record.body as { hold: { counters: { counter: string }[] } };
    const now = T0 + i;
    for (const c of body.hold.counters) usageAt(state, c.counter, now);
    apply(state, r);
  }
  const cpu = process.cpuUsage(cpu0);
  return Number(((cpu.user + cpu.system) / permits).toFixed(2));
}

const PERMITS = 20_000;
const rows = [1_000, 10_000, 50_000].flatMap((live) =>
  [false, true].map((shared) => ({ live, shared, cpuUsPerPermit: run(live, PERMITS, shared) })),
);
const result = { suite: 'ledger', machine: machine(), permits: PERMITS, rows };
if (jsonMode()) console.log(JSON.stringify(result));
else {
  for (const r of rows)
    console.log(
      `${String(r.live).padStart(6)} live permits, ${r.shared ? 'one shared counter ' : 'a counter per permit'}: ${r.cpuUsPerPermit} µs CPU per permit (usage of 2 counters + fold)`,
    );
  console.log(`machine: ${JSON.stringify(machine())}`);
}
