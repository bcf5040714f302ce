import type { CelResult } from '@bufbuild/cel';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { digestValue, type Digest, type JsonValue } from '@edca/records';
import { z } from 'zod';
import type { DeriveCode, ReasonCode } from '../errors.js';
import type {
  AbstractState,
  CompiledIntent,
  CompiledLimit,
  CompiledMachine,
  CompiledMap,
  DecisionInput,
  DecisionResult,
  DeriveOptions,
  DeriveResult,
  ExplainedDerive,
  ParamSpec,
} from '../types.js';
import { isRfc3339, type CheckedCondition } from './cel-check.js';
import { coverageWarnings } from './coverage.js';
import { fastPath, planCondition } from './fast-path.js';
import { durationMs, pathToString, type RawDiagnostic } from './diagnostics.js';
import {
  DEFAULT_STRING_LENGTH,
  stateMapSchema,
  type FacetSource,
  type SourceField,
  type StateMapDocument,
} from './schema.js';
import { aggregateOp, resolveFieldPath, schemaDiagnostics, validateDocument } from './validate.js';

type Bindings = Record<string, unknown>;
type Condition = {
  readonly path: string;
  readonly run: (b: Bindings) => CelResult;
  readonly names: ReadonlyMap<string, unknown>;
};

// One CEL environment for every condition: names are flat, qualified variables (`payment.amount_cents`,
// `facets.band`), bound per call. The standard library is the only function set: no clock, no randomness.

/** Compiles a schema-valid, semantically valid document; returns every diagnostic otherwise. */
export function compileDocument(
  input: unknown,
): { ok: true; map: CompiledMap; warnings: RawDiagnostic[] } | { ok: false; diagnostics: RawDiagnostic[] } {
  const parsed = stateMapSchema.safeParse(input);
  if (!parsed.success) return { ok: false, diagnostics: schemaDiagnostics(parsed.error) };
  const doc = parsed.data;
  const v = validateDocument(doc);
  const errors = v.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { ok: false, diagnostics: v.diagnostics };
  return {
    ok: true,
    map: new Compiled(doc, v.conditions),
    warnings: [...v.diagnostics, ...coverageWarnings(doc, v.conditions)],
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

type FieldSpec = SourceField;

const nullable = (f: FieldSpec): boolean => f.nullable === true || f.optional === true;

/**
 * Converts a checked field value into what CEL reads: integers become bigints (CEL `int`),
 * timestamps `google.protobuf.Timestamp`, objects fresh plain objects of their declared fields
 * only (CEL maps), lists arrays (CEL lists); null and an absent optional field become `null`.
 */
function converter(f: FieldSpec): (v: unknown) => unknown {
  const base = ((): ((v: unknown) => unknown) => {
    switch (f.type) {
      case 'string':
      case 'enum':
      case 'boolean':
      case 'number':
        return (v) => v;
      case 'integer':
        return (v) => BigInt(v as number);
      case 'timestamp':
        return (v) => timestampFromDate(new Date(v as string));
      case 'object': {
        const subs = Object.entries(f.fields).map(([n, sub]) => [n, converter(sub)] as const);
        return (v) => {
          const o: Record<string, unknown> = {};
          for (const [n, c] of subs) o[n] = c((v as Record<string, unknown>)[n]);
          return o;
        };
      }
      case 'list': {
        const c = converter(f.items);
        return (v) => (v as unknown[]).map(c);
      }
    }
  })();
  return nullable(f) ? (v) => (v === null || v === undefined ? null : base(v)) : base;
}

const isPlainRecord = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * The values a source field's zod schema surely accepts, decided without zod (a row is checked on
 * every decision). `false` means "ask zod", never "refuse": timestamps always ask zod.
 */
function acceptsField(f: FieldSpec): (v: unknown) => boolean {
  const base = ((): ((v: unknown) => boolean) => {
    switch (f.type) {
      case 'string': {
        // UTF-16 length bounds the code point count from above, whichever zod counts.
        const max = f.max_length ?? DEFAULT_STRING_LENGTH;
        return (v) => typeof v === 'string' && v.length <= max;
      }
      case 'integer':
        return (v) => Number.isSafeInteger(v);
      case 'number':
        return (v) => typeof v === 'number' && Number.isFinite(v);
      case 'boolean':
        return (v) => typeof v === 'boolean';
      case 'enum': {
        const values = new Set<unknown>(f.values);
        return (v) => typeof v === 'string' && values.has(v);
      }
      case 'timestamp':
        return () => false;
      case 'object': {
        const subs = Object.entries(f.fields).map(([n, sub]) => [n, acceptsField(sub)] as const);
        return (v) => {
          if (!isPlainRecord(v)) return false;
          for (const [n, check] of subs) if (!check(v[n])) return false;
          return true;
        };
      }
      case 'list': {
        const max = f.max_items;
        const item = acceptsField(f.items);
        return (v) => Array.isArray(v) && v.length <= max && v.every((x) => item(x));
      }
    }
  })();
  const orNull = f.nullable === true;
  const orAbsent = f.optional === true;
  if (!orNull && !orAbsent) return base;
  return (v) => (v === null ? orNull : v === undefined ? orAbsent : base(v));
}

/** The zod schema of one declared field (extra keys of objects are ignored, never read). */
function fieldZod(f: FieldSpec): z.ZodType {
  let t: z.ZodType;
  switch (f.type) {
    case 'string':
      t = z.string().max(f.max_length ?? DEFAULT_STRING_LENGTH);
      break;
    case 'integer':
      t = z.int();
      break;
    case 'number':
      t = z.number();
      break;
    case 'boolean':
      t = z.boolean();
      break;
    case 'timestamp':
      t = z.iso.datetime({ offset: true });
      break;
    case 'enum':
      t = z.enum(f.values as [string, ...string[]]);
      break;
    case 'object':
      t = z.object(Object.fromEntries(Object.entries(f.fields).map(([n, sub]) => [n, fieldZod(sub)])));
      break;
    case 'list':
      t = z.array(fieldZod(f.items)).max(f.max_items);
      break;
  }
  if (f.nullable === true) t = t.nullable();
  if (f.optional === true) t = t.optional();
  return t;
}

/**
 * The first list longer than its `max_items` in a value (path segments), found before zod parses
 * anything, so an oversized list is refused without walking its items.
 */
function tooLong(f: FieldSpec, v: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (f.type === 'list' && Array.isArray(v)) {
    if (v.length > f.max_items) return path;
    for (let i = 0; i < v.length; i++) {
      const hit = tooLong(f.items, v[i], [...path, i]);
      if (hit !== undefined) return hit;
    }
  } else if (f.type === 'object' && isPlainRecord(v)) {
    for (const [n, sub] of Object.entries(f.fields)) {
      const hit = tooLong(sub, v[n], [...path, n]);
      if (hit !== undefined) return hit;
    }
  }
  return undefined;
}

/** `TXNS[3].AMT_PENCE` */
function showPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path)
    out += typeof seg === 'number' ? `[${seg}]` : `${out === '' ? '' : '.'}${String(seg)}`;
  return out;
}

