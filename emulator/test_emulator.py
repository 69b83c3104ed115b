#!/usr/bin/python3
"""Tests for callogs_emulator.py.

    cd /work/main && /usr/bin/python3 -m unittest emulator/test_emulator.py
    /usr/bin/python3 emulator/test_emulator.py
"""

import sys
sys.dont_write_bytecode = True
import gzip
import http.client
import json
import os
import re
import subprocess
import time
import unittest
from urllib.parse import parse_qs, quote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
API = "/api/v2/platform/call-logs/"
AUTH = {"Authorization": "Token secret", "Org-Handle": "acme"}
ROWS = 2500


FIXED = "anchor=2025-11-30T00:00:00Z"      # tests that need fixed data pin the anchor


def ts_ms(s):
    """ISO timestamp as returned by the emulator (Z or +hh:mm) -> epoch ms."""
    import calendar
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{3}))?(Z|[+-]\d\d:\d\d)", s)
    assert m, s
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    off = 0
    if m.group(3) != "Z":
        off = (int(m.group(3)[1:3]) * 60 + int(m.group(3)[4:6])) * (1 if m.group(3)[0] == "+" else -1)
    return (t - off * 60) * 1000 + (int(m.group(2)) if m.group(2) else 0)


def tz_of(s):
    """The UTC offset suffix of a timestamp ("Z" or "+hh:mm")."""
    return "Z" if s.endswith("Z") else s[-6:]


