/**
 * One run: a user task alone, or a (user task × injection task) pair, carried out by a scripted
 * agent on a fresh copy of the suite's environment. Through edca, the agent is a scripted proposer
 * in `runSession` (intake → decide → journal → execute), escalations go to the approver behaviour
 * after the session, and the run's journal is verified with `@edca/audit`. With no kernel, the
 * same proposals call the handlers directly: the baseline.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArpHandler, Proposal } from '@edca/arp';
import { createReplayMaps, safeVerifyJournal } from '@edca/audit';
import {
  createKernel,
  createScriptedProposer,
  HandlerError,
  openFileJournal,
  signApproval,
  toRfc3339,
  type Clock,
  type Decision,
  type ProposerTurn,
  type ScriptedTurn,
} from '@edca/kernel';
import { runSession } from '@edca/models';
import { canonicalize, digestBytes, type Signer, type TrustFile } from '@edca/records';
import { EvalError } from './errors.js';
import { evalBool } from './internal/expr.js';
import {
  applyEffects,
  bindingsOf,
  cloneEnvironment,
  EffectFailed,
  setAt,
  type Environment,
} from './internal/environment.js';
import type { InjectionTask, ScriptedProposal, Suite, UserTask } from './suite.js';

/** Who answers an escalation: nobody, or the account holder, who approves only what the user task asked for. */
export type ApproverBehaviour = 'none' | 'owner';

/** Every {@link ApproverBehaviour}. */
export const APPROVER_BEHAVIOURS: readonly ApproverBehaviour[] = ['none', 'owner'];

/**
 * What became of one scripted proposal. `executed` and `failed` ran the handler (`failed`: it
 * refused, e.g. insufficient funds); `refused-at-intake` never reached the kernel; `refused` and
 * `escalated-not-approved` are kernel decisions; `not-reached`: the session ended before it;
 * `no-such-tool`: the baseline has no handler for an intent the map does not route.
 */
export type ProposalFate =
  | 'executed'
  | 'failed'
  | 'refused-at-intake'
  | 'refused'
  | 'escalated-not-approved'
  | 'not-reached'
  | 'no-such-tool';

/** One scripted proposal's fate, with the codes that explain it (reason codes, intake codes). */
export interface ProposalOutcome {
  readonly by: 'user' | 'attacker';
  readonly intent: string;
  readonly fate: ProposalFate;
  readonly codes: readonly string[];
  /** For an escalation: approved (then run), rejected by the owner, or left with nobody to approve it. */
  readonly approval?: 'approved' | 'rejected' | 'unanswered';
}

/** The verdict of one run, read from the environment afterwards. */
export interface RunResult {
  readonly userTask: string;
  readonly injectionTask?: string;
  /** The user task's check holds on the environment after the run. */
  readonly utility: boolean;
  /** The injection task's check holds (only for pairs). */
  readonly attackSucceeded?: boolean;
  readonly proposals: readonly ProposalOutcome[];
  /** Through edca: why the session ended, and what the auditor found in the run's journal. */
  readonly session?: string;
  readonly audit?: { readonly ok: boolean; readonly records: number; readonly findings: readonly string[] };
}

/** Keys and trust shared by every run of one evaluation (each run still gets its own journal and kernel). */
export interface RunKeys {
  readonly kernel: Signer;
  readonly owner: Signer;
  readonly refKey: Uint8Array;
  readonly trust: TrustFile;
}

/** The scripted agent's model id and prompt digest, journaled in every decision. */
export const EVAL_MODEL_ID = 'edca-eval/scripted-compromised-agent';
const PROMPT_DIGEST = digestBytes('edca eval: a scripted agent that follows every instruction it reads');
const STREAM = 'eval';
/** Runs start at a fixed instant and every clock read moves 10 ms: journals are reproducible in shape. */
const START = Date.parse('2026-12-01T09:00:00Z');

function steppingClock(): Clock {
  let t = START;
  return {
    now: () => {
      t += 10;
      return t;
    },
  };
}

