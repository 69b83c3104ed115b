"""callogs_fdw_probe and the hints, after an outside DBA's report (issue 14,
round 2): each test plays one finding and fails on the code before the fix.

* date_column is a column: the probe maps the field the API filters on to
  the column that reads it (renamed columns, no such column, a swapped
  mapping), and its advice, run, gives the rows a local filter gives.
* A busy provider (new calls on every request) and a cursor API that
  ignores "page" are not reported as broken; a "next" link to the page it
  is on is (the scans refuse it).
* The probe works under the limits the scans keep (max_response_bytes,
  callogs_fdw.max_page_memory, an API that refuses large page sizes), and
  recommends a page_size the API accepts when it refuses the table's.
* Hints: a 400 on a request with no filter (or naming page_size) points at
  page_size, not pushdown; the date 400 names callogs_fdw_probe as SQL that
  runs, odd names included; a 404 on a url without a final "/" claims only
  what was observed.
* Column advice uses SET for a field option that is set; a count at the
  top of bigint asks no negative page; an unknown relation OID is named.
* A value of callogs_fdw.rate_limit_servers left by ALTER SYSTEM after the
  library leaves shared_preload_libraries gives no WARNING.

    /usr/bin/python3 -m unittest -q test/probe_test.py
"""

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
from pgcluster import ThrowawayCluster  # noqa: E402
import dba_test  # noqa: E402

DB = "probe_test"
ANCHOR = dba_test.ANCHOR


def setUpModule():
    drop_database(DB)
    recreate_database(DB).close()


def tearDownModule():
    drop_database(DB)


class ApiProxy:
    """A provider in front of the emulator: each request is first offered to
    answer(params) (a (status, dict) pair, or None to forward it); a
    forwarded request loses the parameters named in drop, and the
    emulator's origin in its body becomes the proxy's, so that "next" links
    stay on the server's origin."""

    def __init__(self, drop=(), answer=None):
        answer = answer or (lambda params: None)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path, _, q = self.path.partition("?")
                params = urllib.parse.parse_qsl(q, keep_blank_values=True)
                own = answer(dict(params))
                if own is not None:
                    status, body = own[0], json.dumps(own[1]).encode()
                else:
                    kept = [(k, v) for k, v in params if k not in drop]
                    status, body = emu_forward(self, path, kept)
                    body = body.replace(EMU.encode(), proxy.origin.encode())
                proxy.log.append((dict(params), status))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass        # a scan that failed hangs up mid-page

        self.log = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def page_size_ceiling(limit, message="Invalid page_size: at most %d"):
    """An API that refuses page_size above limit with HTTP 400."""
    def answer(params):
        if int(params.get("page_size", "20")) > limit:
            return 400, {"status_code": 400, "message": message % limit if "%d" in message else message}
        return None
    return answer


class Base(dba_test.DbaBase):
    DB = DB

    def proxied(self, tag, proxy, table_opts=None, rows=2500, **scen):
        """A server on the scenario, through proxy; returns the table."""
        t = self.server(tag, rows=rows, table_opts=table_opts, **scen)
        url = emu_url(dba_test.probe_scenario(tag, rows=rows, **scen), port=proxy.port)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(url)))
        return t

    def local_count(self, table, where):
        """The rows a local filter gives: no condition reaches the API."""
        return query(self.conn, "SELECT count(*) FROM (SELECT * FROM %s OFFSET 0) s WHERE %s"
                     % (table, where))[0][0]

    def pushed_count(self, table, where):
        return query(self.conn, "SELECT count(*) FROM %s WHERE %s" % (table, where))[0][0]


