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
import { inTransaction, openDb, sqlState, type ConnectionOptions } from './internal/db.js';
import { leaseMethods } from './leases.js';
import { migrate } from './migrate.js';

/** Options of `postgresStore`: a connection (URL or pool) and whether to migrate the schema first. */
export type PostgresStoreOptions = ConnectionOptions & {
  /** Run `migrate()` before the first call (default true). */
  readonly migrate?: boolean;
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
  const pool = db.pool;
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
    consumePermit: (permitHash, at) =>
      run('consumePermit', async (p) => {
        // The primary key makes this true for exactly one caller across all instances.
        const r = await p.query(
          `INSERT INTO edca.consumed_permits (permit_hash, consumed_at) VALUES ($1, $2)
           ON CONFLICT (permit_hash) DO NOTHING`,
          [permitHash, at],
        );
        return r.rowCount === 1;
      }),

    isPermitConsumed: (permitHash) =>
      run('isPermitConsumed', async (p) => {
        const r = await p.query('SELECT 1 FROM edca.consumed_permits WHERE permit_hash = $1', [permitHash]);
        return r.rowCount === 1;
      }),

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
      run('reserve', async (p): Promise<ReserveResult> => {
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
        const counters = [...new Set(wanted.map((r) => r.counter))].sort();
        const args = [
          wanted.map((r) => r.id),
          wanted.map((r) => r.counter),
          wanted.map((r) => decimal(r.amount)),
          wanted.map((r) => decimal(r.max)),
          wanted.map((r) => r.holdUntil),
          now,
        ];
        // One statement, one round trip (edca.reserve, migration 3): lock the counters in sorted
        // order, check, insert all or none, commit.
        for (let round = 0; round < 3; round += 1) {
          const { rows } = await p.query<{
            out_status: string;
            out_counter: string | null;
            out_usage: string | null;
          }>(
            `SELECT out_status, out_counter, out_usage::text AS out_usage
               FROM edca.reserve($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::bigint[], $6::bigint)`,
            args,
          );
          const row = rows[0];
          if (row === undefined) throw new KernelError('STORE_UNAVAILABLE', 'reserve: no answer');
          if (row.out_status === 'ok') return { ok: true };
          if (row.out_status === 'refused') {
            return { ok: false, counter: row.out_counter ?? '', usage: Number(row.out_usage ?? '0') };
          }
          if (row.out_status === 'reused')
            throw new KernelError('STORE_MISUSE', 'a reservation id is already in use');
          // 'missing': create the counter rows in their own short transaction, then reserve again.
          await p.query(
            `INSERT INTO edca.limit_counters (counter) SELECT x FROM unnest($1::text[]) AS x ORDER BY x
             ON CONFLICT (counter) DO NOTHING`,
            [counters],
          );
        }
        throw new KernelError('STORE_UNAVAILABLE', 'reserve: counter rows keep vanishing');
      }),

    pin: (reservationId) =>
      run('pin', async (p) => {
        // The largest bigint: the hold counts until settle or release, like a settled amount.
        await p.query(
          'UPDATE edca.limit_reservations SET hold_until = 9223372036854775807 WHERE id = $1 AND NOT settled',
          [reservationId],
        );
      }),

    settle: (reservationId) =>
      run('settle', async (p) => {
        // One statement: the hold becomes permanent and its amount moves into the counter's settled
        // total atomically; a second call finds nothing unsettled and changes nothing.
        await p.query(
          `WITH s AS (
             UPDATE edca.limit_reservations SET settled = true WHERE id = $1 AND NOT settled RETURNING counter, amount
           )
           UPDATE edca.limit_counters k SET settled = k.settled + s.amount FROM s WHERE k.counter = s.counter`,
          [reservationId],
        );
      }),

    release: (reservationId) =>
      run('release', async (p) => {
        await p.query('DELETE FROM edca.limit_reservations WHERE id = $1 AND NOT settled', [reservationId]);
      }),

    usage: (counter, now) =>
      run('usage', async (p) => {
        const { rows } = await p.query<{ used: string | null }>(
          `SELECT (COALESCE((SELECT settled FROM edca.limit_counters WHERE counter = $1), 0)
                   + COALESCE((SELECT sum(amount) FROM edca.limit_reservations
                                WHERE counter = $1 AND NOT settled AND hold_until > $2), 0))::text AS used`,
          [counter, now],
        );
        return Number(rows[0]?.used ?? '0');
      }),

    close: async () => {
      if (closed) return;
      closed = true;
      if (db.owned) await pool.end();
    },
  };
}
