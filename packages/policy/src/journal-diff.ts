/**
 * What a new map would change on real traffic. Either every decision journaled under the old
 * map's digest is re-decided under the new map (the audit's replay, with the new map standing in
 * for the pinned one), or, with `fromShadow`, the `shadow` records a kernel journaled while the
 * new map ran beside the old one are read instead. Either way the answer is the changed verdicts,
 * rules and reasons, grouped per intent with example seqs.
 */
import { replayDecision } from '@edca/audit';
import { decodeRecord, digestBytes, RecordsError, type JsonValue, type SignedRecord } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { DiffError } from './diff-error.js';

/** A decision's answer. */
export interface DecisionAnswer {
  readonly verdict: string;
  readonly rule: string;
  readonly reasons: readonly string[];
}

/** Decisions of one intent that changed the same way: from one answer to another. */
export interface ChangeGroup {
  readonly from: DecisionAnswer;
  readonly to: DecisionAnswer;
  readonly count: number;
  /** The first few seqs of the journaled (live) decisions that changed this way. */
  readonly examples: readonly number[];
}

/** What changed for one intent. */
export interface IntentDiff {
  /** Decisions of this intent compared. */
  readonly decisions: number;
  readonly changed: number;
  readonly groups: readonly ChangeGroup[];
}

/** The result of `diffJournal`. */
export interface JournalDiff {
  /** `redecide`: the new map re-decided each input; `shadow`: read from journaled shadow records. */
  readonly source: 'redecide' | 'shadow';
  readonly oldDigest: string;
  readonly newDigest: string;
  readonly records: number;
  /** Decisions compared. */
  readonly decisions: number;
  /** Decisions under the old digest a kernel pre-check made (rule `kernel.*`): no map decided them. */
  readonly skipped: number;
  /** With `fromShadow`: decisions under the old digest that have no shadow under the new one. */
  readonly unshadowed: number;
  /** Re-deciding: decisions that the old map itself does not replay to (the audit's REPLAY_MISMATCH). */
  readonly oldMismatches: number;
  readonly changed: number;
  /** Per intent, sorted by intent name. */
  readonly byIntent: Readonly<Record<string, IntentDiff>>;
}

/** Options of `diffJournal`. */
export interface DiffJournalOptions {
  /** Read `shadow` records under the new map instead of re-deciding. */
  readonly fromShadow?: boolean;
  /** Example seqs kept per change group (default 5). */
  readonly examples?: number;
}

interface DecisionLike {
  readonly verdict: 'permit' | 'refuse' | 'escalate';
  readonly rule: string;
  readonly reasons: string[];
  readonly accountable: string;
  readonly input: JsonValue;
  readonly policyDigest: string;
  readonly decision?: string;
}

const KERNEL_RULE_PREFIX = 'kernel.';

function intentOf(input: JsonValue): string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return '(unknown)';
  const proposal = input['proposal'];
  if (typeof proposal !== 'object' || proposal === null || Array.isArray(proposal)) return '(unknown)';
  return typeof proposal['intent'] === 'string' ? proposal['intent'] : '(unknown)';
}

const answerOf = (d: DecisionAnswer): DecisionAnswer => ({
  verdict: d.verdict,
  rule: d.rule,
  reasons: [...d.reasons],
});
const sameAnswer = (a: DecisionAnswer, b: DecisionAnswer): boolean =>
  a.verdict === b.verdict &&
  a.rule === b.rule &&
  a.reasons.length === b.reasons.length &&
  a.reasons.every((r, i) => r === b.reasons[i]);

/**
 * Compares the decisions a journal holds under `oldMap` with what `newMap` decides (or decided, in
 * shadow) on the same inputs. Signatures and the chain are not checked here: that is
 * `edca audit verify`'s work; run it first on a journal you do not already trust.
 * @throws DiffError DIFF_JOURNAL_INVALID when a line is not a record
 * @example const diff = await diffJournal(lines, oldMap, newMap); diff.changed;
 */
export async function diffJournal(
  lines: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  oldMap: CompiledMap,
  newMap: CompiledMap,
  options: DiffJournalOptions = {},
): Promise<JournalDiff> {
  const fromShadow = options.fromShadow === true;
  const keep = options.examples ?? 5;
  const byIntent = new Map<
    string,
    {
      decisions: number;
      changed: number;
      groups: Map<string, ChangeGroup & { examples: number[]; count: number }>;
    }
  >();
  let records = 0;
  let decisions = 0;
  let skipped = 0;
  let oldMismatches = 0;
  let changed = 0;
  /** With `fromShadow`: live decisions under the old digest, by record hash, until their shadow comes. */
  const live = new Map<string, { seq: number; intent: string; answer: DecisionAnswer }>();

  const compare = (seq: number, intent: string, from: DecisionAnswer, to: DecisionAnswer): void => {
    decisions++;
    let entry = byIntent.get(intent);
    if (entry === undefined) {
      entry = { decisions: 0, changed: 0, groups: new Map() };
      byIntent.set(intent, entry);
    }
    entry.decisions++;
    if (sameAnswer(from, to)) return;
    changed++;
    entry.changed++;
    const a = answerOf(from);
    const b = answerOf(to);
    const key = JSON.stringify([a, b]);
    let group = entry.groups.get(key);
    if (group === undefined) {
      group = { from: a, to: b, count: 0, examples: [] };
      entry.groups.set(key, group);
    }
    group.count++;
    if (group.examples.length < keep) group.examples.push(seq);
  };

  for await (const bytes of lines) {
    records++;
    let record: SignedRecord;
    try {
      record = decodeRecord(bytes);
    } catch (err) {
      if (!(err instanceof RecordsError)) throw err;
      throw new DiffError('DIFF_JOURNAL_INVALID', `record ${records}: ${err.message}`, { cause: err });
    }
    if (record.type !== 'decision' && record.type !== 'shadow') continue;
    const body = record.body as unknown as DecisionLike;
    if (record.type === 'decision') {
      if (body.policyDigest !== oldMap.digest) continue;
      if (body.rule.startsWith(KERNEL_RULE_PREFIX)) {
        skipped++;
        continue;
      }
      const intent = intentOf(body.input);
      if (fromShadow) {
        live.set(digestBytes(bytes), { seq: record.seq, intent, answer: body });
        continue;
      }
      if (replayDecision(oldMap, body).differences.length > 0) oldMismatches++;
      const replay = replayDecision(newMap, body, { asPinned: true, approvals: false, now: record.at });
      compare(record.seq, intent, body, replay);
    } else if (fromShadow && body.policyDigest === newMap.digest && body.decision !== undefined) {
      const decided = live.get(body.decision);
      if (decided === undefined) continue;
      live.delete(body.decision);
      compare(decided.seq, decided.intent, decided.answer, body);
    }
  }
  const out: Record<string, IntentDiff> = {};
  for (const intent of [...byIntent.keys()].sort()) {
    const e = byIntent.get(intent)!;
    out[intent] = {
      decisions: e.decisions,
      changed: e.changed,
      groups: [...e.groups.values()].sort((x, y) => y.count - x.count),
    };
  }
  return {
    source: fromShadow ? 'shadow' : 'redecide',
    oldDigest: oldMap.digest,
    newDigest: newMap.digest,
    records,
    decisions,
    skipped,
    unshadowed: fromShadow ? live.size : 0,
    oldMismatches,
    changed,
    byIntent: out,
  };
}