class DateColumn(Base):
    """Finding 1: date_column takes a column; the probe said the JSON field."""

    TAG = "pf_datecol"
    SCEN = dict(variant="b", cap=50, dates="timestamp_only", date_field="start_time")
    WEEK = "'%s'::timestamptz - interval '7 days'" % ANCHOR

    def setUp(self):
        # one server on the DBA's scenario; the tables below share it
        self.t = self.server(self.TAG, **self.SCEN)
        self.srv = "%s_srv" % self.t

    def table(self, columns, **opts):
        name = dba_test.next_name("pf")
        opts.setdefault("date_format", "timestamp")
        query(self.conn, "CREATE FOREIGN TABLE %s (%s) SERVER %s %s"
              % (name, columns, self.srv, options_clause(opts)))
        return name

    def date_field(self, table):
        emu_reset(self.TAG)
        f = self.probe_table(table)
        self.assertEqual(f["date field"][0], "start_date and end_date filter on start_time")
        return f["date field"][2]

    def probe_table(self, table):
        rows = query(self.conn, "SELECT fact, finding, evidence, recommendation, requests "
                                "FROM callogs_fdw_probe(%s, %s)", (self.srv, table))
        return {r[0]: r[1:] for r in rows}

    RENAMED = ("created timestamptz OPTIONS (field 'creation_time'), "
               "started timestamptz OPTIONS (field 'start_time'), "
               "ended timestamptz OPTIONS (field 'end_time'), call_status text")

    def test_renamed_columns_already_right(self):
        t = self.table(self.RENAMED, date_column="started")
        self.assertEqual(self.date_field(t),
                         "nothing to change (date_column is 'started', which reads JSON field start_time)")

    def test_renamed_columns_advice_names_the_column(self):
        t = self.table(self.RENAMED, date_column="created")
        rec = self.date_field(t)
        self.assertEqual(rec, "ALTER FOREIGN TABLE public.%s OPTIONS (SET date_column 'started') "
                              "(now 'created', which reads JSON field creation_time; a wrong "
                              "date_column loses rows)" % t)
        where = "started > %s" % self.WEEK
        query(self.conn, rec.split(" (now")[0])
        n = self.pushed_count(t, where)
        self.assertEqual(n, self.local_count(t, where))
        self.assertGreater(n, 0)
        self.assertEqual(self.date_field(t),
                         "nothing to change (date_column is 'started', which reads JSON field start_time)")

    def test_no_column_for_the_field(self):
        """No column reads start_time: the safe answer is ''."""
        t = self.table("created timestamptz OPTIONS (field 'creation_time'), call_status text",
                       date_column="created")
        rec = self.date_field(t)
        self.assertEqual(rec, "ALTER FOREIGN TABLE public.%s OPTIONS (SET date_column '') "
                              "(now 'created', which reads JSON field creation_time; no date column "
                              "reads JSON field start_time; a wrong date_column loses rows)" % t)
        where = "created > %s AND call_status = 'missed'" % self.WEEK
        wrong = self.pushed_count(t, where)
        query(self.conn, rec.split(" (now")[0])
        right = self.pushed_count(t, where)
        self.assertEqual(right, self.local_count(t, where))
        self.assertGreater(right, 0)
        self.assertEqual(wrong, 0)      # what the setting the advice replaces lost
        # the default date_column, naming no column: no bound is sent, nothing to change
        t2 = self.table("created timestamptz OPTIONS (field 'creation_time'), call_status text")
        self.assertEqual(self.date_field(t2),
                         "nothing to change (date_column is the default 'creation_time', which "
                         "names no column: no date bounds are sent; no date column reads JSON "
                         "field start_time, so date conditions are filtered locally)")

    def test_swapped_mapping(self):
        """Column creation_time reads start_time and vice versa: the default
        date_column is right; the field's name (the old advice) loses the
        week's missed calls."""
        t = self.table("creation_time timestamptz OPTIONS (field 'start_time'), "
                       "start_time timestamptz OPTIONS (field 'creation_time'), call_status text")
        self.assertEqual(self.date_field(t),
                         "nothing to change (date_column is 'creation_time', which reads JSON "
                         "field start_time)")
        where = "start_time > %s AND call_status = 'missed'" % self.WEEK
        right = self.pushed_count(t, where)
        self.assertEqual(right, self.local_count(t, where))
        self.assertGreater(right, 0)
        query(self.conn, "ALTER FOREIGN TABLE %s OPTIONS (ADD date_column 'start_time')" % t)
        self.assertEqual(self.pushed_count(t, where), 0)
        self.assertEqual(self.date_field(t),
                         "ALTER FOREIGN TABLE public.%s OPTIONS (SET date_column 'creation_time') "
                         "(now 'start_time', which reads JSON field creation_time; a wrong "
                         "date_column loses rows)" % t)

    def test_broken_setting_is_judged(self):
        """date_column naming no column (every date query fails): the column
        that reads the field is recommended."""
        t = self.table(self.RENAMED, date_column="start_time")
        self.assertFails("SELECT count(*) FROM %s WHERE started > %s" % (t, self.WEEK),
                         "HV005", r"is not a column")
        self.assertEqual(self.date_field(t),
                         "ALTER FOREIGN TABLE public.%s OPTIONS (SET date_column 'started') "
                         "(now 'start_time', which names no column: queries with a date condition "
                         "fail; a wrong date_column loses rows)" % t)

    def test_without_table(self):
        emu_reset(self.TAG)
        rows = query(self.conn, "SELECT recommendation FROM callogs_fdw_probe(%s) "
                                "WHERE fact = 'date field'", (self.srv,))
        self.assertEqual(rows[0][0],
                         "on each foreign table of server %s, set date_column to the column that "
                         "reads JSON field start_time (its field option, or its name), or to '' if "
                         "no column does; callogs_fdw_probe('%s', 'table') checks a table"
                         % (self.srv, self.srv))


