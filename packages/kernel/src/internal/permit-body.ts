// The body of a permit as the kernel reads it: the records package's `decision` body, narrowed to
// what a verified permit guarantees.
import type { RecordBody } from '@edca/records';
import type { DecisionInput } from '@edca/semantic';

/** A `decision` body with verdict `permit`: it expires, and its input is a decision input. */
export type PermitBody = Omit<RecordBody<'decision'>, 'verdict' | 'expiresAt' | 'input'> & {
  readonly verdict: 'permit';
  readonly expiresAt: string;
  readonly input: DecisionInput;
};

/** Whether a value is a plain object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
