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
-- called the helper, typically a superuser following the README.  Now the
-- PL/pgSQL function runs with search_path = pg_catalog, pg_temp and names
-- its functions, operators and types with their schema, so no object
-- outside pg_catalog is ever looked up; callogs_add_org_table is C.
--
-- Entry points: every function a user calls with arguments takes text
-- (and text[]), the types an unknown literal resolves to.  With name or
-- regclass parameters, an overload (text, text, text[]) in any schema on
-- the caller's search_path, even after the extension's, was the better
-- match for the README's own call, and ran as its caller.  Names given as
-- text are resolved in the caller's context, as regclass input does.
--
-- Names: the child table of an organization is "<parent>_<org_handle>",
-- with the org handle as is (case and punctuation kept, quoted where
-- needed), so that Acme/acme or a-b/a_b get different tables; a name over
-- 63 bytes is cut and ends in "_" and 8 hex digits of the SHA-256 of the
-- handle.  A parent name that needs quoting works.
--
-- A parent must belong to the caller (also for a superuser) and be
-- partitioned by LIST (org_handle) on pg_catalog.text: a domain as the
-- key's type ran its CHECK, another role's function, as the caller when
-- the bound was coerced.

-- Before anything changes: objects with the names (and argument types) of
-- 1.1's new objects that are not the extension's would make this script
-- fail with "already exists" halfway, leaving the fixes above unapplied
-- (a role that may create objects in the extension's schema can make
-- them).  PostgreSQL gives an extension no way to take them over, and they
-- may be anyone's: say what they are, whose, and how to drop them.  The
-- schema is compared by its oid, and the view's row type counts: a type
-- of its name (an enum, a domain) blocks CREATE VIEW as a table does.
DO $check$
DECLARE
  -- the schema by its oid: @extschema@ is already quoted as an identifier
  -- (quoting it again never finds a schema whose name needs quotes)
  nsp pg_catalog.oid := '@extschema@'::pg_catalog.regnamespace;
  f pg_catalog.record;
  o pg_catalog.record;
  found pg_catalog.text[] := '{}';
  drops pg_catalog.text[] := '{}';
