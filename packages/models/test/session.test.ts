/**
 * runSession's bounds, each enforced by the loop and journaled as the `session.ended` reason:
 * turns, refusals in a row, tokens, cost, the wall-clock deadline, transport retries (and no
 * retry for anything else), missing usage, and the host's abort.
 */
import { createScriptedProposer } from '@edca/kernel';
import { digestBytes } from '@edca/records';
import {
  ModelsError,
  runSession,
  type SessionBounds,
  type SessionOptions,
  type SessionSummary,
} from '@edca/models';
import { afterEach, describe, expect, it } from 'vitest';
import { startReplayServer, type Exchange, type ReplayServer } from './support/replay-server.js';
import {
  agent,
  audit,
  exchanges,
  journalRecords,
  makeHarness,
  proposerFor,
  recordsOf,
  type Harness,
} from './support/session-harness.js';

let h: Harness | undefined;
let server: ReplayServer | undefined;
afterEach(async () => {
  await h?.close();
  await server?.close();
  h = undefined;
  server = undefined;
});

const BOUNDS: SessionBounds = {
  maxTurns: 10,
  maxConsecutiveRefusals: 5,
  deadlineMs: 60_000,
  callTimeoutMs: 5_000,
  retryBaseMs: 1,
};

async function session(
  script: (x: (name: string) => Exchange) => Exchange[],
  bounds: Partial<SessionBounds>,
  extra: Partial<SessionOptions> = {},
): Promise<SessionSummary> {
  h = await makeHarness();
  const x = exchanges('openai-chat', h.refFor('P-1'));
  server = await startReplayServer(script(x));
  return runSession({
    kernel: h.kernel,
    proposer: proposerFor('openai-chat', server.origin),
    map: h.map,
    session: h.session,
    goal: 'hold P-1',
    bounds: { ...BOUNDS, ...bounds },
    records: recordsOf(h),
    principal: agent.principal,
    sleep: () => Promise.resolve(),
    ...extra,
  });
}

function endedBody(): Record<string, unknown> {
  const ended = journalRecords(h!).filter((r) => r.type === 'session.ended');
  expect(ended).toHaveLength(1);
  return ended[0]!.body;
}