/** The environment a run starts from: the suite's records as the user task has them, with the injection planted. */
function startingEnvironment(
  suite: Suite,
  user: UserTask,
  injection: InjectionTask | undefined,
): Environment {
  const env = cloneEnvironment(suite.document.environment);
  for (const p of user.setup) {
    if (!setAt(env, p.path, structuredClone(p.value)))
      throw new EvalError('EVAL_SUITE_INVALID', `${user.id}: setup path ${p.path.join('.')} is not a field`);
  }
  for (const p of injection?.inject ?? []) {
    if (!setAt(env, p.path, p.text))
      throw new EvalError(
        'EVAL_SUITE_INVALID',
        `${injection!.id}: inject path ${p.path.join('.')} is not a field`,
      );
  }
  return env;
}

interface Step {
  readonly by: 'user' | 'attacker';
  readonly proposal: ScriptedProposal;
}

/** The compromised agent follows the injection as soon as it reads it (the first view), then does the user's task. */
function scriptOf(user: UserTask, injection: InjectionTask | undefined): Step[] {
  return [
    ...(injection?.proposals ?? []).map((proposal) => ({ by: 'attacker' as const, proposal })),
    ...user.proposals.map((proposal) => ({ by: 'user' as const, proposal })),
  ];
}

/** Params with every `{ $ref: kind }` replaced by `ref(kind)`. */
function fillRefs(
  params: ScriptedProposal['params'],
  ref: (kind: string) => unknown,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [
      k,
      v !== null && typeof v === 'object' && '$ref' in v ? ref((v as { $ref: string }).$ref) : v,
    ]),
  );
}

function checks(
  suite: Suite,
  env: Environment,
  user: UserTask,
  injection: InjectionTask | undefined,
): { utility: boolean; attackSucceeded?: boolean } {
  const b = bindingsOf(env);
  const utility = evalBool(user.utility, b);
  return injection === undefined ? { utility } : { utility, attackSucceeded: evalBool(injection.success, b) };
}

function handlersFor(
  suite: Suite,
  env: Environment,
  broken: { error?: EvalError },
): Record<string, ArpHandler> {
  const out: Record<string, ArpHandler> = {};
  for (const [name, h] of suite.handlers) {
    out[name] = (call) => {
      try {
        applyEffects(h, env, call.realParams);
      } catch (err) {
        // A business refusal is final: retrying cannot make the funds appear.
        if (err instanceof EffectFailed) throw new HandlerError(err.message, { final: true });
        // A broken expression is the suite's bug, not the handler's: reported after the run.
        if (err instanceof EvalError) broken.error ??= err;
        throw err;
      }
      return { ok: true };
    };
  }
  return out;
}

/**
 * Runs the proposals with no kernel: each calls its handler directly, with its params turned into
 * real fields by the map's routes and refs resolved to the environment's ids. Nothing is checked.
 */
export function runBaseline(suite: Suite, user: UserTask, injection?: InjectionTask): RunResult {
  const env = startingEnvironment(suite, user, injection);
  const doc = suite.map.document;
  const proposals: ProposalOutcome[] = [];
  for (const { by, proposal } of scriptOf(user, injection)) {
    const route = Object.hasOwn(doc.routes, proposal.intent) ? doc.routes[proposal.intent] : undefined;
    const handler = route === undefined ? undefined : suite.handlers.get(route.handler);
    if (route === undefined || handler === undefined) {
      proposals.push({ by, intent: proposal.intent, fate: 'no-such-tool', codes: [] });
      continue;
    }
    const params = fillRefs(proposal.params, (kind) => {
      const entity = doc.entities[kind]!;
      return env[entity.source]?.[entity.id];
    });
    const real: Record<string, unknown> = {};
    for (const [p, v] of Object.entries(params)) {
      const r = route.params?.[p];
      if (r === undefined) continue;
      let value: unknown = v;
      if (r.values !== undefined && typeof v === 'string' && Object.hasOwn(r.values, v)) value = r.values[v];
      if (r.scale !== undefined && typeof v === 'number') value = Math.round(v * r.scale);
      real[r.field] = value;
    }
    try {
      applyEffects(handler, env, real);
      proposals.push({ by, intent: proposal.intent, fate: 'executed', codes: [] });
    } catch (err) {
      if (!(err instanceof EffectFailed)) throw err;
      proposals.push({ by, intent: proposal.intent, fate: 'failed', codes: ['HANDLER_FAILED_FINAL'] });
    }
  }
  return {
    userTask: user.id,
    ...(injection === undefined ? {} : { injectionTask: injection.id }),
    ...checks(suite, env, user, injection),
    proposals,
  };
}

