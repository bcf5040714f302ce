/**
 * The `Journal` port on PostgreSQL: one hash chain per stream shared by every kernel instance.
 *
 * Appends from all instances are serialized by a row lock on the stream's `edca.journal_heads` row:
 * under that lock an instance reads the head (seq, hash, Merkle frontier), assigns seq and prev,
 * signs, inserts the exact signed bytes and moves the head, then commits. Appends from one instance
 * are grouped into one transaction (group commit). A call resolves only after COMMIT returned, with
 * `synchronous_commit` forced on for that transaction. See docs/postgres.md.
 */
import { KernelError } from '@edca/kernel';
import type { AppendedRecord, Journal, JournalHead, RecordDraft } from '@edca/kernel';
import {
  decodeRecord,
  digestBytes,
  encodeRecord,
  leafHash,
  MerkleAccumulator,
  signRecord,
  toBase64url,
  verifyRecord,
  type Digest,
  type JsonValue,
  type RecordType,
  type SignedRecord,
  type Signer,
} from '@edca/records';
import type pg from 'pg';
import { PostgresStoreError } from './errors.js';
import { lease, openDb, type ConnectionOptions, type Db } from './internal/db.js';
import { validateDrafts } from './internal/drafts.js';
import { migrate } from './migrate.js';

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
  /** Runs inside the append transaction after the head row is locked, before the insert. */
  readonly afterLock?: (client: pg.PoolClient) => Promise<void>;
}

const DEFAULT_CHECKPOINT_EVERY = 1000;
const DEFAULT_MAX_GROUP_RECORDS = 2000;
const READ_PAGE = 500;

const unavailable = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
const corrupt = (message: string, cause?: unknown): KernelError =>
  new KernelError('JOURNAL_CORRUPT', message, cause === undefined ? undefined : { cause });

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

/** One append call waiting for a group; `close` marks the sealing checkpoint of `close()`. */
interface Job {
  readonly drafts: readonly RecordDraft[];
  readonly close: boolean;
  readonly resolve: (records: AppendedRecord[]) => void;
  readonly reject: (error: unknown) => void;
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
  readonly #checkpointEvery: number;
  readonly #maxGroupRecords: number;
  readonly #clock: { now(): number };
  readonly #db: Db;
  readonly #hooks: PostgresJournalHooks;
  readonly #migrate: boolean;

