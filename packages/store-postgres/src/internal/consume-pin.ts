/**
 * Migration 9: `edca.consume_pin_many`, the consume and the pin of an execution in one statement;
 * `edca.journal_append_ending`, a journal group and the holds it ends in one statement.
 *
 * `execute` consumes a permit and then pins its holds; as two batched statements that was two
 * round trips and two transactions per group of concurrent executes. This function does both in
 * one transaction, for a batch: the consumed-permit markers are inserted (`ON CONFLICT DO
 * NOTHING`, so a permit is consumed by exactly one call across all instances), and only the holds
 * of the permits this statement consumed are pinned — a call that lost the race pins nothing. The
 * pin is `edca.pin_many`'s: the holds' counters locked first in sorted order (the order of
 * `reserve_many`, `settle_many` and the `held_follow` triggers), settled holds left alone.
 *
 * Arguments: the permits (`p_hashes`, `p_ats`, distinct hashes) and, flattened, the reservation
 * ids to pin (`p_ids`) with the permit each belongs to (`p_owners`). Returns the hashes it consumed.
 *
 * And `edca.journal_append_ending`: `edca.journal_append` with the settles and releases that end
 * executions' holds riding on it (internal/riders.ts), applied in the append's transaction only
 * when the group was written (the head was where the group starts). Their counters are locked once,
 * in sorted order, before `settle_many` and `release_many` run, so the two never lock in opposite
 * orders to a reserve; the journal's head row is taken first, and no store statement takes a head.
 */

/** The SQL of migration 9: `consume_pin_many` and `journal_append_ending`. */
export const CONSUME_PIN_MIGRATION = `
CREATE FUNCTION edca.consume_pin_many(p_hashes text[], p_ats text[], p_ids text[], p_owners text[])
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
  won text[];
  pins text[];
BEGIN
  IF COALESCE(cardinality(p_hashes), 0) <> COALESCE(cardinality(p_ats), 0)
     OR COALESCE(cardinality(p_ids), 0) <> COALESCE(cardinality(p_owners), 0) THEN
    RAISE EXCEPTION 'edca.consume_pin_many: arrays of different lengths' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WITH ins AS (
    INSERT INTO edca.consumed_permits (permit_hash, consumed_at)
    SELECT h, a FROM unnest(p_hashes, p_ats) AS u(h, a)
    ON CONFLICT (permit_hash) DO NOTHING
    RETURNING permit_hash
  )
  SELECT COALESCE(array_agg(permit_hash), '{}') INTO won FROM ins;
  IF cardinality(won) = 0 THEN
    RETURN;
  END IF;
  SELECT COALESCE(array_agg(u.id), '{}') INTO pins
    FROM unnest(p_ids, p_owners) AS u(id, owner) WHERE u.owner = ANY (won);
  IF cardinality(pins) > 0 THEN
    PERFORM 1 FROM edca.limit_counters c
      WHERE c.counter IN (SELECT x.counter FROM edca.limit_reservations x WHERE x.id = ANY (pins) AND NOT x.settled)
      ORDER BY c.counter FOR UPDATE;
    UPDATE edca.limit_reservations SET hold_until = 9223372036854775807
     WHERE id = ANY (pins) AND NOT settled AND hold_until <> 9223372036854775807;
  END IF;
  RETURN QUERY SELECT x FROM unnest(won) AS x;
END
$fn$;

CREATE FUNCTION edca.journal_append_ending(p_stream text, p_old bigint, p_seq bigint, p_hash text, p_at text,
                                           p_frontier bytea, p_since integer, p_seqs bigint[], p_types text[],
                                           p_hashes text[], p_bytes bytea[], p_settle text[], p_release text[])
RETURNS TABLE (out_moved boolean, out_seq text, out_hash text, out_last_at text, out_frontier bytea,
               out_since integer)
LANGUAGE plpgsql AS $fn$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM edca.journal_append(p_stream, p_old, p_seq, p_hash, p_at, p_frontier, p_since,
                                           p_seqs, p_types, p_hashes, p_bytes);
  IF NOT r.out_moved THEN
    PERFORM 1 FROM edca.limit_counters c
      WHERE c.counter IN (SELECT x.counter FROM edca.limit_reservations x
                           WHERE x.id = ANY (COALESCE(p_settle, '{}') || COALESCE(p_release, '{}')))
      ORDER BY c.counter FOR UPDATE;
    IF COALESCE(cardinality(p_settle), 0) > 0 THEN
      PERFORM edca.settle_many(p_settle);
    END IF;
    IF COALESCE(cardinality(p_release), 0) > 0 THEN
      PERFORM edca.release_many(p_release);
    END IF;
  END IF;
  RETURN QUERY SELECT r.out_moved, r.out_seq, r.out_hash, r.out_last_at, r.out_frontier, r.out_since;
END
$fn$;
`;
