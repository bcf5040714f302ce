// Restart equivalence with SIGKILL (issue 13.4): random decide / approve / execute sequences, with
// handlers that succeed, fail, hang or SIGKILL their own process after their effect, run by a kernel
// in a child process (file journal; PostgreSQL journal and store). Each sequence runs twice: once
// restarting the child only where a handler crashed it, once also SIGKILLing it at random points
// between commands. Both runs must allow exactly the same steps and effects, no payment's budget
// may be passed, and the auditor must find every journal sound (snapshots included: the child
// writes one every 4 records).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { safeVerifyJournal } from '@edca/audit';
import type { Permit } from '@edca/kernel';
import { createNodeSigner, generateKeyPair, toBase64url, type TrustFile } from '@edca/records';
import { pg } from '../packages/store-postgres/test/pg.js';
import { PG_HOOK_TIMEOUT } from '../packages/store-postgres/test/pg-server.js';
import { usePgServer } from '../packages/store-postgres/test/use-pg-server.js';
import type { Escalation, KillAnswer, KillChildConfig, KillCommand } from './ledger-kill-child.js';

const RUNS = Number(process.env['EDCA_KILL_RUNS'] ?? 2);
// Replays a failing run: EDCA_KILL_SEED=<the seed fast-check printed>.
const SEED = process.env['EDCA_KILL_SEED'];
const root = new URL('..', import.meta.url);
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

type Step =
  | { readonly op: 'credit'; readonly pay: number; readonly amount: number }
  | { readonly op: 'note'; readonly pay: number }
  | { readonly op: 'execute'; readonly permit: number; readonly mode: 'ok' | 'fail' | 'hang' | 'crash' }
  | { readonly op: 'approve' | 'reuse'; readonly escalation: number }
  | { readonly op: 'wait'; readonly ms: number }
  | { readonly op: 'kill' };

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('credit' as const),
        pay: fc.integer({ min: 1, max: 2 }),
        amount: fc.constantFrom(50, 100, 150, 170),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('note' as const), pay: fc.constant(1) }) },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('execute' as const),
        permit: fc.nat(20),
        mode: fc.constantFrom(
          'ok' as const,
          'ok' as const,
          'fail' as const,
          'hang' as const,
          'crash' as const,
        ),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('approve' as const), escalation: fc.nat(5) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('reuse' as const), escalation: fc.nat(5) }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.constantFrom(1_000, 400_000) }),
    },
    { weight: 3, arbitrary: fc.constant({ op: 'kill' as const }) },
  ),
  { minLength: 4, maxLength: 14 },
);

interface Child {
  readonly send: (c: KillCommand) => Promise<KillAnswer | 'died'>;
  readonly kill: () => Promise<void>;
  readonly stop: () => Promise<void>;
}

async function startChild(config: KillChildConfig): Promise<Child> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/ledger-kill-child.ts', JSON.stringify(config)],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => {
    const r = await Promise.race([lines.next(), exited.then(() => ({ done: true, value: undefined }))]);
    return r.done === true ? undefined : r.value;
  };
  const ready = await next();
  if (ready === undefined) throw new Error(`the kernel child did not start: ${stderr}`);
  return {
    async send(c) {
      child.stdin!.write(`${JSON.stringify(c)}\n`);
      const line = await next();
      if (line === undefined) {
        if ((await exited) !== null) throw new Error(`the kernel child failed: ${stderr}`);
        return 'died';
      }
      return JSON.parse(line) as KillAnswer;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.stdin!.end();
      await exited;
    },
  };
}

interface Trace {
  readonly steps: string[];
  readonly effects: string[];
  readonly credited: Record<string, number>;
}