  #ready: Promise<void> | undefined;
  #queue: Job[] = [];
  #pump: Promise<void> | undefined;
  #running = false;
  #failure: KernelError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(
    options: PostgresJournalOptions,
    checked: { stream: string; checkpointEvery: number; maxGroupRecords: number },
    db: Db,
    hooks: PostgresJournalHooks,
  ) {
    this.stream = checked.stream;
    this.#signer = options.signer;
    this.#checkpointEvery = checked.checkpointEvery;
    this.#maxGroupRecords = checked.maxGroupRecords;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#db = db;
    this.#hooks = hooks;
    this.#migrate = options.migrate ?? true;
  }

  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(unavailable('journal is closed'));
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
    if (this.#closed) return Promise.reject(unavailable('journal is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    try {
      validateDrafts(drafts);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    if (drafts.length === 0) return Promise.resolve([]);
    // The caller's array may change after this returns; the group signs what was validated.
    const copy = drafts.map((d): RecordDraft => ({ type: d.type, at: d.at, body: d.body }));
    return new Promise<AppendedRecord[]>((resolve, reject) => {
      this.#enqueue({ drafts: copy, close: false, resolve, reject });
    });
  }

  async head(): Promise<JournalHead> {
    if (this.#closed) throw unavailable('journal is closed');
    await this.ready();
    try {
      const { rows } = await this.#db.pool.query<{ seq: string; hash: Digest | null }>(
        'SELECT seq::text AS seq, hash FROM edca.journal_heads WHERE stream = $1',
        [this.stream],
      );
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

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    let error: Error | undefined;
    try {
      await this.#pump;
      // Seal: a final checkpoint covers every record so far when this instance stops cleanly.
      if (this.#failure === undefined && this.#ready !== undefined) {
        await new Promise<AppendedRecord[]>((resolve, reject) => {
          this.#enqueue({ drafts: [], close: true, resolve, reject });
        });
      }
      await this.#pump;
    } catch (e) {
      error = e instanceof Error ? e : unavailable('closing the journal failed', e);
    }
    if (this.#db.owned) await this.#db.pool.end().catch(() => {});
    if (error !== undefined) throw error;
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    // `#running` flips back synchronously when the loop sees an empty queue, so a job enqueued in the
    // same tick always finds a loop that will take it.
    if (!this.#running) {
      this.#running = true;
      this.#pump = this.#run();
    }
  }

  /**
   * The group-commit loop: everything queued while one transaction runs goes into the next one. Groups
   * commit strictly in order; after a failure every queued and later append is refused.
   */
  async #run(): Promise<void> {
    for (;;) {
      if (this.#queue.length === 0) {
        this.#running = false;
        return;
      }
      const jobs = this.#takeGroup();
      if (this.#failure) {
        for (const job of jobs) job.reject(this.#failure);
        continue;
      }
      let results: AppendedRecord[][];
      try {
        await this.#ensureReady();
        results = await this.#commit(jobs);
      } catch (err) {
        this.#failure ??=
          err instanceof KernelError
            ? err
            : unavailable(
                `journal append to stream ${this.stream} failed; the journal refuses appends until reopened`,
                err,
              );
        for (const job of jobs) job.reject(this.#failure);
        continue;
      }
      jobs.forEach((job, i) => job.resolve(results[i]!));
    }
  }

  /** Whole jobs from the queue, up to `maxGroupRecords` drafts (a larger single job goes alone). */
  #takeGroup(): Job[] {
    let count = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const size = this.#queue[n]!.drafts.length;
      if (n > 0 && count + size > this.#maxGroupRecords) break;
      count += size;
      n += 1;
    }
    return this.#queue.splice(0, n);
  }

  /**
   * One transaction in two round trips: (1) BEGIN, force synchronous commit, lock and read the head;
   * sign onto it here; (2) insert the records, move the head (edca.journal_advance aborts if it is not
   * where it was read) and COMMIT — durable when the reply arrives. Both are simple-protocol queries
   * with literals (escaped; bytes as hex), which is what lets the COMMIT ride with the writes: the
   * stream's lock is held for one round trip plus the signing, not four round trips.
   */
  async #commit(jobs: readonly Job[]): Promise<AppendedRecord[][]> {
    const l = await lease(this.#db.pool);
    const client = l.client;
    const lit = (text: string): string => client.escapeLiteral(text);
    const hex = (bytes: Uint8Array): string =>
      `decode('${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}', 'hex')`;
    let ended = false;
    try {
      const opened = (await client.query(
        `BEGIN; SET LOCAL synchronous_commit TO on;
         SELECT seq::text AS seq, hash, last_at, frontier, since_checkpoint FROM edca.journal_heads
          WHERE stream = ${lit(this.stream)} FOR UPDATE`,
      )) as unknown as pg.QueryResult<HeadRow>[];
      const head = opened[2]?.rows[0];
      if (head === undefined) throw unavailable(`journal stream ${this.stream} has no head row`);
      await this.#hooks.afterLock?.(client);
      const startSeq = Number(head.seq);
      const frontier = MerkleAccumulator.fromFrontier(startSeq, head.frontier);
      if (frontier === undefined) throw corrupt(`journal stream ${this.stream}: bad Merkle frontier`);
      const tip = {
        seq: startSeq,
        hash: head.hash as Digest | null,
        at: head.last_at,
        since: head.since_checkpoint,
      };
      const written: AppendedRecord[] = [];
      const results: AppendedRecord[][] = [];

      const signOne = async (type: RecordType, draftAt: string, body: JsonValue): Promise<AppendedRecord> => {
        // Several instances with their own clocks write one chain: a record is never dated before the
        // record it follows (an auditor flags time running backwards), so `at` is raised to the
        // previous record's when the caller's clock is behind.
        const at = tip.at !== null && Date.parse(draftAt) < Date.parse(tip.at) ? tip.at : draftAt;
        const record = await signRecord(
          { type, stream: this.stream, seq: tip.seq + 1, prev: tip.hash, at, body, kid: this.#signer.kid },
          this.#signer,
        );
        const bytes = encodeRecord(record);
        const hash = digestBytes(bytes);
        frontier.append(leafHash(bytes));
        tip.seq = record.seq;
        tip.hash = hash;
        tip.at = at;
        const appended = { record, hash, bytes };
        written.push(appended);
        return appended;
      };
      const checkpoint = async (): Promise<void> => {
        const at = new Date(this.#clock.now()).toISOString();
        await signOne('checkpoint', at, { size: frontier.size, root: toBase64url(frontier.root()) });
        tip.since = 0;
      };

      for (const job of jobs) {
        const records: AppendedRecord[] = [];
        for (const draft of job.drafts) {
          records.push(await signOne(draft.type, draft.at, draft.body));
          tip.since += 1;
          if (tip.since >= this.#checkpointEvery) await checkpoint();
        }
        if (job.close && tip.since > 0) await checkpoint();
        results.push(records);
      }
      if (written.length === 0 || tip.hash === null || tip.at === null) {
        await client.query('ROLLBACK');
        ended = true;
        return results;
      }
      const values = written
        .map(
          (r) =>
            `(${lit(this.stream)}, ${r.record.seq}, ${lit(r.record.type)}, ${lit(r.hash)}, ${hex(r.bytes)})`,
        )
        .join(',\n');
      await client.query(
        `INSERT INTO edca.journal_records (stream, seq, type, hash, bytes) VALUES ${values};
         SELECT edca.journal_advance(${lit(this.stream)}, ${startSeq}, ${tip.seq}, ${lit(tip.hash)}, ${lit(tip.at)},
                                     ${hex(frontier.frontier())}, ${tip.since});
         COMMIT`,
      );
      ended = true;
      return results;
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

  async *#read(fromSeq: number): AsyncGenerator<AppendedRecord> {
    if (this.#closed) throw unavailable('journal is closed');
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
