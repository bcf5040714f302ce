/**
 * Turns a {@link ServerConfig} into a running kernel and MCP server: maps, keys, trust, journal (or
 * the host's PostgreSQL storage), upstream connections, gateway handlers and loaders, and the
 * approvals inbox watcher. Everything opened here is closed by `close()`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ArpHandler } from '@edca/arp';
import {
  createKernel,
  openFileJournal,
  systemClock,
  type Journal,
  type Kernel,
  type KernelOptions,
  type KernelStore,
  type Loader,
} from '@edca/kernel';
import {
  fromBase64url,
  loadPrivateKeyFile,
  parseTrustFile,
  type Signer,
  type TrustFile,
} from '@edca/records';
import { loadStateMap, type CompiledMap } from '@edca/semantic';
import { watchApprovalInbox, type InboxWatcher } from './approvals.js';
import type { OpenedStorage, ServerConfig, UpstreamRead } from './config.js';
import { McpError } from './errors.js';
import { createEdcaMcpServer, type EdcaMcpServer, type ViewLoader } from './server.js';
import { createUpstreams, parseUpstreamRef, upstreamHandler, type Upstreams } from './upstream.js';

/** Options of {@link openServerRuntime}. */
export interface RuntimeOptions {
  /** The folder relative paths of the config resolve against (the config file's). */
  readonly baseDir: string;
  /** Opens a `postgres://` store (the CLI passes @edca/store-postgres here). */
  readonly openStorage?: (url: string, stream: string, signer: Signer) => Promise<OpenedStorage>;
  /** Private-side diagnostics (leak incidents, inbox errors): stderr in `edca serve`. */
  readonly log?: (line: string) => void;
  /**
   * Signed activation (docs/kernel.md, "Signed activation"): refuse to start unless each map has
   * its policy owner's statement, checked against the config's trust file.
   */
  readonly requireSignedActivation?: boolean;
  /** The owner's signed activation of each map, by map name (`edca serve --activation FILE`). */
  readonly activations?: KernelOptions['activations'];
}

