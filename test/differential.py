#!/usr/bin/python3
"""Differential test of callogs_fdw: random queries, three answers each.

A seeded generator builds random queries over call_logs (call_type and
call_status conditions with =, IN, = ANY, <>, IS NULL, wrong case and
undocumented values, runtime values; date bounds as timestamptz, timestamp,
date and text with UTC offsets, BETWEEN, several bounds, infinities and
years ISO 8601 cannot write; LIMIT, OFFSET, ORDER BY ... LIMIT, count(*),
GROUP BY, DISTINCT, joins with local tables, semi-joins, correlated and
LATERAL subqueries, prepared statements under a generic plan) and runs
each in a random session (TimeZone, plan_cache_mode, join methods,
work_mem) against three tables holding the same calls:

  on     a foreign table with pushdown (the default)
  off    a foreign table with pushdown 'false' on a server with the same
         options (only the emulator tag differs)
  local  a heap table loaded from the emulator's JSON by this script,
         through PostgreSQL's own input functions (independent of the
         FDW's scan and conversion)

The three answers must be equal: as multisets, in order under an ORDER BY
that fixes the order, and for a LIMIT without ORDER BY the right number of
rows, all of them rows of the unlimited answer.  Errors must agree too.

Each configuration is an emulator scenario whose timestamps carry UTC
offsets (tz=mixed, or a fixed offset) with a fixed anchor, plus the
table's date_column (a timestamptz, timestamp or date column fed by
creation_time, or start_time where the emulator filters on it) and
date_format, and the server's page_size and concurrency.  The emulator's
documented variants are drawn too (variant b, inclusive or exclusive
end_date, bare dates or timestamps only, case-insensitive filters, page
or cursor links, a page_size cap, empty pages past the end).

Any difference fails and prints a reproduction, reduced to the fewest
conditions and settings that still differ: scenario, DDL, settings,
statements, the requests the pushdown table sent, and the rows that
differ.  At the end the run must also have pushed something (filters,
date bounds, count(*) as a page_size=1 request, contradictions that send
nothing), so that it cannot pass by comparing two unfiltered scans.

    /usr/bin/python3 test/differential.py [--queries 500] [--seed 1]
        [--configs N] [--verbose] [--keep]

Environment as for the other suites: PGHOST, PGPORT, PGUSER, EMU_PORT
(test/fdwtest.py).  test/differential_test.py runs it in the suite.
Exits 0 when every query agreed, 1 otherwise.
"""

import argparse
import collections
import datetime
import json
import os
import random
import sys
import time
import urllib.parse
import urllib.request
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

import psycopg2  # noqa: E402

DB = "differential_test"
ANCHORS = ["2025-11-30T00:00:00Z", "2025-03-30T06:00:00Z",   # EU spring forward
           "2024-11-03T12:00:00Z", "2026-01-01T00:00:00Z",   # US fall back, new year
           "now"]      # the emulator's start: now()-relative bounds find rows
OFFSETS = ["Z", "+00:00", "+05:30", "-08:00", "+14:00", "-12:00", "+05:45",
           "-03:30", "+15:59", "-15:59", "+01:00"]
NAMED_ZONES = ["America/New_York", "Asia/Kolkata", "Pacific/Kiritimati",
               "Europe/London"]
SESSION_ZONES = ["UTC", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Kiritimati",
                 "Etc/GMT+12", "America/St_Johns", "Asia/Kathmandu",
                 "Australia/Lord_Howe", "Europe/Berlin", "Pacific/Apia",
                 "Pacific/Chatham", "America/Sao_Paulo"]
# PostgreSQL takes any offset below 168 hours as a session TimeZone
SESSION_OFFSETS = ["15.5", "-15.5", "14", "-12", "-20", "23.5", "'<-100>+100'",
                   "'AAA-20BBB,M3.5.0,M10.5.0'"]
STATUSES = ["completed", "missed", "failed"]
TYPES = ["inbound", "outbound"]
BAD_STATUSES = ["Missed", "MISSED", "busy", "", "missed ", "completed&x=1"]
BAD_TYPES = ["Inbound", "internal", "OUTBOUND"]


# ---- configurations ---------------------------------------------------------

