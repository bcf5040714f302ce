import { parseJson, RecordsError, isObject } from '@edca/records';
import { refuse, type ArpRefusal } from './errors.js';

/** The shapes of model output intake understands. `openai` covers chat completions and Responses. */
export type ProposalFormat = 'json' | 'openai' | 'anthropic' | 'mcp';

/** Every accepted format, for CLIs and validation. */
export const PROPOSAL_FORMATS: readonly ProposalFormat[] = ['json', 'openai', 'anthropic', 'mcp'];

/** One call found in the envelope: a name, its raw arguments, and the provider's call id. */
export interface ExtractedCall {
  readonly ok: true;
  readonly name: string;
  readonly args: unknown;
  readonly callId?: string;
}

/** Limits on untrusted model output. */
export interface IntakeLimits {
  /** Largest payload in UTF-8 bytes (the whole envelope, text or value). Default 16 KiB. */
  readonly maxBytes: number;
  /** Deepest nesting. Default 16. */
  readonly maxDepth: number;
}

/** The defaults of {@link IntakeLimits}. */
export const DEFAULT_INTAKE_LIMITS: IntakeLimits = { maxBytes: 16_384, maxDepth: 16 };

// Envelopes are read by hand, not with zod: they are loose by nature (providers add ids, roles,
// usage) and this is the hot path. Only the fields read here matter; the arguments themselves
// go through the intent's strict zod schema afterwards.
const MAX_NAME = 128;
const MAX_ID = 256;
const MAX_ITEMS = 256;

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;
/** An optional id: absent, or a string of bounded length; `false` when present and invalid. */
function optId(v: unknown): string | undefined | false {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' && v.length <= MAX_ID ? v : false;
}
const isItems = (v: unknown): v is readonly unknown[] => Array.isArray(v) && v.length <= MAX_ITEMS;

function malformed(what: string): ArpRefusal {
  return refuse('INTAKE_MALFORMED', `model output is not a well-formed ${what}`);
}

/** Parses JSON text strictly (duplicate keys refused), mapping size and syntax to refusals. */
export function parseUntrusted(
  text: string,
  limits: IntakeLimits,
): { ok: true; value: unknown } | ArpRefusal {
  if (text.length > limits.maxBytes || Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    return refuse('PAYLOAD_TOO_LARGE', `payload is larger than ${limits.maxBytes} bytes`);
  }
  try {
    return { ok: true, value: parseJson(text, { maxBytes: limits.maxBytes, maxDepth: limits.maxDepth }) };
  } catch (err) {
    if (err instanceof RecordsError) {
      // Depth is a size limit like bytes: both bound the work a hostile payload can cause, and
      // the parsed-value path reports both the same way.
      if (err.code === 'IJSON_TOO_LARGE' || err.code === 'IJSON_TOO_DEEP') {
        return refuse('PAYLOAD_TOO_LARGE', `payload is larger than ${limits.maxBytes} bytes or too deep`);
      }
      return refuse('INTAKE_MALFORMED', `model output is not strict JSON (${err.code})`);
    }
    throw err;
  }
}

type Found = ExtractedCall | ArpRefusal;

function exactlyOne(calls: readonly Found[]): Found {
  if (calls.length === 0) return refuse('NO_PROPOSAL', 'the model output holds no tool call');
  if (calls.length > 1) {
    return refuse('MULTIPLE_PROPOSALS', 'the model output holds more than one tool call; send one at a time');
  }
  return calls[0]!;
}

function call(n: string, args: unknown, id: string | undefined): ExtractedCall {
  return id === undefined ? { ok: true, name: n, args } : { ok: true, name: n, args, callId: id };
}

/** A call whose arguments arrive as JSON text (OpenAI): parsed strictly, or the parse refusal. */
function textCall(n: string, text: string, id: string | undefined, limits: IntakeLimits): Found {
  const parsed = parseUntrusted(text, limits);
  return parsed.ok ? call(n, parsed.value, id) : parsed;
}

function anthropicBlocks(value: unknown): readonly unknown[] | undefined {
  if (isItems(value)) return value;
  if (isObject(value) && isItems(value.content)) return value.content;
  if (isObject(value) && typeof value.type === 'string') return [value];
  return undefined;
}

/** An OpenAI Responses `function_call` item: arguments as JSON text, optional `call_id`. */
function responseFunctionCall(item: Readonly<Record<string, unknown>>, limits: IntakeLimits): Found {
  const id = optId(item.call_id);
  if (!isName(item.name) || typeof item.arguments !== 'string' || id === false) {
    return malformed('OpenAI function_call item');
  }
  return textCall(item.name, item.arguments, id, limits);
}

