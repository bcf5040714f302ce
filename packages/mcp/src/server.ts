/**
 * edca as an MCP server: the map's intents are the tools, each `tools/call` goes intake → decide →
 * execute (when permitted) → projected result, and the model's view is a resource of its session.
 * One MCP connection (or Streamable HTTP session) is one edca session: the refs a view shows are
 * bound to it and resolve nowhere else.
 */
import { randomUUID } from 'node:crypto';
import {
  ResourceNotFoundError,
  Server,
  type CallToolResult,
  type Transport,
} from '@modelcontextprotocol/server';
import {
  createLeakGuard,
  DEFAULT_LEAK_PATTERNS,
  tokenize,
  type Arp,
  type ArpSession,
  type LeakGuard,
  type LeakHit,
  type ModelResult,
  type ModelView,
  type PrivateTerm,
} from '@edca/arp';
import type { Decision, ExecuteResult, Kernel, SignedApproval } from '@edca/kernel';
import { canonicalize, digestBytes, type Digest, type JsonValue } from '@edca/records';
import { McpError } from './errors.js';

/** Loads the private records a session's view is projected from (the subject the session is about). */
export type ViewLoader = (request: {
  readonly map: string;
  readonly session: ArpSession;
  readonly principal: McpPrincipal;
}) => Promise<Record<string, unknown>>;

/** The accountable principal every decision of this server is taken for. */
export interface McpPrincipal {
  readonly id: string;
  readonly attributes: Record<string, JsonValue>;
}

/** Options of {@link createEdcaMcpServer}. */
export interface EdcaMcpServerOptions {
  /** The kernel (built by the host or by `openServerRuntime`); its maps' intents become the tools. */
  readonly kernel: Kernel;
  /** The journal stream the kernel writes to: the `stream` half of every edca session. */
  readonly stream: string;
  readonly principal: McpPrincipal;
  /** Per map name: the records the session's view is projected from. */
  readonly views: Readonly<Record<string, ViewLoader>>;
  /**
   * The proposer journaled with each decision. Default: the MCP client's self-reported name and
   * version as the model id, and the digest of the empty prompt template (the server never sees it).
   */
  readonly proposer?: { readonly modelId?: string; readonly promptTemplateDigest?: string };
  /** The server's name and version in the MCP handshake. */
  readonly info?: { readonly name: string; readonly version: string };
  /** More private words no outbound message may carry (upstream server and tool names). */
  readonly privateTerms?: readonly string[];
  /** Receives each outbound message the leak guard stopped (private side: never sent to the client). */
  readonly onLeak?: (incident: { readonly where: string; readonly hit: LeakHit }) => void;
}

/** One connected MCP session. */
export interface McpSessionHandle {
  /** The edca session its refs are bound to. */
  readonly session: ArpSession;
  /** The low-level SDK server of this session. */
  readonly server: Server;
  close(): Promise<void>;
}

/** What became of an approval statement the server took in. */
export type McpApprovalResult =
  | { readonly status: 'refused'; readonly code: string; readonly message: string }
  | { readonly status: 'pending'; readonly approvers: number; readonly required: number }
  | {
      readonly status: 'decided';
      readonly verdict: Decision['verdict'];
      readonly reasons: readonly string[];
      /** The execution that followed a permit (in the session that proposed), when the server still holds it. */
      readonly execution?: ExecuteResult;
    };

/** The edca MCP server: one SDK `Server` per session over one kernel. */
export interface EdcaMcpServer {
  /** Starts a new session on `transport` (stdio, in-memory, one Streamable HTTP session). */
  connect(transport: Transport, sessionId?: string): Promise<McpSessionHandle>;
  /** Takes a signed approval (from the approvals inbox); executes the approved action in its session. */
  approve(signed: SignedApproval): Promise<McpApprovalResult>;
  /** Tool definitions as listed to every client (for docs and tests). */
  readonly tools: readonly JsonValue[];
  /** Closes every session (not the kernel: its owner closes it). */
  close(): Promise<void>;
}

/** The view resource of a map. */
export const VIEW_URI_PREFIX = 'edca://view/';
/** The resource of one pending approval of the session. */
export const APPROVAL_URI_PREFIX = 'edca://approval/';

interface SessionState {
  readonly session: ArpSession;
  readonly server: Server;
  modelId: string;
  /** Approvals this session's proposals wait for, with what became of them. */
  readonly approvals: Map<Digest, ApprovalEntry>;
}

interface ApprovalEntry {
  readonly id: Digest;
  readonly map: string;
  readonly intent: string;
  readonly required: { count: number; role: string };
  readonly expiresAt: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired' | 'refused';
  /** What the approved action showed: the payload sent, and what the leak guard reads of it. */
  result?: { readonly payload: Record<string, JsonValue>; readonly scanned: Scanned };
}