/**
 * The zod schema of a source's rows, and the hand-written check that only ever accepts rows the
 * schema accepts (internal; test/source-check.test.ts checks the implication).
 */
export function sourceChecks(fields: Readonly<Record<string, FieldSpec>>): {
  readonly schema: z.ZodType;
  readonly accepts: (row: object) => boolean;
} {
  const shape: Record<string, z.ZodType> = {};
  for (const [fname, f] of Object.entries(fields)) shape[fname] = fieldZod(f);
  const checks = Object.entries(fields).map(([fname, f]) => [fname, acceptsField(f)] as const);
  const accepts = (row: object): boolean => {
    const proto: unknown = Object.getPrototypeOf(row);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const [fname, check] of checks) if (!check((row as Record<string, unknown>)[fname])) return false;
    return true;
  };
  return { schema: z.object(shape), accepts };
}

interface CompiledSource {
  readonly name: string;
  readonly schema: z.ZodType;
  /**
   * A hand-written check that only ever accepts rows `schema` accepts (test/source-check.test.ts);
   * when it does not accept, `schema` decides and names the refusal.
   */
  readonly accepts: (row: object) => boolean;
  readonly fields: readonly {
    readonly name: string;
    readonly key: string;
    readonly spec: FieldSpec;
    readonly convert: (v: unknown) => unknown;
  }[];
}

/** A banded facet's number: a scalar field (maybe nested), or an aggregate of a list's items. */
interface NumberSource {
  /** The binding of the source's top-level field (`account.TXNS`), then nested object fields. */
  readonly key: string;
  readonly rest: readonly string[];
  readonly aggregate?: {
    readonly op: 'count' | 'size' | 'sum' | 'max' | 'min';
    /** Field path inside an item (empty: the item itself). */
    readonly inner: readonly string[];
    readonly where: Condition | undefined;
    /** The item's fields as `where` reads them (`item.TYPE_CD`); undefined: the item is `item`. */
    readonly itemKeys: readonly (readonly [string, string])[] | undefined;
    readonly windowMs: number | undefined;
    readonly at: readonly string[] | undefined;
  };
}

type RuleSet<V extends string> = {
  readonly path: string;
  readonly rules: readonly { readonly cond: Condition | undefined; readonly value: string }[];
  readonly fallback: string | undefined;
  readonly noMatch: V;
};

interface RuntimeIntent extends CompiledIntent {
  readonly guard: Condition | undefined;
  readonly allowedWhen: Condition | undefined;
  readonly escalateWhen: Condition | undefined;
  readonly paramKinds: readonly (readonly [string, ParamSpec['kind']])[];
  readonly attrsRead: readonly string[];
}

const INTENTS_MEMO_MAX = 4096;
const STATE_MEMO_MAX = 4096;
// What a map accepts as the value of a `ref` parameter: a short token. Not arp's `REF_PATTERN`, the
// shape of the opaque refs a model is shown.
const REF_PARAM_PATTERN = /^[A-Za-z0-9_.:~-]{1,200}$/;

