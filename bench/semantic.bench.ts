/**
 * `@edca/semantic` hot paths (issue 3, item 10): derive for a 10-facet map (target ≤ 10 µs),
 * evaluate (the decision the kernel and the auditor's replay run), intentsFor, and compiling a map;
 * (issue 20, item 8) derive with list aggregates over 10, 100 and 1,000 items, to show the cost
 * is linear in items and report it per item.
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

/** A map whose facets aggregate one list: a filtered count, an exact sum, a max. */
const AGGREGATE_MAP = `edca: state-map/v1
name: aggregate-bench
version: '1'
owner: ops
sources:
  account:
    fields:
      ACCT_NO: string
      TXNS:
        type: list
        max_items: 1000
        items:
          type: object
          fields:
            TXN_ID: string
            AMT_PENCE: integer
            TYPE_CD: { type: enum, values: [PUR, CHB, RFD] }
            POSTED_DAYS_AGO: integer
facets:
  chargebacks:
    values: [none, one, several]
    from: { count: account.TXNS, where: "item.TYPE_CD == 'CHB' && item.POSTED_DAYS_AGO <= 90" }
    bands: [{ below: 1, value: none }, { below: 2, value: one }, { value: several }]
  spend:
    values: [low, high]
    from: { sum: account.TXNS.AMT_PENCE, where: "item.TYPE_CD == 'PUR'" }
    bands: [{ below: 1000000, value: low }, { value: high }]
  largest:
    values: [none, small, large]
    from: { max: account.TXNS.AMT_PENCE }
    bands: [{ below: 50000, value: small }, { value: large }]
    default: none
intents:
  noop:
    description: Nothing.
`;

function aggregateRecords(n: number): Record<string, unknown> {
  const types = ['PUR', 'PUR', 'PUR', 'RFD', 'CHB'] as const;
  return {
    account: {
      ACCT_NO: 'A-1',
      TXNS: Array.from({ length: n }, (_, i) => ({
        TXN_ID: `TX-${i}`,
        AMT_PENCE: (i * 7919) % 60_000,
        TYPE_CD: types[i % types.length],
        POSTED_DAYS_AGO: i % 180,
      })),
    },
  };
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
  const aggregate = load(AGGREGATE_MAP);
  const sizes = [10, 100, 1000] as const;
  const aggregateRows = await runCases(
    'semantic',
    sizes.map((n) => {
      const rec = aggregateRecords(n);
      if (!aggregate.derive(rec).ok) throw new Error('aggregate bench records do not derive');
      return {
        name: `derive, 3 aggregate facets (count+where, sum+where, max) over ${n} items`,
        fn: () => aggregate.derive(rec),
      };
    }),
  );
  // Per item: the slope between 10 and 1,000 items (fixed costs cancel), and the 1,000-item
  // median over 1,000, which is linear if the two agree.
  const medianUs = aggregateRows.map((r) => r.medianUs);
  const slopeUs = (medianUs[2]! - medianUs[0]!) / (sizes[2] - sizes[0]);
  return {
    rows: [...rows, ...aggregateRows],
    extra: {
      map: map.name,
      facets,
      machines: map.machines.length,
      intents: map.intentNames.length,
      aggregateUsPerItem: Number(slopeUs.toFixed(3)),
      aggregateUsPerItemAt1000: Number((medianUs[2]! / sizes[2]).toFixed(3)),
      aggregateUsPerItemAt100: Number(((medianUs[1]! - medianUs[0]!) / (sizes[1] - sizes[0])).toFixed(3)),
    },
  };
}

if (isMain(import.meta.url)) {
  const { rows, extra } = await runSemanticBench();
  report('semantic', rows, extra);
}
