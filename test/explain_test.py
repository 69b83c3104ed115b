"""EXPLAIN ANALYZE VERBOSE against the emulator's request log (issue 13
attack, finding 9).

    /usr/bin/python3 -m unittest test/explain_test.py

"API Paging" counts the pages after the first that the scan read, by how
they were asked for; it never counts a page that was never sent.  Each
count is compared with the requests the emulator logged.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "explain_test"
TAG = "explt"
ANCHOR = "2025-11-30T00:00:00Z"


def setUpModule():
    recreate_database(DB).close()


def tearDownModule():
    drop_database(DB)


def explain(conn, sql):
    """EXPLAIN (ANALYZE, VERBOSE) of sql: its lines, stripped."""
    rows = query(conn, "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
    return [r[0].strip() for r in rows]


def prop(lines, name):
    found = [l.split(": ", 1)[1] for l in lines if l.startswith(name + ": ")]
    return found[0] if found else None


def paging_pages(text):
    """(pages by number, pages by link) of an API Paging text."""
    if text == "first pages only":
        return 0, 0
    num = re.search(r"(\d+) pages by number", text)
    link = re.search(r"(\d+) (?:pages )?by link", text)
    return int(num.group(1)) if num else 0, int(link.group(1)) if link else 0


class ApiPaging(FdwTestCase):
    DB = DB

    def check(self, sql, tag):
        emu_reset(tag)
        lines = explain(self.conn, sql)
        log = wait_emu_quiet(tag)
        requests = int(prop(lines, "API Requests"))
        paging = prop(lines, "API Paging")
        self.assertIsNotNone(paging, lines)
        by_number, by_link = paging_pages(paging)
        self.assertEqual(requests, len(log), lines)
        self.assertGreater(len(log), 0)
        # page 1 plus the pages counted: each was requested (and logged)
        self.assertLessEqual(1 + by_number + by_link, len(log),
                             "API Paging counts pages never requested: %s, %d requests logged"
                             % (paging, len(log)))
        return lines, log, paging

    def test_limit_with_local_filter(self):
        """The tester's case: LIMIT 5 under a local filter needs page 1
        only; pages 2-4 were queued (the fetch is sized for 1000 rows) but
        never sent.  API Paging said "3 pages by number, 1 links checked"
        next to "API Requests: 1".

        Expected to fail until src/scan.c counts pages as they are read
        (take_page) instead of as they are queued (submit_next,
        fetched_too_early): see the report of helper fix3.  Remove this
        decorator with that change."""
        create_table(self.conn, "ex", scenario(TAG, rows=5000, anchor=ANCHOR))
        lines, log, paging = self.check(
            "SELECT id FROM ex WHERE source_number LIKE '+%' LIMIT 5", TAG)
        self.assertEqual(len(log), 1, lines)
        self.assertEqual(paging, "first pages only")

    def test_whole_table(self):
        """Every page is read: 1 + pages by number = requests."""
        create_table(self.conn, "exw", scenario(TAG + "w", rows=750, anchor=ANCHOR))
        lines, log, paging = self.check("SELECT id FROM exw", TAG + "w")
        self.assertEqual(len(log), 8)
        self.assertEqual(paging, "page numbers, concurrently: next links are page numbers "
                                 "(7 pages by number, 7 links checked)")


if __name__ == "__main__":
    unittest.main()
