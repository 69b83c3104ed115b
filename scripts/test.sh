#!/usr/bin/env bash
# Command 2 of the README: the whole test suite, on a fresh Debian 12 machine
# as root.  Installs what the tests need, builds and installs callogs_fdw,
# starts a throwaway PostgreSQL 15 and the Call Logs API emulator, then runs
#   1. the C unit tests of the JSON page decoder,
#   2. the emulator's own tests,
#   3. the pg_regress suite (sql/, expected/) via make installcheck,
#   4. the Python suites in test/ (faults, security, cancel, leaks, clients),
#   5. a soak run (random queries against randomly faulted scenarios),
#   6. a short fuzzing run of the page decoder.
# Exits non-zero on any failure; the last line is "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/env.sh"

cl_install_deps ${CL_EXTRA_PKGS:-}
cl_build_install || exit 1
trap cl_stop_all EXIT
cl_start_emulator || exit 1
CL_PRELOAD=pg_cron cl_start_postgres || exit 1

passed=0; failed=0; failures=()
run_step() {
  local name=$1; shift
  cl_log "test: $name"
  if "$@"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("$name"); fi
}

cd "$CL_REPO"
[ -f test/unit/Makefile ] && run_step "unit: JSON page decoder" make -s -C test/unit check
run_step "emulator self-test" "$CL_PY" -m unittest -q emulator/test_emulator.py
run_step "pg_regress" make -s installcheck PG_CONFIG="$CL_PG_CONFIG"
if [ -f regression.diffs ]; then head -200 regression.diffs; fi
for t in test/*_test.py; do
  [ -f "$t" ] || continue
  run_step "$(basename "$t" .py)" "$CL_PY" -m unittest -q "$t"
done
run_step "soak (${CL_SOAK_QUERIES:-1500} random faulted queries)" \
  bash scripts/soak.sh --queries "${CL_SOAK_QUERIES:-1500}" --seconds 120
[ -x scripts/fuzz.sh ] && run_step "fuzz (${CL_FUZZ_SECONDS:-60} s)" scripts/fuzz.sh "${CL_FUZZ_SECONDS:-60}"

# no backend may have died on a signal during the whole run
if grep -E "terminated by signal|was terminated by|server process .* exited with exit code [^0]" "$CL_WORK/postgres.log"; then
  failed=$((failed+1)); failures+=("postgres log shows a crashed backend")
else
  passed=$((passed+1))
fi

[ ${#failures[@]} -gt 0 ] && printf 'FAILED: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
