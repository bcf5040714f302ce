/**
 * The governed session: view → model → intake → decide → execute → projected result → model,
 * until the model stops or a bound is reached. Every bound is enforced here, on the host's side
 * of the model: turns, refusals in a row, tokens and cost (from the API's usage fields and the
 * host's price table), a wall-clock deadline, and a per-call timeout with bounded retries on
 * transport errors only. Refused model output is journaled as `intake.refused`; the session ends
 * with a signed `session.ended` record.
 */
import type { ArpSession, ModelView, Proposal, ProposalFormat, ToolFormat } from '@edca/arp';
import {
  systemClock,
  type Clock,
  type DecideContext,
  type Decision,
  type ExecuteResult,
  type Kernel,
  type Proposer,
  type ProposerMessage,
  type ProposerOutput,
} from '@edca/kernel';
import { canonicalize, type JsonValue, isObject } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { ModelsError } from './errors.js';
import type { Usage } from './proposers.js';

/** Price of one model, per million tokens, in `currency` (the host's table; never fetched). */
export interface ModelPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  readonly currency: string;
}

/** The host's price table, by model name (`proposer.model`) or model id (`proposer.modelId`). */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** The bounds of one session. Every one is checked by the loop, never left to the model. */
export interface SessionBounds {
  /** Most model calls (turns). */
  readonly maxTurns: number;
  /** Most refusals in a row (intake or kernel) before the session ends. */
  readonly maxConsecutiveRefusals: number;
  /** Most input + output tokens over the session (needs the API's usage fields). */
  readonly maxTokens?: number;
  /** Most cost over the session, in the price table's currency (needs `prices`). */
  readonly maxCost?: number;
  /** Prices for the cost bound and the `session.ended` cost. */
  readonly prices?: PriceTable;
  /** Wall-clock budget of the whole session, in ms from its start. */
  readonly deadlineMs: number;
  /** Timeout of one model call, in ms. */
  readonly callTimeoutMs: number;
  /** Extra tries of one call after a transport error (429, 5xx, reset, timeout). Default 2. */
  readonly maxRetries?: number;
  /** Backoff before retry n (1-based) when the server sent no `retry-after`: `retryBaseMs · 2^(n-1)`. Default 500. */
  readonly retryBaseMs?: number;
}

/** Why a session ended: the `reason` of its `session.ended` record. */
export type SessionEndReason =
  | 'MODEL_STOPPED'
  | 'TURN_LIMIT'
  | 'REFUSAL_LIMIT'
  | 'TOKEN_LIMIT'
  | 'COST_LIMIT'
  | 'DEADLINE_EXCEEDED'
  | 'USAGE_MISSING'
  | 'MODEL_UNAVAILABLE'
  | 'VIEW_REFUSED'
  | 'ABORTED';

/** Every {@link SessionEndReason}. */
export const SESSION_END_REASONS: readonly SessionEndReason[] = [
  'MODEL_STOPPED',
  'TURN_LIMIT',
  'REFUSAL_LIMIT',
  'TOKEN_LIMIT',
  'COST_LIMIT',
  'DEADLINE_EXCEEDED',
  'USAGE_MISSING',
  'MODEL_UNAVAILABLE',
  'VIEW_REFUSED',
  'ABORTED',
];

/** One step of the trace a session reports as it goes (the CLI prints these). */
export type SessionEvent =
  | { readonly kind: 'view'; readonly view: ModelView; readonly json: string }
  | {
      readonly kind: 'model';
      readonly turn: number;
      readonly output: ProposerOutput;
      readonly usage?: Usage;
      readonly tries: number;
      readonly text?: string;
    }
  | {
      readonly kind: 'model-error';
      readonly turn: number;
      readonly code: string;
      readonly retryInMs?: number;
      readonly try: number;
    }
  | {
      readonly kind: 'intake-refused';
      readonly turn: number;
      readonly code: string;
      readonly message: string;
      readonly record: { readonly seq: number };
    }
  | {
      readonly kind: 'decision';
      readonly turn: number;
      readonly proposal: Proposal;
      readonly decision: Decision;
    }
  | { readonly kind: 'execution'; readonly turn: number; readonly result: ExecuteResult }
  | { readonly kind: 'told'; readonly turn: number; readonly content: string; readonly summary: string }
  | { readonly kind: 'ended'; readonly summary: SessionSummary };

