import { match } from 'ts-pattern';
import { z } from 'zod';
import { parseJson, RecordsError } from '@edca/records';
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

const name = z.string().min(1).max(128);
// Envelopes are loose (providers add fields: ids, roles, usage); the arguments never are.
const openaiToolCall = z.looseObject({
  id: z.string().max(256).optional(),
  type: z.literal('function').optional(),
  function: z.looseObject({ name, arguments: z.string() }),
});
const openaiMessage = z.looseObject({ tool_calls: z.array(openaiToolCall).max(64).nullish() });
const openaiChat = z.looseObject({
  choices: z
    .array(z.looseObject({ message: openaiMessage }))
    .min(1)
    .max(1),
});
const openaiResponses = z.looseObject({
  output: z.array(z.looseObject({ type: z.string() })).max(256),
});
const responsesCall = z.looseObject({
  type: z.literal('function_call'),
  name,
  arguments: z.string(),
  call_id: z.string().max(256).optional(),
});
const anthropicBlock = z.looseObject({ type: z.string() });
const anthropicToolUse = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().max(256).optional(),
  name,
  input: z.unknown(),
});
const anthropicMessage = z.looseObject({ content: z.array(anthropicBlock).max(256) });
const mcpParams = z.looseObject({ name, arguments: z.unknown().optional() });
const mcpRequest = z.looseObject({
  jsonrpc: z.literal('2.0'),
  method: z.literal('tools/call'),
  params: mcpParams,
});
const jsonProposal = z.strictObject({ intent: name, params: z.unknown() });

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
      if (err.code === 'IJSON_TOO_LARGE') return refuse('PAYLOAD_TOO_LARGE', 'payload is too large');
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

function anthropicBlocks(value: unknown): readonly { type: string }[] | undefined {
  if (Array.isArray(value)) {
    const arr = z.array(anthropicBlock).max(256).safeParse(value);
    return arr.success ? arr.data : undefined;
  }
  const message = anthropicMessage.safeParse(value);
  if (message.success) return message.data.content;
  const block = anthropicBlock.safeParse(value);
  return block.success ? [block.data] : undefined;
}

/**
 * Finds the one call in a model output envelope. Arguments that arrive as JSON text are parsed
 * strictly; a refusal from that parse is returned as the call's `args` and surfaced by the caller.
 */
export function extractCall(value: unknown, format: ProposalFormat, limits: IntakeLimits): Found {
  return match(format)
    .with('json', () => {
      const p = jsonProposal.safeParse(value);
      return p.success
        ? call(p.data.intent, p.data.params, undefined)
        : malformed('proposal {intent, params}');
    })
    .with('openai', () => {
      const chat = openaiChat.safeParse(value);
      const message = chat.success ? chat.data.choices[0]!.message : value;
      const msg = openaiMessage.safeParse(message);
      // A chat completion (or a message with `tool_calls`) is read as such; anything else must
      // be a Responses object.
      if (msg.success && (chat.success || msg.data.tool_calls !== undefined)) {
        return exactlyOne(
          (msg.data.tool_calls ?? []).map((c) =>
            textCall(c.function.name, c.function.arguments, c.id, limits),
          ),
        );
      }
      const responses = openaiResponses.safeParse(value);
      if (!responses.success) return malformed('OpenAI chat completion, message or response');
      const calls: Found[] = [];
      for (const item of responses.data.output) {
        if (item.type !== 'function_call') continue;
        const c = responsesCall.safeParse(item);
        if (!c.success) return malformed('OpenAI function_call item');
        calls.push(textCall(c.data.name, c.data.arguments, c.data.call_id, limits));
      }
      return exactlyOne(calls);
    })
    .with('anthropic', () => {
      const blocks = anthropicBlocks(value);
      if (blocks === undefined) return malformed('Anthropic message, content array or tool_use block');
      const calls: Found[] = [];
      for (const block of blocks) {
        if (block.type !== 'tool_use') continue;
        const b = anthropicToolUse.safeParse(block);
        if (!b.success) return malformed('Anthropic tool_use block');
        calls.push(call(b.data.name, b.data.input, b.data.id));
      }
      return exactlyOne(calls);
    })
    .with('mcp', () => {
      const req = mcpRequest.safeParse(value);
      const params = req.success ? req.data.params : value;
      const p = mcpParams.safeParse(params);
      if (!p.success) return malformed('MCP tools/call request or params');
      return call(p.data.name, p.data.arguments ?? {}, undefined);
    })
    .exhaustive();
}
