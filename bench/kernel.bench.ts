/**
 * Kernel benchmark (issue 5, item 12): the retail-banking refund rule decided by the kernel (cached
 * and uncached) and by Cedar (`@cedar-policy/cedar-wasm`, `statefulIsAuthorized` on a pre-parsed
 * policy set) in the same run, and the end-to-end permit rate: `kernel.decide` → evaluate → sign →
 * file-journal append with fdatasync and group commit, in one process.
 *
 *   pnpm bench:kernel            # a table
 *   pnpm bench:kernel --json     # ONE JSON object (cachedDecideP50Us, uncachedDecideP50Us, cedarDecideP50Us, permitsPerSec, …)
 *
 * permitsPerSec is measured with the journal signing on a worker thread (`createWorkerSigner`: one
 * process, two threads busy); the same run with the signer on the kernel's thread is reported too.
 * Each is run once per Ed25519 backend that loads here, interleaved, in the same process: libsodium
 * (`sodium`, the default where sodium-native loads) and node:crypto (`node`), under `byBackend`.
 * The top-level figures are the default backend's. Each measured permit run lasts 5 s
 * (EDCA_KERNEL_BENCH_SECONDS=N: N seconds). bench/kernel-pairs.ts compares this bench on two checkouts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { preparsePolicySet, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import {
  createNodeSigner,
  createSodiumSigner,
  createWorkerSigner,
  defaultEd25519Backend,
  isChainSigner,
  isEd25519BackendAvailable,
  type Signer,
} from '@edca/records';
import { loadStateMap, type DecisionInput } from '@edca/semantic';
import {
  createDecisionCache,
  createKernel,
  decisionKeyOf,
  evaluateDecision,
  openFileJournal,
  systemClock,
} from '../packages/kernel/src/index.js';
import { setUpPermitLoop } from './fixtures/permit-setup.js';
import { jsonMode, machine, procStatCpuUs, runCases, type BenchRow } from './harness.js';
import { refuse } from './runner-args.js';

const root = new URL('..', import.meta.url);
/** Seconds of each measured permit run: 5, or EDCA_KERNEL_BENCH_SECONDS (a quick check of the bench itself). */
const PERMIT_SECONDS = Number(process.env['EDCA_KERNEL_BENCH_SECONDS'] ?? 5);
if (!(PERMIT_SECONDS > 0 && PERMIT_SECONDS <= 600))
  refuse(
    'kernel bench',
    `EDCA_KERNEL_BENCH_SECONDS must be a number of seconds above 0 and at most 600, got ${process.env['EDCA_KERNEL_BENCH_SECONDS']}`,
  );
const loaded = loadStateMap(
  readFileSync(new URL('fixtures/maps/retail-banking.yaml', root), 'utf8'),
  'retail-banking.yaml',
);
if (!loaded.ok) throw new Error('retail-banking map does not load');
const map = loaded.value;
const goodStanding = JSON.parse(
  readFileSync(new URL('fixtures/records/retail-banking/good-standing.json', root), 'utf8'),
) as Record<string, Record<string, unknown>>;
const derived = map.derive(goodStanding);
if (!derived.ok) throw new Error('good-standing records do not derive');

const PAYMENT_REF = 'ref_AAAAAAAAAAAAAAAAAAAAAA';
const inputFor = (amount: number, used = 0): DecisionInput => ({
  policyDigest: map.digest,
  state: derived.state,
  proposal: {
    intent: 'refund_payment',
    params: { payment: PAYMENT_REF, amount, reason: 'duplicate_charge' },
  },
  principal: { id: 'agent-42', attributes: { role: 'agent', strong_auth: true } },
  approvals: [],
  counters: { 'refund.rate': used % 3, 'refund.budget': used },
});

