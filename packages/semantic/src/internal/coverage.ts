import type { CelT, CheckedCondition } from './cel-check.js';
import type { RawDiagnostic } from './diagnostics.js';
import { planCondition } from './fast-path.js';
import type { StateMapDocument } from './schema.js';

// Enumerating every input is exact but exponential in the fields read; past this many
// combinations the rules are left to the run-time MACHINE_NO_MATCH / FACET_NO_MATCH.
const MAX_COMBINATIONS = 4096;
const SHOWN = 3;

type Domain = readonly (string | boolean)[];

function domainOf(t: CelT): Domain | undefined {
  if (t.k === 'bool') return [true, false];
  if (t.k === 'string' && t.values !== undefined) return t.values;
  return undefined;
}

function describe(names: readonly string[], combo: readonly (string | boolean)[]): string {
  return names.map((n, i) => `${n} is ${JSON.stringify(combo[i])}`).join(' and ');
}

/**
 * Rules without a default that read only closed sets (enum codes, booleans) are checked by
 * trying every combination of those values: a combination no rule matches is a record that
 * derives to no state at run time, so validation warns (RULES_INCOMPLETE) and names it.
 */
export function coverageWarnings(
  doc: StateMapDocument,
  conditions: ReadonlyMap<string, CheckedCondition>,
): RawDiagnostic[] {
  const out: RawDiagnostic[] = [];
  const sets: {
    path: (string | number)[];
    what: string;
    rules: readonly { when?: string | undefined }[];
    fallback: unknown;
    noMatch: string;
  }[] = [];
  for (const [fname, f] of Object.entries(doc.facets))
    if (f.rules !== undefined)
      sets.push({
        path: ['facets', fname, 'rules'],
        what: `facet ${fname}`,
        rules: f.rules,
        fallback: f.default,
        noMatch: 'FACET_NO_MATCH',
      });
  for (const [mname, m] of Object.entries(doc.machines))
    if (m.rules !== undefined)
      sets.push({
        path: ['machines', mname, 'rules'],
        what: `machine ${mname}`,
        rules: m.rules,
        fallback: m.default,
        noMatch: 'MACHINE_NO_MATCH',
      });

  for (const set of sets) {
    if (set.fallback !== undefined || set.rules.length === 0) continue;
    const checked = set.rules.map((r, i) =>
      r.when === undefined ? undefined : conditions.get([...set.path, i, 'when'].map(String).join('\u0000')),
    );
    if (checked.some((c, i) => set.rules[i]!.when === undefined || c?.constant === true)) continue;
    const names = new Map<string, Domain>();
    let enumerable = true;
    for (const c of checked) {
      if (c?.parsed === undefined) {
        enumerable = false;
        break;
      }
      for (const [name, t] of c.names) {
        const d = domainOf(t);
        if (d === undefined) enumerable = false;
        else names.set(name, d);
      }
    }
    if (!enumerable || names.size === 0) continue;
    const keys = [...names.keys()];
    const domains = keys.map((k) => names.get(k)!);
    const total = domains.reduce((n, d) => n * d.length, 1);
    if (total > MAX_COMBINATIONS) continue;
    const runs = checked.map((c) => planCondition(c!).planned);
    const uncovered: (string | boolean)[][] = [];
    let count = 0;
    for (let n = 0; n < total; n++) {
      const combo: (string | boolean)[] = [];
      let rest = n;
      for (const d of domains) {
        combo.push(d[rest % d.length]!);
        rest = Math.floor(rest / d.length);
      }
      const bindings = Object.fromEntries(keys.map((k, i) => [k, combo[i]]));
      // A rule that errors on a combination is not a match either: derive fails closed there too.
      if (!runs.some((run) => run(bindings) === true)) {
        count++;
        if (uncovered.length < SHOWN) uncovered.push(combo);
      }
    }
    if (count === 0) continue;
    const more = count > uncovered.length ? ` (and ${count - uncovered.length} more combination(s))` : '';
    out.push({
      code: 'RULES_INCOMPLETE',
      severity: 'warning',
      path: set.path,
      message:
        `no rule of ${set.what} matches when ${uncovered.map((c) => describe(keys, c)).join('; or when ')}${more}: ` +
        `such a record fails with ${set.noMatch} at run time; add a rule, a catch-all rule or a default`,
    });
  }
  return out;
}
