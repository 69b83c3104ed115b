"""Caching the Call Logs API in PostgreSQL (the recipes of docs/caching.md).

* A materialized view over the foreign table with a unique index on id:
  reading it sends no API request; REFRESH MATERIALIZED VIEW CONCURRENTLY
  picks up new calls; a refresh that fails (API down) raises an error and
  leaves the cached rows as they were.
* pg_cron: cron.schedule / cron.schedule_in_database put the refresh in
  cron.job (checked, then unscheduled; the job itself is not waited for,
  pg_cron 1.4 runs jobs on minute boundaries); the scheduled command text
  is run once by hand in the target database.
* Incremental refresh: a plain table call_logs_local filled once, then
  refresh_recent_calls(days) upserts only the last days.  The request log
  proves that it sent start_date (a date-bounded scan, far fewer requests
  than a full scan) and the table ends up equal to a full scan.

    /usr/bin/python3 -m unittest -q test/caching_test.py
"""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "caching_test"
PAGE_SIZE = 100
SHIFT_ROWS = 5

# column list of call_logs, for INSERT ... SELECT and ON CONFLICT
COLS = ["id", "source_number", "destination_number", "call_type", "call_status",
        "creation_time", "start_time", "end_time", "call_duration", "end_reason", "bridge"]


def setUpModule():
    recreate_database(DB)


def tearDownModule():
    drop_database(DB)


def new_calls_scenario(tag, rows, **kw):
    """A scenario whose 2nd request for page 1 first inserts SHIFT_ROWS new
    calls at the top (ids call_new...): the 1st scan sees the base data
    set, every later scan sees SHIFT_ROWS more calls."""
    return scenario(tag, rows=rows, fault="shift", fault_pages=1, fault_after=1,
                    fault_times=1, shift_rows=SHIFT_ROWS, **kw)


def log_since(tag, seq):
    return [e for e in wait_emu_quiet(tag) if e["seq"] > seq]


def last_seq(tag):
    log = wait_emu_quiet(tag)
    return log[-1]["seq"] if log else 0


class MaterializedView(FdwTestCase):
    DB = DB
    TAG = "cache_mv"
    ROWS = 1000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        emu_reset(cls.TAG)
        cls.opts = new_calls_scenario(cls.TAG, cls.ROWS)
        cls.totals = emu_totals(cls.opts)
        create_table(cls.conn, "call_logs", cls.opts,
                     server_opts={"page_size": str(PAGE_SIZE), "max_retries": "0",
                                  "timeout_ms": "5000"})
        query(cls.conn, "CREATE MATERIALIZED VIEW call_logs_cache AS SELECT * FROM call_logs")
        query(cls.conn, "CREATE UNIQUE INDEX call_logs_cache_id ON call_logs_cache (id)")
        query(cls.conn, "CREATE INDEX call_logs_cache_time ON call_logs_cache (creation_time)")

    def test_1_cache_is_local(self):
        self.assertEqual(query(self.conn, "SELECT count(*), count(DISTINCT id) FROM call_logs_cache")[0],
                         (self.ROWS, self.ROWS))
        self.assertEqual(
            dict(query(self.conn, "SELECT call_status, count(*) FROM call_logs_cache GROUP BY 1")),
            self.totals["by_status"])
        seq = last_seq(self.TAG)
        query(self.conn, "SELECT * FROM call_logs_cache WHERE call_status = 'missed' "
                         "AND creation_time > '2025-11-25' ORDER BY creation_time DESC")
        self.assertEqual(log_since(self.TAG, seq), [], "reading the cache called the API")

    def test_2_refresh_concurrently(self):
        seq = last_seq(self.TAG)
        query(self.conn, "REFRESH MATERIALIZED VIEW CONCURRENTLY call_logs_cache")
        log = log_since(self.TAG, seq)
        self.assertEqual(len(log), math.ceil((self.ROWS + SHIFT_ROWS) / PAGE_SIZE))
        self.assertTrue(all(e["status"] == 200 for e in log))
        n, nd, new = query(self.conn, "SELECT count(*), count(DISTINCT id), "
                                      "count(*) FILTER (WHERE id LIKE 'call_new%') FROM call_logs_cache")[0]
        self.assertEqual((n, nd, new), (self.ROWS + SHIFT_ROWS,) * 2 + (SHIFT_ROWS,))
        # the cache equals the API now
        self.assertEqual(
            query(self.conn, "SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM call_logs_cache c")[0],
            query(self.conn, "SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM call_logs c")[0])

    def test_3_failed_refresh_keeps_cache(self):
        before = query(self.conn, "SELECT count(*), md5(string_agg(id, ',' ORDER BY id)) FROM call_logs_cache")[0]
        down = scenario(self.TAG + "_down", rows=self.ROWS, fault="503", fault_times=0)
        good = query(self.conn, "SELECT option_value FROM pg_options_to_table("
                                "(SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'call_logs_srv')) "
                                "WHERE option_name = 'url'")[0][0]
        query(self.conn, "ALTER SERVER call_logs_srv OPTIONS (SET url %s)" % sql_literal(emu_url(down)))
        try:
            for concurrently in ("CONCURRENTLY ", ""):
                e = query_error(self.conn, "REFRESH MATERIALIZED VIEW %scall_logs_cache" % concurrently)
                self.assertIsNotNone(e, "refresh against a failing API succeeded")
                self.assertRegex(error_text(e), "503")
                self.assertEqual(query(self.conn, "SELECT count(*), md5(string_agg(id, ',' ORDER BY id)) "
                                                  "FROM call_logs_cache")[0], before)
        finally:
            query(self.conn, "ALTER SERVER call_logs_srv OPTIONS (SET url %s)" % sql_literal(good))
        self.assertEqual(query(self.conn, "SELECT count(*) FROM call_logs_cache")[0][0], before[0])


