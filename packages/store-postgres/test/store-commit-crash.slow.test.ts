// `synchronousCommit: 'off'` across a server crash. The store's reserves commit without waiting for
// their WAL flush; what makes that safe is that the journal, on the same server, appends the permit
// after the reserve returned and waits for its own flush, which covers the reserve's earlier WAL. So
// after the server's processes are SIGKILLed mid-run (the WAL still in shared memory is lost) and
// the server recovers, every permit in the journal must still have every reservation it names.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '@edca/kernel';
import { createNodeSigner, decodeRecord, generateKeyPair } from '@edca/records';
import { postgresJournal, postgresStore } from '@edca/store-postgres';
import {
  bankHandlers,
  createBank,
  loadTestMap,
  REF_KEY,
  testClock,
  bankLoaders,
} from '../../kernel/test/support/harness.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

const SESSION = { stream: 'crash', session: 's-1' };
const ROUNDS = 3;

interface HoldBody {
  readonly verdict?: string;
  readonly hold?: { readonly id: string; readonly counters: readonly { readonly key: string }[] };
}

describe("synchronousCommit: 'off' and a server crash", () => {
  it('keeps every reservation of every journaled permit', async () => {
    if (server.external) return; // the crash needs the embedded server's processes
    const url = await server.createDatabase('store_crash');
    const pem = generateKeyPair().privateKeyPem;
    let checked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const bank = createBank();
      const signer = createNodeSigner(pem);
      const journal = postgresJournal({ connectionString: url, stream: 'crash', signer });
      const store = postgresStore({ connectionString: url, synchronousCommit: 'off' });
      const kernel: Kernel = await createKernel({
        maps: [loadTestMap()],
        loaders: bankLoaders(bank),
        refKey: REF_KEY,
        signer,
        journal,
        store,
        clock: testClock(Date.parse('2026-03-01T10:00:00.000Z') + round * 3_600_000),
        handlers: bankHandlers(bank),
        retries: 0,
      });
      const arp = kernel.arps.get('kernel-refunds')!;
      let permits = 0;
      let stop = false;
      // Sixteen requests at once, each principal within its limits, until the crash breaks them.
      const workers = Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const row = bank.rows.get(`P-${1 + ((w * 7 + i) % 50)}`)!;
          const view = arp.project({ tbl_pay: { ...row } }, SESSION);
          if (!view.ok) throw new Error(view.code);
          const d = await kernel.decide(
            { intent: 'refund_payment', params: { payment: view.value.entities['payment']!, amount: 1 } },
            {
              session: SESSION,
              principal: { id: `agent-${w}-${i % 40}`, attributes: { tier: 'agent' } },
              proposer: { modelId: 'm', promptTemplateDigest: `sha256:${'c'.repeat(64)}` },
            },
          );
          if (d.permit) permits += 1;
          else if (d.rule === 'kernel.journal' || d.rule === 'kernel.store') return;
        }
      });
      // Crash at a different point of each round, while decides are in flight.
      while (permits < 100 + round * 150) await new Promise((r) => setTimeout(r, 5));
      await server.crash();
      stop = true;
      await Promise.all(workers);
      await kernel.close().catch(() => {});
      await journal.close().catch(() => {});
      await store.close().catch(() => {});

      const pool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        const { rows } = await pool.query<{ bytes: Buffer }>(
          `SELECT bytes FROM edca.journal_records WHERE stream = 'crash' AND type = 'decision' ORDER BY seq`,
        );
        const ids = rows.flatMap((r) => {
          const body = decodeRecord(r.bytes).body as HoldBody;
          if (body.verdict !== 'permit' || body.hold === undefined) return [];
          return body.hold.counters.map((c) => `${body.hold!.id}|${c.key}`);
        });
        const found = await pool.query<{ id: string }>(
          'SELECT id FROM edca.limit_reservations WHERE id = ANY ($1::text[])',
          [ids],
        );
        const have = new Set(found.rows.map((r) => r.id));
        expect(ids.filter((id) => !have.has(id))).toEqual([]);
        expect(ids.length).toBeGreaterThan(checked);
        checked = ids.length;
      } finally {
        await pool.end();
      }
    }
  }, 300_000);
});