class EmulatorTest(unittest.TestCase):
    proc = None

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "callogs_emulator.py"), "--port", "0",
             "--rows", str(ROWS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        if not line.startswith("listening on http://"):
            cls.proc.kill()
            raise RuntimeError("emulator did not start: %r %s" % (line, cls.proc.stderr.read()))
        u = urlsplit(line.split()[-1])
        cls.host, cls.port = u.hostname, u.port
        cls._all = {}

    @classmethod
    def tearDownClass(cls):
        if cls.proc:
            cls.proc.terminate()
            try:
                cls.proc.wait(5)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
            cls.proc.stdout.close()
            cls.proc.stderr.close()

    # -- helpers
    def req(self, path, headers=AUTH, conn=None, timeout=10):
        c = conn or http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request("GET", path, headers=dict(headers))
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            if conn is None:
                c.close()

    def api(self, query="", opts=None, headers=AUTH):
        path = ("/s/%s" % opts if opts else "") + API + ("?" + query if query else "")
        st, h, body = self.req(path, headers)
        return st, h, body

    def jget(self, query="", opts=None, headers=AUTH, status=200):
        st, h, body = self.api(query, opts, headers)
        self.assertEqual(st, status, body[:300])
        return json.loads(body)

    def all_rows(self, opts=None):
        """Every row of a scenario (no filters), fetched with page_size=1000."""
        if opts not in self._all:
            rows, page = [], 1
            while True:
                d = self.jget("page_size=1000&page=%d" % page, opts)
                rows += d["data"]
                if len(rows) >= d["count"]:
                    break
                page += 1
            self._all[opts] = rows
        return self._all[opts]

    def log(self, tag, fmt="json"):
        st, _, body = self.req("/_log?tag=%s&format=%s" % (quote(tag, safe=""), fmt))
        self.assertEqual(st, 200)
        return json.loads(body) if fmt == "json" else body.decode()

    # -- basics
    def test_health_and_unknown_paths(self):
        self.assertEqual(self.req("/_health")[0], 200)
        st, _, body = self.req("/api/v2/platform/call-logs", AUTH)
        self.assertEqual((st, json.loads(body)), (404, {"status_code": 404, "message": "Not found"}))
        st, _, body = self.req("/s/bogus=1" + API, AUTH)
        self.assertEqual(st, 400)
        self.assertIn(b"emulator", body)

    def test_paging_and_order(self):
        rows = self.all_rows()
        self.assertEqual(len(rows), ROWS)
        ids = [r["id"] for r in rows]
        self.assertEqual(len(set(ids)), ROWS)
        for i in ids[:50]:
            self.assertRegex(i, r"^call_[0-9a-f]{12}$")
        cts = [ts_ms(r["creation_time"]) for r in rows]
        self.assertTrue(all(a > b for a, b in zip(cts, cts[1:])), "strictly newest first")
        self.assertEqual(self.all_rows(FIXED)[0]["creation_time"], "2025-11-30T00:00:00.000Z")
        self.assertEqual(list(rows[0]), ["id", "source_number", "destination_number",
                                         "call_type", "call_status", "creation_time",
                                         "start_time", "end_time", "call_duration",
                                         "end_reason", "bridge"])
        # default page size 20, page 7
        d = self.jget("page=7")
        self.assertEqual(d["count"], ROWS)
        self.assertEqual([r["id"] for r in d["data"]], ids[120:140])
        self.assertEqual(list(d), ["count", "status_code", "message", "next", "previous", "data"])
        self.assertEqual(list(self.jget("page=7", "links=0")),
                         ["count", "status_code", "message", "data"])
        # small pages concatenate to the same sequence
        got = []
        for p in range(1, 6):
            got += [r["id"] for r in self.jget("page_size=7&page=%d" % p)["data"]]
        self.assertEqual(got, ids[:35])
        # last partial page and past the end
        d = self.jget("page_size=1000&page=3")
        self.assertEqual(len(d["data"]), 500)
        st, _, body = self.api("page_size=1000&page=4")
        self.assertEqual((st, json.loads(body)), (404, {"status_code": 404, "message": "Invalid page."}))

    def test_variant_a_fields(self):
        for r in self.all_rows():
            self.assertRegex(r["creation_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertRegex(r["call_duration"], r"^\d+:[0-5]\d:[0-5]\d$")
            self.assertRegex(r["source_number"], r"^\+\d{10,13}$")
            self.assertIn(r["bridge"], range(1, 10))
            self.assertIsNotNone(r["start_time"])
            if r["call_status"] == "missed":
                self.assertEqual(r["start_time"], r["creation_time"])
                self.assertEqual(r["end_time"], r["creation_time"])
                self.assertEqual(r["call_duration"], "0:00:00")
            else:
                self.assertGreater(ts_ms(r["start_time"]), ts_ms(r["creation_time"]))
                h, m, s = (int(x) for x in r["call_duration"].split(":"))
                self.assertEqual(ts_ms(r["end_time"]) - ts_ms(r["start_time"]),
                                 (h * 3600 + m * 60 + s) * 1000)
        statuses = {r["call_status"] for r in self.all_rows()}
        self.assertEqual(statuses, {"completed", "missed", "failed"})

    def test_variant_b_fields(self):
        rows = self.all_rows("variant=b")
        self.assertEqual(len(rows), ROWS)
        for r in rows:
            self.assertNotIn("id", r)
            self.assertNotIn("bridge", r)
            self.assertRegex(r["creation_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertIsInstance(r["call_duration"], int)
            self.assertIn(r["end_reason"], ("caller_hangup", "callee_hangup", "no_answer",
                                            "network_error"))
            if r["call_status"] == "missed":
                self.assertIsNone(r["start_time"])
                self.assertIsNone(r["end_time"])
            else:
                self.assertEqual(ts_ms(r["end_time"]) - ts_ms(r["start_time"]),
                                 r["call_duration"] * 1000)

    def test_type_status_filters_match_totals(self):
        for opts in (None, "variant=b,rows=700"):
            s = quote(opts or "", safe="")
            t = json.loads(self.req("/_totals?s=" + s)[2])
            self.assertEqual(self.jget("page_size=1", opts)["count"], t["count"])
            for ty in ("inbound", "outbound"):
                self.assertEqual(self.jget("call_type=" + ty, opts)["count"], t["by_type"][ty])
                for stt in ("completed", "missed", "failed"):
                    d = self.jget("page_size=1000&call_type=%s&call_status=%s" % (ty, stt), opts)
                    self.assertEqual(d["count"], t["by_type_status"]["%s/%s" % (ty, stt)])
                    for r in d["data"]:
                        self.assertEqual((r["call_type"], r["call_status"]), (ty, stt))
        rows = self.all_rows()
        want = [r["id"] for r in rows if r["call_status"] == "failed"]
        got = []
        for p in (1, 2):
            st, _, body = self.api("page_size=200&page=%d&call_status=failed" % p)
            if st == 200:
                got += [r["id"] for r in json.loads(body)["data"]]
        self.assertEqual(got, want[:400])

    def _check_dates(self, opts, rows, field, query, pred):
        d = self.jget("page_size=1000&" + query, opts)
        want = [r for r in rows if r[field] is not None and pred(ts_ms(r[field]))]
        self.assertEqual(d["count"], len(want), query)
        self.assertEqual(d["data"], want[:1000], query)

    def test_date_filters(self):
        rows = self.all_rows()
        k = 137
        t = rows[k]["creation_time"]
        tm = ts_ms(t)
        d = self.jget("start_date=" + quote(t))
        self.assertEqual(d["count"], k + 1)
        self.assertEqual(self.jget("end_date=" + quote(t))["count"], ROWS - k)
        self.assertEqual(self.jget("end_date=" + quote(t), "end_exclusive=1")["count"],
                         ROWS - k - 1)
        day = t[:10]
        from calendar import timegm
        d0 = timegm(time.strptime(day, "%Y-%m-%d")) * 1000
        cf = "creation_time"
        self._check_dates(None, rows, cf, "start_date=" + day, lambda v: v >= d0)
        self._check_dates(None, rows, cf, "end_date=" + day, lambda v: v < d0 + 86400000)
        self._check_dates("end_exclusive=1", rows, cf, "end_date=" + day, lambda v: v < d0)
        self._check_dates(None, rows, cf, "start_date=%s&end_date=%s" % (day, day),
                          lambda v: d0 <= v < d0 + 86400000)
        # offsets and fractional seconds
        self._check_dates(None, rows, cf, "start_date=" + quote(day + "T05:30:00+05:30"),
                          lambda v: v >= d0)
        self._check_dates(None, rows, cf, "end_date=" + quote(t[:-5] + ".0004Z"),
                          lambda v: v <= tm - tm % 1000)
        # date_field=start_time, variant b: missed rows (null start_time) never match
        rb = self.all_rows("variant=b")
        tb = rb[40]["creation_time"]
        for opts in ("variant=b,date_field=start_time", "variant=b"):
            field = "start_time" if "date_field" in opts else "creation_time"
            self._check_dates(opts, rb, field, "start_date=" + quote(tb),
                              lambda v: v >= ts_ms(tb))
            self._check_dates(opts, rb, field, "end_date=" + quote(tb),
                              lambda v: v <= ts_ms(tb))
        # no match at all: page 1 is 200 with empty data, page 2 is 404
        d = self.jget("start_date=2099-01-01")
        self.assertEqual((d["count"], d["data"]), (0, []))
        self.assertEqual(self.api("start_date=2099-01-01&page=2")[0], 404)
        # date_only mode
        self.assertEqual(self.api("start_date=" + quote(t), "dates=date_only")[0], 400)
        self.assertEqual(self.api("start_date=" + day, "dates=date_only")[0], 200)

    def test_bad_parameters(self):
        for q in ("page=0", "page=x", "page=", "page_size=0", "page_size=-3", "call_type=Inbound",
                  "call_status=done", "start_date=2025-13-01", "end_date=yesterday",
                  "start_date=2025-11-18T25:00:00Z", "start_date=2025-11-18T10:30:00+05:30"):
            st, _, body = self.api(q)
            self.assertEqual(st, 400, q)
            self.assertEqual(json.loads(body)["status_code"], 400)
        self.assertEqual(json.loads(self.api("call_type=x")[2]),
                         {"status_code": 400, "message": "Invalid call_type: x"})
        self.assertEqual(self.api("frobnicate=1")[0], 200)

    def test_auth(self):
        e401 = {"status_code": 401, "message": "Invalid or missing API token"}
        e403 = {"status_code": 403, "message": "Invalid organization handle"}
        st, _, b = self.api(headers={"Org-Handle": "acme"})
        self.assertEqual((st, json.loads(b)), (401, e401))
        st, _, b = self.api(headers={"Org-Handle": "nope", "Authorization": "Token bad"})
        self.assertEqual((st, json.loads(b)), (401, e401))
        st, _, b = self.api(headers={"Org-Handle": "nope", "Authorization": "Token secret"})
        self.assertEqual((st, json.loads(b)), (403, e403))
        st, _, b = self.api(headers={"Authorization": "Token secret"})
        self.assertEqual(st, 403)
        self.assertEqual(self.api(opts="token=xyz")[0], 401)
        self.assertEqual(self.api(opts="token=xyz", headers={
            "Org-Handle": "acme", "Authorization": "Token xyz"})[0], 200)
        opts = "orgs=acme:tokA+globex:tokB,tag=multiorg"
        a = self.jget("page_size=3", opts, {"Org-Handle": "acme", "Authorization": "Token tokA"})
        g = self.jget("page_size=3", opts, {"Org-Handle": "globex", "Authorization": "Token tokB"})
        self.assertNotEqual(a["data"][0]["id"], g["data"][0]["id"])
        self.assertEqual(self.api("", opts, {"Org-Handle": "globex",
                                             "Authorization": "Token tokA"})[0], 401)
        t = json.loads(self.req("/_totals?org=globex&s=" + quote(opts, safe=""))[2])
        self.assertEqual(t["org"], "globex")
        # the token is never logged
        self.assertEqual(len(self.log("multiorg")), 3)
        self.assertNotIn("tok", self.log("multiorg", "tsv"))
        self.assertNotIn("tok", json.dumps(self.log("multiorg")))

    def test_past_end_empty_and_cap(self):
        d = self.jget("page=99&page_size=100", "past_end=empty")
        self.assertEqual((d["count"], d["data"]), (ROWS, []))
        d = self.jget("page_size=100", "cap=30")
        self.assertEqual(len(d["data"]), 30)
        self.assertEqual(self.api("page=85&page_size=100", "cap=30")[0], 404)
        self.assertEqual(len(self.jget("page=84&page_size=100", "cap=30,tag=cap2")["data"]), 10)
        self.assertEqual(len(self.jget("page_size=5000")["data"]), 1000)

    def test_links(self):
        opts = "links=1,rows=95"
        d = self.jget("page_size=20&call_type=inbound", opts)
        self.assertEqual(list(d), ["count", "status_code", "message", "next", "previous", "data"])
        self.assertIsNone(d["previous"])
        seen = [r["id"] for r in d["data"]]
        n = 1
        while d["next"]:
            u = urlsplit(d["next"])
            self.assertEqual((u.hostname, u.port), (self.host, self.port))
            self.assertIn("call_type=inbound", u.query)
            st, _, body = self.req(u.path + "?" + u.query)
            d = json.loads(body)
            self.assertIsNotNone(d["previous"])
            seen += [r["id"] for r in d["data"]]
            n += 1
        self.assertEqual(len(seen), d["count"])
        self.assertEqual(n, -(-d["count"] // 20))
        d = self.jget("page=2", "fault=next_foreign")
        self.assertTrue(d["next"].startswith("http://evil.example.invalid:9/"))
        d = self.jget("page=2", "fault=next_repeat")
        self.assertIn("page=2", d["next"])
        d = self.jget("page=2", "fault=next_scheme")
        self.assertTrue(d["next"].startswith("ftp://"))

    def test_log_and_reset(self):
        tag = "logtest"
        opts = "tag=%s,variant=b" % tag
        self.req("/_reset?tag=" + tag)
        c = http.client.HTTPConnection(self.host, self.port, timeout=5)
        for q in ("page=1&page_size=3", "page=2&page_size=3&call_type=inbound&start_date=2025-11-01"):
            st, h, _ = self.req("/s/%s%s?%s" % (opts, API, q), AUTH, conn=c)
            self.assertEqual(st, 200)
            self.assertEqual(h.get("connection"), None)
        self.req("/s/%s%s" % (opts, API), {"Org-Handle": "acme"}, conn=c)
        c.close()
        tsv = self.log(tag, "tsv").splitlines()
        self.assertEqual(tsv[0].split("\t"), [
            "seq", "start", "end", "status", "page", "page_size", "call_type", "call_status",
            "start_date", "end_date", "org", "auth", "fault", "client_port", "path"])
        self.assertEqual(len(tsv), 4)
        f = tsv[2].split("\t")
        self.assertEqual((f[3], f[4], f[5], f[6], f[8], f[10], f[11]),
                         ("200", "2", "3", "inbound", "2025-11-01", "acme", "ok"))
        self.assertTrue(f[14].startswith(API + "?page=2"))
        self.assertEqual(tsv[3].split("\t")[3], "401")
        self.assertEqual(tsv[3].split("\t")[11], "none")
        ents = self.log(tag)
        self.assertEqual(len({e["client_port"] for e in ents}), 1, "keep-alive reuses the socket")
        self.assertLess(ents[0]["seq"], ents[1]["seq"])
        self.assertGreaterEqual(ents[0]["end"], ents[0]["start"])
        self.assertNotIn("secret", json.dumps(ents))
        st, _, body = self.req("/_log?tag=%s&format=json&clear=1" % tag)
        self.assertEqual(len(json.loads(body)), 3)
        self.assertEqual(self.log(tag), [])
        self.api("", opts)
        self.assertEqual(len(self.log(tag)), 1)
        self.req("/_reset?tag=" + tag)
        self.assertEqual(self.log(tag), [])

    def test_fault_500_times_and_pages(self):
        opts = "fault=500json,fault_times=1"
        self.req("/_reset?tag=" + quote(opts, safe=""))
        st, _, b = self.api("", opts)
        self.assertEqual((st, json.loads(b)["status_code"]), (500, 500))
        self.assertEqual(self.api("", opts)[0], 200)
        opts = "fault=500html,fault_pages=2:3"
        self.assertEqual(self.api("page=1", opts)[0], 200)
        st, h, b = self.api("page=2", opts)
        self.assertEqual(st, 500)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertEqual(self.api("page=3", opts)[0], 500)
        opts = "fault=503,fault_after=1,fault_times=1"
        self.req("/_reset?tag=" + quote(opts, safe=""))
        self.assertEqual([self.api("", opts)[0] for _ in range(3)], [200, 503, 200])
        self.assertEqual([e["fault"] for e in self.log(opts)], ["", "503", ""])

    def test_fault_429(self):
        st, h, _ = self.api("", "fault=429,retry_after=7")
        self.assertEqual((st, h.get("retry-after")), (429, "7"))
        st, h, _ = self.api("", "fault=429date")
        self.assertEqual(st, 429)
        self.assertTrue(h["retry-after"].endswith("GMT"))
        st, h, _ = self.api("", "fault=429none")
        self.assertEqual(st, 429)
        self.assertNotIn("retry-after", h)

    def test_fault_truncate_and_reset(self):
        with self.assertRaises(http.client.IncompleteRead):
            self.api("page_size=50", "fault=truncate")
        with self.assertRaises((ConnectionResetError, http.client.RemoteDisconnected)):
            self.api("", "fault=reset")
        t0 = time.time()
        with self.assertRaises((TimeoutError, OSError)):
            c = http.client.HTTPConnection(self.host, self.port, timeout=0.5)
            self.req("/s/fault=hang_before_headers,delay=3000" + API, AUTH, conn=c)
        c.close()
        self.assertLess(time.time() - t0, 2)

    def test_fault_shift(self):
        opts = "fault=shift,shift_rows=5"
        self.req("/_reset?tag=" + quote(opts, safe=""))
        p1 = self.jget("page=1&page_size=10", opts)
        p2 = self.jget("page=2&page_size=10", opts)
        self.assertEqual(p1["count"], ROWS + 5)
        self.assertEqual(p2["count"], ROWS + 10)
        self.assertTrue(all(r["id"].startswith("call_new") for r in p1["data"][:5]))
        dup = {r["id"] for r in p1["data"]} & {r["id"] for r in p2["data"]}
        self.assertEqual(len(dup), 5)
        self.req("/_reset?tag=" + quote(opts, safe=""))
        self.assertEqual(self.jget("page_size=1", opts)["count"], ROWS + 5)

    def test_fault_bodies(self):
        st, _, b = self.api("page_size=2", "fault=dup_keys")
        self.assertEqual(b.count(b'"call_status"'), 4)
        self.assertEqual(json.loads(b)["data"][0]["call_status"], "missed")
        st, _, b = self.api("", "fault=depth_bomb")
        self.assertEqual(st, 200)
        self.assertIn(b"[" * 100000, b)
        with self.assertRaises(RecursionError):
            json.loads(b)
        _, _, b = self.api("", "fault=trailing_comma")
        self.assertTrue(b.endswith(b"],\n}"))
        _, _, b = self.api("", "fault=count_huge")
        self.assertIn(b'"count": 18446744073709551616,', b)
        _, _, b = self.api("", "fault=count_value,count_value=1e400")
        self.assertIn(b'"count": 1e400,', b)
        _, _, b = self.api("page_size=3", "fault=bad_utf8")
        self.assertIn(b"\xff\xfe", b)
        d = json.loads(self.api("page_size=3", "fault=wrong_types")[2])
        self.assertIsInstance(d["data"][0]["id"], int)
        self.assertIsInstance(d["data"][0]["call_type"], list)
        d = json.loads(self.api("page_size=3", "fault=wrong_types,wrong_field=bridge,"
                                "wrong_value=%7B%7D")[2])
        self.assertEqual(d["data"][1]["bridge"], {})
        self.assertIsInstance(d["data"][1]["id"], str)
        d = json.loads(self.api("", "fault=count_lie")[2])
        self.assertEqual(d["count"], ROWS * 10)
        st, h, b = self.api("", "fault=redirect")
        self.assertEqual(st, 302)
        self.assertTrue(h["location"].startswith("http://127.0.0.2:"))

    def test_gzip(self):
        hdr = dict(AUTH, **{"Accept-Encoding": "gzip"})
        st, h, b = self.api("page_size=100", headers=hdr)
        self.assertEqual(h.get("content-encoding"), "gzip")
        self.assertEqual(int(h["content-length"]), len(b))
        plain = self.api("page_size=100")[2]
        self.assertEqual(gzip.decompress(b), plain)
        st, h, b = self.api("page_size=100", "gzip=0", headers=hdr)
        plain = self.api("page_size=100", "gzip=0")[2]
        self.assertNotIn("content-encoding", h)
        self.assertEqual(b, plain)

    def test_fast_renderer_matches_json(self):
        sys.path.insert(0, HERE)
        import callogs_emulator as ce
        ds = ce.Dataset(7, 3000, "acme", ce.FIXED_ANCHOR_MS, True)
        dsb = ce.Dataset(7, 3000, "acme", ce.FIXED_ANCHOR_MS, False)
        for d, v in ((ds, "a"), (dsb, "b")):
            for tz, cust in ((None, 2000), ("mixed", 0), (-480, 10)):
                fmt = ce.RowFormat(v, tz, cust)
                for i in range(3000):
                    rec = d.record(i)
                    self.assertEqual(ce.row_json(rec, fmt, d),
                                     json.dumps(ce.row_dict(rec, fmt, d)).encode())

    # -- the documented API's shape by default: links, anchor now, customers
    def follow(self, url, key="next", limit=1000):
        """Pages reached by following `key` links from url (a path or an
        absolute URL); each link must be absolute and point at this emulator."""
        pages = []
        while url and len(pages) < limit:
            if url.startswith("http"):
                u = urlsplit(url)
                self.assertEqual((u.scheme, u.hostname, u.port), ("http", self.host, self.port))
                url = u.path + "?" + u.query
            st, _, body = self.req(url)
            self.assertEqual(st, 200, (url, body[:200]))
            d = json.loads(body)
            pages.append((url, d))
            url = d[key]
        return pages

    def test_default_page_links(self):
        rows = self.all_rows()
        pages = self.follow(API + "?page_size=300&call_status=missed")
        want = [r["id"] for r in rows if r["call_status"] == "missed"]
        self.assertEqual([r["id"] for _, d in pages for r in d["data"]], want)
        self.assertEqual(len(pages), -(-len(want) // 300))
        self.assertIsNone(pages[0][1]["previous"])
        self.assertIsNone(pages[-1][1]["next"])
        for n, (url, d) in enumerate(pages, 1):
            q = parse_qs(urlsplit(url).query)
            self.assertEqual(q.get("call_status"), ["missed"])
            self.assertEqual(q.get("page_size"), ["300"])
            if n > 1:
                self.assertEqual(q["page"], [str(n)])
                self.assertTrue(url.endswith("&page=%d" % n), url)
        # previous links walk back over the same pages
        back = self.follow(pages[-1][1]["previous"], "previous")
        self.assertEqual([d["data"] for _, d in back], [d["data"] for _, d in pages[-2::-1]])
        # one page: no link at either end
        d = self.jget("page_size=1000&call_type=inbound&call_status=failed")
        self.assertEqual((d["next"], d["previous"]), (None, None))
        # links=0 turns them off; links=1 and links=page are page links
        self.assertNotIn("next", self.jget("page=2", "links=0"))
        for v in ("1", "page"):
            self.assertIn("page=3", self.jget("page=2", "links=" + v)["next"])
        self.assertEqual(self.api("", "links=2")[0], 400)

    def test_cursor_links(self):
        opts = "links=cursor,tag=cur"
        rows = self.all_rows()
        want = [r["id"] for r in rows if r["call_type"] == "outbound"]
        pages = self.follow("/s/%s%s?page_size=250&call_type=outbound" % (opts, API))
        self.assertEqual([r["id"] for _, d in pages for r in d["data"]], want)
        self.assertEqual(len(pages), -(-len(want) // 250))
        self.assertTrue(all(d["count"] == len(want) for _, d in pages))
        for url, _ in pages[1:]:
            q = parse_qs(urlsplit(url).query)
            self.assertNotIn("page", q)
            self.assertEqual(q["call_type"], ["outbound"])
            self.assertRegex(q["cursor"][0], r"^[A-Za-z0-9_-]+$")
        self.assertIsNone(pages[0][1]["previous"])
        self.assertIsNone(pages[-1][1]["next"])
        back = self.follow(pages[-1][1]["previous"], "previous")
        self.assertEqual([d["data"] for _, d in back], [d["data"] for _, d in pages[-2::-1]])
        # a page number without a cursor is still honoured (the documented parameter)
        d = self.jget("page=3&page_size=250&call_type=outbound", opts)
        self.assertEqual(d["data"], pages[2][1]["data"])
        self.assertIn("cursor=", d["next"])
        # forged, edited, or reused with other filters / another scenario: 400
        nxt = urlsplit(pages[1][1]["next"])
        cur = parse_qs(nxt.query)["cursor"][0]
        base = "/s/%s%s?page_size=250&" % (opts, API)
        self.assertEqual(self.req(base + "call_type=outbound&cursor=" + cur)[0], 200)
        import base64
        raw = base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4)).decode()
        parts = raw.split(".")
        parts[1] = str(int(parts[1]) - 1000)
        forged = base64.urlsafe_b64encode(".".join(parts).encode()).decode().rstrip("=")
        for bad in (forged, "bogus", cur[:-2], cur + "!", ""):
            st, _, b = self.req(base + "call_type=outbound&cursor=" + quote(bad))
            self.assertEqual((st, json.loads(b)), (400, {"status_code": 400,
                                                         "message": "Invalid cursor"}), bad)
        self.assertEqual(self.req(base + "call_type=inbound&cursor=" + cur)[0], 400)
        self.assertEqual(self.req(base + "cursor=" + cur)[0], 400)
        self.assertEqual(self.req("/s/links=cursor,tag=cur2%s?page_size=250&call_type="
                                  "outbound&cursor=%s" % (API, cur))[0], 400)

    def test_cursor_links_with_date_bounds(self):
        # a cursor walk under start_date/end_date brings the rows that page
        # numbers bring (an end_date moves the first matching row away from
        # the newest one: the keyset position must count from there)
        rows = self.all_rows(FIXED)
        mid = rows[len(rows) // 2]["creation_time"]
        for q in ("end_date=" + mid[:10], "end_date=" + quote(mid),
                  "start_date=%s&end_date=%s" % (rows[-10]["creation_time"][:10], mid[:10]),
                  "end_date=%s&call_status=missed" % mid[:10]):
            by_page = []
            for p in range(1, 100):
                d = self.jget("page_size=70&page=%d&%s" % (p, q), "links=0," + FIXED)
                by_page += [r["id"] for r in d["data"]]
                if p * 70 >= d["count"]:
                    break
            pages = self.follow("/s/links=cursor,tag=curdate,%s%s?page_size=70&%s"
                                % (FIXED, API, q))
            self.assertGreater(len(pages), 2, q)
            self.assertEqual([r["id"] for _, d in pages for r in d["data"]], by_page, q)

    def test_cursor_from(self):
        # page-number links until page 3, opaque cursors from page 3 on
        opts = "cursor_from=3,tag=curfrom"
        rows = self.all_rows()
        pages = self.follow("/s/%s%s?page_size=100&call_status=missed" % (opts, API))
        want = [r["id"] for r in rows if r["call_status"] == "missed"]
        self.assertGreater(len(pages), 3)
        self.assertEqual([r["id"] for _, d in pages for r in d["data"]], want)
        kinds = ["cursor" if "cursor=" in (d["next"] or "") else
                 "page" if d["next"] else None for _, d in pages]
        self.assertEqual(kinds, ["page", "page"] + ["cursor"] * (len(pages) - 3) + [None])
        q = parse_qs(urlsplit(pages[1][1]["next"]).query)
        self.assertEqual((q["page"], q["call_status"]), (["3"], ["missed"]))
        # page numbers are still honoured, with the same rows
        d = self.jget("page=4&page_size=100&call_status=missed", opts)
        self.assertEqual(d["data"], pages[3][1]["data"])
        self.assertIn("cursor=", d["next"])
        # only with page links; 0 is never
        self.assertNotIn("cursor=", self.jget("page=5&page_size=10", "cursor_from=0")["next"])
        self.assertNotIn("next", self.jget("page=5&page_size=10", "cursor_from=2,links=0"))
        self.assertEqual(self.api("", "cursor_from=x")[0], 400)

    def test_cursor_keyset_under_new_calls(self):
        # cursors mark a position in the rows, not a page number: calls that
        # arrive at the top do not shift the pages that follow
        opts = "links=cursor,fault=shift,shift_rows=7,fault_after=1,tag=curshift"
        self.req("/_reset?tag=curshift")
        pages = self.follow("/s/%s%s?page_size=400" % (opts, API))
        ids = [r["id"] for _, d in pages for r in d["data"]]
        self.assertEqual(ids, [r["id"] for r in self.all_rows()])
        self.assertEqual(pages[-1][1]["count"], ROWS + 7 * (len(pages) - 1))
        # page numbers under the same arrivals repeat rows
        opts = "links=0,fault=shift,shift_rows=7,fault_after=1,tag=pgshift"
        self.req("/_reset?tag=pgshift")
        ids = []
        for p in range(1, 8):
            ids += [r["id"] for r in self.jget("page_size=400&page=%d" % p, opts)["data"]]
        self.assertEqual(len(ids) - len(set(ids)), 7 * 6)
        # fault_pages counts the page number a cursor carries
        opts = "links=cursor,fault=503,fault_pages=3,fault_times=1,tag=curfault"
        self.req("/_reset?tag=curfault")
        u = urlsplit(self.jget("page_size=1000", opts)["next"])
        st, _, b = self.req(u.path + "?" + u.query)
        self.assertEqual(st, 200)
        u = urlsplit(json.loads(b)["next"])
        self.assertEqual(self.req(u.path + "?" + u.query)[0], 503)
        self.assertEqual([e["fault"] for e in self.log("curfault")], ["", "", "503"])

    def test_anchor(self):
        t0 = time.time() * 1000
        first = self.jget("page_size=1", "anchor=now,tag=anchor_now,rows=300")["data"][0]
        t1 = time.time() * 1000
        self.assertTrue(t0 - 2000 <= ts_ms(first["creation_time"]) <= t1 + 1000,
                        (t0, first["creation_time"], t1))
        time.sleep(0.05)
        again = self.jget("page_size=1", "anchor=now,tag=anchor_now,rows=300")["data"][0]
        self.assertEqual(first, again, "the data set keeps the now of its first build")
        # the default is now; an explicit anchor pins the data
        self.assertGreater(ts_ms(self.all_rows()[0]["creation_time"]), t0 - 600000)
        for a, want in (("2025-11-30T00:00:00Z", "2025-11-30T00:00:00.000Z"),
                        ("2024-02-29", "2024-02-29T00:00:00.000Z"),
                        ("2024-02-29T12:00:00+05:30", "2024-02-29T06:30:00.000Z"),
                        ("1700000000123", "2023-11-14T22:13:20.123Z")):
            self.assertEqual(self.jget("page_size=1", "anchor=" + quote(a, safe=""))
                             ["data"][0]["creation_time"], want)
        self.assertEqual(self.jget("page_size=1", "anchor=2024-02-29,variant=b")
                         ["data"][0]["creation_time"], "2024-02-29T00:00:00Z")
        for bad in ("yesterday", "2025-13-01", ""):
            self.assertEqual(self.api("", "anchor=" + bad)[0], 400, bad)

    def test_customers_call_again(self):
        opts = "rows=25000,tag=cust"
        rows = []
        for p in range(1, 26):
            rows += self.jget("page_size=1000&page=%d" % p, opts)["data"]
        cust = [r["source_number"] if r["call_type"] == "inbound" else r["destination_number"]
                for r in rows]
        org = {r["destination_number"] if r["call_type"] == "inbound" else r["source_number"]
               for r in rows}
        self.assertEqual(len(org), 4)
        self.assertFalse(org & set(cust))
        from collections import Counter
        c = Counter(cust)
        self.assertLessEqual(len(c), 2000)
        self.assertGreater(len(c), 1900)
        top = c.most_common()
        self.assertGreater(top[0][1], 200, "a few customers call very often")
        self.assertGreaterEqual(top[1999 if len(top) >= 2000 else -1][1], 1)
        self.assertGreater(sorted(c.values())[len(c) // 2], 5, "the median customer calls often")
        # the quickstart's contacts: the first 50 inbound callers call again and again
        first50 = []
        for r in rows:
            if r["call_type"] == "inbound" and r["source_number"] not in first50:
                first50.append(r["source_number"])
            if len(first50) == 50:
                break
        self.assertTrue(all(c[n] >= 3 for n in first50), [c[n] for n in first50])
        for r in rows[:300]:
            self.assertRegex(r["source_number"], r"^\+\d{10,13}$")
        # customers=0: every call a new number; customers=N: at most N
        fresh = self.all_rows("customers=0")
        self.assertEqual(len({r["source_number"] if r["call_type"] == "inbound"
                              else r["destination_number"] for r in fresh}), ROWS)
        few = self.all_rows("customers=30")
        self.assertLessEqual(len({r["source_number"] for r in few if r["call_type"] == "inbound"}), 30)
        # only the numbers change: ids, times, statuses are those of the default
        strip = [{k: v for k, v in r.items() if not k.endswith("_number")} for r in fresh]
        self.assertEqual(strip, [{k: v for k, v in r.items() if not k.endswith("_number")}
                                 for r in self.all_rows()])

    def test_tz(self):
        base = self.all_rows(FIXED + ",variant=b")
        for tz in ("+05:30", "-08:00", "+14:00", "Z"):
            rows = self.all_rows(FIXED + ",variant=b,tz=" + quote(tz, safe=""))
            for r0, r in zip(base, rows):
                for f in ("creation_time", "start_time", "end_time"):
                    if r0[f] is None:
                        self.assertIsNone(r[f])
                        continue
                    self.assertEqual(tz_of(r[f]), tz, r[f])
                    self.assertEqual(ts_ms(r[f]), ts_ms(r0[f]))
                    self.assertRegex(r[f], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
        self.assertEqual(self.all_rows(FIXED + ",tz=%2B05:30")[0]["creation_time"],
                         "2025-11-30T05:30:00.000+05:30")
        self.assertEqual(self.all_rows(FIXED + ",tz=-12:00")[0]["creation_time"],
                         "2025-11-29T12:00:00.000-12:00")
        # mixed: each row its own offset, the same instant; a row keeps its
        # offset on every request
        a = self.all_rows(FIXED)
        m = self.all_rows(FIXED + ",tz=mixed")
        self.assertEqual(self.all_rows(FIXED + ",tz=mixed,tag=mixed2"), m)
        self.assertEqual({tz_of(r["creation_time"]) for r in m},
                         {"Z", "+05:30", "-08:00", "+14:00", "-12:00", "+00:00"})
        for r0, r in zip(a, m):
            self.assertEqual(r0["id"], r["id"])
            self.assertEqual(len({tz_of(r[f]) for f in ("creation_time", "start_time", "end_time")}), 1)
            for f in ("creation_time", "start_time", "end_time"):
                self.assertEqual(ts_ms(r[f]), ts_ms(r0[f]))
        # filtering stays by instant, whatever the offsets written
        t = a[300]["creation_time"]
        for q in ("start_date=" + quote(t), "end_date=" + quote(t), "start_date=2025-11-28",
                  "end_date=2025-11-27&start_date=2025-11-26"):
            self.assertEqual(self.jget(q, FIXED + ",tz=mixed")["count"], self.jget(q, FIXED)["count"], q)
        d = self.jget("start_date=" + quote("2025-11-29T05:30:00+05:30"), FIXED + ",tz=mixed")
        self.assertEqual(d["count"], sum(1 for r in a if ts_ms(r["creation_time"]) >= ts_ms("2025-11-29T00:00:00Z")))
        for bad in ("05:30", "+5:30", "+15:00", "+05:60", "utc"):
            self.assertEqual(self.api("", "tz=" + quote(bad, safe=""))[0], 400, bad)

    def test_fault_unordered(self):
        rows = self.all_rows()
        opts = "fault=unordered,fault_pages=2"
        d1 = self.jget("page_size=10&page=1", opts)
        d2 = self.jget("page_size=10&page=2", opts)
        self.assertEqual(d1["data"], rows[:10])
        self.assertEqual(d2["data"], [rows[11], rows[10]] + rows[12:20])
        d = self.jget("page_size=10&page=3", "fault=unordered,swap=2:9")
        want = rows[20:30]
        want[2], want[9] = want[9], want[2]
        self.assertEqual(d["data"], want)
        # the page's next link is unaffected
        self.assertIn("page=4", d["next"])
        self.assertEqual(self.api("", "swap=1")[0], 400)

    def test_documented_variants(self):
        rows = self.all_rows()
        t = rows[500]["creation_time"]
        day = t[:10]
        # dates=timestamp_only: a bare date is refused, a timestamp is not
        st, _, b = self.api("start_date=" + day, "dates=timestamp_only")
        self.assertEqual((st, json.loads(b)["message"]), (400, "Invalid start_date: " + day))
        self.assertEqual(self.api("end_date=" + day, "dates=timestamp_only")[0], 400)
        self.assertEqual(self.jget("start_date=" + quote(t), "dates=timestamp_only")["count"], 501)
        # dates=date_only: the reverse
        st, _, b = self.api("end_date=" + quote(t), "dates=date_only")
        self.assertEqual((st, json.loads(b)["message"]), (400, "Invalid end_date: " + t))
        # case_insensitive
        self.assertEqual(self.api("call_status=Missed")[0], 400)
        for q in ("call_status=Missed", "call_type=INBOUND&call_status=failed"):
            d = self.jget(q, "case_insensitive=1")
            self.assertEqual(d["count"], self.jget(q.lower())["count"])
        self.assertEqual(self.api("call_status=busy", "case_insensitive=1")[0], 400)
        # default_page_size
        d = self.jget("", "default_page_size=7")
        self.assertEqual(len(d["data"]), 7)
        self.assertIn("page=2", d["next"])
        self.assertEqual(len(self.jget("")["data"]), 20)
        # date_field=end_time: missed rows of variant a have end_time = creation_time
        self._check_dates("date_field=end_time", rows, "end_time", "start_date=" + quote(t),
                          lambda v: v >= ts_ms(t))
        # end_exclusive with a timestamp: the row at the bound is left out
        self.assertEqual(self.jget("end_date=" + quote(t), "end_exclusive=1")["count"], ROWS - 501)
        self.assertEqual(self.jget("end_date=" + quote(t))["count"], ROWS - 500)
        # cap: a silent cap; the links say page_size as asked, the data is capped
        d = self.jget("page_size=100", "cap=30")
        self.assertEqual((len(d["data"]), d["count"]), (30, ROWS))
        self.assertIn("page_size=100", d["next"])
        # past_end=empty: 200 with no rows, the count and no next link
        d = self.jget("page=999&page_size=10", "past_end=empty")
        self.assertEqual((d["count"], d["data"], d["next"]), (ROWS, [], None))

    def test_speed(self):
        c = http.client.HTTPConnection(self.host, self.port, timeout=5)
        self.req(API + "?page_size=100", AUTH, conn=c)
        t0 = time.perf_counter()
        for p in range(1, 21):
            self.req(API + "?page_size=100&page=%d" % p, AUTH, conn=c)
        c.close()
        self.assertLess((time.perf_counter() - t0) / 20, 0.05)


if __name__ == "__main__":
    unittest.main()
