"""TLS of callogs_fdw: certificates and host names are verified by default;
ssl_verify 'false' and ca_file exist; only a superuser may turn verification
off or choose the CA file.

setUpModule makes a throwaway CA with the openssl CLI, a server certificate
for 127.0.0.1 (SAN IP:127.0.0.1, DNS:localhost) and one for the wrong name
(SAN DNS:wrong.example), and serves a small valid call-logs page over HTTPS
from two threads of this process (one per certificate).  Each server records
the HTTP requests it got (with their Authorization header) and the TLS
handshakes that failed, so a test can tell "refused at the handshake, no
token sent" from "answered".

    /usr/bin/python3 -m unittest -q test/tls_test.py
"""

import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "tls_test"
TLS_TOKEN = "secret"
ORG = "acme"
ROLE = "tls_test_user"
PUBLIC_URL = "https://api.example.com/api/v2/platform/call-logs/"

ROWS = [
    {"id": "call_tls00000001", "source_number": "+919812345678",
     "destination_number": "+14155550100", "call_type": "inbound",
     "call_status": "completed", "creation_time": "2025-11-18T10:30:00.000Z",
     "start_time": "2025-11-18T10:30:05.000Z", "end_time": "2025-11-18T10:35:30.000Z",
     "call_duration": "0:05:25", "end_reason": "customer-ended-call", "bridge": 1},
    {"id": "call_tls00000002", "source_number": "+14155550100",
     "destination_number": "+442071838750", "call_type": "outbound",
     "call_status": "missed", "creation_time": "2025-11-18T10:30:00.000Z",
     "start_time": "2025-11-18T10:30:00.000Z", "end_time": "2025-11-18T10:30:00.000Z",
     "call_duration": "0:05:25", "end_reason": "no-answer", "bridge": 1},
    {"id": "call_tls00000003", "source_number": "+61291234567",
     "destination_number": "+14155550100", "call_type": "inbound",
     "call_status": "failed", "creation_time": "2025-11-18T10:30:00.000Z",
     "start_time": "2025-11-18T10:30:01.000Z", "end_time": "2025-11-18T10:35:26.000Z",
     "call_duration": "0:05:25", "end_reason": "failed-to-connect", "bridge": 1},
]
IDS = sorted(r["id"] for r in ROWS)

# what a test expects from the FDW at most (handshake failures are not retried
# or are retried a few times; either way a query must end quickly)
QUICK = {"timeout_ms": "5000", "connect_timeout_ms": "3000", "max_retries": "1",
         "retry_max_wait_ms": "100"}

_tmp = None
_servers = {}
CA = None


# ---- certificates ------------------------------------------------------------

def _openssl(*args):
    r = subprocess.run(["openssl"] + list(args), cwd=_tmp, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr))


def _make_cert(name, cn, san):
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
             "-out", name + ".csr", "-subj", "/CN=" + cn)
    with open(os.path.join(_tmp, name + ".ext"), "w") as f:
        f.write("subjectAltName = %s\nbasicConstraints = CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n" % san)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-CAserial", "ca.srl", "-days", "2", "-sha256",
             "-extfile", name + ".ext", "-out", name + ".pem")
    return os.path.join(_tmp, name + ".pem"), os.path.join(_tmp, name + ".key")


def _make_pki():
    _openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "2", "-sha256", "-subj", "/CN=callogs_fdw tls_test CA",
             "-addext", "basicConstraints = critical, CA:TRUE",
             "-addext", "keyUsage = critical, keyCertSign, cRLSign")
    good = _make_cert("server", "127.0.0.1", "IP:127.0.0.1, DNS:localhost")
    wrong = _make_cert("wrong", "wrong.example", "DNS:wrong.example")
    for fn in os.listdir(_tmp):
        os.chmod(os.path.join(_tmp, fn), 0o644)
    os.chmod(_tmp, 0o755)
    return os.path.join(_tmp, "ca.pem"), good, wrong


# ---- HTTPS server ------------------------------------------------------------

