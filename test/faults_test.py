"""Fault handling of callogs_fdw against the emulator's fault kinds.

Every fault kind of emulator/README.md has a test here that asserts the
exact outcome: the rows returned after successful retries together with
the number of requests the emulator saw, or the SQLSTATE and key message
text of the ERROR.

    /usr/bin/python3 -m unittest -q test/faults_test.py
"""

import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403
import fdwtest  # noqa: E402

DB = "faults_test"
ROWS = 250

# fast defaults for every server of this suite
FAST = {"page_size": "100", "timeout_ms": "1000", "connect_timeout_ms": "1000",
        "retry_max_wait_ms": "200", "max_retries": "3"}

_counter = [0]


def setUpModule():
    recreate_database(DB)
    emu_reset()


def tearDownModule():
    drop_database(DB)


class FaultCase(FdwTestCase):
    DB = DB

    def setup_fault(self, fault=None, server_opts=None, table_opts=None, rows=ROWS, **kw):
        """A fresh foreign table on a fresh scenario tag; returns (table, tag)."""
        _counter[0] += 1
        tag = "ft_%s_%d" % (fault or "none", _counter[0])
        if fault:
            kw["fault"] = fault
        opts = scenario(tag, rows=rows, **kw)
        emu_reset(tag)
        so = dict(FAST)
        so.update(server_opts or {})
        name = "ft%d" % _counter[0]
        create_table(self.conn, name, opts, server_opts=so, table_opts=table_opts)
        return name, tag

    def fresh_session(self):
        """A new backend, so no kept-alive connection exists.  When a request
        that was sent on a reused keep-alive connection dies before any
        answer (reset, empty reply), libcurl transparently resends it once on
        a new connection, because the connection may just have been stale:
        the emulator then sees one request more than the FDW's attempts."""
        type(self).conn.close()
        type(self).conn = connect(self.DB)

    def count_rows(self, table):
        return query(self.conn, "SELECT count(*), count(DISTINCT id) FROM %s" % table)[0]

    def assert_full_scan(self, table, tag, expected_requests):
        n, nd = self.count_rows(table)
        self.assertEqual((n, nd), (ROWS, ROWS))
        log = wait_emu_quiet(tag)
        self.assertEqual(len(log), expected_requests,
                         "requests seen: %s" % [(e["status"], e["query"].get("page"), e["fault"]) for e in log])
        return log


def gaps(log):
    """Seconds between the end of each request and the start of the next."""
    return [log[i + 1]["start"] - log[i]["end"] for i in range(len(log) - 1)]


# ---------------------------------------------------------------------------
# transient faults: retried, then the rows arrive

class RetriedThenSucceeds(FaultCase):
    """fault_times=2 on page 1: two failures, then success. 250 rows in
    pages of 100 means 3 good requests, so the emulator sees 5."""

    def check(self, fault, **kw):
        so = kw.pop("server_opts", {})
        t, tag = self.setup_fault(fault, fault_times=2, fault_pages=1, server_opts=so, **kw)
        query(self.conn, "SELECT callogs_fdw_stats_reset()")
        log = self.assert_full_scan(t, tag, 5)
        self.assertEqual([e["query"].get("page") for e in log[:3]], ["1", "1", "1"])
        stats = query(self.conn, "SELECT requests, retries, pages, rows, errors FROM callogs_fdw_stats()")[0]
        self.assertEqual(stats[1], 2, "retries in callogs_fdw_stats(): %s" % (stats,))
        self.assertEqual(stats[3], ROWS)
        return log

    def test_500json(self):
        self.check("500json")

    def test_500html(self):
        self.check("500html")

    def test_500empty(self):
        self.check("500empty")

    def test_502(self):
        self.check("502")

    def test_503(self):
        self.check("503")

    def test_504(self):
        self.check("504")

    def test_429(self):
        self.check("429", retry_after=0)

    def test_429date(self):
        # Retry-After as an HTTP-date of now: retried at once
        self.check("429date", retry_after=0)

    def test_429none(self):
        self.check("429none")

    def test_reset(self):
        self.fresh_session()
        self.check("reset")

    def test_truncate(self):
        self.check("truncate")

    def test_bad_gzip(self):
        self.check("bad_gzip")

    def test_hang_before_headers_empty_reply(self):
        # closes without an answer after 200 ms: an empty reply
        self.fresh_session()
        self.check("hang_before_headers", delay=200)

    def test_hang_before_headers_timeout(self):
        self.check("hang_before_headers", delay=5000)

    def test_hang_after_headers_timeout(self):
        self.check("hang_after_headers", delay=5000)

    def test_slow_timeout(self):
        self.check("slow", delay=3000)

    def test_fault_on_later_page(self):
        # a 503 on page 3 only is retried; the rows stay complete and unique
        t, tag = self.setup_fault("503", fault_times=1, fault_pages=3)
        self.assert_full_scan(t, tag, 4)


