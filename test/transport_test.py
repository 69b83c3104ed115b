"""The transport of callogs_fdw (src/http.c): whose failure is whose, 404s
that may mean "past the end", retries in the request log.

* A request that fails to start while another scan is being waited on (in a
  subtransaction that catches errors) fails its own scan, loudly: the scan
  that was waited on is not disturbed, and the owner does not read the
  failure as "past the end" (issue 9 item 9).
* Subtransactions that fail while an outer cursor's transfers are in flight
  leave nothing dangling: the cursor reads every row.
* A 404 on a page after the first is retried like a 5xx (issue 9 item 3).
* The request log shows the wait before each retry, and whether
  Retry-After asked for it (issue 14).

    /usr/bin/python3 -m unittest -q test/transport_test.py
"""

import http.server
import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
from pgcluster import ThrowawayCluster  # noqa: E402

DB = "transport_test"
FDW_OUT_OF_MEMORY = "HV001"


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


_n = [0]


class TransportBase(FdwTestCase):
    DB = DB

    def setUp(self):
        self.log_pos = server_log_size()

    def tearDown(self):
        log = server_log_since(self.log_pos)
        self.assertIsNone(CRASH_RE.search(log), "a backend crashed")
        self.assertNotIn("TRAP:", log)
        self.assertNotIn("could not find block containing chunk", log)
        self.assertNotIn(TOKEN, log)

    def table(self, tag, rows=250, server_opts=None, table_opts=None, **kw):
        _n[0] += 1
        name = "t%d_%s" % (_n[0], re.sub(r"\W", "_", tag))
        emu_reset(tag)
        create_table(self.conn, name, scenario(tag, rows=rows, **kw),
                     server_opts=server_opts, table_opts=table_opts)
        return name


class FailureOwnershipTest(TransportBase):

    def test_start_failure_belongs_to_its_request(self):
        """Scan B's queued pages start (and fail to start) while scan A is
        waited on inside a subtransaction: A succeeds, B raises the failure
        when it reads that page, never a silent end of its rows."""
        victim = self.table("victim_start", rows=2000,
                            server_opts={"max_requests_per_second": "5", "concurrency": "4"})
        bystander = self.table("bystander_start", rows=300, latency=700)
        conn = connect(DB, autocommit=False)
        with conn.cursor() as cur:
            cur.execute("DECLARE c CURSOR FOR SELECT id FROM %s" % victim)
            cur.execute("FETCH 50 FROM c")
            self.assertEqual(len(cur.fetchall()), 50)
            cur.execute("SET LOCAL callogs_fdw.debug_fail_request_start = 'victim_start'")
            cur.execute("CREATE TEMP TABLE outcome (what text) ON COMMIT DROP")
            cur.execute("""
                DO $$
                DECLARE n bigint;
                BEGIN
                  BEGIN
                    SELECT count(id) INTO n FROM %s;
                    INSERT INTO outcome VALUES ('count ' || n);
                  EXCEPTION WHEN others THEN
                    INSERT INTO outcome VALUES ('error ' || SQLERRM);
                  END;
                END $$""" % bystander)
            cur.execute("SELECT what FROM outcome")
            self.assertEqual(cur.fetchall(), [("count 300",)],
                             "the waited-on scan got another scan's failure")
            cur.execute("SET LOCAL callogs_fdw.debug_fail_request_start = ''")
        e = query_error(conn, "FETCH ALL FROM c")
        self.assertSqlState(e, FDW_OUT_OF_MEMORY, "could not create a libcurl handle")
        self.assertIn("victim_start", e.diag.message_detail or "")
        conn.rollback()
        conn.close()
        # requests of the victim page 2 onwards never reached the API
        pages = [r["query"] for r in emu_log("victim_start")]
        self.assertEqual(len(pages), 1, pages)

    def test_subtransaction_aborts_while_cursor_in_flight(self):
        """Scans that fail inside subtransactions, with transfers of their
        own and of an outer cursor in flight, free exactly their own: the
        cursor delivers every row, the backend stays sound."""
        outer = self.table("outer_sub", rows=3000, latency=30,
                           server_opts={"concurrency": "4"})
        failing = self.table("failing_sub", rows=3000, latency=30,
                             fault="400", fault_pages="3")
        conn = connect(DB, autocommit=False)
        got = 0
        failures = 0
        with conn.cursor() as cur:
            cur.execute("DECLARE c CURSOR FOR SELECT id FROM %s" % outer)
            for _ in range(15):
                cur.execute("FETCH 150 FROM c")
                got += len(cur.fetchall())
                cur.execute("""
                    DO $$
                    BEGIN
                      PERFORM count(id) FROM %s;
                    EXCEPTION WHEN others THEN
                      RAISE NOTICE 'failed: %%', SQLSTATE;
                    END $$""" % failing)
                failures += sum("failed: HV024" in n for n in conn.notices)
                del conn.notices[:]
            cur.execute("FETCH ALL FROM c")
            rows = cur.fetchall()
            got += len(rows)
        conn.commit()
        conn.close()
        self.assertEqual(got, 3000)
        self.assertEqual(failures, 15)


