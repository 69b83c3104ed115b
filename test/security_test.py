"""Security rules of callogs_fdw.

* The token never appears in an error message, detail, hint or context, a
  NOTICE, EXPLAIN output or the server log, and is never sent to any host
  but the server's url (redirects and foreign "next" links are refused).
* Only a superuser may use an http:// or loopback url unless
  callogs_fdw.allow_insecure_url is on; ssl_verify=false and ca_file are
  superuser-only; at connect time a server owned by a non-superuser refuses
  loopback addresses unless the setting is on.
* The url validator refuses file://, ftp://, credentials and relative urls;
  token is refused as a server or table option.
* A non-superuser without a user mapping or without a token gets a clear
  error.

    /usr/bin/python3 -m unittest -q test/security_test.py
"""

import http.server
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "security_test"
ROLE = "callogs_sec_user"
FAST = {"page_size": "100", "timeout_ms": "2000", "connect_timeout_ms": "1000",
        "retry_max_wait_ms": "100", "max_retries": "1"}
DUMMY_TOKEN = "dummyTok_4Kq9"     # only ever used in statements that must fail


def setUpModule():
    drop_database(DB)
    drop_role(ROLE)
    conn = recreate_database(DB)
    create_fdw_role(conn, ROLE)
    with conn.cursor() as cur:
        cur.execute("GRANT CREATE, USAGE ON SCHEMA public TO %s" % ROLE)
    conn.close()


def tearDownModule():
    drop_database(DB)
    drop_role(ROLE)


_n = [0]


def next_name(prefix="sc"):
    _n[0] += 1
    return "%s%d" % (prefix, _n[0])


class SecBase(FdwTestCase):
    DB = DB

    def table(self, fault=None, server_opts=None, conn=None, **kw):
        name = next_name()
        tag = "sec_%s_%s" % (fault or "none", name)
        if fault:
            kw["fault"] = fault
        emu_reset(tag)
        so = dict(FAST)
        so.update(server_opts or {})
        create_table(conn or self.conn, name, scenario(tag, **kw), server_opts=so)
        return name, tag

    def user_conn(self):
        c = connect(DB, user=ROLE)
        self.addCleanup(c.close)
        return c

    def assertNoToken(self, text, what):
        # (the scenario urls carry the emulator's expected token fully
        # percent-encoded; only the literal token text counts as a leak)
        if TOKEN in (text or ""):
            i = text.index(TOKEN)
            self.fail("token leaked in %s: ...%s..." % (what, text[max(0, i - 300):i + 100]))


# ---------------------------------------------------------------------------