def pg_cron_ready():
    """None if pg_cron can be used in database postgres, else the reason."""
    admin = connect("postgres")
    try:
        libs = query(admin, "SHOW shared_preload_libraries")[0][0]
        if "pg_cron" not in libs:
            return "pg_cron is not in shared_preload_libraries"
        if not query(admin, "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'"):
            return "pg_cron is not installed"
        if query(admin, "SELECT current_setting('cron.database_name', true)")[0][0] != "postgres":
            return "cron.database_name is not 'postgres'"
        return None
    finally:
        admin.close()


class CronSchedule(FdwTestCase):
    """The view of this class lives in its own database, CRON_DB."""
    DB = "caching_test_cron"
    TAG = "cache_cron"
    JOB = "callogs-refresh"
    CMD = "REFRESH MATERIALIZED VIEW CONCURRENTLY call_logs_cache"

    @classmethod
    def setUpClass(cls):
        reason = pg_cron_ready()
        if reason:
            missing_tool("pg_cron", reason)
        recreate_database(cls.DB).close()
        super().setUpClass()
        emu_reset(cls.TAG)
        create_table(cls.conn, "call_logs", scenario(cls.TAG, rows=300))
        query(cls.conn, "CREATE MATERIALIZED VIEW call_logs_cache AS SELECT * FROM call_logs")
        query(cls.conn, "CREATE UNIQUE INDEX ON call_logs_cache (id)")
        cls.admin = connect("postgres")
        # left installed afterwards: DROP EXTENSION pg_cron under a running
        # launcher makes the launcher exit with an error and restart
        query(cls.admin, "CREATE EXTENSION IF NOT EXISTS pg_cron")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "admin", None) is not None:
            query(cls.admin, "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s", (cls.JOB,))
            cls.admin.close()
        super().tearDownClass()
        drop_database(cls.DB)

    def job(self):
        return query(self.admin, "SELECT jobid, schedule, command, database, username, active "
                                 "FROM cron.job WHERE jobname = %s", (self.JOB,))

    def test_schedule_in_cron_database(self):
        """cron.schedule: the job runs in cron.database_name (postgres)."""
        jobid = query(self.admin, "SELECT cron.schedule(%s, '*/5 * * * *', %s)", (self.JOB, self.CMD))[0][0]
        self.assertEqual(self.job(), [(jobid, "*/5 * * * *", self.CMD, "postgres", "postgres", True)])
        # scheduling the same name again updates the job in place
        again = query(self.admin, "SELECT cron.schedule(%s, '*/10 * * * *', %s)", (self.JOB, self.CMD))[0][0]
        self.assertEqual(again, jobid)
        self.assertEqual(self.job()[0][1], "*/10 * * * *")
        self.assertEqual(query(self.admin, "SELECT cron.unschedule(%s)", (self.JOB,))[0][0], True)
        self.assertEqual(self.job(), [])

    def test_schedule_in_other_database(self):
        """cron.schedule_in_database: the job runs where the view lives."""
        jobid = query(self.admin, "SELECT cron.schedule_in_database(%s, '*/5 * * * *', %s, %s)",
                      (self.JOB, self.CMD, self.DB))[0][0]
        self.assertEqual(self.job(), [(jobid, "*/5 * * * *", self.CMD, self.DB, "postgres", True)])
        # what the job will run works in that database, in a new session
        # like the job's
        cmd = self.job()[0][2]
        seq = last_seq(self.TAG)
        worker = connect(self.DB)
        try:
            query(worker, cmd)
        finally:
            worker.close()
        log = log_since(self.TAG, seq)
        self.assertEqual(len(log), math.ceil(300 / 100))
        self.assertEqual(query(self.admin, "SELECT cron.unschedule(%s)", (jobid,))[0][0], True)
        self.assertEqual(self.job(), [])


