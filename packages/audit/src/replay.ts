/**
 * Re-deciding a journaled decision: run a map's pure `evaluate` on the recorded input and compare
 * what it answers with what was recorded. `edca audit verify --maps` replays each decision under
 * the map it pinned; `edca diff` replays the same inputs under another map. One comparison for both.
 */
import type { JsonValue } from '@edca/records';
import type { CompiledMap, DecisionInput } from '@edca/semantic';

/** What a journal recorded of one decision (a `decision` or `shadow` body). */
export interface RecordedDecision {
  readonly verdict: string;
  readonly rule: string;
  readonly reasons: readonly string[];
  readonly accountable: string;
  /** The decision input as journaled. */
  readonly input: JsonValue;
  readonly pendingApproval?: { readonly role?: JsonValue; readonly count?: JsonValue } | undefined;
}

/** One way a replay differs from the record: which part, and the recorded and replayed values. */
export interface ReplayDifference {
  readonly field:
    'verdict' | 'rule' | 'reasons' | 'accountable' | 'approverRole' | 'approvalsRequired' | 'error';
  readonly recorded: JsonValue;
  readonly replayed: JsonValue;
}

/** The answer a map gave on replay, and how it differs from the record (empty: the same). */
export interface Replay {
  readonly verdict: string;
  readonly rule: string;
  readonly reasons: readonly string[];
  readonly differences: readonly ReplayDifference[];
}

/**
 * Replays `recorded.input` under `map`, or under `map` as if it were the pinned policy when
 * `asPinned` is set (the input's `policyDigest` becomes the map's: how `edca diff` asks what a new
 * map would have decided on the same facts). `approvals: false` leaves out the approvals an
 * escalation waits for (a shadow record carries none); `now` is the time `asPinned` gives a map
 * that reads time when the input has none. A map that throws is a difference on `error`.
 * @example replayDecision(map, body).differences.length === 0; // the decision replays exactly
 */
export function replayDecision(
  map: CompiledMap,
  recorded: RecordedDecision,
  options: { readonly asPinned?: boolean; readonly approvals?: boolean; readonly now?: string } = {},
): Replay {
  let input = recorded.input as unknown as DecisionInput;
  if (options.asPinned === true && typeof input === 'object' && input !== null) {
    input = { ...input, policyDigest: map.digest };
    // A map that reads time, replayed on an input decided without it, gets the record's time.
    if (map.usesTime && input.now === undefined && options.now !== undefined)
      input = { ...input, now: options.now };
  }
  let result;
  try {
    result = map.evaluate(input);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      verdict: 'error',
      rule: '',
      reasons: [],
      differences: [{ field: 'error', recorded: null, replayed: message }],
    };
  }
  const diffs: ReplayDifference[] = [];
  const add = (field: ReplayDifference['field'], recordedValue: JsonValue, replayed: JsonValue): void => {
    diffs.push({ field, recorded: recordedValue, replayed });
  };
  if (result.verdict !== recorded.verdict) add('verdict', recorded.verdict, result.verdict);
  if (result.rule !== recorded.rule) add('rule', recorded.rule, result.rule);
  if (!sameStrings(result.reasons, recorded.reasons))
    add('reasons', [...recorded.reasons], [...result.reasons]);
  if (result.accountable !== recorded.accountable)
    add('accountable', recorded.accountable, result.accountable);
  if (options.approvals !== false && result.verdict === 'escalate' && recorded.verdict === 'escalate') {
    // The map says who must approve, not the record the kernel key wrote.
    const role = result.approvalsRequired?.role ?? 'approver';
    const count = result.approvalsRequired?.count ?? 1;
    const pending = recorded.pendingApproval;
    if (pending?.role !== role) add('approverRole', pending?.role ?? null, role);
    if (pending?.count !== count) add('approvalsRequired', pending?.count ?? null, count);
  }
  return { verdict: result.verdict, rule: result.rule, reasons: result.reasons, differences: diffs };
}

/**
 * One line for a finding or a report: `replay differs: verdict permit → refuse; …`.
 * @example describeReplay(replay.differences); // 'replay differs: rule a → b'
 */
export function describeReplay(differences: readonly ReplayDifference[]): string {
  const error = differences.find((d) => d.field === 'error');
  if (error !== undefined) return `replay failed: ${show(error.replayed)}`;
  const parts = differences.map((d) =>
    d.field === 'reasons'
      ? `reasons [${(d.recorded as string[]).join(', ')}] → [${(d.replayed as string[]).join(', ')}]`
      : d.field === 'approverRole'
        ? `approver role ${JSON.stringify(d.recorded)} → ${show(d.replayed)}`
        : d.field === 'approvalsRequired'
          ? `approvals required ${JSON.stringify(d.recorded)} → ${show(d.replayed)}`
          : `${d.field} ${show(d.recorded)} → ${show(d.replayed)}`,
  );
  return `replay differs: ${parts.join('; ')}`;
}

const show = (v: JsonValue): string => (typeof v === 'string' ? v : JSON.stringify(v));

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