function paramSpec(p: NonNullable<StateMapDocument['intents'][string]['params']>[string]): ParamSpec {
  const d = p.description === undefined ? {} : { description: p.description };
  if ('ref' in p) return { kind: 'ref', entity: p.ref, ...d };
  switch (p.type) {
    case 'string':
      return {
        kind: 'string',
        maxLength: p.max_length ?? 500,
        ...d,
        ...(p.enum ? { enum: p.enum } : {}),
        ...(p.pattern !== undefined ? { pattern: p.pattern } : {}),
      };
    case 'integer':
    case 'number':
      return {
        kind: p.type,
        ...d,
        ...(p.minimum !== undefined ? { minimum: p.minimum } : {}),
        ...(p.maximum !== undefined ? { maximum: p.maximum } : {}),
        ...('multiple_of' in p && p.multiple_of !== undefined ? { multipleOf: p.multiple_of } : {}),
      };
    case 'boolean':
      return { kind: 'boolean', ...d };
  }
}

function paramZod(spec: ParamSpec): z.ZodType {
  switch (spec.kind) {
    case 'ref':
      return z.string().regex(REF_PARAM_PATTERN);
    case 'string': {
      if (spec.enum) return z.enum(spec.enum as [string, ...string[]]);
      // The length check aborts first: the map's pattern never runs on an over-long string.
      let s = z.string().max(spec.maxLength, { abort: true });
      if (spec.pattern !== undefined) s = s.regex(new RegExp(`^(?:${spec.pattern})$`, 'u'));
      return s;
    }
    case 'integer':
    case 'number': {
      let n = spec.kind === 'integer' ? z.int() : z.number();
      if (spec.minimum !== undefined) n = n.min(spec.minimum);
      if (spec.maximum !== undefined) n = n.max(spec.maximum);
      if (spec.multipleOf !== undefined) n = n.multipleOf(spec.multipleOf);
      return n;
    }
    case 'boolean':
      return z.boolean();
  }
}

