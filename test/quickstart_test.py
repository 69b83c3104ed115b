"""The README's first command, scripts/quickstart.sh, as a new user runs it
(--examples, with --no-install --no-build since the suite has done both):

* it starts its own emulator and cluster, whatever environment it is
  called from, and removes them when it ends;
* the demo data ends now: "the last 7 days" are not empty;
* the demo's join of call_logs with contacts shows several calls per
  contact (the emulator's customers call again and again);
* unknown arguments are refused; --help describes the flags.

    /usr/bin/python3 -m unittest -q test/quickstart_test.py
"""

import glob
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "scripts", "quickstart.sh")


def table_rows(out, header_re):
    """Rows (lists of cells) of the psql table whose header matches header_re."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.match(header_re, line.strip()):
            rows = []
            for row in lines[i + 2:]:
                if row.startswith("("):
                    return rows
                rows.append([c.strip() for c in row.split("|")])
    raise AssertionError("no table %r in:\n%s" % (header_re, out))


class Quickstart(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # the environment of a shell that runs another cluster (this
        # suite's): the quickstart must not touch it
        cls.env = dict(os.environ)
        cls.before = set(glob.glob("/tmp/callogs_quickstart.*"))
        p = subprocess.run(["bash", SCRIPT, "--no-install", "--no-build", "--examples"],
                           env=cls.env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=600)
        cls.rc, cls.out, cls.err = p.returncode, p.stdout, p.stderr

    def test_runs_and_cleans_up(self):
        self.assertEqual(self.rc, 0, self.err[-3000:])
        self.assertEqual(set(glob.glob("/tmp/callogs_quickstart.*")), self.before,
                         "throwaway directory left behind")
        m = re.search(r"PostgreSQL \S+ on 127\.0\.0\.1:(\d+)", self.err)
        self.assertIsNotNone(m, self.err)
        self.assertNotEqual(m.group(1), os.environ.get("PGPORT"), "reused the caller's cluster")
        self.assertEqual(table_rows(self.out, r"count$"), [["25000"]])

    def test_last_7_days_not_empty(self):
        rows = table_rows(self.out, r"call_status \| count$")
        self.assertEqual([r[0] for r in rows], ["completed", "failed", "missed"])
        self.assertGreater(sum(int(r[1]) for r in rows), 500)

    def test_contacts_call_several_times(self):
        top = table_rows(self.out, r"name\s+\| calls \| talk_time$")
        self.assertEqual(len(top), 5)
        self.assertTrue(all(int(r[1]) >= 5 for r in top), top)
        summary = table_rows(self.out, r"contacts \| fewest_calls \| average_calls$")
        contacts, fewest, avg = summary[0]
        self.assertEqual(contacts, "50")
        self.assertGreaterEqual(int(fewest), 2, "a contact who called once: %s" % summary)
        self.assertGreater(float(avg), 5)

    def test_flags(self):
        p = subprocess.run(["bash", SCRIPT, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        for flag in ("--examples", "--no-install", "--no-build"):
            self.assertIn(flag, p.stdout)
        p = subprocess.run(["bash", SCRIPT, "--no-such-flag"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown argument: --no-such-flag", p.stderr)


if __name__ == "__main__":
    unittest.main()
