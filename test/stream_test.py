"""Request-stream tests on the emulator: a stream's pages must agree with
its own "count" and "next" links, every row of a page is checked for order
before any of it is handed out, and rows shifting with each request neither
make the scan fetch every page twice nor keep it going for ever.

    /usr/bin/python3 -m unittest test/stream_test.py

(Outside testers' findings 1, 4, 5 and 7 of the attack on issues 9, 11 and
13; finding 6 is in test/scan_test.py, which plays an API the emulator
cannot.)  Ordered answers are compared with a table whose order_column is
'' (sorted locally), never with pushdown 'false'.
"""

import datetime
import http.server
import json
import os
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "stream_test"
ANCHOR = "2025-11-30T00:00:00Z"


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


class StreamCase(FdwTestCase):
    DB = DB

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        query(cls.conn, "CREATE EXTENSION IF NOT EXISTS callogs_fdw")
        # a scan that would not end fails the test instead of hanging it
        query(cls.conn, "SET statement_timeout = '60s'")

    def table(self, tag, server_opts=None, table_opts=None, **kw):
        emu_reset(tag)
        create_table(self.conn, tag, scenario(tag, **kw), server_opts=server_opts,
                     table_opts=table_opts)
        return tag

    def requests(self, tag):
        log = wait_emu_quiet(tag)
        self.assertTrue(log, "no request of %s reached the emulator" % tag)
        return log


class CountAgreement(StreamCase):
    """Finding 1: the stream stopped silently at "count" although a page
    held more rows than it, or a "next" link said there was more."""

    def test_page_holds_more_than_count(self):
        # page 1 says count 0 and holds 100 rows (old: count(id) 100)
        t = self.table("cnt0", rows=5000, fault="count_value", count_value=0,
                       fault_pages=1, fault_times=1)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected "
                         "response: a page holds rows past its \"count\"")
        self.assertEqual(e.diag.message_detail, "Page 1 of request stream 1 on server "
                         "\"cnt0_srv\" holds rows 1 to 100, but its \"count\" is 0.")
        self.assertTrue(e.diag.message_hint)

    def test_later_page_past_count(self):
        # pages 1-3 say count 250, page 3 holds rows 201-300 (old: 300 rows)
        t = self.table("cnt250", rows=5000, fault="count_value", count_value=250,
                       fault_pages="1:2:3", fault_times=0)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_detail, "Page 3 of request stream 1 on server "
                         "\"cnt250_srv\" holds rows 201 to 300, but its \"count\" is 250.")

    def check_next_after_count(self, tag, links):
        # every page says count 1000 of 5000 rows: page 10 reaches the count
        # and still links to page 11 (old: 1000 rows, no error)
        t = self.table(tag, rows=5000, fault="count_value", count_value=1000,
                       fault_times=0, links=links)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected "
                         "response: a \"next\" link after the rows reached \"count\"")
        self.assertIn("Page 10 of request stream 1", e.diag.message_detail)
        self.assertEqual(len(self.requests(t)), 10)

    def test_next_after_count_page_links(self):
        self.check_next_after_count("cntnext", "page")

    def test_next_after_count_cursor(self):
        self.check_next_after_count("cntcur", "cursor")

    def test_count_int64_max(self):
        # every page says count 2^63-1 (no overflow in the page arithmetic:
        # the scan read page 1 and reported "-92233720368547757 pages");
        # the pages end after 500 rows, which that count does not explain
        t = self.table("cntmax", rows=500, fault="count_value",
                       count_value=9223372036854775807, fault_times=0, links=0)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_INVALID_STRING_FORMAT)
        self.assertNotIn("-", e.diag.message_detail)
        self.assertIn("500 of 9223372036854775807", e.diag.message_detail + e.diag.message_primary)
        # pages 1-5, then the pages past the end that were in flight (at
        # most concurrency 4), each 404 retried (4 attempts): the count says
        # they exist
        self.assertLessEqual(len(self.requests(t)), 5 + 4 * 4)

    def test_count_right_still_exact(self):
        # no false alarm: the same scans without the fault are exact
        for links in ("page", "cursor", "0"):
            t = self.table("cntok" + links, rows=5000, links=links)
            self.assertEqual(query(self.conn, "SELECT count(id), count(DISTINCT id) FROM %s"
                                   % t)[0], (5000, 5000))


