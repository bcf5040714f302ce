import type { z } from 'zod';
import { checkCondition, T, type CelT, type CheckEnv, type CheckedCondition } from './cel-check.js';
import type { RawDiagnostic } from './diagnostics.js';
import {
  MAX_FIELD_DEPTH,
  MAX_VALUES_PER_SOURCE,
  type FacetSource,
  type IntentDecl,
  type SourceField,
  type StateMapDocument,
} from './schema.js';
import { didYouMean } from './suggest.js';

type Path = readonly (string | number)[];
type Namespace = CheckEnv['namespaces'] extends ReadonlyMap<string, infer N> ? N : never;

/** Checked conditions, keyed by their path string, so the compiler plans each exactly once. */
export interface Validation {
  readonly diagnostics: RawDiagnostic[];
  readonly conditions: Map<string, CheckedCondition>;
}

const RESERVED = new Set(['facets', 'machines', 'params', 'principal', 'now']);

/** Turns zod issues into SCHEMA_INVALID diagnostics. */
export function schemaDiagnostics(error: z.ZodError): RawDiagnostic[] {
  const out: RawDiagnostic[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          code: 'SCHEMA_INVALID',
          severity: 'error',
          path: [...path, key],
          message: `unknown key '${key}'`,
        });
      }
      continue;
    }
    out.push({ code: 'SCHEMA_INVALID', severity: 'error', path, message: issue.message });
  }
  return out;
}

/** The CEL type a declared field has in conditions (`what` names it in messages). */
export function celTypeOfField(what: string, f: SourceField): CelT {
  const t = ((): CelT => {
    switch (f.type) {
      case 'string':
        return T.string;
      case 'integer':
        return T.int;
      case 'number':
        return T.double;
      case 'boolean':
        return T.bool;
      case 'timestamp':
        return T.timestamp;
      case 'enum':
        return { k: 'string', values: f.values, setName: `source field ${what}` };
      case 'object':
        return {
          k: 'object',
          what: `object ${what}`,
          fields: new Map(
            Object.entries(f.fields).map(([n, sub]) => [n, celTypeOfField(`${what}.${n}`, sub)]),
          ),
        };
      case 'list':
        return { k: 'list', elem: celTypeOfField(`${what}[]`, f.items) };
    }
  })();
  return f.nullable === true || f.optional === true ? { ...t, nullable: true } : t;
}

/** Where a dotted path of a map leads: through objects, at most one list, to a field. */
export type ResolvedPath =
  | {
      readonly ok: true;
      readonly source: string;
      /** Field names from the source down to the list (or to the field, without a list). */
      readonly outer: readonly string[];
      /** Field names inside the list's items, when the path crosses a list. */
      readonly inner: readonly string[] | undefined;
      readonly field: SourceField;
      /** The list crossed (or ended at), if any. */
      readonly list: (SourceField & { type: 'list' }) | undefined;
      /** Whether a field on the way may be null or absent. */
      readonly mayBeNull: boolean;
    }
  | { readonly ok: false; readonly message: string };

/** Resolves `source.field(.nested…)`; a path crossing one list continues inside its items. */
export function resolveFieldPath(doc: StateMapDocument, path: string): ResolvedPath {
  const [source, ...names] = path.split('.');
  const src = doc.sources[source ?? ''];
  if (src === undefined) return { ok: false, message: `no source '${source ?? ''}'` };
  let fields: Record<string, SourceField> | undefined = src.fields;
  let field: SourceField | undefined;
  let list: (SourceField & { type: 'list' }) | undefined;
  const outer: string[] = [];
  let inner: string[] | undefined;
  let mayBeNull = false;
  for (const name of names) {
    field = fields?.[name];
    if (field === undefined) return { ok: false, message: `no field '${name}' at '${path}'` };
    (inner ?? outer).push(name);
    if (field.nullable === true || field.optional === true) mayBeNull = true;
    fields = undefined;
    if (field.type === 'object') fields = field.fields;
    else if (field.type === 'list') {
      if (list !== undefined) return { ok: false, message: `'${path}' crosses two lists` };
      list = field;
      inner = [];
      const items: SourceField = field.items;
      if (items.nullable === true) mayBeNull = true;
      if (items.type === 'object') fields = items.fields;
      else if (items.type === 'list') return { ok: false, message: `'${path}' crosses two lists` };
    }
  }
  if (field === undefined) return { ok: false, message: `'${path}' names no field` };
  return { ok: true, source: source!, outer, inner, field, list, mayBeNull };
}

