"""A DBA's first hour with callogs_fdw (issue 14).

* callogs_fdw_probe(): every shape of provider it claims to detect, with the
  number of requests it sent (its own count and the emulator's log);
  bounded, cancellable, superuser or server owner only, no token anywhere.
* Hints that lead to the right option: a 400 naming a date parameter, a
  missing user mapping for a role that may not create one, a url path
  without its trailing slash or without any path, connection refused.
* The README's read-only analyst role: exactly the grants and mapping it
  needs, and nothing more.
* docs/caching.md, "Providers without id": the materialized view and the
  incremental refresh keyed on (source_number, destination_number,
  creation_time), on variant B while new calls push rows across pages; the
  same recipes without DISTINCT ON fail, which is why it is there.
* The view callogs_fdw_activity, from a second session while a slow scan
  runs (a throwaway cluster with callogs_fdw in shared_preload_libraries):
  pages done of pages known, rows, requests in flight, a Retry-After wait,
  one row per partition of an asynchronous Append, nothing left after an
  error, other roles' details hidden; without preloading, a NOTICE.

    /usr/bin/python3 -m unittest -q test/dba_test.py
"""

import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
from pgcluster import ThrowawayCluster  # noqa: E402

DB = "dba_test"
ANALYST = "callogs_dba_analyst"
OWNER = "callogs_dba_owner"
ANCHOR = "2025-11-30T12:00:00Z"     # fixed data: the probe's answers never move
FAST = {"retry_max_wait_ms": "10", "max_retries": "1"}


def setUpModule():
    drop_database(DB)
    for r in (ANALYST, OWNER):
        drop_role(r)
    conn = recreate_database(DB)
    with conn.cursor() as cur:
        cur.execute("CREATE ROLE %s LOGIN" % ANALYST)
        cur.execute("CREATE ROLE %s LOGIN" % OWNER)
        cur.execute("GRANT USAGE ON FOREIGN DATA WRAPPER callogs_fdw TO %s" % OWNER)
    conn.close()


def tearDownModule():
    drop_database(DB)
    for r in (ANALYST, OWNER):
        drop_role(r)


_n = [0]


def next_name(prefix="d"):
    _n[0] += 1
    return "%s%d" % (prefix, _n[0])


