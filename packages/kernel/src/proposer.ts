/**
 * The proposer port: what a model adapter implements. The host shows the model a projected view
 * (abstract state, opaque refs, the intents it may propose) and gets back raw model output in one
 * of `@edca/arp`'s intake formats. The output is untrusted: it goes through `arp.intake` and then
 * `kernel.decide` exactly like any other proposal, so a scripted proposer and a real model take the
 * same path. No I/O here: an adapter that calls a model API lives in the host.
 */
import type { ModelView, ProposalFormat, ToolFormat } from '@edca/arp';
import type { JsonValue } from '@edca/records';

/** One message of the conversation the model is part of. */
export interface ProposerMessage {
  /**
   * `system`: the host's prompt; `user`: the person the assistant works for (an operator or the
   * customer); `tool`: what the host answered to the model's last output (a view, a result or a
   * refusal code, always as canonical JSON text).
   */
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string;
}

/** Everything a model is shown for one turn, and nothing else. */
export interface ProposerTurn {
  /** The projected view: abstract state, refs, display values, untrusted text, intents. */
  readonly view: ModelView;
  /** The view as the canonical JSON text `arp.project` produced (what a prompt would embed). */
  readonly viewJson: string;
  /** The provider shape `tools` are given in (the output then names its own intake format). */
  readonly toolFormat: ToolFormat;
  /** Tool definitions for the offered intents (`arp.toolDefinitions(toolFormat, view.state)`). */
  readonly tools: readonly JsonValue[];
  /** The conversation so far, oldest first. */
  readonly conversation: readonly ProposerMessage[];
  /** 1-based turn number within the conversation. */
  readonly turn: number;
}

/** Raw model output: one call, or a plan of calls to run in order; each is intake'd on its own. */
export type ProposerOutput =
  | { readonly kind: 'call'; readonly format: ProposalFormat; readonly raw: unknown }
  | { readonly kind: 'plan'; readonly format: ProposalFormat; readonly steps: readonly unknown[] };

/** A model adapter. */
export interface Proposer {
  /** The model's identifier, journaled in every decision record as `proposer.modelId`. */
  readonly modelId: string;
  /** The digest of the prompt template, journaled as `proposer.promptTemplateDigest`. */
  readonly promptTemplateDigest: string;
  /** Returns the model's raw output for this turn; rejects only when the model cannot be reached. */
  propose(turn: ProposerTurn, signal?: AbortSignal): Promise<ProposerOutput>;
}

/** One scripted turn: a fixed output, or one computed from what the model was shown (to copy refs). */
export type ScriptedTurn = ProposerOutput | ((turn: ProposerTurn) => ProposerOutput);

/** A {@link Proposer} that replays a script, plus how many turns it has left. */
export interface ScriptedProposer extends Proposer {
  readonly remaining: number;
}

/**
 * Creates a proposer that replays `script` in order, one entry per turn. A function entry sees the
 * same {@link ProposerTurn} a model would, so it can only use refs the view actually showed.
 * @throws RangeError from `propose` when the script is exhausted (a test or demo bug, not model output)
 * @example
 * const proposer = createScriptedProposer({ modelId: 'scripted-1', promptTemplateDigest, script: [
 *   (t) => ({ kind: 'call', format: 'json', raw: { intent: 'freeze_card', params: { card: t.view.entities['card'], reason: 'misplaced' } } }),
 * ] });
 */
export function createScriptedProposer(options: {
  readonly modelId: string;
  readonly promptTemplateDigest: string;
  readonly script: readonly ScriptedTurn[];
}): ScriptedProposer {
  const script = [...options.script];
  let next = 0;
  return {
    modelId: options.modelId,
    promptTemplateDigest: options.promptTemplateDigest,
    get remaining() {
      return script.length - next;
    },
    propose(turn) {
      const entry = script[next];
      if (entry === undefined) return Promise.reject(new RangeError(`the script has no turn ${next + 1}`));
      next += 1;
      try {
        return Promise.resolve(typeof entry === 'function' ? entry(turn) : entry);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}
