"""The outside attack on issue 10, round 3, played again: an unprivileged
role with USAGE on the wrapper, and hostile API servers.  Each class is a
finding of the attack report; each test failed on the main branch the
attack was run against (commit 97e4000).

1. Truncation: the API's error message (cut to about 200 bytes), a value
   in a conversion error's CONTEXT (about 60), a "count" that is no
   integer (40) and the probe's evidence were cut before the token was
   scrubbed, so a cut token's start survived.  Now every API text is
   scrubbed whole before it is cut, and a token prefix left at a cut
   becomes "[token]".
2. The 1.1 update's check for squatted names re-quoted the already quoted
   schema (a schema named "Ext Schema" was never checked) and ignored
   types (an enum or domain named like the view's row type).
3. Raising max_requests_per_second took effect only once the slot of the
   old, slower rate expired (0.01/s: the next query waited 100 s).
4. Caps of non-superusers were checked only when set: a superuser's 1 GB
   max_response_bytes, 100 max_retries and one-hour retry_max_wait_ms
   served another role once the server was given to it; the same for a
   foreign table's concurrency.
5. (minor) A max_requests_per_second just below 0.001 was refused as
   "value 0.001 is out of range"; IMPORT FOREIGN SCHEMA ... OPTIONS
   (table_name '') failed with a syntax error of the statement it built;
   a 400 whose message exceeded the 2 kB kept of an error body lost the
   message entirely.

    /usr/bin/python3 -m unittest -q test/attack3_test.py
"""

import http.server
import json
import os
import socketserver
import sys
import threading
import time
import unittest

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
from pgcluster import ThrowawayCluster  # noqa: E402
import attack_test  # noqa: E402  (its AttackBase, with this file's DB and role)
from attack_test import next_name  # noqa: E402

DB = "attack3_test"
ATTACKER = "callogs_atk3"
# 55 characters, as in the report; its first 4 occur nowhere else
SECRET = "Zx9Qw" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
UNRESOLVABLE = "https://nonexistent.invalid/api/v2/platform/call-logs/"


def setUpModule():
    drop_database(DB)
    drop_role(ATTACKER)
    conn = recreate_database(DB)
    create_fdw_role(conn, ATTACKER)
    query(conn, "GRANT CREATE, USAGE ON SCHEMA public TO %s" % ATTACKER)
    conn.close()


def tearDownModule():
    drop_database(DB)
    drop_role(ATTACKER)


class AttackBase(attack_test.AttackBase):
    DB = DB
    ATTACKER = ATTACKER
    TOKEN = "tok_atk3_1234"


# ---------------------------------------------------------------------------

class _CutApi(http.server.BaseHTTPRequestHandler):
    """A hostile API that echoes the Authorization header ("Token <secret>")
    where it will be cut, by the first path segment:
    /msg/: 400, message 150 x 'A' + the header + ' tail' (the report's);
    /prefix/: 400, message 190 x 'A' + the secret's first 30 characters
      and more text (a prefix the whole-text scrub cannot know);
    /pctprefix/: the same percent-encoded, cut inside a %XX;
    /value/: a row whose bridge (integer) is 10 x 'A' + the header;
    /count/: "count" is 30 x 'A' + the header;
    /huge/: 400, a message longer than the 2 kB kept of an error body;
    /probe/: one row, and 400 with the /msg/ message for start_date."""
    protocol_version = "HTTP/1.1"

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        secret = auth.split()[-1]
        kind = self.path.split("/")[1]
        row = {"id": "c1", "call_type": "inbound", "call_status": "missed",
               "creation_time": "2025-11-18T10:30:00.000Z"}
        if kind == "msg":
            self.answer(400, {"message": "A" * 150 + auth + " tail"})
        elif kind == "prefix":
            self.answer(400, {"message": "A" * 190 + secret[:30] + " and more text after it"})
        elif kind == "pctprefix":
            self.answer(400, {"message": "A" * 187 + pct_all(secret[:30]) + " and more"})
        elif kind == "value":
            self.answer(200, {"count": 1, "data": [dict(row, bridge="A" * 10 + auth)]})
        elif kind == "count":
            self.answer(200, {"count": "A" * 30 + auth, "data": [row]})
        elif kind == "huge":
            self.answer(400, {"message": "B" * 1990 + "\u00e9" * 100 + auth})
        elif kind == "probe":
            if "start_date" in self.path:
                self.answer(400, {"message": "A" * 150 + auth + " tail"})
            else:
                self.answer(200, {"count": 1, "data": [row]})
        else:
            self.answer(404, {})

    def log_message(self, *a):
        pass


