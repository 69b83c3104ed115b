"""Cancel, statement_timeout and memory of callogs_fdw under failing queries.

* pg_cancel_backend and statement_timeout interrupt a hanging transfer, a
  backoff sleep and a rate-limit wait within ~1 s (SQLSTATE 57014), the
  transfer is dropped, and the same session works afterwards.
* 1,000 failing queries in one session leave the backend's RSS flat.

    /usr/bin/python3 -m unittest -q test/cancel_leak_test.py
"""

import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "cancel_leak_test"
ROWS = 250
CANCEL_LIMIT = 1.5          # seconds from the cancel to the ERROR
FAST = {"page_size": "100", "timeout_ms": "60000", "connect_timeout_ms": "2000",
        "retry_max_wait_ms": "60000", "max_retries": "3"}


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


_n = [0]


class CancelBase(FdwTestCase):
    DB = DB

    def setUp(self):
        self.admin = connect(DB)

    def tearDown(self):
        self.admin.close()

    def table(self, fault=None, server_opts=None, rows=ROWS, **kw):
        _n[0] += 1
        tag = "cl_%s_%d" % (fault or "none", _n[0])
        if fault:
            kw["fault"] = fault
        emu_reset(tag)
        so = dict(FAST)
        so.update(server_opts or {})
        name = "cl%d" % _n[0]
        create_table(self.conn, name, scenario(tag, rows=rows, **kw), server_opts=so)
        return name, tag

    def normal_table(self):
        return self.table(None)[0]

    def assert_session_works(self, conn=None):
        conn = conn or self.conn
        t = self.normal_table()
        self.assertEqual(query(conn, "SELECT count(*), count(DISTINCT id) FROM %s" % t)[0],
                         (ROWS, ROWS))
        self.assertEqual(query(conn, "SELECT 1")[0][0], 1)

    def cancel_after(self, conn, delay):
        """pg_cancel_backend(conn's backend) after delay seconds; returns a
        dict whose 'at' is the time the cancel was sent."""
        pid = backend_pid(conn)
        info = {}

        def run():
            time.sleep(delay)
            info["at"] = time.time()
            info["ok"] = query(self.admin, "SELECT pg_cancel_backend(%s)", (pid,))[0][0]

        th = threading.Thread(target=run, daemon=True)
        th.start()
        info["thread"] = th
        return info

    def run_cancelled(self, sql, delay=0.6):
        info = self.cancel_after(self.conn, delay)
        t0 = time.time()
        e = query_error(self.conn, sql)
        t1 = time.time()
        info["thread"].join(5)
        self.assertTrue(info.get("ok"), "pg_cancel_backend failed")
        self.assertSqlState(e, QUERY_CANCELED)
        took = t1 - info["at"]
        self.assertLess(took, CANCEL_LIMIT, "cancel took %.2f s" % took)
        self.assertGreater(t1 - t0, delay - 0.05, "the query ended before the cancel")
        return e, took

    def run_timeout(self, sql, timeout_ms=700):
        with self.conn.cursor() as cur:
            cur.execute("SET statement_timeout = %d" % timeout_ms)
        try:
            t0 = time.time()
            e = query_error(self.conn, sql)
            took = time.time() - t0
        finally:
            with self.conn.cursor() as cur:
                cur.execute("RESET statement_timeout")
        self.assertSqlState(e, QUERY_CANCELED, r"statement timeout")
        self.assertLess(took, timeout_ms / 1000.0 + CANCEL_LIMIT - 0.5,
                        "statement_timeout %d ms took %.2f s" % (timeout_ms, took))
        return e, took

    def assert_transfer_dropped(self, tag, within=2.0):
        """The hanging request was closed by the client (the emulator's
        hang faults end early when the client disconnects)."""
        deadline = time.time() + within
        while time.time() < deadline:
            log = emu_log(tag)
            if log and all(x.get("end") for x in log):
                return
            time.sleep(0.05)
        self.fail("the emulator still serves the cancelled request: %s" % emu_log(tag))


