#!/usr/bin/python3
"""Soak test of callogs_fdw: random queries against randomly faulted
emulator scenarios from a few concurrent sessions.

Every fault kind of the emulator gets two tables of its own, one faulting
every request and one with random fault options (and four tables get no
fault); the sessions go round-robin over (table, query) pairs, so every
kind is exercised whatever the seed; the emulator must have injected every
kind, and all --queries must run within --seconds.

Checks that
  * every query either returns the right answer or fails with one of the
    SQLSTATEs its scenario allows (never XX000, never a lost connection);
  * the server log shows no crashed backend ("terminated by signal",
    "server process ... exited");
  * each backend's RSS stays flat after warm-up.

Prints a summary; exits 1 on any failure.  Environment as for the test
suites: PGHOST, PGPORT, PGUSER, EMU_PORT, CL_WORK (server log in
$CL_WORK/postgres.log).  Usually run through scripts/soak.sh.

    /usr/bin/python3 test/soak.py [--queries 2000] [--seconds 170] [--clients 4]
"""

import argparse
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "soak_test"
ROWS = 300

C = QUERY_CANCELED
HTTP_FAIL = {FDW_ERROR}
TRANSPORT = {FDW_ERROR, FDW_UNABLE_TO_CONNECT}
BAD_BODY = {FDW_INVALID_STRING_FORMAT}

# fault kind -> (extra scenario options, SQLSTATEs allowed when it fires)
FAULTS = {
    None: ({}, set()),
    "500json": ({}, HTTP_FAIL), "502": ({}, HTTP_FAIL), "503": ({}, HTTP_FAIL),
    "504": ({}, HTTP_FAIL), "500html": ({}, HTTP_FAIL), "500empty": ({}, HTTP_FAIL),
    "429": ({"retry_after": "0"}, HTTP_FAIL), "429date": ({"retry_after": "0"}, HTTP_FAIL),
    "429none": ({}, HTTP_FAIL),
    "400": ({}, {FDW_INVALID_ATTRIBUTE_VALUE}), "401": ({}, {INVALID_AUTH}),
    "403": ({}, {INSUFFICIENT_PRIVILEGE}), "404": ({}, {FDW_TABLE_NOT_FOUND, FDW_INVALID_STRING_FORMAT}),
    "reset": ({}, TRANSPORT), "truncate": ({}, TRANSPORT), "bad_gzip": ({}, TRANSPORT),
    "gzip_members": ({}, TRANSPORT),
    "hang_before_headers": ({"delay": "1500"}, TRANSPORT),
    "hang_after_headers": ({"delay": "1500"}, TRANSPORT),
    "slow": ({"delay": "300"}, TRANSPORT),
    "invalid_json": ({}, BAD_BODY), "not_json": ({}, BAD_BODY),
    "trailing_comma": ({}, BAD_BODY),
    # invalid UTF-8 in a value is the conversion's error, naming the column
    "bad_utf8": ({}, {"22021"}),
    "depth_bomb": ({"depth": "3000"}, BAD_BODY), "data_not_array": ({}, BAD_BODY),
    "data_missing": ({}, BAD_BODY), "count_missing": ({}, BAD_BODY),
    "count_negative": ({}, BAD_BODY), "count_string": ({}, BAD_BODY),
    "count_float": ({}, BAD_BODY), "count_huge": ({}, BAD_BODY),
    "count_value": ({"count_value": "null"}, BAD_BODY),
    "next_foreign": ({}, BAD_BODY), "next_repeat": ({}, BAD_BODY),
    "next_scheme": ({}, BAD_BODY),
    "redirect": ({}, {FDW_ERROR}), "redirect_same": ({}, {FDW_ERROR}),
    # every value replaced by the same wrong one: the pages are identical,
    # which the scan refuses as a page repeating the one before it (HV00A)
    "wrong_types": ({}, {FDW_INVALID_DATA_TYPE, "22P02", "22007", FDW_INVALID_STRING_FORMAT}),
    "nul_escape": ({}, {"22P05"}), "ts_out_of_range": ({}, {"22008", "22007"}),
    "huge_body": ({"size": "400000"}, {FDW_STRING_LENGTH}),
    "big_string": ({"size": "200000"}, set()),
    # a count 10 times the rows: the rows delivered must match the count
    # the API gave, or the scan says it cannot (never a silently short answer)
    "count_lie": ({}, BAD_BODY), "dup_keys": ({}, set()),
    "shift": ({"shift_rows": "3"}, set()),
    # rows swapped within a page: same answers, except that a query relying
    # on the API's newest-first order fails when it reads the swap (ORDERED)
    "unordered": ({}, set()),
}

