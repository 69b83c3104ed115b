"""JSON decoding end to end: json-c behind the FDW (issue 11, issue 10 s. 3).

A tiny HTTP server in this file answers each path with a fixed body (the
emulator cannot send these shapes), so that what json-c alone would get
wrong is checked through SQL:

- what JSON_TOKENER_STRICT still accepts (NaN, leading zeros, raw control
  characters, single-quoted keys) and bytes after the document, also when
  they arrive in a later TCP segment, are HV00A with a precise message;
- integers json-c clamps (below -2^63+1, above 2^64-2) are 22003, never a
  clamped number; integers up to 2^64-2 are exact in numeric columns;
- a page delivered a few bytes at a time gives the same rows as in one
  piece;
- a hostile page of dense empty objects (about 270 times its size in
  json-c) is refused by callogs_fdw.max_page_memory before the backend
  grows: the budget counts the tree json-c would build, not only bytes.

Run: python3 -m unittest test.json_test (environment: see fdwtest.py).
"""

import http.server
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import (FdwTestCase, connect, recreate_database, drop_database,  # noqa: E402
                     create_table, query, backend_pid, FDW_INVALID_STRING_FORMAT)

DB = "json_test"
NUMERIC_VALUE_OUT_OF_RANGE = "22003"
CONFIGURATION_LIMIT_EXCEEDED = "53400"


def vm_hwm_kb(pid):
    """The peak resident size of a process (kB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM for %d" % pid)


def page(rows_json, count=None):
    rows = rows_json if isinstance(rows_json, list) else [rows_json]
    return ('{"count": %d, "next": null, "previous": null, "data": [%s]}'
            % (len(rows) if count is None else count, ", ".join(rows))).encode()


ROW = ('{"id": "call_%d", "source_number": "+9198765%05d", "destination_number": '
       '"+911234567890", "call_type": "outbound", "call_status": "completed", '
       '"creation_time": "2025-11-18T10:30:00.000Z", "start_time": "2025-11-18T10:30:05Z", '
       '"end_time": null, "call_duration": "0:05:25", "end_reason": "caf\\u00e9 \\ud83d\\udcde", '
       '"bridge": %d}')

# path -> (body, pieces): pieces > 0 sends the body in pieces of that size
BODIES = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        body, piece = BODIES.get(path, (b'{"message": "no such body"}', 0))
        self.send_response(200 if path in BODIES else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        if piece <= 0:
            self.wfile.write(body)
            return
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(body), piece):
            self.wfile.write(body[i:i + piece])
            self.wfile.flush()
            time.sleep(0.002)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass                    # a client closing its connection early is fine here


def setUpModule():
    global HTTPD, BASE
    HTTPD = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=HTTPD.serve_forever, daemon=True).start()
    BASE = "http://127.0.0.1:%d" % HTTPD.server_address[1]


def tearDownModule():
    HTTPD.shutdown()
    HTTPD.server_close()
    drop_database(DB)


class JsonCase(FdwTestCase):
    @classmethod
    def setUpClass(cls):
        cls.conn = recreate_database(DB)

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()

    def serve(self, name, body, piece=0, columns=None, server_opts=None):
        """Serve body at /<name>/ and create foreign table <name> on it."""
        path = "/%s/api/" % name
        BODIES[path] = (body, piece)
        kw = {"columns": columns} if columns else {}
        create_table(self.conn, name, BASE + path, server_opts=server_opts, **kw)
        return name


class Strictness(JsonCase):
    """What json-c's strict mode accepts is refused, with the byte."""

    def check(self, name, body, msg_re, piece=0):
        self.serve(name, body, piece)
        self.assertFails("SELECT * FROM %s" % name, FDW_INVALID_STRING_FORMAT,
                         "call logs API returned invalid JSON: " + msg_re)

    def test_nan(self):
        self.check("s_nan", page('{"bridge": NaN}'), r"unexpected character at byte \d+")

    def test_infinity(self):
        self.check("s_inf", page('{"bridge": -Infinity}'), r"invalid number at byte \d+")

    def test_leading_zero(self):
        self.check("s_zero", page('{"bridge": 01}'), r"invalid number at byte \d+")

    def test_negative_leading_zero(self):
        self.check("s_nzero", page('{"bridge": -01}'), r"invalid number at byte \d+")

    def test_dot_without_digits(self):
        self.check("s_dot", page('{"bridge": 1.}'), r"invalid number at byte \d+")

    def test_raw_control_character(self):
        self.check("s_ctl", page('{"end_reason": "a\tb"}'),
                   r"control character in a string at byte \d+")

    def test_single_quoted_key(self):
        self.check("s_quote", page("{'bridge': 1}"), r"unexpected character at byte \d+")

    def test_trailing_comma(self):
        self.check("s_comma", page('{"bridge": 1}').replace(b"]}", b"],}"),
                   r"unexpected character at byte \d+")

    def test_trailing_garbage_in_a_later_segment(self):
        body = page(ROW % (1, 1, 1)) + b" \n{}"
        self.check("s_trail", body, r"unexpected data after the JSON value at byte %d"
                   % (len(body) - 2), piece=len(body) - 3)

    def test_truncated(self):
        body = page([ROW % (i, i, i) for i in range(5)])
        self.serve("s_trunc", body[:-2])     # an honest Content-Length, a cut document
        self.assertFails("SELECT * FROM s_trunc", FDW_INVALID_STRING_FORMAT,
                         r"call logs API returned invalid JSON: JSON value is incomplete")


