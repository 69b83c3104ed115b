"""Scan tests that need an API the emulator cannot play: a tiny HTTP server
in the test answers each page as the test says.

    /usr/bin/python3 -m unittest test/scan_test.py

A scan never ends short of the API's "count" without an ERROR, also when
the pages themselves look complete: an API that ignores the page number
answers every page with the same rows, which the scan drops as repeats;
rows shifted by new calls (the count grows) are the only repeats it
accepts.
"""

import datetime
import json
import os
import sys
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "scan_test"
PAGE_SIZE = 100


def row(i):
    return {"id": "call_%06d" % i, "call_type": "inbound", "call_status": "completed",
            "creation_time": "2025-11-30T00:00:00.000Z"}


def row_b(i):
    """A row of variant B of the API: no id."""
    return {"source_number": "+1555%07d" % i, "call_type": "inbound",
            "call_status": "completed", "creation_time": "2025-11-30T00:00:00Z",
            "call_duration": i}


def timed_row(i, ids=True):
    """Row i, one second older than row i - 1; i < 0: a new call."""
    t = datetime.datetime(2025, 11, 30, 12, 0, 0) - datetime.timedelta(seconds=i)
    r = {"call_type": "inbound", "call_status": "completed",
         "creation_time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "call_duration": i}
    if ids:
        r["id"] = "call_%06d" % i if i >= 0 else "new_%06d" % -i
    return r


def burst_answer(page, size):
    """500 rows; 150 new calls arrive between page 1 and page 2 (more than
    a page): page 2 starts with 50 calls newer than every row of page 1,
    then repeats 50 of them."""
    shift = 0 if page == 1 else 150
    first = (page - 1) * size - shift
    return 500 + shift, range(first, min(first + size, 500))


class Api(BaseHTTPRequestHandler):
    """GET ...?page=N&page_size=M: the page the test's `answer` gives."""

    answer = None               # (page, page_size) -> (count, [row numbers])
    make_row = staticmethod(row)
    tag = ""                    # the first path segment of the current table
    requests = []

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        page = int(q.get("page", ["1"])[0])
        size = int(q.get("page_size", ["20"])[0])
        # requests of a table's earlier scans still in flight do not count
        if u.path.startswith("/%s/" % type(self).tag):
            type(self).requests.append(page)
        count, rows = type(self).answer(page, size)
        body = json.dumps({"count": count, "status_code": 200, "message": "ok",
                           "data": [type(self).make_row(i) for i in rows]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


class PagesAgainstCount(FdwTestCase):
    DB = DB

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Api)
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.port = cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def table(self, name, answer, make_row=row):
        Api.answer = staticmethod(answer)
        Api.make_row = staticmethod(make_row)
        Api.requests = []
        Api.tag = name
        create_table(self.conn, name,
                     "http://127.0.0.1:%d/%s/api/v2/platform/call-logs/" % (self.port, name),
                     server_opts={"page_size": str(PAGE_SIZE), "max_retries": "0"})
        return name

    def test_page_number_ignored(self):
        """Every page holds rows 0..99 and "count" says 500: pages 2, 3
        and 4 bring nothing new, and nothing explains the repeats (the
        count never grew): an ERROR at page 4, not 100 rows."""
        t = self.table("ignored", lambda page, size: (500, range(0, 100)))
        e = query_error(self.conn, "SELECT count(id) FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary,
                         "call logs API returned an unexpected response: "
                         "its pages bring no new rows")
        self.assertIn("Page 4 of request stream 1", e.diag.message_detail)
        self.assertIn("is the 3rd page in a row whose 100 rows were all returned already",
                      e.diag.message_detail)
        # page 5, fetched ahead, may be cancelled before it is sent
        self.assertIn(sorted(Api.requests), ([1, 2, 3, 4], [1, 2, 3, 4, 5]))

    def test_page_number_ignored_no_ids(self):
        """Variant B (no ids) and an API that ignores the page number: the
        same 100 rows on each page, "count" 1000, no "next".  Nothing can be
        dropped by id: page 2 is a copy of page 1 (same rows, same text),
        which new calls do not explain, so an ERROR rather than ten copies
        of page 1 (attack on issue 13, finding 6)."""
        t = self.table("ignored_b", lambda page, size: (1000, range(0, 100)), make_row=row_b)
        e = query_error(self.conn, "SELECT count(source_number) FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary,
                         "call logs API returned an unexpected response: "
                         "a page repeats the page before it")
        self.assertIn("Page 2 of request stream 1", e.diag.message_detail)
        self.assertIn("ignore the page number", e.diag.message_hint)

    def test_pages_no_ids_all_different(self):
        """The same API read right (variant B, each page its own rows): no
        false alarm, exactly 1000 rows."""
        t = self.table("right_b", lambda page, size: (1000, range((page - 1) * size,
                                                                   min(page * size, 1000))),
                       make_row=row_b)
        self.assertEqual(query(self.conn, "SELECT count(source_number), "
                                          "count(DISTINCT source_number) FROM %s" % t)[0],
                         (1000, 1000))

    def test_order_without_offset_checked_as_handed_out(self):
        """creation_time without a UTC offset (read in the session's zone):
        the page check (which reads only the API's form with an offset)
        leaves the row to the check of the rows handed out, which still
        catches a row out of order."""
        def local_row(i):
            r = row(i)
            # row 3 is newer than row 2
            r["creation_time"] = "2025-11-30T00:%02d:00" % (50 - i if i != 3 else 55)
            return r
        t = self.table("noffset", lambda page, size: (10, range(0, 10)), make_row=local_row)
        e = query_error(self.conn, "SELECT id FROM %s ORDER BY creation_time DESC" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT, "order_column")
        self.assertRegex(e.diag.message_primary, "^call logs API returned rows out of order: ")
        self.assertIn("Row 4 of foreign table \"noffset\"", e.diag.message_detail)

    def test_burst_of_new_calls_ordered(self):
        """More new calls than a page between two requests, under ORDER BY
        creation_time DESC: the 50 new calls page 2 starts with are newer
        than the rows returned, as many as "count" grew by; with ids they
        are dropped (calls arriving during a scan may be left out) and the
        answer is the 500 rows in order (old: "rows out of order" with a
        hint to change order_column, although the API sorts)."""
        t = self.table("burst", burst_answer, make_row=timed_row)
        rows = query(self.conn, "SELECT id FROM %s ORDER BY creation_time DESC" % t)
        self.assertEqual([r[0] for r in rows], ["call_%06d" % i for i in range(500)])

    def test_burst_of_new_calls_ordered_no_ids(self):
        """The same without ids: the new calls cannot be told from the rows
        returned, so an ERROR, which says why (rows shifted by more than a
        page) instead of blaming order_column."""
        t = self.table("burst_b", burst_answer, make_row=lambda i: timed_row(i, ids=False))
        e = query_error(self.conn, "SELECT call_duration FROM %s ORDER BY creation_time DESC" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected response: "
                         "its rows shifted by more than a page between two requests")
        self.assertIn("Page 2 of request stream 1", e.diag.message_detail)
        self.assertIn("brings 100 rows newer than the rows already returned",
                      e.diag.message_detail)
        self.assertIn("page_size", e.diag.message_hint)
        self.assertNotIn("order_column", error_text(e))

    def test_huge_count_same_rows(self):
        """With ids, "count" 2^31 and every page the same 2 rows (the API
        caps pages at 2 and ignores the page number): the scan stops after
        three pages that bring nothing new, instead of reading pages for as
        long as "count" claims (it read 80,000 pages in 15 minutes)."""
        t = self.table("huge", lambda page, size: (2 ** 31, range(0, 2)))
        with self.conn.cursor() as cur:
            cur.execute("SET statement_timeout = '60s'")
        try:
            e = query_error(self.conn, "SELECT count(id) FROM %s" % t)
        finally:
            with self.conn.cursor() as cur:
                cur.execute("RESET statement_timeout")
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary,
                         "call logs API returned an unexpected response: "
                         "its pages bring no new rows")
        self.assertIn("Page 4 of request stream 1", e.diag.message_detail)
        self.assertLessEqual(len(Api.requests), 8)

    def test_repeats_from_new_calls(self):
        """New calls arrive before each page after the first: every page
        starts with 5 rows of the previous one, and "count" grows by 5 each
        time.  The repeats are explained: every one of the 500 rows comes
        once, and the 5 newest calls per page are not asked for."""
        def answer(page, size):
            shift = 5 * (page - 1)
            first = (page - 1) * size - shift
            return 500 + shift, range(max(first, 0), min(first + size, 500))
        t = self.table("shifted", answer)
        n, nd, lo, hi = query(self.conn, "SELECT count(*), count(DISTINCT id), min(id), max(id) "
                                         "FROM (SELECT id FROM %s) s" % t)[0]
        self.assertEqual((n, nd, lo, hi), (500, 500, "call_000000", "call_000499"))

    def test_short_page_in_the_middle(self):
        """Page 3 of 5 holds 40 rows instead of 100 (nothing explains it):
        the scan reads on to page 5 and then fails, rather than returning
        440 rows."""
        def answer(page, size):
            first = (page - 1) * size
            last = first + (40 if page == 3 else size)
            return 500, range(first, min(last, 500))
        t = self.table("short", answer)
        e = query_error(self.conn, "SELECT count(id) FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertIn("its pages ended after 440 of 500 rows", e.diag.message_primary)


if __name__ == "__main__":
    unittest.main()
