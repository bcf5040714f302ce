/**
 * Expected-decision test suites: YAML files beside a state map (`<map>.tests.yaml`), each a list of
 * cases that give the business records, principal, approvals, counters and time a decision reads,
 * a proposal, and the verdict, rule and reason codes it must get. Fixtures are shared between cases.
 * The format is documented in docs/policy-lifecycle.md ("Test suites").
 */
import { digestBytes, type Digest, type JsonValue } from '@edca/records';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { PolicyError } from './errors.js';

/** The format marker every suite starts with. */
export const SUITE_FORMAT = 'edca-tests/v1';

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected a fixture name (letters, digits, _ . -)');
// One printable line: a case name is printed in reports and terminals.
const caseName = z
  .string()
  .min(1)
  .max(200)
  .refine((s) => !/\p{Cc}/u.test(s), 'expected one line without control characters');
const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/, 'expected RFC 3339 UTC (…Z)')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid instant');
const json: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(json), z.record(z.string(), json)]),
);
/** `{ <source>: { <FIELD>: value } }`: whole records, or the fields a case changes. */
const recordsObject = z.record(z.string(), z.record(z.string(), json));
/** A fixture name, inline records, or a list of both merged in order (later fields win). */
const recordsSpec = z.union([
  name,
  recordsObject,
  z
    .array(z.union([name, recordsObject]))
    .min(1)
    .max(32),
]);
const principal = z.strictObject({
  id: z.string().min(1).max(256),
  attributes: z.record(z.string(), json).default({}),
});
const principalSpec = z.union([name, principal]);
const role = z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/, 'expected a trust-file role');

const caseSchema = z.strictObject({
  name: caseName,
  records: recordsSpec.optional(),
  principal: principalSpec.optional(),
  /** One role per approver: each entry is a distinct key with that role signing an approval. */
  approvals: z.array(role).max(32).default([]),
  /** Usage already on each limit key of the intent, seeded into the store before deciding. */
  counters: z.record(z.string(), z.number().nonnegative().max(Number.MAX_SAFE_INTEGER)).default({}),
  time: instant.optional(),
  propose: z.strictObject({
    intent: z.string().min(1).max(128),
    params: z.record(z.string(), json).default({}),
  }),
  expect: z.strictObject({
    verdict: z.enum(['permit', 'refuse', 'escalate']),
    rule: z.string().min(1).max(512).optional(),
    reasons: z
      .array(z.string().regex(/^[A-Z][A-Z0-9_]*$/))
      .max(16)
      .optional(),
  }),
});

/** The zod schema of a suite file. */
export const suiteSchema = z.strictObject({
  edca: z.literal(SUITE_FORMAT),
  /** The map's `name`; the suite is refused for any other map. */
  map: z.string().min(1).max(256),
  description: z.string().max(2000).optional(),
  fixtures: z
    .strictObject({
      records: z.record(name, recordsSpec).default({}),
      principals: z.record(name, principal).default({}),
    })
    .default({ records: {}, principals: {} }),
  defaults: z
    .strictObject({
      records: recordsSpec.optional(),
      principal: principalSpec.optional(),
      time: instant.optional(),
    })
    .default({}),
  cases: z.array(caseSchema).min(1).max(10_000),
});

/** One case, resolved: fixtures merged, defaults applied, with its place in the suite file. */
export interface TestCase {
  readonly name: string;
  /** The suite's display name (see {@link TestSuite.file}). */
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly records: Readonly<Record<string, Readonly<Record<string, JsonValue>>>>;
  readonly principal: { readonly id: string; readonly attributes: Readonly<Record<string, JsonValue>> };
  readonly approvals: readonly string[];
  readonly counters: Readonly<Record<string, number>>;
  readonly time: string | undefined;
  readonly proposal: { readonly intent: string; readonly params: Readonly<Record<string, JsonValue>> };
  readonly expect: {
    readonly verdict: 'permit' | 'refuse' | 'escalate';
    readonly rule?: string;
    readonly reasons?: readonly string[];
  };
}

/** A parsed suite file. */
export interface TestSuite {
  /** How the suite is named in reports: a path relative to the map's folder, `/`-separated. */
  readonly file: string;
  /** `sha256:` of the file's bytes: the report binds the exact suites that ran. */
  readonly digest: Digest;
  readonly map: string;
  readonly cases: readonly TestCase[];
}

const DEFAULT_PRINCIPAL = { id: 'edca-test', attributes: {} } as const;