class FilterDroppingProxy:
    """A misbehaving API in front of the emulator: forwards every request
    without the parameters named in drop (by default the filters: an API
    that ignores them), with the parameters of `set` replaced, and the body
    passed through rewrite."""

    DROP = ("start_date", "end_date", "call_type", "call_status")

    def __init__(self, drop=DROP, set=None, rewrite=None):
        import http.server
        import urllib.parse

        override = dict(set or {})
        rewrite = rewrite or (lambda body: body)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path, _, q = self.path.partition("?")
                kept = [(k, override.get(k, v))
                        for k, v in urllib.parse.parse_qsl(q, keep_blank_values=True)
                        if k not in drop]
                status, body = emu_forward(self, path, kept)
                body = rewrite(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def probe_scenario(tag, **kw):
    kw.setdefault("anchor", ANCHOR)
    return scenario(tag, **kw)


class DbaBase(FdwTestCase):
    DB = DB

    def server(self, tag, rows=2500, server_opts=None, table_opts=None, columns=COLUMNS, **kw):
        """A server, mapping and table on a fresh scenario; returns the table name."""
        name = next_name()
        emu_reset(tag)
        so = dict(FAST)
        so.update(server_opts or {})
        create_table(self.conn, name, probe_scenario(tag, rows=rows, **kw),
                     server_opts=so, table_opts=table_opts, columns=columns)
        return name

    def probe(self, name, table=True, conn=None):
        """The probe's rows as {fact: (finding, evidence, recommendation, requests)}."""
        rows = query(conn or self.conn,
                     "SELECT fact, finding, evidence, recommendation, requests "
                     "FROM callogs_fdw_probe(%s, %s)",
                     ("%s_srv" % name, name if table else None))
        facts = {}
        for fact, finding, evidence, rec, n in rows:
            self.assertNotIn(fact, facts, "fact %s twice" % fact)
            facts[fact] = (finding, evidence, rec, n)
        return facts

    def assertRequests(self, facts, tag):
        """The probe's own count of requests (retries included) is the
        emulator's; its questions are the sum of the facts' requests, at
        most 11."""
        log = wait_emu_quiet(tag)
        total = facts["requests"][3]
        self.assertEqual(total, len(log))
        questions = int(re.match(r"(\d+) questions, (\d+) requests \(retries included\)",
                                 facts["requests"][0]).group(1))
        self.assertEqual(sum(v[3] for k, v in facts.items() if k != "requests"), questions)
        self.assertLessEqual(questions, 11)
        self.assertTrue(all(e["auth_ok"] for e in log), "a request without the right token")
        return log


class Probe(DbaBase):
    """callogs_fdw_probe against a scenario of every shape it detects."""

    def test_documented_defaults(self):
        tag = "dba_p_default"
        t = self.server(tag)
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual(len(log), 11)
        self.assertEqual(f["calls"][0], "2500 calls (the API's count)")
        self.assertEqual(f["page_size cap"][0],
                         "at least 100 rows per page (page_size; the probe asks for no larger page)")
        self.assertTrue(f["next links"][0].startswith("page numbers"))
        self.assertEqual(f["row ids"][0], 'every call carries an "id"')
        self.assertEqual(f["page past the end"][0], "HTTP 404")
        self.assertIn("Invalid page.", f["page past the end"][1])
        self.assertEqual(f["date format"][0], "timestamps and bare dates")
        self.assertEqual(f["date format"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (ADD date_format 'timestamp') "
                         "(exact bounds: fewer rows fetched than whole days widened by 16 hours)" % t)
        self.assertEqual(f["date field"][0], "start_date and end_date filter on creation_time")
        self.assertEqual(f["date field"][2],
                         "nothing to change (date_column is 'creation_time', which reads JSON field creation_time)")
        self.assertEqual(f["end_date bound"][0], "inclusive")
        self.assertEqual(f["start_date bound"][0], "inclusive")
        self.assertTrue(f["filter values"][0].startswith("case-sensitive"))
        self.assertEqual(f["call_status filter"][0], "applied")
        self.assertEqual(f["columns"][0], "every column's JSON field appears on the first page")
        # the first question asks for a page as the scans do, every other one for one row
        sizes = [e["query"].get("page_size") for e in log]
        self.assertEqual(sizes, ["100"] + ["1"] * 10)

    def test_date_field_start_time(self):
        tag = "dba_p_start"
        t = self.server(tag, date_field="start_time")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["date field"][0], "start_date and end_date filter on start_time")
        self.assertEqual(f["date field"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (ADD date_column 'start_time') "
                         "(now 'creation_time', which reads JSON field creation_time; a wrong "
                         "date_column loses rows)" % t)
        # the recommendation is a command that works, and then the probe agrees
        query(self.conn, f["date field"][2].split(" (now")[0])
        emu_reset(tag)
        f = self.probe(t)
        self.assertEqual(f["date field"][2],
                         "nothing to change (date_column is 'start_time', which reads JSON field start_time)")

    def test_date_field_end_time(self):
        tag = "dba_p_end"
        t = self.server(tag, date_field="end_time")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["date field"][0], "start_date and end_date filter on end_time")

    def test_end_exclusive(self):
        tag = "dba_p_excl"
        t = self.server(tag, end_exclusive=1)
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["end_date bound"][0], "exclusive")
        self.assertEqual(f["start_date bound"][0], "inclusive")
        self.assertEqual(f["date field"][0], "start_date and end_date filter on creation_time")

    def test_dates_timestamp_only(self):
        tag = "dba_p_tsonly"
        t = self.server(tag, dates="timestamp_only")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["date format"][0], "timestamps only: a bare date gets an error")
        self.assertIn("HTTP 400 (Invalid start_date: 1970-01-01)", f["date format"][1])
        self.assertEqual(f["date format"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (ADD date_format 'timestamp') "
                         "(required: queries with a date condition fail with HTTP 400 until then)" % t)

    def test_dates_date_only(self):
        tag = "dba_p_dateonly"
        # the end_date question compares with the newest day's calls: a page
        # of 1000 holds them all (one of 100 does not: see the next test)
        t = self.server(tag, dates="date_only", table_opts={"date_format": "timestamp"},
                        server_opts={"page_size": "1000"})
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual(len(log), 7)      # no timestamp windows: one end_date question
        self.assertEqual(f["date format"][0], "bare dates only: a timestamp gets an error")
        self.assertEqual(f["date format"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (SET date_format 'date') "
                         "(required: queries with a date condition fail with HTTP 400 until then)" % t)
        self.assertTrue(f["date field"][0].startswith("cannot tell"))
        self.assertEqual(f["end_date bound"][0], "inclusive")

    def test_dates_date_only_exclusive(self):
        tag = "dba_p_dateonly_x"
        t = self.server(tag, dates="date_only", end_exclusive=1, server_opts={"page_size": "1000"})
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["end_date bound"][0], "exclusive")

    def test_dates_date_only_page_short_of_the_day(self):
        """A first page of 100 calls does not reach back to the start of the
        newest call's day (about 96 calls before noon): the end_date question
        would compare with calls it has not seen, so it is not asked."""
        tag = "dba_p_dateonly_short"
        t = self.server(tag, dates="date_only", end_exclusive=1)
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual(len(log), 6)
        self.assertEqual(f["end_date bound"][:2],
                         ("cannot tell: the first page does not reach back to the start of its "
                          "newest call's day",
                          "100 calls on the first page, the oldest created at "
                          "2025-11-29T23:55:08.992Z, the longest ending 3541 s after its creation; "
                          "the newest call's day starts at 2025-11-30T00:00:00.000Z"))

    def test_dates_date_only_variant_b_start_time(self):
        """Bare dates, and missed calls without start_time: the probe sees
        that a date filter drops them, so creation_time would lose them."""
        tag = "dba_p_dateonly_b"
        t = self.server(tag, dates="date_only", variant="b", date_field="start_time")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertTrue(f["date field"][0].startswith("start_time or end_time"), f["date field"])
        self.assertTrue(f["date field"][2].startswith(
            "ALTER FOREIGN TABLE public.%s OPTIONS (ADD date_column 'start_time')" % t))

    def test_cap_50(self):
        tag = "dba_p_cap"
        t = self.server(tag, cap=50)
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["page_size cap"][0], "at most 50 rows per page")
        self.assertEqual(f["page_size cap"][2],
                         "ALTER SERVER %s_srv OPTIONS (ADD page_size '50') (now 100; larger pages come back short)" % t)
        # the timestamp windows still work within 50 rows
        self.assertEqual(f["date field"][0], "start_date and end_date filter on creation_time")

    def test_links(self):
        for links, finding in (("0", "none: pages are asked for by number"),
                               ("1", "page numbers: pages are fetched by number, concurrency at a time"),
                               ("cursor", "opaque cursors: pages are followed one after another "
                                          "(concurrency does not apply)")):
            with self.subTest(links=links):
                tag = "dba_p_links_" + links
                t = self.server(tag, links=links)
                f = self.probe(t)
                log = self.assertRequests(f, tag)
                self.assertEqual(f["next links"][0], finding)
                # a link is looked at, never followed: no cursor was ever sent
                self.assertFalse(any("cursor" in e["query"] for e in log))

    def test_case_insensitive(self):
        tag = "dba_p_case"
        t = self.server(tag, case_insensitive=1)
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertRegex(f["filter values"][0], r"^case-insensitive: '[A-Z]+' counts as '[a-z]+'$")
        tag = "dba_p_case_exact"
        t = self.server(tag)
        f = self.probe(t)
        self.assertRegex(f["filter values"][0], r"^case-sensitive: '[A-Z]+' gets HTTP 400$")

    def test_variant_b(self):
        """No ids, no bridge: the probe says so, and names the column whose
        field no call carries."""
        tag = "dba_p_b"
        t = self.server(tag, variant="b")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["row ids"][0], 'no call carries an "id"')
        self.assertIn("docs/caching.md", f["row ids"][2])
        self.assertEqual(f["column id"][0], 'JSON field "id" appears in none of the 100 calls '
                                            'of the first page: the column is NULL in every row')
        self.assertIn("column bridge", f)
        self.assertNotIn("column call_duration", f)
        self.assertNotIn("columns", f)

    def test_past_end_empty(self):
        tag = "dba_p_empty"
        t = self.server(tag, past_end="empty")
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["page past the end"][0], "an empty page")

    def test_misspelled_column_and_field_option(self):
        tag = "dba_p_cols"
        cols = "id text, source_numbr text, creation_time timestamptz, dur interval OPTIONS (field 'call_duration'), org text OPTIONS (field '@org_handle')"
        t = self.server(tag, columns=cols)
        f = self.probe(t)
        self.assertRequests(f, tag)
        missing = sorted(k for k in f if k.startswith("column "))
        self.assertEqual(missing, ["column source_numbr"])
        self.assertIn("source_number", f["column source_numbr"][1])
        self.assertIn("ALTER FOREIGN TABLE public.%s ALTER COLUMN source_numbr OPTIONS (ADD field '...')" % t,
                      f["column source_numbr"][2])

    def test_without_table(self):
        tag = "dba_p_notable"
        t = self.server(tag)
        f = self.probe(t, table=False)
        self.assertRequests(f, tag)
        self.assertEqual(f["columns"][0], "cannot tell: no foreign table given")
        self.assertEqual(f["date format"][2],
                         "set the option date_format to 'timestamp' on the foreign tables of server "
                         "%s_srv (exact bounds: fewer rows fetched than whole days widened by 16 hours)" % t)

    def test_api_ignores_filters(self):
        """A provider that ignores start_date, end_date and call_status (a
        proxy in front of the emulator drops them): no date field matches,
        every window counts everything, and count(*) pushdown would be
        wrong, so the probe recommends date_column '' and pushdown 'false'."""
        tag = "dba_p_ignore"
        t = self.server(tag, links=0)
        proxy = FilterDroppingProxy()
        self.addCleanup(proxy.close)
        url = emu_url(probe_scenario(tag, rows=2500, links=0), port=proxy.port)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(url)))
        f = self.probe(t)
        self.assertRequests(f, tag)
        self.assertEqual(f["date field"][0], "none: the API ignores start_date and end_date")
        self.assertEqual(f["date field"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (ADD date_column '') "
                         "(now 'creation_time', which reads JSON field creation_time; dates are "
                         "filtered locally)" % t)
        self.assertNotIn("end_date bound", f)
        self.assertEqual(f["call_status filter"][0], "ignored: the API counts every call for one status")
        self.assertEqual(f["call_status filter"][2],
                         "ALTER FOREIGN TABLE public.%s OPTIONS (ADD pushdown 'false') "
                         "(count(*) would trust the API's count)" % t)
        # what the recommendation prevents: a pushed-down count(*) that is wrong
        wrong = query(self.conn, "SELECT count(*) FROM %s WHERE call_status = 'missed'" % t)[0][0]
        self.assertEqual(wrong, 2500)
        query(self.conn, f["call_status filter"][2].split(" (count")[0])
        right = query(self.conn, "SELECT count(*) FROM %s WHERE call_status = 'missed'" % t)[0][0]
        self.assertEqual(right, emu_totals(probe_scenario(tag, rows=2500, links=0))["by_status"]["missed"])

    def test_api_ignores_page_size(self):
        tag = "dba_p_nosize"
        t = self.server(tag, links=0)
        proxy = FilterDroppingProxy(drop=(), set={"page_size": "1500"})
        self.addCleanup(proxy.close)
        url = emu_url(probe_scenario(tag, rows=2500, links=0, cap=5000), port=proxy.port)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(url)))
        f = self.probe(t)
        self.assertEqual(f["page_size cap"][:3],
                         ("none: the API ignores page_size", "asked for 100 rows, got 1500",
                          "cannot tell: scans count pages by page_size; report it to the API's provider"))

    def test_ids_repeat(self):
        """Ids shared by several calls: the scans would drop all but one."""
        tag = "dba_p_sameid"
        t = self.server(tag, links=0)
        proxy = FilterDroppingProxy(drop=(), rewrite=lambda body: re.sub(
            rb'"id": ?"call_[0-9a-f]{11}', b'"id": "call_0', body))
        self.addCleanup(proxy.close)
        url = emu_url(probe_scenario(tag, rows=2500, links=0), port=proxy.port)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(url)))
        f = self.probe(t)
        self.assertEqual(f["row ids"][0], "ids repeat: 100 calls carry 16 distinct ids")
        self.assertTrue(f["row ids"][2].startswith("cannot tell: scans drop a call whose id"))

    def test_retries_are_counted(self):
        """A 503 on one question is retried by the transport: the probe
        counts the request, and the emulator saw it."""
        tag = "dba_p_retry"
        t = self.server(tag, fault="503", fault_times=1, fault_after=2)
        f = self.probe(t)
        log = self.assertRequests(f, tag)
        self.assertEqual(len(log), 12)
        self.assertEqual(f["requests"][0], '11 questions, 12 requests (retries included) to server "%s_srv"' % t)

    def test_no_token_anywhere(self):
        tag = "dba_p_token"
        t = self.server(tag)
        pos = server_log_size()
        rows = query(self.conn, "SELECT * FROM callogs_fdw_probe(%s, %s)", ("%s_srv" % t, t))
        self.assertNotIn(TOKEN, repr(rows))
        self.assertNotIn(TOKEN, server_log_since(pos))


