import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKernel, openFileJournal, systemClock, type Kernel } from '@edca/kernel';
import { ModelsError, runSession, type SessionBounds, type SessionSummary } from '@edca/models';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { loadOrCreateKeys } from '../internal/demo/keys.js';
import { addModelFlags, proposerFromFlags, type ModelFlags } from '../internal/model-flags.js';
import { createSessionTrace } from '../internal/session-trace.js';
import { loadMapFile } from '../map-file.js';
import type { RunConfig } from '../run-config.js';

/** The bounds `edca run` uses for any the config leaves out. */
export const RUN_DEFAULT_BOUNDS: SessionBounds = {
  maxTurns: 12,
  maxConsecutiveRefusals: 3,
  deadlineMs: 5 * 60_000,
  callTimeoutMs: 60_000,
  maxRetries: 2,
};

const configSchema = z.object({
  map: z.string().min(1),
  journal: z.string().min(1),
  keys: z.string().min(1),
  stream: z.string().min(1).optional(),
  principal: z.object({ id: z.string().min(1), attributes: z.record(z.string(), z.unknown()) }),
  records: z.custom<RunConfig['records']>((v) => typeof v === 'function', 'expected a function'),
  loader: z.custom<RunConfig['loader']>((v) => typeof v === 'function', 'expected a function'),
  handlers: z.record(
    z.string(),
    z.custom<RunConfig['handlers'][string]>((v) => typeof v === 'function', 'expected a function'),
  ),
  bounds: z.record(z.string(), z.unknown()).optional(),
  systemPrompt: z.string().min(1).optional(),
});

async function loadConfig(path: string): Promise<RunConfig> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (err) {
    throw new CliError(
      'CONFIG_INVALID',
      `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const parsed = configSchema.safeParse(mod.default);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(
      'CONFIG_INVALID',
      `${path}: ${issue ? `${issue.path.join('.') || '(default export)'}: ${issue.message}` : 'invalid'}`,
    );
  }
  return mod.default as RunConfig;
}

interface RunFlags extends ModelFlags {
  readonly config: string;
  readonly goal: string;
  readonly session?: string;
}

/**
 * `edca run --config FILE --model openai|anthropic [--base-url URL] --model-name NAME --goal TEXT`:
 * one governed session against a real model, printing the per-step trace; exit 0 when the model
 * stopped, 1 when a bound or an unavailable model ended it, 2 for usage and configuration errors.
 */
export function registerRun(program: Command, io: CliIo): void {
  addModelFlags(
    program
      .command('run')
      .description('run one governed session: a real model proposes, the kernel decides, bounds end it')
      .requiredOption(
        '--config <file>',
        'run configuration: an ES module whose default export is a RunConfig',
      )
      .requiredOption('--goal <text>', "what the operator wants done (the model's first user message)")
      .option('--session <id>', 'session id (default: a new random one)'),
  ).action(async (flags: RunFlags) => {
    if (flags.model === undefined)
      throw new CliError('MODEL_FLAGS_INVALID', 'edca run needs --model openai|anthropic');
    const config = await loadConfig(flags.config);
    const proposer = proposerFromFlags(flags, process.env, config.systemPrompt)!;
    const base = dirname(resolve(flags.config));
    const map = loadMapFile(resolve(base, config.map), io);
    const keys = loadOrCreateKeys(resolve(base, config.keys));
    const stream = config.stream ?? map.name;
    const journalPath = resolve(base, config.journal);
    const journal = await openFileJournal({ path: journalPath, stream, signer: keys.kernel });
    let kernel: Kernel | undefined;
    try {
      kernel = await createKernel({
        maps: [map],
        loaders: { [map.name]: config.loader },
        handlers: config.handlers,
        refKey: keys.refKey,
        signer: keys.kernel,
        journal,
        clock: systemClock,
      });
      const session = { stream, session: flags.session ?? `run-${randomBytes(6).toString('hex')}` };
      io.stdout(
        `edca run: ${proposer.modelId} (${flags.baseUrl ?? 'default base URL'}), policy ${map.name} ${map.version}\n` +
          `  journal  ${journalPath} · session ${session.session} · kernel key ${keys.kernel.kid}\n` +
          `  goal     "${flags.goal}"\n`,
      );
      const bounds = { ...RUN_DEFAULT_BOUNDS, ...(config.bounds ?? {}) };
      let summary: SessionSummary;
      try {
        summary = await runSession({
          kernel,
          proposer,
          map,
          session,
          goal: flags.goal,
          bounds,
          records: config.records,
          principal: config.principal,
          onEvent: createSessionTrace(io),
        });
      } catch (err) {
        if (err instanceof ModelsError)
          throw new CliError('CONFIG_INVALID', `${flags.config}: ${err.message}`);
        throw err;
      }
      if (summary.finalText !== undefined && summary.reason === 'MODEL_STOPPED') {
        io.stdout(`\nmodel's answer: ${summary.finalText}\n`);
      }
      if (summary.reason !== 'MODEL_STOPPED') {
        throw new CliError(summary.reason, `the session ended before the model stopped`, EXIT.CHECK_FAILED);
      }
    } finally {
      await kernel?.close();
      await journal.close();
    }
  });
}
