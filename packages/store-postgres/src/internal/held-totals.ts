/**
 * Migration 7: a running total of the unsettled holds of every counter, so that `usage` and
 * `reserve` read one row instead of summing every hold the counter has (docs/postgres.md,
 * "Counters").
 *
 * A hold stops counting once its `hold_until` has passed, and callers' clocks differ, so the total
 * cannot simply drop holds as they lapse. Each counter row therefore keeps `swept_until` beside
 * `held`, with the invariant
 *
 *   held = sum(amount) of the counter's reservations WHERE NOT settled AND hold_until > swept_until
 *
 * Usage at `now` is `settled + held`, minus the holds that lapsed in (swept_until, now], or plus the
 * holds in (now, swept_until] when `now` is behind the sweep: a short index range either way. Only
 * `reserve_many` moves `swept_until` forward (under the counter's lock, to the batch's earliest
 * `now`), so every hold leaves the total once.
 *
 * The total is kept by statement triggers on `limit_reservations`, in the transaction that changes
 * the holds, whoever changes them (the store's functions, an operator's DELETE, an older instance's
 * statements during a rolling upgrade). They lock the counters in sorted order, the global order
 * every function here takes them in, before reading `swept_until`.
 */

/** The SQL of migration 7. */
export const HELD_TOTALS_MIGRATION = `
ALTER TABLE edca.limit_counters
  ADD COLUMN held numeric NOT NULL DEFAULT 0 CHECK (held >= 0),
  ADD COLUMN swept_until bigint NOT NULL DEFAULT -9223372036854775808;

UPDATE edca.limit_counters c
   SET held = COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                         WHERE h.counter = c.counter AND NOT h.settled AND h.hold_until > c.swept_until), 0);

CREATE FUNCTION edca.held_follow() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM 1 FROM edca.limit_counters c WHERE c.counter IN (SELECT n.counter FROM new_rows n)
      ORDER BY c.counter FOR UPDATE;
    UPDATE edca.limit_counters c SET held = c.held + d.amount
      FROM (SELECT n.counter, sum(n.amount) AS amount
              FROM new_rows n JOIN edca.limit_counters k ON k.counter = n.counter
             WHERE NOT n.settled AND n.hold_until > k.swept_until GROUP BY n.counter) AS d
     WHERE c.counter = d.counter;
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM 1 FROM edca.limit_counters c WHERE c.counter IN (SELECT o.counter FROM old_rows o)
      ORDER BY c.counter FOR UPDATE;
    UPDATE edca.limit_counters c SET held = c.held - d.amount
      FROM (SELECT o.counter, sum(o.amount) AS amount
              FROM old_rows o JOIN edca.limit_counters k ON k.counter = o.counter
             WHERE NOT o.settled AND o.hold_until > k.swept_until GROUP BY o.counter) AS d
     WHERE c.counter = d.counter;
  ELSE
    PERFORM 1 FROM edca.limit_counters c
      WHERE c.counter IN (SELECT n.counter FROM new_rows n UNION SELECT o.counter FROM old_rows o)
      ORDER BY c.counter FOR UPDATE;
    UPDATE edca.limit_counters c SET held = c.held + d.amount
      FROM (SELECT x.counter, sum(x.amount) AS amount
              FROM (SELECT n.counter, n.amount, n.settled, n.hold_until FROM new_rows n
                    UNION ALL
                    SELECT o.counter, -o.amount, o.settled, o.hold_until FROM old_rows o) AS x
              JOIN edca.limit_counters k ON k.counter = x.counter
             WHERE NOT x.settled AND x.hold_until > k.swept_until GROUP BY x.counter) AS d
     WHERE c.counter = d.counter AND d.amount <> 0;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER limit_reservations_held_insert AFTER INSERT ON edca.limit_reservations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edca.held_follow();
CREATE TRIGGER limit_reservations_held_update AFTER UPDATE ON edca.limit_reservations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION edca.held_follow();
CREATE TRIGGER limit_reservations_held_delete AFTER DELETE ON edca.limit_reservations
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION edca.held_follow();

-- The reserve of several independent requests (migration 5's contract, unchanged): every counter of
-- the batch locked once in sorted order, the requests checked one after another in request order,
-- each all or none and each seeing the holds of the requests before it. The usage comes from the
-- counter row (swept to the batch's earliest now first) instead of a sum over its holds, and the
-- accepted holds are inserted by one statement at the end, so the total is updated once per batch.
CREATE OR REPLACE FUNCTION edca.reserve_many(p_req integer[], p_ids text[], p_counters text[],
                                             p_amounts numeric[], p_maxes numeric[], p_holds bigint[],
                                             p_nows bigint[])
RETURNS TABLE (out_req integer, out_status text, out_counter text, out_usage numeric)
LANGUAGE plpgsql AS $fn$
DECLARE
  n_distinct integer;
  n_locked integer;
  n0 bigint;
  base jsonb;
  t_ids text[] := '{}';
  t_counters text[] := '{}';
  t_amounts numeric[] := '{}';
  t_holds bigint[] := '{}';
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
  -- The holds that lapsed by n0 leave the running total, each once.
  UPDATE edca.limit_counters c
     SET held = c.held - COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                    WHERE h.counter = c.counter AND NOT h.settled
                                      AND h.hold_until > c.swept_until AND h.hold_until <= n0), 0),
         swept_until = n0
   WHERE c.counter = ANY (p_counters) AND c.swept_until < n0;
  -- Usage at n0; a counter another caller swept past n0 adds back the holds still counting at n0.
  SELECT COALESCE(jsonb_object_agg(c.counter,
           c.settled + c.held + COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                           WHERE h.counter = c.counter AND NOT h.settled
                                             AND h.hold_until > n0 AND h.hold_until <= c.swept_until), 0)), '{}')
    INTO base FROM edca.limit_counters c WHERE c.counter = ANY (p_counters);
  FOR k IN SELECT DISTINCT q FROM unnest(p_req) AS q ORDER BY q LOOP
    IF EXISTS (SELECT 1 FROM unnest(p_req, p_ids) AS u(q, id)
                WHERE u.q = k AND (u.id = ANY (t_ids)
                                   OR EXISTS (SELECT 1 FROM edca.limit_reservations x WHERE x.id = u.id))) THEN
      RETURN QUERY SELECT k, 'reused'::text, NULL::text, NULL::numeric;
      CONTINUE;
    END IF;
    refused := false;
    -- counter -> its usage at this request's now plus this request's earlier reservations on it
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
                         AND h.hold_until <= p_nows[k]), 0)
          + COALESCE((SELECT sum(t.amount) FROM unnest(t_counters, t_amounts, t_holds) AS t(counter, amount, hold)
                       WHERE t.counter = r.counter AND t.hold > p_nows[k]), 0);
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
      SELECT t_ids || array_agg(u.id ORDER BY u.ord), t_counters || array_agg(u.counter ORDER BY u.ord),
             t_amounts || array_agg(u.amount ORDER BY u.ord), t_holds || array_agg(u.hold ORDER BY u.ord)
        INTO t_ids, t_counters, t_amounts, t_holds
        FROM unnest(p_req, p_ids, p_counters, p_amounts, p_holds) WITH ORDINALITY AS u(q, id, counter, amount, hold, ord)
       WHERE u.q = k;
      RETURN QUERY SELECT k, 'ok'::text, NULL::text, NULL::numeric;
    END IF;
  END LOOP;
  IF cardinality(t_ids) > 0 THEN
    INSERT INTO edca.limit_reservations (id, counter, amount, hold_until)
    SELECT * FROM unnest(t_ids, t_counters, t_amounts, t_holds);
  END IF;
END
$fn$;

-- Pin and release of several reservations: their counters locked in the global (sorted) order
-- first, as settle_many does, so the triggers' locks never wait in the other order.
CREATE FUNCTION edca.pin_many(p_ids text[])
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM edca.limit_counters c
    WHERE c.counter IN (SELECT x.counter FROM edca.limit_reservations x WHERE x.id = ANY (p_ids) AND NOT x.settled)
    ORDER BY c.counter FOR UPDATE;
  UPDATE edca.limit_reservations SET hold_until = 9223372036854775807
   WHERE id = ANY (p_ids) AND NOT settled AND hold_until <> 9223372036854775807;
END
$fn$;

CREATE FUNCTION edca.release_many(p_ids text[])
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM edca.limit_counters c
    WHERE c.counter IN (SELECT x.counter FROM edca.limit_reservations x WHERE x.id = ANY (p_ids) AND NOT x.settled)
    ORDER BY c.counter FOR UPDATE;
  DELETE FROM edca.limit_reservations WHERE id = ANY (p_ids) AND NOT settled;
END
$fn$;
`;
