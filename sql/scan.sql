--
-- Full scans: every page is read once, rows come in page order, and a scan
-- never ends short of the API's "count" without an ERROR.
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set VERBOSITY default

-- in-flight(tag): the largest number of requests the emulator was serving
-- at one time (from its request log, which it clears)
CREATE FUNCTION scan_in_flight(tag text) RETURNS bigint LANGUAGE sql AS $$
  WITH l AS (SELECT * FROM emu_log(tag))
  SELECT max((SELECT count(*) FROM l b WHERE b.t_start <= a.t_start AND b.t_end > a.t_start))
    FROM l a
$$;

--
-- The quickstart's size: 25,000 rows, 250 pages of 100
--
SELECT emu_server('scan_srv', 'tag=scan,rows=25000,links=0,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('scan_calls', 'scan_srv');
CREATE TEMP TABLE scan_c4 AS
  SELECT row_number() OVER () AS n, id, call_status, creation_time FROM scan_calls;
SELECT count(*) AS rows, count(DISTINCT id) AS ids,
       (emu_totals('rows=25000,anchor=2025-11-30T00:00:00Z')->'count')::int AS expected
  FROM scan_c4;
-- every page exactly once, all answered 200, with the headers
SELECT count(*) AS requests, count(DISTINCT page) AS pages, min(page) AS first_page,
       max(page) AS last_page, min(page_size) AS page_size, bool_and(status = 200) AS all_ok,
       bool_and(org = 'acme' AND auth = 'ok') AS headers_ok
  FROM emu_log('scan');
-- per status, against the data set's totals
SELECT call_status, count(*),
       (emu_totals('rows=25000,anchor=2025-11-30T00:00:00Z')->'by_status'->>call_status)::int AS expected
  FROM scan_c4 GROUP BY 1 ORDER BY 1;
-- newest first, as the API sends them
SELECT bool_and(prev > creation_time) AS newest_first FROM (
  SELECT creation_time, lag(creation_time) OVER (ORDER BY n) AS prev FROM scan_c4) s;

-- one page after another gives the same rows in the same order
ALTER SERVER scan_srv OPTIONS (ADD concurrency '1');
CREATE TEMP TABLE scan_c1 AS
  SELECT row_number() OVER () AS n, id FROM scan_calls;
SELECT (SELECT md5(string_agg(id, ',' ORDER BY n)) FROM scan_c1) =
       (SELECT md5(string_agg(id, ',' ORDER BY n)) FROM scan_c4) AS same_rows_same_order,
       (SELECT count(*) FROM scan_c1) AS rows;
SELECT count(*) AS requests, count(DISTINCT page) AS pages FROM emu_log('scan');
-- a page_size that does not divide the rows: 676 pages, the last one short
ALTER SERVER scan_srv OPTIONS (SET concurrency '8', ADD page_size '37');
SELECT count(*), count(DISTINCT id) FROM scan_calls;
SELECT count(*) AS requests, max(page) AS last_page, min(page_size) AS page_size FROM emu_log('scan');
ALTER SERVER scan_srv OPTIONS (DROP concurrency, DROP page_size);

-- concurrency is real: up to 4 requests in flight (more than 1 however
-- loaded the machine is, at 50 ms a page), or exactly 1
SELECT emu_server('scan_lat', 'tag=scanlat,rows=2000,links=0,latency=50,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('scan_lat_calls', 'scan_lat');
SELECT count(id) FROM scan_lat_calls;
SELECT in_flight > 1 AS concurrent, in_flight <= 4 AS within_concurrency
  FROM scan_in_flight('scanlat') in_flight;
ALTER SERVER scan_lat OPTIONS (ADD concurrency '1');
SELECT count(id) FROM scan_lat_calls;
SELECT scan_in_flight('scanlat') AS in_flight;

-- a scan stopped early (LIMIT above a filter) sends the first page and at
-- most `concurrency` more, and nothing after the statement ends
ALTER SERVER scan_lat OPTIONS (SET concurrency '4');
SELECT id IS NOT NULL AS found FROM scan_lat_calls WHERE bridge > 0 LIMIT 1;
SELECT pg_sleep(0.3);
SELECT count(*) BETWEEN 1 AND 5 AS at_most_a_window FROM emu_log('scanlat');
SELECT pg_sleep(0.2);
SELECT count(*) AS late_requests FROM emu_log('scanlat');
-- and the session goes on with a full, exact scan
SELECT count(*), count(DISTINCT id) FROM scan_lat_calls;
SELECT count(*) AS requests, count(DISTINCT page) AS pages FROM emu_log('scanlat');

--
-- API variants
--
-- variant B: no id, no bridge, integer durations, null times for missed calls
SELECT emu_server('scan_b', 'tag=scanb,variant=b,rows=2300,links=0,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('scan_b_calls', 'scan_b');
SELECT count(*), count(id) AS ids, count(bridge) AS bridges,
       count(*) FILTER (WHERE call_status = 'missed' AND start_time IS NULL AND end_time IS NULL) AS missed_null,
       count(*) FILTER (WHERE call_status = 'missed') AS missed,
       (emu_totals('variant=b,rows=2300,anchor=2025-11-30T00:00:00Z')->'by_status'->'missed')::int AS expected_missed,
       (emu_totals('variant=b,rows=2300,anchor=2025-11-30T00:00:00Z')->'count')::int AS expected
  FROM scan_b_calls WHERE call_duration IS NOT NULL;
SELECT call_type, call_status, creation_time, start_time, call_duration, end_reason
  FROM scan_b_calls LIMIT 4;
SELECT count(*) AS requests FROM emu_log('scanb');

-- page-number "next" links: pages are still fetched concurrently, by number
SELECT emu_server('scan_links', 'tag=links,links=1,rows=2500,latency=30,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('scan_links_calls', 'scan_links');
SELECT count(*), count(DISTINCT id) FROM scan_links_calls;
SELECT scan_in_flight('links') > 1 AS concurrent;

-- opaque cursors: followed one after another, each request sent after the
-- previous answer came, whatever the concurrency; every row once
CREATE FUNCTION scan_link_log(tag text, OUT requests bigint, OUT by_cursor bigint,
                              OUT one_after_another bool)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM emu_log(tag);
  SELECT count(*), count(*) FILTER (WHERE path LIKE '%cursor=%'),
         bool_and(prev_end IS NULL OR t_start::float8 >= prev_end)
    INTO requests, by_cursor, one_after_another
    FROM (SELECT path, t_start, lag(t_end::float8) OVER (ORDER BY seq::int) AS prev_end
            FROM emu_log_raw) l;
END $$;
SELECT emu_server('scan_cursor', 'tag=cursor,links=cursor,rows=2500,latency=20,anchor=2025-11-30T00:00:00Z');
SELECT emu_table('scan_cursor_calls', 'scan_cursor', 'OPTIONS (concurrency ''8'')');
CREATE TEMP TABLE scan_cur AS SELECT id, call_status, creation_time FROM scan_cursor_calls;
SELECT count(id), count(DISTINCT id) FROM scan_cur;
SELECT * FROM scan_link_log('cursor');
-- with filters: the cursors carry them
SELECT count(id),
       (SELECT count(*) FROM scan_cur WHERE call_status = 'missed' AND creation_time > '2025-11-25') AS expected
  FROM scan_cursor_calls WHERE call_status = 'missed' AND creation_time > '2025-11-25';
SELECT * FROM scan_link_log('cursor');
-- a cursor chain that ends (no "next") before "count" is reached: an ERROR
SELECT emu_server('scan_cursor_lie', 'tag=cursorlie,links=cursor,rows=250,fault=count_lie');
SELECT emu_table('scan_cursor_lie_calls', 'scan_cursor_lie');
SELECT count(id) FROM scan_cursor_lie_calls;
SELECT * FROM scan_link_log('cursorlie');

-- a server that silently caps page_size: a short page is not the last one
SELECT emu_server('scan_cap', 'tag=cap,cap=30,rows=250,links=0');
SELECT emu_table('scan_cap_calls', 'scan_cap');
SELECT count(*), count(DISTINCT id) FROM scan_cap_calls;
SELECT count(*) AS requests, max(page) AS last_page FROM emu_log('cap');

-- an empty organization: one request
SELECT emu_server('scan_none', 'tag=none,rows=0');
SELECT emu_table('scan_none_calls', 'scan_none');
SELECT * FROM scan_none_calls;
SELECT count(*) AS requests FROM emu_log('none');

--
-- The end of a stream must agree with "count"
--
-- a page in the middle answers 404 (page 3 or 5 of 50, after the retries):
-- an ERROR, never the 200 or 400 rows before it
SELECT emu_server('scan_404', 'tag=s404,rows=5000,links=0,fault=404,fault_pages=3',
                  ', max_retries ''1'', retry_max_wait_ms ''10''');
SELECT emu_table('scan_404_calls', 'scan_404');
SELECT count(id) FROM scan_404_calls;
SELECT DISTINCT page, status FROM emu_log('s404') WHERE page <= 3 ORDER BY 1, 2;
SELECT emu_server('scan_404b', 'tag=s404b,rows=5000,links=0,fault=404,fault_pages=5',
                  ', max_retries ''1'', retry_max_wait_ms ''10'', concurrency ''1''');
SELECT emu_table('scan_404b_calls', 'scan_404b');
SELECT count(id) FROM scan_404b_calls;
SELECT count(*) FILTER (WHERE status = 200) AS pages_ok, max(page) AS last_page FROM emu_log('s404b');

-- a cached copy keeps its contents when the API fails during a refresh
SELECT emu_server('scan_mv', 'tag=smv,rows=25000,links=0,anchor=2025-11-30T00:00:00Z,fault=404,fault_pages=5,fault_after=1',
                  ', max_retries ''1'', retry_max_wait_ms ''10''');
SELECT emu_table('scan_mv_calls', 'scan_mv');
CREATE MATERIALIZED VIEW scan_cache AS SELECT * FROM scan_mv_calls;
CREATE UNIQUE INDEX ON scan_cache (id);
SELECT count(*) AS cached FROM scan_cache;
REFRESH MATERIALIZED VIEW CONCURRENTLY scan_cache;
SELECT count(*) AS cached, count(DISTINCT id) AS ids FROM scan_cache;

-- "count" says 10 times the real rows on every page: the pages run out
-- (an empty page, or a 404) long before, which is an ERROR
SELECT emu_server('scan_lie', 'tag=lie,rows=200,links=0,fault=count_lie,past_end=empty',
                  ', page_size ''50'', concurrency ''1''');
SELECT emu_table('scan_lie_calls', 'scan_lie');
SELECT count(id) FROM scan_lie_calls;
SELECT page, status FROM emu_log('lie') ORDER BY seq;
SELECT emu_server('scan_lie404', 'tag=lie404,rows=200,links=0,fault=count_lie',
                  ', page_size ''50'', concurrency ''1'', max_retries ''1'', retry_max_wait_ms ''10''');
SELECT emu_table('scan_lie404_calls', 'scan_lie404');
SELECT count(id) FROM scan_lie404_calls;
SELECT page, status FROM emu_log('lie404') GROUP BY 1, 2 ORDER BY min(seq);

-- only page 1 overstates "count" (as if rows were deleted during the scan):
-- the later pages' "count" is met, so the empty page (or the 404) past the
-- last row is the end, and every row is there
SELECT emu_server('scan_del', 'tag=del,rows=200,links=0,fault=count_lie,fault_pages=1,past_end=empty',
                  ', page_size ''50'', concurrency ''1''');
SELECT emu_table('scan_del_calls', 'scan_del');
SELECT count(*), count(DISTINCT id) FROM scan_del_calls;
SELECT page, status FROM emu_log('del') ORDER BY seq;
SELECT emu_server('scan_del404', 'tag=del404,rows=200,links=0,fault=count_lie,fault_pages=1',
                  ', page_size ''50'', concurrency ''1'', max_retries ''1'', retry_max_wait_ms ''10''');
SELECT emu_table('scan_del404_calls', 'scan_del404');
SELECT count(*), count(DISTINCT id) FROM scan_del404_calls;
SELECT page, status FROM emu_log('del404') GROUP BY 1, 2 ORDER BY min(seq);

--
-- Retries are invisible when they succeed: the rows are all there
--
SELECT emu_server('scan_503', 'tag=s503,rows=2500,links=0,fault=503,fault_times=3,fault_pages=2:7',
                  ', retry_max_wait_ms ''10''');
SELECT emu_table('scan_503_calls', 'scan_503');
SELECT count(*), count(DISTINCT id),
       (emu_totals('rows=2500')->'count')::int AS expected FROM scan_503_calls;
SELECT status, count(*) FROM emu_log('s503') GROUP BY 1 ORDER BY 1;
SELECT emu_server('scan_429', 'tag=s429,rows=2500,links=0,fault=429,retry_after=0,fault_times=2');
SELECT emu_table('scan_429_calls', 'scan_429');
SELECT count(*), count(DISTINCT id) FROM scan_429_calls;
SELECT status, count(*) FROM emu_log('s429') GROUP BY 1 ORDER BY 1;

--
-- LIMIT counts the rows handed out, not the rows requested
--
-- new calls arrive before page 2 is served: its first 5 rows repeat page 1's
-- last 5 and are dropped, so page 3 is needed too
SELECT emu_server('scan_shift', 'tag=shift,rows=3500,links=0,fault=shift,shift_rows=5,fault_pages=2');
SELECT emu_table('scan_shift_calls', 'scan_shift');
SELECT count(*) FROM (SELECT id FROM scan_shift_calls LIMIT 200) s;
SELECT page, page_size FROM emu_log('shift') ORDER BY seq;
-- (pages 2 and 3 are in flight together: page 3 is fetched again if it was
-- answered before the new calls arrived)
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM scan_shift_calls LIMIT 300) s;
SELECT DISTINCT page, page_size FROM emu_log('shift') ORDER BY page;
ALTER SERVER scan_shift OPTIONS (ADD pushdown 'false');
SELECT count(*) FROM (SELECT id FROM scan_shift_calls LIMIT 200) s;
SELECT count(*) FROM (SELECT id FROM scan_shift_calls LIMIT 300) s;
SELECT count(DISTINCT page) AS pages FROM emu_log('shift');
-- a silent cap: pages of 30 instead of 100
SELECT emu_server('scan_capl', 'tag=capl,cap=30,rows=250,links=0');
SELECT emu_table('scan_capl_calls', 'scan_capl');
SELECT count(*) FROM (SELECT id FROM scan_capl_calls LIMIT 100) s;
SELECT page, page_size FROM emu_log('capl') ORDER BY page;

--
-- ANALYZE samples the first analyze_max_pages pages, whatever the
-- statistics target (a target of 1 asks for 300 rows of 1,000 read)
--
SELECT emu_server('scan_an', 'tag=an,rows=3000,links=0');
SELECT emu_table('scan_an_calls', 'scan_an');
SET default_statistics_target = 1;
ANALYZE scan_an_calls;
ANALYZE scan_an_calls;
ANALYZE scan_an_calls;
ANALYZE scan_an_calls;
ANALYZE scan_an_calls;
RESET default_statistics_target;
SELECT reltuples FROM pg_class WHERE relname = 'scan_an_calls';
SELECT count(*) AS requests, count(DISTINCT page) AS pages FROM emu_log('an');
SELECT attname, null_frac = 0 AS no_nulls, n_distinct <> 0 AS has_stats FROM pg_stats
 WHERE tablename = 'scan_an_calls' AND attname IN ('call_status', 'call_type', 'id') ORDER BY 1;
-- (not VERBOSE: PostgreSQL 18 adds timing lines that differ on every run)
ANALYZE scan_an_calls;
SELECT count(*) AS requests FROM emu_log('an');

-- this file's objects
SET client_min_messages = warning;
DROP SERVER scan_srv, scan_lat, scan_b, scan_links, scan_cap, scan_none, scan_404,
  scan_404b, scan_mv, scan_lie, scan_lie404, scan_del, scan_del404, scan_503, scan_429,
  scan_shift, scan_capl, scan_an, scan_cursor, scan_cursor_lie CASCADE;
DROP FUNCTION scan_in_flight(text), scan_link_log(text);
RESET client_min_messages;
