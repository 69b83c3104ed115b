--
-- Pushdown: WHERE clauses become API query parameters, shown in EXPLAIN;
-- every clause is still checked locally, so results never change.
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SELECT emu_server('pd', 'tag=pd');
SELECT emu_table('call_logs', 'pd');
-- the same table without pushdown, to compare results
SELECT emu_server('nopd', 'tag=nopd', ', pushdown ''false''');
SELECT emu_table('call_logs_np', 'nopd');

-- same_rows(query): the query's rows on call_logs equal those on call_logs_np
CREATE FUNCTION same_rows(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  a text; b text; n bigint;
BEGIN
  EXECUTE format('SELECT md5(string_agg(r::text, %L ORDER BY r::text)), count(*) FROM (%s) r', ',', q)
    INTO a, n;
  EXECUTE format('SELECT md5(string_agg(r::text, %L ORDER BY r::text)) FROM (%s) r', ',',
                 replace(q, 'call_logs', 'call_logs_np')) INTO b;
  PERFORM emu_log('nopd');
  RETURN CASE WHEN a IS NOT DISTINCT FROM b THEN 'same ' || n || ' rows' ELSE 'DIFFERENT' END;
END $$;

-- equality on call_status and call_type
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_status = 'missed';
SELECT same_rows($$SELECT * FROM call_logs WHERE call_status = 'missed'$$);
SELECT * FROM emu_requests('pd');
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_type = 'inbound' AND call_status = 'failed';
SELECT same_rows($$SELECT * FROM call_logs WHERE call_type = 'inbound' AND call_status = 'failed'$$);
SELECT * FROM emu_requests('pd');

-- IN and = ANY fan out into one request stream per value (cross product)
EXPLAIN (COSTS OFF)
SELECT id FROM call_logs WHERE call_status IN ('missed', 'failed') AND call_type = ANY (ARRAY['inbound', 'outbound']);
SELECT same_rows($$SELECT id FROM call_logs WHERE call_status IN ('missed', 'failed') AND call_type = ANY (ARRAY['inbound', 'outbound'])$$);
SELECT call_type, call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
-- streams are concatenated in order, each newest first
SELECT call_status, count(*), bool_and(ordered) AS newest_first FROM (
  SELECT call_status, lag(creation_time) OVER (PARTITION BY call_status ORDER BY n) >= creation_time
         OR lag(creation_time) OVER (PARTITION BY call_status ORDER BY n) IS NULL AS ordered
    FROM (SELECT row_number() OVER () AS n, * FROM call_logs WHERE call_status IN ('missed', 'failed')) s) t
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS requests FROM emu_log('pd');

-- contradictions send no request at all
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_type = 'inbound' AND call_type = ANY (ARRAY['outbound']);
SELECT * FROM call_logs WHERE call_type = 'inbound' AND call_type = ANY (ARRAY['outbound']);
SELECT * FROM call_logs WHERE call_status = ANY (ARRAY[]::text[]);
SELECT * FROM call_logs WHERE creation_time > '2025-11-20' AND creation_time < '2025-11-10';
SELECT count(*) AS requests FROM emu_log('pd');

-- undocumented values are never sent: a typo gives zero rows, not an API 400
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_status = 'Missed';
SELECT count(*) FROM call_logs WHERE call_status = 'Missed';
SELECT same_rows($$SELECT id FROM call_logs WHERE call_status IN ('missed', 'busy')$$);
SELECT DISTINCT call_status FROM emu_log('pd');

-- what must not be pushed: the query stays right
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE call_status <> 'missed';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE NOT (call_status = 'missed');
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE call_status = 'missed' OR call_type = 'inbound';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE call_status LIKE 'miss%';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE lower(call_status) = 'missed';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE call_status = call_type;
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE call_status = (random() > 2)::text;
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time::date = '2025-11-20';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE start_time > '2025-11-20';
SELECT same_rows($$SELECT id FROM call_logs WHERE call_status <> 'missed'$$);
SELECT same_rows($$SELECT id FROM call_logs WHERE call_status = 'missed' OR call_type = 'inbound'$$);
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time::date = '2025-11-20'$$);
SELECT count(*) AS requests, count(call_status) AS with_status FROM emu_log('pd');

