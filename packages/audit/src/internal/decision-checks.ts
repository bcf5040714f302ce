/**
 * What a decision record must agree with besides its signature: the parts of its body the kernel
 * computes from its input (action hash, principal), the kernel's own pre-check refusals (which the
 * map's `evaluate` never makes, so replay alone cannot see them), and, with the pinned map, the
 * pre-checks the kernel ran before `evaluate` (state hash, counters, time) and the transition an
 * outcome reports. Each function returns the problems it sees, as sentences; none throws on
 * journal content.
 */
import type { JsonValue } from '@edca/records';
import { permitBody, type LedgerState, type PermitEntry } from '@edca/ledger';
import type { AbstractState, CompiledMap } from '@edca/semantic';
import { actionHashPath, type RecordedProposal } from './action-hash-bytes.js';
import type { DecisionBody } from './bodies.js';

type Obj = { readonly [k: string]: JsonValue };

const isObj = (v: JsonValue | undefined): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The prefix of the rules the kernel decides by itself, before or instead of the map. */
export const KERNEL_RULE_PREFIX = 'kernel.';

const APPROVAL_CODES: ReadonlySet<string> = new Set([
  'APPROVAL_NOT_FOUND',
  'APPROVAL_REJECTED',
  'APPROVAL_EXPIRED',
  'APPROVAL_INVALID',
]);
const STEP = /^STEP_[1-9][0-9]*$/;

interface KernelRule {
  readonly verdict: 'refuse' | 'escalate';
  readonly reasons: (r: readonly string[]) => boolean;
  /**
   * A refusal the kernel journals from its pre-checks records no approvals and no counters (it
   * stopped before reading them), and, when it stopped before deriving, an empty state.
   */
  readonly emptyInput: boolean;
  readonly emptyState: boolean;
}

/**
 * Every `kernel.*` rule the kernel journals, with the verdict and reason codes it writes under
 * it (packages/kernel: `journalKernelRefusal` and the escalation after an unknown outcome). The
 * kernel's other `kernel.*` refusals (closed, no map, store, journal) are never journaled.
 */
const KERNEL_RULES: Readonly<Record<string, KernelRule>> = {
  'kernel.intake': {
    verdict: 'refuse',
    reasons: (r) => r.length === 1 && r[0] === 'UNKNOWN_INTENT',
    emptyInput: true,
    emptyState: true,
  },
  'kernel.route': { verdict: 'refuse', reasons: (r) => r.length === 1, emptyInput: true, emptyState: true },
  'kernel.derive': {
    verdict: 'refuse',
    reasons: (r) => (r.length === 1 || r.length === 2) && r[0] === 'DERIVATION_FAILED',
    emptyInput: true,
    emptyState: true,
  },
  'kernel.approval': {
    verdict: 'refuse',
    reasons: (r) => r.length === 1 && APPROVAL_CODES.has(r[0]!),
    emptyInput: true,
    emptyState: false,
  },
  'kernel.limits': {
    verdict: 'refuse',
    reasons: (r) => r.length === 1 && r[0] === 'LIMIT_EXCEEDED',
    emptyInput: true,
    emptyState: false,
  },
  'kernel.plan': {
    verdict: 'refuse',
    reasons: (r) => r.length === 2 && r[0] === 'PLAN_INVALID' && STEP.test(r[1]!),
    emptyInput: true,
    emptyState: false,
  },
  'kernel.evaluate': {
    verdict: 'refuse',
    reasons: (r) => r.length === 1 && (r[0] === 'CONDITION_ERROR' || r[0] === 'NO_RULE_MATCHED'),
    emptyInput: false,
    emptyState: false,
  },
  'kernel.outcome-unknown': {
    verdict: 'escalate',
    reasons: (r) => r.length === 1 && r[0] === 'OUTCOME_UNKNOWN',
    emptyInput: false,
    emptyState: false,
  },
};

const isEmptyObj = (v: JsonValue | undefined): boolean => isObj(v) && Object.keys(v).length === 0;

/**
 * Problems of a decision against its own input and the journal before it, without a map: the
 * proposal's shape and action hash, the principal, and the `kernel.*` rules (verdict, reasons,
 * what their input holds, and the earlier records an approval refusal or an unknown-outcome
 * escalation answers). `input` is the recorded input, already known to be an object.
 */
