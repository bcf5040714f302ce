/**
 * Stable codes of `@edca/semantic`. Three closed sets: validation diagnostics (a map that cannot
 * be right), derivation failures (records that cannot be read) and decision reasons (why
 * `evaluate` refused, escalated or permitted). All are listed in docs/reason-codes.md.
 */

/** Codes a validation diagnostic can carry (errors unless noted). */
export type DiagnosticCode =
  /** The text is not well-formed YAML or JSON. */
  | 'PARSE_ERROR'
  /** A key is missing, unknown, or of the wrong type or shape. */
  | 'SCHEMA_INVALID'
  /** The same name is declared twice (a repeated key, state, value or enum member). */
  | 'DUPLICATE_NAME'
  /** A name refers to something the map does not declare (machine, source field, entity, intent, param). */
  | 'UNKNOWN_REFERENCE'
  /** A value is outside the closed set it belongs to (facet value, machine state, enum member). */
  | 'VALUE_NOT_IN_SET'
  /** A transition starts from or leads to a state its machine does not declare. */
  | 'TRANSITION_UNDECLARED_STATE'
  /** An intent can be allowed in no reachable, non-terminal state. */
  | 'INTENT_ALLOWED_NOWHERE'
  /** A rule follows an unconditional rule and can never be reached. */
  | 'RULE_AFTER_UNCONDITIONAL'
  /** Warning: a rule can never match (constant false, shadowed by an identical earlier rule, or an empty band). */
  | 'RULE_NEVER_MATCHES'
  /** Warning: rules without a default leave a combination of enum codes or booleans unmatched (derive fails there). */
  | 'RULES_INCOMPLETE'
  /** A condition is not valid CEL syntax. */
  | 'CONDITION_SYNTAX_ERROR'
  /** A condition reads a facet the map does not declare. */
  | 'CONDITION_UNKNOWN_FACET'
  /** A condition reads a param the intent does not declare (or a ref param, which is opaque). */
  | 'CONDITION_UNKNOWN_PARAM'
  /** A condition reads any other undeclared name (source field, machine, principal attribute, `now`). */
  | 'CONDITION_UNKNOWN_NAME'
  /** A condition does not type-check, uses an unsupported construct, or is not boolean. */
  | 'CONDITION_TYPE_ERROR';

/** Codes a failed `derive` carries. */
export type DeriveCode =
  /** A declared source is absent from the records, or is not an object. */
  | 'SOURCE_MISSING'
  /** A declared field is absent from its source record. */
  | 'SOURCE_FIELD_MISSING'
  /** A declared field has the wrong type, is out of its enum, is not a valid timestamp, is null without `nullable`, or is a string over its length bound. */
  | 'SOURCE_FIELD_INVALID'
  /** A list field has more items than its `max_items`. */
  | 'SOURCE_LIST_TOO_LONG'
  /** The map counts items in a time window and `derive` was given no valid `now`. */
  | 'TIME_REQUIRED'
  /** No rule of a facet matched and the facet declares no default. */
  | 'FACET_NO_MATCH'
  /** No rule of a machine matched and the machine declares no default. */
  | 'MACHINE_NO_MATCH'
  /** A derivation condition failed at run time (for example a division by zero). */
  | 'CONDITION_ERROR';

/** Reason codes in a `DecisionResult`. */
export type ReasonCode =
  /** Permitted: every check passed and no approval was needed. */
  | 'ALLOWED'
  /** Permitted: approval was required and enough distinct approvers with the role approved. */
  | 'APPROVALS_MET'
  /** The decision input is not of the DecisionInput shape (a caller bug, or a corrupted replay record). */
  | 'INPUT_INVALID'
  /** The input names another policy digest than this compiled map's. */
  | 'POLICY_DIGEST_MISMATCH'
  /** The proposal names an intent the map does not declare. */
  | 'UNKNOWN_INTENT'
  /** The abstract state does not fit the map (unknown machine or facet value, missing entry). */
  | 'STATE_INVALID'
  /** The params do not fit the intent's declared params. */
  | 'PARAMS_INVALID'
  /** The intent's machine cannot take this transition from its current state (or the guard is false). */
  | 'TRANSITION_NOT_ALLOWED'
  /** `allowed_when` is false. */
  | 'NOT_ALLOWED'
  /** A rate limit or budget would be passed by this request. */
  | 'LIMIT_EXCEEDED'
  /** The input lacks the usage counter of a declared limit. */
  | 'COUNTER_MISSING'
  /** The map reads time and the input carries no valid `now`. */
  | 'TIME_REQUIRED'
  /** Escalation: not enough distinct approvals with the required role. */
  | 'APPROVAL_REQUIRED'
  /** A condition failed at run time or did not yield a boolean. */
  | 'CONDITION_ERROR';

