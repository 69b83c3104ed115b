"""The outside attack on issue 10, round 2, played again: an unprivileged
role with USAGE on the wrapper, and hostile API servers.  Each class is a
finding of the attack report; each test failed on the main branch the
attack was run against (src/ as of commit 87ea617).

1. Waits: max_requests_per_second is 0 or at least 0.001 (0.1 on a server
   not owned by a superuser), checked when set and when used; no wait
   reaches PostgreSQL's wait functions unclamped (the cluster crashed on an
   assertion in latch.c; a rate at or below 1e-13 switched the limit off).
3. Rate table: a full shared table (callogs_fdw.rate_limit_servers) never
   makes a query wait for another role's slot; the server is spaced per
   session instead, with a WARNING.
4. Connections: a backend runs at most callogs_fdw.max_transfers
   transfers (and libcurl keeps as many connections) at once, however many
   organizations and streams a query has (672 TLS connections, 627 MB;
   900 plain ones used every file descriptor).
5. Token echo: an API that echoes the token (error messages, "next"
   links, values, keys, "count") never gets it into an error, a log line or
   the probe's output.
6. Plain http: a non-superuser's http:// server created while
   callogs_fdw.allow_insecure_url was on no longer sends once it is off.
8. IMPORT FOREIGN SCHEMA: the columns' types are pg_catalog's whatever the
   importing session's search_path.

    /usr/bin/python3 -m unittest -q test/attack_test.py
"""

import http.server
import json
import os
import re
import socketserver
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
from pgcluster import ThrowawayCluster  # noqa: E402

DB = "attack_test"
ATTACKER = "callogs_atk"


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


_n = [0]


def next_name(prefix):
    _n[0] += 1
    return "%s%d" % (prefix, _n[0])


class AttackBase(FdwTestCase):
    """A database of its own with an attacker role (ATTACKER: USAGE on the
    wrapper, CREATE on public); every test checks the server log for a
    crash.  test/attack3_test.py reuses it with its own DB and role."""
    DB = DB
    ATTACKER = ATTACKER
    TOKEN = "tok_atk_1234"

    def setUp(self):
        self.log_pos = server_log_size()

    def tearDown(self):
        log = server_log_since(self.log_pos)
        self.assertIsNone(CRASH_RE.search(log), "a backend crashed:\n" + log[-3000:])
        self.assertNotIn("TRAP:", log)

    def attacker(self):
        c = connect(self.DB, user=self.ATTACKER)
        self.addCleanup(c.close)
        return c

    def server(self, conn, url, opts, token=None, table_opts=None):
        """Server <name>, the caller's user mapping and table <name>_t."""
        name = next_name("srv")
        query(conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw %s"
              % (name, options_clause(dict({"url": url, "org_handle": "acme"}, **opts))))
        query(conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (token %s)"
              % (name, sql_literal(token or self.TOKEN)))
        query(conn, "CREATE FOREIGN TABLE %s_t (%s) SERVER %s %s"
              % (name, COLUMNS, name, options_clause(table_opts or {})))
        return name


# ---------------------------------------------------------------------------

