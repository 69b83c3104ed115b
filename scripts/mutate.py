#!/usr/bin/python3
"""Mutation check of callogs_fdw: deliberate small breaks that the test
suite must catch.

Each mutation below is a small edit of the current source (a regular
expression that must match exactly as often as it says, and its
replacement), with the suites expected to catch it, cheapest first.  For
each mutation this script restores the pristine source in a scratch copy,
applies the edit (a mutation that no longer applies fails the check: fix
its pattern), builds and installs the result into a private PostgreSQL,
restarts the server, and runs the mutation's suites until one fails: that
suite caught it.  A mutation that every suite survives is a hole in the
tests, and fails the check.  First of all, every suite must pass on the
pristine source (a suite that fails anyway would catch everything).

Run through scripts/mutate.sh, which prepares the scratch copy, the
private PostgreSQL, a cluster and an emulator, and exports:

    CL_MUT_SRC      the scratch copy of the repository (edited in place)
    CL_PG_CONFIG    pg_config of the private PostgreSQL
    PGDATA, PGHOST, PGPORT, PGUSER, EMU_PORT, CL_WORK, CL_PGBIN

    scripts/mutate.py [--list] [--only NAME[,NAME...]] [--all-suites]
                      [--suites SUITE[,SUITE...]]

--all-suites runs every suite of a mutation (the table then shows all that
caught it) instead of stopping at the first.  Prints the table
"mutation | caught by" (or SURVIVED) and exits 1 if any mutation survived,
did not apply, did not build, or a suite failed on the pristine source.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

SRC = os.environ.get("CL_MUT_SRC", "")
PY = "/usr/bin/python3"

# Suites, by name: how to run each (in CL_MUT_SRC, against the private
# server).  "regress:X" runs pg_regress on setup and X.
SUITE_TIMEOUT = 900


def suite_cmd(name):
    kind, _, arg = name.partition(":")
    if kind == "regress":
        return ["make", "-s", "installcheck", "PG_CONFIG=" + os.environ["CL_PG_CONFIG"],
                "REGRESS=setup " + arg.replace(",", " ")]
    if kind == "py":
        # test/x_test.py or test.x_test.Class[.method]
        target = arg if "/" in arg or arg.endswith(".py") else arg
        return [PY, "-m", "unittest", "-q", target]
    if kind == "diff":
        queries, _, seed = arg.partition("/")
        return [PY, "test/differential.py", "--queries", queries, "--seed", seed or "1",
                "--max-mismatches", "1"]
    raise ValueError("unknown suite kind: " + name)


class Mutation:
    def __init__(self, name, path, pattern, replacement, suites, count=1, why="",
                 equivalent=None):
        self.name = name
        self.path = path
        self.edits = [(pattern, replacement, count)]
        self.suites = suites
        self.why = why
        # why the break cannot change any answer today (an equivalent
        # mutant): still applied, to notice when its pattern goes, but not
        # run unless named with --only
        self.equivalent = equivalent

    def also(self, pattern, replacement, count=1):
        self.edits.append((pattern, replacement, count))
        return self


M = Mutation
MUTATIONS = [
    M("limit-stop-removed", "src/scan.c",
      r"(scan->rows_returned \+ rows_ahead\(scan\) >= scan->limit_rows)\)",
      r"\1 && false)",
      ["regress:pushdown", "py:test.proof_test"],
      why="pages are fetched ahead past the LIMIT"),
    M("rescan-replay-off", "src/callogs_fdw.c",
      r"if \(fsstate->store && node->ss\.ps\.chgParam == NULL",
      "if (false && fsstate->store && node->ss.ps.chgParam == NULL",
      ["py:test.proof_test", "regress:pushdown"],
      why="a rescan with the same parameters asks the API again"),
    M("rescan-ignores-new-parameters", "src/callogs_fdw.c",
      r"if \(fsstate->store && node->ss\.ps\.chgParam == NULL && ",
      "if (fsstate->store && ",
      ["py:test.proof_test", "regress:pushdown", "diff:300/3"],
      why="a rescan with changed parameters replays the old rows"),
    M("runtime-parameters-dropped", "src/deparse.c",
      r"(value_is_pushable\(Node \*node\)\n\{\n\s*return node != NULL &&)",
      r"\1 IsA(node, Const) &&",
      ["regress:pushdown", "py:test.clients_test"],
      why="$1, now() and other stable values are no longer sent"),
    M("concurrency-forced-to-1", "src/scan.c",
      r"scan->window = Max\(1, opts->concurrency\);",
      "scan->window = 1;",
      ["regress:pushdown,scan", "py:test.proof_test", "py:test.faults_test"],
      why="pages of a stream are fetched one after another"),
    M("mid-scan-404-ends-stream", "src/scan.c",
      r'(end_stream\(scan, st, pageno, "answered HTTP 404"\);)',
      r"\1 st->verified = true;",
      ["py:test.faults_test", "regress:scan"],
      why="a 404 after page 1 ends the stream without the count check"),
    M("date-widening-one-day-short", "src/deparse.c",
      r"return format_instant\(floor_day\(t\), fmt\);",
      "return format_instant(floor_day(t) + USECS_PER_DAY, fmt);",
      ["regress:pushdown", "diff:300/3"],
      why="date_format 'date' sends a start_date one day later"),
    M("inclusive-end-not-widened", "src/deparse.c",
      r"ceil_ms\(filter->upper_inclusive \? t \+ 1 : t\)",
      "ceil_ms(t)",
      ["regress:pushdown", "diff:300/3"],
      why="an inclusive upper bound is sent as is (lost under an exclusive end_date)"),
    M("row-offset-not-widened", "src/deparse.c",
      r"widen\(wlo, -CALLOGS_MAX_UTC_OFFSET, &r->lo\)",
      "widen(wlo, 0, &r->lo)",
      ["regress:pushdown", "diff:300/3"],
      why="timestamp/date columns: the row's own UTC offset is ignored"),
    M("session-zone-offsets-ignored", "src/deparse.c",
      r"(session_offset_range\(v, &off_lo, &off_hi\);)",
      r"\1 off_lo = off_hi = 0;",
      ["py:test.proof_test", "regress:pushdown", "diff:300/3"],
      why="timestamptz values against timestamp/date columns: the session zone is taken as UTC"),
    M("id-deduplication-off", "src/scan.c",
      r"scan->cur_repeat\[i\] = id_seen\(scan, h\);",
      "scan->cur_repeat[i] = id_seen(scan, h) && false;",
      ["py:test.faults_test", "py:test.scan_test"],
      why="rows shifted across a page boundary come twice"),
    M("page-order-swapped", "src/scan.c",
      r"req = \(CallogsRequest \*\) linitial\(st->queue\);(\n\s*if \(would_block)",
      r"req = (CallogsRequest *) llast(st->queue);\1",
      ["py:test.proof_test", "regress:pushdown,scan", "py:test.faults_test"],
      why="the pages in flight are delivered newest request first")
    .also(r"(\n\s*)st->queue = list_delete_first\(st->queue\);(\n\s*scan->cur_req = req;)",
          r"\1st->queue = list_delete_last(st->queue);\2"),
    M("count-check-off", "src/scan.c",
      r"if \(st->rows_delivered \+ shifted < st->last_count\)",
      "if (st->rows_delivered + shifted < st->last_count && false)",
      ["py:test.scan_test", "py:test.faults_test"],
      why="a stream that ends short of its count is not an error"),
    M("limit-fetch-on-removed", "src/scan.c",
      r"(\n(\s*)submit_next\(scan, st, scan->cur_stream\);)",
      r"\n\2return NULL;",
      ["py:test.proof_test", "regress:scan", "py:test.faults_test"],
      why="a LIMIT over several streams ends at the pages fetched ahead"),
    M("early-page-refetch-off", "src/scan.c",
      r"if \(root == NULL \|\| st->link_mode \|\| pageno <= 1 \|\|",
      "if (true || root == NULL || st->link_mode || pageno <= 1 ||",
      ["py:test.faults_test", "py:test.proof_test"],
      why="a page answered before new calls shifted rows into it is not asked again"),
    M("server-cap-ignored", "src/scan.c",
      r"st->capacity = Max\(1, \(int\) page->ndata\);",
      "(void) 0;",
      ["py:test.faults_test", "regress:scan", "diff:300/3"],
      why="a silently capped page_size is not detected"),
    M("cursor-links-fetched-by-number", "src/scan.c",
      r"st->link_mode = !st->page_links;",
      "st->link_mode = false;",
      ["regress:scan", "py:test.perf_test", "py:test.faults_test"],
      why="opaque next links are ignored: pages are asked by number"),
    M("page-links-not-checked", "src/scan.c",
      r"if \(callogs_url_is_page_link\(st->url, next, pageno \+ 1\)\)",
      "if (true || callogs_url_is_page_link(st->url, next, pageno + 1))",
      ["py:test.perf_test", "regress:scan"],
      why="page-number links are trusted after page 1: links that turn into cursors are not followed"),
    M("ordered-path-over-several-streams", "src/callogs_fdw.c",
      r"return callogs_filter_nstreams\(&filter\) <= 1;",
      "return true || callogs_filter_nstreams(&filter) <= 1;",
      ["regress:ordering", "py:test.proof_test", "py:test.perf_test"],
      why="an IN list's streams, read one after another, are taken as ordered"),
    M("order-check-off", "src/callogs_fdw.c",
      r"if \(fsstate->order_started && value > fsstate->order_prev\)",
      "if (fsstate->order_started && value > fsstate->order_prev && false)",
      ["py:test.scan_test", "py:test.perf_test", "regress:ordering"],
      why="rows whose order value the scan's page check cannot read (no UTC offset) "
          "are not checked as they are handed out"),
    M("page-order-checked-as-handed-out", "src/scan.c",
      r"if \(scan->order_field == NULL \|\| !row_order_value\(scan, obj, &v\)\)",
      "if (true || scan->order_field == NULL || !row_order_value(scan, obj, &v))",
      ["py:test.stream_test.WholePageOrder", "regress:ordering"],
      why="only the rows handed out are checked: a LIMIT inside a page trusts the rest"),
    M("newer-rows-beyond-growth-dropped", "src/scan.c",
      r"if \(newer > 0 && newer > growth\)\n(\s*)order_error",
      r"if (false)\n\1order_error",
      ["py:test.scan_test.PagesAgainstCount"],
      why="rows newer than those returned, more than count grew by (an API that does not "
          "sort), are dropped as new calls"),
    M("new-calls-newer-than-returned-kept", "src/scan.c",
      r"if \(newer > 0 \|\| \(copies > 0 && newer \+ copies <= growth\)\)",
      "if (false)",
      ["py:test.scan_test", "py:test.stream_test.BusyApi", "py:test.stream_test.Shifting"],
      why="an ordered scan fails on new calls a late page shows, instead of leaving them out"),
    M("copies-of-oldest-row-kept", "src/scan.c",
      r"hashset_lookup\(scan->tie_sigs, h\) != NULL\)",
      "hashset_lookup(scan->tie_sigs, h) != NULL && false)",
      ["py:test.scan_test.PagesAgainstCount", "py:test.stream_test.BusyApi"],
      why="without ids, a copy of the oldest row returned that new calls pushed onto the "
          "next page comes twice in an ordered scan"),
    M("shift-judged-against-the-page-before", "src/scan.c",
      r"if \(st->link_mode\)\n(\s*)return growth >= \(int64\) page->ndata;",
      r"if (true)\n\1return growth >= (int64) page->ndata;",
      ["py:test.stream_test.BusyApi"],
      why="under concurrency, pages of rows returned already that new calls explain are "
          "taken for an API that ignores the page number (fails most runs)"),
    M("page-number-link-to-another-page-followed", "src/scan.c",
      r"else if \(callogs_url_is_page_number_link\(st->url, next\)\)",
      "else if (false)",
      ["py:test.scan_test.LinksAgainstTheStream"],
      why="a page-number link that skips a page or changes page_size is followed: rows "
          "are lost in silence under a LIMIT"),
    M("short-middle-page-accepted", "src/scan.c",
      r"if \(by_number && page->next != NULL && \(int64\) page->ndata < st->capacity\)",
      "if (false)",
      ["py:test.scan_test.LinksAgainstTheStream", "py:test.faults_test"],
      why="a page one row short with a next link: a LIMIT lacks the row in silence"),
    M("idle-pages-not-bounded", "src/scan.c",
      r"\+\+st->idle_pages >= CALLOGS_MAX_IDLE_PAGES \+ 2 \* scan->window",
      "++st->idle_pages >= CALLOGS_MAX_PAGES",
      ["py:test.stream_test.Shifting"],
      why="pages of new calls only are read until the shift bound (hundreds of requests)"),
    M("page-past-its-count-accepted", "src/scan.c",
      r"if \(by_number && page->ndata > 0 &&",
      "if (false && by_number && page->ndata > 0 &&",
      ["py:test.stream_test.CountAgreement"],
      why="a page holding rows its own count does not explain ends the stream silently"),
    M("next-link-after-count-ignored", "src/scan.c",
      r"if \(page->next != NULL\)\n(\s*)contradiction",
      r"if (false)\n\1contradiction",
      ["py:test.stream_test.CountAgreement"],
      why="a next link on the page that reaches count is ignored: the stream stops short"),
    M("stale-pages-not-counted", "src/scan.c",
      r"if \(\+\+st->stale_pages >= CALLOGS_MAX_STALE_PAGES\)",
      "if (++st->stale_pages >= CALLOGS_MAX_PAGES)",
      ["py:test.scan_test"],
      why="pages of repeats are read for as long as count claims"),
    M("page-copies-without-ids-accepted", "src/scan.c",
      r"if \(sig != 0 && sig == st->prev_sig && !explained\)",
      "if (false && sig != 0 && sig == st->prev_sig && !explained)",
      ["py:test.scan_test"],
      why="an API without ids that ignores the page number gives copies of page 1"),
    M("shift-bound-off", "src/scan.c",
      r"if \(st->pages_read > limit\)",
      "if (false && st->pages_read > limit)",
      ["py:test.stream_test.Shifting"],
      why="new calls outrunning the scan keep it going until statement_timeout"),
    M("refetch-keeps-pages-ahead", "src/scan.c",
      r"\n\s*drop_queued\(scan, st\);\n(\s*)st->next_page = pageno \+ 1;\n\s*st->one_ahead = true;",
      r"\n\1(void) 0;",
      ["py:test.stream_test.Shifting"],
      why="a re-fetch leaves the old pages fetched ahead: every page asked for twice"),
    M("count-pushdown-not-exact", "src/deparse.c",
      r"if \(!pushed \|\| !exact\)",
      "if (!pushed || (!exact && !pushed))",
      ["regress:pushdown", "diff:300/3"],
      why="count(*) is answered by the API's count for undocumented values too"),
    M("wrong-case-value-sent", "src/deparse.c",
      r"if \(strcmp\(s, vals\[i\]\) == 0\)",
      "if (pg_strcasecmp(s, vals[i]) == 0)",
      ["regress:pushdown", "py:test.clients_test"],
      why="'Missed' is sent as call_status=missed (undocumented values must stay local)"),
    M("first-page-404-is-the-end", "src/scan.c",
      r"callogs_request_submit\(scan->fetcher, url, s, 1, false\)",
      "callogs_request_submit(scan->fetcher, url, s, 1, true)",
      ["regress:errors", "py:test.faults_test"],
      why="a 404 on page 1 (a wrong url) may read as an empty result"),
    M("token-in-log-line", "src/http.c",
      r"(initStringInfo\(&next\);\s*callogs_url_path\(req->url, &path\);)",
      r'\1 appendStringInfo(&next, " t=%s", req->fetcher->opts.token ? req->fetcher->opts.token : "");',
      ["py:test.security_test"],
      why="the request log line carries the token (outside the scrubbed path)"),
    M("secret-scrubbing-off", "src/http.c",
      r"out = scrub_one\(out, \*outlen, f->opts.token, outlen\);",
      "(void) scrub_one; (void) f;",
      ["py:test.attack_test"],
      why="the token the API echoes back reaches messages and logs"),
    M("secret-tail-off", "src/convert.c",
      r"keep = callogs_secret_tail\(buf.data, buf.len\);",
      "keep = buf.len;",
      ["py:test.attack3_test"],
      why="a token prefix left at the cut of a shortened API text reaches the message"),
    M("spilled-replay-in-per-tuple-memory", "src/callogs_fdw.c",
      r"MemoryContextSwitchTo\(fsstate->replay_slot->tts_mcxt\)",
      "MemoryContextSwitchTo(CurrentMemoryContext)",
      ["py:test.proof_test", "diff:300/3"],
      why="rows replayed past work_mem are read into memory the executor frees"),
]


def run(cmd, cwd=None, timeout=SUITE_TIMEOUT, quiet=True):
    """Run a command; returns (rc, output)."""
    try:
        p = subprocess.run(cmd, cwd=cwd, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, out + "\n(timed out after %d s)" % timeout


def apply(m):
    """Edit the scratch copy; returns None or why it does not apply."""
    path = os.path.join(SRC, m.path)
    with open(path) as f:
        text = f.read()
    for pattern, replacement, count in m.edits:
        found = len(re.findall(pattern, text))
        if (count is None and found == 0) or (count is not None and found != count):
            return "%s: pattern %r matches %d times, expected %s" % (
                m.path, pattern, found, "at least 1" if count is None else count)
        text = re.sub(pattern, replacement, text)
    with open(path, "w") as f:
        f.write(text)
    return None


def restore(pristine, m):
    shutil.copy2(os.path.join(pristine, m.path), os.path.join(SRC, m.path))
    # make sees the restored file as changed
    os.utime(os.path.join(SRC, m.path))


def build_install():
    pgc = "PG_CONFIG=" + os.environ["CL_PG_CONFIG"]
    rc, out = run(["make", "-s", pgc], cwd=SRC, timeout=600)
    if rc == 0:
        rc, out2 = run(["make", "-s", pgc, "install"], cwd=SRC, timeout=600)
        out += out2
    return rc, out


def restart_server():
    """Restart the private cluster so that every backend loads the new
    library (shared_preload_libraries included)."""
    pg_ctl = os.path.join(os.environ["CL_PGBIN"], "pg_ctl")
    rc, out = run(["runuser", "-u", "postgres", "--", pg_ctl, "-D", os.environ["PGDATA"],
                   "-w", "-m", "immediate", "-l", os.path.join(os.environ["CL_WORK"], "postgres.log"),
                   "restart"], timeout=120)
    return rc, out


def run_suite(name):
    t0 = time.time()
    rc, out = run(suite_cmd(name), cwd=SRC)
    return rc, out, time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--only", help="comma-separated mutation names")
    ap.add_argument("--all-suites", action="store_true",
                    help="run every suite of each mutation, not only up to the first that fails")
    ap.add_argument("--check", action="store_true",
                    help="only check that every mutation still applies to the source "
                    "(CL_MUT_SRC, else this checkout; nothing is built or run)")
    ap.add_argument("--suites",
                    help="comma-separated suites to run for every mutation instead of its own "
                    "(e.g. diff:500/1 to see what the differential test alone catches)")
    args = ap.parse_args(argv)
    if args.suites:
        for m in MUTATIONS:
            m.suites = args.suites.split(",")

    muts = MUTATIONS
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in {m.name for m in MUTATIONS}]
        if unknown:
            print("unknown mutation(s): %s" % ", ".join(unknown))
            return 2
        muts = [m for m in MUTATIONS if m.name in names]
    if args.list:
        for m in muts:
            print("%-36s %-18s %s%s" % (m.name, m.path, m.why,
                                        " [equivalent today: %s]" % m.equivalent
                                        if m.equivalent else ""))
        return 0
    if args.check:
        src = SRC or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        bad = 0
        for m in muts:
            with open(os.path.join(src, m.path)) as f:
                text = f.read()
            for pattern, _, count in m.edits:
                found = len(re.findall(pattern, text))
                if (count is None and found == 0) or (count is not None and found != count):
                    print("mutation %s no longer applies: %s: pattern %r matches %d times"
                          % (m.name, m.path, pattern, found))
                    bad += 1
        print("%d mutations, %d no longer apply" % (len(muts), bad))
        return 1 if bad else 0
    if not SRC or not os.path.isdir(SRC):
        print("CL_MUT_SRC must name the scratch copy (run scripts/mutate.sh)")
        return 2

    pristine = SRC + ".pristine"
    shutil.rmtree(pristine, ignore_errors=True)
    os.makedirs(os.path.join(pristine, "src"))
    for m in muts:
        os.makedirs(os.path.dirname(os.path.join(pristine, m.path)), exist_ok=True)
        shutil.copy2(os.path.join(SRC, m.path), os.path.join(pristine, m.path))

    t_start = time.time()
    failed = False
    # every mutation must apply to the current source
    for m in muts:
        why = apply(m)
        restore(pristine, m)
        if why:
            print("mutation %s no longer applies: %s" % (m.name, why))
            failed = True
    if failed:
        return 1

    # equivalent mutants run only when asked for by name
    skipped = [m for m in muts if m.equivalent and not args.only]
    muts = [m for m in muts if m not in skipped]

    # every suite must pass on the pristine source
    suites = []
    for m in muts:
        for s in m.suites:
            if s not in suites:
                suites.append(s)
    rc, out = build_install()
    if rc != 0:
        print("the pristine source does not build:\n" + out[-3000:])
        return 1
    restart_server()
    print("baseline (pristine source):", flush=True)
    times = {}
    for s in suites:
        rc, out, secs = run_suite(s)
        times[s] = secs
        print("  %-32s %s (%.0f s)" % (s, "passed" if rc == 0 else "FAILED", secs), flush=True)
        if rc != 0:
            print(out[-4000:])
            failed = True
    if failed:
        print("a suite fails on the pristine source: the mutation check cannot judge")
        return 1

    table = []
    for m in muts:
        t0 = time.time()
        why = apply(m)
        if why:
            table.append((m.name, "DID NOT APPLY: " + why, 0))
            failed = True
            continue
        rc, out = build_install()
        if rc != 0:
            restore(pristine, m)
            table.append((m.name, "DID NOT BUILD", 0))
            print(out[-3000:])
            failed = True
            continue
        restart_server()
        caught = []
        for s in m.suites:
            rc, out, secs = run_suite(s)
            if rc != 0:
                caught.append(s)
                if not args.all_suites:
                    break
        restore(pristine, m)
        secs = time.time() - t0
        table.append((m.name, ", ".join(caught) if caught else "SURVIVED", secs))
        print("%-36s %s (%.0f s)" % (m.name, table[-1][1], secs), flush=True)
        if not caught:
            failed = True

    # leave the pristine build installed
    build_install()
    restart_server()

    width = max([len(r[0]) for r in table] + [len(m.name) for m in skipped] + [8])
    print()
    print("| %-*s | %s |" % (width, "mutation", "caught by"))
    print("|%s|%s|" % ("-" * (width + 2), "-" * 40))
    for name, by, secs in table:
        print("| %-*s | %s |" % (width, name, by))
    for m in skipped:
        print("| %-*s | not run: equivalent today (%s) |" % (width, m.name, m.equivalent))
    survived = [r[0] for r in table if r[1] == "SURVIVED"]
    print()
    print("mutation check: %d mutations, %d caught, %d survived%s, in %.0f s"
          % (len(table), sum(1 for r in table if r[1] not in ("SURVIVED",) and
                             not r[1].startswith("DID NOT")),
             len(survived), (" (%s)" % ", ".join(survived)) if survived else "",
             time.time() - t_start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
