// `edca demo`: one contact-centre session on the embedded file journal. Every model output takes
// the path a real model's would: project → proposer → arp.intake → kernel.decide → kernel.execute
// → arp.projectResult. The journal is then verified offline with @edca/audit.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arp, ArpHandler, ArpSession, ModelView, PrivateCall, Proposal } from '@edca/arp';
import { createReplayMaps, renderTextReport, safeVerifyJournal } from '@edca/audit';
import {
  createKernel,
  createScriptedProposer,
  KernelError,
  openFileJournal,
  signApproval,
  systemClock,
  toRfc3339,
  type Clock,
  type DecideContext,
  type Decision,
  type ExecuteResult,
  type Kernel,
  type Proposer,
  type ProposerMessage,
  type ProposerOutput,
} from '@edca/kernel';
import {
  canonicalize,
  digestBytes,
  serializeTrustFile,
  trustedKeyFor,
  type JsonValue,
  type SignedActivation,
  type TrustedKey,
} from '@edca/records';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { runSession, type ModelProposer, type SessionBounds } from '@edca/models';
import { CliError, EXIT } from '../../exit-codes.js';
import { createSessionTrace, foldTraceLine } from '../session-trace.js';
import type { CliIo } from '../../io.js';
import { makeDirectory } from '../make-dir.js';
import { bankHandlers, createBank, ownerOf, recordsFor, type Bank } from './bank.js';
import { loadOrCreateKeys, type DemoKeys } from './keys.js';
import { demoScenes, MODEL_ID, SYSTEM_PROMPT, type Scene, type Step } from './script.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly out: string;
  /** Key directory to reuse (or fill on first use); default `<out>/keys`. */
  readonly keys?: string;
  /** `fixed`: a scripted clock, so equal keys give byte-identical journals. */
  readonly clock: 'system' | 'fixed';
  /** A real model instead of the scripted one: each scene's request runs as one governed session. */
  readonly proposer?: ModelProposer;
  /** Refuse to start the kernel unless the demo map has its owner's signed activation. */
  readonly requireSignedActivation?: boolean;
  /** Signed activations by map name (`--activation FILE`). */
  readonly activations?: Readonly<Record<string, SignedActivation>>;
  /** Policy-owner keys added to the demo's trust file (`--owner-trust FILE`). */
  readonly ownerKeys?: readonly TrustedKey[];
}

/** The bounds of each scene's session when the demo runs against a real model. */
const MODEL_BOUNDS: SessionBounds = {
  maxTurns: 8,
  maxConsecutiveRefusals: 3,
  deadlineMs: 3 * 60_000,
  callTimeoutMs: 60_000,
  maxRetries: 2,
};

/** The counts the demo prints in its summary. */
export interface DemoSummary {
  readonly intakeRefusals: Readonly<Record<string, number>>;
  readonly decisions: Readonly<Record<string, number>>;
  readonly reasons: Readonly<Record<string, number>>;
  readonly auditOk: boolean;
}

/** The demo's journal stream (also `edca serve --demo`'s). */
export const STREAM = 'retail-demo';
const FIXED_START = Date.parse('2026-11-21T09:00:00.000Z');
/** Demo keys are trusted from this instant (before any fixed-clock or present-day record). */
export const KEYS_NOT_BEFORE = '2020-01-01T00:00:00.000Z';
const CHECKPOINT_EVERY = 8;
/** Extra tries after a handler failure (the kernel's default, pinned so the demo's journal is too). */
export const HANDLER_RETRIES = 2;
/** The role the demo's approver key is trusted for. */
export const APPROVER_ROLE = 'refund-approver';
/** The name the trust file gives the demo's approver key. */
export const APPROVER_NAME = 'Priya Shah, refunds team lead';
const MAP_URL = new URL('../../../../../fixtures/maps/retail-banking.yaml', import.meta.url);
/** The contact-centre agent the demo's decisions are taken for. */
export const PRINCIPAL = { id: 'agent-4471', attributes: { role: 'agent', strong_auth: true } } as const;
const WIDTH = 100;

