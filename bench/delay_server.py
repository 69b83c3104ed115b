#!/usr/bin/python3
"""The pre-rendered pages with a fixed added latency per request.

    delay_server.py --root WWW --port P --delay-ms 50 --datasets d100k \
        --log FILE --ready-file FILE

Serves the same files as the nginx instance (same URL scheme: nginx.conf.in;
a cursor=k<N>z stands for page N) from memory, each answer after
asyncio.sleep(delay): stdlib asyncio, HTTP/1.1 keep-alive, TCP_NODELAY, one
write per response, no gzip.  The links' host @HOST@ becomes this server's
address when the files are loaded.
Appends "status body_bytes request_uri" per request to --log (the nginx
access log format the harness parses).
"""
import argparse
import asyncio
import os
import re
import signal
import socket
from urllib.parse import parse_qs, urlsplit

PATH_RE = re.compile(r"^/([a-z][0-9a-z]+)/api/v2/platform/call-logs/$")
NUM_RE = re.compile(r"^[0-9]+$")
WORD_RE = re.compile(r"^[a-z]+$")
CURSOR_RE = re.compile(r"^k([0-9]+)z$")


def load(root, datasets, host):
    files = {}
    for ds in datasets:
        base = os.path.join(root, ds)
        for dirpath, _, names in os.walk(base):
            for n in names:
                p = os.path.join(dirpath, n)
                with open(p, "rb") as f:
                    files["/" + os.path.relpath(p, root)] = f.read().replace(b"@HOST@", host)
    return files


class Server:
    def __init__(self, files, delay, log, token):
        self.files, self.delay, self.log, self.token = files, delay, log, token
        self.not_found = files.get("/_404.json", b'{"status_code": 404, "message": "Invalid page."}')
        self.unauth = b'{"status_code": 401, "message": "Invalid token."}'

    def route(self, target, headers):
        u = urlsplit(target)
        m = PATH_RE.match(u.path)
        if not m:
            return 404, self.not_found
        if headers.get("authorization") != "Token " + self.token:
            return 401, self.unauth
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        st = q.get("call_status", "all")
        page = q.get("page", "1")
        m2 = CURSOR_RE.match(q.get("cursor", ""))
        if m2:
            page = m2.group(1)
        elif "cursor" in q:
            return 404, self.not_found
        ps = q.get("page_size", "20")
        if not (WORD_RE.match(st) and NUM_RE.match(page) and NUM_RE.match(ps)):
            return 404, self.not_found
        body = self.files.get("/%s/%s/%s/%s.json" % (m.group(1), st, ps, page))
        if body is None:
            return 404, self.not_found
        return 200, body

    async def handle(self, reader, writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    return
                method, target, version = parts
                headers = {}
                for ln in lines[1:]:
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                close = (headers.get("connection", "").lower() == "close"
                         or version == "HTTP/1.0")
                status, body = self.route(target, headers)
                if self.delay > 0:
                    await asyncio.sleep(self.delay)
                reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
                out = ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nConnection: %s\r\n\r\n"
                       % (status, reason, len(body), "close" if close else "keep-alive")
                       ).encode() + (body if method != "HEAD" else b"")
                self.log.write("%d %d %s\n" % (status, len(body), target))
                writer.write(out)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, default=50)
    ap.add_argument("--datasets", default="d100k")
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready-file")
    ap.add_argument("--token", default="secret")
    a = ap.parse_args()
    files = load(a.root, a.datasets.split(","), ("127.0.0.1:%d" % a.port).encode())
    p404 = os.path.join(a.root, "_404.json")
    if os.path.exists(p404):
        with open(p404, "rb") as f:
            files["/_404.json"] = f.read()
    log = open(a.log, "a", buffering=1)
    srv = Server(files, a.delay_ms / 1000.0, log, a.token)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", a.port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    if a.ready_file:
        tmp = a.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("http://127.0.0.1:%d\n" % a.port)
        os.rename(tmp, a.ready_file)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
