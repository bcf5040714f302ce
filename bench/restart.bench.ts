/**
 * Restart time and heap of a kernel on a long file journal (issue 13.5): a journal of N records
 * (default 1,000,000: permit, attempt, outcome, over and over, with the holds of two limits), once
 * without snapshots (every restart folds every record) and once with a `snapshot` record every
 * 10,000 records (a restart folds from the last one). Each restart runs in its own Node process, so
 * its heap is its own: the time to open the journal (the file journal scans every line), the time
 * `createKernel` takes (folding the journal into the ledger, seeding the store), the heap after a GC
 * and the peak RSS.
 *
 * The journals are generated once (records signed by a real journal, snapshots written by the
 * kernel's own ledger writer) and kept in the temp directory for later runs.
 *
 *   pnpm bench:restart                    # a table
 *   pnpm bench:restart --json             # one JSON object
 *   pnpm bench:restart --records 100000   # a shorter journal
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { emptyLedger } from '@edca/ledger';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { loadStateMap } from '@edca/semantic';

import { createKernel, openFileJournal, type RecordDraft } from '../packages/kernel/src/index.js';
import { createLedgerJournal } from '../packages/kernel/src/internal/ledger-journal.js';
import { jsonMode } from './harness.js';

const root = new URL('../', import.meta.url);
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const RECORDS = Number(argValue('--records') ?? 1_000_000);
const SNAPSHOT_EVERY = 10_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
/**
 * One permit every 200 ms of journal time, living 60 s: a snapshot keeps what lives (about 300
 * permits with their attempts), and a snapshot must fit one record (docs/kernel.md, Known limits).
 */
const STEP_MS = 200;
const TTL_MS = 60_000;
const HOUR = 3_600_000;

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The permit of action `i` at `atMs`, holding a per-principal rate and a per-entity budget. */
function decisionDraft(i: number, atMs: number): RecordDraft {
  const window = Math.floor(atMs / HOUR) * HOUR;
  return {
    type: 'decision',
    at: iso(atMs),
    body: {
      verdict: 'permit',
      decisionKey: digest(1_000_000_000 + i),
      policyDigest: digest(1),
      stateHash: digest(2),
      actionHash: digest(3_000_000_000 + i),
      input: {
        policyDigest: digest(1),
        state: { facets: { account: 'active' }, machines: { refund: 'requested' } },
        proposal: { intent: 'refund_payment', params: { amount: 25, payment: `ref_${i}` } },
        principal: { id: `agent-${i % 10}`, attributes: {} },
        approvals: [],
        counters: {},
      },
      rule: 'refund.small',
      reasons: ['WITHIN_LIMITS'],
      accountable: 'head-of-care',
      principal: { id: `agent-${i % 10}` },
      proposer: { modelId: 'bench', promptTemplateDigest: digest(9) },
      expiresAt: iso(atMs + TTL_MS),
      hold: {
        id: `bench.${atMs}.0.${i}`,
        counters: [
          {
            key: 'refund.rate',
            counter: `refund.rate|p:agent-${i % 10}|${window}`,
            amount: 1,
            max: 1e9,
            windowEnd: window + HOUR,
          },
          {
            key: 'refund.budget',
            counter: `refund.budget|e:${digest(i % 500).slice(7, 23)}|${window}`,
            amount: 25,
            max: 1e12,
            windowEnd: window + HOUR,
          },
        ],
      },
    },
  };
}

/** Writes one journal of about `RECORDS` records; with `snapshots`, through the kernel's ledger writer. */
async function generate(path: string, pem: string, snapshots: boolean): Promise<void> {
  let nowMs = T0;
  const clock = { now: () => nowMs };
  const signer = createNodeSigner(pem);
  const journal = await openFileJournal({ path, stream: 'bench', signer, clock, fsync: false });
  const writer = createLedgerJournal({
    journal,
    ledger: emptyLedger(),
    clock,
    snapshotEvery: snapshots ? SNAPSHOT_EVERY : 0,
    // As the kernel prunes (context.ts).
    pruneGraceMs: 60_000,
  });
  await writer.append([
    {
      type: 'policy.activated',
      at: iso(nowMs),
      body: { policyDigest: digest(1), name: 'bench', version: '1', owner: 'bench' },
    },
  ]);
  let i = 0;
  const BATCH = 300;
  while ((await journal.head()).seq < RECORDS) {
    const decisions: RecordDraft[] = [];
    for (let k = 0; k < BATCH / 3; k++, i++) {
      nowMs += STEP_MS;
      decisions.push(decisionDraft(i, nowMs));
    }
    const permits = await writer.append(decisions);
    const attempts = await writer.append(
      permits.map((p) => ({
        type: 'attempt',
        at: p.record.at,
        body: {
          permit: p.hash,
          actionHash: (p.record.body as { actionHash: string }).actionHash,
          idempotencyKey: p.hash,
          try: 1,
          instance: 'bench',
        },
      })),
    );
    await writer.append(
      attempts.map((a, k) => ({
        type: 'outcome',
        at: a.record.at,
        body: { attempt: a.hash, permit: permits[k]!.hash, status: 'completed' },
      })),
    );
    await writer.idle();
  }
  if (snapshots) console.error(`generated ${path}: ${JSON.stringify(writer.stats)}`);
  await journal.close();
}