class TinyRate(AttackBase):
    """Finding 1 (critical): a tiny max_requests_per_second crashed the
    cluster (the retry's wait reached WaitEventSetWait as a long above
    INT_MAX) or, below ~1e-13, switched the limit off."""

    UNRESOLVABLE = "https://nonexistent.invalid/api/v2/platform/call-logs/"

    def test_attacker_rate_refused_and_no_crash(self):
        c = self.attacker()
        # the attack itself: it crashed the cluster on main
        e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                           "(url %s, org_handle 'a', max_requests_per_second '0.0000001')"
                        % (next_name("tiny"), sql_literal(self.UNRESOLVABLE)))
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE,
                            r'value 0.0000001 is out of range for option "max_requests_per_second"')
        # below the floor of servers not owned by a superuser
        for rate in ("0.001", "0.05", "0.0999"):
            with self.subTest(rate=rate):
                e = query_error(c, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                                   "(url %s, max_requests_per_second %s)"
                                % (next_name("tiny"), sql_literal(self.UNRESOLVABLE), sql_literal(rate)))
                self.assertSqlState(e, INSUFFICIENT_PRIVILEGE,
                                    r'only a superuser may set option "max_requests_per_second" below 0.1')
        # the floor, and "no limit", are allowed
        for rate in ("0", "0.1", "100000"):
            with self.subTest(rate=rate):
                self.server(c, self.UNRESOLVABLE, {"max_requests_per_second": rate})
        srv = self.server(c, self.UNRESOLVABLE, {"max_requests_per_second": "0.1"})
        e = query_error(c, "ALTER SERVER %s OPTIONS (SET max_requests_per_second '0.01')" % srv)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def test_rates_that_switched_the_limit_off_refused(self):
        # also for a superuser: below 0.001/s, up to 1e-13 where 1/rate in
        # microseconds no longer fitted an int64 (the limit went off)
        for rate in ("1e-13", "1e-14", "1e-300", "0.000999", "-1", "nan", "inf", "100001"):
            with self.subTest(rate=rate):
                e = query_error(self.conn, "CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw "
                                           "OPTIONS (max_requests_per_second %s)"
                                % (next_name("tiny"), sql_literal(rate)))
                self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE)

    def test_slowest_rate_waits_and_cancels(self):
        """A superuser's server at the slowest rate (1000 s between
        requests): the DNS failure's retry waits for the rate, and
        statement_timeout ends the wait on time, without a crash."""
        srv = self.server(self.conn, self.UNRESOLVABLE,
                          {"max_requests_per_second": "0.001", "max_retries": "1",
                           "retry_max_wait_ms": "0"})
        query(self.conn, "SET statement_timeout = '1500ms'")
        try:
            t0 = time.time()
            e = query_error(self.conn, "SELECT * FROM %s_t" % srv)
            took = time.time() - t0
        finally:
            query(self.conn, "RESET statement_timeout")
        self.assertSqlState(e, QUERY_CANCELED, "statement timeout")
        self.assertLess(took, 10)

    def test_rate_checked_again_at_use(self):
        """A superuser sets a slow rate and gives the server to the
        attacker: the rate is checked again when the server is used (on
        main the attacker's queries then waited 100 s per request)."""
        srv = self.server(self.conn, self.UNRESOLVABLE, {"max_requests_per_second": "0.01"})
        query(self.conn, "ALTER SERVER %s OWNER TO %s" % (srv, ATTACKER))
        query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s OPTIONS (token 'x1234')"
              % (ATTACKER, srv))
        query(self.conn, "GRANT SELECT ON %s_t TO %s" % (srv, ATTACKER))
        c = self.attacker()
        query(c, "SET statement_timeout = '3s'")
        e = query_error(c, "SELECT * FROM %s_t" % srv)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE,
                            r'max_requests_per_second of server "%s" is below 0.1, and the '
                            r'server is not owned by a superuser' % srv)
        self.assertIn("ALTER SERVER %s OPTIONS (SET max_requests_per_second '0.1')" % srv,
                      e.diag.message_hint)
        # the superuser's own use of it too: the owner decides
        e = query_error(self.conn, "SELECT * FROM %s_t" % srv)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)


