import { hash as sha256Hex } from 'node:crypto';
import {
  approvalMessage as approvalSigningBytes,
  APPROVAL_DOMAIN,
  decodeRecord,
  isApprovalStatementShape,
  digestValue,
  MerkleAccumulator,
  RECORD_SIGNING_PREFIX,
  RecordsError,
  verifyEd25519,
  type JsonValue,
  type RecordBody,
  type RecordType,
  type SignedRecord,
} from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { apply, emptyLedger, unfinished as unfinishedOf } from '@edca/ledger';
import type { Finding, FindingCode } from '../findings.js';
import type { AuditReport, KeyUse, UnfinishedAction } from '../report.js';
import {
  asBody,
  readDecisionInput,
  type ApprovalBody,
  type CheckpointBody,
  type DecisionBody,
  type IntakeRefusedBody,
  type KeyBody,
  type OutcomeBody,
  type SessionEndedBody,
} from './bodies.js';
import {
  decisionProblems,
  KERNEL_RULE_PREFIX,
  replayPreChecks,
  transitionProblem,
} from './decision-checks.js';
import { KeyIndex } from './keys.js';
import { snapshotMismatch } from './snapshot-check.js';
import { decisionInputBytesPath } from './member-bytes.js';
import type { JournalLine } from './lines.js';
import { isCanonicalSig, recordSigAt, SIG_MEMBER_BYTES } from './messages.js';
import { PolicyLifecycle } from './policy-lifecycle.js';
import { describeReplay, replayDecision as replayUnder } from '../replay.js';
import { createInlineVerifier, createWorkerVerifier, type SignatureVerifier } from './signature-pool.js';
import type { TrustFile } from '@edca/records';

/** Settings of one verification run (already validated by the public entry point). */
export interface VerifierSettings {
  readonly trust: TrustFile;
  readonly maps: ReadonlyMap<string, CompiledMap> | undefined;
  readonly expectedSize: number | undefined;
  /** Records dated after this instant (ms) are `TIME_IN_FUTURE`; the caller adds the skew. */
  readonly notAfterMs: number | undefined;
  readonly workers: number;
  /** Who checks Ed25519 signatures, on the workers or inline. */
  readonly backend: 'sodium' | 'node';
  readonly onProgress: ((done: number, total: number) => void) | undefined;
}

const KERNEL_ROLE = 'kernel';

/** The record the verifier is on: what its handler reads besides the run's own state. */
interface Current {
  readonly record: SignedRecord;
  readonly hash: string;
  /** Index in the journal's lines. */
  readonly i: number;
  readonly line: number;
  readonly seq: number;
  readonly at: string;
  readonly atMs: number;
  readonly bytes: Buffer;
}
const PROGRESS_EVERY = 1000;

/**
 * `sha256(JCS(body.input))`, the decision key, hashed from the input's bytes in the canonical line
 * when `decisionInputBytesPath` sliced them, else from the parsed input.
 */
function inputDigest(slice: Buffer | undefined, body: DecisionBody): string {
  if (slice === undefined) return digestValue(body.input);
  return 'sha256:' + sha256Hex('sha256', slice, 'hex');
}

/** Hash of the exact line bytes: equal to `recordHash(record)` because the line is the canonical record. */
function lineHash(bytes: Uint8Array): string {
  return 'sha256:' + sha256Hex('sha256', bytes, 'hex');
}

/**
 * Verifies every line of a journal: bytes, signatures, chain, checkpoints, key and policy
 * records, the permit → attempt → outcome life cycle, approvals, and (with maps) a replay of
 * every decision. Never throws on journal content: every problem becomes a finding.
 */
