/**
 * The `Journal` port on PostgreSQL: one hash chain per stream shared by every kernel instance.
 *
 * The queue, group commit, chain tip and signing are the kernel's `JournalCore`; this file says how a
 * group becomes durable and how it is read back. A group is signed onto the chain as this instance
 * last saw it and written by one statement (`edca.journal_append`, one round trip, its own
 * transaction with `synchronous_commit` on) that moves the stream's head only if it is still where
 * the group starts. When another instance moved it first, nothing is written: the head row is locked,
 * the group is signed again onto the stored head and written under that lock. A call resolves only
 * after the commit returned. See docs/postgres.md.
 */
import {
  DEFAULT_CHECKPOINT_EVERY,
  JournalCore,
  journalCorrupt as corrupt,
  journalUnavailable as unavailable,
  type AppendedRecord,
  type Journal,
  type JournalGroup,
  type JournalHead,
  type RecordDraft,
  type StoredChain,
} from '@edca/kernel';
import {
  decodeRecord,
  digestBytes,
  MerkleAccumulator,
  verifyRecord,
  type Digest,
  type SignedRecord,
  type Signer,
} from '@edca/records';
import type pg from 'pg';
import { PostgresStoreError } from './errors.js';
import { lease, openDb, type ConnectionOptions, type Db } from './internal/db.js';
import { migrate } from './migrate.js';
import { idsOf, RIDER_CARRIER, runAlone, type Rider, type RiderCarrier } from './internal/riders.js';

/** Options of `postgresJournal`. */
export type PostgresJournalOptions = ConnectionOptions & {
  /** The stream (one hash chain) every record of this journal carries; default `default`. */
  readonly stream?: string;
  /** Signs every record this instance appends, checkpoints included. */
  readonly signer: Signer;
  /** A `checkpoint` follows every N-th non-checkpoint record of the stream (default 1000). */
  readonly checkpointEvery?: number;
  /** Time source (epoch ms) for checkpoint timestamps; defaults to the system clock. */
  readonly clock?: { now(): number };
  /** Run `migrate()` when opening (default true). */
  readonly migrate?: boolean;
  /** Most draft records one group-commit transaction takes from the queue (default 2000). */
  readonly maxGroupRecords?: number;
};

/** A `Journal` on PostgreSQL. */
export interface PostgresJournal extends Journal {
  /** Resolves once the schema is migrated and the stream's head row checked; rejects like `head()`. */
  ready(): Promise<void>;
}

/** Internal hooks for fault-injection tests; not part of the public API. */
export interface PostgresJournalHooks {
  /**
   * Runs inside every append transaction after its write (the head row is locked and the records are
   * inserted), before COMMIT. With a hook set, every group is written in an explicit transaction.
   */
  readonly beforeCommit?: (client: pg.PoolClient) => Promise<void>;
}

const DEFAULT_MAX_GROUP_RECORDS = 2000;
const READ_PAGE = 500;

const APPEND_SQL = `SELECT out_moved, out_seq, out_hash, out_last_at, out_frontier, out_since
  FROM edca.journal_append($1, $2, $3, $4, $5, $6, $7, $8::bigint[], $9::text[], $10::text[], $11::bytea[])`;
// The same append with store writes riding on it (migration 9): applied only if the group is written.
const APPEND_ENDING_SQL = `SELECT out_moved, out_seq, out_hash, out_last_at, out_frontier, out_since
  FROM edca.journal_append_ending($1, $2, $3, $4, $5, $6, $7, $8::bigint[], $9::text[], $10::text[],
                                  $11::bytea[], $12::text[], $13::text[])`;
const LOCK_SQL = `SELECT seq::text AS seq, hash, last_at, frontier, since_checkpoint FROM edca.journal_heads
  WHERE stream = $1 FOR UPDATE`;

interface AppendRow {
  out_moved: boolean;
  out_seq: string | null;
  out_hash: string | null;
  out_last_at: string | null;
  out_frontier: Buffer | null;
  out_since: number | null;
}

interface HeadRow {
  seq: string;
  hash: string | null;
  last_at: string | null;
  frontier: Buffer;
  since_checkpoint: number;
}

interface OpenRow extends HeadRow {
  last_seq: string | null;
  last_hash: string | null;
  last_bytes: Buffer | null;
}

interface RecordRow {
  seq: string;
  hash: string;
  bytes: Buffer;
}

