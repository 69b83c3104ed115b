--
-- Test setup: helpers that point servers at the bundled Call Logs API
-- emulator (its port comes from the environment) and read its request log.
--
\getenv emu_port EMU_PORT
CREATE EXTENSION IF NOT EXISTS callogs_fdw;
CREATE TABLE emu_config AS SELECT :'emu_port'::int AS port;

-- URL of an emulator scenario (see emulator/README.md)
CREATE FUNCTION emu_url(scenario text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT 'http://127.0.0.1:' || port || coalesce('/s/' || scenario, '')
         || '/api/v2/platform/call-logs/' FROM emu_config
$$;

-- percent-encoding for scenario values
CREATE FUNCTION urlencode(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90
                              OR b BETWEEN 97 AND 122
                         THEN chr(b) ELSE '%' || lpad(upper(to_hex(b)), 2, '0') END,
                    '' ORDER BY i)
    FROM (SELECT i, get_byte(convert_to(s, 'UTF8'), i) AS b
            FROM generate_series(0, octet_length(convert_to(s, 'UTF8')) - 1) i) x
$$;

-- the canonical call_logs table on a server
CREATE FUNCTION emu_table(tbl text, srv text, extra text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$CREATE FOREIGN TABLE %I (
      id text, source_number text, destination_number text,
      call_type text, call_status text,
      creation_time timestamptz, start_time timestamptz, end_time timestamptz,
      call_duration interval, end_reason text, bridge integer
    ) SERVER %I %s$f$, tbl, srv, extra);
END $$;

-- the requests the emulator received for a scenario tag (cleared on read)
CREATE FUNCTION emu_log(tag text)
RETURNS TABLE (seq int, status int, page int, page_size int, call_type text,
               call_status text, start_date text, end_date text, org text,
               auth text, t_start float8, t_end float8, client_port int)
LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS emu_log_raw (
    seq text, t_start text, t_end text, status text, page text, page_size text,
    call_type text, call_status text, start_date text, end_date text, org text,
    auth text, fault text, client_port text, path text);
  TRUNCATE emu_log_raw;
  EXECUTE format('COPY emu_log_raw FROM PROGRAM %L WITH (FORMAT csv, DELIMITER E''\t'', HEADER true, QUOTE E''\x01'')',
                 format('curl -sf "http://127.0.0.1:%s/_log?tag=%s&clear=1"',
                        (SELECT port FROM emu_config), tag));
  RETURN QUERY
    SELECT r.seq::int, nullif(r.status, '')::int, nullif(r.page, '')::int,
           nullif(r.page_size, '')::int, nullif(r.call_type, ''),
           nullif(r.call_status, ''), nullif(r.start_date, ''),
           nullif(r.end_date, ''), nullif(r.org, ''), r.auth,
           nullif(r.t_start, '')::float8, nullif(r.t_end, '')::float8,
           nullif(r.client_port, '')::int
      FROM emu_log_raw r ORDER BY r.seq::int;
END $$;

-- forget a tag's log, fault counters and shifted rows
CREATE FUNCTION emu_reset(tag text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS emu_reset_raw (j text);
  EXECUTE format('COPY emu_reset_raw FROM PROGRAM %L',
                 format('curl -sf "http://127.0.0.1:%s/_reset?tag=%s"',
                        (SELECT port FROM emu_config), tag));
  TRUNCATE emu_reset_raw;
END $$;

-- a server + user mapping for a scenario (its tag starts afresh)
CREATE FUNCTION emu_server(srv text, scenario text, extra text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url %L, org_handle %L %s)',
                 srv, emu_url(scenario), 'acme', extra);
  EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (token %L)',
                 srv, 'secret');
  IF scenario ~ 'tag=' THEN
    PERFORM emu_reset(substring(scenario from 'tag=([A-Za-z0-9_]+)'));
  END IF;
END $$;

-- the request lines of a tag, one per request, in the order received
CREATE FUNCTION emu_requests(tag text)
RETURNS SETOF text LANGUAGE sql AS $$
  SELECT concat_ws(' ', 'page=' || page, 'page_size=' || page_size,
                   'call_type=' || call_type, 'call_status=' || call_status,
                   'start_date=' || start_date, 'end_date=' || end_date,
                   '-> ' || status)
    FROM emu_log(tag) ORDER BY page NULLS FIRST, seq
$$;

-- the plan of q without what PostgreSQL versions print differently
-- (ordering, counts)
CREATE FUNCTION cl_plan(q text, with_analyze bool DEFAULT false)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  l text;
BEGIN
  FOR l IN EXECUTE format('EXPLAIN (COSTS OFF%s) %s',
                          CASE WHEN with_analyze THEN ', ANALYZE, TIMING OFF, SUMMARY OFF' ELSE '' END, q) LOOP
    CONTINUE WHEN l ~ '^\s*Window: ';
    l := regexp_replace(l, ' \(actual rows=[0-9.]+ loops=[0-9]+\)', '');
    RETURN NEXT regexp_replace(l, '(InitPlan [0-9]+).*', '\1');
  END LOOP;
END $$;

-- totals of the emulator's data set for a scenario
CREATE FUNCTION emu_totals(scenario text DEFAULT '')
RETURNS jsonb LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS emu_totals_raw (j text);
  TRUNCATE emu_totals_raw;
  EXECUTE format('COPY emu_totals_raw FROM PROGRAM %L WITH (FORMAT csv, QUOTE E''\x01'', DELIMITER E''\x02'')',
                 format('curl -sf "http://127.0.0.1:%s/_totals?s=%s"',
                        (SELECT port FROM emu_config), replace(replace(scenario, '=', '%3D'), ',', '%2C')));
  RETURN (SELECT j::jsonb FROM emu_totals_raw);
END $$;
SELECT emu_totals()->'count' AS default_rows;
