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

/** `source.field`, or a path into nested objects: `source.field.nested`. */
export const fieldPath = z
  .string()
  .max(400)
  .regex(
    /^[a-z][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){1,5}$/,
    'must be `source.field` (or `source.field.nested`, up to 5 names)',
  );

/** A duration such as `15m`, `24h`, `30d`. */
export const durationText = z
  .string()
  .regex(/^[1-9][0-9]{0,8}(ms|s|m|h|d)$/, 'must be a duration like 90s, 15m, 24h or 30d');

/** An ISO 8601 duration of days, hours, minutes and seconds (`P90D`, `PT12H`, `P1DT6H`). */
export const isoDuration = z
  .string()
  .regex(
    /^P(?=\d|T\d)(\d{1,5}D)?(T(?=\d)(\d{1,6}H)?(\d{1,8}M)?(\d{1,9}S)?)?$/,
    'must be an ISO 8601 duration of days, hours, minutes or seconds, like P90D or PT12H (no years or months: their length varies)',
  );

/** The most items a `list` field may declare as `max_items`. */
export const MAX_LIST_ITEMS = 10_000;
/** The most characters a `string` field may declare as `max_length`. */
export const MAX_STRING_LENGTH = 1_000_000;
/** How long a string field without `max_length` may be (characters). */
export const DEFAULT_STRING_LENGTH = 100_000;
/** How deep `object` and `list` fields may nest below a source (a source's own fields are depth 1). */
export const MAX_FIELD_DEPTH = 4;
/** The most values (items of all lists, nested included) one source record may carry. */
export const MAX_VALUES_PER_SOURCE = 100_000;

const description = z.string().min(1).max(1000);
const condition = z.string().min(1).max(4000);

const SCALAR_TYPES = ['string', 'integer', 'number', 'boolean', 'timestamp'] as const;

/** Keys every field declaration may carry, whatever its type. */
interface FieldCommon {
  description?: string | undefined;
  /** `null` is a value of the field, which conditions can test (`x == null`). */
  nullable?: boolean | undefined;
  /** The field may be absent from a record; conditions then read it as `null`. */
  optional?: boolean | undefined;
}

/** A declared source field after validation (shorthands expanded). */
export type SourceField =
  | ({ type: 'string'; max_length?: number | undefined } & FieldCommon)
  | ({ type: 'integer' | 'number' | 'boolean' | 'timestamp' } & FieldCommon)
  | ({ type: 'enum'; values: string[] } & FieldCommon)
  | ({ type: 'object'; fields: Record<string, SourceField> } & FieldCommon)
  | ({ type: 'list'; max_items: number; items: SourceField } & FieldCommon);

/** A source field as written: in full, or a bare scalar type name. */
export type SourceFieldInput =
  | (typeof SCALAR_TYPES)[number]
  | ({ type: 'string'; max_length?: number | undefined } & FieldCommon)
  | ({ type: 'integer' | 'number' | 'boolean' | 'timestamp' } & FieldCommon)
  | ({ type: 'enum'; values: string[] } & FieldCommon)
  | ({ type: 'object'; fields: Record<string, SourceFieldInput> } & FieldCommon)
  | ({ type: 'list'; max_items: number; items: SourceFieldInput } & FieldCommon);

const fieldCommon = {
  description: description.optional(),
  nullable: z.boolean().optional(),
  optional: z.boolean().optional(),
};

/**
 * A source field, written either in full or as the bare type name (`balance_cents: integer`),
 * which means the same (and digests the same). Objects and lists nest (bounded by validation).
 */
const sourceField: z.ZodType<SourceField, SourceFieldInput> = z.lazy(() =>
  z.union([
    z.enum(SCALAR_TYPES).transform((type): SourceField => ({ type })),
    z.discriminatedUnion('type', [
      z.strictObject({
        type: z.literal('string'),
        max_length: z.int().min(1).max(MAX_STRING_LENGTH).optional(),
        ...fieldCommon,
      }),
      z.strictObject({ type: z.literal('integer'), ...fieldCommon }),
      z.strictObject({ type: z.literal('number'), ...fieldCommon }),
      z.strictObject({ type: z.literal('boolean'), ...fieldCommon }),
      z.strictObject({ type: z.literal('timestamp'), ...fieldCommon }),
      z.strictObject({
        type: z.literal('enum'),
        values: z.array(z.string().min(1).max(100)).min(1).max(1000),
        ...fieldCommon,
      }),
      z.strictObject({
        type: z.literal('object'),
        fields: z.record(fieldName, sourceField),
        ...fieldCommon,
      }),
      z.strictObject({
        type: z.literal('list'),
        max_items: z.int().min(1).max(MAX_LIST_ITEMS),
        items: sourceField,
        ...fieldCommon,
      }),
    ]),
  ]),
);

const sourceSchema = z.strictObject({
  description: description.optional(),
  fields: z.record(fieldName, sourceField),
});

const entitySchema = z.strictObject({
  description: description.optional(),
  source: identifier,
  id: fieldName,
});

const attributeFull = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('string'), enum: z.array(setValue).min(1).optional() }),
  z.strictObject({ type: z.literal('integer') }),
  z.strictObject({ type: z.literal('number') }),
  z.strictObject({ type: z.literal('boolean') }),
]);

/** A principal attribute, in full or as the bare type name (`strong_auth: boolean`). */
const attributeSchema = z.union([
  z
    .enum(['string', 'integer', 'number', 'boolean'])
    .transform((type): z.output<typeof attributeFull> => ({ type })),
  attributeFull,
]);

const ruleSchema = z.strictObject({
  when: condition.optional(),
  value: setValue,
  description: description.optional(),
});

const aggregateCommon = {
  where: condition.optional(),
  within: isoDuration.optional(),
  at: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,4}$/, 'must be a field name of the item')
    .optional(),
};

/**
 * What a banded facet reads: a numeric field, or an aggregate of a list field (`count`/`size`
 * of the items, `sum`/`max`/`min` of a numeric field of the items), optionally filtered by a
 * condition over `item` and a time window.
 */
const facetSource = z.union([
  fieldPath,
  z.strictObject({ count: fieldPath, ...aggregateCommon }),
  z.strictObject({ size: fieldPath }),
  z.strictObject({ sum: fieldPath, ...aggregateCommon }),
  z.strictObject({ max: fieldPath, ...aggregateCommon }),
  z.strictObject({ min: fieldPath, ...aggregateCommon }),
]);

const bandSchema = z.strictObject({
  below: z.number().optional(),
  value: setValue,
});

const facetSchema = z
  .strictObject({
    description: description.optional(),
    values: z.array(setValue).min(1),
    rules: z.array(ruleSchema).min(1).optional(),
    from: facetSource.optional(),
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
export type FacetSource = z.output<typeof facetSource>;
export type ParamDecl = z.output<typeof paramSchema>;
export type AttributeDecl = StateMapDocument['principal']['attributes'][string];
export type IntentDecl = StateMapDocument['intents'][string];
export type FacetDecl = StateMapDocument['facets'][string];
export type MachineDecl = StateMapDocument['machines'][string];
export type LimitDecl = z.output<typeof limitSchema>;