# ---------------------------------------------------------------------------
# transient faults that never stop: attempts used up

class RetriesExhausted(FaultCase):

    def check_http(self, fault, status_text, apimsg=None, **kw):
        t, tag = self.setup_fault(fault, **kw)
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_ERROR)
        self.assertIn("call logs API answered HTTP %s after 4 attempts" % status_text,
                      e.diag.message_primary)
        if apimsg:
            self.assertIn(": " + apimsg, e.diag.message_primary)
        self.assertEqual(len(wait_emu_quiet(tag)), 4)
        return e

    def test_500json(self):
        self.check_http("500json", "500 Internal Server Error", "Internal server error")

    def test_500html(self):
        self.check_http("500html", "500 Internal Server Error")

    def test_500empty(self):
        self.check_http("500empty", "500 Internal Server Error")

    def test_502(self):
        self.check_http("502", "502 Bad Gateway", "Bad gateway")

    def test_503(self):
        e = self.check_http("503", "503 Service Unavailable", "Service temporarily unavailable")
        self.assertIn("try again later", e.diag.message_hint or "")

    def test_504(self):
        self.check_http("504", "504 Gateway Timeout", "Gateway timeout")

    def test_429(self):
        e = self.check_http("429", "429 Too Many Requests", retry_after=0)
        self.assertIn("max_requests_per_second", e.diag.message_hint or "")

    def test_429none(self):
        self.check_http("429none", "429 Too Many Requests")

    def test_max_retries_0(self):
        t, tag = self.setup_fault("503", server_opts={"max_retries": "0"})
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_ERROR, r"call logs API answered HTTP 503 Service Unavailable: ")
        self.assertNotIn("attempts", e.diag.message_primary)
        self.assertEqual(len(wait_emu_quiet(tag)), 1)

    def test_max_retries_1(self):
        t, tag = self.setup_fault("502", server_opts={"max_retries": "1"})
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_ERROR, r"HTTP 502 Bad Gateway after 2 attempts")
        self.assertEqual(len(wait_emu_quiet(tag)), 2)

    def check_transport(self, fault, code, msg_re, **kw):
        t, tag = self.setup_fault(fault, **kw)
        t0 = time.time()
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        elapsed = time.time() - t0
        self.assertSqlState(e, code, msg_re)
        self.assertIn("after 4 attempts", e.diag.message_primary)
        self.assertEqual(len(wait_emu_quiet(tag)), 4)
        return e, elapsed

    def test_reset(self):
        self.fresh_session()
        self.check_transport("reset", FDW_ERROR, r"call logs API request failed after 4 attempts: .*reset")

    def test_truncate(self):
        self.check_transport("truncate", FDW_ERROR, r"call logs API request failed after 4 attempts")

    def test_bad_gzip(self):
        e, _ = self.check_transport("bad_gzip", FDW_ERROR,
                                    r"call logs API request failed after 4 attempts: .*(unencoding|decod)")
        self.assertIn("gzip", e.diag.message_hint)

    def test_gzip_members(self):
        # a valid RFC 1952 body in two members, which curl's decoder refuses:
        # named as a decoding failure, not "Failed writing received data"
        e, _ = self.check_transport("gzip_members", FDW_ERROR,
                                    r"call logs API request failed after 4 attempts: "
                                    r"its compressed body \(Content-Encoding\) could not be decoded")
        self.assertIn("several members", e.diag.message_hint)

    def test_empty_reply(self):
        self.fresh_session()
        self.check_transport("hang_before_headers", FDW_ERROR,
                             r"call logs API request failed after 4 attempts", delay=150)

    def test_hang_before_headers_timeout(self):
        e, elapsed = self.check_transport("hang_before_headers", FDW_UNABLE_TO_CONNECT,
                                          r"call logs API request failed after 4 attempts",
                                          delay=5000)
        self.assertIn("timeout_ms", e.diag.message_hint or "")
        # 4 attempts of timeout_ms 1000 plus at most 3 x 200 ms backoff
        self.assertLess(elapsed, 6.5)
        self.assertGreater(elapsed, 3.5)

    def test_hang_after_headers_timeout(self):
        self.check_transport("hang_after_headers", FDW_UNABLE_TO_CONNECT,
                             r"call logs API request failed after 4 attempts", delay=5000)

    def test_slow_timeout(self):
        self.check_transport("slow", FDW_UNABLE_TO_CONNECT,
                             r"call logs API request failed after 4 attempts", delay=4000)

    def test_connection_refused(self):
        port = _closed_port()
        _counter[0] += 1
        name = "ft%d" % _counter[0]
        create_table(self.conn, name, "http://127.0.0.1:%d%s" % (port, API_PATH), server_opts=FAST)
        t0 = time.time()
        e = query_error(self.conn, "SELECT * FROM %s" % name)
        self.assertSqlState(e, FDW_UNABLE_TO_CONNECT, r"call logs API request failed after 4 attempts")
        self.assertLess(time.time() - t0, 5)


