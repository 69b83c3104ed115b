--
-- Many organizations: one foreign table per organization under a
-- partitioned table, scanned asynchronously (all orgs in flight at once),
-- each fetching its pages by number (links=0), several at a time
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET intervalstyle = 'postgres';
SELECT emu_server('agency', 'tag=orgs,orgs=acme+globex+initech,rows=250,latency=150,links=0');
SELECT * FROM callogs_create_org_tables('all_calls', 'agency', ARRAY['acme', 'globex', 'initech']);
\d+ all_calls
EXPLAIN (COSTS OFF) SELECT org_handle, count(*) FROM all_calls WHERE call_status = 'missed' GROUP BY 1;
SELECT org_handle, count(*) FROM all_calls WHERE call_status = 'missed' GROUP BY 1 ORDER BY 1;
-- each organization has its own data set, and was asked for its own pages
SELECT org, page, call_status, status FROM emu_log('orgs') ORDER BY org, page;
-- the organizations were fetched concurrently: every first request started
-- before any of them ended (each takes 150 ms)
SELECT org_handle, count(*), count(DISTINCT id) FROM all_calls GROUP BY 1 ORDER BY 1;
SELECT count(*) AS requests,
       max(t_start) FILTER (WHERE page = 1) < min(t_end) FILTER (WHERE page = 1) AS first_pages_overlap
  FROM emu_log('orgs');
-- partition pruning: one organization, one request stream
EXPLAIN (COSTS OFF) SELECT count(id) FROM all_calls WHERE org_handle = 'globex';
SELECT count(id) FROM all_calls WHERE org_handle = 'globex';
SELECT DISTINCT org FROM emu_log('orgs');
-- an organization with its own token gets its own server
SELECT emu_server('agency_umbrella', 'tag=orgs,orgs=umbrella:tokU,rows=50,links=0');
ALTER USER MAPPING FOR CURRENT_USER SERVER agency_umbrella OPTIONS (SET token 'tokU');
SELECT callogs_add_org_table('all_calls', 'umbrella', 'agency_umbrella');
SELECT org_handle, count(*) FROM all_calls GROUP BY 1 ORDER BY 1;
SELECT org, auth, count(*) FROM emu_log('orgs') GROUP BY 1, 2 ORDER BY 1;
-- a LIMIT over the partitions: each asks for no more than it can need
EXPLAIN (COSTS OFF) SELECT org_handle, id FROM all_calls LIMIT 5;
SELECT count(*) FROM (SELECT id FROM all_calls LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM all_calls LIMIT 300) s;
SELECT count(*) FROM (SELECT id FROM all_calls LIMIT 700) s;
SELECT bool_and(page_size IN (5, 100)) AS limited_or_full_pages FROM emu_log('orgs');
-- sequential when async is turned off
ALTER SERVER agency OPTIONS (ADD async_capable 'false');
EXPLAIN (COSTS OFF) SELECT count(id) FROM all_calls;
ALTER SERVER agency OPTIONS (DROP async_capable);
DROP TABLE all_calls;
DROP SERVER agency CASCADE;
DROP SERVER agency_umbrella CASCADE;
