import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyLedger, type PermitEntry } from '@edca/ledger';
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

describe('a ledger journal whose state cannot fit one snapshot record', () => {
  it('skips the snapshot without holding appends back behind those in flight', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edca-lj-'));
    try {
      const clock = { now: () => T0 + 1_000 };
      const signer = createNodeSigner(generateKeyPair().privateKeyPem);
      const file = await openFileJournal({ path: join(dir, 'j.jsonl'), stream: 's', signer, clock });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slow = activation(2);
      const journal: Journal = {
        stream: file.stream,
        exclusive: true,
        append: (d) => (d[0] === slow ? held.then(() => file.append(d)) : file.append(d)),
        head: () => file.head(),
        read: (from) => file.read(from),
        close: () => file.close(),
      };
      // Live permits past what one record holds (the size floor counts them without a fold).
      const ledger = emptyLedger();
      for (let i = 0; i < 6_000; i++)
        ledger.permits.set(digest(1_000_000 + i), {
          expiresAtMs: T0 + 3_600_000,
          status: 'outstanding',
        } as PermitEntry);
      const writer = createLedgerJournal({ journal, ledger, clock, snapshotEvery: 2, pruneGraceMs: 0 });
      await writer.append([activation(1)]);
      const inFlight = writer.append([slow]);
      await writer.append([activation(3)]); // the second applied record: a snapshot is due
      expect(writer.stats.tooLarge).toBe(1);
      // Not held back behind the append still in flight, as writing a snapshot would have been.
      const next = writer.append([activation(4)]).then(() => 'appended');
      const waited = new Promise((resolve) => setTimeout(() => resolve('held back'), 2_000));
      expect(await Promise.race([next, waited])).toBe('appended');
      release();
      await inFlight;
      await writer.idle();
      expect(writer.stats.written).toBe(0);
      await file.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
