import { z } from 'zod';

// The state-map document, format `state-map/v1`. Every object is strict: an unknown key is an
// error, never silently ignored (a misspelt `escalate_when` must not turn into "never escalate").

/** Names the map declares (facets, intents, machines, sources, params): snake_case, CEL-safe. */
export const identifier = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be snake_case: a-z, 0-9, _ and start with a letter');

/** A value of a closed set (facet value, machine state, param enum member), e.g. `100-500`. */
export const setValue = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.+-]{0,62}$/, 'must be lower-case a-z, 0-9 and _ . + -');

/** A role name (owner, accountable, approver). */
export const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'must be a lower-case role name');

/** A private field name as the business system spells it. */
export const fieldName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a field name: letters, digits and _');

/** `source.field` */
export const fieldPath = z
  .string()
  .regex(/^[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'must be `source.field`');

/** A duration such as `15m`, `24h`, `30d`. */
export const durationText = z
  .string()
  .regex(/^[1-9][0-9]{0,8}(ms|s|m|h|d)$/, 'must be a duration like 90s, 15m, 24h or 30d');

const description = z.string().min(1).max(1000);
const condition = z.string().min(1).max(4000);

const sourceFieldSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('string'),
    max_length: z.int().min(1).optional(),
    description: description.optional(),
  }),
  z.strictObject({ type: z.literal('integer'), description: description.optional() }),
  z.strictObject({ type: z.literal('number'), description: description.optional() }),
  z.strictObject({ type: z.literal('boolean'), description: description.optional() }),
  z.strictObject({ type: z.literal('timestamp'), description: description.optional() }),
  z.strictObject({
    type: z.literal('enum'),
    values: z.array(z.string().min(1).max(100)).min(1),
    description: description.optional(),
  }),
]);

/** A source field, written either in full or as the bare type name (`balance_cents: integer`). */
const sourceField = z.preprocess((v) => (typeof v === 'string' ? { type: v } : v), sourceFieldSchema);

const sourceSchema = z.strictObject({
  description: description.optional(),
  fields: z.record(fieldName, sourceField),
});

const entitySchema = z.strictObject({
  description: description.optional(),
  source: identifier,
  id: fieldName,
});

const attributeSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { type: v } : v),
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('string'), enum: z.array(setValue).min(1).optional() }),
    z.strictObject({ type: z.literal('integer') }),
    z.strictObject({ type: z.literal('number') }),
    z.strictObject({ type: z.literal('boolean') }),
  ]),
);

const ruleSchema = z.strictObject({
  when: condition.optional(),
  value: setValue,
  description: description.optional(),
});

const bandSchema = z.strictObject({
  below: z.number().optional(),
  value: setValue,
});

const facetSchema = z
  .strictObject({
    description: description.optional(),
    values: z.array(setValue).min(1),
    rules: z.array(ruleSchema).min(1).optional(),
    from: fieldPath.optional(),
    bands: z.array(bandSchema).min(1).optional(),
    default: setValue.optional(),
  })
  .superRefine((f, ctx) => {
    const byRules = f.rules !== undefined;
    const byBands = f.bands !== undefined || f.from !== undefined;
    if (byRules === byBands) {
      ctx.addIssue({
        code: 'custom',
        message: 'a facet is defined either by `rules` or by `from` + `bands`, exactly one',
      });
    } else if (byBands && (f.bands === undefined || f.from === undefined)) {
      ctx.addIssue({ code: 'custom', message: '`from` and `bands` go together' });
    }
  });

const machineRuleSchema = z.strictObject({
  when: condition.optional(),
  state: setValue,
  description: description.optional(),
});

const machineSchema = z.strictObject({
  description: description.optional(),
  entity: identifier.optional(),
  states: z.array(setValue).min(1),
  initial: setValue,
  terminal: z.array(setValue).optional(),
  rules: z.array(machineRuleSchema).min(1).optional(),
  default: setValue.optional(),
});