class WholePageOrder(StreamCase):
    """Finding 5: a LIMIT returned a wrong row although the row that showed
    the page out of order had been received (never checked)."""

    def test_limit_inside_page(self):
        # rows 5 and 6 of page 1 swapped; LIMIT 5 hands out 5 rows, and the
        # 6th (received on the same page) shows the 5th is wrong
        t = self.table("ordlim", rows=250, anchor=ANCHOR, fault="unordered", swap="4:5")
        e = self.assertFails("SELECT id, creation_time FROM %s WHERE source_number LIKE '+%%' "
                             "ORDER BY creation_time DESC LIMIT 5" % t,
                             FDW_INVALID_STRING_FORMAT, "order_column")
        self.assertRegex(e.diag.message_primary,
                         "^call logs API returned rows out of order: creation_time ")
        self.assertIn("Row 6 of foreign table \"ordlim\"", e.diag.message_detail)
        self.assertEqual(len(self.requests(t)), 1)

    def test_offset_into_later_page(self):
        # page 2's rows 5 and 6 swapped: OFFSET 102 LIMIT 3 stops at row 105
        t = self.table("ordoff", rows=250, anchor=ANCHOR, fault="unordered", swap="4:5",
                       fault_pages=2)
        self.assertFails("SELECT id, creation_time FROM %s ORDER BY creation_time DESC "
                         "LIMIT 3 OFFSET 102" % t, FDW_INVALID_STRING_FORMAT, "order_column")
        # the rows before the page are right: compared with the rows sorted
        # locally (order_column '') on the same data without the fault
        ok = self.table("ordok", rows=250, anchor=ANCHOR, table_opts={"order_column": ""})
        self.assertEqual(query(self.conn, "SELECT id FROM %s ORDER BY creation_time DESC "
                               "LIMIT 3 OFFSET 97" % t),
                         query(self.conn, "SELECT id FROM %s ORDER BY creation_time DESC "
                               "LIMIT 3 OFFSET 97" % ok))

    def test_no_pushdown_trusts_no_order(self):
        # pushdown 'false' sends only paging parameters and trusts nothing
        # else, not the API's order either: the plan sorts locally, and an
        # API that does not sort gets the right answer (old: the ordered
        # plan, and the wrong 5th row)
        t = self.table("ordnopd", rows=250, anchor=ANCHOR, fault="unordered", swap="4:5",
                       table_opts={"pushdown": "false"})
        ok = self.table("ordnopdok", rows=250, anchor=ANCHOR, table_opts={"order_column": ""})
        sql = ("SELECT id, creation_time FROM %s WHERE source_number LIKE '+%%%%' "
               "ORDER BY creation_time DESC LIMIT 5")
        plan = "\n".join(r[0] for r in query(self.conn, "EXPLAIN (COSTS OFF) " + sql % t))
        self.assertIn("Sort Key: creation_time DESC", plan)
        self.assertEqual(query(self.conn, sql % t), query(self.conn, sql % ok))
        # an explicit order_column is still relied on (and checked)
        query(self.conn, "ALTER FOREIGN TABLE %s OPTIONS (ADD order_column 'creation_time')" % t)
        plan = "\n".join(r[0] for r in query(self.conn, "EXPLAIN (COSTS OFF) " + sql % t))
        self.assertNotIn("Sort", plan)
        self.assertFails(sql % t, FDW_INVALID_STRING_FORMAT, "order_column")