class Compiled implements CompiledMap {
  readonly name: string;
  readonly version: string;
  readonly owner: string;
  readonly digest: Digest;
  readonly document: StateMapDocument;
  readonly intentNames: readonly string[];
  readonly facetValues: Readonly<Record<string, readonly string[]>>;
  readonly machines: readonly CompiledMachine[];
  readonly privateVocabulary: readonly string[];
  readonly usesTime: boolean;
  readonly #hashMemo = new Map<string, { readonly state: AbstractState; readonly stateHash: Digest }>();
  readonly #intentsMemo = new Map<
    string,
    { readonly allowed: readonly string[]; readonly escalating: readonly string[] }
  >();
  readonly #sources: readonly CompiledSource[];
  /** The CEL bindings of `#derive`, reused by every call (see there). */
  readonly #bindings: Bindings = {};
  /** Some facet counts items in a time window: only then does derive read its `now`. */
  readonly #countsInWindows: boolean;
  readonly #facets: readonly (
    | (RuleSet<'FACET_NO_MATCH'> & { readonly name: string; readonly kind: 'rules' })
    | {
        readonly name: string;
        readonly kind: 'bands';
        readonly path: string;
        readonly from: NumberSource;
        readonly bands: readonly { below: number; value: string }[];
        readonly fallback: string | undefined;
      }
  )[];
  readonly #machineRules: readonly (RuleSet<'MACHINE_NO_MATCH'> & {
    readonly name: string;
    readonly initial: string;
  })[];
  readonly #intents: ReadonlyMap<string, RuntimeIntent>;
  /** Per facet and machine: its name, its CEL binding name and its closed set, in declared order. */
  readonly #stateSlots: {
    facets: readonly (readonly [string, string, ReadonlySet<string>])[];
    machines: readonly (readonly [string, string, ReadonlySet<string>])[];
  };

  constructor(doc: StateMapDocument, checked: ReadonlyMap<string, CheckedCondition>) {
    // The digest covers the validated document with defaults filled in, canonicalized (RFC 8785):
    // key order, comments and formatting of the source text do not reach it.
    const canonical = JSON.parse(JSON.stringify(doc)) as StateMapDocument;
    this.document = deepFreeze(canonical);
    this.digest = digestValue(canonical);
    this.name = doc.name;
    this.version = doc.version;
    this.owner = doc.owner;
    this.usesTime = doc.time;

    const cond = (path: readonly (string | number)[], text: string | undefined): Condition | undefined => {
      if (text === undefined) return undefined;
      const c = checked.get(path.map(String).join('\u0000'));
      if (c?.parsed === undefined)
        throw new Error(`invariant: condition at ${path.join('.')} was not checked`);
      if (c.constant === true) return undefined;
      const planned = planCondition(c);
      return {
        path: pathToString(path),
        run: fastPath(planned.expr, planned.names, planned.planned) ?? planned.planned,
        names: c.names,
      };
    };

    const numberSource = (from: FacetSource, at: readonly string[]): NumberSource => {
      const [op, path] = typeof from === 'string' ? [undefined, from] : aggregateOp(from);
      const r = resolveFieldPath(doc, path);
      if (!r.ok) throw new Error(`invariant: ${path} was validated`);
      const [top, ...rest] = r.outer;
      const key = `${r.source}.${top!}`;
      if (op === undefined || typeof from === 'string') return { key, rest };
      const opts: { where?: string | undefined; within?: string | undefined; at?: string | undefined } =
        'size' in from ? {} : from;
      return {
        key,
        rest,
        aggregate: {
          op,
          inner: r.inner ?? [],
          where: cond([...at, 'where'], opts.where),
          itemKeys:
            r.list!.items.type === 'object' && r.list!.items.nullable !== true
              ? Object.keys(r.list!.items.fields).map((n) => [n, `item.${n}`] as const)
              : undefined,
          windowMs: opts.within === undefined ? undefined : isoDurationMs(opts.within),
          at: opts.at?.split('.'),
        },
      };
    };

    this.#sources = Object.entries(doc.sources).map(([sname, s]) => {
      const fields = Object.entries(s.fields).map(([fname, f]) => {
        return { name: fname, key: `${sname}.${fname}`, spec: f, convert: converter(f) };
      });
      return { name: sname, ...sourceChecks(s.fields), fields };
    });

    this.#facets = Object.entries(doc.facets).map(([fname, f]) => {
      if (f.rules !== undefined) {
        return {
          name: fname,
          kind: 'rules' as const,
          path: `facets.${fname}`,
          rules: f.rules.map((r, i) => ({
            cond: cond(['facets', fname, 'rules', i, 'when'], r.when),
            value: r.value,
          })),
          fallback: f.default,
          noMatch: 'FACET_NO_MATCH' as const,
        };
      }
      return {
        name: fname,
        kind: 'bands' as const,
        path: `facets.${fname}`,
        from: numberSource(f.from!, ['facets', fname, 'from']),
        bands: f.bands!.map((b) => ({ below: b.below ?? Infinity, value: b.value })),
        fallback: f.default,
      };
    });
    this.#countsInWindows = this.#facets.some(
      (f) => f.kind === 'bands' && f.from.aggregate?.windowMs !== undefined,
    );
    this.#machineRules = Object.entries(doc.machines).map(([mname, m]) => ({
      name: mname,
      initial: m.initial,
      path: `machines.${mname}`,
      rules: (m.rules ?? []).map((r, i) => ({
        cond: cond(['machines', mname, 'rules', i, 'when'], r.when),
        value: r.state,
      })),
      fallback: m.rules === undefined ? m.initial : m.default,
      noMatch: 'MACHINE_NO_MATCH' as const,
    }));

    const intents = new Map<string, RuntimeIntent>();
    for (const [iname, i] of Object.entries(doc.intents)) {
      const params: Record<string, ParamSpec> = {};
      const shape: Record<string, z.ZodType> = {};
      for (const [pname, p] of Object.entries(i.params ?? {})) {
        params[pname] = paramSpec(p);
        shape[pname] = paramZod(params[pname]);
      }
      const base = ['intents', iname];
      const allowedWhen = cond([...base, 'allowed_when'], i.allowed_when);
      const escalateWhen = cond([...base, 'escalate_when'], i.escalate_when);
      const guard = cond([...base, 'transition', 'guard'], i.transition?.guard);
      const read = new Set<string>([
        ...(allowedWhen?.names.keys() ?? []),
        ...(escalateWhen?.names.keys() ?? []),
        ...(guard?.names.keys() ?? []),
      ]);
      const limits: CompiledLimit[] = (i.limits ?? []).map((l) => ({
        key: l.key,
        kind: l.kind,
        max: l.max,
        windowMs: durationMs(l.window),
        per: l.per,
        ...(l.amount !== undefined ? { amountParam: l.amount } : {}),
      }));
      const escalation: CompiledIntent['escalation'] =
        i.approvals === undefined
          ? 'never'
          : i.escalate_when === undefined
            ? 'always'
            : escalateWhen === undefined
              ? 'always'
              : 'conditional';
      deepFreeze(params);
      deepFreeze(limits);
      intents.set(
        iname,
        Object.freeze({
          name: iname,
          description: i.description,
          ...(i.machine !== undefined ? { machine: i.machine } : {}),
          from: i.transition?.from ?? [],
          ...(i.transition?.to !== undefined ? { to: i.transition.to } : {}),
          params,
          paramsSchema: z.strictObject(shape) as unknown as z.ZodType<Record<string, JsonValue>>,
          limits,
          accountable: i.accountable ?? doc.owner,
          ...(i.approvals !== undefined
            ? { approvals: { count: i.approvals.count, role: i.approvals.role } }
            : {}),
          escalation,
          ...(i.compensation !== undefined ? { compensation: i.compensation } : {}),
          readsTime: read.has('now'),
          guard,
          allowedWhen,
          escalateWhen,
          paramKinds: Object.entries(params).map(([n, p]) => [n, p.kind] as const),
          attrsRead: [...read]
            .filter((n) => n.startsWith('principal.') && n !== 'principal.id')
            .map((n) => n.slice('principal.'.length)),
        }),
      );
    }
    this.#intents = intents;
    this.intentNames = Object.freeze(Object.keys(doc.intents));
    this.facetValues = deepFreeze(
      Object.fromEntries(Object.entries(doc.facets).map(([n, f]) => [n, [...f.values]])),
    );
    this.#stateSlots = {
      facets: Object.entries(doc.facets).map(([n, f]) => [n, `facets.${n}`, new Set(f.values)] as const),
      machines: Object.entries(doc.machines).map(
        ([n, m]) => [n, `machines.${n}`, new Set(m.states)] as const,
      ),
    };
    this.machines = deepFreeze(
      Object.entries(doc.machines).map(([mname, m]) => ({
        name: mname,
        ...(m.entity !== undefined ? { entity: m.entity } : {}),
        states: [...m.states],
        initial: m.initial,
        terminal: [...(m.terminal ?? [])],
        transitions: Object.entries(doc.intents)
          .filter(([, i]) => i.machine === mname)
          .flatMap(([iname, i]) =>
            i.transition!.from.map((from) => ({
              intent: iname,
              from,
              to: i.transition!.to ?? from,
              guarded: i.transition!.guard !== undefined,
            })),
          ),
      })),
    );
    this.privateVocabulary = Object.freeze(collectVocabulary(doc));
    Object.freeze(this);
  }

  derive(records: Readonly<Record<string, unknown>>, options?: DeriveOptions): DeriveResult {
    return this.#derive(records, options, undefined);
  }

  explainDerive(records: Readonly<Record<string, unknown>>, options?: DeriveOptions): ExplainedDerive {
    const matched: Record<string, string> = {};
    const r = this.#derive(records, options, matched);
    return { ...r, matched: Object.freeze(matched) };
  }

  #derive(
    records: Readonly<Record<string, unknown>>,
    options: DeriveOptions | undefined,
    matched: Record<string, string> | undefined,
  ): DeriveResult {
    if (records === null || typeof records !== 'object') {
      return {
        ok: false,
        code: 'SOURCE_MISSING',
        path: '',
        message: 'records must be an object keyed by source name',
      };
    }
    // Only a time-windowed count with items to count needs `now` (checked where it is needed).
    const now = options?.now;
    // Parsed only for a map that counts in windows (numberOf reads it for nothing else).
    const nowMs =
      this.#countsInWindows && typeof now === 'string' && isRfc3339(now) ? Date.parse(now) : undefined;
    // Every derive sets the same names (each source's fields), so one bindings object serves them
    // all: built afresh it is a dictionary of a few dozen names, grown on every call. Derive is
    // synchronous and the bindings never leave it, so no call sees another's values.
    const b = this.#bindings;
    for (const src of this.#sources) {
      const raw = records[src.name];
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        return {
          ok: false,
          code: 'SOURCE_MISSING',
          path: src.name,
          message: `source '${src.name}' is missing or not an object`,
        };
      }
      if (!src.accepts(raw)) {
        const refused = refusal(src, raw);
        if (refused !== undefined) return refused;
      }
      const row = raw as Record<string, unknown>;
      for (const f of src.fields) b[f.key] = f.convert(row[f.name]);
    }
    const facets: Record<string, string> = {};
    // Values come from closed sets without NUL, in declared order: the key identifies the state.
    let key = '';
    for (const f of this.#facets) {
      if (f.kind === 'bands') {
        const v = numberOf(f.from, b, nowMs);
        if (v === 'time')
          return {
            ok: false,
            code: 'TIME_REQUIRED',
            path: `${f.path}.from.within`,
            message: `facet '${f.name}' counts items in a time window: derive needs \`now\` (RFC 3339)`,
          };
        if (v === 'error')
          return {
            ok: false,
            code: 'CONDITION_ERROR',
            path: `${f.path}.from.where`,
            message: 'the item filter failed at run time',
          };
        let value = f.fallback;
        let band = -1;
        if (v !== undefined) {
          for (let i = 0; i < f.bands.length; i++) {
            if (v < f.bands[i]!.below) {
              value = f.bands[i]!.value;
              band = i;
              break;
            }
          }
        }
        if (value === undefined)
          return {
            ok: false,
            code: 'FACET_NO_MATCH',
            path: f.path,
            message:
              v === undefined
                ? `facet '${f.name}' reads no value (null, or no items) and declares no default`
                : `no band of facet '${f.name}' covers the value`,
          };
        facets[f.name] = value;
        if (matched !== undefined)
          matched[f.path] = band < 0 ? `${f.path}.default` : `${f.path}.bands[${band}]`;
        key += `${value}\u0000`;
        continue;
      }
      const r = runRules(f, b);
      if (!r.ok) return r;
      if (matched !== undefined) matched[f.path] = ruleAt(f.path, r.index);
      facets[f.name] = r.value;
      key += `${r.value}\u0000`;
    }
    const machines: Record<string, string> = {};
    for (const m of this.#machineRules) {
      const r = runRules(m, b);
      if (!r.ok) return r;
      // A machine without rules is always in its initial state: nothing was chosen.
      if (matched !== undefined && m.rules.length > 0) matched[m.path] = ruleAt(m.path, r.index);
      machines[m.name] = r.value;
      key += `${r.value}\u0000`;
    }
    // The state space is finite and states repeat, so the (deeply frozen) state and its hash are
    // memoized (bounded) by the key: the same object comes back for the same state, and records'
    // canonicalize reuses its remembered canonical text in the decision key and the decision record.
    const memo = this.#hashMemo.get(key);
    if (memo !== undefined) return { ok: true, state: memo.state, stateHash: memo.stateHash };
    const state: AbstractState = Object.freeze({
      facets: Object.freeze(facets),
      machines: Object.freeze(machines),
    });
    const stateHash = digestValue(state);
    if (this.#hashMemo.size >= STATE_MEMO_MAX) this.#hashMemo.delete(this.#hashMemo.keys().next().value!);
    this.#hashMemo.set(key, { state, stateHash });
    return { ok: true, state, stateHash };
  }

  stateHash(state: AbstractState): Digest {
    return digestValue({ facets: state.facets, machines: state.machines });
  }

  intentsFor(state: AbstractState): { allowed: string[]; escalating: string[] } {
    const bound = this.#bindState(state);
    if (bound === undefined) return { allowed: [], escalating: [] };
    // The answer depends only on the state, whose values come from closed sets: memoize it
    // (bounded) so a host asking on every turn does not pay for CEL error objects each time.
    let key = '';
    for (const [f] of this.#stateSlots.facets) key += `${state.facets[f]!}\u0000`;
    for (const [m] of this.#stateSlots.machines) key += `${state.machines[m]!}\u0000`;
    const hit = this.#intentsMemo.get(key);
    if (hit !== undefined) return { allowed: [...hit.allowed], escalating: [...hit.escalating] };
    const fresh = this.#computeIntentsFor(state, bound);
    if (this.#intentsMemo.size >= INTENTS_MEMO_MAX)
      this.#intentsMemo.delete(this.#intentsMemo.keys().next().value!);
    this.#intentsMemo.set(key, { allowed: [...fresh.allowed], escalating: [...fresh.escalating] });
    return fresh;
  }

  #computeIntentsFor(state: AbstractState, b: Bindings): { allowed: string[]; escalating: string[] } {
    const allowed: string[] = [];
    const escalating: string[] = [];
    // Conditions run with only the state bound. CEL's logical operators absorb errors from
    // unbound names (`params.x > 1 || true` is true), so a boolean result is decided by the
    // state alone; an error means it depends on params, the principal or time, and the intent
    // stays listed for evaluate() to decide.
    for (const i of this.#intents.values()) {
      if (i.machine !== undefined && !i.from.includes(state.machines[i.machine]!)) continue;
      if (i.guard !== undefined && i.guard.run(b) === false) continue;
      if (i.allowedWhen !== undefined && i.allowedWhen.run(b) === false) continue;
      const certain =
        i.escalation === 'always' || (i.escalation === 'conditional' && i.escalateWhen!.run(b) === true);
      (certain ? escalating : allowed).push(i.name);
    }
    return { allowed, escalating };
  }

  intent(name: string): CompiledIntent | undefined {
    return this.#intents.get(name);
  }

  canTransition(machine: string, from: string, intent: string): boolean {
    const i = this.#intents.get(intent);
    return i !== undefined && i.machine === machine && i.from.includes(from);
  }

  next(machine: string, from: string, intent: string): string | undefined {
    if (!this.canTransition(machine, from, intent)) return undefined;
    return this.#intents.get(intent)!.to ?? from;
  }

  evaluate(input: DecisionInput): DecisionResult {
    const refuse = (rule: string, reason: ReasonCode, accountable = this.owner): DecisionResult => ({
      verdict: 'refuse',
      rule,
      reasons: [reason],
      accountable,
    });
    // The auditor replays inputs read back from a journal: check the envelope before touching it.
    if (!isDecisionInputShape(input)) return refuse('input', 'INPUT_INVALID');
    if (input.policyDigest !== this.digest) return refuse('policy', 'POLICY_DIGEST_MISMATCH');
    const i = this.#intents.get(input.proposal.intent);
    if (i === undefined) return refuse('intents', 'UNKNOWN_INTENT');
    const base = `intents.${i.name}`;
    const acc = i.accountable;
    const b = this.#bindState(input.state);
    if (b === undefined) return refuse('state', 'STATE_INVALID', acc);
    const params = i.paramsSchema.safeParse(input.proposal.params);
    if (!params.success) return refuse(`${base}.params`, 'PARAMS_INVALID', acc);
    for (const [name, kind] of i.paramKinds) {
      const v = input.proposal.params[name];
      if (kind !== 'ref') b[`params.${name}`] = kind === 'integer' ? BigInt(v as number) : v;
    }
    b['principal.id'] = input.principal.id;
    for (const attr of i.attrsRead) {
      const decl = this.document.principal.attributes[attr]!;
      const v = input.principal.attributes[attr];
      const ok =
        decl.type === 'integer'
          ? Number.isSafeInteger(v)
          : decl.type === 'number'
            ? typeof v === 'number'
            : decl.type === 'boolean'
              ? typeof v === 'boolean'
              : typeof v === 'string' && (decl.enum === undefined || decl.enum.includes(v));
      if (!ok) return refuse(`principal.attributes.${attr}`, 'PARAMS_INVALID', acc);
      b[`principal.${attr}`] = decl.type === 'integer' ? BigInt(v as number) : v;
    }
    if (i.readsTime) {
      if (input.now === undefined || !isRfc3339(input.now)) return refuse('now', 'TIME_REQUIRED', acc);
      b.now = timestampFromDate(new Date(input.now));
    }
    if (i.machine !== undefined) {
      if (!i.from.includes(input.state.machines[i.machine]!))
        return refuse(`${base}.transition`, 'TRANSITION_NOT_ALLOWED', acc);
      if (i.guard !== undefined) {
        const g = i.guard.run(b);
        if (g !== true)
          return refuse(i.guard.path, g === false ? 'TRANSITION_NOT_ALLOWED' : 'CONDITION_ERROR', acc);
      }
    }
    if (i.allowedWhen !== undefined) {
      const a = i.allowedWhen.run(b);
      if (a !== true) return refuse(i.allowedWhen.path, a === false ? 'NOT_ALLOWED' : 'CONDITION_ERROR', acc);
    }
    for (const l of i.limits) {
      const used = input.counters[l.key];
      const rule = `${base}.limits[${l.key}]`;
      if (typeof used !== 'number' || !Number.isFinite(used) || used < 0)
        return refuse(rule, 'COUNTER_MISSING', acc);
      const inc = l.kind === 'rate' ? 1 : (input.proposal.params[l.amountParam!] as number);
      if (used + inc > l.max) return refuse(rule, 'LIMIT_EXCEEDED', acc);
    }
    if (i.approvals !== undefined) {
      let needed = i.escalation === 'always';
      if (i.escalation === 'conditional') {
        const e = i.escalateWhen!.run(b);
        if (e !== true && e !== false) return refuse(i.escalateWhen!.path, 'CONDITION_ERROR', acc);
        needed = e;
      }
      if (needed) {
        const approvers = new Set<string>();
        for (const a of input.approvals) if (a.role === i.approvals.role) approvers.add(a.kid);
        const rule = i.escalateWhen?.path ?? `${base}.approvals`;
        if (approvers.size >= i.approvals.count) {
          return {
            verdict: 'permit',
            rule: `${base}.approvals`,
            reasons: ['APPROVALS_MET'],
            accountable: acc,
          };
        }
        return {
          verdict: 'escalate',
          rule,
          reasons: ['APPROVAL_REQUIRED'],
          accountable: acc,
          approvalsRequired: { count: i.approvals.count, role: i.approvals.role },
        };
      }
    }
    return { verdict: 'permit', rule: i.allowedWhen?.path ?? base, reasons: ['ALLOWED'], accountable: acc };
  }

  /**
   * Checks that a state has exactly this map's facets and machines with values from their sets,
   * and returns the CEL bindings for it (`facets.x`, `machines.y`); undefined when it does not fit.
   */
  #bindState(state: AbstractState): Bindings | undefined {
    if (state === null || typeof state !== 'object') return undefined;
    const { facets, machines } = state;
    if (facets === null || typeof facets !== 'object' || machines === null || typeof machines !== 'object') {
      return undefined;
    }
    const b: Bindings = {};
    for (const [name, key, set] of this.#stateSlots.facets) {
      const v = Object.prototype.hasOwnProperty.call(facets, name) ? facets[name] : undefined;
      if (v === undefined || !set.has(v)) return undefined;
      b[key] = v;
    }
    for (const [name, key, set] of this.#stateSlots.machines) {
      const v = Object.prototype.hasOwnProperty.call(machines, name) ? machines[name] : undefined;
      if (v === undefined || !set.has(v)) return undefined;
      b[key] = v;
    }
    let n = 0;
    for (const _ in facets) n++;
    if (n !== this.#stateSlots.facets.length) return undefined;
    n = 0;
    for (const _ in machines) n++;
    return n === this.#stateSlots.machines.length ? b : undefined;
  }
}

/**
 * Why a row the fast check did not accept is refused, or undefined when zod accepts it. Missing
 * beats invalid; an oversized list is named before its items are looked at.
 */
function refusal(
  src: CompiledSource,
  raw: object,
): { ok: false; code: DeriveCode; path: string; message: string } | undefined {
  for (const f of src.fields) {
    const long = tooLong(f.spec, (raw as Record<string, unknown>)[f.name], [f.name]);
    if (long !== undefined) {
      const where = `${src.name}.${showPath(long)}`;
      return {
        ok: false,
        code: 'SOURCE_LIST_TOO_LONG',
        path: where,
        message: `list '${where}' has more items than its max_items`,
      };
    }
  }
  const checked = src.schema.safeParse(raw);
  if (checked.success) return undefined;
  const issue = checked.error.issues[0]!;
  let parent: unknown = raw;
  for (const seg of issue.path.slice(0, -1)) parent = (parent as Record<PropertyKey, unknown>)[seg];
  const last = issue.path[issue.path.length - 1];
  const missing =
    last !== undefined &&
    isPlainObject(parent) &&
    (!Object.prototype.hasOwnProperty.call(parent, last) || parent[last as string] === undefined);
  const where = `${src.name}.${showPath(issue.path)}`;
  return {
    ok: false,
    code: missing ? 'SOURCE_FIELD_MISSING' : 'SOURCE_FIELD_INVALID',
    path: where,
    message: missing ? `field '${where}' is missing` : `field '${where}': ${issue.message}`,
  };
}

/** The value at `path` below `v` (undefined through a null). */
function walk(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const n of path) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string, unknown>)[n];
  }
  return cur === null ? undefined : cur;
}

