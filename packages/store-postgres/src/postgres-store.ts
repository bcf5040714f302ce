/**
 * `KernelStore` on PostgreSQL: the state that must hold across every kernel instance sharing one
 * database. Each method is one statement or one short transaction; see docs/postgres.md (locking).
 */
import { KernelError } from '@edca/kernel';
import type {
  AddApproverResult,
  ApprovalStatus,
  ApproverEntry,
  KernelStore,
  PendingApproval,
  PendingApprovalInit,
  Reservation,
  ReserveResult,
} from '@edca/kernel';
import type pg from 'pg';
import { Batcher } from './internal/batcher.js';
import { inTransaction, openDb, sqlState, type ConnectionOptions } from './internal/db.js';
import { PostgresStoreError } from './errors.js';
import { leaseMethods } from './leases.js';
import { migrate } from './migrate.js';
import { RIDER_CARRIER, type RiderCarrier } from './internal/riders.js';
import type { PostgresJournal } from './postgres-journal.js';

/** Options of `postgresStore`: a connection (URL or pool) and whether to migrate the schema first. */
export type PostgresStoreOptions = ConnectionOptions & {
  /** Run `migrate()` before the first call (default true). */
  readonly migrate?: boolean;
  /**
   * `'off'`: the batched writes of the decide and execute paths (reserve, consume, pin, settle,
   * release) commit without waiting for their WAL flush, which also frees the counters' row locks
   * one flush earlier. Safe only when the journal writes to the same PostgreSQL server: every such
   * write a permit or an execution depends on is followed by a journal append, whose synchronous
   * commit flushes the WAL written before it (docs/postgres.md, "Store commits"). Default `'on'`:
   * the server's or role's own `synchronous_commit` applies.
   */
  readonly synchronousCommit?: 'on' | 'off';
  /**
   * A `postgresJournal` on the same database: the settles and releases that end executions' holds
   * are then written by the statement of its next append instead of one of their own, when an
   * append is under way; otherwise, or if that append fails,
   * by the store's own statement. docs/postgres.md, "Store writes on journal appends".
   */
  readonly journal?: PostgresJournal;
};

interface ApprovalRow {
  id: string;
  action_hash: string;
  required_count: number;
  required_role: string;
  created_at: string;
  expires_at: string;
  status: ApprovalStatus;
  resolved_at: string | null;
  approvers: ApproverEntry[];
}

const APPROVAL_SELECT = `
  SELECT a.id, a.action_hash, a.required_count, a.required_role, a.created_at, a.expires_at, a.status,
         a.resolved_at,
         COALESCE((SELECT json_agg(json_build_object('kid', p.kid, 'role', p.role, 'record', p.record, 'at', p.at)
                                   ORDER BY p.ord)
                     FROM edca.approval_approvers p WHERE p.approval_id = a.id), '[]'::json) AS approvers
    FROM edca.approvals a`;

const toApproval = (row: ApprovalRow): PendingApproval => ({
  id: row.id,
  actionHash: row.action_hash,
  required: { count: row.required_count, role: row.required_role },
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  status: row.status,
  approvers: row.approvers.map((a) => ({ kid: a.kid, role: a.role, record: a.record, at: a.at })),
  resolvedAt: row.resolved_at,
});

// Class 22 (data exception: a malformed timestamp or number) and 23 (integrity) mean the caller
// passed something the contract does not allow; everything else means the database is not usable.
const toKernelError = (err: unknown, what: string): KernelError => {
  if (err instanceof KernelError) return err;
  const state = sqlState(err);
  if (state !== undefined && (state.startsWith('22') || state.startsWith('23'))) {
    return new KernelError('STORE_MISUSE', `${what}: the database refused the arguments (${state})`, {
      cause: err,
    });
  }
  return new KernelError('STORE_UNAVAILABLE', `${what}: the PostgreSQL store is unavailable`, { cause: err });
};

const decimal = (n: number): string => String(n);

