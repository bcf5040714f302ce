// Minimal bigint arithmetic on edwards25519 (RFC 8032 §5.1), used only for the strict
// verification policy's key and R checks. Never on a secret: nothing here needs constant time.

export const P = 2n ** 255n - 19n;
/** The prime order of the base point (RFC 8032 §5.1). */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const mod = (a: bigint): bigint => {
  const r = a % P;
  return r >= 0n ? r : r + P;
};
const pow = (b: bigint, e: bigint): bigint => {
  let r = 1n;
  let x = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * x) % P;
    x = (x * x) % P;
    e >>= 1n;
  }
  return r;
};
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
export interface Point {
  readonly X: bigint;
  readonly Y: bigint;
  readonly Z: bigint;
  readonly T: bigint;
}

export const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

/** Little-endian integer of a byte string. */
export function leToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

/**
 * Decodes a 32-byte point encoding per RFC 8032 §5.1.3, strictly: refuses y ≥ p and the
 * encoding of x = 0 with the sign bit set. Returns undefined when not a canonical curve point.
 */
export function decodePoint(bytes: Uint8Array): Point | undefined {
  if (bytes.length !== 32) return undefined;
  const n = leToBigint(bytes);
  const sign = n >> 255n;
  const y = n & (2n ** 255n - 1n);
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === u) {
    // x is a root
  } else if (vx2 === mod(-u)) {
    x = mod(x * SQRT_M1);
  } else return undefined;
  if (x === 0n && sign === 1n) return undefined;
  if ((x & 1n) !== sign) x = P - x;
  return { X: x, Y: y, Z: 1n, T: mod(x * y) };
}

/** Point addition, "add-2008-hwcd-3" for a = −1 (complete on edwards25519). */
export function addPoints(p: Point, q: Point): Point {
  const A = mod((p.Y - p.X) * (q.Y - q.X));
  const B = mod((p.Y + p.X) * (q.Y + q.X));
  const C = mod(p.T * 2n * D * q.T);
  const Dd = mod(p.Z * 2n * q.Z);
  const E = B - A;
  const F = Dd - C;
  const G = Dd + C;
  const H = B + A;
  return { X: mod(E * F), Y: mod(G * H), Z: mod(F * G), T: mod(E * H) };
}

/** Scalar multiplication by double-and-add (variable time; public inputs only). */
export function multiply(p: Point, k: bigint): Point {
  let r = IDENTITY;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = addPoints(r, q);
    q = addPoints(q, q);
    k >>= 1n;
  }
  return r;
}

/** Whether a point is the neutral element. */
export function isIdentity(p: Point): boolean {
  return mod(p.X) === 0n && mod(p.Y - p.Z) === 0n;
}

/** The canonical 32-byte encoding of a point (RFC 8032 §5.1.2). */
export function encodePoint(p: Point): Uint8Array {
  const zi = inv(p.Z);
  const x = mod(p.X * zi);
  let n = mod(p.Y * zi) | ((x & 1n) << 255n);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Whether [8]P is the identity, i.e. P lies in the torsion subgroup. */
export function isSmallOrder(p: Point): boolean {
  return isIdentity(multiply(p, 8n));
}
