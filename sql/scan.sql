--
-- Full scans: every page is read, in order, whatever the API variant
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SELECT emu_server('emu', 'tag=scan');
SELECT emu_table('call_logs', 'emu');

-- the whole default data set (2500 rows, 25 pages of 100)
SELECT count(*) AS rows, count(DISTINCT id) AS ids,
       (SELECT emu_totals()->'count') AS expected
  FROM (SELECT * FROM call_logs) s WHERE id IS NOT NULL;
SELECT count(*) AS requests, min(page) AS first_page, max(page) AS last_page,
       min(page_size) AS page_size, bool_and(status = 200) AS all_ok,
       bool_and(org = 'acme' AND auth = 'ok') AS headers_ok
  FROM emu_log('scan');
-- per status, against the data set's known totals
SELECT call_status, count(*),
       (emu_totals()->'by_status'->>call_status)::int AS expected
  FROM (SELECT call_status FROM call_logs WHERE bridge IS NOT NULL) s
 GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM emu_log('scan');
-- rows arrive newest first, as the API sends them
SELECT bool_and(prev >= creation_time) AS newest_first FROM (
  SELECT creation_time, lag(creation_time) OVER () AS prev FROM call_logs) s;
SELECT count(*) FROM emu_log('scan');
-- a few rows in full
SELECT * FROM call_logs LIMIT 3;
SELECT count(*) FROM emu_log('scan');

-- sequential fetching gives the same rows in the same order
ALTER SERVER emu OPTIONS (ADD concurrency '1');
SELECT md5(string_agg(id, ',')) = (SELECT md5(string_agg(id, ',')) FROM (SELECT id FROM call_logs) x) AS same_rows
  FROM (SELECT id FROM call_logs) s;
SELECT count(*) AS requests FROM emu_log('scan');
ALTER SERVER emu OPTIONS (SET concurrency '8', ADD page_size '37');
SELECT count(*), count(DISTINCT id) FROM (SELECT * FROM call_logs) s WHERE id <> '';
SELECT count(*) AS requests, max(page) AS last_page, min(page_size) AS page_size FROM emu_log('scan');

-- variant B: no id, no bridge, integer durations, null times for missed calls
SELECT emu_server('emu_b', 'tag=scanb,variant=b,rows=230');
SELECT emu_table('calls_b', 'emu_b');
SELECT count(*), count(id) AS ids, count(bridge) AS bridges,
       count(*) FILTER (WHERE call_status = 'missed' AND start_time IS NULL AND end_time IS NULL) AS missed_null,
       count(*) FILTER (WHERE call_status = 'missed') AS missed,
       (emu_totals('variant=b,rows=230')->'count')::int AS expected
  FROM (SELECT * FROM calls_b) s WHERE call_duration IS NOT NULL;
SELECT source_number, call_type, call_status, creation_time, start_time, call_duration, end_reason
  FROM calls_b LIMIT 4;
SELECT count(*) AS requests FROM emu_log('scanb');

-- "next" links are followed instead of counting pages
SELECT emu_server('emu_links', 'tag=links,links=1,rows=250');
SELECT emu_table('calls_links', 'emu_links');
SELECT count(*), count(DISTINCT id) FROM (SELECT * FROM calls_links) s WHERE id IS NOT NULL;
SELECT page, page_size, status FROM emu_log('links');

-- a page past the end answered with an empty page instead of 404
SELECT emu_server('emu_empty', 'tag=empty,past_end=empty,rows=200');
SELECT emu_table('calls_empty', 'emu_empty', 'OPTIONS (page_size ''50'')');
SELECT count(*) FROM (SELECT * FROM calls_empty) s WHERE id IS NOT NULL;
SELECT count(*) AS requests, max(page) FROM emu_log('empty');

-- a server that silently caps page_size: a short page is not the last one
SELECT emu_server('emu_cap', 'tag=cap,cap=30,rows=250');
SELECT emu_table('calls_cap', 'emu_cap');
SELECT count(*), count(DISTINCT id) FROM (SELECT * FROM calls_cap) s WHERE id IS NOT NULL;
SELECT count(*) AS requests, max(page) AS last_page FROM emu_log('cap');

-- a count that claims more rows than there are: stop at the 404
SELECT emu_server('emu_lie', 'tag=lie,fault=count_lie,rows=120');
SELECT emu_table('calls_lie', 'emu_lie', 'OPTIONS (concurrency ''1'')');
SELECT count(*) FROM (SELECT * FROM calls_lie) s WHERE id IS NOT NULL;
SELECT page, status FROM emu_log('lie') ORDER BY page;

-- an empty organization
SELECT emu_server('emu_none', 'tag=none,rows=0');
SELECT emu_table('calls_none', 'emu_none');
SELECT * FROM calls_none;
SELECT count(*) AS requests FROM emu_log('none');

-- a scan that stops early (LIMIT above a sort-free plan) leaves nothing behind
SELECT id IS NOT NULL FROM call_logs WHERE bridge > 0 LIMIT 1;
SELECT count(*) FROM call_logs WHERE bridge > 0;
SELECT count(*) > 0 AS some_requests FROM emu_log('scan');
