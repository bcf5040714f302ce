import type { ArpHandler } from '@edca/arp';
import type { Loader } from '@edca/kernel';
import type { SessionBounds } from '@edca/models';
import type { JsonValue } from '@edca/records';

/**
 * The configuration `edca run --config FILE` loads: an ES module (`.js`/`.mjs`) whose default
 * export is this object. Paths are relative to the config file. The host's code (handlers, the
 * loader and the records the view is projected from) lives here, as it would in an embedding.
 */
export interface RunConfig {
  /** The state map (YAML or JSON). */
  readonly map: string;
  /** The embedded file journal, created on first use and appended to afterwards. */
  readonly journal: string;
  /** Key directory: `kernel.key.pem`, `approver.key.pem`, `ref-key.b64u` (created once, mode 0600). */
  readonly keys: string;
  /** Journal stream; default the map's name. */
  readonly stream?: string;
  /** Who the model works for, journaled in every decision. */
  readonly principal: { readonly id: string; readonly attributes: Record<string, JsonValue> };
  /** The business records of the session's subject, keyed by source name (read again after every action). */
  readonly records: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** The map's loader (the records of the entities a proposal's refs name). */
  readonly loader: Loader;
  /** The handlers the map's routes name. */
  readonly handlers: Readonly<Record<string, ArpHandler>>;
  /** Session bounds; each one left out takes the `edca run` default (docs/models.md). */
  readonly bounds?: Partial<SessionBounds>;
  /** The system prompt; default `@edca/models` DEFAULT_SYSTEM_PROMPT. */
  readonly systemPrompt?: string;
}

/**
 * Types an `edca run` configuration (identity at run time).
 * @example
 * export default defineRunConfig({ map: 'cards.yaml', journal: 'out/journal.jsonl', keys: 'out/keys',
 *   principal: { id: 'agent-7', attributes: {} }, records: () => ({ card }), loader, handlers });
 */
export function defineRunConfig(config: RunConfig): RunConfig {
  return config;
}