function checkOptions(options: PostgresJournalOptions): {
  stream: string;
  checkpointEvery: number;
  maxGroupRecords: number;
} {
  const stream = options.stream ?? 'default';
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const maxGroupRecords = options.maxGroupRecords ?? DEFAULT_MAX_GROUP_RECORDS;
  if (typeof stream !== 'string' || stream === '') {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'stream must be a non-empty string');
  }
  if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 1) {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'checkpointEvery must be a positive integer');
  }
  if (!Number.isSafeInteger(maxGroupRecords) || maxGroupRecords < 1) {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'maxGroupRecords must be a positive integer');
  }
  const signer = options.signer as Signer | undefined;
  if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function') {
    throw new PostgresStoreError('PG_CONFIG_INVALID', 'a signer is required');
  }
  return { stream, checkpointEvery, maxGroupRecords };
}

/**
 * Creates the PostgreSQL journal for one stream. It connects lazily: the schema migration and the
 * head check run on the first call (or `ready()`), so it can be passed straight to `createKernel`.
 * @example const journal = postgresJournal({ connectionString, stream: 'bank-1', signer });
 * @throws PostgresStoreError PG_CONFIG_INVALID for malformed options; its methods throw KernelError
 *   as the `Journal` port says (JOURNAL_UNAVAILABLE, JOURNAL_CORRUPT).
 */
export function postgresJournal(options: PostgresJournalOptions): PostgresJournal {
  return postgresJournalWith(options, {});
}

/**
 * Creates the PostgreSQL journal and waits until it is usable (schema migrated, head row checked).
 * @example const journal = await openPostgresJournal({ connectionString, stream: 'bank-1', signer });
 * @throws PostgresStoreError PG_CONFIG_INVALID; KernelError JOURNAL_UNAVAILABLE when the database
 *   cannot be reached or migrated (the `PostgresStoreError` is its cause); JOURNAL_CORRUPT when the stored head does not match its last record.
 */
export async function openPostgresJournal(options: PostgresJournalOptions): Promise<PostgresJournal> {
  const journal = postgresJournal(options);
  try {
    await journal.ready();
  } catch (err) {
    await journal.close().catch(() => {});
    throw err;
  }
  return journal;
}

/** `postgresJournal` with fault-injection hooks; internal. */
export function postgresJournalWith(
  options: PostgresJournalOptions,
  hooks: PostgresJournalHooks,
): PostgresJournal {
  const checked = checkOptions(options);
  return new PostgresJournalImpl(options, checked, openDb(options, 2), hooks);
}

class PostgresJournalImpl implements PostgresJournal {
  readonly stream: string;

  readonly #signer: Signer;
  readonly #db: Db;
  readonly #hooks: PostgresJournalHooks;
  readonly #migrate: boolean;
  readonly #core: JournalCore<MerkleAccumulator>;

  #ready: Promise<void> | undefined;
  /** Appends called and not yet settled: while there are some, a commit is coming. */
  #outstanding = 0;
  /** True while `#commit` runs (one at a time: the sink is shared). */
  #committing = false;
  /** Store writes waiting for the next commit (see internal/riders.ts). */
  #riders: Rider[] = [];