const paramSchema = z.union([
  z.strictObject({ ref: identifier, description: description.optional() }),
  z.strictObject({
    type: z.literal('string'),
    description: description.optional(),
    enum: z.array(setValue).min(1).optional(),
    pattern: z.string().min(1).max(500).optional(),
    max_length: z.int().min(1).max(10_000).optional(),
  }),
  z.strictObject({
    type: z.literal('integer'),
    description: description.optional(),
    minimum: z.int().optional(),
    maximum: z.int().optional(),
  }),
  z.strictObject({
    type: z.literal('number'),
    description: description.optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    multiple_of: z.number().positive().optional(),
  }),
  z.strictObject({ type: z.literal('boolean'), description: description.optional() }),
]);

const limitSchema = z
  .strictObject({
    key: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'must be a dotted key like refund.rate'),
    kind: z.enum(['rate', 'budget']),
    max: z.number().positive(),
    window: durationText,
    per: z.union([z.literal('principal'), identifier]),
    amount: identifier.optional(),
    description: description.optional(),
  })
  .superRefine((l, ctx) => {
    if ((l.kind === 'budget') !== (l.amount !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a budget names its `amount` param; a rate has none' });
    }
  });

const intentSchema = z
  .strictObject({
    description,
    machine: identifier.optional(),
    transition: z
      .strictObject({
        from: z.array(setValue).min(1),
        to: setValue.optional(),
        guard: condition.optional(),
      })
      .optional(),
    params: z.record(identifier, paramSchema).optional(),
    allowed_when: condition.optional(),
    escalate_when: condition.optional(),
    limits: z.array(limitSchema).optional(),
    accountable: roleName.optional(),
    approvals: z.strictObject({ count: z.int().min(1).max(10), role: roleName }).optional(),
    compensation: identifier.optional(),
  })
  .superRefine((i, ctx) => {
    if ((i.machine === undefined) !== (i.transition === undefined)) {
      ctx.addIssue({ code: 'custom', message: '`machine` and `transition` go together' });
    }
    if (i.escalate_when !== undefined && i.approvals === undefined) {
      ctx.addIssue({ code: 'custom', message: '`escalate_when` needs `approvals` (how many, which role)' });
    }
  });

const displayValueSchema = z.union([
  z.strictObject({ facet: identifier, description: description.optional() }),
  z.strictObject({
    from: fieldPath,
    mask: z.strictObject({ keep_last: z.int().min(0).max(8) }).optional(),
    description: description.optional(),
  }),
]);

const freeTextSchema = z.strictObject({
  from: fieldPath,
  show: z.boolean().default(false),
  max_length: z.int().min(1).max(100_000).default(2000),
  description: description.optional(),
});

const routeParamSchema = z.strictObject({
  field: fieldName,
  scale: z.number().positive().optional(),
  values: z.record(setValue, z.string().min(1).max(100)).optional(),
});

const routeSchema = z.strictObject({
  handler: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$/, 'must be a handler name'),
  params: z.record(identifier, routeParamSchema).optional(),
});

/** The zod schema of a whole state-map document. */
export const stateMapSchema = z.strictObject({
  edca: z.literal('state-map/v1'),
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/, 'must be a lower-case map name'),
  version: z.string().min(1).max(50),
  owner: roleName,
  description: description.optional(),
  time: z.boolean().default(false),
  principal: z
    .strictObject({ attributes: z.record(identifier, attributeSchema) })
    .default({ attributes: {} }),
  sources: z.record(identifier, sourceSchema),
  entities: z.record(identifier, entitySchema).default({}),
  facets: z.record(identifier, facetSchema),
  machines: z.record(identifier, machineSchema).default({}),
  intents: z.record(identifier, intentSchema),
  display: z
    .strictObject({
      values: z.record(identifier, displayValueSchema).default({}),
      free_text: z.record(identifier, freeTextSchema).default({}),
    })
    .default({ values: {}, free_text: {} }),
  routes: z.record(identifier, routeSchema).default({}),
});

/** A state-map document after schema validation, with defaults filled in. */
export type StateMapDocument = z.output<typeof stateMapSchema>;
export type SourceField = z.output<typeof sourceFieldSchema>;
export type ParamDecl = z.output<typeof paramSchema>;
export type AttributeDecl = StateMapDocument['principal']['attributes'][string];
export type IntentDecl = StateMapDocument['intents'][string];
export type FacetDecl = StateMapDocument['facets'][string];
export type MachineDecl = StateMapDocument['machines'][string];
export type LimitDecl = z.output<typeof limitSchema>;