class ProbeRules(DbaBase):
    """Who may probe, what it refuses, and that it is cancellable."""

    def test_owner_or_superuser_only(self):
        tag = "dba_r_owner"
        t = self.server(tag)
        query(self.conn, "GRANT USAGE ON FOREIGN SERVER %s_srv TO %s" % (t, ANALYST))
        query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token %s)"
              % (ANALYST, t, sql_literal(TOKEN)))
        c = connect(DB, user=ANALYST)
        try:
            e = query_error(c, "SELECT * FROM callogs_fdw_probe('%s_srv')" % t)
            self.assertSqlState(e, INSUFFICIENT_PRIVILEGE,
                                r'permission denied to probe server "%s_srv"' % t)
        finally:
            c.close()
        self.assertEqual(emu_log(tag), [])
        # its owner may (a loopback url needs the superuser's setting)
        query(self.conn, "ALTER SERVER %s_srv OWNER TO %s" % (t, OWNER))
        query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token %s)"
              % (OWNER, t, sql_literal(TOKEN)))
        try:
            query(self.conn, "SET callogs_fdw.allow_insecure_url = on")
            query(self.conn, "SET ROLE %s" % OWNER)
            f = self.probe(t, table=False)
            self.assertEqual(f["calls"][0], "2500 calls (the API's count)")
        finally:
            query(self.conn, "RESET ROLE")
            query(self.conn, "RESET callogs_fdw.allow_insecure_url")

    def test_table_of_another_server(self):
        a = self.server("dba_r_a")
        b = self.server("dba_r_b")
        self.assertFails("SELECT * FROM callogs_fdw_probe('%s_srv', '%s')" % (a, b), "22023",
                         r'foreign table "%s" is not on server "%s_srv"' % (b, a))
        self.assertFails("SELECT * FROM callogs_fdw_probe('%s_srv', 'pg_class')" % a, "42809")
        self.assertEqual(emu_log("dba_r_a"), [])

    def test_no_org_handle(self):
        tag = "dba_r_noorg"
        t = self.server(tag)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (DROP org_handle)" % t)
        query(self.conn, "ALTER FOREIGN TABLE %s OPTIONS (ADD org_handle 'acme')" % t)
        self.assertFails("SELECT * FROM callogs_fdw_probe('%s_srv')" % t, FDW_OPTION_NAME_NOT_FOUND,
                         r"has no org_handle")
        f = self.probe(t)
        self.assertEqual(f["calls"][0], "2500 calls (the API's count)")

    def test_first_page_errors_are_the_scans(self):
        tag = "dba_r_401"
        t = self.server(tag)
        query(self.conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (SET token 'wrong')" % t)
        self.assertFails("SELECT * FROM callogs_fdw_probe('%s_srv')" % t, INVALID_AUTH, r"token")
        self.assertEqual(len(emu_log(tag)), 1)

    def test_cancel(self):
        """statement_timeout stops the probe within a second of it."""
        tag = "dba_r_cancel"
        t = self.server(tag, latency=3000)
        c = connect(DB)
        try:
            query(c, "SET statement_timeout = '500ms'")
            start = time.time()
            e = query_error(c, "SELECT * FROM callogs_fdw_probe('%s_srv')" % t)
            elapsed = time.time() - start
        finally:
            c.close()
        self.assertSqlState(e, QUERY_CANCELED)
        self.assertLess(elapsed, 1.5 + 1.0)


class Hints(DbaBase):
    """Each hint, by its text."""

    def test_400_on_a_date_parameter(self):
        tag = "dba_h_date"
        t = self.server(tag, rows=250, dates="timestamp_only")
        e = self.assertFails("SELECT count(id) FROM %s WHERE creation_time > '2025-11-29'" % t,
                             FDW_INVALID_ATTRIBUTE_VALUE, r"Invalid start_date")
        self.assertEqual(
            e.diag.message_hint,
            "The API refused a date bound sent as a bare date: set the option date_format of "
            "foreign table \"%s\" to 'timestamp', or date_column to '' to send no date bounds; "
            "SELECT * FROM callogs_fdw_probe('%s_srv', 'public.%s') shows which format and date "
            "field the API uses." % (t, t, t))
        # the advice works: the same rows as without any date pushdown
        query(self.conn, "ALTER FOREIGN TABLE %s OPTIONS (ADD date_format 'timestamp')" % t)
        n = query(self.conn, "SELECT count(id) FROM %s WHERE creation_time > '2025-11-29'" % t)[0][0]
        local = query(self.conn, "SELECT count(id) FROM (SELECT id, creation_time FROM %s OFFSET 0) s "
                                 "WHERE creation_time > '2025-11-29'" % t)[0][0]
        self.assertEqual(n, local)
        self.assertGreater(n, 0)
        # a timestamp refused names the other format
        tag2 = "dba_h_date2"
        t2 = self.server(tag2, rows=250, dates="date_only", table_opts={"date_format": "timestamp"})
        e = self.assertFails("SELECT count(id) FROM %s WHERE creation_time > '2025-11-29'" % t2,
                             FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertIn("sent as a timestamp", e.diag.message_hint)
        self.assertIn("to 'date'", e.diag.message_hint)

    def test_400_elsewhere_keeps_the_pushdown_hint(self):
        """A filter was sent: pushdown is the suspect (test/probe_test.py:
        without any filter, page_size is)."""
        tag = "dba_h_400"
        t = self.server(tag, rows=250, fault="400")
        e = self.assertFails("SELECT count(id) FROM %s WHERE call_type = 'inbound'" % t,
                             FDW_INVALID_ATTRIBUTE_VALUE)
        self.assertEqual(e.diag.message_hint,
                         "The API refused a query parameter; set the table option pushdown to false "
                         "to send only paging parameters.")

    def test_url_without_trailing_slash(self):
        tag = "dba_h_slash"
        t = self.server(tag, rows=250)
        url = query(self.conn, "SELECT option_value FROM pg_options_to_table("
                               "(SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s)) "
                               "WHERE option_name = 'url'", ("%s_srv" % t,))[0][0]
        self.assertTrue(url.endswith("/"))
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(url[:-1])))
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_TABLE_NOT_FOUND)
        self.assertEqual(e.diag.message_hint,
                         "The path of the url of server \"%s_srv\" is the documented "
                         "/api/v2/platform/call-logs/ without its final \"/\": ALTER SERVER %s_srv "
                         "OPTIONS (SET url '%s')." % (t, t, url))
        query(self.conn, re.search(r"(ALTER SERVER .*)\.$", e.diag.message_hint).group(1))
        self.assertEqual(query(self.conn, "SELECT count(id) FROM %s" % t)[0][0], 250)

    def test_url_without_path(self):
        t = self.server("dba_h_nopath", rows=250)
        base = "http://127.0.0.1:%s" % EMU_PORT
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url %s)" % (t, sql_literal(base)))
        # the emulator's default scenario expects its command line's token
        query(self.conn, "ALTER USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (SET token 'secret')" % t)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_TABLE_NOT_FOUND)
        self.assertEqual(e.diag.message_hint,
                         "The url of server \"%s_srv\" has no path, and the Call Logs API answers at "
                         "/api/v2/platform/call-logs/: ALTER SERVER %s_srv OPTIONS (SET url "
                         "'%s/api/v2/platform/call-logs/')." % (t, t, base))
        # the request line keeps its query (GET /?...), not "GET /"
        self.assertIn("Request: GET /?page_size=100&page=1 on server", e.diag.message_detail)
        plan = "\n".join(r[0] for r in query(self.conn, "EXPLAIN (COSTS OFF) SELECT * FROM %s "
                                                        "WHERE call_status = 'missed'" % t))
        self.assertIn("API Request: GET /?call_status=missed&page_size=100", plan)
        query(self.conn, re.search(r"(ALTER SERVER .*)\.$", e.diag.message_hint).group(1))
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % t)[0][0], emu_totals("")["count"])

    def test_connection_refused(self):
        t = self.server("dba_h_refused", rows=250)
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET url 'http://127.0.0.1:9/api/v2/platform/call-logs/')" % t)
        e = self.assertFails("SELECT count(id) FROM %s" % t, FDW_UNABLE_TO_CONNECT, r"Couldn't connect")
        self.assertEqual(e.diag.message_hint,
                         "Nothing accepted the connection: check the host and port in the url option "
                         "of server \"%s_srv\", and that the API can be reached from the database "
                         "server." % t)

    def test_duration_in_an_integer_column(self):
        cols = "id text, call_duration integer"
        t = self.server("dba_h_dur", rows=250, columns=cols)
        e = self.assertFails("SELECT call_duration FROM %s" % t, "22P02")
        self.assertRegex(e.diag.message_primary, r'^invalid input syntax for type integer: "\d+:\d\d:\d\d"$')
        self.assertEqual(e.diag.message_hint,
                         'The API sends a duration (H:MM:SS): declare column "call_duration" as interval.')
        self.assertIn('column "call_duration" (JSON field "call_duration")', e.diag.context)
        # the advice works; variant B's integer seconds fill an integer column
        query(self.conn, "ALTER FOREIGN TABLE %s ALTER COLUMN call_duration TYPE interval" % t)
        self.assertEqual(query(self.conn, "SELECT count(call_duration) FROM %s" % t)[0][0], 250)
        tb = self.server("dba_h_dur_b", rows=250, columns=cols, variant="b")
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s WHERE call_duration >= 0" % tb)[0][0], 250)
        # another string in an integer column: the input function's error, no hint
        tc = self.server("dba_h_dur_c", rows=250, columns="id text, end_reason bigint")
        e = self.assertFails("SELECT end_reason FROM %s" % tc, "22P02")
        self.assertIsNone(e.diag.message_hint)

    def test_missing_mapping_for_a_role_that_may_not_create_one(self):
        """The analyst has SELECT on the table but no USAGE on the server: the
        hint says whom to ask for what, not a command that fails."""
        t = self.server("dba_h_map", rows=250)
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, ANALYST))
        c = connect(DB, user=ANALYST)
        self.addCleanup(c.close)
        e = query_error(c, "SELECT count(id) FROM %s" % t)
        self.assertSqlState(e, FDW_OPTION_NAME_NOT_FOUND, r'no user mapping for user "%s"' % ANALYST)
        self.assertEqual(e.diag.message_hint,
                         "Only the owner of server \"%s_srv\" (role \"postgres\") may create it: ask for "
                         "CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token '...'), or for one FOR "
                         "PUBLIC that every role uses." % (t, ANALYST, t))
        # the command the old hint gave fails for this role
        e2 = query_error(c, "CREATE USER MAPPING FOR CURRENT_USER SERVER %s_srv OPTIONS (token 'x')" % t)
        self.assertSqlState(e2, INSUFFICIENT_PRIVILEGE, r"permission denied for foreign server")
        # the one it names works, run by the owner
        query(self.conn, e.diag.message_hint.split("ask for ")[1].split(", or for one")[0]
              .replace("'...'", sql_literal(TOKEN)))
        self.assertEqual(query(c, "SELECT count(id) FROM %s" % t)[0][0], 250)

    def test_missing_mapping_for_a_role_with_usage(self):
        t = self.server("dba_h_map2", rows=250)
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, ANALYST))
        query(self.conn, "GRANT USAGE ON FOREIGN SERVER %s_srv TO %s" % (t, ANALYST))
        c = connect(DB, user=ANALYST)
        self.addCleanup(c.close)
        e = query_error(c, "SELECT count(id) FROM %s" % t)
        self.assertEqual(e.diag.message_hint,
                         "Create one with CREATE USER MAPPING FOR CURRENT_USER SERVER %s_srv "
                         "OPTIONS (token '...')." % t)

    def test_public_mapping_without_token(self):
        t = self.server("dba_h_pub", rows=250)
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, ANALYST))
        query(self.conn, "CREATE USER MAPPING FOR PUBLIC SERVER %s_srv" % t)
        c = connect(DB, user=ANALYST)
        self.addCleanup(c.close)
        e = query_error(c, "SELECT count(id) FROM %s" % t)
        self.assertSqlState(e, FDW_OPTION_NAME_NOT_FOUND, r"has no token")
        self.assertEqual(e.diag.message_hint,
                         "The PUBLIC user mapping is used, and only the owner of server \"%s_srv\" "
                         "(role \"postgres\") may change it: ask for ALTER USER MAPPING FOR PUBLIC "
                         "SERVER %s_srv OPTIONS (ADD token '...'), or for a mapping of your own." % (t, t))


