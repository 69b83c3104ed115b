"""Issue 13: fast against the API as it is documented.

    /usr/bin/python3 -m unittest test/perf_test.py

- Next links that are page numbers keep concurrent fetching, each page's
  link is checked, and links that stop being page numbers mid-scan make
  the scan follow them from there, without losing or doubling a row.
  Opaque cursors stay sequential.  EXPLAIN ANALYZE VERBOSE says which way a
  scan went.  (Emulator request logs.)
- The order the API returns (newest first) with ties and NULLs: a tiny
  HTTP server in the test answers pages the emulator cannot (equal
  creation_times, NULL creation_times at either end, rows swapped).  Every
  query gives the rows a local sort gives, or an ERROR naming
  order_column: never a wrong answer among the rows read.
"""

import json
import os
import sys
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "perf_test"
FIXED = "anchor=2025-11-30T00:00:00Z"


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


def overlapping(log):
    """Whether some request started before an earlier one ended."""
    spans = sorted((float(e["start"]), float(e["end"])) for e in log if e.get("end"))
    return any(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1))


def explain_paging(conn, sql):
    """The "API Paging" line of EXPLAIN (ANALYZE, VERBOSE) of sql."""
    rows = query(conn, "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
    lines = [r[0].strip() for r in rows if "API Paging:" in r[0]]
    return lines[0] if lines else None


class NextLinks(FdwTestCase):
    """The documented API answers with next links: concurrency is kept."""

    DB = DB

    def base_ids(self, rows, **filters):
        """The ids of a data set, read with links off and nothing pushed."""
        tag = "perfbase%d" % rows
        create_table(self.conn, "perf_base", scenario(tag, rows=rows, links=0, anchor=FIXED[7:]),
                     table_opts={"pushdown": "false"})
        where = " AND ".join("%s = %s" % (k, sql_literal(v)) for k, v in filters.items())
        return [r[0] for r in query(self.conn, "SELECT id FROM perf_base%s"
                                    % (" WHERE " + where if where else ""))]

    def test_page_links_concurrent(self):
        """Page-number links (the emulator's default): up to `concurrency`
        requests overlap, every page's link is checked, every row once."""
        tag = "plinks"
        create_table(self.conn, "perf_plinks", scenario(tag, rows=3000, latency=30,
                                                        anchor=FIXED[7:]))
        emu_reset(tag)
        ids = [r[0] for r in query(self.conn, "SELECT id FROM perf_plinks")]
        log = wait_emu_quiet(tag)
        self.assertEqual(ids, self.base_ids(3000))
        self.assertEqual(len(log), 30)
        self.assertTrue(all("page=" in e["path"] and "cursor=" not in e["path"] for e in log))
        self.assertTrue(overlapping(log), "no two requests overlapped")
        emu_reset(tag)
        self.assertEqual(explain_paging(self.conn, "SELECT * FROM perf_plinks"),
                         "API Paging: page numbers, concurrently: next links are page numbers "
                         "(29 pages by number, 29 links checked)")

    def test_links_turn_into_cursors(self):
        """From page 4 on the API sends cursors: pages 1-4 come by number
        (pages fetched ahead past 4 are dropped unread), then the cursors
        are followed one by one; every row exactly once, in order."""
        tag = "pcurfrom"
        create_table(self.conn, "perf_curfrom",
                     scenario(tag, rows=2500, latency=20, cursor_from=4, anchor=FIXED[7:]),
                     table_opts={"concurrency": "4"})
        emu_reset(tag)
        rows = query(self.conn, "SELECT id, creation_time FROM perf_curfrom WHERE call_type = 'inbound'")
        log = wait_emu_quiet(tag)
        ids = [r[0] for r in rows]
        self.assertEqual(ids, self.base_ids(2500, call_type="inbound"))
        by_number = sorted(int(e["query"]["page"])
                           for e in log if "page=" in e["path"])
        by_cursor = [e for e in log if "cursor=" in e["path"]]
        # pages 1-4 by number; up to 3 more were asked for ahead (a window
        # of 4 in flight) and dropped unread when page 4's link was a cursor
        self.assertEqual(by_number[:4], [1, 2, 3, 4])
        self.assertEqual(by_number, list(range(1, len(by_number) + 1)))
        self.assertLessEqual(max(by_number), 7)
        pages = -(-len(ids) // 100)
        self.assertEqual(len(by_cursor), pages - 4)
        self.assertTrue(all("call_type=inbound" in e["path"] for e in log))
        # the cursors were followed one after another
        spans = sorted((float(e["start"]), float(e["end"])) for e in by_cursor)
        self.assertTrue(all(spans[i + 1][0] >= spans[i][1] for i in range(len(spans) - 1)))
        emu_reset(tag)
        paging = explain_paging(self.conn, "SELECT * FROM perf_curfrom WHERE call_type = 'inbound'")
        self.assertRegex(paging, r"^API Paging: page numbers, then next links one by one: a next "
                                 r"link was not the following page \(3 pages by number, %d by link\)$"
                         % (pages - 4))

    def test_links_turn_into_cursors_under_new_calls(self):
        """The same while new calls arrive before every request: page
        numbers shift (repeats are dropped by id), cursors do not; every
        row of the data set comes exactly once."""
        tag = "pcurshift"
        create_table(self.conn, "perf_curshift",
                     scenario(tag, rows=2500, latency=10, cursor_from=3, fault="shift",
                              shift_rows=3, fault_after=1, anchor=FIXED[7:]))
        emu_reset(tag)
        ids = [r[0] for r in query(self.conn, "SELECT id FROM perf_curshift")]
        self.assertEqual(len(ids), len(set(ids)), "a row came twice")
        base = self.base_ids(2500)
        self.assertEqual([i for i in ids if not i.startswith("call_new")], base)
        log = wait_emu_quiet(tag)
        self.assertTrue(any("cursor=" in e["path"] for e in log))

    def test_opaque_cursors_sequential(self):
        """links=cursor: followed one by one, never two at a time."""
        tag = "pcursor"
        create_table(self.conn, "perf_cursor", scenario(tag, rows=1500, latency=20, links="cursor",
                                                        anchor=FIXED[7:]),
                     table_opts={"concurrency": "8"})
        emu_reset(tag)
        ids = [r[0] for r in query(self.conn, "SELECT id FROM perf_cursor")]
        log = wait_emu_quiet(tag)
        self.assertEqual(ids, self.base_ids(1500))
        self.assertEqual(len(log), 15)
        self.assertFalse(overlapping(log), "cursor requests overlapped")
        emu_reset(tag)
        self.assertEqual(explain_paging(self.conn, "SELECT * FROM perf_cursor"),
                         "API Paging: next links one by one: they are not page numbers "
                         "(14 pages by link)")

    def test_no_links(self):
        tag = "pnolinks"
        create_table(self.conn, "perf_nolinks", scenario(tag, rows=500, links=0, anchor=FIXED[7:]))
        self.assertEqual(explain_paging(self.conn, "SELECT * FROM perf_nolinks"),
                         "API Paging: page numbers, concurrently: no next links (4 pages by number)")
        self.assertEqual(explain_paging(self.conn, "SELECT * FROM perf_nolinks LIMIT 3"),
                         "API Paging: first pages only")


# ---- the API's order with ties and NULLs ------------------------------------

# 40 rows newest first: creation_time repeats in runs (ties), 6 rows have
# none; where the NULLs go depends on the API under test
TIMES = ["2025-11-30T00:00:%02d.000Z" % (59 - i // 3) for i in range(34)]


def make_rows(nulls_where):
    rows = [{"id": "call_%03d" % i, "call_status": "missed" if i % 4 == 0 else "completed",
             "creation_time": t} for i, t in enumerate(TIMES)]
    nulls = [{"id": "call_n%02d" % i, "call_status": "completed", "creation_time": None}
             for i in range(6)]
    return nulls + rows if nulls_where == "first" else rows + nulls


class Api(BaseHTTPRequestHandler):
    """page/page_size over the rows of the path's last element (first,
    last), filtered by call_status; page-number next links."""

    swap = None                 # two ids whose rows trade places

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        rows = make_rows(u.path.strip("/").split("/")[0])
        if type(self).swap:
            i, j = ([r["id"] for r in rows].index(x) for x in type(self).swap)
            rows[i], rows[j] = rows[j], rows[i]
        if "call_status" in q:
            rows = [r for r in rows if r["call_status"] == q["call_status"][0]]
        page = int(q.get("page", ["1"])[0])
        size = int(q.get("page_size", ["20"])[0])
        data = rows[(page - 1) * size:page * size]
        body = json.dumps({"count": len(rows), "status_code": 200, "message": "ok",
                           "data": data}).encode()
        try:
            self.send_response(200 if data or page == 1 else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass                # the scan stopped (an error, a LIMIT) and hung up

    def log_message(self, *args):
        pass


class TiesAndNulls(FdwTestCase):
    DB = DB

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Api)
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        port = cls.httpd.server_address[1]
        cols = "id text, call_status text, creation_time timestamptz"
        for where in ("first", "last"):
            url = "http://127.0.0.1:%d/%s/api/v2/platform/call-logs/" % (port, where)
            create_table(cls.conn, "nulls_" + where, url, server_opts={"page_size": "7"},
                         columns=cols)
            create_table(cls.conn, "nulls_%s_local" % where, url,
                         server_opts={"page_size": "7"},
                         table_opts={"order_column": "", "pushdown": "false"}, columns=cols)

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def same(self, table, sql):
        """sql (with {t}) on table equals sql on its locally sorted copy."""
        got = query(self.conn, sql.format(t=table))
        want = query(self.conn, sql.format(t=table + "_local"))
        self.assertEqual(got, want, sql)
        return got

    def plan(self, sql):
        return "\n".join(r[0] for r in query(self.conn, "EXPLAIN (COSTS OFF) " + sql))

    def test_ties(self):
        """WITH TIES reads past the limit until the time changes; ties may
        come in any order, so a tie-breaking key is sorted locally.  A
        condition that drops NULLs leaves the rows with a value, in order."""
        for t in ("nulls_first", "nulls_last"):
            q = ("SELECT id, creation_time FROM {t} WHERE creation_time IS NOT NULL "
                 "ORDER BY creation_time DESC FETCH FIRST 4 ROWS WITH TIES")
            self.assertNotIn("Sort", self.plan(q.format(t=t)))
            rows = self.same(t, q)
            self.assertEqual(len(rows), 6)
            self.same(t, "SELECT id FROM {t} WHERE call_status = 'missed' AND creation_time "
                         "IS NOT NULL ORDER BY creation_time DESC NULLS LAST FETCH FIRST 2 ROWS WITH TIES")
            self.same(t, "SELECT id FROM {t} WHERE creation_time > '2025-11-30T00:00:30Z' "
                         "ORDER BY creation_time DESC, id DESC LIMIT 11")
            self.same(t, "SELECT id FROM {t} WHERE creation_time IS NOT NULL "
                         "ORDER BY creation_time DESC NULLS LAST")
            self.same(t, "SELECT id FROM {t} ORDER BY creation_time, id LIMIT 11")

    def test_nulls_are_an_error(self):
        """The API documents a creation_time on every call.  A row without
        one has no place in the order a plan relies on, NULLS FIRST or
        LAST: the rows the scan does not read could hold others that
        belong before those returned.  So it is an ERROR naming
        order_column as soon as it arrives, never a wrong answer; sorted
        locally (order_column '') the answer is right."""
        for t in ("nulls_first", "nulls_last"):
            for nulls in ("", " NULLS FIRST", " NULLS LAST"):
                q = "SELECT id FROM %s ORDER BY creation_time DESC%s, id" % (t, nulls)
                self.assertIn("API Order", self.plan(q))
                e = query_error(self.conn, q)
                self.assertSqlState(e, FDW_INVALID_STRING_FORMAT, "order_column")
                self.assertEqual(e.diag.message_primary,
                                 "call logs API returned a row whose creation_time is NULL")
                query(self.conn, "ALTER FOREIGN TABLE %s OPTIONS (ADD order_column '')" % t)
                try:
                    self.assertIn("Sort", self.plan(q))
                    self.same(t, q.replace(t, "{t}"))
                finally:
                    query(self.conn, "ALTER FOREIGN TABLE %s OPTIONS (DROP order_column)" % t)
        # the NULLs come first: even the first row is an error
        e = query_error(self.conn, "SELECT id FROM nulls_first ORDER BY creation_time DESC LIMIT 1")
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT, "order_column")

    def test_out_of_order_rows(self):
        """A row newer than the one before: an ERROR naming order_column."""
        e = query_error(self.conn, "SELECT id FROM nulls_last WHERE creation_time IS NOT NULL "
                                   "AND call_status = 'missed' ORDER BY creation_time DESC")
        self.assertIsNone(e)
        Api.swap = ("call_004", "call_012")
        try:
            e = query_error(self.conn, "SELECT id FROM nulls_last WHERE creation_time IS NOT NULL "
                                       "ORDER BY creation_time DESC")
            self.assertSqlState(e, FDW_INVALID_STRING_FORMAT, "order_column")
            self.assertEqual(e.diag.message_primary,
                             "call logs API returned rows out of order: creation_time "
                             "2025-11-30 00:00:58+00 came after 2025-11-30 00:00:55+00")
            self.assertIn("Row 6 of foreign table \"nulls_last\"", e.diag.message_detail)
        finally:
            Api.swap = None


if __name__ == "__main__":
    unittest.main()
