--
-- HTTP errors and malformed responses become clear ERRORs
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set VERBOSITY default
-- err_case: the error of a query on a faulted scenario, or (SQLSTATE 00000)
-- the query's result, and the number of requests it sent
CREATE FUNCTION err_case(scenario text, opts text DEFAULT '', tbl_query text DEFAULT 'SELECT count(call_status) FROM e_t')
RETURNS TABLE (sqlstate text, message text, detail text, hint text, requests bigint)
LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; det text; hnt text; res text;
BEGIN
  EXECUTE 'DROP SERVER IF EXISTS e_srv CASCADE';
  PERFORM emu_reset('err');
  PERFORM emu_server('e_srv', 'tag=err,' || scenario, opts);
  PERFORM emu_table('e_t', 'e_srv');
  BEGIN
    EXECUTE tbl_query INTO res;
    st := '00000';
    msg := 'result: ' || res;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  END;
  EXECUTE 'DROP SERVER e_srv CASCADE';
  -- the port changes from run to run
  det := regexp_replace(det, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g');
  RETURN QUERY SELECT st, msg, nullif(det, ''), nullif(hnt, ''),
                      (SELECT count(*) FROM emu_log('err'));
END $$;
SET client_min_messages = warning;

-- authentication and organization
SELECT * FROM err_case('token=other');
SELECT * FROM err_case('org=globex');
-- a wrong path: 404 on the first page
SELECT * FROM err_case('fault=404,fault_pages=1');
-- the API refuses a parameter
SELECT * FROM err_case('fault=400');
-- server errors are retried, then reported with the number of attempts
SELECT * FROM err_case('fault=500json', ', max_retries ''1'', retry_max_wait_ms ''10''');
SELECT * FROM err_case('fault=500html', ', max_retries ''0''');
SELECT * FROM err_case('fault=500empty', ', max_retries ''0''');
SELECT * FROM err_case('fault=502', ', max_retries ''0''');
SELECT * FROM err_case('fault=503,fault_pages=2', ', max_retries ''2'', retry_max_wait_ms ''10'', concurrency ''1''');
SELECT * FROM err_case('fault=504', ', max_retries ''0''');
SELECT * FROM err_case('fault=429none', ', max_retries ''0''');
-- transient failures that end before the retries run out are invisible:
-- every row is there (150 rows, 2 pages)
SELECT * FROM err_case('fault=503,fault_times=2,rows=150', ', retry_max_wait_ms ''10''');
SELECT * FROM err_case('fault=429,retry_after=0,fault_times=1,rows=150');
SELECT * FROM err_case('fault=503,fault_times=2,fault_pages=2,rows=150', ', retry_max_wait_ms ''10''');
-- redirects are not followed
SELECT * FROM err_case('fault=redirect');
-- responses that are not a page
SELECT * FROM err_case('fault=invalid_json');
SELECT * FROM err_case('fault=trailing_comma,rows=2500,anchor=2025-11-30T00:00:00Z');
SELECT * FROM err_case('fault=not_json');
SELECT * FROM err_case('fault=data_not_array');
SELECT * FROM err_case('fault=data_missing');
SELECT * FROM err_case('fault=count_missing');
SELECT * FROM err_case('fault=count_negative');
SELECT * FROM err_case('fault=count_string');
SELECT * FROM err_case('fault=count_huge');
SELECT * FROM err_case('fault=count_float');
SELECT * FROM err_case('fault=depth_bomb');
SELECT * FROM err_case('fault=bad_utf8', '', 'SELECT count(source_number) FROM e_t');
SELECT * FROM err_case('fault=huge_body,size=5000000', ', max_response_bytes ''1000000''');
-- "next" links may not leave the server's origin, repeat, or run on forever
SELECT * FROM err_case('fault=next_foreign');
SELECT * FROM err_case('fault=next_scheme');
SELECT * FROM err_case('fault=next_repeat');
-- an unreachable server
CREATE FUNCTION unreachable() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  CREATE SERVER dead FOREIGN DATA WRAPPER callogs_fdw
    OPTIONS (url 'http://127.0.0.1:9/api/v2/platform/call-logs/', org_handle 'acme',
             max_retries '1', retry_max_wait_ms '10', connect_timeout_ms '500');
  CREATE USER MAPPING FOR CURRENT_USER SERVER dead OPTIONS (token 'secret');
  PERFORM emu_table('dead_t', 'dead');
  BEGIN
    PERFORM count(*) FROM (SELECT * FROM dead_t) s;
  EXCEPTION WHEN OTHERS THEN
    DROP SERVER dead CASCADE;
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'after [0-9]+ ms', 'after N ms');
  END;
  RETURN 'no error';
END $$;
SELECT unreachable();
RESET client_min_messages;

-- the full error report of a typical failure
SELECT emu_server('e401', 'tag=e401,token=rotated');
SELECT emu_table('calls_401', 'e401');
SELECT * FROM calls_401;
SELECT count(*) FROM emu_log('e401');

-- this file's objects
SET client_min_messages = warning;
DROP SERVER e401 CASCADE;
DROP FUNCTION err_case(text, text, text), unreachable();
RESET client_min_messages;
