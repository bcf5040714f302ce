/**
 * The action hash: what a permit, an approval statement and an attempt are bound to. Defined here,
 * once, because the kernel computes it and the auditor recomputes it from the decision input, and
 * the auditor must never depend on the kernel.
 */
import { digestValue, type Digest } from './digest.js';
import type { JsonValue } from './ijson.js';

/** The shape of an opaque ref issued by `@edca/arp` (`ref_` + 22 base64url characters). */
const REF = /^ref_[A-Za-z0-9_-]{22}$/;
const REF_LENGTH = 26;

/**
 * Every opaque ref used anywhere in the params, sorted and without duplicates.
 * @example refsOf({ card: 'ref_AAAAAAAAAAAAAAAAAAAAAA', amount: 5 }); // ['ref_AAAAAAAAAAAAAAAAAAAAAA']
 */
export function refsOf(params: Readonly<Record<string, JsonValue>>): string[] {
  const found: string[] = [];
  for (const value of Object.values(params)) collectRefs(value, found);
  // Most proposals name one ref: no Set and no sort for those.
  return found.length > 1 ? [...new Set(found)].sort() : found;
}

/** Appends every ref inside `value` to `found`, duplicates included. */
function collectRefs(value: JsonValue, found: string[]): void {
  if (typeof value === 'string') {
    // Length first: most strings are not refs, and a length check is cheaper than the pattern.
    if (value.length === REF_LENGTH && REF.test(value)) found.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) collectRefs(item, found);
  }
}

/**
 * The action hash of a proposal: `digestValue({ intent, params, refs })`, refs taken from the
 * params (sorted, distinct) so anyone holding the decision input recomputes it.
 * @throws RecordsError IJSON_* when params are not I-JSON
 * @example actionHashOf({ intent: 'refund_payment', params: { amount: 10 } }); // 'sha256:…'
 */
export function actionHashOf(proposal: {
  readonly intent: string;
  readonly params: Readonly<Record<string, JsonValue>>;
}): Digest {
  return digestValue({ intent: proposal.intent, params: proposal.params, refs: refsOf(proposal.params) });
}