/** Milliseconds since the epoch of a bound Timestamp. */
function timestampMs(t: unknown): number | undefined {
  if (t === null || t === undefined) return undefined;
  const ts = t as { seconds: bigint; nanos: number };
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
}

/**
 * A banded facet's number: a (nested) field, or an aggregate of a list's items; undefined when
 * there is none (a null on the way, `max`/`min` of no items), `'error'` when the filter errs.
 * Every aggregate is order-insensitive: counts, exact bigint sums, max and min.
 */
function numberOf(
  from: NumberSource,
  b: Bindings,
  nowMs: number | undefined,
): bigint | number | undefined | 'error' | 'time' {
  const target = walk(b[from.key], from.rest);
  const agg = from.aggregate;
  if (agg === undefined) return target as bigint | number | undefined;
  if (target === undefined) return undefined;
  const items = target as readonly unknown[];
  if (agg.windowMs !== undefined && nowMs === undefined && items.length > 0) return 'time';
  let count = 0;
  let sum = 0n;
  let best: bigint | number | undefined;
  try {
    for (const item of items) {
      if (agg.windowMs !== undefined) {
        const t = timestampMs(walk(item, agg.at!));
        if (t === undefined || t > nowMs! || t <= nowMs! - agg.windowMs) continue;
      }
      if (agg.where !== undefined) {
        if (agg.itemKeys === undefined) b.item = item;
        else for (const [n, k] of agg.itemKeys) b[k] = (item as Record<string, unknown>)[n];
        const r = agg.where.run(b);
        if (r === false) continue;
        if (r !== true) return 'error';
      }
      if (agg.op === 'count' || agg.op === 'size') {
        count++;
        continue;
      }
      const v = walk(item, agg.inner) as bigint | number | undefined;
      if (v === undefined) continue;
      if (agg.op === 'sum') sum += v as bigint;
      else if (best === undefined || (agg.op === 'max' ? v > best : v < best)) best = v;
    }
  } finally {
    if (agg.itemKeys === undefined) delete b.item;
    else for (const [, k] of agg.itemKeys) delete b[k];
  }
  return agg.op === 'count' || agg.op === 'size' ? count : agg.op === 'sum' ? sum : best;
}

