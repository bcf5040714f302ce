/**
 * Reads policy owners' signed activation files (`edca policy sign` writes them) for
 * `--activation FILE` on `edca serve` and `edca demo`. Only the shape is checked here; the kernel
 * checks the signature, the key and the revision against the trust file and the journal.
 */
import {
  parseTrustFile,
  POLICY_OWNER_ROLE,
  signedActivationSchema,
  type SignedActivation,
  type TrustedKey,
} from '@edca/records';
import { CliError } from './exit-codes.js';
import { readTextInput } from './io.js';

/**
 * Signed activations by map name, one file each.
 * @throws CliError IO_READ_FAILED (unreadable), ACTIVATION_FILE_INVALID (not a signed activation),
 *   USAGE (two files for one map); all exit 2
 */
export function readActivationFiles(paths: readonly string[]): Record<string, SignedActivation> {
  const out: Record<string, SignedActivation> = {};
  for (const path of paths) {
    let value: unknown;
    try {
      value = JSON.parse(readTextInput(path));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError('ACTIVATION_FILE_INVALID', `${path}: not JSON`);
    }
    const parsed = signedActivationSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CliError(
        'ACTIVATION_FILE_INVALID',
        `${path}: not a signed activation (at /${issue?.path.map(String).join('/') ?? ''}: ${issue?.message ?? 'invalid'})`,
      );
    }
    const map = parsed.data.statement.map;
    if (Object.hasOwn(out, map)) throw new CliError('USAGE', `two --activation files for map ${map}`);
    out[map] = value as SignedActivation;
  }
  return out;
}

/**
 * The `policy-owner` keys of a trust file (`edca demo --owner-trust FILE`).
 * @throws CliError IO_READ_FAILED, TRUST_INVALID (not a trust file, or no policy-owner key); exit 2
 */
export function readOwnerKeys(path: string): TrustedKey[] {
  const text = readTextInput(path);
  let keys: readonly TrustedKey[];
  try {
    keys = parseTrustFile(text).keys;
  } catch (err) {
    throw new CliError('TRUST_INVALID', `${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const owners = keys.filter((k) => k.role === POLICY_OWNER_ROLE);
  if (owners.length === 0)
    throw new CliError('TRUST_INVALID', `${path}: no key with role ${POLICY_OWNER_ROLE}`);
  return owners;
}

/** Commander's collector for a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
