import { match } from 'ts-pattern';
import { z } from 'zod';
import { assertIJson, canonicalize, RecordsError, type JsonValue } from '@edca/records';
import type { AbstractState, CompiledMap } from '@edca/semantic';
import { ArpError, refuse, type ArpIssue, type ArpRefusal } from './errors.js';
import {
  DEFAULT_INTAKE_LIMITS,
  extractCall,
  parseUntrusted,
  type IntakeLimits,
  type ProposalFormat,
} from './formats.js';
import {
  createLeakGuard,
  DEFAULT_LEAK_PATTERNS,
  tokenize,
  type LeakGuard,
  type LeakHit,
  type LeakPattern,
} from './leak-guard.js';
import { paramsSchema } from './param-schema.js';
import {
  buildDynamic,
  MAX_DISPLAY_LENGTH,
  UNTRUSTED_NOTICE,
  type ModelView,
  type PendingRef,
  type ViewIntent,
} from './projection.js';
import {
  assertSession,
  createMemoryRefRegistry,
  createRefMinter,
  type ArpSession,
  type RefRegistry,
  type RefTarget,
} from './refs.js';
import { scaleExact } from './units.js';
import { privateTermsOf, publicTextsOf } from './vocabulary.js';

/** A proposal in semantic terms: an intent and its params; refs are opaque strings. */
export interface Proposal {
  readonly intent: string;
  readonly params: Readonly<Record<string, JsonValue>>;
}

/** What intake returns for an accepted proposal; `callId` is the provider's id to answer the call. */
export interface IntakeAccepted {
  readonly ok: true;
  readonly proposal: Proposal;
  readonly callId?: string;
}

/** The private call a permitted proposal becomes: never shown to the model. */
export interface PrivateCall {
  readonly intent: string;
  readonly handler: string;
  /** Real field name → value, after unit scaling, enum code mapping and ref resolution. */
  readonly realParams: Readonly<Record<string, JsonValue>>;
  /** Real field name → the entity a ref param resolved to. */
  readonly realRefs: Readonly<Record<string, RefTarget>>;
}

/** What the kernel hands a handler besides the call (it may pass more). */
export interface HandlerContext {
  readonly idempotencyKey: string;
  readonly signal?: AbortSignal;
}

/** A business handler registered by name; only the kernel calls it, with a verified permit. */
export type ArpHandler = (call: PrivateCall, context: HandlerContext) => unknown;

/** A resolved proposal: the private call and the handler that will run it. */
export interface Resolved {
  readonly ok: true;
  readonly call: PrivateCall;
  readonly run: ArpHandler;
}

/** A projected view: the value, and its canonical JSON text (byte-identical for the same state). */
export interface Projected<T> {
  readonly ok: true;
  readonly value: T;
  readonly json: string;
}

/** A leak incident, for the private audit trail: where and which rule, never the leaked value. */
export interface LeakIncident {
  readonly code: 'LEAK_DETECTED';
  readonly where: 'view' | 'result';
  readonly stream: string;
  readonly session: string;
  readonly path: string;
  readonly rule: LeakHit['rule'];
  readonly term?: string;
}

/** Input of {@link Arp.projectResult}: how the action ended, and the business data after it. */
export interface ResultInput {
  readonly session: ArpSession;
  readonly intent: string;
  readonly outcome: 'completed' | 'failed' | 'unknown' | 'compensated' | 'refused';
  /** A stable SCREAMING_SNAKE code; free text is never forwarded. */
  readonly error?: string;
  /** The records after the action; when given, the result carries the new view. */
  readonly records?: Readonly<Record<string, unknown>>;
  /** RFC 3339 time the records are read at; needed only by maps with time-windowed counts. */
  readonly now?: string;
  /** Entities the handler created, to be shown as refs (declared entity kinds only). */
  readonly created?: readonly RefTarget[];
}

/** What the model sees after an action: outcome, new abstract state and refs — never raw data. */
export interface ModelResult {
  readonly edca_result: 1;
  readonly intent: string;
  readonly outcome: ResultInput['outcome'];
  readonly error?: string;
  readonly created?: readonly { readonly kind: string; readonly ref: string }[];
  readonly view?: ModelView;
}

