/* callogs_fdw--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION callogs_fdw UPDATE TO '1.1'" to load this file. \quit

-- 1.1: the multi-organization helpers can no longer be taken over through
-- the caller's search_path, and names are quoted and kept apart.
--
-- In 1.0 they ran with the caller's search_path and called unnest, format,
-- left, lower, regexp_replace, || and = unqualified: a role allowed to
-- create objects in a schema on that path could define a closer-matching
-- overload (public.unnest(text[]), public.format(text, name, ...),
-- public.||(name, text), ...) that then ran with the rights of whoever
-- called the helper, typically a superuser following the README.  Now every
-- function runs with search_path = pg_catalog, pg_temp and names its
-- functions, operators and types with their schema, so no object outside
-- pg_catalog is ever looked up.
--
-- Names: the child table of an organization is "<parent>_<org_handle>",
-- with the org handle as is (case and punctuation kept, quoted where
-- needed), so that Acme/acme or a-b/a_b get different tables; a name over
-- 63 bytes is cut and ends in "_" and 8 hex digits of the SHA-256 of the
-- handle.  A parent name that needs quoting works.

DROP FUNCTION @extschema@.callogs_create_org_tables(name, name, text[]);

-- callogs_add_org_table: create the foreign table of one organization as a
-- partition of parent (a table partitioned by LIST (org_handle)), on
-- server, with the org_handle table option and a column org_handle filled
-- from it.  Runs as the caller.  Returns the new table.
CREATE OR REPLACE FUNCTION @extschema@.callogs_add_org_table(parent regclass, org_handle text,
                                                           server name)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  nsp pg_catalog.name;
  nspoid pg_catalog.oid;
  rel pg_catalog.name;
  child pg_catalog.text;
  hash pg_catalog.text;
  childoid pg_catalog.oid;
BEGIN
  IF parent IS NULL OR server IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22004',
      MESSAGE = 'parent and server must not be null';
  END IF;
  IF org_handle IS NULL OR org_handle OPERATOR(pg_catalog.=) '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'org_handle must not be empty',
      HINT = 'Pass the organization''s handle, as sent in the Org-Handle header.';
  END IF;
  SELECT n.nspname, n.oid, c.relname INTO nsp, nspoid, rel
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
   WHERE c.oid OPERATOR(pg_catalog.=) parent::pg_catalog.oid;

  -- "<parent>_<org_handle>", or cut to 54 bytes (on a character boundary)
  -- plus "_" and 8 hex digits of the handle's hash when over 63 bytes
  child := rel::pg_catalog.text OPERATOR(pg_catalog.||) '_'
           OPERATOR(pg_catalog.||) org_handle;
  IF pg_catalog.octet_length(child) OPERATOR(pg_catalog.>) 63 THEN
    hash := pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(
              pg_catalog.convert_to(org_handle, 'UTF8')), 'hex'), 1, 8);
    WHILE pg_catalog.octet_length(child) OPERATOR(pg_catalog.>) 54 LOOP
      child := pg_catalog.substr(child, 1,
                                 pg_catalog.length(child) OPERATOR(pg_catalog.-) 1);
    END LOOP;
    child := child OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) hash;
  END IF;

  EXECUTE pg_catalog.format(
    'CREATE FOREIGN TABLE %I.%I PARTITION OF %I.%I FOR VALUES IN (%L) '
    'SERVER %I OPTIONS (org_handle %L)',
    nsp, child, nsp, rel, org_handle, server, org_handle);
  EXECUTE pg_catalog.format(
    'ALTER FOREIGN TABLE %I.%I ALTER COLUMN org_handle OPTIONS (ADD field %L)',
    nsp, child, '@org_handle');

  SELECT c.oid INTO childoid
    FROM pg_catalog.pg_class c
   WHERE c.relnamespace OPERATOR(pg_catalog.=) nspoid
     AND c.relname OPERATOR(pg_catalog.=) child::pg_catalog.name;
  RETURN childoid::pg_catalog.regclass;
END
$$;

-- callogs_create_org_tables: create parent (in parent_schema: by default
-- the caller's current schema, where CREATE TABLE would put it), a table
-- partitioned by LIST (org_handle) with the canonical call_logs columns,
-- and one foreign partition per org handle on server.  Returns the
-- partitions.  parent_schema's default is evaluated in the caller's
-- session, before the function's own search_path applies.
CREATE FUNCTION @extschema@.callogs_create_org_tables(
    parent name, server name, org_handles text[],
    parent_schema name DEFAULT pg_catalog.current_schema())
RETURNS SETOF regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  parentoid pg_catalog.oid;
  o pg_catalog.text;
BEGIN
  IF parent IS NULL OR server IS NULL OR org_handles IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22004',
      MESSAGE = 'parent, server and org_handles must not be null';
  END IF;
  IF parent_schema IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '3F000',
      MESSAGE = 'no schema has been selected to create in',
      HINT = 'Pass parent_schema, or set search_path to a schema that exists.';
  END IF;
  EXECUTE pg_catalog.format('CREATE TABLE %I.%I (
      org_handle pg_catalog.text NOT NULL,
      id pg_catalog.text, source_number pg_catalog.text,
      destination_number pg_catalog.text,
      call_type pg_catalog.text, call_status pg_catalog.text,
      creation_time pg_catalog.timestamptz, start_time pg_catalog.timestamptz,
      end_time pg_catalog.timestamptz,
      call_duration pg_catalog.interval, end_reason pg_catalog.text,
      bridge pg_catalog.int4
    ) PARTITION BY LIST (org_handle)', parent_schema, parent);
  SELECT c.oid INTO parentoid
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
   WHERE n.nspname OPERATOR(pg_catalog.=) parent_schema
     AND c.relname OPERATOR(pg_catalog.=) parent;
  FOREACH o IN ARRAY org_handles LOOP
    RETURN NEXT @extschema@.callogs_add_org_table(parentoid::pg_catalog.regclass, o, server);
  END LOOP;
  RETURN;
END
$$;

-- callogs_fdw_probe: ask the provider, with a fixed, small number of cheap
-- requests, what no document settles (which field start_date/end_date
-- filter on, their inclusivity, the date format, the page-size cap, the
-- kind of "next" links, case of filter values, ids, the page past the end)
-- and which of foreign_table's columns no call carries; one row per fact
-- with the setting it recommends.  Superuser or the server's owner only
-- (checked inside).
CREATE FUNCTION @extschema@.callogs_fdw_probe(
    server name, foreign_table regclass DEFAULT NULL,
    OUT fact text, OUT finding text, OUT evidence text,
    OUT recommendation text, OUT requests integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- callogs_fdw_activity: one row per callogs_fdw scan in progress in any
-- backend, to watch a long scan from another session: its server and
-- table, pages done of pages known, rows received, and its backend's
-- requests in flight, retries in the statement and Retry-After wait.
-- Needs callogs_fdw in shared_preload_libraries (otherwise no rows, and a
-- NOTICE says why).  Another role's scans show their details only to
-- members of that role or of pg_read_all_stats, as pg_stat_activity does.
CREATE FUNCTION @extschema@.callogs_fdw_activity(
    OUT pid integer, OUT usename text, OUT datname text,
    OUT server text, OUT foreign_table text, OUT scan_start timestamptz,
    OUT streams integer, OUT streams_known integer,
    OUT pages_done bigint, OUT pages_known bigint, OUT rows bigint,
    OUT requests_in_flight integer, OUT retries bigint,
    OUT waiting_on_retry_after boolean, OUT retry_after_until timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW @extschema@.callogs_fdw_activity AS
  SELECT * FROM @extschema@.callogs_fdw_activity();

GRANT SELECT ON @extschema@.callogs_fdw_activity TO PUBLIC;