class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tls_test"

    def setup(self):
        self.request.settimeout(15)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as e:
            self.server.record("handshake_failures", repr(e))
            raise
        self.server.record("handshakes", 1)
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def _json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        self.server.record("requests", {
            "path": u.path, "query": u.query,
            "authorization": self.headers.get("Authorization"),
            "org": self.headers.get("Org-Handle")})
        if u.path != API_PATH:
            return self._json(404, {"status_code": 404, "message": "Not found"})
        if self.headers.get("Authorization") != "Token " + TLS_TOKEN:
            return self._json(401, {"status_code": 401, "message": "Invalid token."})
        try:
            page = int(q.get("page", ["1"])[-1])
            size = int(q.get("page_size", ["20"])[-1])
            if page < 1 or size < 1:
                raise ValueError
        except ValueError:
            return self._json(400, {"status_code": 400, "message": "Invalid page."})
        rows = ROWS[(page - 1) * size:page * size]
        if page > 1 and not rows:
            return self._json(404, {"status_code": 404, "message": "Invalid page."})
        self._json(200, {"count": len(ROWS), "status_code": 200, "message": "ok", "data": rows})


class TlsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, cert, key):
        super().__init__(("127.0.0.1", 0), ApiHandler)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lock = threading.Lock()
        self.conns = set()
        self.reset()

    def reset(self):
        with self.lock:
            self.log = {"requests": [], "handshakes": [], "handshake_failures": []}

    def record(self, kind, what):
        with self.lock:
            self.log[kind].append(what)

    def seen(self, kind):
        with self.lock:
            return list(self.log[kind])

    def get_request(self):
        sock, addr = self.socket.accept()
        with self.lock:
            self.conns.add(sock)
        # the handshake happens in the handler's thread (ApiHandler.setup)
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr

    def shutdown_request(self, request):
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass

    def close_all(self):
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    @property
    def port(self):
        return self.server_address[1]

    def url(self, host="127.0.0.1"):
        return "https://%s:%d%s" % (host, self.port, API_PATH)


def _start(name, cert_key):
    srv = TlsServer(*cert_key)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                          name="tls_test_" + name, daemon=True)
    th.start()
    _servers[name] = (srv, th)
    return srv


def setUpModule():
    global _tmp, CA
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("the openssl command is not installed")
    _tmp = tempfile.mkdtemp(prefix="callogs_tls_")
    try:
        CA, good, wrong = _make_pki()
        _start("good", good)
        _start("wrong", wrong)
        conn = recreate_database(DB)
        create_fdw_role(conn, ROLE)
        conn.close()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    drop_database(DB)
    drop_role(ROLE)
    for name, (srv, th) in list(_servers.items()):
        srv.shutdown()
        srv.close_all()
        srv.server_close()
        th.join(5)
    _servers.clear()
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


def good():
    return _servers["good"][0]


def wrong():
    return _servers["wrong"][0]


_n = [0]


