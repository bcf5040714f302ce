/**
 * Policy activation statements: what a policy owner signs to put one version of a state map in force.
 *
 * The signed bytes are `"edca-activation-v1\n" ‖ RFC 8785(statement)`. The domain prefix keeps an
 * activation signature from ever being valid as a record, an approval or any other edca signature.
 * The statement binds the owner to the map's content digest, a revision number that only goes up
 * (anti-rollback: rolling back means signing the old content at a higher revision), and the digest
 * of the `edca test` report that passed for exactly that content.
 */
import { z } from 'zod';
import { isDigest, type Digest } from './digest.js';
import { verifyEd25519, type Signer } from './ed25519.js';
import { canonicalBytes } from './ijson.js';
import { findTrustedKey, type TrustFile } from './trust.js';

/** The domain-separation tag of activation signatures. */
export const ACTIVATION_DOMAIN = 'edca-activation-v1';

/** The trust-file role whose keys may sign activations. */
export const POLICY_OWNER_ROLE = 'policy-owner';

/** What a policy owner signs. */
export interface ActivationStatement {
  readonly domain: typeof ACTIVATION_DOMAIN;
  /** The map's `name`. */
  readonly map: string;
  /** The map's content digest (the `policyDigest` decisions carry). */
  readonly mapDigest: Digest;
  /** A positive integer, strictly higher than any revision of this map activated before. */
  readonly revision: number;
  /** `digestValue` of the passing `edca test` report for this map content. */
  readonly tests: Digest;
  readonly owner: { readonly kid: string; readonly role: typeof POLICY_OWNER_ROLE };
  /** RFC 3339 UTC instant the owner signed at; the key must be valid then. */
  readonly at: string;
}

/** A statement with its Ed25519 signature (unpadded base64url, 64 bytes). */
export interface SignedActivation {
  readonly statement: ActivationStatement;
  readonly sig: string;
}

const digest = z.string().refine(isDigest, 'expected sha256:<64 lower-case hex>');
const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/, 'expected RFC 3339 UTC (…Z)')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid instant');

/** The zod schema of a signed activation (structure only; {@link verifyActivation} checks the rest). */
export const signedActivationSchema = z.strictObject({
  statement: z.strictObject({
    domain: z.literal(ACTIVATION_DOMAIN),
    map: z.string().min(1).max(256),
    mapDigest: digest,
    revision: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    tests: digest,
    owner: z.strictObject({ kid: z.string().min(1).max(256), role: z.literal(POLICY_OWNER_ROLE) }),
    at: instant,
  }),
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'expected 64 bytes of unpadded base64url'),
});

/**
 * The exact bytes an owner signs for a statement.
 * @throws RecordsError IJSON_* when the statement is not I-JSON
 * @example activationMessage(statement).length > 0; // true
 */
export function activationMessage(statement: ActivationStatement): Uint8Array {
  const prefix = new TextEncoder().encode(`${ACTIVATION_DOMAIN}\n`);
  const body = canonicalBytes(statement);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/**
 * Signs an activation statement with a policy owner's signer.
 * @throws RecordsError IJSON_* for a malformed statement; whatever the signer throws
 * @example const signed = await signActivation(statement, ownerSigner);
 */
export async function signActivation(
  statement: ActivationStatement,
  signer: Signer,
): Promise<SignedActivation> {
  const sig = await signer.sign(activationMessage(statement));
  return { statement, sig: Buffer.from(sig).toString('base64url') };
}

/** Codes an activation is refused with. */
export type ActivationCheckCode = 'ACTIVATION_INVALID' | 'ACTIVATION_UNTRUSTED' | 'ACTIVATION_MISMATCH';

/** The outcome of {@link verifyActivation}. */
export type ActivationCheck =
  | { readonly ok: true; readonly statement: ActivationStatement }
  | { readonly ok: false; readonly code: ActivationCheckCode; readonly message: string };

/**
 * Verifies a signed activation strictly: shape and domain, binding to the expected map name and
 * digest, a key with role `policy-owner` valid at the statement's `at`, and the Ed25519 signature
 * over the domain-separated bytes. Revision ordering (anti-rollback) is the caller's: it needs the
 * journal.
 * @example verifyActivation(value, trust, { map: 'refunds', mapDigest }).ok;
 */
export function verifyActivation(
  value: unknown,
  trust: TrustFile,
  expected: { readonly map: string; readonly mapDigest: Digest },
): ActivationCheck {
  const parsed = signedActivationSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : ` at /${issue.path.map(String).join('/')}`;
    return {
      ok: false,
      code: 'ACTIVATION_INVALID',
      message: `malformed activation${where}: ${issue?.message ?? 'invalid'}`,
    };
  }
  const { statement, sig } = parsed.data;
  if (statement.map !== expected.map || statement.mapDigest !== expected.mapDigest) {
    return {
      ok: false,
      code: 'ACTIVATION_MISMATCH',
      message: `the activation is for ${statement.map} ${statement.mapDigest}, not ${expected.map} ${expected.mapDigest}`,
    };
  }
  const key = findTrustedKey(trust, statement.owner.kid, POLICY_OWNER_ROLE, statement.at);
  if (!key) {
    return {
      ok: false,
      code: 'ACTIVATION_UNTRUSTED',
      message: `no key ${statement.owner.kid} with role ${POLICY_OWNER_ROLE} valid at ${statement.at}`,
    };
  }
  let message: Uint8Array;
  try {
    message = activationMessage(statement);
  } catch {
    return { ok: false, code: 'ACTIVATION_INVALID', message: 'the statement is not I-JSON' };
  }
  const signature = Buffer.from(sig, 'base64url');
  // Only the canonical spelling: two strings must never carry one signature.
  if (signature.toString('base64url') !== sig) {
    return { ok: false, code: 'ACTIVATION_INVALID', message: 'the signature is not canonical base64url' };
  }
  if (
    signature.length !== 64 ||
    !verifyEd25519(Buffer.from(key.publicKey, 'base64url'), message, signature)
  ) {
    return { ok: false, code: 'ACTIVATION_INVALID', message: 'the activation signature does not verify' };
  }
  return { ok: true, statement };
}