export function decisionProblems(
  body: DecisionBody,
  input: Obj,
  raw: Obj,
  ledger: LedgerState,
  atMs: number,
  /** The canonical bytes of `input` as they stand in the line, when known (for the fast action hash). */
  inputBytes?: Buffer,
): string[] {
  const out: string[] = [];
  const proposal = input['proposal'];
  if (!isObj(proposal) || typeof proposal['intent'] !== 'string' || !isObj(proposal['params'])) {
    out.push('the recorded input has no proposal (an intent name and an object of params)');
  } else if (
    actionHashOfRecorded(inputBytes, { intent: proposal['intent'], params: proposal['params'] }) !==
    body.actionHash
  ) {
    out.push('the action hash is not the hash of the recorded proposal');
  }
  const principal = input['principal'];
  const id = isObj(principal) ? principal['id'] : undefined;
  if (typeof id !== 'string') out.push('the recorded input names no principal');
  else if (raw['principal'] !== id)
    out.push(`the decision names principal ${JSON.stringify(raw['principal'] ?? null)}, its input ${id}`);
  if (body.rule.startsWith(KERNEL_RULE_PREFIX))
    out.push(...kernelRuleProblems(body, input, raw, ledger, atMs));
  return out;
}

function kernelRuleProblems(
  body: DecisionBody,
  input: Obj,
  raw: Obj,
  ledger: LedgerState,
  atMs: number,
): string[] {
  const rule = KERNEL_RULES[body.rule];
  if (rule === undefined) return [`${body.rule} is not a rule the kernel journals`];
  if (body.verdict !== rule.verdict) {
    return [
      `${body.rule} only ${rule.verdict === 'refuse' ? 'refuses' : 'escalates'}; this decision is a ${body.verdict}`,
    ];
  }
  const out: string[] = [];
  if (!rule.reasons(body.reasons))
    out.push(`${body.rule} never gives the reasons [${body.reasons.join(', ')}]`);
  if (rule.emptyInput) {
    const approvals = input['approvals'];
    if (!Array.isArray(approvals) || approvals.length > 0 || !isEmptyObj(input['counters']) || 'now' in input)
      out.push(
        `a ${body.rule} refusal with approvals or counters (the kernel records none for its own refusals)`,
      );
  }
  if (rule.emptyState) {
    const state = input['state'];
    if (!isObj(state) || !isEmptyObj(state['facets']) || !isEmptyObj(state['machines']))
      out.push(`a ${body.rule} refusal with a derived state (the kernel refused before deriving it)`);
  }
  const reason = body.reasons[0];
  const escalations = ledger.approvalsByAction.get(body.actionHash) ?? [];
  if (body.rule === 'kernel.approval' && reason === 'APPROVAL_REJECTED') {
    if (!escalations.some((id) => ledger.approvals.get(id)?.rejected === true))
      out.push('APPROVAL_REJECTED, but no earlier escalation of this action was rejected');
  }
  if (body.rule === 'kernel.approval' && reason === 'APPROVAL_EXPIRED') {
    if (!escalations.some((id) => (ledger.approvals.get(id)?.expiresAtMs ?? Infinity) <= atMs))
      out.push('APPROVAL_EXPIRED, but no earlier escalation of this action had expired');
  }
  if (body.rule === 'kernel.outcome-unknown') {
    const proposer = raw['proposer'];
    const named = isObj(proposer) ? proposer['promptTemplateDigest'] : undefined;
    const permit = typeof named === 'string' ? ledger.permits.get(named) : undefined;
    if (
      permit === undefined ||
      permit.status !== 'unknown' ||
      permit.actionHash !== body.actionHash ||
      permitBody(permit)['decisionKey'] !== body.decisionKey
    )
      out.push(
        `the escalation names ${JSON.stringify(named ?? null)}, not a permit whose last outcome is unknown for this decision`,
      );
  }
  return out;
}

/**
 * With the pinned map: the pre-checks the kernel ran before the map could decide, where the
 * record holds their inputs. A `kernel.intake` refusal names an intent the map does not know and a
 * `kernel.plan` refusal a step whose transition the map does not allow; any other decision has the
 * state hash of its recorded state, exactly the counters its intent's limits read, and the time
 * (`now`, the record's own `at`) only when the map reads time.
 */
