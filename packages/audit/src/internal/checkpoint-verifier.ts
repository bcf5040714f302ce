import { hash } from 'node:crypto';
import { decodeRecord, MerkleAccumulator, RecordsError, verifyEd25519, type TrustFile } from '@edca/records';
import type { Finding, FindingCode } from '../findings.js';
import type { AuditReport, KeyUse } from '../report.js';
import { asBody, type CheckpointBody } from './bodies.js';
import { KeyIndex } from './keys.js';
import type { JournalLine } from './lines.js';
import { isCanonicalSig, recordSigningBytes } from './messages.js';

const PREV_MARK = Buffer.from(',"prev":');
const SEQ_MARK = Buffer.from(',"seq":');
const CHECKPOINT_TAIL = Buffer.from('"type":"checkpoint"}');
const NULL = Buffer.from('null');
const SHA256_OPEN = Buffer.from('"sha256:');

const PROGRESS_EVERY = 10_000;

/**
 * The fast check (`--checkpoints-only`): the hash chain over every line, the RFC 6962 root each
 * checkpoint signs, and each checkpoint's signature. Other records are neither parsed nor
 * signature-checked: their bytes are still vouched for, because a change to any byte before a
 * checkpoint changes the chain and the root that checkpoint signs.
 *
 * `prev` and `seq` are read by position: in canonical JSON (RFC 8785 §3.2.3, keys sorted) they
 * are the last top-level `,"prev":` and `,"seq":` of the line, since only strings (`sig`,
 * `stream`, `type`, where a quote is always escaped) and a number follow them.
 */