class Config:
    """One emulator scenario and the three tables over it."""

    def __init__(self, k, rng):
        self.k = k
        self.rows = rng.choice([1500, 2500, 3500])
        opts = collections.OrderedDict()
        opts["rows"] = self.rows
        opts["seed"] = rng.randint(1, 10 ** 6)
        opts["anchor"] = rng.choice(ANCHORS)
        opts["tz"] = rng.choice(["mixed"] * 4 + ["%2B05:30", "-08:00", "Z"])
        opts["token"] = pct_all(TOKEN)
        self.variant = rng.choice("aaab")
        if self.variant == "b":
            opts["variant"] = "b"
        self.date_format = rng.choice(["date", "timestamp"])
        # the column the API's start_date/end_date filter on
        if rng.random() < 0.12:
            self.date_column = "start_time"
            opts["date_field"] = "start_time"
        else:
            self.date_column = rng.choice(["creation_time", "ct_ts", "ct_d"])
        if rng.random() < 0.3:
            opts["end_exclusive"] = 1
        if rng.random() < 0.3:
            opts["dates"] = "date_only" if self.date_format == "date" else "timestamp_only"
        if rng.random() < 0.2:
            opts["case_insensitive"] = 1
        opts["links"] = rng.choice(["page", "page", "cursor", "0"])
        if rng.random() < 0.2:
            opts["past_end"] = "empty"
        self.page_size = rng.choice([50, 100, 250, 1000, 1000])
        if rng.random() < 0.15:
            opts["cap"] = rng.choice([40, 90])
        self.concurrency = rng.choice([1, 4, 4, 8])
        # call_type/call_status columns: text, varchar or a domain, own
        # name or another one fed by the field option
        self.label_type = rng.choice(["text", "text", "varchar(20)", "diff_label"])
        renamed = rng.random() < 0.2
        self.type_col = "kind" if renamed else "call_type"
        self.status_col = "status" if renamed else "call_status"
        self.opts = opts

    def scenario(self, side):
        o = collections.OrderedDict([("tag", "diff%d%s" % (self.k, side))])
        o.update(self.opts)
        return ",".join("%s=%s" % (k, v) for k, v in o.items())

    def totals_opts(self):
        return ",".join("%s=%s" % (k, v) for k, v in self.opts.items()
                        if k in ("rows", "seed", "anchor", "tz", "variant"))

    def columns(self, foreign):
        def f(name, field):
            return " OPTIONS (field '%s')" % field if foreign and name != field else ""
        lt = self.label_type
        return ",\n  ".join([
            "id text", "source_number text", "destination_number text",
            "%s %s%s" % (self.type_col, lt, f(self.type_col, "call_type")),
            "%s %s%s" % (self.status_col, lt, f(self.status_col, "call_status")),
            "creation_time timestamptz",
            "ct_ts timestamp%s" % f("ct_ts", "creation_time"),
            "ct_d date%s" % f("ct_d", "creation_time"),
            "start_time timestamptz", "end_time timestamptz",
            "call_duration interval", "end_reason text", "bridge integer"])

    def ddl(self):
        """The statements creating the two servers and the three tables."""
        out = []
        for side in ("on", "off"):
            srv = "d%d_%s_srv" % (self.k, side)
            out.append("DROP SERVER IF EXISTS %s CASCADE" % srv)
            out.append("CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                       "(url %s, org_handle 'acme', page_size '%d', concurrency '%d')"
                       % (srv, sql_literal(emu_url(self.scenario(side))), self.page_size,
                          self.concurrency))
            out.append("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (token %s)"
                       % (srv, sql_literal(TOKEN)))
            topts = "date_column '%s', date_format '%s'" % (self.date_column, self.date_format)
            if side == "off":
                topts += ", pushdown 'false'"
            out.append("CREATE FOREIGN TABLE d%d_%s (\n  %s\n) SERVER %s OPTIONS (%s)"
                       % (self.k, side, self.columns(True), srv, topts))
        out.append("DROP TABLE IF EXISTS d%d_local" % self.k)
        out.append("CREATE TABLE d%d_local (\n  %s\n)" % (self.k, self.columns(False)))
        return out

    def describe(self):
        return ("scenario: %s\nserver options: page_size %d, concurrency %d\n"
                "table options: date_column %s, date_format %s; %s/%s columns of type %s"
                % (self.scenario("on"), self.page_size, self.concurrency,
                   self.date_column, self.date_format, self.type_col, self.status_col,
                   self.label_type))


def api_rows(cfg):
    """Every row of the scenario, as the emulator serves it (page numbers,
    1,000 a page, no links)."""
    opts = ",".join(["tag=diff%dload" % cfg.k] +
                    ["%s=%s" % kv for kv in cfg.opts.items()
                     if kv[0] not in ("links", "cap", "past_end")] + ["links=0"])
    rows, page = [], 1
    while True:
        q = urllib.parse.urlencode({"page": page, "page_size": 1000})
        req = urllib.request.Request(emu_url(opts) + "?" + q,
                                     headers={"Org-Handle": "acme",
                                              "Authorization": "Token " + TOKEN})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.loads(r.read())
        rows.extend(body["data"])
        if len(rows) >= body["count"] or not body["data"]:
            return rows, body["count"]
        page += 1


def copy_text(v):
    if v is None:
        return "\\N"
    s = v if isinstance(v, str) else json.dumps(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load_local(conn, cfg):
    """Fill d<k>_local from the emulator's JSON through PostgreSQL's input
    functions; returns the rows' creation_time instants (for bounds)."""
    import io
    rows, count = api_rows(cfg)
    if len(rows) != count:
        raise RuntimeError("emulator gave %d rows, count %d" % (len(rows), count))
    buf = io.StringIO()
    for r in rows:
        ct = r.get("creation_time")
        vals = [r.get("id"), r.get("source_number"), r.get("destination_number"),
                r.get("call_type"), r.get("call_status"), ct, ct, ct,
                r.get("start_time"), r.get("end_time"), r.get("call_duration"),
                r.get("end_reason"), r.get("bridge")]
        buf.write("\t".join(copy_text(v) for v in vals) + "\n")
    buf.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert("COPY d%d_local FROM STDIN" % cfg.k, buf)
        cur.execute("ANALYZE d%d_local" % cfg.k)
    return [parse_iso(r["creation_time"]) for r in rows], rows


def parse_iso(s):
    s = s.replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(s)


# ---- values ---------------------------------------------------------------

class Val:
    """A value in a query: its SQL literal, and the type and text it has
    as a parameter of a prepared statement."""

    def __init__(self, sql, ptype=None, ptext=None):
        self.sql = sql
        self.ptype = ptype
        self.ptext = ptext

    def param(self):
        return self.ptype is not None


def fmt_instant(t, offset):
    """t (aware datetime) written with a UTC offset or a named zone."""
    if offset in NAMED_ZONES:
        local = t.astimezone(zoneinfo.ZoneInfo(offset))
        return local.strftime("%Y-%m-%d %H:%M:%S.%f") + " " + offset
    if offset == "Z":
        tz = datetime.timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        h, m = offset[1:].split(":")
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(h), minutes=int(m)))
    local = t.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S.%f") + ("Z" if offset == "Z" else offset)