def _closed_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------
# backoff, Retry-After and its cap, timeouts, rate limit

class Timing(FaultCase):

    def test_retry_after_seconds_honoured(self):
        t, tag = self.setup_fault("429", retry_after=1, fault_times=1,
                                  server_opts={"retry_max_wait_ms": "5000"})
        log = self.assert_full_scan(t, tag, 4)
        self.assertGreaterEqual(gaps(log)[0], 0.95, "Retry-After: 1 not honoured")
        self.assertLess(gaps(log)[0], 1.6)

    def test_retry_after_http_date_honoured(self):
        t, tag = self.setup_fault("429date", retry_after=2, fault_times=1,
                                  server_opts={"retry_max_wait_ms": "5000"})
        log = self.assert_full_scan(t, tag, 4)
        # an HTTP-date has whole seconds: now + 2 s is 1..2 s away
        self.assertGreaterEqual(gaps(log)[0], 0.9, "Retry-After HTTP-date not honoured")
        self.assertLess(gaps(log)[0], 2.6)

    def test_retry_after_capped_by_retry_max_wait_ms(self):
        t, tag = self.setup_fault("429", retry_after=30, fault_times=2,
                                  server_opts={"retry_max_wait_ms": "300"})
        t0 = time.time()
        log = self.assert_full_scan(t, tag, 5)
        self.assertLess(time.time() - t0, 2.0)
        for g in gaps(log)[:2]:
            self.assertGreaterEqual(g, 0.25)
            self.assertLess(g, 0.8)

    def test_retry_after_date_capped(self):
        t, tag = self.setup_fault("429date", retry_after=30, fault_times=1,
                                  server_opts={"retry_max_wait_ms": "300"})
        t0 = time.time()
        self.assert_full_scan(t, tag, 4)
        self.assertLess(time.time() - t0, 2.0)

    def test_exponential_backoff(self):
        t, tag = self.setup_fault("503", fault_times=3,
                                  server_opts={"retry_max_wait_ms": "10000"})
        log = self.assert_full_scan(t, tag, 6)
        g = gaps(log)[:3]
        self.assertTrue(all(x > 0.03 for x in g), "no backoff: %s" % g)
        self.assertGreater(g[2], g[0], "backoff not growing: %s" % g)
        self.assertLess(sum(g), 5, "backoff too long: %s" % g)

    def test_backoff_capped(self):
        t, tag = self.setup_fault("503", fault_times=3,
                                  server_opts={"retry_max_wait_ms": "50"})
        log = self.assert_full_scan(t, tag, 6)
        for g in gaps(log)[:3]:
            self.assertLess(g, 0.3, "backoff above retry_max_wait_ms 50: %s" % gaps(log))

    def test_slow_below_timeout_succeeds(self):
        # the answer comes after 1.2 s; timeout_ms is 1.5 s: one request per page
        t, tag = self.setup_fault("slow", delay=1200, fault_times=1,
                                  server_opts={"timeout_ms": "1500"})
        self.assert_full_scan(t, tag, 3)

    def test_timeout_ms_is_per_request(self):
        # each attempt is cut at about timeout_ms (1500 ms), not earlier
        t, tag = self.setup_fault("hang_before_headers", delay=5000,
                                  server_opts={"timeout_ms": "1500", "max_retries": "1"})
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_UNABLE_TO_CONNECT)
        log = wait_emu_quiet(tag, 6)
        self.assertEqual(len(log), 2)
        for entry in log:
            d = entry["end"] - entry["start"]
            self.assertGreater(d, 1.3, "attempt cut after %.2f s (timeout_ms 1500)" % d)
            self.assertLess(d, 2.2, "attempt ran %.2f s (timeout_ms 1500)" % d)

    def test_rate_limit(self):
        # 6 pages of 50 rows at 5 requests per second take >= 1 s
        # page numbers (links=0): concurrent pages that the limit must space out
        t, tag = self.setup_fault(None, rows=300, links=0,
                                  server_opts={"max_requests_per_second": "5", "page_size": "50"})
        n = query(self.conn, "SELECT count(DISTINCT id) FROM %s" % t)[0][0]
        self.assertEqual(n, 300)
        log = wait_emu_quiet(tag)
        self.assertEqual(len(log), 6)
        starts = sorted(e["start"] for e in log)
        self.assertGreaterEqual(starts[-1] - starts[0], 0.95,
                                "6 requests in %.3f s at 5/s" % (starts[-1] - starts[0]))
        for a, b in zip(starts, starts[1:]):
            self.assertGreaterEqual(b - a, 0.17, "requests %.3f s apart at 5/s" % (b - a))

    def test_rate_limit_applies_to_retries(self):
        t, tag = self.setup_fault("503", fault_times=2, rows=100,
                                  server_opts={"max_requests_per_second": "4", "retry_max_wait_ms": "0"})
        n = query(self.conn, "SELECT count(DISTINCT id) FROM %s" % t)[0][0]
        self.assertEqual(n, 100)
        starts = sorted(e["start"] for e in wait_emu_quiet(tag))
        self.assertEqual(len(starts), 3)
        self.assertGreaterEqual(starts[-1] - starts[0], 0.45)