/** The semantic checks a schema cannot express; every problem is reported, none stops the others. */
export function validateDocument(doc: StateMapDocument): Validation {
  const diagnostics: RawDiagnostic[] = [];
  const conditions = new Map<string, CheckedCondition>();
  const err = (code: RawDiagnostic['code'], path: Path, message: string, offset?: number): void => {
    diagnostics.push(
      offset === undefined
        ? { code, severity: 'error', path, message }
        : { code, severity: 'error', path, message, offset },
    );
  };
  const warn = (path: Path, message: string): void => {
    diagnostics.push({ code: 'RULE_NEVER_MATCHES', severity: 'warning', path, message });
  };
  const noDuplicates = (list: readonly string[] | undefined, path: Path, what: string): void => {
    if (list === undefined) return;
    const seen = new Set<string>();
    list.forEach((v, i) => {
      if (seen.has(v)) err('DUPLICATE_NAME', [...path, i], `${what} '${v}' is declared twice`);
      seen.add(v);
    });
  };
  const check = (text: string | undefined, path: Path, env: CheckEnv): CheckedCondition | undefined => {
    if (text === undefined) return undefined;
    const c = checkCondition(text, env);
    for (const issue of c.issues) err(issue.code, path, issue.message, issue.offset);
    conditions.set(path.map(String).join('\u0000'), c);
    return c;
  };

  // ---- sources and entities
  const sourceVars = new Map<string, CelT>();
  const sourceNamespaces = new Map<string, Namespace>();
  for (const [sname, source] of Object.entries(doc.sources)) {
    if (RESERVED.has(sname))
      err(
        'DUPLICATE_NAME',
        ['sources', sname],
        `source name '${sname}' clashes with the reserved name of a condition namespace`,
      );
    sourceNamespaces.set(sname, { code: 'CONDITION_UNKNOWN_NAME', what: `field of source ${sname}` });
    for (const [fname, field] of Object.entries(source.fields)) {
      sourceVars.set(`${sname}.${fname}`, celTypeOfField(`${sname}.${fname}`, field));
      checkField(field, ['sources', sname, 'fields', fname], 1, 1, err, noDuplicates);
    }
  }
  /** A scalar field outside lists (what bands, display values and free text may read). */
  const scalarField = (path: string, at: Path): SourceField | undefined => {
    const r = resolveFieldPath(doc, path);
    if (!r.ok) {
      err('UNKNOWN_REFERENCE', at, `no source field '${path}': ${r.message}`);
      return undefined;
    }
    if (r.list !== undefined || r.field.type === 'object') {
      err(
        'SCHEMA_INVALID',
        at,
        `'${path}' is ${r.list !== undefined ? 'a list or inside one' : 'an object'}: only a scalar field can be read here (a list reaches the model only as a facet, e.g. a banded count)`,
      );
      return undefined;
    }
    return r.field;
  };
  for (const [ename, entity] of Object.entries(doc.entities)) {
    const source = doc.sources[entity.source];
    if (source === undefined)
      err(
        'UNKNOWN_REFERENCE',
        ['entities', ename, 'source'],
        `entity '${ename}' reads undeclared source '${entity.source}'`,
      );
    else {
      const idField = source.fields[entity.id];
      if (idField === undefined)
        err(
          'UNKNOWN_REFERENCE',
          ['entities', ename, 'id'],
          `source '${entity.source}' declares no field '${entity.id}'`,
        );
      else if (
        (idField.type !== 'string' && idField.type !== 'integer') ||
        idField.nullable === true ||
        idField.optional === true
      )
        err(
          'SCHEMA_INVALID',
          ['entities', ename, 'id'],
          `an entity id must be a required, non-nullable string or integer field`,
        );
    }
  }
  const sourceEnv: CheckEnv = { vars: sourceVars, namespaces: sourceNamespaces };

  // ---- ordered rules shared by facets and machines
  const checkRules = (rules: readonly { when?: string | undefined }[], base: Path): void => {
    const seenWhen = new Map<string, number>();
    let unconditionalAt: number | undefined;
    rules.forEach((rule, i) => {
      const path = [...base, i];
      if (unconditionalAt !== undefined) {
        err(
          'RULE_AFTER_UNCONDITIONAL',
          path,
          `rule ${i} follows the unconditional rule ${unconditionalAt} and can never be reached`,
        );
      }
      const c = check(rule.when, [...path, 'when'], sourceEnv);
      if (rule.when === undefined || c?.constant === true) unconditionalAt ??= i;
      if (c?.constant === false) warn(path, `rule ${i} is 'false' and never matches`);
      if (rule.when !== undefined) {
        const key = rule.when.replace(/\s+/g, ' ').trim();
        const earlier = seenWhen.get(key);
        if (earlier !== undefined)
          warn(path, `rule ${i} has the same condition as rule ${earlier}, which always matches first`);
        else seenWhen.set(key, i);
      }
    });
  };

  // ---- facets
  for (const [fname, facet] of Object.entries(doc.facets)) {
    const base = ['facets', fname];
    noDuplicates(facet.values, [...base, 'values'], 'facet value');
    const inSet = (v: string, path: Path): void => {
      if (!facet.values.includes(v))
        err(
          'VALUE_NOT_IN_SET',
          path,
          `'${v}' is not a value of facet ${fname} (one of: ${facet.values.join(', ')})${didYouMean(v, facet.values)}`,
        );
    };
    if (facet.default !== undefined) inSet(facet.default, [...base, 'default']);
    if (facet.rules !== undefined) {
      facet.rules.forEach((r, i) => inSet(r.value, [...base, 'rules', i, 'value']));
      checkRules(facet.rules, [...base, 'rules']);
    }
    if (facet.from !== undefined && facet.bands !== undefined) {
      if (typeof facet.from === 'string') {
        const field = scalarField(facet.from, [...base, 'from']);
        if (field !== undefined && field.type !== 'integer' && field.type !== 'number') {
          err(
            'CONDITION_TYPE_ERROR',
            [...base, 'from'],
            `bands need a numeric field; '${facet.from}' is ${field.type}`,
          );
        }
      } else checkAggregate(facet.from, [...base, 'from']);
      let last = -Infinity;
      let openAt: number | undefined;
      facet.bands.forEach((band, i) => {
        const path = [...base, 'bands', i];
        inSet(band.value, [...path, 'value']);
        if (openAt !== undefined)
          err('RULE_AFTER_UNCONDITIONAL', path, `band ${i} follows the open-ended band ${openAt}`);
        if (band.below === undefined) openAt ??= i;
        else if (band.below <= last)
          warn(path, `band ${i} (below ${band.below}) is empty: an earlier band already covers it`);
        else last = band.below;
      });
    }
  }

  // ---- aggregates: one list, an optional filter over `item`, an optional time window
  function checkAggregate(from: FacetSource & object, at: Path): void {
    const [op, path] = aggregateOp(from);
    const r = resolveFieldPath(doc, path);
    if (!r.ok) {
      err('UNKNOWN_REFERENCE', [...at, op], `no source field '${path}': ${r.message}`);
      return;
    }
    if (r.list === undefined) {
      err('CONDITION_TYPE_ERROR', [...at, op], `'${path}' is not a list field or a field of its items`);
      return;
    }
    const counting = op === 'count' || op === 'size';
    if (counting && r.inner!.length > 0)
      err('CONDITION_TYPE_ERROR', [...at, op], `${op} reads a list field itself, not a field of its items`);
    if (!counting) {
      const f = r.inner!.length === 0 ? r.list.items : r.field;
      if (f.type !== 'integer' && !(f.type === 'number' && op !== 'sum'))
        err(
          'CONDITION_TYPE_ERROR',
          [...at, op],
          op === 'sum'
            ? `sum needs an integer field (exact; write money as integer minor units); '${path}' is ${f.type}`
            : `${op} needs a numeric field; '${path}' is ${f.type}`,
        );
    }
    if ('size' in from) return;
    if (from.where !== undefined) {
      // An object item binds as flat `item.<field>` names, like a source row, so the filter gets
      // the same native fast path as a rule; a scalar item binds as `item`.
      const items = r.list.items;
      const what = `item of ${r.source}.${r.outer.join('.')}`;
      const vars = new Map<string, CelT>(sourceVars);
      if (items.type === 'object' && items.nullable !== true)
        for (const [n, f] of Object.entries(items.fields))
          vars.set(`item.${n}`, celTypeOfField(`${what}.${n}`, f));
      else vars.set('item', celTypeOfField(what, items));
      const namespaces = new Map(sourceNamespaces);
      namespaces.set('item', { code: 'CONDITION_UNKNOWN_NAME', what: `field of the ${what}` });
      check(from.where, [...at, 'where'], { vars, namespaces });
    }
    if ((from.within === undefined) !== (from.at === undefined))
      err('SCHEMA_INVALID', at, '`within` and `at` go together: a window and the item field it applies to');
    if (from.within !== undefined && !doc.time)
      err('CONDITION_UNKNOWN_NAME', [...at, 'within'], 'a time window reads the time: declare `time: true`');
    if (from.at !== undefined) {
      let t: SourceField | undefined = r.list.items;
      for (const n of from.at.split('.')) t = t?.type === 'object' ? t.fields[n] : undefined;
      if (t === undefined)
        err('UNKNOWN_REFERENCE', [...at, 'at'], `the items of '${path}' have no field '${from.at}'`);
      else if (t.type !== 'timestamp')
        err('CONDITION_TYPE_ERROR', [...at, 'at'], `'${from.at}' is ${t.type}, not a timestamp`);
    }
  }

  // ---- machines
  const stateVars = new Map<string, CelT>();
  for (const [fname, facet] of Object.entries(doc.facets))
    stateVars.set(`facets.${fname}`, { k: 'string', values: facet.values, setName: `facet ${fname}` });
  for (const [mname, m] of Object.entries(doc.machines)) {
    const base = ['machines', mname];
    stateVars.set(`machines.${mname}`, { k: 'string', values: m.states, setName: `machine ${mname}` });
    noDuplicates(m.states, [...base, 'states'], 'state');
    noDuplicates(m.terminal, [...base, 'terminal'], 'terminal state');
    const inStates = (v: string, path: Path): void => {
      if (!m.states.includes(v))
        err(
          'VALUE_NOT_IN_SET',
          path,
          `'${v}' is not a state of machine ${mname} (one of: ${m.states.join(', ')})${didYouMean(v, m.states)}`,
        );
    };
    inStates(m.initial, [...base, 'initial']);
    m.terminal?.forEach((s, i) => inStates(s, [...base, 'terminal', i]));
    if (m.default !== undefined) inStates(m.default, [...base, 'default']);
    if (m.entity !== undefined && doc.entities[m.entity] === undefined) {
      err(
        'UNKNOWN_REFERENCE',
        [...base, 'entity'],
        `machine '${mname}' is about undeclared entity '${m.entity}'`,
      );
    }
    if (m.rules !== undefined) {
      m.rules.forEach((r, i) => inStates(r.state, [...base, 'rules', i, 'state']));
      checkRules(m.rules, [...base, 'rules']);
    }
  }
  const stateNamespaces = new Map<string, Namespace>([
    ['facets', { code: 'CONDITION_UNKNOWN_FACET', what: 'facet' }],
    ['machines', { code: 'CONDITION_UNKNOWN_NAME', what: 'machine' }],
  ]);
  const stateEnv: CheckEnv = { vars: stateVars, namespaces: stateNamespaces };

  // ---- principal and intents
  const principalVars = new Map<string, CelT>([['principal.id', T.string]]);
  for (const [aname, a] of Object.entries(doc.principal.attributes)) {
    if (aname === 'id')
      err('DUPLICATE_NAME', ['principal', 'attributes', aname], `'principal.id' is built in`);
    principalVars.set(
      `principal.${aname}`,
      a.type === 'string'
        ? a.enum
          ? { k: 'string', values: a.enum, setName: `principal attribute ${aname}` }
          : T.string
        : a.type === 'integer'
          ? T.int
          : a.type === 'number'
            ? T.double
            : T.bool,
    );
    if (a.type === 'string') noDuplicates(a.enum, ['principal', 'attributes', aname, 'enum'], 'enum member');
  }

  const limitKeys = new Map<string, { intent: string; decl: string }>();
  const reachable = reachableStates(doc);
  for (const [iname, intent] of Object.entries(doc.intents)) {
    const base = ['intents', iname];
    const vars = new Map<string, CelT>([...stateVars, ...principalVars]);
    const refParams = new Set(
      Object.entries(intent.params ?? {})
        .filter(([, p]) => 'ref' in p)
        .map(([n]) => n),
    );
    if (doc.time) vars.set('now', T.timestamp);
    for (const [pname, p] of Object.entries(intent.params ?? {})) {
      const ppath = [...base, 'params', pname];
      if ('ref' in p) {
        if (doc.entities[p.ref] === undefined)
          err(
            'UNKNOWN_REFERENCE',
            [...ppath, 'ref'],
            `param '${pname}' refers to undeclared entity kind '${p.ref}'`,
          );
        continue; // refs are opaque: conditions cannot read them
      }
      if (p.type === 'string') {
        noDuplicates(p.enum, [...ppath, 'enum'], 'enum member');
        if (p.pattern !== undefined) {
          try {
            new RegExp(p.pattern, 'u');
          } catch {
            err('SCHEMA_INVALID', [...ppath, 'pattern'], `invalid regular expression '${p.pattern}'`);
          }
        }
        vars.set(
          `params.${pname}`,
          p.enum ? { k: 'string', values: p.enum, setName: `param ${pname}` } : T.string,
        );
      } else if (p.type === 'integer' || p.type === 'number') {
        if (p.minimum !== undefined && p.maximum !== undefined && p.minimum > p.maximum) {
          err('SCHEMA_INVALID', ppath, `minimum ${p.minimum} is above maximum ${p.maximum}`);
        }
        vars.set(`params.${pname}`, p.type === 'integer' ? T.int : T.double);
      } else vars.set(`params.${pname}`, T.bool);
    }
    const intentEnv: CheckEnv = {
      vars,
      namespaces: new Map<string, Namespace>([
        ...stateNamespaces,
        [
          'params',
          {
            code: 'CONDITION_UNKNOWN_PARAM',
            what: 'param',
            hint: (field) =>
              refParams.has(field) ? 'it is a ref: refs are opaque and cannot be read' : undefined,
          },
        ],
        ['principal', { code: 'CONDITION_UNKNOWN_NAME', what: 'principal attribute' }],
      ]),
    };
    const allowed = check(intent.allowed_when, [...base, 'allowed_when'], intentEnv);
    check(intent.escalate_when, [...base, 'escalate_when'], intentEnv);
    let guard: CheckedCondition | undefined;
    let fromOk = true;
    if (intent.machine !== undefined && intent.transition !== undefined) {
      const m = doc.machines[intent.machine];
      guard = check(intent.transition.guard, [...base, 'transition', 'guard'], stateEnv);
      noDuplicates(intent.transition.from, [...base, 'transition', 'from'], 'from state');
      if (m === undefined) {
        err(
          'UNKNOWN_REFERENCE',
          [...base, 'machine'],
          `intent '${iname}' drives undeclared machine '${intent.machine}'`,
        );
      } else {
        intent.transition.from.forEach((s, i) => {
          if (!m.states.includes(s))
            err(
              'TRANSITION_UNDECLARED_STATE',
              [...base, 'transition', 'from', i],
              `machine ${intent.machine} declares no state '${s}'${didYouMean(s, m.states)}`,
            );
        });
        const to = intent.transition.to;
        if (to !== undefined && !m.states.includes(to)) {
          err(
            'TRANSITION_UNDECLARED_STATE',
            [...base, 'transition', 'to'],
            `machine ${intent.machine} declares no state '${to}'${didYouMean(to, m.states)}`,
          );
        }
        const live = reachable.get(intent.machine) ?? new Set<string>();
        const terminal = new Set(m.terminal ?? []);
        fromOk = intent.transition.from.some((s) => live.has(s) && !terminal.has(s));
      }
    }
    if (!fromOk || allowed?.constant === false || guard?.constant === false) {
      err(
        'INTENT_ALLOWED_NOWHERE',
        base,
        !fromOk
          ? `intent '${iname}' starts only from terminal or unreachable states of machine ${intent.machine ?? ''}`
          : `intent '${iname}' has a condition that is always false`,
      );
    }
    checkLimits(intent, iname, doc, err, limitKeys);
    if (intent.compensation !== undefined && doc.intents[intent.compensation] === undefined) {
      err(
        'UNKNOWN_REFERENCE',
        [...base, 'compensation'],
        `compensation '${intent.compensation}' is not a declared intent`,
      );
    }
  }

  // ---- display and routes
  for (const [dname, d] of Object.entries(doc.display.values)) {
    const path = ['display', 'values', dname];
    if ('facet' in d) {
      if (doc.facets[d.facet] === undefined)
        err('UNKNOWN_REFERENCE', [...path, 'facet'], `no facet '${d.facet}'`);
    } else scalarField(d.from, [...path, 'from']);
  }
  for (const [tname, t] of Object.entries(doc.display.free_text)) {
    const field = scalarField(t.from, ['display', 'free_text', tname, 'from']);
    if (field !== undefined && field.type !== 'string')
      err('SCHEMA_INVALID', ['display', 'free_text', tname, 'from'], `free text must be a string field`);
  }
  for (const [rname, route] of Object.entries(doc.routes)) {
    const intent = doc.intents[rname];
    const path = ['routes', rname];
    if (intent === undefined) {
      err('UNKNOWN_REFERENCE', path, `route for undeclared intent '${rname}'`);
      continue;
    }
    const params = intent.params ?? {};
    for (const [pname, rp] of Object.entries(route.params ?? {})) {
      const p = params[pname];
      if (p === undefined) {
        err('UNKNOWN_REFERENCE', [...path, 'params', pname], `intent '${rname}' has no param '${pname}'`);
        continue;
      }
      if (rp.scale !== undefined && ('ref' in p || (p.type !== 'integer' && p.type !== 'number'))) {
        err('SCHEMA_INVALID', [...path, 'params', pname, 'scale'], `only numeric params can be scaled`);
      }
      for (const v of Object.keys(rp.values ?? {})) {
        if ('ref' in p || p.type !== 'string' || !(p.enum ?? []).includes(v)) {
          err(
            'VALUE_NOT_IN_SET',
            [...path, 'params', pname, 'values', v],
            `'${v}' is not an enum member of param ${pname}`,
          );
        }
      }
    }
    for (const pname of Object.keys(params)) {
      if (route.params?.[pname] === undefined)
        err(
          'UNKNOWN_REFERENCE',
          [...path, 'params'],
          `route does not map param '${pname}' to a private field`,
        );
    }
  }
  return { diagnostics, conditions };
}

