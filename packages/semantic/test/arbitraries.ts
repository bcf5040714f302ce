import type { AbstractState, CompiledMap, ParamSpec } from '@edca/semantic';
import fc from 'fast-check';

/** Valid values for one declared param, generated from its spec. */
export function paramArb(spec: ParamSpec): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case 'ref':
      return fc.stringMatching(/^ref_[A-Za-z0-9_-]{8,24}$/);
    case 'string':
      if (spec.enum) return fc.constantFrom(...spec.enum);
      if (spec.pattern !== undefined) {
        return fc
          .stringMatching(new RegExp(`^(?:${spec.pattern})$`))
          .filter((s) => s.length <= spec.maxLength);
      }
      return fc.string({ maxLength: spec.maxLength });
    case 'integer':
      return fc.integer({ min: spec.minimum ?? -1_000_000, max: spec.maximum ?? 1_000_000 });
    case 'number': {
      const min = spec.minimum ?? -1_000_000;
      const max = spec.maximum ?? 1_000_000;
      if (spec.multipleOf !== undefined) {
        const step = spec.multipleOf;
        return fc
          .integer({ min: Math.ceil(min / step), max: Math.floor(max / step) })
          .map((n) => Number((n * step).toFixed(10)));
      }
      return fc.double({ min, max, noNaN: true });
    }
    case 'boolean':
      return fc.boolean();
  }
}

/** Valid params for an intent. */
export function paramsArb(map: CompiledMap, intent: string): fc.Arbitrary<Record<string, unknown>> {
  const i = map.intent(intent)!;
  return fc.record(Object.fromEntries(Object.entries(i.params).map(([n, p]) => [n, paramArb(p)])));
}

/** Any abstract state the map can express. */
export function stateArb(map: CompiledMap): fc.Arbitrary<AbstractState> {
  return fc.record({
    facets: fc.record(
      Object.fromEntries(Object.entries(map.facetValues).map(([f, vs]) => [f, fc.constantFrom(...vs)])),
    ),
    machines: fc.record(Object.fromEntries(map.machines.map((m) => [m.name, fc.constantFrom(...m.states)]))),
  });
}

/** Principal attributes as the map declares them. */
export function principalArb(
  map: CompiledMap,
): fc.Arbitrary<{ id: string; attributes: Record<string, unknown> }> {
  const attrs: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [n, a] of Object.entries(map.document.principal.attributes)) {
    attrs[n] =
      a.type === 'string'
        ? a.enum
          ? fc.constantFrom(...a.enum)
          : fc.string()
        : a.type === 'integer'
          ? fc.integer({ min: 0, max: 1_000_000 })
          : a.type === 'number'
            ? fc.double({ noNaN: true, noDefaultInfinity: true })
            : fc.boolean();
  }
  return fc.record({ id: fc.stringMatching(/^u-[a-z0-9]{4,12}$/), attributes: fc.record(attrs) });
}