/** A clock the demo moves itself: the same run always sees the same instants. */
interface DemoClock extends Clock {
  advance(ms: number): void;
}

function makeClock(kind: DemoOptions['clock']): DemoClock {
  if (kind === 'system') return { now: () => systemClock.now(), advance: () => undefined };
  let t = FIXED_START;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** Loads the demo's retail-banking map from the repository's fixtures. */
export function loadMap(): { map: CompiledMap; path: string } {
  const path = fileURLToPath(MAP_URL);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(
      'IO_READ_FAILED',
      `cannot read the demo's state map ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const loaded = loadStateMap(text, path);
  if (!loaded.ok) {
    const d = loaded.diagnostics[0];
    throw new CliError('MAP_INVALID', `${path}: ${d ? `${d.code} ${d.message}` : 'does not compile'}`);
  }
  return { map: loaded.value, path };
}

// ---- printing ------------------------------------------------------------------------------------

function short(ref: string): string {
  return ref.length > 12 ? `${ref.slice(0, 12)}…` : ref;
}

function shortDigest(d: string | null | undefined): string {
  return d ? `${d.slice(0, 15)}…` : '-';
}

function wrap(prefix: string, items: readonly string[], indent: string): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const item of items) {
    if (line.length > indent.length && line.length + item.length + 1 > WIDTH) {
      lines.push(line);
      line = indent;
    }
    line += (line.endsWith(' ') || line === indent ? '' : ' ') + item;
  }
  lines.push(line);
  return lines;
}

function wrapText(text: string, indent: string): string[] {
  return wrap(indent, text.split(/\s+/), indent);
}

function pairs(rec: Readonly<Record<string, string | number>>): string[] {
  return Object.entries(rec).map(([k, v]) => `${k}=${v}`);
}

function counts(rec: Readonly<Record<string, number>>): string {
  const e = Object.entries(rec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${v}`).join(', ');
}

function bump(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

/** The name and arguments a raw model output carries, for display only (intake decides). */
function describeRaw(format: string, raw: unknown): string {
  const o = (v: unknown): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  let name: unknown;
  let args: unknown;
  if (format === 'openai') {
    const choices = o(raw)['choices'];
    const call = o(
      Array.isArray(choices) ? (o(o(choices[0])['message'])['tool_calls'] as unknown[])?.[0] : {},
    );
    name = o(call['function'])['name'];
    args = o(call['function'])['arguments'];
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args) as unknown;
      } catch {
        // Shown as the model sent it; intake refuses malformed arguments with its own code.
      }
    }
  } else if (format === 'anthropic') {
    const content = o(raw)['content'];
    const use = o(Array.isArray(content) ? content.find((b) => o(b)['type'] === 'tool_use') : {});
    name = use['name'];
    args = use['input'];
  } else if (format === 'mcp') {
    name = o(o(raw)['params'])['name'];
    args = o(o(raw)['params'])['arguments'];
  } else {
    name = o(raw)['intent'];
    args = o(raw)['params'];
  }
  const shown = JSON.stringify(args ?? {}, (_k, v: unknown) =>
    typeof v === 'string' && /^ref_[A-Za-z0-9_-]{22}$/.test(v) ? short(v) : v,
  );
  return `${String(name)} ${shown}`;
}

function viewLines(view: ModelView): string[] {
  const out: string[] = [];
  out.push(...wrap('    state     ', pairs(view.state.facets), '              '));
  out.push(...wrap('    machines  ', pairs(view.state.machines), '              '));
  out.push(
    ...wrap(
      '    refs      ',
      Object.entries(view.entities).map(([k, r]) => `${k}=${short(r)}`),
      '              ',
    ),
  );
  const display = Object.entries(view.display).map(
    ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
  );
  if (display.length > 0) out.push(...wrap('    display   ', display, '              '));
  for (const u of view.untrusted ?? []) {
    out.push(`    untrusted ${u.untrusted_text.source} (delimited, labelled as data, never instructions):`);
    out.push(...wrapText(`«${u.untrusted_text.text}»`, '              '));
  }
  const allowed = view.intents.filter((i) => i.disposition === 'allowed').map((i) => i.name);
  const approval = view.intents.filter((i) => i.disposition === 'requires_approval').map((i) => i.name);
  out.push(...wrap('    intents   ', allowed.length > 0 ? allowed : ['(none)'], '              '));
  if (approval.length > 0) out.push(...wrap('    approval  ', approval, '              '));
  return out;
}

