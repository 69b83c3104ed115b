--
-- Counts from the API's "count": count(*) GROUP BY call_type and/or
-- call_status is one page_size=1 request per grouped value; count(*) with
-- values known only at execution (a correlated subquery, $1) asks "count"
-- each time.  Anything the API cannot count exactly is counted locally.
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set VERBOSITY default

SELECT emu_server('cnt', 'tag=cnt,rows=25000,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('cnt_calls', 'cnt');
-- the same data, counted locally
SELECT emu_server('cnt_local', 'tag=cntl,rows=25000,anchor=2025-11-30T00:00:00Z', ', pushdown ''false''');
SELECT emu_table('cnt_calls_local', 'cnt_local');

-- same_groups(q): q's rows on cnt_calls are those of the same query on
-- cnt_calls_local (in any order; the local table's requests are forgotten)
CREATE FUNCTION same_groups(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  a text; b text; n bigint;
BEGIN
  EXECUTE format('SELECT md5(string_agg(r::text, %L ORDER BY r::text)), count(*) FROM (%s) r', ',', q)
    INTO a, n;
  EXECUTE format('SELECT md5(string_agg(r::text, %L ORDER BY r::text)) FROM (%s) r', ',',
                 replace(q, 'cnt_calls', 'cnt_calls_local')) INTO b;
  PERFORM emu_log('cntl');
  RETURN CASE WHEN a IS NOT DISTINCT FROM b THEN 'same ' || n || ' rows' ELSE 'DIFFERENT' END;
END $$;
-- how q's count is made: by the API's "count", or locally
CREATE FUNCTION cnt_how(q text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN bool_or(l ~ 'answered by the API''s count') THEN 'from count' ELSE 'local' END
    FROM cl_plan(q) l
$$;
-- the requests of a tag, sorted (the streams' requests go out together)
CREATE FUNCTION cnt_requests(tag text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT r FROM emu_requests(tag) r ORDER BY r
$$;

--
-- GROUP BY call_status over 25,000 rows: three requests
--
EXPLAIN (COSTS OFF) SELECT call_status, count(*) FROM cnt_calls GROUP BY call_status;
SELECT call_status, count(*) FROM cnt_calls GROUP BY call_status ORDER BY 1;
SELECT * FROM cnt_requests('cnt');
SELECT key AS call_status, value::int AS expected
  FROM jsonb_each(emu_totals('rows=25000,anchor=2025-11-30T00:00:00Z')->'by_status') ORDER BY 1;
SELECT same_groups($$SELECT call_status, count(*) FROM cnt_calls GROUP BY call_status$$);
SELECT count(*) AS requests FROM emu_log('cnt');
-- by both: six requests
EXPLAIN (COSTS OFF) SELECT call_type, call_status, count(*) FROM cnt_calls GROUP BY 1, 2;
SELECT same_groups($$SELECT call_type, call_status, count(*) FROM cnt_calls GROUP BY 1, 2$$);
SELECT * FROM cnt_requests('cnt');
-- by call_type: two
SELECT call_type, count(*) FROM cnt_calls GROUP BY call_type ORDER BY 1;
SELECT * FROM cnt_requests('cnt');
-- conditions pushed exactly narrow the groups; the streams of one group
-- (two statuses for each call_type) add up
SELECT same_groups($$SELECT call_type, count(*) FROM cnt_calls
                     WHERE call_status IN ('missed', 'failed') GROUP BY call_type$$);
SELECT * FROM cnt_requests('cnt');
SELECT same_groups($$SELECT call_status, count(*) FROM cnt_calls
                     WHERE call_type = 'inbound' AND call_status = ANY ('{missed,completed}') GROUP BY call_status$$);
SELECT * FROM cnt_requests('cnt');
-- what the groups' rows may hold: grouped columns, count(*), count of a
-- constant or of a grouped column, expressions of these; HAVING; ORDER BY
SELECT upper(call_status) AS status, count(1) AS n, count(call_status) AS m,
       count(*) * 2 AS twice, count(*) > 5000 AS big
  FROM cnt_calls GROUP BY call_status HAVING count(*) > 3000 ORDER BY count(*) DESC;
SELECT same_groups($$SELECT upper(call_status) AS status, count(1) AS n, count(call_status) AS m,
                            count(*) * 2 AS twice, count(*) > 5000 AS big
                       FROM cnt_calls GROUP BY call_status HAVING count(*) > 3000$$);
SELECT count(*) AS requests FROM emu_log('cnt');
EXPLAIN (COSTS OFF, VERBOSE)
SELECT call_type, count(*) FROM cnt_calls GROUP BY call_type HAVING count(*) < 1000;
SELECT call_type, count(*) FROM cnt_calls GROUP BY call_type HAVING count(*) < 1000;
-- GROUP BY without an aggregate: the values that have rows
SELECT call_type FROM cnt_calls WHERE call_status = 'failed' GROUP BY call_type ORDER BY 1;
SELECT * FROM cnt_requests('cnt');

--
-- Groups without rows are left out, as SQL would
--
SELECT emu_server('cnt_few', 'tag=cntfew,rows=4,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('cnt_few_calls', 'cnt_few');
SELECT call_type, call_status, count(*) FROM cnt_few_calls GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS requests, max(page_size) AS page_size FROM emu_log('cntfew');
SELECT call_type, call_status, count(*) FROM cnt_few_calls WHERE call_status IS NOT NULL
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS requests FROM emu_log('cntfew');
-- a contradiction: no request, no group; count(*) alone is still one row
SELECT call_status, count(*) FROM cnt_calls WHERE call_status = 'missed' AND call_status = 'failed' GROUP BY 1;
SELECT count(*) FROM cnt_calls WHERE call_status = 'missed' AND call_status = 'failed';
SELECT count(*) AS requests FROM emu_log('cnt');

--
-- What the API cannot count exactly stays local, with the same answer
--
-- a date bound (widened), an undocumented value, FILTER, count(column),
-- other aggregates, other columns or expressions, DISTINCT
EXPLAIN (COSTS OFF) SELECT call_status, count(*) FROM cnt_calls WHERE creation_time > '2025-11-25' GROUP BY 1;
SELECT q AS query, cnt_how(q) AS counted FROM (VALUES
  ($$SELECT call_status, count(*) FROM cnt_calls WHERE creation_time > '2025-11-25' GROUP BY 1$$),
  ($$SELECT call_status, count(*) FROM cnt_calls WHERE call_type = 'Inbound' GROUP BY 1$$),
  ($$SELECT call_status, count(*) FILTER (WHERE bridge = 1) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT call_status, count(id) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT call_status, count(call_type) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT call_status, max(creation_time) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT lower(call_status), count(*) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT call_status, count(DISTINCT call_type) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT call_status, count(*) FROM cnt_calls GROUP BY ROLLUP (call_status)$$),
  ($$SELECT source_number, count(*) FROM cnt_calls GROUP BY 1$$),
  ($$SELECT call_status, count(*) FROM cnt_calls GROUP BY 1$$)) v(q);
SELECT same_groups($$SELECT call_status, count(*) FILTER (WHERE bridge = 1) AS bridged, count(id)
                       FROM cnt_calls WHERE creation_time > '2025-11-25' GROUP BY 1$$);
SELECT count(*) > 3 AS pages_read FROM emu_log('cnt');
-- pushdown 'false': the groups are counted locally; count(*) of the whole
-- table is still "count"
EXPLAIN (COSTS OFF) SELECT call_status, count(*) FROM cnt_calls_local GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt_calls_local;

--
-- count(*) with values known only at execution: "count" each time
--
-- a correlated subquery: one page_size=1 request per outer row
EXPLAIN (COSTS OFF)
SELECT s, (SELECT count(*) FROM cnt_calls WHERE call_status = s) FROM (VALUES ('missed'), ('failed')) v(s);
SELECT s, (SELECT count(*) FROM cnt_calls WHERE call_status = s) AS n
  FROM (VALUES ('missed'), ('failed'), ('completed')) v(s) ORDER BY 1;
SELECT * FROM cnt_requests('cnt');
SELECT t, s, c.n FROM (VALUES ('inbound'), ('outbound')) a(t), (VALUES ('missed'), ('failed')) b(s),
       LATERAL (SELECT count(*) AS n FROM cnt_calls WHERE call_type = t AND call_status = ANY (ARRAY[s, 'completed'])) c
 ORDER BY 1, 2;
SELECT * FROM cnt_requests('cnt');
SELECT same_groups($$SELECT s, (SELECT count(*) FROM cnt_calls WHERE call_status = s)
                       FROM (VALUES ('missed'), ('failed'), ('completed')) v(s)$$);
SELECT count(*) AS requests FROM emu_log('cnt');
-- a value the API does not document is counted row by row, as the local
-- filter would (a smaller data set: every page is read)
SELECT emu_server('cnt_small', 'tag=cntsmall,rows=2500,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('cnt_small_calls', 'cnt_small');
SELECT s, (SELECT count(*) FROM cnt_small_calls WHERE call_status = s) AS n
  FROM (VALUES ('missed'), ('Missed'), ('busy')) v(s) ORDER BY 1;
SELECT page_size, count(*) AS requests FROM emu_log('cntsmall') GROUP BY 1 ORDER BY 1;
SELECT cl_plan($$SELECT (SELECT count(*) FROM cnt_small_calls WHERE call_status = s) FROM (VALUES ('busy')) v(s)$$,
               true);
SELECT emu_reset('cntsmall');
-- a generic plan's parameter
PREPARE cnt_by(text) AS SELECT count(*) FROM cnt_calls WHERE call_status = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE cnt_by('missed');
EXECUTE cnt_by('missed');
EXECUTE cnt_by('failed');
SELECT * FROM cnt_requests('cnt');
RESET plan_cache_mode;
DEALLOCATE cnt_by;

--
-- EXPLAIN shows the requests the execution sends: a constant the API does
-- not document is never sent, so "count" cannot answer the count and the
-- planner does not choose it (the rows are counted by a local Aggregate)
--
-- explain_vs_log(q, tag): the requests of EXPLAIN q (without their page
-- number) against those q then sent, as logged by the emulator
CREATE FUNCTION explain_vs_log(q text, tag text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  shown text; sent text; n bigint;
BEGIN
  PERFORM emu_log(tag);
  SELECT string_agg(DISTINCT regexp_replace(l, '^.*API Request: GET /s/[^/]*', ''), ' ')
    INTO shown FROM cl_plan(q) l WHERE l ~ 'API Request: GET ';
  EXECUTE q;
  PERFORM emu_log(tag);
  SELECT string_agg(DISTINCT regexp_replace(path, '&page=[0-9]+$', ''), ' '), count(*)
    INTO sent, n FROM emu_log_raw;
  RETURN CASE WHEN shown = sent THEN 'same: ' || shown
              ELSE 'DIFFERENT: shown ' || coalesce(shown, '(none)') || ', sent ' || coalesce(sent, '(none)') END;
END $$;
SELECT emu_server('cnt_ex', 'tag=cntex,rows=500,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('cnt_ex_calls', 'cnt_ex');
EXPLAIN (COSTS OFF) SELECT count(*) FROM cnt_ex_calls WHERE call_status = 'busy';
SELECT q AS query, explain_vs_log(q, 'cntex') AS requests, cnt_how(q) AS counted FROM (VALUES
  ($$SELECT count(*) FROM cnt_ex_calls WHERE call_status = 'busy'$$),
  ($$SELECT count(*) FROM cnt_ex_calls WHERE call_status IN ('missed', 'a b')$$),
  ($$SELECT count(*) FROM cnt_ex_calls WHERE call_status = 'missed' AND call_type = 'x'$$),
  ($$SELECT count(*) FROM cnt_ex_calls WHERE call_status IN ('missed', 'failed')$$),
  ($$SELECT count(*) FROM cnt_ex_calls WHERE call_status = 'missed'$$)) v(q);
SELECT count(*) FROM cnt_ex_calls WHERE call_status = 'missed' AND call_type = 'x';
SELECT count(*) AS requests FROM emu_log('cntex');
-- a generic plan's parameter is checked at execution; EXPLAIN says so
PREPARE cnt_ex_by(text) AS SELECT count(*) FROM cnt_ex_calls WHERE call_status = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE cnt_ex_by('busy');
SELECT cl_plan('EXECUTE cnt_ex_by(''busy'')', true);
SELECT page_size, count(*) AS requests FROM emu_log('cntex') GROUP BY 1 ORDER BY 1;
RESET plan_cache_mode;
DEALLOCATE cnt_ex_by;