# faults that change what a successful query returns (count_lie is exact:
# count(*) is answered from the API's "count", see check_result; a scan
# whose pages fall short of the "count" is an HV00A error, and a 404 after
# page 1 is one too)
INEXACT = {"shift", "dup_keys", "wrong_types"}

# queries whose plan relies on the API's newest-first order (checked as rows
# arrive: rows out of order are HV00A)
ORDERED = {"top5"}

QUERIES = [
    ("count", "SELECT count(*) FROM {t}"),
    ("distinct", "SELECT count(*), count(DISTINCT id) FROM (SELECT * FROM {t}) s"),
    ("inbound", "SELECT count(*) FROM {t} WHERE call_type = 'inbound'"),
    ("top5", "SELECT id, creation_time FROM {t} ORDER BY creation_time DESC LIMIT 5"),
    ("limit7", "SELECT * FROM {t} LIMIT 7"),
    ("status", "SELECT call_status, count(*) FROM {t} GROUP BY 1"),
]


class Table:
    pass


# Every fault kind the emulator has (emulator/callogs_emulator.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "emulator"))
from callogs_emulator import FAULT_KINDS  # noqa: E402

CLEAN_TABLES = 4


def fault_plan(rng, n):
    """(fault, always) of each of n tables: CLEAN_TABLES without a fault;
    then every emulator fault kind once with the fault on every request
    (always=True: each kind's own error or answer is seen, whatever the
    seed); then every kind again with random fault options (how often,
    which pages), in orders the seed shuffles; tables beyond that draw
    kinds at random."""
    missing = [k for k in FAULT_KINDS if k not in FAULTS]
    if missing:
        raise SystemExit("soak: no expectation for the emulator's fault kinds %s: "
                         "add them to FAULTS in test/soak.py" % ", ".join(missing))
    kinds = list(FAULT_KINDS)
    if n < CLEAN_TABLES + len(kinds):
        raise SystemExit("soak: --tables %d cannot cover the %d fault kinds (at least %d)"
                         % (n, len(kinds), CLEAN_TABLES + len(kinds)))
    plan = [(None, False)] * CLEAN_TABLES
    rng.shuffle(kinds)
    plan += [(k, True) for k in kinds]
    rng.shuffle(kinds)
    plan += [(k, False) for k in kinds]
    plan += [(rng.choice(kinds), False) for _ in range(n - len(plan))]
    return plan[:n]


def make_tables(conn, rng, n):
    tables = []
    for i, (fault, always) in enumerate(fault_plan(rng, n)):
        extra, codes = FAULTS[fault]
        tag = "soak_%d_%s" % (i, fault or "none")
        opts = dict(extra)
        if fault:
            opts["fault"] = fault
            opts["fault_times"] = "0" if always else rng.choice(["0", "1", "2", "3"])
            if not always and rng.random() < 0.3:
                opts["fault_pages"] = rng.choice(["1", "2", "2:3"])
        # next links with page numbers (the emulator's default), opaque
        # cursors, or no links at all (page numbers and count)
        links = None if always else rng.choice([None, "cursor", "0"])
        if links:
            opts["links"] = links
        if fault == "shift":
            opts["fault_times"] = "0"
        so = {"page_size": rng.choice(["50", "100"]),
              "max_retries": rng.choice(["0", "1", "2"]),
              "retry_max_wait_ms": "50", "timeout_ms": rng.choice(["800", "1000"]),
              "connect_timeout_ms": "1000",
              "concurrency": rng.choice(["1", "2", "4"])}
        if fault == "huge_body":
            so["max_response_bytes"] = "131072"
        to = {}
        if fault == "shift":
            to = {"date_column": "creation_time", "date_format": "timestamp"}
        name = "soak%d" % i
        emu_reset(tag)          # fault counters of an earlier run on this emulator
        sc = scenario(tag, rows=ROWS, **opts)
        create_table(conn, name, sc, server_opts=so, table_opts=to)
        t = Table()
        t.name, t.fault, t.codes, t.tag = name, fault, codes, tag
        totals = emu_totals(sc)
        t.count = totals["count"]
        t.inbound = totals["by_type"].get("inbound", 0)
        tables.append(t)
    return tables