/** Codes a `SemanticError` (misuse, or a map that does not compile) can carry. */
export type SemanticErrorCode =
  /** `compile` was given a document with errors; `diagnostics` lists them. */
  'MAP_INVALID';

/** One problem found while loading or validating a state map. */
export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: 'error' | 'warning';
  /** Dotted path into the document, e.g. `intents.refund_payment.allowed_when` or `facets.x.rules[1]`. */
  readonly path: string;
  readonly message: string;
  readonly file?: string;
  /** 1-based line and column, when the document came from text. */
  readonly line?: number;
  readonly col?: number;
}

/** The error class of `@edca/semantic`, with a closed, stable `code`. */
export class SemanticError extends Error {
  override readonly name = 'SemanticError';

  /** Creates an error with a stable code; `diagnostics` carries every problem of an invalid map. */
  constructor(
    readonly code: SemanticErrorCode,
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

/** Every `DiagnosticCode`, for documentation and exhaustive tests. */
export const DIAGNOSTIC_CODES = [
  'PARSE_ERROR',
  'SCHEMA_INVALID',
  'DUPLICATE_NAME',
  'UNKNOWN_REFERENCE',
  'VALUE_NOT_IN_SET',
  'TRANSITION_UNDECLARED_STATE',
  'INTENT_ALLOWED_NOWHERE',
  'RULE_AFTER_UNCONDITIONAL',
  'RULE_NEVER_MATCHES',
  'RULES_INCOMPLETE',
  'CONDITION_SYNTAX_ERROR',
  'CONDITION_UNKNOWN_FACET',
  'CONDITION_UNKNOWN_PARAM',
  'CONDITION_UNKNOWN_NAME',
  'CONDITION_TYPE_ERROR',
] as const satisfies readonly DiagnosticCode[];

/** Every `DeriveCode`. */
export const DERIVE_CODES = [
  'SOURCE_MISSING',
  'SOURCE_FIELD_MISSING',
  'SOURCE_FIELD_INVALID',
  'SOURCE_LIST_TOO_LONG',
  'TIME_REQUIRED',
  'FACET_NO_MATCH',
  'MACHINE_NO_MATCH',
  'CONDITION_ERROR',
] as const satisfies readonly DeriveCode[];

/** Every `ReasonCode`. */
export const REASON_CODES = [
  'ALLOWED',
  'APPROVALS_MET',
  'INPUT_INVALID',
  'POLICY_DIGEST_MISMATCH',
  'UNKNOWN_INTENT',
  'STATE_INVALID',
  'PARAMS_INVALID',
  'TRANSITION_NOT_ALLOWED',
  'NOT_ALLOWED',
  'LIMIT_EXCEEDED',
  'COUNTER_MISSING',
  'TIME_REQUIRED',
  'APPROVAL_REQUIRED',
  'CONDITION_ERROR',
] as const satisfies readonly ReasonCode[];

// Compile-time proof that each list names every member of its union.
type Missing<U, L extends readonly unknown[]> = Exclude<U, L[number]>;
const _allListed: [
  Missing<DiagnosticCode, typeof DIAGNOSTIC_CODES>,
  Missing<DeriveCode, typeof DERIVE_CODES>,
  Missing<ReasonCode, typeof REASON_CODES>,
] extends [never, never, never]
  ? true
  : false = true;
void _allListed;