/** One `reserve` call waiting for its batch. */
interface ReserveCall {
  readonly wanted: readonly Reservation[];
  readonly now: number;
}

/** One `consumeAndPin` call waiting for its batch. */
interface ConsumePinCall {
  readonly hash: string;
  readonly at: string;
  readonly ids: readonly string[];
}

/** What `edca.reserve_many` said of one call. */
type ReserveAnswer = ReserveResult | { readonly reused: true };

/**
 * The batched statements of the store. Calls of one kind made while a statement of that kind is in
 * flight share the next one (see internal/batcher.ts); every statement is a named (prepared) query.
 */
function batchedStatements(pool: pg.Pool, asyncCommit: boolean) {
  // With asyncCommit, each write statement sets synchronous_commit off for its own (implicit)
  // transaction: set_config(…, true) is transaction-local and read when that transaction commits.
  const noFlush = asyncCommit ? ", set_config('synchronous_commit', 'off', true) AS no_flush" : '';
  const suffix = asyncCommit ? '-async' : '';
  const consume = new Batcher<{ hash: string; at: string }, boolean>(async (items) => {
    // Only the first of several calls for one permit in a batch can be the one that consumed it.
    const first = new Map<string, number>();
    items.forEach((c, i) => {
      if (!first.has(c.hash)) first.set(c.hash, i);
    });
    const hashes = [...first.keys()];
    const { rows } = await pool.query<{ permit_hash: string }>({
      name: `edca-consume-permits${suffix}`,
      // RETURNING is evaluated for every inserted row; with no row inserted nothing is written.
      text: `INSERT INTO edca.consumed_permits (permit_hash, consumed_at)
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (permit_hash) DO NOTHING
             RETURNING permit_hash${noFlush}`,
      values: [hashes, hashes.map((h) => items[first.get(h)!]!.at)],
    });
    const inserted = new Set(rows.map((r) => r.permit_hash));
    return items.map((c, i) => first.get(c.hash) === i && inserted.has(c.hash));
  });

  // Consume and pin in one statement (migration 9): a call pins its holds only if it consumed.
  const consumePin = new Batcher<ConsumePinCall, boolean>(async (items) => {
    const first = new Map<string, number>();
    items.forEach((c, i) => {
      if (!first.has(c.hash)) first.set(c.hash, i);
    });
    const hashes: string[] = [];
    const ats: string[] = [];
    const ids: string[] = [];
    const owners: string[] = [];
    for (const [hash, i] of first) {
      const call = items[i]!;
      hashes.push(hash);
      ats.push(call.at);
      for (const id of new Set(call.ids)) {
        ids.push(id);
        owners.push(hash);
      }
    }
    const { rows } = await pool.query<{ won: string }>({
      name: `edca-consume-pin${suffix}`,
      text: `SELECT won${noFlush} FROM edca.consume_pin_many($1::text[], $2::text[], $3::text[], $4::text[]) AS won`,
      values: [hashes, ats, ids, owners],
    });
    const won = new Set(rows.map((r) => r.won));
    return items.map((c, i) => first.get(c.hash) === i && won.has(c.hash));
  });

  const consumed = new Batcher<string, boolean>(async (hashes) => {
    const { rows } = await pool.query<{ permit_hash: string }>({
      name: 'edca-permits-consumed',
      text: 'SELECT permit_hash FROM edca.consumed_permits WHERE permit_hash = ANY ($1::text[])',
      values: [[...new Set(hashes)]],
    });
    const found = new Set(rows.map((r) => r.permit_hash));
    return hashes.map((h) => found.has(h));
  });

  const usage = new Batcher<{ counter: string; now: number }, number>(
    async (items) => {
      const { rows } = await pool.query<{ used: string }>({
        name: 'edca-usage',
        // The counter's running held total (migration 7), corrected by the holds between its sweep
        // and this call's now: a short index range on one side or the other.
        text: `SELECT COALESCE(k.settled + k.held
                 - COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                              WHERE h.counter = u.c AND NOT h.settled
                                AND h.hold_until > k.swept_until AND h.hold_until <= u.n), 0)
                 + COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                              WHERE h.counter = u.c AND NOT h.settled
                                AND h.hold_until > u.n AND h.hold_until <= k.swept_until), 0), 0)::text AS used
                 FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(c, n, ord)
                 LEFT JOIN edca.limit_counters k ON k.counter = u.c
                ORDER BY u.ord`,
        values: [items.map((u) => u.counter), items.map((u) => u.now)],
      });
      return rows.map((r) => Number(r.used));
    },
    { maxInFlight: 2 },
  );

  const reserve = new Batcher<ReserveCall, ReserveAnswer>(async (calls) => {
    const req: number[] = [];
    const flat: Reservation[] = [];
    calls.forEach((c, i) => {
      for (const r of c.wanted) {
        req.push(i + 1);
        flat.push(r);
      }
    });
    const values = [
      req,
      flat.map((r) => r.id),
      flat.map((r) => r.counter),
      flat.map((r) => decimal(r.amount)),
      flat.map((r) => decimal(r.max)),
      flat.map((r) => r.holdUntil),
      calls.map((c) => c.now),
    ];
    for (let round = 0; round < 3; round += 1) {
      const { rows } = await pool.query<{
        out_req: number | null;
        out_status: string;
        out_counter: string | null;
        out_usage: string | null;
      }>({
        name: `edca-reserve-many${suffix}`,
        // reserve_many returns at least one row, so the setting is made whenever it wrote anything.
        text: `SELECT out_req, out_status, out_counter, out_usage::text AS out_usage${noFlush}
                 FROM edca.reserve_many($1::integer[], $2::text[], $3::text[], $4::numeric[], $5::numeric[],
                                        $6::bigint[], $7::bigint[])`,
        values,
      });
      if (rows.length === 1 && rows[0]!.out_status === 'missing') {
        // Create the counter rows in their own short transaction, then reserve again.
        await pool.query({
          name: 'edca-create-counters',
          text: `INSERT INTO edca.limit_counters (counter) SELECT x FROM unnest($1::text[]) AS x ORDER BY x
                 ON CONFLICT (counter) DO NOTHING`,
          values: [[...new Set(flat.map((r) => r.counter))].sort()],
        });
        continue;
      }
      const answers = new Map<number, ReserveAnswer>();
      for (const row of rows) {
        if (row.out_req === null) continue;
        if (row.out_status === 'ok') answers.set(row.out_req, { ok: true });
        else if (row.out_status === 'reused') answers.set(row.out_req, { reused: true });
        else if (row.out_status === 'refused') {
          answers.set(row.out_req, {
            ok: false,
            counter: row.out_counter ?? '',
            usage: Number(row.out_usage ?? '0'),
          });
        }
      }
      return calls.map((_, i) => {
        const answer = answers.get(i + 1);
        if (answer === undefined) throw new KernelError('STORE_UNAVAILABLE', 'reserve: no answer');
        return answer;
      });
    }
    throw new KernelError('STORE_UNAVAILABLE', 'reserve: counter rows keep vanishing');
  });

  const byIds = (name: string, text: string) =>
    new Batcher<string, undefined>(async (ids) => {
      await pool.query({ name, text, values: [[...new Set(ids)]] });
      return ids.map(() => undefined);
    });
  // A pinned hold's hold_until becomes the largest bigint: it counts until settle or release.
  const pin = byIds(`edca-pin${suffix}`, `SELECT edca.pin_many($1::text[])${noFlush}`);
  const settle = byIds(`edca-settle${suffix}`, `SELECT edca.settle_many($1::text[])${noFlush}`);
  const release = byIds(`edca-release${suffix}`, `SELECT edca.release_many($1::text[])${noFlush}`);
  return { consume, consumePin, consumed, usage, reserve, pin, settle, release };
}

