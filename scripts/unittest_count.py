#!/usr/bin/python3
"""Run one Python unittest suite verbosely and count its tests exactly.

    /usr/bin/python3 scripts/unittest_count.py test/faults_test.py [more unittest names]

Prints unittest's own verbose output, then one last line

    counts: PASSED FAILED SKIPPED

where a test skipped or failed as a whole class (an exception in
setUpClass/setUpModule) counts once per test of that class or module,
not once per class; expected failures pass, unexpected successes fail.
Exits 0 only when nothing failed and at least one test ran.  Used by
scripts/testlib.sh (cl_unittest).
"""

import os
import sys
import unittest
from unittest.suite import _ErrorHolder


def tests_of(suite):
    """Every test case in a (nested) suite."""
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from tests_of(t)
        else:
            yield t


def holder_scope(holder):
    """('class', 'mod.Class') or ('module', 'mod') of a setUp*/tearDown*
    error holder, from its description "setUpClass (mod.Class)"."""
    desc = holder.description
    kind, _, name = desc.partition(" (")
    name = name.rstrip(")")
    return ("module" if "Module" in kind else "class"), name


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    names = []
    for a in argv[1:]:
        if a.endswith(".py") and os.path.exists(a):
            sys.path.insert(0, os.path.dirname(os.path.abspath(a)))
            names.append(os.path.splitext(os.path.basename(a))[0])
        else:
            names.append(a)
    loader = unittest.TestLoader()
    try:
        suite = loader.loadTestsFromNames(names)
    except Exception as e:  # an import error is a failure, never a skip
        print("cannot load %s: %r" % (names, e))
        print("counts: 0 1 0")
        return 1
    all_tests = list(tests_of(suite))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    result = runner.run(suite)

    def size(holder):
        kind, name = holder_scope(holder)
        if kind == "module":
            n = sum(1 for t in all_tests if type(t).__module__ == name)
        else:
            n = sum(1 for t in all_tests
                    if "%s.%s" % (type(t).__module__, type(t).__qualname__) == name)
        return max(n, 1)

    failed = skipped = 0
    not_passed = 0          # of the tests in testsRun
    for t, _ in result.failures + result.errors:
        if isinstance(t, _ErrorHolder):
            # setUp* failed: its tests never ran; tearDown* failed: they ran
            failed += size(t) if t.description.startswith("setUp") else 1
        else:
            failed += 1
            not_passed += 1
    for t, _ in result.skipped:
        if isinstance(t, _ErrorHolder):
            skipped += size(t)
        else:
            skipped += 1
            not_passed += 1
    failed += len(result.unexpectedSuccesses)
    not_passed += len(result.unexpectedSuccesses)
    passed = max(0, result.testsRun - not_passed)
    if passed + failed + skipped == 0:
        print("no test was found or run: a suite that runs nothing proves nothing")
        failed = 1
    print("counts: %d %d %d" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
