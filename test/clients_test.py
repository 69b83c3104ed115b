"""callogs_fdw seen through real client drivers.

* psycopg2 named (server-side) cursors: a DECLARE/FETCH walk in batches of
  50 with bound parameters returns every row exactly once, each API page is
  requested once, and call_status / call_type stay pushed down on every
  request; the same with a bound status list and date range (start_date /
  end_date); a cursor closed after 10 rows, or left open at COMMIT /
  ROLLBACK, ends the scan quietly (no request left running, no full scan)
  and the session keeps working; two cursors fetched alternately in one
  transaction; a WITH HOLD cursor across COMMIT; a SCROLL cursor rewound.
* pgJDBC (test/jdbc/CallLogsJdbc.java, run with `java`): a
  PreparedStatement with a bound call_status run 10 times, past the
  driver's prepareThreshold (named server-side statement) and PostgreSQL's
  switch to a generic plan (checked in pg_prepared_statements); the counts
  match the emulator's totals and every API request carries call_status.
  Also plan_cache_mode=force_generic_plan, and setFetchSize streaming
  (suspended portal) with a ResultSet closed early.  Skipped only when java
  or /usr/share/java/postgresql.jar is missing, and then a failure under
  CL_REQUIRE_ALL=1 (as in CI).

    /usr/bin/python3 -m unittest -q test/clients_test.py
"""

import datetime
import math
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "clients_test"
HERE = os.path.dirname(os.path.abspath(__file__))
JDBC_SRC = os.path.join(HERE, "jdbc", "CallLogsJdbc.java")
JDBC_JAR = os.environ.get("CL_JDBC_JAR", "/usr/share/java/postgresql.jar")
JAVA = shutil.which("java") or ("/usr/bin/java" if os.path.exists("/usr/bin/java") else None)

ROWS = 2500          # the emulator's default data set size
PAGE_SIZE = 40       # small pages: many requests per cursor walk
CONCURRENCY = 4      # pages in flight or waiting (read-ahead)


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


def status_requests(log):
    return [e for e in log if e["status"] == 200]


class ClientCase(FdwTestCase):
    DB = DB
    TAG = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # fixed data (the date walk's range is in November 2025) and page
        # numbers (links=0), which the FDW reads ahead `concurrency` at a time
        cls.opts = scenario(cls.TAG, rows=ROWS, anchor="2025-11-30T00:00:00Z", links=0)
        cls.totals = emu_totals(cls.opts)
        create_table(cls.conn, cls.TAG, cls.opts,
                     server_opts={"page_size": str(PAGE_SIZE), "concurrency": str(CONCURRENCY)})

    def setUp(self):
        emu_reset(self.TAG)

    def assert_pushdown(self, log, **params):
        """Every logged request carries params (call_status=..., ...)."""
        self.assertTrue(log, "no request reached the emulator")
        for e in log:
            for k, v in params.items():
                self.assertEqual(e["query"].get(k), v,
                                 "request without %s=%s: %s" % (k, v, e["path"]))

    def assert_session_works(self, conn):
        """The session runs a fresh foreign scan correctly afterwards."""
        conn.rollback() if not conn.autocommit else None
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT id) FROM %s WHERE call_status = %%s"
                        % self.TAG, ("failed",))
            n, nd = cur.fetchone()
        conn.commit() if not conn.autocommit else None
        self.assertEqual((n, nd), (self.totals["by_status"]["failed"],) * 2)