class _ManyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TokenCut(AttackBase):
    """Finding 1 (medium): a 400 with message 150 x 'A' + token + ' tail'
    printed 46 of the token's 55 characters."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = _ManyServer(("127.0.0.1", 0), _CutApi)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.base = "http://127.0.0.1:%d" % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def assertNoPiece(self, text, what):
        """Not even the token's first 4 characters (as is or encoded)."""
        for form in (SECRET[:4], pct_all(SECRET[:4]), pct_all(SECRET[:4]).lower()):
            self.assertNotIn(form, text or "", "a piece of the token leaked in %s: %s"
                             % (what, text))

    def cut_table(self, kind):
        return self.server(self.conn, "%s/%s/api/v2/platform/call-logs/" % (self.base, kind),
                           {"max_retries": "0", "retry_max_wait_ms": "0"}, token=SECRET)

    def test_cut_texts_keep_no_token_piece(self):
        pos = server_log_size()
        cases = [("msg", FDW_INVALID_ATTRIBUTE_VALUE, r"HTTP 400 Bad Request: A{150}Token \[token\] tail$"),
                 ("prefix", FDW_INVALID_ATTRIBUTE_VALUE, r"A{190}\[token\]\.\.\.$"),
                 ("pctprefix", FDW_INVALID_ATTRIBUTE_VALUE, r"A{187}\[token\]\.\.\.$"),
                 ("value", "22P02", r'invalid input syntax for type integer: "A{10}Token \[token\]"'),
                 ("count", FDW_INVALID_STRING_FORMAT,
                  r'"count" is not a non-negative 64-bit integer: a JSON string of \d+ bytes')]
        for kind, code, msg in cases:
            with self.subTest(kind=kind):
                e = query_error(self.conn, "SELECT id, bridge FROM %s_t" % self.cut_table(kind))
                self.assertSqlState(e, code)
                self.assertRegex(e.diag.message_primary, msg)
                self.assertNoPiece(error_text(e), "the error")
                if kind == "value":
                    self.assertIn('value "AAAAAAAAAAToken [token]"', e.diag.context)
        self.assertNoPiece(server_log_since(pos), "the server log")

    def test_message_beyond_body_cap(self):
        """Finding 5 (minor): a message longer than the 2 kB kept of an
        error body was lost entirely ("HTTP 400 Bad Request" alone)."""
        e = query_error(self.conn, "SELECT id FROM %s_t" % self.cut_table("huge"))
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertRegex(e.diag.message_primary, r"HTTP 400 Bad Request: B{200}\.\.\.$")

    def test_probe_evidence(self):
        t = self.cut_table("probe")
        rows = query(self.conn, "SELECT fact, finding, evidence, recommendation "
                                "FROM callogs_fdw_probe(%s, %s)", (t, t + "_t"))
        text = "\n".join(" | ".join(str(c) for c in r) for r in rows)
        self.assertIn("A" * 150 + "Token [token]", text)
        self.assertNoPiece(text, "the probe's output")


# ---------------------------------------------------------------------------

