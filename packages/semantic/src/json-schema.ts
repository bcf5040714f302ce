import { z } from 'zod';
import { stateMapSchema } from './internal/schema.js';

/** The `$id` of the published JSON Schema of a state map (a name, not a download address). */
export const STATE_MAP_SCHEMA_ID = 'urn:edca:schema:state-map:v1';

/**
 * The JSON Schema (draft 2020-12) of a state-map document as written, generated from the same zod
 * schema `loadStateMap` checks with, so editors complete and validate exactly what the loader
 * accepts structurally. Cross-references (does this facet exist? does this condition
 * type-check?) are not structural: `edca validate` reports them.
 *
 * @example
 * writeFileSync('state-map.schema.json', JSON.stringify(stateMapJsonSchema(), null, 2));
 */
export function stateMapJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(stateMapSchema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'throw',
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: STATE_MAP_SCHEMA_ID,
    title: 'edca state map (state-map/v1)',
    description:
      'A versioned state map: private sources, abstract facets, machines, intents and their policy. Run `edca validate` for the checks a schema cannot express.',
    ...rest,
  };
}