function stateDiff(before: ModelView, after: ModelView): string {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(after.state.machines))
    if (before.state.machines[k] !== v) diffs.push(`${k} ${before.state.machines[k] ?? '?'} → ${v}`);
  for (const [k, v] of Object.entries(after.state.facets))
    if (before.state.facets[k] !== v) diffs.push(`${k} ${before.state.facets[k] ?? '?'} → ${v}`);
  return diffs.length === 0 ? 'state unchanged' : diffs.join(', ');
}

function decisionLine(d: Decision): string {
  const where = d.record ? `journal seq ${d.record.seq}` : 'not journaled';
  const acc = d.accountable ? `, accountable ${d.accountable}` : '';
  return `${d.verdict} · ${d.reasons.join(', ')} · rule ${d.rule} (${where}${acc})`;
}

function callLine(call: PrivateCall): string {
  const params = Object.entries(call.realParams)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return `${call.handler}(${params})`;
}

// ---- the session ---------------------------------------------------------------------------------

interface Ctx {
  readonly io: CliIo;
  readonly kernel: Kernel;
  readonly arp: Arp;
  readonly bank: Bank;
  readonly keys: DemoKeys;
  readonly clock: DemoClock;
  readonly proposer: Proposer;
  readonly calls: PrivateCall[];
  readonly intakeRefusals: Record<string, number>;
  stepNo: number;
}

interface Conversation {
  readonly scene: Scene;
  readonly session: ArpSession;
  readonly context: DecideContext;
  readonly messages: ProposerMessage[];
  view: ModelView;
  viewJson: string;
  turn: number;
  /** What the host last answered the model, in short. */
  lastTold: string;
}

function print(io: CliIo, lines: readonly string[]): void {
  for (const line of lines) for (const part of foldTraceLine(line)) io.stdout(`${part}\n`);
}

function say(ctx: Ctx, ...lines: string[]): void {
  print(ctx.io, lines);
}

function tell(conv: Conversation, value: JsonValue, summary: string): void {
  conv.messages.push({ role: 'tool', content: canonicalize(value) });
  conv.lastTold = summary;
}

/** One line of what the model had in front of it this turn (the full view is printed per conversation). */
function seesLines(conv: Conversation): string[] {
  const v = conv.view;
  const approval = v.intents.filter((i) => i.disposition === 'requires_approval').length;
  return wrap(
    '     saw       ',
    [
      ...pairs(v.state.machines),
      `· ${v.intents.length} intents${approval > 0 ? ` (${approval} need approval)` : ''}`,
      `· ${Object.keys(v.entities).length} refs`,
      ...(v.untrusted && v.untrusted.length > 0 ? [`· ${v.untrusted.length} untrusted text`] : []),
      `· last told: ${conv.lastTold}`,
    ],
    '               ',
  );
}

function projectFor(
  ctx: Ctx,
  conv: Pick<Conversation, 'session' | 'scene'>,
): { view: ModelView; json: string } {
  const projected = ctx.arp.project(recordsFor(ctx.bank, conv.scene.customer), conv.session);
  if (!projected.ok) throw new CliError('DEMO_FAILED', `the view was refused: ${projected.code}`);
  return { view: projected.value, json: projected.json };
}