class SquattedUpdate(AttackBase):
    """Finding 2: the update's check missed a schema whose name needs
    quotes, and types named like the view (its row type)."""

    UDB = "attack3_update"

    def fresh(self, schema):
        admin = connect("postgres")
        query(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.UDB)
        query(admin, "CREATE DATABASE %s" % self.UDB)
        admin.close()
        self.addCleanup(drop_database, self.UDB)
        conn = connect(self.UDB)
        self.addCleanup(conn.close)
        query(conn, 'CREATE SCHEMA %s' % schema)
        query(conn, "GRANT CREATE, USAGE ON SCHEMA %s TO %s" % (schema, ATTACKER))
        query(conn, "CREATE EXTENSION callogs_fdw SCHEMA %s VERSION '1.0'" % schema)
        return conn

    def version(self, conn):
        return query(conn, "SELECT extversion FROM pg_extension WHERE extname = 'callogs_fdw'")[0][0]

    def test_schema_needing_quotes_and_squatting_types(self):
        schema = '"Ext Schema"'
        conn = self.fresh(schema)
        att = connect(self.UDB, user=ATTACKER)
        query(att, "CREATE FUNCTION %s.callogs_fdw_probe(text, text) RETURNS integer "
                   "LANGUAGE sql AS 'SELECT 1'" % schema)
        query(att, "CREATE TYPE %s.callogs_fdw_activity AS ENUM ('x')" % schema)
        att.close()
        e = query_error(conn, "ALTER EXTENSION callogs_fdw UPDATE")
        self.assertIsNotNone(e, "the update went through")
        self.assertEqual(e.pgcode, "42710", error_text(e))
        self.assertEqual(e.diag.message_primary, "objects that callogs_fdw 1.1 creates already "
                         "exist in schema \"Ext Schema\" and are not the extension's")
        self.assertEqual(e.diag.message_detail,
                         'function "Ext Schema".callogs_fdw_probe(text, text) (owner %s); '
                         'type "Ext Schema".callogs_fdw_activity (owner %s).' % (ATTACKER, ATTACKER))
        self.assertIn('DROP FUNCTION "Ext Schema".callogs_fdw_probe(text, text); '
                      'DROP TYPE "Ext Schema".callogs_fdw_activity;', e.diag.message_hint)
        self.assertEqual(self.version(conn), "1.0")
        query(conn, 'DROP FUNCTION "Ext Schema".callogs_fdw_probe(text, text)')
        query(conn, 'DROP TYPE "Ext Schema".callogs_fdw_activity')
        query(conn, "ALTER EXTENSION callogs_fdw UPDATE")
        self.assertEqual(self.version(conn), "1.1")

    def test_squatting_domain_and_composite(self):
        for kind, ddl, drop in (
                ("domain", "CREATE DOMAIN public_x.callogs_fdw_activity AS integer", "DROP DOMAIN"),
                ("composite", "CREATE TYPE public_x.callogs_fdw_activity AS (x integer)", "DROP TYPE")):
            with self.subTest(kind=kind):
                conn = self.fresh("public_x")
                att = connect(self.UDB, user=ATTACKER)
                query(att, ddl)
                att.close()
                e = query_error(conn, "ALTER EXTENSION callogs_fdw UPDATE")
                self.assertIsNotNone(e, "the update went through")
                self.assertEqual(e.pgcode, "42710", error_text(e))
                self.assertEqual(e.diag.message_detail,
                                 "type public_x.callogs_fdw_activity (owner %s)." % ATTACKER)
                self.assertIn("%s public_x.callogs_fdw_activity;" % drop, e.diag.message_hint)
                self.assertEqual(self.version(conn), "1.0")
                conn.close()


# ---------------------------------------------------------------------------

class RaisedRate(AttackBase):
    """Finding 3: a server at 0.01 requests per second, one query, then
    ALTER SERVER ... SET max_requests_per_second '1000': the next query
    waited the old 100 s (on main: canceled by statement_timeout here)."""

    def raise_and_query(self, conn):
        srv = self.server(conn, UNRESOLVABLE, {"max_requests_per_second": "0.01",
                                                "max_retries": "0"})
        e = query_error(conn, "SELECT count(*) FROM %s_t" % srv)
        self.assertSqlState(e, FDW_UNABLE_TO_CONNECT)
        query(conn, "ALTER SERVER %s OPTIONS (SET max_requests_per_second '1000')" % srv)
        query(conn, "SET statement_timeout = '20s'")
        try:
            e = query_error(conn, "SELECT count(*) FROM %s_t" % srv)
        finally:
            query(conn, "RESET statement_timeout")
        # the request went out (and failed to resolve) instead of waiting
        self.assertSqlState(e, FDW_UNABLE_TO_CONNECT)
        # and a lowered rate applies at once too: the next start is 100 s
        # after the last one
        query(conn, "ALTER SERVER %s OPTIONS (SET max_requests_per_second '0.01')" % srv)
        query(conn, "SET statement_timeout = '1500ms'")
        try:
            e = query_error(conn, "SELECT count(*) FROM %s_t" % srv)
        finally:
            query(conn, "RESET statement_timeout")
        self.assertSqlState(e, QUERY_CANCELED)

    def test_session_table(self):
        self.raise_and_query(self.conn)

    def test_shared_table(self):
        with ThrowawayCluster(conf={"shared_preload_libraries": "'callogs_fdw'"}) as pg:
            su = pg.connect()
            self.addCleanup(su.close)
            query(su, "CREATE EXTENSION callogs_fdw")
            self.raise_and_query(su)
            # another session sees the raised rate at once too
            srv = self.server(su, UNRESOLVABLE, {"max_requests_per_second": "0.01",
                                                  "max_retries": "0"})
            self.assertSqlState(query_error(su, "SELECT count(*) FROM %s_t" % srv),
                                FDW_UNABLE_TO_CONNECT)
            query(su, "ALTER SERVER %s OPTIONS (SET max_requests_per_second '1000')" % srv)
            other = pg.connect()
            self.addCleanup(other.close)
            query(other, "SET statement_timeout = '20s'")
            self.assertSqlState(query_error(other, "SELECT count(*) FROM %s_t" % srv),
                                FDW_UNABLE_TO_CONNECT)
            self.assertNotIn("TRAP:", pg.server_log())