interface Measured {
  readonly records: number;
  readonly foldedRecords: number;
  readonly fromSnapshot: number;
  readonly openMs: number;
  readonly createKernelMs: number;
  readonly restartMs: number;
  readonly heapUsedMb: number;
  readonly maxRssMb: number;
}

/** In a child process: opens the journal, starts a kernel on it, measures. */
async function child(path: string, pem: string): Promise<void> {
  const map = loadStateMap(
    readFileSync(new URL('fixtures/maps/retail-banking.yaml', root), 'utf8'),
    'retail-banking.yaml',
  );
  if (!map.ok) throw new Error('bench map invalid');
  const signer = createNodeSigner(pem);
  const endMs = T0 + RECORDS * STEP_MS + 1000;
  const clock = { now: () => endMs };
  const t0 = performance.now();
  const journal = await openFileJournal({ path, stream: 'bench', signer, clock, fsync: false });
  const t1 = performance.now();
  const kernel = await createKernel({
    maps: [map.value],
    loaders: { [map.value.name]: () => Promise.resolve({}) },
    refKey: new Uint8Array(32).fill(5),
    signer,
    journal,
    clock,
    handlers: Object.fromEntries(
      Object.values(map.value.document.routes).map((r) => [r.handler, () => ({ ok: true })]),
    ),
    snapshotEvery: SNAPSHOT_EVERY,
  });
  const t2 = performance.now();
  (globalThis as { gc?: () => void }).gc?.();
  const out: Measured = {
    records: (await journal.head()).seq,
    foldedRecords: kernel.recovery.records,
    fromSnapshot: kernel.recovery.fromSnapshot,
    openMs: Math.round(t1 - t0),
    createKernelMs: Math.round(t2 - t1),
    restartMs: Math.round(t2 - t0),
    heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1e5) / 10,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1e2) / 10,
  };
  await kernel.close();
  await journal.close();
  console.log(JSON.stringify(out));
}

/** The version of the cached journals' generation (see main). */
const CACHE_VERSION = 2;

async function main(): Promise<void> {
  const mode = argValue('--child');
  // The journals are kept between runs; a new cache version regenerates them. Bump it whenever the
  // record or snapshot format changes (the snapshot row below refuses to report a restart that did
  // not start from a snapshot, which is what a stale cache gives).
  const dir = join(tmpdir(), `edca-bench-restart-${RECORDS}-v${CACHE_VERSION}`);
  const pemPath = join(dir, 'signer.pem');
  const paths = { before: join(dir, 'plain.jsonl'), after: join(dir, 'snapshots.jsonl') };
  if (mode !== undefined) {
    await child(mode === 'before' ? paths.before : paths.after, readFileSync(pemPath, 'utf8'));
    return;
  }
  const done = join(dir, 'done');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(pemPath, generateKeyPair().privateKeyPem);
    const pem = readFileSync(pemPath, 'utf8');
    const t = performance.now();
    await generate(paths.before, pem, false);
    await generate(paths.after, pem, true);
    writeFileSync(done, String(Math.round(performance.now() - t)));
  }
  const self = fileURLToPath(import.meta.url);
  const rows: (Measured & { case: string; fileMb: number })[] = [];
  for (const which of ['before', 'after'] as const) {
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', self, '--child', which, '--records', String(RECORDS)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (r.status !== 0) throw new Error(`restart child failed: ${r.stderr}`);
    const measured = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Measured;
    if (which === 'after' && measured.fromSnapshot === 0)
      throw new Error(
        `the restart folded every record of ${paths.after} instead of starting from its last snapshot: ` +
          `the snapshots there do not restore (a journal cached by an older format? delete ${dir})`,
      );
    rows.push({
      case: which === 'before' ? 'no snapshots' : `snapshot every ${SNAPSHOT_EVERY}`,
      fileMb: Math.round(statSync(paths[which]).size / 1e5) / 10,
      ...measured,
    });
  }
  const load = loadavg()[0]!.toFixed(2);
  if (jsonMode()) {
    console.log(
      JSON.stringify({ suite: 'restart', cpus: availableParallelism(), loadAverage1m: load, rows }),
    );
    return;
  }
  console.log(`\nrestart — ${RECORDS} records, load ${load}, ${availableParallelism()} CPUs`);
  console.log(
    'case                     records  folded  open ms  createKernel ms  restart ms  heap MB  max RSS MB  file MB',
  );
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(24)} ${String(r.records).padStart(8)} ${String(r.foldedRecords).padStart(7)} ${String(r.openMs).padStart(8)} ${String(r.createKernelMs).padStart(16)} ${String(r.restartMs).padStart(11)} ${String(r.heapUsedMb).padStart(8)} ${String(r.maxRssMb).padStart(11)} ${String(r.fileMb).padStart(8)}`,
    );
  }
}

await main();
