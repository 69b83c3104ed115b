--
-- Ordering: the API answers newest first.  The planner is told (table option
-- order_column, creation_time by default), so ORDER BY creation_time DESC
-- LIMIT n is one request of page_size n; the order is checked as rows
-- arrive; any other order is sorted locally and stays exactly right.
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set VERBOSITY default

SELECT emu_server('ord', 'tag=ord,rows=25000,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('ord_calls', 'ord');
-- the same data, sorted locally: no order claimed, nothing pushed
SELECT emu_server('ord_local', 'tag=ordl,rows=25000,anchor=2025-11-30T00:00:00Z', ', pushdown ''false''');
SELECT emu_table('ord_calls_local', 'ord_local', 'OPTIONS (order_column '''')');

-- same_ordered(q): q's rows on ord_calls, in q's order, are those of the
-- same query on ord_calls_local (the local table's requests are forgotten)
CREATE FUNCTION same_ordered(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  a text; b text; n bigint;
BEGIN
  EXECUTE format('SELECT md5(string_agg(r::text, %L)), count(*) FROM (%s) r', ',', q) INTO a, n;
  EXECUTE format('SELECT md5(string_agg(r::text, %L)) FROM (%s) r', ',',
                 replace(q, 'ord_calls', 'ord_calls_local')) INTO b;
  PERFORM emu_log('ordl');
  RETURN CASE WHEN a IS NOT DISTINCT FROM b THEN 'same ' || n || ' rows in the same order'
              ELSE 'DIFFERENT' END;
END $$;

--
-- The newest calls: one request of page_size n, no local sort
--
EXPLAIN (COSTS OFF)
SELECT id, creation_time FROM ord_calls WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 10;
SELECT id, creation_time FROM ord_calls WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 3;
SELECT * FROM emu_requests('ord');
SELECT same_ordered($$SELECT id, creation_time FROM ord_calls WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 10$$);
SELECT * FROM emu_requests('ord');
-- with both filters: still one request
SELECT same_ordered($$SELECT id, call_type, creation_time FROM ord_calls
  WHERE call_status = 'completed' AND call_type = 'outbound' ORDER BY creation_time DESC LIMIT 10$$);
SELECT * FROM emu_requests('ord');
-- a date bound is sent widened (a local filter drops what the API adds):
-- page_size grows by the filter's estimated selectivity (1/3), and with
-- date_format 'timestamp' (widened by 1 ms) one page has the rows
ALTER FOREIGN TABLE ord_calls OPTIONS (ADD date_format 'timestamp');
SELECT same_ordered($$SELECT id, call_type, creation_time FROM ord_calls
  WHERE call_status = 'completed' AND call_type = 'outbound' AND creation_time < '2025-11-20'
  ORDER BY creation_time DESC LIMIT 10$$);
SELECT * FROM emu_requests('ord');
ALTER FOREIGN TABLE ord_calls OPTIONS (DROP date_format);
-- OFFSET counts: 95 + 10 rows are two pages of 100
SELECT same_ordered($$SELECT id FROM ord_calls ORDER BY creation_time DESC LIMIT 10 OFFSET 95$$);
SELECT * FROM emu_requests('ord');
-- NULLS LAST is the same order when no creation_time is NULL (and checked)
EXPLAIN (COSTS OFF) SELECT id FROM ord_calls ORDER BY creation_time DESC NULLS LAST LIMIT 5;
SELECT same_ordered($$SELECT id FROM ord_calls ORDER BY creation_time DESC NULLS LAST LIMIT 5$$);
SELECT * FROM emu_requests('ord');
-- WITH TIES asks for rows past the limit: they are fetched
SELECT same_ordered($$SELECT id FROM ord_calls WHERE call_status = 'failed' ORDER BY creation_time DESC FETCH FIRST 10 ROWS WITH TIES$$);
SELECT count(*) AS requests FROM emu_log('ord');
-- a local filter the API cannot apply: the rows it needs are fetched ahead
SELECT same_ordered($$SELECT id, bridge FROM ord_calls WHERE call_status = 'missed' AND bridge = 1
  ORDER BY creation_time DESC LIMIT 10$$);
SELECT count(*) BETWEEN 2 AND 8 AS a_few_requests FROM emu_log('ord');
SELECT same_ordered($$SELECT id FROM ord_calls WHERE source_number LIKE '+44%' ORDER BY creation_time DESC LIMIT 300$$);
SELECT count(*) < 100 AS not_every_page FROM emu_log('ord');
-- a window over the API's order needs no sort
SELECT cl_plan($$SELECT id, creation_time - lag(creation_time) OVER (ORDER BY creation_time DESC) AS gap
  FROM ord_calls WHERE call_type = 'inbound' AND call_status = 'failed'$$);
SELECT same_ordered($$SELECT id, creation_time - lag(creation_time) OVER (ORDER BY creation_time DESC) AS gap
  FROM ord_calls WHERE call_type = 'inbound' AND call_status = 'failed'$$);
SELECT count(*) AS requests FROM emu_log('ord');

--
-- Other orders are sorted locally, over every page
--
EXPLAIN (COSTS OFF) SELECT id FROM ord_calls WHERE call_type = 'inbound' ORDER BY creation_time LIMIT 5;
SELECT same_ordered($$SELECT id, creation_time FROM ord_calls WHERE call_type = 'inbound' ORDER BY creation_time LIMIT 5$$);
SELECT count(*) AS requests, min(page_size) AS page_size FROM emu_log('ord');
SELECT same_ordered($$SELECT id FROM ord_calls WHERE call_status = 'failed' ORDER BY source_number, id LIMIT 5$$);
SELECT count(*) AS requests, min(page_size) AS page_size FROM emu_log('ord');
-- a second key: the API's order sorts only within equal creation_times
EXPLAIN (COSTS OFF) SELECT id FROM ord_calls ORDER BY creation_time DESC, id LIMIT 5;
SELECT same_ordered($$SELECT id FROM ord_calls ORDER BY creation_time DESC, id LIMIT 5$$);
SELECT count(*) <= 4 AS at_most_a_window FROM emu_log('ord');
-- an IN list fans out into one stream per value, read one after another:
-- no order is claimed
EXPLAIN (COSTS OFF) SELECT id FROM ord_calls WHERE call_status IN ('missed', 'failed') ORDER BY creation_time DESC LIMIT 5;
SELECT same_ordered($$SELECT id FROM ord_calls WHERE call_status IN ('missed', 'failed') ORDER BY creation_time DESC LIMIT 5$$);
SELECT call_status, count(*) AS requests FROM emu_log('ord') GROUP BY 1 ORDER BY 1;
-- one query per value, each with its ORDER BY ... LIMIT: merged, one
-- request each
EXPLAIN (COSTS OFF)
SELECT id FROM ((SELECT id, creation_time FROM ord_calls WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 5)
                UNION ALL
                (SELECT id, creation_time FROM ord_calls WHERE call_status = 'failed' ORDER BY creation_time DESC LIMIT 5)) s
 ORDER BY creation_time DESC LIMIT 5;
SELECT same_ordered($$SELECT id FROM ((SELECT id, creation_time FROM ord_calls WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 5)
                UNION ALL
                (SELECT id, creation_time FROM ord_calls WHERE call_status = 'failed' ORDER BY creation_time DESC LIMIT 5)) s
 ORDER BY creation_time DESC LIMIT 5$$);
SELECT r FROM emu_requests('ord') r ORDER BY r;

-- organizations under a partitioned table: their orders are merged, each
-- asked for the rows the LIMIT needs
SELECT emu_server('ord_agency', 'tag=ordorgs,orgs=acme+globex,rows=500,anchor=2025-11-30T00:00:00Z');
SELECT * FROM callogs_create_org_tables('ord_all', 'ord_agency', ARRAY['acme', 'globex']);
SELECT cl_plan($$SELECT org_handle, id FROM ord_all WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 4$$);
CREATE TABLE ord_all_local AS SELECT org_handle, id, creation_time, call_status FROM ord_all;
SELECT emu_reset('ordorgs');
SELECT (SELECT string_agg(org_handle || '/' || id, ',') FROM (SELECT org_handle, id FROM ord_all
          WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 4) s) =
       (SELECT string_agg(org_handle || '/' || id, ',') FROM (SELECT org_handle, id FROM ord_all_local
          WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 4) s) AS same_rows;
SELECT org, page, page_size, call_status FROM emu_log('ordorgs') ORDER BY org, page;

--
-- Merge joins can use the order
--
CREATE TABLE ord_marks AS
  SELECT creation_time AS t FROM ord_calls_local WHERE call_status = 'failed' ORDER BY id LIMIT 40;
ANALYZE ord_marks;
SELECT count(*) AS requests FROM emu_log('ordl');
SET enable_hashjoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ord_calls c JOIN ord_marks m ON c.creation_time = m.t;
SELECT count(*), count(*) FILTER (WHERE c.call_status = 'failed') AS failed
  FROM ord_calls c JOIN ord_marks m ON c.creation_time = m.t;
RESET enable_hashjoin;
RESET enable_nestloop;
SELECT count(*) AS requests FROM emu_log('ord');

--
-- LIMIT $1 of a generic plan sizes the pages as a literal LIMIT does
--
PREPARE ord_newest(int) AS
  SELECT id FROM ord_calls WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT $1;
PREPARE ord_first(int) AS SELECT id FROM ord_calls LIMIT $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ord_first(50);
CREATE TEMP TABLE ord_first_rows AS EXECUTE ord_first(50);
SELECT count(*), count(DISTINCT id) FROM ord_first_rows;
SELECT * FROM emu_requests('ord');
CREATE TEMP TABLE ord_newest_rows AS EXECUTE ord_newest(7);
SELECT count(*) FROM ord_newest_rows;
SELECT * FROM emu_requests('ord');
SELECT (SELECT string_agg(id, ',') FROM ord_newest_rows) =
       (SELECT string_agg(id, ',') FROM (SELECT id FROM ord_calls_local WHERE call_status = 'missed'
                                          ORDER BY creation_time DESC LIMIT 7) s) AS same_rows;
SELECT emu_reset('ordl');
RESET plan_cache_mode;
DEALLOCATE ord_newest;
DEALLOCATE ord_first;

--
-- Rows out of order: an ERROR naming the option, never a wrong answer
--
SELECT emu_server('ord_un', 'tag=ordun,rows=2500,fault=unordered,fault_pages=2,swap=3:4,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('ord_un_calls', 'ord_un');
-- page 1 is in order
SELECT count(*) FROM (SELECT id FROM ord_un_calls ORDER BY creation_time DESC LIMIT 100) s;
-- page 2 is not: rows 104 and 105 are swapped
SELECT id FROM ord_un_calls ORDER BY creation_time DESC LIMIT 150;
SELECT count(*) FROM (SELECT id FROM ord_un_calls ORDER BY creation_time DESC NULLS LAST LIMIT 150) s;
-- orders that are sorted locally are right (compared with the same data
-- set without the fault)
SELECT emu_server('ord_small', 'tag=ordsmall,rows=2500,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('ord_small_calls', 'ord_small');
SELECT (SELECT string_agg(id, ',') FROM (SELECT id FROM ord_un_calls ORDER BY creation_time LIMIT 2450) s) =
       (SELECT string_agg(id, ',') FROM (SELECT id FROM ord_small_calls ORDER BY creation_time LIMIT 2450) s)
       AS ascending_right;
SELECT emu_reset('ordun');
-- the hint's way out: no order claimed, the rows are sorted locally
ALTER FOREIGN TABLE ord_un_calls OPTIONS (ADD order_column '');
EXPLAIN (COSTS OFF) SELECT id FROM ord_un_calls ORDER BY creation_time DESC LIMIT 150;
SELECT (SELECT string_agg(id, ',') FROM (SELECT id FROM ord_un_calls ORDER BY creation_time DESC LIMIT 150) s) =
       (SELECT string_agg(id, ',') FROM (SELECT id FROM ord_small_calls ORDER BY creation_time DESC LIMIT 150) s)
       AS descending_right;
SELECT emu_reset('ordsmall');

--
-- Only an order the scan can guarantee is claimed
--
-- timestamptz compares instants: rows written with mixed UTC offsets keep
-- the API's order
SELECT emu_server('ord_mix', 'tag=ordmix,rows=2500,tz=mixed,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('ord_mix_calls', 'ord_mix');
SELECT same_ordered($$SELECT id, creation_time FROM ord_mix_calls ORDER BY creation_time DESC LIMIT 500$$);
SELECT count(*) AS requests FROM emu_log('ordmix');
-- a timestamp column holds wall-clock times: their order is not the API's
CREATE FOREIGN TABLE ord_mix_ts (id text, call_status text, creation_time timestamp)
  SERVER ord_mix;
EXPLAIN (COSTS OFF) SELECT id FROM ord_mix_ts ORDER BY creation_time DESC LIMIT 500;
CREATE FOREIGN TABLE ord_mix_ts_local (id text, call_status text, creation_time timestamp)
  SERVER ord_mix OPTIONS (order_column '');
SELECT (SELECT string_agg(id || creation_time, ',') FROM (SELECT id, creation_time FROM ord_mix_ts ORDER BY creation_time DESC, id LIMIT 500) s) =
       (SELECT string_agg(id || creation_time, ',') FROM (SELECT id, creation_time FROM ord_mix_ts_local ORDER BY creation_time DESC, id LIMIT 500) s)
       AS same_rows;
SELECT emu_reset('ordmix');
-- order_column names the column; a column that cannot be ordered is an error
ALTER FOREIGN TABLE ord_mix_ts OPTIONS (ADD order_column 'creation_time');
SELECT id FROM ord_mix_ts ORDER BY creation_time DESC LIMIT 1;
ALTER FOREIGN TABLE ord_mix_ts OPTIONS (SET order_column 'nosuch');
SELECT id FROM ord_mix_ts LIMIT 1;
ALTER FOREIGN TABLE ord_mix_ts OPTIONS (SET order_column 'id');
SELECT id FROM ord_mix_ts LIMIT 1;
-- another timestamptz column: the API orders by it (here: start_time of a
-- table whose creation_time is fed by start_time)
CREATE FOREIGN TABLE ord_start (id text, creation_time timestamptz OPTIONS (field 'start_time'),
                                 created timestamptz OPTIONS (field 'creation_time'))
  SERVER ord OPTIONS (order_column 'created', date_column 'created');
EXPLAIN (COSTS OFF) SELECT id FROM ord_start ORDER BY created DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ord_start ORDER BY creation_time DESC LIMIT 5;
SELECT count(*) AS requests FROM emu_log('ord');
