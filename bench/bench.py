#!/usr/bin/python3
"""The benchmark harness (bench/run.sh starts the servers, then runs this).

Every measurement uses a fresh PostgreSQL connection.  The timed statement
is EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM <source>: all rows and all
11 typed columns are produced in the backend and thrown away there (none is
sent to the client), the same for every method.  Requests and bytes are
counted on the server side (access log of nginx or of delay_server.py);
peak memory is the backend's VmHWM (/proc/<pid>/status) after the statement.

The API is served as it is documented: pages with next links (page-number
links, the main case), and for comparison the same pages without links
(page numbers only) and with opaque cursor links.  Each method's wall time
is compared with wire (one sequential curl) and with the ideal for its
concurrency c: ceil(pages / c) round trips of the added latency.
"""
import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import datetime

import psycopg2

COLS = ("id text, source_number text, destination_number text, call_type text, "
        "call_status text, creation_time timestamptz, start_time timestamptz, "
        "end_time timestamptz, call_duration interval, end_reason text, bridge integer")
API = "/api/v2/platform/call-logs/"

ERRORS = []


def log(msg):
    print("== " + msg, file=sys.stderr, flush=True)


def connect():
    c = psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                         user=os.environ.get("PGUSER", "postgres"), dbname="postgres")
    c.autocommit = True
    return c


def shq(s):
    assert "'" not in s
    return "'" + s + "'"


# data sets (bench/run.sh renders them with gen_pages.py): the main one with
# page-number next links, the same rows without links and with cursors
DATASETS = (("links", "d100k"), ("pages", "n100k"), ("cursors", "c100k"))


def base_url(port, ds):
    return "http://127.0.0.1:%d/%s%s" % (port, ds, API)


def table(kind, lat, conc=None):
    """The foreign table of a data set kind at an added latency."""
    return "%s_%g%s" % (kind, lat, "" if conc is None else "_c%d" % conc)


