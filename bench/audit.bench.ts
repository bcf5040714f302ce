/**
 * `pnpm bench:audit [--json]`: offline journal verification speed (issue 6, item 6).
 *
 * A 50,000-record signed journal (test/helpers/journal-generator.ts: the kernel's record format
 * and life cycles, a checkpoint every 1,000 records) is generated once and cached in the temporary
 * directory. Then, each run on the same bytes:
 * - full verification with every signature checked, with the library's default pool (one worker
 *   per core but the main thread's, the main thread verifying batches too when the workers are
 *   busy), with one worker per core, and on the main thread alone;
 * - `checkpoints-only` (hash chain, Merkle roots and checkpoint signatures);
 * - Ed25519 verify alone through records' strict `verifyEd25519`, the floor per core.
 * The signature checks run once per Ed25519 backend that loads here, in the same process:
 * libsodium (`sodium`, the default where sodium-native loads) and node:crypto (`node`), under
 * `byBackend`; the top-level figures are the default backend's.
 * Wall-clock rates depend on how busy the machine is; `cpuUsPerRecord` (process CPU time, all
 * threads, per record) does much less.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeVerifyJournal, type VerifyJournalOptions } from '@edca/audit';
import {
  createNodeSigner,
  defaultEd25519Backend,
  generateKeyPair,
  isEd25519BackendAvailable,
  parseTrustFile,
  verifyEd25519,
} from '@edca/records';
import { generateJournal } from '../test/helpers/journal-generator.js';

const RECORDS = 50_000;
const json = process.argv.includes('--json');
const dir = join(tmpdir(), 'edca-audit-bench-v2');
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
// What `verifyJournal` starts by default for a journal this size.
const workers = availableParallelism() - 1;
const load = loadavg()[0]!;

type Backend = 'sodium' | 'node';
const backends: Backend[] = isEd25519BackendAvailable('sodium') ? ['sodium', 'node'] : ['node'];
const defaultBackend = defaultEd25519Backend();

// The floor: strict Ed25519 verification alone on one thread, ~1 kB messages like the records.
const { privateKeyPem, publicKey } = generateKeyPair(new Uint8Array(32).fill(1));
const signer = createNodeSigner(privateKeyPem);
const msg = Buffer.alloc(950, 0x61);
const sig = await signer.sign(msg);
function verifyOnly(backend: Backend): { perSec: number; cpuUs: number } {
  const n = 3000;
  for (let i = 0; i < 200; i++) verifyEd25519(publicKey, msg, sig, backend);
  const cv = process.cpuUsage();
  const tv = performance.now();
  for (let i = 0; i < n; i++) verifyEd25519(publicKey, msg, sig, backend);
  const perSec = Math.round(n / ((performance.now() - tv) / 1000));
  const cvu = process.cpuUsage(cv);
  return { perSec, cpuUs: Math.round(((cvu.user + cvu.system) / n) * 10) / 10 };
}

const rate = (r: Run): number => Math.round(records / (r.ms / 1000));
const verifyFloor = new Map(backends.map((b) => [b, verifyOnly(b)] as const));
// Interleaved, so a change in the machine's load during the run hits both backends alike.
const fullRuns = new Map<Backend, Run>();
for (const b of backends)
  fullRuns.set(b, await best(2, () => timeVerify(bytes, { trust, signatureBackend: b })));
const perCoreRun = await best(1, () =>
  timeVerify(bytes, { trust, workers: availableParallelism(), signatureBackend: defaultBackend }),
);
const inlineRuns = new Map<Backend, Run>();
for (const b of backends)
  inlineRuns.set(b, await best(1, () => timeVerify(bytes, { trust, workers: 0, signatureBackend: b })));
const cpOnly = await best(5, () => timeVerify(bytes, { trust, mode: 'checkpoints-only' }));

const figures = (b: Backend) => {
  const full = fullRuns.get(b)!;
  const inline = inlineRuns.get(b)!;
  const verify = verifyFloor.get(b)!;
  return {
    recordsPerSec: rate(full),
    cpuUsPerRecord: Math.round((full.cpuUs / records) * 10) / 10,
    recordsPerCpuSecond: Math.round(records / (full.cpuUs / 1e6)),
    recordsPerSecMainThreadOnly: rate(inline),
    cpuUsPerRecordMainThreadOnly: Math.round((inline.cpuUs / records) * 10) / 10,
    recordsPerCpuSecondMainThreadOnly: Math.round(records / (inline.cpuUs / 1e6)),
    verifyOnlyPerSec: verify.perSec,
    verifyOnlyCpuUs: verify.cpuUs,
    /** Records per CPU-second relative to strict verify alone: 1.0 would mean zero overhead. */
    efficiencyVsVerifyOnly: Math.round((verify.cpuUs / (full.cpuUs / records)) * 100) / 100,
  };
};
const byBackend = Object.fromEntries(backends.map((b) => [b, figures(b)]));
const result = {
  suite: 'audit',
  records,
  journalBytes: bytes.length,
  workers,
  ed25519Backend: defaultBackend,
  ...figures(defaultBackend),
  /** The default backend with one worker per core (the default pool before the main thread helped). */
  cpuUsPerRecordWorkerPerCore: Math.round((perCoreRun.cpuUs / records) * 10) / 10,
  recordsPerCpuSecondWorkerPerCore: Math.round(records / (perCoreRun.cpuUs / 1e6)),
  checkpointOnlyRecordsPerSec: rate(cpOnly),
  checkpointOnlyCpuUsPerRecord: Math.round((cpOnly.cpuUs / records) * 100) / 100,
  byBackend,
  generatedMs: Math.round(generatedMs),
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  loadAverage1m: Math.round(load * 100) / 100,
  loadAverage1mAtEnd: Math.round(loadavg()[0]! * 100) / 100,
};

if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `audit: ${records} records (${(bytes.length / 1e6).toFixed(1)} MB), load average ${result.loadAverage1m}`,
  );
  for (const b of backends) {
    const f = byBackend[b]!;
    console.log(
      `  [${b.padEnd(6)}] full, ${workers} worker + main    : ${f.recordsPerSec} records/s, ${f.cpuUsPerRecord} µs CPU/record (${f.recordsPerCpuSecond} records per CPU-second; target ≥ 12,000)`,
    );
    console.log(
      `  [${b.padEnd(6)}] full, main thread only    : ${f.recordsPerSecMainThreadOnly} records/s, ${f.cpuUsPerRecordMainThreadOnly} µs CPU/record`,
    );
    console.log(
      `  [${b.padEnd(6)}] strict Ed25519 verify only: ${f.verifyOnlyPerSec} /s on one thread, ${f.verifyOnlyCpuUs} µs CPU each`,
    );
  }
  console.log(
    `  [${defaultBackend.padEnd(6)}] full, ${availableParallelism()} workers (1 per core): ${result.cpuUsPerRecordWorkerPerCore} µs CPU/record (${result.recordsPerCpuSecondWorkerPerCore} records per CPU-second)`,
  );
  console.log(
    `  checkpoints-only                  : ${result.checkpointOnlyRecordsPerSec} records/s, ${result.checkpointOnlyCpuUsPerRecord} µs CPU/record (target ≥ 250,000/s)`,
  );
}
