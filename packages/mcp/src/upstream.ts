/**
 * The gateway side: upstream MCP servers the bank already runs, called only by the kernel's routes
 * (`handler: mcp:<upstream>/<tool>`) and by loaders. Nothing an upstream says — its tool names,
 * schemas, descriptions, error texts — is ever forwarded to the agent; a failure is a thrown
 * error the kernel turns into an outcome (`failed`, or `unknown` on a timeout).
 */
import { isObject } from '@edca/records';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { ArpHandler } from '@edca/arp';
import { McpError } from './errors.js';
import { nodeHttpFetch } from './node-fetch.js';

/** An upstream MCP server: a command run over stdio, or a Streamable HTTP URL. */
export type UpstreamSpec =
  | {
      readonly command: string;
      readonly args?: readonly string[];
      readonly env?: Readonly<Record<string, string>>;
      readonly cwd?: string;
    }
  | { readonly url: string };

/** Why an upstream call did not give a usable answer (private side only; never shown to the agent). */
export type UpstreamFailureCode =
  'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TOOL_ERROR' | 'UPSTREAM_MALFORMED' | 'UPSTREAM_TIMEOUT';

/** A failed upstream call; the kernel journals it as a `failed` (or `unknown`) outcome. */
export class UpstreamFailure extends Error {
  readonly code: UpstreamFailureCode;
  constructor(code: UpstreamFailureCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamFailure';
    this.code = code;
  }
}

/** `mcp:<upstream>/<tool>` split in two, or undefined when `ref` is not of that form. */
export function parseUpstreamRef(ref: string): { upstream: string; tool: string } | undefined {
  const m = /^mcp:([A-Za-z0-9_.-]+)\/([A-Za-z0-9_./-]+)$/.exec(ref);
  return m ? { upstream: m[1]!, tool: m[2]! } : undefined;
}

/** Connections to the configured upstream servers, opened on first use and reopened after a failure. */
export interface Upstreams {
  /** Calls `mcp:<upstream>/<tool>` and returns its structured answer. */
  call(
    ref: string,
    args: Record<string, unknown>,
    options?: { signal?: AbortSignal; timeoutMs?: number; meta?: Record<string, string> },
  ): Promise<Record<string, unknown>>;
  /** The upstream and tool names in use: private words no outbound message may carry. */
  readonly privateTerms: readonly string[];
  close(): Promise<void>;
}

/**
 * Opens the gateway's upstream connections lazily.
 * @throws McpError UPSTREAM_UNKNOWN (at call time) for a ref naming an undeclared upstream
 */
export function createUpstreams(
  specs: Readonly<Record<string, UpstreamSpec>>,
  options: { readonly timeoutMs: number; readonly refs: readonly string[] },
): Upstreams {
  const clients = new Map<string, Promise<Client>>();
  let closed = false;
  // Node's own fetch keeps an abort listener per request on the transport's signal until garbage
  // collection and costs more CPU than the exchange (docs/mcp.md, Known limits).
  const fetchUpstream = nodeHttpFetch();

  async function open(name: string): Promise<Client> {
    const spec = specs[name];
    if (spec === undefined) throw new McpError('UPSTREAM_UNKNOWN', `no upstream named ${name}`);
    const client = new Client({ name: 'edca-gateway', version: '0.1.0' });
    const transport =
      'url' in spec
        ? new StreamableHTTPClientTransport(new URL(spec.url), { fetch: fetchUpstream })
        : new StdioClientTransport({
            command: spec.command,
            args: [...(spec.args ?? [])],
            ...(spec.env === undefined ? {} : { env: { ...spec.env } }),
            ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
            stderr: 'ignore',
          });
    client.onclose = () => {
      clients.delete(name);
    };
    await client.connect(transport, { timeout: options.timeoutMs });
    return client;
  }

  function clientFor(name: string): Promise<Client> {
    let c = clients.get(name);
    if (c === undefined) {
      c = open(name);
      clients.set(name, c);
      c.catch(() => clients.delete(name));
    }
    return c;
  }

  const privateTerms = new Set<string>(Object.keys(specs));
  for (const ref of options.refs) {
    const parsed = parseUpstreamRef(ref);
    if (parsed) privateTerms.add(parsed.tool);
  }

  return {
    privateTerms: [...privateTerms],
    async call(ref, args, callOptions = {}) {
      if (closed) throw new UpstreamFailure('UPSTREAM_UNAVAILABLE', 'the gateway is closed');
      const parsed = parseUpstreamRef(ref);
      if (parsed === undefined) throw new McpError('UPSTREAM_UNKNOWN', `not an upstream tool: ${ref}`);
      if (specs[parsed.upstream] === undefined)
        throw new McpError('UPSTREAM_UNKNOWN', `no upstream named ${parsed.upstream}`);
      let client: Client;
      try {
        client = await clientFor(parsed.upstream);
      } catch (err) {
        throw new UpstreamFailure('UPSTREAM_UNAVAILABLE', `cannot reach upstream ${parsed.upstream}`, {
          cause: err,
        });
      }
      let result: Awaited<ReturnType<Client['callTool']>>;
      try {
        result = await client.callTool(
          {
            name: parsed.tool,
            arguments: args,
            ...(callOptions.meta === undefined ? {} : { _meta: callOptions.meta }),
          },
          {
            timeout: callOptions.timeoutMs ?? options.timeoutMs,
            ...(callOptions.signal === undefined ? {} : { signal: callOptions.signal }),
          },
        );
      } catch (err) {
        const timedOut = callOptions.signal?.aborted === true || /timed? ?out/i.test(String(err));
        throw new UpstreamFailure(
          timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE',
          `upstream ${parsed.upstream} did not answer ${parsed.tool}`,
          { cause: err },
        );
      }
      if (result.isError === true)
        throw new UpstreamFailure('UPSTREAM_TOOL_ERROR', `upstream ${ref} answered with an error`);
      return structuredOf(result, ref);
    },
    async close() {
      closed = true;
      const all = [...clients.values()];
      clients.clear();
      await Promise.allSettled(all.map(async (c) => (await c).close()));
    },
  };
}

/** The object an upstream tool answered: its `structuredContent`, else one JSON object text block. */
function structuredOf(result: Record<string, unknown>, ref: string): Record<string, unknown> {
  if (isObject(result['structuredContent'])) return result['structuredContent'];
  const content = result['content'];
  if (Array.isArray(content) && content.length === 1 && isObject(content[0])) {
    const block = content[0];
    if (block['type'] === 'text' && typeof block['text'] === 'string') {
      try {
        const parsed: unknown = JSON.parse(block['text']);
        if (isObject(parsed)) return parsed;
      } catch {
        // falls through to the malformed answer below
      }
    }
  }
  throw new UpstreamFailure('UPSTREAM_MALFORMED', `upstream ${ref} did not answer with one JSON object`);
}

/**
 * A route handler that runs `mcp:<upstream>/<tool>` with the call's real params as arguments and the
 * kernel's idempotency key in `_meta` (so an upstream can deduplicate the kernel's retries).
 */
export function upstreamHandler(upstreams: Upstreams, ref: string, timeoutMs: number): ArpHandler {
  return async (call, context) =>
    upstreams.call(
      ref,
      { ...call.realParams },
      {
        timeoutMs,
        meta: { 'edca/idempotency-key': context.idempotencyKey },
        ...(context.signal === undefined ? {} : { signal: context.signal }),
      },
    );
}
