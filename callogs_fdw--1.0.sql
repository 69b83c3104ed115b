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
