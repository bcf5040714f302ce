import type { FastPath } from '@edca/records';

/** A finite JS number as an exact decimal: `mantissa × 10^exponent`, from its shortest round-trip text. */
interface Decimal {
  readonly mantissa: bigint;
  readonly exponent: number;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/;

function toDecimal(n: number): Decimal | undefined {
  if (!Number.isFinite(n)) return undefined;
  // ECMAScript Number::toString gives the shortest digits that round-trip (ECMA-262 §6.1.6.1.20),
  // i.e. the decimal the model wrote, not the binary approximation.
  const m = DECIMAL.exec(String(n));
  if (m === null) return undefined;
  const [, sign, int, frac = '', exp = '0'] = m;
  const digits = BigInt(`${sign}${int}${frac}`);
  return { mantissa: digits, exponent: Number(exp) - frac.length };
}

/**
 * Multiplies `value` by `scale` in exact decimal arithmetic (12.34 × 100 = 1234, not
 * 1233.9999…) and returns the integer, or undefined when the product is not a whole number or
 * not a safe integer: such a value cannot be represented in the real field and is refused.
 */
export function scaleExact(value: number, scale: number): number | undefined {
  const fast = scaleExactPath.fast(value, scale);
  return fast !== undefined ? fast : scaleExactPath.reference(value, scale);
}

/** {@link scaleExact} by exact decimal arithmetic on every input (the reference its fast path must equal). */
export function scaleExactDecimal(value: number, scale: number): number | undefined {
  const v = toDecimal(value);
  const s = toDecimal(scale);
  if (v === undefined || s === undefined) return undefined;
  let mantissa = v.mantissa * s.mantissa;
  let exponent = v.exponent + s.exponent;
  for (; exponent < 0; exponent++) {
    if (mantissa % 10n !== 0n) return undefined;
    mantissa /= 10n;
  }
  for (; exponent > 0; exponent--) mantissa *= 10n;
  if (mantissa > BigInt(Number.MAX_SAFE_INTEGER) || mantissa < -BigInt(Number.MAX_SAFE_INTEGER))
    return undefined;
  const out = Number(mantissa);
  return Object.is(out, -0) ? 0 : out;
}

/**
 * Whole numbers times a whole scale: both exact doubles, so the double product is exact whenever
 * the exact product is a safe integer (and rounds to an unsafe one otherwise). Amounts the model
 * writes as integers take this path; anything else is undefined and takes the decimal reference.
 */
function scaleWhole(value: number, scale: number): number | undefined {
  if (!Number.isSafeInteger(value) || !Number.isSafeInteger(scale)) return undefined;
  const product = value * scale;
  if (!Number.isSafeInteger(product)) return undefined;
  return product === 0 ? 0 : product;
}

/** {@link scaleExact}: exact decimal arithmetic (reference), the double product of whole numbers (fast). */
export const scaleExactPath: FastPath<[value: number, scale: number], number | undefined> = {
  reference: scaleExactDecimal,
  fast: scaleWhole,
};
