// Restart equivalence (issue 13): a random sequence of decide / approve / execute, with handlers that
// succeed, fail or hang, run once on one kernel and once with kernel restarts between commands, on
// the same journal. Both runs must allow exactly the same things.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { generateKeyPair, type Signer } from '@edca/records';
import type { ArpHandler } from '@edca/arp';
import { APPROVAL_DOMAIN, signApproval, type Decision, type Permit } from '@edca/kernel';
import {
  agent,
  bankHandlers,
  makeHarness,
  testClock,
  type Bank,
  type Harness,
  type HarnessOptions,
  type approverKeys,
} from './harness.js';
import { loadLedgerMap } from './ledger-map.js';

/** One step of a scenario. */
export type Command =
  | { readonly op: 'credit'; readonly pay: number; readonly amount: number }
  | { readonly op: 'note'; readonly pay: number }
  | { readonly op: 'execute'; readonly permit: number; readonly mode: 'ok' | 'fail' | 'hang' }
  | { readonly op: 'approve'; readonly escalation: number }
  | { readonly op: 'reuse'; readonly escalation: number }
  | { readonly op: 'wait'; readonly ms: number }
  | { readonly op: 'restart' };

/** Commands over three payments: credits up to and past the escalation threshold, notes, executions. */
export const commands: fc.Arbitrary<Command[]> = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('credit' as const),
        pay: fc.integer({ min: 1, max: 3 }),
        amount: fc.constantFrom(50, 100, 150, 170),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('note' as const), pay: fc.integer({ min: 1, max: 3 }) }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('execute' as const),
        permit: fc.nat(20),
        mode: fc.constantFrom('ok' as const, 'ok' as const, 'fail' as const, 'hang' as const),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('approve' as const), escalation: fc.nat(5) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('reuse' as const), escalation: fc.nat(5) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('wait' as const),
        ms: fc.constantFrom(1_000, 60_000, 400_000, 3_700_000),
      }),
    },
    { weight: 2, arbitrary: fc.constant({ op: 'restart' as const }) },
  ),
  { minLength: 1, maxLength: 20 },
);

/** What a run allowed: one line per command, and the effects the handlers had. */
export interface RunTrace {
  readonly steps: string[];
  readonly effects: string[];
  /** Completed credit amount per payment (the budget is 400 per payment). */
  readonly credited: Record<string, number>;
}

/** What a scenario drives: a kernel, its model session, refs for payments, the clock. */
export type Driver = Pick<Harness, 'kernel' | 'session' | 'refFor' | 'clock'>;

/** A kernel (re)started on one journal; `restart` closes it and starts the next. */
export interface Life {
  readonly current: () => Driver;
  readonly restart: () => Promise<void>;
  readonly close: () => Promise<void>;
}

/** Handlers for the ledger map; `mode` decides whether the next call succeeds, throws or hangs. */
export function modalHandlers(
  bank: Bank,
  mode: { next: 'ok' | 'fail' | 'hang' },
): Record<string, ArpHandler> {
  const effect =
    (name: string): ArpHandler =>
    async (call, context) => {
      if (mode.next === 'fail') throw new Error('downstream refused');
      if (mode.next === 'hang') {
        await new Promise<void>((resolve) => context.signal?.addEventListener('abort', () => resolve()));
        return undefined;
      }
      if (bank.effects.some((e) => e.key === context.idempotencyKey && e.handler === name))
        return { deduped: true };
      bank.effects.push({
        handler: name,
        key: context.idempotencyKey,
        id: call.realParams['PAY_ID'] as string,
      });
      return { ok: true, amount: call.realParams['AMT_CENTS'] ?? null };
    };
  return { ...bankHandlers(bank), 'pay.credit': effect('pay.credit'), 'pay.note': effect('pay.note') };
}

