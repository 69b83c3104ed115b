--
-- Pushdown: WHERE clauses become API query parameters, shown in EXPLAIN;
-- every clause is still checked locally, so results never change.
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SELECT emu_server('pd', 'tag=pd,rows=2500,links=0,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('pd_calls', 'pd');
-- the same data without pushdown, to compare results
SELECT emu_server('pd_nopd', 'tag=pdnp,rows=2500,links=0,anchor=2025-11-30T00:00:00Z', ', pushdown ''false''');
SELECT emu_table('pd_calls_np', 'pd_nopd');

-- same_rows(query): the query's rows on pd_calls equal those on pd_calls_np
CREATE FUNCTION same_rows(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  a text; b text; n bigint;
BEGIN
  EXECUTE format('SELECT md5(string_agg(r::text, %L ORDER BY r::text)), count(*) FROM (%s) r', ',', q)
    INTO a, n;
  EXECUTE format('SELECT md5(string_agg(r::text, %L ORDER BY r::text)) FROM (%s) r', ',',
                 replace(q, 'pd_calls', 'pd_calls_np')) INTO b;
  PERFORM emu_log('pdnp');
  RETURN CASE WHEN a IS NOT DISTINCT FROM b THEN 'same ' || n || ' rows' ELSE 'DIFFERENT' END;
END $$;

-- the paths (with queries) the emulator received for a tag, in order
CREATE FUNCTION pd_paths(tag text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM emu_log(tag);
  RETURN QUERY SELECT path FROM emu_log_raw ORDER BY seq::int;
END $$;

-- equality on call_status and call_type
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls WHERE call_status = 'missed';
SELECT same_rows($$SELECT * FROM pd_calls WHERE call_status = 'missed'$$);
SELECT * FROM emu_requests('pd');
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls WHERE call_type = 'inbound' AND call_status = 'failed';
SELECT same_rows($$SELECT * FROM pd_calls WHERE call_type = 'inbound' AND call_status = 'failed'$$);
SELECT * FROM emu_requests('pd');
SELECT (emu_totals('rows=2500')->'by_type_status'->'inbound/failed')::int AS expected;

-- IN and = ANY fan out into one request stream per value (cross product)
EXPLAIN (COSTS OFF)
SELECT id FROM pd_calls WHERE call_status IN ('missed', 'failed') AND call_type = ANY (ARRAY['inbound', 'outbound']);
SELECT same_rows($$SELECT id FROM pd_calls WHERE call_status IN ('missed', 'failed') AND call_type = ANY (ARRAY['inbound', 'outbound'])$$);
SELECT call_type, call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
-- streams are read one after another, each newest first
SELECT call_status, count(*), bool_and(ordered) AS newest_first FROM (
  SELECT call_status, lag(creation_time) OVER (PARTITION BY call_status ORDER BY n) > creation_time
         OR lag(creation_time) OVER (PARTITION BY call_status ORDER BY n) IS NULL AS ordered
    FROM (SELECT row_number() OVER () AS n, * FROM pd_calls WHERE call_status IN ('missed', 'failed')) s) t
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS requests FROM emu_log('pd');

-- contradictions send no request at all
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls WHERE call_type = 'inbound' AND call_type = ANY (ARRAY['outbound']);
SELECT * FROM pd_calls WHERE call_type = 'inbound' AND call_type = ANY (ARRAY['outbound']);
SELECT * FROM pd_calls WHERE call_status = ANY (ARRAY[]::text[]);
SELECT * FROM pd_calls WHERE creation_time > '2025-11-20' AND creation_time < '2025-11-10';
SELECT count(id) FROM pd_calls WHERE call_status = 'missed' AND call_status = 'failed';
SELECT count(*) AS requests FROM emu_log('pd');
-- (the same tag answers at once when asked: the log is not just empty)
SELECT count(id) > 0 AS some_rows FROM pd_calls WHERE call_type = 'inbound' AND call_status = 'missed';
SELECT count(*) AS requests FROM emu_log('pd');

-- undocumented values are never sent: a typo gives zero rows, not an API 400
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls WHERE call_status = 'Missed';
SELECT count(id) FROM pd_calls WHERE call_status = 'Missed';
SELECT same_rows($$SELECT id FROM pd_calls WHERE call_status IN ('missed', 'busy')$$);
SELECT call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1 ORDER BY 1;

-- what must not be pushed: the query stays right
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE call_status <> 'missed';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE NOT (call_status = 'missed');
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE call_status = 'missed' OR call_type = 'inbound';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE call_status LIKE 'miss%';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE lower(call_status) = 'missed';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE call_status = call_type;
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE call_status = (random() > 2)::text;
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time::date = '2025-11-20';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE start_time > '2025-11-20';
SELECT same_rows($$SELECT id FROM pd_calls WHERE call_status <> 'missed'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE call_status = 'missed' OR call_type = 'inbound'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time::date = '2025-11-20'$$);
SELECT count(*) AS requests, count(call_status) AS with_status, count(start_date) AS with_date
  FROM emu_log('pd');

--
-- Dates.  date_format 'date' (the default): whole days, widened so that
-- the answer is a superset whatever zone the API reads a bare date in
-- (within 16 hours of UTC) and whatever its inclusivity.
--
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time >= '2025-11-20 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time >= '2025-11-20 20:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time < '2025-11-25 06:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time <= '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time = '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls
 WHERE creation_time > '2025-11-18' AND creation_time >= '2025-11-20 06:00+00' AND creation_time < '2025-11-28' AND creation_time < '2025-11-26 01:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE '2025-11-25'::date > creation_time;
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time > '2025-11-28 12:00:00.5+00'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time = '2025-11-30 00:00:00+00'$$);
SELECT start_date, end_date, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
-- bounds the API cannot be sent (years before 1 or after 9999) stay local
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time > '0044-03-15 BC';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time < '10000-01-01' AND creation_time > '2025-11-29';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time > '0001-01-01 00:00+00';
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time > '0044-03-15 BC'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time < '10000-01-01' AND creation_time > '2025-11-29'$$);
SELECT start_date, end_date, status, count(*) FROM emu_log('pd') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- a timestamp or date column as the date column: it holds the time as the
-- API wrote it (in whatever offset), so its bounds are widened by 16 hours
CREATE FOREIGN TABLE pd_calls_ts (id text, creation_time timestamp, call_day date OPTIONS (field 'creation_time'))
  SERVER pd;
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls_ts WHERE creation_time >= '2025-11-20 10:00' AND creation_time < '2025-11-21';
SELECT count(id) FROM pd_calls_ts WHERE creation_time >= '2025-11-20 10:00' AND creation_time < '2025-11-21';
SELECT count(id) FROM pd_calls_np WHERE creation_time >= '2025-11-20 10:00' AND creation_time < '2025-11-21';
ALTER FOREIGN TABLE pd_calls_ts OPTIONS (ADD date_column 'call_day');
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls_ts WHERE call_day BETWEEN '2025-11-20' AND '2025-11-22';
SELECT count(id) FROM pd_calls_ts WHERE call_day BETWEEN '2025-11-20' AND '2025-11-22';
SELECT count(id) FROM pd_calls_np WHERE creation_time >= '2025-11-20' AND creation_time < '2025-11-23';
SELECT start_date, end_date, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
ALTER FOREIGN TABLE pd_calls_ts OPTIONS (SET date_column 'id');
SELECT id FROM pd_calls_ts WHERE call_day > '2025-11-20';
ALTER FOREIGN TABLE pd_calls_ts OPTIONS (SET date_column '');
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls_ts WHERE call_day > '2025-11-20';

--
-- date_format 'timestamp': exact instants in UTC, one millisecond further
-- out on an inclusive side; no date bound the query did not ask for
--
ALTER FOREIGN TABLE pd_calls OPTIONS (ADD date_format 'timestamp');
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time >= '2025-11-20 10:00:00.123+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time > '2025-11-20 10:00+05:30' AND creation_time < '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time <= '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25';
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE call_status = 'missed';
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25 12:34:56.789'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time > '2025-11-29 23:56:54.531+00'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time <= '2025-11-29 23:56:54.531+00' AND creation_time > '2025-11-29'$$);
SELECT same_rows($$SELECT id FROM pd_calls WHERE creation_time >= '2025-11-29 23:56:54.531+00'$$);
SELECT start_date, end_date, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(id) FROM pd_calls WHERE call_status = 'missed';
SELECT count(*) FILTER (WHERE end_date IS NULL) AS without_end_date, count(*) AS requests
  FROM emu_log('pd');
ALTER FOREIGN TABLE pd_calls OPTIONS (DROP date_format);

-- rows stamped ahead of the database's clock (the API's clock runs 30 s
-- ahead) are all there: no end_date is pinned to the scan's start
SELECT emu_server('pd_ahead', format('tag=pdahead,rows=200,links=0,anchor=%s',
                  (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 30000));
SELECT emu_table('pd_ahead_calls', 'pd_ahead', 'OPTIONS (date_format ''timestamp'')');
SELECT count(id), count(*) FILTER (WHERE creation_time > now()) > 0 AS some_ahead FROM pd_ahead_calls;
SELECT count(*) FROM pd_ahead_calls;
SELECT count(*) AS requests, count(end_date) AS with_end_date FROM emu_log('pdahead');
-- where the API filters dates on a field that is null for some rows
-- (start_time: missed calls have none), an unasked-for bound would hide them
SELECT emu_server('pd_start', 'tag=pdstart,rows=2500,links=0,variant=b,date_field=start_time');
SELECT emu_table('pd_start_calls', 'pd_start', 'OPTIONS (date_column ''start_time'', date_format ''timestamp'')');
SELECT count(*) FROM pd_start_calls WHERE call_status = 'missed';
SELECT count(call_duration) FROM pd_start_calls WHERE call_status = 'missed';
SELECT (emu_totals('rows=2500,variant=b')->'by_status'->'missed')::int AS expected;
SELECT count(*) AS requests, count(end_date) AS with_end_date FROM emu_log('pdstart');

--
-- Offsets: a row written 2025-11-30T05:00:00+05:00 (the instant 00:00Z) is
-- a timestamp of 05:00 and a date of 2025-11-30.  Every date condition
-- gives the same answer pushed down as checked locally, for timestamptz,
-- timestamp and date columns, both date_formats, session time zones from
-- -10 to +14 hours, and values of each type.
--
SELECT emu_server('pd_off', 'tag=pdoff,rows=1,links=0,anchor=2025-11-30T00:00:00Z,fault=wrong_types,wrong_field=creation_time,wrong_value=%222025-11-30T05:00:00%2B05:00%22');
CREATE FOREIGN TABLE pd_off_calls (id text, tz timestamptz OPTIONS (field 'creation_time'),
  ts timestamp OPTIONS (field 'creation_time'), d date OPTIONS (field 'creation_time'))
  SERVER pd_off OPTIONS (date_column 'ts', date_format 'timestamp');
SELECT ts, d, tz FROM pd_off_calls;
-- the example of the issue: one row, not zero
SELECT count(id) FROM pd_off_calls WHERE ts >= '2025-11-30 01:00';
EXPLAIN (COSTS OFF) SELECT count(id) FROM pd_off_calls WHERE ts >= '2025-11-30 01:00';
-- pd_date_check(ft, local, vals, conds, zones): with each date_format and
-- each of the columns tz, ts, d as date_column, in each session time zone,
-- for each value (a typed literal) and condition template (%1$I the
-- column, %2$s the value): the count pushed down on foreign table ft equals
-- the count of the same condition on local, the rows' values read without
-- pushdown
CREATE FUNCTION pd_date_check(ft text, local text, vals text[], conds text[], zones text[],
                              OUT checks int, OUT rows_expected bigint, OUT mismatches int,
                              OUT first_mismatch text)
LANGUAGE plpgsql AS $$
DECLARE
  zone text; fmt text; col text; tmpl text; val text; cond text; want bigint; got bigint;
BEGIN
  checks := 0; rows_expected := 0; mismatches := 0;
  FOREACH fmt IN ARRAY ARRAY['timestamp', 'date'] LOOP
    FOREACH col IN ARRAY ARRAY['tz', 'ts', 'd'] LOOP
      EXECUTE format('ALTER FOREIGN TABLE %I OPTIONS (SET date_column %L, SET date_format %L)', ft, col, fmt);
      FOREACH zone IN ARRAY zones LOOP
        PERFORM set_config('timezone', zone, true);
        FOREACH val IN ARRAY vals LOOP
          FOREACH tmpl IN ARRAY conds LOOP
            cond := format(tmpl, col, val);
            EXECUTE format('SELECT count(*) FROM %s WHERE %s', local, cond) INTO want;
            EXECUTE format('SELECT count(id) FROM %I WHERE %s', ft, cond) INTO got;
            checks := checks + 1;
            rows_expected := rows_expected + want;
            IF got <> want THEN
              mismatches := mismatches + 1;
              first_mismatch := coalesce(first_mismatch,
                format('%s, date_format %s, TimeZone %s: %s rows pushed, %s expected', cond, fmt, zone, got, want));
            END IF;
          END LOOP;
        END LOOP;
      END LOOP;
    END LOOP;
  END LOOP;
END $$;
SELECT * FROM pd_date_check('pd_off_calls',
  $$(SELECT '2025-11-30 00:00+00'::timestamptz AS tz, '2025-11-30 05:00'::timestamp AS ts, '2025-11-30'::date AS d) r$$,
  (SELECT array_agg(format('%L::%s', v, t)) FROM unnest(ARRAY['2025-11-29 10:00', '2025-11-30 00:00',
     '2025-11-30 05:00', '2025-11-30 13:00', '2025-12-01 00:00']) v, unnest(ARRAY['timestamp', 'timestamptz', 'date']) t),
  ARRAY['%1$I > %2$s', '%1$I >= %2$s', '%1$I < %2$s', '%1$I <= %2$s', '%1$I = %2$s'],
  ARRAY['UTC', 'Pacific/Kiritimati', 'Pacific/Honolulu']);
SHOW timezone;
SELECT count(*) AS requests, count(start_date) > 0 AS with_start_date,
       count(end_date) > 0 AS with_end_date, bool_and(status = 200) AS all_ok
  FROM emu_log('pdoff');

-- the same over 2,500 calls written with mixed offsets (Z, +05:30, -08:00,
-- +14:00, -12:00, +00:00), against their values read without pushdown
SELECT emu_server('pd_mix', 'tag=pdmix,rows=2500,links=0,tz=mixed,anchor=2025-11-30T00:00:00Z');
CREATE FOREIGN TABLE pd_mix_calls (id text, tz timestamptz OPTIONS (field 'creation_time'),
  ts timestamp OPTIONS (field 'creation_time'), d date OPTIONS (field 'creation_time'))
  SERVER pd_mix OPTIONS (date_column 'tz', date_format 'timestamp');
CREATE TEMP TABLE pd_mix_local AS SELECT * FROM pd_mix_calls;
SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE ts::date <> (tz AT TIME ZONE 'UTC')::date) AS other_day
  FROM pd_mix_local;