/** Runs the steps against restarted children; `kills` also SIGKILLs at the `kill` steps. */
async function runSteps(list: readonly Step[], config: KillChildConfig, kills: boolean): Promise<Trace> {
  const out: string[] = [];
  const permits: { permit: Permit; pay: number; amount: number; credit: boolean }[] = [];
  const escalations: Escalation[] = [];
  const credited: Record<string, number> = {};
  let now = config.start;
  let child = await startChild(config);
  const take = (a: KillAnswer, pay: number, amount: number, credit: boolean): void => {
    out.push(a.step);
    if (a.permit) permits.push({ permit: a.permit, pay, amount, credit });
    if (a.escalation) escalations.push(a.escalation);
  };
  for (const s of list) {
    if (s.op === 'wait') {
      now += s.ms;
      continue;
    }
    if (s.op === 'kill') {
      if (kills) {
        await child.kill();
        child = await startChild({ ...config, start: now });
      }
      continue;
    }
    let command: KillCommand;
    let after: (a: KillAnswer) => void;
    if (s.op === 'credit') {
      command = { op: 'credit', pay: s.pay, amount: s.amount, now };
      after = (a) => take(a, s.pay, s.amount, true);
    } else if (s.op === 'note') {
      command = { op: 'note', pay: s.pay, now };
      after = (a) => take(a, s.pay, 0, false);
    } else if (s.op === 'execute') {
      const p = permits[s.permit % Math.max(1, permits.length)];
      if (p === undefined) continue;
      command = { op: 'execute', permit: p.permit, mode: s.mode, credit: p.credit, now };
      after = (a) => {
        out.push(a.step);
        if (a.step === 'execute completed:' && p.credit)
          credited[`P-${p.pay}`] = (credited[`P-${p.pay}`] ?? 0) + p.amount;
      };
    } else {
      const e = escalations[s.escalation % Math.max(1, escalations.length)];
      if (e === undefined) continue;
      command = { op: s.op, escalation: e, now };
      after = (a) => take(a, e.pay, e.amount, true);
    }
    const answer = await child.send(command);
    if (answer === 'died') {
      // The handler crashed the process after its effect: both runs restart here.
      out.push(`${command.op} crashed`);
      child = await startChild({ ...config, start: now });
      continue;
    }
    after(answer);
  }
  await child.stop();
  const effects = readFileSync(join(config.dir, 'effects.jsonl'), { encoding: 'utf8', flag: 'a+' })
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const e = JSON.parse(l) as { handler: string; id: string };
      return `${e.handler}:${e.id}`;
    });
  return { steps: out, effects, credited };
}

const dirs: string[] = [];
const server = usePgServer();
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, PG_HOOK_TIMEOUT);

/** Keys and the trust file a run's children share. */
function keys(dir: string): Omit<KillChildConfig, 'dir' | 'start'> {
  const kernelPem = generateKeyPair().privateKeyPem;
  const approverPem = generateKeyPair().privateKeyPem;
  writeFileSync(join(dir, 'kernel.pem'), kernelPem, { mode: 0o600 });
  writeFileSync(join(dir, 'approver.pem'), approverPem, { mode: 0o600 });
  const entry = (pem: string, role: string) => ({
    kid: createNodeSigner(pem).kid,
    alg: 'Ed25519' as const,
    publicKey: toBase64url(createNodeSigner(pem).publicKey),
    role,
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: null,
  });
  const trust: TrustFile = { version: 1, keys: [entry(kernelPem, 'kernel'), entry(approverPem, 'approver')] };
  return { keyFile: join(dir, 'kernel.pem'), approverKeyFile: join(dir, 'approver.pem'), trust };
}

/** The journal as file text: the file itself, or the stream's rows from PostgreSQL. */
async function journalText(config: KillChildConfig): Promise<string> {
  if (config.url === undefined) return readFileSync(join(config.dir, 'journal.jsonl'), 'utf8');
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ bytes: Buffer }>(
      "SELECT bytes FROM edca.journal_records WHERE stream = 'kill' ORDER BY seq",
    );
    return rows.map((r) => `${r.bytes.toString('utf8')}\n`).join('');
  } finally {
    await client.end();
  }
}

async function bothRuns(list: readonly Step[], backend: 'file' | 'postgres'): Promise<[Trace, Trace]> {
  const traces: Trace[] = [];
  for (const kills of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'edca-ledger-kill-'));
    dirs.push(dir);
    const config: KillChildConfig = {
      dir,
      start: T0,
      ...keys(dir),
      ...(backend === 'postgres'
        ? { url: await server.createDatabase(`kill_${traces.length}_${Date.now()}`) }
        : {}),
    };
    traces.push(await runSteps(list, config, kills));
    const r = await safeVerifyJournal(await journalText(config), { trust: config.trust, workers: 0 });
    const report = r.ok ? r.value : r.error.report!;
    expect(report.findings).toEqual([]);
  }
  return [traces[0]!, traces[1]!];
}

describe('restart equivalence with SIGKILL', () => {
  describe.each(['file', 'postgres'] as const)('when the kernel child runs on the %s journal', (backend) => {
    it(
      'allows exactly the same steps and effects with and without random SIGKILLs, within every budget',
      { timeout: 600_000 },
      async () => {
        await fc.assert(
          fc.asyncProperty(steps, async (list) => {
            // At least one SIGKILL per sequence, halfway through, besides the random ones.
            const withKill = [
              ...list.slice(0, list.length >> 1),
              { op: 'kill' as const },
              ...list.slice(list.length >> 1),
            ];
            const [plain, killed] = await bothRuns(withKill, backend);
            expect(killed.steps).toEqual(plain.steps);
            expect(killed.effects).toEqual(plain.effects);
            for (const total of Object.values(killed.credited)) expect(total).toBeLessThanOrEqual(400);
          }),
          { numRuns: RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: Number(SEED) }) },
        );
      },
    );
  });
});
