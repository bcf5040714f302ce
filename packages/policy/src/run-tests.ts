/**
 * Runs expected-decision test suites through the real kernel: for each case a fresh kernel
 * (`createKernel`) on the map, an in-memory journal and store, a clock fixed at the case's time,
 * counters seeded through the store's own `reserve`/`settle`, and approvals signed by keys
 * generated in this process and trusted for their roles. Nothing here decides: the kernel does,
 * through the map's `evaluate`, exactly as in production.
 */
import {
  createNodeSigner,
  digestValue,
  generateKeyPair,
  trustedKeyFor,
  type JsonValue,
  type Signer,
  type TrustFile,
} from '@edca/records';
import {
  createKernel,
  createMemoryStore,
  signApproval,
  toRfc3339,
  type DecideContext,
  type Decision,
  type Kernel,
  type KernelStore,
} from '@edca/kernel';
import type { CompiledMap, DecisionInput } from '@edca/semantic';
import { coverageItems, markDecision } from './coverage.js';
import { PolicyError } from './errors.js';
import { openMemoryJournal } from './internal/memory-journal.js';
import { REPORT_FORMAT, testReportSchema, type TestCaseResult, type TestReport } from './report.js';
import type { TestCase, TestSuite } from './suite.js';

/** The instant a case is decided at when neither it nor its suite gives a `time`. */
export const DEFAULT_TEST_TIME = '2026-01-01T00:00:00.000Z';

// Refs are HMACs under this key; a fixed key keeps every decision input, hence the report, the same.
const REF_KEY = new Uint8Array(32).fill(7);
const STREAM = 'edca-test';
const PROPOSER = { modelId: 'edca-test', promptTemplateDigest: digestValue('edca test') };
// Approver keys are trusted from long before any case's time.
const TRUST_FROM = '2000-01-01T00:00:00Z';

/**
 * Decides every case of `suites` through a real kernel on `map` and reports each verdict, rule
 * and reasons against what the case expects, with the parts of the map no case reached.
 * @throws PolicyError SUITE_MAP_MISMATCH when a suite names another map; TEST_KERNEL_FAILED when
 *   the kernel refuses to start on the map
 * @example const report = await runTests(map, [parseSuite(text, 'map.tests.yaml')]);
 */
export async function runTests(map: CompiledMap, suites: readonly TestSuite[]): Promise<TestReport> {
  for (const s of suites)
    if (s.map !== map.name)
      throw new PolicyError(
        'SUITE_MAP_MISMATCH',
        `${s.file}: the suite is for map '${s.map}', not '${map.name}'`,
      );
  const signer = createNodeSigner(generateKeyPair().privateKeyPem);
  const approvers = new Map<string, Signer[]>();
  const approver = (role: string, n: number): Signer => {
    const list = approvers.get(role) ?? [];
    approvers.set(role, list);
    while (list.length <= n) list.push(createNodeSigner(generateKeyPair().privateKeyPem));
    return list[n]!;
  };
  const reached = new Set<string>();
  const cases: TestCaseResult[] = [];
  for (const suite of suites)
    for (const c of suite.cases) cases.push(await runCase(map, c, signer, approver, reached));

  const items = coverageItems(map);
  const passed = cases.filter((c) => c.passed).length;
  return testReportSchema.parse({
    report: REPORT_FORMAT,
    map: { name: map.name, version: map.version, digest: map.digest },
    suites: suites.map((s) => ({ file: s.file, digest: s.digest, cases: s.cases.length })),
    cases,
    summary: { cases: cases.length, passed, failed: cases.length - passed },
    coverage: {
      items: items.length,
      reached: items.filter((i) => reached.has(i.id)).length,
      unreached: items.filter((i) => !reached.has(i.id)),
    },
  });
}

