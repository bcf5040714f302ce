import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import {
  checkHttpOptions,
  loadServerConfig,
  McpError,
  openServerRuntime,
  serveHttp,
  serveStdio,
  type OpenedStorage,
  type ServerConfig,
  type ServerRuntime,
} from '@edca/mcp';
import { KernelError } from '@edca/kernel';
import type { Signer } from '@edca/records';
import { openPostgresJournal, postgresStore, PostgresStoreError } from '@edca/store-postgres';
import { CliError } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { demoServeSetup } from '../internal/demo/serve-config.js';
import { collect, readActivationFiles } from '../activation-files.js';

interface ServeFlags {
  config?: string;
  demo?: boolean;
  out?: string;
  keys?: string;
  stdio?: boolean;
  http?: string;
  host?: string;
  requireSignedActivation?: boolean;
  activation?: string[];
  tokenFile?: string;
}

/** The environment variable `edca serve --http` reads its bearer token from without `--token-file`. */
export const MCP_TOKEN_ENV = 'EDCA_MCP_TOKEN';

/**
 * The bearer token of the HTTP endpoint: the first line of `--token-file` (a file only its owner
 * may read, like a private key), else `EDCA_MCP_TOKEN`, else none.
 */
function readToken(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file === undefined) {
    const fromEnv = env[MCP_TOKEN_ENV];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv.trim();
  }
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      'TOKEN_FILE_UNREADABLE',
      `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if ((mode & 0o077) !== 0)
    throw new CliError(
      'TOKEN_FILE_PERMISSIONS',
      `${file} may be read by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  return text.split('\n')[0]!.trim();
}

/** Opens a `postgres://` journal and kernel store for the server (many instances share them). */
export async function openPostgresStorage(
  url: string,
  stream: string,
  signer: Signer,
): Promise<OpenedStorage> {
  const journal = await openPostgresJournal({ connectionString: url, stream, signer });
  const store = postgresStore({ connectionString: url });
  return {
    journal,
    store,
    async close() {
      await store.close();
      await journal.close();
    },
  };
}

/** Turns the server's startup failures into one-line CLI errors with their stable codes. */
export function toCliError(err: unknown): unknown {
  if (err instanceof McpError || err instanceof KernelError || err instanceof PostgresStoreError) {
    return new CliError(err.code, err.message);
  }
  return err;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new CliError('USAGE', `--http needs a port number (0-65535), got ${text}`);
  return port;
}

function waitForSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * `edca serve --config FILE [--stdio | --http PORT [--host H]]` and `edca serve --demo --out DIR
 * [--keys KEYDIR]`: edca as an MCP server (stdio by default; Streamable HTTP on 127.0.0.1 unless
 * `--host`). In stdio mode nothing but MCP is written to stdout; diagnostics go to stderr.
 */
export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description("serve a state map's intents as MCP tools (stdio, or Streamable HTTP with --http)")
    .option(
      '--config <file>',
      'server configuration: a .ts/.js module exporting defineServer({...}), or .yaml',
    )
    .option('--demo', 'serve the demo bank and map (needs --out)')
    .option('--out <dir>', 'with --demo: folder for journal.jsonl, trust.json, maps/ and keys/')
    .option('--keys <dir>', 'with --demo: reuse the demo keys in this folder')
    .addOption(new Option('--stdio', 'serve one session on stdin/stdout (the default)').conflicts('http'))
    .option('--http <port>', 'serve Streamable HTTP at http://HOST:PORT/mcp (0: any free port)')
    .option('--host <host>', 'with --http: the address to listen on', '127.0.0.1')
    .option(
      '--token-file <file>',
      `with --http: the bearer token clients must send (mode 0600; default $${MCP_TOKEN_ENV}); required unless --host is loopback`,
    )
    .option(
      '--require-signed-activation',
      "refuse to start unless every map has its owner's signed activation",
    )
    .option(
      '--activation <file>',
      'a signed activation (edca policy sign) to put a map in force; repeatable',
      collect,
    )
    .action(async (flags: ServeFlags) => {
      if ((flags.config === undefined) === (flags.demo !== true))
        throw new CliError('USAGE', 'give exactly one of --config FILE or --demo');
      if (flags.demo === true && flags.out === undefined)
        throw new CliError('USAGE', '--demo needs --out DIR');
      if (flags.host !== '127.0.0.1' && flags.http === undefined)
        throw new CliError('USAGE', '--host needs --http PORT');
      if (flags.tokenFile !== undefined && flags.http === undefined)
        throw new CliError('USAGE', '--token-file needs --http PORT');
      const port = flags.http === undefined ? undefined : parsePort(flags.http);
      const token = port === undefined ? undefined : readToken(flags.tokenFile, process.env);
      if (port !== undefined) {
        try {
          checkHttpOptions({
            port,
            host: flags.host ?? '127.0.0.1',
            ...(token === undefined ? {} : { token }),
          });
        } catch (err) {
          throw toCliError(err);
        }
      }
      const activations = readActivationFiles(flags.activation ?? []);
      let config: ServerConfig;
      let baseDir: string;
      try {
        if (flags.demo === true) {
          const setup = demoServeSetup(flags.out!, flags.keys);
          config = setup.config;
          baseDir = resolve(flags.out!);
          io.stderr(
            `edca serve --demo: journal ${setup.journalPath}, trust ${setup.trustPath}, maps ${setup.mapsDir}, keys ${setup.keysDir}\n`,
          );
        } else {
          const loaded = await loadServerConfig(flags.config!);
          config = loaded.config;
          baseDir = loaded.baseDir;
        }
      } catch (err) {
        throw toCliError(err);
      }
      let runtime: ServerRuntime;
      try {
        runtime = await openServerRuntime(config, {
          baseDir: baseDir ?? dirname(resolve(flags.config ?? '.')),
          openStorage: openPostgresStorage,
          log: (line) => io.stderr(`${line}\n`),
          ...(flags.requireSignedActivation === true ? { requireSignedActivation: true } : {}),
          ...(flags.activation === undefined ? {} : { activations }),
        });
      } catch (err) {
        throw toCliError(err);
      }
      try {
        io.stderr(`edca serve: approvals inbox ${runtime.inbox}\n`);
        if (port === undefined) {
          await serveStdio(runtime.mcp);
        } else {
          let endpoint;
          try {
            endpoint = await serveHttp(runtime.mcp, {
              port,
              ...(flags.host === undefined ? {} : { host: flags.host }),
              ...(token === undefined ? {} : { token }),
            });
          } catch (err) {
            throw toCliError(err);
          }
          io.stdout(`edca serve: listening on ${endpoint.url}\n`);
          await waitForSignal();
          await endpoint.close();
        }
      } finally {
        await runtime.close();
      }
    });
}
