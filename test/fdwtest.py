"""Shared helpers of the Python test suites of callogs_fdw.

The suites run under /usr/bin/python3 with the environment set by
scripts/test.sh (or by scripts/env.sh for development):

    PGHOST, PGPORT, PGUSER   a PostgreSQL 15 cluster (PGUSER a superuser)
    EMU_PORT                 the Call Logs API emulator on 127.0.0.1
    CL_WORK                  work directory; $CL_WORK/postgres.log is the
                             server log

Each suite owns one database and uses its own emulator scenario tags.
"""

import json
import os
import re
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import psycopg2
import psycopg2.extensions

PGHOST = os.environ.get("PGHOST", "127.0.0.1")
PGPORT = os.environ.get("PGPORT", "5432")
PGUSER = os.environ.get("PGUSER", "postgres")
EMU_PORT = os.environ.get("EMU_PORT", "18181")
CL_WORK = os.environ.get("CL_WORK", "")
EMU = "http://127.0.0.1:%s" % EMU_PORT
API_PATH = "/api/v2/platform/call-logs/"

# A distinctive token, so that a leak is found by a plain substring search.
TOKEN = "tkn_Zq81VxW3pLe9"

COLUMNS = """
  id text, source_number text, destination_number text,
  call_type text, call_status text,
  creation_time timestamptz, start_time timestamptz, end_time timestamptz,
  call_duration interval, end_reason text, bridge integer
"""

# SQLSTATEs
QUERY_CANCELED = "57014"
INVALID_AUTH = "28000"
INSUFFICIENT_PRIVILEGE = "42501"
FDW_ERROR = "HV000"
FDW_UNABLE_TO_CONNECT = "HV00N"
FDW_TABLE_NOT_FOUND = "HV00R"
FDW_INVALID_ATTRIBUTE_VALUE = "HV024"
FDW_INVALID_STRING_FORMAT = "HV00A"
FDW_INVALID_DATA_TYPE_DESCRIPTORS = "HV006"
FDW_INVALID_DATA_TYPE = "HV004"
FDW_STRING_LENGTH = "HV090"
FDW_OPTION_NAME_NOT_FOUND = "HV00J"
FDW_INVALID_OPTION_NAME = "HV00D"


# ---- emulator -------------------------------------------------------------

def emu_get(path, timeout=10):
    with urllib.request.urlopen(EMU + path, timeout=timeout) as r:
        return r.read()


def emu_url(opts, host="127.0.0.1", port=None):
    """The API url of an emulator scenario; opts is a dict or a string."""
    if isinstance(opts, dict):
        opts = ",".join("%s=%s" % (k, v) for k, v in opts.items())
    return "http://%s:%s/s/%s%s" % (host, port or EMU_PORT, opts, API_PATH)


def emu_log(tag):
    """The emulator's request log of a tag (list of dicts, oldest first)."""
    q = urllib.parse.urlencode({"tag": tag, "format": "json"})
    return json.loads(emu_get("/_log?" + q))


def emu_reset(tag=None):
    emu_get("/_reset" + ("?" + urllib.parse.urlencode({"tag": tag}) if tag is not None else ""))


def emu_state(tag):
    return json.loads(emu_get("/_state?" + urllib.parse.urlencode({"tag": tag})))


def emu_totals(opts, org=None):
    if isinstance(opts, dict):
        opts = ",".join("%s=%s" % (k, v) for k, v in opts.items())
    q = {"s": opts}
    if org:
        q["org"] = org
    return json.loads(emu_get("/_totals?" + urllib.parse.urlencode(q)))


def api_requests(tag):
    """Logged API requests of a tag that reached the emulator."""
    return [e for e in emu_log(tag)]