# ---------------------------------------------------------------------------
# client errors: not retried

class ClientErrors(FaultCase):

    def check(self, fault, code, msg, hint=None):
        t, tag = self.setup_fault(fault)
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, code)
        self.assertIn(msg, e.diag.message_primary)
        if hint:
            self.assertRegex(e.diag.message_hint or "", hint)
        self.assertEqual(len(wait_emu_quiet(tag)), 1, "a %s was retried" % fault)
        return e

    def test_400(self):
        self.check("400", FDW_INVALID_ATTRIBUTE_VALUE, "call logs API answered HTTP 400 Bad Request")

    def test_401(self):
        self.check("401", INVALID_AUTH, "call logs API answered HTTP 401 Unauthorized",
                   r"token.*user mapping|user mapping.*token")

    def test_403(self):
        self.check("403", INSUFFICIENT_PRIVILEGE, "call logs API answered HTTP 403 Forbidden",
                   r"org_handle")

    def test_404_first_page(self):
        self.check("404", FDW_TABLE_NOT_FOUND, "call logs API answered HTTP 404 Not Found",
                   r"url")

    def test_wrong_token_is_401(self):
        t, tag = self.setup_fault(None)
        self.conn.cursor().execute("ALTER USER MAPPING FOR CURRENT_USER SERVER %s_srv "
                                   "OPTIONS (SET token 'wrong-token-value')" % t)
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, INVALID_AUTH)
        self.assertEqual([x["auth_ok"] for x in wait_emu_quiet(tag)], [False])

    def test_unknown_org_is_403(self):
        t, tag = self.setup_fault(None, table_opts={"org_handle": "nosuchorg"})
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)
        self.assertIn("nosuchorg", e.diag.message_hint or "")

    def test_redirect_not_followed(self):
        for status in ("302", "301", "307", "308"):
            with self.subTest(status=status):
                t, tag = self.setup_fault("redirect", redirect_status=status)
                e = query_error(self.conn, "SELECT * FROM %s" % t)
                self.assertSqlState(e, FDW_ERROR)
                self.assertIn("call logs API answered HTTP %s" % status, e.diag.message_primary)
                self.assertRegex(e.diag.message_hint or "", r"[Rr]edirect")
                self.assertEqual(len(wait_emu_quiet(tag)), 1)

    def test_redirect_same_not_followed(self):
        t, tag = self.setup_fault("redirect_same", fault_times=1)
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_ERROR, r"HTTP 302")
        self.assertEqual(len(wait_emu_quiet(tag)), 1)