class PastEnd(Base):
    """Findings 2, 3, 10: rows past the end, judged with each answer's count."""

    def test_busy_provider(self):
        """One new call per request: the page asked past the end exists by
        the time it is answered.  Not a broken API: scans work."""
        tag = "pf_shift"
        t = self.server(tag, fault="shift", shift_rows=1)
        f = self.probe(t)
        self.assertRequests(f, tag)
        finding, evidence, rec, n = f["page past the end"]
        self.assertRegex(finding, r'^cannot tell: calls arrived while probing \(count (\d+), then '
                                  r'(\d+)\), so page \d+ exists now; its call is older than the '
                                  r'first page\'s, so the API honours "page"$')
        a, b = map(int, re.search(r"count (\d+), then (\d+)", finding).groups())
        self.assertGreater(b, a)
        self.assertTrue(rec.startswith("nothing to change"), rec)
        n = query(self.conn, "SELECT count(*) FROM (SELECT creation_time FROM %s OFFSET 0) s" % t)[0][0]
        self.assertGreaterEqual(n, 2500)

    def test_cursor_api_ignoring_page(self):
        """next = ?page_size=N&cursor=...; "page" ignored: no problem."""
        tag = "pf_cursor_nopage"
        proxy = ApiProxy(drop=("page",))
        self.addCleanup(proxy.close)
        t = self.proxied(tag, proxy, links="cursor")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertTrue(f["next links"][0].startswith("opaque cursors"), f["next links"])
        self.assertEqual(f["page past the end"][0],
                         'rows: the API ignores "page" (a page past the end holds the newest calls)')
        self.assertEqual(f["page past the end"][2],
                         'nothing to change: its "next" links are cursors, which scans follow one '
                         'by one (no page is asked for by number after the first)')
        # the scans work, link by link
        n = query(self.conn, "SELECT count(*) FROM (SELECT creation_time FROM %s OFFSET 0) s" % t)[0][0]
        self.assertEqual(n, emu_totals(dba_test.probe_scenario(tag, rows=2500, links="cursor"))["count"])
        self.assertGreater(len([p for p, s in proxy.log if "cursor" in p]), 20)

    def test_page_ignored_without_cursors(self):
        """The same API with page-number links: the verdict stands."""
        tag = "pf_page_nopage"
        proxy = ApiProxy(drop=("page",))
        self.addCleanup(proxy.close)
        t = self.proxied(tag, proxy)
        f = self.probe(t)
        self.assertEqual(f["page past the end"][0],
                         'rows: the API ignores "page" (a page past the end holds the newest calls)')
        self.assertTrue(f["page past the end"][2].startswith(
            "cannot tell: scans of more than one page will fail with SQLSTATE HV00A"))
        self.assertFails("SELECT count(*) FROM (SELECT id FROM %s OFFSET 0) s" % t,
                         FDW_INVALID_STRING_FORMAT, r'a "next" link is not the following page')

    def test_count_at_the_top_of_bigint(self):
        tag = "pf_count_max"
        t = self.server(tag, fault="count_value", count_value="9223372036854775807")
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual(f["page past the end"][0], 'cannot tell: "count" leaves no page number past it')
        self.assertFalse([e for e in log if e["query"].get("page", "1").startswith("-")])