REFRESH_FN = """
CREATE FUNCTION refresh_recent_calls(days int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  INSERT INTO call_logs_local AS l (%(cols)s)
  SELECT %(cols)s FROM call_logs
   WHERE creation_time >= now() - make_interval(days => days)
  ON CONFLICT (id) DO UPDATE SET %(set)s, refreshed_at = now()
   WHERE (%(lcols)s) IS DISTINCT FROM (%(ecols)s);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$
""" % {"cols": ", ".join(COLS),
       "set": ", ".join("%s = EXCLUDED.%s" % (c, c) for c in COLS[1:]),
       "lcols": ", ".join("l." + c for c in COLS[1:]),
       "ecols": ", ".join("EXCLUDED." + c for c in COLS[1:])}


class IncrementalRefresh(FdwTestCase):
    DB = DB
    TAG = "cache_inc"
    ROWS = 2500      # about 13 days of calls, newest "now"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        emu_reset(cls.TAG)
        cls.opts = new_calls_scenario(cls.TAG, cls.ROWS, anchor="now")
        create_table(cls.conn, "inc_calls", cls.opts, server_opts={"page_size": str(PAGE_SIZE)})
        query(cls.conn, "CREATE SCHEMA inc")
        query(cls.conn, "CREATE VIEW inc.call_logs AS SELECT * FROM public.inc_calls")
        query(cls.conn, "SET search_path = inc, public")
        query(cls.conn, """
            CREATE TABLE call_logs_local (
              id text PRIMARY KEY, source_number text, destination_number text,
              call_type text, call_status text,
              creation_time timestamptz, start_time timestamptz, end_time timestamptz,
              call_duration interval, end_reason text, bridge integer,
              refreshed_at timestamptz NOT NULL DEFAULT now())""")
        query(cls.conn, "CREATE INDEX ON call_logs_local (creation_time)")
        query(cls.conn, REFRESH_FN)

    def test_incremental_refresh(self):
        c = self.conn
        # fill once: a full scan
        seq = last_seq(self.TAG)
        query(c, "INSERT INTO call_logs_local (%s) SELECT %s FROM call_logs" % ((", ".join(COLS),) * 2))
        full = log_since(self.TAG, seq)
        self.assertEqual(len(full), math.ceil(self.ROWS / PAGE_SIZE))
        self.assertTrue(all("start_date" not in e["query"] for e in full))
        self.assertEqual(query(c, "SELECT count(*) FROM call_logs_local")[0][0], self.ROWS)

        # refresh the last 2 days: 5 new calls arrived meanwhile
        seq = last_seq(self.TAG)
        # start_date: the UTC day of the bound minus 16 hours (a bare date
        # may be read in any zone within 16 hours of UTC)
        day_sql = ("SELECT to_char((now() - interval '2 days' - interval '16 hours') "
                   "AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        day_before = query(c, day_sql)[0][0]
        n = query(c, "SELECT refresh_recent_calls(2)")[0][0]
        day_after = query(c, day_sql)[0][0]
        inc = log_since(self.TAG, seq)
        self.assertEqual(n, SHIFT_ROWS, "rows inserted or changed by the refresh")
        self.assertTrue(inc, "the refresh sent no request")
        for e in inc:
            self.assertIn(e["query"].get("start_date"), (day_before, day_after),
                          "request without the 2-day start_date: %s" % e["path"])
            self.assertEqual(e["status"], 200)
        self.assertLess(len(inc), len(full) // 3,
                        "incremental refresh: %d requests, full scan: %d" % (len(inc), len(full)))
        recent = query(c, "SELECT count(*) FROM call_logs_local WHERE creation_time >= %s::timestamptz",
                       (inc[0]["query"]["start_date"] + "T00:00:00Z",))[0][0]
        self.assertEqual(len(inc), math.ceil(recent / PAGE_SIZE))
        self.assertEqual(query(c, "SELECT count(*), count(*) FILTER (WHERE id LIKE 'call_new%%') "
                                  "FROM call_logs_local")[0], (self.ROWS + SHIFT_ROWS, SHIFT_ROWS))

        # nothing new: the same refresh changes no row
        seq = last_seq(self.TAG)
        self.assertEqual(query(c, "SELECT refresh_recent_calls(2)")[0][0], 0)
        self.assertTrue(all("start_date" in e["query"] for e in log_since(self.TAG, seq)))

        # the function with a generic plan (plpgsql plan cache): still pushed
        query(c, "SET plan_cache_mode = force_generic_plan")
        try:
            c2 = connect(DB, options="-c plan_cache_mode=force_generic_plan -c search_path=inc,public")
            try:
                seq = last_seq(self.TAG)
                self.assertEqual(query(c2, "SELECT refresh_recent_calls(1)")[0][0], 0)
                log = log_since(self.TAG, seq)
                self.assertTrue(log and all("start_date" in e["query"] for e in log),
                                [e["path"] for e in log])
            finally:
                c2.close()
        finally:
            query(c, "RESET plan_cache_mode")

        # the local copy equals a full scan of the API
        self.assertEqual(
            query(c, "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM (SELECT %s FROM call_logs_local) t"
                  % ", ".join(COLS))[0],
            query(c, "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM (SELECT %s FROM call_logs) t"
                  % ", ".join(COLS))[0])


if __name__ == "__main__":
    unittest.main()