# ---------------------------------------------------------------------------
# malformed bodies: HV00A, never retried

class BadBodies(FaultCase):

    def check(self, fault, msg, code=FDW_INVALID_STRING_FORMAT, requests=1, **kw):
        t, tag = self.setup_fault(fault, **kw)
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, code)
        self.assertIn(msg, e.diag.message_primary)
        self.assertEqual(len(wait_emu_quiet(tag)), requests)
        return e

    def test_invalid_json(self):
        self.check("invalid_json", "call logs API returned invalid JSON: ")

    def test_not_json(self):
        self.check("not_json", "call logs API returned invalid JSON: ")

    def test_trailing_comma(self):
        self.check("trailing_comma", "call logs API returned invalid JSON: ")

    def test_bad_utf8(self):
        # invalid UTF-8 in a string is refused when the column is converted
        # (json-c cannot check UTF-8 split across network reads)
        e = self.check("bad_utf8", 'invalid byte sequence for encoding "UTF8"', code="22021")
        self.assertIn('column "source_number"', e.diag.context or "")

    def test_depth_bomb(self):
        self.check("depth_bomb", "call logs API returned invalid JSON: ")

    def test_depth_bomb_just_over_64(self):
        self.check("depth_bomb", "call logs API returned invalid JSON: ", depth=70)

    def test_data_not_array(self):
        self.check("data_not_array", "call logs API returned an unexpected response: ")

    def test_data_missing(self):
        self.check("data_missing", "call logs API returned an unexpected response: ")

    def test_count_missing(self):
        self.check("count_missing", "call logs API returned an unexpected response: ")

    def test_count_negative(self):
        self.check("count_negative", "call logs API returned an unexpected response: ")

    def test_count_string(self):
        self.check("count_string", "call logs API returned an unexpected response: ")

    def test_count_float(self):
        self.check("count_float", "call logs API returned an unexpected response: ")

    def test_count_huge(self):
        self.check("count_huge", "call logs API returned an unexpected response: ")

    def test_count_2_pow_63(self):
        self.check("count_huge", "call logs API returned an unexpected response: ",
                   count_value="9223372036854775808")

    def test_count_value_exponent(self):
        self.check("count_value", "call logs API returned an unexpected response: ",
                   count_value="1e3")

    def test_next_foreign(self):
        e = self.check("next_foreign", "call logs API returned an unexpected response: ")
        self.assertIn("origin", e.diag.message_primary)

    def test_next_scheme(self):
        self.check("next_scheme", "call logs API returned an unexpected response: ")

    def test_next_repeat(self):
        e = self.check("next_repeat", "call logs API returned an unexpected response: ", requests=2)
        self.assertIn("repeat", e.diag.message_primary)

    def test_huge_body(self):
        t0 = time.time()
        e = self.check("huge_body", "exceeds max_response_bytes", code=FDW_STRING_LENGTH,
                       size=20000000, server_opts={"max_response_bytes": "1048576"})
        self.assertLess(time.time() - t0, 5)
        self.assertIn("max_response_bytes", e.diag.message_hint or "")

    def test_huge_body_default_limit(self):
        # default max_response_bytes is 32 MB
        self.check("huge_body", "exceeds max_response_bytes (33554432 bytes)",
                   code=FDW_STRING_LENGTH, size=40000000)

    def test_huge_body_under_limit(self):
        t, tag = self.setup_fault("huge_body", size=2000000,
                                  server_opts={"max_response_bytes": "3000000"})
        self.assert_full_scan(t, tag, 3)

    def test_big_string_over_limit(self):
        self.check("big_string", "exceeds max_response_bytes", code=FDW_STRING_LENGTH,
                   server_opts={"max_response_bytes": "524288"})


