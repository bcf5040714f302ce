import { z } from 'zod';
import { fromBase64url, toBase64url } from './base64url.js';
import { isAcceptablePublicKey, kidOf } from './ed25519.js';
import { RecordsError } from './errors.js';
import { parseJson } from './ijson.js';

/** One trusted public key with its role and validity window. */
export interface TrustedKey {
  /** `kidOf(publicKey)`. */
  readonly kid: string;
  readonly alg: 'Ed25519';
  /** Unpadded base64url of the raw 32-byte public key. */
  readonly publicKey: string;
  /** What the key may sign for, e.g. `kernel` or `approver`. */
  readonly role: string;
  /** RFC 3339 UTC instant from which the key is valid (inclusive). */
  readonly notBefore: string;
  /** RFC 3339 UTC instant at which the key stops being valid (exclusive), or null for open-ended. */
  readonly notAfter: string | null;
  readonly name?: string;
}

/** The trust file (docs/record-format.md §Trust file). */
export interface TrustFile {
  readonly version: 1;
  readonly keys: readonly TrustedKey[];
}

/** What a trust-file role looks like (`kernel`, `approver`, `refund-approver`, `policy-owner`, …). */
export const TRUST_ROLE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/, 'expected RFC 3339 UTC (…Z)')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid instant');

const trustedKeySchema = z.strictObject({
  kid: z.string(),
  alg: z.literal('Ed25519'),
  publicKey: z.string(),
  role: z.string().regex(TRUST_ROLE_PATTERN, 'expected a lower-case role name'),
  notBefore: instant,
  notAfter: instant.nullable(),
  name: z.string().min(1).max(256).optional(),
});

/** The zod schema of a trust file (structure only; {@link parseTrustFile} adds key checks). */
export const trustFileSchema = z.strictObject({
  version: z.literal(1),
  keys: z.array(trustedKeySchema),
});

/**
 * Checks a trust file value: schema, each key a strict-policy Ed25519 key whose `kid` is
 * derived from it, windows that are not empty, and no `kid` listed twice.
 * @throws RecordsError `TRUST_INVALID`, `TRUST_KID_MISMATCH`, `TRUST_DUPLICATE_KID`
 * @example
 * checkTrustFile({ version: 1, keys: [] });
 */
export function checkTrustFile(value: unknown): TrustFile {
  const parsed = trustFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? '' : issue.path.map(String).join('/');
    throw new RecordsError('TRUST_INVALID', `${issue?.message ?? 'invalid'} at /${path}`, `/${path}`);
  }
  const seen = new Set<string>();
  parsed.data.keys.forEach((key, i) => {
    const publicKey = fromBase64url(key.publicKey, 32, 'TRUST_INVALID');
    if (!isAcceptablePublicKey(publicKey))
      throw new RecordsError(
        'TRUST_INVALID',
        `key ${i} is not an acceptable Ed25519 key`,
        `/keys/${i}/publicKey`,
      );
    if (kidOf(publicKey) !== key.kid)
      throw new RecordsError(
        'TRUST_KID_MISMATCH',
        `key ${i}: kid is not derived from publicKey`,
        `/keys/${i}/kid`,
      );
    if (seen.has(key.kid))
      throw new RecordsError('TRUST_DUPLICATE_KID', `key ${i}: ${key.kid} is listed twice`, `/keys/${i}/kid`);
    seen.add(key.kid);
    if (key.notAfter !== null && Date.parse(key.notAfter) <= Date.parse(key.notBefore))
      throw new RecordsError(
        'TRUST_INVALID',
        `key ${i}: notAfter is not after notBefore`,
        `/keys/${i}/notAfter`,
      );
  });
  return parsed.data as TrustFile;
}

/**
 * Parses and checks a trust file's text (strict JSON: duplicate keys refused).
 * @throws RecordsError `TRUST_SYNTAX` (not strict I-JSON), and the codes of {@link checkTrustFile}
 * @example
 * const trust = parseTrustFile(readFileSync('trust.json', 'utf8'));
 */
export function parseTrustFile(text: string): TrustFile {
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    if (err instanceof RecordsError) throw new RecordsError('TRUST_SYNTAX', err.message, err.path);
    throw err;
  }
  return checkTrustFile(value);
}

/**
 * The trusted key with this `kid` and `role` whose window contains `at`
 * (`notBefore ≤ at < notAfter`), or undefined.
 * @throws RecordsError `RECORD_INVALID` when `at` is not an RFC 3339 instant
 * @example
 * findTrustedKey(trust, record.kid, 'kernel', record.at);
 */
export function findTrustedKey(
  trust: TrustFile,
  kid: string,
  role: string,
  at: string,
): TrustedKey | undefined {
  const t = Date.parse(at);
  if (Number.isNaN(t)) throw new RecordsError('RECORD_INVALID', `not an instant: ${at}`);
  return trust.keys.find(
    (k) =>
      k.kid === kid &&
      k.role === role &&
      Date.parse(k.notBefore) <= t &&
      (k.notAfter === null || t < Date.parse(k.notAfter)),
  );
}

/**
 * The raw 32-byte public key of a trusted key entry.
 * @throws RecordsError `TRUST_INVALID`
 * @example
 * verifyRecord(record, publicKeyOfTrusted(key));
 */
export function publicKeyOfTrusted(key: TrustedKey): Uint8Array {
  return fromBase64url(key.publicKey, 32, 'TRUST_INVALID');
}

/**
 * A trust file entry for a public key (kid derived from it).
 * @example
 * trustedKeyFor(signer.publicKey, 'kernel', '2026-01-01T00:00:00.000Z');
 */
export function trustedKeyFor(
  publicKey: Uint8Array,
  role: string,
  notBefore: string,
  options: { notAfter?: string | null; name?: string } = {},
): TrustedKey {
  return {
    kid: kidOf(publicKey),
    alg: 'Ed25519',
    publicKey: toBase64url(publicKey),
    role,
    notBefore,
    notAfter: options.notAfter ?? null,
    ...(options.name === undefined ? {} : { name: options.name }),
  };
}

/**
 * A new trust file with `key` appended, checked as a whole.
 * @throws RecordsError the codes of {@link checkTrustFile} (e.g. `TRUST_DUPLICATE_KID`)
 * @example
 * addTrustedKey({ version: 1, keys: [] }, entry);
 */
export function addTrustedKey(trust: TrustFile, key: TrustedKey): TrustFile {
  return checkTrustFile({ version: 1, keys: [...trust.keys, key] });
}

/**
 * The trust file as text: two-space indented JSON with a final newline.
 * @example
 * writeFileSync('trust.json', serializeTrustFile(trust));
 */
export function serializeTrustFile(trust: TrustFile): string {
  return `${JSON.stringify(checkTrustFile(trust), null, 2)}\n`;
}