/** Milliseconds of an ISO 8601 duration of days, hours, minutes and seconds (schema-checked). */
function isoDurationMs(text: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(text)!;
  const [d, h, mi, se] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  return (((d * 24 + h) * 60 + mi) * 60 + se) * 1000;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function isDecisionInputShape(input: unknown): input is DecisionInput {
  if (!isPlainObject(input)) return false;
  const { proposal, principal, approvals, counters, now } = input;
  return (
    typeof input.policyDigest === 'string' &&
    isPlainObject(proposal) &&
    typeof proposal.intent === 'string' &&
    isPlainObject(proposal.params) &&
    isPlainObject(principal) &&
    typeof principal.id === 'string' &&
    isPlainObject(principal.attributes) &&
    Array.isArray(approvals) &&
    approvals.every((a) => isPlainObject(a) && typeof a.kid === 'string' && typeof a.role === 'string') &&
    isPlainObject(counters) &&
    (now === undefined || typeof now === 'string')
  );
}

/** Where a rule set's value came from: `<path>.rules[i]`, or `<path>.default` for index -1. */
function ruleAt(path: string, index: number): string {
  return index < 0 ? `${path}.default` : `${path}.rules[${index}]`;
}

function runRules(
  set: RuleSet<'FACET_NO_MATCH' | 'MACHINE_NO_MATCH'>,
  b: Bindings,
):
  | { ok: true; value: string; index: number }
  | {
      ok: false;
      code: 'FACET_NO_MATCH' | 'MACHINE_NO_MATCH' | 'CONDITION_ERROR';
      path: string;
      message: string;
    } {
  for (let i = 0; i < set.rules.length; i++) {
    const rule = set.rules[i]!;
    if (rule.cond === undefined) return { ok: true, value: rule.value, index: i };
    const r = rule.cond.run(b);
    if (r === true) return { ok: true, value: rule.value, index: i };
    if (r !== false) {
      return {
        ok: false,
        code: 'CONDITION_ERROR',
        path: `${set.path}.rules[${i}].when`,
        message: 'condition failed at run time',
      };
    }
  }
  if (set.fallback !== undefined) return { ok: true, value: set.fallback, index: -1 };
  return {
    ok: false,
    code: set.noMatch,
    path: set.path,
    message: `no rule of '${set.path}' matched and it declares no default`,
  };
}

function collectVocabulary(doc: StateMapDocument): string[] {
  const words = new Set<string>();
  const field = (name: string, f: SourceField): void => {
    words.add(name);
    if (f.type === 'enum') for (const v of f.values) words.add(v);
    if (f.type === 'object') for (const [n, sub] of Object.entries(f.fields)) field(n, sub);
    if (f.type === 'list') itemVocabulary(f.items);
  };
  const itemVocabulary = (f: SourceField): void => {
    if (f.type === 'enum') for (const v of f.values) words.add(v);
    if (f.type === 'object') for (const [n, sub] of Object.entries(f.fields)) field(n, sub);
    if (f.type === 'list') itemVocabulary(f.items);
  };
  for (const [sname, s] of Object.entries(doc.sources)) {
    words.add(sname);
    for (const [fname, f] of Object.entries(s.fields)) field(fname, f);
  }
  for (const e of Object.values(doc.entities)) words.add(e.id);
  for (const r of Object.values(doc.routes)) {
    words.add(r.handler);
    for (const p of Object.values(r.params ?? {})) {
      words.add(p.field);
      for (const v of Object.values(p.values ?? {})) words.add(v);
    }
  }
  return [...words].sort();
}
