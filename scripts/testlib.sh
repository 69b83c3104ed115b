#!/usr/bin/env bash
# scripts/testlib.sh: how scripts/test.sh and scripts/versions.sh count.
#
# Source it.  It counts tests, not steps:
#   cl_unittest NAME FILE       a Python unittest suite: its own summary
#                               ("Ran N tests", "FAILED (failures=F,
#                               errors=E, skipped=S)") gives the counts
#   cl_regress NAME CMD...      pg_regress: one test per "test x ... ok"
#                               (or TAP "ok N - x") line
#   cl_unit NAME CMD...         the C unit tests: the sum of their
#                               "<word>: N passed, M failed" lines
#   cl_check NAME CMD...        a named check (a log check, the soak run,
#                               the fuzzer): one test, passed iff CMD
#                               exits 0
# A step that exits non-zero without any failure in its summary (a crash,
# no summary at all) counts one failure more; a step whose tests were all
# skipped counts them as skipped, never as passed.  cl_summary prints the
# failures and, as its very last line, "N passed, N failed, N skipped",
# and returns non-zero when anything failed.

CL_TESTLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CL_PASSED=0 CL_FAILED=0 CL_SKIPPED=0
CL_FAILURES=() CL_SKIPS=()

# each step's start (seconds), for the time its summary line shows
cl_step_log() { CL_STEP_T0=$SECONDS; printf '== %s\n' "$*" >&2; }

# _cl_add NAME PASSED FAILED SKIPPED RC: add a step's counts.
_cl_add() {
  local name=$1 p=$2 f=$3 s=$4 rc=$5
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1      # it failed, but its summary shows no failure: count one
  fi
  CL_PASSED=$((CL_PASSED + p)); CL_FAILED=$((CL_FAILED + f)); CL_SKIPPED=$((CL_SKIPPED + s))
  [ "$f" -gt 0 ] && CL_FAILURES+=("$name ($f failed)")
  [ "$s" -gt 0 ] && CL_SKIPS+=("$name ($s skipped)")
  printf '%s: %d passed, %d failed, %d skipped (%d s)\n' "$name" "$p" "$f" "$s" \
    $((SECONDS - ${CL_STEP_T0:-$SECONDS})) >&2
}

# cl_unittest NAME FILE [more unittest names]: run a Python unittest suite
# verbosely (each test's result and each skip's reason are in the log),
# counted by scripts/unittest_count.py.
cl_unittest() {
  local name=$1 out rc counts
  shift
  cl_step_log "test: $name"
  [ -n "${PGPORT:-}" ] && type cl_wait_ready >/dev/null 2>&1 && cl_wait_ready
  out=$(mktemp)
  "${CL_PY:-/usr/bin/python3}" "$CL_TESTLIB_DIR/unittest_count.py" "$@" >"$out" 2>&1
  rc=$?
  grep -v '^counts: ' "$out" >&2
  counts=$(sed -n 's/^counts: //p' "$out" | tail -1)
  [ -n "$counts" ] || counts="0 1 0"      # no count: the runner died
  rm -f "$out"
  # shellcheck disable=SC2086
  _cl_add "$name" $counts "$rc"
}

# cl_regress NAME CMD...: run pg_regress (or make installcheck) and count
# its tests; prints regression.diffs (first 300 lines) on failure.
cl_regress() {
  local name=$1 out rc p f diffs
  shift
  cl_step_log "test: $name"
  out=$(mktemp)
  "$@" >"$out" 2>&1
  rc=$?
  cat "$out" >&2
  # 15: "test x ... ok  12 ms" / "... FAILED" / "... failed (ignored)";
  # 16+: TAP "ok 1 - x" / "not ok 2 - x"
  p=$(grep -cE '^(test | +)?[A-Za-z0-9_.-]+ +\.\.\. ok|^ok [0-9]+ +- ' "$out")
  f=$(grep -cE '^(test | +)?[A-Za-z0-9_.-]+ +\.\.\. (FAILED|failed)|^not ok [0-9]+ +- ' "$out")
  diffs=$(sed -n 's/.*file "\(.*regression\.diffs\)".*/\1/p' "$out" | head -1)
  if [ "$rc" -ne 0 ] && [ -n "$diffs" ] && [ -f "$diffs" ]; then
    head -300 "$diffs" >&2
  fi
  rm -f "$out"
  _cl_add "$name" "$p" "$f" 0 "$rc"
}

# cl_unit NAME CMD...: the C unit tests, counted by their summary line.
cl_unit() {
  local name=$1 out rc p=0 f=0
  shift
  cl_step_log "test: $name"
  out=$(mktemp)
  "$@" >"$out" 2>&1
  rc=$?
  cat "$out" >&2
  # every "<word>: N passed, M failed" summary line of the programs it ran
  # (test_jsonpage prints "unit: ...", the budget measurement "budget: ...")
  read -r p f < <(awk '/^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
                       END { print p + 0, f + 0 }' "$out")
  rm -f "$out"
  _cl_add "$name" "$p" "$f" 0 "$rc"
}

# cl_check NAME CMD...: one named check.
cl_check() {
  local name=$1 rc
  shift
  cl_step_log "check: $name"
  "$@" >&2
  rc=$?
  if [ "$rc" -eq 0 ]; then _cl_add "$name" 1 0 0 0; else _cl_add "$name" 0 1 0 "$rc"; fi
}

# cl_skip NAME COUNT REASON: tests that were not run, and why (counted as
# skipped, never as passed).
cl_skip() {
  cl_step_log "skip: $1: $3"
  _cl_add "$1: $3" 0 0 "$2" 0
}

# Server log checks ----------------------------------------------------------

# What in a PostgreSQL server log is a bug of ours: an assertion failure,
# a corrupted memory context, a crashed backend, a resource leak WARNING
# (the names differ between 15 and 17+), a PANIC.
CL_LOG_BAD_RE='TRAP: |could not find block containing chunk|terminated by signal|was terminated by exception|server process .* exited with exit code [^0]|PANIC:|WARNING: +.*(leak|resource was not closed|still referenced|problem in alloc set|detected write past chunk end|unrecognized memory context)'

# cl_check_server_log LOGFILE: fails (and prints the lines) when the log
# has any of the above, or when there is no log to check.
cl_check_server_log() {
  local log=$1 bad
  if [ ! -s "$log" ]; then
    echo "no server log at $log: nothing could be checked" >&2
    return 1
  fi
  bad=$(grep -nE "$CL_LOG_BAD_RE" "$log")
  if [ -n "$bad" ]; then
    echo "$log:" >&2
    printf '%s\n' "$bad" | head -40 >&2
    return 1
  fi
  echo "$log: $(wc -l <"$log") lines, no assertion failure, crash or leak" >&2
}

# cl_summary: the failures, the skips, and the closing line.
cl_summary() {
  [ ${#CL_SKIPS[@]} -gt 0 ] && printf 'SKIPPED: %s\n' "${CL_SKIPS[@]}"
  [ ${#CL_FAILURES[@]} -gt 0 ] && printf 'FAILED: %s\n' "${CL_FAILURES[@]}"
  echo "$CL_PASSED passed, $CL_FAILED failed, $CL_SKIPPED skipped"
  [ "$CL_FAILED" -eq 0 ]
}
