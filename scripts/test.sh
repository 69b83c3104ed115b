#!/usr/bin/env bash
# Command 2 of the README: the whole test suite, on a fresh Debian 12 machine
# as root.  Exits non-zero on any failure; the last line is exactly
# "N passed, N failed, N skipped", counting tests (see scripts/testlib.sh).
#
# 1. On the assert-enabled PostgreSQL 15 (scripts/build-assert-pg.sh builds
#    it once and caches it under /var/cache/callogs_fdw; a private copy of it
#    is used, so the cache stays clean), or on the installation CL_PG_CONFIG
#    names:
#      the C unit tests of the JSON page decoder, the emulator's own tests,
#      the pg_regress suite, every Python suite in test/ (test/async_test.py
#      with its 200-iteration stress loop), two soak runs of faulted queries,
#      a short fuzzing run of the page decoder, and a check of the server
#      log (no assertion failure, corrupted memory context, crashed backend
#      or leak WARNING).
# 2. With CL_VERSIONS="15 17 18" (what .ci/run sets): pg_regress and the
#    Python suites again on Debian's packaged 15 and on 17 and 18
#    (scripts/versions.sh), each with its own server log check, the
#    versions at once (CL_VERSIONS_PARALLEL=0: one after another).
#
# Environment:
#   CL_PG_CONFIG      run part 1 on this installation instead of the assert build
#   CL_VERSIONS       majors for part 2 (default: none)
#   CL_REQUIRE_ALL=1  a test skipped for a missing tool fails instead (CI)
#   CL_SOAK_QUERIES   soak queries per seed (default 1500; all of them must run)
#   CL_SOAK_SEEDS     soak seeds, one run each (default "1 2")
#   CL_SOAK_SECONDS   soak time limit (default 300)
#   CL_FUZZ_SECONDS   fuzzing time (default 60)
#   CL_STRESS_ITERATIONS  iterations of test/async_test.py's stress loop
#                     (CL_ASYNC_STRESS_ITERATIONS; default 200 here)
#   CL_SKIP_SLOW=1    leave out soak and fuzz, and run the stress loop's
#                     default few iterations (quick local runs)
#   CL_DIFF_QUERIES   queries of test/differential_test.py (default 500)
#   CL_MUTATE=1       also run the mutation check (scripts/mutate.sh, its own
#                     server, 10-15 minutes) after part 1; every run checks
#                     that its breaks still apply to the source
set -uo pipefail
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
CL_PG_CONFIG_SET=${CL_PG_CONFIG:+1}
. "$SCRIPTS/env.sh"
. "$SCRIPTS/testlib.sh"
T0=$(date +%s)

# build output (objects, shared libraries, bitcode, archives) never belongs in git
cl_no_tracked_build_output() {
  local tracked
  git -C "$CL_REPO" rev-parse --git-dir >/dev/null 2>&1 || { echo "not a git checkout: nothing to check"; return 0; }
  tracked=$(git -C "$CL_REPO" ls-files -- '*.o' '*.so' '*.bc' '*.a')
  [ -z "$tracked" ] && return 0
  echo "build output is tracked in git (git rm --cached it; .gitignore lists it):"
  echo "$tracked"
  return 1
}
cl_check "no build output tracked in git" cl_no_tracked_build_output