// ---- the same rule in Cedar -----------------------------------------------------------------
// refund_payment of retail-banking.yaml: allowed_when, the state machine's `from` states, both
// limits, and escalate_when folded in as a deny (Cedar has no third verdict). Amounts in pence.
const CEDAR_POLICY = `
permit (principal, action == Action::"refund_payment", resource)
when {
  context.kyc == "verified" &&
  context.account_standing != "closed" &&
  context.payment_age == "within-window" &&
  (context.reason != "goodwill" || context.amount_pence <= 10000) &&
  ["settled", "partially_refunded"].contains(context.payment_state) &&
  context.refund_rate_used + 1 <= 3 &&
  context.refund_budget_used_pence + context.amount_pence <= 200000 &&
  !(context.amount_pence > 50000 || context.vulnerable == "yes")
};`;
const pre = preparsePolicySet('refunds', { staticPolicies: CEDAR_POLICY });
if (pre.type !== 'success') throw new Error(`cedar policy does not parse: ${JSON.stringify(pre)}`);
const cedarCall = (amountPence: number, usedPence = 0) => ({
  principal: { type: 'Agent', id: 'agent-42' },
  action: { type: 'Action', id: 'refund_payment' },
  resource: { type: 'Payment', id: 'p-1' },
  context: {
    kyc: derived.state.facets['kyc']!,
    account_standing: derived.state.facets['account_standing']!,
    payment_age: derived.state.facets['payment_age']!,
    vulnerable: derived.state.facets['vulnerable']!,
    payment_state: derived.state.machines['payment']!,
    reason: 'duplicate_charge',
    amount_pence: amountPence,
    refund_rate_used: 0,
    refund_budget_used_pence: usedPence,
  },
  preparsedPolicySetId: 'refunds',
  entities: [],
});

// Both engines must agree on the sample inputs before their speed means anything.
for (const [amount, used] of [
  [25, 0],
  [600, 0],
  [25, 1990],
] as const) {
  const ours = map.evaluate(inputFor(amount, used)).verdict === 'permit';
  const answer = statefulIsAuthorized(cedarCall(amount * 100, used * 100));
  if (answer.type !== 'success') throw new Error('cedar failed');
  if (ours !== (answer.response.decision === 'allow')) {
    throw new Error(`engines disagree on amount ${amount}, used ${used}`);
  }
}

// ---- decision micro-benchmarks ---------------------------------------------------------------
const cachedInput = inputFor(25);
const cache = createDecisionCache();
const cachedKey = decisionKeyOf(cachedInput);
evaluateDecision(map, cachedInput, { cache, key: cachedKey });
let n = 0;
const rows: BenchRow[] = await runCases('kernel', [
  {
    name: 'cached decide (decision key + LRU hit)',
    fn: () => evaluateDecision(map, cachedInput, { cache, key: decisionKeyOf(cachedInput) }),
    note: 'target ≤ 10 µs',
  },
  {
    name: 'uncached decide (evaluate)',
    fn: () => evaluateDecision(map, inputFor(1 + (n++ % 400))),
  },
  {
    name: 'uncached decide + key + cache fill',
    fn: () => {
      const input = inputFor(1 + (n++ % 4000), n % 1990);
      return evaluateDecision(map, input, { cache, key: decisionKeyOf(input) });
    },
  },
  {
    name: 'cedar statefulIsAuthorized (pre-parsed)',
    fn: () => statefulIsAuthorized(cedarCall(100 + (n++ % 40000))),
  },
]);
const byName = (prefix: string): BenchRow => rows.find((r) => r.name.startsWith(prefix))!;

// ---- end-to-end permits per second ------------------------------------------------------------
/** CPU time (µs) of each thread of this process, from /proc (Linux); empty elsewhere. */
function threadCpuUs(): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync('/proc/self/task')) return out;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, procStatCpuUs(`/proc/self/task/${tid}/stat`));
    } catch {
      // the thread ended
    }
  }
  return out;
}

type Backend = 'sodium' | 'node';

/**
 * The end-to-end permit rate with the journal signing on a worker thread (`createWorkerSigner`, the
 * configuration the target is measured in) or on the kernel's own thread, with one Ed25519 backend.
 */
