/**
 * One kernel instance of the PostgreSQL multi-process and fault tests (and the benchmark): a real
 * `createKernel` with the PostgreSQL journal and store, a loader and a refund handler on shared
 * tables, running governed executions (project → decide → execute) for its own payments.
 *
 * Usage: node --import tsx test/postgres-mp-child.ts '<ChildConfig JSON>'
 * Writes JSON lines on stdout: `started` (with the recovery report), `progress`, `done` (tallies).
 * Exits 3 when its journal or store became unavailable (the instance must be restarted).
 */
import { readFileSync } from 'node:fs';
import { pg } from '../packages/store-postgres/test/pg.js';
import type { ArpSession } from '@edca/arp';
import { createKernel, systemClock, type Decision, type ExecuteResult, type Permit } from '@edca/kernel';
import { createSigner, type SignedRecord } from '@edca/records';
import { loadStateMap } from '@edca/semantic';
import { postgresJournal, postgresStore } from '@edca/store-postgres';
import { Batcher } from '../packages/store-postgres/src/internal/batcher.js';

/** What the parent tells a child. */
export interface ChildConfig {
  readonly url: string;
  readonly stream: string;
  readonly instance: number;
  /** PEM file of the kernel key (shared by all instances, or one per instance). */
  readonly keyFile: string;
  readonly mapFile: string;
  /** Payments `P<instance>-<i>` for i in [start, start + count). */
  readonly start: number;
  readonly count: number;
  /** Governed executions in flight at once. */
  readonly workers: number;
  /** Every n-th permit is not executed here but published for all instances to race (0: none). */
  readonly contestedEvery: number;
  /** How many instances meet at the barrier before racing the published permits. */
  readonly instances: number;
  /** The handler waits this long before and after its write (the fault test kills inside it). */
  readonly handlerDelayMs: number;
  /** Also execute every permit a second time (must be refused). */
  readonly executeTwice: boolean;
  /** PostgreSQL `application_name` of every connection of this instance. */
  readonly appName: string;
  /** Only start (recovery runs in createKernel), report and stop. */
  readonly recoverOnly: boolean;
  /** Benchmark: run for this long instead of a fixed count (0: off), deciding only or also executing. */
  readonly benchMs?: number;
  readonly benchExecute?: boolean;
  /** Benchmark: the host's row loads of concurrent requests share one statement. */
  readonly hostBatch?: boolean;
  /**
   * Benchmark: the handler writes of concurrent executions share one transaction (the host's group
   * commit); each handler still returns only after its row is committed.
   */
  readonly hostWriteBatch?: boolean;
  /** The store's `synchronousCommit` (the journal is on the same server); default the store's. */
  readonly storeCommit?: 'on' | 'off';
  /** False: the store ends holds with its own statements, not on the journal's appends. */
  readonly storeRides?: boolean;
  /** Start the workload only on the parent's go (SIGUSR2), sent once every instance has started. */
  readonly waitForGo?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const REF_KEY = new Uint8Array(32).fill(7);
const MAP = 'mp-refunds';
const withAppName = (name: string): string => {
  const url = new URL(config.url);
  url.searchParams.set('application_name', name);
  return url.toString();
};
const connectionString = withAppName(config.appName);
// The journal's connections carry their own name, so the fault test can cut exactly those.
const journalConnectionString = withAppName(`${config.appName}-journal`);

const say = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const app = new pg.Pool({ connectionString, max: 8 });
app.on('error', () => {});
// The library's default signer, as a host would take it: libsodium where sodium-native loads.
const signer = createSigner(readFileSync(config.keyFile, 'utf8'));
const loaded = loadStateMap(readFileSync(config.mapFile, 'utf8'), config.mapFile);
if (!loaded.ok) throw new Error('map invalid');
const journal = postgresJournal({
  connectionString: journalConnectionString,
  stream: config.stream,
  signer,
  checkpointEvery: 1000,
});
// The journal on the same database carries the settles and releases of executions (docs/postgres.md).
const store = postgresStore({
  connectionString,
  poolSize: 8,
  ...(config.storeCommit ? { synchronousCommit: config.storeCommit } : {}),
  ...(config.storeRides === false ? {} : { journal }),
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface PayRow {
  PAY_ID: string;
  STATUS_CD: string;
  AMT_CENTS: number;
}
async function loadOne(id: string): Promise<PayRow | undefined> {
  const { rows } = await app.query<PayRow>(
    'SELECT pay_id AS "PAY_ID", status_cd AS "STATUS_CD", amt_cents AS "AMT_CENTS" FROM mp_payments WHERE pay_id = $1',
    [id],
  );
  return rows[0];
}
// With `hostBatch` the host loads rows as a high-throughput host would: the loads of concurrent
// requests share one statement (the store's own batcher, reused), so the benchmark's figures are
// mostly the kernel's and the store's rather than the host's round trips.
const rowLoads = new Batcher<string, PayRow | undefined>(async (ids) => {
  const { rows } = await app.query<PayRow>({
    name: 'mp-load-rows',
    text: `SELECT pay_id AS "PAY_ID", status_cd AS "STATUS_CD", amt_cents AS "AMT_CENTS" FROM mp_payments
            WHERE pay_id = ANY ($1::text[])`,
    values: [[...new Set(ids)]],
  });
  const byId = new Map(rows.map((r) => [r.PAY_ID, r]));
  // A copy each: the kernel and the loop must not share one mutable row object.
  return ids.map((id) => {
    const row = byId.get(id);
    return row === undefined ? undefined : { ...row };
  });
});
const loadRow = (id: string): Promise<PayRow | undefined> =>
  config.hostBatch === true ? rowLoads.call(id) : loadOne(id);

interface Effect {
  readonly key: string;
  // As the map gives them (pg serializes them, in the array of a batch too).
  readonly payId: unknown;
  readonly cents: unknown;
}
const EFFECT_SQL = `WITH e AS (
     INSERT INTO mp_effects (idempotency_key, pay_id, cents, instance) VALUES ($1, $2, $3, $4) RETURNING pay_id
   )
   UPDATE mp_payments SET status_cd = 'RFND' WHERE pay_id = (SELECT pay_id FROM e)`;
// With `hostWriteBatch` the handler writes of concurrent executions are one statement, one
// transaction and one WAL flush, as a host that group-commits its writes; a handler's promise still
// resolves only once its own row is committed, so the kernel's order (attempt durable, handler,
// outcome) is the same as with a statement per write.
const effectWrites = new Batcher<Effect, null>(async (effects) => {
  await app.query({
    name: 'mp-write-effects',
    text: `WITH e AS (
             INSERT INTO mp_effects (idempotency_key, pay_id, cents, instance)
             SELECT k, p, c, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(k, p, c)
             RETURNING pay_id
           )
           UPDATE mp_payments SET status_cd = 'RFND' WHERE pay_id IN (SELECT pay_id FROM e)`,
    values: [
      effects.map((e) => e.key),
      effects.map((e) => e.payId),
      effects.map((e) => e.cents),
      config.instance,
    ],
  });
  return effects.map(() => null);
});
async function writeEffect(effect: Effect): Promise<void> {
  if (config.hostWriteBatch === true) {
    await effectWrites.call(effect);
    return;
  }
  await app.query(EFFECT_SQL, [effect.key, effect.payId, effect.cents, config.instance]);
}

const kernel = await createKernel({
  maps: [loaded.value],
  loaders: {
    [MAP]: async ({ refs }) => {
      const id = refs['PAY_ID']?.id;
      const row = id === undefined ? undefined : await loadRow(id);
      return row ? { tbl_pay: row } : {};
    },
  },
  refKey: REF_KEY,
  signer,
  journal,
  store,
  clock: systemClock,
  permitTtlMs: 15 * 60_000,
  handlerTimeoutMs: 30_000,
  retries: 0,
  handlers: {
    // The real side effect: a row per execution, deliberately without a uniqueness guard, so a
    // permit that ran twice shows up as two rows.
    'pay.refund': async (call, context) => {
      if (config.handlerDelayMs > 0) await sleep(config.handlerDelayMs);
      await writeEffect({
        key: context.idempotencyKey,
        payId: call.realParams['PAY_ID'],
        cents: call.realParams['AMT_CENTS'],
      });
      if (config.handlerDelayMs > 0) await sleep(config.handlerDelayMs);
      return { refunded: true };
    },
  },
  idempotencyChecks: {
    'pay.refund': async (key) => {
      const r = await app.query('SELECT 1 FROM mp_effects WHERE idempotency_key = $1', [key]);
      return r.rowCount === 0 ? 'absent' : 'completed';
    },
  },
});
// The parent signals with SIGUSR2: the go of a benchmark run, then (after `done`) that it has read
// the server's CPU. One listener for the process's whole life: while a process has no SIGUSR2
// listener Node leaves the signal's default action, which ends the process, so a second signal
// arriving between two `once` listeners (the parent answers `done` at once) killed the instance.
const signalWaiters: Array<() => void> = [];
let signalsUnclaimed = 0;
process.on('SIGUSR2', () => {
  const waiter = signalWaiters.shift();
  if (waiter === undefined) signalsUnclaimed += 1;
  else waiter();
});
const nextSignal = (): Promise<void> => {
  if (signalsUnclaimed > 0) {
    signalsUnclaimed -= 1;
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => signalWaiters.push(resolve));
};
// Benchmark runs wait for the parent's go; the listener is in place before `started` is printed.
const go = nextSignal();
say({ type: 'started', instance: config.instance, recovery: kernel.recovery, kid: signer.kid });

const tally: Record<string, number> = {};
const count = (key: string): void => {
  tally[key] = (tally[key] ?? 0) + 1;
};
let broken = false;
const checkBroken = (codes: readonly string[]): void => {
  if (
    codes.some((c) => c === 'JOURNAL_UNAVAILABLE' || c === 'STORE_UNAVAILABLE' || c === 'SIGNER_UNAVAILABLE')
  )
    broken = true;
};

const arp = kernel.arps.get(MAP)!;
function refFor(row: PayRow, session: ArpSession): string {
  const view = arp.project({ tbl_pay: row }, session);
  if (!view.ok) throw new Error(`projection refused: ${view.code}`);
  return view.value.entities['payment']!;
}

const session: ArpSession = { stream: config.stream, session: `session-${config.instance}` };
const principalFor = (i: number) =>
  i % 2 === 0
    ? { id: 'agent-a', attributes: { tier: 'agent' } }
    : { id: 'agent-b', attributes: { tier: 'agent' } };
const proposer = { modelId: 'mp-model', promptTemplateDigest: `sha256:${'d'.repeat(64)}` };

async function governed(i: number): Promise<void> {
  const id = `P${config.instance}-${i}`;
  const row = await loadRow(id);
  if (!row) throw new Error(`no payment ${id}`);
  const ref = refFor(row, session);
  const decision: Decision = await kernel.decide(
    { intent: 'refund_payment', params: { payment: ref, amount: i % 2 === 0 ? 1 : 3 } },
    { session, principal: principalFor(i), proposer },
  );
  count(`decision.${decision.verdict}.${decision.reasons.join('+') || 'ok'}`);
  checkBroken(decision.reasons);
  if (!decision.permit) return;
  if (config.contestedEvery > 0 && i % config.contestedEvery === 0) {
    await app.query(
      'INSERT INTO mp_contested (permit_hash, record, session, pay_id) VALUES ($1, $2, $3, $4)',
      [decision.permit.hash, JSON.stringify(decision.permit.record), session.session, id],
    );
    count('contested.published');
    return;
  }
  const first = await kernel.execute(decision.permit, { session });
  count(`execute.${first.status}.${first.status === 'refused' ? first.code : 'ok'}`);
  if (first.status === 'refused') checkBroken([first.code]);
  // The outcome could not be journaled: the journal is down; recovery at the next start resolves it.
  else if (first.outcome === null) broken = true;
  if (config.executeTwice) {
    const again = await kernel.execute(decision.permit, { session });
    count(`again.${again.status}.${again.status === 'refused' ? again.code : 'ok'}`);
  }
}

async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length && !broken) {
        const item = items[next++]!;
        await fn(item);
      }
    }),
  );
}