class Cancel(CancelBase):

    def test_cancel_hang_before_headers(self):
        t, tag = self.table("hang_before_headers", delay=60000)
        self.run_cancelled("SELECT * FROM %s" % t)
        self.assert_transfer_dropped(tag)
        self.assert_session_works()

    def test_cancel_hang_after_headers(self):
        t, tag = self.table("hang_after_headers", delay=60000)
        self.run_cancelled("SELECT * FROM %s" % t)
        self.assert_session_works()

    def test_cancel_slow(self):
        t, tag = self.table("slow", delay=20000)
        self.run_cancelled("SELECT count(*) FROM %s" % t)
        self.assert_session_works()

    def test_cancel_hang_on_later_page(self):
        t, tag = self.table("hang_before_headers", delay=60000, fault_pages=2)
        self.run_cancelled("SELECT * FROM %s" % t)
        self.assert_session_works()

    def test_cancel_backoff_sleep(self):
        # after the first 429 the FDW sleeps Retry-After (30 s)
        t, tag = self.table("429", retry_after=30)
        self.run_cancelled("SELECT * FROM %s" % t)
        self.assertEqual(len(emu_log(tag)), 1)
        self.assert_session_works()

    def test_cancel_rate_limit_wait(self):
        t, tag = self.table(None, rows=300, server_opts={"max_requests_per_second": "0.1",
                                                         "page_size": "50"})
        self.run_cancelled("SELECT * FROM %s" % t, delay=0.8)
        self.assertEqual(len(emu_log(tag)), 1)
        self.assert_session_works()

    def test_cancel_then_same_server_works(self):
        # the hang fires once; after the cancel the same table answers
        t, tag = self.table("hang_before_headers", delay=60000, fault_times=1)
        self.run_cancelled("SELECT * FROM %s" % t)
        self.assertEqual(query(self.conn, "SELECT count(DISTINCT id) FROM %s" % t)[0][0], ROWS)

    def test_cancel_in_transaction(self):
        t, tag = self.table("hang_before_headers", delay=60000)
        conn = connect(DB, autocommit=False)
        try:
            info = self.cancel_after(conn, 0.5)
            e = query_error(conn, "SELECT * FROM %s" % t)   # rolls back
            info["thread"].join(5)
            self.assertSqlState(e, QUERY_CANCELED)
            self.assertLess(time.time() - info["at"], CANCEL_LIMIT)
            self.assert_session_works(conn)
            conn.commit()
        finally:
            conn.close()

    def test_cancel_with_cursor_between_fetches(self):
        # a cursor reads page 1, then page 2 hangs
        t, tag = self.table("hang_before_headers", delay=60000, fault_pages=2)
        conn = connect(DB, autocommit=False)
        try:
            with conn.cursor() as cur:
                cur.execute("DECLARE c CURSOR FOR SELECT id FROM %s" % t)
                cur.execute("FETCH 50 FROM c")
                self.assertEqual(len(cur.fetchall()), 50)
            info = self.cancel_after(conn, 0.5)
            e = query_error(conn, "FETCH 200 FROM c")
            info["thread"].join(5)
            self.assertSqlState(e, QUERY_CANCELED)
            self.assertLess(time.time() - info["at"], CANCEL_LIMIT)
            self.assert_session_works(conn)
            conn.commit()
        finally:
            conn.close()

    def test_statement_timeout_hang_before_headers(self):
        t, tag = self.table("hang_before_headers", delay=60000)
        self.run_timeout("SELECT * FROM %s" % t)
        self.assert_transfer_dropped(tag)
        self.assert_session_works()

    def test_statement_timeout_hang_after_headers(self):
        t, tag = self.table("hang_after_headers", delay=60000)
        self.run_timeout("SELECT * FROM %s" % t)
        self.assert_session_works()

    def test_statement_timeout_backoff(self):
        t, tag = self.table("503", retry_after=30,
                            server_opts={"retry_max_wait_ms": "30000", "max_retries": "20"})
        # exponential backoff grows past 700 ms quickly
        self.run_timeout("SELECT * FROM %s" % t, timeout_ms=900)
        self.assert_session_works()

    def test_statement_timeout_retry_after(self):
        t, tag = self.table("429date", retry_after=30)
        self.run_timeout("SELECT * FROM %s" % t)
        self.assert_session_works()

    def test_statement_timeout_rate_limit(self):
        t, tag = self.table(None, rows=300, server_opts={"max_requests_per_second": "0.1",
                                                         "page_size": "50"})
        self.run_timeout("SELECT * FROM %s" % t)
        self.assert_session_works()

    def test_terminate_backend_no_crash(self):
        t, tag = self.table("hang_before_headers", delay=60000)
        conn = connect(DB)
        pid = backend_pid(conn)
        logpos = server_log_size()

        def run():
            time.sleep(0.5)
            query(self.admin, "SELECT pg_terminate_backend(%s)", (pid,))

        th = threading.Thread(target=run, daemon=True)
        th.start()
        t0 = time.time()
        try:
            query(conn, "SELECT * FROM %s" % t)
        except psycopg2.Error:
            pass
        th.join(5)
        self.assertLess(time.time() - t0, 0.5 + CANCEL_LIMIT)
        conn.close()
        time.sleep(0.2)
        self.assertIsNone(CRASH_RE.search(server_log_since(logpos)))
        self.assert_session_works()