-- dates (date_format 'date', the default): widened to whole UTC days
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time >= '2025-11-20 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time > '2025-11-20 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time < '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time <= '2025-11-25 00:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time = '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs
 WHERE creation_time > '2025-11-18' AND creation_time >= '2025-11-20 06:00+00' AND creation_time < '2025-11-28' AND creation_time < '2025-11-26 01:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE '2025-11-25'::date > creation_time;
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25'$$);
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time > '2025-11-28 12:00:00.5+00'$$);
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time = '2025-11-30 00:00:00+00'$$);
SELECT start_date, end_date, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
-- a timestamp or date column as the date column
CREATE FOREIGN TABLE calls_ts (id text, creation_time timestamp, call_day date OPTIONS (field 'creation_time'))
  SERVER pd;
EXPLAIN (COSTS OFF) SELECT id FROM calls_ts WHERE creation_time >= '2025-11-20 10:00' AND creation_time < '2025-11-21';
ALTER FOREIGN TABLE calls_ts OPTIONS (ADD date_column 'call_day');
EXPLAIN (COSTS OFF) SELECT id FROM calls_ts WHERE call_day BETWEEN '2025-11-20' AND '2025-11-22';
SELECT count(*) FROM calls_ts WHERE call_day BETWEEN '2025-11-20' AND '2025-11-22';
SELECT count(*) FROM call_logs_np WHERE creation_time >= '2025-11-20' AND creation_time < '2025-11-23';
ALTER FOREIGN TABLE calls_ts OPTIONS (SET date_column 'id');
SELECT id FROM calls_ts WHERE call_day > '2025-11-20';
ALTER FOREIGN TABLE calls_ts OPTIONS (SET date_column '');
EXPLAIN (COSTS OFF) SELECT id FROM calls_ts WHERE call_day > '2025-11-20';
SELECT count(*) FROM emu_log('pd');

-- dates with date_format 'timestamp': exact ISO 8601 in UTC
ALTER FOREIGN TABLE call_logs OPTIONS (ADD date_format 'timestamp');
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time >= '2025-11-20 10:00:00.123+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time > '2025-11-20 10:00+05:30' AND creation_time < '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time <= '2025-11-25 10:00+00';
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25';
-- without an upper bound, end_date is pinned to the scan's start
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE call_status = 'missed';
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time BETWEEN '2025-11-20' AND '2025-11-25 12:34:56.789'$$);
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time > '2025-11-29 23:56:54.531+00'$$);
SELECT same_rows($$SELECT id FROM call_logs WHERE creation_time <= '2025-11-29 23:56:54.531+00' AND creation_time > '2025-11-29'$$);
SELECT start_date, end_date, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FROM call_logs WHERE call_status = 'missed';
SELECT end_date::timestamptz BETWEEN now() AND clock_timestamp() AS pinned_to_scan_start FROM emu_log('pd');
ALTER FOREIGN TABLE call_logs OPTIONS (DROP date_format);

-- values known only at execution: now()-relative ranges, parameters
EXPLAIN (COSTS OFF) SELECT id FROM call_logs WHERE creation_time > now() - interval '7 days';
SELECT count(*) FROM call_logs WHERE creation_time > now() - interval '7 days';
SELECT start_date = to_char(now() AT TIME ZONE 'UTC' - interval '7 days', 'YYYY-MM-DD') AS start_is_7_days_ago
  FROM emu_log('pd');
-- prepared statements keep their pushdown after the switch to a generic plan
PREPARE by_status(text) AS SELECT id FROM call_logs WHERE call_status = $1;
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
  SELECT count(id) FROM call_logs WHERE creation_time >= $1 AND call_status = ANY ($2);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_date('2025-11-28', ARRAY['missed', 'failed']);
EXECUTE by_date('2025-11-28', ARRAY['missed', 'failed']);
RESET plan_cache_mode;
SELECT start_date, call_status, count(*) FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;

-- LIMIT without local filter or sort: page_size shrinks, fetching stops
EXPLAIN (COSTS OFF) SELECT * FROM call_logs LIMIT 5;
SELECT id FROM call_logs LIMIT 5;
SELECT * FROM emu_requests('pd');
SELECT count(*) FROM (SELECT id FROM call_logs LIMIT 150) s;
SELECT * FROM emu_requests('pd');
-- with a filter or a sort the LIMIT stays local
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_status = 'missed' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT * FROM call_logs ORDER BY creation_time LIMIT 5;

