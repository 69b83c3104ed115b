#!/usr/bin/python3
"""Call Logs API emulator (test double for the call-logs foreign data wrapper).

Python standard library only.  See emulator/README.md for the reference:
CLI flags, the /s/<opts>/ scenario prefix, fault kinds and control endpoints.

    /usr/bin/python3 emulator/callogs_emulator.py --port 18181
"""

import argparse
import array
import base64
import bisect
import calendar
import collections
import datetime
import email.utils
import gzip
import hashlib
import hmac
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

API_PATH = "/api/v2/platform/call-logs/"
# The anchor tests pin when they need fixed data (anchor=2025-11-30T00:00:00Z);
# the default anchor is "now".
FIXED_ANCHOR_MS = calendar.timegm((2025, 11, 30, 0, 0, 0)) * 1000
DEFAULT_CUSTOMERS = 2000
# UTC offsets (minutes) that tz=mixed draws from, per row
TZ_MIXED = (None, 330, -480, 840, -720, 0)      # Z, +05:30, -08:00, +14:00, -12:00, +00:00
# key of the cursors' HMAC: fixed, so that cursors are reproducible across
# runs (a forged or edited cursor still fails the check)
CURSOR_KEY = b"callogs-emulator-cursor-v1"
MESSAGE_OK = "Call logs fetched successfully"

MASK48 = (1 << 48) - 1
MASK64 = (1 << 64) - 1

TYPES = ("inbound", "outbound")
STATUSES = ("completed", "missed", "failed")
ST_COMPLETED, ST_MISSED, ST_FAILED = 0, 1, 2

FIELDS_A = ("id", "source_number", "destination_number", "call_type", "call_status",
            "creation_time", "start_time", "end_time", "call_duration", "end_reason",
            "bridge")
FIELDS_B = tuple(f for f in FIELDS_A if f not in ("id", "bridge"))

REASONS_A = {ST_COMPLETED: ("customer-ended-call", "assistant-ended-call"),
             ST_MISSED: ("no-answer", "busy"),
             ST_FAILED: ("failed-to-connect", "failed-to-connect")}
REASONS_B = {ST_COMPLETED: ("caller_hangup", "callee_hangup"),
             ST_MISSED: ("no_answer", "no_answer"),
             ST_FAILED: ("network_error", "network_error")}


# --------------------------------------------------------------------------
# deterministic helpers

def mix64(x):
    """splitmix64 finaliser: a fast, stable 64-bit hash."""
    x &= MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    x ^= x >> 33
    return x


def id48(i, salt):
    """Bijection on 48 bits (so ids of one dataset are unique)."""
    x = (i * 0x9E3779B97F4B + salt) & MASK48
    x ^= x >> 21
    x = (x * 0x5DEECE66D) & MASK48
    x ^= x >> 17
    return x