export function replayPreChecks(map: CompiledMap, body: DecisionBody, input: Obj, at: string): string[] {
  const proposal = input['proposal'];
  if (!isObj(proposal) || typeof proposal['intent'] !== 'string') return [];
  const name = proposal['intent'];
  const intent = map.intent(name);
  const state = input['state'];
  if (body.rule === 'kernel.intake') {
    return intent === undefined ? [] : [`UNKNOWN_INTENT, but the map knows intent ${name}`];
  }
  if (body.rule === 'kernel.plan') {
    if (intent === undefined || intent.machine === undefined)
      return intent === undefined ? [] : [planOk(name)];
    const machines = isObj(state) && isObj(state['machines']) ? state['machines'] : {};
    const from = machines[intent.machine];
    return typeof from === 'string' && map.next(intent.machine, from, name) !== undefined
      ? [planOk(name)]
      : [];
  }
  if (body.rule.startsWith(KERNEL_RULE_PREFIX)) return [];
  const out: string[] = [];
  if (isObj(state)) {
    let hash: string | undefined;
    try {
      hash = map.stateHash(state as unknown as AbstractState);
    } catch {
      hash = undefined; // not a state at all: evaluate refuses it, and replay reports that
    }
    if (hash !== undefined && hash !== body.stateHash)
      out.push(`the state hash ${body.stateHash} is not the hash of the recorded state (${hash})`);
  }
  if (intent !== undefined) {
    const counters = input['counters'];
    const expected = [...new Set(intent.limits.map((l) => l.key))].sort();
    const recorded = isObj(counters) ? Object.keys(counters).sort() : [];
    if (expected.join('\n') !== recorded.join('\n'))
      out.push(`counters [${recorded.join(', ')}], the intent's limits read [${expected.join(', ')}]`);
  }
  const now = input['now'];
  if (map.usesTime && now !== at)
    out.push(`now ${JSON.stringify(now ?? null)}, the decision was made at ${at}`);
  if (!map.usesTime && now !== undefined)
    out.push(`now ${JSON.stringify(now)}, but the map does not read time`);
  return out;
}

const planOk = (name: string): string =>
  `PLAN_INVALID, but the map allows ${name} from the state the plan reached`;

/**
 * With the permit's pinned map: the transition a `completed` outcome reports must be the one the
 * map gives the permit's intent from the permit's recorded state (none for an intent without a
 * machine). Returns the problem, if any.
 */
export function transitionProblem(
  map: CompiledMap,
  permit: PermitEntry,
  reported: JsonValue | undefined,
): string | undefined {
  const input = permitBody(permit)['input'] as JsonValue | undefined;
  if (!isObj(input)) return undefined;
  const proposal = input['proposal'];
  const state = input['state'];
  if (!isObj(proposal) || typeof proposal['intent'] !== 'string') return undefined;
  const intent = map.intent(proposal['intent']);
  if (intent === undefined) return undefined; // the permit itself is already a replay finding
  let expected: Obj | undefined;
  if (intent.machine !== undefined) {
    const machines = isObj(state) && isObj(state['machines']) ? state['machines'] : {};
    const from = machines[intent.machine];
    const to = typeof from === 'string' ? map.next(intent.machine, from, proposal['intent']) : undefined;
    if (typeof from === 'string' && to !== undefined) expected = { machine: intent.machine, from, to };
  }
  const same =
    expected === undefined
      ? reported === undefined
      : isObj(reported) &&
        Object.keys(reported).length === 3 &&
        reported['machine'] === expected['machine'] &&
        reported['from'] === expected['from'] &&
        reported['to'] === expected['to'];
  if (same) return undefined;
  return `the outcome reports transition ${JSON.stringify(reported ?? null)}, the map gives ${JSON.stringify(expected ?? null)}`;
}

function actionHashOfRecorded(inputBytes: Buffer | undefined, proposal: RecordedProposal): string {
  const fast = actionHashPath.fast(inputBytes, proposal);
  return fast !== undefined ? fast : actionHashPath.reference(inputBytes, proposal);
}
