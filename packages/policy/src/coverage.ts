/**
 * Coverage of a state map by test cases: every facet rule and band, machine rule, intent,
 * transition, guard, `allowed_when`, `escalate_when` and approval branch, and whether a case
 * reached it. What a case reached is read from what really happened: the rule or band
 * `explainDerive` says chose each value, and the decision records the kernel journaled.
 */
import type { CompiledMap, DecisionInput } from '@edca/semantic';
import type { CoverageItem } from './report.js';

/** Every part of `map` coverage counts, in document order. */
export function coverageItems(map: CompiledMap): CoverageItem[] {
  const doc = map.document;
  const items: CoverageItem[] = [];
  for (const [f, facet] of Object.entries(doc.facets)) {
    (facet.rules ?? []).forEach((_, i) => items.push({ kind: 'facet-rule', id: `facets.${f}.rules[${i}]` }));
    (facet.bands ?? []).forEach((_, i) => items.push({ kind: 'facet-band', id: `facets.${f}.bands[${i}]` }));
    if (facet.default !== undefined) items.push({ kind: 'facet-default', id: `facets.${f}.default` });
  }
  for (const [m, machine] of Object.entries(doc.machines)) {
    if (machine.rules === undefined) continue;
    machine.rules.forEach((_, i) => items.push({ kind: 'machine-rule', id: `machines.${m}.rules[${i}]` }));
    if (machine.default !== undefined) items.push({ kind: 'machine-default', id: `machines.${m}.default` });
  }
  for (const name of map.intentNames) {
    const intent = map.intent(name)!;
    const i = doc.intents[name]!;
    const base = `intents.${name}`;
    items.push({ kind: 'intent', id: base });
    if (intent.machine !== undefined)
      for (const from of intent.from)
        items.push({ kind: 'transition', id: transitionId(name, from, intent.to ?? from) });
    if (i.transition?.guard !== undefined)
      for (const b of ['true', 'false']) items.push({ kind: 'guard', id: `${base}.transition.guard=${b}` });
    if (i.allowed_when !== undefined)
      for (const b of ['true', 'false'])
        items.push({ kind: 'allowed_when', id: `${base}.allowed_when=${b}` });
    if (intent.escalation === 'conditional')
      for (const b of ['true', 'false'])
        items.push({ kind: 'escalate_when', id: `${base}.escalate_when=${b}` });
    if (intent.approvals !== undefined)
      for (const b of ['required', 'met']) items.push({ kind: 'approval', id: `${base}.approvals=${b}` });
  }
  return items;
}

function transitionId(intent: string, from: string, to: string): string {
  return `intents.${intent}.transition[${from}->${to}]`;
}

// Codes the map decides after the transition (and its guard) passed, and after `allowed_when` held.
const PAST_ALLOWED = new Set([
  'COUNTER_MISSING',
  'LIMIT_EXCEEDED',
  'APPROVAL_REQUIRED',
  'APPROVALS_MET',
  'ALLOWED',
]);

/**
 * Adds to `reached` the parts of the map one journaled decision reached, from its input and the
 * rule and reasons `evaluate` gave (docs/state-maps.md, "How a proposal is decided").
 */
export function markDecision(
  map: CompiledMap,
  input: DecisionInput,
  decided: { readonly rule: string; readonly reasons: readonly string[] },
  reached: Set<string>,
): void {
  const name = input.proposal.intent;
  const intent = map.intent(name);
  if (intent === undefined) return;
  const base = `intents.${name}`;
  const i = map.document.intents[name]!;
  const code = decided.reasons[0] ?? '';
  reached.add(base);
  const escalatePath = `${base}.escalate_when`;
  const pastAllowed = PAST_ALLOWED.has(code) || (code === 'CONDITION_ERROR' && decided.rule === escalatePath);
  const pastTransition =
    pastAllowed ||
    code === 'NOT_ALLOWED' ||
    (code === 'CONDITION_ERROR' && decided.rule === `${base}.allowed_when`);
  if (pastTransition) {
    if (intent.machine !== undefined) {
      const from = input.state.machines[intent.machine];
      if (from !== undefined) reached.add(transitionId(name, from, intent.to ?? from));
    }
    if (i.transition?.guard !== undefined) reached.add(`${base}.transition.guard=true`);
  } else if (code === 'TRANSITION_NOT_ALLOWED' && decided.rule === `${base}.transition.guard`) {
    reached.add(`${base}.transition.guard=false`);
  }
  if (i.allowed_when !== undefined) {
    if (pastAllowed) reached.add(`${base}.allowed_when=true`);
    else if (code === 'NOT_ALLOWED') reached.add(`${base}.allowed_when=false`);
  }
  if (code === 'APPROVAL_REQUIRED' || code === 'APPROVALS_MET') {
    if (intent.escalation === 'conditional') reached.add(`${base}.escalate_when=true`);
    reached.add(`${base}.approvals=${code === 'APPROVALS_MET' ? 'met' : 'required'}`);
  } else if (code === 'ALLOWED' && intent.escalation === 'conditional') {
    reached.add(`${base}.escalate_when=false`);
  }
}
