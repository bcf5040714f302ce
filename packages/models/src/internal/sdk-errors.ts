import * as Anthropic from '@anthropic-ai/sdk';
import * as OpenAI from 'openai';
import { ModelsError } from '../errors.js';

/** Longest `retry-after` honoured; a server asking for more is treated as this (the deadline still bounds it). */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Parses `retry-after-ms`, `retry-after` (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(headers: Headers | undefined, nowMs: number): number | undefined {
  if (headers === undefined) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.min(Number(ms), MAX_RETRY_AFTER_MS);
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

type SdkApiError = OpenAI.APIError | Anthropic.APIError;

function isUserAbort(err: unknown): boolean {
  return err instanceof OpenAI.APIUserAbortError || err instanceof Anthropic.APIUserAbortError;
}

function isConnection(err: unknown): boolean {
  return err instanceof OpenAI.APIConnectionError || err instanceof Anthropic.APIConnectionError;
}

function isApiError(err: unknown): err is SdkApiError {
  return err instanceof OpenAI.APIError || err instanceof Anthropic.APIError;
}

/**
 * Maps an SDK failure to a {@link ModelsError}: 429 → MODEL_RATE_LIMITED (with retry-after), 5xx →
 * MODEL_SERVER_ERROR, no response (reset, refused, SDK timeout) → MODEL_CONNECTION_FAILED, the
 * caller's abort → MODEL_ABORTED, any other status → MODEL_REQUEST_REJECTED, anything else →
 * MODEL_RESPONSE_INVALID (the last two are not retried).
 */
export function toModelsError(err: unknown, provider: string, nowMs: number): ModelsError {
  if (err instanceof ModelsError) return err;
  if (isUserAbort(err))
    return new ModelsError('MODEL_ABORTED', `${provider}: the call was aborted`, { cause: err });
  if (isConnection(err)) {
    return new ModelsError(
      'MODEL_CONNECTION_FAILED',
      `${provider}: no response (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  if (isApiError(err) && typeof err.status === 'number') {
    const status = err.status;
    const after = retryAfterMs(err.headers, nowMs);
    const details = { status, cause: err, ...(after === undefined ? {} : { retryAfterMs: after }) };
    if (status === 429) return new ModelsError('MODEL_RATE_LIMITED', `${provider}: HTTP 429`, details);
    if (status >= 500) return new ModelsError('MODEL_SERVER_ERROR', `${provider}: HTTP ${status}`, details);
    return new ModelsError('MODEL_REQUEST_REJECTED', `${provider}: HTTP ${status}`, details);
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new ModelsError('MODEL_ABORTED', `${provider}: the call was aborted`, { cause: err });
  }
  // Not a transport failure the SDK recognised: not retried (retries are for transport errors only).
  return new ModelsError(
    'MODEL_RESPONSE_INVALID',
    `${provider}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}