BEGIN
  -- functions: the name and argument types of one of 1.1's
  FOR f IN SELECT * FROM (VALUES
      ('callogs_add_org_table', '{pg_catalog.text,pg_catalog.text,pg_catalog.text}'),
      ('callogs_create_org_tables', '{pg_catalog.text,pg_catalog.text,pg_catalog.text[],pg_catalog.text}'),
      ('callogs_fdw_probe', '{pg_catalog.text,pg_catalog.text}'),
      ('callogs_fdw_activity', '{}')) AS v(proname, args)
  LOOP
    FOR o IN SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname,
                                      pg_catalog.pg_get_function_identity_arguments(p.oid)) AS name,
                    pg_catalog.pg_get_userbyid(p.proowner) AS owner
               FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
              WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
                AND p.proname OPERATOR(pg_catalog.=) f.proname
                AND p.proargtypes OPERATOR(pg_catalog.=)
                    pg_catalog.array_to_string(f.args::pg_catalog.regtype[]::pg_catalog.oid[],
                                               ' ')::pg_catalog.oidvector
    LOOP
      found := found OPERATOR(pg_catalog.||)
               pg_catalog.format('function %s (owner %s)', o.name, o.owner);
      drops := drops OPERATOR(pg_catalog.||) pg_catalog.format('DROP FUNCTION %s;', o.name);
    END LOOP;
  END LOOP;
  -- the view: a relation of its name (a composite type is one too), or
  -- another type (its row type has the name too: an enum, a domain, a
  -- range, a base type)
  FOR o IN SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,
                  pg_catalog.pg_get_userbyid(c.relowner) AS owner, c.relkind AS kind
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
            WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
              AND c.relname OPERATOR(pg_catalog.=) 'callogs_fdw_activity'
  LOOP
    found := found OPERATOR(pg_catalog.||)
             pg_catalog.format('%s %s (owner %s)',
                               CASE WHEN o.kind OPERATOR(pg_catalog.=) 'c' THEN 'type'
                                    ELSE 'relation' END, o.name, o.owner);
    drops := drops OPERATOR(pg_catalog.||)
             pg_catalog.format('DROP %s %s;',
                               CASE WHEN o.kind OPERATOR(pg_catalog.=) 'c' THEN 'TYPE'
                                    WHEN o.kind OPERATOR(pg_catalog.=) 'v' THEN 'VIEW'
                                    WHEN o.kind OPERATOR(pg_catalog.=) 'm' THEN 'MATERIALIZED VIEW'
                                    WHEN o.kind OPERATOR(pg_catalog.=) 'f' THEN 'FOREIGN TABLE'
                                    WHEN o.kind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE'
                                    WHEN o.kind OPERATOR(pg_catalog.=) 'i' THEN 'INDEX'
                                    ELSE 'TABLE' END, o.name);
  END LOOP;
  FOR o IN SELECT pg_catalog.format('%I.%I', n.nspname, t.typname) AS name,
                  pg_catalog.pg_get_userbyid(t.typowner) AS owner, t.typtype AS kind
             FROM pg_catalog.pg_type t
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
            WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp
              AND t.typname OPERATOR(pg_catalog.=) 'callogs_fdw_activity'
              AND t.typrelid OPERATOR(pg_catalog.=) 0   -- a relation's: reported above
  LOOP
    found := found OPERATOR(pg_catalog.||)
             pg_catalog.format('type %s (owner %s)', o.name, o.owner);
    drops := drops OPERATOR(pg_catalog.||)
             pg_catalog.format('DROP %s %s;',
                               CASE WHEN o.kind OPERATOR(pg_catalog.=) 'd' THEN 'DOMAIN'
                                    ELSE 'TYPE' END, o.name);
  END LOOP;
  IF pg_catalog.cardinality(found) OPERATOR(pg_catalog.>) 0 THEN
    RAISE EXCEPTION USING ERRCODE = '42710',
      MESSAGE = pg_catalog.format('objects that callogs_fdw 1.1 creates already exist in schema %I and are not the extension''s',
                                  (SELECT n.nspname FROM pg_catalog.pg_namespace n
                                    WHERE n.oid OPERATOR(pg_catalog.=) nsp)),
      DETAIL = pg_catalog.array_to_string(found, '; ') OPERATOR(pg_catalog.||) '.',
      HINT = 'Check what they are, drop them, and run the command again: '
             OPERATOR(pg_catalog.||) pg_catalog.array_to_string(drops, ' ');
  END IF;
END
$check$;

DROP FUNCTION @extschema@.callogs_create_org_tables(name, name, text[]);
DROP FUNCTION @extschema@.callogs_add_org_table(regclass, text, name);

-- callogs_add_org_table: create the foreign table of one organization as a
-- partition of parent (a table of the caller's, partitioned by LIST
-- (org_handle) on text, named as the caller's search_path finds it), on
-- server, with the org_handle table option and a column org_handle filled
-- from it.  Runs as the caller.  Returns the new table.  See
-- src/orgtables.c.
CREATE FUNCTION @extschema@.callogs_add_org_table(parent text, org_handle text,
                                                  server text)
RETURNS regclass
AS 'MODULE_PATHNAME', 'callogs_add_org_table'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- callogs_create_org_tables: create parent (in parent_schema: by default
-- the caller's current schema, where CREATE TABLE would put it), a table
-- partitioned by LIST (org_handle) with the canonical call_logs columns,
-- and one foreign partition per org handle on server.  Returns the
-- partitions.  parent and parent_schema are names as they are (not
-- parsed: 'All Calls' is "All Calls").  parent_schema's default is
-- evaluated in the caller's session, before the function's own
-- search_path applies.
CREATE FUNCTION @extschema@.callogs_create_org_tables(
    parent text, server text, org_handles text[],
    parent_schema text DEFAULT pg_catalog.current_schema())
RETURNS SETOF regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
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
  FOREACH o IN ARRAY org_handles LOOP
    RETURN NEXT @extschema@.callogs_add_org_table(
      pg_catalog.format('%I.%I', parent_schema, parent), o, server);
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
-- (checked inside).  foreign_table is a name as the caller's search_path
-- finds it, as regclass input would.
CREATE FUNCTION @extschema@.callogs_fdw_probe(
    server text, foreign_table text DEFAULT NULL,
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
