import type { Digest, JsonValue } from '@edca/records';
import type { z } from 'zod';
import type { DeriveCode, Diagnostic, ReasonCode } from './errors.js';
import type { stateMapSchema, StateMapDocument } from './internal/schema.js';

export type { StateMapDocument } from './internal/schema.js';

/** The abstract state of one subject: a value for every facet and a state for every machine. */
export interface AbstractState {
  readonly facets: Readonly<Record<string, string>>;
  readonly machines: Readonly<Record<string, string>>;
}

/** The outcome of `derive`: the abstract state and its hash, or a fail-closed code. */
export type DeriveResult =
  | { readonly ok: true; readonly state: AbstractState; readonly stateHash: Digest }
  | { readonly ok: false; readonly code: DeriveCode; readonly path: string; readonly message: string };

/** The outcome of `explainDerive`: `derive`'s result and the rule, band or default behind each value chosen so far. */
export type ExplainedDerive = DeriveResult & { readonly matched: Readonly<Record<string, string>> };

/** Inputs of `derive` beyond the records. */
export interface DeriveOptions {
  /**
   * RFC 3339 time the records are read at. Needed (else `TIME_REQUIRED`) only when a
   * time-windowed aggregate (`within`) has items to count; ignored otherwise.
   */
  readonly now?: string;
}

/** Everything a decision depends on; the kernel records it so an auditor can replay it. */
export interface DecisionInput {
  readonly policyDigest: Digest;
  readonly state: AbstractState;
  /** Normalized by the ARP layer; refs are opaque strings. */
  readonly proposal: { readonly intent: string; readonly params: Readonly<Record<string, JsonValue>> };
  readonly principal: { readonly id: string; readonly attributes: Readonly<Record<string, JsonValue>> };
  /** Distinct approvals, sorted by kid. */
  readonly approvals: readonly { readonly kid: string; readonly role: string }[];
  /** Current usage of every limit key the intent declares, scoped by the kernel. */
  readonly counters: Readonly<Record<string, number>>;
  /** RFC 3339 UTC; only when the map declares `time: true`. */
  readonly now?: string;
}

/** What `evaluate` decided, the rule that decided it, and why. */
export interface DecisionResult {
  readonly verdict: 'permit' | 'refuse' | 'escalate';
  /** Path of the deciding rule in the document, e.g. `intents.refund_payment.escalate_when`. */
  readonly rule: string;
  readonly reasons: readonly ReasonCode[];
  /** The accountable role: the intent's `accountable`, else the map's `owner`. */
  readonly accountable: string;
  readonly approvalsRequired?: { readonly count: number; readonly role: string };
}

/** A rate limit or budget as the kernel needs it to scope and update counters. */
export interface CompiledLimit {
  readonly key: string;
  readonly kind: 'rate' | 'budget';
  readonly max: number;
  readonly windowMs: number;
  /** `principal`, or the entity kind whose id scopes the counter. */
  readonly per: string;
  /** For budgets: the param whose value is added to the counter. */
  readonly amountParam?: string;
}

/** A semantic param as declared (the model sees these). */
export type ParamSpec =
  | { readonly kind: 'ref'; readonly entity: string; readonly description?: string }
  | {
      readonly kind: 'string';
      readonly description?: string;
      readonly enum?: readonly string[];
      readonly pattern?: string;
      readonly maxLength: number;
    }
  | {
      readonly kind: 'integer' | 'number';
      readonly description?: string;
      readonly minimum?: number;
      readonly maximum?: number;
      readonly multipleOf?: number;
    }
  | { readonly kind: 'boolean'; readonly description?: string };

/** One intent, compiled. */
export interface CompiledIntent {
  readonly name: string;
  readonly description: string;
  readonly machine?: string;
  readonly from: readonly string[];
  /** Target state; equal to the current state for intents that keep it. */
  readonly to?: string;
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** Strict zod schema of the params (unknown keys rejected, every param required). */
  readonly paramsSchema: z.ZodType<Record<string, JsonValue>>;
  readonly limits: readonly CompiledLimit[];
  readonly accountable: string;
  readonly approvals?: { readonly count: number; readonly role: string };
  /** Whether escalation never, always, or conditionally applies. */
  readonly escalation: 'never' | 'always' | 'conditional';
  readonly compensation?: string;
  /** Whether a condition of this intent reads `now`. */
  readonly readsTime: boolean;
}

/** A machine with its transitions (collected from the intents), for drawing and model-based tests. */
export interface CompiledMachine {
  readonly name: string;
  readonly entity?: string;
  readonly states: readonly string[];
  readonly initial: string;
  readonly terminal: readonly string[];
  readonly transitions: readonly {
    readonly intent: string;
    readonly from: string;
    readonly to: string;
    readonly guarded: boolean;
  }[];
}

/** An immutable, compiled state map: pure and deterministic. */
export interface CompiledMap {
  readonly name: string;
  readonly version: string;
  readonly owner: string;
  /** Policy-bundle digest: SHA-256 over the canonical (RFC 8785) compiled document. */
  readonly digest: Digest;
  /** The validated document with defaults filled in: what `digest` covers. Deeply frozen. */
  readonly document: StateMapDocument;
  readonly intentNames: readonly string[];
  readonly facetValues: Readonly<Record<string, readonly string[]>>;
  readonly machines: readonly CompiledMachine[];
  /** Private words (source and field names, enum codes, route targets, handler names) for a leak guard. */
  readonly privateVocabulary: readonly string[];
  /** Whether the map reads time (`time: true`). */
  readonly usesTime: boolean;
  /** Checks the records against the declared sources and derives the abstract state; never throws. */
  derive(records: Readonly<Record<string, unknown>>, options?: DeriveOptions): DeriveResult;
  /**
   * `derive`, and which part of the map chose each value: `matched['facets.kyc']` is
   * `facets.kyc.rules[0]`, `facets.x.bands[2]` or `facets.x.default` (machines alike; a machine
   * without rules is left out). For coverage tools; never throws.
   */
  explainDerive(records: Readonly<Record<string, unknown>>, options?: DeriveOptions): ExplainedDerive;
  /** Hash of an abstract state (digestValue of `{ facets, machines }`). */
  stateHash(state: AbstractState): Digest;
  /** Intents that may be proposed in this state: `allowed` and `escalating` (approval certainly needed); disjoint. */
  intentsFor(state: AbstractState): { allowed: string[]; escalating: string[] };
  intent(name: string): CompiledIntent | undefined;
  canTransition(machine: string, from: string, intent: string): boolean;
  next(machine: string, from: string, intent: string): string | undefined;
  /** Decides one proposal; pure (the kernel and the auditor's replay both call it); never throws. */
  evaluate(input: DecisionInput): DecisionResult;
}

/** Result of `safeCompile`. */
export type CompileResult =
  | { readonly ok: true; readonly value: CompiledMap; readonly warnings: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** Result of `loadStateMap`: diagnostics carry `file:line:col`. */
export type LoadResult =
  | { readonly ok: true; readonly value: CompiledMap; readonly warnings: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** A state-map document as written (shorthands and defaults allowed), typed for TypeScript authors. */
export type StateMapInput = z.input<typeof stateMapSchema>;
