/* callogs_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION callogs_fdw" to load this file. \quit

CREATE FUNCTION callogs_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION callogs_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER callogs_fdw
  HANDLER callogs_fdw_handler
  VALIDATOR callogs_fdw_validator;

-- This session's API request statistics.
CREATE FUNCTION callogs_fdw_stats(
    OUT requests bigint, OUT retries bigint, OUT pages bigint,
    OUT rows bigint, OUT bytes bigint, OUT errors bigint,
    OUT wait_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION callogs_fdw_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION callogs_fdw_stats_reset() FROM PUBLIC;

-- Many organizations: one foreign table per organization, gathered as the
-- partitions of a table partitioned by org_handle.  The column org_handle
-- of each partition is filled from its table option (field '@org_handle').
CREATE FUNCTION callogs_add_org_table(parent regclass, org_handle text,
                                      server name)
RETURNS regclass
LANGUAGE plpgsql
AS $$
DECLARE
  nsp name;
  child name;
BEGIN
  SELECT n.nspname, left(c.relname || '_' ||
                         regexp_replace(lower(org_handle), '[^a-z0-9_]', '_', 'g'), 63)
    INTO nsp, child
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = parent;
  EXECUTE format('CREATE FOREIGN TABLE %I.%I PARTITION OF %s FOR VALUES IN (%L) '
                 'SERVER %I OPTIONS (org_handle %L)',
                 nsp, child, parent, org_handle, server, org_handle);
  EXECUTE format('ALTER FOREIGN TABLE %I.%I ALTER COLUMN org_handle OPTIONS (ADD field %L)',
                 nsp, child, '@org_handle');
  RETURN format('%I.%I', nsp, child)::regclass;
END
$$;

CREATE FUNCTION callogs_create_org_tables(parent name, server name,
                                          org_handles text[])
RETURNS SETOF regclass
LANGUAGE plpgsql
AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (
      org_handle text NOT NULL,
      id text, source_number text, destination_number text,
      call_type text, call_status text,
      creation_time timestamptz, start_time timestamptz, end_time timestamptz,
      call_duration interval, end_reason text, bridge integer
    ) PARTITION BY LIST (org_handle)', parent);
  RETURN QUERY
    SELECT @extschema@.callogs_add_org_table(parent::regclass, o, server)
      FROM unnest(org_handles) AS o;
END
$$;
