/**
 * One kernel process of the SIGKILL restart property (test/ledger-kill.slow.test.ts): a real kernel
 * on the ledger test map, with a file journal (or the PostgreSQL journal and store), whose credit
 * and note handlers write their effects to a file, and can fail, hang or SIGKILL their own process.
 * It reads one command per stdin line and answers one JSON line per command on stdout; the clock
 * is the command's `now`, so two runs of the same commands see the same instants.
 *
 * Usage: node --import tsx test/ledger-kill-child.ts '<KillChildConfig JSON>'
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ArpHandler } from '@edca/arp';
import {
  APPROVAL_DOMAIN,
  createKernel,
  openFileJournal,
  signApproval,
  type Decision,
  type Journal,
  type KernelStore,
  type Permit,
} from '@edca/kernel';
import { createNodeSigner, type Digest, type TrustFile } from '@edca/records';
import { postgresJournal, postgresStore } from '@edca/store-postgres';
import { agent, bankHandlers, createBank, REF_KEY } from '../packages/kernel/test/support/harness.js';
import { loadLedgerMap } from '../packages/kernel/test/support/ledger-map.js';

/** What the parent tells a child. */
export interface KillChildConfig {
  readonly dir: string;
  /** PostgreSQL URL; absent: the file journal `<dir>/journal.jsonl` and the embedded store. */
  readonly url?: string;
  readonly keyFile: string;
  readonly approverKeyFile: string;
  readonly trust: TrustFile;
  readonly start: number;
}

/** One command; the parent keeps the permits and escalations the answers carry. */
export type KillCommand = { readonly now: number } & (
  | { readonly op: 'credit'; readonly pay: number; readonly amount: number }
  | { readonly op: 'note'; readonly pay: number }
  | {
      readonly op: 'execute';
      readonly permit: Permit;
      readonly mode: 'ok' | 'fail' | 'hang' | 'crash';
      readonly credit: boolean;
    }
  | { readonly op: 'approve' | 'reuse'; readonly escalation: Escalation }
);

/** An escalation as the parent keeps it. */
export interface Escalation {
  readonly id: string;
  readonly actionHash: string;
  readonly pay: number;
  readonly amount: number;
}

/** A child's answer to one command. */
export interface KillAnswer {
  readonly step: string;
  readonly permit?: Permit;
  readonly escalation?: Escalation;
}

const config = JSON.parse(process.argv[2] ?? '{}') as KillChildConfig;
let now = config.start;
const clock = { now: () => now };
const signer = createNodeSigner(readFileSync(config.keyFile, 'utf8'));
const approver = createNodeSigner(readFileSync(config.approverKeyFile, 'utf8'));
const effectsFile = join(config.dir, 'effects.jsonl');
const bank = createBank();
let mode: 'ok' | 'fail' | 'hang' | 'crash' = 'ok';

/** Credit and note: one effect per idempotency key, written where a SIGKILL cannot take it back. */
const effect =
  (name: string): ArpHandler =>
  async (call, context) => {
    if (mode === 'fail') throw new Error('downstream refused');
    if (mode === 'hang') {
      await new Promise<void>((resolve) => context.signal?.addEventListener('abort', () => resolve()));
      return undefined;
    }
    const done = existsSync(effectsFile) ? readFileSync(effectsFile, 'utf8') : '';
    const line = JSON.stringify({
      handler: name,
      key: context.idempotencyKey,
      id: call.realParams['PAY_ID'],
    });
    if (!done.split('\n').includes(line)) appendFileSync(effectsFile, `${line}\n`);
    // The crash comes after the effect and before the kernel journals the outcome.
    if (mode === 'crash') process.kill(process.pid, 'SIGKILL');
    return { ok: true };
  };