class Shifting(StreamCase):
    """Findings 4 and 7: new calls arriving with each request."""

    def test_shift_faster_than_a_page(self):
        # 150 new calls per request, pages of 100: every page after the
        # first brings only new calls (dropped: newer than the rows
        # returned) and rows returned already.  The API does sort: the
        # error says the rows shift faster than the scan reads, after 8 +
        # 2 x concurrency (4) such pages, and does not blame order_column
        # (old: "rows out of order", hint to change order_column)
        t = self.table("shift150", rows=5000, fault="shift", shift_rows=150)
        e = self.assertFails("SELECT id FROM %s ORDER BY creation_time DESC LIMIT 150" % t,
                             FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected "
                         "response: its rows shift faster than the scan reads them")
        self.assertRegex(e.diag.message_detail, r"^Page 17 of request stream 1 .* is the 16th "
                         r"page in a row that brings no row not returned already")
        self.assertNotIn("order_column", error_text(e))
        self.assertIn("page_size", e.diag.message_hint)
        self.assertIn("concurrency", e.diag.message_hint)
        self.assertLessEqual(len(self.requests(t)), 17 + 4)

    def test_ordered_under_concurrency(self):
        # 25 new calls per request on pages of 50, concurrency 4: a page
        # answered after three others starts with calls newer than the rows
        # returned; they are dropped, the order holds and every row of the
        # data set comes once (old: "rows out of order" now and then, and
        # no end at all)
        for i in range(3):
            t = self.table("ordshift%d" % i, rows=3000, fault="shift", shift_rows=25, cap=50,
                           server_opts={"concurrency": "4"})
            n, nd, base = query(self.conn, "SELECT count(id), count(DISTINCT id), count(id) "
                                "FILTER (WHERE id NOT LIKE 'call_new%%') FROM (SELECT id FROM "
                                "%s ORDER BY creation_time DESC OFFSET 0) s" % t)[0]
            self.assertEqual((n, base), (nd, 3000))

    def test_shift_faster_than_a_page_ends(self):
        # without an order the scan never reaches the end of a list that
        # grows faster than it reads: an ERROR after a bounded number of
        # pages, not a scan that runs until statement_timeout
        t = self.table("shift150all", rows=2000, fault="shift", shift_rows=150)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary, "call logs API returned an unexpected "
                         "response: its rows shift faster than the scan reads them")
        # the smallest count is 2150 to 2600 (the 4 first requests answered
        # in any order: at most 26 pages): at most 4 * 26 + 16 pages read,
        # one more that fails, one fetched again and 3 fetched ahead
        self.assertLessEqual(len(self.requests(t)), 4 * 26 + 16 + 1 + 1 + 3)

    def check_shift_load(self, tag, sequential, **kw):
        """Every row of the data set once, new calls at most once (those
        that arrived before page 1 was answered: up to 4 requests' worth),
        and no more requests than a tenth above what concurrency 1 needs,
        plus 4 (the pages fetched ahead before the shifting showed): not
        every page twice."""
        t = self.table(tag, server_opts={"concurrency": "4"}, **kw)
        n, nd, base = query(self.conn, "SELECT count(id), count(DISTINCT id), "
                            "count(id) FILTER (WHERE id NOT LIKE 'call_new%%') FROM %s" % t)[0]
        self.assertEqual(n, nd)
        self.assertEqual(base, kw["rows"])
        self.assertLessEqual(n - base, 4 * kw.get("shift_rows", 5))
        requests = len(self.requests(t))
        self.assertLessEqual(requests, sequential * 1.1 + 4)
        return requests

    def test_shift_half_a_page_per_request(self):
        # 25 new calls per request on pages of 50 (cap): concurrency 1 ends
        # after 120 requests; concurrency 4 fetched every page twice and
        # never ended (old: 4,900 requests until statement_timeout)
        self.check_shift_load("shift25", 120, rows=3000, fault="shift", shift_rows=25, cap=50)

    def test_shift_default(self):
        # 5 new calls per request: 53 requests sequentially (old: 104 with
        # concurrency 4)
        self.check_shift_load("shift5", 53, rows=5000, fault="shift")



class BusyApi(StreamCase):
    """Attack on issue 13 (round 2): a healthy API that gets new calls
    while it is read must give the right rows, whatever the concurrency
    and the size of the shift."""

    NEW = "id NOT LIKE 'call_new%%'"

    def check_all_rows(self, tag, server_opts, **kw):
        t = self.table(tag, server_opts=server_opts, rows=25000, fault="shift",
                       fault_times=0, **kw)
        n, nd, base = query(self.conn, "SELECT count(id), count(DISTINCT id), count(id) "
                            "FILTER (WHERE %s) FROM %s" % (self.NEW, t))[0]
        self.assertEqual((n, base), (nd, 25000))

    def test_shift_70_concurrency_4(self):
        # F4: 70 new calls per request, concurrency 4, pages of 100: a page
        # answered after three others holds only rows returned already;
        # judged against the page before it (answered at another moment),
        # 3 such pages in a row were "its pages bring no new rows" (old: 2
        # runs in 3).  Judged by the page's position since page 1, none
        # is an error, and every row comes once
        for i in range(3):
            self.check_all_rows("busy70_%d" % i, None, shift_rows=70)

    def test_shift_concurrency_8_pages_of_50(self):
        # F4: concurrency 8, pages of 50, 20 to 30 new calls per request
        for n in (20, 30):
            self.check_all_rows("busy8_%d" % n, {"concurrency": "8", "page_size": "50"},
                                shift_rows=n)

    def newest(self, tag, sql, **kw):
        """The rows of sql on the same data without new calls, sorted
        locally (order_column '')."""
        ok = self.table(tag, table_opts={"order_column": ""}, **kw)
        return query(self.conn, sql % ok)

    def test_burst_larger_than_two_pages(self):
        # F3: 201 new calls before page 2 (more than two pages): page 2
        # holds only new calls, page 3 one more and then rows returned
        # already; "count" grew by 201 since page 1 (by 0 between pages 2
        # and 3).  They are new calls: dropped, and the order holds (old:
        # "rows out of order ... Row 101", hint to change order_column)
        sql = "SELECT id FROM %s ORDER BY creation_time DESC LIMIT 650"
        want = self.newest("burstok", sql, rows=25000)
        for n in (201, 350):
            t = self.table("burst%d" % n, rows=25000, fault="shift", shift_rows=n,
                           fault_pages=2, fault_times=1)
            self.assertEqual(query(self.conn, sql % t), want)
        t = self.table("burstall", rows=25000, fault="shift", shift_rows=201,
                       fault_pages=2, fault_times=1)
        # the whole scan under a window on the order (no sort)
        self.assertEqual(query(self.conn, "SELECT count(*), count(DISTINCT id), count(*) "
                               "FILTER (WHERE %s), max(r) FROM (SELECT id, row_number() "
                               "OVER (ORDER BY creation_time DESC) r FROM %s) s"
                               % (self.NEW, t))[0], (25000, 25000, 25000, 25000))

    def test_variant_b_copies_ordered(self):
        # F5: variant B (no ids), 5 new calls before page 2: page 2 starts
        # with copies of page 1's last 5 rows, newer than (or as old as)
        # the last row returned.  They are dropped, as many as "count" grew
        # by (old: "its rows shifted by more than a page between two
        # requests", whose hint could not help)
        sql = ("SELECT call_type, call_status, source_number, destination_number, "
               "creation_time FROM %s ORDER BY creation_time DESC LIMIT 450")
        want = self.newest("copiesok", sql, rows=25000, variant="b")
        self.assertEqual(len(want), 450)
        for n in (5, 150):
            t = self.table("copies%d" % n, rows=25000, variant="b", fault="shift",
                           shift_rows=n, fault_pages=2, fault_times=1)
            self.assertEqual(query(self.conn, sql % t), want)

    def test_ordered_concurrency_8_busy(self):
        # atk9c 1: 30 new calls per request, pages of 50, concurrency 8:
        # the pages fetched ahead are answered late and hold only new calls,
        # which an ordered scan leaves out; a whole window of them reached
        # the 8-idle-pages limit (old: "its rows shift faster than the scan
        # reads them" in 5 runs of 5).  The limit is 8 + 2 x concurrency
        sql = "SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM %s " \
              "ORDER BY creation_time DESC LIMIT 1000) s"
        for i in range(3):
            t = self.table("busyord_%d" % i, rows=3000, fault="shift", shift_rows=30,
                           fault_times=0,
                           server_opts={"concurrency": "8", "page_size": "50"})
            self.assertEqual(query(self.conn, sql % t)[0], (1000, 1000))