async function shutdown(code: number): Promise<never> {
  await kernel.close().catch(() => {});
  await journal.close().catch(() => {});
  await store.close().catch(() => {});
  await app.end().catch(() => {});
  process.exit(code);
}

if (config.recoverOnly) {
  say({ type: 'done', instance: config.instance, tally });
  await shutdown(0);
}

if ((config.benchMs ?? 0) > 0) {
  // Wait for the parent's go (all instances started), then run flat out for benchMs.
  await go;
  say({ type: 'running', instance: config.instance });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + config.benchMs!;
  let next = config.start;
  let permits = 0;
  let executions = 0;
  await Promise.all(
    Array.from({ length: config.workers }, async () => {
      while (performance.now() < until) {
        const i = config.benchExecute === true ? next++ : config.start + (next++ % config.count);
        if (i >= config.start + config.count) break;
        const row = await loadRow(`P${config.instance}-${i}`);
        // A session issues at most 10,000 refs (ARP's cap): a new one every 5,000 rows, as a host
        // opens a session per conversation.
        const benchSession: ArpSession = {
          ...session,
          session: `${session.session}.${Math.floor(i / 5000)}`,
        };
        const ref = refFor(row!, benchSession);
        const d = await kernel.decide(
          { intent: 'refund_payment', params: { payment: ref, amount: 1 } },
          { session: benchSession, principal: principalFor(i), proposer },
        );
        if (!d.permit) {
          count(`decision.${d.verdict}.${d.reasons.join('+')}`);
          continue;
        }
        permits += 1;
        if (config.benchExecute === true) {
          const r = await kernel.execute(d.permit, { session: benchSession });
          if (r.status === 'completed') executions += 1;
          else count(`execute.${r.status}`);
        }
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  say({
    type: 'done',
    instance: config.instance,
    tally,
    permits,
    executions,
    ms,
    cpuUs: cpu.user + cpu.system,
    cpuSystemUs: cpu.system,
  });
  // Stay connected until the parent has read the server's CPU: a backend that exits meanwhile takes
  // its time out of the live processes before the postmaster has it among its reaped children's.
  await nextSignal();
  await shutdown(0);
}

// With one deployment key, an instance's startup recovery treats every attempt without an outcome
// as its own; it must not run while another instance is executing (docs/postgres.md, "Keys").
if (config.waitForGo === true) await go;
const started = performance.now();
const indices = Array.from({ length: config.count }, (_, k) => config.start + k);
let done = 0;
await pool(indices, config.workers, async (i) => {
  await governed(i);
  done += 1;
  if (done % 25 === 0) say({ type: 'progress', instance: config.instance, done });
});
if (broken) {
  say({ type: 'broken', instance: config.instance, tally });
  await shutdown(3);
}
const ownMs = performance.now() - started;

if (config.contestedEvery > 0) {
  // Barrier: every instance has published its contested permits before anyone races them.
  await app.query('INSERT INTO mp_barrier (instance) VALUES ($1)', [config.instance]);
  for (;;) {
    const r = await app.query<{ n: string }>('SELECT count(*)::text AS n FROM mp_barrier');
    if (Number(r.rows[0]!.n) >= config.instances) break;
    await sleep(50);
  }
  const { rows } = await app.query<{ permit_hash: string; record: string; session: string; pay_id: string }>(
    'SELECT permit_hash, record, session, pay_id FROM mp_contested ORDER BY permit_hash',
  );
  // Start at a different place than the others so instances really collide on the same permits.
  const offset = Math.floor((rows.length * config.instance) / Math.max(1, config.instances));
  const order = [...rows.slice(offset), ...rows.slice(0, offset)];
  await pool(order, config.workers, async (c) => {
    const owner: ArpSession = { stream: config.stream, session: c.session };
    const row = await loadRow(c.pay_id);
    // This instance serves the owner's session now: it projects the row for that session (issuing
    // the same opaque ref locally), as a host behind a load balancer would.
    if (row) refFor(row, owner);
    const permit: Permit = {
      record: JSON.parse(c.record) as SignedRecord,
      hash: c.permit_hash as Permit['hash'],
    };
    const r: ExecuteResult = await kernel.execute(permit, { session: owner });
    count(`contested.${r.status}.${r.status === 'refused' ? r.code : 'ok'}`);
  });
}

say({ type: 'done', instance: config.instance, tally, ownMs });
await shutdown(0);
