import fc from 'fast-check';
import { canonicalize as jcs } from 'json-canonicalize';
import { assertIJson, canonicalize, RecordsError, type IJsonLimits } from '@edca/records';

// The reference for every fast canonicalization path: the strict I-JSON walk, then json-canonicalize.
// A fast path must give the same text, or the same refusal (code, path and message).

/** What a canonicalization gave: its text, a RecordsError, or another exception. */
export type Outcome = { text: string } | { code: string; path: string; message: string } | { thrown: string };

/** Runs a canonicalization and records what it gave. */
export const outcome = (f: () => string): Outcome => {
  try {
    return { text: f() };
  } catch (e) {
    if (e instanceof RecordsError) return { code: e.code, path: e.path ?? '', message: e.message };
    return { thrown: (e as Error).message };
  }
};

/** The slow path: assertIJson, then json-canonicalize. */
export const slow = (value: unknown, limits?: IJsonLimits): Outcome =>
  outcome(() => {
    assertIJson(value, limits);
    return jcs(value);
  });

/** records' canonicalize (the composing fast path, with its fallback). */
export const fast = (value: unknown, limits?: IJsonLimits): Outcome =>
  outcome(() => canonicalize(value, limits));

/** Any JavaScript value, the exotic ones included (what the strict check must refuse). */
export const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withObjectString: true,
});