/**
 * What the leak guard reads of an outbound message. Refs and approval ids are edca's own MAC and
 * hash output and carry nothing private; scanning them would only risk a chance match on random
 * letters (a ref that spells a private code) and withhold a session's every view. As in the ARP's
 * own guard, an entity's kind is scanned in place of its ref. The intents a view offers are kept
 * apart: the guard's verdict on each is memoized.
 */
interface Scanned {
  readonly body: unknown;
  readonly intents: ModelView['intents'];
}

function scannedView(view: ModelView): Scanned {
  return { body: { ...view, entities: Object.keys(view.entities), intents: [] }, intents: view.intents };
}

function scannedResult(result: ModelResult): Scanned {
  const view = result.view === undefined ? undefined : scannedView(result.view);
  return {
    body: {
      ...result,
      ...(result.created === undefined ? {} : { created: result.created.map((c) => c.kind) }),
      ...(view === undefined ? {} : { view: view.body }),
    },
    intents: view?.intents ?? [],
  };
}

function scannedAs(body: unknown): Scanned {
  return { body, intents: [] };
}

const EMPTY_TEMPLATE_DIGEST = digestBytes('');

const REFUSAL_MESSAGES: Readonly<Record<string, string>> = {
  UNKNOWN_INTENT: 'no tool of this server has that name; use only the listed tools',
  LEAK_BLOCKED: 'the answer was withheld because it would have shown private data',
  VIEW_UNAVAILABLE: 'the current view could not be built',
};

function publicMessage(code: string, fallback: string): string {
  return REFUSAL_MESSAGES[code] ?? fallback;
}

/**
 * Builds the MCP face of a kernel: tools from the maps' intents, views as resources, decisions
 * and executions through the kernel, every outbound message through a leak guard.
 * @throws McpError VIEW_LOADER_MISSING (a map without a view loader)
 * @example
 * const mcp = createEdcaMcpServer({ kernel, stream: 'bank', principal, views: { cards: loadView } });
 * await mcp.connect(new StdioSession()); // or serveStdio(mcp)
 */
