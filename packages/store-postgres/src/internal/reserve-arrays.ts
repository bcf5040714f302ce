/**
 * Migration 8: `edca.reserve_many` with a fixed number of SQL statements per batch.
 *
 * Migration 7's version ran five to seven SQL statements per request of the batch (each one a
 * planned query inside PL/pgSQL, most of them scanning the batch's arrays again), so a batch of
 * n requests cost about 6n statements and n² array scans, all of it while holding the batch's
 * counter rows locked. This version reads what the batch needs once — the locked counters' usage
 * at the batch's earliest `now`, the holds that lapse between the earliest and the latest `now`,
 * the ids already reserved — and then checks the requests with plain PL/pgSQL arithmetic over those
 * arrays, keeping per counter the running total of the holds this batch took. Five statements and
 * one insert per batch, whatever its size.
 *
 * The contract is migration 5's, unchanged: every counter of the batch locked once in sorted order,
 * the requests checked in request order (entries of a request in array order), each all or none and
 * each seeing the holds of the requests before it; one row per request, `ok`, `refused` (with the
 * counter and its usage) or `reused`; one `missing` row (request NULL) when a counter row does not
 * exist yet. Arrays of different lengths, or a NULL request number, are refused
 * (`invalid_parameter_value`).
 */

/** The SQL of migration 8. */
export const RESERVE_ARRAYS_MIGRATION = `
CREATE OR REPLACE FUNCTION edca.reserve_many(p_req integer[], p_ids text[], p_counters text[],
                                             p_amounts numeric[], p_maxes numeric[], p_holds bigint[],
                                             p_nows bigint[])
RETURNS TABLE (out_req integer, out_status text, out_counter text, out_usage numeric)
LANGUAGE plpgsql AS $fn$
DECLARE
  n integer := COALESCE(cardinality(p_req), 0);
  n_distinct integer;
  n_locked integer;
  n0 bigint;
  n1 bigint;
  ord integer[];
  -- the batch's counters and their usage at n0
  b_counters text[];
  b_used numeric[];
  -- stored holds of the batch's counters that lapse in (n0, n1]
  l_counters text[];
  l_amounts numeric[];
  l_holds bigint[];
  existing text[];
  -- the holds this batch took so far, and per counter their sum and earliest hold_until
  t_ids text[] := '{}';
  t_counters text[] := '{}';
  t_amounts numeric[] := '{}';
  t_holds bigint[] := '{}';
  tc_counters text[] := '{}';
  tc_sums numeric[] := '{}';
  tc_first bigint[] := '{}';
  -- this request's view: counter -> usage plus its own earlier entries on it
  s_counters text[];
  s_used numeric[];
  v_i integer;
  v_j integer;
  v_x integer;
  v_y integer;
  v_p integer;
  v_q integer;
  v_k integer;
  now_k bigint;
  used numeric;
  refused boolean;
BEGIN
  IF COALESCE(cardinality(p_ids), 0) <> n OR COALESCE(cardinality(p_counters), 0) <> n
     OR COALESCE(cardinality(p_amounts), 0) <> n OR COALESCE(cardinality(p_maxes), 0) <> n
     OR COALESCE(cardinality(p_holds), 0) <> n OR array_position(p_req, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'edca.reserve_many: arrays of different lengths or a NULL request'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT count(DISTINCT e) INTO n_distinct FROM unnest(p_counters) AS e;
  SELECT count(*) INTO n_locked
    FROM (SELECT 1 FROM edca.limit_counters c WHERE c.counter = ANY (p_counters) ORDER BY c.counter FOR UPDATE) AS l;
  IF n_locked < n_distinct THEN
    RETURN QUERY SELECT NULL::integer, 'missing'::text, NULL::text, NULL::numeric;
    RETURN;
  END IF;
  SELECT min(v), max(v) INTO n0, n1 FROM unnest(p_nows) AS v;
  -- The holds that lapsed by n0 leave the running total, each once.
  UPDATE edca.limit_counters c
     SET held = c.held - COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                    WHERE h.counter = c.counter AND NOT h.settled
                                      AND h.hold_until > c.swept_until AND h.hold_until <= n0), 0),
         swept_until = n0
   WHERE c.counter = ANY (p_counters) AND c.swept_until < n0;
  -- Usage at n0; a counter another caller swept past n0 adds back the holds still counting at n0.
  SELECT array_agg(c.counter),
         array_agg(c.settled + c.held + COALESCE((SELECT sum(h.amount) FROM edca.limit_reservations h
                                                   WHERE h.counter = c.counter AND NOT h.settled
                                                     AND h.hold_until > n0 AND h.hold_until <= c.swept_until), 0))
    INTO b_counters, b_used FROM edca.limit_counters c WHERE c.counter = ANY (p_counters);
  SELECT COALESCE(array_agg(h.counter), '{}'), COALESCE(array_agg(h.amount), '{}'), COALESCE(array_agg(h.hold_until), '{}')
    INTO l_counters, l_amounts, l_holds
    FROM edca.limit_reservations h
   WHERE h.counter = ANY (p_counters) AND NOT h.settled AND h.hold_until > n0 AND h.hold_until <= n1;
  SELECT COALESCE(array_agg(r.id), '{}') INTO existing FROM edca.limit_reservations r WHERE r.id = ANY (p_ids);
  -- Entries by request, then by their place in the arrays.
  SELECT COALESCE(array_agg(u.o::integer ORDER BY u.q, u.o), '{}') INTO ord
    FROM unnest(p_req) WITH ORDINALITY AS u(q, o);
  v_i := 1;
  WHILE v_i <= n LOOP
    v_k := p_req[ord[v_i]];
    v_j := v_i + 1;
    WHILE v_j <= n AND p_req[ord[v_j]] = v_k LOOP
      v_j := v_j + 1;
    END LOOP;
    refused := false;
    FOR v_x IN v_i .. v_j - 1 LOOP
      v_p := ord[v_x];
      IF p_ids[v_p] = ANY (existing) OR p_ids[v_p] = ANY (t_ids) THEN
        refused := true;
        EXIT;
      END IF;
    END LOOP;
    IF refused THEN
      out_req := v_k; out_status := 'reused'; out_counter := NULL; out_usage := NULL;
      RETURN NEXT;
      v_i := v_j;
      CONTINUE;
    END IF;
    now_k := p_nows[v_k];
    s_counters := '{}';
    s_used := '{}';
    FOR v_x IN v_i .. v_j - 1 LOOP
      v_p := ord[v_x];
      v_q := array_position(s_counters, p_counters[v_p]);
      IF v_q IS NULL THEN
        v_q := array_position(b_counters, p_counters[v_p]);
        IF v_q IS NULL THEN
          RAISE EXCEPTION 'edca counter % is not locked', p_counters[v_p] USING ERRCODE = 'internal_error';
        END IF;
        used := b_used[v_q];
        FOR v_y IN 1 .. cardinality(l_counters) LOOP
          IF l_holds[v_y] <= now_k AND l_counters[v_y] = p_counters[v_p] THEN
            used := used - l_amounts[v_y];
          END IF;
        END LOOP;
        v_q := array_position(tc_counters, p_counters[v_p]);
        IF v_q IS NOT NULL THEN
          IF tc_first[v_q] > now_k THEN
            used := used + tc_sums[v_q];
          ELSE
            FOR v_y IN 1 .. cardinality(t_ids) LOOP
              IF t_holds[v_y] > now_k AND t_counters[v_y] = p_counters[v_p] THEN
                used := used + t_amounts[v_y];
              END IF;
            END LOOP;
          END IF;
        END IF;
        s_counters := s_counters || p_counters[v_p];
        s_used := s_used || used;
        v_q := cardinality(s_counters);
      END IF;
      used := s_used[v_q];
      IF used + p_amounts[v_p] > p_maxes[v_p] THEN
        out_req := v_k; out_status := 'refused'; out_counter := p_counters[v_p]; out_usage := used;
        RETURN NEXT;
        refused := true;
        EXIT;
      END IF;
      s_used[v_q] := used + p_amounts[v_p];
    END LOOP;
    IF NOT refused THEN
      FOR v_x IN v_i .. v_j - 1 LOOP
        v_p := ord[v_x];
        t_ids := t_ids || p_ids[v_p];
        t_counters := t_counters || p_counters[v_p];
        t_amounts := t_amounts || p_amounts[v_p];
        t_holds := t_holds || p_holds[v_p];
        v_q := array_position(tc_counters, p_counters[v_p]);
        IF v_q IS NULL THEN
          tc_counters := tc_counters || p_counters[v_p];
          tc_sums := tc_sums || p_amounts[v_p];
          tc_first := tc_first || p_holds[v_p];
        ELSE
          tc_sums[v_q] := tc_sums[v_q] + p_amounts[v_p];
          tc_first[v_q] := least(tc_first[v_q], p_holds[v_p]);
        END IF;
      END LOOP;
      out_req := v_k; out_status := 'ok'; out_counter := NULL; out_usage := NULL;
      RETURN NEXT;
    END IF;
    v_i := v_j;
  END LOOP;
  IF cardinality(t_ids) > 0 THEN
    INSERT INTO edca.limit_reservations (id, counter, amount, hold_until)
    SELECT * FROM unnest(t_ids, t_counters, t_amounts, t_holds);
  END IF;
END
$fn$;
`;
