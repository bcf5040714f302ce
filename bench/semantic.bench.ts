/**
 * `@edca/semantic` hot paths (issue 3, item 10): derive for a 10-facet map (target ≤ 10 µs),
 * evaluate (the decision the kernel and the auditor's replay run), intentsFor, and compiling a map.
 *
 *   pnpm bench semantic             # via bench/run.ts
 *   node --import tsx bench/semantic.bench.ts [--json]
 */
import { readFileSync } from 'node:fs';
import { loadStateMap, type CompiledMap, type DecisionInput } from '@edca/semantic';
import { isMain, report, runCases, type BenchRow } from './harness.js';

const root = new URL('../', import.meta.url);
const read = (rel: string): string => readFileSync(new URL(rel, root), 'utf8');

function load(text: string): CompiledMap {
  const r = loadStateMap(text, 'bench');
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.value;
}

/** Runs the semantic benchmarks. */
export async function runSemanticBench(): Promise<{ rows: BenchRow[]; extra: Record<string, unknown> }> {
  const text = read('fixtures/maps/retail-banking.yaml');
  const map = load(text);
  const records = JSON.parse(read('fixtures/records/retail-banking/good-standing.json')) as Record<
    string,
    unknown
  >;
  const derived = map.derive(records);
  if (!derived.ok) throw new Error(derived.code);
  const state = derived.state;
  const base: DecisionInput = {
    policyDigest: map.digest,
    state,
    proposal: {
      intent: 'refund_payment',
      params: { payment: 'ref_pay_01', amount: 120.5, reason: 'duplicate_charge' },
    },
    principal: { id: 'agent-17', attributes: { role: 'agent', strong_auth: true } },
    approvals: [],
    counters: { 'refund.rate': 1, 'refund.budget': 300 },
  };
  const escalate: DecisionInput = {
    ...base,
    proposal: { ...base.proposal, params: { ...base.proposal.params, amount: 900 } },
  };
  const unknown: DecisionInput = { ...base, proposal: { intent: 'database_query', params: {} } };
  const check = (i: DecisionInput, verdict: string): DecisionInput => {
    if (map.evaluate(i).verdict !== verdict) throw new Error(`bench input does not ${verdict}`);
    return i;
  };
  const facets = Object.keys(map.facetValues).length;
  const rows = await runCases('semantic', [
    {
      name: `derive, ${facets} facets + ${map.machines.length} machines, with stateHash`,
      fn: () => map.derive(records),
      note: 'target ≤ 10 µs',
    },
    { name: 'stateHash alone (RFC 8785 + SHA-256)', fn: () => map.stateHash(state) },
    {
      name: 'evaluate → permit (allowed_when, escalate_when, 2 limits)',
      fn: () => map.evaluate(check(base, 'permit')),
    },
    {
      name: 'evaluate → escalate (amount over threshold)',
      fn: () => map.evaluate(check(escalate, 'escalate')),
    },
    { name: 'evaluate → refuse (unknown intent)', fn: () => map.evaluate(check(unknown, 'refuse')) },
    { name: 'intentsFor', fn: () => map.intentsFor(state) },
    { name: 'loadStateMap (parse, validate, compile)', fn: () => load(text), time: 2000, iterations: 20 },
  ]);
  return {
    rows,
    extra: { map: map.name, facets, machines: map.machines.length, intents: map.intentNames.length },
  };
}

if (isMain(import.meta.url)) {
  const { rows, extra } = await runSemanticBench();
  report('semantic', rows, extra);
}