class RateTableSquatting(AttackBase):
    """Finding 3 (medium): with the library preloaded, an unprivileged role
    filled the shared rate table with slow servers (one count(*) each) and
    the superuser's rate-limited server then waited until statement_timeout
    for a slot."""

    def test_full_table_never_waits_for_another_roles_slot(self):
        slots = 2
        with ThrowawayCluster(conf={"shared_preload_libraries": "'callogs_fdw'",
                                    "callogs_fdw.rate_limit_servers": str(slots)}) as pg:
            su = pg.connect()
            self.addCleanup(su.close)
            query(su, "CREATE EXTENSION callogs_fdw")
            query(su, "CREATE ROLE %s LOGIN" % ATTACKER)
            query(su, "GRANT USAGE ON FOREIGN DATA WRAPPER callogs_fdw TO %s" % ATTACKER)
            query(su, "GRANT CREATE ON SCHEMA public TO %s" % ATTACKER)
            atk = psycopg2.connect(host="127.0.0.1", port=pg.port, user=ATTACKER, dbname="postgres")
            atk.autocommit = True
            self.addCleanup(atk.close)
            # the attacker takes every slot: the slowest rate it may set,
            # one request each (the host does not resolve: no retry)
            for i in range(slots):
                srv = self.server(atk, "https://nonexistent.invalid/api/v2/platform/call-logs/",
                                  {"max_requests_per_second": "0.1", "max_retries": "0"})
                e = query_error(atk, "SELECT count(*) FROM %s_t" % srv)
                self.assertSqlState(e, FDW_UNABLE_TO_CONNECT)
            # the superuser's rate-limited server: 3 pages at 4 per second
            tag = "atk_rate_squat"
            emu_reset(tag)
            create_table(su, "victim", scenario(tag, rows=300),
                         server_opts={"max_requests_per_second": "4", "concurrency": "4"})
            query(su, "SET statement_timeout = '6s'")
            del su.notices[:]
            t0 = time.time()
            n = query(su, "SELECT count(id) FROM victim")[0][0]
            took = time.time() - t0
            notices = list(su.notices)
            log = pg.server_log()
        self.assertEqual(n, 300)
        # three requests 250 ms apart, not a wait for the attacker's slots (10 s)
        self.assertLess(took, 4.0)
        warnings = [x for x in notices if "rate_limit_servers is full" in x]
        self.assertEqual(len(warnings), 1, notices)
        self.assertIn('requests to server "victim_srv" are spaced by this session alone', warnings[0])
        starts = sorted(e["start"] for e in emu_log(tag))
        self.assertEqual(len(starts), 3)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        self.assertTrue(all(g > 0.2 for g in gaps), gaps)
        self.assertNotIn("TRAP:", log)


class _SlowApi(http.server.BaseHTTPRequestHandler):
    """Answers every request after DELAY seconds with an empty page, and
    counts the connections open at once (keep-alive: a connection may carry
    several requests)."""
    protocol_version = "HTTP/1.1"
    DELAY = 0.2
    lock = threading.Lock()
    open_now = 0
    open_max = 0
    requests = 0

    @classmethod
    def reset(cls):
        """Forget the counts, once the connections of earlier backends are
        closed (at most 5 s)."""
        deadline = time.time() + 5
        while cls.open_now > 0 and time.time() < deadline:
            time.sleep(0.05)
        with cls.lock:
            cls.open_max = cls.open_now
            cls.requests = 0

    def setup(self):
        super().setup()
        with _SlowApi.lock:
            _SlowApi.open_now += 1
            _SlowApi.open_max = max(_SlowApi.open_max, _SlowApi.open_now)

    def finish(self):
        with _SlowApi.lock:
            _SlowApi.open_now -= 1
        super().finish()

    def do_GET(self):
        with _SlowApi.lock:
            _SlowApi.requests += 1
        time.sleep(self.DELAY)
        body = b'{"count": 0, "data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class _ManyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        pass