# ---------------------------------------------------------------------------

class Leak(CancelBase):
    """1,000 failing queries in one session: the backend's RSS stays flat."""

    N = 1000
    WARMUP = 100
    MAX_GROWTH_KB = 8 * 1024

    def test_failing_queries_memory_flat(self):
        quick = {"max_retries": "0", "timeout_ms": "2000", "retry_max_wait_ms": "0"}
        kinds = []

        def add(fault, code, sql="SELECT * FROM %s", server_opts=None, **kw):
            so = dict(quick)
            so.update(server_opts or {})
            t, tag = self.table(fault, server_opts=so, **kw)
            kinds.append((fault, code, sql % t))

        add("500json", FDW_ERROR)
        add("503", FDW_ERROR)
        add("invalid_json", FDW_INVALID_STRING_FORMAT)
        add("truncate", FDW_ERROR)
        add("reset", FDW_ERROR)
        add("wrong_types", FDW_INVALID_DATA_TYPE)
        add("nul_escape", "22P05")
        add("ts_out_of_range", "22008", "SELECT creation_time FROM %s")
        add("bad_utf8", "22021")
        add("depth_bomb", FDW_INVALID_STRING_FORMAT, depth=5000)
        add("count_string", FDW_INVALID_STRING_FORMAT)
        add("next_foreign", FDW_INVALID_STRING_FORMAT)
        add("401", INVALID_AUTH)
        add("huge_body", FDW_STRING_LENGTH, size=300000,
            server_opts={"max_response_bytes": "65536"})
        # error after some rows: page 2 fails
        add("500json", FDW_ERROR, fault_pages=2)
        cancel_t, _ = self.table("hang_before_headers", delay=60000, server_opts=quick)
        ok_t = self.normal_table()

        conn = self.conn
        pid = backend_pid(conn)
        rng = random.Random(7)
        cur = conn.cursor()
        rss = []
        codes = {}
        t_start = time.time()
        for i in range(self.N):
            if i == self.WARMUP:
                rss.append(backend_rss_kb(pid))
            r = rng.random()
            if r < 0.08:
                # cancel by statement_timeout during a hanging transfer
                cur.execute("SET statement_timeout = 40")
                e = query_error(conn, "SELECT * FROM %s" % cancel_t)
                cur.execute("RESET statement_timeout")
                expected = QUERY_CANCELED
            elif r < 0.12:
                # a successful query now and then
                self.assertEqual(query(conn, "SELECT count(*) FROM %s" % ok_t)[0][0], ROWS)
                continue
            else:
                fault, expected, sql = rng.choice(kinds)
                e = query_error(conn, sql)
            self.assertIsNotNone(e, "query %d did not fail" % i)
            self.assertEqual(e.pgcode, expected, "query %d: %s" % (i, error_text(e)))
            codes[e.pgcode] = codes.get(e.pgcode, 0) + 1
        rss.append(backend_rss_kb(pid))
        growth = rss[-1] - rss[0]
        sys.stderr.write("\n[leak] %d queries in %.1f s, RSS %d kB -> %d kB (%+d kB), codes %s\n"
                         % (self.N, time.time() - t_start, rss[0], rss[-1], growth, codes))
        self.assertLess(growth, self.MAX_GROWTH_KB,
                        "backend RSS grew by %d kB over %d failing queries" % (growth, self.N - self.WARMUP))
        # the session still answers correctly
        self.assertEqual(query(conn, "SELECT count(*), count(DISTINCT id) FROM %s" % ok_t)[0],
                         (ROWS, ROWS))
        self.assertEqual(backend_pid(conn), pid)



