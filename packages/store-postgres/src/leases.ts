/**
 * Instance leases (issue 13.6): one row per kernel instance with the instant its lease ends. An
 * instance renews its own row while it runs; another instance may resolve the attempts it left
 * without an outcome only after that instant (docs/postgres.md, "Instances and keys").
 */
import type pg from 'pg';

/** The schema migration that creates the lease table. */
export const LEASES_MIGRATION = `
CREATE TABLE edca.instance_leases (
  instance  text PRIMARY KEY CHECK (length(instance) BETWEEN 1 AND 200),
  until_ms  bigint NOT NULL
);
`;

/** The store methods of leases, over a `run` that maps errors to STORE_UNAVAILABLE. */
export function leaseMethods(run: <T>(what: string, body: (pool: pg.Pool) => Promise<T>) => Promise<T>): {
  renewLease(instance: string, untilMs: number): Promise<void>;
  leaseOf(instance: string): Promise<number | null>;
} {
  return {
    renewLease: (instance, untilMs) =>
      run('renewLease', async (p) => {
        await p.query(
          `INSERT INTO edca.instance_leases (instance, until_ms) VALUES ($1, $2)
           ON CONFLICT (instance) DO UPDATE SET until_ms = EXCLUDED.until_ms`,
          [instance, Math.trunc(untilMs)],
        );
      }),
    leaseOf: (instance) =>
      run('leaseOf', async (p) => {
        const { rows } = await p.query<{ until_ms: string }>(
          'SELECT until_ms::text FROM edca.instance_leases WHERE instance = $1',
          [instance],
        );
        return rows[0] === undefined ? null : Number(rows[0].until_ms);
      }),
  };
}