class Integers(JsonCase):
    """Integers are exact or 22003; json-c's clamped values never come out."""

    COLS = "id text, bridge bigint, n numeric OPTIONS (field 'bridge'), t text OPTIONS (field 'bridge')"

    def value(self, name, literal, column):
        self.serve(name, page('{"id": "x", "bridge": %s}' % literal), columns=self.COLS)
        return query(self.conn, "SELECT %s::text FROM %s" % (column, name))[0][0]

    def test_int64_limits(self):
        self.assertEqual(self.value("i_max", "9223372036854775807", "bridge"), "9223372036854775807")
        self.assertEqual(self.value("i_min1", "-9223372036854775807", "bridge"), "-9223372036854775807")

    def test_numeric_exact_above_int64(self):
        self.assertEqual(self.value("i_u64", "18446744073709551614", "n"), "18446744073709551614")
        self.assertEqual(self.value("i_u64t", "18446744073709551614", "t"), "18446744073709551614")
        self.assertEqual(self.value("i_dbl", "1.50", "n"), "1.50")

    def check_clamped(self, name, literal, column):
        self.serve(name, page('{"id": "x", "bridge": %s}' % literal), columns=self.COLS)
        self.assertFails("SELECT %s FROM %s" % (column, name), NUMERIC_VALUE_OUT_OF_RANGE,
                         "the integer is out of the range json-c reads exactly")

    def test_clamped_below(self):
        # json-c turns all of these into -9223372036854775808
        for i, lit in enumerate(("-9223372036854775808", "-9223372036854775809",
                                 "-99999999999999999999999")):
            for col in ("bridge", "n", "t"):
                with self.subTest(lit=lit, col=col):
                    self.check_clamped("i_lo%d_%s" % (i, col), lit, col)

    def test_clamped_above(self):
        # json-c turns all of these into 18446744073709551615
        for i, lit in enumerate(("18446744073709551615", "18446744073709551616",
                                 "99999999999999999999999")):
            for col in ("bridge", "n", "t"):
                with self.subTest(lit=lit, col=col):
                    self.check_clamped("i_hi%d_%s" % (i, col), lit, col)

    def test_clamped_inside_json(self):
        cols = "id text, j jsonb OPTIONS (field 'bridge')"
        self.serve("i_json", page('{"id": "x", "bridge": [1, 99999999999999999999]}'), columns=cols)
        self.assertFails("SELECT j FROM i_json", NUMERIC_VALUE_OUT_OF_RANGE,
                         "the value holds an integer out of the range json-c reads exactly")

    def test_clamped_value_never_shown(self):
        self.serve("i_ctx", page('{"id": "x", "bridge": -99999999999999999999}'), columns=self.COLS)
        cur = self.conn.cursor()
        try:
            cur.execute("SELECT bridge FROM i_ctx")
            self.fail("no error")
        except Exception as e:
            self.assertIn("value (an integer beyond the 64-bit range)", str(e))
            self.assertNotIn("-9223372036854775808", str(e))


class Delivery(JsonCase):
    """A page cut into many small feeds gives the same rows as one piece."""

    def test_small_pieces(self):
        body = page([ROW % (i, i, i % 3) for i in range(60)])
        self.serve("d_whole", body)
        self.serve("d_pieces", body, piece=7)
        q = "SELECT * FROM %s ORDER BY id"
        whole = query(self.conn, q % "d_whole")
        self.assertEqual(len(whole), 60)
        self.assertEqual(whole[0][9], "caf\u00e9 \U0001f4de")
        self.assertEqual(query(self.conn, q % "d_pieces"), whole)


class Budget(JsonCase):
    """A hostile page of dense empty objects stays within the budget."""

    BUDGET_MB = 32
    SLACK_MB = 16           # the backend's own working memory around a scan

    def test_dense_objects(self):
        n = 1000000                                   # 3 MB, ~800 MB in json-c
        body = b'{"count": 1, "data": [' + b"{}," * (n - 1) + b"{}]}"
        self.serve("b_dense", body, server_opts={"max_response_bytes": str(4 * 1000 * 1000),
                                                 "max_retries": "0"})
        conn = connect(DB)
        try:
            pid = backend_pid(conn)
            query(conn, "LOAD 'callogs_fdw'")
            query(conn, "SET callogs_fdw.max_page_memory = '%dMB'" % self.BUDGET_MB)
            before = vm_hwm_kb(pid)
            cur = conn.cursor()
            with self.assertRaises(Exception) as cm:
                cur.execute("SELECT count(*) FROM (SELECT * FROM b_dense) s")
            # 3 MB of bytes fit the budget: only the tree estimate trips it
            self.assertSqlState(cm.exception, CONFIGURATION_LIMIT_EXCEEDED,
                                "call logs API pages exceed callogs_fdw.max_page_memory")
            grew = (vm_hwm_kb(pid) - before) / 1024.0
            self.assertLess(grew, self.BUDGET_MB + self.SLACK_MB, "backend grew %.0f MB" % grew)
        finally:
            conn.close()