class Gen:
    """Random query parts for one configuration."""

    def __init__(self, rng, cfg, instants, rows):
        self.r = rng
        self.cfg = cfg
        self.instants = instants
        self.rows = rows
        self.lo = min(instants)
        self.hi = max(instants)

    # instants
    def instant(self):
        r = self.r.random()
        day = datetime.timedelta(days=1)
        if r < 0.35:
            span = (self.hi - self.lo) + 2 * day
            return self.lo - day + span * self.r.random()
        if r < 0.7:
            t = self.r.choice(self.instants)
            return t + self.r.choice([datetime.timedelta(0)] * 4 + [
                datetime.timedelta(milliseconds=1), -datetime.timedelta(milliseconds=1),
                datetime.timedelta(microseconds=1), -datetime.timedelta(microseconds=1)])
        if r < 0.85:
            t = self.lo + (self.hi - self.lo) * self.r.random()
            return t.replace(hour=0, minute=0, second=0, microsecond=0)
        return self.r.choice([self.hi, self.lo, self.hi + datetime.timedelta(hours=20),
                              self.lo - datetime.timedelta(hours=20),
                              self.hi + datetime.timedelta(hours=15, minutes=59)])

    def date_value(self):
        """A value to compare a date/time column with."""
        r = self.r.random()
        t = self.instant()
        off = self.r.choice(OFFSETS + NAMED_ZONES)
        text = fmt_instant(t, off)
        wall = text[:26]
        day = text[:10]
        if r < 0.22:
            return Val("timestamptz '%s'" % text, "timestamptz", text)
        if r < 0.36:
            return Val("'%s'" % text)                    # the column's type
        if r < 0.48:
            return Val("timestamp '%s'" % wall, "timestamp", wall)
        if r < 0.60:
            return Val("date '%s'" % day, "date", day)
        if r < 0.66:
            return Val("'%s'" % day)
        if r < 0.72:
            return Val("(timestamptz '%s' + interval '1 day' - interval '1 day')" % text)
        if r < 0.76:
            return Val("(now() - (now() - timestamptz '%s'))" % text)
        if r < 0.80:
            return Val("(current_date - (current_date - date '%s'))" % day)
        if r < 0.85:
            return Val("current_setting('diff.bound')::timestamptz", None, text)
        if r < 0.89:
            return Val("(SELECT b.since FROM diff_bounds b WHERE b.k = %d)"
                       % self.r.randint(1, 5))
        if r < 0.91:
            return Val("date_trunc('day', timestamptz '%s')" % text)
        if r < 0.93:
            # now()-relative, as users write it (rows only with anchor=now)
            hours = self.r.choice([1, 6, 24, 7 * 24, 15 * 24])
            return Val("now() - interval '%d hours'" % hours)
        return self.r.choice([
            Val("timestamptz 'infinity'"), Val("timestamptz '-infinity'"),
            Val("'infinity'"), Val("'-infinity'"),
            Val("timestamptz '0044-03-15 12:00 BC'"), Val("date '0044-03-15 BC'"),
            Val("timestamp '10000-01-01 00:00'"), Val("date '9999-12-31'"),
            Val("timestamptz '0001-01-01 00:00+00'"),
            Val("NULL::timestamptz"), Val("NULL::date"),
        ])

    def date_col(self):
        cols = ["creation_time", "ct_ts", "ct_d"]
        if self.cfg.date_column == "start_time":
            return self.r.choice(["start_time"] * 3 + cols)
        return self.r.choice([self.cfg.date_column] * 4 + cols + ["start_time", "end_time"])

    def date_cond(self):
        col = "l." + self.date_col()
        r = self.r.random()
        if r < 0.2:
            a, b = self.date_value(), self.date_value()
            return ("%s BETWEEN %s AND %s" % (col, "{0}", "{1}"), [a, b])
        if r < 0.25:
            return ("%s IS NULL" % col, [])
        op = self.r.choice([">=", ">", "<", "<=", "=", ">=", "<", "<="])
        v = self.date_value()
        if self.r.random() < 0.15:
            flip = {">=": "<=", ">": "<", "<": ">", "<=": ">=", "=": "="}
            return ("{0} %s %s" % (flip[op], col), [v])
        return ("%s %s {0}" % (col, op), [v])

    def label(self, kind):
        good = TYPES if kind == "type" else STATUSES
        bad = BAD_TYPES if kind == "type" else BAD_STATUSES
        return self.r.choice(good) if self.r.random() < 0.75 else self.r.choice(bad)

    def label_cond(self, kind):
        col = "l." + (self.cfg.type_col if kind == "type" else self.cfg.status_col)
        r = self.r.random()
        lit = lambda s: "'%s'" % s.replace("'", "''")  # noqa: E731
        if r < 0.35:
            s = self.label(kind)
            if self.r.random() < 0.1:
                return ("%s = {0}" % col, [Val(lit(s), "text", s)])
            if self.r.random() < 0.1:
                return ("{0} = %s" % col, [Val(lit(s), "text", s)])
            return ("%s = {0}" % col, [Val(lit(s), "text", s)])
        if r < 0.5:
            vals = [self.label(kind) for _ in range(self.r.randint(1, 3))]
            return ("%s IN (%s)" % (col, ", ".join(lit(v) for v in vals)), [])
        if r < 0.62:
            vals = [self.label(kind) for _ in range(self.r.randint(0, 3))]
            if self.r.random() < 0.2:
                vals.append(None)
            arr = "{%s}" % ",".join("NULL" if v is None else '"%s"' % v for v in vals)
            return ("%s = ANY ({0})" % col, [Val("%s::text[]" % lit(arr), "text[]", arr)])
        if r < 0.68:
            return ("%s <> %s" % (col, lit(self.label(kind))), [])
        if r < 0.72:
            return ("NOT (%s = %s)" % (col, lit(self.label(kind))), [])
        if r < 0.76:
            return ("%s IS %sNULL" % (col, self.r.choice(["", "NOT "])), [])
        if r < 0.82:
            return ("%s = current_setting('diff.%s')" % (col, kind), [])
        if r < 0.86:
            return ("%s = ANY (string_to_array(current_setting('diff.%ss'), ','))"
                    % (col, kind), [])
        if r < 0.89:
            return ("lower(%s) = %s" % (col, lit(self.label(kind).lower())), [])
        if r < 0.92:
            return ("%s = (SELECT s.status FROM diff_statuses s WHERE s.k = %d)"
                    % (col, self.r.randint(1, 7)), [])
        if r < 0.96:
            return ("(%s = %s OR %s = %s)" % (col, lit(self.label(kind)), col,
                                              lit(self.label(kind))), [])
        return ("%s LIKE %s" % (col, lit(self.label(kind)[:2] + "%")), [])

    def other_cond(self):
        return self.r.choice([
            ("l.end_reason = 'busy'", []), ("l.bridge > 3", []),
            ("l.call_duration > interval '5 minutes'", []), ("l.id IS NOT NULL", []),
            ("(l.%s = 'inbound' OR l.%s = 'missed')" % (self.cfg.type_col,
                                                        self.cfg.status_col), []),
            ("l.source_number LIKE '+91%'", []),
        ])

    def conds(self, n=None):
        n = self.r.choice([0, 1, 1, 2, 2, 2, 3, 3, 4]) if n is None else n
        out = []
        for _ in range(n):
            r = self.r.random()
            if r < 0.42:
                out.append(self.date_cond())
            elif r < 0.64:
                out.append(self.label_cond("status"))
            elif r < 0.86:
                out.append(self.label_cond("type"))
            else:
                out.append(self.other_cond())
        return out

    def settings(self):
        s = collections.OrderedDict()
        z = self.r.random()
        if z < 0.65:
            s["TimeZone"] = "'%s'" % self.r.choice(SESSION_ZONES)
        else:
            s["TimeZone"] = self.r.choice(SESSION_OFFSETS)
        s["plan_cache_mode"] = self.r.choice(["auto", "force_generic_plan",
                                              "force_generic_plan", "force_custom_plan"])
        for m in ("enable_hashjoin", "enable_mergejoin", "enable_material"):
            if self.r.random() < 0.3:
                s[m] = "off"
        if self.r.random() < 0.2:
            s["work_mem"] = "64"
        s["diff.status"] = "'%s'" % self.label("status")
        s["diff.type"] = "'%s'" % self.label("type")
        s["diff.statuss"] = "'%s'" % ",".join(self.label("status") for _ in range(2))
        s["diff.types"] = "'%s'" % ",".join(self.label("type") for _ in range(2))
        s["diff.bound"] = "'%s'" % fmt_instant(self.instant(), self.r.choice(OFFSETS))
        return s

    def case(self):
        """A random query case (a dict, rendered by render())."""
        r = self.r.random()
        c = {"conds": self.conds(), "settings": self.settings(), "limit": None,
             "offset": None, "order": None, "prepared": self.r.random() < 0.25}
        tc, sc = self.cfg.type_col, self.cfg.status_col
        dc = self.cfg.date_column if self.cfg.date_column != "start_time" else "creation_time"
        if r < 0.26:
            c["shape"] = "plain"
            c["select"] = self.r.choice([
                "l.*", "l.id, l.%s, l.%s, l.creation_time" % (tc, sc),
                "l.creation_time, l.ct_ts, l.ct_d, l.%s" % sc, "l.id"])
            if self.r.random() < 0.45:
                c["limit"] = self.r.choice([0, 1, 5, 20, 99, 100, 101, 250, 1001, 5000])
                c["limit_param"] = self.r.random() < 0.5
                if self.r.random() < 0.2:
                    c["offset"] = self.r.choice([1, 50, 100, 1000])
            if self.r.random() < 0.35:
                c["order"] = self.r.choice([
                    "l.creation_time DESC", "l.creation_time", "l.%s DESC" % dc,
                    "l.ct_d DESC", "l.%s" % sc])
        elif r < 0.38:
            c["shape"] = "count"
            c["conds"] = [x for x in c["conds"] if "l.%s" % tc in x[0] or "l.%s" % sc in x[0]] \
                if self.r.random() < 0.6 else c["conds"]
            c["select"] = self.r.choice(["count(*)", "count(*), count(l.id)",
                                         "count(*), min(l.creation_time), max(l.ct_d)"])
        elif r < 0.48:
            c["shape"] = "group"
            g = self.r.choice(["l.%s" % sc, "l.%s" % tc, "l.%s, l.%s" % (tc, sc), "l.ct_d"])
            # count(*) alone per group may be answered from the API's count
            c["select"] = ("%s, count(*)" % g if self.r.random() < 0.5 else
                           "%s, count(*), min(l.creation_time), max(l.ct_ts)" % g)
            c["group"] = g
            c["having"] = self.r.random() < 0.2
        elif r < 0.53:
            c["shape"] = "distinct"
            c["select"] = self.r.choice(["DISTINCT l.%s" % sc, "DISTINCT l.%s, l.%s" % (tc, sc),
                                         "DISTINCT l.ct_d"])
        elif r < 0.62:
            c["shape"] = "limited_count"
            c["limit"] = self.r.choice([1, 20, 100, 195, 200, 300, 1001, 10000])
        elif r < 0.72:
            c["shape"] = "join_statuses"
        elif r < 0.78:
            c["shape"] = "join_numbers"
        elif r < 0.85:
            c["shape"] = "correlated"
        elif r < 0.88:
            c["shape"] = "lateral"
            c["limit"] = self.r.choice([1, 3, 10])
        elif r < 0.91:
            c["shape"] = "correlated_join"
            # a nested loop, whose inner foreign scan keeps its rows for rescans
            c["settings"]["enable_hashjoin"] = "off"
            c["settings"]["enable_mergejoin"] = "off"
            c["settings"]["enable_material"] = "off"
        elif r < 0.95:
            c["shape"] = "selfjoin"
        else:
            c["shape"] = "semijoin"
        return c


