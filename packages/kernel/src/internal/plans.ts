/**
 * Plans: a sequence of proposals checked against the state machines as a whole before step 1, then
 * decided and executed step by step; on a failure the completed steps are compensated in reverse.
 */
import { toRfc3339 } from '../clock.js';
import type { Proposal } from '../decision.js';
import type {
  DecideContext,
  Decision,
  DecisionReason,
  ExecuteResult,
  PlanResult,
  PlanStep,
} from '../types.js';
import type { KernelContext } from './context.js';
import { decide, journalKernelRefusal } from './decide.js';
import { deriveFor } from './derive.js';
import { execute } from './execute.js';
import type { MapEntry } from './registry.js';

type StepRun = { step: number; decision: Decision; execution?: ExecuteResult };

/** Refuses a plan at its first step (`decision` is that step's journaled refusal). */
const refusedPlan = (code: DecisionReason, decision: Decision): PlanResult => ({
  status: 'refused',
  code,
  steps: [{ decision }],
  compensations: [],
});

/**
 * Simulates every step's transition on the machines from the state before step 1; the journaled
 * refusal of the first step that cannot run, or undefined when the whole plan can.
 */
async function checkPlan(
  ctx: KernelContext,
  steps: readonly PlanStep[],
  context: DecideContext,
): Promise<PlanResult | undefined> {
  const first = steps[0]!.proposal;
  const entry = ctx.registry.byIntent(first.intent);
  if (!entry) {
    const decision = await decide(ctx, first, context);
    return refusedPlan(decision.reasons[0] ?? 'UNKNOWN_INTENT', decision);
  }
  const proposal = { intent: first.intent, params: first.params };
  const derived = await deriveFor(
    ctx.registry,
    ctx.clock,
    entry,
    proposal,
    context.session,
    context.principal,
  );
  if (!derived.ok) {
    const { rule, reasons } = derived;
    const decision = await journalKernelRefusal(ctx, {
      entry,
      proposal: first,
      context,
      rule,
      reasons,
      nowMs: ctx.clock.now(),
    });
    return refusedPlan(decision.reasons[0] ?? 'DERIVATION_FAILED', decision);
  }
  const machines: Record<string, string> = { ...derived.value.state.machines };
  for (const [i, step] of steps.entries()) {
    const stepEntry = ctx.registry.byIntent(step.proposal.intent);
    if (stepEntry !== undefined && advance(stepEntry, machines, step.proposal.intent)) continue;
    const decision = await journalKernelRefusal(ctx, {
      entry: stepEntry ?? entry,
      proposal: { intent: step.proposal.intent, params: step.proposal.params },
      context,
      rule: 'kernel.plan',
      reasons: ['PLAN_INVALID', `STEP_${i + 1}`],
      state: { facets: derived.value.state.facets, machines },
      nowMs: ctx.clock.now(),
    });
    return refusedPlan('PLAN_INVALID', decision);
  }
  return undefined;
}

/** Moves the simulated machines by one intent; false when the intent cannot run from there. */
function advance(entry: MapEntry, machines: Record<string, string>, intent: string): boolean {
  const spec = entry.map.intent(intent);
  if (spec === undefined) return false;
  if (spec.machine === undefined) return true;
  const from = machines[spec.machine];
  const to = from === undefined ? undefined : entry.map.next(spec.machine, from, intent);
  if (to === undefined) return false;
  machines[spec.machine] = to;
  return true;
}

/** Decides and executes the steps in order until one does not complete; returns why it stopped. */
async function runSteps(
  ctx: KernelContext,
  steps: readonly PlanStep[],
  context: DecideContext,
  done: StepRun[],
): Promise<DecisionReason | undefined> {
  for (const [i, step] of steps.entries()) {
    const decision = await decide(ctx, step.proposal, context);
    if (decision.verdict !== 'permit' || !decision.permit) {
      done.push({ step: i, decision });
      return decision.verdict === 'escalate' ? 'PLAN_ABORTED' : (decision.reasons[0] ?? 'PLAN_ABORTED');
    }
    const execution = await execute(ctx, decision.permit, { session: context.session });
    done.push({ step: i, decision, execution });
    if (execution.status === 'refused') return execution.code;
    if (execution.status !== 'completed') return execution.error?.code ?? 'OUTCOME_UNKNOWN';
  }
  return undefined;
}

/** The proposal that undoes a step: its own, else the intent's declared compensation. */
function undoOf(ctx: KernelContext, step: PlanStep): Proposal | undefined {
  if (step.compensation) return step.compensation;
  const declared = ctx.registry
    .byIntent(step.proposal.intent)
    ?.map.intent(step.proposal.intent)?.compensation;
  if (!declared) return undefined;
  // The undo gets only the params it declares: its strict schema refuses the step's others
  // (offer_payment_plan {account, months, …} is undone by withdraw_payment_plan {account}).
  const undoParams = ctx.registry.byIntent(declared)?.map.intent(declared)?.params;
  const params = undoParams
    ? Object.fromEntries(Object.entries(step.proposal.params).filter(([k]) => Object.hasOwn(undoParams, k)))
    : step.proposal.params;
  return { intent: declared, params };
}

/** Compensates the completed steps in reverse order; whether every one of them was undone. */
async function compensate(
  ctx: KernelContext,
  steps: readonly PlanStep[],
  context: DecideContext,
  done: readonly StepRun[],
  compensations: StepRun[],
): Promise<boolean> {
  let all = true;
  for (const item of [...done].reverse()) {
    const exec = item.execution;
    if (!exec || exec.status !== 'completed') continue;
    const comp = undoOf(ctx, steps[item.step]!);
    if (!comp) {
      all = false;
      continue;
    }
    const decision = await decide(ctx, comp, context);
    const execution = decision.permit
      ? await execute(ctx, decision.permit, { session: context.session })
      : undefined;
    compensations.push(execution ? { step: item.step, decision, execution } : { step: item.step, decision });
    if (execution?.status !== 'completed') {
      all = false;
      continue;
    }
    try {
      const body = { attempt: exec.attempt, permit: exec.permit, status: 'compensated' };
      await ctx.append([{ type: 'outcome', at: toRfc3339(ctx.clock.now()), body }]);
    } catch {
      // The compensation ran (its own outcome is journaled) but the mark on the original step is
      // not: report the plan as failed rather than compensated.
      all = false;
    }
  }
  return all;
}

/** `kernel.runPlan`. */
export async function runPlan(
  ctx: KernelContext,
  steps: readonly PlanStep[],
  context: DecideContext,
): Promise<PlanResult> {
  if (steps.length === 0) return { status: 'refused', code: 'PLAN_INVALID', steps: [], compensations: [] };
  const refused = await checkPlan(ctx, steps, context);
  if (refused) return refused;
  const done: StepRun[] = [];
  const compensations: StepRun[] = [];
  const failure = await runSteps(ctx, steps, context, done);
  const stepsOut = done.map(({ decision, execution }) =>
    execution ? { decision, execution } : { decision },
  );
  if (failure === undefined) return { status: 'completed', steps: stepsOut, compensations };
  const all = await compensate(ctx, steps, context, done, compensations);
  return { status: all ? 'compensated' : 'failed', code: failure, steps: stepsOut, compensations };
}