  /** How a `postgresStore` given this journal hands it the writes that may ride on its next commit. */
  readonly [RIDER_CARRIER]: RiderCarrier = {
    ride: (kind, id, alone) => {
      // Only when an append is under way: otherwise no commit may come to take the rider.
      if (this.#core.closed || this.#outstanding === 0) return undefined;
      return new Promise<void>((resolve, reject) => {
        this.#riders.push({ kind, id, alone, resolve, reject });
      });
    },
  };

  constructor(
    options: PostgresJournalOptions,
    checked: { stream: string; checkpointEvery: number; maxGroupRecords: number },
    db: Db,
    hooks: PostgresJournalHooks,
  ) {
    this.stream = checked.stream;
    this.#signer = options.signer;
    this.#db = db;
    this.#hooks = hooks;
    this.#migrate = options.migrate ?? true;
    this.#core = new JournalCore<MerkleAccumulator>({
      stream: checked.stream,
      signer: options.signer,
      checkpointEvery: checked.checkpointEvery,
      maxGroupRecords: checked.maxGroupRecords,
      ...(options.clock ? { clock: options.clock } : {}),
      // Where the chain stands is the database's to say: the first group signed onto an empty chain
      // is moved onto the stored head by its commit when the stream is not empty.
      initial: { seq: 0, hash: null, at: null, sinceCheckpoint: 0, accumulator: new MerkleAccumulator() },
      sink: {
        shared: true,
        commit: (group, rebase) => this.#commit(group, rebase),
        snapshot: (frontier) => frontier.frontier(),
      },
    });
  }

  ready(): Promise<void> {
    if (this.#core.closed) return Promise.reject(unavailable('journal is closed'));
    return this.#ensureReady();
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= this.#open().catch((err: unknown) => {
      // Not cached: a later call retries once the database is reachable again.
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /** Migrates, creates the stream's head row if missing and checks it against the last stored record. */
  async #open(): Promise<void> {
    const pool = this.#db.pool;
    if (this.#migrate) {
      try {
        await migrate(pool);
      } catch (err) {
        const code = err instanceof PostgresStoreError ? err.code : 'PG_MIGRATION_FAILED';
        throw unavailable(`cannot prepare the journal schema (${code})`, err);
      }
    }
    let head: OpenRow | undefined;
    let last: RecordRow | undefined;
    try {
      await pool.query(
        `INSERT INTO edca.journal_heads (stream, seq, hash, frontier, since_checkpoint)
         VALUES ($1, 0, NULL, '\\x'::bytea, 0) ON CONFLICT (stream) DO NOTHING`,
        [this.stream],
      );
      // One statement, one snapshot: the head and the record it names.
      const { rows } = await pool.query<OpenRow>(
        `SELECT h.seq::text AS seq, h.hash, h.last_at, h.frontier, h.since_checkpoint,
                r.seq::text AS last_seq, r.hash AS last_hash, r.bytes AS last_bytes
           FROM edca.journal_heads h
           LEFT JOIN edca.journal_records r ON r.stream = h.stream AND r.seq = h.seq
          WHERE h.stream = $1`,
        [this.stream],
      );
      head = rows[0];
      if (
        head !== undefined &&
        head.last_seq !== null &&
        head.last_hash !== null &&
        head.last_bytes !== null
      ) {
        last = { seq: head.last_seq, hash: head.last_hash, bytes: head.last_bytes };
      }
    } catch (err) {
      throw unavailable(`cannot open journal stream ${this.stream}`, err);
    }
    if (head === undefined) throw unavailable(`journal stream ${this.stream} has no head row`);
    const seq = Number(head.seq);
    if (MerkleAccumulator.fromFrontier(seq, head.frontier) === undefined) {
      throw corrupt(`journal stream ${this.stream}: the stored Merkle frontier does not fit size ${seq}`);
    }
    if (seq === 0) return;
    if (last === undefined) throw corrupt(`journal stream ${this.stream}: head seq ${seq} has no record`);
    const record = decodeRow(last, this.stream);
    if (digestBytes(last.bytes) !== head.hash) {
      throw corrupt(`journal stream ${this.stream}: head hash does not match record ${seq}`);
    }
    // The tail record's signature is checked when this instance's key made it (other instances' keys
    // are checked by `edca audit verify` against the trust file).
    if (record.kid === this.#signer.kid) {
      try {
        verifyRecord(record, this.#signer.publicKey);
      } catch (err) {
        throw corrupt(`journal stream ${this.stream}: record ${seq} fails its signature`, err);
      }
    }
  }

  append(drafts: readonly RecordDraft[]): Promise<AppendedRecord[]> {
    const appended = this.#core.append(drafts);
    this.#outstanding += 1;
    const done = (): void => {
      this.#outstanding -= 1;
      // A failed journal rejects its queued appends without a commit: their riders must not wait.
      if (this.#outstanding === 0) this.#strandedAlone();
    };
    appended.then(done, done);
    return appended;
  }

  async head(): Promise<JournalHead> {
    if (this.#core.closed) throw unavailable('journal is closed');
    await this.ready();
    try {
      const { rows } = await this.#db.pool.query<{ seq: string; hash: Digest | null }>({
        name: 'edca-journal-head',
        text: 'SELECT seq::text AS seq, hash FROM edca.journal_heads WHERE stream = $1',
        values: [this.stream],
      });
      const row = rows[0];
      if (row === undefined) throw new Error('head row missing');
      return { seq: Number(row.seq), hash: row.hash };
    } catch (err) {
      throw unavailable(`cannot read the head of journal stream ${this.stream}`, err);
    }
  }

  read(fromSeq = 1): AsyncIterable<AppendedRecord> {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1)
      throw new RangeError('fromSeq must be a positive integer');
    return this.#read(fromSeq);
  }

  /** Seals (a final checkpoint covers every record so far when this instance stops cleanly), then ends an owned pool. */
  close(): Promise<void> {
    return this.#core.shutdown(async () => {
      if (this.#db.owned) await this.#db.pool.end().catch(() => {});
    });
  }

  /**
   * The sink. Without a hook: one statement that writes the group if the head is still its base. When
   * another instance moved the head, or with a test hook: an explicit transaction that locks the
   * head row, signs the group again onto the stored head when it moved, writes and commits, so the
   * stream's lock is held for the signing and two round trips.
   */
  async #commit(
    group: JournalGroup,
    rebase: (stored: StoredChain<MerkleAccumulator>) => Promise<JournalGroup>,
  ): Promise<JournalGroup> {
    this.#committing = true;
    const riders = this.#riders.splice(0);
    try {
      const written = await this.#commitCarrying(group, rebase, riders);
      for (const r of riders) r.resolve();
      return written;
    } catch (err) {
      // Nothing of this transaction happened: the store writes its riders itself.
      runAlone(riders);
      throw err;
    } finally {
      this.#committing = false;
      // Riders that came after this commit took its own wait for the next one; when none starts
      // (the appends they saw were this commit's), the store writes them itself.
      this.#strandedAlone();
    }
  }

  /** Hands riders back to the store when no commit has started by the next turn of the loop. */
  #strandedAlone(): void {
    if (this.#riders.length === 0) return;
    setImmediate(() => {
      if (!this.#committing && this.#riders.length > 0) runAlone(this.#riders.splice(0));
    });
  }

  async #commitCarrying(
    group: JournalGroup,
    rebase: (stored: StoredChain<MerkleAccumulator>) => Promise<JournalGroup>,
    riders: readonly Rider[],
  ): Promise<JournalGroup> {
    await this.#ensureReady();
    const l = await lease(this.#db.pool);
    const client = l.client;
    // False only while an explicit transaction is open: the session is then reused only after it ended.
    let ended = true;
    try {
      if (this.#hooks.beforeCommit === undefined) {
        const moved = await this.#write(client, group, riders);
        if (moved === undefined) return group;
      }
      ended = false;
      await client.query('BEGIN');
      const { rows } = await client.query<{
        seq: string;
        hash: Digest | null;
        last_at: string | null;
        frontier: Buffer;
        since_checkpoint: number;
      }>({ name: 'edca-journal-lock', text: LOCK_SQL, values: [this.stream] });
      const head = rows[0];
      if (head === undefined) throw unavailable(`journal stream ${this.stream} has no head row`);
      const stored = this.#stored(head.seq, head.hash, head.last_at, head.frontier, head.since_checkpoint);
      const same = stored.seq === group.base.seq && stored.hash === group.base.hash;
      const written = same ? group : await rebase(stored);
      if ((await this.#write(client, written, riders)) !== undefined) {
        throw unavailable(`journal stream ${this.stream}: the head moved under its row lock`);
      }
      await this.#hooks.beforeCommit?.(client);
      await client.query('COMMIT');
      ended = true;
      return written;
    } catch (err) {
      if (!ended) {
        // An error inside the transaction leaves it aborted: roll back so the session is clean again.
        await client.query('ROLLBACK').then(
          () => {
            ended = true;
          },
          () => {},
        );
      }
      throw err;
    } finally {
      l.release(!ended);
    }
  }

  /** Runs `edca.journal_append` for a group; the stored head when it had moved (nothing written). */
  async #write(
    client: pg.PoolClient,
    group: JournalGroup,
    riders: readonly Rider[],
  ): Promise<StoredChain<MerkleAccumulator> | undefined> {
    const { tip, base, records, snapshot } = group;
    if (tip.hash === null || tip.at === null || snapshot === undefined) {
      throw new Error('invariant: a group to write has records and a frontier');
    }
    const carrying = riders.length > 0;
    const { rows } = await client.query<AppendRow>({
      name: carrying ? 'edca-journal-append-ending' : 'edca-journal-append',
      text: carrying ? APPEND_ENDING_SQL : APPEND_SQL,
      values: [
        this.stream,
        base.seq,
        tip.seq,
        tip.hash,
        tip.at,
        Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength),
        tip.sinceCheckpoint,
        records.map((r) => r.record.seq),
        records.map((r) => r.record.type),
        records.map((r) => r.hash),
        records.map((r) => Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength)),
        ...(carrying ? [idsOf(riders, 'settle'), idsOf(riders, 'release')] : []),
      ],
    });
    const row = rows[0];
    if (row === undefined) throw unavailable(`journal stream ${this.stream}: the append returned nothing`);
    if (!row.out_moved) return undefined;
    if (row.out_seq === null || row.out_frontier === null || row.out_since === null) {
      throw unavailable(`journal stream ${this.stream} has no head row`);
    }
    return this.#stored(row.out_seq, row.out_hash, row.out_last_at, row.out_frontier, row.out_since);
  }

  #stored(
    seqText: string,
    hash: string | null,
    at: string | null,
    frontierBytes: Buffer,
    since: number,
  ): StoredChain<MerkleAccumulator> {
    const seq = Number(seqText);
    const accumulator = MerkleAccumulator.fromFrontier(seq, frontierBytes);
    if (accumulator === undefined) throw corrupt(`journal stream ${this.stream}: bad Merkle frontier`);
    return { seq, hash: hash as Digest | null, at, sinceCheckpoint: since, accumulator };
  }

  async *#read(fromSeq: number): AsyncGenerator<AppendedRecord> {
    if (this.#core.closed) throw unavailable('journal is closed');
    await this.ready();
    const pool = this.#db.pool;
    // Snapshot the end now: records appended later are not part of this read.
    const head = await this.head();
    if (fromSeq > head.seq) return;
    // Start one record early so the first yielded record's prev link is checked too.
    let seq = fromSeq - 1;
    let prev: Digest | null | undefined = fromSeq === 1 ? null : undefined;
    while (seq < head.seq) {
      let rows: RecordRow[];
      try {
        const res = await pool.query<RecordRow>(
          `SELECT r.seq::text AS seq, r.hash, r.bytes FROM edca.journal_records r
            WHERE r.stream = $1 AND r.seq >= $2 AND r.seq <= $3 ORDER BY r.seq LIMIT $4`,
          [this.stream, prev === undefined ? seq : seq + 1, head.seq, READ_PAGE],
        );
        rows = res.rows;
      } catch (err) {
        throw unavailable(`cannot read journal stream ${this.stream}`, err);
      }
      if (rows.length === 0)
        throw corrupt(`journal stream ${this.stream} ends at seq ${seq}, head is ${head.seq}`);
      for (const row of rows) {
        const rowSeq = Number(row.seq);
        if (prev === undefined) {
          // The record before fromSeq: only its hash is needed.
          if (rowSeq !== seq) throw corrupt(`journal stream ${this.stream} has no record ${seq}`);
          decodeRow(row, this.stream);
          prev = digestBytes(row.bytes);
          continue;
        }
        if (rowSeq !== seq + 1) throw corrupt(`journal stream ${this.stream} has no record ${seq + 1}`);
        const record = decodeRow(row, this.stream);
        const hash = digestBytes(row.bytes);
        if (hash !== row.hash)
          throw corrupt(`journal stream ${this.stream}: record ${rowSeq} hash column differs`);
        if (prev !== undefined && record.prev !== prev) {
          throw corrupt(`journal stream ${this.stream}: record ${rowSeq} does not chain to ${seq}`);
        }
        seq = rowSeq;
        prev = hash;
        yield { record, hash, bytes: Uint8Array.from(row.bytes) };
      }
    }
  }
}

/** Decodes stored bytes strictly and checks they belong where they are stored. */
function decodeRow(row: RecordRow, stream: string): SignedRecord {
  let record: SignedRecord;
  try {
    record = decodeRecord(row.bytes);
  } catch (err) {
    throw corrupt(`journal stream ${stream}: record ${row.seq} does not decode`, err);
  }
  if (record.seq !== Number(row.seq) || record.stream !== stream) {
    throw corrupt(
      `journal stream ${stream}: record stored at ${row.seq} claims ${record.stream}#${record.seq}`,
    );
  }
  return record;
}