# ---- rendering --------------------------------------------------------------

def where(conds, prepared, params, extra=()):
    """The WHERE clause of conds; in a prepared case the values that can be
    parameters become $n (their types and texts appended to params)."""
    parts = []
    for text, vals in conds:
        args = []
        for v in vals:
            if prepared and v.param():
                params.append(v)
                args.append("$%d" % len(params))
            else:
                args.append(v.sql)
        parts.append(text.format(*args))
    parts.extend(extra)
    return (" WHERE " + " AND ".join(parts)) if parts else ""


def render(c, cfg, table):
    """The statements of case c against table: (setup, query, params)."""
    params = []
    p = c["prepared"]
    tc, sc = cfg.type_col, cfg.status_col
    shape = c["shape"]
    t = table
    if shape == "plain":
        q = "SELECT %s FROM %s l%s" % (c["select"], t, where(c["conds"], p, params))
        if c["order"]:
            q += " ORDER BY " + c["order"]
            if c["order"] != "l.creation_time DESC" or c["limit"] is None:
                q += ", l.creation_time, l.id"
        if c["limit"] is not None and p and c.get("limit_param"):
            # LIMIT $n: known only when a generic plan's scan starts
            params.append(Val(str(c["limit"]), "bigint", str(c["limit"])))
            q += " LIMIT $%d" % len(params)
        elif c["limit"] is not None:
            q += " LIMIT %d" % c["limit"]
        if c["offset"] is not None:
            q += " OFFSET %d" % c["offset"]
    elif shape == "count":
        q = "SELECT %s FROM %s l%s" % (c["select"], t, where(c["conds"], p, params))
    elif shape == "group":
        q = "SELECT %s FROM %s l%s GROUP BY %s" % (c["select"], t,
                                                   where(c["conds"], p, params), c["group"])
        if c.get("having"):
            q += " HAVING count(*) > 10"
    elif shape == "distinct":
        q = "SELECT %s FROM %s l%s" % (c["select"], t, where(c["conds"], p, params))
    elif shape == "limited_count":
        inner = "SELECT l.id, l.creation_time FROM %s l%s" % (t, where(c["conds"], p, params))
        if c["limit"] is not None:
            inner += " LIMIT %d" % c["limit"]
        q = ("SELECT count(*), count(DISTINCT s.id), count(DISTINCT s.creation_time) "
             "FROM (%s) s" % inner)
    elif shape == "join_statuses":
        q = ("SELECT l.id, l.creation_time, s.status, s.note FROM %s l "
             "JOIN diff_statuses s ON l.%s = s.status%s"
             % (t, sc, where(c["conds"], p, params)))
    elif shape == "join_numbers":
        q = ("SELECT n.name, count(*), min(l.creation_time) FROM %s l "
             "JOIN diff_numbers n ON n.phone = l.source_number%s GROUP BY n.name"
             % (t, where(c["conds"], p, params)))
    elif shape == "correlated":
        q = ("SELECT s.k, s.status, (SELECT count(*) FROM %s l%s) FROM diff_statuses s"
             % (t, where(c["conds"], p, params, ["l.%s = s.status" % sc])))
    elif shape == "correlated_join":
        # a join inside a correlated subquery: a nested loop rescans its
        # inner foreign scan with each new value of the outer parameter
        q = ("SELECT s.k, s.status, (SELECT count(*) FROM %s a JOIN %s l "
             "ON a.creation_time = l.creation_time%s) FROM diff_statuses s"
             % (t, t, where(c["conds"], p, params,
                            ["a.%s = s.status" % sc, "l.%s = s.status" % sc])))
    elif shape == "lateral":
        q = ("SELECT s.k, x.* FROM diff_bounds s CROSS JOIN LATERAL "
             "(SELECT l.id, l.creation_time, l.%s FROM %s l%s "
             "ORDER BY l.creation_time DESC LIMIT %d) x"
             % (sc, t, where(c["conds"], p, params, ["l.creation_time <= s.since"]),
                c["limit"] if c["limit"] is not None else 3))
    elif shape == "selfjoin":
        q = ("SELECT a.id, a.creation_time, l.%s FROM %s a JOIN %s l "
             "ON a.creation_time = l.creation_time AND a.%s = l.%s%s"
             % (sc, t, t, tc, tc, where(c["conds"], p, params)))
    elif shape == "semijoin":
        q = ("SELECT l.id, l.source_number FROM %s l%s"
             % (t, where(c["conds"], p, params,
                         ["l.source_number IN (SELECT n.phone FROM diff_numbers n)"])))
    else:
        raise ValueError(shape)
    return q, params


