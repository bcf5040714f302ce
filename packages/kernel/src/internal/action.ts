// Helpers shared by decide and execute: the refs of a proposal, its action hash, and counter names.
import { digestBytes, digestValue, type Digest, type JsonValue } from '@edca/records';
import type { CompiledLimit, DecisionInput } from '@edca/semantic';

/** The shape of an opaque ref issued by `@edca/arp` (`ref_` + 22 base64url characters). */
const REF = /^ref_[A-Za-z0-9_-]{22}$/;

/** Every opaque ref used anywhere in the params, sorted and without duplicates. */
export function refsOf(params: Record<string, JsonValue>): string[] {
  const found: string[] = [];
  for (const value of Object.values(params)) collectRefs(value, found);
  // Most proposals name one ref: no Set and no sort for those.
  return found.length > 1 ? [...new Set(found)].sort() : found;
}

/** Appends every ref inside `value` to `found`, duplicates included. */
function collectRefs(value: JsonValue, found: string[]): void {
  if (typeof value === 'string') {
    if (REF.test(value)) found.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) collectRefs(item, found);
  }
}

/** digestValue of `{ intent, params, refs }`, refs taken from the params so anyone can recompute it. */
export function actionHashFor(proposal: {
  readonly intent: string;
  readonly params: Record<string, JsonValue>;
}): Digest {
  return digestValue({ intent: proposal.intent, params: proposal.params, refs: refsOf(proposal.params) });
}

/**
 * The store counter of a limit for one request: `<key>|<scope>|<window start ms>`. The scope is the
 * principal, or the real id of the entity of the limit's `per` kind (from the loaded records) —
 * hashed, so the store never holds a real identifier in clear. An entity whose id is unknown shares
 * one `none` counter: stricter, never looser.
 */
export function counterName(
  limit: CompiledLimit,
  principal: DecisionInput['principal'],
  scopeIds: Readonly<Record<string, string>>,
  nowMs: number,
  /** Scopes already hashed for this request, by entity kind (limits of one kind share one hash). */
  scopes?: Map<string, string>,
): string {
  let scope: string | undefined;
  if (limit.per === 'principal') scope = `principal:${principal.id}`;
  else {
    scope = scopes?.get(limit.per);
    if (scope === undefined) {
      const id = scopeIds[limit.per];
      scope = `${limit.per}:${id === undefined ? 'none' : digestBytes(id).slice(7, 39)}`;
      scopes?.set(limit.per, scope);
    }
  }
  const start = limit.windowMs > 0 ? Math.floor(nowMs / limit.windowMs) * limit.windowMs : 0;
  return `${limit.key}|${scope}|${start}`;
}

/** The real id of every entity kind the map declares, read from the loaded records, then from resolved refs. */
export function scopeIdsOf(
  entities: Readonly<Record<string, { readonly source: string; readonly id: string }>>,
  records: Readonly<Record<string, unknown>>,
  refs: Readonly<Record<string, { readonly kind: string; readonly id: string }>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const target of Object.values(refs)) out[target.kind] = target.id;
  for (const [kind, decl] of Object.entries(entities)) {
    const row = records[decl.source];
    const id =
      row !== null && typeof row === 'object' ? (row as Record<string, unknown>)[decl.id] : undefined;
    if (typeof id === 'string' || typeof id === 'number') out[kind] = String(id);
  }
  return out;
}