async function execute(
  ctx: Ctx,
  conv: Conversation,
  d: Decision,
  indent = '     ',
): Promise<ExecuteResult | undefined> {
  if (!d.permit) return undefined;
  const callsBefore = ctx.calls.length;
  const logBefore = ctx.bank.log.length;
  ctx.clock.advance(1_500);
  const result = await ctx.kernel.execute(d.permit, { session: conv.session });
  reportExecution(ctx, conv, result, callsBefore, logBefore, indent);
  return result;
}

function reportExecution(
  ctx: Ctx,
  conv: Conversation,
  result: ExecuteResult,
  callsBefore: number,
  logBefore: number,
  indent: string,
): void {
  if (result.status === 'refused') {
    say(ctx, `${indent}executed  nothing: ${result.code} (${result.message})`);
    return;
  }
  const tries = ctx.calls.length - callsBefore;
  const call = ctx.calls[callsBefore];
  const transition = result.transition
    ? `; ${result.transition.machine} ${result.transition.from} → ${result.transition.to}`
    : '';
  const err = result.error ? ` ${result.error.code}` : '';
  say(
    ctx,
    `${indent}executed  ${call ? callLine(call) : '(no handler call)'}`,
    `${indent}          → ${result.status}${err}${tries > 1 ? ` after ${tries} tries` : ''}${transition}` +
      ` (attempt and outcome journaled)`,
  );
  const logs = [...new Set(ctx.bank.log.slice(logBefore))];
  for (const line of logs) say(ctx, `${indent}bank      ${line}`);
}

function tellResult(
  ctx: Ctx,
  conv: Conversation,
  intent: string,
  outcome: 'completed' | 'failed' | 'unknown' | 'compensated' | 'refused',
  error?: string,
  indent = '     ',
): void {
  const projected = ctx.arp.projectResult({
    session: conv.session,
    intent,
    outcome,
    ...(error === undefined ? {} : { error }),
    records: recordsFor(ctx.bank, conv.scene.customer),
  });
  if (!projected.ok) throw new CliError('DEMO_FAILED', `the result was refused: ${projected.code}`);
  const before = conv.view;
  if (projected.value.view) {
    conv.view = projected.value.view;
    conv.viewJson = canonicalize(projected.value.view);
  }
  const told = `${intent} ${outcome}${error ? ` ${error}` : ''}, new view`;
  tell(conv, projected.value as unknown as JsonValue, told);
  say(ctx, `${indent}model is told  ${outcome}${error ? ` ${error}` : ''}; ${stateDiff(before, conv.view)}`);
}

function refuseToModel(ctx: Ctx, conv: Conversation, code: string, detail: string): void {
  tell(conv, { edca_refusal: code, message: detail }, `refused ${code}`);
  say(ctx, `     model is told  refused ${code}`);
}

async function handleDecision(ctx: Ctx, conv: Conversation, proposal: Proposal, step: Step): Promise<void> {
  ctx.clock.advance(500);
  const d = await ctx.kernel.decide(proposal, conv.context);
  say(ctx, `     decision  ${decisionLine(d)}`);
  if (d.verdict === 'refuse') {
    say(ctx, '     executed  nothing');
    refuseToModel(ctx, conv, d.reasons[0] ?? 'REFUSED', 'the kernel refused this proposal');
    return;
  }
  if (d.verdict === 'escalate') {
    await escalate(ctx, conv, d, step, proposal.intent);
    return;
  }
  const r = await execute(ctx, conv, d);
  if (r && r.status !== 'refused') tellResult(ctx, conv, proposal.intent, r.status, r.error?.code);
}