function openaiToolCalls(toolCalls: readonly unknown[], limits: IntakeLimits): Found {
  const calls: Found[] = [];
  for (const c of toolCalls) {
    if (!isObject(c) || !isObject(c.function)) return malformed('OpenAI tool call');
    const id = optId(c.id);
    if ((c.type !== undefined && c.type !== 'function') || id === false) return malformed('OpenAI tool call');
    const fn = c.function;
    if (!isName(fn.name) || typeof fn.arguments !== 'string') return malformed('OpenAI tool call');
    calls.push(textCall(fn.name, fn.arguments, id, limits));
  }
  return exactlyOne(calls);
}

/**
 * Finds the one call in a model output envelope. Arguments that arrive as JSON text are parsed
 * strictly; a refusal from that parse is returned as the call's `args` and surfaced by the caller.
 */
export function extractCall(value: unknown, format: ProposalFormat, limits: IntakeLimits): Found {
  // A switch, not ts-pattern: this runs per proposal and must not allocate matchers; the
  // `never` default keeps it exhaustive all the same.
  switch (format) {
    case 'json': {
      if (!isObject(value) || !isName(value.intent) || !('params' in value))
        return malformed('proposal {intent, params}');
      for (const k of Object.keys(value))
        if (k !== 'intent' && k !== 'params') return malformed('proposal {intent, params}');
      return call(value.intent, value.params, undefined);
    }
    case 'openai': {
      if (!isObject(value)) return malformed('OpenAI chat completion, message or response');
      if ('choices' in value) {
        // A chat completion: exactly one choice, whose message may carry tool calls.
        const choices = value.choices;
        if (!Array.isArray(choices) || choices.length !== 1) return malformed('OpenAI chat completion');
        const choice: unknown = choices[0];
        if (!isObject(choice) || !isObject(choice.message)) return malformed('OpenAI chat completion');
        const toolCalls = choice.message.tool_calls;
        if (toolCalls === undefined || toolCalls === null) return exactlyOne([]);
        return isItems(toolCalls) ? openaiToolCalls(toolCalls, limits) : malformed('OpenAI chat completion');
      }
      if ('tool_calls' in value) {
        const toolCalls = value.tool_calls;
        if (toolCalls === null) return exactlyOne([]);
        return isItems(toolCalls) ? openaiToolCalls(toolCalls, limits) : malformed('OpenAI message');
      }
      // A bare tool call (one element of `tool_calls`) or a bare Responses `function_call` item,
      // as `anthropic` takes a bare `tool_use` block: what a host holds after picking the call out.
      if ('function' in value) return openaiToolCalls([value], limits);
      if (value.type === 'function_call') return exactlyOne([responseFunctionCall(value, limits)]);
      if (!isItems(value.output))
        return malformed('OpenAI chat completion, message, response, tool call or function_call item');
      const calls: Found[] = [];
      for (const item of value.output) {
        if (!isObject(item) || typeof item.type !== 'string') return malformed('OpenAI response output item');
        if (item.type !== 'function_call') continue;
        const id = optId(item.call_id);
        if (!isName(item.name) || typeof item.arguments !== 'string' || id === false) {
          return malformed('OpenAI function_call item');
        }
        calls.push(textCall(item.name, item.arguments, id, limits));
      }
      return exactlyOne(calls);
    }
    case 'anthropic': {
      const blocks = anthropicBlocks(value);
      if (blocks === undefined) return malformed('Anthropic message, content array or tool_use block');
      const calls: Found[] = [];
      for (const block of blocks) {
        if (!isObject(block) || typeof block.type !== 'string') return malformed('Anthropic content block');
        if (block.type !== 'tool_use') continue;
        const id = optId(block.id);
        if (!isName(block.name) || !('input' in block) || id === false)
          return malformed('Anthropic tool_use block');
        calls.push(call(block.name, block.input, id));
      }
      return exactlyOne(calls);
    }
    case 'mcp': {
      let params: unknown = value;
      if (isObject(value) && 'method' in value) {
        if (value.jsonrpc !== '2.0' || value.method !== 'tools/call')
          return malformed('MCP tools/call request');
        params = value.params;
      }
      if (!isObject(params) || !isName(params.name)) return malformed('MCP tools/call request or params');
      return call(params.name, params.arguments ?? {}, undefined);
    }
    default:
      return format satisfies never;
  }
}