class Links(Base):
    """Finding 6: a "next" link to the page it is on."""

    def test_next_repeat(self):
        tag = "pf_next_repeat"
        t = self.server(tag, fault="next_repeat")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["next links"][0],
                         'refused by the scans: the "next" link repeats the page it is on')
        self.assertTrue(f["next links"][2].startswith(
            "cannot tell: scans of more than one page will fail with SQLSTATE HV00A"))
        # as the scans do
        self.assertFails("SELECT count(creation_time) FROM %s" % t, FDW_INVALID_STRING_FORMAT,
                         r'the "next" link repeats a page already read')


class Limits(Base):
    """Finding 4: the probe works wherever the scans do."""

    def test_max_response_bytes(self):
        tag = "pf_bytes"
        t = self.server(tag, server_opts={"max_response_bytes": "200000"})
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual([e["query"].get("page_size") for e in log], ["100"] + ["1"] * 10)
        self.assertEqual(f["page_size cap"][0],
                         "at least 100 rows per page (page_size; the probe asks for no larger page)")
        self.assertEqual(f["date field"][0], "start_date and end_date filter on creation_time")
        n = query(self.conn, "SELECT count(*) FROM (SELECT id FROM %s OFFSET 0) s" % t)[0][0]
        self.assertEqual(n, 2500)

    def test_max_page_memory(self):
        tag = "pf_memory"
        t = self.server(tag, server_opts={"concurrency": "2"})
        query(self.conn, "SET callogs_fdw.max_page_memory = '1MB'")
        try:
            f = self.probe(t)
            self.assertRequests(f, tag)
            self.assertEqual(f["calls"][0], "2500 calls (the API's count)")
            n = query(self.conn, "SELECT count(*) FROM (SELECT id FROM %s OFFSET 0) s" % t)[0][0]
            self.assertEqual(n, 2500)
        finally:
            query(self.conn, "RESET callogs_fdw.max_page_memory")

    def test_table_page_size_is_used(self):
        tag = "pf_tsize"
        t = self.server(tag, table_opts={"page_size": "40"})
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual(log[0]["query"].get("page_size"), "40")
        self.assertEqual(f["calls"][1], "page_size=40&page=1: 40 rows, count 2500")

    def test_ceiling_above_page_size(self):
        """An API that refuses page_size above 200: scans at 100 work, so does
        the probe."""
        tag = "pf_ceiling_ok"
        proxy = ApiProxy(answer=page_size_ceiling(200))
        self.addCleanup(proxy.close)
        t = self.proxied(tag, proxy)
        f = self.probe(t)
        self.assertEqual(f["page_size cap"][0],
                         "at least 100 rows per page (page_size; the probe asks for no larger page)")
        self.assertEqual(len(proxy.log), 11)
        self.assertEqual(proxy.log[0], ({"page_size": "100", "page": "1"}, 200))
        self.assertEqual([p for p, s in proxy.log if int(p["page_size"]) > 200], [])

    def test_ceiling_below_page_size(self):
        """The table asks for 500, the API refuses above 200: the scans fail
        with a hint on page_size, the probe recommends 100, which works."""
        tag = "pf_ceiling"
        proxy = ApiProxy(answer=page_size_ceiling(200))
        self.addCleanup(proxy.close)
        t = self.proxied(tag, proxy, table_opts={"page_size": "500"})
        e = self.assertFails("SELECT count(*) FROM (SELECT id FROM %s OFFSET 0) s" % t,
                             FDW_INVALID_ATTRIBUTE_VALUE, r"Invalid page_size: at most 200")
        self.assertEqual(e.diag.message_hint,
                         "The API refused page_size=500: lower the option page_size of the foreign "
                         "table or of server \"%s_srv\" (the API's documents suggest 20 to 100); "
                         "SELECT * FROM callogs_fdw_probe('%s_srv', 'public.%s') finds one the API "
                         "accepts." % (t, t, t))
        del proxy.log[:]
        f = self.probe(t)
        self.assertEqual(f["page_size cap"][0],
                         "page_size 500 refused with HTTP 400; page_size 100 accepted")
        self.assertEqual(f["page_size cap"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (SET page_size '100') (required: now "
                         "500, and every query fails with HTTP 400 until then)" % t)
        self.assertEqual(f["page_size cap"][3], 1)
        self.assertEqual(len(proxy.log), 12)
        self.assertEqual(f["requests"][0], '12 questions, 12 requests (retries included) to server "%s_srv"' % t)
        query(self.conn, f["page_size cap"][2].split(" (required")[0])
        n = query(self.conn, "SELECT count(*) FROM (SELECT id FROM %s OFFSET 0) s" % t)[0][0]
        self.assertEqual(n, 2500)

    def test_page_1_refused_whatever_the_size(self):
        """A 400 on page 1 at 100 and at 20: not a page size; the probe's own
        error names both requests."""
        tag = "pf_refuse_all"
        proxy = ApiProxy(answer=lambda params: (400, {"status_code": 400, "message": "Bad Request"}))
        self.addCleanup(proxy.close)
        t = self.proxied(tag, proxy)
        e = self.assertFails("SELECT * FROM callogs_fdw_probe('%s_srv')" % t,
                             FDW_INVALID_ATTRIBUTE_VALUE,
                             r"call logs API answered HTTP 400 Bad Request: Bad Request")
        self.assertIn("page 1 was refused as ?page_size=100&page=1 and as ?page_size=20&page=1",
                      e.diag.message_detail)
        self.assertEqual(len(proxy.log), 2)


class Hints(Base):
    """Findings 4 (the 400 hint), 5, 8."""

    def test_400_without_filters_names_page_size(self):
        tag = "pf_h_400"
        t = self.server(tag, rows=250, fault="400")
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertEqual(e.diag.message_hint,
                         "The API refused a request that sent no filter parameter, only paging "
                         "(page_size=100): lower the option page_size of the foreign table or of "
                         "server \"%s_srv\", or check its url option; SELECT * FROM "
                         "callogs_fdw_probe('%s_srv', 'public.%s') tells what the API accepts."
                         % (t, t, t))
        # a count asks page_size=1: not the page size then, the url
        e = self.assertFails("SELECT count(*) FROM %s" % t, FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertEqual(e.diag.message_hint,
                         "The API refused a request that sent no filter parameter, only paging "
                         "(page_size=1, at most the documented default of 20): check the url option "
                         "of server \"%s_srv\"; SELECT * FROM callogs_fdw_probe('%s_srv', "
                         "'public.%s') tells what the API accepts." % (t, t, t))
        # with a filter sent, pushdown is the suspect
        e = self.assertFails("SELECT count(id) FROM %s WHERE call_status = 'missed'" % t,
                             FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertEqual(e.diag.message_hint,
                         "The API refused a query parameter; set the table option pushdown to false "
                         "to send only paging parameters.")

    def test_date_hint_is_sql_that_runs(self):
        tag = "pf_h_date"
        t = self.server(tag, rows=250, dates="timestamp_only")
        query(self.conn, 'DROP SCHEMA IF EXISTS "My Sch" CASCADE')
        query(self.conn, 'CREATE SCHEMA "My Sch"')
        self.addCleanup(query, self.conn, 'DROP SCHEMA IF EXISTS "My Sch" CASCADE')
        query(self.conn, 'ALTER SERVER %s_srv RENAME TO "Weird Srv"' % t)
        self.addCleanup(query, self.conn, 'DROP SERVER IF EXISTS "Weird Srv" CASCADE')
        query(self.conn, 'ALTER FOREIGN TABLE %s RENAME TO "Odd Tbl"' % t)
        query(self.conn, 'ALTER FOREIGN TABLE "Odd Tbl" SET SCHEMA "My Sch"')
        e = self.assertFails('SELECT count(id) FROM "My Sch"."Odd Tbl" WHERE creation_time > \'2025-11-29\'',
                             FDW_INVALID_ATTRIBUTE_VALUE, r"Invalid start_date")
        call = "SELECT * FROM callogs_fdw_probe('Weird Srv', '\"My Sch\".\"Odd Tbl\"')"
        self.assertEqual(e.diag.message_hint,
                         "The API refused a date bound sent as a bare date: set the option "
                         "date_format of foreign table \"Odd Tbl\" to 'timestamp', or date_column to "
                         "'' to send no date bounds; %s shows which format and date field the API "
                         "uses." % call)
        rows = query(self.conn, call)
        self.assertEqual(dict((r[0], r[1]) for r in rows)["date format"],
                         "timestamps only: a bare date gets an error")

    def test_404_claims_only_what_was_observed(self):
        """$E/wrong: adding "/" would not help; the hint does not say it would."""
        t = self.server("pf_h_wrong", rows=250)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(EMU + "/wrong")))
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_TABLE_NOT_FOUND)
        self.assertEqual(e.diag.message_hint,
                         "The path of the url of server \"%s_srv\" does not end in \"/\", and the "
                         "documented path is /api/v2/platform/call-logs/: check the url option." % t)
        # what the old hint proposed answers 404 too
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(EMU + "/wrong/")))
        self.assertFails("SELECT count(id) FROM %s" % t, FDW_TABLE_NOT_FOUND)


