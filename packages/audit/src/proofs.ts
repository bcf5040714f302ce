import {
  consistencyProof,
  decodeRecord,
  inclusionProof,
  leafHash,
  merkleRoot,
  parseJson,
  RecordsError,
  signingMessage,
  verifyConsistency,
  verifyEd25519,
  verifyInclusion,
  type SignedRecord,
  type TrustFile,
} from '@edca/records';
import { z } from 'zod';
import { AuditError } from './errors.js';
import { asBody, type CheckpointBody } from './internal/bodies.js';
import { KeyIndex } from './internal/keys.js';
import { toJournalLines, type JournalLine } from './internal/lines.js';
import type { JournalInput } from './verify-journal.js';

/**
 * A self-contained RFC 6962 inclusion proof: one record, its place in the tree, the audit path
 * and the signed checkpoint whose root the path leads to. Verifiable without the journal.
 */
export interface InclusionProofDocument {
  readonly format: 'edca-inclusion-proof-v1';
  /** The record's exact journal line (canonical JSON, no newline). */
  readonly record: string;
  /** 0-based leaf index: the record's `seq` minus one. */
  readonly leafIndex: number;
  /** Number of leaves under the checkpoint (its `size`). */
  readonly treeSize: number;
  /** The audit path (RFC 6962 §2.1.1), base64url hashes from the leaf upwards. */
  readonly auditPath: readonly string[];
  /** The checkpoint record's exact journal line. */
  readonly checkpoint: string;
}

const b64url = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const proofSchema = z.strictObject({
  format: z.literal('edca-inclusion-proof-v1'),
  record: z.string().min(1),
  leafIndex: z.number().int().nonnegative(),
  treeSize: z.number().int().positive(),
  auditPath: z.array(b64url).max(64),
  checkpoint: z.string().min(1),
});

/** What a verified inclusion proof establishes. */
export interface VerifiedInclusion {
  readonly record: SignedRecord;
  readonly checkpoint: SignedRecord;
  readonly treeSize: number;
}

function fromB64(s: string): Uint8Array {
  return Buffer.from(s, 'base64url');
}

function toB64(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

function decodeOrNull(line: JournalLine): SignedRecord | null {
  try {
    return decodeRecord(line.bytes);
  } catch (err) {
    if (err instanceof RecordsError) return null;
    throw err;
  }
}

/** The last checkpoint of a journal that decodes, with its line index. */
function latestCheckpoint(
  lines: readonly JournalLine[],
  minSize: number,
): { index: number; record: SignedRecord } | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const bytes = lines[i]!.bytes;
    if (!bytes.toString('latin1', Math.max(0, bytes.length - 24)).endsWith('"type":"checkpoint"}')) continue;
    const rec = decodeOrNull(lines[i]!);
    if (rec?.type !== 'checkpoint') continue;
    if (asBody<CheckpointBody>(rec.body).size < minSize) return null;
    return { index: i, record: rec };
  }
  return null;
}

/**
 * Builds the inclusion proof of record `seq` under the latest checkpoint that covers it; the last
 * checkpoint, which no checkpoint covers, proves itself (record and checkpoint are the same line).
 * The journal itself is not verified here; `verifyJournal` does that, `checkInclusionProof` checks the proof.
 * @throws AuditError ARGUMENT_INVALID (bad seq), PROOF_UNAVAILABLE (no such record, or no checkpoint covers it)
 */
export function createInclusionProof(journal: JournalInput, seq: number): InclusionProofDocument {
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw new AuditError('ARGUMENT_INVALID', `seq must be a positive integer`);
  const lines = toJournalLines(journal);
  if (seq > lines.length)
    throw new AuditError('PROOF_UNAVAILABLE', `the journal has ${lines.length} records, not ${seq}`);
  const cp = latestCheckpoint(lines, seq);
  if (cp === null) {
    const own = checkpointProvingItself(lines, seq);
    if (own !== null) return own;
    throw new AuditError(
      'PROOF_UNAVAILABLE',
      `no checkpoint covers record ${seq} yet (it is after the last checkpoint)`,
    );
  }
  const size = asBody<CheckpointBody>(cp.record.body).size;
  if (size > cp.index)
    throw new AuditError('PROOF_UNAVAILABLE', `the checkpoint claims ${size} records, fewer precede it`);
  const target = lines[seq - 1]!;
  const rec = decodeOrNull(target);
  if (rec?.seq !== seq) throw new AuditError('PROOF_UNAVAILABLE', `line ${seq} is not record ${seq}`);
  const leaves = lines.slice(0, size).map((l) => leafHash(l.bytes));
  return {
    format: 'edca-inclusion-proof-v1',
    record: target.bytes.toString('utf8'),
    leafIndex: seq - 1,
    treeSize: size,
    auditPath: inclusionProof(seq - 1, leaves).map(toB64),
    checkpoint: lines[cp.index]!.bytes.toString('utf8'),
  };
}

