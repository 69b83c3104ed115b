"""Asynchronous foreign scans under an Append (many organizations).

Issue 9 item 1: with 3 partitions x 25,000 rows the backend died (signal
11, "trying to store a minimal tuple into wrong type of slot", "could not
find block containing chunk") because every socket of the backend was
added to the Append's WaitEventSet, which PostgreSQL sizes for one event per
async subplan.  These tests run the inputs that crashed, compare every
answer with the emulator's /_totals, check EXPLAIN ANALYZE's row counts per
partition, cancel an asynchronous scan, and run a bounded stress loop.
The server log must stay free of assertion failures, memory-context
corruption and crashes (run it on the assert-enabled build).

    /usr/bin/python3 -m unittest -q test/async_test.py

CL_ASYNC_STRESS_ITERATIONS (default 4) sets the stress loop's length; CI
runs 200 on the assert-enabled server.  CL_ASYNC_STRESS_SEED fixes its seed
(printed on failure).
"""

import collections
import json
import os
import random
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
from pgcluster import ThrowawayCluster  # noqa: E402

DB = "async_test"
ROWS = 25000
ITERATIONS = int(os.environ.get("CL_ASYNC_STRESS_ITERATIONS", "4"))
SEED = int(os.environ.get("CL_ASYNC_STRESS_SEED", str(int(time.time()))))
CANCEL_LIMIT = 1.0      # seconds from cancel to ERROR (README: within a second)

BAD_LOG_RE = re.compile(r"TRAP:|could not find block containing chunk|"
                        r"terminated by signal|was terminated by|"
                        r"wrong type of slot|resource was not closed|leaked")

# fixed data: the same organization has the same rows in every table
ANCHOR = "2025-11-30T00:00:00Z"

ORGS3 = ["acme", "globex", "initech"]
ORGS4 = ["acme", "globex", "initech", "umbrella"]
ORGS8 = ["acme", "globex", "initech", "umbrella", "hooli", "vehement",
         "soylent", "cyberdyne"]


def orgs_scenario(tag, orgs, rows=ROWS, **kw):
    opts = {"tag": tag, "orgs": "+".join(orgs), "token": pct_all(TOKEN),
            "rows": rows, "links": 0, "anchor": ANCHOR}
    opts.update(kw)
    return ",".join("%s=%s" % (k, v) for k, v in opts.items())


def totals_scenario(orgs, rows=ROWS):
    """The scenario as /_totals needs it (only what shapes the data)."""
    return "orgs=%s,rows=%d,anchor=%s" % ("+".join(orgs), rows, ANCHOR)


_totals_cache = {}


def org_totals(orgs, rows=ROWS):
    key = (tuple(orgs), rows)
    if key not in _totals_cache:
        _totals_cache[key] = {o: emu_totals(totals_scenario(orgs, rows), org=o) for o in orgs}
    return _totals_cache[key]


def setUpModule():
    conn = recreate_database(DB)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE org_keep (org text PRIMARY KEY, keep boolean)")
        cur.execute("CREATE TABLE status_label (status text PRIMARY KEY, label text)")
        cur.execute("INSERT INTO status_label VALUES ('completed', 'ok'), "
                    "('missed', 'not ok'), ('failed', 'not ok')")
        cur.execute("INSERT INTO org_keep SELECT o, (row_number() OVER () %% 2) = 0 "
                    "FROM unnest(%s::text[]) o", (ORGS8,))
    conn.close()


def tearDownModule():
    drop_database(DB)


def make_parent(conn, parent, orgs, tag, server_opts=None, rows=ROWS, **kw):
    """A partitioned table over one foreign table per organization."""
    srv = parent + "_srv"
    sopts = {"url": emu_url(orgs_scenario(tag, orgs, rows=rows, **kw)), "org_handle": orgs[0]}
    sopts.update(server_opts or {})
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s" % parent)
        cur.execute("DROP SERVER IF EXISTS %s CASCADE" % srv)
        cur.execute("CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw %s"
                    % (srv, options_clause(sopts)))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (token %s)"
                    % (srv, sql_literal(TOKEN)))
        cur.execute("SELECT callogs_create_org_tables(%s, %s, %s)", (parent, srv, orgs))
    emu_reset(tag)
    return parent


