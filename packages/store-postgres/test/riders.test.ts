// Settles and releases riding on journal appends (postgresStore({ journal })): written in the same
// transaction as the group when an append is under way, by the store's own statement otherwise, and
// by the store's own statement when the append that took them fails.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { suiteDraft } from '@edca/kernel/testing';
import { postgresJournal, postgresStore, type PostgresJournal } from '@edca/store-postgres';
import { postgresJournalWith } from '../src/postgres-journal.js';
import { RIDER_CARRIER, type RiderCarrier } from '../src/internal/riders.js';
import { usePgServer } from './use-pg-server.js';

const server = usePgServer();

const T = Date.parse('2026-01-01T00:00:00.000Z');
const COUNTER = 'refund.rate|p:a|0';

async function setup(journalOf: (url: string) => PostgresJournal) {
  const url = await server.createDatabase();
  const journal = journalOf(url);
  await journal.ready();
  const store = postgresStore({ connectionString: url, synchronousCommit: 'off', journal });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  for (const id of ['h1', 'h2', 'h3']) {
    const r = await store.reserve([{ id, counter: COUNTER, amount: 1, max: 10, holdUntil: T + 1_000 }], T);
    expect(r.ok).toBe(true);
  }
  /** The transaction that last wrote a hold (null: deleted), and whether it is settled. */
  const hold = async (id: string) => {
    const { rows } = await pool.query<{ x: string; settled: boolean }>(
      'SELECT xmin::text AS x, settled FROM edca.limit_reservations WHERE id = $1',
      [id],
    );
    return rows[0] ?? null;
  };
  const recordXmin = async (seq: number) => {
    const { rows } = await pool.query<{ x: string }>(
      'SELECT xmin::text AS x FROM edca.journal_records WHERE stream = $1 AND seq = $2',
      [journal.stream, seq],
    );
    return rows[0]!.x;
  };
  const close = async () => {
    await store.close();
    await journal.close();
    await pool.end();
  };
  return { journal, store, hold, recordXmin, close };
}

const signer = () => createNodeSigner(generateKeyPair().privateKeyPem);

describe('postgresStore({ journal }): store writes on journal appends', () => {
  it('writes a settle and a release issued while an append is under way in that append’s transaction', async () => {
    const t = await setup((url) => postgresJournal({ connectionString: url, signer: signer() }));
    // Issued while an append is on its way (another execution's, under load): it carries them.
    const ends = [t.store.settle('h1'), t.store.release('h2')];
    const [rec] = await t.journal.append([suiteDraft('outcome')]);
    await Promise.all(ends);
    const settled = await t.hold('h1');
    expect(settled?.settled).toBe(true);
    expect(settled?.x).toBe(await t.recordXmin(rec!.record.seq));
    expect(await t.hold('h2')).toBeNull();
    // h1 counts as settled, h2 not at all, h3 only until its hold ends.
    expect(await t.store.usage(COUNTER, T)).toBe(2);
    expect(await t.store.usage(COUNTER, T + 2_000)).toBe(1);
    await t.close();
  });

  it('writes them with its own statement when no append is under way', async () => {
    const t = await setup((url) => postgresJournal({ connectionString: url, signer: signer() }));
    const [rec] = await t.journal.append([suiteDraft('before')]);
    await t.store.settle('h1');
    const settled = await t.hold('h1');
    expect(settled?.settled).toBe(true);
    expect(settled?.x).not.toBe(await t.recordXmin(rec!.record.seq));
    await t.close();
  });

  it('writes them with its own statement when the append that took them fails', async () => {
    const t = await setup((url) =>
      postgresJournalWith(
        { connectionString: url, signer: signer() },
        {
          beforeCommit: () => Promise.reject(new Error('injected: the commit fails')),
        },
      ),
    );
    const ends = [t.store.settle('h1'), t.store.release('h2')];
    await expect(t.journal.append([suiteDraft('lost')])).rejects.toMatchObject({
      code: 'JOURNAL_UNAVAILABLE',
    });
    await Promise.all(ends);
    expect((await t.hold('h1'))?.settled).toBe(true);
    expect(await t.hold('h2')).toBeNull();
    await t.close();
  });

  it('writes them with its own statement when the journal has failed and takes no more commits', async () => {
    const t = await setup((url) =>
      postgresJournalWith(
        { connectionString: url, signer: signer() },
        {
          beforeCommit: () => Promise.reject(new Error('injected: the commit fails')),
        },
      ),
    );
    await expect(t.journal.append([suiteDraft('breaks it')])).rejects.toMatchObject({
      code: 'JOURNAL_UNAVAILABLE',
    });
    // The failed journal refuses this append without a commit; a rider taken while it was under way
    // (in the same turn, as the store's settle can be) is still written, by the store.
    const carrier = (t.journal as unknown as Record<typeof RIDER_CARRIER, RiderCarrier>)[RIDER_CARRIER];
    const appended = t.journal.append([suiteDraft('refused')]);
    let wrote = false;
    const ridden = carrier.ride('settle', 'h1', () => t.store.settle('h1').then(() => void (wrote = true)));
    expect(ridden).toBeInstanceOf(Promise);
    await expect(appended).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    await ridden;
    expect(wrote).toBe(true);
    expect((await t.hold('h1'))?.settled).toBe(true);
    await t.close();
  });

  it('refuses a journal that is not a postgresJournal (PG_CONFIG_INVALID)', () => {
    expect(() =>
      postgresStore({
        connectionString: 'postgres://localhost/x',
        journal: {} as unknown as PostgresJournal,
      }),
    ).toThrow(expect.objectContaining({ code: 'PG_CONFIG_INVALID' }) as Error);
  });
});