/** A running server: the kernel, its MCP face and what feeds it. */
export interface ServerRuntime {
  readonly kernel: Kernel;
  readonly mcp: EdcaMcpServer;
  readonly stream: string;
  /** The approvals inbox the server watches (where `edca approve` drops statements). */
  readonly inbox: string;
  /** The journal file, when the embedded journal is used. */
  readonly journalPath?: string;
  /** Processes the approvals inbox now (the watcher also does, every `pollMs`). */
  drainApprovals(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_UPSTREAM_TIMEOUT_MS = 10_000;
const DEFAULT_HANDLER_TIMEOUT_MS = 10_000;
const DEFAULT_POLL_MS = 250;

function isUpstreamRead(v: unknown): v is UpstreamRead {
  return typeof v === 'string' || (typeof v === 'object' && v !== null && 'tool' in v && !('call' in v));
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new McpError(
      'CONFIG_UNREADABLE',
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

function loadMaps(maps: ServerConfig['maps'], at: (p: string) => string): CompiledMap[] {
  return maps.map((m) => {
    if (typeof m !== 'string') return m;
    const path = at(m);
    const loaded = loadStateMap(readText(path, 'state map'), path);
    if (!loaded.ok) {
      const d = loaded.diagnostics[0];
      throw new McpError('CONFIG_INVALID', `${path}: ${d ? `${d.code} ${d.message}` : 'does not compile'}`);
    }
    return loaded.value;
  });
}

function loadSigner(kernel: string | Signer, at: (p: string) => string): Signer {
  if (typeof kernel !== 'string') return kernel;
  try {
    return loadPrivateKeyFile(at(kernel));
  } catch (err) {
    throw new McpError(
      'CONFIG_INVALID',
      `keys.kernel ${kernel}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function loadRefKey(refKey: string | Uint8Array, at: (p: string) => string): Uint8Array {
  if (typeof refKey !== 'string') return refKey;
  try {
    return fromBase64url(readText(at(refKey), 'ref key').trim(), 32, 'KEY_INVALID');
  } catch (err) {
    if (err instanceof McpError) throw err;
    throw new McpError('CONFIG_INVALID', `keys.refKey ${refKey}: not 32 bytes of base64url`);
  }
}

function loadTrust(trust: ServerConfig['trust'], at: (p: string) => string): TrustFile | undefined {
  if (trust === undefined || typeof trust !== 'string') return trust;
  try {
    return parseTrustFile(readText(at(trust), 'trust file'));
  } catch (err) {
    if (err instanceof McpError) throw err;
    throw new McpError(
      'CONFIG_INVALID',
      `trust ${trust}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function upstreamRefsOf(config: ServerConfig, maps: readonly CompiledMap[]): string[] {
  const refs: string[] = [];
  for (const map of maps) {
    const routes = (map.document as { routes?: Record<string, { handler: string }> }).routes ?? {};
    for (const route of Object.values(routes)) if (route.handler.startsWith('mcp:')) refs.push(route.handler);
  }
  for (const read of [...Object.values(config.loaders), ...Object.values(config.views)]) {
    if (isUpstreamRead(read)) refs.push(typeof read === 'string' ? read : read.tool);
  }
  return refs;
}

/**
 * Opens everything a configuration names and starts the kernel and the MCP server (no transport
 * yet: `serveStdio` / `serveHttp` or `runtime.mcp.connect`).
 * @throws McpError CONFIG_INVALID / CONFIG_UNREADABLE / UPSTREAM_UNKNOWN; KernelError from createKernel
 */
export async function openServerRuntime(
  config: ServerConfig,
  options: RuntimeOptions,
): Promise<ServerRuntime> {
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(options.baseDir, p));
  const maps = loadMaps(config.maps, at);
  const signer = loadSigner(config.keys.kernel, at);
  const refKey = loadRefKey(config.keys.refKey, at);
  const trust = loadTrust(config.trust, at);
  const stream = config.stream ?? 'edca';
  if ((config.journal === undefined) === (config.store === undefined))
    throw new McpError('CONFIG_INVALID', 'give exactly one of journal (a file) or store (postgres://…)');
  const refs = upstreamRefsOf(config, maps);
  for (const ref of refs) {
    const parsed = parseUpstreamRef(ref);
    if (parsed === undefined || config.upstreams?.[parsed.upstream] === undefined)
      throw new McpError('UPSTREAM_UNKNOWN', `${ref} names no upstream declared in upstreams`);
  }
  const upstreamMs = config.timeouts?.upstreamMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  const handlerMs = config.timeouts?.handlerMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  const upstreams: Upstreams = createUpstreams(config.upstreams ?? {}, { timeoutMs: upstreamMs, refs });

  const handlers: Record<string, ArpHandler> = { ...(config.handlers ?? {}) };
  // An upstream route gets a little longer than the kernel's own handler timeout, so a slow
  // upstream is cut by the kernel (outcome `unknown`: it may have acted) rather than by the client.
  for (const ref of refs)
    if (handlers[ref] === undefined) handlers[ref] = upstreamHandler(upstreams, ref, handlerMs + 1_000);

  const readVia = (
    read: UpstreamRead,
    extra: (r: Parameters<Loader>[0]) => Record<string, unknown>,
  ): Loader => {
    const tool = typeof read === 'string' ? read : read.tool;
    const fixed = typeof read === 'string' ? {} : (read.arguments ?? {});
    return (request) => upstreams.call(tool, { ...fixed, ...extra(request) }, { timeoutMs: upstreamMs });
  };
  const loaders: Record<string, Loader> = {};
  for (const [name, l] of Object.entries(config.loaders)) {
    loaders[name] = isUpstreamRead(l)
      ? readVia(l, (r) => ({ refs: Object.fromEntries(Object.entries(r.refs).map(([k, v]) => [k, v.id])) }))
      : l;
  }
  const views: Record<string, ViewLoader> = {};
  for (const [name, v] of Object.entries(config.views)) {
    if (isUpstreamRead(v)) {
      const tool = typeof v === 'string' ? v : v.tool;
      const fixed = typeof v === 'string' ? {} : (v.arguments ?? {});
      views[name] = () => upstreams.call(tool, { ...fixed }, { timeoutMs: upstreamMs });
    } else views[name] = v;
  }

  let journal: Journal;
  let store: KernelStore | undefined;
  let closeStorage: () => Promise<void>;
  let journalPath: string | undefined;
  let inbox: string;
  if (config.journal !== undefined) {
    journalPath = at(config.journal);
    const file = await openFileJournal({ path: journalPath, stream, signer });
    journal = file;
    closeStorage = () => file.close();
    inbox = at(config.approvals?.inbox ?? `${config.journal}.approvals`);
  } else {
    const url = config.store!;
    if (!/^postgres(?:ql)?:\/\//i.test(url))
      throw new McpError('CONFIG_INVALID', 'store must be a postgres:// URL');
    if (options.openStorage === undefined)
      throw new McpError('CONFIG_INVALID', 'a postgres:// store is opened by the host (edca serve does it)');
    if (config.approvals?.inbox === undefined)
      throw new McpError(
        'CONFIG_INVALID',
        'a postgres:// store needs approvals.inbox (a folder the approvers can write)',
      );
    const opened = await options.openStorage(url, stream, signer);
    journal = opened.journal;
    store = opened.store;
    closeStorage = () => opened.close();
    inbox = at(config.approvals.inbox);
  }

  let kernel: Kernel;
  try {
    kernel = await createKernel({
      maps,
      loaders,
      refKey,
      signer,
      journal,
      clock: systemClock,
      handlers,
      handlerTimeoutMs: handlerMs,
      ...(config.retries === undefined ? {} : { retries: config.retries }),
      ...(store === undefined ? {} : { store }),
      ...(trust === undefined ? {} : { trust }),
      ...(options.requireSignedActivation === true ? { requireSignedActivation: true } : {}),
      ...(options.activations === undefined ? {} : { activations: options.activations }),
    });
  } catch (err) {
    await upstreams.close();
    await closeStorage();
    throw err;
  }
  const mcp = createEdcaMcpServer({
    kernel,
    stream,
    principal: config.principal,
    views,
    privateTerms: upstreams.privateTerms,
    ...(config.proposer === undefined ? {} : { proposer: config.proposer }),
    ...(config.info === undefined ? {} : { info: config.info }),
    onLeak: (i) => options.log?.(`edca mcp: LEAK_BLOCKED in ${i.where} (${i.hit.rule} at ${i.hit.path})`),
  });
  const watcher: InboxWatcher = watchApprovalInbox(inbox, (signed) => mcp.approve(signed), {
    pollMs: config.approvals?.pollMs ?? DEFAULT_POLL_MS,
    onError: (err) =>
      options.log?.(`edca mcp: approvals inbox: ${err instanceof Error ? err.message : String(err)}`),
  });
  let closed = false;
  return {
    kernel,
    mcp,
    stream,
    inbox,
    ...(journalPath === undefined ? {} : { journalPath }),
    drainApprovals: () => watcher.drain(),
    async close() {
      if (closed) return;
      closed = true;
      await watcher.stop();
      await mcp.close();
      await kernel.close();
      await upstreams.close();
      await closeStorage();
    },
  };
}
