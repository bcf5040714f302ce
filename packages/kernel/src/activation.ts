/**
 * Signed activation on the kernel side: which `policy.activated` records a kernel must journal at
 * startup, and whether it may start at all. With `requireSignedActivation`, every map needs a
 * policy owner's statement for exactly its name and digest, signed by a `policy-owner` key of the
 * trust file, at a revision strictly higher than any revision of that map the journal already
 * holds (anti-rollback), unless that very revision of that very content is the one in force.
 */
import type { LedgerState } from '@edca/ledger';
import { verifyActivation, type JsonValue, type SignedActivation, type TrustFile } from '@edca/records';
import { KernelError } from './errors.js';
import type { CompiledMap as MapSpec } from '@edca/semantic';

/** The activation options of `createKernel` (see `KernelOptions`). */
export interface ActivationOptions {
  readonly requireSignedActivation?: boolean;
  readonly activations?: Readonly<Record<string, SignedActivation>>;
  readonly trust?: TrustFile;
}

/**
 * The bodies of the `policy.activated` records the kernel journals for `maps` given what the
 * journal already holds (`ledger`, folded from it), in map order. A map whose digest is in force
 * without a statement, or whose signed revision is already the latest, needs no new record.
 * @throws KernelError KERNEL_CONFIG_INVALID (an activation for no loaded map, or signed activation
 *   without a trust file); ACTIVATION_MISSING, ACTIVATION_INVALID, ACTIVATION_UNTRUSTED,
 *   ACTIVATION_MISMATCH, ACTIVATION_ROLLBACK (docs/reason-codes.md, "Kernel errors")
 * @example const bodies = activationBodies([map], ledger, { requireSignedActivation: true, activations, trust });
 */
export function activationBodies(
  maps: readonly MapSpec[],
  ledger: LedgerState,
  options: ActivationOptions,
): Record<string, JsonValue>[] {
  const required = options.requireSignedActivation === true;
  const given = options.activations ?? {};
  if (typeof given !== 'object' || given === null) {
    throw new KernelError('KERNEL_CONFIG_INVALID', 'activations must be an object keyed by map name');
  }
  for (const name of Object.keys(given)) {
    if (!maps.some((m) => m.name === name))
      throw new KernelError(
        'KERNEL_CONFIG_INVALID',
        `an activation is given for ${name}, which is not loaded`,
      );
  }
  const signing = required || Object.keys(given).length > 0;
  if (signing && options.trust === undefined) {
    throw new KernelError(
      'KERNEL_CONFIG_INVALID',
      'signed activation needs a trust file with policy-owner keys',
    );
  }
  const bodies: Record<string, JsonValue>[] = [];
  for (const map of maps) {
    const base = { policyDigest: map.digest, name: map.name, version: map.version, owner: map.owner };
    const signed = Object.hasOwn(given, map.name) ? given[map.name] : undefined;
    if (signed === undefined) {
      if (required) throw new KernelError('ACTIVATION_MISSING', `map ${map.name} has no signed activation`);
      if (!ledger.policies.has(map.digest)) bodies.push(base);
      continue;
    }
    const check = verifyActivation(signed, options.trust!, { map: map.name, mapDigest: map.digest });
    if (!check.ok) throw new KernelError(check.code, `map ${map.name}: ${check.message}`);
    const { revision } = check.statement;
    const latest = ledger.activations.get(map.name);
    if (latest !== undefined) {
      if (revision === latest.revision && latest.policyDigest === map.digest) continue; // in force already
      if (revision <= latest.revision) {
        throw new KernelError(
          'ACTIVATION_ROLLBACK',
          `map ${map.name}: revision ${revision} is not higher than revision ${latest.revision} activated at seq ${latest.seq}; to roll back, sign the old content at a higher revision`,
        );
      }
    }
    bodies.push({ ...base, activation: { statement: { ...check.statement }, sig: signed.sig } });
  }
  return bodies;
}