async function permitsPerSecond(
  seconds: number,
  concurrency: number,
  signerKind: 'worker' | 'inline',
  backend: Backend,
) {
  const dir = await mkdtemp(join(tmpdir(), 'edca-kernel-bench-'));
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const signer: Signer =
    signerKind === 'worker'
      ? createWorkerSigner(pem, { backend })
      : backend === 'sodium'
        ? createSodiumSigner(pem)
        : createNodeSigner(pem);
  const journal = await openFileJournal({ path: join(dir, 'journal.jsonl'), stream: 'bench', signer });
  const loop = await setUpPermitLoop({
    createKernel,
    systemClock,
    map,
    goodStanding,
    signer,
    journal,
    concurrency,
  });
  const { kernel } = loop;
  let permits = 0;
  let other = 0;
  const deadline = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const threads0 = threadCpuUs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (performance.now() < deadline) {
        const d = await loop.decide(i);
        if (d.verdict === 'permit') permits++;
        else other++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const threads1 = threadCpuUs();
  const perThread = [...threads1]
    .map(([tid, us]) => ({ tid, us: us - (threads0.get(tid) ?? 0) }))
    .filter((t) => t.us > 0)
    .sort((a, b) => b.us - a.us);
  const mainUs = threads1.get(String(process.pid)) ?? 0;
  await kernel.close();
  await journal.close();
  if (isChainSigner(signer)) await signer.close();
  await rm(dir, { recursive: true, force: true });
  if (other > 0) throw new Error(`${other} decisions were not permits`);
  return {
    permitsPerSec: Math.round(permits / elapsed),
    permits,
    seconds: Number(elapsed.toFixed(2)),
    concurrency,
    signer: signerKind,
    backend,
    cpuUsPerPermit: Number(((cpu.user + cpu.system) / permits).toFixed(1)),
    // The kernel's own thread, which bounds the rate: decide, prepare records, the journal loop.
    mainThreadCpuUsPerPermit: Number(
      ((mainUs - (threads0.get(String(process.pid)) ?? 0)) / permits).toFixed(1),
    ),
    // Every thread with CPU time in the run (main, the signing worker, V8's GC helpers, libuv), µs per permit.
    threadCpuUsPerPermit: perThread.map((t) => Number((t.us / permits).toFixed(1))),
    loadavg1: Number(loadavg()[0]!.toFixed(2)),
  };
}
type PermitRun = Awaited<ReturnType<typeof permitsPerSecond>>;
const backends: Backend[] = isEd25519BackendAvailable('sodium') ? ['sodium', 'node'] : ['node'];
const runs = new Map<string, PermitRun>();
// Each configuration first runs once unmeasured: the first run in a process otherwise pays for
// compiling the whole permit path, and the backend measured first would look slower for it.
for (const kind of ['worker', 'inline'] as const)
  for (const backend of backends) await permitsPerSecond(1, 256, kind, backend);
// Interleaved, so a change in the machine's load during the run hits both backends alike.
for (const kind of ['worker', 'inline'] as const)
  for (const backend of backends)
    runs.set(`${kind} ${backend}`, await permitsPerSecond(PERMIT_SECONDS, 256, kind, backend));
const run = (kind: 'worker' | 'inline', backend: Backend): PermitRun => runs.get(`${kind} ${backend}`)!;
const defaultBackend = defaultEd25519Backend();
const e2e = run('worker', defaultBackend);
const inline = run('inline', defaultBackend);
const byBackend = Object.fromEntries(
  backends.map((b) => [
    b,
    {
      permitsPerSec: run('worker', b).permitsPerSec,
      inlineSignerPermitsPerSec: run('inline', b).permitsPerSec,
      permitRun: run('worker', b),
      inlineSignerRun: run('inline', b),
    },
  ]),
);

const result = {
  suite: 'kernel',
  machine: machine(),
  cachedDecideP50Us: byName('cached decide').medianUs,
  uncachedDecideP50Us: byName('uncached decide (evaluate)').medianUs,
  uncachedWithKeyP50Us: byName('uncached decide + key').medianUs,
  cedarDecideP50Us: byName('cedar').medianUs,
  cedarOverUncached: Number(
    (byName('cedar').medianUs / byName('uncached decide (evaluate)').medianUs).toFixed(1),
  ),
  ed25519Backend: defaultBackend,
  permitsPerSec: e2e.permitsPerSec,
  permitRun: e2e,
  inlineSignerPermitsPerSec: inline.permitsPerSec,
  inlineSignerRun: inline,
  byBackend,
  rows,
};
if (jsonMode()) {
  console.log(JSON.stringify(result));
} else {
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(44)} p50 ${r.medianUs.toFixed(2).padStart(8)} µs  p99 ${r.p99Us.toFixed(2).padStart(8)} µs  cpu ${r.cpuUs.toFixed(2)} µs${r.note ? `  (${r.note})` : ''}`,
    );
  }
  console.log(`cedar / uncached: ${result.cedarOverUncached}×   (target ≥ 10×)`);
  for (const b of backends) {
    const w = run('worker', b);
    const i = run('inline', b);
    console.log(
      `permits/s [${b.padEnd(6)}] (decide + sign + fsync'ed group-commit append, concurrency ${w.concurrency}, worker signer): ${w.permitsPerSec}  (target ≥ 15,000; CPU ${w.cpuUsPerPermit} µs/permit, main thread ${w.mainThreadCpuUsPerPermit})`,
    );
    console.log(
      `permits/s [${b.padEnd(6)}] with the signer on the kernel's thread: ${i.permitsPerSec}  (CPU ${i.cpuUsPerPermit} µs/permit)`,
    );
  }
  console.log(`machine: ${JSON.stringify(machine())}`);
}