def plan_nodes(plan):
    """Every node of a JSON plan, depth first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


class AsyncBase(FdwTestCase):
    DB = DB

    def setUp(self):
        self.log_pos = server_log_size()

    def tearDown(self):
        bad = [l for l in server_log_since(self.log_pos).splitlines() if BAD_LOG_RE.search(l)]
        self.assertEqual(bad, [], "the server log shows a crash or corruption")

    def explain_json(self, sql, conn=None):
        rows = query(conn or self.conn,
                     "EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON, TIMING OFF, SUMMARY OFF) " + sql)
        return rows[0][0][0]["Plan"]

    def async_scans(self, plan):
        return [n for n in plan_nodes(plan)
                if n["Node Type"] == "Foreign Scan" and n.get("Async Capable")]


class CrashInputsTest(AsyncBase):
    """The three inputs of issue 9 item 1, with exact answers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make_parent(cls.conn, "all_calls", ORGS3, "async3")
        with cls.conn.cursor() as cur:
            for i, o in enumerate(ORGS3, 1):
                cur.execute("CREATE FOREIGN TABLE u%d (id text, end_reason text, org text "
                            "OPTIONS (field '@org_handle')) SERVER all_calls_srv "
                            "OPTIONS (org_handle %s)" % (i, sql_literal(o)))

    def test_count_id(self):
        tot = org_totals(ORGS3)
        self.assertEqual(query(self.conn, "SELECT count(id) FROM all_calls")[0][0],
                         sum(t["count"] for t in tot.values()))

    def test_group_by_org(self):
        tot = org_totals(ORGS3)
        got = dict(query(self.conn, "SELECT org_handle, count(*) FROM all_calls GROUP BY 1"))
        self.assertEqual(got, {o: t["count"] for o, t in tot.items()})

    def test_group_by_status_pushed(self):
        tot = org_totals(ORGS3)
        got = {(o, s): n for o, s, n in query(
            self.conn, "SELECT org_handle, call_status, count(*) FROM all_calls "
                       "WHERE call_status IN ('missed', 'failed') GROUP BY 1, 2")}
        want = {(o, s): tot[o]["by_status"][s] for o in ORGS3 for s in ("missed", "failed")}
        self.assertEqual(got, want)

    def test_union_all_local_filter_limit(self):
        sql = ("SELECT id, end_reason, org FROM (SELECT * FROM u1 UNION ALL SELECT * FROM u2 "
               "UNION ALL SELECT * FROM u3) s WHERE end_reason = 'busy' LIMIT 700")
        plan = self.explain_json(sql)
        self.assertEqual(len(self.async_scans(plan)), 3, "the UNION ALL is not asynchronous")
        rows = query(self.conn, sql)
        self.assertEqual(len(rows), 700)
        self.assertEqual(len({r[0] for r in rows}), 700)
        self.assertTrue(all(r[1] == "busy" for r in rows))
        self.assertTrue({r[2] for r in rows} <= set(ORGS3))

    def test_explain_analyze_counts_every_row(self):
        """Each partition's Actual Rows is what it delivered: rows completed
        while configuring the wait are counted too (475 of 480 before)."""
        tot = org_totals(ORGS3)
        plan = self.explain_json("SELECT count(id) FROM all_calls")
        scans = self.async_scans(plan)
        self.assertEqual(len(scans), 3)
        for s in scans:
            org = s["Relation Name"].rsplit("_", 1)[1]
            self.assertEqual(s["Actual Rows"], tot[org]["count"], s["Relation Name"])
            self.assertEqual(s["API Rows"], tot[org]["count"], s["Relation Name"])

    def test_explain_analyze_counts_with_latency(self):
        """With latency, pages complete while other subplans are configured
        (the ConfigureWait path)."""
        make_parent(self.conn, "slow_calls", ORGS3, "async3slow", rows=3000, latency=20)
        tot = org_totals(ORGS3, rows=3000)
        for _ in range(3):
            plan = self.explain_json("SELECT * FROM slow_calls")
            for s in self.async_scans(plan):
                org = s["Relation Name"].rsplit("_", 1)[1]
                self.assertEqual(s["Actual Rows"], tot[org]["count"], s["Relation Name"])
        with self.conn.cursor() as cur:
            cur.execute("DROP TABLE slow_calls")