/**
 * The proof of a checkpoint no later checkpoint covers (the last one): the checkpoint is its own
 * evidence, a record signed by a kernel key binding its seq, its predecessor and the root of every
 * record before it, exactly what every other proof rests on. Empty audit path; record and
 * checkpoint are the same line.
 */
function checkpointProvingItself(lines: readonly JournalLine[], seq: number): InclusionProofDocument | null {
  const line = lines[seq - 1]!;
  const rec = decodeOrNull(line);
  if (rec?.type !== 'checkpoint' || rec.seq !== seq) return null;
  const size = asBody<CheckpointBody>(rec.body).size;
  if (!Number.isSafeInteger(size) || size < 1 || size > seq - 1) return null;
  const text = line.bytes.toString('utf8');
  return {
    format: 'edca-inclusion-proof-v1',
    record: text,
    leafIndex: seq - 1,
    treeSize: size,
    auditPath: [],
    checkpoint: text,
  };
}

/** Verifies a record's and a checkpoint's signatures under `kernel` keys of the trust file. */
function checkKernelSignature(keys: KeyIndex, rec: SignedRecord, what: string): void {
  const key = keys.check(rec.kid, 'kernel', Date.parse(rec.at));
  if (!key.ok) throw new AuditError('PROOF_INVALID', `${what}: ${key.code}: ${key.message}`);
  if (!verifyEd25519(key.key.raw, signingMessage(rec), fromB64(rec.sig))) {
    throw new AuditError('PROOF_INVALID', `${what}: SIGNATURE_INVALID: the signature does not verify`);
  }
}

/**
 * Checks an inclusion proof without the journal: the record and checkpoint are canonical and
 * signed by trusted kernel keys, and the audit path leads from the record to the signed root.
 * @throws AuditError PROOF_INVALID (with the reason), TRUST_INVALID
 */
export function checkInclusionProof(proof: unknown, trust: TrustFile): VerifiedInclusion {
  const parsed = proofSchema.safeParse(typeof proof === 'string' ? safeParseJson(proof) : proof);
  if (!parsed.success)
    throw new AuditError('PROOF_INVALID', `not an inclusion proof: ${parsed.error.issues[0]?.message ?? ''}`);
  const doc = parsed.data;
  const keys = new KeyIndex(trust);
  const recordBytes = Buffer.from(doc.record, 'utf8');
  const record = decodeStrict(recordBytes, 'record');
  const checkpoint = decodeStrict(Buffer.from(doc.checkpoint, 'utf8'), 'checkpoint');
  if (checkpoint.type !== 'checkpoint')
    throw new AuditError('PROOF_INVALID', 'the checkpoint line is not a checkpoint record');
  const body = asBody<CheckpointBody>(checkpoint.body);
  if (body.size !== doc.treeSize)
    throw new AuditError('PROOF_INVALID', `tree size ${doc.treeSize}, the checkpoint signs ${body.size}`);
  if (doc.record === doc.checkpoint) {
    // A checkpoint proves itself (see `checkpointProvingItself`): nothing but its own signature to check.
    if (doc.auditPath.length !== 0 || checkpoint.seq !== doc.leafIndex + 1)
      throw new AuditError('PROOF_INVALID', 'a checkpoint proving itself has its own seq and no audit path');
    checkKernelSignature(keys, checkpoint, 'checkpoint');
    return { record: checkpoint, checkpoint, treeSize: doc.treeSize };
  }
  if (record.seq !== doc.leafIndex + 1)
    throw new AuditError('PROOF_INVALID', `record ${record.seq} is not leaf ${doc.leafIndex}`);
  if (doc.leafIndex >= doc.treeSize) throw new AuditError('PROOF_INVALID', 'the leaf is outside the tree');
  if (record.stream !== checkpoint.stream)
    throw new AuditError('PROOF_INVALID', 'record and checkpoint are from different streams');
  checkKernelSignature(keys, checkpoint, 'checkpoint');
  checkKernelSignature(keys, record, 'record');
  const ok = verifyInclusion(
    leafHash(recordBytes),
    doc.leafIndex,
    doc.treeSize,
    doc.auditPath.map(fromB64),
    fromB64(body.root),
  );
  if (!ok) throw new AuditError('PROOF_INVALID', 'the audit path does not lead to the checkpoint root');
  return { record, checkpoint, treeSize: doc.treeSize };
}

