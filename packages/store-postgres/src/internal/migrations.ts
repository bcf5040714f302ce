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

/** Every migration, in order; versions are contiguous from 1. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'journal', sql: journal },
  { version: 2, name: 'kernel-store', sql: kernelStore },
];