class NotFoundTest(TransportBase):

    def test_404_mid_scan_is_retried(self):
        """Page 3 answers 404 once: the page is asked again and the scan
        returns every row (was: 200 of 5,000, no error)."""
        t = self.table("nf_once", rows=5000, fault="404", fault_pages="3", fault_times="1",
                       server_opts={"concurrency": "1"})
        self.assertEqual(query(self.conn, "SELECT count(id) FROM %s" % t)[0][0], 5000)
        pages = [int(r["query"]["page"]) for r in emu_log("nf_once")]
        self.assertEqual(pages.count(3), 2)
        self.assertEqual(sorted(set(pages)), list(range(1, 51)))

    def test_404_on_first_page_is_an_error_without_retry(self):
        t = self.table("nf_first", rows=500, fault="404", fault_pages="1")
        self.assertFails("SELECT count(id) FROM %s" % t, FDW_TABLE_NOT_FOUND,
                         r"HTTP 404 Not Found")
        self.assertEqual(len(emu_log("nf_first")), 1)


class RateLimitTest(TransportBase):
    """max_requests_per_second holds for the server, across sessions, when
    the library is preloaded; per session otherwise (as documented)."""

    RATE = 10.0

    def combined_rate(self, tag, server_opts):
        """Two sessions scan one server at the same time; the rate of
        requests the emulator saw, over all of them (requests per second
        between the first and the last start)."""
        t = self.table(tag, rows=1200, server_opts=server_opts)
        conns = [connect(DB), connect(DB)]
        counts = {}

        def scan(i):
            counts[i] = query(conns[i], "SELECT count(id) FROM %s" % t)[0][0]

        threads = [threading.Thread(target=scan, args=(i,)) for i in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for c in conns:
            c.close()
        self.assertEqual(counts, {0: 1200, 1: 1200})
        starts = sorted(e["start"] for e in emu_log(tag))
        self.assertEqual(len(starts), 24)
        return (len(starts) - 1) / (starts[-1] - starts[0])

    def test_rate_across_sessions(self):
        preloaded = "callogs_fdw" in query(self.conn, "SHOW shared_preload_libraries")[0][0]
        rate = self.combined_rate("rate_two", {"max_requests_per_second": "%g" % self.RATE,
                                               "concurrency": "4"})
        if preloaded:
            # a loaded machine only spreads requests out: the margin is for
            # the emulator's clock reading a request late
            self.assertLess(rate, self.RATE * 1.3)
        else:
            # without shared memory each session keeps its own spacing
            self.assertGreater(rate, self.RATE * 1.5)

    def test_sockets_counted_as_external_fds(self):
        """curl's sockets count among PostgreSQL's external descriptors
        (AcquireExternalFD, as postgres_fdw counts libpq's).  With
        max_files_per_process 64 (about 16 external descriptors) a scan of
        concurrency 32 gets the connections there are descriptors for and
        the other requests wait for them: the answer is exact and fewer
        than 21 requests were in flight at once.  Then a server on another
        host name, while the first server's idle connections hold every
        descriptor: they are closed and the scan runs.  Repeated, so that
        a descriptor not given back would show (a throwaway cluster, for
        the postmaster setting)."""
        with ThrowawayCluster(conf={"max_files_per_process": "64"}) as pg:
            conn = pg.connect()
            query(conn, "CREATE EXTENSION callogs_fdw")
            for tag, host in (("fd_count", "127.0.0.1"), ("fd_other", "localhost")):
                emu_reset(tag)
                url = emu_url(scenario(tag, rows=5000, latency=100)).replace("127.0.0.1", host)
                create_table(conn, tag, url, server_opts={"concurrency": "32"})
            for _ in range(3):
                for tag in ("fd_count", "fd_other"):
                    emu_reset(tag)
                    self.assertEqual(query(conn, "SELECT count(id) FROM %s" % tag)[0][0], 5000)
                    log = wait_emu_quiet(tag)
                    self.assertEqual(len(log), 50)
                    events = sorted([(float(e["start"]), 1) for e in log] +
                                    [(float(e["end"]), -1) for e in log])
                    level = peak = 0
                    for _, d in events:
                        level += d
                        peak = max(peak, level)
                    self.assertLessEqual(peak, 20, "connections at once")
            log = pg.server_log()
            conn.close()
        self.assertNotIn("TRAP:", log)
        self.assertNotIn("out of file descriptors", log)
        self.assertIsNone(CRASH_RE.search(log))

    def test_full_table_never_overwrites(self):
        """With one shared slot (callogs_fdw.rate_limit_servers = 1) and two
        rate-limited servers scanned in one query, neither server's requests
        ever come closer than its spacing: the second is spaced by the
        session's own table instead of taking the slot over (a throwaway
        cluster, for the setting; test/attack_test.py checks that it does
        not wait for the slot)."""
        with ThrowawayCluster(conf={"shared_preload_libraries": "'callogs_fdw'",
                                    "callogs_fdw.rate_limit_servers": "1"}) as pg:
            conn = pg.connect()
            query(conn, "CREATE EXTENSION callogs_fdw")
            for tag in ("rate_full_a", "rate_full_b"):
                emu_reset(tag)
                create_table(conn, tag, scenario(tag, rows=300),
                             server_opts={"max_requests_per_second": "4", "concurrency": "4"})
            n = query(conn, "SELECT count(*) FROM (SELECT id FROM rate_full_a UNION ALL "
                            "SELECT id FROM rate_full_b) s")[0][0]
            log = pg.server_log()
            conn.close()
        self.assertEqual(n, 600)
        self.assertNotIn("TRAP:", log)
        for tag in ("rate_full_a", "rate_full_b"):
            starts = sorted(e["start"] for e in emu_log(tag))
            self.assertEqual(len(starts), 3)
            gaps = [b - a for a, b in zip(starts, starts[1:])]
            # spacing 250 ms; the margin is for the emulator reading a
            # request late, never for a request sent early
            self.assertTrue(all(g > 0.2 for g in gaps), (tag, gaps))

    def test_rate_measure_sees_unlimited(self):
        """The measurement above can fail: without the option the same two
        scans go far faster than the limit."""
        rate = self.combined_rate("rate_none", {"concurrency": "4"})
        self.assertGreater(rate, self.RATE * 2)


class _Hostile(http.server.BaseHTTPRequestHandler):
    """A hostile API: pages whose shape makes a backend hold much memory.
    /one_string/: one row whose end_reason is a 200 MB string;
    /strings/: 4 pages of 100 rows of 200 kB strings (20 MB a page); pages
    2 to 4 start sending only when all three were asked for, so that they
    arrive together;
    /nested/: 24 MB of densely nested empty arrays."""
    protocol_version = "HTTP/1.1"
    together = threading.Barrier(3, timeout=5)

    def body(self):
        page = int((re.search(r"page=(\d+)", self.path) or re.search("()", "1")).group(1) or 1)
        if self.path.startswith("/one_string/"):
            yield b'{"count":1,"data":[{"id":"x","end_reason":"'
            for _ in range(200):
                yield b"A" * (1 << 20)
            yield b'"}]}'
        elif self.path.startswith("/strings/"):
            if page > 1:
                try:
                    _Hostile.together.wait()
                except threading.BrokenBarrierError:
                    pass
            row = '{"id":"p%dr%%d","end_reason":"%s"}' % (page, "A" * 200000)
            yield ('{"count":400,"data":[' + ",".join(row % i for i in range(100)) + "]}").encode()
        else:
            yield b'{"count":1,"data":[{"id":"x","end_reason":['
            yield b",".join([b"[]"] * 8000000)
            yield b"]}]}"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for part in self.body():
                for i in range(0, len(part), 1 << 20):
                    chunk = part[i:i + (1 << 20)]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *a):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    """The hostile API's server: a client that hangs up mid-page (the
    budget's abort) is expected, not worth a traceback."""

    def handle_error(self, request, client_address):
        pass