export async function verifyLines(
  lines: readonly JournalLine[],
  settings: VerifierSettings,
): Promise<AuditReport> {
  const keys = new KeyIndex(settings.trust);
  const rawKeys = keys.table.map((k) => k.raw);

  const findings: { f: Finding; order: number }[] = [];
  let order = 0;
  const report = (code: FindingCode, seq: number, line: number, message: string): void => {
    findings.push({ f: { code, seq, line, message }, order: order++ });
  };

  // Signature results come back tagged 2 × line index (+1 for an approver's statement).
  const seqOfLine = new Float64Array(lines.length);
  const onSignature = (valid: boolean, tag: number): void => {
    if (valid) return;
    const i = Math.floor(tag / 2);
    const seq = seqOfLine[i]!;
    const line = lines[i]!.line;
    if (tag % 2 === 0)
      report('SIGNATURE_INVALID', seq, line, `the signature of record ${seq} does not verify`);
    else report('APPROVAL_INVALID', seq, line, `the approver's signature over the statement does not verify`);
  };
  const verifier: SignatureVerifier =
    settings.workers > 0
      ? createWorkerVerifier(rawKeys, settings.workers, onSignature, settings.backend)
      : createInlineVerifier(
          rawKeys,
          (pk, msg, sig) => verifyEd25519(pk, msg, sig, settings.backend),
          onSignature,
        );

  const byType: Record<string, number> = {};
  const byVerdict: Record<string, number> = {};
  const byOutcome: Record<string, number> = {};
  const byEndReason: Record<string, number> = {};
  const intakeRefusals: Record<string, number> = {};
  const keyUses = new Map<string, { role: string; name: string | undefined; signatures: number }>();
  const useKey = (kid: string, role: string, name: string | undefined): void => {
    const u = keyUses.get(kid);
    if (u === undefined) keyUses.set(kid, { role, name, signatures: 1 });
    else u.signatures++;
  };

  const acc = new MerkleAccumulator();
  let stream: string | null = null;
  let expectedSeq = 1;
  let prevHash: string | null = null;
  let lastAtMs = Number.NEGATIVE_INFINITY;
  let firstAt: string | undefined;
  let lastAt: string | undefined;
  let lastCheckpoint: { seq: number; size: number; root: string } | null = null;
  let checkpointCount = 0;
  let linesAfterCheckpoint = 0;

  const retiredAt = new Map<string, number>();
  // The life cycle (permits, approvals, attempts, outcomes, limits) is the kernel's own fold.
  const ledger = emptyLedger();
  const missingMaps = new Set<string>();
  let decisions = 0;
  let replayed = 0;
  let replayMismatches = 0;
  const policies = new PolicyLifecycle(settings.trust, settings.maps);

  const total = lines.length;
  // The rules of the journal's life cycle, as the ledger fold states them. Given the line, a permit
  // keeps those bytes (a slice of the journal, already in memory) instead of its body's object tree:
  // tens of thousands of live bodies made most young objects survive, and every scavenge copy them.
  // With maps the body is kept: each completed outcome reads its permit's input for the transition
  // check, which from the bytes would parse the permit's line again.
  const keepLine = settings.maps === undefined;
  const fold = (c: Current): void => {
    const r = keepLine
      ? { record: c.record, hash: c.hash, bytes: c.bytes }
      : { record: c.record, hash: c.hash };
    for (const v of apply(ledger, r).violations) report(v.code, v.seq, c.line, v.message);
  };
  // decodeRecord has already checked the body against recordBodySchemas[type]. A handler per
  // record type, every one required by the type (a new record type cannot be forgotten), made once
  // for the run: a match expression and its closures per record were most of the run's garbage.
  const handlers: { readonly [T in RecordType]: (c: Current) => void } = {
    'policy.activated': (c) => {
      const { record, seq, line } = c;
      fold(c);
      policies.activation(seq, record.body as RecordBody<'policy.activated'>, (code, message) =>
        report(code, seq, line, message),
      );
    },
    shadow: (c) => {
      const { record, seq, line } = c;
      fold(c);
      policies.shadow(record.body as RecordBody<'shadow'>, (code, message) =>
        report(code, seq, line, message),
      );
    },
    'key.added': (c) => {
      const { record, seq, line } = c;
      const body = asBody<KeyBody>(record.body);
      const known = keys.byKid.get(body.kid);
      if (known !== undefined && (known.key.publicKey !== body.publicKey || known.key.role !== body.role)) {
        report('KEY_RECORD_MISMATCH', seq, line, `key.added for ${body.kid} differs from the trust file`);
      }
    },
    'key.retired': (c) => {
      const { record, seq, line, atMs } = c;
      const body = asBody<KeyBody>(record.body);
      const known = keys.byKid.get(body.kid);
      if (known !== undefined && known.key.publicKey !== body.publicKey) {
        report('KEY_RECORD_MISMATCH', seq, line, `key.retired for ${body.kid} differs from the trust file`);
      }
      if (!retiredAt.has(body.kid)) retiredAt.set(body.kid, atMs);
    },
    decision: (c) => {
      const { record, seq, line, at, atMs, bytes } = c;
      const body = asBody<DecisionBody>(record.body);
      decisions++;
      byVerdict[body.verdict] = (byVerdict[body.verdict] ?? 0) + 1;
      fold(c);
      policies.decision(seq, body.policyDigest);
      const input = readDecisionInput(body.input);
      const inputBytes = decisionInputBytesPath.fast(bytes, body.input);
      if (input === null) {
        report(
          'DECISION_INCONSISTENT',
          seq,
          line,
          'the recorded input is not a decision input (an object naming its policy, with a list of approvals)',
        );
      } else if (input.policyDigest !== body.policyDigest) {
        report(
          'DECISION_INCONSISTENT',
          seq,
          line,
          `the decision names policy ${body.policyDigest}, its input ${input.policyDigest}`,
        );
      } else if (inputDigest(inputBytes, body) !== body.decisionKey) {
        // The decision key is sha256(JCS(input)): a changed input no longer matches it.
        report(
          'DECISION_INCONSISTENT',
          seq,
          line,
          `the decision key is not the digest of the recorded input`,
        );
      }
      if (input !== null) {
        const raw = record.body as { readonly [k: string]: JsonValue };
        for (const p of decisionProblems(body, raw['input'] as typeof raw, raw, ledger, atMs, inputBytes))
          report('DECISION_INCONSISTENT', seq, line, p);
      }
      if (settings.maps !== undefined) {
        const map = settings.maps.get(body.policyDigest);
        if (input !== null && map !== undefined) {
          const raw = (record.body as { readonly [k: string]: JsonValue })['input'];
          for (const p of replayPreChecks(map, body, raw as { readonly [k: string]: JsonValue }, at))
            report('REPLAY_MISMATCH', seq, line, p);
        }
        if (input === null) {
          // Already a finding: an input of the wrong shape cannot be evaluated.
        } else if (body.rule.startsWith(KERNEL_RULE_PREFIX)) {
          // A kernel pre-check (unknown intent, failed derivation, approval expired, outcome
          // unknown…) decided before the map's evaluate ran: evaluate has nothing to replay;
          // what is recomputable of the pre-check itself is checked above.
        } else if (map === undefined) {
          if (!missingMaps.has(body.policyDigest)) {
            missingMaps.add(body.policyDigest);
            report(
              'REPLAY_MAP_MISSING',
              seq,
              line,
              `no state map with digest ${body.policyDigest} was given`,
            );
          }
        } else {
          replayed++;
          const diff = replayDecision(map, body);
          if (diff !== undefined) {
            replayMismatches++;
            report('REPLAY_MISMATCH', seq, line, diff);
          }
        }
      }
      const shapeProblem = decisionShapeProblem(body);
      if (shapeProblem !== undefined) report('DECISION_INCONSISTENT', seq, line, shapeProblem);
    },
    approval: (c) => {
      const { record, seq, line, atMs, i } = c;
      const body = asBody<ApprovalBody>(record.body);
      const fail = (why: string): void => report('APPROVAL_INVALID', seq, line, why);
      const st = body.statement;
      if (!isApprovalStatementShape(st))
        return fail('the signed statement is malformed: an unknown member, or a reason that is not one line');
      if (!isBoundStatement(st, body)) {
        return fail('the signed statement is not bound to this escalation, action, verdict and approver');
      }
      const approverKey = keys.check(body.approver.kid, body.approver.role, atMs);
      if (!approverKey.ok) return fail(`approver ${approverKey.code}: ${approverKey.message}`);
      if (retiredAt.has(body.approver.kid))
        return fail(`approver key ${body.approver.kid} was retired earlier in the journal`);
      if (!isCanonicalSig(body.sig))
        return fail("the approver's signature is not in its one canonical base64url spelling");
      useKey(body.approver.kid, body.approver.role, approverKey.key.key.name);
      // Counted by the fold now; a bad statement signature is reported when the check returns.
      fold(c);
      verifier.submit(
        approverKey.key.index,
        approvalSigningBytes(st),
        Buffer.from(body.sig, 'base64url'),
        2 * i + 1,
      );
    },
    attempt: fold,
    outcome: (c) => {
      const { record, seq, line } = c;
      const body = asBody<OutcomeBody>(record.body);
      byOutcome[body.status] = (byOutcome[body.status] ?? 0) + 1;
      fold(c);
      if (settings.maps !== undefined && body.status === 'completed') {
        const permit = ledger.permits.get(body.permit);
        const map = permit === undefined ? undefined : settings.maps.get(permit.policyDigest);
        const problem =
          map === undefined
            ? undefined
            : transitionProblem(map, permit!, (record.body as { [k: string]: JsonValue })['transition']);
        if (problem !== undefined) report('REPLAY_MISMATCH', seq, line, problem);
      }
    },
    checkpoint: (c) => {
      const { record, seq, line } = c;
      const body = asBody<CheckpointBody>(record.body);
      checkpointCount++;
      if (body.size !== seq - 1 || body.size !== acc.size) {
        report(
          'CHECKPOINT_SIZE_MISMATCH',
          seq,
          line,
          `the checkpoint covers ${body.size} records; ${acc.size} lines precede it and its seq is ${seq}`,
        );
      } else if (acc.root().toString('base64url') !== body.root) {
        report('CHECKPOINT_ROOT_MISMATCH', seq, line, `the Merkle root of records 1..${body.size} differs`);
      }
      lastCheckpoint = { seq, size: body.size, root: body.root };
      linesAfterCheckpoint = -1;
    },
    snapshot: (c) => {
      const { record, seq, line } = c;
      const why = snapshotMismatch(ledger, record);
      if (why !== undefined) report('SNAPSHOT_MISMATCH', seq, line, why);
      fold(c);
    },
    'intake.refused': (c) => {
      const { record } = c;
      const body = asBody<IntakeRefusedBody>(record.body);
      intakeRefusals[body.code] = (intakeRefusals[body.code] ?? 0) + 1;
      fold(c);
    },
    'session.ended': (c) => {
      const { record } = c;
      const body = asBody<SessionEndedBody>(record.body);
      byEndReason[body.reason] = (byEndReason[body.reason] ?? 0) + 1;
      fold(c);
    },
  };

  for (let i = 0; i < total; i++) {
    const { bytes, line } = lines[i]!;
    const hash = lineHash(bytes);

    let record: SignedRecord;
    try {
      record = decodeRecord(bytes);
    } catch (err) {
      if (!(err instanceof RecordsError)) throw err;
      const code: FindingCode =
        err.code === 'RECORD_NOT_CANONICAL'
          ? 'LINE_NOT_CANONICAL'
          : err.code === 'RECORD_INVALID_BODY'
            ? 'BODY_INVALID'
            : 'LINE_MALFORMED';
      report(code, expectedSeq, line, bytes.length === 0 ? 'blank line' : err.message);
      // Keep the chain going from this line so one bad line yields one finding, not a cascade.
      expectedSeq++;
      prevHash = hash;
      acc.appendLine(bytes);
      linesAfterCheckpoint++;
      continue;
    }
    const { seq, at } = record;
    seqOfLine[i] = seq;

    // Envelope: stream, seq, prev, time.
    if (stream === null) stream = record.stream;
    else if (record.stream !== stream) {
      report('STREAM_MISMATCH', seq, line, `stream ${record.stream}, the journal's stream is ${stream}`);
    }
    if (seq > expectedSeq) {
      report(
        'SEQ_GAP',
        seq,
        line,
        `seq ${seq}, expected ${expectedSeq}: ${seq - expectedSeq} record(s) missing`,
      );
    } else if (seq < expectedSeq) {
      report('SEQ_OUT_OF_ORDER', seq, line, `seq ${seq} after seq ${expectedSeq - 1}`);
    }
    expectedSeq = seq + 1;
    if (record.prev !== prevHash) {
      report(
        'PREV_MISMATCH',
        seq,
        line,
        prevHash === null
          ? `the first record must have prev null, has ${record.prev}`
          : `prev is ${record.prev}, the previous line hashes to ${prevHash}`,
      );
    }
    prevHash = hash;
    const atMs = Date.parse(at);
    if (atMs < lastAtMs) report('TIME_REGRESSION', seq, line, `at ${at} is earlier than the previous record`);
    if (settings.notAfterMs !== undefined && atMs > settings.notAfterMs) {
      report(
        'TIME_IN_FUTURE',
        seq,
        line,
        `at ${at} is later than ${new Date(settings.notAfterMs).toISOString()} (now plus the allowed skew)`,
      );
    }
    if (atMs > lastAtMs) lastAtMs = atMs;
    firstAt ??= at;
    lastAt = at;
    byType[record.type] = (byType[record.type] ?? 0) + 1;

    // Signature under a kernel key valid at `at`, not retired before `at`.
    const keyCheck = keys.check(record.kid, KERNEL_ROLE, atMs);
    if (!keyCheck.ok) {
      report(keyCheck.code, seq, line, keyCheck.message);
    } else {
      // Journal order, not time: a record after the retirement is signed by a retired key even
      // when it carries the same millisecond.
      const retired = retiredAt.get(record.kid);
      if (retired !== undefined) {
        report(
          'KEY_RETIRED',
          seq,
          line,
          `key ${record.kid} was retired at ${new Date(retired).toISOString()}, earlier in the journal`,
        );
      }
      useKey(record.kid, KERNEL_ROLE, keyCheck.key.key.name);
      if (!isCanonicalSig(record.sig)) {
        report('SIGNATURE_INVALID', seq, line, `the signature of record ${seq} is not canonical base64url`);
      } else
        verifier.submitRecord(
          keyCheck.key.index,
          RECORD_SIGNING_PREFIX,
          bytes,
          recordSigAt(bytes),
          SIG_MEMBER_BYTES,
          record.sig,
          2 * i,
        );
    }

    handlers[record.type]({ record, hash, i, line, seq, at, atMs, bytes });

    acc.appendLine(bytes);
    linesAfterCheckpoint++;
    if (settings.onProgress !== undefined && (i + 1) % PROGRESS_EVERY === 0)
      settings.onProgress(i + 1, total);
    // Let the signature workers catch up (bounded memory); results that arrive meanwhile are
    // reported for lines already fully processed, so findings keep their order within a line.
    if (verifier.saturated) {
      try {
        await verifier.capacity();
      } catch (err) {
        await verifier.close(); // a worker died: stop the others before the error propagates
        throw err;
      }
    }
  }

  try {
    await verifier.drain();
  } finally {
    await verifier.close();
  }
  settings.onProgress?.(total, total);

  if (total === 0) report('JOURNAL_EMPTY', 0, 0, 'the journal holds no record');
  if (settings.expectedSize !== undefined && total < settings.expectedSize) {
    report('TRUNCATED', total + 1, total + 1, `${total} records, at least ${settings.expectedSize} expected`);
  }

  const unfinished: UnfinishedAction[] = unfinishedOf(ledger);

  findings.sort((a, b) => a.f.line - b.f.line || a.order - b.order);
  const keysUsed: KeyUse[] = [...keyUses.entries()].map(([kid, u]) =>
    u.name === undefined
      ? { kid, role: u.role, signatures: u.signatures }
      : { kid, role: u.role, name: u.name, signatures: u.signatures },
  );

  return {
    ok: findings.length === 0,
    mode: 'full',
    stream,
    records: total,
    byType,
    byVerdict,
    byOutcome,
    sessions: {
      ended: Object.values(byEndReason).reduce((a, b) => a + b, 0),
      byEndReason,
      intakeRefusals,
    },
    timeRange: firstAt === undefined || lastAt === undefined ? null : { first: firstAt, last: lastAt },
    keysUsed,
    signaturesChecked: verifier.submitted,
    checkpoints: {
      count: checkpointCount,
      last: lastCheckpoint,
      uncovered: lastCheckpoint === null ? total : linesAfterCheckpoint,
    },
    replay: settings.maps === undefined ? null : { decisions, replayed, mismatches: replayMismatches },
    activations: policies.uses,
    shadows: policies.shadows,
    findings: findings.map((x) => x.f),
    unfinished,
  };
}