class TlsBase(FdwTestCase):
    DB = DB

    def setUp(self):
        good().reset()
        wrong().reset()

    def table(self, url, **server_opts):
        """A foreign table on a new server with the given url and options."""
        _n[0] += 1
        name = "tls%d" % _n[0]
        so = dict(QUICK)
        so.update(server_opts)
        create_table(self.conn, name, url, server_opts=so, token=TLS_TOKEN, org=ORG)
        return name

    def assert_rows(self, t, srv):
        rows = query(self.conn, "SELECT id, call_duration, bridge, creation_time "
                                "FROM %s ORDER BY id" % t)
        self.assertEqual([r[0] for r in rows], IDS)
        self.assertTrue(all(str(r[1]) == "0:05:25" and r[2] == 1 for r in rows), rows)
        reqs = srv.seen("requests")
        self.assertTrue(reqs, "the HTTPS server got no request")
        for r in reqs:
            self.assertEqual(r["path"], API_PATH)
            self.assertEqual(r["authorization"], "Token " + TLS_TOKEN)
            self.assertEqual(r["org"], ORG)

    def assert_tls_refused(self, t, srv, hint=True, name_mismatch=False):
        """The query fails with HV00N and the server got no HTTP request.
        An untrusted chain fails inside the handshake; a host name that does
        not match is found by libcurl right after it, before any request."""
        e = self.assertFails("SELECT * FROM %s" % t, FDW_UNABLE_TO_CONNECT,
                             r"call logs API request failed")
        self.assertRegex(e.diag.message_primary, r"^call logs API request failed")
        if hint:
            self.assertIsNotNone(e.diag.message_hint, error_text(e))
            self.assertIn("ca_file", e.diag.message_hint)
        self.assertNotIn("Token " + TLS_TOKEN, error_text(e))
        deadline = time.time() + 2
        while (not srv.seen("handshake_failures") and not srv.seen("handshakes")
               and time.time() < deadline):
            time.sleep(0.02)
        if name_mismatch:
            self.assertTrue(srv.seen("handshake_failures") or srv.seen("handshakes"),
                            "the client never reached the server")
        else:
            # the client gave up during the handshake
            self.assertTrue(srv.seen("handshake_failures"),
                            "the server saw no failed TLS handshake")
            self.assertEqual(srv.seen("handshakes"), [])
        time.sleep(0.05)
        self.assertEqual(srv.seen("requests"), [],
                         "an HTTP request (with the token) reached a server whose "
                         "certificate failed verification")
        return e