function position(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
): { line: number; col: number } {
  // The deepest node that exists on the path: a missing key is reported where its parent is.
  for (let n = path.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as Node | null | undefined;
    if (node !== null && node !== undefined && typeof node === 'object' && 'range' in node && node.range) {
      const p = lines.linePos(node.range[0]);
      return { line: p.line, col: p.col };
    }
  }
  return { line: 1, col: 1 };
}

/**
 * Parses and checks one suite file and resolves its cases (fixtures merged, defaults applied).
 * @throws PolicyError SUITE_INVALID (the message starts with `file:line:col`)
 * @example const suite = parseSuite(readFileSync(path, 'utf8'), 'refunds.tests.yaml');
 */
export function parseSuite(text: string, file: string): TestSuite {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const invalid = (path: readonly PropertyKey[], message: string): PolicyError => {
    const p = position(doc, lines, path);
    return new PolicyError('SUITE_INVALID', `${file}:${p.line}:${p.col}: ${message}`);
  };
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const p = lines.linePos(syntax.pos[0]);
    throw new PolicyError('SUITE_INVALID', `${file}:${p.line}:${p.col}: not YAML: ${syntax.message}`);
  }
  const parsed = suiteSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length === 0 ? '(document)' : issue.path.map(String).join('.');
    throw invalid(issue.path, `${where}: ${issue.message}`);
  }
  const s = parsed.data;

  const resolving = new Set<string>();
  const resolvedFixtures = new Map<string, Record<string, Record<string, JsonValue>>>();
  const resolveRecords = (
    spec: z.infer<typeof recordsSpec>,
    at: readonly PropertyKey[],
  ): Record<string, Record<string, JsonValue>> => {
    const parts = Array.isArray(spec) ? spec : [spec];
    const out: Record<string, Record<string, JsonValue>> = {};
    for (const part of parts) {
      const records = typeof part === 'string' ? fixture(part, at) : part;
      for (const [source, fields] of Object.entries(records)) out[source] = { ...out[source], ...fields };
    }
    return out;
  };
  const fixture = (
    fixtureName: string,
    at: readonly PropertyKey[],
  ): Record<string, Record<string, JsonValue>> => {
    const done = resolvedFixtures.get(fixtureName);
    if (done !== undefined) return done;
    const spec = s.fixtures.records[fixtureName];
    if (spec === undefined) throw invalid(at, `no records fixture '${fixtureName}' in fixtures.records`);
    if (resolving.has(fixtureName)) throw invalid(at, `records fixture '${fixtureName}' refers to itself`);
    resolving.add(fixtureName);
    const value = resolveRecords(spec, ['fixtures', 'records', fixtureName]);
    resolving.delete(fixtureName);
    resolvedFixtures.set(fixtureName, value);
    return value;
  };
  const resolvePrincipal = (
    spec: z.infer<typeof principalSpec>,
    at: readonly PropertyKey[],
  ): TestCase['principal'] => {
    if (typeof spec !== 'string') return spec;
    const p = s.fixtures.principals[spec];
    if (p === undefined) throw invalid(at, `no principal '${spec}' in fixtures.principals`);
    return p;
  };

  const cases: TestCase[] = [];
  const names = new Set<string>();
  s.cases.forEach((c, i) => {
    const at = ['cases', i];
    if (names.has(c.name)) throw invalid([...at, 'name'], `a second case named '${c.name}'`);
    names.add(c.name);
    const recordsSpecOf = c.records ?? s.defaults.records;
    const principalSpecOf = c.principal ?? s.defaults.principal;
    const p = position(doc, lines, at);
    cases.push({
      name: c.name,
      file,
      line: p.line,
      col: p.col,
      records:
        recordsSpecOf === undefined
          ? {}
          : resolveRecords(
              recordsSpecOf,
              c.records === undefined ? ['defaults', 'records'] : [...at, 'records'],
            ),
      principal:
        principalSpecOf === undefined
          ? DEFAULT_PRINCIPAL
          : resolvePrincipal(
              principalSpecOf,
              c.principal === undefined ? ['defaults', 'principal'] : [...at, 'principal'],
            ),
      approvals: c.approvals,
      counters: c.counters,
      time: c.time ?? s.defaults.time,
      proposal: { intent: c.propose.intent, params: c.propose.params },
      expect: {
        verdict: c.expect.verdict,
        ...(c.expect.rule === undefined ? {} : { rule: c.expect.rule }),
        ...(c.expect.reasons === undefined ? {} : { reasons: c.expect.reasons }),
      },
    });
  });
  if (!isMap(doc.contents) || !isSeq(doc.get('cases', true)))
    throw invalid([], 'expected a mapping with cases');
  return { file, digest: digestBytes(new TextEncoder().encode(text)), map: s.map, cases };
}
