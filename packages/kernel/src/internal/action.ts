// Helpers shared by decide and execute: the action hash of a proposal and counter names.
import { digestBytes } from '@edca/records';
import type { CompiledLimit, DecisionInput } from '@edca/semantic';

// One definition, shared with the auditor (which must not import the kernel).
export { actionHashOf as actionHashFor } from '@edca/records';

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