class AnalystRecipe(DbaBase):
    """The README's read-only analyst role, statement for statement."""

    def test_recipe(self):
        t = self.server("dba_analyst", rows=250)
        role = "callogs_dba_reader"
        drop_role(role)
        # -- the recipe (README, "A read-only analyst role")
        query(self.conn, "CREATE ROLE %s LOGIN" % role)
        self.addCleanup(drop_role, role)
        self.addCleanup(query, self.conn, "DROP OWNED BY %s" % role)
        query(self.conn, "GRANT USAGE ON SCHEMA public TO %s" % role)
        query(self.conn, "GRANT SELECT ON %s TO %s" % (t, role))
        query(self.conn, "CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token %s)"
              % (role, t, sql_literal(TOKEN)))
        # -- what it may do
        c = connect(DB, user=role)
        self.addCleanup(c.close)
        self.assertEqual(query(c, "SELECT count(id) FROM %s" % t)[0][0], 250)
        self.assertEqual(query(c, "SELECT count(*) FROM %s WHERE call_status = 'missed'" % t)[0][0],
                         emu_totals(probe_scenario("dba_analyst", rows=250))["by_status"]["missed"])
        # -- and what it may not: read the token, change the mapping or the
        # server, probe, write
        self.assertEqual(query(c, "SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = %s "
                                  "ORDER BY 1", ("%s_srv" % t,)),
                         [(role, None), ("postgres", None)])
        self.assertSqlState(query_error(c, "ALTER USER MAPPING FOR CURRENT_USER SERVER %s_srv "
                                           "OPTIONS (SET token 'x')" % t), INSUFFICIENT_PRIVILEGE)
        self.assertSqlState(query_error(c, "ALTER SERVER %s_srv OPTIONS (SET page_size '5')" % t),
                            INSUFFICIENT_PRIVILEGE)
        self.assertSqlState(query_error(c, "SELECT * FROM callogs_fdw_probe('%s_srv')" % t),
                            INSUFFICIENT_PRIVILEGE)
        self.assertSqlState(query_error(c, "CREATE FOREIGN TABLE x (id text) SERVER %s_srv" % t),
                            INSUFFICIENT_PRIVILEGE)
        self.assertIsNotNone(query_error(c, "DELETE FROM %s" % t))


