import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyLedger } from '@edca/ledger';
import { createNodeSigner, generateKeyPair } from '@edca/records';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileJournal, type Journal, type RecordDraft } from '../src/index.js';
import { createLedgerJournal } from '../src/internal/ledger-journal.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const activation = (n: number): RecordDraft => ({
  type: 'policy.activated',
  at: new Date(T0 + n).toISOString(),
  body: { policyDigest: digest(n), name: `m${n}`, version: '1', owner: 'test' },
});

/** The journal with `exclusive` as given, counting the reads a writer makes. */
function counted(journal: Journal, exclusive: boolean): Journal & { reads: number } {
  const out = {
    reads: 0,
    stream: journal.stream,
    exclusive,
    append: (d: readonly RecordDraft[]) => journal.append(d),
    head: () => journal.head(),
    read: (from?: number) => {
      out.reads += 1;
      return journal.read(from);
    },
    close: () => journal.close(),
  };
  return out;
}

describe('a ledger journal writing a snapshot', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function run(exclusive: boolean) {
    const dir = await mkdtemp(join(tmpdir(), 'edca-lj-'));
    dirs.push(dir);
    const clock = { now: () => T0 + 1_000 };
    const signer = createNodeSigner(generateKeyPair().privateKeyPem);
    const file = await openFileJournal({
      path: join(dir, 'j.jsonl'),
      stream: 's',
      signer,
      clock,
      checkpointEvery: 2,
    });
    const journal = counted(file, exclusive);
    const ledger = emptyLedger();
    const writer = createLedgerJournal({ journal, ledger, clock, snapshotEvery: 5, pruneGraceMs: 0 });
    for (let i = 1; i <= 6; i++) await writer.append([activation(i)]);
    await writer.idle();
    const records = [];
    for await (const r of file.read()) records.push(r.record);
    await file.close();
    return { reads: journal.reads, stats: writer.stats, ledger, records };
  }

  it('reads nothing back from an exclusive journal, and folds what a reading writer folds', async () => {
    const alone = await run(true);
    const shared = await run(false);
    // Checkpoints lie between the appends; only a writer that may share its stream reads them back.
    expect(alone.records.some((r) => r.type === 'checkpoint')).toBe(true);
    expect(alone.reads).toBe(0);
    expect(shared.reads).toBeGreaterThan(0);
    expect(alone.stats.written).toBe(1);
    expect(shared.stats.written).toBe(1);
    const snapshots = (x: typeof alone) => x.records.filter((r) => r.type === 'snapshot').map((r) => r.body);
    expect(snapshots(alone)).toEqual(snapshots(shared));
    expect(alone.ledger.seq).toBe(shared.ledger.seq);
  });
});
