/**
 * `@edca/arp`: the semantic access and routing layer. The model sees meaning, never the schema.
 *
 * - {@link createArp} builds the layer for one compiled state map; it refuses to start
 *   (`ArpError` ROUTE_MISSING / HANDLER_MISSING / LEAK_IN_MAP …) unless every intent has a route
 *   to a registered handler and the map's public text names no private word.
 * - `arp.project(records, session)` → the model's view (allow-list only, canonical JSON, refs
 *   minted for this session), or a `LEAK_DETECTED` / `STATE_UNDERIVABLE` refusal.
 * - `arp.intake(raw, format, session)` → a {@link Proposal} from plain JSON, OpenAI (chat
 *   completions or Responses), Anthropic `tool_use` or MCP `tools/call`, or a refusal value.
 * - `arp.resolve(proposal, session)` → the {@link PrivateCall} (handler, real params, real ids).
 * - `arp.projectResult(...)` → what the model sees after an action; `arp.toolDefinitions(format)`.
 *
 * Pure: no I/O, clock or randomness; the ref key and the ref registry are injected.
 * @packageDocumentation
 */
export {
  createArp,
  type Arp,
  type ArpOptions,
  type ArpHandler,
  type HandlerContext,
  type IntakeAccepted,
  type LeakIncident,
  type ModelResult,
  type PrivateCall,
  type Projected,
  type Proposal,
  type Resolved,
  type ResultInput,
  type ToolFormat,
} from './internal/arp.js';
export {
  ARP_ERROR_CODES,
  ARP_REFUSAL_CODES,
  ArpError,
  type ArpErrorCode,
  type ArpIssue,
  type ArpRefusal,
  type ArpRefusalCode,
} from './internal/errors.js';
export {
  DEFAULT_INTAKE_LIMITS,
  PROPOSAL_FORMATS,
  type IntakeLimits,
  type ProposalFormat,
} from './internal/formats.js';
export {
  createLeakGuard,
  DEFAULT_LEAK_PATTERNS,
  DEFAULT_PHONE_REGIONS,
  MAX_REJECTED_MATCHES,
  createPhonePattern,
  MIN_SINGLE_TERM_LENGTH,
  MIN_SQUASHED_LENGTH,
  tokenize,
  type LeakGuard,
  type LeakGuardOptions,
  type LeakHit,
  type LeakPattern,
  type PrivateTerm,
  type TermCategory,
} from './internal/leak-guard.js';
export {
  DEFAULT_STRING_PATTERN,
  FORBIDDEN_CONTENT,
  MAX_STRING_LENGTH,
  forbiddenContent,
} from './internal/param-schema.js';
export {
  MAX_DISPLAY_LENGTH,
  UNTRUSTED_NOTICE,
  type ModelView,
  type UntrustedText,
  type ViewIntent,
} from './internal/projection.js';
export { findSquashedTerms, type SquashedTerm } from './internal/squash-check.js';
export {
  createMemoryRefRegistry,
  createRefMinter,
  REF_PATTERN,
  type ArpSession,
  type RefMinter,
  type RefRegistry,
  type RefTarget,
} from './internal/refs.js';
export { scaleExact } from './internal/units.js';
