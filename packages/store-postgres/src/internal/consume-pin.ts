/**
 * Migration 9: `edca.consume_pin_many`, the consume and the pin of an execution in one statement.
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
 */

/** The SQL of migration 9. */
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
`;