def setup_sql(a):
    curl = "curl -sS -f -H %s -H %s -H %s -w %s " % (
        shq("Org-Handle: acme"), shq("Authorization: Token secret"),
        shq("Accept: application/json"), shq("\\n"))
    s = ["CREATE EXTENSION IF NOT EXISTS callogs_fdw",
         "CREATE EXTENSION IF NOT EXISTS plpython3u",
         "CREATE TYPE call_log_row AS (%s)" % COLS]
    servers = []
    for lat, port in a.ports.items():
        for kind, ds in DATASETS:
            servers.append(("s_%s_%g" % (kind, lat), base_url(port, ds)))
    servers += [("s_10k", base_url(a.nginx_port, "d10k")), ("s_1m", base_url(a.nginx_port, "d1m"))]
    for name, base in servers:
        s.append("CREATE SERVER %s FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                 "(url '%s', org_handle 'acme', page_size '%d')" % (name, base, a.page_size))
        s.append("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (token 'secret')" % name)
    tables = [("cl_10k", "s_10k", None), ("cl_1m", "s_1m", None)]
    for lat in a.ports:
        for kind, _ in DATASETS:
            srv = "s_%s_%g" % (kind, lat)
            tables.append((table(kind, lat), srv, None))
            if kind == "links":
                tables += [(table(kind, lat, c), srv, c) for c in (1, 2, 8)]
    for tab, srv, conc in tables:
        s.append("CREATE FOREIGN TABLE %s (%s) SERVER %s%s" % (
            tab, COLS, srv, "" if conc is None else " OPTIONS (concurrency '%d')" % conc))
    # by hand: PL/Python, urllib, one page after the other
    s.append("""
CREATE FUNCTION by_hand(base text, page_size int) RETURNS SETOF call_log_row
LANGUAGE plpython3u AS $py$
import json, urllib.request, urllib.error
hdrs = {"Org-Handle": "acme", "Authorization": "Token secret",
        "Accept": "application/json"}
page, seen = 1, 0
while True:
    req = urllib.request.Request("%s?page_size=%d&page=%d" % (base, page_size, page),
                                 headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            doc = json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 404 and page > 1:
            break
        raise
    data = doc["data"]
    if not data:
        break
    for row in data:
        yield row
    seen += len(data)
    if seen >= doc["count"]:
        break
    page += 1
$py$""")
    # SQL only: COPY FROM PROGRAM curl (one curl, one connection, for pages 2..N)
    s.append("""
CREATE FUNCTION sql_only(base text, page_size int) RETURNS SETOF call_log_row
LANGUAGE plpgsql AS $f$
DECLARE
  n bigint;
  pages bigint;
  copy text := 'COPY _pages FROM PROGRAM %%L WITH (FORMAT csv, QUOTE E''\\x01'', DELIMITER E''\\x02'')';
  curl text := %s;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS _pages (doc jsonb);
  TRUNCATE _pages;
  EXECUTE format(copy, curl || '''' || base || '?page_size=' || page_size || '&page=1''');
  SELECT (doc->>'count')::bigint INTO n FROM _pages;
  pages := ceil(n::numeric / page_size);
  IF pages > 1 THEN
    EXECUTE format(copy, curl || '''' || base || '?page_size=' || page_size
                   || '&page=[2-' || pages || ']''');
  END IF;
  RETURN QUERY SELECT r.* FROM _pages p, jsonb_to_recordset(p.doc->'data') AS r(%s);
END
$f$""" % ("'" + curl.replace("'", "''") + "'", COLS))
    return s


class ServerLog:
    def __init__(self, path):
        self.path = path

    def mark(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def since(self, off, settle=0.05):
        time.sleep(settle)  # nginx logs a request after it has answered it
        n = b = 0
        st = {}
        with open(self.path, "rb") as f:
            f.seek(off)
            for ln in f:
                p = ln.split(b" ", 2)
                if len(p) < 3:
                    continue
                n += 1
                b += int(p[1])
                st[p[0].decode()] = st.get(p[0].decode(), 0) + 1
        return n, b, st


def cpu_busy(interval=1.0):
    """Fraction of all CPUs busy over interval (from /proc/stat)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(interval)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_quiet(limit):
    busy = cpu_busy()
    t0 = time.time()
    while busy > 0.10 and time.time() - t0 < limit:
        log("the machine is %.0f%% busy before the bench: waiting (at most %d s more)" % (
            100 * busy, limit - (time.time() - t0)))
        time.sleep(4)
        busy = cpu_busy()
    return busy


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return None


def explain_rows(lines):
    m = re.search(r"actual rows=(\d+)", lines[0])
    return int(m.group(1)) if m else None


def run_sql(kind, src, slog, warm, where=""):
    """One measurement on a fresh connection.  kind: "sql" or "fdw" (EXPLAIN
    ANALYZE of SELECT * FROM src + where; "fdw" also reads the session's
    callogs_fdw_stats), "count" (SELECT count(*)), "query" (src is a whole
    statement whose rows are kept)."""
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        for w in warm:
            cur.execute(w)
        if kind != "sql":
            cur.execute("SELECT callogs_fdw_stats_reset()")
        hwm0 = vm_hwm_kb(pid)
        if kind == "count":
            sql = "SELECT count(*) FROM %s%s" % (src, where)
        elif kind == "query":
            sql = src
        else:
            sql = "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, COSTS OFF) SELECT * FROM %s%s" % (src, where)
        off = slog.mark()
        c0 = cpu_s(pid)
        t0 = time.perf_counter()
        try:
            cur.execute(sql)
            res = cur.fetchall()
        except psycopg2.Error as e:
            ERRORS.append({"sql": sql, "error": str(e).strip()})
            log("ERROR in %s: %s" % (sql, str(e).strip()))
            return None
        wall = time.perf_counter() - t0
        cpu = cpu_s(pid) - c0
        hwm = vm_hwm_kb(pid)
        r = {"wall": wall, "cpu": cpu, "hwm_kb": hwm, "hwm0_kb": hwm0, "sql": sql}
        if kind == "count":
            r["rows"] = None
            r["value"] = res[0][0]
        elif kind == "query":
            r["rows"] = len(res)
            r["value"] = [tuple(x) for x in res]
        else:
            r["rows"] = explain_rows([x[0] for x in res])
            r["explain"] = [x[0] for x in res]
        if kind != "sql":
            cur.execute("SELECT requests, retries, pages, rows, bytes, errors FROM callogs_fdw_stats()")
            r["fdw_stats"] = dict(zip(("requests", "retries", "pages", "rows", "bytes", "errors"),
                                      cur.fetchone()))
        r["requests"], r["bytes"], r["status"] = slog.since(off)
        return r
    except psycopg2.Error as e:
        ERRORS.append({"sql": src, "error": str(e).strip()})
        log("ERROR around %s: %s" % (src, str(e).strip()))
        return None
    finally:
        try:
            conn.close()
        except Exception:
            pass


def run_wire(base, page_size, pages, slog):
    url = "%s?page_size=%d&page=[1-%d]" % (base, page_size, pages)
    cmd = ["curl", "-sS", "-f", "-H", "Org-Handle: acme", "-H", "Authorization: Token secret",
           "-H", "Accept: application/json", "-w", "%{stderr}%{http_code} %{num_connects}\\n", url]
    off = slog.mark()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if p.returncode != 0:
        ERRORS.append({"sql": " ".join(cmd), "error": p.stderr[-500:]})
        return None
    conns = sum(int(x.split()[1]) for x in p.stderr.splitlines() if x.strip())
    n, b, st = slog.since(off)
    return {"wall": wall, "cpu": cpu, "rows": None, "requests": n, "bytes": b, "status": st,
            "connections": conns, "hwm_kb": None}


def wrk(url, conns, secs, env):
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--latency", "-s", env["WRK_SCRIPT"], url]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **env))
    out = p.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    tps = re.search(r"Transfer/sec:\s+([\d.]+\w+)", out)
    lat = re.search(r"Latency\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"conns": conns, "rps": float(rps.group(1)) if rps else None,
            "transfer": tps.group(1) if tps else "?", "lat_avg": lat.group(1) if lat else "?",
            "lat_p99": p99.group(1) if p99 else "?", "non2xx": int(errs.group(1)) if errs else 0,
            "raw": out}


def summarize(runs):
    runs = [r for r in runs if r]
    if not runs:
        return None
    walls = sorted(r["wall"] for r in runs)
    med = statistics.median(walls)
    mid = min(runs, key=lambda r: abs(r["wall"] - med))
    s = dict(mid)
    s["wall"] = med
    s["walls"] = [r["wall"] for r in runs]
    s["n"] = len(runs)
    hw = [r["hwm_kb"] for r in runs if r.get("hwm_kb")]
    s["hwm_kb"] = max(hw) if hw else None
    s["req_set"] = sorted(set(r["requests"] for r in runs))
    return s


NEWEST = ("SELECT * FROM %s WHERE call_status = 'missed' "
          "ORDER BY creation_time DESC LIMIT 10")
GROUPS = "SELECT call_status, count(*) FROM %s GROUP BY 1 ORDER BY 1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--nginx-port", type=int, required=True)
    ap.add_argument("--delays", required=True,
                    help="added latencies and their delay_server ports: MS:PORT,MS:PORT")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--summary", required=True)  # gen_pages.py output
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--reps-slow", type=int, default=1,
                    help="repetitions of the sequential methods at an added latency")
    ap.add_argument("--wrk-secs", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--json-out")
    ap.add_argument("--wait-quiet", type=int, default=180)
    ap.add_argument("--pg-config", default="/usr/lib/postgresql/15/bin/pg_config",
                    help="pg_config of the installation measured")
    a = ap.parse_args()
    a.delay_ms = [float(x.split(":")[0]) for x in a.delays.split(",")]
    a.ports = {0: a.nginx_port}
    for x in a.delays.split(","):
        a.ports[float(x.split(":")[0])] = int(x.split(":")[1])

    summ = json.load(open(a.summary))
    pages = summ["d100k"]["all"]["pages"]
    nrows = summ["d100k"]["all"]["rows"]
    nmissed = summ["d100k"]["missed"]["rows"]
    slogs = {0: ServerLog(os.path.join(a.work, "nginx.access.log"))}
    for lat in a.delay_ms:
        slogs[lat] = ServerLog(os.path.join(a.work, "delay%g.access.log" % lat))
    busy_start = wait_quiet(a.wait_quiet)
    t_start = time.time()

    conn = connect()
    cur = conn.cursor()
    for q in setup_sql(a):
        cur.execute(q)
    cur.execute("SHOW server_version")
    pgver = cur.fetchone()[0]
    cur.execute("SHOW work_mem")
    work_mem = cur.fetchone()[0]
    conn.close()

    # 1. the servers alone
    wenv = {"WRK_SCRIPT": os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages.lua"),
            "WRK_PAGES": str(pages), "WRK_PAGE_SIZE": str(a.page_size),
            "WRK_PATH": "/d100k" + API}
    log("wrk against nginx (0 ms) and delay_server (%s ms)" % ", ".join("%g" % d for d in a.delay_ms))
    wrk_res = [("nginx, 0 ms", wrk(base_url(a.nginx_port, "d100k"), 8, a.wrk_secs, wenv))]
    for lat in a.delay_ms:
        wrk_res.append(("delay_server, %g ms" % lat,
                        wrk(base_url(a.ports[lat], "d100k"), 32, a.wrk_secs, wenv)))

    warm_fdw = ["LOAD 'callogs_fdw'"]
    warm_py = ["DO LANGUAGE plpython3u 'import json, urllib.request'"]

    # method key -> (label, runner, sequential (slow at a latency), concurrency)
    def methods(lat):
        base = base_url(a.ports[lat], "d100k")
        slog = slogs[lat]
        m = [("wire", "wire: curl, 1 connection, sequential",
              lambda: run_wire(base, a.page_size, pages, slog), True, 1)]
        if lat == 0:
            m += [("plpython", "by hand: PL/Python + urllib",
                   lambda: run_sql("sql", "by_hand('%s', %d)" % (base, a.page_size), slog, warm_py),
                   True, 1),
                  ("copy", "SQL only: COPY FROM PROGRAM curl + jsonb_to_recordset",
                   lambda: run_sql("sql", "sql_only('%s', %d)" % (base, a.page_size), slog, []),
                   True, 1)]
        m.append(("fdw_c1", "callogs_fdw, next links, concurrency 1",
                  lambda: run_sql("fdw", table("links", lat, 1), slog, warm_fdw), True, 1))
        if lat != 0:
            m.append(("fdw_c2", "callogs_fdw, next links, concurrency 2",
                      lambda: run_sql("fdw", table("links", lat, 2), slog, warm_fdw), False, 2))
        m.append(("fdw_c4", "**callogs_fdw default (next links, concurrency 4)**",
                  lambda: run_sql("fdw", table("links", lat), slog, warm_fdw), False, 4))
        if lat != 0:
            m.append(("fdw_c8", "callogs_fdw, next links, concurrency 8",
                      lambda: run_sql("fdw", table("links", lat, 8), slog, warm_fdw), False, 8))
        m += [("pages_c4", "callogs_fdw default, page numbers (no links)",
               lambda: run_sql("fdw", table("pages", lat), slog, warm_fdw), False, 4),
              ("cursor_c4", "callogs_fdw default, opaque cursor links (followed one by one)",
               lambda: run_sql("fdw", table("cursors", lat), slog, warm_fdw), True, 4),
              ("count", "callogs_fdw default: SELECT count(*)",
               lambda: run_sql("count", table("links", lat), slog, warm_fdw), False, None),
              ("groups", "callogs_fdw default: SELECT call_status, count(*) ... GROUP BY 1",
               lambda: run_sql("query", GROUPS % table("links", lat), slog, warm_fdw), False, None),
              ("newest", "callogs_fdw default: newest 10 missed (ORDER BY creation_time DESC LIMIT 10)",
               lambda: run_sql("query", NEWEST % table("links", lat), slog, warm_fdw), False, None),
              ("missed", "callogs_fdw default: WHERE call_status = 'missed'",
               lambda: run_sql("fdw", table("links", lat), slog, warm_fdw,
                               " WHERE call_status = 'missed'"), False, 4)]
        return m

    results = {}
    for lat in [0] + a.delay_ms:
        ms = methods(lat)
        runs = {k: [] for k, _, _, _, _ in ms}
        maxrep = max(a.reps, a.reps_slow)
        for rep in range(maxrep):
            for key, label, fn, slow, _ in ms:
                n = a.reps_slow if (slow and lat != 0) else a.reps
                if rep >= n:
                    continue
                log("%g ms  rep %d  %s" % (lat, rep + 1, label))
                r = fn()
                if r:
                    log("   %.3f s, %s rows, %d requests" % (r["wall"], r.get("rows"), r["requests"]))
                runs[key].append(r)
        results[lat] = [(key, label, summarize(runs[key]), conc) for key, label, _, _, conc in ms]

    # correctness: the same rows from every method (0 ms, untimed)
    log("cross-check of the rows (untimed)")
    check = {}
    conn = connect()
    cur = conn.cursor()
    q = ("SELECT count(*), count(DISTINCT id), sum(extract(epoch FROM call_duration))::bigint, "
         "sum(extract(epoch FROM end_time - creation_time))::bigint, sum(bridge), "
         "count(*) FILTER (WHERE call_status = 'missed') FROM %s")
    ng_base = base_url(a.nginx_port, "d100k")
    for key, src in (("plpython", "by_hand('%s', %d)" % (ng_base, a.page_size)),
                     ("copy", "sql_only('%s', %d)" % (ng_base, a.page_size)),
                     ("fdw links", "(SELECT * FROM %s) s" % table("links", 0)),
                     ("fdw pages", "(SELECT * FROM %s) s" % table("pages", 0)),
                     ("fdw cursors", "(SELECT * FROM %s) s" % table("cursors", 0))):
        try:
            cur.execute(q % src)
            check[key] = tuple(cur.fetchone())
        except psycopg2.Error as e:
            ERRORS.append({"sql": q % src, "error": str(e).strip()})
            check[key] = None
    # the newest 10 missed calls and the counts per status, as computed locally
    try:
        cur.execute("SET enable_sort = on")
        cur.execute("ALTER FOREIGN TABLE %s OPTIONS (ADD order_column '', pushdown 'false')"
                    % table("pages", 0))
        cur.execute(NEWEST % table("pages", 0))
        check["newest"] = [tuple(x) for x in cur.fetchall()]
        cur.execute(GROUPS % table("pages", 0))
        check["groups"] = [tuple(x) for x in cur.fetchall()]
    except psycopg2.Error as e:
        ERRORS.append({"sql": "local newest/groups", "error": str(e).strip()})
    conn.close()

    # memory: 10,000 vs 1,000,000 rows, default concurrency, 0 ms
    log("memory: 10,000-row and 1,000,000-row scans (fresh connections)")
    mem = {}
    for key, tab in (("10k", "cl_10k"), ("1m", "cl_1m")):
        mem[key] = run_sql("fdw", tab, slogs[0], warm_fdw)
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    idle_pid = cur.fetchone()[0]
    cur.execute(warm_fdw[0])
    idle_hwm = vm_hwm_kb(idle_pid)
    conn.close()

    elapsed = time.time() - t_start
    busy_end = cpu_busy()
    md = report(a, results, wrk_res, mem, idle_hwm, check, summ, pgver, work_mem,
                nrows, nmissed, pages, elapsed, (busy_start, busy_end))
    print(md)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(md)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"results": {str(k): v for k, v in results.items()},
                       "wrk": wrk_res, "mem": mem, "errors": ERRORS, "check": check},
                      f, indent=1, default=str)


def fmt_s(x):
    return "%.3f" % x if x < 10 else "%.2f" % x


def ideal_s(lat, pages, conc):
    """The ideal wall time of a scan of pages at concurrency conc: ceil(pages
    / conc) round trips of the added latency (seconds)."""
    return math.ceil(pages / conc) * lat / 1000.0


def report(a, results, wrk_res, mem, idle_hwm, check, summ, pgver, work_mem,
           nrows, nmissed, pages, elapsed, busy):
    L = []
    P = L.append
    ver = lambda c: subprocess.run(c, capture_output=True, text=True, shell=True).stdout.strip()
    P("# callogs_fdw benchmark")
    P("")
    P("%s; %s cores; PostgreSQL %s (work_mem %s); %s; %s; wrk %s" % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), os.cpu_count(), pgver, work_mem,
        ver("nginx -v 2>&1 | sed 's#.*/##'"), ver("curl --version | head -1 | cut -d' ' -f1,2"),
        ver("wrk -v 2>&1 | head -1 | cut -d' ' -f2")))
    P("")
    so = ver("f=$(%s --pkglibdir)/callogs_fdw.so; "
             "echo \"$f: sha256 $(sha256sum $f | cut -c1-12), installed $(date -r $f '+%%Y-%%m-%%d %%H:%%M:%%S')\""
             % a.pg_config)
    P("callogs_fdw.so: %s." % so)
    P("")
    P("CPU busy (all processes, 1 s sample) just before the bench: %.0f%%, just after: %.0f%%." % (
        100 * busy[0], 100 * busy[1]))
    P("")
    d = summ["d100k"]
    P("Data: %d call logs, page_size %d: %d pages, %.1f MB of JSON (%d missed calls: %d pages), "
      "served three ways: with page-number `next` links (the documented shape, the main case), "
      "without links (page numbers only), and with opaque cursor links; memory check on %d and "
      "%d rows. Static pre-rendered pages: nginx at 0 ms, bench/delay_server.py (asyncio, pages "
      "in memory) at %s ms per request. No gzip anywhere. Every SQL measurement: a fresh "
      "connection, `EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM <source>` (all rows and columns "
      "built in the backend, none sent to the client). Wall = median of n runs. x ideal = wall / "
      "(ceil(pages / concurrency) x the added latency): 1.00 is every round trip fully "
      "overlapped. Requests and bytes (response bodies) are counted by the server. Peak RSS = "
      "backend VmHWM after the statement (a fresh backend with callogs_fdw loaded: %.1f MB). "
      "CPU s = the backend's user+system CPU time during the statement (for wire: curl's; for "
      "SQL only, the curl child is not included)." % (
          nrows, a.page_size, pages, d["all"]["bytes"] / 1e6, nmissed, d["missed"]["pages"],
          summ["d10k"]["all"]["rows"], summ["d1m"]["all"]["rows"],
          " and ".join("%g" % x for x in a.delay_ms), idle_hwm / 1024.0))
    P("")
    P("## The servers alone (wrk, 2 threads, %d s, cycling through the %d pages)" % (a.wrk_secs, pages))
    P("")
    P("| server | connections | requests/s | transfer/s | latency avg | latency p99 | non-2xx |")
    P("|---|---:|---:|---:|---:|---:|---:|")
    for name, w in wrk_res:
        P("| %s | %d | %s | %s | %s | %s | %d |" % (
            name, w["conns"], "%.0f" % w["rps"] if w["rps"] else "?", w["transfer"],
            w["lat_avg"], w["lat_p99"], w["non2xx"]))
    P("")
    checks = []
    for lat in [0] + a.delay_ms:
        res = dict((k, s) for k, _, s, _ in results[lat])
        wire = res.get("wire")
        P("## %g ms added latency per request" % lat)
        P("")
        P("| method | n | wall s | rows | requests | MB | peak RSS MB | CPU s | x wire | x ideal |")
        P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, label, s, conc in results[lat]:
            if s is None:
                P("| %s | 0 | ERROR | | | | | | | |" % label)
                continue
            rows = s.get("rows")
            if key == "count":
                rows_txt = "count = %s" % s.get("value")
            elif key == "groups":
                rows_txt = "%d groups" % rows
            elif rows is None:
                rows_txt = "(%d pages)" % pages
            else:
                rows_txt = "%d" % rows
            req = "%d" % s["requests"]
            if len(s["req_set"]) > 1:
                req += " (%s)" % "/".join(map(str, s["req_set"]))
            fs = s.get("fdw_stats")
            if fs and fs["requests"] != s["requests"]:
                req += " (fdw stats: %d)" % fs["requests"]
            ratio = "%.2f" % (s["wall"] / wire["wall"]) if wire else ""
            npages = d["missed"]["pages"] if key == "missed" else pages
            ideal = "%.2f" % (s["wall"] / ideal_s(lat, npages, conc)) if lat and conc else "–"
            hwm = "%.1f" % (s["hwm_kb"] / 1024.0) if s.get("hwm_kb") else "–"
            cpu = "%.2f" % s["cpu"] if s.get("cpu") is not None else ""
            P("| %s | %d | %s | %s | %s | %.2f | %s | %s | %s | %s |" % (
                label, s["n"], fmt_s(s["wall"]), rows_txt, req, s["bytes"] / 1e6, hwm, cpu,
                ratio, ideal))
        P("")
        if lat:
            P("Ideal at %g ms: %s." % (lat, ", ".join(
                "concurrency %d %s s" % (c, fmt_s(ideal_s(lat, pages, c))) for c in (1, 2, 4, 8))))
            P("")
        if wire and wire.get("connections") is not None:
            P("wire: curl opened %d TCP connection(s) for %d requests. Runs (s): %s" % (
                wire["connections"], wire["requests"],
                "; ".join("%s %s" % (k, ", ".join("%.3f" % w for w in s["walls"]))
                          for k, _, s, _ in results[lat] if s)))
            P("")
        checks.append((lat, res))

    P("## Memory (callogs_fdw default, next links, 0 ms, fresh connection each)")
    P("")
    P("| scan | rows | requests | wall s | rows/s | peak RSS MB |")
    P("|---|---:|---:|---:|---:|---:|")
    for key in ("10k", "1m"):
        m = mem.get(key)
        if m:
            P("| %s | %s | %d | %s | %.0f | %.1f |" % (key, m["rows"], m["requests"], fmt_s(m["wall"]),
                                                  (m["rows"] or 0) / m["wall"], m["hwm_kb"] / 1024.0))
        else:
            P("| %s | ERROR | | | | |" % key)
    P("")
    sums = dict((k, v) for k, v in check.items() if k not in ("newest", "groups"))
    P("Row cross-check at 0 ms (count, distinct ids, sum of durations, sum of end-creation, "
      "sum of bridge, missed): %s" % "; ".join("%s %s" % (k, v) for k, v in sums.items()))
    P("")

    # targets
    P("## Targets")
    P("")
    T = []

    def target(name, ok, detail):
        T.append(("PASS" if ok else "MISS", name, detail))

    r0 = checks[0][1]
    w = lambda r, k: r[k]["wall"] if r.get(k) else None
    for lat, r in checks[1:]:
        for key, what in (("fdw_c4", "default with next links"),
                          ("pages_c4", "default with page numbers only")):
            if w(r, key) and w(r, "wire"):
                x = w(r, "wire") / w(r, key)
                target("%g ms: %s >= 3x faster than wire" % (lat, what), x >= 3,
                       "%.2fx faster (%s s vs %s s)" % (x, fmt_s(w(r, key)), fmt_s(w(r, "wire"))))
            if w(r, key):
                x = w(r, key) / ideal_s(lat, pages, 4)
                target("%g ms: %s within 1.3x of the ideal ceil(pages/4) round trips" % (lat, what),
                       x <= 1.3, "%.2fx ideal (%s s vs %s s)" % (
                           x, fmt_s(w(r, key)), fmt_s(ideal_s(lat, pages, 4))))
    lat, r = checks[-1]
    if all(w(r, k) for k in ("fdw_c1", "fdw_c2", "fdw_c4", "fdw_c8")):
        sp = {c: w(r, "fdw_c1") / w(r, "fdw_c%d" % c) for c in (2, 4, 8)}
        ok = all(sp[c] >= 0.8 * c for c in sp)
        target("%g ms: near-linear scaling up to 8 with next links (speedup >= 0.8 x concurrency)"
               % lat, ok, "speedup vs concurrency 1: " + ", ".join(
                   "c%d %.2fx (%.0f%%)" % (c, sp[c], 100 * sp[c] / c) for c in sorted(sp)))
    if w(r0, "fdw_c4") and w(r0, "wire"):
        x = w(r0, "fdw_c4") / w(r0, "wire")
        target("0 ms: FDW default <= 1.6x wire", x <= 1.6, "%.2fx wire (%.3f s vs %.3f s)" % (
            x, w(r0, "fdw_c4"), w(r0, "wire")))
    if w(r0, "fdw_c4") and w(r0, "plpython"):
        x = w(r0, "plpython") / w(r0, "fdw_c4")
        target("0 ms: FDW default >= 2.5x faster than PL/Python", x >= 2.5, "%.1fx faster" % x)
    if mem.get("10k") and mem.get("1m"):
        dmb = (mem["1m"]["hwm_kb"] - mem["10k"]["hwm_kb"]) / 1024.0
        target("peak RSS of the 1,000,000-row scan within 32 MB of the 10,000-row scan", dmb <= 32,
               "%.1f MB vs %.1f MB: +%.1f MB" % (mem["1m"]["hwm_kb"] / 1024.0,
                                                  mem["10k"]["hwm_kb"] / 1024.0, dmb))
    for lat, r in checks:
        c = r.get("count")
        if c:
            target("%g ms: count(*) is one request" % lat, c["requests"] == 1 and c["value"] == nrows,
                   "%d request(s), count = %s" % (c["requests"], c["value"]))
        g = r.get("groups")
        if g:
            want = check.get("groups")
            target("%g ms: GROUP BY call_status is at most 3 requests, counts right" % lat,
                   g["requests"] <= 3 and g["value"] == want,
                   "%d request(s), %s (local: %s)" % (g["requests"], g["value"], want))
        n = r.get("newest")
        if n:
            want = check.get("newest")
            target("%g ms: newest 10 missed calls are one request, rows right" % lat,
                   n["requests"] == 1 and n["value"] == want,
                   "%d request(s), %d rows, %s" % (n["requests"], n["rows"],
                                                   "same as sorted locally" if n["value"] == want
                                                   else "DIFFERENT from sorted locally"))
        m = r.get("missed")
        if m:
            exp = summ["d100k"]["missed"]["pages"]
            target("%g ms: filtered scan sends call_status=missed (one request per page)" % lat,
                   m["requests"] == exp and m["rows"] == nmissed,
                   "%d requests for %d pages, %s rows (expected %d)" % (m["requests"], exp, m["rows"], nmissed))
    # the servers are not the bottleneck
    ng = wrk_res[0][1]["rps"] or 0
    best0 = max([s["requests"] / s["wall"] for k, _, s, _ in results[0]
                 if s and k in ("wire", "fdw_c1", "fdw_c4", "pages_c4")] or [0])
    target("server check: nginx requests/s >= 3x the fastest client's", ng >= 3 * best0,
           "nginx %.0f req/s (8 connections) vs fastest client %.0f req/s" % (ng, best0))
    for (name, wr), lat in zip(wrk_res[1:], a.delay_ms):
        dl = wr["rps"] or 0
        need = 8 * 1000.0 / lat
        target("server check: %s at 32 connections >= 2x what concurrency 8 needs" % name,
               dl >= 2 * need, "%.0f req/s (ideal %.0f) vs %.0f req/s needed" % (
                   dl, 32 * 1000.0 / lat, need))
    if sums and len(set(v for v in sums.values())) != 1:
        T.append(("MISS", "all methods return the same rows", str(sums)))
    else:
        T.append(("PASS", "all methods return the same rows", "checksums agree"))
    P("| result | target | measured |")
    P("|---|---|---|")
    for st, name, detail in T:
        P("| %s | %s | %s |" % (st, name, detail))
    P("")
    if ERRORS:
        P("## Errors")
        P("")
        for e in ERRORS:
            P("- `%s`: %s" % (e["sql"], e["error"].replace("\n", " ")))
        P("")
    P("Bench time: %.0f s (reps %d; sequential methods at an added latency: %d)." % (
        elapsed, a.reps, a.reps_slow))
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
