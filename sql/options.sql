--
-- Options and their validation
--
\set VERBOSITY default
-- unknown options list the valid ones
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (host 'x');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (field 'x');
-- the token is only accepted in a user mapping
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (token 'secret');
-- bad values
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (page_size '0');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (page_size '1001');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (page_size 'ten');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (timeout_ms '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url 'ftp://example.com/calls');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url 'file:///etc/passwd');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url 'not a url');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url 'https://user:pw@example.com/');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (org_handle '');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (pushdown 'maybe');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (ca_file 'relative.pem');
CREATE SERVER bad FOREIGN DATA WRAPPER callogs_fdw OPTIONS (max_response_bytes '10');
-- a valid server with the public default url
CREATE SERVER public_api FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (org_handle 'acme', page_size '50', timeout_ms '5000', connect_timeout_ms '2000',
           max_retries '2', max_requests_per_second '10', concurrency '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER public_api OPTIONS (token 'secret');
ALTER USER MAPPING FOR CURRENT_USER SERVER public_api OPTIONS (ADD page_size '10');
ALTER USER MAPPING FOR CURRENT_USER SERVER public_api OPTIONS (SET token '');
-- table and column options
CREATE FOREIGN TABLE opt_t (id text OPTIONS (field 'call_id'), x int) SERVER public_api
  OPTIONS (org_handle 'globex', page_size '20', date_column 'creation_time', date_format 'timestamp');
ALTER FOREIGN TABLE opt_t OPTIONS (ADD url 'http://x/');
ALTER FOREIGN TABLE opt_t OPTIONS (SET date_format 'epoch');
ALTER FOREIGN TABLE opt_t ALTER COLUMN x OPTIONS (ADD json_key 'x');
ALTER FOREIGN TABLE opt_t ALTER COLUMN x OPTIONS (ADD field '');
DROP FOREIGN TABLE opt_t;
DROP SERVER public_api CASCADE;

-- what a non-superuser may not do
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_callogs_user;
RESET client_min_messages;
CREATE ROLE regress_callogs_user LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER callogs_fdw TO regress_callogs_user;
SET ROLE regress_callogs_user;
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'http://api.example.com/api/v2/platform/call-logs/');
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'https://127.0.0.1/api/v2/platform/call-logs/');
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'https://[::1]:8443/api/v2/platform/call-logs/');
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'https://localhost/api/v2/platform/call-logs/');
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw OPTIONS (ssl_verify 'false');
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw OPTIONS (ca_file '/etc/ssl/x.pem');
CREATE SERVER user_srv FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'https://api.example.com/api/v2/platform/call-logs/', org_handle 'acme');
RESET ROLE;
-- a superuser can allow insecure urls for everyone
SET callogs_fdw.allow_insecure_url = on;
SET ROLE regress_callogs_user;
CREATE SERVER user_http FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'http://api.example.com/api/v2/platform/call-logs/');
RESET ROLE;
RESET callogs_fdw.allow_insecure_url;
SET ROLE regress_callogs_user;
SET callogs_fdw.allow_insecure_url = on;
RESET ROLE;
DROP SERVER user_srv, user_http;

-- missing pieces are reported at query time, naming the object to fix
SELECT emu_server('no_org', NULL);
ALTER SERVER no_org OPTIONS (DROP org_handle);
SELECT emu_table('t_no_org', 'no_org');
SELECT count(*) FROM t_no_org WHERE bridge = 1;
ALTER FOREIGN TABLE t_no_org OPTIONS (ADD org_handle 'acme');
SELECT count(*) FROM t_no_org WHERE bridge < 0;
ALTER USER MAPPING FOR CURRENT_USER SERVER no_org OPTIONS (DROP token);
SELECT count(*) FROM t_no_org WHERE bridge < 0;
DROP USER MAPPING FOR CURRENT_USER SERVER no_org;
SELECT count(*) FROM t_no_org WHERE bridge < 0;
DROP SERVER no_org CASCADE;

-- a non-superuser needs a token, and a server owned by a superuser
SELECT emu_server('shared_srv', NULL);
SELECT emu_table('shared_calls', 'shared_srv');
GRANT USAGE ON FOREIGN SERVER shared_srv TO regress_callogs_user;
GRANT SELECT ON shared_calls TO regress_callogs_user;
SET ROLE regress_callogs_user;
SELECT count(*) FROM shared_calls WHERE bridge < 0;
RESET ROLE;
CREATE USER MAPPING FOR regress_callogs_user SERVER shared_srv OPTIONS (token 'secret');
SET ROLE regress_callogs_user;
SELECT count(*) FROM shared_calls WHERE bridge < 0;
-- the user cannot read the mapping's token
SELECT umoptions FROM pg_user_mappings WHERE srvname = 'shared_srv' AND usename = 'postgres';
RESET ROLE;
-- a server owned by a non-superuser may not use plain http (nor reach this
-- machine), checked when it is used
ALTER SERVER shared_srv OWNER TO regress_callogs_user;
SET ROLE regress_callogs_user;
SELECT count(*) FROM shared_calls WHERE bridge < 0;
RESET ROLE;
DROP SERVER shared_srv CASCADE;
DROP OWNED BY regress_callogs_user;
DROP ROLE regress_callogs_user;

-- the foreign table is read-only
SELECT emu_server('ro_srv', NULL);
SELECT emu_table('ro_calls', 'ro_srv');
INSERT INTO ro_calls (id) VALUES ('x');
UPDATE ro_calls SET id = 'y';
DELETE FROM ro_calls;
DROP SERVER ro_srv CASCADE;
