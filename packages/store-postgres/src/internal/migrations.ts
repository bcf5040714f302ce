import { LEASES_MIGRATION } from '../leases.js';
import { HELD_TOTALS_MIGRATION } from './held-totals.js';
import { RESERVE_ARRAYS_MIGRATION } from './reserve-arrays.js';
import { CONSUME_PIN_MIGRATION } from './consume-pin.js';
/**
 * The schema, as ordered migrations shipped inside the package (strings, so `dist/` needs no data
 * files). A migration is never edited once released: its SHA-256 is recorded in
 * `edca.schema_migrations` and `migrate()` refuses a database whose recorded checksum differs.
 * Add a new version instead.
 */

/** One schema step. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const journal = `
CREATE TABLE edca.journal_heads (
  stream           text PRIMARY KEY,
  -- seq and hash of the last committed record (0 / NULL when the stream is empty)
  seq              bigint NOT NULL CHECK (seq >= 0),
  hash             text,
  -- \`at\` of the last record: a later record is never dated earlier (instances' clocks differ)
  last_at          text,
  -- RFC 6962 compact range over records 1..seq: the roots of its perfect subtrees, left to right,
  -- 32 bytes each (one per set bit of seq), so any instance can extend the tree and sign a checkpoint
  frontier         bytea NOT NULL,
  -- records appended since the last checkpoint (checkpoints not counted)
  since_checkpoint integer NOT NULL CHECK (since_checkpoint >= 0),
  CHECK ((seq = 0) = (hash IS NULL)),
  CHECK ((seq = 0) = (last_at IS NULL)),
  CHECK (length(frontier) % 32 = 0)
);

CREATE TABLE edca.journal_records (
  stream     text NOT NULL REFERENCES edca.journal_heads (stream),
  seq        bigint NOT NULL CHECK (seq >= 1),
  type       text NOT NULL,
  -- recordHash(record) of these bytes, for indexed look-ups; readers recompute it from the bytes
  hash       text NOT NULL,
  -- the exact signed bytes (encodeRecord: canonical JSON, no newline)
  bytes      bytea NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream, seq)
);

-- Append-only: the database itself refuses to change or remove a journaled record.
CREATE FUNCTION edca.refuse_journal_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'edca journal records are append-only' USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER journal_records_append_only BEFORE UPDATE OR DELETE ON edca.journal_records
  FOR EACH ROW EXECUTE FUNCTION edca.refuse_journal_change();
CREATE TRIGGER journal_records_no_truncate BEFORE TRUNCATE ON edca.journal_records
  FOR EACH STATEMENT EXECUTE FUNCTION edca.refuse_journal_change();
`;

const kernelStore = `
CREATE TABLE edca.consumed_permits (
  permit_hash text PRIMARY KEY,
  consumed_at text NOT NULL,
  written_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE edca.approvals (
  id             text PRIMARY KEY,
  action_hash    text NOT NULL,
  required_count integer NOT NULL CHECK (required_count >= 1),
  required_role  text NOT NULL,
  created_at     text NOT NULL,
  expires_at     text NOT NULL,
  expires_at_ts  timestamptz NOT NULL,
  status         text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  resolved_at    text,
  CHECK ((status = 'pending') = (resolved_at IS NULL))
);
CREATE INDEX approvals_pending_expiry ON edca.approvals (expires_at_ts) WHERE status = 'pending';

CREATE TABLE edca.approval_approvers (
  approval_id text NOT NULL REFERENCES edca.approvals (id),
  kid         text NOT NULL,
  role        text NOT NULL,
  record      text NOT NULL,
  at          text NOT NULL,
  ord         bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (approval_id, kid)
);

-- One row per counter: the row lock serializes check-and-reserve across instances, and settled
-- usage is kept here so a check reads one row plus the few outstanding holds.
CREATE TABLE edca.limit_counters (
  counter text PRIMARY KEY,
  settled numeric NOT NULL DEFAULT 0 CHECK (settled >= 0)
);

CREATE TABLE edca.limit_reservations (
  id         text PRIMARY KEY,
  counter    text NOT NULL REFERENCES edca.limit_counters (counter),
  amount     numeric NOT NULL CHECK (amount >= 0),
  hold_until bigint NOT NULL,
  settled    boolean NOT NULL DEFAULT false
);
CREATE INDEX limit_reservations_held ON edca.limit_reservations (counter, hold_until) WHERE NOT settled;
`;

// Check-and-reserve in one round trip: the counter rows are locked in one global order (sorted), so
// instances reserving overlapping counters queue instead of deadlocking; under the locks the usage
// (settled + unexpired holds) cannot change, every reservation is checked in the caller's order in
// exact decimal arithmetic, and all are inserted or none. Missing counter rows are reported
// ('missing') rather than created here: the caller creates them in their own short transaction, so
// no transaction ever waits on another's uncommitted insert while holding counter locks.
const reserveFunction = `
CREATE FUNCTION edca.reserve(p_ids text[], p_counters text[], p_amounts numeric[], p_maxes numeric[],
                             p_holds bigint[], p_now bigint)
RETURNS TABLE (out_status text, out_counter text, out_usage numeric)
LANGUAGE plpgsql AS $fn$
DECLARE
  n_distinct integer;
  n_locked integer;
  r record;
BEGIN
  SELECT count(DISTINCT x) INTO n_distinct FROM unnest(p_counters) AS x;
  SELECT count(*) INTO n_locked
    FROM (SELECT 1 FROM edca.limit_counters k WHERE k.counter = ANY (p_counters) ORDER BY k.counter FOR UPDATE) AS l;
  IF n_locked < n_distinct THEN
    RETURN QUERY SELECT 'missing'::text, NULL::text, NULL::numeric;
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM edca.limit_reservations x WHERE x.id = ANY (p_ids)) THEN
    RETURN QUERY SELECT 'reused'::text, NULL::text, NULL::numeric;
    RETURN;
  END IF;
  FOR r IN
    WITH req AS (
      SELECT q.counter, q.amount, q.max, q.ord
        FROM unnest(p_counters, p_amounts, p_maxes) WITH ORDINALITY AS q(counter, amount, max, ord)
    ), used AS (
      SELECT k.counter,
             k.settled + COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                    WHERE h.counter = k.counter AND NOT h.settled AND h.hold_until > p_now), 0) AS used
        FROM edca.limit_counters k WHERE k.counter = ANY (p_counters)
    )
    SELECT q.counter,
           u.used + COALESCE(sum(q.amount) OVER (PARTITION BY q.counter ORDER BY q.ord
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
           q.amount, q.max, q.ord
      FROM req q JOIN used u ON u.counter = q.counter
     ORDER BY q.ord
  LOOP
    IF r.before + r.amount > r.max THEN
      RETURN QUERY SELECT 'refused'::text, r.counter, r.before;
      RETURN;
    END IF;
  END LOOP;
  INSERT INTO edca.limit_reservations (id, counter, amount, hold_until)
  SELECT * FROM unnest(p_ids, p_counters, p_amounts, p_holds);
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::numeric;
END
$fn$;

-- Moves a journal head inside the append transaction, and aborts it (so its COMMIT never runs) if
-- the head is not where the appender read it under the row lock.
CREATE FUNCTION edca.journal_advance(p_stream text, p_old bigint, p_seq bigint, p_hash text, p_at text,
                                     p_frontier bytea, p_since integer)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE edca.journal_heads
     SET seq = p_seq, hash = p_hash, last_at = p_at, frontier = p_frontier, since_checkpoint = p_since
   WHERE stream = p_stream AND seq = p_old;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'edca journal head of % moved under its lock', p_stream USING ERRCODE = 'serialization_failure';
  END IF;
END
$fn$;
`;

// A group append in one statement (so one round trip, committed as its own transaction): move the
// head only if it is still where the appender's group starts, then insert the group's records.
// When another instance moved the head first, nothing is written and the head as stored is
// returned, for the appender to sign the group again onto it. synchronous_commit is forced on for
// this transaction, so the commit that ends it waits for the WAL flush whatever the session says.
const journalAppendFunction = `
CREATE FUNCTION edca.journal_append(p_stream text, p_old bigint, p_seq bigint, p_hash text, p_at text,
                                    p_frontier bytea, p_since integer, p_seqs bigint[], p_types text[],
                                    p_hashes text[], p_bytes bytea[])
RETURNS TABLE (out_moved boolean, out_seq text, out_hash text, out_last_at text, out_frontier bytea,
               out_since integer)
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('synchronous_commit', 'on', true);
  IF cardinality(p_seqs) <> p_seq - p_old OR p_seqs[1] <> p_old + 1 THEN
    RAISE EXCEPTION 'edca journal group for % does not continue its head', p_stream
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE edca.journal_heads
     SET seq = p_seq, hash = p_hash, last_at = p_at, frontier = p_frontier, since_checkpoint = p_since
   WHERE stream = p_stream AND seq = p_old;
  IF FOUND THEN
    INSERT INTO edca.journal_records (stream, seq, type, hash, bytes)
    SELECT p_stream, u.s, u.t, u.h, u.b FROM unnest(p_seqs, p_types, p_hashes, p_bytes) AS u(s, t, h, b);
    RETURN QUERY SELECT false, NULL::text, NULL::text, NULL::text, NULL::bytea, NULL::integer;
    RETURN;
  END IF;
  RETURN QUERY SELECT true, h.seq::text, h.hash, h.last_at, h.frontier, h.since_checkpoint
                 FROM edca.journal_heads h WHERE h.stream = p_stream;
END
$fn$;
`;

// Check-and-reserve for several independent requests in one statement (the calls of concurrent
// decides, batched): every counter of the batch is locked once, in the same global (sorted) order
// as edca.reserve, and the requests are then checked and inserted one after another in request
// order, each all or none, each seeing the holds of the requests before it. A counter's held sum is
// scanned once, at the batch's earliest now; a request with a later now subtracts the holds that
// lapsed in between (a short index range) and adds the unexpired holds of earlier requests. One row
// per request: 'ok', 'refused' (with the counter and its usage) or 'reused'; one 'missing' row
// (request NULL) when a counter row does not exist yet (the caller creates it and calls again).
const reserveManyFunction = `
CREATE FUNCTION edca.reserve_many(p_req integer[], p_ids text[], p_counters text[], p_amounts numeric[],
                                  p_maxes numeric[], p_holds bigint[], p_nows bigint[])
RETURNS TABLE (out_req integer, out_status text, out_counter text, out_usage numeric)
LANGUAGE plpgsql AS $fn$
DECLARE
  n_distinct integer;
  n_locked integer;
  n0 bigint;
  base jsonb;
  taken text[] := '{}';
  seen jsonb;
  used numeric;
  k integer;
  r record;
  refused boolean;
BEGIN
  SELECT count(DISTINCT x) INTO n_distinct FROM unnest(p_counters) AS x;
  SELECT count(*) INTO n_locked
    FROM (SELECT 1 FROM edca.limit_counters c WHERE c.counter = ANY (p_counters) ORDER BY c.counter FOR UPDATE) AS l;
  IF n_locked < n_distinct THEN
    RETURN QUERY SELECT NULL::integer, 'missing'::text, NULL::text, NULL::numeric;
    RETURN;
  END IF;
  SELECT min(x) INTO n0 FROM unnest(p_nows) AS x;
  SELECT COALESCE(jsonb_object_agg(c.counter,
           c.settled + COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                  WHERE h.counter = c.counter AND NOT h.settled AND h.hold_until > n0), 0)), '{}')
    INTO base FROM edca.limit_counters c WHERE c.counter = ANY (p_counters);
  FOR k IN SELECT DISTINCT q FROM unnest(p_req) AS q ORDER BY q LOOP
    IF EXISTS (SELECT 1 FROM unnest(p_req, p_ids) AS u(q, id) JOIN edca.limit_reservations x ON x.id = u.id
                WHERE u.q = k) THEN
      RETURN QUERY SELECT k, 'reused'::text, NULL::text, NULL::numeric;
      CONTINUE;
    END IF;
    refused := false;
    -- counter -> its usage plus this request's earlier reservations on it
    seen := '{}';
    FOR r IN
      SELECT u.counter, u.amount, u.max
        FROM unnest(p_req, p_counters, p_amounts, p_maxes) WITH ORDINALITY AS u(q, counter, amount, max, ord)
       WHERE u.q = k ORDER BY u.ord
    LOOP
      IF NOT seen ? r.counter THEN
        IF NOT base ? r.counter THEN
          RAISE EXCEPTION 'edca counter % is not locked', r.counter USING ERRCODE = 'internal_error';
        END IF;
        used := (base ->> r.counter)::numeric
          - COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                       WHERE h.counter = r.counter AND NOT h.settled AND h.hold_until > n0
                         AND h.hold_until <= p_nows[k] AND NOT (h.id = ANY (taken))), 0)
          + COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                       WHERE h.id = ANY (taken) AND h.counter = r.counter AND h.hold_until > p_nows[k]), 0);
        seen := seen || jsonb_build_object(r.counter, used);
      END IF;
      used := (seen ->> r.counter)::numeric;
      IF used + r.amount > r.max THEN
        RETURN QUERY SELECT k, 'refused'::text, r.counter, used;
        refused := true;
        EXIT;
      END IF;
      seen := seen || jsonb_build_object(r.counter, used + r.amount);
    END LOOP;
    IF NOT refused THEN
      INSERT INTO edca.limit_reservations (id, counter, amount, hold_until)
      SELECT u.id, u.counter, u.amount, u.hold
        FROM unnest(p_req, p_ids, p_counters, p_amounts, p_holds) AS u(q, id, counter, amount, hold)
       WHERE u.q = k;
      taken := taken || ARRAY(SELECT u.id FROM unnest(p_req, p_ids) AS u(q, id) WHERE u.q = k);
      RETURN QUERY SELECT k, 'ok'::text, NULL::text, NULL::numeric;
    END IF;
  END LOOP;
END
$fn$;

-- Settles several reservations in one statement: their counters are locked in the global (sorted)
-- order first, so a batch never deadlocks with a reservation; each hold becomes permanent and its
-- amount moves into its counter's settled total; a reservation already settled changes nothing.
CREATE FUNCTION edca.settle_many(p_ids text[])
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM edca.limit_counters c
    WHERE c.counter IN (SELECT x.counter FROM edca.limit_reservations x WHERE x.id = ANY (p_ids))
    ORDER BY c.counter FOR UPDATE;
  WITH s AS (
    UPDATE edca.limit_reservations SET settled = true WHERE id = ANY (p_ids) AND NOT settled
    RETURNING counter, amount
  ), t AS (
    SELECT counter, sum(amount) AS amount FROM s GROUP BY counter
  )
  UPDATE edca.limit_counters c SET settled = c.settled + t.amount FROM t WHERE c.counter = t.counter;
END
$fn$;
`;

/** Every migration, in order; versions are contiguous from 1. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'journal', sql: journal },
  { version: 2, name: 'kernel-store', sql: kernelStore },
  { version: 3, name: 'one-round-trip-functions', sql: reserveFunction },
  { version: 4, name: 'one-statement-journal-append', sql: journalAppendFunction },
  { version: 5, name: 'batched-store-statements', sql: reserveManyFunction },
  { version: 6, name: 'instance-leases', sql: LEASES_MIGRATION },
  { version: 7, name: 'held-totals', sql: HELD_TOTALS_MIGRATION },
  { version: 8, name: 'reserve-statements-per-batch', sql: RESERVE_ARRAYS_MIGRATION },
  { version: 9, name: 'execution-round-trips', sql: CONSUME_PIN_MIGRATION },
];
