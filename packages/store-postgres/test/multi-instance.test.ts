// Several kernel instances on one PostgreSQL database (issue 13): every attempt names its instance,
// and an instance's startup recovery resolves only its own attempts left without an outcome.
import { describe, expect, it } from 'vitest';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { createKernel, type Kernel } from '@edca/kernel';
import { postgresJournal, postgresStore } from '@edca/store-postgres';
import {
  agent,
  bankHandlers,
  createBank,
  loadTestMap,
  REF_KEY,
  testClock,
  type Bank,
  bankLoaders,
} from '../../kernel/test/support/harness.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

interface Instance {
  readonly kernel: Kernel;
  /** Ends the instance's connections at once, as a kill would (no outcome can land afterwards). */
  readonly kill: () => Promise<void>;
}

async function instance(
  url: string,
  name: string,
  pem: string,
  bank: Bank,
  extra: { leaseMs?: number; clock?: ReturnType<typeof testClock> } = {},
): Promise<Instance> {
  const signer = createNodeSigner(pem);
  const clock = extra.clock ?? testClock();
  const journal = postgresJournal({ connectionString: url, stream: 'shared', signer, clock });
  const store = postgresStore({ connectionString: url });
  const kernel = await createKernel({
    maps: [loadTestMap()],
    loaders: bankLoaders(bank),
    refKey: REF_KEY,
    signer,
    journal,
    store,
    clock,
    handlers: bankHandlers(bank),
    handlerTimeoutMs: 2_000,
    retries: 0,
    instance: name,
    ...(extra.leaseMs === undefined ? {} : { leaseMs: extra.leaseMs }),
  });
  return {
    kernel,
    kill: async () => {
      await Promise.all([journal.close().catch(() => undefined), store.close().catch(() => undefined)]);
    },
  };
}

describe('several kernel instances on one PostgreSQL database', () => {
  describe('when one instance dies mid-execution and the other (re)starts', () => {
    it('leaves the attempt to its own instance, whose restart resolves it', async () => {
      const url = await server.createDatabase('multi');
      const pem = generateKeyPair().privateKeyPem;
      const bank = createBank();
      const a = await instance(url, 'A', pem, bank);
      const b = await instance(url, 'B', pem, bank);
      const session = { stream: 'shared', session: 's1' };
      const arp = a.kernel.arps.get('kernel-refunds')!;
      const view = arp.project({ tbl_pay: { ...bank.rows.get('P-1')! } }, session);
      if (!view.ok) throw new Error(view.code);
      const d = await a.kernel.decide(
        { intent: 'hold_payment', params: { payment: view.value.entities['payment']! } },
        { session, ...agent },
      );
      expect(d.verdict).toBe('permit');
      bank.faults.set('pay.hold', 'hang');
      const running = a.kernel.execute(d.permit!, { session });
      // Let the attempt reach the database, then kill A while its handler hangs.
      for (let i = 0; i < 100 && !(await hasAttempt(url)); i++) await sleep(20);
      await a.kill();

      const b2 = await instance(url, 'B', pem, bank);
      expect(b2.kernel.recovery).toMatchObject({ dangling: 0, resolved: [] });
      const a2 = await instance(url, 'A', pem, bank);
      expect(a2.kernel.recovery).toMatchObject({
        dangling: 1,
        resolved: [{ permit: d.permit!.hash, status: 'unknown' }],
      });
      // The killed instance's late outcome never lands.
      expect((await running).status).toBe('unknown');
      for (const k of [b, b2, a2]) {
        await k.kernel.close();
        await k.kill();
      }
    });
  });
});

describe('several kernel instances with leases', () => {
  describe('when one instance dies mid-execution and never comes back', () => {
    it('leaves its attempt alone while its lease lasts, then the survivor resolves it (OUTCOME_UNKNOWN)', async () => {
      const url = await server.createDatabase('leases');
      const pem = generateKeyPair().privateKeyPem;
      const bank = createBank();
      const leaseMs = 300;
      const a = await instance(url, 'A', pem, bank, { leaseMs });
      const bClock = testClock();
      const b = await instance(url, 'B', pem, bank, { leaseMs, clock: bClock });
      const session = { stream: 'shared', session: 's1' };
      const arp = a.kernel.arps.get('kernel-refunds')!;
      const view = arp.project({ tbl_pay: { ...bank.rows.get('P-1')! } }, session);
      if (!view.ok) throw new Error(view.code);
      const d = await a.kernel.decide(
        { intent: 'hold_payment', params: { payment: view.value.entities['payment']! } },
        { session, ...agent },
      );
      bank.faults.set('pay.hold', 'hang');
      const running = a.kernel.execute(d.permit!, { session });
      for (let i = 0; i < 100 && !(await count(url, 'attempt')); i++) await sleep(20);
      await a.kill();

      // Several of B's rounds while A's lease (by B's clock) has not lapsed: nothing is resolved.
      await sleep(4 * leaseMs);
      expect(await count(url, 'outcome')).toBe(0);
      // Past A's lease: B takes the attempt over and records that its outcome is unknown.
      bClock.advance(2 * leaseMs);
      for (let i = 0; i < 100 && (await count(url, 'outcome')) === 0; i++) await sleep(20);
      expect(await outcomes(url)).toEqual(['unknown']);
      expect((await running).status).toBe('unknown');
      // A restart of A finds nothing left to resolve: the survivor's outcome is in the stream.
      const a2 = await instance(url, 'A', pem, bank, { leaseMs });
      expect(a2.kernel.recovery).toMatchObject({ dangling: 0, resolved: [] });
      expect(await outcomes(url)).toEqual(['unknown']);
      for (const k of [b, a2]) {
        await k.kernel.close();
        await k.kill();
      }
    });
  });
});

async function count(url: string, type: string): Promise<number> {
  const { pg } = await import('./pg.js');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM edca.journal_records WHERE type = $1',
      [type],
    );
    return Number(r.rows[0]!.n);
  } catch {
    return 0;
  } finally {
    await client.end();
  }
}

async function outcomes(url: string): Promise<string[]> {
  const { pg } = await import('./pg.js');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ bytes: Buffer }>(
      "SELECT bytes FROM edca.journal_records WHERE type = 'outcome' ORDER BY seq",
    );
    return r.rows.map(
      (row) => (JSON.parse(row.bytes.toString('utf8')) as { body: { status: string } }).body.status,
    );
  } finally {
    await client.end();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function hasAttempt(url: string): Promise<boolean> {
  const { pg } = await import('./pg.js');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM edca.journal_records WHERE type = 'attempt'",
    );
    return r.rows[0]!.n !== '0';
  } catch {
    return false;
  } finally {
    await client.end();
  }
}