/** Starts kernels on one file journal in a fresh directory. */
export async function fileLife(
  extra: Partial<HarnessOptions> & {
    bank: Bank;
    mode: { next: 'ok' | 'fail' | 'hang' };
    keys: ReturnType<typeof approverKeys>;
  },
): Promise<Life & { readonly journal: () => Harness['journal'] }> {
  const dir = mkdtempSync(join(tmpdir(), 'edca-restart-eq-'));
  const pem = generateKeyPair().privateKeyPem;
  const clock = extra.clock ?? testClock();
  const start = (): Promise<Harness> =>
    makeHarness({
      dir,
      signerPem: pem,
      bank: extra.bank,
      clock,
      trust: extra.keys.trust,
      maps: [loadLedgerMap()],
      overrides: {
        handlers: modalHandlers(extra.bank, extra.mode),
        handlerTimeoutMs: 20,
        retries: 0,
        ...extra.overrides,
      },
      ...(extra.store ? { store: extra.store } : {}),
    });
  let h = await start();
  return {
    current: () => h,
    journal: () => h.journal,
    async restart() {
      await h.close();
      h = await start();
    },
    async close() {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a scenario; `restarts` false ignores the restart commands (the reference run). */
export async function runScenario(
  cmds: readonly Command[],
  life: Life,
  ctx: {
    bank: Bank;
    mode: { next: 'ok' | 'fail' | 'hang' };
    keys: ReturnType<typeof approverKeys>;
    restarts: boolean;
  },
): Promise<RunTrace> {
  const steps: string[] = [];
  const permits: Permit[] = [];
  const escalations: { decision: Decision; pay: number; amount: number }[] = [];
  const credited: Record<string, number> = {};
  const amountOf = new Map<string, [string, number]>();
  const context = () => ({ session: life.current().session, ...agent });
  const credit = (pay: number, amount: number) => ({
    intent: 'credit_payment',
    params: { payment: life.current().refFor(`P-${pay}`), amount },
  });
  const summarize = (d: Decision): string => {
    const body = d.permit?.record.body as { input?: { counters?: unknown } } | undefined;
    return `${d.verdict}:${d.reasons.join(',')}:${JSON.stringify(body?.input?.counters ?? null)}`;
  };
  const onDecision = (d: Decision, pay: number, amount: number): void => {
    if (d.permit) {
      permits.push(d.permit);
      amountOf.set(d.permit.hash, [`P-${pay}`, amount]);
    }
    if (d.verdict === 'escalate' && d.approval) escalations.push({ decision: d, pay, amount });
  };
  for (const c of cmds) {
    const h = life.current();
    for (let i = 1; i <= 3; i++) h.refFor(`P-${i}`);
    switch (c.op) {
      case 'credit': {
        const d = await h.kernel.decide(credit(c.pay, c.amount), context());
        onDecision(d, c.pay, c.amount);
        steps.push(`credit ${summarize(d)}`);
        break;
      }
      case 'note': {
        const d = await h.kernel.decide(
          { intent: 'note_payment', params: { payment: h.refFor(`P-${c.pay}`) } },
          context(),
        );
        onDecision(d, c.pay, 0);
        steps.push(`note ${summarize(d)}`);
        break;
      }
      case 'execute': {
        const permit = permits[c.permit % Math.max(1, permits.length)];
        if (permit === undefined) break;
        ctx.mode.next = c.mode;
        const r = await h.kernel.execute(permit, { session: h.session });
        ctx.mode.next = 'ok';
        steps.push(`execute ${r.status}:${r.status === 'refused' ? r.code : (r.error?.code ?? '')}`);
        const target = amountOf.get(permit.hash);
        if (
          r.status === 'completed' &&
          target &&
          (permit.record.body as { input: { proposal: { intent: string } } }).input.proposal.intent ===
            'credit_payment'
        )
          credited[target[0]] = (credited[target[0]] ?? 0) + target[1];
        break;
      }
      case 'approve': {
        const e = escalations[c.escalation % Math.max(1, escalations.length)];
        if (e === undefined) break;
        const signer: Signer = ctx.keys.approvers[0]!;
        const r = await h.kernel.approve(
          await signApproval(
            {
              domain: APPROVAL_DOMAIN,
              decision: e.decision.approval!.id,
              actionHash: e.decision.actionHash!,
              verdict: 'approve',
              approver: { kid: signer.kid, role: 'approver' },
              at: '2026-03-01T10:00:00.000Z',
            },
            signer,
          ),
        );
        // `decided` only in the process that escalated (it holds the request); decide again otherwise.
        const d =
          r.status === 'decided'
            ? r.decision
            : r.status === 'pending' && r.approvers >= r.required
              ? await h.kernel.decide(credit(e.pay, e.amount), {
                  ...context(),
                  approvalId: e.decision.approval!.id,
                })
              : undefined;
        steps.push(`approve ${r.status === 'refused' ? r.code : d ? summarize(d) : r.status}`);
        if (d) onDecision(d, e.pay, e.amount);
        break;
      }
      case 'reuse': {
        const e = escalations[c.escalation % Math.max(1, escalations.length)];
        if (e === undefined) break;
        const d = await h.kernel.decide(credit(e.pay, e.amount), {
          ...context(),
          approvalId: e.decision.approval!.id,
        });
        onDecision(d, e.pay, e.amount);
        steps.push(`reuse ${summarize(d)}`);
        break;
      }
      case 'wait':
        h.clock.advance(c.ms);
        break;
      case 'restart':
        if (ctx.restarts) await life.restart();
        break;
    }
  }
  return {
    steps,
    effects: ctx.bank.effects.map((e) => `${e.handler}:${e.id}`),
    credited,
  };
}