export function verifyCheckpointsOnly(
  lines: readonly JournalLine[],
  trust: TrustFile,
  expectedSize: number | undefined,
  onProgress: ((done: number, total: number) => void) | undefined,
  backend: 'sodium' | 'node',
): AuditReport {
  const keys = new KeyIndex(trust);
  const findings: Finding[] = [];
  const report = (code: FindingCode, seq: number, line: number, message: string): void => {
    findings.push({ code, seq, line, message });
  };
  const keyUses = new Map<string, KeyUse & { signatures: number }>();
  const acc = new MerkleAccumulator();
  let prevHex: string | null = null;
  let expectedSeq = 1;
  let lastCheckpoint: { seq: number; size: number; root: string } | null = null;
  let checkpointCount = 0;
  let uncovered = 0;
  let signatures = 0;
  let stream: string | null = null;
  let firstAt: string | undefined;
  let lastAt: string | undefined;
  const total = lines.length;

  for (let i = 0; i < total; i++) {
    const { bytes, line } = lines[i]!;
    const hex = hash('sha256', bytes, 'hex');

    const p = bytes.lastIndexOf(PREV_MARK);
    const s = bytes.lastIndexOf(SEQ_MARK);
    if (p < 0 || s < p) {
      report('LINE_MALFORMED', expectedSeq, line, bytes.length === 0 ? 'blank line' : 'no prev/seq field');
      expectedSeq++;
    } else {
      const seq = parseSeq(bytes, s + SEQ_MARK.length);
      if (seq === undefined) report('LINE_MALFORMED', expectedSeq, line, 'seq is not a number');
      else if (seq > expectedSeq) report('SEQ_GAP', seq, line, `seq ${seq}, expected ${expectedSeq}`);
      else if (seq < expectedSeq)
        report('SEQ_OUT_OF_ORDER', seq, line, `seq ${seq} after seq ${expectedSeq - 1}`);
      const at = seq ?? expectedSeq;
      expectedSeq = at + 1;
      const v = p + PREV_MARK.length;
      // Buffer#compare over a range: no subarray object per line.
      const prevOk =
        prevHex === null
          ? v + 4 <= bytes.length && NULL.compare(bytes, v, v + 4) === 0
          : v + 73 <= bytes.length &&
            SHA256_OPEN.compare(bytes, v, v + 8) === 0 &&
            bytes.toString('latin1', v + 8, v + 72) === prevHex &&
            bytes[v + 72] === 0x22;
      if (!prevOk) report('PREV_MISMATCH', at, line, 'prev does not name the hash of the previous line');

      if (endsWith(bytes, CHECKPOINT_TAIL)) {
        checkpointCount++;
        signatures += checkCheckpoint(bytes, line, at);
        uncovered = -1;
      }
    }
    prevHex = hex;
    acc.appendLine(bytes);
    uncovered++;
    if (onProgress !== undefined && (i + 1) % PROGRESS_EVERY === 0) onProgress(i + 1, total);
  }
  onProgress?.(total, total);
  if (total === 0) report('JOURNAL_EMPTY', 0, 0, 'the journal holds no record');
  if (expectedSize !== undefined && total < expectedSize) {
    report('TRUNCATED', total + 1, total + 1, `${total} records, at least ${expectedSize} expected`);
  }

  function checkCheckpoint(bytes: Buffer, line: number, seqAt: number): number {
    let record;
    try {
      record = decodeRecord(bytes);
    } catch (err) {
      if (!(err instanceof RecordsError)) throw err;
      report(
        err.code === 'RECORD_NOT_CANONICAL' ? 'LINE_NOT_CANONICAL' : 'LINE_MALFORMED',
        seqAt,
        line,
        err.message,
      );
      return 0;
    }
    stream ??= record.stream;
    firstAt ??= record.at;
    lastAt = record.at;
    const body = asBody<CheckpointBody>(record.body);
    const root = acc.root().toString('base64url');
    if (body.size !== record.seq - 1 || body.size !== acc.size) {
      report(
        'CHECKPOINT_SIZE_MISMATCH',
        record.seq,
        line,
        `covers ${body.size} records; ${acc.size} lines precede it`,
      );
    } else if (root !== body.root) {
      report(
        'CHECKPOINT_ROOT_MISMATCH',
        record.seq,
        line,
        `the Merkle root of records 1..${body.size} differs`,
      );
    }
    lastCheckpoint = { seq: record.seq, size: body.size, root: body.root };
    const key = keys.check(record.kid, 'kernel', Date.parse(record.at));
    if (!key.ok) {
      report(key.code, record.seq, line, key.message);
      return 0;
    }
    const use = keyUses.get(record.kid);
    if (use === undefined) {
      keyUses.set(
        record.kid,
        key.key.key.name === undefined
          ? { kid: record.kid, role: 'kernel', signatures: 1 }
          : { kid: record.kid, role: 'kernel', name: key.key.key.name, signatures: 1 },
      );
    } else use.signatures++;
    if (!isCanonicalSig(record.sig)) {
      report(
        'SIGNATURE_INVALID',
        record.seq,
        line,
        `the signature of checkpoint ${record.seq} is not canonical base64url`,
      );
    } else if (
      !verifyEd25519(
        key.key.raw,
        recordSigningBytes(bytes, record),
        Buffer.from(record.sig, 'base64url'),
        backend,
      )
    ) {
      report(
        'SIGNATURE_INVALID',
        record.seq,
        line,
        `the signature of checkpoint ${record.seq} does not verify`,
      );
    }
    return 1;
  }

  return {
    ok: findings.length === 0,
    mode: 'checkpoints-only',
    stream,
    records: total,
    byType: { checkpoint: checkpointCount },
    byVerdict: {},
    byOutcome: {},
    sessions: { ended: 0, byEndReason: {}, intakeRefusals: {} },
    timeRange: firstAt === undefined || lastAt === undefined ? null : { first: firstAt, last: lastAt },
    keysUsed: [...keyUses.values()],
    signaturesChecked: signatures,
    checkpoints: {
      count: checkpointCount,
      last: lastCheckpoint,
      uncovered: lastCheckpoint === null ? total : uncovered,
    },
    replay: null,
    findings,
    unfinished: [],
  };
}

function parseSeq(bytes: Buffer, from: number): number | undefined {
  let n = 0;
  let i = from;
  for (; i < bytes.length && i < from + 16; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  return i === from ? undefined : n;
}

function endsWith(bytes: Buffer, tail: Buffer): boolean {
  return bytes.length >= tail.length && tail.compare(bytes, bytes.length - tail.length) === 0;
}