def check_result(t, kind, rows):
    """None if rows is a right answer for table t, else a description."""
    exact = t.fault not in INEXACT
    # count(*) with every condition pushed is answered from the API's
    # "count" (README, Limitations), which count_lie reports 10 times too
    # high on the pages and times it fires
    lies = (1, 10) if t.fault == "count_lie" else (1,)
    if kind == "count":
        n = rows[0][0]
        ok = n in [t.count * k for k in lies] if exact else n >= t.count
    elif kind == "distinct":
        n, nd = rows[0]
        if t.fault == "wrong_types":
            # only id is converted: a JSON number is valid text ("12345")
            ok = n == t.count and nd <= n
        else:
            ok = (n == nd == t.count) if exact else (n == nd and n >= t.count)
    elif kind == "inbound":
        ok = rows[0][0] in [t.inbound * k for k in lies] if exact else True
    elif kind == "top5":
        ok = len(rows) == 5
    elif kind == "limit7":
        ok = len(rows) == 7
    elif kind == "status":
        # one "count" per status: each 10 times the rows under count_lie
        ok = sum(r[1] for r in rows) in [t.count * k for k in lies] if exact else True
    else:
        ok = False
    return None if ok else "wrong result %r" % (rows[:3],)


class Worker(threading.Thread):

    def __init__(self, wid, args, tables, quota, deadline):
        super().__init__(daemon=True)
        self.wid = wid
        self.args = args
        self.tables = tables
        self.quota = quota
        self.deadline = deadline
        self.rng = random.Random(args.seed * 1000 + wid)
        self.done = 0
        self.ok = 0
        self.kinds = set()      # fault kinds this worker queried
        self.codes = {}
        self.failures = []
        self.rss = []
        self.pid = None

    def record_fail(self, what):
        if len(self.failures) < 50:
            self.failures.append(what)
        else:
            self.failures.append("...")

    def run(self):
        try:
            self.conn = connect(DB)
            self.pid = backend_pid(self.conn)
        except psycopg2.Error as e:
            self.record_fail("worker %d cannot connect: %s" % (self.wid, e))
            return
        warm = max(10, self.quota // 10)
        cur = self.conn.cursor()
        while self.done < self.quota and time.time() < self.deadline:
            if self.done == warm:
                self.rss.append(backend_rss_kb(self.pid))
            # round-robin over (table, query) pairs across the sessions, so
            # that every fault kind meets every query; the scenario options,
            # cancels and timing are what is random
            g = self.done * self.args.clients + self.wid
            ti = g % len(self.tables)
            t = self.tables[ti]
            self.kinds.add(t.fault)
            kind, sql = QUERIES[(g // len(self.tables) + ti) % len(QUERIES)]
            sql = sql.format(t=t.name)
            cancel = self.rng.random() < 0.07
            self.done += 1
            try:
                if cancel:
                    cur.execute("SET statement_timeout = %d" % self.rng.choice([20, 60, 150]))
                try:
                    cur.execute(sql)
                    rows = cur.fetchall()
                finally:
                    if cancel and not self.conn.closed:
                        try:
                            cur.execute("RESET statement_timeout")
                        except psycopg2.Error as e:
                            self.record_fail("RESET failed: %s" % e)
                bad = check_result(t, kind, rows)
                if bad:
                    self.record_fail("%s [fault %s]: %s" % (sql, t.fault, bad))
                else:
                    self.ok += 1
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                if self.conn.closed or e.pgcode is None:
                    self.record_fail("%s [fault %s]: connection lost: %s" % (sql, t.fault, e))
                    return
                self.classify(e, t, kind, sql, cancel)
            except psycopg2.Error as e:
                self.classify(e, t, kind, sql, cancel)
        try:
            self.rss.append(backend_rss_kb(self.pid))
            # the session still answers correctly
            clean = self.tables[0]
            n = query(self.conn, "SELECT count(*) FROM %s" % clean.name)[0][0]
            if n != clean.count:
                self.record_fail("final query: %d rows, expected %d" % (n, clean.count))
            self.conn.close()
        except (psycopg2.Error, OSError) as e:
            self.record_fail("final check: %s" % e)

    def classify(self, e, t, kind, sql, cancel):
        code = e.pgcode
        self.codes[code] = self.codes.get(code, 0) + 1
        allowed = set(t.codes)
        if cancel:
            allowed.add(QUERY_CANCELED)
        if t.fault == "unordered" and kind in ORDERED:
            allowed |= BAD_BODY
        if code not in allowed:
            self.record_fail("%s [fault %s%s]: unexpected SQLSTATE %s: %s"
                             % (sql, t.fault, ", cancel" if cancel else "", code,
                                (e.diag.message_primary or str(e)).strip()[:300]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=int(os.environ.get("SOAK_QUERIES", 2000)))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 170)))
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--tables", type=int, default=CLEAN_TABLES + 2 * len(FAULT_KINDS))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", 1)))
    ap.add_argument("--max-rss-growth-kb", type=int, default=16 * 1024)
    args = ap.parse_args()

    t0 = time.time()
    logpos = server_log_size()
    rng = random.Random(args.seed)
    conn = recreate_database(DB)
    tables = make_tables(conn, rng, args.tables)
    conn.close()

    deadline = time.time() + args.seconds
    per = [args.queries // args.clients + (1 if i < args.queries % args.clients else 0)
           for i in range(args.clients)]
    workers = [Worker(i, args, tables, per[i], deadline) for i in range(args.clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(args.seconds + 120)

    kinds_run = set()
    for w in workers:
        kinds_run |= w.kinds
    failures = []
    for w in workers:
        if w.is_alive():
            failures.append("worker %d did not finish" % w.wid)
        failures.extend("worker %d: %s" % (w.wid, f) for f in w.failures)
        if len(w.rss) == 2 and w.rss[1] - w.rss[0] > args.max_rss_growth_kb:
            failures.append("worker %d: backend %s RSS grew %d kB -> %d kB"
                            % (w.wid, w.pid, w.rss[0], w.rss[1]))

    log = server_log_since(logpos)
    crashes = [line for line in log.splitlines()
               if CRASH_RE.search(line) or "PANIC" in line or "server process" in line]
    if not server_log_path():
        print("warning: CL_WORK not set, the server log was not checked")
    failures.extend("server log: " + c for c in crashes[:20])

    done = sum(w.done for w in workers)
    ok = sum(w.ok for w in workers)
    codes = {}
    for w in workers:
        for k, v in w.codes.items():
            codes[k] = codes.get(k, 0) + v
    print("soak: %d queries (%d ok, %d errors) from %d sessions over %d tables in %.1f s"
          % (done, ok, sum(codes.values()), args.clients, len(tables), time.time() - t0))
    print("soak: errors by SQLSTATE: %s" % ", ".join("%s=%d" % kv for kv in sorted(codes.items())))
    print("soak: %d of the emulator's %d fault kinds queried"
          % (len(set(FAULT_KINDS) & kinds_run), len(FAULT_KINDS)))
    for w in workers:
        if len(w.rss) == 2:
            print("soak: backend %s RSS %d kB -> %d kB (%+d kB)"
                  % (w.pid, w.rss[0], w.rss[1], w.rss[1] - w.rss[0]))
    if done < args.queries:
        failures.append("only %d of %d queries ran in %.0f s: raise --seconds or lower --queries"
                        % (done, args.queries, args.seconds))
    not_run = [k for k in FAULT_KINDS if k not in kinds_run]
    if not_run:
        failures.append("no query ran against the fault kinds %s" % ", ".join(not_run))
    # and the emulator really injected each kind (its options allow it to)
    fired = set()
    for t in tables:
        if t.fault and emu_state(t.tag).get("fault_fired", 0) > 0:
            fired.add(t.fault)
    print("soak: %d of the emulator's %d fault kinds fired" % (len(fired), len(FAULT_KINDS)))
    never = [k for k in FAULT_KINDS if k not in fired]
    if never:
        failures.append("the emulator never injected the fault kinds %s (their scenario "
                        "options never let them fire)" % ", ".join(never))
    try:
        drop_database(DB)
    except Exception:
        pass
    if failures:
        print("soak: FAILED (%d problems)" % len(failures))
        for f in failures[:100]:
            print("  - " + f)
        return 1
    print("soak: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
