import fc from 'fast-check';
import type { JsonValue } from '@edca/records';

// Numbers of the I-JSON model: finite, magnitude ≤ 2^53 − 1 (all larger doubles are integers).
const ijsonNumber = fc.oneof(
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
);

// Strings of whole code points (never a lone surrogate), including astral ones.
const ijsonString = fc.string({ unit: 'binary', maxLength: 12 });

/** Arbitrary strict I-JSON values. */
export const ijsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    ijsonNumber,
    ijsonString,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(ijsonString, tie('value'), { maxKeys: 5 }),
  ),
})).value;
