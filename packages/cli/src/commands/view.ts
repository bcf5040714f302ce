import { parseJson, RecordsError } from '@edca/records';
import { createHash } from 'node:crypto';
import { ArpError, createArp, type Arp, type ArpHandler, type ArpSession } from '@edca/arp';
import type { CompiledMap } from '@edca/semantic';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { readTextInput, type CliIo } from '../io.js';
import { loadMapFile } from '../map-file.js';

/**
 * The ref key `edca view` and `edca intake` use when no `--ref-key-file` is given: a fixed,
 * public demo key. These commands are inspection tools; refs they print are not valid in any
 * kernel (which gets its key from the host's key store).
 */
export const DEMO_REF_KEY: Uint8Array = createHash('sha256').update('edca-cli-demo-ref-key-v1').digest();

/** Options both ARP commands share: where the refs come from. */
export interface ArpCliOptions {
  readonly refKeyFile?: string;
  readonly stream: string;
  readonly session: string;
}

function readKey(path: string): Uint8Array {
  const text = readTextInput(path).trim();
  // A key file holds 64 hex characters (32 bytes) or more, as `openssl rand -hex 32` writes.
  if (!/^(?:[0-9a-fA-F]{2}){32,}$/.test(text)) {
    throw new CliError('REF_KEY_INVALID', `${path}: expected at least 64 hex characters (32 bytes)`);
  }
  return Buffer.from(text, 'hex');
}

/**
 * Builds an ARP for a command-line inspection: inert handlers (the CLI never runs one), the
 * demo key unless a key file is given, and the session from the flags.
 */
export function cliArp(map: CompiledMap, opts: ArpCliOptions): { arp: Arp; session: ArpSession } {
  const inert: ArpHandler = () => {
    throw new CliError('HANDLER_NOT_AVAILABLE', 'the edca CLI never runs business handlers');
  };
  const handlers = Object.fromEntries(Object.values(map.document.routes).map((r) => [r.handler, inert]));
  const refKey = opts.refKeyFile === undefined ? DEMO_REF_KEY : readKey(opts.refKeyFile);
  const arp = createArp({ map, refKey, handlers });
  return { arp, session: { stream: opts.stream, session: opts.session } };
}

/** Reads business records (a JSON object keyed by source name); bad input exits 2. */
export function readRecords(path: string): Record<string, unknown> {
  let records: unknown;
  try {
    records = parseJson(readTextInput(path));
  } catch (err) {
    if (err instanceof RecordsError) throw new CliError('DATA_INVALID', `${path}: ${err.message}`);
    throw err;
  }
  if (records === null || typeof records !== 'object' || Array.isArray(records)) {
    throw new CliError('DATA_INVALID', `${path}: expected a JSON object keyed by source name`);
  }
  return records as Record<string, unknown>;
}

/** Turns an ARP startup error (a map the layer refuses to serve) into exit 1 with its code. */
export function arpStartupError(err: unknown): never {
  if (err instanceof ArpError) throw new CliError(err.code, err.message, EXIT.CHECK_FAILED);
  throw err;
}

/** Adds the flags that choose the ref key and session. */
export function refFlags(cmd: Command): Command {
  return cmd
    .option(
      '--ref-key-file <file>',
      'HMAC key for refs, 64+ hex characters (default: a fixed public demo key)',
    )
    .option('--stream <id>', 'stream the refs are bound to', 'cli')
    .option('--session <id>', 'session the refs are bound to', 'cli');
}

/**
 * `edca view MAP --data RECORD.json`: prints exactly the view the model would be given, as
 * canonical JSON (indented when standard output is a terminal); a refused view prints the
 * refusal and exits 1, naming the field that failed when the state cannot be derived.
 */
export function registerView(program: Command, io: CliIo): void {
  refFlags(
    program
      .command('view')
      .description(
        'print exactly what the model would see for these business records (JSON: indented on a terminal, canonical when piped)',
      )
      .argument('<map>', 'state map (YAML or JSON)')
      .requiredOption(
        '--data <file>',
        'business records as JSON, keyed by source name (- for standard input)',
      ),
  ).action((mapPath: string, opts: ArpCliOptions & { data: string }) => {
    const map = loadMapFile(mapPath, io);
    const records = readRecords(opts.data);
    let built: ReturnType<typeof cliArp>;
    try {
      built = cliArp(map, opts);
    } catch (err) {
      arpStartupError(err);
    }
    const r = built.arp.project(records, built.session);
    if (!r.ok) {
      // The refusal is worded for the model; the operator at this terminal may see the private
      // field that failed, as `edca states` shows it.
      const derived = r.code === 'STATE_UNDERIVABLE' ? map.derive(records) : undefined;
      const derive =
        derived?.ok === false
          ? { code: derived.code, path: derived.path, message: derived.message }
          : undefined;
      io.stdout(`${JSON.stringify(derive === undefined ? r : { ...r, derive })}\n`);
      const why = derive === undefined ? '' : `: ${derive.code} at ${derive.path} (${derive.message})`;
      throw new CliError(r.code, `${opts.data}: ${r.message}${why}`, EXIT.CHECK_FAILED);
    }
    // A person reads it indented; a pipe gets the exact canonical bytes the model is given.
    io.stdout(io.stdoutIsTty === true ? `${JSON.stringify(JSON.parse(r.json), null, 2)}\n` : `${r.json}\n`);
  });
}