/** The operation and list path of an aggregate `from`. */
export function aggregateOp(
  from: FacetSource & object,
): readonly ['count' | 'size' | 'sum' | 'max' | 'min', string] {
  if ('count' in from) return ['count', from.count];
  if ('size' in from) return ['size', from.size];
  if ('sum' in from) return ['sum', from.sum];
  if ('max' in from) return ['max', from.max];
  return ['min', from.min];
}

/**
 * Bounds and consistency of one declared field, recursively: nesting depth, the values a record
 * may carry in total (product of `max_items` along the way), enum duplicates, and `optional`
 * only where absence means something (not on list items).
 */
function checkField(
  f: SourceField,
  path: Path,
  depth: number,
  values: number,
  err: (code: RawDiagnostic['code'], path: Path, message: string) => void,
  noDuplicates: (list: readonly string[] | undefined, path: Path, what: string) => void,
): void {
  if (depth > MAX_FIELD_DEPTH) {
    err('SCHEMA_INVALID', path, `fields nest at most ${MAX_FIELD_DEPTH} deep below a source`);
    return;
  }
  if (f.type === 'enum') noDuplicates(f.values, [...path, 'values'], 'enum code');
  if (f.type === 'object')
    for (const [n, sub] of Object.entries(f.fields))
      checkField(sub, [...path, 'fields', n], depth + 1, values, err, noDuplicates);
  if (f.type === 'list') {
    const total = values * f.max_items;
    if (total > MAX_VALUES_PER_SOURCE)
      err(
        'SCHEMA_INVALID',
        [...path, 'max_items'],
        `nested lists could carry ${total} items in one record; at most ${MAX_VALUES_PER_SOURCE}`,
      );
    if (f.items.optional === true)
      err('SCHEMA_INVALID', [...path, 'items', 'optional'], 'list items cannot be optional (use nullable)');
    checkField(f.items, [...path, 'items'], depth + 1, total, err, noDuplicates);
  }
}

