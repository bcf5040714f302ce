/**
 * The two records a governed model session adds to the journal (`@edca/models` runSession calls
 * them through the kernel): `intake.refused` for model output refused before the kernel, and
 * `session.ended` for how a session ended. Both are signed by the journal like every other record.
 */
import type { ArpSession, ProposalFormat } from '@edca/arp';
import { canonicalBytes, digestBytes, type Digest, type JsonValue, type RecordBody } from '@edca/records';
import { toRfc3339, type Clock } from './clock.js';
import { KernelError } from './errors.js';
import type { Journal } from './journal.js';

/** Model output that `arp.intake` refused, as the host reports it to {@link Kernel.recordIntakeRefusal}. */
export interface IntakeRefusalReport {
  readonly session: ArpSession;
  /** 1-based turn of the session whose output was refused. */
  readonly turn: number;
  /** The intake format the output was read in. */
  readonly format: ProposalFormat;
  /** The refusal's stable code (`UNKNOWN_INTENT`, `SCHEMA_VIOLATION`, `REF_NOT_ISSUED`…). */
  readonly code: string;
  /** The refusal's public message (what the model is told); never the output itself. */
  readonly message: string;
  /** The raw model output; only its SHA-256 ({@link digestModelOutput}) is journaled. */
  readonly raw: unknown;
  /** Who proposed: the same value a decision record names. */
  readonly proposer: { readonly modelId: string; readonly promptTemplateDigest: string };
}

/** How a governed session ended, as the host reports it to {@link Kernel.endSession}. */
export interface SessionEndReport {
  readonly session: ArpSession;
  /** A stable SCREAMING_SNAKE reason (`MODEL_STOPPED`, `TURN_LIMIT`, `DEADLINE_EXCEEDED`…). */
  readonly reason: string;
  readonly turns: number;
  readonly tokens: { readonly input: number; readonly output: number };
  /** Cost in millionths of `currency`, when the host supplied a price table. */
  readonly cost?: { readonly micros: number; readonly currency: string };
  readonly refusals: { readonly intake: number; readonly kernel: number };
  readonly proposer: { readonly modelId: string; readonly promptTemplateDigest: string };
}

/** Where one appended session record sits in the journal. */
export interface SessionRecordRef {
  readonly hash: Digest;
  readonly seq: number;
}

const MAX_MESSAGE = 512;

/**
 * The SHA-256 an `intake.refused` record names for a raw model output: of the UTF-8 bytes when the
 * output is text (a response body as received), of the bytes themselves for a `Uint8Array`, else
 * of its RFC 8785 canonical JSON (a value that is not I-JSON: of `JSON.stringify`, or `String`).
 * @example digestModelOutput('{"intent":"x"}') === digestBytes('{"intent":"x"}'); // true
 */
export function digestModelOutput(raw: unknown): Digest {
  if (typeof raw === 'string' || raw instanceof Uint8Array) return digestBytes(raw);
  try {
    return digestBytes(canonicalBytes(raw));
  } catch {
    let text: string | undefined;
    try {
      text = JSON.stringify(raw);
    } catch {
      text = undefined;
    }
    return digestBytes(text ?? String(raw));
  }
}

function proposerJson(p: IntakeRefusalReport['proposer']): JsonValue {
  return { modelId: p.modelId, promptTemplateDigest: p.promptTemplateDigest };
}

async function appendOne(
  journal: Journal,
  draft: { type: 'intake.refused' | 'session.ended'; at: string; body: JsonValue },
): Promise<SessionRecordRef> {
  const [appended] = await journal.append([draft]);
  if (!appended) throw new KernelError('JOURNAL_UNAVAILABLE', 'the journal returned no record');
  return { hash: appended.hash, seq: appended.record.seq };
}

/** @internal Appends the `intake.refused` record of one refused model output. */
export function appendIntakeRefusal(
  journal: Journal,
  clock: Clock,
  report: IntakeRefusalReport,
): Promise<SessionRecordRef> {
  const message =
    report.message.length > MAX_MESSAGE ? `${report.message.slice(0, MAX_MESSAGE - 1)}…` : report.message;
  const body: RecordBody<'intake.refused'> = {
    session: report.session.session,
    turn: report.turn,
    format: report.format,
    code: report.code,
    message,
    outputDigest: digestModelOutput(report.raw),
    proposer: proposerJson(report.proposer),
  };
  return appendOne(journal, { type: 'intake.refused', at: toRfc3339(clock.now()), body });
}

/** @internal Appends the `session.ended` record of one governed session. */
export function appendSessionEnd(
  journal: Journal,
  clock: Clock,
  report: SessionEndReport,
): Promise<SessionRecordRef> {
  const body: RecordBody<'session.ended'> = {
    session: report.session.session,
    reason: report.reason,
    turns: report.turns,
    tokens: { input: report.tokens.input, output: report.tokens.output },
    ...(report.cost === undefined
      ? {}
      : { cost: { micros: report.cost.micros, currency: report.cost.currency } }),
    refusals: { intake: report.refusals.intake, kernel: report.refusals.kernel },
    proposer: proposerJson(report.proposer),
  };
  return appendOne(journal, { type: 'session.ended', at: toRfc3339(clock.now()), body: body as JsonValue });
}