/**
 * Creates the PostgreSQL `KernelStore`: consumed-permit markers, pending approvals and limit counters
 * shared by every kernel instance on the same database. The pool opens lazily; the schema is migrated
 * before the first call unless `migrate: false`.
 * @example const store = postgresStore({ connectionString: process.env.DATABASE_URL! });
 * @throws PostgresStoreError PG_CONFIG_INVALID for malformed options (synchronously); the returned
 *   store's methods reject with KernelError STORE_UNAVAILABLE or STORE_MISUSE as the port says.
 */
export function postgresStore(options: PostgresStoreOptions): KernelStore {
  const db = openDb(options, 10);
  const commit = (options as { synchronousCommit?: unknown }).synchronousCommit ?? 'on';
  if (commit !== 'on' && commit !== 'off') {
    throw new PostgresStoreError('PG_CONFIG_INVALID', "synchronousCommit must be 'on' or 'off'");
  }
  const pool = db.pool;
  const batched = batchedStatements(pool, commit === 'off');
  let carrier: RiderCarrier | undefined;
  if (options.journal !== undefined) {
    carrier = (options.journal as Partial<Record<typeof RIDER_CARRIER, RiderCarrier>>)[RIDER_CARRIER];
    if (carrier === undefined)
      throw new PostgresStoreError('PG_CONFIG_INVALID', 'journal must be a postgresJournal of this package');
  }
  // A settle or release rides on the journal's next append when one is under way.
  const ending = (kind: 'settle' | 'release', id: string): Promise<void> => {
    const alone = (): Promise<void> => batched[kind].call(id);
    return carrier?.ride(kind, id, alone) ?? alone();
  };
  let closed = false;
  let ready: Promise<void> | undefined;

  const ensureReady = (): Promise<void> => {
    ready ??= (options.migrate === false ? Promise.resolve() : migrate(pool).then(() => undefined)).catch(
      (err: unknown) => {
        ready = undefined; // a later call may retry once the database is back
        throw err;
      },
    );
    return ready;
  };

  const run = async <T>(what: string, body: (pool: pg.Pool) => Promise<T>): Promise<T> => {
    if (closed) throw new KernelError('STORE_UNAVAILABLE', `${what}: the PostgreSQL store was closed`);
    try {
      await ensureReady();
      return await body(pool);
    } catch (err) {
      throw toKernelError(err, what);
    }
  };

  const readApproval = async (
    q: pg.Pool | pg.PoolClient,
    id: string,
  ): Promise<PendingApproval | undefined> => {
    const { rows } = await q.query<ApprovalRow>(`${APPROVAL_SELECT} WHERE a.id = $1`, [id]);
    const row = rows[0];
    return row === undefined ? undefined : toApproval(row);
  };

  const mustApproval = (found: PendingApproval | undefined, id: string): PendingApproval => {
    if (found === undefined) throw new KernelError('STORE_MISUSE', `no approval ${id}`);
    return found;
  };

  return {
    ...leaseMethods(run),
    // The primary key makes a consume true for exactly one caller across all instances.
    consumePermit: (permitHash, at) =>
      run('consumePermit', () => batched.consume.call({ hash: permitHash, at })),

    // One statement for both: the holds are pinned only by the call that consumed the permit.
    consumeAndPin: (permitHash, at, reservationIds) =>
      run('consumeAndPin', () => batched.consumePin.call({ hash: permitHash, at, ids: reservationIds })),

    isPermitConsumed: (permitHash) => run('isPermitConsumed', () => batched.consumed.call(permitHash)),

    createApproval: (init: PendingApprovalInit) =>
      run('createApproval', async (p) => {
        if (!Number.isInteger(init.required.count) || init.required.count < 1) {
          throw new KernelError('STORE_MISUSE', 'an approval needs a positive integer count');
        }
        await p.query(
          `INSERT INTO edca.approvals (id, action_hash, required_count, required_role, created_at, expires_at,
                                       expires_at_ts, status)
           VALUES ($1, $2, $3, $4, $5, $6::text, $6::text::timestamptz, 'pending')
           ON CONFLICT (id) DO NOTHING`,
          [init.id, init.actionHash, init.required.count, init.required.role, init.createdAt, init.expiresAt],
        );
        return mustApproval(await readApproval(p, init.id), init.id);
      }),

    getApproval: (id) => run('getApproval', (p) => readApproval(p, id)),

    addApprover: (id: string, approver: ApproverEntry) =>
      run('addApprover', (p) =>
        inTransaction(p, async (c): Promise<AddApproverResult> => {
          // The row lock orders this against resolveApproval and other approvers of the same approval.
          const lock = await c.query<{ status: ApprovalStatus }>(
            'SELECT status FROM edca.approvals WHERE id = $1 FOR UPDATE',
            [id],
          );
          const status = lock.rows[0]?.status;
          if (status === undefined) throw new KernelError('STORE_MISUSE', `no approval ${id}`);
          let added = false;
          if (status === 'pending') {
            const ins = await c.query(
              `INSERT INTO edca.approval_approvers (approval_id, kid, role, record, at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (approval_id, kid) DO NOTHING`,
              [id, approver.kid, approver.role, approver.record, approver.at],
            );
            added = ins.rowCount === 1;
          }
          return { approval: mustApproval(await readApproval(c, id), id), added };
        }),
      ),

    resolveApproval: (id: string, status: Exclude<ApprovalStatus, 'pending'>, at: string) =>
      run('resolveApproval', async (p) => {
        if (!['approved', 'rejected', 'expired'].includes(status)) {
          throw new KernelError('STORE_MISUSE', `cannot resolve an approval to ${String(status)}`);
        }
        // Compare-and-set: only the call that finds it pending changes it.
        await p.query(
          `UPDATE edca.approvals SET status = $2, resolved_at = $3 WHERE id = $1 AND status = 'pending'`,
          [id, status, at],
        );
        return mustApproval(await readApproval(p, id), id);
      }),

    listExpiredApprovals: (now) =>
      run('listExpiredApprovals', async (p) => {
        const { rows } = await p.query<ApprovalRow>(
          `${APPROVAL_SELECT} WHERE a.status = 'pending' AND a.expires_at_ts <= $1::timestamptz
           ORDER BY a.expires_at_ts, a.id`,
          [now],
        );
        return rows.map(toApproval);
      }),

    reserve: (wanted: readonly Reservation[], now: number) =>
      run('reserve', async (): Promise<ReserveResult> => {
        const ids = new Set<string>();
        for (const r of wanted) {
          if (ids.has(r.id)) throw new KernelError('STORE_MISUSE', `reservation id ${r.id} reused`);
          ids.add(r.id);
          if (!Number.isFinite(r.amount) || r.amount < 0) {
            throw new KernelError('STORE_MISUSE', `reservation ${r.id} has a bad amount`);
          }
          if (!Number.isFinite(r.max) || !Number.isSafeInteger(r.holdUntil)) {
            throw new KernelError('STORE_MISUSE', `reservation ${r.id} has a bad max or holdUntil`);
          }
        }
        if (wanted.length === 0) return { ok: true };
        if (!Number.isSafeInteger(now))
          throw new KernelError('STORE_MISUSE', 'now must be epoch milliseconds');
        const answer = await batched.reserve.call({ wanted, now });
        if ('reused' in answer) throw new KernelError('STORE_MISUSE', 'a reservation id is already in use');
        return answer;
      }),

    pin: (reservationId) => run('pin', () => batched.pin.call(reservationId)),

    settle: (reservationId) => run('settle', () => ending('settle', reservationId)),

    release: (reservationId) => run('release', () => ending('release', reservationId)),

    usage: (counter, now) => run('usage', () => batched.usage.call({ counter, now })),

    close: async () => {
      if (closed) return;
      closed = true;
      if (db.owned) await pool.end();
    },
  };
}