def peak_rss_reset(pid):
    """Reset the process's peak RSS (VmHWM) to its current RSS."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


class MemoryBudgetTest(TransportBase):
    """callogs_fdw.max_page_memory bounds the pages one backend holds or
    parses, whatever the API sends (issue 10 section 3)."""

    BUDGET_MB = 32
    SLACK_MB = 16           # the backend's own working memory around a scan

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = _QuietServer(("127.0.0.1", 0), _Hostile)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        port = cls.httpd.server_address[1]
        for shape in ("one_string", "strings", "nested"):
            create_table(cls.conn, "hostile_" + shape, "http://127.0.0.1:%d/%s/" % (port, shape),
                         server_opts={"max_response_bytes": str(512 * 1024 * 1024),
                                      "max_retries": "0", "concurrency": "4"},
                         columns="id text, end_reason text")

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def scan_hostile(self, shape):
        """Scan a hostile table with the budget in a fresh backend; returns
        (error, growth of the backend's peak RSS in MB)."""
        conn = connect(DB)
        self.addCleanup(conn.close)
        pid = backend_pid(conn)
        query(conn, "SET callogs_fdw.max_page_memory = '%dMB'" % self.BUDGET_MB)
        query(conn, "SELECT count(*) FROM hostile_%s WHERE false" % shape)
        before = peak_rss_kb(pid)
        peak_rss_reset(pid)
        e = query_error(conn, "SELECT count(*), sum(length(end_reason)) FROM hostile_%s" % shape)
        return e, (peak_rss_kb(pid) - before) / 1024.0

    def test_one_huge_string(self):
        """A 200 MB string: refused once the budget is reached, and the
        backend never held much more than the budget."""
        e, grew = self.scan_hostile("one_string")
        self.assertSqlState(e, "53400", r"max_page_memory")
        self.assertLess(grew, self.BUDGET_MB + self.SLACK_MB)

    def test_budget_spans_pages_in_flight(self):
        """Three 20 MB pages in flight at once pass a 32 MB budget together,
        though each is below it."""
        _Hostile.together.reset()
        e, _ = self.scan_hostile("strings")
        self.assertSqlState(e, "53400", r"max_page_memory")

    def test_strings_peak_within_budget(self):
        """Parsed strings cost more than their bytes: the JSON decoder
        charges its tree estimate to the budget (received bytes alone
        under-charged: 98 MB seen)."""
        _Hostile.together.reset()
        e, grew = self.scan_hostile("strings")
        self.assertLess(grew, self.BUDGET_MB + self.SLACK_MB)

    def test_nested_arrays_peak_within_budget(self):
        """24 MB of [[],[],...]: the parsed tree is far larger than the bytes
        (914 MB seen when only bytes were charged); the decoder's tree
        estimate is charged before json-c allocates."""
        e, grew = self.scan_hostile("nested")
        self.assertSqlState(e, "53400", r"max_page_memory")
        self.assertLess(grew, self.BUDGET_MB + self.SLACK_MB)

    def test_budget_is_superuser_only(self):
        role = "callogs_budget_user"
        create_fdw_role(self.conn, role)
        self.addCleanup(drop_role, role)
        # once the library is loaded in the session, SET is refused
        c = connect(DB, user=role)
        self.addCleanup(c.close)
        query(c, "SELECT * FROM callogs_fdw_stats()")
        e = query_error(c, "SET callogs_fdw.max_page_memory = '1GB'")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
        # set before the library is loaded, the value stays a placeholder
        # that PostgreSQL drops when the library defines the setting
        c2 = connect(DB, user=role)
        self.addCleanup(c2.close)
        loaded = query(c2, "SELECT count(*) FROM pg_settings WHERE name = 'callogs_fdw.max_page_memory'")[0][0]
        if loaded == 0:
            query(c2, "SET callogs_fdw.max_page_memory = '1GB'")
            query(c2, "SELECT * FROM callogs_fdw_stats()")
        default = query(self.conn, "SELECT boot_val || coalesce(unit, '') FROM pg_settings WHERE name = 'callogs_fdw.max_page_memory'")[0][0]
        self.assertEqual(query(c2, "SELECT setting || coalesce(unit, '') FROM pg_settings WHERE name = 'callogs_fdw.max_page_memory'")[0][0], default)

    def test_explain_shows_peak(self):
        t = self.table("budget_explain", rows=1000, server_opts={"concurrency": "4"})
        plan = query(self.conn, "EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) SELECT * FROM %s" % t)[0][0][0]["Plan"]
        peak = plan["API Memory Peak"]
        # at most the four pages in flight and the one being read, at least
        # one; each ~35 kB page is charged with its decoded tree (json-c's
        # estimate: about 7 times its bytes)
        self.assertGreater(peak, 30)
        self.assertLess(peak, 5 * 40 * 8)


class OptionCapTest(TransportBase):
    """Options that multiply memory or time are superuser-only above a safe
    level (issue 10 section 3)."""

    CAPS = [("max_response_bytes", "33554432", "33554433"), ("concurrency", "8", "9"),
            ("timeout_ms", "300000", "300001"), ("connect_timeout_ms", "60000", "60001"),
            ("stall_timeout_ms", "60000", "60001"), ("retry_max_wait_ms", "60000", "60001"),
            ("max_retries", "10", "11")]

    def test_caps_for_non_superusers(self):
        role = "callogs_cap_user"
        create_fdw_role(self.conn, role)
        self.addCleanup(drop_role, role)
        query(self.conn, "GRANT CREATE ON SCHEMA public TO %s" % role)
        self.addCleanup(query, self.conn, "REVOKE CREATE ON SCHEMA public FROM %s" % role)
        c = connect(DB, user=role)
        self.addCleanup(c.close)
        for i, (opt, ok, too_much) in enumerate(self.CAPS):
            with self.subTest(option=opt):
                query(c, "CREATE SERVER cap_ok_%d FOREIGN DATA WRAPPER callogs_fdw "
                         "OPTIONS (%s '%s')" % (i, opt, ok))
                e = query_error(c, "CREATE SERVER cap_no_%d FOREIGN DATA WRAPPER callogs_fdw "
                                   "OPTIONS (%s '%s')" % (i, opt, too_much))
                self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, "only a superuser may set option")
                e = query_error(c, "ALTER SERVER cap_ok_%d OPTIONS (SET %s '%s')" % (i, opt, too_much))
                self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
                # a superuser may
                query(self.conn, "CREATE SERVER cap_su_%d FOREIGN DATA WRAPPER callogs_fdw "
                                 "OPTIONS (%s '%s')" % (i, opt, too_much))
        query(c, "CREATE FOREIGN TABLE cap_t (id text) SERVER cap_ok_0 OPTIONS (concurrency '8')")
        e = query_error(c, "ALTER FOREIGN TABLE cap_t OPTIONS (ADD analyze_max_pages '1001')")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
        for i in range(len(self.CAPS)):
            query(self.conn, "DROP SERVER IF EXISTS cap_ok_%d CASCADE" % i)
            query(self.conn, "DROP SERVER IF EXISTS cap_su_%d CASCADE" % i)