# ---------------------------------------------------------------------------
# pages that do parse: counts that lie, links, conversions

class Content(FaultCase):

    def check_count_lie(self, how, **kw):
        """"count" says 10 times the real rows on every page: the pages run
        out long before it is reached, which is an ERROR, never a short
        answer.  Without next links (links=0) the end of the stream shows
        it."""
        t, tag = self.setup_fault("count_lie", links=0, **kw)
        e = query_error(self.conn, "SELECT count(*), count(DISTINCT id) FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary,
                         "call logs API returned an unexpected response: "
                         "its pages ended after %d of %d rows" % (ROWS, ROWS * 10))
        self.assertIn("Page 4 of request stream 1", e.diag.message_detail)
        self.assertIn(how, e.diag.message_detail)
        self.assertIn("count", e.diag.message_hint)

    def test_count_lie_404_past_end(self):
        self.check_count_lie("answered HTTP 404")

    def test_count_lie_empty_past_end(self):
        self.check_count_lie("was empty", past_end="empty")

    def test_count_lie_short_page_with_next(self):
        """The same with next links (the emulator's default): page 3 holds
        the last 50 rows and still links to page 4, which "count" explains:
        a short page that says more follow is an ERROR at once."""
        t, tag = self.setup_fault("count_lie")
        e = query_error(self.conn, "SELECT count(*), count(DISTINCT id) FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_STRING_FORMAT)
        self.assertEqual(e.diag.message_primary,
                         "call logs API returned an unexpected response: "
                         "a page is short of rows although a \"next\" link follows")
        self.assertIn("Page 3 of request stream 1", e.diag.message_detail)
        self.assertIn("holds 50 rows, pages hold 100", e.diag.message_detail)

    def test_count_lie_first_page_only(self):
        """Only page 1 overstates "count" (as when rows are deleted during
        the scan): the later pages' "count" is met, so the empty page past
        the last row ends the scan with every row."""
        t, tag = self.setup_fault("count_lie", fault_pages=1, past_end="empty")
        self.assertEqual(self.count_rows(t), (ROWS, ROWS))

    def test_links_followed(self):
        t, tag = self.setup_fault(None, links=1)
        self.assert_full_scan(t, tag, 3)

    def test_dup_keys_last_wins(self):
        t, tag = self.setup_fault("dup_keys")
        r = query(self.conn, "SELECT count(*), min(call_status), max(call_status) FROM %s" % t)[0]
        self.assertEqual(r, (ROWS, "missed", "missed"))

    def test_big_string(self):
        t, tag = self.setup_fault("big_string")
        r = query(self.conn, "SELECT count(*), max(length(end_reason)) FROM %s" % t)[0]
        self.assertEqual(r, (ROWS, 1048576))

    def test_nul_escape(self):
        t, tag = self.setup_fault("nul_escape")
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, "22P05")
        self.assertIn('"source_number"', error_text(e))
        # a column the query does not read is not converted
        self.assertEqual(query(self.conn, "SELECT count(id) FROM %s" % t)[0][0], ROWS)

    def test_ts_out_of_range(self):
        t, tag = self.setup_fault("ts_out_of_range")
        e = query_error(self.conn, "SELECT creation_time FROM %s" % t)
        self.assertSqlState(e, "22008")
        self.assertIn("creation_time", error_text(e))
        e = query_error(self.conn, "SELECT start_time FROM %s" % t)
        self.assertIn(e.pgcode, ("22008", "22007"), error_text(e))
        self.assertIn("start_time", error_text(e))

    def test_wrong_types_row(self):
        t, tag = self.setup_fault("wrong_types")
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertSqlState(e, FDW_INVALID_DATA_TYPE, r"cannot convert JSON field \"\w+\" to column \"\w+\"")

    def wrong(self, field, value, code, column=None, sql=None):
        t, tag = self.setup_fault("wrong_types", wrong_field=field,
                                  wrong_value=urllib.parse.quote(value, safe=""))
        e = query_error(self.conn, sql % t if sql else "SELECT * FROM %s" % t)
        self.assertSqlState(e, code)
        text = error_text(e)
        self.assertIn('"%s"' % (column or field), text)
        return e

    def test_wrong_creation_time_number(self):
        e = self.wrong("creation_time", "12345", FDW_INVALID_DATA_TYPE)
        self.assertIn('cannot convert JSON field "creation_time" to column "creation_time"',
                      e.diag.message_primary)

    def test_wrong_start_time_object(self):
        self.wrong("start_time", "{}", FDW_INVALID_DATA_TYPE)

    def test_wrong_end_time_array(self):
        self.wrong("end_time", "[]", FDW_INVALID_DATA_TYPE)

    def test_wrong_bridge_object(self):
        self.wrong("bridge", "{}", FDW_INVALID_DATA_TYPE)

    def test_wrong_bridge_array(self):
        self.wrong("bridge", "[1]", FDW_INVALID_DATA_TYPE)

    def test_wrong_bridge_boolean(self):
        # a JSON boolean for an integer column is a wrong JSON type
        self.wrong("bridge", "true", FDW_INVALID_DATA_TYPE)

    def test_wrong_call_duration_boolean(self):
        # variant a's wrong_types value for call_duration
        self.wrong("call_duration", "true", FDW_INVALID_DATA_TYPE)

    def test_bad_text_bridge(self):
        self.wrong("bridge", '"x"', "22P02")

    def test_bad_text_timestamp(self):
        self.wrong("start_time", '"not a time"', "22007")

    def test_bridge_out_of_range(self):
        self.wrong("bridge", "99999999999", "22003")

    def test_bridge_huge_number(self):
        self.wrong("bridge", "123456789012345678901234567890", "22003")

    def test_field_option_named_in_error(self):
        _counter[0] += 1
        tag = "ft_field_%d" % _counter[0]
        emu_reset(tag)
        name = "ft%d" % _counter[0]
        create_table(self.conn, name,
                     scenario(tag, fault="wrong_types", wrong_field="creation_time", wrong_value="7"),
                     server_opts=FAST,
                     columns="made timestamptz OPTIONS (field 'creation_time'), id text")
        e = query_error(self.conn, "SELECT made FROM %s" % name)
        self.assertSqlState(e, FDW_INVALID_DATA_TYPE)
        self.assertIn('JSON field "creation_time" to column "made"', e.diag.message_primary)

    def test_text_columns_take_scalars(self):
        t, tag = self.setup_fault("wrong_types", wrong_field="id", wrong_value="12345")
        self.assertEqual(query(self.conn, "SELECT DISTINCT id FROM %s" % t), [("12345",)])

    def test_session_usable_after_conversion_error(self):
        t, tag = self.setup_fault("wrong_types")
        self.assertIsNotNone(query_error(self.conn, "SELECT * FROM %s" % t))
        t2, tag2 = self.setup_fault(None)
        self.assertEqual(self.count_rows(t2), (ROWS, ROWS))