function checkLimits(
  intent: IntentDecl,
  iname: string,
  doc: StateMapDocument,
  err: (code: RawDiagnostic['code'], path: Path, message: string) => void,
  keys: Map<string, { intent: string; decl: string }>,
): void {
  (intent.limits ?? []).forEach((limit, i) => {
    const path = ['intents', iname, 'limits', i];
    // A key names one counter: intents may share it (refund and partial refund draw on one
    // budget) only when they declare exactly the same limit.
    const decl = JSON.stringify([limit.kind, limit.max, limit.window, limit.per]);
    const owner = keys.get(limit.key);
    if (owner !== undefined && owner.decl !== decl) {
      err(
        'DUPLICATE_NAME',
        [...path, 'key'],
        `limit key '${limit.key}' is already declared differently by intent '${owner.intent}'`,
      );
    }
    if (owner === undefined) keys.set(limit.key, { intent: iname, decl });
    if (limit.per !== 'principal' && doc.entities[limit.per] === undefined) {
      err(
        'UNKNOWN_REFERENCE',
        [...path, 'per'],
        `'${limit.per}' is neither 'principal' nor a declared entity kind`,
      );
    }
    if (limit.amount !== undefined) {
      const p = intent.params?.[limit.amount];
      if (p === undefined || 'ref' in p || (p.type !== 'integer' && p.type !== 'number')) {
        err(
          'UNKNOWN_REFERENCE',
          [...path, 'amount'],
          `budget amount '${limit.amount}' is not a numeric param of '${iname}'`,
        );
      }
    }
  });
}

/** States a machine can be in: its initial state, states its rules derive, and their successors. */
export function reachableStates(doc: StateMapDocument): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [mname, m] of Object.entries(doc.machines)) {
    const seen = new Set<string>([m.initial, ...(m.rules ?? []).map((r) => r.state)]);
    if (m.default !== undefined) seen.add(m.default);
    const terminal = new Set(m.terminal ?? []);
    const edges = Object.values(doc.intents).filter((i) => i.machine === mname && i.transition !== undefined);
    const queue = [...seen];
    while (queue.length > 0) {
      const s = queue.pop()!;
      if (terminal.has(s)) continue;
      for (const i of edges) {
        if (i.transition!.from.includes(s)) {
          const to = i.transition!.to ?? s;
          if (!seen.has(to)) {
            seen.add(to);
            queue.push(to);
          }
        }
      }
    }
    out.set(mname, seen);
  }
  return out;
}