/** Formats tool definitions can be generated for. */
export type ToolFormat = 'json' | 'openai' | 'openai-responses' | 'anthropic' | 'mcp';

/** Options of {@link createArp}. */
export interface ArpOptions {
  readonly map: CompiledMap;
  /** HMAC key for opaque refs, at least 32 bytes; from the host's key store, never generated here. */
  readonly refKey: Uint8Array;
  readonly handlers: Readonly<Record<string, ArpHandler>>;
  /** Issued-ref registry; defaults to an in-memory one (one process). */
  readonly refRegistry?: RefRegistry;
  /** Value patterns for the leak guard; defaults to {@link DEFAULT_LEAK_PATTERNS}. */
  readonly patterns?: readonly LeakPattern[];
  /** More private words than the map yields (table names of the host, product codes). */
  readonly extraTerms?: readonly string[];
  /** Private words the owner allows in views on purpose (see docs/threat-model.md). */
  readonly allowTerms?: readonly string[];
  /** Receives every leak incident; the host records it (journal, SIEM). */
  readonly onIncident?: (incident: LeakIncident) => void;
  readonly limits?: Partial<IntakeLimits>;
}

/** The semantic access and routing layer for one compiled map. */
export interface Arp {
  readonly map: CompiledMap;
  /** The private words the guard scans for, and single words exempt because the map publishes them. */
  readonly vocabulary: { readonly terms: readonly string[]; readonly exempted: readonly string[] };
  /**
   * Derives the state from `records` and builds the model's view, or refuses. `options.now`
   * (RFC 3339) is needed only by maps with time-windowed counts (`within`).
   */
  project(
    records: Readonly<Record<string, unknown>>,
    session: ArpSession,
    options?: { readonly now?: string },
  ): Projected<ModelView> | ArpRefusal;
  /** Parses model output into a proposal, or refuses; never throws for bad input. */
  intake(raw: unknown, format: ProposalFormat, session: ArpSession): IntakeAccepted | ArpRefusal;
  /** Turns a proposal into the private call (handler, real params, real ids), or refuses. */
  resolve(proposal: Proposal, session: ArpSession): Resolved | ArpRefusal;
  /** Builds what the model sees after an action, through the same allow-list, or refuses. */
  projectResult(input: ResultInput): Projected<ModelResult> | ArpRefusal;
  /** Tool definitions for a provider format, optionally only the intents offered in `state`. */
  toolDefinitions(format: ToolFormat, state?: AbstractState): JsonValue[];
}

interface CompiledIntentEntry {
  readonly name: string;
  readonly description: string;
  readonly schema: z.ZodObject;
  readonly jsonSchema: JsonValue;
  readonly refParams: ReadonlyMap<string, string>;
  readonly route: RouteEntry;
}

interface RouteParam {
  readonly field: string;
  readonly scale?: number | undefined;
  readonly values?: Readonly<Record<string, string>> | undefined;
}

interface RouteEntry {
  readonly handler: string;
  readonly params: ReadonlyMap<string, RouteParam>;
}

const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function toJsonSchema(schema: z.ZodObject): JsonValue {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  return rest as JsonValue;
}

const pointerOf = (path: readonly PropertyKey[]): string =>
  '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

// A key the model invented is named back only when it is short and plain: it is untrusted text
// going back to the model, and the refusal must stay small and free of anything it could carry.
const NAMEABLE_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

function issuesOf(error: z.ZodError): ArpIssue[] {
  return error.issues
    .flatMap((i): ArpIssue[] => {
      if (i.code === 'unrecognized_keys') {
        // One issue per extra key, at the key's own path, so the refusal names what to drop.
        return i.keys.map((k) => ({
          path: NAMEABLE_KEY.test(k) ? pointerOf([...i.path, k]) : `${pointerOf(i.path)} (unnamed key)`,
          problem: i.code,
        }));
      }
      return [
        {
          path: pointerOf(i.path),
          problem: i.message === 'FORBIDDEN_CONTENT' ? 'forbidden_content' : i.code,
        },
      ];
    })
    .slice(0, 16);
}

