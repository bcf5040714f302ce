/**
 * The server configuration: a TS/JS module exporting `defineServer({...})`, or a YAML file with the
 * same fields for a gateway without code (then loaders, views and handlers are upstream tools).
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ArpHandler } from '@edca/arp';
import type { Journal, KernelStore, Loader } from '@edca/kernel';
import type { Signer, TrustFile } from '@edca/records';
import type { CompiledMap } from '@edca/semantic';
import { McpError } from './errors.js';
import type { McpPrincipal, ViewLoader } from './server.js';
import type { UpstreamSpec } from './upstream.js';

/** A loader or view that reads its records through an upstream tool (`mcp:<upstream>/<tool>`). */
export type UpstreamRead = string | { readonly tool: string; readonly arguments?: Record<string, unknown> };

/** What `edca serve --config` runs. Relative paths resolve against the config file's folder. */
export interface ServerConfig {
  /** State maps: files (YAML or JSON) or compiled maps. Their intents are the tools. */
  readonly maps: readonly (string | CompiledMap)[];
  readonly keys: {
    /** The kernel's Ed25519 key: a PEM file (mode 0600) or a signer. */
    readonly kernel: string | Signer;
    /** The HMAC key of opaque refs: a file holding 32+ bytes as base64url, or the bytes. */
    readonly refKey: string | Uint8Array;
  };
  /** The trust file (approver keys and roles): a path or the parsed file. Needed for approvals. */
  readonly trust?: string | TrustFile;
  /** The embedded file journal (a path), or… */
  readonly journal?: string;
  /** …a `postgres://` URL for the PostgreSQL journal and kernel store (many instances). */
  readonly store?: string;
  /** The journal stream (default `edca`). */
  readonly stream?: string;
  /** The approvals inbox (default `<journal>.approvals`; required with a PostgreSQL store). */
  readonly approvals?: { readonly inbox?: string; readonly pollMs?: number };
  /** The accountable principal the server's decisions are taken for. */
  readonly principal: McpPrincipal;
  readonly proposer?: { readonly modelId?: string; readonly promptTemplateDigest?: string };
  /** Per map name: the records a session's view shows (the subject the sessions are about). */
  readonly views: Readonly<Record<string, ViewLoader | UpstreamRead>>;
  /** Per map name: the records a decision derives its state from. */
  readonly loaders: Readonly<Record<string, Loader | UpstreamRead>>;
  /** Route handlers by name; a route whose handler is `mcp:<upstream>/<tool>` needs none here. */
  readonly handlers?: Readonly<Record<string, ArpHandler>>;
  /** Upstream MCP servers the gateway may call. */
  readonly upstreams?: Readonly<Record<string, UpstreamSpec>>;
  /** Upstream call timeout (default 10 s) and the kernel's handler timeout and retries. */
  readonly timeouts?: { readonly upstreamMs?: number; readonly handlerMs?: number };
  readonly retries?: number;
  /** Per-session ref registry and other kernel options are left at their defaults. */
  readonly info?: { readonly name: string; readonly version: string };
}

/** Storage a host opened itself (the CLI opens `postgres://` stores through @edca/store-postgres). */
export interface OpenedStorage {
  readonly journal: Journal;
  readonly store?: KernelStore;
  close(): Promise<void>;
}

/**
 * Declares a server configuration (typed identity; the runtime validates it).
 * @example export default defineServer({ maps: ['./cards.yaml'], keys, journal: './edca.journal', ... });
 */
export function defineServer(config: ServerConfig): ServerConfig {
  return config;
}

const upstreamRead = z.union([
  z.string().regex(/^mcp:[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+$/, 'must be mcp:<upstream>/<tool>'),
  z.strictObject({
    tool: z.string().regex(/^mcp:[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+$/, 'must be mcp:<upstream>/<tool>'),
    arguments: z.record(z.string(), z.unknown()).optional(),
  }),
]);

const json: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(json), z.record(z.string(), json)]),
);

/** The YAML form: every field is data; loaders and views are upstream tools. */
const yamlConfigSchema = z.strictObject({
  maps: z.array(z.string()).min(1),
  keys: z.strictObject({ kernel: z.string(), refKey: z.string() }),
  trust: z.string().optional(),
  journal: z.string().optional(),
  store: z.string().optional(),
  stream: z.string().min(1).optional(),
  approvals: z
    .strictObject({ inbox: z.string().optional(), pollMs: z.number().int().min(10).optional() })
    .optional(),
  principal: z.strictObject({ id: z.string().min(1), attributes: z.record(z.string(), json).default({}) }),
  proposer: z
    .strictObject({ modelId: z.string().optional(), promptTemplateDigest: z.string().optional() })
    .optional(),
  views: z.record(z.string(), upstreamRead),
  loaders: z.record(z.string(), upstreamRead),
  upstreams: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/),
      z.union([
        z.strictObject({
          command: z.string().min(1),
          args: z.array(z.string()).optional(),
          env: z.record(z.string(), z.string()).optional(),
          cwd: z.string().optional(),
        }),
        z.strictObject({ url: z.string().url() }),
      ]),
    )
    .optional(),
  timeouts: z
    .strictObject({
      upstreamMs: z.number().int().positive().optional(),
      handlerMs: z.number().int().positive().optional(),
    })
    .optional(),
  retries: z.number().int().min(0).max(5).optional(),
});

/** A loaded configuration and the folder its relative paths resolve against. */
export interface LoadedConfig {
  readonly config: ServerConfig;
  readonly baseDir: string;
}

function invalid(path: string, message: string): McpError {
  return new McpError('CONFIG_INVALID', `${path}: ${message}`);
}

/**
 * Loads `path`: `.yaml`/`.yml`/`.json` as data, `.js`/`.mjs` by import, `.ts`/`.mts` through tsx
 * (Node 20 cannot strip types itself). The module's default export (or `config`) is the config.
 * @throws McpError CONFIG_UNREADABLE, CONFIG_INVALID
 */
export async function loadServerConfig(path: string): Promise<LoadedConfig> {
  const abs = resolve(path);
  const baseDir = dirname(abs);
  const ext = extname(abs).toLowerCase();
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') {
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (err) {
      throw new McpError(
        'CONFIG_UNREADABLE',
        `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    let doc: unknown;
    try {
      doc = parseYaml(text, { uniqueKeys: true });
    } catch (err) {
      throw invalid(path, err instanceof Error ? err.message.split('\n')[0]! : 'not YAML');
    }
    const parsed = yamlConfigSchema.safeParse(doc);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw invalid(path, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return { config: parsed.data as ServerConfig, baseDir };
  }
  if (!['.js', '.mjs', '.ts', '.mts'].includes(ext))
    throw invalid(path, 'a config is a .ts/.js module or a .yaml file');
  let mod: Record<string, unknown>;
  try {
    if (ext === '.ts' || ext === '.mts') {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(abs).href, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    }
  } catch (err) {
    throw new McpError(
      'CONFIG_UNREADABLE',
      `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const config = (mod['default'] ?? mod['config']) as ServerConfig | undefined;
  if (typeof config !== 'object' || config === null)
    throw invalid(path, 'the module exports no configuration (export default defineServer({...}))');
  return { config, baseDir };
}
