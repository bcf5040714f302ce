/**
 * `@edca/models`: real models as proposers, inside bounds the host enforces.
 *
 * - {@link createOpenAIChatProposer}, {@link createOpenAIResponsesProposer},
 *   {@link createAnthropicProposer}: `Proposer`s over the official SDKs, with a base URL for any
 *   OpenAI-compatible server.
 * - {@link runSession}: the governed loop (view → model → intake → decide → execute → result),
 *   bounded by turns, refusals in a row, tokens, cost, a deadline and per-call timeouts with
 *   bounded retries; it journals `intake.refused` and `session.ended` through the kernel.
 * @packageDocumentation
 */
export { MODELS_ERROR_CODES, ModelsError, RETRYABLE_CODES, type ModelsErrorCode } from './errors.js';
export {
  createAnthropicProposer,
  createOpenAIChatProposer,
  createOpenAIResponsesProposer,
  DEFAULT_SYSTEM_PROMPT,
  type ModelApi,
  type ModelOutput,
  type ModelProposer,
  type ModelProposerOptions,
  type Usage,
} from './proposers.js';
export {
  runSession,
  SESSION_END_REASONS,
  type ModelPrice,
  type PriceTable,
  type SessionBounds,
  type SessionEndReason,
  type SessionEvent,
  type SessionOptions,
  type SessionSummary,
} from './session.js';