class TokenNeverShown(SecBase):

    FAULTS = [
        ("401", {}), ("403", {}), ("404", {}), ("400", {}), ("500json", {}), ("503", {}),
        ("429", {"retry_after": "0"}), ("invalid_json", {}), ("not_json", {}),
        ("depth_bomb", {}), ("count_missing", {}), ("data_not_array", {}),
        ("wrong_types", {}), ("nul_escape", {}), ("ts_out_of_range", {}),
        ("redirect", {}), ("next_foreign", {}), ("next_repeat", {}), ("reset", {}),
        ("truncate", {}), ("hang_before_headers", {"delay": "3000"}),
        ("huge_body", {"size": "3000000"}), ("bad_utf8", {}),
    ]

    def test_errors_do_not_show_token(self):
        logpos = server_log_size()
        for fault, kw in self.FAULTS:
            with self.subTest(fault=fault):
                t, tag = self.table(fault, server_opts={"max_response_bytes": "1048576",
                                                        "timeout_ms": "1000"}, **kw)
                del self.conn.notices[:]
                e = query_error(self.conn, "SELECT * FROM %s" % t)
                self.assertIsNotNone(e, "%s did not fail" % fault)
                self.assertNoToken(error_text(e), "the error of %s" % fault)
                self.assertNoToken("".join(self.conn.notices), "notices")
                for entry in wait_emu_quiet(tag):
                    self.assertTrue(entry["auth_present"])
        self.assertNoToken(server_log_since(logpos), "the server log")

    def test_wrong_token_error(self):
        # the API rejects the token: the message must not echo it
        t, tag = self.table(None)
        self.conn.cursor().execute(
            "ALTER USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (SET token %s)"
            % (t, sql_literal(TOKEN + "x")))
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, INVALID_AUTH)
        self.assertNoToken(error_text(e), "the 401 error")
        self.assertRegex(e.diag.message_hint or "", r"token")

    def test_explain_does_not_show_token(self):
        t, tag = self.table(None)
        for sql in ("EXPLAIN SELECT * FROM %s",
                    "EXPLAIN (VERBOSE) SELECT * FROM %s WHERE call_type = 'inbound'",
                    "EXPLAIN (ANALYZE, VERBOSE, BUFFERS) SELECT * FROM %s",
                    "EXPLAIN (VERBOSE, FORMAT JSON) SELECT count(*) FROM %s"):
            with self.subTest(sql=sql):
                out = "\n".join(str(r[0]) for r in query(self.conn, sql % t))
                self.assertIn("call-logs", out)
                self.assertNoToken(out, "EXPLAIN")

    def test_analyze_messages_do_not_show_token(self):
        t, tag = self.table(None)
        del self.conn.notices[:]
        query(self.conn, "ANALYZE VERBOSE %s" % t)
        self.assertNoToken("".join(self.conn.notices), "ANALYZE VERBOSE")

    def test_log_requests(self):
        t, tag = self.table("503", fault_times=1)
        logpos = server_log_size()
        with self.conn.cursor() as cur:
            cur.execute("SET callogs_fdw.log_requests = on")
            cur.execute("SELECT count(*) FROM %s" % t)
            self.assertEqual(cur.fetchone()[0], 250)
            cur.execute("RESET callogs_fdw.log_requests")
        log = server_log_since(logpos)
        self.assertRegex(log, r"LOG:  callogs_fdw: GET /s/\S+/api/v2/platform/call-logs/\?\S* -> 503 in [0-9.]+ ms, \d+ bytes")
        self.assertRegex(log, r"callogs_fdw: GET \S+ -> 200 in [0-9.]+ ms, \d+ bytes")
        self.assertNoToken(log, "the log_requests lines")

    def test_log_requests_superuser_only(self):
        c = self.user_conn()
        query(c, "SELECT * FROM callogs_fdw_stats()")     # loads the library
        e = query_error(c, "SET callogs_fdw.log_requests = on")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def test_user_mapping_options_hidden_from_others(self):
        t, tag = self.table(None)
        c = self.user_conn()
        rows = query(c, "SELECT umoptions FROM pg_user_mappings WHERE srvname = %s", (t + "_srv",))
        self.assertEqual(rows, [(None,)])


# ---------------------------------------------------------------------------

class _Capture(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        _Capture.hits.append((self.path, dict(self.headers)))
        body = b'{"count": 0, "data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class TokenNeverSentElsewhere(SecBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
        cls.cap_port = cls.httpd.server_address[1]
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def test_redirect_to_other_host_not_followed(self):
        for status in ("301", "302", "303", "307", "308"):
            with self.subTest(status=status):
                del _Capture.hits[:]
                t, tag = self.table("redirect", redirect_status=status,
                                    redirect_host="127.0.0.1:%d" % self.cap_port)
                e = query_error(self.conn, "SELECT * FROM %s" % t)
                self.assertSqlState(e, FDW_ERROR, r"HTTP %s" % status)
                self.assertEqual(_Capture.hits, [], "the redirect was followed")
                self.assertNoToken(error_text(e), "the redirect error")

    def test_next_link_to_other_origin_refused(self):
        t, tag = self.table("next_foreign")
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT, r"another origin")
        self.assertEqual(len(wait_emu_quiet(tag)), 1)

    def test_next_link_other_scheme_refused(self):
        t, tag = self.table("next_scheme")
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(len(wait_emu_quiet(tag)), 1)

    def test_same_origin_links_carry_token(self):
        t, tag = self.table(None, links=1)
        self.assertEqual(query(self.conn, "SELECT count(DISTINCT id) FROM %s" % t)[0][0], 250)
        log = wait_emu_quiet(tag)
        self.assertEqual(len(log), 3)
        self.assertTrue(all(x["auth_ok"] and x["org"] == "acme" for x in log))

    def test_token_goes_to_configured_host_only(self):
        del _Capture.hits[:]
        name = next_name()
        create_table(self.conn, name, "http://127.0.0.1:%d%s" % (self.cap_port, API_PATH),
                     server_opts=FAST)
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % name)[0][0], 0)
        self.assertEqual(len(_Capture.hits), 1)
        self.assertEqual(_Capture.hits[0][1].get("Authorization"), "Token " + TOKEN)