class NamedCursor(ClientCase):
    """psycopg2 server-side cursors (DECLARE ... CURSOR / FETCH FORWARD n)."""

    TAG = "cli_cursor"

    def test_full_walk_with_bound_parameters(self):
        conn = connect(DB, autocommit=False)
        try:
            cur = conn.cursor(name="calls_walk")
            cur.itersize = 50
            cur.execute("SELECT id, call_type, call_status, creation_time FROM %s "
                        "WHERE call_status = %%s AND call_type = %%s" % self.TAG,
                        ("missed", "inbound"))
            rows = [r for r in cur]          # FETCH FORWARD 50, repeatedly
            cur.close()
            conn.commit()
            expected = self.totals["by_type_status"]["inbound/missed"]
            self.assertGreater(expected, 3 * PAGE_SIZE)      # several pages
            ids = [r[0] for r in rows]
            self.assertEqual(len(rows), expected)
            self.assertEqual(len(set(ids)), len(ids), "duplicate ids")
            self.assertTrue(all(r[1:3] == ("inbound", "missed") for r in rows))
            times = [r[3] for r in rows]
            self.assertEqual(times, sorted(times, reverse=True), "not newest first")
            log = wait_emu_quiet(self.TAG)
            self.assert_pushdown(log, call_status="missed", call_type="inbound")
            # each page fetched once: no restart between FETCHes
            pages = [int(e["query"]["page"]) for e in log]
            self.assertEqual(sorted(pages), list(range(1, math.ceil(expected / PAGE_SIZE) + 1)),
                             "pages requested: %s" % pages)
            self.assertTrue(all(e["status"] == 200 for e in log))
            self.assert_session_works(conn)
        finally:
            conn.close()

    def test_walk_with_dates_and_status_list(self):
        """Bound date range and status list: start_date / end_date and one
        request stream per status, still one pass over each page."""
        conn = connect(DB, autocommit=False)
        try:
            cur = conn.cursor(name="calls_walk2")
            cur.itersize = 50
            cur.execute("SELECT id FROM %s WHERE call_status = ANY (%%s) "
                        "AND creation_time >= %%s AND creation_time < %%s" % self.TAG,
                        (["missed", "failed"], "2025-11-20T00:00:00Z", "2025-11-27T00:00:00Z"))
            ids = [r[0] for r in cur]
            cur.close()
            conn.commit()
            self.assertEqual(len(ids), len(set(ids)), "duplicate ids")
            log = wait_emu_quiet(self.TAG)
            self.assertTrue(log)
            for e in log:
                self.assertIn(e["query"].get("call_status"), ("missed", "failed"), e["path"])
                # >= 2025-11-20 00:00Z and < 2025-11-27 00:00Z, with the bare
                # date read in any zone within 16 hours of UTC: start_date is
                # the UTC day of 2025-11-19 08:00, end_date the day after
                # 2025-11-27 16:00 (the extra rows are filtered locally)
                self.assertEqual(e["query"].get("start_date"), "2025-11-19", e["path"])
                self.assertEqual(e["query"].get("end_date"), "2025-11-28", e["path"])
            # the same rows as a plain (unnamed) query of the same filter
            with conn.cursor() as c:
                c.execute("SELECT id FROM %s WHERE call_status IN ('missed', 'failed') "
                          "AND creation_time >= '2025-11-20T00:00:00Z' "
                          "AND creation_time < '2025-11-27T00:00:00Z'" % self.TAG)
                plain = [r[0] for r in c.fetchall()]
            conn.commit()
            self.assertEqual(sorted(ids), sorted(plain))
            self.assertGreater(len(ids), 0)
        finally:
            conn.close()

    def test_close_early(self):
        conn = connect(DB, autocommit=False)
        try:
            cur = conn.cursor(name="calls_early")
            cur.itersize = 50
            cur.execute("SELECT id, call_status FROM %s WHERE call_status = %%s AND call_type = %%s"
                        % self.TAG, ("completed", "outbound"))
            first = cur.fetchmany(10)
            self.assertEqual(len(first), 10)
            self.assertTrue(all(r[1] == "completed" for r in first))
            cur.close()                       # CLOSE "calls_early" mid-scan
            # the same transaction goes on
            with conn.cursor() as c:
                c.execute("SELECT 42")
                self.assertEqual(c.fetchone(), (42,))
            conn.commit()
            log = wait_emu_quiet(self.TAG)
            self.assertTrue(all(e.get("end") for e in log), "request left in progress")
            self.assert_pushdown(log, call_status="completed", call_type="outbound")
            full_pages = math.ceil(self.totals["by_type_status"]["outbound/completed"] / PAGE_SIZE)
            # page 1 plus at most `concurrency` pages of read-ahead, not a full scan
            self.assertLess(len(log), full_pages, "a closed cursor fetched every page")
            self.assertLessEqual(len(log), 1 + CONCURRENCY)
            self.assert_session_works(conn)
            # a second early close in a new transaction, then another full walk
            cur = conn.cursor(name="calls_early2")
            cur.execute("SELECT id FROM %s WHERE call_status = %%s" % self.TAG, ("missed",))
            self.assertEqual(len(cur.fetchmany(10)), 10)
            cur.close()
            conn.commit()
            self.assert_session_works(conn)
        finally:
            conn.close()

    def test_open_cursor_at_commit_and_rollback(self):
        """A portal dropped by COMMIT or ROLLBACK (never CLOSEd) ends cleanly."""
        conn = connect(DB, autocommit=False)
        try:
            for end in (conn.commit, conn.rollback):
                cur = conn.cursor(name="calls_dangling")
                cur.execute("SELECT id FROM %s WHERE call_status = %%s" % self.TAG, ("missed",))
                self.assertEqual(len(cur.fetchmany(10)), 10)
                end()
                self.assert_session_works(conn)
            log = wait_emu_quiet(self.TAG)
            self.assertTrue(all(e.get("end") for e in log))
        finally:
            conn.close()

    def test_two_cursors_interleaved(self):
        """Two open cursors on the same foreign table in one transaction,
        fetched alternately: each scan keeps its own state."""
        conn = connect(DB, autocommit=False)
        try:
            curs = {}
            for st in ("missed", "failed"):
                curs[st] = conn.cursor(name="calls_" + st)
                curs[st].execute("SELECT id, call_status FROM %s WHERE call_status = %%s" % self.TAG, (st,))
            got = {st: [] for st in curs}
            active = set(curs)
            while active:
                for st in sorted(active):
                    rows = curs[st].fetchmany(30)
                    if not rows:
                        active.discard(st)
                    got[st].extend(rows)
            for c in curs.values():
                c.close()
            conn.commit()
            for st, rows in got.items():
                ids = [r[0] for r in rows]
                self.assertEqual(len(ids), self.totals["by_status"][st], st)
                self.assertEqual(len(set(ids)), len(ids), st)
                self.assertTrue(all(r[1] == st for r in rows), st)
            log = wait_emu_quiet(self.TAG)
            for st in curs:
                pages = sorted(int(e["query"]["page"]) for e in log if e["query"].get("call_status") == st)
                self.assertEqual(pages, list(range(1, math.ceil(self.totals["by_status"][st] / PAGE_SIZE) + 1)))
            self.assertTrue(all(e["query"].get("call_status") in curs for e in log))
        finally:
            conn.close()

    def test_with_hold_cursor_survives_commit(self):
        """WITH HOLD: COMMIT runs the scan to its end (materializing the
        portal); the rest is fetched after the transaction."""
        conn = connect(DB, autocommit=False)
        try:
            cur = conn.cursor(name="calls_hold", withhold=True)
            cur.itersize = 50
            cur.execute("SELECT id FROM %s WHERE call_status = %%s" % self.TAG, ("failed",))
            first = [r[0] for r in cur.fetchmany(10)]
            conn.commit()
            rest = [r[0] for r in cur.fetchall()]
            cur.close()
            conn.commit()
            ids = first + rest
            self.assertEqual(len(ids), self.totals["by_status"]["failed"])
            self.assertEqual(len(set(ids)), len(ids))
            log = wait_emu_quiet(self.TAG)
            self.assert_pushdown(log, call_status="failed")
            npages = math.ceil(self.totals["by_status"]["failed"] / PAGE_SIZE)
            self.assertEqual(sorted(int(e["query"]["page"]) for e in log), list(range(1, npages + 1)))
            self.assert_session_works(conn)
        finally:
            conn.close()

    def test_scrollable_cursor_rewind(self):
        """SCROLL cursor: rewinding (a rescan) gives the same rows again."""
        conn = connect(DB, autocommit=False)
        try:
            cur = conn.cursor(name="calls_scroll", scrollable=True)
            cur.execute("SELECT id FROM %s WHERE call_status = %%s" % self.TAG, ("failed",))
            a = [r[0] for r in cur.fetchmany(100)]
            cur.scroll(0, mode="absolute")
            b = [r[0] for r in cur.fetchall()]
            cur.close()
            conn.commit()
            self.assertEqual(len(b), self.totals["by_status"]["failed"])
            self.assertEqual(len(set(b)), len(b))
            self.assertEqual(a, b[:100])
            self.assert_pushdown(wait_emu_quiet(self.TAG), call_status="failed")
        finally:
            conn.close()