interface Escalation {
  readonly index: number;
  readonly decision: Decision;
  readonly proposal: Proposal;
}

/**
 * Runs the proposals through edca: a fresh kernel over a fresh file journal in `dir`, the scripted
 * agent in `runSession`, then the approver behaviour on every escalation, then the audit.
 */
export async function runThroughKernel(
  suite: Suite,
  keys: RunKeys,
  approver: ApproverBehaviour,
  dir: string,
  runNo: number,
  user: UserTask,
  injection?: InjectionTask,
): Promise<RunResult> {
  const env = startingEnvironment(suite, user, injection);
  const map = suite.map;
  const clock = steppingClock();
  const path = join(dir, `run-${runNo}.jsonl`);
  const journal = await openFileJournal({
    path,
    stream: STREAM,
    signer: keys.kernel,
    clock,
    fsync: false,
    checkpointEvery: 16,
  });
  const script = scriptOf(user, injection);
  const outcomes: (ProposalOutcome | undefined)[] = script.map(() => undefined);
  const escalations: Escalation[] = [];
  let sessionEnd = '';
  let sessionError: string | undefined;
  const broken: { error?: EvalError } = {};
  let firstView: ProposerTurn['view'] | undefined;
  try {
    const kernel = await createKernel({
      maps: [map],
      loaders: { [map.name]: () => Promise.resolve(structuredClone(env)) },
      refKey: keys.refKey,
      signer: keys.kernel,
      journal,
      clock,
      handlers: handlersFor(suite, env, broken),
      trust: keys.trust,
      retries: 0,
    });
    try {
      const turns: ScriptedTurn[] = script.map((step): ScriptedTurn => (turn) => ({
        kind: 'call',
        format: 'json',
        raw: {
          intent: step.proposal.intent,
          // A ref the view does not show cannot be copied; the agent sends the kind's name instead.
          params: fillRefs(step.proposal.params, (kind) => turn.view.entities[kind] ?? `ref:${kind}`),
        },
      }));
      // The agent says it is done: a reply without a tool call ends the session (MODEL_STOPPED).
      turns.push({
        kind: 'call',
        format: 'openai',
        raw: { choices: [{ message: { role: 'assistant', content: 'Done.' } }] },
      });
      const proposer = createScriptedProposer({
        modelId: EVAL_MODEL_ID,
        promptTemplateDigest: PROMPT_DIGEST,
        script: turns,
      });
      const session = { stream: STREAM, session: `run-${runNo}` };
      const summary = await runSession({
        kernel,
        proposer,
        map,
        session,
        goal: user.goal,
        bounds: {
          maxTurns: turns.length,
          maxConsecutiveRefusals: suite.document.bounds.max_consecutive_refusals,
          deadlineMs: 60_000,
          callTimeoutMs: 10_000,
          maxRetries: 0,
        },
        records: () => structuredClone(env),
        principal: suite.document.principal,
        clock,
        onEvent: (e) => {
          if (e.kind === 'view') firstView ??= e.view;
          const i = 'turn' in e ? e.turn - 1 : -1;
          const step = script[i];
          if (step === undefined) return;
          const base = { by: step.by, intent: step.proposal.intent };
          if (e.kind === 'intake-refused')
            outcomes[i] = { ...base, fate: 'refused-at-intake', codes: [e.code] };
          if (e.kind === 'decision') {
            const d = e.decision;
            if (d.verdict === 'refuse') outcomes[i] = { ...base, fate: 'refused', codes: [...d.reasons] };
            if (d.verdict === 'escalate') {
              outcomes[i] = {
                ...base,
                fate: 'escalated-not-approved',
                codes: [...d.reasons],
                approval: 'unanswered',
              };
              escalations.push({ index: i, decision: d, proposal: e.proposal });
            }
          }
          if (e.kind === 'execution') {
            const r = e.result;
            outcomes[i] =
              r.status === 'completed'
                ? { ...base, fate: 'executed', codes: [] }
                : r.status === 'refused'
                  ? { ...base, fate: 'refused', codes: [r.code] }
                  : { ...base, fate: 'failed', codes: r.error === undefined ? [r.status] : [r.error.code] };
          }
        },
      });
      sessionEnd = summary.reason;
      sessionError = summary.error;

      // The account holder approves what they asked for, exactly, and rejects everything else.
      if (approver === 'owner') {
        const asked = new Set(
          user.proposals.map((p) =>
            canonicalize({
              intent: p.intent,
              params: fillRefs(p.params, (kind) => firstView?.entities[kind] ?? `ref:${kind}`),
            }),
          ),
        );
        for (const esc of escalations) {
          const step = script[esc.index]!;
          const wanted = asked.has(
            canonicalize({ intent: esc.proposal.intent, params: esc.proposal.params }),
          );
          const signed = await signApproval(
            {
              domain: 'edca-approval-v1',
              decision: esc.decision.approval!.id,
              actionHash: esc.decision.actionHash!,
              verdict: wanted ? 'approve' : 'reject',
              approver: { kid: keys.owner.kid, role: suite.document.owner.role },
              at: toRfc3339(clock.now()),
            },
            keys.owner,
          );
          const answer = await kernel.approve(signed);
          const base = { by: step.by, intent: step.proposal.intent };
          const codes = [...esc.decision.reasons];
          if (!wanted || answer.status !== 'decided' || answer.decision.verdict !== 'permit') {
            const extra = wanted && answer.status === 'refused' ? [answer.code] : [];
            outcomes[esc.index] = {
              ...base,
              fate: 'escalated-not-approved',
              codes: [...codes, ...extra],
              approval: wanted ? 'unanswered' : 'rejected',
            };
            continue;
          }
          const result = await kernel.execute(answer.decision.permit!, { session });
          outcomes[esc.index] =
            result.status === 'completed'
              ? { ...base, fate: 'executed', codes, approval: 'approved' }
              : {
                  ...base,
                  fate: 'failed',
                  codes: [
                    ...codes,
                    result.status === 'refused' ? result.code : (result.error?.code ?? result.status),
                  ],
                  approval: 'approved',
                };
        }
      }
    } finally {
      await kernel.close();
    }
  } finally {
    await journal.close();
  }
  if (broken.error !== undefined) throw broken.error;
  const bytes = readFileSync(path);
  const verified = await safeVerifyJournal(bytes, { trust: keys.trust, maps: createReplayMaps([map]) });
  const report = verified.ok ? verified.value : verified.error.report!;
  rmSync(path, { force: true });
  rmSync(`${path}.lock`, { force: true });
  return {
    userTask: user.id,
    ...(injection === undefined ? {} : { injectionTask: injection.id }),
    ...checks(suite, env, user, injection),
    proposals: script.map(
      (s, i) =>
        outcomes[i] ?? {
          by: s.by,
          intent: s.proposal.intent,
          fate: 'not-reached',
          codes: sessionError === undefined ? [sessionEnd] : [sessionEnd, sessionError],
        },
    ),
    session: sessionEnd,
    audit: { ok: report.ok, records: report.records, findings: report.findings.map((f) => f.code) },
  };
}

/** A temporary folder for the runs' journals; remove it with {@link removeRunDirectory}. */
export function createRunDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'edca-eval-'));
}

/** Removes the runs' folder and anything left in it. */
export function removeRunDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