/** What {@link runSession} resolves to: the same facts its `session.ended` record signs. */
export interface SessionSummary {
  readonly reason: SessionEndReason;
  readonly turns: number;
  readonly tokens: { readonly input: number; readonly output: number };
  readonly cost?: { readonly micros: number; readonly currency: string };
  readonly refusals: { readonly intake: number; readonly kernel: number };
  /** Decisions the kernel made in this session, by verdict. */
  readonly decisions: { readonly permit: number; readonly refuse: number; readonly escalate: number };
  /** The model's last text (its final answer when it stopped). */
  readonly finalText?: string;
  /** The code of the model error that ended the session (MODEL_UNAVAILABLE). */
  readonly error?: string;
  /** Where the `session.ended` record sits in the journal. */
  readonly record: { readonly seq: number; readonly hash: string };
}

/** Options of {@link runSession}. */
export interface SessionOptions {
  readonly kernel: Kernel;
  readonly proposer: Proposer;
  /** The state map the session runs under (its ARP layer projects the views). */
  readonly map: CompiledMap | string;
  readonly session: ArpSession;
  /** What the operator wants done: the first user message. */
  readonly goal: string;
  readonly bounds: SessionBounds;
  /** The business records the view is projected from, read again after every execution. */
  readonly records: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Who the model works for, journaled in every decision. */
  readonly principal: DecideContext['principal'];
  /** Default `systemClock`; tests inject their own. */
  readonly clock?: Clock;
  /** Waits between retries; default a real timer (tests inject a clock-driven one). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The host's abort: the session ends with `ABORTED` (still journaled). */
  readonly signal?: AbortSignal;
  /** Called with every step, in order; a listener that throws rejects the session (a host bug). */
  readonly onEvent?: (event: SessionEvent) => void;
  /** The tool shape for a proposer that does not name one (a scripted proposer); default `json`. */
  readonly toolFormat?: ToolFormat;
}

interface ModelLike {
  readonly toolFormat?: unknown;
  readonly model?: unknown;
}

function checkBounds(b: SessionBounds): void {
  const positiveInt = (name: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
      throw new ModelsError('SESSION_CONFIG_INVALID', `bounds.${name} must be a positive integer`);
  };
  positiveInt('maxTurns', b.maxTurns);
  positiveInt('maxConsecutiveRefusals', b.maxConsecutiveRefusals);
  positiveInt('deadlineMs', b.deadlineMs);
  positiveInt('callTimeoutMs', b.callTimeoutMs);
  if (b.maxTokens !== undefined) positiveInt('maxTokens', b.maxTokens);
  const retries = b.maxRetries ?? 2;
  if (!Number.isSafeInteger(retries) || retries < 0 || retries > 10)
    throw new ModelsError('SESSION_CONFIG_INVALID', 'bounds.maxRetries must be an integer in 0..10');
  const base = b.retryBaseMs ?? 500;
  if (!Number.isFinite(base) || base < 0)
    throw new ModelsError('SESSION_CONFIG_INVALID', 'bounds.retryBaseMs must be a non-negative number');
  if (b.maxCost !== undefined && !(Number.isFinite(b.maxCost) && b.maxCost >= 0))
    throw new ModelsError('SESSION_CONFIG_INVALID', 'bounds.maxCost must be a non-negative number');
  for (const [name, p] of Object.entries(b.prices ?? {})) {
    const ok =
      isObject(p) &&
      Number.isFinite(p.inputPerMTok) &&
      p.inputPerMTok >= 0 &&
      Number.isFinite(p.outputPerMTok) &&
      p.outputPerMTok >= 0 &&
      typeof p.currency === 'string' &&
      p.currency !== '';
    if (!ok) throw new ModelsError('SESSION_CONFIG_INVALID', `bounds.prices[${name}] is not a valid price`);
  }
}