async function escalate(
  ctx: Ctx,
  conv: Conversation,
  d: Decision,
  step: Step,
  intent: string,
): Promise<void> {
  const approval = d.approval;
  if (!approval || !d.actionHash)
    throw new CliError('DEMO_FAILED', 'an escalation without a pending approval');
  say(
    ctx,
    `     executed  nothing yet: waits for ${approval.required.count} ${approval.required.role} (until ${approval.expiresAt})`,
  );
  tell(conv, { edca_pending: 'approval', role: approval.required.role }, 'pending approval');
  if (step.approver === undefined) return;
  ctx.clock.advance(4 * 60_000);
  const signed = await signApproval(
    {
      domain: 'edca-approval-v1',
      decision: approval.id,
      actionHash: d.actionHash,
      verdict: step.approver,
      approver: { kid: ctx.keys.approver.kid, role: APPROVER_ROLE },
      at: toRfc3339(ctx.clock.now()),
    },
    ctx.keys.approver,
  );
  const answer = await ctx.kernel.approve(signed);
  say(ctx, `     approver  ${APPROVER_NAME} signs "${step.approver}" with ${ctx.keys.approver.kid}`);
  if (answer.status === 'refused') {
    say(ctx, `     approval  refused: ${answer.code} (${answer.message})`);
    refuseToModel(ctx, conv, answer.code, 'the approval did not go through');
    return;
  }
  if (answer.status === 'pending') {
    say(ctx, `     approval  recorded, ${answer.approvers} of ${answer.required} approvers so far`);
    return;
  }
  say(ctx, `     decision  ${decisionLine(answer.decision)}`);
  const r = await execute(ctx, conv, answer.decision);
  if (r && r.status !== 'refused') tellResult(ctx, conv, intent, r.status, r.error?.code);
}

async function handlePlan(
  ctx: Ctx,
  conv: Conversation,
  out: Extract<ProposerOutput, { kind: 'plan' }>,
): Promise<void> {
  const proposals: Proposal[] = [];
  for (const [i, raw] of out.steps.entries()) {
    const intake = ctx.arp.intake(raw, out.format, conv.session);
    say(ctx, `     step ${i + 1}    ${describeRaw(out.format, raw)}`);
    if (!intake.ok) {
      bump(ctx.intakeRefusals, intake.code);
      say(
        ctx,
        `     decision  refuse · ${intake.code} · arp.intake: the whole plan is refused, nothing reached the kernel`,
      );
      refuseToModel(ctx, conv, intake.code, intake.message);
      return;
    }
    proposals.push(intake.proposal);
  }
  ctx.clock.advance(500);
  const callsBefore = ctx.calls.length;
  const logBefore = ctx.bank.log.length;
  const plan = await ctx.kernel.runPlan(
    proposals.map((proposal) => ({ proposal })),
    conv.context,
  );
  // runPlan interleaves decisions and executions; report them step by step from its result.
  let cursor = callsBefore;
  const logs = ctx.bank.log.slice(logBefore);
  let logCursor = 0;
  const printExec = (r: ExecuteResult | undefined, indent: string): void => {
    if (!r) return;
    if (r.status === 'refused') {
      say(ctx, `${indent}executed  nothing: ${r.code}`);
      return;
    }
    const call = ctx.calls[cursor];
    let tries = 1;
    while (
      ctx.calls[cursor + tries] !== undefined &&
      ctx.calls[cursor + tries]!.handler === call?.handler &&
      r.status !== 'completed'
    )
      tries += 1;
    cursor += tries;
    const transition = r.transition
      ? `; ${r.transition.machine} ${r.transition.from} → ${r.transition.to}`
      : '';
    say(
      ctx,
      `${indent}executed  ${call ? callLine(call) : '(no handler call)'}`,
      `${indent}          → ${r.status}${r.error ? ` ${r.error.code}` : ''}${tries > 1 ? ` after ${tries} tries` : ''}${transition}`,
    );
    const mine = logs.slice(logCursor, logCursor + tries);
    logCursor += tries;
    for (const line of new Set(mine)) say(ctx, `${indent}bank      ${line}`);
  };
  for (const [i, s] of plan.steps.entries()) {
    say(ctx, `     step ${i + 1} decision  ${decisionLine(s.decision)}`);
    printExec(s.execution, '     ');
  }
  for (const c of plan.compensations) {
    say(ctx, `     undo step ${c.step + 1}  decision  ${decisionLine(c.decision)}`);
    printExec(c.execution, '     ');
  }
  say(
    ctx,
    `     plan      ${plan.status}${plan.code ? ` (${plan.code})` : ''}` +
      (plan.status === 'compensated' ? '; step 1 is journaled as compensated' : ''),
  );
  tellResult(
    ctx,
    conv,
    proposals[0]!.intent,
    plan.status === 'completed' ? 'completed' : plan.status === 'compensated' ? 'compensated' : 'failed',
    plan.code,
  );
}

