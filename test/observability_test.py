"""Observability of callogs_fdw: the wait event shown while a backend waits
on the API, the session statistics function, and EXPLAIN ANALYZE figures.

    /usr/bin/python3 -m unittest -q test/observability_test.py
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "observability_test"


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


class Observability(FdwTestCase):
    DB = DB

    def test_wait_event_while_waiting_on_the_api(self):
        """pg_stat_activity says the backend waits on the Call Logs API: from
        PostgreSQL 17 by a wait event of its own name (src/compat.h), before
        as the generic "Extension"."""
        emu_reset("obs_wait")
        create_table(self.conn, "obs_slow", scenario("obs_wait", latency=1500))
        busy = connect(DB)
        pid = backend_pid(busy)
        worker = threading.Thread(target=query, args=(busy, "SELECT count(id) FROM obs_slow"))
        worker.start()
        seen = None
        deadline = time.time() + 5
        while time.time() < deadline and worker.is_alive():
            rows = query(self.conn, "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                                    "WHERE pid = %s", (pid,))
            if rows and rows[0][0] == "Extension":
                seen = rows[0]
                break
            time.sleep(0.05)
        worker.join(30)
        busy.close()
        version = int(query(self.conn, "SHOW server_version_num")[0][0])
        self.assertEqual(seen, ("Extension", "CallLogsAPI" if version >= 170000 else "Extension"))

    def test_session_stats(self):
        """callogs_fdw_stats() counts this session's requests, pages, rows,
        bytes, retries and errors."""
        emu_reset("obs_stats")
        create_table(self.conn, "obs_stats_t",
                     scenario("obs_stats", fault="503", fault_times=1, fault_pages=2),
                     server_opts={"retry_max_wait_ms": "10"})
        emu_reset("obs_err")
        create_table(self.conn, "obs_err_t", scenario("obs_err", fault="invalid_json"))
        query(self.conn, "SELECT callogs_fdw_stats_reset()")
        self.assertEqual(query(self.conn, "SELECT count(id) FROM obs_stats_t")[0][0], 250)
        query_error(self.conn, "SELECT count(id) FROM obs_err_t")
        requests, retries, pages, rows, nbytes, errors, wait_ms = \
            query(self.conn, "SELECT * FROM callogs_fdw_stats()")[0]
        self.assertEqual((requests, retries, pages, rows, errors), (5, 1, 3, 250, 1))
        self.assertEqual(requests, len(api_requests("obs_stats")) + len(api_requests("obs_err")))
        self.assertGreater(nbytes, 250 * 200)
        self.assertGreater(wait_ms, 0)
        query(self.conn, "SELECT callogs_fdw_stats_reset()")
        self.assertEqual(query(self.conn, "SELECT requests FROM callogs_fdw_stats()")[0][0], 0)

    def test_stats_reset_is_not_for_everyone(self):
        with self.conn.cursor() as cur:
            cur.execute("DROP ROLE IF EXISTS obs_user")
            cur.execute("CREATE ROLE obs_user LOGIN")
        c = connect(DB, user="obs_user")
        try:
            self.assertEqual(len(query(c, "SELECT * FROM callogs_fdw_stats()")), 1)
            e = query_error(c, "SELECT callogs_fdw_stats_reset()")
            self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
        finally:
            c.close()
            query(self.conn, "DROP ROLE obs_user")

    def test_explain_analyze_reports_the_traffic(self):
        emu_reset("obs_explain")
        create_table(self.conn, "obs_explain_t", scenario("obs_explain"))
        plan = "\n".join(r[0] for r in query(
            self.conn, "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF) SELECT * FROM obs_explain_t "
                       "WHERE call_status = 'missed'"))
        self.assertIn("API Request: GET /s/", plan)
        self.assertIn("call_status=missed&page_size=100", plan)
        self.assertRegex(plan, r"API Requests: %d\b" % len(api_requests("obs_explain")))
        self.assertRegex(plan, r"API Rows: \d+")
        self.assertRegex(plan, r"API Bytes: \d+")
        self.assertRegex(plan, r"API Retries: 0")
        self.assertRegex(plan, r"API Wait Time: [0-9.]+ ms")
        # plain EXPLAIN sends nothing
        emu_reset("obs_explain")
        query(self.conn, "EXPLAIN SELECT * FROM obs_explain_t WHERE call_status = 'missed'")
        self.assertEqual(api_requests("obs_explain"), [])


if __name__ == "__main__":
    unittest.main()