function priceFor(proposer: Proposer, prices: PriceTable | undefined): ModelPrice | undefined {
  if (prices === undefined) return undefined;
  const model = (proposer as ModelLike).model;
  if (typeof model === 'string' && Object.hasOwn(prices, model)) return prices[model];
  return Object.hasOwn(prices, proposer.modelId) ? prices[proposer.modelId] : undefined;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Raw output as JSON text for the conversation (the adapters' convention: as they returned it). */
function rawText(out: ProposerOutput): string {
  if (out.kind === 'plan') return JSON.stringify(out.steps);
  return typeof out.raw === 'string' ? out.raw : JSON.stringify(out.raw);
}

/** Thrown inside the loop to unwind to its one exit, where the end is journaled; never escapes. */
class SessionEnd extends Error {
  constructor(
    readonly reason: SessionEndReason,
    readonly error?: string,
  ) {
    super(reason);
  }
}

/**
 * Runs one governed session and journals how it ended. Refusals are values told to the model, never
 * exceptions; the promise rejects only for host misuse (bad bounds, unknown map) or a kernel port
 * failure (journal unavailable), after which nothing more is journaled.
 * @throws ModelsError SESSION_CONFIG_INVALID for malformed bounds, an unknown map, or a cost bound without a price
 * @example
 * const summary = await runSession({ kernel, proposer, map, session, goal: 'Freeze the card ending 4417',
 *   bounds: { maxTurns: 8, maxConsecutiveRefusals: 3, deadlineMs: 60_000, callTimeoutMs: 20_000 },
 *   records: () => loadCustomer(id), principal: { id: 'agent-7', attributes: {} } });
 */
export async function runSession(options: SessionOptions): Promise<SessionSummary> {
  const { kernel, proposer, session, bounds } = options;
  checkBounds(bounds);
  const mapName = typeof options.map === 'string' ? options.map : options.map.name;
  const arp = kernel.arps.get(mapName);
  if (arp === undefined) throw new ModelsError('SESSION_CONFIG_INVALID', `the kernel has no map ${mapName}`);
  const price = priceFor(proposer, bounds.prices);
  if (bounds.maxCost !== undefined && price === undefined) {
    throw new ModelsError('SESSION_CONFIG_INVALID', `bounds.maxCost needs a price for ${proposer.modelId}`);
  }
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? defaultSleep;
  const emit = options.onEvent ?? ((): void => undefined);
  const declared = (proposer as ModelLike).toolFormat;
  const toolFormat: ToolFormat =
    typeof declared === 'string' ? (declared as ToolFormat) : (options.toolFormat ?? 'json');
  const maxRetries = bounds.maxRetries ?? 2;
  const retryBaseMs = bounds.retryBaseMs ?? 500;
  const started = clock.now();
  const deadline = started + bounds.deadlineMs;
  const proposerRef = { modelId: proposer.modelId, promptTemplateDigest: proposer.promptTemplateDigest };
  const context: DecideContext = { session, principal: options.principal, proposer: proposerRef };

  // Aborts in-flight model calls when the host aborts (the deadline and timeouts have their own).
  const hostAbort = new AbortController();
  const onHostAbort = (): void => hostAbort.abort();
  options.signal?.addEventListener('abort', onHostAbort, { once: true });

  const tokens = { input: 0, output: 0 };
  const refusals = { intake: 0, kernel: 0 };
  const decisions = { permit: 0, refuse: 0, escalate: 0 };
  let costMicros = 0;
  let turns = 0;
  let consecutive = 0;
  let finalText: string | undefined;
  const conversation: ProposerMessage[] = [{ role: 'user', content: options.goal }];
  let view: ModelView | undefined;
  let viewJson = '';

  // The tool definitions depend only on the view's state: built again only when the view changes.
  let toolsView: ModelView | undefined;
  let tools: readonly JsonValue[] = [];
  const toolsFor = (v: ModelView): readonly JsonValue[] => {
    if (v !== toolsView) {
      tools = arp.toolDefinitions(toolFormat, v.state);
      toolsView = v;
    }
    return tools;
  };
  const tell = (content: string, summary: string): void => {
    conversation.push({ role: 'tool', content });
    emit({ kind: 'told', turn: turns, content, summary });
  };
  const refused = (kind: 'intake' | 'kernel'): void => {
    refusals[kind] += 1;
    consecutive += 1;
    if (consecutive >= bounds.maxConsecutiveRefusals) throw new SessionEnd('REFUSAL_LIMIT');
  };
  const project = async (): Promise<void> => {
    const projected = arp.project(await options.records(), session);
    if (!projected.ok) throw new SessionEnd('VIEW_REFUSED', projected.code);
    view = projected.value;
    viewJson = projected.json;
  };
  const checkAbortAndDeadline = (): void => {
    if (options.signal?.aborted === true) throw new SessionEnd('ABORTED');
    if (clock.now() >= deadline) throw new SessionEnd('DEADLINE_EXCEEDED');
  };

  /** One model call with the per-call timeout and bounded retries on transport errors. */
  const callModel = async (): Promise<{ out: ProposerOutput; tries: number }> => {
    for (let attempt = 1; ; attempt += 1) {
      checkAbortAndDeadline();
      const timeout = Math.min(bounds.callTimeoutMs, deadline - clock.now());
      const call = new AbortController();
      const timer = setTimeout(() => call.abort(), timeout);
      const stop = (): void => call.abort();
      hostAbort.signal.addEventListener('abort', stop, { once: true });
      let error: ModelsError;
      try {
        const out = await proposer.propose(
          {
            view: view!,
            viewJson,
            toolFormat,
            tools: toolsFor(view!),
            conversation: [...conversation],
            turn: turns,
          },
          call.signal,
        );
        return { out, tries: attempt };
      } catch (err) {
        if (options.signal?.aborted === true) throw new SessionEnd('ABORTED');
        if (call.signal.aborted) {
          error = new ModelsError('MODEL_TIMEOUT', `the model did not answer within ${timeout} ms`, {
            cause: err,
          });
        } else if (err instanceof ModelsError) {
          error = err;
        } else {
          // A proposer that is not one of ours failed: not known to be transport, so not retried.
          error = new ModelsError(
            'MODEL_RESPONSE_INVALID',
            err instanceof Error ? err.message : String(err),
            {
              cause: err,
            },
          );
        }
      } finally {
        clearTimeout(timer);
        hostAbort.signal.removeEventListener('abort', stop);
      }
      if (!error.retryable || attempt > maxRetries) {
        emit({ kind: 'model-error', turn: turns, code: error.code, try: attempt });
        throw new SessionEnd('MODEL_UNAVAILABLE', error.code);
      }
      const wait = error.details.retryAfterMs ?? retryBaseMs * 2 ** (attempt - 1);
      emit({ kind: 'model-error', turn: turns, code: error.code, retryInMs: wait, try: attempt });
      // A retry the deadline cannot wait for ends the session now rather than at the deadline.
      if (clock.now() + wait >= deadline) throw new SessionEnd('DEADLINE_EXCEEDED', error.code);
      await sleep(wait, hostAbort.signal);
    }
  };

  const account = (usage: Usage | undefined): void => {
    if (usage === undefined) {
      if (bounds.maxTokens !== undefined || bounds.maxCost !== undefined)
        throw new SessionEnd('USAGE_MISSING');
      return;
    }
    tokens.input += usage.inputTokens;
    tokens.output += usage.outputTokens;
    if (price !== undefined) {
      costMicros = Math.round(tokens.input * price.inputPerMTok + tokens.output * price.outputPerMTok);
    }
    if (bounds.maxTokens !== undefined && tokens.input + tokens.output > bounds.maxTokens)
      throw new SessionEnd('TOKEN_LIMIT');
    if (bounds.maxCost !== undefined && costMicros > Math.round(bounds.maxCost * 1e6))
      throw new SessionEnd('COST_LIMIT');
  };

  const intakeRefused = async (
    format: ProposalFormat,
    raw: unknown,
    code: string,
    message: string,
  ): Promise<void> => {
    const record = await kernel.recordIntakeRefusal({
      session,
      turn: turns,
      format,
      code,
      message,
      raw,
      proposer: proposerRef,
    });
    emit({ kind: 'intake-refused', turn: turns, code, message, record: { seq: record.seq } });
    tell(canonicalize({ edca_refusal: code, message }), `refused ${code}`);
    refused('intake');
  };

  const tellResult = async (
    intent: string,
    outcome: 'completed' | 'failed' | 'unknown' | 'compensated',
    error: string | undefined,
  ): Promise<void> => {
    const projected = arp.projectResult({
      session,
      intent,
      outcome,
      ...(error === undefined ? {} : { error }),
      records: await options.records(),
    });
    if (!projected.ok) throw new SessionEnd('VIEW_REFUSED', projected.code);
    if (projected.value.view !== undefined) {
      view = projected.value.view;
      viewJson = canonicalize(projected.value.view);
    }
    tell(projected.json, `${intent} ${outcome}${error === undefined ? '' : ` ${error}`}`);
  };

  const decideAndRun = async (proposal: Proposal): Promise<void> => {
    const decision = await kernel.decide(proposal, context);
    decisions[decision.verdict] += 1;
    emit({ kind: 'decision', turn: turns, proposal, decision });
    if (decision.verdict === 'refuse') {
      tell(
        canonicalize({
          edca_refusal: decision.reasons[0] ?? 'REFUSED',
          message: 'the kernel refused this proposal',
        }),
        `refused ${decision.reasons.join(', ')}`,
      );
      refused('kernel');
      return;
    }
    consecutive = 0;
    if (decision.verdict === 'escalate') {
      tell(
        canonicalize({ edca_pending: 'approval', role: decision.approval?.required.role ?? 'approver' }),
        'pending approval',
      );
      return;
    }
    const result = await kernel.execute(decision.permit!, { session });
    emit({ kind: 'execution', turn: turns, result });
    if (result.status === 'refused') {
      tell(
        canonicalize({ edca_refusal: result.code, message: 'the action did not run' }),
        `refused ${result.code}`,
      );
      return;
    }
    await tellResult(proposal.intent, result.status, result.error?.code);
  };

  const runPlan = async (out: Extract<ProposerOutput, { kind: 'plan' }>): Promise<void> => {
    const steps: Proposal[] = [];
    for (const raw of out.steps) {
      const intake = arp.intake(raw, out.format, session);
      if (!intake.ok) return intakeRefused(out.format, raw, intake.code, intake.message);
      steps.push(intake.proposal);
    }
    const plan = await kernel.runPlan(
      steps.map((proposal) => ({ proposal })),
      context,
    );
    for (const s of plan.steps) {
      decisions[s.decision.verdict] += 1;
      emit({ kind: 'decision', turn: turns, proposal: steps[plan.steps.indexOf(s)]!, decision: s.decision });
      if (s.execution) emit({ kind: 'execution', turn: turns, result: s.execution });
    }
    if (plan.status === 'refused') {
      tell(
        canonicalize({ edca_refusal: plan.code ?? 'PLAN_REFUSED', message: 'the plan was refused' }),
        'plan refused',
      );
      refused('kernel');
      return;
    }
    consecutive = 0;
    await tellResult(steps[0]!.intent, plan.status === 'completed' ? 'completed' : plan.status, plan.code);
  };

  let end: SessionEnd;
  try {
    await project();
    emit({ kind: 'view', view: view!, json: viewJson });
    conversation.push({ role: 'tool', content: viewJson });
    for (;;) {
      if (turns >= bounds.maxTurns) throw new SessionEnd('TURN_LIMIT');
      turns += 1;
      const { out, tries } = await callModel();
      const usage = (out as { usage?: Usage }).usage;
      const text = (out as { text?: unknown }).text;
      if (typeof text === 'string') finalText = text;
      emit({
        kind: 'model',
        turn: turns,
        output: out,
        tries,
        ...(usage === undefined ? {} : { usage }),
        ...(typeof text === 'string' ? { text } : {}),
      });
      account(usage);
      conversation.push({ role: 'assistant', content: rawText(out) });
      if (out.kind === 'plan') {
        await runPlan(out);
        continue;
      }
      const intake = arp.intake(out.raw, out.format, session);
      if (!intake.ok) {
        // No tool call at all is the model answering in text: it has stopped.
        if (intake.code === 'NO_PROPOSAL') throw new SessionEnd('MODEL_STOPPED');
        await intakeRefused(out.format, out.raw, intake.code, intake.message);
        continue;
      }
      await decideAndRun(intake.proposal);
    }
  } catch (err) {
    if (!(err instanceof SessionEnd)) throw err;
    end = err;
  } finally {
    options.signal?.removeEventListener('abort', onHostAbort);
  }
  const cost = price === undefined ? undefined : { micros: costMicros, currency: price.currency };
  const record = await kernel.endSession({
    session,
    reason: end.reason,
    turns,
    tokens: { ...tokens },
    ...(cost === undefined ? {} : { cost }),
    refusals: { ...refusals },
    proposer: proposerRef,
  });
  const summary: SessionSummary = {
    reason: end.reason,
    turns,
    tokens,
    ...(cost === undefined ? {} : { cost }),
    refusals,
    decisions,
    ...(finalText === undefined ? {} : { finalText }),
    ...(end.error === undefined ? {} : { error: end.error }),
    record: { seq: record.seq, hash: record.hash },
  };
  emit({ kind: 'ended', summary });
  return summary;
}