-- count(*) is answered from "count": one page_size=1 request per stream
EXPLAIN (COSTS OFF) SELECT count(*) FROM call_logs;
SELECT count(*) FROM call_logs;
SELECT count(*) FROM call_logs WHERE call_status = 'missed';
SELECT count(*) FROM call_logs WHERE call_status IN ('missed', 'failed') AND call_type = 'inbound';
SELECT * FROM emu_requests('pd');
-- not with a local condition, GROUP BY, or another aggregate
EXPLAIN (COSTS OFF) SELECT count(*) FROM call_logs WHERE creation_time > '2025-11-20';
EXPLAIN (COSTS OFF) SELECT call_status, count(*) FROM call_logs GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT count(*), max(bridge) FROM call_logs;

-- joins with local tables: the API is called once per stream
CREATE TABLE contacts (phone text PRIMARY KEY, name text);
INSERT INTO contacts
  SELECT source_number, 'Contact ' || row_number() OVER (ORDER BY source_number)
    FROM (SELECT DISTINCT source_number FROM call_logs_np) s;
ANALYZE contacts;
SELECT count(*) FROM emu_log('nopd');
EXPLAIN (COSTS OFF)
SELECT c.name, count(*) FROM call_logs l JOIN contacts c ON c.phone = l.source_number
 WHERE l.call_status = 'missed' GROUP BY c.name;
SELECT count(*), count(DISTINCT c.name) FROM call_logs l JOIN contacts c ON c.phone = l.source_number
 WHERE l.call_status = 'missed';
SELECT page, count(*) AS requests FROM emu_log('pd') GROUP BY 1 ORDER BY 1;

-- a rescan with unchanged parameters replays the rows already fetched
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SET enable_hashagg = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT v FROM (VALUES ('+447952905700'), ('+17644901734'), ('+10000000000')) t(v)
 WHERE v IN (SELECT source_number FROM call_logs WHERE call_status = 'failed');
SELECT v FROM (VALUES ('+447952905700'), ('+17644901734'), ('+10000000000')) t(v)
 WHERE v IN (SELECT source_number FROM call_logs WHERE call_status = 'failed');
SELECT page, count(*) AS requests FROM emu_log('pd') GROUP BY 1 ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
RESET enable_hashagg;
RESET enable_sort;

-- a changing parameter (correlated subquery) fetches again for each value
EXPLAIN (COSTS OFF)
SELECT s, (SELECT count(id) FROM call_logs l WHERE l.call_status = s) FROM unnest(ARRAY['missed', 'failed', 'missed']) s;
SELECT s, (SELECT count(id) FROM call_logs l WHERE l.call_status = s) FROM unnest(ARRAY['missed', 'failed', 'missed']) s;
SELECT call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1 ORDER BY 1;
SELECT v.s, x.n FROM (VALUES ('inbound'), ('outbound')) v(s),
  LATERAL (SELECT count(id) AS n FROM call_logs l WHERE l.call_type = v.s AND l.call_status = 'failed') x;
SELECT call_type, call_status, count(*) AS requests FROM emu_log('pd') GROUP BY 1, 2 ORDER BY 1, 2;

-- estimates: no request at plan time unless use_remote_estimate
EXPLAIN SELECT * FROM call_logs WHERE call_status = 'missed';
SELECT count(*) AS requests FROM emu_log('pd');
ALTER FOREIGN TABLE call_logs OPTIONS (ADD use_remote_estimate 'true');
EXPLAIN SELECT * FROM call_logs WHERE call_status = 'missed';
SELECT * FROM emu_requests('pd');
ALTER FOREIGN TABLE call_logs OPTIONS (DROP use_remote_estimate, ADD estimated_rows '90000');
EXPLAIN SELECT * FROM call_logs;

-- ANALYZE samples a bounded number of pages
ALTER FOREIGN TABLE call_logs OPTIONS (DROP estimated_rows, ADD analyze_max_pages '3');
ANALYZE call_logs;
SELECT reltuples FROM pg_class WHERE relname = 'call_logs';
SELECT count(*) AS requests FROM emu_log('pd');
SELECT attname, n_distinct > 0 OR n_distinct < 0 AS has_stats FROM pg_stats
 WHERE tablename = 'call_logs' AND attname IN ('call_status', 'call_type') ORDER BY 1;
EXPLAIN SELECT * FROM call_logs WHERE call_status = 'missed';