class ConnectionBound(AttackBase):
    """Finding 4 (medium): every request of every stream of every
    partition had a transfer (a connection) of its own at once."""

    ORGS = 50              # x 6 streams: 300 requests

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = _ManyServer(("127.0.0.1", 0), _SlowApi)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/api/v2/platform/call-logs/" % cls.httpd.server_address[1]
        query(cls.conn, "CREATE SERVER slow FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                        "(url %s, org_handle 'x', max_retries '0')" % sql_literal(url))
        query(cls.conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER slow OPTIONS (token 'tok_slow')")
        query(cls.conn, "SELECT callogs_create_org_tables('slow_all', 'slow', %s)",
              (["org%03d" % i for i in range(cls.ORGS)],))

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def scan(self, conn):
        _SlowApi.reset()
        n = query(conn, "SELECT count(id) FROM slow_all WHERE call_status IN "
                        "('missed', 'failed', 'completed') AND call_type IN ('inbound', 'outbound')")[0][0]
        return n, _SlowApi.requests, _SlowApi.open_max

    def test_default_bound(self):
        conn = connect(DB)      # a new backend: no connection kept alive yet
        self.addCleanup(conn.close)
        n, requests, most = self.scan(conn)
        print("default bound: at most %d connections" % most)
        self.assertEqual((n, requests), (0, self.ORGS * 6))
        self.assertLessEqual(most, 32)
        self.assertGreaterEqual(most, 16, "the bound must not serialize the scans")

    def test_setting_bounds_connections(self):
        conn = connect(DB)
        self.addCleanup(conn.close)
        query(conn, "SET callogs_fdw.max_transfers = 4")
        _SlowApi.DELAY = 0.05
        self.addCleanup(setattr, _SlowApi, "DELAY", 0.2)
        n, requests, most = self.scan(conn)
        self.assertEqual((n, requests), (0, self.ORGS * 6))
        self.assertLessEqual(most, 4)
        # superuser only
        c = self.attacker()
        query(c, "SELECT * FROM callogs_fdw_stats()")     # loads the library
        e = query_error(c, "SET callogs_fdw.max_transfers = 256")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)


ECHO_TOKEN = "ECHOSECRET_tk42"


class _EchoApi(http.server.BaseHTTPRequestHandler):
    """A hostile API that echoes the Authorization header it gets, by the
    first path segment:
    /e401/, /e400/, /e403/, /e503/, /e404/: that status, message "bad
    credentials: <Authorization>";  /pct/: 401, the token percent-encoded;
    /next/: page 1 links to page 2 with the token in the link, page 2 500;
    /value/: a row whose bridge (integer) is the Authorization value;
    /count/: "count" is the Authorization value;
    /probe/: pages whose first row has the token as a key, and 400 with
    the echo for any request with start_date."""
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
        kind = self.path.split("/")[1]
        row = {"id": "c1", "call_type": "inbound", "call_status": "missed",
               "creation_time": "2025-11-18T10:30:00.000Z"}
        if kind.startswith("e"):
            self.answer(int(kind[1:]), {"status_code": int(kind[1:]),
                                        "message": "bad credentials: " + auth})
        elif kind == "pct":
            self.answer(401, {"message": "bad credentials: " + pct_all(auth)})
        elif kind == "next":
            if "page=2" in self.path:
                self.answer(500, {"message": "no"})
            else:
                self.answer(200, {"count": 2, "data": [row],
                                  "next": "http://127.0.0.1:%d/next/?page=2&auth=%s"
                                  % (self.server.server_address[1], auth.split()[-1])})
        elif kind == "value":
            self.answer(200, {"count": 1, "data": [dict(row, bridge=auth)]})
        elif kind == "count":
            self.answer(200, {"count": auth, "data": [row]})
        elif kind == "probe":
            if "start_date" in self.path:
                self.answer(400, {"message": "Invalid start_date for " + auth})
            else:
                self.answer(200, {"count": 1, "data": [dict(row, **{auth.split()[-1]: 1})]})
        else:
            self.answer(404, {})

    def log_message(self, *a):
        pass


class TokenEcho(AttackBase):
    """Finding 5 (low): the API's text reached errors, the server log and
    the probe's output with the token in it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = _ManyServer(("127.0.0.1", 0), _EchoApi)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.base = "http://127.0.0.1:%d" % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def assertNoToken(self, text, what):
        for form in (ECHO_TOKEN, pct_all(ECHO_TOKEN), pct_all(ECHO_TOKEN).lower()):
            self.assertNotIn(form, text or "", "the token leaked in %s" % what)

    def echo_table(self, kind, **opts):
        return self.server(self.conn, "%s/%s/api/v2/platform/call-logs/" % (self.base, kind),
                           dict({"max_retries": "1", "retry_max_wait_ms": "0"}, **opts),
                           token=ECHO_TOKEN)

    def test_errors_and_log(self):
        pos = server_log_size()
        query(self.conn, "SET callogs_fdw.log_requests = on")
        self.addCleanup(query, self.conn, "RESET callogs_fdw.log_requests")
        cases = [("e401", INVALID_AUTH, r"HTTP 401 Unauthorized: bad credentials: Token \[token\]$"),
                 ("e400", FDW_INVALID_ATTRIBUTE_VALUE, r"bad credentials: Token \[token\]$"),
                 ("e403", INSUFFICIENT_PRIVILEGE, r"bad credentials: Token \[token\]$"),
                 ("e404", FDW_TABLE_NOT_FOUND, r"bad credentials: Token \[token\]$"),
                 ("e503", FDW_ERROR, r"after 2 attempts: bad credentials: Token \[token\]$"),
                 ("pct", INVALID_AUTH, r"bad credentials: %54%6F%6B%65%6E%20\[token\]$"),
                 ("next", FDW_ERROR, r"HTTP 500"),
                 ("value", "22P02", r'invalid input syntax for type integer: "Token \[token\]"'),
                 ("count", FDW_INVALID_STRING_FORMAT, r"not a non-negative 64-bit integer")]
        for kind, code, msg in cases:
            with self.subTest(kind=kind):
                t = self.echo_table(kind)
                e = query_error(self.conn, "SELECT id, bridge FROM %s_t" % t)
                self.assertSqlState(e, code)
                self.assertRegex(e.diag.message_primary, msg)
                self.assertNoToken(error_text(e), "the error")
        e = query_error(self.conn, "SELECT id, bridge FROM %s_t" % self.echo_table("next"))
        self.assertIn("auth=[token]", e.diag.message_detail)
        e = query_error(self.conn, "SELECT id, bridge FROM %s_t" % self.echo_table("value"))
        self.assertIn('value "Token [token]"', e.diag.context)
        log = server_log_since(pos)
        self.assertRegex(log, r"callogs_fdw: GET /next/\?page=2&auth=\[token\] -> 500")
        self.assertIn("bad credentials: Token [token]", log)
        self.assertNoToken(log, "the server log")

    def test_error_caught_in_plpgsql(self):
        """SQLERRM outlives the scan that raised it: the text was scrubbed
        when the error was raised."""
        t = self.echo_table("value")
        del self.conn.notices[:]
        query(self.conn, "DO $$ BEGIN PERFORM bridge FROM %s_t; EXCEPTION WHEN others THEN "
                         "RAISE NOTICE 'caught: %%', SQLERRM; END $$" % t)
        self.assertEqual(len(self.conn.notices), 1)
        self.assertIn('caught: invalid input syntax for type integer: "Token [token]"',
                      self.conn.notices[0])

    def test_probe(self):
        t = self.echo_table("probe")
        rows = query(self.conn, "SELECT fact, finding, evidence, recommendation "
                                "FROM callogs_fdw_probe(%s, %s)", (t, t + "_t"))
        text = "\n".join(" | ".join(str(c) for c in r) for r in rows)
        self.assertIn("Invalid start_date for Token [token]", text)
        self.assertIn("[token]", re.search(r"fields no column reads: .*", text).group(0))
        self.assertNoToken(text, "the probe's output")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy (or API) that records what it is asked, with the
    Authorization header, and answers an empty page."""
    seen = []

    def do_GET(self):
        _Recorder.seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"count": 0, "data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class InsecureUrlReset(AttackBase):
    """Finding 6 (low): the scheme was checked only when the url was set;
    after the superuser turned callogs_fdw.allow_insecure_url off again,
    the attacker's http:// server kept sending the token in clear (here:
    through a proxy a superuser set on it, which sees what the network
    would)."""

    def test_http_refused_once_the_setting_is_off(self):
        proxy = _ManyServer(("127.0.0.1", 0), _Recorder)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        self.addCleanup(proxy.server_close)
        self.addCleanup(proxy.shutdown)
        _Recorder.seen = []
        c = self.conn
        query(c, "SET callogs_fdw.allow_insecure_url = on")
        query(c, "SET ROLE %s" % ATTACKER)
        try:
            name = self.server(c, "http://api.example.com/api/v2/platform/call-logs/",
                               {"max_retries": "0"}, token="tok_in_clear_77")
        finally:
            query(c, "RESET ROLE")
        query(c, "ALTER SERVER %s OPTIONS (ADD proxy 'http://127.0.0.1:%d')"
              % (name, proxy.server_address[1]))
        query(c, "SET ROLE %s" % ATTACKER)
        try:
            # while the setting is on, http works (as the README says)
            self.assertEqual(query(c, "SELECT count(*) FROM %s_t" % name)[0][0], 0)
            self.assertEqual(len(_Recorder.seen), 1)
            query(c, "RESET ROLE")
            query(c, "RESET callogs_fdw.allow_insecure_url")
            query(c, "SET ROLE %s" % ATTACKER)
            e = query_error(c, "SELECT count(*) FROM %s_t" % name)
        finally:
            query(c, "RESET ROLE")
            query(c, "RESET callogs_fdw.allow_insecure_url")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r'server "%s" may not use plain http' % name)
        self.assertIn("allow_insecure_url", e.diag.message_hint)
        self.assertEqual(len(_Recorder.seen), 1, "the token went out in clear: %s" % _Recorder.seen)
        # and for the superuser's own use of the attacker's server
        self.assertFails("SELECT count(*) FROM %s_t" % name, INSUFFICIENT_PRIVILEGE)