# ---------------------------------------------------------------------------

class CancelFanOut(CancelBase):
    """A cancel while several request streams of one scan hang, and a
    statement_timeout during an asynchronous multi-organization scan."""

    STATUSES = ("missed", "failed", "completed")
    FANOUT_SQL = ("SELECT call_status, count(*), count(DISTINCT id) FROM %s "
                  "WHERE call_status IN ('missed', 'failed', 'completed') "
                  "GROUP BY call_status ORDER BY call_status")

    def hung(self, tag):
        return [e for e in emu_log(tag) if e.get("fault") == "hang_before_headers"]

    def expected_by_status(self, rows=ROWS):
        by = emu_totals(scenario("cl_totals", rows=rows))["by_status"]
        return [(st, by[st], by[st]) for st in sorted(self.STATUSES)]

    def test_cancel_mid_fan_out(self):
        # page_size 20: every status stream has a page 2 (250 rows are about
        # 175 completed, 50 missed, 25 failed), and pages 2 and 3 hang
        so = {"concurrency": "4", "page_size": "20"}
        # page numbers (links=0): pages 2 and 3 are requested concurrently
        t, tag = self.table("hang_before_headers", server_opts=so, delay=60000,
                            fault_pages="2:3", links=0)
        e, took = self.run_cancelled(self.FANOUT_SQL % t, delay=0.5)
        e_at = [time.time() - took]
        log = emu_log(tag)
        hung = [x for x in log if x.get("fault") == "hang_before_headers"]
        # the scan was fanned out into one stream per status ...
        started = {x["query"].get("call_status") for x in log if x["query"].get("page") == "1"}
        self.assertGreaterEqual(len(started), 2, "streams started: %s; log %s; cancel at %.3f"
                                % (started, log, e_at[0]))
        self.assertTrue(started <= set(self.STATUSES), started)
        self.assertTrue(all(x["query"].get("call_status") in self.STATUSES for x in log), log)
        # ... and the cancel came while pages 2/3 of the first stream in
        # delivery order (completed; later streams wait for it) hung
        self.assertTrue(hung, "no request hung: %s" % log)
        self.assertTrue(all(x["query"].get("call_status") == "completed" and
                            x["query"].get("page") in ("2", "3") and x["status"] == 0
                            for x in hung), hung)
        # never more than max(concurrency, streams) = 4 pages submitted and unread
        self.assertLessEqual(len(log), 4 + 1, log)
        # every hung request is dropped once the client disconnects
        self.assert_transfer_dropped(tag, within=3.0)
        for x in self.hung(tag):
            self.assertLess(x["end"] - x["start"], 5.0, x)
        # the same session: a normal fan-out query, then the standard check
        ok, _ = self.table(None, server_opts=so, links=0)
        self.assertEqual(query(self.conn, self.FANOUT_SQL % ok), self.expected_by_status())
        self.assert_session_works()

    def test_statement_timeout_async_multi_org(self):
        _n[0] += 1
        tag = "cl_mo_%d" % _n[0]
        emu_reset(tag)
        # page numbers (links=0): each organization's pages in flight together
        url = emu_url(scenario(tag, rows=ROWS, orgs="acme+globex", links=0,
                               fault="hang_before_headers", delay=60000, fault_pages=2))
        srv = "mo_srv_%d" % _n[0]
        parent = "mo_calls"
        so = dict(FAST)
        so.update({"url": url, "org_handle": "acme"})
        with self.conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS %s CASCADE" % parent)
            cur.execute("CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw %s"
                        % (srv, options_clause(so)))
            cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (token %s)"
                        % (srv, sql_literal(TOKEN)))
            cur.execute("SELECT callogs_create_org_tables(%s, %s, ARRAY['acme', 'globex'])",
                        (parent, srv))
            self.assertEqual(len(cur.fetchall()), 2)
        try:
            plan = "\n".join(r[0] for r in query(
                self.conn, "EXPLAIN (COSTS OFF) SELECT count(id) FROM %s" % parent))
            self.assertIn("Async Foreign Scan", plan)
            with self.conn.cursor() as cur:
                cur.execute("SET statement_timeout = '800ms'")
            try:
                t0 = time.time()
                e = query_error(self.conn, "SELECT count(id) FROM %s" % parent)
                took = time.time() - t0
            finally:
                with self.conn.cursor() as cur:
                    cur.execute("RESET statement_timeout")
            self.assertSqlState(e, QUERY_CANCELED, r"statement timeout")
            self.assertGreater(took, 0.75, "ended before the timeout: %.2f s" % took)
            self.assertLess(took, 1.5, "statement_timeout 800 ms took %.2f s" % took)
            # acme's page 2 hung when the timeout fired, and was dropped
            hung = self.hung(tag)
            self.assertIn("acme", [x["org"] for x in hung], emu_log(tag))
            self.assertTrue(all(x["query"].get("page") == "2" and x["status"] == 0
                                for x in hung), hung)
            self.assertEqual({x["org"] for x in emu_log(tag) if x["query"].get("page") == "1"},
                             {"acme", "globex"})
            self.assert_transfer_dropped(tag, within=3.0)
            # the session keeps working: the timeout is gone, a normal query
            # and a normal multi-organization query answer correctly
            self.assertEqual(query(self.conn, "SHOW statement_timeout")[0][0], "0")
            self.assert_session_works()
            query(self.conn, "ALTER SERVER %s OPTIONS (SET url %s)"
                  % (srv, sql_literal(emu_url(scenario(tag + "_ok", rows=ROWS, links=0,
                                                       orgs="acme+globex")))))
            self.assertEqual(query(self.conn, "SELECT org_handle, count(*), count(DISTINCT id) "
                                              "FROM %s GROUP BY 1 ORDER BY 1" % parent),
                             [("acme", ROWS, ROWS), ("globex", ROWS, ROWS)])
        finally:
            with self.conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS %s CASCADE" % parent)
                cur.execute("DROP SERVER IF EXISTS %s CASCADE" % srv)