class Verification(TlsBase):

    def test_default_verifies_against_system_cas(self):
        t = self.table(good().url())
        e = self.assert_tls_refused(t, good())
        self.assertRegex(error_text(e), r"(?i)certificate|SSL")

    def test_default_on_localhost_name(self):
        # the certificate's DNS:localhost SAN does not help without the CA
        t = self.table(good().url("localhost"))
        self.assert_tls_refused(t, good())

    def test_ca_file_verifies(self):
        t = self.table(good().url(), ca_file=CA)
        self.assert_rows(t, good())
        self.assertEqual(len(good().seen("handshake_failures")), 0)

    def test_ca_file_verifies_dns_name(self):
        t = self.table(good().url("localhost"), ca_file=CA)
        self.assert_rows(t, good())

    def test_explicit_ssl_verify_true_with_ca_file(self):
        t = self.table(good().url(), ca_file=CA, ssl_verify="true")
        self.assert_rows(t, good())

    def test_wrong_host_name_refused(self):
        t = self.table(wrong().url(), ca_file=CA)
        e = self.assert_tls_refused(t, wrong(), name_mismatch=True)
        self.assertRegex(error_text(e), r"(?i)host ?name|subject name|does not match")

    def test_wrong_host_name_refused_by_default(self):
        t = self.table(wrong().url())
        self.assert_tls_refused(t, wrong())

    def test_ssl_verify_false_accepts_wrong_name(self):
        t = self.table(wrong().url(), ssl_verify="false")
        self.assert_rows(t, wrong())

    def test_ssl_verify_false_with_ca_file_accepts_wrong_name(self):
        t = self.table(wrong().url(), ssl_verify="false", ca_file=CA)
        self.assert_rows(t, wrong())

    def test_ssl_verify_false_accepts_unknown_ca(self):
        t = self.table(good().url(), ssl_verify="false")
        self.assert_rows(t, good())

    def test_alter_server_turns_verification_back_on(self):
        t = self.table(wrong().url(), ssl_verify="false")
        self.assert_rows(t, wrong())
        wrong().reset()
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (SET ssl_verify 'true')" % t)
        self.assert_tls_refused(t, wrong())
        wrong().reset()
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (ADD ca_file %s)" % (t, sql_literal(CA)))
        self.assert_tls_refused(t, wrong(), name_mismatch=True)
        wrong().reset()
        query(self.conn, "ALTER SERVER %s_srv OPTIONS (DROP ssl_verify)" % t)
        self.assert_tls_refused(t, wrong(), name_mismatch=True)

    def test_unverified_connection_not_reused(self):
        """The session keeps connections alive; one opened without
        verification must not serve a server that verifies."""
        lax_wrong = self.table(wrong().url(), ssl_verify="false")
        strict_wrong = self.table(wrong().url(), ca_file=CA)
        lax_good = self.table(good().url(), ssl_verify="false")
        strict_good = self.table(good().url())
        ca_good = self.table(good().url(), ca_file=CA)
        for _ in range(2):
            wrong().reset()
            self.assert_rows(lax_wrong, wrong())
            wrong().reset()
            self.assert_tls_refused(strict_wrong, wrong(), name_mismatch=True)
            good().reset()
            self.assert_rows(lax_good, good())
            good().reset()
            self.assert_tls_refused(strict_good, good())
            # a connection verified against ca_file is no proof for the system CAs
            good().reset()
            self.assert_rows(ca_good, good())
            good().reset()
            self.assert_tls_refused(strict_good, good())

    def test_ca_file_must_be_absolute(self):
        self.assertFails("CREATE SERVER tls_rel FOREIGN DATA WRAPPER callogs_fdw "
                         "OPTIONS (url %s, ca_file 'ca.pem')" % sql_literal(good().url()),
                         FDW_INVALID_ATTRIBUTE_VALUE, r"absolute")

    def test_ssl_verify_must_be_boolean(self):
        e = query_error(self.conn, "CREATE SERVER tls_badbool FOREIGN DATA WRAPPER callogs_fdw "
                                   "OPTIONS (url %s, ssl_verify 'maybe')" % sql_literal(good().url()))
        self.assertIsNotNone(e, "ssl_verify 'maybe' was accepted")
        # PostgreSQL's defGetBoolean: 42601 "ssl_verify requires a Boolean value"
        self.assertSqlState(e, "42601", r"ssl_verify requires a Boolean value")

    def test_missing_ca_file_fails_cleanly(self):
        t = self.table(good().url(), ca_file=os.path.join(_tmp, "no_such_ca.pem"))
        e = query_error(self.conn, "SELECT * FROM %s" % t)
        self.assertIsNotNone(e, "a query with a missing ca_file succeeded")
        self.assertIn(e.pgcode, (FDW_UNABLE_TO_CONNECT, FDW_ERROR), error_text(e))
        self.assertRegex(e.diag.message_primary, r"^call logs API request failed")
        self.assertEqual(good().seen("requests"), [])
        self.assertEqual(query(self.conn, "SELECT 1")[0][0], 1)

    def test_https_to_plain_http_port(self):
        """https:// to the emulator's plain-http port: a clean HV00N, no
        plain-http request (the emulator logs none), no crash."""
        tag = "tls_plain_%d" % os.getpid()
        emu_reset(tag)
        url = "https://127.0.0.1:%s/s/%s%s" % (EMU_PORT, scenario(tag, token=TLS_TOKEN), API_PATH)
        t = self.table(url)
        logpos = server_log_size()
        t0 = time.time()
        e = self.assertFails("SELECT * FROM %s" % t, FDW_UNABLE_TO_CONNECT,
                             r"call logs API request failed")
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(emu_log(tag), [])
        self.assertNotIn("Token " + TLS_TOKEN, error_text(e))
        time.sleep(0.1)
        self.assertIsNone(CRASH_RE.search(server_log_since(logpos)))
        self.assertEqual(query(self.conn, "SELECT 1")[0][0], 1)


