// The flags that point a command at a real model API: `--model openai|openai-responses|anthropic
// --base-url URL --model-name NAME`, with the API key from OPENAI_API_KEY / ANTHROPIC_API_KEY
// (optional: local OpenAI-compatible servers need none).
import {
  createAnthropicProposer,
  createOpenAIChatProposer,
  createOpenAIResponsesProposer,
  ModelsError,
  type ModelProposer,
} from '@edca/models';
import { Option, type Command } from 'commander';
import { CliError } from '../exit-codes.js';

/** The model APIs the command line can reach. `openai` is Chat Completions, what compatible servers speak. */
export const MODEL_CHOICES = ['openai', 'openai-responses', 'anthropic'] as const;

/** The parsed model flags. */
export interface ModelFlags {
  readonly model?: (typeof MODEL_CHOICES)[number];
  readonly baseUrl?: string;
  readonly modelName?: string;
}

/** Adds `--model`, `--base-url` and `--model-name` to a command. */
export function addModelFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--model <api>',
        'model API: openai (Chat Completions), openai-responses or anthropic',
      ).choices(MODEL_CHOICES),
    )
    .option('--base-url <url>', 'base URL of the API (an OpenAI-compatible server: its /v1 URL)')
    .option('--model-name <name>', 'model name sent to the API, e.g. gpt-4.1-mini or claude-sonnet-4-5');
}

/**
 * The proposer the flags name, or undefined when `--model` is absent. The key comes from the
 * environment only (never a flag: command lines end up in shell history and process lists).
 * @throws CliError MODEL_FLAGS_INVALID (exit 2) for --base-url/--model-name without --model, a
 *   missing --model-name, or a bad URL
 */
export function proposerFromFlags(
  flags: ModelFlags,
  env: NodeJS.ProcessEnv,
  systemPrompt?: string,
): ModelProposer | undefined {
  if (flags.model === undefined) {
    if (flags.baseUrl !== undefined || flags.modelName !== undefined) {
      throw new CliError('MODEL_FLAGS_INVALID', '--base-url and --model-name need --model openai|anthropic');
    }
    return undefined;
  }
  if (flags.modelName === undefined || flags.modelName === '') {
    throw new CliError('MODEL_FLAGS_INVALID', `--model ${flags.model} needs --model-name`);
  }
  const apiKey = flags.model === 'anthropic' ? env['ANTHROPIC_API_KEY'] : env['OPENAI_API_KEY'];
  const options = {
    model: flags.modelName,
    ...(flags.baseUrl === undefined ? {} : { baseURL: flags.baseUrl }),
    ...(apiKey === undefined || apiKey === '' ? {} : { apiKey }),
    ...(systemPrompt === undefined ? {} : { systemPrompt }),
  };
  try {
    if (flags.model === 'anthropic') return createAnthropicProposer(options);
    if (flags.model === 'openai-responses') return createOpenAIResponsesProposer(options);
    return createOpenAIChatProposer(options);
  } catch (err) {
    if (err instanceof ModelsError) throw new CliError('MODEL_FLAGS_INVALID', err.message);
    throw err;
  }
}