class AsyncMultiOrgInFlight(CancelBase):
    """An asynchronous Append over two organizations keeps both scans going:
    when acme's page 2 is slow, globex's page 2 is requested at once, not
    only after acme's answer.  (Each round: page 2 of both orgs is slow.)"""

    ROUNDS = 6
    DELAY_MS = 1000

    def test_slow_org_does_not_hold_back_the_other(self):
        parent = "mo_inflight"
        srv = "mo_inflight_srv"
        rounds = []
        try:
            for i in range(self.ROUNDS):
                _n[0] += 1
                tag = "cl_moif_%d" % _n[0]
                emu_reset(tag)
                url = emu_url(scenario(tag, rows=ROWS, orgs="acme+globex", fault="slow",
                                       delay=self.DELAY_MS, fault_pages=2, links=0))
                so = dict(FAST)
                so.update({"url": url, "org_handle": "acme"})
                with self.conn.cursor() as cur:
                    cur.execute("DROP TABLE IF EXISTS %s CASCADE" % parent)
                    cur.execute("DROP SERVER IF EXISTS %s CASCADE" % srv)
                    cur.execute("CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw %s"
                                % (srv, options_clause(so)))
                    cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER %s "
                                "OPTIONS (token %s)" % (srv, sql_literal(TOKEN)))
                    cur.execute("SELECT callogs_create_org_tables(%s, %s, "
                                "ARRAY['acme', 'globex'])", (parent, srv))
                t0 = time.time()
                self.assertEqual(query(self.conn, "SELECT count(id) FROM %s" % parent)[0][0],
                                 2 * ROWS)
                took = time.time() - t0
                p2 = {x["org"]: x["start"] - t0 for x in emu_log(tag)
                      if x["query"].get("page") == "2"}
                rounds.append((round(took, 2), {o: round(v, 3) for o, v in p2.items()}))
            late = [r for r in rounds
                    if r[0] > self.DELAY_MS / 1000.0 + 0.5 or max(r[1].values()) > 0.5]
            self.assertEqual(late, [], "rounds where one organization waited for the "
                             "other's slow page (query seconds, page-2 start per org): %s"
                             % rounds)
        finally:
            with self.conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS %s CASCADE" % parent)
                cur.execute("DROP SERVER IF EXISTS %s CASCADE" % srv)


if __name__ == "__main__":
    unittest.main()
