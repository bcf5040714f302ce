// Turns the kernel's provider-neutral conversation (ProposerTurn.conversation) into each API's own
// message shapes. Convention (runSession and the demo follow it): an `assistant` message holds the
// model's raw output as JSON text, exactly as the adapter returned it; the `tool` message after it
// answers every call that output made, in the API's tool-result shape; a `tool` message with no
// call to answer (the first view) is host data and goes in as a user message.
import { isObject } from '@edca/records';
import type { ProposerMessage } from '@edca/kernel';

const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether a host message is a refusal (`{"edca_refusal":…}`), for APIs that flag error results. */
export function isRefusal(content: string): boolean {
  const v = parse(content);
  return isObject(v) && 'edca_refusal' in v;
}

const HOST_PREFIX = 'edca host data (JSON): ';

// ---- OpenAI Chat Completions ------------------------------------------------------------------------

/** A Chat Completions message as sent to the API. */
export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | {
      role: 'assistant';
      content: string | null;
      tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
    }
  | { role: 'tool'; tool_call_id: string; content: string };

/** The conversation as Chat Completions messages, after the adapter's system prompt. */
export function toChatMessages(system: string, conversation: readonly ProposerMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [{ role: 'system', content: system }];
  let pending: string[] = [];
  for (const m of conversation) {
    if (m.role === 'system' || m.role === 'user') {
      out.push({ role: m.role, content: m.content });
    } else if (m.role === 'assistant') {
      const body = parse(m.content);
      const message = isObject(body)
        ? arr(body['choices']).map((c) => (isObject(c) ? c['message'] : undefined))[0]
        : undefined;
      if (!isObject(message)) {
        out.push({ role: 'assistant', content: m.content });
        pending = [];
        continue;
      }
      const calls = arr(message['tool_calls']).flatMap((c) => {
        if (!isObject(c) || !isObject(c['function'])) return [];
        const id = str(c['id']);
        const name = str(c['function']['name']);
        const args = str(c['function']['arguments']);
        return id === undefined || name === undefined || args === undefined
          ? []
          : [{ id, type: 'function' as const, function: { name, arguments: args } }];
      });
      const content = str(message['content']) ?? null;
      out.push(
        calls.length === 0
          ? { role: 'assistant', content }
          : { role: 'assistant', content, tool_calls: calls },
      );
      pending = calls.map((c) => c.id);
    } else if (pending.length > 0) {
      for (const id of pending) out.push({ role: 'tool', tool_call_id: id, content: m.content });
      pending = [];
    } else {
      out.push({ role: 'user', content: HOST_PREFIX + m.content });
    }
  }
  return out;
}

// ---- OpenAI Responses -------------------------------------------------------------------------------

/** A Responses API input item as sent to the API. */
export type ResponsesItem =
  | { role: 'system' | 'user' | 'assistant'; content: string }
  | { type: 'function_call'; call_id: string; name: string; arguments: string }
  | { type: 'function_call_output'; call_id: string; output: string };

/** The conversation as Responses API input items (the system prompt goes in `instructions`). */
export function toResponsesInput(conversation: readonly ProposerMessage[]): ResponsesItem[] {
  const out: ResponsesItem[] = [];
  let pending: string[] = [];
  for (const m of conversation) {
    if (m.role === 'system' || m.role === 'user') {
      out.push({ role: m.role, content: m.content });
    } else if (m.role === 'assistant') {
      const body = parse(m.content);
      pending = [];
      if (!isObject(body) || !Array.isArray(body['output'])) {
        out.push({ role: 'assistant', content: m.content });
        continue;
      }
      for (const item of arr(body['output'])) {
        if (!isObject(item)) continue;
        if (item['type'] === 'function_call') {
          const callId = str(item['call_id']);
          const name = str(item['name']);
          const args = str(item['arguments']);
          if (callId === undefined || name === undefined || args === undefined) continue;
          out.push({ type: 'function_call', call_id: callId, name, arguments: args });
          pending.push(callId);
        } else if (item['type'] === 'message') {
          const text = arr(item['content'])
            .map((c) => (isObject(c) ? (str(c['text']) ?? '') : ''))
            .join('');
          if (text !== '') out.push({ role: 'assistant', content: text });
        }
      }
    } else if (pending.length > 0) {
      for (const id of pending) out.push({ type: 'function_call_output', call_id: id, output: m.content });
      pending = [];
    } else {
      out.push({ role: 'user', content: HOST_PREFIX + m.content });
    }
  }
  return out;
}

// ---- Anthropic Messages -----------------------------------------------------------------------------

/** An Anthropic content block as sent to the API. */
export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };

/** An Anthropic message as sent to the API. */
export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

/**
 * The conversation as Anthropic messages (the system prompt goes in `system`; a `system` message of
 * the conversation becomes user text). Consecutive same-role turns are merged: the API alternates.
 */
export function toAnthropicMessages(conversation: readonly ProposerMessage[]): AnthropicMessage[] {
  const out: AnthropicMessage[] = [];
  const push = (role: AnthropicMessage['role'], blocks: AnthropicBlock[]): void => {
    if (blocks.length === 0) return;
    const last = out[out.length - 1];
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  let pending: string[] = [];
  for (const m of conversation) {
    if (m.role === 'system' || m.role === 'user') {
      push('user', [{ type: 'text', text: m.content }]);
    } else if (m.role === 'assistant') {
      const body = parse(m.content);
      pending = [];
      if (!isObject(body) || !Array.isArray(body['content'])) {
        push('assistant', [{ type: 'text', text: m.content }]);
        continue;
      }
      const blocks: AnthropicBlock[] = [];
      for (const b of arr(body['content'])) {
        if (!isObject(b)) continue;
        if (b['type'] === 'text' && typeof b['text'] === 'string' && b['text'] !== '') {
          blocks.push({ type: 'text', text: b['text'] });
        } else if (b['type'] === 'tool_use') {
          const id = str(b['id']);
          const name = str(b['name']);
          if (id === undefined || name === undefined) continue;
          blocks.push({ type: 'tool_use', id, name, input: b['input'] ?? {} });
          pending.push(id);
        }
      }
      push('assistant', blocks.length > 0 ? blocks : [{ type: 'text', text: '(no content)' }]);
    } else if (pending.length > 0) {
      const error = isRefusal(m.content);
      push(
        'user',
        pending.map((id) =>
          error
            ? { type: 'tool_result', tool_use_id: id, content: m.content, is_error: true }
            : { type: 'tool_result', tool_use_id: id, content: m.content },
        ),
      );
      pending = [];
    } else {
      push('user', [{ type: 'text', text: HOST_PREFIX + m.content }]);
    }
  }
  return out;
}
