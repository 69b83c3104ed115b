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
    next_link = None            # (page, page_size) -> query of "next", or None
    tag = ""                    # the first path segment of the current table
    requests = []

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        page = int(q.get("page", q.get("cursor", ["1"]))[0])
        size = int(q.get("page_size", ["20"])[0])
        # requests of a table's earlier scans still in flight do not count
        if u.path.startswith("/%s/" % type(self).tag):
            type(self).requests.append(page)
        count, rows = type(self).answer(page, size)
        doc = {"count": count, "status_code": 200, "message": "ok",
               "data": [type(self).make_row(i) for i in rows]}
        if type(self).next_link is not None:
            nq = type(self).next_link(page, size)
            doc["next"] = None if nq is None else "http://%s%s?%s" % (
                self.headers["Host"], u.path, nq)
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except ConnectionError:
            pass                # a request the scan cancelled

    def log_message(self, *args):
        pass


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


class FakeApiCase(FdwTestCase):
    """A foreign table per test on the tiny API server above."""
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

    def table(self, name, answer, make_row=row, next_link=None):
        Api.answer = staticmethod(answer)
        Api.make_row = staticmethod(make_row)
        Api.next_link = None if next_link is None else staticmethod(next_link)
        Api.requests = []
        Api.tag = name
        create_table(self.conn, name,
                     "http://127.0.0.1:%d/%s/api/v2/platform/call-logs/" % (self.port, name),
                     server_opts={"page_size": str(PAGE_SIZE), "max_retries": "0"})
        return name


class PagesAgainstCount(FakeApiCase):
    """Pages that must agree with "count"."""

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
        """The same without ids: page 2 brings 50 new calls and 50 copies
        of page 1's rows, all newer than the rows returned; page 3 starts
        with 49 more copies and one as old as the oldest row returned (a
        copy of it: same values).  Rows newer than those returned are new
        calls or copies, neither of which belongs in the answer: as many as
        "count" grew by are dropped, and so is the copy of the oldest row
        (old: an ERROR "its rows shifted by more than a page between two
        requests", although the API sorts and the answer can be right)."""
        t = self.table("burst_b", burst_answer, make_row=lambda i: timed_row(i, ids=False))
        rows = query(self.conn, "SELECT extract(epoch FROM call_duration)::int FROM %s "
                     "ORDER BY creation_time DESC" % t)
        self.assertEqual([r[0] for r in rows], list(range(500)))

    def test_newer_rows_beyond_growth_no_ids(self):
        """Variant B: page 2 brings rows newer than those returned, more
        than "count" grew by: the API does not sort, the error names
        order_column."""
        def answer(page, size):
            # rows 100-199, then 0-99 (newer, 100 of them; "count" grew
            # by 5), then 200-499
            if page <= 2:
                return 500 + 5 * (page - 1), range(100 * (2 - page), 100 * (3 - page))
            return 505, range((page - 1) * size, min(page * size, 500))
        t = self.table("unsorted_b", answer, make_row=lambda i: timed_row(i, ids=False))
        e = query_error(self.conn, "SELECT call_duration FROM %s ORDER BY creation_time DESC" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT, "order_column")
        self.assertRegex(e.diag.message_primary, "^call logs API returned rows out of order: ")

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



def full_answer(page, size, total=2500):
    first = (page - 1) * size
    return total, range(first, min(first + size, total))


def page_links(bad_page, bad_query):
    """next links by page number (page_size=M&page=N+1), except page
    bad_page's, whose link's query is bad_query."""
    def link(page, size):
        if page * size >= 2500:
            return None
        if page == bad_page:
            return bad_query
        return "page_size=%d&page=%d" % (size, page + 1)
    return link


class LinksAgainstTheStream(FakeApiCase):
    """Attack on issue 13 (round 2), finding F1: a page-number link that
    is not the following page, or that changes another parameter, was
    followed (the scan fell back to following links) and an ordered LIMIT
    silently missed a page's rows; the page checks ran only when the
    stream ended.  Each is an ERROR at once now, and a short middle page
    too."""

    SQL = "SELECT id FROM %s ORDER BY creation_time DESC LIMIT 650"

    def check_bad_link(self, name, bad_query, detail):
        t = self.table(name, lambda page, size: full_answer(page, size, 2500),
                       make_row=timed_row, next_link=page_links(3, bad_query))
        e = query_error(self.conn, self.SQL % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected "
                         "response: a \"next\" link is not the following page")
        self.assertIn("Page 3 of request stream 1", e.diag.message_detail)
        self.assertIn(detail, e.diag.message_detail)
        self.assertIn("which is not page 4 of the request", e.diag.message_detail)
        # a full scan fails the same way, at page 3 (not at the end)
        e = query_error(self.conn, "SELECT count(id) FROM %s" % t)
        self.assertIn("Page 3 of request stream 1", e.diag.message_detail)

    def test_link_skips_a_page(self):
        self.check_bad_link("skip", "page_size=100&page=5", "page=5")

    def test_link_changes_page_size(self):
        self.check_bad_link("resize", "page_size=50&page=4", "page_size=50")

    def test_link_repeats_page_parameter(self):
        self.check_bad_link("twice", "page_size=100&page=4&page=5", "page=4&page=5")

    def test_links_right_and_cursor(self):
        """No false alarm: right page links give the 650 newest rows; a
        link from page 3 on that is an opaque cursor (no page parameter)
        is still followed, without losing a row."""
        want = ["call_%06d" % i for i in range(650)]
        t = self.table("linksok", lambda page, size: full_answer(page, size, 2500),
                       make_row=timed_row, next_link=page_links(0, None))
        self.assertEqual([r[0] for r in query(self.conn, self.SQL % t)], want)

        def cursor_answer(page, size, q=None):
            return full_answer(page, size, 2500)
        # page 3 links to ?cursor=4, which the server answers as page 4
        def link(page, size):
            if page >= 3:
                return "page_size=%d&cursor=%d" % (size, page + 1)
            return "page_size=%d&page=%d" % (size, page + 1)
        t = self.table("cursor", cursor_answer, make_row=timed_row, next_link=link)
        self.assertEqual([r[0] for r in query(self.conn, self.SQL % t)], want)

    def test_short_middle_page_with_next(self):
        """Page 3 holds 99 rows (row 250 is missing), "count" and the next
        links are consistent: an ordered LIMIT 650 silently lacked the row
        (old); now an ERROR at page 3."""
        def answer(page, size):
            total, rows = full_answer(page, size, 2500)
            return total, [i for i in rows if i != 250]
        t = self.table("short99", answer, make_row=timed_row, next_link=page_links(0, None))
        e = query_error(self.conn, self.SQL % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected "
                         "response: a page is short of rows although a \"next\" link follows")
        self.assertIn("Page 3 of request stream 1", e.diag.message_detail)
        self.assertIn("holds 99 rows, pages hold 100", e.diag.message_detail)


if __name__ == "__main__":
    unittest.main()