class Privileges(TlsBase):
    """Only a superuser may set ssl_verify 'false' or ca_file."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = connect(DB, user=ROLE)

    @classmethod
    def tearDownClass(cls):
        cls.user.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        with self.conn.cursor() as cur:
            cur.execute("DROP SERVER IF EXISTS tls_owned CASCADE")
            cur.execute("DROP SERVER IF EXISTS tls_user_srv CASCADE")

    def tearDown(self):
        with self.conn.cursor() as cur:
            cur.execute("DROP SERVER IF EXISTS tls_owned CASCADE")
            cur.execute("DROP SERVER IF EXISTS tls_user_srv CASCADE")

    def create_as_user(self, **opts):
        o = {"url": PUBLIC_URL, "org_handle": ORG}
        o.update(opts)
        return query_error(self.user, "CREATE SERVER tls_user_srv FOREIGN DATA WRAPPER "
                                      "callogs_fdw %s" % options_clause(o))

    def test_user_is_not_superuser(self):
        self.assertEqual(query(self.user, "SELECT rolsuper FROM pg_roles "
                                          "WHERE rolname = current_user")[0][0], False)

    def test_user_may_create_verifying_server(self):
        # control: the role can create a server at all
        self.assertIsNone(self.create_as_user())
        query(self.user, "DROP SERVER tls_user_srv")
        self.assertIsNone(self.create_as_user(ssl_verify="true"))

    def test_user_cannot_create_with_ssl_verify_false(self):
        # (PostgreSQL's defGetBoolean takes only true/false/on/off for a string)
        for v in ("false", "off", "FALSE", "Off"):
            with self.subTest(ssl_verify=v):
                e = self.create_as_user(ssl_verify=v)
                self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ssl_verify")
        self.assertEqual(query(self.conn, "SELECT count(*) FROM pg_foreign_server "
                                          "WHERE srvname = 'tls_user_srv'")[0][0], 0)

    def test_user_cannot_create_with_ca_file(self):
        for path in (CA, "/etc/ssl/certs/ca-certificates.crt"):
            with self.subTest(ca_file=path):
                e = self.create_as_user(ca_file=path)
                self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ca_file")

    def own_server(self, **opts):
        o = {"url": PUBLIC_URL, "org_handle": ORG}
        o.update(opts)
        with self.conn.cursor() as cur:
            cur.execute("CREATE SERVER tls_owned FOREIGN DATA WRAPPER callogs_fdw %s"
                        % options_clause(o))
            cur.execute("ALTER SERVER tls_owned OWNER TO %s" % ROLE)

    def test_owner_cannot_add_ssl_verify_false(self):
        self.own_server()
        # control: the owner may alter other options
        self.assertIsNone(query_error(self.user, "ALTER SERVER tls_owned OPTIONS (ADD page_size '50')"))
        e = query_error(self.user, "ALTER SERVER tls_owned OPTIONS (ADD ssl_verify 'false')")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ssl_verify")
        self.assertIsNone(query_error(self.user, "ALTER SERVER tls_owned OPTIONS (ADD ssl_verify 'true')"))
        e = query_error(self.user, "ALTER SERVER tls_owned OPTIONS (SET ssl_verify 'off')")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ssl_verify")
        self.assertEqual(self.server_options("tls_owned").get("ssl_verify"), "true")

    def test_owner_cannot_add_ca_file(self):
        self.own_server()
        e = query_error(self.user, "ALTER SERVER tls_owned OPTIONS (ADD ca_file %s)" % sql_literal(CA))
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ca_file")
        self.assertNotIn("ca_file", self.server_options("tls_owned"))

    def test_owner_cannot_change_ca_file_set_by_superuser(self):
        self.own_server(ca_file=CA)
        e = query_error(self.user, "ALTER SERVER tls_owned OPTIONS (SET ca_file '/tmp/evil.pem')")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"ca_file")
        self.assertEqual(self.server_options("tls_owned").get("ca_file"), CA)

    def test_superuser_may_set_both(self):
        self.assertIsNone(query_error(
            self.conn, "CREATE SERVER tls_owned FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                       "(url %s, ssl_verify 'false', ca_file %s)"
                       % (sql_literal(PUBLIC_URL), sql_literal(CA))))

    def test_user_cannot_use_loopback_https(self):
        # the separate loopback rule (README): also 42501 for a non-superuser
        e = self.create_as_user(url=good().url())
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE)

    def server_options(self, name):
        opts = query(self.conn, "SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s",
                     (name,))[0][0] or []
        return dict(o.split("=", 1) for o in opts)


if __name__ == "__main__":
    unittest.main()