class _LaggingReplicas(http.server.BaseHTTPRequestHandler):
    """Two read replicas behind one API, answering in turn A, B, B, A, ...:
    B lacks A's newest call.  Variant B rows (no id), newest first, every
    answer consistent in itself: "count" goes down and up again."""
    protocol_version = "HTTP/1.1"
    T0 = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    calls = [0]
    lock = threading.Lock()

    @classmethod
    def row(cls, i):
        t = (cls.T0 + datetime.timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"source_number": "+1555%07d" % i, "destination_number": "+15550000000",
                "call_type": "inbound", "call_status": "completed", "creation_time": t}

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        a = [self.row(i) for i in range(1000, 0, -1)]
        with self.lock:
            src = a if "abb"[self.calls[0] % 3] == "a" else a[1:]
            self.calls[0] += 1
        page, ps = int(q.get("page", 1)), int(q.get("page_size", 20))
        nxt = None
        if page * ps < len(src):
            q["page"] = str(page + 1)
            nxt = "http://127.0.0.1:%d%s?%s" % (self.server.server_port, u.path,
                                                urllib.parse.urlencode(q))
        body = json.dumps({"count": len(src), "next": nxt, "previous": None,
                           "data": src[(page - 1) * ps:page * ps]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CountGoesDown(StreamCase):
    """atk9c 2: when "count" went down (a lagging replica), the rows of an
    ordered variant-B scan were checked against a growth below zero: "rows
    out of order: creation_time 2000-01-01 00:00:00+00 came after ..." for
    no row that has that time.  No row is newer there: whatever the scan
    says, never that."""

    def test_no_phantom_order_error(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LaggingReplicas)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            _LaggingReplicas.calls[0] = 0
            create_table(self.conn, "replicas",
                         "http://127.0.0.1:%d/api/v2/platform/call-logs/" % srv.server_port,
                         server_opts={"page_size": "100", "concurrency": "1"},
                         columns="source_number text, call_type text, creation_time timestamptz")
            try:
                n = query(self.conn, "SELECT count(*) FROM (SELECT * FROM replicas "
                                     "ORDER BY creation_time DESC) s")[0][0]
                # 999 calls are there throughout; "count" going down by one
                # between two pages reads as a deletion, which may hide one
                # row (README, Rows that shift)
                self.assertGreaterEqual(n, 998)
            except psycopg2.Error as e:
                self.assertNotIn("2000-01-01", e.diag.message_primary)
                self.assertNotIn("out of order", e.diag.message_primary)
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main()