let journal: Journal;
let store: KernelStore | undefined;
if (config.url === undefined) {
  journal = await openFileJournal({ path: join(config.dir, 'journal.jsonl'), stream: 'kill', signer, clock });
} else {
  journal = postgresJournal({ connectionString: config.url, stream: 'kill', signer, clock });
  store = postgresStore({ connectionString: config.url });
}
const map = loadLedgerMap();
const kernel = await createKernel({
  maps: [map],
  loaders: {
    [map.name]: ({ refs }) => {
      const id = refs['PAY_ID']?.id;
      const row = id === undefined ? undefined : bank.rows.get(id);
      return Promise.resolve(row ? { tbl_pay: { ...row } } : {});
    },
  },
  refKey: REF_KEY,
  signer,
  journal,
  clock,
  trust: config.trust,
  handlers: { ...bankHandlers(bank), 'pay.credit': effect('pay.credit'), 'pay.note': effect('pay.note') },
  handlerTimeoutMs: 50,
  retries: 0,
  snapshotEvery: 4,
  instance: 'k1',
  ...(store === undefined ? {} : { store }),
});
const session = { stream: 'test', session: 'model-session-1' };
const arp = kernel.arps.get(map.name)!;
const refFor = (pay: number): string => {
  const view = arp.project({ tbl_pay: { ...bank.rows.get(`P-${pay}`)! } }, session);
  if (!view.ok) throw new Error(view.code);
  return view.value.entities['payment'] as string;
};
const ctx = { session, ...agent };
const credit = (pay: number, amount: number) => ({
  intent: 'credit_payment',
  params: { payment: refFor(pay), amount },
});
const summarize = (d: Decision): string => {
  const body = d.permit?.record.body as { input?: { counters?: unknown } } | undefined;
  return `${d.verdict}:${d.reasons.join(',')}:${JSON.stringify(body?.input?.counters ?? null)}`;
};
const answerOf = (d: Decision, what: string, pay: number, amount: number): KillAnswer => ({
  step: `${what} ${summarize(d)}`,
  ...(d.permit ? { permit: d.permit } : {}),
  ...(d.verdict === 'escalate' && d.approval && d.actionHash
    ? { escalation: { id: d.approval.id, actionHash: d.actionHash, pay, amount } }
    : {}),
});

async function run(c: KillCommand): Promise<KillAnswer> {
  now = c.now;
  switch (c.op) {
    case 'credit':
      return answerOf(await kernel.decide(credit(c.pay, c.amount), ctx), 'credit', c.pay, c.amount);
    case 'note': {
      const d = await kernel.decide({ intent: 'note_payment', params: { payment: refFor(c.pay) } }, ctx);
      return answerOf(d, 'note', c.pay, 0);
    }
    case 'execute': {
      mode = c.mode;
      // Refs are issued per process: a host that restarted shows the session its view again before
      // it executes a permit decided earlier (the same refs: they derive from the ref key).
      refFor(1);
      refFor(2);
      const r = await kernel.execute(c.permit, { session });
      mode = 'ok';
      return { step: `execute ${r.status}:${r.status === 'refused' ? r.code : (r.error?.code ?? '')}` };
    }
    case 'approve': {
      const e = c.escalation;
      const r = await kernel.approve(
        await signApproval(
          {
            domain: APPROVAL_DOMAIN,
            decision: e.id as `sha256:${string}`,
            actionHash: e.actionHash as `sha256:${string}`,
            verdict: 'approve',
            approver: { kid: approver.kid, role: 'approver' },
            at: '2026-03-01T10:00:00.000Z',
          },
          approver,
        ),
      );
      const d =
        r.status === 'decided'
          ? r.decision
          : r.status === 'pending' && r.approvers >= r.required
            ? await kernel.decide(credit(e.pay, e.amount), { ...ctx, approvalId: e.id as Digest })
            : undefined;
      if (d === undefined) return { step: `approve ${r.status === 'refused' ? r.code : r.status}` };
      return answerOf(d, 'approve', e.pay, e.amount);
    }
    case 'reuse': {
      const e = c.escalation;
      const d = await kernel.decide(credit(e.pay, e.amount), { ...ctx, approvalId: e.id as Digest });
      return answerOf(d, 'reuse', e.pay, e.amount);
    }
  }
}

process.stdout.write(`${JSON.stringify({ ready: true, recovery: kernel.recovery })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const answer = await run(JSON.parse(line) as KillCommand);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
await kernel.close();
await journal.close();
await store?.close();