function isObject(v: JsonValue): v is { [k: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The approver's statement must say exactly what the approval record claims: the domain, the
 * escalate record, the action, the verdict and the approver (kid and role).
 */
function isBoundStatement(st: JsonValue, body: ApprovalBody): boolean {
  if (!isObject(st)) return false;
  const approver = st['approver'];
  return (
    st['domain'] === APPROVAL_DOMAIN &&
    st['decision'] === body.decision &&
    st['actionHash'] === body.actionHash &&
    st['verdict'] === body.verdict &&
    isObject(approver ?? null) &&
    (approver as { [k: string]: JsonValue })['kid'] === body.approver.kid &&
    (approver as { [k: string]: JsonValue })['role'] === body.approver.role
  );
}

/**
 * What the kernel always writes with a verdict, checked without a map: a permit carries its
 * expiry; an escalation says, in `pendingApproval`, how many approvals of which role it waits for
 * and until when, and that role is never the kernel's own. Returns the problem, if any.
 */
function decisionShapeProblem(body: DecisionBody): string | undefined {
  if (body.verdict === 'permit') {
    return body.expiresAt === undefined ? 'a permit without expiresAt (every permit expires)' : undefined;
  }
  if (body.expiresAt !== undefined) return `a ${body.verdict} with an expiresAt (only permits expire)`;
  const pending = body.pendingApproval;
  if (body.verdict === 'refuse') {
    return pending === undefined ? undefined : 'a refusal that waits for approval';
  }
  if (typeof pending !== 'object' || pending === null || Array.isArray(pending))
    return 'an escalation without pendingApproval';
  const { role, count, expiresAt } = pending;
  if (typeof role !== 'string' || role === KERNEL_ROLE || role === '')
    return `an escalation waiting for role ${JSON.stringify(role ?? null)}: an approver role is required`;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1)
    return 'an escalation waiting for no approval';
  if (typeof expiresAt !== 'string' || !Number.isFinite(Date.parse(expiresAt)))
    return 'an escalation without an approval deadline';
  return undefined;
}

/** Re-runs one decision under its pinned map; returns a description of the difference, if any. */
function replayDecision(map: CompiledMap, body: DecisionBody): string | undefined {
  const { differences } = replayUnder(map, body);
  return differences.length === 0 ? undefined : describeReplay(differences);
}
