/**
 * The static diff of two state maps: what a reviewer must see before a new version goes live.
 * Intents, machines and their states, transitions, limits, approvals and facets, each added,
 * removed or changed, with the old and new definition. Pure: two compiled maps in, a list out.
 */
import { canonicalBytes, type JsonValue } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';

/** What part of a map a change is in. */
export type MapChangeKind = 'intent' | 'machine' | 'state' | 'transition' | 'limit' | 'approval' | 'facet';

/** One difference between two maps. `name` locates it (`intent`, `machine.state`, `intent/limit`). */
export interface MapChange {
  readonly kind: MapChangeKind;
  readonly change: 'added' | 'removed' | 'changed';
  readonly name: string;
  /** The definition in the old map (absent when added). */
  readonly before?: JsonValue;
  /** The definition in the new map (absent when removed). */
  readonly after?: JsonValue;
}

/** The static diff: both maps' identity and every change, in a stable order. */
export interface MapDiff {
  readonly old: { readonly name: string; readonly version: string; readonly digest: string };
  readonly new: { readonly name: string; readonly version: string; readonly digest: string };
  readonly changes: readonly MapChange[];
}

type Json = JsonValue | undefined;
type Obj = Readonly<Record<string, Json>>;

const same = (a: Json, b: Json): boolean => {
  if (a === undefined || b === undefined) return a === b;
  const x = canonicalBytes(a);
  const y = canonicalBytes(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

const sortedKeys = (a: Obj, b: Obj): string[] => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();

/** Compares two keyed collections: added, removed and (by `pick`) changed entries. */
function compareKeyed(
  out: MapChange[],
  kind: MapChangeKind,
  before: Obj,
  after: Obj,
  prefix = '',
  pick: (v: Json) => Json = (v) => v,
): void {
  for (const key of sortedKeys(before, after)) {
    const a = pick(before[key]);
    const b = pick(after[key]);
    const name = `${prefix}${key}`;
    if (a === undefined && b === undefined) continue;
    if (a === undefined) out.push({ kind, change: 'added', name, after: b! });
    else if (b === undefined) out.push({ kind, change: 'removed', name, before: a });
    else if (!same(a, b)) out.push({ kind, change: 'changed', name, before: a, after: b });
  }
}

const asObj = (v: Json): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {});

/** An intent without the parts reported on their own (transition, limits, approvals). */
function intentCore(v: Json): Json {
  if (v === undefined) return undefined;
  const {
    transition: _t,
    machine: _m,
    limits: _l,
    approvals: _a,
    escalate_when: _e,
    ...rest
  } = asObj(v) as Record<string, JsonValue>;
  return rest;
}

function transitionOf(v: Json): Json {
  const i = asObj(v);
  return i['transition'] === undefined
    ? undefined
    : { machine: i['machine'] ?? null, ...asObj(i['transition']) };
}

function approvalOf(v: Json): Json {
  const i = asObj(v);
  if (i['approvals'] === undefined) return undefined;
  return { ...asObj(i['approvals']), escalate_when: i['escalate_when'] ?? null };
}

function limitsOf(v: Json): Obj {
  const limits = asObj(v)['limits'];
  const out: Record<string, JsonValue> = {};
  if (!Array.isArray(limits)) return out;
  for (const l of limits) {
    const key = asObj(l)['key'];
    if (typeof key === 'string') out[key] = l;
  }
  return out;
}

/**
 * Every difference between two maps' documents (defaults filled in, as their digests cover them).
 * @example diffMaps(oldMap, newMap).changes.filter((c) => c.kind === 'limit');
 */
export function diffMaps(oldMap: CompiledMap, newMap: CompiledMap): MapDiff {
  const a = oldMap.document as unknown as Obj;
  const b = newMap.document as unknown as Obj;
  const changes: MapChange[] = [];
  const intentsA = asObj(a['intents']);
  const intentsB = asObj(b['intents']);
  compareKeyed(changes, 'intent', intentsA, intentsB, '', intentCore);
  compareKeyed(changes, 'transition', intentsA, intentsB, '', transitionOf);
  compareKeyed(changes, 'approval', intentsA, intentsB, '', approvalOf);
  for (const intent of sortedKeys(intentsA, intentsB))
    compareKeyed(changes, 'limit', limitsOf(intentsA[intent]), limitsOf(intentsB[intent]), `${intent}/`);
  const machinesA = asObj(a['machines']);
  const machinesB = asObj(b['machines']);
  compareKeyed(changes, 'machine', machinesA, machinesB, '', (m) => {
    if (m === undefined) return undefined;
    const { states: _s, ...rest } = asObj(m) as Record<string, JsonValue>;
    return rest;
  });
  for (const machine of sortedKeys(machinesA, machinesB)) {
    const states = (m: Json): Obj => {
      const list = asObj(m)['states'];
      return Array.isArray(list)
        ? Object.fromEntries(list.map((s) => [typeof s === 'string' ? s : JSON.stringify(s), true]))
        : {};
    };
    compareKeyed(changes, 'state', states(machinesA[machine]), states(machinesB[machine]), `${machine}.`);
  }
  compareKeyed(changes, 'facet', asObj(a['facets']), asObj(b['facets']));
  const id = (m: CompiledMap) => ({ name: m.name, version: m.version, digest: m.digest });
  return { old: id(oldMap), new: id(newMap), changes };
}