class ColumnAdvice(Base):
    """Finding 7: a field option that is set is changed with SET."""

    def test_field_option_set(self):
        tag = "pf_field"
        cols = "id text, src text OPTIONS (field 'source_numbr'), creation_time timestamptz"
        t = self.server(tag, columns=cols)
        f = self.probe(t)
        rec = f["column src"][2]
        self.assertIn("ALTER FOREIGN TABLE public.%s ALTER COLUMN src OPTIONS (SET field '...')" % t, rec)
        # the command, with the right field, runs (ADD would fail: "provided more than once")
        query(self.conn, re.search(r"(ALTER FOREIGN TABLE .*?\))", rec).group(1)
              .replace("'...'", "'source_number'"))
        self.assertEqual(query(self.conn, "SELECT count(src) FROM %s" % t)[0][0], 2500)
        emu_reset(tag)
        self.assertEqual(self.probe(t)["columns"][0],
                         "every column's JSON field appears on the first page")

    def test_unknown_relation(self):
        """'0' is OID 0 for a regclass parameter (it printed "(null)" is not a
        foreign table), a name that names nothing for a text one."""
        t = self.server("pf_oid0", rows=250)
        self.assertFails("SELECT * FROM callogs_fdw_probe('%s_srv', '0')" % t,
                         "42P01", r'^relation (with OID 0|"0") does not exist')