async function runScene(ctx: Ctx, scene: Scene, index: number): Promise<void> {
  const session: ArpSession = { stream: STREAM, session: scene.session };
  const context: DecideContext = {
    session,
    principal: { id: PRINCIPAL.id, attributes: { ...PRINCIPAL.attributes } },
    proposer: { modelId: ctx.proposer.modelId, promptTemplateDigest: ctx.proposer.promptTemplateDigest },
  };
  const first = projectFor(ctx, { session, scene });
  const conv: Conversation = {
    scene,
    session,
    context,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: scene.operator },
      { role: 'tool', content: first.json },
    ],
    view: first.view,
    viewJson: first.json,
    turn: 0,
    lastTold: 'the view above',
  };
  say(
    ctx,
    '',
    `━━ ${index}. ${scene.title}`,
    `   session ${scene.session} · agent ${PRINCIPAL.id} (strong auth) · operator says:`,
  );
  say(ctx, ...wrapText(`"${scene.operator}"`, '     '));
  say(
    ctx,
    `   the model sees (abridged; ${Buffer.byteLength(first.json)} bytes of canonical JSON, leak-checked):`,
  );
  say(ctx, ...viewLines(first.view));
  for (const step of scene.steps) {
    conv.turn += 1;
    ctx.stepNo += 1;
    ctx.clock.advance(20_000);
    const out = await ctx.proposer.propose({
      view: conv.view,
      viewJson: conv.viewJson,
      toolFormat: 'json',
      tools: ctx.arp.toolDefinitions('json', conv.view.state),
      conversation: [...conv.messages],
      turn: conv.turn,
    });
    conv.messages.push({
      role: 'assistant',
      content: JSON.stringify(out.kind === 'call' ? out.raw : out.steps),
    });
    say(ctx, '', `  ${String(ctx.stepNo).padStart(2)} ▸ ${step.label} · ${out.format} output`);
    say(ctx, ...seesLines(conv));
    if (out.kind === 'plan') {
      await handlePlan(ctx, conv, out);
      continue;
    }
    say(ctx, `     proposes  ${describeRaw(out.format, out.raw)}`);
    const intake = ctx.arp.intake(out.raw, out.format, conv.session);
    if (!intake.ok) {
      bump(ctx.intakeRefusals, intake.code);
      const issues = intake.issues?.map((i) => `${i.path} ${i.problem}`).join(', ');
      say(
        ctx,
        `     decision  refuse · ${intake.code} · arp.intake${issues ? ` (${issues})` : ''}`,
        '     executed  nothing: refused at intake, before the kernel (not a decision, not journaled)',
      );
      refuseToModel(ctx, conv, intake.code, intake.message);
      continue;
    }
    await handleDecision(ctx, conv, intake.proposal, step);
  }
}

/** One scene as a governed session against a real model: its operator request is the goal. */
async function runModelScene(
  ctx: Ctx,
  map: CompiledMap,
  proposer: ModelProposer,
  scene: Scene,
  index: number,
): Promise<void> {
  const session: ArpSession = { stream: STREAM, session: scene.session };
  say(
    ctx,
    '',
    `━━ ${index}. ${scene.title}`,
    `   session ${scene.session} · agent ${PRINCIPAL.id} · operator says:`,
  );
  say(ctx, ...wrapText(`"${scene.operator}"`, '     '));
  const trace = createSessionTrace(ctx.io);
  await runSession({
    kernel: ctx.kernel,
    proposer,
    map,
    session,
    goal: scene.operator,
    bounds: MODEL_BOUNDS,
    records: () => recordsFor(ctx.bank, scene.customer),
    principal: { id: PRINCIPAL.id, attributes: { ...PRINCIPAL.attributes } },
    onEvent: (e) => {
      if (e.kind === 'intake-refused') bump(ctx.intakeRefusals, e.code);
      trace(e);
    },
  });
}

