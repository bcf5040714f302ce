import { availableParallelism } from 'node:os';
import {
  checkTrustFile,
  defaultEd25519Backend,
  isEd25519BackendAvailable,
  leafHash,
  merkleRoot,
  RecordsError,
  toBase64url,
  type TrustFile,
} from '@edca/records';
import type { Finding } from './findings.js';
import { newestWitnessed, type WitnessFile } from './witness.js';
import { AuditError } from './errors.js';
import { verifyCheckpointsOnly } from './internal/checkpoint-verifier.js';
import { verifyLines } from './internal/journal-verifier.js';
import { toJournalLines, type JournalLine } from './internal/lines.js';
import type { ReplayMaps } from './replay-maps.js';
import type { AuditReport, VerifyMode } from './report.js';

/** A journal: the file's bytes or text, or its lines (each without the newline). */
export type JournalInput = Uint8Array | string | readonly (string | Uint8Array)[];

/** How to verify a journal. */
export interface VerifyJournalOptions {
  /** The auditor's trust file (parsed with `parseTrustFile` from @edca/records). */
  readonly trust: TrustFile;
  /** State maps by policy digest: every decision is replayed against its pinned map. */
  readonly maps?: ReplayMaps;
  /** `full` (default) or `checkpoints-only`: hash chain, Merkle roots and checkpoint signatures only. */
  readonly mode?: VerifyMode;
  /** The number of records the auditor knows the journal had (from a witness); fewer is `TRUNCATED`. */
  readonly expectedSize?: number;
  /**
   * The verifier's present time (RFC 3339): a record dated after it plus `maxSkewMs` is
   * `TIME_IN_FUTURE`. Default: no upper bound (the library reads no clock; the CLI passes its own).
   */
  readonly now?: string;
  /** Clock skew allowed past `now`, in milliseconds; default 300,000 (5 minutes). */
  readonly maxSkewMs?: number;
  /**
   * Checkpoints cosigned by witnesses (keys of role `witness` in the trust file): a journal
   * shorter than the newest one `quorum` witnesses cosigned is `TRUNCATED`, one whose records do
   * not hash to its root `WITNESS_INCONSISTENT`.
   */
  readonly witnesses?: { readonly file: WitnessFile; readonly quorum?: number };
  /**
   * Worker threads for signature checks; default: one per core but the calling thread's, for
   * journals of 4,000 records or more, else none. The calling thread verifies a batch itself
   * whenever every worker is busy.
   */
  readonly workers?: number;
  /**
   * Who checks Ed25519 signatures: `sodium` (libsodium, the default where `sodium-native` loads) or
   * `node` (node:crypto). Both apply the same strict policy and give the same findings.
   */
  readonly signatureBackend?: 'sodium' | 'node';
  /** Called as lines are processed (for progress bars). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The outcome of `safeVerifyJournal`: the report when the journal is intact, else the error that holds it. */
export type VerifyJournalResult = { ok: true; value: AuditReport } | { ok: false; error: AuditError };

const WORKER_THRESHOLD = 4000;
const DEFAULT_MAX_SKEW_MS = 300_000;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Verifies a journal offline and returns the report whatever it finds; `ok` is false on any finding.
 * @throws AuditError ARGUMENT_INVALID (malformed options: that is misuse, not a finding), TRUST_INVALID
 * @example
 * const result = await safeVerifyJournal(readFileSync('journal.jsonl'), { trust });
 * if (!result.ok) for (const f of result.error.report!.findings) console.log(f.seq, f.code);
 */
export async function safeVerifyJournal(
  journal: JournalInput,
  options: VerifyJournalOptions,
): Promise<VerifyJournalResult> {
  const report = await inspectJournal(journal, options);
  if (report.ok) return { ok: true, value: report };
  const first = report.findings[0]!;
  return {
    ok: false,
    error: new AuditError(
      'JOURNAL_INVALID',
      `${report.findings.length} finding(s); first: ${first.code} at seq ${first.seq}: ${first.message}`,
      { report },
    ),
  };
}

/**
 * Verifies a journal offline and returns its report when it is intact.
 * @throws AuditError JOURNAL_INVALID (with `error.report`) on any finding; ARGUMENT_INVALID, TRUST_INVALID on misuse
 */
export async function verifyJournal(
  journal: JournalInput,
  options: VerifyJournalOptions,
): Promise<AuditReport> {
  const result = await safeVerifyJournal(journal, options);
  if (!result.ok) throw result.error;
  return result.value;
}

async function inspectJournal(journal: JournalInput, options: VerifyJournalOptions): Promise<AuditReport> {
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof options.trust !== 'object' ||
    !Array.isArray(options.trust?.keys)
  ) {
    throw new AuditError('ARGUMENT_INVALID', 'options.trust must be a parsed trust file');
  }
  try {
    checkTrustFile(options.trust);
  } catch (err) {
    if (err instanceof RecordsError) throw new AuditError('TRUST_INVALID', err.message, { cause: err });
    throw err;
  }
  const { expectedSize, workers } = options;
  if (expectedSize !== undefined && !(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) {
    throw new AuditError('ARGUMENT_INVALID', 'expectedSize must be a non-negative integer');
  }
  if (workers !== undefined && !(Number.isSafeInteger(workers) && workers >= 0 && workers <= 64)) {
    throw new AuditError('ARGUMENT_INVALID', 'workers must be an integer from 0 to 64');
  }
  const { now, maxSkewMs = DEFAULT_MAX_SKEW_MS } = options;
  if (!(Number.isSafeInteger(maxSkewMs) && maxSkewMs >= 0)) {
    throw new AuditError('ARGUMENT_INVALID', 'maxSkewMs must be a non-negative integer');
  }
  let notAfterMs: number | undefined;
  if (now !== undefined) {
    const nowMs = typeof now === 'string' && RFC3339.test(now) ? Date.parse(now) : NaN;
    if (!Number.isFinite(nowMs)) {
      throw new AuditError('ARGUMENT_INVALID', `now must be an RFC 3339 date-time, got ${String(now)}`);
    }
    notAfterMs = nowMs + maxSkewMs;
  }
  const backend = options.signatureBackend ?? defaultEd25519Backend();
  if (backend !== 'sodium' && backend !== 'node')
    throw new AuditError(
      'ARGUMENT_INVALID',
      `signatureBackend must be sodium or node, not ${String(backend)}`,
    );
  if (!isEd25519BackendAvailable(backend))
    throw new AuditError('ARGUMENT_INVALID', 'signatureBackend sodium: sodium-native does not load here');
  const lines = toJournalLines(journal);
  const mode = options.mode ?? 'full';
  if (mode === 'checkpoints-only') {
    if (options.maps !== undefined)
      throw new AuditError('ARGUMENT_INVALID', 'replay needs full mode, not checkpoints-only');
    return withWitnesses(
      verifyCheckpointsOnly(lines, options.trust, expectedSize, options.onProgress, backend),
      lines,
      options,
    );
  }
  if (mode !== 'full') throw new AuditError('ARGUMENT_INVALID', `unknown mode ${String(mode)}`);
  const report = await verifyLines(lines, {
    trust: options.trust,
    maps: options.maps?.byDigest,
    expectedSize,
    notAfterMs,
    workers: workers ?? defaultWorkers(lines.length),
    backend,
    onProgress: options.onProgress,
  });
  return withWitnesses(report, lines, options);
}

/**
 * Signature workers for a journal of `records` lines: none below the threshold (starting a
 * worker costs more than it saves), else one per core but the calling thread's, which decodes,
 * chains and folds every record and verifies signatures whenever the workers are busy.
 */
function defaultWorkers(records: number): number {
  return records >= WORKER_THRESHOLD ? availableParallelism() - 1 : 0;
}

/** Checks a verified journal against the newest witnessed checkpoint of its stream, if any. */
function withWitnesses(
  report: AuditReport,
  lines: readonly JournalLine[],
  options: VerifyJournalOptions,
): AuditReport {
  const w = options.witnesses;
  if (w === undefined) return report;
  const quorum = w.quorum ?? 1;
  if (!(Number.isSafeInteger(quorum) && quorum >= 1))
    throw new AuditError('ARGUMENT_INVALID', 'witnesses.quorum must be a positive integer');
  if (report.stream === null) return { ...report, witnessed: null };
  const { best, rejected } = newestWitnessed(w.file, report.stream, options.trust, quorum);
  if (best === null) return { ...report, witnessed: null };
  const findings: Finding[] = [];
  const total = lines.length;
  if (total < best.size) {
    findings.push({
      code: 'TRUNCATED',
      seq: total + 1,
      line: total + 1,
      message: `${total} records, but ${best.witnesses.length} witness(es) cosigned a checkpoint of ${best.size}`,
    });
  } else {
    const root = toBase64url(merkleRoot(lines.slice(0, best.size).map((l) => leafHash(l.bytes))));
    if (root !== best.root) {
      findings.push({
        code: 'WITNESS_INCONSISTENT',
        seq: best.size,
        line: best.size,
        message: `records 1..${best.size} do not hash to the root ${best.witnesses.length} witness(es) cosigned`,
      });
    }
  }
  const all = [...report.findings, ...findings].sort((a, b) => a.line - b.line);
  return {
    ...report,
    ok: all.length === 0,
    findings: all,
    witnessed: { size: best.size, witnesses: best.witnesses, rejected },
  };
}
