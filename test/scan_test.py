"""Scan tests that need an API the emulator cannot play: a tiny HTTP server
in the test answers each page as the test says.

    /usr/bin/python3 -m unittest test/scan_test.py

A scan never ends short of the API's "count" without an ERROR, also when
the pages themselves look complete: an API that ignores the page number
answers every page with the same rows, which the scan drops as repeats;
rows shifted by new calls (the count grows) are the only repeats it
accepts.
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

DB = "scan_test"
PAGE_SIZE = 100


def row(i):
    return {"id": "call_%06d" % i, "call_type": "inbound", "call_status": "completed",
            "creation_time": "2025-11-30T00:00:00.000Z"}


class Api(BaseHTTPRequestHandler):
    """GET ...?page=N&page_size=M: the page the test's `answer` gives."""

    answer = None               # (page, page_size) -> (count, [row numbers])
    requests = []

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        page = int(q.get("page", ["1"])[0])
        size = int(q.get("page_size", ["20"])[0])
        type(self).requests.append(page)
        count, rows = type(self).answer(page, size)
        body = json.dumps({"count": count, "status_code": 200, "message": "ok",
                           "data": [row(i) for i in rows]}).encode()
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
        cls.url = "http://127.0.0.1:%d/api/v2/platform/call-logs/" % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    def table(self, name, answer):
        Api.answer = staticmethod(answer)
        Api.requests = []
        create_table(self.conn, name, self.url,
                     server_opts={"page_size": str(PAGE_SIZE), "max_retries": "0"})
        return name

    def test_page_number_ignored(self):
        """Every page holds rows 0..99 and "count" says 500: five pages
        bring 500 rows, 400 of them repeats.  Nothing explains the
        repeats (the count never grew): an ERROR, not 100 rows."""
        t = self.table("ignored", lambda page, size: (500, range(0, 100)))
        e = query_error(self.conn, "SELECT count(id) FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary,
                         "call logs API returned an unexpected response: "
                         "its pages ended after 100 of 500 rows")
        self.assertIn("after 400 rows that repeated rows already returned",
                      e.diag.message_detail)
        self.assertEqual(sorted(Api.requests), [1, 2, 3, 4, 5])

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