def unlimited(c):
    """The same case without its LIMIT/OFFSET (the oracle of a LIMIT with
    no ORDER BY), or None when the limit is part of the answer."""
    if c["shape"] == "plain" and c["limit"] is not None and not c["order"]:
        d = dict(c)
        d["limit"] = None
        d["offset"] = None
        return d
    return None


def ordered(c):
    """Whether the answer's order is fixed by the query."""
    return c["shape"] == "plain" and bool(c["order"])


# ---- running ----------------------------------------------------------------

# date/time values stay PostgreSQL's text: Python's datetime refuses UTC
# offsets of a day or more, which a session TimeZone can have
AS_TEXT = psycopg2.extensions.new_type((1082, 1083, 1114, 1184, 1186, 1266), "DIFF_TEXT",
                                       lambda v, cur: v)


class Runner:
    def __init__(self, conn, verbose=False):
        psycopg2.extensions.register_type(AS_TEXT, conn)
        self.conn = conn
        self.verbose = verbose
        self.comparisons = 0
        self.errors_agreed = 0
        self.pstmt = 0

    def run(self, c, cfg, table, param_sets):
        """Run case c against table; a list with one answer per parameter
        set (one set when the case is not prepared): ("rows", [...]) or
        ("error", sqlstate, message)."""
        q, params = render(c, cfg, table)
        answers = []
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN")
            for k, v in c["settings"].items():
                cur.execute("SET LOCAL %s = %s" % (k, v))
            if c["prepared"] and params:
                self.pstmt += 1
                name = "diff_p%d" % self.pstmt
                types = ", ".join(v.ptype for v in params)
                prep = self.fetch(cur, "PREPARE %s (%s) AS %s" % (name, types, q), False)
                if prep[0] == "error":
                    return [prep] * len(param_sets)
                for ps in param_sets:
                    args = ", ".join(sql_literal(x) for x in ps[:len(params)])
                    answers.append(self.fetch(cur, "EXECUTE %s (%s)" % (name, args)))
                cur.execute("DEALLOCATE %s" % name)
            else:
                # no parameter (or the LIMIT's oracle, which drops $n): the
                # same answer for every parameter set
                answers.extend([self.fetch(cur, q)] * len(param_sets))
        finally:
            try:
                cur.execute("ROLLBACK")
            except psycopg2.Error:
                self.conn.rollback()
            cur.close()
        return answers

    def fetch(self, cur, sql, rows=True):
        cur.execute("SAVEPOINT q")
        try:
            cur.execute(sql)
            rows = [tuple(None if v is None else str(v) for v in row)
                    for row in cur.fetchall()] if rows else []
            cur.execute("RELEASE SAVEPOINT q")
            return ("rows", rows)
        except psycopg2.Error as e:
            cur.execute("ROLLBACK TO SAVEPOINT q")
            return ("error", e.pgcode, (e.diag.message_primary or str(e)).strip())


