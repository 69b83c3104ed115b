#!/usr/bin/python3
"""Pre-render static Call Logs API pages for the benchmark.

    gen_pages.py OUTDIR ROWS_MAX PAGE_SIZE DATASET=ROWS[:FILTERS] ...

Generates ROWS_MAX deterministic call logs (newest first) once and, for each
DATASET (a name such as d100k and the first ROWS rows of the data), writes

    OUTDIR/<dataset>/<status>/<page_size>/<page>.json

with <status> = "all" or a call_status value (FILTERS, e.g. "missed"), for
page_size = PAGE_SIZE (every page) and page_size = 1 (page 1 only: what
count(*) asks for).  Pages past the end do not exist, so the web server
answers 404 there.  Bodies have no trailing newline.  Prints a JSON summary
(rows per filter, pages, bytes) on stdout.
"""
import json
import os
import random
import sys
import time

ANCHOR = 1764460800  # 2025-11-30T00:00:00Z
REASONS = {"completed": ("customer-ended-call", "assistant-ended-call"),
           "missed": ("no-answer", "busy"),
           "failed": ("failed-to-connect",)}
ORG_NUMBERS = ("+918000000001", "+918000000002", "+14155550100", "+442071234567")
ROW = ('{"id": "call_%012x", "source_number": "%s", "destination_number": "%s", '
       '"call_type": "%s", "call_status": "%s", "creation_time": "%s.000Z", '
       '"start_time": "%s.000Z", "end_time": "%s.000Z", "call_duration": "%d:%02d:%02d", '
       '"end_reason": "%s", "bridge": %d}')


def ts(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


def make_rows(n, seed=42):
    rnd = random.Random(seed)
    rows, statuses = [], []
    t = ANCHOR
    for i in range(n):
        if i:
            t -= rnd.randint(1, 900)
        x = rnd.random()
        st = "completed" if x < 0.70 else ("missed" if x < 0.90 else "failed")
        inbound = rnd.random() < 0.55
        cust = "+91%010d" % rnd.randrange(10 ** 10)
        org = ORG_NUMBERS[rnd.randrange(4)]
        src, dst = (cust, org) if inbound else (org, cust)
        if st == "completed":
            ring = rnd.randint(1, 20)
            dur = rnd.randint(5, 1800)
        else:
            ring, dur = 0, 0
        start, end = t + ring, t + ring + dur
        reasons = REASONS[st]
        ident = (i * 0x9E3779B97F4A7C15 + 0x1234567) & 0xFFFFFFFFFFFF  # bijective
        rows.append(ROW % (ident, src, dst, "inbound" if inbound else "outbound", st,
                           ts(t), ts(start), ts(end), dur // 3600, dur // 60 % 60, dur % 60,
                           reasons[rnd.randrange(len(reasons))], rnd.randint(0, 1)))
        statuses.append(st)
    return rows, statuses


def page_body(count, data):
    return ('{"count": %d, "status_code": 200, "message": "Call logs fetched successfully", '
            '"data": [%s]}' % (count, ", ".join(data))).encode()


def write_pages(dirname, rows, page_size, summary):
    count = len(rows)
    os.makedirs(os.path.join(dirname, str(page_size)), exist_ok=True)
    os.makedirs(os.path.join(dirname, "1"), exist_ok=True)
    nbytes = 0
    pages = 0
    for p in range(max(1, (count + page_size - 1) // page_size)):
        body = page_body(count, rows[p * page_size:(p + 1) * page_size])
        with open(os.path.join(dirname, str(page_size), "%d.json" % (p + 1)), "wb") as f:
            f.write(body)
        nbytes += len(body)
        pages += 1
    with open(os.path.join(dirname, "1", "1.json"), "wb") as f:
        f.write(page_body(count, rows[:1]))
    summary.update(rows=count, pages=pages, bytes=nbytes)


def main():
    out, rows_max, page_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows, statuses = make_rows(rows_max)
    summary = {}
    for spec in sys.argv[4:]:
        name, _, rest = spec.partition("=")
        n, _, filters = rest.partition(":")
        n = int(n)
        sub = rows[:n]
        summary[name] = {}
        s = summary[name].setdefault("all", {})
        write_pages(os.path.join(out, name, "all"), sub, page_size, s)
        for st in filter(None, filters.split(",")):
            fr = [r for r, x in zip(sub, statuses[:n]) if x == st]
            s = summary[name].setdefault(st, {})
            write_pages(os.path.join(out, name, st), fr, page_size, s)
    with open(os.path.join(out, "_404.json"), "wb") as f:
        f.write(b'{"status_code": 404, "message": "Invalid page."}')
    with open(os.path.join(out, "_401.json"), "wb") as f:
        f.write(b'{"status_code": 401, "message": "Invalid token."}')
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    main()