class ImportTypes(AttackBase):
    """Finding 8 (low): IMPORT FOREIGN SCHEMA wrote unqualified types, so
    with search_path = atk, pg_catalog, public the columns got the
    attacker's domains atk.text and atk.timestamptz, whose CHECK runs as
    whoever reads the table."""

    def test_types_are_pg_catalogs(self):
        query(self.conn, "DROP SCHEMA IF EXISTS atk CASCADE")
        query(self.conn, "CREATE SCHEMA atk AUTHORIZATION %s" % ATTACKER)
        self.addCleanup(query, self.conn, "DROP SCHEMA IF EXISTS atk CASCADE")
        c = self.attacker()
        for typ in ("text", "timestamptz", "interval", "int4", "integer"):
            query(c, "CREATE DOMAIN atk.%s AS pg_catalog.%s" % (typ, "int4" if typ == "integer" else typ))
        tag = "atk_import"
        emu_reset(tag)
        query(self.conn, "CREATE SERVER imp FOREIGN DATA WRAPPER callogs_fdw OPTIONS (url %s, "
                         "org_handle 'acme')" % sql_literal(emu_url(scenario(tag, rows=10))))
        self.addCleanup(query, self.conn, "DROP SERVER imp CASCADE")
        query(self.conn, "CREATE SCHEMA imported")
        self.addCleanup(query, self.conn, "DROP SCHEMA imported CASCADE")
        query(self.conn, "SET search_path = atk, pg_catalog, public")
        try:
            query(self.conn, "IMPORT FOREIGN SCHEMA callogs FROM SERVER imp INTO imported")
        finally:
            query(self.conn, "RESET search_path")
        types = query(self.conn, "SELECT attname, atttypid::regtype::text, "
                                 "(SELECT nspname FROM pg_type t JOIN pg_namespace n "
                                 "ON n.oid = t.typnamespace WHERE t.oid = atttypid) "
                                 "FROM pg_attribute WHERE attrelid = 'imported.call_logs'::regclass "
                                 "AND attnum > 0 ORDER BY attnum")
        self.assertEqual(len(types), 11)
        self.assertEqual({t[2] for t in types}, {"pg_catalog"}, types)
        self.assertEqual([t[1] for t in types],
                         ["text"] * 5 + ["timestamp with time zone"] * 3 + ["interval", "text", "integer"])


if __name__ == "__main__":
    unittest.main()