cl_install_deps ${CL_EXTRA_PKGS:-} || { echo "installing the packages failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

CL_WORK=${CL_WORK:-$(mktemp -d /tmp/callogs_fdw.XXXXXX)}; export CL_WORK
chmod 755 "$CL_WORK"
RUN_DIR=$CL_WORK
trap cl_stop_all EXIT

if [ -z "${CL_PG_CONFIG_SET:-}" ]; then
  # part 1 runs on a private copy of the cached assert-enabled build
  prefix=$(bash "$SCRIPTS/build-assert-pg.sh") || { echo "building the assert-enabled PostgreSQL failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  cp -a "$prefix" "$RUN_DIR/pg-assert"
  CL_PG_CONFIG="$RUN_DIR/pg-assert/bin/pg_config"
  SERVER_NAME="assert-enabled PostgreSQL $("$CL_PG_CONFIG" --version | awk '{print $2}')"
else
  SERVER_NAME="PostgreSQL $("$CL_PG_CONFIG" --version | awk '{print $2}') ($CL_PG_CONFIG)"
fi
export CL_PG_CONFIG
cl_log "part 1 on $SERVER_NAME"

cd "$CL_REPO"
if ! cl_build_install; then
  _cl_add "build callogs_fdw -Werror ($SERVER_NAME)" 0 1 0 1
  cl_summary; exit 1
fi
cl_start_emulator || { _cl_add "start the emulator" 0 1 0 1; cl_summary; exit 1; }
# pg_cron exists for 15 (build-assert-pg.sh copies Debian's in): its test
# is never allowed to skip here
pg_cron=$(cl_has_pg_cron && echo pg_cron)
CL_PRELOAD=$pg_cron cl_start_postgres || { _cl_add "start $SERVER_NAME" 0 1 0 1; cl_summary; exit 1; }

[ -f test/unit/Makefile ] && cl_unit "unit: JSON page decoder and memory budget" make -s -C test/unit check
cl_unittest "emulator self-test" emulator/test_emulator.py
cl_regress "pg_regress" make -s installcheck PG_CONFIG="$CL_PG_CONFIG"
# the asynchronous stress loop of test/async_test.py: its full length here,
# on the assert-enabled server (a few iterations elsewhere)
if [ "${CL_SKIP_SLOW:-0}" != 1 ]; then
  export CL_ASYNC_STRESS_ITERATIONS=${CL_STRESS_ITERATIONS:-200}
fi
for t in test/*_test.py; do
  [ -f "$t" ] || continue
  cl_unittest "$(basename "$t" .py)" "$t"
done

if [ "${CL_SKIP_SLOW:-0}" != 1 ]; then
  cl_wait_ready
  for seed in ${CL_SOAK_SEEDS:-1 2}; do
    cl_check "soak, seed $seed (${CL_SOAK_QUERIES:-1500} queries, every fault kind)" \
      bash scripts/soak.sh --queries "${CL_SOAK_QUERIES:-1500}" --seconds "${CL_SOAK_SECONDS:-300}" \
        --seed "$seed"
  done
  cl_check "fuzz (${CL_FUZZ_SECONDS:-60} s)" bash scripts/fuzz.sh "${CL_FUZZ_SECONDS:-60}"
else
  set -- ${CL_SOAK_SEEDS:-1 2}
  cl_skip "soak and fuzz" $(($# + 1)) "CL_SKIP_SLOW=1"
fi

# no assertion failure, memory corruption, crash or leak in the server log
cl_check "server log of $SERVER_NAME" cl_check_server_log "$CL_WORK/postgres.log"
cl_stop_all
rm -rf "$RUN_DIR/pg-assert" "$CL_WORK/pgdata"    # the logs stay in $CL_WORK
cl_log "part 1 took $(( $(date +%s) - T0 )) s"

# the mutation check: each deliberate break must be caught by a suite
cl_check "mutation check: every break still applies" "$CL_PY" "$SCRIPTS/mutate.py" --check
[ "${CL_MUTATE:-0}" = 1 ] && cl_check "mutation check: every break caught" bash "$SCRIPTS/mutate.sh"

# part 2: the other versions
if [ -n "${CL_VERSIONS:-}" ]; then
  . "$SCRIPTS/versions.sh"
  # shellcheck disable=SC2086
  cl_versions_run "$RUN_DIR" $CL_VERSIONS
  cl_log "part 2 took $(( $(date +%s) - T0 )) s since the start"
fi

cl_log "the whole run took $(( $(date +%s) - T0 )) s"
cl_summary