def param_sets(c, cfg, gen, params):
    """Two sets of parameter texts: the case's own values, then values
    drawn anew of the same types (a generic plan runs with both)."""
    first = [v.ptext for v in params]
    second = []
    for v in params:
        if v.ptype == "text":
            kind = "type" if v.ptext in TYPES + BAD_TYPES else "status"
            second.append(gen.label(kind))
        elif v.ptype == "bigint":
            second.append(str(gen.r.choice([1, 7, 100, 150, 420, 3000])))
        elif v.ptype == "text[]":
            second.append("{%s}" % ",".join(gen.label("status") for _ in range(2)))
        else:
            nv = gen.date_value()
            while nv.ptype != v.ptype:
                nv = gen.date_value()
            second.append(nv.ptext)
    return [first, second]


def key(row):
    return tuple("\x00" if v is None else "\x01" + v for v in row)


def compare(c, expected, got, full=None):
    """None when got agrees with expected, else a description."""
    if expected[0] == "error" or got[0] == "error":
        if expected[0] == got[0] == "error" and expected[1] == got[1]:
            return None
        return "expected %s, got %s" % (short(expected), short(got))
    e, g = expected[1], got[1]
    if full is not None:
        # LIMIT without ORDER BY: the right number of rows of the full answer
        fe = collections.Counter(full[1])
        n = len(e)
        missing = collections.Counter(g) - fe
        if len(g) != n or missing:
            return ("LIMIT without ORDER BY: expected %d rows of the unlimited answer, "
                    "got %d rows, %d of them not in it%s"
                    % (n, len(g), sum(missing.values()), rows_sample("not in it", missing)))
        return None
    if ordered(c):
        if e == g:
            return None
        i = next((i for i in range(min(len(e), len(g))) if e[i] != g[i]), min(len(e), len(g)))
        return ("ordered answers differ at row %d (expected %d rows, got %d): expected %s, got %s"
                % (i + 1, len(e), len(g), e[i] if i < len(e) else "end",
                   g[i] if i < len(g) else "end"))
    ce, cg = collections.Counter(e), collections.Counter(g)
    if ce == cg:
        return None
    return ("expected %d rows, got %d%s%s" % (len(e), len(g),
                                                rows_sample("missing", ce - cg),
                                                rows_sample("extra", cg - ce)))


