/**
 * `pnpm bench:audit [--json]`: offline journal verification speed (issue 6, item 6).
 *
 * A 50,000-record signed journal (test/helpers/journal-generator.ts: the kernel's record format
 * and life cycles, a checkpoint every 1,000 records) is generated once and cached in the temporary
 * directory. Then, each run on the same bytes:
 * - full verification with every signature checked, on worker threads (default: one per core)
 *   and on the main thread alone;
 * - `checkpoints-only` (hash chain, Merkle roots and checkpoint signatures);
 * - node:crypto Ed25519 verify alone through records' strict `verifyEd25519`, the floor per core.
 * Wall-clock rates depend on how busy the machine is; `cpuUsPerRecord` (process CPU time, all
 * threads, per record) does much less.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeVerifyJournal, type VerifyJournalOptions } from '@edca/audit';
import { createNodeSigner, generateKeyPair, parseTrustFile, verifyEd25519 } from '@edca/records';
import { generateJournal } from '../test/helpers/journal-generator.js';

const RECORDS = 50_000;
const json = process.argv.includes('--json');
const dir = join(tmpdir(), 'edca-audit-bench-v1');
const journalPath = join(dir, `journal-${RECORDS}.jsonl`);
const trustPath = join(dir, `trust-${RECORDS}.json`);

async function loadJournal(): Promise<{ bytes: Buffer; trustText: string; generatedMs: number }> {
  if (existsSync(journalPath) && existsSync(trustPath)) {
    return { bytes: readFileSync(journalPath), trustText: readFileSync(trustPath, 'utf8'), generatedMs: 0 };
  }
  const t0 = performance.now();
  const j = await generateJournal({ records: RECORDS, checkpointEvery: 1000, seed: 50 });
  mkdirSync(dir, { recursive: true });
  writeFileSync(journalPath, j.text);
  writeFileSync(trustPath, j.keys.trustText);
  return {
    bytes: readFileSync(journalPath),
    trustText: j.keys.trustText,
    generatedMs: performance.now() - t0,
  };
}

interface Run {
  readonly ms: number;
  readonly cpuUs: number;
}

async function timeVerify(bytes: Buffer, options: VerifyJournalOptions): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await safeVerifyJournal(bytes, options);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (!r.ok) throw new Error(`the benchmark journal does not verify: ${r.error.message}`);
  return { ms, cpuUs: cpu.user + cpu.system };
}

async function best(runs: number, fn: () => Promise<Run>): Promise<Run> {
  let b: Run | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await fn();
    if (b === undefined || r.ms < b.ms) b = r;
  }
  return b!;
}

const { bytes, trustText, generatedMs } = await loadJournal();
const trust = parseTrustFile(trustText);
const records = bytes.reduce((n, b) => (b === 0x0a ? n + 1 : n), 0);
const workers = availableParallelism();
const load = loadavg()[0]!;

const full = await best(2, () => timeVerify(bytes, { trust, workers }));
const inline = await best(1, () => timeVerify(bytes, { trust, workers: 0 }));
const cpOnly = await best(5, () => timeVerify(bytes, { trust, mode: 'checkpoints-only' }));

// The floor: strict Ed25519 verification alone on one thread, ~1 kB messages like the records.
const { privateKeyPem, publicKey } = generateKeyPair(new Uint8Array(32).fill(1));
const signer = createNodeSigner(privateKeyPem);
const msg = Buffer.alloc(950, 0x61);
const sig = await signer.sign(msg);
const n = 3000;
const cv = process.cpuUsage();
const tv = performance.now();
for (let i = 0; i < n; i++) verifyEd25519(publicKey, msg, sig);
const verifyOnlyPerSec = Math.round(n / ((performance.now() - tv) / 1000));
const cvu = process.cpuUsage(cv);
const verifyOnlyCpuUs = Math.round(((cvu.user + cvu.system) / n) * 10) / 10;

const rate = (r: Run): number => Math.round(records / (r.ms / 1000));
const result = {
  suite: 'audit',
  records,
  journalBytes: bytes.length,
  workers,
  recordsPerSec: rate(full),
  cpuUsPerRecord: Math.round((full.cpuUs / records) * 10) / 10,
  recordsPerCpuSecond: Math.round(records / (full.cpuUs / 1e6)),
  recordsPerSecMainThreadOnly: rate(inline),
  cpuUsPerRecordMainThreadOnly: Math.round((inline.cpuUs / records) * 10) / 10,
  checkpointOnlyRecordsPerSec: rate(cpOnly),
  checkpointOnlyCpuUsPerRecord: Math.round((cpOnly.cpuUs / records) * 100) / 100,
  verifyOnlyPerSec,
  verifyOnlyCpuUs,
  /** Records per CPU-second relative to strict verify alone: 1.0 would mean zero overhead. */
  efficiencyVsVerifyOnly: Math.round((verifyOnlyCpuUs / (full.cpuUs / records)) * 100) / 100,
  generatedMs: Math.round(generatedMs),
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  loadAverage1m: Math.round(load * 100) / 100,
};

if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `audit: ${records} records (${(bytes.length / 1e6).toFixed(1)} MB), load average ${result.loadAverage1m}`,
  );
  console.log(
    `  full, ${workers} signature workers : ${result.recordsPerSec} records/s, ${result.cpuUsPerRecord} µs CPU/record (${result.recordsPerCpuSecond} records per CPU-second)`,
  );
  console.log(
    `  full, main thread only    : ${result.recordsPerSecMainThreadOnly} records/s, ${result.cpuUsPerRecordMainThreadOnly} µs CPU/record`,
  );
  console.log(
    `  checkpoints-only          : ${result.checkpointOnlyRecordsPerSec} records/s, ${result.checkpointOnlyCpuUsPerRecord} µs CPU/record`,
  );
  console.log(
    `  strict Ed25519 verify only: ${verifyOnlyPerSec} /s on one thread, ${verifyOnlyCpuUs} µs CPU each`,
  );
}