async function runCase(
  map: CompiledMap,
  c: TestCase,
  signer: Signer,
  approver: (role: string, n: number) => Signer,
  reached: Set<string>,
): Promise<TestCaseResult> {
  const notes: string[] = [];
  const at = Date.parse(c.time ?? DEFAULT_TEST_TIME);
  const now = toRfc3339(at);
  const intent = map.intent(c.proposal.intent);
  const limitKeys = new Set(intent?.limits.map((l) => l.key) ?? []);
  for (const key of Object.keys(c.counters))
    if (!limitKeys.has(key))
      notes.push(`counters.${key}: intent '${c.proposal.intent}' has no limit with this key`);

  const roles = new Map<string, number>();
  const signers = c.approvals.map((role) => {
    const n = roles.get(role) ?? 0;
    roles.set(role, n + 1);
    return { role, signer: approver(role, n) };
  });
  const trust: TrustFile = {
    version: 1,
    keys: signers.map((s, i) =>
      trustedKeyFor(s.signer.publicKey, s.role, TRUST_FROM, { name: `approver-${i + 1}` }),
    ),
  };
  const journal = openMemoryJournal({ stream: STREAM, signer });
  const store = seededStore(createMemoryStore(), c.counters);
  const records = structuredClone(c.records) as Record<string, unknown>;
  const handlers = Object.fromEntries(
    Object.values(map.document.routes ?? {}).map((r) => [
      r.handler,
      () => Promise.reject(new Error('edca test decides; it never executes')),
    ]),
  );
  let kernel: Kernel;
  try {
    kernel = await createKernel({
      maps: [map],
      loaders: { [map.name]: () => Promise.resolve(structuredClone(records)) },
      refKey: REF_KEY,
      signer,
      journal,
      clock: { now: () => at },
      handlers,
      store,
      trust,
    });
  } catch (err) {
    throw new PolicyError(
      'TEST_KERNEL_FAILED',
      `the kernel refused to start on ${map.name}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  try {
    const session = { stream: STREAM, session: `case-${c.line}-${c.col}` };
    const params: Record<string, JsonValue> = { ...c.proposal.params };
    // Ref params the case leaves out get the ref the kernel's own ARP layer issues for the entity.
    const refParams = Object.entries(intent?.params ?? {}).filter(
      ([p, spec]) => spec.kind === 'ref' && !(p in params),
    );
    if (refParams.length > 0) {
      const view = kernel.arps.get(map.name)!.project(records, session, map.usesTime ? { now } : undefined);
      if (!view.ok) notes.push(`no refs issued: the view was refused (${view.code})`);
      else
        for (const [p, spec] of refParams) {
          const ref = spec.kind === 'ref' ? view.value.entities[spec.entity] : undefined;
          if (ref !== undefined) params[p] = ref;
          else notes.push(`params.${p}: no ${spec.kind === 'ref' ? spec.entity : ''} entity in the records`);
        }
    }
    const context: DecideContext = {
      session,
      principal: { id: c.principal.id, attributes: { ...c.principal.attributes } },
      proposer: PROPOSER,
    };
    let decision = await kernel.decide({ intent: c.proposal.intent, params }, context);
    decision = await approve(kernel, decision, signers, now, notes);

    // Coverage from what the kernel journaled: each decision the map evaluated, and the rules
    // behind the state it evaluated on.
    let explained: ReturnType<CompiledMap['explainDerive']> | undefined;
    for (const appended of journal.records) {
      if (appended.record.type !== 'decision') continue;
      const body = appended.record.body as { input?: DecisionInput | null; rule: string; reasons: string[] };
      if (body.input === null || body.input === undefined || body.input.policyDigest !== map.digest) continue;
      // The kernel's own refusals (`kernel.route`, `kernel.derive`, …) come before the map decides.
      if (body.rule.startsWith('kernel.')) continue;
      markDecision(map, body.input, body, reached);
      explained ??= map.explainDerive(records, map.usesTime ? { now } : undefined);
      if (!explained.ok || explained.stateHash !== map.stateHash(body.input.state))
        throw new Error('invariant: explainDerive disagrees with the state the map decided on');
      for (const id of Object.values(explained.matched)) reached.add(id);
    }

    const actual = { verdict: decision.verdict, rule: decision.rule, reasons: [...decision.reasons] };
    const e = c.expect;
    const passed =
      notes.filter((n) => n.startsWith('counters.')).length === 0 &&
      actual.verdict === e.verdict &&
      (e.rule === undefined || e.rule === actual.rule) &&
      (e.reasons === undefined ||
        (e.reasons.length === actual.reasons.length && e.reasons.every((r, i) => r === actual.reasons[i])));
    return {
      suite: c.file,
      name: c.name,
      line: c.line,
      col: c.col,
      passed,
      expected: {
        verdict: e.verdict,
        ...(e.rule === undefined ? {} : { rule: e.rule }),
        ...(e.reasons === undefined ? {} : { reasons: [...e.reasons] }),
      },
      actual,
      notes,
    };
  } finally {
    await kernel.close();
    await journal.close();
  }
}

/** Signs one approval per approver on an escalation and returns the kernel's decision after them. */
async function approve(
  kernel: Kernel,
  decision: Decision,
  signers: readonly { role: string; signer: Signer }[],
  at: string,
  notes: string[],
): Promise<Decision> {
  if (signers.length === 0) return decision;
  if (decision.verdict !== 'escalate' || decision.approval === undefined || decision.actionHash === null) {
    notes.push(`approvals unused: the decision is ${decision.verdict}, not an escalation`);
    return decision;
  }
  let current = decision;
  for (const { role, signer } of signers) {
    const signed = await signApproval(
      {
        domain: 'edca-approval-v1',
        decision: decision.approval.id,
        actionHash: decision.actionHash,
        verdict: 'approve',
        approver: { kid: signer.kid, role },
        at,
      },
      signer,
    );
    const r = await kernel.approve(signed);
    if (r.status === 'refused') notes.push(`approval by a ${role} refused: ${r.code}`);
    else if (r.status === 'decided') current = r.decision;
  }
  return current;
}

/**
 * The kernel's store with usage already on some limit keys: the first time the kernel reads a
 * counter of a seeded key (`<limit key>|<scope>|<window>`), the usage is reserved and settled
 * through the store's own API, so the kernel reads and reserves against real usage.
 */
function seededStore(inner: KernelStore, seeds: Readonly<Record<string, number>>): KernelStore {
  const seeded = new Set<string>();
  return {
    ...inner,
    async usage(counter, now) {
      const key = counter.slice(0, counter.indexOf('|'));
      const amount = seeds[key];
      if (amount !== undefined && amount > 0 && !seeded.has(counter)) {
        seeded.add(counter);
        const id = `edca-test-seed|${counter}`;
        const r = await inner.reserve([{ id, counter, amount, max: amount, holdUntil: now + 1 }], now);
        if (!r.ok) throw new Error(`invariant: seeding ${counter} was refused`);
        await inner.settle(id);
      }
      return inner.usage(counter, now);
    },
  };
}