def rows_sample(label, counter):
    if not counter:
        return ""
    items = sorted(counter.elements(), key=key)
    return "\n    %s (%d): %s" % (label, len(items), "\n      ".join(
        [""] + [repr(x) for x in items[:5]] + (["..."] if len(items) > 5 else [])))


def short(a):
    if a[0] == "error":
        return "ERROR %s: %s" % (a[1], a[2])
    return "%d rows" % len(a[1])


class Differ:
    def __init__(self, conn, verbose=False):
        self.conn = conn
        self.runner = Runner(conn, verbose)
        self.verbose = verbose

    def check(self, c, cfg, gen, psets=None):
        """Run case c on the three tables; returns (problems, psets, on_answers)."""
        q, params = render(c, cfg, "x")
        if psets is None:
            psets = param_sets(c, cfg, gen, params) if (c["prepared"] and params) else [[]]
        local = self.runner.run(c, cfg, "d%d_local" % cfg.k, psets)
        answers = {side: self.runner.run(c, cfg, "d%d_%s" % (cfg.k, side), psets)
                   for side in ("on", "off")}
        full = None
        u = unlimited(c)
        if u is not None:
            full = self.runner.run(u, cfg, "d%d_local" % cfg.k, psets)
        problems = []
        for i, exp in enumerate(local):
            for side in ("on", "off"):
                d = compare(c, exp, answers[side][i], full[i] if full else None)
                if d:
                    problems.append((side, i, d))
        return problems, psets, answers["on"], local

    def reduce(self, c, cfg, gen, psets):
        """Drop conditions, settings, LIMIT/ORDER and the prepared form while
        the case still differs: the smallest reproduction found greedily."""
        def still(d):
            try:
                p, _, _, _ = self.check(d, cfg, gen, psets if d["prepared"] == c["prepared"] else None)
            except Exception:
                return False
            return bool(p)
        cur = dict(c)
        changed = True
        while changed:
            changed = False
            for i in range(len(cur["conds"])):
                d = dict(cur)
                d["conds"] = cur["conds"][:i] + cur["conds"][i + 1:]
                if d["prepared"]:
                    d["prepared"] = False   # parameter positions shift: try unprepared
                if still(d):
                    cur = d
                    changed = True
                    break
            if changed:
                continue
            for k in list(cur["settings"]):
                if k.startswith("diff."):
                    continue
                d = dict(cur)
                d["settings"] = collections.OrderedDict(cur["settings"])
                if k == "TimeZone":
                    if d["settings"][k] == "'UTC'":
                        continue
                    d["settings"][k] = "'UTC'"
                else:
                    del d["settings"][k]
                if still(d):
                    cur = d
                    changed = True
                    break
            if changed:
                continue
            for k in ("offset", "order", "limit"):
                if cur.get(k) is not None and cur["shape"] == "plain":
                    d = dict(cur)
                    d[k] = None
                    if still(d):
                        cur = d
                        changed = True
                        break
            if not changed and cur["shape"] != "plain":
                d = dict(cur)
                d.update(shape="plain", select="l.id, l.creation_time", limit=None,
                         offset=None, order=None)
                if still(d):
                    cur = d
                    changed = True
            if not changed and cur["prepared"]:
                d = dict(cur)
                d["prepared"] = False
                if still(d):
                    cur = d
                    changed = True
        return cur


def requests_of(tag):
    """The API requests of a tag since the last call (query strings, their
    parameters in the order sent)."""
    q = urllib.parse.urlencode({"tag": tag, "format": "json", "clear": 1})
    return [urllib.parse.urlencode(e.get("query") or {})
            for e in json.loads(emu_get("/_log?" + q))]


def repro(cfg, c, psets, problems, requests):
    q, params = render(c, cfg, "d%d_on" % cfg.k)
    out = ["MISMATCH (reduced reproduction)", cfg.describe(), "-- DDL"]
    out.extend(s + ";" for s in cfg.ddl())
    out.append("-- local table: the scenario's rows through COPY (see load_local)")
    out.append("-- session")
    out.extend("SET %s = %s;" % kv for kv in c["settings"].items())
    if c["prepared"] and params:
        out.append("PREPARE p (%s) AS %s;" % (", ".join(v.ptype for v in params), q))
        for ps in psets:
            out.append("EXECUTE p (%s);" % ", ".join(sql_literal(x) for x in ps[:len(params)]))
    else:
        out.append(q + ";")
    out.append("-- compare with d%d_off (pushdown 'false') and d%d_local" % (cfg.k, cfg.k))
    for side, i, d in problems:
        out.append("  %s%s: %s" % (side, " (execution %d)" % (i + 1) if len(psets) > 1 else "", d))
    out.append("-- requests the pushdown table sent:")
    out.extend("  GET ?" + r for r in requests[:12])
    if len(requests) > 12:
        out.append("  ... (%d in all)" % len(requests))
    return "\n".join(out)


def setup_db(conn):
    with conn.cursor() as cur:
        cur.execute("CREATE DOMAIN diff_label AS text")
        cur.execute("CREATE TABLE diff_statuses (k int, status text, note text)")
        cur.execute("INSERT INTO diff_statuses VALUES (1, 'missed', 'm'), (2, 'completed', 'c'), "
                    "(3, 'Missed', 'wrong case'), (4, 'busy', 'undocumented'), (5, NULL, 'null'), "
                    "(6, 'failed', 'f'), (7, 'inbound', 'a type')")
        cur.execute("CREATE TABLE diff_bounds (k int, since timestamptz)")
        cur.execute("CREATE TABLE diff_numbers (phone text, name text)")


