"""The differential test (test/differential.py) as a suite of the test run.

    /usr/bin/python3 -m unittest test/differential_test.py

CL_DIFF_QUERIES (default 500) query cases with seed CL_DIFF_SEED (default
1); each is run on a pushdown table, a pushdown 'false' table and a local
copy of the emulator's rows, and every answer must agree.  A longer run on
demand: /usr/bin/python3 test/differential.py --queries 5000 --seed 7.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential  # noqa: E402

QUERIES = int(os.environ.get("CL_DIFF_QUERIES", "500"))
SEED = int(os.environ.get("CL_DIFF_SEED", "1"))


class Differential(unittest.TestCase):
    def test_pushdown_off_and_local_agree(self):
        """Every query gives the same answer with pushdown, without it and
        on a local copy; the run pushed filters, dates and count(*)."""
        rc = differential.main(["--queries", str(QUERIES), "--seed", str(SEED)])
        self.assertEqual(rc, 0, "the differential test found mismatches (reproductions above); "
                         "rerun: test/differential.py --queries %d --seed %d" % (QUERIES, SEED))


if __name__ == "__main__":
    unittest.main()
