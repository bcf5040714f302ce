import { createAnthropicProposer, createOpenAIChatProposer, ModelsError } from '@edca/models';
import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../src/internal/sdk-errors.js';

describe('adapter options', () => {
  describe('when the model or base URL is malformed', () => {
    it('throws PROPOSER_CONFIG_INVALID', () => {
      const bad = [
        () => createOpenAIChatProposer({ model: '' }),
        () => createOpenAIChatProposer({ model: 'm', baseURL: 'ftp://127.0.0.1/v1' }),
        () => createAnthropicProposer({ model: 'm', baseURL: 'not a url' }),
        () => createAnthropicProposer({ model: 'm', maxOutputTokens: 0 }),
      ];
      for (const make of bad) {
        let error: unknown;
        try {
          make();
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(ModelsError);
        expect((error as ModelsError).code).toBe('PROPOSER_CONFIG_INVALID');
      }
    });
  });

  describe('when the options are fine', () => {
    it('names the API and model in modelId and digests the system prompt', () => {
      const p = createOpenAIChatProposer({
        model: 'qwen2.5',
        baseURL: 'http://127.0.0.1:1/v1',
        systemPrompt: 'x',
      });
      expect(p.modelId).toBe('openai-chat:qwen2.5');
      expect(p.promptTemplateDigest).toBe(
        'sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
      );
    });
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-05T10:00:00.000Z');
  it('reads retry-after-ms, retry-after seconds and an HTTP date, and caps the wait', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250' }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Sat, 05 Dec 2026 10:00:07 GMT' }), now)).toBe(7000);
    expect(retryAfterMs(new Headers({ 'retry-after': '86400' }), now)).toBe(600_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});