class Unloading(unittest.TestCase):
    """Finding 9: ALTER SYSTEM SET callogs_fdw.rate_limit_servers, then the
    library leaves shared_preload_libraries: no WARNING in the sessions
    that load it, and the value waits for the next preload."""

    @staticmethod
    def restart(pg):
        subprocess.run(pg.user + [os.path.join(pg.pgbin, "pg_ctl"), "-D",
                                  os.path.join(pg.work, "data"), "-w", "-l", pg.log, "restart"],
                       check=True, stdout=subprocess.DEVNULL)

    def test_rate_limit_servers_left_behind(self):
        with ThrowawayCluster() as pg:
            conn = pg.connect()
            query(conn, "ALTER SYSTEM SET shared_preload_libraries = 'callogs_fdw'")
            conn.close()
            self.restart(pg)
            conn = pg.connect()
            query(conn, "CREATE EXTENSION callogs_fdw")
            query(conn, "ALTER SYSTEM SET callogs_fdw.rate_limit_servers = 64")
            query(conn, "ALTER SYSTEM RESET shared_preload_libraries")
            conn.close()
            self.restart(pg)
            conn = pg.connect()
            notices = []
            conn.notices = notices
            self.assertEqual(query(conn, "SHOW shared_preload_libraries"), [("",)])
            query(conn, "LOAD 'callogs_fdw'")
            query(conn, "SELECT * FROM callogs_fdw_stats()")
            self.assertEqual(notices, [])
            self.assertEqual(query(conn, "SHOW callogs_fdw.rate_limit_servers"), [("64",)])
            # preloaded again, the value is the one in effect
            query(conn, "ALTER SYSTEM SET shared_preload_libraries = 'callogs_fdw'")
            conn.close()
            self.restart(pg)
            conn = pg.connect()
            self.assertEqual(query(conn, "SELECT setting, context FROM pg_settings "
                                         "WHERE name = 'callogs_fdw.rate_limit_servers'"),
                             [("64", "postmaster")])
            conn.close()
            log = pg.server_log()
        self.assertNotIn("invalid configuration parameter name", log)
        self.assertNotIn("TRAP:", log)


if __name__ == "__main__":
    unittest.main()
