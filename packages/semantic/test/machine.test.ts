// Model-based tests generated from each fixture machine: every declared transition is reached
// by a path from a state the machine can be in, and every other (state, intent) pair is refused.
import type { AbstractState, CompiledMachine, CompiledMap, DecisionInput } from '@edca/semantic';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paramsArb, principalArb, stateArb } from './arbitraries.js';
import { loadFixtureMap, MAPS } from './helpers.js';

/** States a machine can start from: its initial state and every state its rules derive. */
function entryStates(map: CompiledMap, m: CompiledMachine): string[] {
  const decl = map.document.machines[m.name]!;
  return [
    ...new Set([
      m.initial,
      ...(decl.rules ?? []).map((r) => r.state),
      ...(decl.default ? [decl.default] : []),
    ]),
  ];
}

/** Shortest intent path from an entry state to `target`, by breadth-first search over the machine. */
function pathTo(
  map: CompiledMap,
  m: CompiledMachine,
  target: string,
): { start: string; path: string[] } | undefined {
  const queue: [string, string, string[]][] = entryStates(map, m).map((s) => [s, s, []]);
  const seen = new Set(queue.map(([s]) => s));
  while (queue.length > 0) {
    const [start, s, path] = queue.shift()!;
    if (s === target) return { start, path };
    if (m.terminal.includes(s)) continue;
    for (const t of m.transitions.filter((x) => x.from === s)) {
      if (!seen.has(t.to)) {
        seen.add(t.to);
        queue.push([start, t.to, [...path, t.intent]]);
      }
    }
  }
  return undefined;
}

function input(
  map: CompiledMap,
  state: AbstractState,
  intent: string,
  params: Record<string, unknown>,
  principal: { id: string; attributes: Record<string, unknown> },
): DecisionInput {
  return {
    policyDigest: map.digest,
    state,
    proposal: { intent, params: params as DecisionInput['proposal']['params'] },
    principal: principal as DecisionInput['principal'],
    approvals: [],
    counters: Object.fromEntries(map.intent(intent)!.limits.map((l) => [l.key, 0])),
    now: '2026-11-21T12:00:00.000Z',
  };
}

describe.each(MAPS)('machines of %s', (name) => {
  const map = loadFixtureMap(name);

  describe.each(map.machines.map((m) => [m.name, m] as const))('machine %s', (_n, m) => {
    const intents = map.intentNames.filter((i) => map.intent(i)!.machine === m.name);

    it('reaches every declared transition along a path generated from the machine', () => {
      for (const t of m.transitions) {
        const found = pathTo(map, m, t.from);
        expect(found, `${t.from} unreachable`).toBeDefined();
        let s = found!.start;
        for (const step of found!.path) {
          const next = map.next(m.name, s, step);
          expect(next, `${s} --${step}-->`).toBeDefined();
          s = next!;
        }
        expect(s).toBe(t.from);
        expect(map.next(m.name, s, t.intent)).toBe(t.to);
      }
    });

    it('allows exactly the declared (state, intent) pairs and refuses every other with TRANSITION_NOT_ALLOWED', () => {
      fc.assert(
        fc.property(
          stateArb(map),
          fc.constantFrom(...intents),
          principalArb(map),
          fc.constantFrom(...m.states),
          (state, intent, principal, current) => {
            const params = fc.sample(paramsArb(map, intent), { numRuns: 1, seed: current.length })[0]!;
            const s: AbstractState = {
              facets: state.facets,
              machines: { ...state.machines, [m.name]: current },
            };
            const declared = m.transitions.some((t) => t.from === current && t.intent === intent);
            expect(map.canTransition(m.name, current, intent)).toBe(declared);
            const d = map.evaluate(input(map, s, intent, params, principal));
            if (declared) expect(d.reasons).not.toContain('TRANSITION_NOT_ALLOWED');
            else
              expect(d).toMatchObject({
                verdict: 'refuse',
                reasons: ['TRANSITION_NOT_ALLOWED'],
                rule: `intents.${intent}.transition`,
              });
          },
        ),
        { numRuns: 300 },
      );
    });

    it('keeps a random walk inside the machine: only declared moves change the state', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...entryStates(map, m)),
          fc.array(fc.constantFrom(...intents), { maxLength: 12 }),
          (start, walk) => {
            let s = start;
            for (const intent of walk) {
              const next = map.next(m.name, s, intent);
              if (m.terminal.includes(s)) expect(next).toBeUndefined();
              if (next === undefined) expect(map.canTransition(m.name, s, intent)).toBe(false);
              else {
                expect(m.states).toContain(next);
                s = next;
              }
            }
          },
        ),
        { numRuns: 200 },
      );
    });
  });

  it('answers false/undefined for unknown machines and intents', () => {
    expect(map.canTransition('no_such_machine', 'x', map.intentNames[0]!)).toBe(false);
    expect(map.next(map.machines[0]!.name, map.machines[0]!.initial, 'no_such_intent')).toBeUndefined();
  });
});