# ---------------------------------------------------------------------------

class UrlValidator(SecBase):

    BAD = ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://example.com/",
           "ldap://example.com/", "http://user:pw@127.0.0.1/api/",
           "https://user@example.com/api/", "/api/v2/platform/call-logs/",
           "not a url", "", "dict://127.0.0.1:6379/info", "FILE:///etc/passwd"]

    def test_bad_urls_rejected(self):
        for url in self.BAD:
            with self.subTest(url=url):
                e = query_error(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                                           "OPTIONS (url %s)" % (next_name("bad"), sql_literal(url)))
                self.assertIsNotNone(e, "url %r accepted" % url)
                self.assertIn(e.pgcode, (FDW_INVALID_ATTRIBUTE_VALUE,), error_text(e))

    def test_alter_to_bad_url_rejected(self):
        t, tag = self.table(None)
        e = query_error(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url 'file:///etc/passwd')" % t)
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE, r'option \\?"url\\?"|url')

    def test_credentials_not_echoed(self):
        e = query_error(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                                   "OPTIONS (url 'https://bob:pw_Secr3t@example.com/')" % next_name("bad"))
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE)

    def test_token_rejected_as_server_option(self):
        e = query_error(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                                   "OPTIONS (url 'https://example.com/', token %s)"
                        % (next_name("bad"), sql_literal(DUMMY_TOKEN)))
        self.assertSqlState(e, FDW_INVALID_OPTION_NAME, r"token")
        self.assertNotIn(DUMMY_TOKEN, error_text(e))

    def test_token_rejected_as_table_option(self):
        t, tag = self.table(None)
        e = query_error(self.conn, "CREATE FOREIGN TABLE %s (id text) SERVER %s_srv "
                                   "OPTIONS (token %s)" % (next_name("bad"), t, sql_literal(DUMMY_TOKEN)))
        self.assertSqlState(e, FDW_INVALID_OPTION_NAME, r"token")
        self.assertNotIn(DUMMY_TOKEN, error_text(e))

    def test_token_rejected_as_column_option(self):
        t, tag = self.table(None)
        e = query_error(self.conn, "CREATE FOREIGN TABLE %s (id text OPTIONS (token %s)) SERVER %s_srv"
                        % (next_name("bad"), sql_literal(DUMMY_TOKEN), t))
        self.assertSqlState(e, FDW_INVALID_OPTION_NAME)
        self.assertNotIn(DUMMY_TOKEN, error_text(e))


# ---------------------------------------------------------------------------