/**
 * Builds the layer for a compiled map: compiles a strict schema and a route per intent, and a
 * leak guard over the map's private vocabulary, and checks the map's own public text with it.
 * @example
 * const arp = createArp({ map, refKey, handlers: { 'core.cards.freeze': freezeCard } });
 * const view = arp.project(records, { stream: 'bank-eu', session: chatId });   // show view.json
 * const got = arp.intake(modelOutput, 'openai', { stream: 'bank-eu', session: chatId });
 * if (got.ok) kernel.decide(got.proposal, ...); else reply(got.code);
 * @throws ArpError ROUTE_MISSING (an intent without a route), HANDLER_MISSING (a route whose
 *   handler is not registered), ROUTE_INVALID (a route mapping an undeclared param, scaling a
 *   non-number or missing an enum member), REF_KEY_INVALID, LEAK_IN_MAP, PATTERN_INVALID.
 */
export function createArp(options: ArpOptions): Arp {
  const { map, handlers } = options;
  const minter = createRefMinter(options.refKey);
  const registry = options.refRegistry ?? createMemoryRefRegistry();
  const limits: IntakeLimits = { ...DEFAULT_INTAKE_LIMITS, ...options.limits };
  const doc = map.document;

  const intents = new Map<string, CompiledIntentEntry>();
  for (const name of map.intentNames) {
    const intent = map.intent(name)!;
    const routeDecl = doc.routes[name];
    if (routeDecl === undefined) throw new ArpError('ROUTE_MISSING', `intent ${name} has no route`);
    if (typeof handlers[routeDecl.handler] !== 'function' || !Object.hasOwn(handlers, routeDecl.handler)) {
      throw new ArpError('HANDLER_MISSING', `the route of intent ${name} names an unregistered handler`);
    }
    const routeParams = new Map<string, RouteParam>();
    for (const [param, decl] of Object.entries(routeDecl.params ?? {})) {
      const spec = intent.params[param];
      if (spec === undefined)
        throw new ArpError('ROUTE_INVALID', `route of ${name} maps undeclared param ${param}`);
      if (decl.scale !== undefined && spec.kind !== 'number' && spec.kind !== 'integer') {
        throw new ArpError('ROUTE_INVALID', `route of ${name} scales non-numeric param ${param}`);
      }
      if (decl.values !== undefined) {
        const members = spec.kind === 'string' ? spec.enum : undefined;
        if (members === undefined || members.some((m) => decl.values![m] === undefined)) {
          throw new ArpError('ROUTE_INVALID', `route of ${name} must map every enum member of ${param}`);
        }
      }
      routeParams.set(param, decl);
    }
    const refParams = new Map<string, string>();
    for (const [param, spec] of Object.entries(intent.params))
      if (spec.kind === 'ref') refParams.set(param, spec.entity);
    const schema = paramsSchema(intent.params);
    intents.set(name, {
      name,
      description: intent.description,
      schema,
      jsonSchema: toJsonSchema(schema),
      refParams,
      route: { handler: routeDecl.handler, params: routeParams },
    });
  }

  const publicWords = new Set<string>();
  for (const text of publicTextsOf(map)) for (const t of tokenize(text)) publicWords.add(t);
  const terms = privateTermsOf(map);
  for (const t of options.extraTerms ?? []) terms.push({ term: t, category: 'configured' });
  const guard: LeakGuard = createLeakGuard({
    terms,
    patterns: options.patterns ?? DEFAULT_LEAK_PATTERNS,
    publicWords,
    ...(options.allowTerms === undefined ? {} : { allowTerms: options.allowTerms }),
  });
  const termGuard = createLeakGuard({
    terms,
    patterns: [],
    publicWords,
    ...(options.allowTerms === undefined ? {} : { allowTerms: options.allowTerms }),
  });

  // The catalogue of intents is the map's own text: scan it once here, so a map whose
  // descriptions or schemas name a private word never serves a single view.
  const viewIntents = new Map<string, ViewIntent>();
  for (const entry of intents.values()) {
    const base = { name: entry.name, description: entry.description, params: entry.jsonSchema };
    for (const disposition of ['allowed', 'requires_approval'] as const) {
      viewIntents.set(`${disposition}:${entry.name}`, { ...base, disposition });
    }
  }
  const catalogueHit =
    termGuard.scan([...viewIntents.values()]) ?? termGuard.scan([...publicTextsOf(map), UNTRUSTED_NOTICE]);
  if (catalogueHit !== undefined) {
    throw new ArpError(
      'LEAK_IN_MAP',
      `the map publishes a private word (${catalogueHit.rule}) at ${catalogueHit.path}`,
    );
  }

  const record = (where: LeakIncident['where'], session: ArpSession, hit: LeakHit): ArpRefusal => {
    options.onIncident?.({
      code: 'LEAK_DETECTED',
      where,
      stream: session.stream,
      session: session.session,
      path: hit.path,
      rule: hit.rule,
      ...(hit.term === undefined ? {} : { term: hit.term }),
    });
    return refuse('LEAK_DETECTED', 'the response was withheld: it would have revealed private data');
  };

  // The intents offered depend on the abstract state only, a small closed set: memoize the
  // section and its canonical JSON per state (bounded; intentsFor is pure).
  type Section = { intents: ViewIntent[]; json: string };
  const sections = new Map<string, Section>();
  const intentsSection = (state: AbstractState, key = canonicalize(state)): Section => {
    const hit = sections.get(key);
    if (hit !== undefined) return hit;
    const { allowed, escalating } = map.intentsFor(state);
    const intents: ViewIntent[] = [];
    for (const n of allowed) intents.push(viewIntents.get(`allowed:${n}`)!);
    for (const n of escalating) intents.push(viewIntents.get(`requires_approval:${n}`)!);
    intents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const section = { intents, json: canonicalize(intents) };
    if (sections.size >= 1024) sections.clear();
    sections.set(key, section);
    return section;
  };

  // Everything that depends on the abstract state alone — its canonical JSON, the intents it
  // offers and the guard's verdict on it — is computed once per state hash (a small closed set).
  const byState = new Map<string, { stateJson: string; section: Section; hit: LeakHit | undefined }>();
  const stateParts = (state: AbstractState, stateHash: string) => {
    const hit = byState.get(stateHash);
    if (hit !== undefined) return hit;
    const stateJson = canonicalize(state);
    const parts = { stateJson, section: intentsSection(state, stateJson), hit: guard.scan({ state }) };
    if (byState.size >= 1024) byState.clear();
    byState.set(stateHash, parts);
    return parts;
  };

  type Built = { ok: true; view: ModelView; json: string; refs: PendingRef[] } | ArpRefusal;
  const buildView = (
    records: Readonly<Record<string, unknown>>,
    session: ArpSession,
    where: LeakIncident['where'],
    now?: string,
  ): Built => {
    const derived = map.derive(records, now === undefined ? undefined : { now });
    if (!derived.ok) return refuse('STATE_UNDERIVABLE', 'the business records do not map to a state');
    const built = buildDynamic(map, derived.state, records, session, minter);
    if ('tooLarge' in built) {
      return refuse(
        'DISPLAY_TOO_LARGE',
        `display value ${built.tooLarge} is longer than ${MAX_DISPLAY_LENGTH} characters`,
      );
    }
    const { dynamic, refs } = built;
    const perState = stateParts(derived.state, derived.stateHash);
    if (perState.hit !== undefined) return record(where, session, perState.hit);
    // Refs are our own MAC output and carry nothing to find; scanning them would only risk a
    // chance match on random letters. Everything else built from business data is scanned.
    // The notice is a constant checked at startup with the rest of the map's own text.
    const hit = guard.scan({
      display: dynamic.display,
      entities: Object.keys(dynamic.entities),
      untrusted: dynamic.untrusted,
    });
    if (hit !== undefined) return record(where, session, hit);
    const { stateJson, section } = perState;
    const view: ModelView = { edca_view: 1, ...dynamic, intents: section.intents };
    // Canonical JSON of the view: `intents` sorts between `entities` and `notice`, so the
    // memoized section is spliced in at that place (RFC 8785 key order).
    const { notice, untrusted } = dynamic;
    // Display values and free text come from the business records: the strict I-JSON check of the
    // canonical writer refuses what no I-JSON reader takes (a lone surrogate in a string).
    let json: string;
    try {
      json =
        `{"display":${canonicalize(dynamic.display)},"edca_view":1,"entities":${canonicalize(dynamic.entities)},` +
        `"intents":${section.json}${notice === undefined ? '' : `,"notice":${JSON.stringify(notice)}`}` +
        `,"state":${stateJson}${untrusted === undefined ? '' : `,"untrusted":${canonicalize(untrusted)}`}}`;
    } catch (err) {
      if (!(err instanceof RecordsError)) throw err;
      return refuse('DISPLAY_NOT_IJSON', 'a display value of the business records is not I-JSON');
    }
    return { ok: true, view, json, refs };
  };

  const issue = (session: ArpSession, refs: readonly PendingRef[]): void => {
    for (const { ref, target } of refs) registry.issue(session, ref, target);
  };

  const checkParams = (
    entry: CompiledIntentEntry,
    args: unknown,
    session: ArpSession,
  ): { ok: true; params: Record<string, JsonValue> } | ArpRefusal => {
    const parsed = entry.schema.safeParse(args);
    if (!parsed.success)
      return refuse('SCHEMA_VIOLATION', `params do not fit intent ${entry.name}`, issuesOf(parsed.error));
    const params = parsed.data as Record<string, JsonValue>;
    for (const [param, kind] of entry.refParams) {
      const target = registry.lookup(session, params[param] as string);
      if (target === undefined) {
        return refuse('REF_NOT_ISSUED', 'a ref was not issued in this session', [
          { path: `/${param}`, problem: 'ref_not_issued' },
        ]);
      }
      if (target.kind !== kind) {
        return refuse('REF_KIND_MISMATCH', `a ref names another kind of entity than ${kind}`, [
          { path: `/${param}`, problem: 'ref_kind_mismatch' },
        ]);
      }
    }
    return { ok: true, params };
  };

  const arp: Arp = {
    map,
    vocabulary: { terms: guard.terms, exempted: guard.exempted },

    project(records, session, options) {
      assertSession(session);
      const built = buildView(records, session, 'view', options?.now);
      if (!built.ok) return built;
      issue(session, built.refs);
      return { ok: true, value: built.view, json: built.json };
    },

    intake(raw, format, session) {
      assertSession(session);
      let value: unknown = raw;
      if (typeof raw === 'string') {
        const parsed = parseUntrusted(raw, limits);
        if (!parsed.ok) return parsed;
        value = parsed.value;
      } else {
        try {
          assertIJson(raw, { maxBytes: limits.maxBytes, maxDepth: limits.maxDepth });
        } catch (err) {
          if (!(err instanceof RecordsError)) throw err;
          return err.code === 'IJSON_TOO_LARGE' || err.code === 'IJSON_TOO_DEEP'
            ? refuse('PAYLOAD_TOO_LARGE', `payload is larger than ${limits.maxBytes} bytes or too deep`)
            : refuse('INTAKE_MALFORMED', `model output is not a JSON value (${err.code})`);
        }
      }
      const found = extractCall(value, format, limits);
      if (!found.ok) return found;
      const entry = intents.get(found.name);
      if (entry === undefined) {
        return refuse('UNKNOWN_INTENT', 'no such intent; propose only an intent listed in the view');
      }
      const checked = checkParams(entry, found.args, session);
      if (!checked.ok) return checked;
      const proposal: Proposal = { intent: entry.name, params: checked.params };
      return found.callId === undefined
        ? { ok: true, proposal }
        : { ok: true, proposal, callId: found.callId };
    },

    resolve(proposal, session) {
      assertSession(session);
      const entry = typeof proposal?.intent === 'string' ? intents.get(proposal.intent) : undefined;
      if (entry === undefined) return refuse('UNKNOWN_INTENT', 'no such intent');
      const checked = checkParams(entry, proposal.params, session);
      if (!checked.ok) return checked;
      const realParams: Record<string, JsonValue> = {};
      const realRefs: Record<string, RefTarget> = {};
      for (const [param, value] of Object.entries(checked.params)) {
        const route = entry.route.params.get(param);
        const field = route?.field ?? param;
        if (entry.refParams.has(param)) {
          const target = registry.lookup(session, value as string)!;
          realRefs[field] = target;
          realParams[field] = target.id;
        } else if (route?.scale !== undefined) {
          const scaled = scaleExact(value as number, route.scale);
          if (scaled === undefined) {
            return refuse('PARAM_NOT_REPRESENTABLE', `param ${param} cannot be represented exactly`, [
              { path: `/${param}`, problem: 'not_representable' },
            ]);
          }
          realParams[field] = scaled;
        } else if (route?.values !== undefined) {
          realParams[field] = route.values[value as string]!;
        } else {
          realParams[field] = value;
        }
      }
      return {
        ok: true,
        call: { intent: entry.name, handler: entry.route.handler, realParams, realRefs },
        run: handlers[entry.route.handler]!,
      };
    },

    projectResult(input) {
      assertSession(input.session);
      if (!intents.has(input.intent)) return refuse('RESULT_INVALID', 'result for an unknown intent');
      if (input.error !== undefined && !ERROR_CODE.test(input.error)) {
        return refuse('RESULT_INVALID', 'a result error must be a stable SCREAMING_SNAKE code');
      }
      const pending: PendingRef[] = [];
      const created: { kind: string; ref: string }[] = [];
      for (const target of input.created ?? []) {
        if (
          doc.entities[target.kind] === undefined ||
          typeof target.id !== 'string' ||
          target.id.length === 0
        ) {
          return refuse('RESULT_INVALID', 'a created entity is not of a declared kind');
        }
        const ref = minter.mint(input.session, target);
        pending.push({ ref, target: { kind: target.kind, id: target.id } });
        created.push({ kind: target.kind, ref });
      }
      let view: ModelView | undefined;
      let viewJson = '';
      if (input.records !== undefined) {
        const built = buildView(input.records, input.session, 'result', input.now);
        if (!built.ok) return built;
        view = built.view;
        viewJson = built.json;
        pending.push(...built.refs);
      }
      const result: ModelResult = {
        edca_result: 1,
        intent: input.intent,
        outcome: input.outcome,
        ...(input.error === undefined ? {} : { error: input.error }),
        ...(created.length === 0 ? {} : { created }),
        ...(view === undefined ? {} : { view }),
      };
      const hit = guard.scan({ intent: result.intent, outcome: result.outcome, error: result.error ?? null });
      if (hit !== undefined) return record('result', input.session, hit);
      issue(input.session, pending);
      // `view` sorts after every other key of a result (RFC 8785 order), so the view's canonical
      // JSON, already written by buildView, is appended instead of being written again.
      const { view: _view, ...head } = result;
      const headJson = canonicalize(head);
      const json = view === undefined ? headJson : `${headJson.slice(0, -1)},"view":${viewJson}}`;
      return { ok: true, value: result, json };
    },

    toolDefinitions(format, state) {
      const names =
        state === undefined ? [...intents.keys()].sort() : intentsSection(state).intents.map((i) => i.name);
      return names.map((n) => {
        const e = intents.get(n)!;
        return match(format)
          .with('json', () => ({ intent: e.name, description: e.description, params: e.jsonSchema }))
          .with('openai', () => ({
            type: 'function',
            function: { name: e.name, description: e.description, parameters: e.jsonSchema },
          }))
          .with('openai-responses', () => ({
            type: 'function',
            name: e.name,
            description: e.description,
            parameters: e.jsonSchema,
          }))
          .with('anthropic', () => ({ name: e.name, description: e.description, input_schema: e.jsonSchema }))
          .with('mcp', () => ({ name: e.name, description: e.description, inputSchema: e.jsonSchema }))
          .exhaustive();
      });
    },
  };
  return arp;
}