class CancelAsyncTest(AsyncBase):
    """Cancel and statement_timeout stop an asynchronous scan at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make_parent(cls.conn, "slow_all", ORGS3, "async_cancel", latency=400)
        cls.admin = connect(DB)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        super().tearDownClass()

    def test_cancel(self):
        conn = connect(DB)
        pid = backend_pid(conn)
        sent = {}

        def cancel():
            time.sleep(0.8)
            sent["at"] = time.time()
            query(self.admin, "SELECT pg_cancel_backend(%s)", (pid,))

        t = threading.Thread(target=cancel)
        t.start()
        e = query_error(conn, "SELECT count(id) FROM slow_all")
        done = time.time()
        t.join()
        self.assertSqlState(e, QUERY_CANCELED, "user request")
        self.assertLess(done - sent["at"], CANCEL_LIMIT)
        # the session goes on, and the transfers of the canceled scan are gone
        self.assertEqual(query(conn, "SELECT count(*) FROM (SELECT id FROM slow_all LIMIT 5) s")[0][0], 5)
        conn.close()

    def test_statement_timeout(self):
        conn = connect(DB)
        query(conn, "SET statement_timeout = '700ms'")
        start = time.time()
        e = query_error(conn, "SELECT count(id) FROM slow_all")
        self.assertSqlState(e, QUERY_CANCELED, "statement timeout")
        self.assertLess(time.time() - start, 0.7 + CANCEL_LIMIT)
        query(conn, "RESET statement_timeout")
        conn.close()


class DescriptorShortageTest(AsyncBase):
    """More async partitions than the process may open descriptors for
    (AcquireExternalFD, max_files_per_process = 64 in a throwaway cluster):
    the partitions without one register nothing and the answer is still
    exact."""

    def test_many_partitions_few_descriptors(self):
        orgs = ["org%02d" % i for i in range(40)]
        with ThrowawayCluster(conf={"max_files_per_process": "64"}) as pg:
            conn = pg.connect()
            query(conn, "CREATE EXTENSION callogs_fdw")
            # latency: pages are still in flight when the Append configures
            # its waits, so every partition needs an event
            make_parent(conn, "many", orgs, "async_many", rows=300, latency=30)
            conn.notices = collections.deque()      # all of them, not the last 50
            query(conn, "SET client_min_messages = debug1")
            n = query(conn, "SELECT count(id) FROM many")[0][0]
            notices = "".join(conn.notices)
            plan = "\n".join(r[0] for r in query(conn, "EXPLAIN (COSTS OFF) SELECT count(id) FROM many"))
            log = pg.server_log()
            conn.close()
        self.assertEqual(n, sum(t["count"] for t in org_totals(orgs, rows=300).values()))
        self.assertIn("Async Foreign Scan", plan)
        self.assertIn("no descriptor left for the asynchronous scan", notices)
        self.assertIsNone(BAD_LOG_RE.search(log), "the throwaway server's log shows a crash")


class StressTest(AsyncBase):
    """Random shapes over 4 and 8 partitions of 25,000 rows each, with the
    default concurrency and with 8: every answer exact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make_parent(cls.conn, "p4", ORGS4, "async_p4")
        make_parent(cls.conn, "p8", ORGS8, "async_p8", server_opts={"concurrency": "8"})

    def shapes(self, parent, orgs):
        tot = org_totals(orgs)
        all_rows = sum(t["count"] for t in tot.values())
        kept = [o for o, k in query(self.conn, "SELECT org, keep FROM org_keep") if k and o in orgs]
        by_label = {"ok": 0, "not ok": 0}
        for t in tot.values():
            by_label["ok"] += t["by_status"]["completed"]
            by_label["not ok"] += t["by_status"]["missed"] + t["by_status"]["failed"]
        n = random.choice([5, 300, 700, 2500, 40000])
        return [
            ("SELECT count(id) FROM %s" % parent, [(all_rows,)]),
            ("SELECT count(*), count(DISTINCT id) FROM %s" % parent, [(all_rows, all_rows)]),
            ("SELECT org_handle, count(*) FROM %s GROUP BY 1 ORDER BY 1" % parent,
             sorted((o, t["count"]) for o, t in tot.items())),
            ("SELECT count(*) FROM (SELECT id FROM %s LIMIT %d) s" % (parent, n),
             [(min(n, all_rows),)]),
            ("SELECT count(*) FROM (SELECT id FROM %s WHERE end_reason = 'busy' LIMIT 700) s"
             % parent, [(700,)]),
            ("SELECT org_handle, count(*) FROM %s WHERE call_status = 'missed' GROUP BY 1 ORDER BY 1"
             % parent, sorted((o, t["by_status"]["missed"]) for o, t in tot.items())),
            ("SELECT count(*) FROM %s p JOIN org_keep k ON k.org = p.org_handle WHERE k.keep"
             % parent, [(sum(tot[o]["count"] for o in kept),)]),
            ("SELECT l.label, count(*) FROM %s p JOIN status_label l ON l.status = p.call_status "
             "GROUP BY 1 ORDER BY 1" % parent, sorted(by_label.items())),
            ("SELECT count(*) FROM (SELECT p.id FROM %s p JOIN status_label l "
             "ON l.status = p.call_status LIMIT %d) s" % (parent, n), [(min(n, all_rows),)]),
            # two asynchronous Appends in one query: p4's organizations are
            # also in p8, with the same rows
            ("SELECT count(*) FROM p4 a JOIN %s b ON b.org_handle = a.org_handle AND b.id = a.id"
             % parent, [(sum(t["count"] for t in org_totals(ORGS4).values()),)]),
        ]

    def test_stress(self):
        rnd = random.Random(SEED)
        random.seed(SEED)
        async_seen = 0
        for i in range(ITERATIONS):
            parent, orgs = rnd.choice([("p4", ORGS4), ("p8", ORGS8)])
            sql, want = rnd.choice(self.shapes(parent, orgs))
            with self.subTest(i=i, seed=SEED, sql=sql):
                self.assertEqual(query(self.conn, sql), want)
            if i % 8 == 0:
                plan = query(self.conn, "EXPLAIN (COSTS OFF) " + sql)
                async_seen += any("Async Foreign Scan" in r[0] for r in plan)
        # the shapes do run asynchronously (a join does not turn it off)
        for sql, _ in self.shapes("p8", ORGS8):
            plan = "\n".join(r[0] for r in query(self.conn, "EXPLAIN (COSTS OFF) " + sql))
            self.assertIn("Async Foreign Scan", plan, sql)


if __name__ == "__main__":
    unittest.main()
