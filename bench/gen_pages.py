#!/usr/bin/python3
"""Pre-render static Call Logs API pages for the benchmark.

    gen_pages.py OUTDIR ROWS_MAX PAGE_SIZE DATASET=ROWS[:FILTERS][/LINKS] ...

Generates ROWS_MAX deterministic call logs (newest first) once and, for each
DATASET (a name such as d100k and the first ROWS rows of the data), writes

    OUTDIR/<dataset>/<status>/<page_size>/<page>.json

with <status> = "all" or a call_status value (FILTERS, e.g.
"missed,completed,failed"), for page_size = PAGE_SIZE (every page), and
page_size = 1 and 10 (page 1 only: what count(*) and a newest-10 query ask
for).  Pages past the end do not exist, so the web server answers 404
there.  Bodies have no trailing newline.

LINKS says what the pages link to, as the documented API does with `next`
and `previous` (absolute URLs, null at the ends, before "data"):

    page    page-number links (the default): the request's parameters,
            then page=N
    cursor  opaque cursors: the parameters, then cursor=k<N>z (the web
            servers map it back to page N; nothing in it says so)
    none    no links: page numbers only

A link's host is the literal @HOST@, which the web server replaces with
the request's Host (nginx sub_filter, delay_server.py on load), so the same
files serve both servers.  Prints a JSON summary (rows per filter, pages,
bytes) on stdout.
"""
import json
import os
import random
import sys
import time

ANCHOR = 1764460800  # 2025-11-30T00:00:00Z
API = "/api/v2/platform/call-logs/"
REASONS = {"completed": ("customer-ended-call", "assistant-ended-call"),
           "missed": ("no-answer", "busy"),
           "failed": ("failed-to-connect",)}
ORG_NUMBERS = ("+918000000001", "+918000000002", "+14155550100", "+442071234567")
ROW = ('{"id": "call_%012x", "source_number": "%s", "destination_number": "%s", '
       '"call_type": "%s", "call_status": "%s", "creation_time": "%s.000Z", '
       '"start_time": "%s.000Z", "end_time": "%s.000Z", "call_duration": "%d:%02d:%02d", '
       '"end_reason": "%s", "bridge": %d}')
FIRST_PAGE_SIZES = (1, 10)


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


def link(name, status, page_size, page, links):
    """The absolute URL of page `page` of a request, as the API would link it."""
    q = ("call_status=%s&" % status if status != "all" else "") + "page_size=%d&" % page_size
    q += ("page=%d" if links == "page" else "cursor=k%dz") % page
    return "http://@HOST@/%s%s?%s" % (name, API, q)


def page_body(count, data, links, nxt, prev):
    head = '{"count": %d, "status_code": 200, "message": "Call logs fetched successfully", ' % count
    if links != "none":
        head += '"next": %s, "previous": %s, ' % (json.dumps(nxt), json.dumps(prev))
    return (head + '"data": [%s]}' % ", ".join(data)).encode()


def write_pages(out, name, status, rows, page_size, links, summary):
    dirname = os.path.join(out, name, status)
    count = len(rows)
    npages = max(1, (count + page_size - 1) // page_size)
    nbytes = 0

    def body(ps, p, last):
        nxt = link(name, status, ps, p + 1, links) if p < last else None
        prev = link(name, status, ps, p - 1, links) if p > 1 else None
        return page_body(count, rows[(p - 1) * ps:p * ps], links, nxt, prev)

    os.makedirs(os.path.join(dirname, str(page_size)), exist_ok=True)
    for p in range(1, npages + 1):
        b = body(page_size, p, npages)
        with open(os.path.join(dirname, str(page_size), "%d.json" % p), "wb") as f:
            f.write(b)
        nbytes += len(b)
    for ps in FIRST_PAGE_SIZES:
        if ps == page_size:
            continue
        os.makedirs(os.path.join(dirname, str(ps)), exist_ok=True)
        with open(os.path.join(dirname, str(ps), "1.json"), "wb") as f:
            f.write(body(ps, 1, max(1, (count + ps - 1) // ps)))
    summary.update(rows=count, pages=npages, bytes=nbytes)


def main():
    out, rows_max, page_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows, statuses = make_rows(rows_max)
    summary = {}
    for spec in sys.argv[4:]:
        spec, _, links = spec.partition("/")
        links = links or "page"
        if links not in ("page", "cursor", "none"):
            sys.exit("gen_pages.py: links must be page, cursor or none: %r" % links)
        name, _, rest = spec.partition("=")
        n, _, filters = rest.partition(":")
        n = int(n)
        sub = rows[:n]
        summary[name] = {"links": links}
        write_pages(out, name, "all", sub, page_size, links, summary[name].setdefault("all", {}))
        for st in filter(None, filters.split(",")):
            fr = [r for r, x in zip(sub, statuses[:n]) if x == st]
            write_pages(out, name, st, fr, page_size, links, summary[name].setdefault(st, {}))
    with open(os.path.join(out, "_404.json"), "wb") as f:
        f.write(b'{"status_code": 404, "message": "Invalid page."}')
    with open(os.path.join(out, "_401.json"), "wb") as f:
        f.write(b'{"status_code": 401, "message": "Invalid token."}')
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    main()
