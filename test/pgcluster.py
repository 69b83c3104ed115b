"""A throwaway PostgreSQL cluster for tests that need what the suite's
shared cluster cannot give: postmaster settings (shared_preload_libraries,
PGC_POSTMASTER parameters) or a postmaster environment (proxy variables).

Binaries come from CL_PGBIN (scripts/env.sh sets it).  As root, the cluster
runs as the user postgres, like the suite's own.

    with ThrowawayCluster(conf={"shared_preload_libraries": "'callogs_fdw'"}) as pg:
        conn = pg.connect()
"""

import os
import shutil
import socket
import subprocess
import tempfile

import psycopg2


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ThrowawayCluster:
    def __init__(self, conf=None, env=None):
        self.pgbin = os.environ.get("CL_PGBIN")
        if not self.pgbin:
            raise RuntimeError("CL_PGBIN must name the PostgreSQL binaries (scripts/env.sh sets it)")
        self.conf = conf or {}
        self.env = dict(os.environ, **(env or {}))
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.work = None
        self.port = None
        self.started = False

    def __enter__(self):
        self.work = tempfile.mkdtemp(prefix="callogs_pg_")
        os.chmod(self.work, 0o777)
        data = os.path.join(self.work, "data")
        subprocess.run(self.user + [os.path.join(self.pgbin, "initdb"), "-D", data, "-A", "trust",
                                    "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = free_port()
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"
                    % (self.port, self.work))
            for k, v in self.conf.items():
                f.write("%s = %s\n" % (k, v))
        self.log = os.path.join(self.work, "log")
        subprocess.run(self.user + [os.path.join(self.pgbin, "pg_ctl"), "-D", data, "-w", "-l",
                                    self.log, "start"],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)
        self.started = True
        return self

    def connect(self, dbname="postgres"):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname)
        conn.autocommit = True
        return conn

    def server_log(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def __exit__(self, *exc):
        if self.started:
            subprocess.run(self.user + [os.path.join(self.pgbin, "pg_ctl"), "-D",
                                        os.path.join(self.work, "data"), "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.work:
            shutil.rmtree(self.work, True)
        return False