def emu_forward(handler, path, pairs):
    """Forward a fake API's GET to the emulator: path with the query pairs,
    the handler's Org-Handle and Authorization headers; (status, body)."""
    req = urllib.request.Request(
        EMU + path + "?" + urllib.parse.urlencode(pairs),
        headers={h: handler.headers[h] for h in ("Org-Handle", "Authorization")
                 if handler.headers[h]})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_emu_quiet(tag, timeout=3.0):
    """Wait until no request of the tag is still in progress."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = emu_log(tag)
        if all(e.get("end") for e in log):
            return log
        time.sleep(0.05)
    return emu_log(tag)


# ---- PostgreSQL ------------------------------------------------------------

def connect(dbname="postgres", user=None, autocommit=True, **kw):
    conn = psycopg2.connect(host=PGHOST, port=PGPORT, user=user or PGUSER,
                            dbname=dbname, connect_timeout=10, **kw)
    conn.autocommit = autocommit
    return conn


def recreate_database(name):
    """Drop and create database `name` with callogs_fdw installed; returns
    an autocommit superuser connection to it."""
    admin = connect("postgres")
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        cur.execute("CREATE DATABASE %s" % name)
    admin.close()
    conn = connect(name)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION callogs_fdw")
    return conn


def create_fdw_role(conn, role):
    """(Re)create a login role that may use the callogs_fdw wrapper."""
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS %s" % role)
        cur.execute("CREATE ROLE %s LOGIN" % role)
        cur.execute("GRANT USAGE ON FOREIGN DATA WRAPPER callogs_fdw TO %s" % role)


def drop_role(role):
    """Drop a role if it exists; errors are ignored (it may own objects
    elsewhere while a suite tears down)."""
    try:
        admin = connect("postgres")
        with admin.cursor() as cur:
            cur.execute("DROP ROLE IF EXISTS %s" % role)
        admin.close()
    except psycopg2.Error:
        pass


def drop_database(name):
    try:
        admin = connect("postgres")
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        admin.close()
    except psycopg2.Error:
        pass


def sql_literal(s):
    return "'" + str(s).replace("'", "''") + "'"


def options_clause(opts):
    if not opts:
        return ""
    return "OPTIONS (%s)" % ", ".join("%s %s" % (k, sql_literal(v)) for k, v in opts.items())


def create_table(conn, name, scenario, server_opts=None, table_opts=None,
                 token=TOKEN, org="acme", user="CURRENT_USER", columns=COLUMNS):
    """Create server <name>_srv, a user mapping and foreign table <name>.

    scenario: emulator scenario opts (dict or string) or a full url.
    """
    url = scenario if str(scenario).startswith(("http://", "https://")) else emu_url(scenario)
    sopts = {"url": url, "org_handle": org}
    sopts.update(server_opts or {})
    with conn.cursor() as cur:
        cur.execute("DROP SERVER IF EXISTS %s_srv CASCADE" % name)
        cur.execute("CREATE SERVER %s_srv FOREIGN DATA WRAPPER callogs_fdw %s"
                    % (name, options_clause(sopts)))
        if token is not None:
            cur.execute("CREATE USER MAPPING FOR %s SERVER %s_srv OPTIONS (token %s)"
                        % (user, name, sql_literal(token)))
        cur.execute("CREATE FOREIGN TABLE %s (%s) SERVER %s_srv %s"
                    % (name, columns, name, options_clause(table_opts)))
    return name


def pct_all(s):
    """Percent-encode every character, so that the literal text of s does
    not occur in a URL (the emulator decodes scenario values)."""
    return "".join("%%%02X" % b for b in s.encode())


def scenario(tag, rows=250, token=TOKEN, **kw):
    """Emulator scenario opts string with a tag and the expected token.

    The token is fully percent-encoded, so that the URL (which appears in
    error details and the server log) never holds the token's text."""
    opts = {"tag": tag, "rows": rows, "token": pct_all(token)}
    opts.update(kw)
    return ",".join("%s=%s" % (k, v) for k, v in opts.items())


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


def query_error(conn, sql, args=None):
    """Run sql, which must fail; return the psycopg2 error."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            if cur.description:
                cur.fetchall()
    except psycopg2.Error as e:
        if not conn.autocommit:
            conn.rollback()
        return e
    return None


def error_text(e):
    """Everything a client sees of an error: message, detail, hint, context."""
    d = e.diag
    return "\n".join(x for x in (d.message_primary, d.message_detail, d.message_hint,
                                 d.context, str(e)) if x)


def backend_pid(conn):
    return query(conn, "SELECT pg_backend_pid()")[0][0]


def backend_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


# ---- server log -----------------------------------------------------------

def server_log_path():
    """The cluster's log; a test that reads it must not pass without it."""
    p = os.path.join(CL_WORK, "postgres.log") if CL_WORK else None
    if not p or not os.path.exists(p):
        raise RuntimeError("server log not found: set CL_WORK to the directory "
                           "holding postgres.log (scripts/env.sh exports it)")
    return p


def server_log_size():
    return os.path.getsize(server_log_path())


def server_log_since(pos):
    p = server_log_path()
    with open(p, "rb") as f:
        f.seek(pos)
        return f.read().decode("utf-8", "replace")


# ---- missing tools ----------------------------------------------------------

# CI sets CL_REQUIRE_ALL=1: a test that would be skipped because a tool or
# package is missing (java, the JDBC driver, pg_cron) fails instead, so a
# fresh machine cannot pass by running less.  CL_ALLOW_MISSING lists the
# tools that may be missing all the same (scripts/versions.sh sets
# "pg_cron" for versions that have none here).
REQUIRE_ALL = os.environ.get("CL_REQUIRE_ALL", "") == "1"
ALLOW_MISSING = set(os.environ.get("CL_ALLOW_MISSING", "").split())


def missing_tool(tool, reason):
    """Skip the test (or class, from setUpClass) because `tool` is missing;
    under CL_REQUIRE_ALL=1 fail instead, unless CL_ALLOW_MISSING names it."""
    if REQUIRE_ALL and tool not in ALLOW_MISSING:
        raise AssertionError("%s (CL_REQUIRE_ALL=1: a missing tool fails the suite; "
                             "bash scripts/test.sh installs it)" % reason)
    raise unittest.SkipTest(reason)


CRASH_RE = re.compile(r"terminated by signal|was terminated by|server process .* exited with exit code [^0]")


class FdwTestCase(unittest.TestCase):
    """Base class: self.conn is an autocommit superuser connection to the
    suite's database (class attribute DB)."""

    DB = None
    conn = None

    @classmethod
    def setUpClass(cls):
        cls.conn = connect(cls.DB)

    @classmethod
    def tearDownClass(cls):
        if cls.conn is not None:
            cls.conn.close()

    def assertSqlState(self, e, code, msg_re=None):
        self.assertIsNotNone(e, "the query did not fail (expected SQLSTATE %s)" % code)
        self.assertEqual(e.pgcode, code, "SQLSTATE %s (expected %s): %s"
                         % (e.pgcode, code, error_text(e)))
        if msg_re is not None:
            self.assertRegex(error_text(e), msg_re)

    def assertFails(self, sql, code, msg_re=None, conn=None):
        e = query_error(conn or self.conn, sql)
        self.assertSqlState(e, code, msg_re)
        return e