# ---------------------------------------------------------------------------

class CapsAtUse(AttackBase):
    """Finding 4: caps on non-superusers were checked only when set."""

    HIGH = {"max_response_bytes": "1073741824", "max_retries": "100",
            "retry_max_wait_ms": "3600000"}

    def setUp(self):
        super().setUp()
        # the attacker may reach the emulator on this machine (a superuser's
        # setting for its sessions), so that on main its queries ran
        query(self.conn, "ALTER ROLE %s IN DATABASE %s SET callogs_fdw.allow_insecure_url = on"
              % (ATTACKER, DB))
        self.addCleanup(query, self.conn, "ALTER ROLE %s IN DATABASE %s RESET callogs_fdw.allow_insecure_url"
                        % (ATTACKER, DB))
        self.tag = next_name("atk3_caps")
        emu_reset(self.tag)
        self.url = emu_url(scenario(self.tag, rows=5))

    def test_server_given_to_another_role(self):
        for option, value in sorted(self.HIGH.items()):
            with self.subTest(option=option):
                srv = self.server(self.conn, self.url, {option: value}, token=TOKEN)
                # the superuser's own server: its values stand
                self.assertEqual(query(self.conn, "SELECT count(*) FROM %s_t" % srv)[0][0], 5)
                query(self.conn, "ALTER SERVER %s OWNER TO %s" % (srv, ATTACKER))
                query(self.conn, "ALTER FOREIGN TABLE %s_t OWNER TO %s" % (srv, ATTACKER))
                query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s OPTIONS (token %s)"
                      % (ATTACKER, srv, sql_literal(TOKEN)))
                for who, conn in (("attacker", self.attacker()), ("superuser", self.conn)):
                    e = query_error(conn, "SELECT count(*) FROM %s_t" % srv)
                    self.assertSqlState(e, INSUFFICIENT_PRIVILEGE,
                                        r'option "%s" of server "%s" is above \d+, and the server '
                                        r'is not owned by a superuser\n' % (option, srv))
                    self.assertRegex(e.diag.message_hint, r"ALTER SERVER %s OPTIONS \(SET %s '\d+'\)"
                                     % (srv, option))
                # lowered to the cap, it works again
                e = query_error(self.attacker(), "SELECT count(*) FROM %s_t" % srv)
                cap = e.diag.message_hint.split("'")[1]
                query(self.attacker(), "ALTER SERVER %s OPTIONS (SET %s '%s')" % (srv, option, cap))
                self.assertEqual(query(self.attacker(), "SELECT count(*) FROM %s_t" % srv)[0][0], 5)

    def test_table_given_to_another_role(self):
        srv = self.server(self.conn, self.url, {}, token=TOKEN, table_opts={"concurrency": "32"})
        query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s OPTIONS (token %s)"
              % (ATTACKER, srv, sql_literal(TOKEN)))
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s_t" % srv)[0][0], 5)
        query(self.conn, "ALTER FOREIGN TABLE %s_t OWNER TO %s" % (srv, ATTACKER))
        e = query_error(self.attacker(), "SELECT count(*) FROM %s_t" % srv)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE,
                            r'option "concurrency" of foreign table "%s_t" is above 8, and the '
                            r'foreign table is not owned by a superuser\n' % srv)
        self.assertIn("ALTER FOREIGN TABLE %s_t OPTIONS (SET concurrency '8')" % srv,
                      e.diag.message_hint)


# ---------------------------------------------------------------------------

class Minor(AttackBase):
    """Finding 5 (minor): the refused rate is printed as given; an empty
    table_name of IMPORT FOREIGN SCHEMA is an option error (and a message
    beyond the error-body cap: TokenCut.test_message_beyond_body_cap)."""

    def test_import_empty_table_name(self):
        srv = next_name("imp")
        query(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw" % srv)
        e = query_error(self.conn, "IMPORT FOREIGN SCHEMA callogs FROM SERVER %s INTO public "
                                   "OPTIONS (table_name '')" % srv)
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE,
                            r'option "table_name" must not be empty')

    def test_value_as_given(self):
        e = query_error(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                                   "OPTIONS (max_requests_per_second '0.0009999999')" % next_name("r"))
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE,
                            r'value 0\.0009999999 is out of range for option "max_requests_per_second"\n')


if __name__ == "__main__":
    unittest.main()