function safeParseJson(text: string): unknown {
  try {
    return parseJson(text);
  } catch (err) {
    throw new AuditError(
      'PROOF_INVALID',
      `the proof is not valid JSON: ${err instanceof Error ? err.message : ''}`,
    );
  }
}

function decodeStrict(bytes: Uint8Array, what: string): SignedRecord {
  try {
    return decodeRecord(bytes);
  } catch (err) {
    if (err instanceof RecordsError)
      throw new AuditError('PROOF_INVALID', `${what}: ${err.code}: ${err.message}`);
    throw err;
  }
}

/** The result of comparing an older copy of a journal with a newer one. */
export interface ConsistencyReport {
  /** The older copy's last checkpoint (size and root) and the newer copy's. */
  readonly old: { readonly size: number; readonly root: string; readonly seq: number };
  readonly new: { readonly size: number; readonly root: string; readonly seq: number };
  /** The RFC 6962 §2.1.2 consistency proof between the two signed roots. */
  readonly proof: readonly string[];
  /** Records of the older copy from its last checkpoint on (the checkpoint included), found byte-identical in the newer copy. */
  readonly tailRecords: number;
}

/**
 * Checks that a newer copy of a journal extends an older one: both latest checkpoints are signed
 * by trusted kernel keys, an RFC 6962 consistency proof links the older root to the newer root,
 * and the older copy's records after its last checkpoint appear unchanged in the newer copy. Each
 * copy's records must hash to its own checkpoint root. It does not verify the older copy's
 * signatures and life cycle: run `verifyJournal` on it first (`edca audit consistency` does).
 * @throws AuditError CONSISTENCY_FAILED (with the reason), PROOF_UNAVAILABLE (a copy has no checkpoint)
 */
export function checkJournalConsistency(
  older: JournalInput,
  newer: JournalInput,
  trust: TrustFile,
): ConsistencyReport {
  const keys = new KeyIndex(trust);
  const oldLines = toJournalLines(older);
  const newLines = toJournalLines(newer);
  const oldCp = latestCheckpoint(oldLines, 0);
  const newCp = latestCheckpoint(newLines, 0);
  if (oldCp === null || newCp === null) {
    throw new AuditError(
      'PROOF_UNAVAILABLE',
      `the ${oldCp === null ? 'older' : 'newer'} copy has no checkpoint`,
    );
  }
  const fail = (why: string): never => {
    throw new AuditError('CONSISTENCY_FAILED', why);
  };
  for (const [rec, what] of [
    [oldCp.record, 'older checkpoint'],
    [newCp.record, 'newer checkpoint'],
  ] as const) {
    try {
      checkKernelSignature(keys, rec, what);
    } catch (err) {
      if (err instanceof AuditError) fail(err.message);
      throw err;
    }
  }
  if (oldCp.record.stream !== newCp.record.stream) fail('the two copies are of different streams');
  const m = asBody<CheckpointBody>(oldCp.record.body);
  const n = asBody<CheckpointBody>(newCp.record.body);
  if (m.size > n.size)
    fail(`the newer copy's checkpoint (${n.size}) is older than the older copy's (${m.size})`);
  if (m.size > oldCp.index) fail(`the older checkpoint claims ${m.size} records, fewer precede it`);
  if (n.size > newCp.index) fail(`the newer checkpoint claims ${n.size} records, fewer precede it`);
  // The older root is only worth comparing if the older copy's own records hash to it.
  if (toB64(merkleRoot(oldLines.slice(0, m.size).map((l) => leafHash(l.bytes)))) !== m.root)
    fail('the older copy does not match its own checkpoint root');
  const leaves = newLines.slice(0, n.size).map((l) => leafHash(l.bytes));
  if (toB64(merkleRoot(leaves)) !== n.root) fail('the newer copy does not match its own checkpoint root');
  const proof = m.size === 0 ? [] : consistencyProof(m.size, leaves);
  if (m.size > 0 && !verifyConsistency(m.size, n.size, fromB64(m.root), fromB64(n.root), proof)) {
    fail(`the newer journal does not extend the older one: records 1..${m.size} differ`);
  }
  // Records the older checkpoint does not cover are only vouched for by byte comparison.
  for (let i = m.size; i < oldLines.length; i++) {
    const other = newLines[i];
    if (other === undefined || !other.bytes.equals(oldLines[i]!.bytes)) {
      fail(
        `record ${i + 1} of the older copy (after its last checkpoint) differs or is missing in the newer copy`,
      );
    }
  }
  return {
    old: { size: m.size, root: m.root, seq: oldCp.record.seq },
    new: { size: n.size, root: n.root, seq: newCp.record.seq },
    proof: proof.map(toB64),
    tailRecords: oldLines.length - m.size,
  };
}