export function createEdcaMcpServer(options: EdcaMcpServerOptions): EdcaMcpServer {
  const { kernel } = options;
  const byTool = new Map<string, { map: string; arp: Arp }>();
  const terms: PrivateTerm[] = [];
  const tools: JsonValue[] = [];
  for (const [mapName, arp] of kernel.arps) {
    if (options.views[mapName] === undefined)
      throw new McpError('VIEW_LOADER_MISSING', `no view loader for map ${mapName}`);
    for (const def of arp.toolDefinitions('mcp')) {
      const name = String((def as { name: string }).name);
      byTool.set(name, { map: mapName, arp });
      tools.push(def);
    }
    for (const term of arp.vocabulary.terms) terms.push({ term, category: 'map' });
  }
  for (const term of options.privateTerms ?? []) terms.push({ term, category: 'configured' });
  const toolsJson = tools.map((t) => ({ ...(t as Record<string, JsonValue>) }));
  // A configured word the tools themselves publish (an upstream named like an intent) hides
  // nothing and would withhold every answer: it is exempt, as in the ARP's own guard.
  const publicWords = new Set(tokenize(JSON.stringify(toolsJson)));
  const guard: LeakGuard = createLeakGuard({ terms, patterns: DEFAULT_LEAK_PATTERNS, publicWords });
  // The tool list never changes while the server runs: it is scanned once, here, not per request.
  const listedTools = guarded('tools/list', toolsJson) === undefined ? toolsJson : [];
  const sessions = new Set<SessionState>();
  const approvals = new Map<Digest, { state: SessionState; entry: ApprovalEntry }>();

  function guarded(where: string, value: unknown): LeakHit | undefined {
    const hit = guard.scan(value);
    if (hit !== undefined) options.onLeak?.({ where, hit });
    return hit;
  }

  // The intents a view offers are the ARP's own objects, one per intent and disposition, reused
  // by every view and result of the map: the guard's verdict on each is kept, so a result costs a
  // scan of what changes from call to call (state, display values, refs, outcome) and not of the
  // same descriptions and schemas again.
  const intentVerdicts = new WeakMap<object, LeakHit | null>();

  function scanIntents(intents: ModelView['intents']): LeakHit | undefined {
    for (let i = 0; i < intents.length; i++) {
      const intent = intents[i]!;
      let verdict = intentVerdicts.get(intent);
      if (verdict === undefined) {
        const hit = guard.scan(intent);
        verdict = hit === undefined ? null : { ...hit, path: `/view/intents/${i}${hit.path}` };
        intentVerdicts.set(intent, verdict);
      }
      if (verdict !== null) return verdict;
    }
    return undefined;
  }

  /** The guard over what a message shows: every part each time, a view's intents once per intent. */
  function guardedShown(where: string, scanned: Scanned): LeakHit | undefined {
    const hit = scanIntents(scanned.intents) ?? guard.scan(scanned.body);
    if (hit !== undefined) options.onLeak?.({ where, hit });
    return hit;
  }

  function toolResult(
    payload: Record<string, JsonValue>,
    isError: boolean,
    scanned: Scanned = scannedAs(payload),
  ): CallToolResult {
    if (guardedShown('tools/call', scanned) !== undefined)
      return refusal('LEAK_BLOCKED', REFUSAL_MESSAGES['LEAK_BLOCKED']!);
    return { content: [{ type: 'text', text: canonicalize(payload) }], structuredContent: payload, isError };
  }

  /** A projected result, sent with the ARP's own canonical JSON as its text (not written twice). */
  function projectedResult(result: ModelResult, json: string, isError: boolean): CallToolResult {
    if (guardedShown('tools/call', scannedResult(result)) !== undefined)
      return refusal('LEAK_BLOCKED', REFUSAL_MESSAGES['LEAK_BLOCKED']!);
    // A copy: the projection shares the ARP's intent objects with every later view, and an
    // in-process client gets this very object.
    return { content: [{ type: 'text', text: json }], structuredContent: copyJson(result), isError };
  }

  function refusal(code: string, message: string, extra: Record<string, JsonValue> = {}): CallToolResult {
    const payload: Record<string, JsonValue> = { edca_refusal: code, message, ...extra };
    if (code !== 'LEAK_BLOCKED' && guarded('tools/call error', payload) !== undefined)
      return refusal('LEAK_BLOCKED', REFUSAL_MESSAGES['LEAK_BLOCKED']!);
    return {
      content: [{ type: 'text', text: canonicalize(payload) }],
      structuredContent: payload,
      isError: true,
    };
  }

  async function viewRecords(state: SessionState, map: string): Promise<Record<string, unknown> | undefined> {
    try {
      return await options.views[map]!({ map, session: state.session, principal: options.principal });
    } catch {
      return undefined;
    }
  }

  /** What an execution shows the model: a refusal payload, or the ARP's projected result and its JSON. */
  type Shown =
    | { readonly payload: Record<string, JsonValue>; readonly isError: true }
    | { readonly projected: ModelResult; readonly json: string; readonly isError: boolean };

  async function resultPayload(
    state: SessionState,
    map: string,
    arp: Arp,
    intent: string,
    execution: ExecuteResult,
  ): Promise<Shown> {
    if (execution.status === 'refused') {
      return {
        payload: {
          edca_refusal: execution.code,
          message: 'the permitted action could not be executed',
          intent,
        },
        isError: true,
      };
    }
    const records = await viewRecords(state, map);
    const projected = arp.projectResult({
      session: state.session,
      intent,
      outcome: execution.status,
      ...(execution.error === undefined ? {} : { error: execution.error.code }),
      ...(records === undefined ? {} : { records }),
    });
    if (!projected.ok)
      return {
        payload: { edca_refusal: projected.code, message: 'the result could not be shown' },
        isError: true,
      };
    return { projected: projected.value, json: projected.json, isError: execution.status !== 'completed' };
  }

  function shownResult(shown: Shown): CallToolResult {
    return 'projected' in shown
      ? projectedResult(shown.projected, shown.json, shown.isError)
      : toolResult(shown.payload, shown.isError);
  }

  async function callTool(
    state: SessionState,
    name: string,
    args: Record<string, unknown> | undefined,
  ): Promise<CallToolResult> {
    const target = byTool.get(name);
    if (target === undefined) return refusal('UNKNOWN_INTENT', REFUSAL_MESSAGES['UNKNOWN_INTENT']!);
    const { arp, map } = target;
    const intake = arp.intake({ name, arguments: args ?? {} }, 'mcp', state.session);
    if (!intake.ok) {
      const issues = (intake.issues ?? []).map((i) => ({ path: i.path, problem: i.problem }));
      return refusal(intake.code, intake.message, issues.length === 0 ? {} : { issues });
    }
    const decision = await kernel.decide(intake.proposal, {
      session: state.session,
      principal: options.principal,
      proposer: {
        modelId: options.proposer?.modelId ?? state.modelId,
        promptTemplateDigest: options.proposer?.promptTemplateDigest ?? EMPTY_TEMPLATE_DIGEST,
      },
    });
    if (decision.verdict === 'refuse') {
      return refusal(decision.reasons[0] ?? 'REFUSED', 'the kernel refused this proposal', {
        reasons: [...decision.reasons],
      });
    }
    if (decision.verdict === 'escalate') {
      if (decision.approval === undefined)
        return refusal('APPROVAL_UNAVAILABLE', 'the action needs an approval that could not be opened');
      const entry: ApprovalEntry = {
        id: decision.approval.id,
        map,
        intent: name,
        required: { ...decision.approval.required },
        expiresAt: decision.approval.expiresAt,
        status: 'pending',
      };
      state.approvals.set(entry.id, entry);
      approvals.set(entry.id, { state, entry });
      const payload = pendingPayload(entry);
      return toolResult(payload, false, pendingScanned(entry, payload));
    }
    if (decision.permit === undefined) return refusal('PERMIT_MISSING', 'the permit could not be issued');
    const execution = await kernel.execute(decision.permit, { session: state.session });
    return shownResult(await resultPayload(state, map, arp, name, execution));
  }

  function pendingPayload(entry: ApprovalEntry): Record<string, JsonValue> {
    return {
      edca_pending: 'approval',
      intent: entry.intent,
      approval: entry.id,
      waits_for: { count: entry.required.count, role: entry.required.role },
      expires_at: entry.expiresAt,
      status: entry.status,
      resource: `${APPROVAL_URI_PREFIX}${entry.id}`,
      ...(entry.result === undefined ? {} : { result: entry.result.payload }),
    };
  }

  /** `pendingPayload(entry)` as the guard reads it: without the approval id, which is a record hash. */
  function pendingScanned(entry: ApprovalEntry, payload: Record<string, JsonValue>): Scanned {
    const { approval: _id, resource: _uri, result: _result, ...rest } = payload;
    if (entry.result === undefined) return scannedAs(rest);
    const { body, intents } = entry.result.scanned;
    return { body: { ...rest, result: body }, intents };
  }

  function resourceList(
    state: SessionState,
  ): { uri: string; name: string; mimeType: string; description: string }[] {
    const views = [...kernel.arps.keys()].map((map) => ({
      uri: `${VIEW_URI_PREFIX}${map}`,
      name: `view ${map}`,
      mimeType: 'application/json',
      description: `What this session may see of ${map}: abstract states, opaque refs and the intents offered now.`,
    }));
    const pending = [...state.approvals.values()].map((e) => ({
      uri: `${APPROVAL_URI_PREFIX}${e.id}`,
      name: `approval for ${e.intent}`,
      mimeType: 'application/json',
      description: `A ${e.intent} proposal waiting for ${e.required.count} ${e.required.role}.`,
    }));
    return [...views, ...pending];
  }

  /** A resource's text and what the guard reads of it. */
  async function readResource(state: SessionState, uri: string): Promise<{ text: string; scanned: Scanned }> {
    if (uri.startsWith(VIEW_URI_PREFIX)) {
      const map = uri.slice(VIEW_URI_PREFIX.length);
      const arp = kernel.arps.get(map);
      if (arp === undefined) throw new ResourceMissing();
      const records = await viewRecords(state, map);
      if (records === undefined)
        return payloadResource({
          edca_refusal: 'VIEW_UNAVAILABLE',
          message: publicMessage('VIEW_UNAVAILABLE', ''),
        });
      const projected = arp.project(records, state.session);
      if (!projected.ok)
        return payloadResource({
          edca_refusal: projected.code,
          message: 'the current view could not be shown',
        });
      return { text: projected.json, scanned: scannedView(projected.value) };
    }
    if (uri.startsWith(APPROVAL_URI_PREFIX)) {
      const entry = state.approvals.get(uri.slice(APPROVAL_URI_PREFIX.length) as Digest);
      if (entry === undefined) throw new ResourceMissing();
      const payload = pendingPayload(entry);
      return { text: canonicalize(payload), scanned: pendingScanned(entry, payload) };
    }
    throw new ResourceMissing();
  }

  function payloadResource(payload: Record<string, JsonValue>): { text: string; scanned: Scanned } {
    return { text: canonicalize(payload), scanned: scannedAs(payload) };
  }

  function buildServer(state: { current?: SessionState }): Server {
    const server = new Server(options.info ?? { name: 'edca', version: '0.1.0' }, {
      capabilities: { tools: {}, resources: {} },
    });
    server.setRequestHandler('tools/list', () => ({ tools: listedTools as never }));
    server.setRequestHandler('tools/call', async (request) => {
      const s = state.current!;
      const { name, arguments: args } = request.params;
      return callTool(s, name, args);
    });
    server.setRequestHandler('resources/list', () => {
      const resources = resourceList(state.current!);
      // An approval's URI names its id (a record hash): the guard reads the prefix in its place.
      const scanned = resources.map((r) =>
        r.uri.startsWith(APPROVAL_URI_PREFIX) ? { ...r, uri: APPROVAL_URI_PREFIX } : r,
      );
      if (guarded('resources/list', scanned) !== undefined) return { resources: [] };
      return { resources };
    });
    server.setRequestHandler('resources/read', async (request) => {
      const uri = request.params.uri;
      let read: { text: string; scanned: Scanned };
      try {
        read = await readResource(state.current!, uri);
      } catch (err) {
        if (err instanceof ResourceMissing) throw new ResourceNotFoundError(uri);
        throw err;
      }
      let text = read.text;
      if (guardedShown('resources/read', read.scanned) !== undefined)
        text = canonicalize({ edca_refusal: 'LEAK_BLOCKED', message: REFUSAL_MESSAGES['LEAK_BLOCKED']! });
      return { contents: [{ uri, mimeType: 'application/json', text }] };
    });
    return server;
  }

  // The agent learns that its pending approval moved on (approved and run, rejected, expired) and
  // reads the resource; a client that has gone away is no reason to fail the approver.
  function notifyUpdated(held: { state: SessionState; entry: ApprovalEntry }): void {
    void held.state.server
      .sendResourceUpdated({ uri: `${APPROVAL_URI_PREFIX}${held.entry.id}` })
      .catch(() => undefined);
  }

  return {
    tools: toolsJson,
    async connect(transport, sessionId) {
      const holder: { current?: SessionState } = {};
      const server = buildServer(holder);
      const state: SessionState = {
        session: { stream: options.stream, session: `mcp-${sessionId ?? randomUUID()}` },
        server,
        modelId: 'mcp-client',
        approvals: new Map(),
      };
      holder.current = state;
      server.oninitialized = () => {
        const client = server.getClientVersion();
        if (client !== undefined) state.modelId = `mcp-client:${client.name}@${client.version}`;
      };
      sessions.add(state);
      // A session whose transport went away (client hung up, HTTP session deleted) is forgotten.
      server.onclose = () => {
        sessions.delete(state);
      };
      await server.connect(transport);
      return {
        session: state.session,
        server,
        close: async () => {
          sessions.delete(state);
          await server.close();
        },
      };
    },
    async approve(signed) {
      const answer = await kernel.approve(signed);
      const held = approvals.get(signed.statement?.decision);
      if (answer.status === 'refused') {
        if (
          held !== undefined &&
          (answer.code === 'APPROVAL_REJECTED' || answer.code === 'APPROVAL_EXPIRED')
        ) {
          held.entry.status = answer.code === 'APPROVAL_REJECTED' ? 'rejected' : 'expired';
          approvals.delete(held.entry.id);
          notifyUpdated(held);
        }
        return { status: 'refused', code: answer.code, message: answer.message };
      }
      if (answer.status === 'pending')
        return { status: 'pending', approvers: answer.approvers, required: answer.required };
      const decision = answer.decision;
      if (held === undefined)
        return { status: 'decided', verdict: decision.verdict, reasons: decision.reasons };
      approvals.delete(held.entry.id);
      if (decision.permit === undefined) {
        held.entry.status = 'refused';
        return { status: 'decided', verdict: decision.verdict, reasons: decision.reasons };
      }
      held.entry.status = 'approved';
      const execution = await kernel.execute(decision.permit, { session: held.state.session });
      const arp = kernel.arps.get(held.entry.map)!;
      const shown = await resultPayload(held.state, held.entry.map, arp, held.entry.intent, execution);
      held.entry.result =
        'projected' in shown
          ? { payload: copyJson(shown.projected), scanned: scannedResult(shown.projected) }
          : { payload: shown.payload, scanned: scannedAs(shown.payload) };
      notifyUpdated(held);
      return { status: 'decided', verdict: decision.verdict, reasons: decision.reasons, execution };
    },
    async close() {
      const all = [...sessions];
      sessions.clear();
      await Promise.allSettled(all.map((s) => s.server.close()));
    },
  };
}

class ResourceMissing extends Error {}

/** A deep copy of a JSON object tree (plain objects, arrays, primitives), cheaper than a JSON round trip. */
function copyJson<T extends object>(value: T): Record<string, JsonValue> {
  return copyValue(value) as Record<string, JsonValue>;
}

function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyValue);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = copyValue((value as Record<string, unknown>)[key]);
  return out;
}