API_MESSAGE = "Ung\u00fcltiger Wert f\u00fcr call_type: \u65e5\u672c \U0001F600 \u00e9t\u00e9"


class _ErrorApi(http.server.BaseHTTPRequestHandler):
    """Answers every request 400 with a message outside ASCII."""

    def do_GET(self):
        body = json.dumps({"status_code": 400, "message": API_MESSAGE},
                          ensure_ascii=False).encode("utf-8")
        self.send_response(400)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class EncodingTest(TransportBase):
    """The API's error text reaches the user in the database encoding, with
    '?' where a character has no equivalent; never an "invalid byte
    sequence" error instead of the real one (issue 10 section 4)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ErrorApi)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def error_in(self, encoding):
        db = "transport_test_" + encoding.lower()
        admin = connect("postgres")
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
            cur.execute("CREATE DATABASE %s ENCODING '%s' LC_COLLATE 'C' LC_CTYPE 'C' "
                        "TEMPLATE template0" % (db, encoding))
        admin.close()
        self.addCleanup(drop_database, db)
        conn = connect(db)
        self.addCleanup(conn.close)
        query(conn, "CREATE EXTENSION callogs_fdw")
        create_table(conn, "bad_request", "http://127.0.0.1:%d%s" % (self.httpd.server_address[1], API_PATH),
                     server_opts={"max_retries": "0"})
        # a filter is sent, as the API's text (about call_type) implies: the
        # hint then names pushdown (without any filter it names page_size)
        return query_error(conn, "SELECT * FROM bad_request WHERE call_type = 'inbound'")

    def check(self, encoding, shown):
        e = self.error_in(encoding)
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertEqual(e.diag.message_primary,
                         "call logs API answered HTTP 400 Bad Request: " + shown)
        self.assertIn("Request: GET", e.diag.message_detail or "")
        self.assertIn("pushdown", e.diag.message_hint or "")

    def test_latin1(self):
        self.check("LATIN1", "Ung\u00fcltiger Wert f\u00fcr call_type: ?? ? \u00e9t\u00e9")

    def test_euc_jp(self):
        e = self.error_in("EUC_JP")
        self.assertSqlState(e, FDW_INVALID_ATTRIBUTE_VALUE)
        msg = e.diag.message_primary
        self.assertTrue(msg.startswith("call logs API answered HTTP 400 Bad Request: "), msg)
        self.assertIn("call_type: \u65e5\u672c ? ", msg)        # Japanese kept, emoji replaced
        self.assertIn("pushdown", e.diag.message_hint or "")

    def test_sql_ascii_and_utf8(self):
        self.check("UTF8", API_MESSAGE)


class AlterSystemTest(TransportBase):
    """ALTER SYSTEM SET callogs_fdw.log_requests works the documented way:
    in a session that has loaded the library (always, when it is preloaded;
    else after LOAD 'callogs_fdw' or any use of a callogs_fdw table).
    PostgreSQL 15 and 16 refuse a setting of a library the session has not
    loaded; 17 and later accept it (ALTER SYSTEM of unrecognized custom
    settings)."""

    def tearDown(self):
        c = connect(DB)
        query(c, "LOAD 'callogs_fdw'")
        query(c, "ALTER SYSTEM RESET callogs_fdw.log_requests")
        query(c, "SELECT pg_reload_conf()")
        c.close()
        super().tearDown()

    def test_alter_system_log_requests(self):
        preloaded = "callogs_fdw" in query(self.conn, "SHOW shared_preload_libraries")[0][0]
        c = connect(DB)
        version = int(query(c, "SHOW server_version_num")[0][0])
        if not preloaded and version < 170000:
            e = query_error(c, "ALTER SYSTEM SET callogs_fdw.log_requests = on")
            self.assertSqlState(e, "42704", "unrecognized configuration parameter")
        if not preloaded:
            query(c, "LOAD 'callogs_fdw'")
        query(c, "ALTER SYSTEM SET callogs_fdw.log_requests = on")
        query(c, "SELECT pg_reload_conf()")
        c.close()
        t = self.table("alter_system", rows=150)
        deadline = time.time() + 10
        while True:
            c = connect(DB)
            pos = server_log_size()
            n = query(c, "SELECT count(id) FROM %s" % t)[0][0]
            on = query(c, "SHOW callogs_fdw.log_requests")[0][0]
            c.close()
            if on == "on" or time.time() > deadline:
                break
            time.sleep(0.2)         # the reload reaches new sessions soon
        self.assertEqual((n, on), (150, "on"))
        self.assertRegex(server_log_since(pos), r"callogs_fdw: GET \S*tag=alter_system,\S*page=2 -> 200")


class RequestLogTest(TransportBase):

    def test_retry_wait_is_logged(self):
        t = self.table("log_retry", rows=250, fault="503", fault_pages="2", fault_times="2",
                       server_opts={"concurrency": "1"})
        t2 = self.table("log_retry_after", rows=250, fault="429", fault_pages="2",
                        fault_times="1", retry_after="1", server_opts={"concurrency": "1"})
        query(self.conn, "SET callogs_fdw.log_requests = on")
        pos = server_log_size()
        self.assertEqual(query(self.conn, "SELECT count(id) FROM %s" % t)[0][0], 250)
        self.assertEqual(query(self.conn, "SELECT count(id) FROM %s" % t2)[0][0], 250)
        query(self.conn, "RESET callogs_fdw.log_requests")
        log = server_log_since(pos)
        backoff = re.findall(r"callogs_fdw: GET \S*tag=log_retry,\S*page=2 -> 503 in [\d.]+ ms, \d+ bytes; "
                             r"retry (\d) of 3 in (\d+) ms \(backoff\)", log)
        self.assertEqual([b[0] for b in backoff], ["1", "2"], log)
        # 200 ms, then 400 ms, each with up to half of it as jitter
        self.assertTrue(100 <= int(backoff[0][1]) <= 200, backoff)
        self.assertTrue(200 <= int(backoff[1][1]) <= 400, backoff)
        ra = re.findall(r"callogs_fdw: GET \S*tag=log_retry_after,\S*page=2 -> 429 in [\d.]+ ms, \d+ bytes; "
                        r"retry 1 of 3 in (\d+) ms \(Retry-After\)", log)
        self.assertEqual(ra, ["1000"], log)


if __name__ == "__main__":
    unittest.main()