# docs/caching.md, section 4: the recipes for providers without "id"
NOID_COLUMNS = """
  source_number text, destination_number text, call_type text, call_status text,
  creation_time timestamptz, start_time timestamptz, end_time timestamptz,
  call_duration interval, end_reason text
"""
NOID_COLS = ("source_number, destination_number, call_type, call_status, creation_time, "
             "start_time, end_time, call_duration, end_reason")
NOID_KEY = "source_number, destination_number, creation_time"
NOID_MV = """
CREATE MATERIALIZED VIEW {mv} AS
  SELECT DISTINCT ON (source_number, destination_number, creation_time) *
    FROM {t}
   ORDER BY source_number, destination_number, creation_time;
CREATE UNIQUE INDEX ON {mv} (source_number, destination_number, creation_time);
"""
NOID_LOCAL = """
CREATE TABLE {local} (
  source_number text NOT NULL, destination_number text NOT NULL,
  call_type text, call_status text,
  creation_time timestamptz NOT NULL, start_time timestamptz, end_time timestamptz,
  call_duration interval, end_reason text,
  refreshed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_number, destination_number, creation_time)
);
CREATE INDEX ON {local} (creation_time);
"""
NOID_FILL = """
INSERT INTO {local} (source_number, destination_number, call_type, call_status,
                     creation_time, start_time, end_time, call_duration, end_reason)
SELECT DISTINCT ON (source_number, destination_number, creation_time)
       source_number, destination_number, call_type, call_status,
       creation_time, start_time, end_time, call_duration, end_reason
  FROM {t}
 ORDER BY source_number, destination_number, creation_time;
"""
NOID_REFRESH = """
CREATE FUNCTION {fn}(days int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  INSERT INTO {local} AS l
         (source_number, destination_number, call_type, call_status,
          creation_time, start_time, end_time, call_duration, end_reason)
  SELECT DISTINCT ON (source_number, destination_number, creation_time)
         source_number, destination_number, call_type, call_status,
         creation_time, start_time, end_time, call_duration, end_reason
    FROM {t}
   WHERE creation_time >= now() - make_interval(days => days)
   ORDER BY source_number, destination_number, creation_time
  ON CONFLICT (source_number, destination_number, creation_time) DO UPDATE SET
         call_type = EXCLUDED.call_type, call_status = EXCLUDED.call_status,
         start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,
         call_duration = EXCLUDED.call_duration, end_reason = EXCLUDED.end_reason,
         refreshed_at = now()
   WHERE (l.call_type, l.call_status, l.start_time, l.end_time, l.call_duration, l.end_reason)
         IS DISTINCT FROM
         (EXCLUDED.call_type, EXCLUDED.call_status, EXCLUDED.start_time, EXCLUDED.end_time,
          EXCLUDED.call_duration, EXCLUDED.end_reason);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
"""


