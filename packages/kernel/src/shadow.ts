/**
 * Shadow evaluation: a candidate map loaded beside the active map of the same name decides every
 * proposal the active map decides, on the very same input, and its answer is journaled as a
 * `shadow` record that names the live decision. A shadow is never a permit: it reserves nothing,
 * counts against no limit, creates no approval and no route runs it, so the live system behaves
 * exactly as without it. `edca diff --from-shadow` reads these records.
 */
import type { Digest, JsonValue } from '@edca/records';
import { decisionKeyOf, evaluateDecision } from './decision.js';
import { KernelError } from './errors.js';
import type { RecordDraft } from './journal.js';
import type { CompiledMap as MapSpec, DecisionInput } from '@edca/semantic';

/** The candidate maps of a kernel, by the name of the active map each one shadows. */
export interface ShadowSet {
  /** The `shadow` record a live decision under `live` gets, or undefined when no candidate shadows it. */
  draftFor(live: MapSpec, input: DecisionInput, decision: Digest, at: string): RecordDraft | undefined;
}

/**
 * Pairs each candidate with the loaded map of the same name.
 * @throws KernelError KERNEL_CONFIG_INVALID for a candidate with no active map of its name, with the
 *   active map's own digest, or two candidates for one map
 * @example const shadows = createShadowSet([candidate], [active]);
 */
export function createShadowSet(candidates: readonly MapSpec[], active: readonly MapSpec[]): ShadowSet {
  const given: unknown = candidates;
  if (!Array.isArray(given))
    throw new KernelError('KERNEL_CONFIG_INVALID', 'shadow must be an array of compiled maps');
  const byName = new Map<string, MapSpec>();
  for (const candidate of candidates) {
    const live = active.find((m) => m.name === (candidate as MapSpec | undefined)?.name);
    if (live === undefined)
      throw new KernelError(
        'KERNEL_CONFIG_INVALID',
        `shadow map ${String((candidate as MapSpec | undefined)?.name)} shadows no loaded map`,
      );
    if (live.digest === candidate.digest)
      throw new KernelError('KERNEL_CONFIG_INVALID', `shadow map ${candidate.name} is the active map itself`);
    if (byName.has(candidate.name))
      throw new KernelError('KERNEL_CONFIG_INVALID', `map ${candidate.name} has two shadow maps`);
    byName.set(candidate.name, candidate);
  }
  return {
    draftFor(live, input, decision, at) {
      const candidate = byName.get(live.name);
      if (candidate === undefined) return undefined;
      // The same facts under the candidate's digest; `now` is added when only the candidate reads time.
      // Counters are the live intent's, by limit key: a limit only the candidate has is missing, and
      // the candidate refuses COUNTER_MISSING, a difference the diff shows rather than hides.
      const { now: _now, ...rest } = input;
      const shadowInput: DecisionInput = {
        ...rest,
        policyDigest: candidate.digest,
        ...(candidate.usesTime ? { now: input.now ?? at } : {}),
      };
      const result = evaluateDecision(candidate, shadowInput);
      return {
        type: 'shadow',
        at,
        body: {
          decision,
          verdict: result.verdict,
          decisionKey: decisionKeyOf(shadowInput),
          policyDigest: candidate.digest,
          input: shadowInput as unknown as JsonValue,
          rule: result.rule,
          reasons: [...result.reasons],
          accountable: result.accountable,
        },
      };
    },
  };
}