SELECT * FROM pd_date_check('pd_mix_calls', 'pd_mix_local',
  ARRAY['''2025-11-27 03:00''::timestamp', '''2025-11-27 03:00+05:30''::timestamptz', '''2025-11-27''::date'],
  ARRAY['%1$I >= %2$s', '%1$I < %2$s', '%1$I BETWEEN %2$s AND %2$s + interval ''1 day'''],
  ARRAY['UTC', 'Asia/Kolkata', 'America/Los_Angeles']);
SHOW timezone;
SELECT count(*) > 100 AS requests_sent, count(start_date) > 0 AS with_start_date,
       count(end_date) > 0 AS with_end_date, bool_and(status = 200) AS all_ok
  FROM emu_log('pdmix');

--
-- Values known only at execution: now()-relative ranges, parameters
--
EXPLAIN (COSTS OFF) SELECT id FROM pd_calls WHERE creation_time > now() - interval '7 days';
SELECT count(id) FROM pd_calls WHERE creation_time > now() - interval '7 days';
SELECT start_date = to_char(now() AT TIME ZONE 'UTC' - interval '7 days' - interval '16 hours', 'YYYY-MM-DD')
       AS start_is_7_days_16_hours_ago, count(*) AS requests
  FROM emu_log('pd') GROUP BY start_date;
-- prepared statements keep their pushdown after the switch to a generic plan
PREPARE by_status(text) AS SELECT id FROM pd_calls WHERE call_status = $1;
EXPLAIN (COSTS OFF) EXECUTE by_status('missed');
DO $$
BEGIN
  FOR i IN 1..7 LOOP
    EXECUTE 'EXECUTE by_status(''missed'')';
  END LOOP;
END $$;
EXPLAIN (COSTS OFF) EXECUTE by_status('missed');
SELECT generic_plans > 0 AS went_generic FROM pg_prepared_statements WHERE name = 'by_status';
SELECT call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1;
PREPARE by_date(timestamptz, text[]) AS
  SELECT count(id) FROM pd_calls WHERE creation_time >= $1 AND call_status = ANY ($2);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_date('2025-11-28', ARRAY['missed', 'failed']);
EXECUTE by_date('2025-11-28', ARRAY['missed', 'failed']);
SELECT count(id) FROM pd_calls_np WHERE creation_time >= '2025-11-28' AND call_status IN ('missed', 'failed');
SELECT start_date, call_status, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
-- a constant that is never sent shows as not sent under a generic plan too
PREPARE busy(timestamptz) AS
  SELECT count(id) FROM pd_calls WHERE call_status = 'busy&x=1' AND creation_time > $1;
EXPLAIN (COSTS OFF) EXECUTE busy('2025-11-28');
EXECUTE busy('2025-11-28');
SELECT call_status, start_date, count(*) FROM emu_log('pd') GROUP BY 1, 2;
RESET plan_cache_mode;

--
-- LIMIT without local filter or sort: page_size shrinks, fetching stops
--
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls LIMIT 5;
SELECT id FROM pd_calls LIMIT 5;
SELECT * FROM emu_requests('pd');
SELECT count(*) FROM (SELECT id FROM pd_calls LIMIT 150) s;
SELECT * FROM emu_requests('pd');
SELECT count(*) FROM (SELECT id FROM pd_calls LIMIT 450) s;
SELECT * FROM emu_requests('pd');
-- a filter the API applies exactly keeps the LIMIT (ordering.sql has more);
-- a sort the API's order does not give keeps it local
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls WHERE call_status = 'missed' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT * FROM pd_calls ORDER BY creation_time LIMIT 5;
SELECT id FROM pd_calls ORDER BY creation_time LIMIT 2;
SELECT count(*) AS requests, count(DISTINCT page) AS pages, min(page_size) AS page_size FROM emu_log('pd');

--
-- count(*) is answered from "count": one page_size=1 request per stream
--
EXPLAIN (COSTS OFF) SELECT count(*) FROM pd_calls;
SELECT count(*) FROM pd_calls;
SELECT * FROM emu_requests('pd');
SELECT count(*) FROM pd_calls WHERE call_status = 'missed';
SELECT count(*) FROM pd_calls WHERE call_status IN ('missed', 'failed') AND call_type = 'inbound';
-- (the streams' requests go out together: sorted, not in arrival order)
SELECT r FROM emu_requests('pd') r ORDER BY r;
SELECT (emu_totals('rows=2500')->'by_status'->'missed')::int AS missed,
       (emu_totals('rows=2500')->'by_type_status'->'inbound/missed')::int +
       (emu_totals('rows=2500')->'by_type_status'->'inbound/failed')::int AS inbound_missed_failed;
-- not with a local condition, GROUP BY of another column (counts.sql has
-- GROUP BY call_type/call_status), or another aggregate
EXPLAIN (COSTS OFF) SELECT count(*) FROM pd_calls WHERE creation_time > '2025-11-20';
EXPLAIN (COSTS OFF) SELECT source_number, count(*) FROM pd_calls GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT count(*), max(bridge) FROM pd_calls;

--
-- Joins with local tables: the API is called once per stream
--
CREATE TABLE pd_contacts (phone text PRIMARY KEY, name text);
INSERT INTO pd_contacts
  SELECT source_number, 'Contact ' || row_number() OVER (ORDER BY source_number)
    FROM (SELECT DISTINCT source_number FROM pd_calls_np) s;
ANALYZE pd_contacts;
SELECT count(*) AS requests FROM emu_log('pdnp');
EXPLAIN (COSTS OFF)
SELECT c.name, count(*) FROM pd_calls l JOIN pd_contacts c ON c.phone = l.source_number
 WHERE l.call_status = 'missed' GROUP BY c.name;
SELECT count(*), count(DISTINCT c.name) FROM pd_calls l JOIN pd_contacts c ON c.phone = l.source_number
 WHERE l.call_status = 'missed';
SELECT count(*) FROM pd_calls_np l JOIN pd_contacts c ON c.phone = l.source_number
 WHERE l.call_status = 'missed';
SELECT call_status, page, count(*) AS requests FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;

-- a rescan with unchanged parameters replays the rows already fetched
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SET enable_hashagg = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT v FROM (VALUES ('+447952905700'), ('+17644901734'), ('+10000000000')) t(v)
 WHERE v IN (SELECT source_number FROM pd_calls WHERE call_status = 'failed');
SELECT v FROM (VALUES ('+447952905700'), ('+17644901734'), ('+10000000000')) t(v)
 WHERE v IN (SELECT source_number FROM pd_calls WHERE call_status = 'failed') ORDER BY v;
SELECT call_status, page, count(*) AS requests FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
RESET enable_hashagg;
RESET enable_sort;
SELECT v FROM (VALUES ('+447952905700'), ('+17644901734'), ('+10000000000')) t(v)
 WHERE v IN (SELECT source_number FROM pd_calls_np WHERE call_status = 'failed') ORDER BY v;

-- a changing parameter (correlated subquery) fetches again for each value
EXPLAIN (COSTS OFF)
SELECT s, (SELECT count(id) FROM pd_calls l WHERE l.call_status = s) FROM unnest(ARRAY['missed', 'failed', 'missed']) s;
SELECT s, (SELECT count(id) FROM pd_calls l WHERE l.call_status = s) FROM unnest(ARRAY['missed', 'failed', 'missed']) s;
SELECT call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1 ORDER BY 1;
SELECT v.s, x.n FROM (VALUES ('inbound'), ('outbound')) v(s),
  LATERAL (SELECT count(id) AS n FROM pd_calls l WHERE l.call_type = v.s AND l.call_status = 'failed') x;
SELECT call_type, call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;

--
-- The request URL: the server url's own query is kept, values are
-- percent-encoded by libcurl's URL API
--
SELECT emu_server('pd_q', 'tag=pdq,rows=300,links=0,anchor=2025-11-30T00:00:00Z');
SELECT emu_url('tag=pdq,rows=300,links=0,anchor=2025-11-30T00:00:00Z') || '?x=1&y=a%2Bb' AS url \gset
ALTER SERVER pd_q OPTIONS (SET url :'url');
SELECT emu_table('pd_q_calls', 'pd_q', 'OPTIONS (date_format ''timestamp'')');
EXPLAIN (COSTS OFF) SELECT count(id) FROM pd_q_calls WHERE call_status = 'missed' AND creation_time >= '2025-11-29 12:00+00';
SELECT count(id) FROM pd_q_calls WHERE call_status = 'missed' AND creation_time >= '2025-11-29 12:00+00';
SELECT * FROM pd_paths('pdq');
-- a url without a path keeps its query too (EXPLAIN sends nothing)
SELECT 'http://127.0.0.1:' || port || '?x=1' AS url FROM emu_config \gset
ALTER SERVER pd_q OPTIONS (SET url :'url');
EXPLAIN (COSTS OFF) SELECT count(id) FROM pd_q_calls WHERE call_type = 'outbound';

--
-- Estimates: no request at plan time unless use_remote_estimate
--
EXPLAIN SELECT * FROM pd_calls WHERE call_status = 'missed';
SELECT count(id) > 0 AS some_rows FROM pd_calls WHERE call_type = 'outbound';
SELECT count(*) AS requests FROM emu_log('pd');
EXPLAIN SELECT * FROM pd_calls WHERE call_status = 'missed';
SELECT count(*) AS requests FROM emu_log('pd');
ALTER FOREIGN TABLE pd_calls OPTIONS (ADD use_remote_estimate 'true');
EXPLAIN SELECT * FROM pd_calls WHERE call_status = 'missed';
SELECT * FROM emu_requests('pd');
ALTER FOREIGN TABLE pd_calls OPTIONS (DROP use_remote_estimate, ADD estimated_rows '90000');
EXPLAIN SELECT * FROM pd_calls;

-- ANALYZE samples a bounded number of pages
ALTER FOREIGN TABLE pd_calls OPTIONS (DROP estimated_rows, ADD analyze_max_pages '3');
ANALYZE pd_calls;
SELECT reltuples FROM pg_class WHERE relname = 'pd_calls';
SELECT * FROM emu_requests('pd');
SELECT attname, n_distinct > 0 OR n_distinct < 0 AS has_stats FROM pg_stats
 WHERE tablename = 'pd_calls' AND attname IN ('call_status', 'call_type') ORDER BY 1;
EXPLAIN SELECT * FROM pd_calls WHERE call_status = 'missed';

--
-- The API variants of date filtering that API.md leaves open: the answers
-- equal those without pushdown, or the API's refusal is a clear ERROR
--
CREATE FUNCTION pd_variant(scenario text, table_opts text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  conds text[] := ARRAY[
    $c$creation_time >= '2025-11-20 10:00+00'$c$,
    $c$creation_time < '2025-11-25'$c$,
    $c$creation_time BETWEEN '2025-11-21 23:00+00' AND '2025-11-22 01:00+00'$c$,
    $c$creation_time <= '2025-11-29 23:56:54.531+00' AND creation_time > '2025-11-29'$c$,
    $c$start_time > '2025-11-29 12:00+00' AND call_status = 'missed'$c$];
  c text; a bigint; b bigint; same int := 0; total bigint := 0; st text; msg text;
BEGIN
  EXECUTE 'DROP SERVER IF EXISTS pd_var, pd_var_np CASCADE';
  PERFORM emu_server('pd_var', 'tag=pdvar,rows=2500,links=0,anchor=2025-11-30T00:00:00Z,' || scenario);
  PERFORM emu_table('pd_var_calls', 'pd_var', 'OPTIONS (' || table_opts || ')');
  PERFORM emu_server('pd_var_np', 'tag=pdvarnp,rows=2500,links=0,anchor=2025-11-30T00:00:00Z,' || scenario,
                     ', pushdown ''false''');
  PERFORM emu_table('pd_var_np_calls', 'pd_var_np');
  BEGIN
    FOREACH c IN ARRAY conds LOOP
      EXECUTE 'SELECT count(*) FROM pd_var_calls WHERE call_duration IS NOT NULL AND ' || c INTO a;
      EXECUTE 'SELECT count(*) FROM pd_var_np_calls WHERE call_duration IS NOT NULL AND ' || c INTO b;
      same := same + (a = b)::int;
      total := total + b;
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    EXECUTE 'DROP SERVER pd_var, pd_var_np CASCADE';
    RETURN st || ': ' || msg;
  END;
  EXECUTE 'DROP SERVER pd_var, pd_var_np CASCADE';
  PERFORM emu_log('pdvarnp');
  RETURN format('%s of %s conditions give the same %s rows', same, array_length(conds, 1), total);
END $$;
SET client_min_messages = warning;
SELECT pd_variant('end_exclusive=1', 'date_format ''date''');
SELECT pd_variant('end_exclusive=1', 'date_format ''timestamp''');
SELECT pd_variant('dates=date_only', 'date_format ''date''');
SELECT pd_variant('dates=timestamp_only', 'date_format ''timestamp''');
SELECT pd_variant('date_field=start_time', 'date_column ''start_time'', date_format ''timestamp''');
SELECT pd_variant('date_field=start_time,variant=b', 'date_column ''start_time''');
SELECT pd_variant('case_insensitive=1', 'date_format ''date''');
SELECT pd_variant('dates=date_only', 'date_format ''timestamp''');
SELECT pd_variant('dates=timestamp_only', 'date_format ''date''');
RESET client_min_messages;
SELECT count(*) > 0 AS requests_sent, count(start_date) > 0 AS with_dates FROM emu_log('pdvar');

-- this file's objects
SET client_min_messages = warning;
DROP SERVER pd, pd_nopd, pd_ahead, pd_start, pd_off, pd_mix, pd_q CASCADE;
DROP TABLE pd_contacts;
DROP FUNCTION same_rows(text), pd_paths(text), pd_date_check(text, text, text[], text[], text[]), pd_variant(text, text);
RESET client_min_messages;
