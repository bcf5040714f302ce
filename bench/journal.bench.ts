/**
 * File journal throughput: decision records signed, appended and fdatasync'ed per second, with group
 * commit, at 1, 16, 256 and 1024 concurrent appenders in one process; plus the cost of reopening (scan,
 * chain check, tail signature check).
 *
 *   pnpm bench:journal            # a table
 *   pnpm bench:journal --json     # one JSON object
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { createNodeSigner, type Signer } from '@edca/records';

import { openFileJournal, type RecordDraft } from '../packages/kernel/src/index.js';

/** One measured configuration. */
export interface JournalBenchRow {
  readonly concurrency: number;
  readonly fsync: boolean;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly meanAppendMs: number;
  readonly p99AppendMs: number;
  /** Process CPU time (user + system, all threads) per record: load-independent cost. */
  readonly cpuUsPerRecord: number;
}

/** Everything `runJournalBench` measured. */
export interface JournalBenchResult {
  readonly rows: JournalBenchRow[];
  readonly reopenRecords: number;
  readonly reopenMs: number;
  readonly reopenRecordsPerSec: number;
  /** `read()` of the whole reopened file (what a kernel replays at startup). */
  readonly readRecordsPerSec: number;
  readonly bytesPerRecord: number;
  /** Median time of one 1.4 kB append + fdatasync on the same disk, measured alone (ms). */
  readonly fdatasyncMedianMs: number;
  /** The 1-minute load average when the run ended (others' work on a shared machine skews rates). */
  readonly loadAverage: number;
  readonly cpus: number;
}

const digest = (n: number): `sha256:${string}` => `sha256:${n.toString(16).padStart(64, '0')}`;

/** A decision record of a realistic size (~900 bytes on the line). */
export function benchDecisionDraft(i: number): RecordDraft {
  return {
    type: 'decision',
    at: new Date(1_767_225_600_000 + i).toISOString(),
    body: {
      verdict: 'permit',
      decisionKey: digest(i),
      policyDigest: digest(1),
      stateHash: digest(2),
      actionHash: digest(3 + i),
      input: {
        policyDigest: digest(1),
        state: { facets: { account: 'active', kyc: 'verified' }, machines: { refund: 'requested' } },
        proposal: { intent: 'refund.issue', params: { amount: 4200, currency: 'EUR', order: `ref_${i}` } },
        principal: { id: 'agent-7', attributes: { team: 'care', tier: 2 } },
        approvals: [],
        counters: { 'refund.rate': 3, 'refund.budget': 12_000 },
      },
      rule: 'refund.small',
      reasons: ['WITHIN_LIMITS'],
      accountable: 'head-of-care',
      principal: { id: 'agent-7' },
      proposer: { model: 'model-x', promptTemplate: digest(9) },
      expiresAt: '2026-01-01T00:05:00.000Z',
    },
  };
}

async function measure(
  dir: string,
  signer: Signer,
  concurrency: number,
  fsync: boolean,
  seconds: number,
): Promise<JournalBenchRow> {
  const path = join(dir, `c${concurrency}-${fsync ? 'sync' : 'nosync'}.jsonl`);
  const journal = await openFileJournal({ path, stream: 'bench', signer, fsync });
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await journal.append([benchDecisionDraft(next++)]);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  await journal.close();
  latencies.sort((a, b) => a - b);
  const records = latencies.length;
  return {
    concurrency,
    fsync,
    records,
    seconds: round(elapsed, 2),
    recordsPerSec: Math.round(records / elapsed),
    meanAppendMs: round(latencies.reduce((a, b) => a + b, 0) / records, 3),
    p99AppendMs: round(latencies[Math.min(records - 1, Math.floor(records * 0.99))] ?? 0, 3),
    cpuUsPerRecord: round((used.user + used.system) / records, 1),
  };
}

/** The disk's own cost: append one line and fdatasync, 50 times, median. */
async function probeFdatasync(dir: string): Promise<number> {
  const handle = await open(join(dir, 'probe'), 'a');
  const line = Buffer.alloc(1400, 0x61);
  const times: number[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await handle.write(line);
      await handle.datasync();
      times.push(performance.now() - t);
    }
  } finally {
    await handle.close();
  }
  times.sort((a, b) => a - b);
  return round(times[25] ?? 0, 3);
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Runs the journal benchmark in a temporary directory (removed afterwards). */
export async function runJournalBench(options: { seconds?: number } = {}): Promise<JournalBenchResult> {
  const seconds = options.seconds ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'edca-journal-bench-'));
  try {
    const signer = createNodeSigner(generateKeyPairSync('ed25519').privateKey);
    // Warm up JIT and the disk path.
    await measure(dir, signer, 16, true, 0.5);
    const rows: JournalBenchRow[] = [];
    const fdatasyncMedianMs = await probeFdatasync(dir);
    // 1024: when fdatasync is slow (a busy disk), a group can only be as large as the appenders waiting.
    for (const c of [1, 16, 256, 1024]) rows.push(await measure(dir, signer, c, true, seconds));
    rows.push(await measure(dir, signer, 256, false, seconds));

    // Reopen the largest synced file: full scan, chain and checkpoint check, 1000 tail signatures.
    const path = join(dir, 'c256-sync.jsonl');
    const t = performance.now();
    const journal = await openFileJournal({ path, stream: 'bench', signer });
    const reopenMs = performance.now() - t;
    const reopenRecords = journal.recovery.records;
    const r = performance.now();
    let read = 0;
    for await (const _ of journal.read()) read += 1;
    const readMs = performance.now() - r;
    await journal.close();
    const bytes = (await stat(path)).size;
    return {
      rows,
      reopenRecords,
      reopenMs: round(reopenMs, 1),
      reopenRecordsPerSec: Math.round(reopenRecords / (reopenMs / 1000)),
      readRecordsPerSec: Math.round(read / (readMs / 1000)),
      bytesPerRecord: Math.round(bytes / reopenRecords),
      fdatasyncMedianMs,
      loadAverage: round(loadavg()[0] ?? 0, 2),
      cpus: availableParallelism(),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Prints the result as a table, or as one JSON object with --json. */
export function printJournalBench(result: JournalBenchResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log('file journal: decision records signed + appended (+ fdatasync) per second, one process');
  console.table(result.rows);
  console.log(
    `reopen: ${result.reopenRecords} records in ${result.reopenMs} ms ` +
      `(${result.reopenRecordsPerSec} records/s); read() ${result.readRecordsPerSec} records/s; ` +
      `${result.bytesPerRecord} bytes/record; fdatasync alone ${result.fdatasyncMedianMs} ms (median); ` +
      `load average ${result.loadAverage} on ${result.cpus} CPUs`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const json = process.argv.includes('--json');
  printJournalBench(await runJournalBench(), json);
}