class CachingWithoutId(DbaBase):
    """Variant B (no id): a scan during which new calls arrive returns the
    rows they push onto the next page twice; the natural-key recipes keep
    one copy and stay equal to the API."""

    ROWS = 1000
    SHIFT = 5

    def noid_table(self, tag, **fault):
        name = next_name("nb")
        emu_reset(tag)
        opts = scenario(tag, rows=self.ROWS, variant="b", shift_rows=self.SHIFT, **fault)
        create_table(self.conn, name, opts, server_opts={"page_size": "100"},
                     columns=NOID_COLUMNS)
        return name, opts

    def digest(self, sql):
        return query(self.conn, "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) "
                                "FROM (%s) t" % sql)[0]

    def test_materialized_view(self):
        # the 2nd request for page 2 first puts 5 new calls on top: that scan
        # sees 5 rows of page 1 again on page 2
        t, opts = self.noid_table("dba_cache_mv_b", fault="shift", fault_pages=2, fault_after=1,
                                  fault_times=1)
        mv = t + "_cache"
        query(self.conn, NOID_MV.format(mv=mv, t=t))
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % mv)[0][0], self.ROWS)
        # the refresh during which the calls arrive: the repeats are dropped
        query(self.conn, "REFRESH MATERIALIZED VIEW CONCURRENTLY %s" % mv)
        self.assertEqual(emu_state("dba_cache_mv_b")["fault_fired"], 1)
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % mv)[0][0], self.ROWS)
        # the next one brings the new calls
        query(self.conn, "REFRESH MATERIALIZED VIEW CONCURRENTLY %s" % mv)
        newest = emu_totals(opts)["newest"]
        self.assertEqual(query(self.conn, "SELECT count(*), count(*) FILTER (WHERE creation_time > %%s) "
                                          "FROM %s" % mv, (newest,))[0],
                         (self.ROWS + self.SHIFT, self.SHIFT))
        self.assertEqual(self.digest("SELECT * FROM %s" % mv),
                         self.digest("SELECT DISTINCT * FROM %s" % t))

    def test_materialized_view_needs_distinct_on(self):
        """Without DISTINCT ON, the refresh during which calls arrive fails
        and keeps the old rows."""
        t, _ = self.noid_table("dba_cache_mv_b2", fault="shift", fault_pages=2, fault_after=1,
                               fault_times=1)
        mv = t + "_cache"
        query(self.conn, "CREATE MATERIALIZED VIEW %s AS SELECT * FROM %s" % (mv, t))
        query(self.conn, "CREATE UNIQUE INDEX ON %s (%s)" % (mv, NOID_KEY))
        before = self.digest("SELECT * FROM %s" % mv)
        e = self.assertFails("REFRESH MATERIALIZED VIEW CONCURRENTLY %s" % mv, "21000",
                             r"duplicate rows")
        self.assertEqual(emu_state("dba_cache_mv_b2")["fault_fired"], 1, error_text(e))
        self.assertEqual(self.digest("SELECT * FROM %s" % mv), before)

    def test_incremental_refresh(self):
        # the first scan (the fill) sees new calls arrive at page 2
        t, opts = self.noid_table("dba_cache_inc_b", fault="shift", fault_pages=2, fault_times=1)
        local = t + "_local"
        fn = "refresh_" + t
        query(self.conn, NOID_LOCAL.format(local=local))
        query(self.conn, NOID_REFRESH.format(fn=fn, local=local, t=t))
        query(self.conn, NOID_FILL.format(local=local, t=t))
        self.assertEqual(emu_state("dba_cache_inc_b")["fault_fired"], 1)
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % local)[0][0], self.ROWS)
        # the new calls come with the refresh of the last days, and only them
        seq = wait_emu_quiet("dba_cache_inc_b")[-1]["seq"]
        self.assertEqual(query(self.conn, "SELECT %s(2)" % fn)[0][0], self.SHIFT)
        inc = [e for e in wait_emu_quiet("dba_cache_inc_b") if e["seq"] > seq]
        self.assertTrue(inc and all("start_date" in e["query"] for e in inc), inc)
        self.assertLess(len(inc), self.ROWS // 100)
        self.assertEqual(query(self.conn, "SELECT %s(2)" % fn)[0][0], 0)
        self.assertEqual(self.digest("SELECT %s FROM %s" % (NOID_COLS, local)),
                         self.digest("SELECT DISTINCT %s FROM %s" % (NOID_COLS, t)))
        self.assertEqual(query(self.conn, "SELECT count(*) FROM %s" % local)[0][0], self.ROWS + self.SHIFT)

    def test_fill_needs_distinct_on(self):
        """Without DISTINCT ON, a fill during which calls arrive fails on the
        natural key (the copies of the rows pushed onto page 2)."""
        t, _ = self.noid_table("dba_cache_inc_b2", fault="shift", fault_pages=2, fault_times=1)
        local = t + "_local"
        query(self.conn, NOID_LOCAL.format(local=local))
        self.assertFails("INSERT INTO %s (%s) SELECT %s FROM %s" % (local, NOID_COLS, NOID_COLS, t),
                         "23505")
        self.assertEqual(emu_state("dba_cache_inc_b2")["fault_fired"], 1)


ACTIVITY_COLS = ("pid, usename, datname, server, foreign_table, streams, streams_known, "
                 "pages_done, pages_known, rows, requests_in_flight, retries, "
                 "waiting_on_retry_after, retry_after_until, now() AS now")


class Activity(unittest.TestCase):
    """callogs_fdw_activity in a cluster that preloads callogs_fdw."""

    @classmethod
    def setUpClass(cls):
        cls.pg = ThrowawayCluster(conf={"shared_preload_libraries": "'callogs_fdw'"})
        cls.pg.__enter__()
        cls.conn = cls.pg.connect()
        query(cls.conn, "CREATE EXTENSION callogs_fdw")

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()
        cls.pg.__exit__(None, None, None)

    def tearDown(self):
        log = self.pg.server_log()
        self.assertNotIn("TRAP:", log)
        self.assertIsNone(CRASH_RE.search(log), "a backend crashed")

    def table(self, tag, server_opts=None, **kw):
        emu_reset(tag)
        name = next_name("a")
        create_table(self.conn, name, scenario(tag, **kw), server_opts=server_opts)
        return name

    def watch(self, sql, until_rows=None, timeout=30):
        """Run sql in a second session and poll the view from this one until
        it ends; returns (its backend pid, the snapshots as dicts, the query's
        result or error)."""
        busy = self.pg.connect()
        pid = query(busy, "SELECT pg_backend_pid()")[0][0]
        out = {}

        def run():
            try:
                out["rows"] = query(busy, sql)
            except Exception as e:     # noqa: BLE001 (reported by the test)
                out["error"] = e

        worker = threading.Thread(target=run)
        worker.start()
        snaps = []
        deadline = time.time() + timeout
        while worker.is_alive() and time.time() < deadline:
            with self.conn.cursor() as cur:
                cur.execute("SELECT %s FROM callogs_fdw_activity WHERE pid = %%s" % ACTIVITY_COLS, (pid,))
                names = [d[0] for d in cur.description]
                snaps.append([dict(zip(names, r)) for r in cur.fetchall()])
            time.sleep(0.05)
        worker.join(timeout)
        self.assertFalse(worker.is_alive(), "the watched query did not end")
        self.after = query(self.conn, "SELECT count(*) FROM callogs_fdw_activity WHERE pid = %s", (pid,))[0][0]
        busy.close()
        return pid, snaps, out

    def test_slow_scan_from_another_session(self):
        """20 pages of 100 rows, 2 in flight, 250 ms each: the view shows the
        scan's progress, page by page, and nothing once it ended."""
        t = self.table("dba_act_slow", rows=2000, latency=250,
                       server_opts={"concurrency": "2"})
        pid, snaps, out = self.watch("SELECT count(id) FROM %s" % t)
        self.assertEqual(out.get("rows"), [(2000,)], out.get("error"))
        seen = [s[0] for s in snaps if s]
        self.assertGreaterEqual(len(seen), 5, "the scan was seen in too few snapshots")
        self.assertTrue(all(len(s) <= 1 for s in snaps))
        for r in seen:
            self.assertEqual((r["pid"], r["usename"], r["datname"], r["server"], r["foreign_table"],
                              r["streams"], r["retries"], r["waiting_on_retry_after"], r["retry_after_until"]),
                             (pid, "postgres", "postgres", "%s_srv" % t, "public.%s" % t,
                              1, 0, False, None))
            # rows received are whole pages of 100
            self.assertEqual(r["rows"], 100 * r["pages_done"])
            self.assertLessEqual(r["requests_in_flight"], 2)
            if r["streams_known"]:
                self.assertEqual(r["pages_known"], 20)
            else:
                self.assertIsNone(r["pages_known"])
        done = [r["pages_done"] for r in seen]
        self.assertEqual(done, sorted(done))
        self.assertTrue(any(0 < d < 20 for d in done), done)
        self.assertTrue(any(r["requests_in_flight"] == 2 for r in seen))
        self.assertEqual(self.after, 0)

    def test_retry_after_wait(self):
        """A 429 with Retry-After: 2 on page 3: the view says the backend
        waits, and until when."""
        t = self.table("dba_act_429", rows=1000, fault="429", retry_after=2, fault_pages=3,
                       fault_times=1, latency=150, server_opts={"concurrency": "1"})
        pid, snaps, out = self.watch("SELECT count(id) FROM %s" % t)
        self.assertEqual(out.get("rows"), [(1000,)], out.get("error"))
        waiting = [s[0] for s in snaps if s and s[0]["waiting_on_retry_after"]]
        self.assertGreaterEqual(len(waiting), 3)
        for r in waiting:
            self.assertEqual(r["retries"], 1)
            self.assertEqual(r["pages_done"], 2)
            left = (r["retry_after_until"] - r["now"]).total_seconds()
            # "now" is the observer's statement start, which may precede
            # the 429's arrival by a few microseconds
            self.assertTrue(0 < left <= 2.05, left)
        # before the 429 and after the wait (7 more pages of 150 ms), not waiting
        seen = [s[0] for s in snaps if s]
        self.assertFalse(seen[0]["waiting_on_retry_after"])
        self.assertFalse(seen[-1]["waiting_on_retry_after"])
        self.assertGreater(seen[-1]["pages_done"], 2)

    def test_async_partitions_each_shown(self):
        """A partitioned table over three organizations scans them at once:
        one row per partition, all of the same backend."""
        emu_reset("dba_act_orgs")
        url = emu_url(scenario("dba_act_orgs", rows=600, latency=200, orgs="acme+globex+initech"))
        query(self.conn, "DROP SERVER IF EXISTS act_orgs CASCADE")
        query(self.conn, "CREATE SERVER act_orgs FOREIGN DATA WRAPPER callogs_fdw "
                         "OPTIONS (url %s, concurrency '1')" % sql_literal(url))
        query(self.conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER act_orgs OPTIONS (token %s)"
              % sql_literal(TOKEN))
        query(self.conn, "SELECT callogs_create_org_tables('act_calls', 'act_orgs', "
                         "ARRAY['acme', 'globex', 'initech'])")
        pid, snaps, out = self.watch("SELECT count(id) FROM act_calls")
        self.assertEqual(out.get("rows"), [(1800,)], out.get("error"))
        tables = {r["foreign_table"] for s in snaps for r in s}
        self.assertEqual(tables, {"public.act_calls_acme", "public.act_calls_globex",
                                  "public.act_calls_initech"})
        self.assertTrue(any(len(s) == 3 for s in snaps), [len(s) for s in snaps])

    def test_entry_freed_after_an_error(self):
        """A scan cancelled by statement_timeout leaves nothing in the view,
        though its backend lives on."""
        t = self.table("dba_act_cancel", rows=2000, latency=400, server_opts={"concurrency": "1"})
        pid, snaps, out = self.watch("SET statement_timeout = '1500ms'; SELECT count(id) FROM %s" % t)
        self.assertEqual(getattr(out.get("error"), "pgcode", None), QUERY_CANCELED)
        self.assertTrue(any(snaps), "the scan was never seen")
        self.assertEqual(self.after, 0)

    def test_other_roles_see_no_details(self):
        role = "callogs_dba_watcher"
        query(self.conn, "DROP ROLE IF EXISTS %s" % role)
        query(self.conn, "CREATE ROLE %s LOGIN" % role)
        try:
            t = self.table("dba_act_priv", rows=1500, latency=250, server_opts={"concurrency": "1"})
            busy = self.pg.connect()
            pid = query(busy, "SELECT pg_backend_pid()")[0][0]
            worker = threading.Thread(target=query, args=(busy, "SELECT count(id) FROM %s" % t))
            worker.start()
            watcher = psycopg2.connect(host="127.0.0.1", port=self.pg.port, user=role, dbname="postgres")
            watcher.autocommit = True
            try:
                plain = granted = None
                deadline = time.time() + 10
                while (plain is None or granted is None) and time.time() < deadline and worker.is_alive():
                    rows = query(watcher, "SELECT pid, usename, server, foreign_table, pages_done "
                                          "FROM callogs_fdw_activity WHERE pid = %s", (pid,))
                    if rows and plain is None:
                        plain = rows[0]
                        query(self.conn, "GRANT pg_read_all_stats TO %s" % role)
                    elif rows and granted is None and plain is not None:
                        granted = rows[0]
                    time.sleep(0.05)
            finally:
                watcher.close()
                worker.join(30)
                busy.close()
            self.assertEqual(plain, (pid, "postgres", None, None, None))
            self.assertEqual(granted[:4], (pid, "postgres", "%s_srv" % t, "public.%s" % t))
        finally:
            query(self.conn, "DROP ROLE %s" % role)

    def test_without_preloading(self):
        """Without shared_preload_libraries the view has no rows, and says why."""
        with ThrowawayCluster() as pg:
            conn = pg.connect()
            query(conn, "CREATE EXTENSION callogs_fdw")
            notices = []
            conn.notices = notices
            self.assertEqual(query(conn, "SELECT * FROM callogs_fdw_activity"), [])
            conn.close()
        self.assertEqual(len(notices), 1)
        self.assertIn("callogs_fdw_activity shows nothing: callogs_fdw is not in "
                      "shared_preload_libraries", notices[0])


if __name__ == "__main__":
    unittest.main()