def customer_number(r):
    c = r % 10
    r //= 10
    if c < 6:                                   # India mobile
        return "+91%d%09d" % (6 + r % 4, (r // 4) % 1000000000)
    if c < 8:                                   # NANP
        area = 201 + r % 789
        r //= 789
        exch = 200 + r % 800
        r //= 800
        return "+1%03d%03d%04d" % (area, exch, r % 10000)
    if c == 8:                                  # UK mobile
        return "+447%09d" % (r % 1000000000)
    return "+614%08d" % (r % 100000000)         # Australia mobile


def fmt_tz(off):
    """ISO 8601 suffix of a UTC offset in minutes (None: "Z")."""
    if off is None:
        return "Z"
    a = abs(off)
    return "%s%02d:%02d" % ("-" if off < 0 else "+", a // 60, a % 60)


def fmt_ts(ms, with_ms, off=None):
    """Instant ms written as local time at UTC offset off (minutes; None: Z)."""
    s, m = divmod(ms, 1000)
    t = time.gmtime(s + (off or 0) * 60)
    if with_ms:
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s" % (t[0], t[1], t[2], t[3], t[4], t[5], m,
                                                         fmt_tz(off))
    return "%04d-%02d-%02dT%02d:%02d:%02d%s" % (t[:6] + (fmt_tz(off),))


def fmt_duration_a(sec):
    return "%d:%02d:%02d" % (sec // 3600, (sec // 60) % 60, sec % 60)


def org_salt(seed, org):
    return mix64((seed & MASK64) * 0x100000001B3 ^ (zlib.crc32(org.encode("utf-8")) << 17))


# --------------------------------------------------------------------------
# data set

class Record:
    """A row not stored in a Dataset (rows inserted by the `shift` fault)."""
    __slots__ = ("ct", "so", "du", "fl", "ident", "r1", "r2")

    def __init__(self, ct, so, du, fl, ident, r1, r2):
        self.ct, self.so, self.du, self.fl = ct, so, du, fl
        self.ident, self.r1, self.r2 = ident, r1, r2


def draw_row(r, ms):
    """Turn random integer r into (gap_ms, start_offset_ms, duration_s, flags)."""
    r, g = divmod(r, 900)
    gap = (g + 1) * 1000
    if ms:
        r, g = divmod(r, 1000)
        gap += g
    r, q = divmod(r, 100)
    typ = 0 if q < 55 else 1
    r, q = divmod(r, 100)
    st = ST_COMPLETED if q < 70 else (ST_MISSED if q < 90 else ST_FAILED)
    r, q = divmod(r, 20)
    so = (q + 1) * 1000
    if ms:
        r, q = divmod(r, 1000)
        so += q
    r, q = divmod(r, 3596)
    if st == ST_COMPLETED:
        du = 5 + q
    elif st == ST_FAILED:
        du = q % 6
    else:
        du = 0
        so = 0
    r, rsn = divmod(r, 2)
    bridge = 1 + r % 9
    return gap, so, du, typ | (st << 1) | (rsn << 3) | (bridge << 4)


class RowFormat(collections.namedtuple("RowFormat", "variant tz customers")):
    """How rows are written: field variant "a"/"b"; tz None (Z), a fixed UTC
    offset in minutes, or "mixed" (per row, from TZ_MIXED); customers: the
    size of the pool of customers calling (0: every call a new number)."""
    __slots__ = ()

    def offset(self, rec):
        """UTC offset (minutes, None for Z) the timestamps of rec are written in."""
        if self.tz == "mixed":
            return TZ_MIXED[(rec.r2 >> 8) % len(TZ_MIXED)]
        return self.tz


FORMAT_A = RowFormat("a", None, DEFAULT_CUSTOMERS)
FORMAT_B = RowFormat("b", None, DEFAULT_CUSTOMERS)


class Dataset:
    def __init__(self, seed, rows, org, anchor_ms, ms):
        self.seed, self.n, self.org, self.ms = seed, rows, org, ms
        self.salt = org_salt(seed, org)
        self.id_salt = self.salt & MASK48
        self.org_numbers = [customer_number(mix64(self.salt ^ (k + 1) * 0x9E3779B97F4A7C15))
                            for k in range(4)]
        rng = random.Random(self.salt)
        getr = rng.getrandbits
        cts = array.array("q", bytes(8 * rows))
        sos = array.array("l", bytes(array.array("l").itemsize * rows))
        dus = array.array("l", bytes(array.array("l").itemsize * rows))
        fls = array.array("B", bytes(rows))
        t = anchor_ms if ms else anchor_ms - anchor_ms % 1000
        for i in range(rows):
            gap, so, du, fl = draw_row(getr(96), ms)
            if i:
                t -= gap
            cts[i] = t
            sos[i] = so
            dus[i] = du
            fls[i] = fl
        self.ct, self.so, self.du, self.fl = cts, sos, dus, fls
        self._combos = {}
        self._filter_cache = collections.OrderedDict()
        self._render = {}
        self._pools = {}
        self._totals = None
        self.lock = threading.Lock()

    # -- attributes
    def record(self, i):
        return Record(self.ct[i], self.so[i], self.du[i], self.fl[i],
                      "call_%012x" % id48(i, self.id_salt),
                      mix64(self.salt ^ (i * 0x9E3779B97F4A7C15 + 1)),
                      mix64(self.salt + i * 0xBF58476D1CE4E5B9 + 7))

    def customer_pool(self, n):
        """The n customers of this organization (E.164 numbers)."""
        pool = self._pools.get(n)
        if pool is None:
            pool = [customer_number(mix64(self.salt ^ ((k + 1) * 0xD6E8FEB86659FD93)))
                    for k in range(n)]
            self._pools[n] = pool
        return pool

    def customer(self, rec, n):
        """The customer number of a call: with a pool of n customers, a skewed
        draw (customer k calls about as often as 1/sqrt(k+1): a few call very
        often, every one several times in a large data set); n = 0: a new
        number for every call."""
        if n <= 0:
            return customer_number(rec.r1)
        u = (rec.r1 >> 11) * (1.0 / (1 << 53))
        return self.customer_pool(n)[min(int(n * u * u), n - 1)]

    def row_bytes(self, fmt, i):
        cache = self._render.get(fmt)
        if cache is None:
            cache = self._render.setdefault(fmt, {})
        b = cache.get(i)
        if b is None:
            b = row_json(self.record(i), fmt, self)
            if len(cache) > 300000:
                cache.clear()
            cache[i] = b
        return b

    # -- querying
    def combo(self, typ, st):
        """Ascending row indexes (newest first) having call_type typ / status st."""
        if typ is None and st is None:
            return range(self.n)
        key = (typ, st)
        seq = self._combos.get(key)
        if seq is None:
            with self.lock:
                seq = self._combos.get(key)
                if seq is None:
                    fl = self.fl
                    if typ is None:
                        seq = array.array("l", [i for i in range(self.n) if (fl[i] >> 1) & 3 == st])
                    elif st is None:
                        seq = array.array("l", [i for i in range(self.n) if fl[i] & 1 == typ])
                    else:
                        want = typ | (st << 1)
                        seq = array.array("l", [i for i in range(self.n) if fl[i] & 7 == want])
                    self._combos[key] = seq
        return seq

    def query(self, variant, typ, st, lo, hi, field):
        """Return (seq, p0, p1): matching row indexes are seq[p0:p1] (newest first).

        lo / hi are inclusive integer-millisecond bounds or None."""
        seq = self.combo(typ, st)
        if lo is None and hi is None:
            return seq, 0, len(seq)
        if field == "creation_time":
            ct, n = self.ct, self.n
            rng = range(n)
            k = n if lo is None else bisect.bisect_left(rng, True, key=lambda i: ct[i] < lo)
            j = 0 if hi is None else bisect.bisect_left(rng, True, key=lambda i: ct[i] <= hi)
            if k <= j:
                return seq, 0, 0
            return seq, bisect.bisect_left(seq, j), bisect.bisect_left(seq, k)
        key = (variant, typ, st, lo, hi, field)
        res = self._filter_cache.get(key)
        if res is None:
            ct, so, du, fl = self.ct, self.so, self.du, self.fl
            nullable = variant == "b"
            lo_ = -(1 << 62) if lo is None else lo
            hi_ = (1 << 62) if hi is None else hi
            out = []
            for i in seq:
                if nullable and (fl[i] >> 1) & 3 == ST_MISSED:
                    continue
                v = ct[i] + so[i]
                if field == "end_time":
                    v += du[i] * 1000
                if lo_ <= v <= hi_:
                    out.append(i)
            res = array.array("l", out)
            with self.lock:
                self._filter_cache[key] = res
                while len(self._filter_cache) > 32:
                    self._filter_cache.popitem(last=False)
        return res, 0, len(res)

    def totals(self, variant):
        if self._totals is None:
            c = collections.Counter(f & 7 for f in self.fl)
            self._totals = c
        c = self._totals
        by_ts = {}
        for t in (0, 1):
            for s in (0, 1, 2):
                by_ts["%s/%s" % (TYPES[t], STATUSES[s])] = c.get(t | (s << 1), 0)
        return {
            "count": self.n,
            "by_type": {TYPES[t]: sum(c.get(t | (s << 1), 0) for s in (0, 1, 2)) for t in (0, 1)},
            "by_status": {STATUSES[s]: sum(c.get(t | (s << 1), 0) for t in (0, 1)) for s in (0, 1, 2)},
            "by_type_status": by_ts,
            "newest": fmt_ts(self.ct[0], self.ms) if self.n else None,
            "oldest": fmt_ts(self.ct[self.n - 1], self.ms) if self.n else None,
        }


def rec_field_ms(rec, variant, field):
    """Value (ms) of a date field of a record, None if null."""
    st = (rec.fl >> 1) & 3
    if field == "creation_time":
        return rec.ct
    if st == ST_MISSED and variant == "b":
        return None
    v = rec.ct + rec.so
    if field == "end_time":
        v += rec.du * 1000
    return v


def row_dict(rec, fmt, ds):
    """The JSON object of a call (dict), written as fmt says."""
    fl = rec.fl
    typ, st, rsn, bridge = fl & 1, (fl >> 1) & 3, (fl >> 3) & 1, fl >> 4
    cust = ds.customer(rec, fmt.customers)
    orgn = ds.org_numbers[rec.r2 % 4]
    src, dst = (cust, orgn) if typ == 0 else (orgn, cust)
    a = fmt.variant == "a"
    off = fmt.offset(rec)
    ct = rec.ct
    creation = fmt_ts(ct, a, off)
    if st == ST_MISSED:
        start = end = (creation if a else None)
    else:
        s = ct + rec.so
        start = fmt_ts(s, a, off)
        end = fmt_ts(s + rec.du * 1000, a, off)
    d = {}
    if a:
        d["id"] = rec.ident
    d["source_number"] = src
    d["destination_number"] = dst
    d["call_type"] = TYPES[typ]
    d["call_status"] = STATUSES[st]
    d["creation_time"] = creation
    d["start_time"] = start
    d["end_time"] = end
    d["call_duration"] = fmt_duration_a(rec.du) if a else rec.du
    d["end_reason"] = (REASONS_A if a else REASONS_B)[st][rsn]
    if a:
        d["bridge"] = bridge
    return d


_TPL_A = ('{"id": "%s", "source_number": "%s", "destination_number": "%s", "call_type": "%s", '
          '"call_status": "%s", "creation_time": "%s", "start_time": %s, "end_time": %s, '
          '"call_duration": "%s", "end_reason": "%s", "bridge": %d}')
_TPL_B = ('{"source_number": "%s", "destination_number": "%s", "call_type": "%s", '
          '"call_status": "%s", "creation_time": "%s", "start_time": %s, "end_time": %s, '
          '"call_duration": %d, "end_reason": "%s"}')


def row_json(rec, fmt, ds):
    """Fast path equal to json.dumps(row_dict(...)).encode() (all values are plain ASCII)."""
    fl = rec.fl
    typ, st, rsn = fl & 1, (fl >> 1) & 3, (fl >> 3) & 1
    cust = ds.customer(rec, fmt.customers)
    orgn = ds.org_numbers[rec.r2 % 4]
    src, dst = (cust, orgn) if typ == 0 else (orgn, cust)
    a = fmt.variant == "a"
    off = fmt.offset(rec)
    ct = rec.ct
    creation = fmt_ts(ct, a, off)
    if st == ST_MISSED:
        start = end = ('"%s"' % creation if a else "null")
    else:
        s = ct + rec.so
        start = '"%s"' % fmt_ts(s, a, off)
        end = '"%s"' % fmt_ts(s + rec.du * 1000, a, off)
    if a:
        return (_TPL_A % (rec.ident, src, dst, TYPES[typ], STATUSES[st], creation, start, end,
                          fmt_duration_a(rec.du), REASONS_A[st][rsn], fl >> 4)).encode()
    return (_TPL_B % (src, dst, TYPES[typ], STATUSES[st], creation, start, end, rec.du,
                      REASONS_B[st][rsn])).encode()


class DatasetCache:
    MAX_ROWS = 6000000

    def __init__(self):
        self.lock = threading.Lock()
        self.gen_locks = {}
        self.items = collections.OrderedDict()
        self.now_anchors = {}       # key -> the time "now" meant at its first build

    def get(self, seed, rows, org, anchor, ms):
        key = (seed, rows, org, anchor, ms)
        ds = self.items.get(key)
        if ds is not None:
            return ds
        with self.lock:
            gl = self.gen_locks.setdefault(key, threading.Lock())
        with gl:
            ds = self.items.get(key)
            if ds is None:
                if anchor == "now":
                    # a data set evicted and built again keeps its first "now"
                    anchor_ms = self.now_anchors.setdefault(key, int(time.time() * 1000))
                else:
                    anchor_ms = parse_anchor(anchor)
                ds = Dataset(seed, rows, org, anchor_ms, ms)
                with self.lock:
                    self.items[key] = ds
                    total = sum(d.n for d in self.items.values())
                    while total > self.MAX_ROWS and len(self.items) > 1:
                        _, old = self.items.popitem(last=False)
                        total -= old.n
        return ds


DATASETS = DatasetCache()


# --------------------------------------------------------------------------
# dates

DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
                   r"(Z|[+-]\d{2}:\d{2})?$")


def parse_date_param(s):
    """Return ('date', us_of_day_start) or ('ts', us); raise ValueError."""
    m = DATE_RE.match(s)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        datetime.date(y, mo, d)
        return "date", calendar.timegm((y, mo, d, 0, 0, 0)) * 1000000
    m = TS_RE.match(s)
    if not m:
        raise ValueError(s)
    y, mo, d, hh, mi, ss = (int(x) for x in m.groups()[:6])
    datetime.datetime(y, mo, d, hh, mi, ss)
    frac = m.group(7) or ""
    us = int((frac + "000000")[:6])
    off = 0
    tz = m.group(8)
    if tz and tz != "Z":
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:
            raise ValueError(s)
        off = (oh * 3600 + om * 60) * (1 if tz[0] == "+" else -1)
    return "ts", (calendar.timegm((y, mo, d, hh, mi, ss, 0, 0, 0)) - off) * 1000000 + us


def parse_anchor(s):
    """An anchor other than "now": epoch ms, or an ISO date / timestamp."""
    if s.isdigit():
        return int(s)
    kind, us = parse_date_param(s)
    return us // 1000


# --------------------------------------------------------------------------
# scenarios

class ScenarioError(ValueError):
    pass


def _int(lo=None):
    def conv(v):
        try:
            x = int(v)
        except ValueError:
            raise ScenarioError("not an integer: %r" % v)
        if lo is not None and x < lo:
            raise ScenarioError("must be >= %d: %r" % (lo, v))
        return x
    return conv


def _choice(*vals):
    def conv(v):
        if v not in vals:
            raise ScenarioError("must be one of %s: %r" % ("|".join(vals), v))
        return v
    return conv


def _bool(v):
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ScenarioError("not a boolean: %r" % v)


def _links(v):
    """links=: "page" (also 1/true/on), "cursor", or "off" (also 0/false/no)."""
    if v in ("page", "1", "true", "yes", "on"):
        return "page"
    if v in ("off", "0", "false", "no"):
        return "off"
    if v == "cursor":
        return "cursor"
    raise ScenarioError("must be one of page|cursor|0 (1 means page): %r" % v)


def _anchor(v):
    if v == "now":
        return v
    try:
        parse_anchor(v)
    except (ValueError, OverflowError):
        raise ScenarioError("not now, epoch ms or an ISO date/timestamp: %r" % v)
    return v


def _tz(v):
    """tz=: Z, +HH:MM / -HH:MM, or mixed -> None, minutes, or "mixed"."""
    if v == "mixed":
        return v
    if v == "Z":
        return None
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", v)
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        raise ScenarioError("not Z, mixed or an offset from -14:00 to +14:00: %r" % v)
    off = int(m.group(2)) * 60 + int(m.group(3))
    if off > 14 * 60:
        raise ScenarioError("not Z, mixed or an offset from -14:00 to +14:00: %r" % v)
    return -off if m.group(1) == "-" else off


def _intpair(v):
    try:
        a, b = (int(x) for x in re.split(r"[:+]", v))
    except ValueError:
        raise ScenarioError("not two ':'-separated integers: %r" % v)
    if a < 0 or b < 0:
        raise ScenarioError("must not be negative: %r" % v)
    return a, b


def _intlist(v):
    try:
        return frozenset(int(x) for x in re.split(r"[:+]", v) if x)
    except ValueError:
        raise ScenarioError("not a ':'-separated integer list: %r" % v)


# fault kinds, by phase ------------------------------------------------------
# pre:     decided after auth, before parameter validation; either answers the
#          request itself or (slow, shift) changes state and lets it continue.
# content: alters the body of a normal 200 page.
# send:    alters how the final response goes on the wire.
PRE_FAULTS = ("500json", "500html", "500empty", "502", "503", "504", "400", "401",
              "403", "404", "429", "429date", "429none", "slow", "hang_before_headers",
              "reset", "invalid_json", "not_json", "depth_bomb", "redirect",
              "redirect_same", "shift")
CONTENT_FAULTS = ("trailing_comma", "data_not_array", "data_missing", "count_missing",
                  "count_negative", "count_string", "count_huge", "count_value",
                  "count_float", "wrong_types", "bad_utf8", "nul_escape", "big_string",
                  "ts_out_of_range", "dup_keys", "next_foreign", "next_repeat",
                  "next_scheme", "count_lie", "unordered")
SEND_FAULTS = ("truncate", "hang_after_headers", "huge_body", "bad_gzip", "gzip_members")
FAULT_KINDS = PRE_FAULTS + CONTENT_FAULTS + SEND_FAULTS


class Scenario:
    OPTS = {
        "tag": str,
        "rows": _int(0),
        "seed": _int(),
        "org": str,
        "orgs": str,
        "token": str,
        "variant": _choice("a", "b"),
        "cap": _int(1),
        "default_page_size": _int(1),
        "past_end": _choice("404", "empty"),
        "links": _links,
        "cursor_from": _int(0),
        "dates": _choice("any", "date_only", "timestamp_only"),
        "date_field": _choice("creation_time", "start_time", "end_time"),
        "end_exclusive": _bool,
        "case_insensitive": _bool,
        "anchor": _anchor,
        "tz": _tz,
        "customers": _int(0),
        "swap": _intpair,
        "latency": _int(0),
        "gzip": _bool,
        "fault": _choice(*FAULT_KINDS),
        "fault_pages": _intlist,
        "fault_times": _int(0),
        "fault_after": _int(0),
        "retry_after": _int(0),
        "delay": _int(0),
        "size": _int(0),
        "depth": _int(1),
        "count_value": str,
        "wrong_field": str,
        "wrong_value": str,
        "shift_rows": _int(0),
        "redirect_host": str,
        "redirect_status": _int(300),
    }

    def __init__(self, opts, cfg):
        self.raw = opts
        self.rows = cfg.rows
        self.seed = cfg.seed
        self.token = cfg.token
        self.org = cfg.org
        self.orgs = None
        self.variant = "a"
        self.cap = 1000
        self.default_page_size = 20
        self.past_end = "404"
        self.links = "page"
        self.cursor_from = 0
        self.dates = "any"
        self.date_field = "creation_time"
        self.end_exclusive = False
        self.case_insensitive = False
        self.anchor = "now"
        self.tz = None
        self.customers = DEFAULT_CUSTOMERS
        self.swap = (0, 1)
        self.latency = cfg.latency
        self.gzip = True
        self.fault = None
        self.fault_pages = None
        self.fault_times = 0
        self.fault_after = 0
        self.retry_after = 1
        self.delay = None
        self.size = None
        self.depth = 100000
        self.count_value = None
        self.wrong_field = None
        self.wrong_value = None
        self.shift_rows = 5
        self.redirect_host = None
        self.redirect_status = 302
        self.tag = None
        for item in opts.split(","):
            if not item:
                continue
            if "=" not in item:
                item = unquote(item)
                if "=" not in item:
                    raise ScenarioError("option without '=': %r" % item)
            k, v = item.split("=", 1)
            k, v = unquote(k), unquote(v)
            conv = self.OPTS.get(k)
            if conv is None:
                raise ScenarioError("unknown option %r" % k)
            setattr(self, k, conv(v))
        if self.tag is None:
            self.tag = unquote(opts)
        # organisations: name -> token
        self.org_tokens = collections.OrderedDict()
        if self.orgs:
            for part in self.orgs.split("+"):
                if not part:
                    continue
                name, _, tok = part.partition(":")
                self.org_tokens[name] = tok or self.token
        else:
            self.org_tokens[self.org] = self.token
        self.fmt = RowFormat(self.variant, self.tz, self.customers)

    def dataset(self, org):
        return DATASETS.get(self.seed, self.rows, org, self.anchor, self.variant == "a")


class Config:
    rows = 2500
    seed = 42
    token = "secret"
    org = "acme"
    latency = 0


CFG = Config()
_SCEN_CACHE = {}


def get_scenario(opts):
    sc = _SCEN_CACHE.get(opts)
    if sc is None:
        sc = Scenario(opts, CFG)
        if len(_SCEN_CACHE) > 10000:
            _SCEN_CACHE.clear()
        _SCEN_CACHE[opts] = sc
    return sc


# --------------------------------------------------------------------------
# per-tag state: request log, fault counters, shifted rows

LOG_COLUMNS = ("seq", "start", "end", "status", "page", "page_size", "call_type",
               "call_status", "start_date", "end_date", "org", "auth", "fault",
               "client_port", "path")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.seq = 0
        self.logs = collections.defaultdict(lambda: collections.deque(maxlen=200000))
        self.fault_counts = collections.Counter()
        self.fault_fired = collections.Counter()
        self.shifted = {}          # (tag, org) -> list of Record, newest first
        self.log_file = None

    def log_start(self, tag, method, path, query, org, auth_present, client_port):
        e = {"seq": 0, "tag": tag, "start": round(time.time(), 6), "end": None,
             "method": method, "path": path, "query": query, "org": org,
             "auth_present": auth_present, "auth_ok": None, "status": None, "bytes": 0,
             "fault": "", "client_port": client_port}
        with self.lock:
            self.seq += 1
            e["seq"] = self.seq
            self.logs[tag].append(e)
        return e

    def log_finish(self, e):
        e["end"] = round(time.time(), 6)
        if self.log_file is not None:
            line = json.dumps(e) + "\n"
            with self.lock:
                try:
                    self.log_file.write(line)
                    self.log_file.flush()
                except (OSError, ValueError):
                    pass

    def entries(self, tag, clear=False):
        with self.lock:
            if tag == "*":
                out = sorted((e for d in self.logs.values() for e in d), key=lambda e: e["seq"])
                if clear:
                    self.logs.clear()
            else:
                d = self.logs.get(tag)
                out = list(d) if d else []
                if clear and d:
                    d.clear()
        return out

    def reset(self, tag=None):
        with self.lock:
            if tag is None:
                self.logs.clear()
                self.fault_counts.clear()
                self.fault_fired.clear()
                self.shifted.clear()
            else:
                self.logs.pop(tag, None)
                self.fault_counts.pop(tag, None)
                self.fault_fired.pop(tag, None)
                for k in [k for k in self.shifted if k[0] == tag]:
                    del self.shifted[k]

    def decide_fault(self, sc, page_raw):
        if not sc.fault:
            return None
        if sc.fault_pages is not None:
            try:
                p = int(page_raw) if page_raw is not None else 1
            except ValueError:
                return None
            if p not in sc.fault_pages:
                return None
        with self.lock:
            self.fault_counts[sc.tag] += 1
            n = self.fault_counts[sc.tag]
            if n <= sc.fault_after:
                return None
            if sc.fault_times and n > sc.fault_after + sc.fault_times:
                return None
            self.fault_fired[sc.tag] += 1
        return sc.fault

    def shift(self, sc, org, ds):
        """Insert sc.shift_rows new newest rows for (tag, org)."""
        ms = sc.variant == "a"
        step = 1 if ms else 1000
        with self.lock:
            lst = self.shifted.setdefault((sc.tag, org), [])
            top = lst[0].ct if lst else (ds.ct[0] if ds.n else 0)
            now = int(time.time() * 1000)
            if not ms:
                now -= now % 1000
            new = []
            for _ in range(sc.shift_rows):
                k = len(lst) + len(new)
                r = mix64(ds.salt ^ zlib.crc32(sc.tag.encode()) ^ (k * 0x9E3779B97F4A7C15))
                _, so, du, fl = draw_row(r, ms)
                ct = max(now, top + step)
                top = ct
                new.append(Record(ct, so, du, fl, "call_new%09x" % k,
                                  mix64(r + 1), mix64(r + 2)))
            new.reverse()
            self.shifted[(sc.tag, org)] = new + lst

    def shifted_rows(self, tag, org):
        return self.shifted.get((tag, org), ())

    def tag_state(self, tag):
        with self.lock:
            return {"tag": tag, "requests": len(self.logs.get(tag, ())),
                    "fault_matches": self.fault_counts.get(tag, 0),
                    "fault_fired": self.fault_fired.get(tag, 0),
                    "shifted_rows": {k[1]: len(v) for k, v in self.shifted.items() if k[0] == tag}}


STATE = State()


def log_tsv(entries):
    out = ["\t".join(LOG_COLUMNS)]
    for e in entries:
        q = e["query"] or {}
        if e["auth_present"]:
            auth = "ok" if e["auth_ok"] else ("bad" if e["auth_ok"] is False else "?")
        else:
            auth = "none"
        vals = [e["seq"], "%.6f" % e["start"], "" if e["end"] is None else "%.6f" % e["end"],
                "" if e["status"] is None else e["status"],
                q.get("page"), q.get("page_size"), q.get("call_type"), q.get("call_status"),
                q.get("start_date"), q.get("end_date"), e["org"], auth, e["fault"],
                e["client_port"], e["path"]]
        out.append("\t".join("" if v is None else
                             str(v).replace("\\", "\\\\").replace("\t", "\\t")
                             .replace("\n", "\\n").replace("\r", "\\r") for v in vals))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# HTTP

def jdump(o):
    return json.dumps(o, separators=(",", ":")).encode()


def err_body(status, message):
    return jdump({"status_code": status, "message": message})


REASONS = {200: "OK", 302: "Found", 301: "Moved Permanently", 307: "Temporary Redirect",
           308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}

HTML_500 = (b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
            b"<body><center><h1>500 Internal Server Error</h1></center>\n"
            b"<hr><center>nginx</center></body></html>\n")
HTML_200 = (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
            b"<body><h1>Please sign in</h1><form method=\"post\"></form></body></html>\n")

SIMPLE_ERRORS = {
    "500json": (500, "Internal server error"),
    "502": (502, "Bad gateway"),
    "503": (503, "Service temporarily unavailable"),
    "504": (504, "Gateway timeout"),
    "400": (400, "Bad request"),
    "401": (401, "Invalid or missing API token"),
    "403": (403, "Invalid organization handle"),
    "404": (404, "Not found"),
}

WRONG_VALUES = {
    "id": b"12345",
    "source_number": b'{"number": "+919876543210"}',
    "destination_number": b"9876543210",
    "call_type": b'["inbound"]',
    "call_status": b"true",
    "creation_time": b"1763461800",
    "start_time": b"{}",
    "end_time": b"[]",
    "call_duration_a": b"true",
    "call_duration_b": b'"abc"',
    "end_reason": b"42",
    "bridge": b'"x"',
}


# ---- cursors (links=cursor) ---------------------------------------------------
# A cursor is opaque to clients: base64url of "<n|p>.<key ms>.<page number>.<mac>",
# where n asks for the rows older than the key (creation_time, ms) and p for
# the page_size rows newer than it (keyset pagination: rows arriving at the
# top do not shift the pages that follow).  The MAC binds it to the scenario,
# the org and the filter parameters; anything else gives 400.

_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_CURSOR_PAYLOAD_RE = re.compile(r"^([np])\.(-?[0-9]{1,20})\.([0-9]{1,9})\.([0-9a-f]{16})$")


def cursor_binding(sc, org, qd):
    """What a cursor is valid for: scenario tag, org and filter parameters."""
    parts = [sc.tag, org or ""] + [qd.get(k) or "" for k in
                                    ("call_type", "call_status", "start_date", "end_date")]
    return "\x00".join(parts).encode("utf-8", "surrogateescape")


def _cursor_mac(payload, binding):
    return hmac.new(CURSOR_KEY, payload.encode() + b"\x00" + binding,
                    hashlib.sha256).hexdigest()[:16]


def make_cursor(direction, key_ms, pageno, binding):
    payload = "%s.%d.%d" % (direction, key_ms, pageno)
    raw = "%s.%s" % (payload, _cursor_mac(payload, binding))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(tok, binding):
    """(direction, key_ms, page number) of a cursor; ValueError if it is not
    one this emulator made for these parameters."""
    if not _CURSOR_RE.match(tok):
        raise ValueError("Invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("Invalid cursor")
    m = _CURSOR_PAYLOAD_RE.match(raw)
    if not m:
        raise ValueError("Invalid cursor")
    payload = raw[:raw.rindex(".")]
    if not hmac.compare_digest(m.group(4), _cursor_mac(payload, binding)):
        raise ValueError("Invalid cursor")
    return m.group(1), int(m.group(2)), max(int(m.group(3)), 1)


class Ctx:
    """Everything about one call-logs request, passed to fault hooks."""
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CallLogsEmulator/1.0"
    sys_version = ""
    timeout = 300

    def setup(self):
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().setup()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # ---- low level output
    def _wants_gzip(self):
        ae = self.headers.get("Accept-Encoding", "")
        for tok in ae.split(","):
            parts = [p.strip() for p in tok.split(";")]
            if parts[0].lower() in ("gzip", "x-gzip"):
                for p in parts[1:]:
                    if p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
                        return False
                return True
        return False

    def _head(self, status, ctype, length, extra=(), close=False):
        h = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Unknown")),
             "Date: " + email.utils.formatdate(usegmt=True),
             "Server: " + self.server_version]
        if ctype:
            h.append("Content-Type: " + ctype)
        h.append("Content-Length: %d" % length)
        h.extend(extra)
        if close:
            h.append("Connection: close")
        return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1")

    def _send(self, status, body=b"", ctype="application/json", extra=(), mode=None,
              allow_gzip=True):
        sc, e = self.sc, self.entry
        extra = list(extra)
        if (allow_gzip and body and sc is not None and sc.gzip
                and mode not in ("bad_gzip", "gzip_members")
                and self._wants_gzip()):
            body = gzip.compress(body, 5)
            extra += ["Content-Encoding: gzip", "Vary: Accept-Encoding"]
        if mode == "bad_gzip":
            extra += ["Content-Encoding: gzip", "Vary: Accept-Encoding"]
        elif mode == "gzip_members" and body:
            # RFC 1952 2.2: a gzip file is a series of members; a body in
            # two members is valid gzip that not every decoder accepts
            half = len(body) // 2
            body = gzip.compress(body[:half], 5) + gzip.compress(body[half:], 5)
            extra += ["Content-Encoding: gzip", "Vary: Accept-Encoding"]
        if self.command == "HEAD":
            payload = b""
        else:
            payload = body
        close = self.close_connection or mode in ("truncate", "hang_after_headers")
        head = self._head(status, ctype, len(body), extra, close)
        if e is not None:
            e["status"] = status
        if mode == "truncate":
            data = head + payload[:len(payload) // 2]
        elif mode == "hang_after_headers":
            data = head
        else:
            data = head + payload
        self.connection.sendall(data)
        if e is not None:
            e["bytes"] += len(data)
        if mode == "hang_after_headers":
            self._wait_or_disconnect((sc.delay if sc.delay is not None else 60000) / 1000.0)
        if close:
            self.close_connection = True

    def _err(self, status, message, extra=(), mode=None):
        self._send(status, err_body(status, message), extra=extra, mode=mode)

    def _wait_or_disconnect(self, secs):
        end = time.monotonic() + secs
        sock = self.connection
        while True:
            rem = end - time.monotonic()
            if rem <= 0:
                return
            try:
                r, _, _ = select.select([sock], [], [], min(rem, 0.25))
                if r:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return
                    time.sleep(min(rem, 0.05))
            except (OSError, ValueError):
                return

    def _abort_rst(self):
        s = self.connection
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        except Exception:
            pass
        s.close()
        self.close_connection = True

    # ---- dispatch
    def _dispatch(self):
        self.sc = None
        self.entry = None
        n = int(self.headers.get("Content-Length") or 0)
        if n > 0:
            self.rfile.read(n)
        u = urlsplit(self.path)
        path, query = u.path, u.query
        if path.startswith("/_"):
            try:
                return self._control(path, query)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
        opts, prefix = "", ""
        if path.startswith("/s/"):
            rest = path[3:]
            i = rest.find("/")
            opts, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
            prefix = "/s/" + opts
        qpairs = parse_qsl(query, keep_blank_values=True)
        qd = {}
        for k, v in qpairs:
            qd[k] = v                   # last value wins (like Django's QueryDict.get)
        try:
            sc = get_scenario(opts)
            tag = sc.tag
        except ScenarioError as ex:
            sc, tag = None, unquote(opts)
            scenario_error = str(ex)
        self.entry = STATE.log_start(tag, self.command,
                                     path + ("?" + query if query else ""), qd,
                                     self.headers.get("Org-Handle"),
                                     "Authorization" in self.headers,
                                     self.client_address[1] if self.client_address else None)
        try:
            if sc is None:
                self._err(400, "emulator: bad scenario option: " + scenario_error)
            else:
                self.sc = sc
                self._api(sc, prefix, path, query, qpairs, qd)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            STATE.log_finish(self.entry)

    # ---- control endpoints
    def _control(self, path, query):
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if path == "/_health":
            return self._send(200, b"ok\n", "text/plain; charset=utf-8")
        if path == "/_log":
            tag = q.get("tag", "")
            ents = STATE.entries(tag, clear=q.get("clear") in ("1", "true"))
            if q.get("format") == "json":
                return self._send(200, json.dumps(ents).encode(), allow_gzip=False)
            return self._send(200, log_tsv(ents).encode("utf-8"),
                              "text/tab-separated-values; charset=utf-8")
        if path == "/_reset":
            STATE.reset(q["tag"] if "tag" in q else None)
            return self._send(200, b'{"reset":true}')
        if path == "/_state":
            return self._send(200, jdump(STATE.tag_state(q.get("tag", ""))))
        if path == "/_totals":
            try:
                sc = get_scenario(q.get("s", ""))
            except ScenarioError as ex:
                return self._err(400, "emulator: bad scenario option: %s" % ex)
            org = q.get("org") or next(iter(sc.org_tokens))
            if org not in sc.org_tokens:
                return self._err(404, "unknown org %s" % org)
            t = sc.dataset(org).totals(sc.variant)
            t["org"] = org
            t["variant"] = sc.variant
            return self._send(200, jdump(t))
        return self._err(404, "Not found")

    # ---- the API
    def _api(self, sc, prefix, path, query, qpairs, qd):
        if path != API_PATH:
            return self._err(404, "Not found")
        if self.command not in ("GET", "HEAD"):
            return self._err(405, 'Method "%s" not allowed.' % self.command)
        if sc.latency:
            time.sleep(sc.latency / 1000.0)
        e = self.entry
        # -- auth (401 before 403)
        org = self.headers.get("Org-Handle")
        auth = self.headers.get("Authorization")
        if org in sc.org_tokens:
            ok = auth is not None and auth == "Token " + sc.org_tokens[org]
        else:
            ok = auth is not None and auth.startswith("Token ") and \
                auth[6:] in sc.org_tokens.values()
        e["auth_ok"] = ok if auth is not None else None
        if not ok:
            return self._err(401, "Invalid or missing API token")
        if org not in sc.org_tokens:
            return self._err(403, "Invalid organization handle")
        ds = sc.dataset(org)

        c = Ctx()
        c.sc, c.org, c.ds, c.prefix, c.qpairs = sc, org, ds, prefix, qpairs
        # a cursor, if any, wins over page; fault_pages counts its page number
        cursor = None
        page_raw = qd.get("page")
        if "cursor" in qd:
            try:
                cursor = read_cursor(qd["cursor"], cursor_binding(sc, org, qd))
                page_raw = str(cursor[2])
            except ValueError:
                cursor = "invalid"
        c.fault = STATE.decide_fault(sc, page_raw)
        if c.fault:
            e["fault"] = c.fault
        if c.fault in PRE_FAULTS:
            if PRE_HOOKS[c.fault](self, c):
                return

        # -- parameters
        def posint(name, default):
            v = qd.get(name)
            if v is None:
                return default
            if not re.fullmatch(r"[0-9]+", v) or int(v) < 1:
                raise ValueError("Invalid %s: %s" % (name, v))
            return int(v)

        try:
            if cursor == "invalid":
                raise ValueError("Invalid cursor")
            page = cursor[2] if cursor else posint("page", 1)
            page_size = min(posint("page_size", sc.default_page_size), sc.cap)
            typ = st = None
            v = qd.get("call_type")
            if v is not None:
                vv = v.lower() if sc.case_insensitive else v
                if vv not in TYPES:
                    raise ValueError("Invalid call_type: %s" % v)
                typ = TYPES.index(vv)
            v = qd.get("call_status")
            if v is not None:
                vv = v.lower() if sc.case_insensitive else v
                if vv not in STATUSES:
                    raise ValueError("Invalid call_status: %s" % v)
                st = STATUSES.index(vv)
            lo = hi = None
            for name in ("start_date", "end_date"):
                v = qd.get(name)
                if v is None:
                    continue
                try:
                    kind, us = parse_date_param(v)
                except (ValueError, OverflowError):
                    raise ValueError("Invalid %s: %s" % (name, v))
                if (kind == "ts" and sc.dates == "date_only") or \
                        (kind == "date" and sc.dates == "timestamp_only"):
                    raise ValueError("Invalid %s: %s" % (name, v))
                if name == "start_date":
                    lo = -(-us // 1000)
                elif kind == "date":
                    day_ms = us // 1000
                    hi = day_ms - 1 if sc.end_exclusive else day_ms + 86400000 - 1
                else:
                    hi = -(-us // 1000) - 1 if sc.end_exclusive else us // 1000
        except ValueError as ex:
            return self._err(400, str(ex))
        c.page, c.page_size = page, page_size

        # -- select rows
        seq, p0, p1 = ds.query(sc.variant, typ, st, lo, hi, sc.date_field)
        newrows = STATE.shifted_rows(sc.tag, org)
        if newrows:
            lo_ = -(1 << 62) if lo is None else lo
            hi_ = (1 << 62) if hi is None else hi
            dated = lo is not None or hi is not None
            nm = []
            for r in newrows:
                if typ is not None and r.fl & 1 != typ:
                    continue
                if st is not None and (r.fl >> 1) & 3 != st:
                    continue
                if dated:
                    v = rec_field_ms(r, sc.variant, sc.date_field)
                    if v is None or not lo_ <= v <= hi_:
                        continue
                nm.append(r)
        else:
            nm = []
        m = len(nm)
        total = m + (p1 - p0)
        c.total = total
        c.count = total * 10 if c.fault == "count_lie" else total
        ct = ds.ct

        def newer(key, strict):
            """Matching rows with creation_time > key (strict) or >= key.
            (bisect over range(p0, p1) returns a position in that range,
            already counted from p0.)"""
            if strict:
                k = sum(1 for r in nm if r.ct > key)
                x = bisect.bisect_left(range(p0, p1), True, key=lambda x: ct[seq[x]] <= key)
            else:
                k = sum(1 for r in nm if r.ct >= key)
                x = bisect.bisect_left(range(p0, p1), True, key=lambda x: ct[seq[x]] < key)
            return k + x

        if cursor is not None:
            # keyset: the rows just older (n) or just newer (p) than the key
            if cursor[0] == "n":
                off = newer(cursor[1], False)
                end = min(off + page_size, total)
            else:
                end = newer(cursor[1], True)
                off = max(end - page_size, 0)
        else:
            last = -(-total // page_size)
            if page > last and not (total == 0 and page == 1):
                if sc.past_end == "404":
                    return self._err(404, "Invalid page.")
            off = (page - 1) * page_size
            end = min(off + page_size, total)
        refs = []
        if off < end:
            refs.extend(nm[off:end])
            b0 = max(off - m, 0)
            b1 = end - m
            if b1 > b0:
                refs.extend(seq[p0 + b0:p0 + b1])
        c.refs = refs
        # -- envelope pieces (content faults edit these)
        c.count_lit = str(c.count).encode()
        c.omit = set()
        c.data_lit = None
        c.row_lits = None
        c.trailing_comma = False
        mode = sc.links
        if mode == "off" and c.fault in ("next_foreign", "next_repeat", "next_scheme"):
            mode = "page"
        c.links = mode != "off"
        c.next_url = c.prev_url = None

        def rct(r):
            return ct[r] if type(r) is int else r.ct
        if mode == "page":
            last_rep = -(-c.count // page_size)
            c.next_url = self._page_url(prefix, qpairs, page + 1) if page < last_rep else None
            c.prev_url = self._page_url(prefix, qpairs, page - 1) if page > 1 else None
            if sc.cursor_from and page >= sc.cursor_from and c.next_url and refs:
                # from this page on, the next link is an opaque cursor
                c.next_url = self._cursor_url(prefix, qpairs, make_cursor(
                    "n", rct(refs[-1]), page + 1, cursor_binding(sc, org, qd)))
        elif mode == "cursor" and refs:
            bind = cursor_binding(sc, org, qd)
            if end < total:
                c.next_url = self._cursor_url(prefix, qpairs, make_cursor(
                    "n", rct(refs[-1]), page + 1, bind))
            if off > 0:
                c.prev_url = self._cursor_url(prefix, qpairs, make_cursor(
                    "p", rct(refs[0]), max(page - 1, 1), bind))
        if c.fault in CONTENT_HOOKS:
            CONTENT_HOOKS[c.fault](self, c)
        body = self._assemble(c)
        if c.fault == "huge_body":
            return self._send_huge(c, body)
        mode = c.fault if c.fault in SEND_FAULTS else None
        self._send(200, body, mode=mode)

    def _row_lits(self, c):
        if c.row_lits is None:
            ds, fmt = c.ds, c.sc.fmt
            c.row_lits = [ds.row_bytes(fmt, r) if type(r) is int else
                          row_json(r, fmt, ds) for r in c.refs]
        return c.row_lits

    def _row_pairs(self, c):
        """Rows as lists of [key, raw JSON value] for faults that mangle them."""
        ds, fmt = c.ds, c.sc.fmt
        out = []
        for r in c.refs:
            rec = ds.record(r) if type(r) is int else r
            d = row_dict(rec, fmt, ds)
            out.append([[k, json.dumps(x).encode()] for k, x in d.items()])
        return out

    @staticmethod
    def _pairs_lit(rows):
        return [b"{" + b", ".join(b'"' + k.encode() + b'": ' + val for k, val in row) + b"}"
                for row in rows]

    def _assemble(self, c):
        parts = []
        if "count" not in c.omit:
            parts.append(b'"count": ' + c.count_lit)
        parts.append(b'"status_code": 200')
        parts.append(b'"message": "' + MESSAGE_OK.encode() + b'"')
        if c.links:
            parts.append(b'"next": ' + json.dumps(c.next_url).encode())
            parts.append(b'"previous": ' + json.dumps(c.prev_url).encode())
        if "data" not in c.omit:
            if c.data_lit is None:
                c.data_lit = b"[" + b", ".join(self._row_lits(c)) + b"]"
            parts.append(b'"data": ' + c.data_lit)
        return b"{" + b", ".join(parts) + (b",\n}" if c.trailing_comma else b"}")

    def _host(self):
        h = self.headers.get("Host")
        if not h:
            a = self.server.server_address
            h = "%s:%d" % (a[0], a[1])
        return h

    def _page_url(self, prefix, qpairs, page, base=None):
        """Absolute page-number link: the request's other parameters, then page=N."""
        q = [(k, v) for k, v in qpairs if k not in ("page", "cursor")] + [("page", str(page))]
        if base is None:
            base = "http://" + self._host()
        return base + prefix + API_PATH + "?" + urlencode(q)

    def _cursor_url(self, prefix, qpairs, cursor):
        """Absolute cursor link: the request's other parameters, then cursor=...
        (no page)."""
        q = [(k, v) for k, v in qpairs if k not in ("page", "cursor")] + [("cursor", cursor)]
        return "http://" + self._host() + prefix + API_PATH + "?" + urlencode(q)

    def _send_huge(self, c, body):
        size = c.sc.size if c.sc.size is not None else 300 * 1000 * 1000
        pad = max(size - len(body), 0)
        total = len(body) + pad
        head = self._head(200, "application/json", total)
        self.entry["status"] = 200
        chunk = b" " * (1 << 20)
        first = head + body[:-1]
        self.connection.sendall(first)
        sent = len(first)
        while pad > 0:
            k = min(pad, len(chunk))
            self.connection.sendall(chunk if k == len(chunk) else chunk[:k])
            pad -= k
            sent += k
            self.entry["bytes"] = sent
        self.connection.sendall(b"}")
        self.entry["bytes"] = sent + 1


# ---- fault hooks -------------------------------------------------------------
# PRE hooks: fn(handler, ctx) -> True when the response has been produced.

def _pre_simple(h, c):
    status, msg = SIMPLE_ERRORS[c.fault]
    h._err(status, msg)
    return True


def _pre_500html(h, c):
    h._send(500, HTML_500, "text/html")
    return True


def _pre_500empty(h, c):
    h._send(500, b"", None)
    return True


def _pre_429(h, c):
    extra = []
    if c.fault == "429":
        extra.append("Retry-After: %d" % c.sc.retry_after)
    elif c.fault == "429date":
        extra.append("Retry-After: " + email.utils.formatdate(time.time() + c.sc.retry_after,
                                                              usegmt=True))
    h._err(429, "Request was throttled.", extra=extra)
    return True


def _pre_slow(h, c):
    time.sleep((c.sc.delay if c.sc.delay is not None else 2000) / 1000.0)
    return False


def _pre_hang_before(h, c):
    h.entry["status"] = 0
    h._wait_or_disconnect((c.sc.delay if c.sc.delay is not None else 60000) / 1000.0)
    h.close_connection = True
    return True


def _pre_reset(h, c):
    h.entry["status"] = 0
    h._abort_rst()
    return True


def _pre_invalid_json(h, c):
    h._send(200, b'{"count": 5, "status_code": 200, "data": [ {"id": "x", "source_number": '
                 b'"+9198765, "call_type": inbound}, {"id": ')
    return True


def _pre_not_json(h, c):
    h._send(200, HTML_200, "text/html; charset=utf-8")
    return True


def _pre_depth_bomb(h, c):
    d = c.sc.depth
    h._send(200, b'{"count": 1, "status_code": 200, "message": "' + MESSAGE_OK.encode() +
            b'", "data": ' + b"[" * d + b"]" * d + b"}")
    return True


def _pre_redirect(h, c):
    if c.fault == "redirect":
        host = c.sc.redirect_host or "127.0.0.2:%d" % h.server.server_address[1]
    else:
        host = c.sc.redirect_host or h._host()
    loc = "http://" + host + h.path if h.path.startswith("/") else h.path
    h._send(c.sc.redirect_status, err_body(c.sc.redirect_status, "Moved"),
            extra=["Location: " + loc])
    return True


def _pre_shift(h, c):
    STATE.shift(c.sc, c.org, c.ds)
    return False


PRE_HOOKS = {k: _pre_simple for k in SIMPLE_ERRORS}
PRE_HOOKS.update({
    "500html": _pre_500html, "500empty": _pre_500empty,
    "429": _pre_429, "429date": _pre_429, "429none": _pre_429,
    "slow": _pre_slow, "hang_before_headers": _pre_hang_before, "reset": _pre_reset,
    "invalid_json": _pre_invalid_json, "not_json": _pre_not_json,
    "depth_bomb": _pre_depth_bomb, "redirect": _pre_redirect, "redirect_same": _pre_redirect,
    "shift": _pre_shift,
})


# CONTENT hooks: fn(handler, ctx) edit ctx.count_lit / omit / data_lit / row_lits / links.

def _c_trailing_comma(h, c):
    c.trailing_comma = True


def _c_data_not_array(h, c):
    c.data_lit = b"{}"


def _c_data_missing(h, c):
    c.omit.add("data")


def _c_count_missing(h, c):
    c.omit.add("count")


def _c_count_lit(h, c):
    lits = {"count_negative": b"-5", "count_string": b'"12"', "count_float": b"12.5",
            "count_huge": b"18446744073709551616"}
    lit = lits.get(c.fault)
    if c.sc.count_value is not None and c.fault in ("count_huge", "count_value"):
        lit = c.sc.count_value.encode("utf-8", "surrogateescape")
    if lit is None:
        lit = b"18446744073709551616"
    c.count_lit = lit


def _c_wrong_types(h, c):
    rows = h._row_pairs(c)
    wf = c.sc.wrong_field
    for row in rows:
        keys = [k for k, _ in row]
        if wf and wf not in keys:
            row.append([wf, b"null"])
        for pair in row:
            k = pair[0]
            if wf and k != wf:
                continue
            if wf and c.sc.wrong_value is not None:
                pair[1] = c.sc.wrong_value.encode("utf-8", "surrogateescape")
            elif k == "call_duration":
                pair[1] = WRONG_VALUES["call_duration_" + c.sc.variant]
            else:
                pair[1] = WRONG_VALUES.get(k, b"[]")
    c.row_lits = h._pairs_lit(rows)


def _first_row_edit(h, c, fn):
    rows = h._row_pairs(c)
    if rows:
        fn(dict((k, i) for i, (k, _) in enumerate(rows[0])), rows[0])
    c.row_lits = h._pairs_lit(rows)


def _c_bad_utf8(h, c):
    def fn(idx, row):
        v = row[idx["source_number"]][1]
        row[idx["source_number"]][1] = v[:4] + b"\xff\xfe" + v[4:]
    _first_row_edit(h, c, fn)


def _c_nul_escape(h, c):
    def fn(idx, row):
        row[idx["source_number"]][1] = b'"+91\\u00001234"'
    _first_row_edit(h, c, fn)


def _c_big_string(h, c):
    size = c.sc.size if c.sc.size is not None else 1 << 20

    def fn(idx, row):
        row[idx["end_reason"]][1] = b'"' + b"x" * size + b'"'
    _first_row_edit(h, c, fn)


def _c_ts_out_of_range(h, c):
    rows = h._row_pairs(c)
    for row in rows:
        for pair in row:
            if pair[0] == "creation_time":
                pair[1] = b'"294277-01-01T00:00:00Z"'
            elif pair[0] == "start_time":
                pair[1] = b'"4714-11-23T00:00:00Z BC"'
    c.row_lits = h._pairs_lit(rows)


def _c_dup_keys(h, c):
    rows = h._row_pairs(c)
    out = []
    for row in rows:
        nr = []
        for k, v in row:
            if k == "call_status":
                nr.append(["call_status", b'"completed"'])
                nr.append(["call_status", b'"missed"'])
            else:
                nr.append([k, v])
        out.append(nr)
    c.row_lits = h._pairs_lit(out)


def _c_next(h, c):
    base = "http://" + h._host()

    def rebase(u, new):
        return new + u[len(base):] if u and u.startswith(base) else u
    if c.fault == "next_foreign":
        c.next_url = rebase(c.next_url, "http://evil.example.invalid:9")
        c.prev_url = rebase(c.prev_url, "http://evil.example.invalid:9")
    elif c.fault == "next_repeat":
        c.next_url = base + h.path          # this very request, never null
    elif c.fault == "next_scheme":
        c.next_url = rebase(c.next_url, "ftp://" + h._host())


def _c_unordered(h, c):
    i, j = c.sc.swap
    if i < len(c.refs) and j < len(c.refs):
        c.refs[i], c.refs[j] = c.refs[j], c.refs[i]


def _c_noop(h, c):
    pass


CONTENT_HOOKS = {
    "trailing_comma": _c_trailing_comma, "data_not_array": _c_data_not_array,
    "data_missing": _c_data_missing, "count_missing": _c_count_missing,
    "count_negative": _c_count_lit, "count_string": _c_count_lit, "count_huge": _c_count_lit,
    "count_value": _c_count_lit, "count_float": _c_count_lit,
    "wrong_types": _c_wrong_types, "bad_utf8": _c_bad_utf8, "nul_escape": _c_nul_escape,
    "big_string": _c_big_string, "ts_out_of_range": _c_ts_out_of_range,
    "dup_keys": _c_dup_keys, "next_foreign": _c_next, "next_repeat": _c_next,
    "next_scheme": _c_next, "count_lie": _c_noop, "unordered": _c_unordered,
}

assert set(PRE_HOOKS) == set(PRE_FAULTS), set(PRE_HOOKS) ^ set(PRE_FAULTS)
assert set(CONTENT_HOOKS) == set(CONTENT_FAULTS)


# --------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    block_on_close = False


def main(argv=None):
    ap = argparse.ArgumentParser(description="Call Logs API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18181, help="0 = pick a free port")
    ap.add_argument("--rows", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--token", default="secret")
    ap.add_argument("--org", default="acme")
    ap.add_argument("--latency", type=int, default=0, help="ms added to every API request")
    ap.add_argument("--log-file", help="append one JSON line per API request")
    ap.add_argument("--pidfile")
    ap.add_argument("--ready-file", default=os.environ.get("CALLOGS_EMULATOR_READY_FILE"),
                    help="written with the base URL once listening")
    args = ap.parse_args(argv)

    CFG.rows, CFG.seed, CFG.token, CFG.org, CFG.latency = (
        args.rows, args.seed, args.token, args.org, args.latency)
    if args.log_file:
        STATE.log_file = open(args.log_file, "a", encoding="utf-8")

    srv = Server((args.host, args.port), Handler)
    host, port = srv.server_address[0], srv.server_address[1]
    url = "http://%s:%d" % (host, port)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(url + "\n")
        os.replace(tmp, args.ready_file)
    print("listening on " + url, flush=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        for p in (args.pidfile, args.ready_file):
            if p:
                try:
                    os.unlink(p)
                except OSError:
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