class NonSuperuser(SecBase):

    LOOPBACK = ["http://api.example.com/", "https://127.0.0.1/", "https://127.9.8.7:8443/x/",
                "https://localhost/", "https://LOCALHOST:443/", "https://api.localhost/",
                "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://2130706433/",
                "https://0.0.0.0/", "https://127.1/", "https://0x7f000001/",
                "http://127.0.0.1:%s/api/v2/platform/call-logs/" % EMU_PORT]

    def test_insecure_urls_superuser_only(self):
        c = self.user_conn()
        for url in self.LOOPBACK:
            with self.subTest(url=url):
                e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                                   "OPTIONS (url %s, org_handle 'acme')" % (next_name("ns"), sql_literal(url)))
                self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
                self.assertIn("allow_insecure_url", e.diag.message_hint or "")

    def test_https_remote_allowed(self):
        c = self.user_conn()
        query(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                 "OPTIONS (url 'https://api.example.com/api/v2/platform/call-logs/', org_handle 'acme')"
              % next_name("ns"))

    def test_alter_to_insecure_url_refused(self):
        c = self.user_conn()
        name = next_name("ns")
        query(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                 "OPTIONS (url 'https://api.example.com/')" % name)
        e = query_error(c, "ALTER SERVER %s OPTIONS (SET url 'https://127.0.0.1/')" % name)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
        e = query_error(c, "ALTER SERVER %s OPTIONS (SET url 'http://api.example.com/')" % name)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def test_ssl_verify_false_superuser_only(self):
        c = self.user_conn()
        e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                           "OPTIONS (url 'https://api.example.com/', ssl_verify 'false')" % next_name("ns"))
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ssl_verify")
        e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                           "OPTIONS (url 'https://api.example.com/', ssl_verify 'off')" % next_name("ns"))
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ssl_verify")
        query(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                 "OPTIONS (url 'https://api.example.com/', ssl_verify 'true')" % next_name("ns"))
        # the superuser may
        query(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                         "OPTIONS (url 'https://api.example.com/', ssl_verify 'false')" % next_name("ns"))

    def test_ssl_verify_false_by_alter(self):
        c = self.user_conn()
        name = next_name("ns")
        query(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                 "OPTIONS (url 'https://api.example.com/')" % name)
        e = query_error(c, "ALTER SERVER %s OPTIONS (ADD ssl_verify 'false')" % name)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def test_ca_file_superuser_only(self):
        c = self.user_conn()
        e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                           "OPTIONS (url 'https://api.example.com/', ca_file '/etc/ssl/certs/ca-certificates.crt')"
                        % next_name("ns"))
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ca_file")
        query(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                         "OPTIONS (url 'https://api.example.com/', ca_file '/etc/ssl/certs/ca-certificates.crt')"
              % next_name("ns"))

    def test_guc_superuser_only(self):
        c = self.user_conn()
        query(c, "SELECT * FROM callogs_fdw_stats()")     # loads the library
        e = query_error(c, "SET callogs_fdw.allow_insecure_url = on")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def test_guc_placeholder_before_load_ignored(self):
        # set before the library is loaded: the value must not take effect
        c = self.user_conn()
        try:
            query(c, "SET callogs_fdw.allow_insecure_url = on")
        except psycopg2.Error:
            pass
        e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                           "OPTIONS (url 'http://127.0.0.1:%s/', org_handle 'acme')" % (next_name("ns"), EMU_PORT))
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def test_guc_lets_non_superuser_use_loopback(self):
        """With the setting on (by a superuser) a non-superuser may create
        and use a loopback http server; with it off the same server is
        refused (42501) at query time, before any request."""
        tag = "sec_guc_" + next_name()
        emu_reset(tag)
        name = next_name("ng")
        c = self.conn
        url = emu_url(scenario(tag))
        try:
            query(c, "SET callogs_fdw.allow_insecure_url = on")
            query(c, "SET ROLE %s" % ROLE)
            query(c, "CREATE SERVER %s_srv FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url %s, org_handle 'acme', "
                     "max_retries '0', timeout_ms '2000')" % (name, sql_literal(url)))
            query(c, "CREATE USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (token %s)"
                  % (name, sql_literal(TOKEN)))
            query(c, "CREATE FOREIGN TABLE %s (%s) SERVER %s_srv" % (name, COLUMNS, name))
            self.assertEqual(query(c, "SELECT count(*) FROM %s" % name)[0][0], 250)
            n_ok = len(emu_log(tag))
            query(c, "RESET ROLE")
            query(c, "SET callogs_fdw.allow_insecure_url = off")
            query(c, "SET ROLE %s" % ROLE)
            e = query_error(c, "SELECT count(*) FROM %s" % name)
            # (http is refused first now: it is checked at use time too)
            self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"may not use plain http")
            self.assertEqual(len(emu_log(tag)), n_ok, "a request reached the loopback API")
        finally:
            query(c, "RESET ROLE")
            query(c, "RESET callogs_fdw.allow_insecure_url")

    def test_loopback_server_owned_by_non_superuser_refused_at_connect(self):
        """A superuser creates a loopback server and gives it to a
        non-superuser: the connection is refused, even for the superuser."""
        t, tag = self.table(None)
        query(self.conn, "ALTER SERVER %s_srv OWNER TO %s" % (t, ROLE))
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, ROLE))
        query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token %s)"
              % (ROLE, t, sql_literal(TOKEN)))
        for conn in (self.conn, self.user_conn()):
            e = query_error(conn, "SELECT * FROM %s" % t)
            self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
            self.assertIn("allow_insecure_url", e.diag.message_hint or "")
        self.assertEqual(emu_log(tag), [])
        # the superuser's setting lets it through
        query(self.conn, "SET callogs_fdw.allow_insecure_url = on")
        try:
            self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % t)[0][0], 250)
        finally:
            query(self.conn, "RESET callogs_fdw.allow_insecure_url")

    def superuser_table_for_user(self, mapping_options):
        t, tag = self.table(None)
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, ROLE))
        if mapping_options is not None:
            query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s_srv %s"
                  % (ROLE, t, mapping_options))
        return t, tag

    def test_no_user_mapping(self):
        t, tag = self.superuser_table_for_user(None)
        e = query_error(self.user_conn(), "SELECT * FROM %s" % t)
        self.assertIsNotNone(e)
        self.assertRegex(e.diag.message_primary, r"user mapping")
        self.assertIn(ROLE, e.diag.message_primary)
        self.assertEqual(emu_log(tag), [])

    def test_user_mapping_without_token(self):
        t, tag = self.superuser_table_for_user("")
        e = query_error(self.user_conn(), "SELECT * FROM %s" % t)
        self.assertIsNotNone(e)
        self.assertRegex(e.diag.message_primary, r"no token")
        self.assertRegex(e.diag.message_hint or "", r"USER MAPPING")
        self.assertEqual(emu_log(tag), [])

    def test_user_mapping_empty_token(self):
        e = query_error(self.conn, "CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token '')"
                        % (ROLE, self.table(None)[0]))
        self.assertIsNotNone(e, "an empty token was accepted")

    def test_user_with_own_mapping_reads(self):
        t, tag = self.superuser_table_for_user("OPTIONS (token %s)" % sql_literal(TOKEN))
        self.assertEqual(query(self.user_conn(), "SELECT count(*) FROM %s" % t)[0][0], 250)

    def test_user_with_public_mapping_reads(self):
        t, tag = self.table(None)
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, ROLE))
        query(self.conn, "CREATE USER MAPPING FOR PUBLIC SERVER %s_srv OPTIONS (token %s)"
              % (t, sql_literal(TOKEN)))
        self.assertEqual(query(self.user_conn(), "SELECT count(*) FROM %s" % t)[0][0], 250)


# ---------------------------------------------------------------------------

class ZzServerLog(SecBase):
    """Runs last: the whole server log holds no token and no crash."""

    def test_server_log_has_no_token(self):
        path = server_log_path()
        if not path or not os.path.exists(path):
            self.skipTest("no server log (CL_WORK not set)")
        log = server_log_since(0)
        self.assertNoToken(log, "the server log")
        self.assertIsNone(CRASH_RE.search(log), "a backend crashed")


if __name__ == "__main__":
    unittest.main()