class Jdbc(ClientCase):
    """pgJDBC PreparedStatement past prepareThreshold and the generic plan."""

    TAG = "cli_jdbc"

    @classmethod
    def setUpClass(cls):
        if JAVA is None:
            missing_tool("java", "java is missing (apt-get install default-jre-headless)")
        if not os.path.exists(JDBC_JAR):
            missing_tool("java", "the PostgreSQL JDBC driver %s is missing "
                         "(apt-get install libpostgresql-jdbc-java)" % JDBC_JAR)
        super().setUpClass()

    def run_java(self, *args, timeout=60):
        cmd = [JAVA, "-cp", JDBC_JAR, JDBC_SRC, "127.0.0.1", str(PGPORT), DB, self.TAG] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        self.assertEqual(p.returncode, 0, "java failed:\n%s\n%s" % (p.stdout, p.stderr))
        return p.stdout

    def parse(self, out):
        execs, stats = [], {}
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "exec":
                # exec <i> <status> <count> <min creation_time...>
                execs.append((int(f[1]), f[2], int(f[3]), " ".join(f[4:])))
            elif f and f[0] == "plans":
                stats = dict(kv.split("=", 1) for kv in f[1:])
        return execs, stats

    def test_prepared_statement_past_generic_plan(self):
        out = self.run_java("10")
        execs, stats = self.parse(out)
        sys.stderr.write("\n" + out) if os.environ.get("CL_VERBOSE") else None
        self.assertEqual([e[0] for e in execs], list(range(1, 11)), out)
        self.assertEqual([e[1] for e in execs], ["missed", "failed"] * 5, out)
        for _, status, n, _ in execs:
            self.assertEqual(n, self.totals["by_status"][status], out)
        # the driver switched to a named server-side statement, and the
        # server used a generic plan for it
        self.assertEqual(stats.get("server_prepared"), "true", out)
        self.assertGreaterEqual(int(stats.get("generic_plans", "0")), 1, out)
        log = wait_emu_quiet(self.TAG)
        for e in log:
            self.assertIn(e["query"].get("call_status"), ("missed", "failed"),
                          "request without call_status: %s" % e["path"])
        # every execution walked exactly its own status's pages, once
        for status in ("missed", "failed"):
            pages = sorted(int(e["query"]["page"]) for e in log
                           if e["query"].get("call_status") == status)
            npages = math.ceil(self.totals["by_status"][status] / PAGE_SIZE)
            self.assertEqual(pages, sorted(list(range(1, npages + 1)) * 5), status)
        # min(creation_time) agrees with a literal query per status
        for status in ("missed", "failed"):
            want = query(self.conn, "SELECT min(creation_time) FROM %s WHERE call_status = %s"
                         % (self.TAG, sql_literal(status)))[0][0]
            got = {datetime.datetime.fromisoformat(e[3]) for e in execs if e[1] == status}
            self.assertEqual(got, {want}, out)

    def test_streaming_result_set(self):
        """setFetchSize(50) in a transaction: pgJDBC fetches through a
        suspended portal; one full walk and one ResultSet closed after 10
        rows, then the connection keeps working."""
        out = self.run_java("stream")
        lines = [l.split() for l in out.splitlines() if l.startswith("stream ")]
        self.assertEqual(len(lines), 3, out)
        # stream full <status> <rows> <distinct>
        self.assertEqual(lines[0][1:3], ["full", "missed"], out)
        n = self.totals["by_status"]["missed"]
        self.assertEqual((int(lines[0][3]), int(lines[0][4])), (n, n), out)
        self.assertEqual(lines[1][1:4], ["early", "failed", "10"], out)
        self.assertEqual(lines[2][1:3], ["after", "failed"], out)
        self.assertEqual(int(lines[2][3]), self.totals["by_status"]["failed"], out)
        log = wait_emu_quiet(self.TAG)
        self.assertTrue(all(e.get("end") for e in log))
        self.assertTrue(all(e["query"].get("call_status") in ("missed", "failed") for e in log),
                        [e["path"] for e in log])

    def test_forced_generic_plan(self):
        """plan_cache_mode=force_generic_plan: the named statement (from the
        5th execution on) is planned generic at once."""
        out = self.run_java("6", "force_generic_plan")
        execs, stats = self.parse(out)
        self.assertEqual(len(execs), 6, out)
        self.assertGreaterEqual(int(stats.get("generic_plans", "0")), 1, out)
        for _, status, n, _ in execs:
            self.assertEqual(n, self.totals["by_status"][status], out)
        log = wait_emu_quiet(self.TAG)
        for e in log:
            self.assertIn(e["query"].get("call_status"), ("missed", "failed"), e["path"])


if __name__ == "__main__":
    unittest.main()