def fill_helpers(conn, cfg, instants, rows, rng):
    """diff_bounds and diff_numbers for this configuration's data."""
    with conn.cursor() as cur:
        cur.execute("TRUNCATE diff_bounds, diff_numbers")
        for k in range(1, 6):
            t = rng.choice(instants) if k < 5 else max(instants)
            cur.execute("INSERT INTO diff_bounds VALUES (%s, %s)", (k, t))
        phones = sorted({r["source_number"] for r in rows})
        for i, ph in enumerate(rng.sample(phones, min(60, len(phones)))):
            cur.execute("INSERT INTO diff_numbers VALUES (%s, %s)", (ph, "contact %d" % (i % 40)))
        cur.execute("ANALYZE diff_bounds")
        cur.execute("ANALYZE diff_numbers")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=500, help="query cases to run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--configs", type=int, default=0,
                    help="configurations (default: one per 40 queries, at least 4)")
    ap.add_argument("--max-mismatches", type=int, default=5,
                    help="stop after this many mismatches")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    nconf = args.configs or max(4, (args.queries + 39) // 40)
    t0 = time.time()
    conn = recreate_database(DB)
    setup_db(conn)
    differ = Differ(conn, args.verbose)
    stats = collections.Counter()
    mismatches = []
    shapes = collections.Counter()
    per_conf = [args.queries // nconf + (1 if i < args.queries % nconf else 0)
                for i in range(nconf)]
    try:
        for k in range(nconf):
            cfg = Config(k + 1, rng)
            with conn.cursor() as cur:
                for s in cfg.ddl():
                    cur.execute(s)
            instants, rows = load_local(conn, cfg)
            fill_helpers(conn, cfg, instants, rows, rng)
            gen = Gen(rng, cfg, instants, rows)
            for tag in ("on", "off"):
                requests_of("diff%d%s" % (cfg.k, tag))
            if args.verbose:
                print("config %d: %s" % (cfg.k, cfg.describe().replace("\n", "; ")), flush=True)
            for _ in range(per_conf[k]):
                c = gen.case()
                shapes[c["shape"]] += 1
                problems, psets, on_answers, local = differ.check(c, cfg, gen)
                reqs = requests_of("diff%don" % cfg.k)
                off_reqs = requests_of("diff%doff" % cfg.k)
                stats["queries"] += 1
                stats["executions"] += len(psets)
                stats["requests_on"] += len(reqs)
                stats["requests_off"] += len(off_reqs)
                if any(("call_type=" in r or "call_status=" in r) for r in reqs):
                    stats["pushed_label"] += 1
                if any(("start_date=" in r or "end_date=" in r) for r in reqs):
                    stats["pushed_date"] += 1
                if c["shape"] == "count" and \
                        any("page_size=1" in r.split("&") for r in reqs):
                    stats["count_pushed"] += 1
                if not reqs and c["conds"] and c["shape"] not in ("correlated", "lateral"):
                    stats["no_request"] += 1
                if any(a[0] == "error" for a in local):
                    stats["errors_agreed"] += 1
                if any(p in r for r in off_reqs for p in ("call_type=", "call_status=",
                                                          "start_date=", "end_date=")):
                    problems.append(("off", 0, "pushdown 'false' sent a filter: %s" % off_reqs[:3]))
                if problems:
                    red = differ.reduce(c, cfg, gen, psets)
                    requests_of("diff%don" % cfg.k)
                    p2, ps2, _, _ = differ.check(red, cfg, gen, psets if red["prepared"] else None)
                    reqs2 = requests_of("diff%don" % cfg.k)
                    requests_of("diff%doff" % cfg.k)
                    text = repro(cfg, red if p2 else c, ps2 if p2 else psets,
                                 p2 or problems, reqs2 if p2 else reqs)
                    print(text, flush=True)
                    print(flush=True)
                    mismatches.append(text)
                    if len(mismatches) >= args.max_mismatches:
                        raise StopIteration
                elif args.verbose:
                    print("  ok %s: %s" % (c["shape"], render(c, cfg, "t")[0][:160]), flush=True)
    except StopIteration:
        print("stopped after %d mismatches" % len(mismatches))
    finally:
        conn.close()
        if not args.keep:
            drop_database(DB)

    elapsed = time.time() - t0
    print("differential: %d queries (%d executions) over %d configurations in %.0f s, "
          "%d mismatches" % (stats["queries"], stats["executions"], nconf, elapsed,
                             len(mismatches)))
    print("  shapes: %s" % ", ".join("%s %d" % kv for kv in sorted(shapes.items())))
    print("  pushdown table: %d requests; call_type/call_status sent in %d queries, "
          "start_date/end_date in %d, count(*) as page_size=1 in %d, no request at all "
          "in %d; errors (same on all three) in %d; pushdown 'false' table: %d requests"
          % (stats["requests_on"], stats["pushed_label"], stats["pushed_date"],
             stats["count_pushed"], stats["no_request"], stats["errors_agreed"],
             stats["requests_off"]))
    ok = not mismatches
    if stats["queries"] >= 200:
        # a run that pushed nothing compared two unfiltered scans: it proves nothing
        for what in ("pushed_label", "pushed_date", "count_pushed", "no_request"):
            if stats[what] == 0:
                print("FAIL: no query exercised %s" % what)
                ok = False
    if stats["queries"] < args.queries and not mismatches:
        print("FAIL: only %d of %d queries ran" % (stats["queries"], args.queries))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