describe('runSession bounds', () => {
  describe('when the model is refused maxConsecutiveRefusals times in a row', () => {
    it('ends REFUSAL_LIMIT after exactly that many calls', async () => {
      const s = await session((x) => [x('drift'), x('drift'), x('drift'), x('final')], {
        maxConsecutiveRefusals: 3,
      });
      expect(s.reason).toBe('REFUSAL_LIMIT');
      expect(s.turns).toBe(3);
      expect(server!.remaining()).toBe(1);
      expect(endedBody()).toMatchObject({
        reason: 'REFUSAL_LIMIT',
        turns: 3,
        refusals: { intake: 3, kernel: 0 },
      });
    });

    it('counts a run, not a total: a permit in between resets it', async () => {
      const s = await session(
        (x) => [x('drift'), x('drift'), x('valid-call'), x('drift'), x('drift'), x('final')],
        {
          maxConsecutiveRefusals: 3,
        },
      );
      expect(s.reason).toBe('MODEL_STOPPED');
      expect(s.refusals.intake).toBe(4);
    });
  });

  describe('when the turns run out', () => {
    it('ends TURN_LIMIT without calling the model again', async () => {
      const s = await session((x) => [x('drift'), x('valid-call'), x('final')], { maxTurns: 2 });
      expect(s.reason).toBe('TURN_LIMIT');
      expect(server!.requests).toHaveLength(2);
    });
  });

  describe('when the usage passes maxTokens', () => {
    it('ends TOKEN_LIMIT and does not act on the output that passed it', async () => {
      // drift: 852 + 24 tokens; valid-call: 972 + 24 more
      const s = await session((x) => [x('drift'), x('valid-call'), x('final')], { maxTokens: 1500 });
      expect(s.reason).toBe('TOKEN_LIMIT');
      expect(s.tokens).toEqual({ input: 852 + 972, output: 48 });
      expect(h!.bank.rows.get('P-1')!.STATUS_CD).toBe('SETL');
      expect(journalRecords(h!).some((r) => r.type === 'decision' && r.body['verdict'] === 'permit')).toBe(
        false,
      );
    });
  });

  describe('when the cost from the host price table passes maxCost', () => {
    it('ends COST_LIMIT and journals the cost in micro-units', async () => {
      const prices = { 'test-model': { inputPerMTok: 2, outputPerMTok: 8, currency: 'USD' } };
      const s = await session((x) => [x('drift'), x('drift'), x('final')], { maxCost: 0.003, prices });
      expect(s.reason).toBe('COST_LIMIT');
      // (852 + 852) input × 2 + 48 output × 8 micro-USD
      expect(s.cost).toEqual({ micros: 1704 * 2 + 48 * 8, currency: 'USD' });
      expect(endedBody()['cost']).toEqual({ micros: 3792, currency: 'USD' });
    });

    it('refuses to start a cost-bounded session without a price for the model', async () => {
      await expect(session((x) => [x('final')], { maxCost: 1 })).rejects.toMatchObject({
        code: 'SESSION_CONFIG_INVALID',
      });
      expect(journalRecords(h!).some((r) => r.type === 'session.ended')).toBe(false);
    });
  });

  describe('when the server sends no usage and a token bound is set', () => {
    it('ends USAGE_MISSING (a bound that cannot be measured fails closed)', async () => {
      const s = await session(
        (x) => {
          const e = x('valid-call');
          const body = { ...(e.body as Record<string, unknown>) };
          delete body['usage'];
          return [{ ...e, body }];
        },
        { maxTokens: 10_000 },
      );
      expect(s.reason).toBe('USAGE_MISSING');
      expect(h!.bank.rows.get('P-1')!.STATUS_CD).toBe('SETL');
    });
  });

  describe('when every try fails with a transport error', () => {
    it('ends MODEL_UNAVAILABLE after 1 + maxRetries calls', async () => {
      const s = await session((x) => [x('server-error'), x('server-error'), x('server-error'), x('final')], {
        maxRetries: 2,
      });
      expect(s.reason).toBe('MODEL_UNAVAILABLE');
      expect(s.error).toBe('MODEL_SERVER_ERROR');
      expect(server!.requests).toHaveLength(3);
    });

    it('retries a connection reset', async () => {
      const s = await session((x) => [{ path: '/v1/chat/completions', reset: true }, x('final')], {});
      expect(s.reason).toBe('MODEL_STOPPED');
      expect(server!.requests).toHaveLength(2);
    });
  });

  describe('when the server answers 200 with a body that is not JSON', () => {
    it('does not retry: ends MODEL_UNAVAILABLE with MODEL_RESPONSE_INVALID', async () => {
      const s = await session(
        (x) => [{ path: '/v1/chat/completions', body: '<html>gateway</html>' }, x('final')],
        {},
      );
      expect(s.reason).toBe('MODEL_UNAVAILABLE');
      expect(s.error).toBe('MODEL_RESPONSE_INVALID');
      expect(server!.requests).toHaveLength(1);
    });
  });

  describe('when the server rejects the request (4xx other than 429)', () => {
    it('does not retry: ends MODEL_UNAVAILABLE with MODEL_REQUEST_REJECTED', async () => {
      const s = await session(
        (x) => [
          { path: '/v1/chat/completions', status: 400, body: { error: { message: 'bad tools' } } },
          x('final'),
        ],
        {},
      );
      expect(s.reason).toBe('MODEL_UNAVAILABLE');
      expect(s.error).toBe('MODEL_REQUEST_REJECTED');
      expect(server!.requests).toHaveLength(1);
    });
  });

  describe('when the wall-clock deadline passes', () => {
    it('ends DEADLINE_EXCEEDED rather than wait a retry-after the deadline cannot hold', async () => {
      const s = await session(
        (x) => [{ ...x('rate-limited'), headers: { 'retry-after': '120' } }, x('final')],
        { deadlineMs: 60_000 },
      );
      expect(s.reason).toBe('DEADLINE_EXCEEDED');
      expect(server!.requests).toHaveLength(1);
    });

    it('bounds a hanging call by the time left, then ends DEADLINE_EXCEEDED', async () => {
      const started = Date.now();
      const s = await session((x) => [{ path: '/v1/chat/completions', hang: true }, x('final')], {
        deadlineMs: 400,
        callTimeoutMs: 5_000,
      });
      expect(s.reason).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeLessThan(4_000);
    });
  });

  describe('when the host aborts', () => {
    it('ends ABORTED and still journals the end', async () => {
      const abort = new AbortController();
      const s = await session(
        (x) => [{ path: '/v1/chat/completions', hang: true }, x('final')],
        {},
        {
          signal: abort.signal,
          onEvent: (e) => {
            if (e.kind === 'view') setTimeout(() => abort.abort(), 50);
          },
        },
      );
      expect(s.reason).toBe('ABORTED');
      expect(endedBody()['reason']).toBe('ABORTED');
      expect((await audit(h!)).findings).toEqual([]);
    });
  });

  describe('when the bounds are malformed', () => {
    it('throws SESSION_CONFIG_INVALID before anything runs', async () => {
      h = await makeHarness();
      const proposer = createScriptedProposer({
        modelId: 'm',
        promptTemplateDigest: digestBytes('p'),
        script: [],
      });
      for (const bad of [{ maxTurns: 0 }, { deadlineMs: -1 }, { maxRetries: 11 }, { maxCost: Number.NaN }]) {
        const err = await runSession({
          kernel: h.kernel,
          proposer,
          map: h.map,
          session: h.session,
          goal: 'x',
          bounds: { ...BOUNDS, ...bad },
          records: recordsOf(h),
          principal: agent.principal,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ModelsError);
        expect((err as ModelsError).code).toBe('SESSION_CONFIG_INVALID');
      }
    });
  });
});

describe('runSession with a scripted proposer (json format)', () => {
  it('runs the same loop: kernel refusals count toward the refusal bound', async () => {
    h = await makeHarness();
    const proposer = createScriptedProposer({
      modelId: 'scripted',
      promptTemplateDigest: digestBytes('p'),
      script: [
        { kind: 'call', format: 'json', raw: { intent: 'search_user', params: {} } },
        (t) => ({
          kind: 'call',
          format: 'json',
          raw: { intent: 'refund_payment', params: { payment: t.view.entities['payment']!, amount: 9_000 } },
        }),
      ],
    });
    const s = await runSession({
      kernel: h.kernel,
      proposer,
      map: h.map.name,
      session: h.session,
      goal: 'x',
      bounds: { ...BOUNDS, maxConsecutiveRefusals: 2 },
      records: recordsOf(h),
      principal: agent.principal,
    });
    expect(s.reason).toBe('REFUSAL_LIMIT');
    expect(s.refusals).toEqual({ intake: 1, kernel: 1 });
    expect(s.decisions.refuse).toBe(1);
  });
});