# ---------------------------------------------------------------------------
# rows shifting between pages

class Shift(FaultCase):

    def base_ids(self, rows):
        _counter[0] += 1
        tag = "ft_base_%d" % _counter[0]
        name = "ft%d" % _counter[0]
        create_table(self.conn, name, scenario(tag, rows=rows), server_opts=FAST)
        return set(r[0] for r in query(self.conn, "SELECT id FROM %s" % name))

    def check_shift(self, table_opts, page_size="50", concurrency=None):
        base = self.base_ids(ROWS)
        self.assertEqual(len(base), ROWS)
        so = {"page_size": page_size}
        if concurrency:
            so["concurrency"] = concurrency
        # page numbers (links=0): the pages are fetched concurrently, the case
        # where arrivals shift rows between pages in flight
        t, tag = self.setup_fault("shift", shift_rows=7, server_opts=so, table_opts=table_opts,
                                  links=0)
        rows = query(self.conn, "SELECT id, creation_time FROM %s" % t)
        ids = [r[0] for r in rows]
        self.assertEqual(len(ids), len(set(ids)), "duplicate ids in one scan")
        # the README: rows present during the whole scan are not lost to
        # new calls (with pushdown or without)
        self.assertFalse(base - set(ids), "base rows lost: %d" % len(base - set(ids)))
        return rows, tag

    def test_shift_timestamp_no_end_date(self):
        # no end_date is sent that the query did not ask for (a pinned one
        # hid rows stamped ahead of the database's clock); pages answered
        # before new calls arrived are fetched again, repeats are dropped
        rows, tag = self.check_shift({"date_column": "creation_time", "date_format": "timestamp"})
        log = wait_emu_quiet(tag)
        self.assertTrue(log)
        self.assertEqual(set(e["query"].get("end_date") for e in log), {None})

    def test_shift_serial(self):
        self.check_shift({"date_column": "creation_time", "date_format": "timestamp"},
                         concurrency="1")

    def test_shift_date_format_date(self):
        # no upper bound can be pinned: pages answered out of order are
        # fetched again, so nothing is lost, and repeats are dropped by id
        self.check_shift({"date_column": "creation_time", "date_format": "date"})

    def test_shift_concurrency_8(self):
        self.check_shift({"date_column": "creation_time", "date_format": "date"},
                         page_size="20", concurrency="8")

    def test_shift_no_pushdown(self):
        self.check_shift({"pushdown": "false"})

    def test_shift_with_lower_bound(self):
        base = self.base_ids(ROWS)
        t, tag = self.setup_fault("shift", shift_rows=7, server_opts={"page_size": "50"},
                                  table_opts={"date_column": "creation_time", "date_format": "timestamp"},
                                  links=0)
        ids = [r[0] for r in query(self.conn, "SELECT id FROM %s WHERE creation_time >= "
                                              "'2025-01-01T00:00:00Z'" % t)]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertFalse(base - set(ids))


if __name__ == "__main__":
    unittest.main()