function journalCounts(bytes: Buffer): {
  decisions: Record<string, number>;
  reasons: Record<string, number>;
} {
  const decisions: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  for (const line of bytes.toString('utf8').split('\n')) {
    if (line === '') continue;
    const rec = JSON.parse(line) as { type: string; body: { verdict?: string; reasons?: string[] } };
    if (rec.type !== 'decision') continue;
    bump(decisions, rec.body.verdict ?? '?');
    for (const r of rec.body.reasons ?? []) bump(reasons, r);
  }
  return { decisions, reasons };
}

function writeOut(path: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    throw new CliError(
      'IO_WRITE_FAILED',
      `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/**
 * Runs the demo session into `options.out` and prints it; resolves to the counts it printed.
 * @throws CliError OUT_EXISTS (a journal is already there), KEYS_* (unusable keys), AUDIT_FINDINGS (exit 1)
 */
export async function runDemo(options: DemoOptions, io: CliIo): Promise<DemoSummary> {
  const journalPath = join(options.out, 'journal.jsonl');
  if (existsSync(journalPath)) {
    throw new CliError(
      'OUT_EXISTS',
      `${journalPath} already exists; the demo never appends to or overwrites a journal (remove it or pick another --out)`,
    );
  }
  try {
    makeDirectory(join(options.out, 'maps'));
  } catch (err) {
    throw new CliError(
      'IO_WRITE_FAILED',
      `cannot create ${options.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const keys = loadOrCreateKeys(options.keys ?? join(options.out, 'keys'));
  const { map, path: mapPath } = loadMap();
  writeOut(join(options.out, 'maps', 'retail-banking.yaml'), () =>
    copyFileSync(mapPath, join(options.out, 'maps', 'retail-banking.yaml')),
  );
  const trust = {
    version: 1 as const,
    keys: [
      trustedKeyFor(keys.kernel.publicKey, 'kernel', KEYS_NOT_BEFORE, { name: 'edca demo kernel' }),
      trustedKeyFor(keys.approver.publicKey, APPROVER_ROLE, KEYS_NOT_BEFORE, { name: APPROVER_NAME }),
      ...(options.ownerKeys ?? []),
    ],
  };
  const trustPath = join(options.out, 'trust.json');
  writeOut(trustPath, () => writeFileSync(trustPath, serializeTrustFile(trust)));

  const clock = makeClock(options.clock);
  const bank = createBank();
  const calls: PrivateCall[] = [];
  const handlers: Record<string, ArpHandler> = {};
  for (const [name, handler] of Object.entries(bankHandlers(bank))) {
    handlers[name] = (call, context) => {
      calls.push(call);
      return handler(call, context);
    };
  }
  const journal = await openFileJournal({
    path: journalPath,
    stream: STREAM,
    signer: keys.kernel,
    clock,
    checkpointEvery: CHECKPOINT_EVERY,
  });
  let kernel: Kernel | undefined;
  const intakeRefusals: Record<string, number> = {};
  try {
    kernel = await createKernel({
      maps: [map],
      loaders: {
        [map.name]: ({ refs }) => {
          const target = Object.values(refs)[0];
          const owner = target === undefined ? undefined : ownerOf(bank, target);
          return Promise.resolve(owner === undefined ? {} : recordsFor(bank, owner));
        },
      },
      refKey: keys.refKey,
      signer: keys.kernel,
      journal,
      clock,
      handlers,
      trust,
      retries: HANDLER_RETRIES,
      ...(options.requireSignedActivation === true ? { requireSignedActivation: true } : {}),
      ...(options.activations === undefined ? {} : { activations: options.activations }),
    }).catch((err: unknown) => {
      // A refused activation (or any startup refusal) is one line with its stable code.
      throw err instanceof KernelError ? new CliError(err.code, err.message) : err;
    });
    const arp = kernel.arps.get(map.name);
    if (!arp) throw new CliError('DEMO_FAILED', `the kernel has no ARP layer for ${map.name}`);
    const scenes = demoScenes();
    const proposer = createScriptedProposer({
      modelId: MODEL_ID,
      promptTemplateDigest: digestBytes(SYSTEM_PROMPT),
      script: scenes.flatMap((s) => s.steps.map((step) => step.model)),
    });
    print(io, [
      `edca demo: a contact-centre session with a scripted model that drifts like a real one`,
      `  policy    ${map.name} ${map.version} (${shortDigest(map.digest)}), owner ${map.owner}`,
      `  journal   ${journalPath} (embedded file journal, fsync per append, checkpoint every ${CHECKPOINT_EVERY} records)`,
      `  keys      kernel ${keys.kernel.kid}, approver ${keys.approver.kid} (${keys.generated ? 'generated into' : 'reused from'} ${keys.dir})`,
      `  clock     ${options.clock === 'fixed' ? `fixed, starting ${toRfc3339(FIXED_START)}` : 'system'}`,
      options.proposer === undefined
        ? `  model     ${MODEL_ID} (replays raw tool calls; refs copied only from the view it is shown)`
        : `  model     ${options.proposer.modelId}: a real model; each scene is one governed session (bounds: ` +
          `${MODEL_BOUNDS.maxTurns} turns, ${MODEL_BOUNDS.maxConsecutiveRefusals} refusals in a row, ${MODEL_BOUNDS.deadlineMs / 1000} s)`,
      `  reading   "saw"/"proposes"/"model is told" is the model's side; "executed"/"bank" lines are the`,
      `            private side (real ids and fields), which only the kernel's routes and the handlers see`,
    ]);
    const ctx: Ctx = { io, kernel, arp, bank, keys, clock, proposer, calls, intakeRefusals, stepNo: 0 };
    if (options.proposer === undefined) {
      for (const [i, scene] of scenes.entries()) await runScene(ctx, scene, i + 1);
    } else {
      for (const [i, scene] of scenes.entries())
        await runModelScene(ctx, map, options.proposer, scene, i + 1);
    }
  } finally {
    await kernel?.close();
    await journal.close();
  }

  const bytes = readFileSync(journalPath);
  const { decisions, reasons } = journalCounts(bytes);
  const result = await safeVerifyJournal(bytes, { trust, maps: createReplayMaps([map]) });
  const report = result.ok ? result.value : result.error.report!;
  const byHandler: Record<string, number> = {};
  for (const e of bank.effects) bump(byHandler, e.handler);
  print(io, [
    '',
    '━━ Summary',
    `  refused at intake (never reached the kernel): ${counts(intakeRefusals)}`,
    `  journaled decisions by verdict: ${counts(decisions)}`,
    `  journaled decisions by reason:  ${counts(reasons)}`,
    `  effects on the bank:            ${counts(byHandler)}`,
    '',
    '━━ Audit (@edca/audit verifyJournal, offline, replaying every decision against the map)',
    '',
  ]);
  io.stdout(renderTextReport(report, journalPath));
  print(io, [
    '',
    `Wrote ${journalPath}, ${trustPath}, ${join(options.out, 'maps', 'retail-banking.yaml')}` +
      (keys.generated ? ` and keys in ${keys.dir}` : ''),
    'Verify it yourself:',
  ]);
  io.stdout(
    `  pnpm edca audit verify ${journalPath} --trust ${trustPath} --maps ${join(options.out, 'maps')}\n`,
  );
  if (!result.ok) {
    throw new CliError(
      'AUDIT_FINDINGS',
      `the demo's own journal has ${report.findings.length} finding(s)`,
      EXIT.CHECK_FAILED,
    );
  }
  return { intakeRefusals, decisions, reasons, auditOk: result.ok };
}
