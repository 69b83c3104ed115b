#!/usr/bin/env bash
# scripts/versions.sh [MAJOR...]   (default: 15 17 18)
#
# Build callogs_fdw with -Werror against each PostgreSQL major version and
# run the pg_regress suite and the Python suites on a server of that
# version, each server's log checked like the assert run's.  The last line
# is "N passed, N failed, N skipped"; exits non-zero on any failure.
#
#   15  Debian 12's packaged server and headers (postgresql-15,
#       postgresql-server-dev-15), used from a private copy of their trees
#   17  Debian trixie's headers and PGXS, npm's relocatable server
#   18  Debian sid's headers and PGXS, npm's relocatable server
#       (both fetched, pinned and cached by scripts/fetch-pg.sh)
#   16  no headers are reachable here: supported, not tested (refused)
#
# Nothing is installed into a shared place: each version gets a private
# copy of its server under the run's work directory (CL_WORK), and is built
# in a copy of the source tree, so helpers and CI can run it side by side.
# pg_regress and psql are bookworm's 15 (they drive every version).  Where
# a version has no pg_cron here, the tests that need it are skipped (and
# counted and listed as skipped), even under CL_REQUIRE_ALL=1.
#
# Sourced by scripts/test.sh (CL_VERSIONS) for cl_version_run; run on its
# own it installs the packages, runs the versions given and prints the
# summary.
set -uo pipefail

CL_VERSIONS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CL_PG15_BIN=/usr/lib/postgresql/15/bin
CL_PG_REGRESS=/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress

# cl_version_prefix MAJOR DIR: a private installation of MAJOR in DIR/pg;
# prints the path of its pg_config.
cl_version_prefix() {
  local major=$1 dir=$2 cache pgver
  local p="$dir/pg"
  rm -rf "$p"; mkdir -p "$p"
  case $major in
    15)
      [ -x "$CL_PG15_BIN/postgres" ] && [ -d /usr/include/postgresql/15/server ] \
        || { echo "postgresql-15 and postgresql-server-dev-15 are not installed" >&2; return 1; }
      # Debian's build is relocatable relative to its bin directory
      mkdir -p "$p/lib/postgresql" "$p/share/postgresql" "$p/include/postgresql"
      cp -a /usr/lib/postgresql/15 "$p/lib/postgresql/" &&
        cp -a /usr/share/postgresql/15 "$p/share/postgresql/" &&
        cp -a /usr/include/postgresql/15 "$p/include/postgresql/" || return 1
      [ -d /usr/include/postgresql/internal ] && cp -a /usr/include/postgresql/internal "$p/include/postgresql/"
      echo "$p/lib/postgresql/15/bin/pg_config"
      ;;
    17|18)
      cache=$(bash "$CL_VERSIONS_SCRIPTS/fetch-pg.sh" "$major") || return 1
      cp -a "$cache/server/." "$p/" || return 1
      pgver=$("$p/bin/postgres" --version | awk '{print $NF}')
      # pg_config stand-in: Debian's headers and PGXS, this server's dirs
      cat >"$p/bin/pg_config" <<EOF
#!/bin/sh
# pg_config stand-in written by scripts/versions.sh: headers and PGXS from
# Debian's postgresql-server-dev-$major / postgresql-client-$major ($cache/dev),
# everything else from the npm server in $p.
DEV='$cache/dev/usr'
SRV='$p'
[ \$# -gt 0 ] || set -- --bindir --pkglibdir --sharedir --includedir-server --pgxs --version
for opt in "\$@"; do
  case \$opt in
    --bindir) echo "\$SRV/bin" ;;
    --libdir) echo "\$SRV/lib" ;;
    --pkglibdir) echo "\$SRV/lib/postgresql" ;;
    --sharedir) echo "\$SRV/share/postgresql" ;;
    --sysconfdir) echo "\$SRV/etc" ;;
    --docdir|--htmldir) echo "\$SRV/share/doc" ;;
    --mandir) echo "\$SRV/share/man" ;;
    --localedir) echo "\$SRV/share/locale" ;;
    --includedir|--pkgincludedir) echo "\$DEV/include/postgresql" ;;
    --includedir-server) echo "\$DEV/include/postgresql/$major/server" ;;
    --pgxs) echo "\$DEV/lib/postgresql/$major/lib/pgxs/src/makefiles/pgxs.mk" ;;
    --version) echo "PostgreSQL $pgver" ;;
    --cc) echo gcc ;;
    --configure|--cppflags|--cflags|--cflags_sl|--ldflags|--ldflags_ex|--ldflags_sl|--libs) echo ;;
    *) echo "pg_config stand-in: unsupported option \$opt" >&2; exit 1 ;;
  esac
done
EOF
      chmod 755 "$p/bin/pg_config"
      echo "$p/bin/pg_config"
      ;;
    16) echo "no PostgreSQL 16 headers are reachable here: 16 is supported, not tested" >&2; return 1 ;;
    *) echo "unsupported PostgreSQL major version $major" >&2; return 1 ;;
  esac
}

# cl_version_make_args PG_CONFIG: the make variables that make Debian's
# PGXS of a newer release work with bookworm's gcc 12: gcc rather than
# x86_64-linux-gnu-gcc, no LLVM bitcode, and only the warning flags gcc 12
# knows (18 asks for -Wmissing-variable-declarations).
cl_version_make_args() {
  local pgc=$1 mk flags=() f
  mk="$(dirname "$("$pgc" --pgxs)")/../Makefile.global"
  echo "CC=gcc"
  echo "with_llvm=no"
  for f in $(sed -n 's/^CFLAGS = //p' "$mk"); do
    if echo 'int x;' | gcc -Wall -Wformat -Werror "$f" -x c -c -o /dev/null - 2>/dev/null; then
      flags+=("$f")
    else
      cl_log "gcc $(gcc -dumpversion) does not know $f: left out"
    fi
  done
  echo "CFLAGS=${flags[*]}"
}

# cl_version_build MAJOR PG_CONFIG DIR: build with -Werror in a copy of the
# source tree (DIR/src) and install into the private installation.
cl_version_build() {
  local major=$1 pgc=$2 dir=$3 args=()
  rm -rf "$dir/src"; mkdir -p "$dir/src"
  # the working tree as it is (tracked and new files, not ignored ones)
  (cd "$CL_REPO" && git ls-files -co --exclude-standard -z |
     while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
     xargs -0 -r cp --parents -t "$dir/src") \
    || { echo "could not copy the source tree" >&2; return 1; }
  if [ "$major" != 15 ]; then
    mapfile -t args < <(cl_version_make_args "$pgc")
  fi
  cl_log "make ${args[*]}"
  make -C "$dir/src" -s -j"$(nproc)" PG_CONFIG="$pgc" "${args[@]}" >"$dir/build.log" 2>&1 &&
    make -C "$dir/src" -s PG_CONFIG="$pgc" "${args[@]}" install >>"$dir/build.log" 2>&1
  local rc=$?
  cat "$dir/build.log" >&2
  if [ $rc -eq 0 ] && grep -q 'warning:' "$dir/build.log"; then
    echo "the build printed warnings" >&2; return 1
  fi
  return $rc
}

# cl_version_run MAJOR RUN_DIR: everything for one version, counted with
# scripts/testlib.sh under names starting "PostgreSQL MAJOR: ".
cl_version_run() {
  local major=$1 dir="$2/v$1" pgc label t regress saved_allow=${CL_ALLOW_MISSING:-}
  label="PostgreSQL $major"
  local t0 saved_path=$PATH saved_pgc=${CL_PG_CONFIG:-}; t0=$(date +%s)
  mkdir -p "$dir"; chmod 755 "$dir"
  cl_log "=== $label"
  if ! pgc=$(cl_version_prefix "$major" "$dir"); then
    _cl_add "$label: install a server" 0 1 0 1
    return 1
  fi
  CL_PG_CONFIG=$pgc; export CL_PG_CONFIG
  cl_pg_paths
  label="PostgreSQL $("$CL_PGBIN/postgres" --version | awk '{print $3}')"
  if ! cl_check "$label: build with -Werror" cl_version_build "$major" "$pgc" "$dir"; then
    PATH=$saved_path CL_PG_CONFIG=$saved_pgc
    return 1
  fi
  # a cluster and an emulator of this version's own
  local saved_work=${CL_WORK:-}
  CL_WORK=$dir; export CL_WORK
  unset PGDATA PGPORT EMU_PORT
  local pg_cron=
  if cl_has_pg_cron; then pg_cron=pg_cron; else
    cl_log "$label has no pg_cron here: the tests that need it are skipped"
    export CL_ALLOW_MISSING="$saved_allow pg_cron"
  fi
  if ! cl_start_emulator || ! CL_PRELOAD=$pg_cron cl_start_postgres; then
    _cl_add "$label: start the emulator and the server" 0 1 0 1
    cl_stop_all; CL_WORK=$saved_work; CL_ALLOW_MISSING=$saved_allow
    PATH=$saved_path CL_PG_CONFIG=$saved_pgc
    return 1
  fi

  regress=$(cd "$CL_REPO" && make -s --no-print-directory PG_CONFIG="$pgc" \
              --eval='cl-print-regress: ; @echo $(REGRESS)' cl-print-regress 2>/dev/null)
  [ -n "$regress" ] || regress=$(sed -n 's/^REGRESS = //p' "$CL_REPO/Makefile")
  mkdir -p "$dir/regress"
  # shellcheck disable=SC2086
  cl_regress "$label: pg_regress" "$CL_PG_REGRESS" --inputdir="$CL_REPO" \
    --outputdir="$dir/regress" --bindir="$CL_PG15_BIN" --host="$PGHOST" --port="$PGPORT" \
    --user=postgres --load-extension=callogs_fdw --dbname=contrib_regression $regress
  # the async stress loop and the differential test run their full length
  # on the assert build only
  for t in "$CL_REPO"/test/*_test.py; do
    [ -f "$t" ] || continue
    CL_ASYNC_STRESS_ITERATIONS=${CL_VERSIONS_STRESS_ITERATIONS:-4} \
      CL_DIFF_QUERIES=${CL_VERSIONS_DIFF_QUERIES:-200} \
      cl_unittest "$label: $(basename "$t" .py)" "$t"
  done
  cl_check "server log of $label" cl_check_server_log "$CL_WORK/postgres.log"
  cl_stop_all
  # keep the logs and regression output, not the copies of server and source
  rm -rf "$dir/pg" "$dir/src" "$dir/pgdata"
  CL_ALLOW_MISSING=$saved_allow
  CL_WORK=$saved_work
  PATH=$saved_path CL_PG_CONFIG=$saved_pgc
  cl_log "$label took $(( $(date +%s) - t0 )) s"
}

# cl_versions_run RUN_DIR MAJOR...: cl_version_run for each major.  With
# CL_VERSIONS_PARALLEL=1 (the default) all at once, each in a subshell of
# its own (own server, emulator, ports and work directory RUN_DIR/vMAJOR),
# started 15 s apart; their suites mostly wait on the emulator's latency
# and timeouts, so on 2 cores three versions take about the time of one
# and a half.  Each one's log is printed whole when all are done, in the
# order given, and its counts are added to this shell's (a version whose
# subshell left no counts counts one failure).  CL_VERSIONS_PARALLEL=0:
# one after another, as before.
cl_versions_run() {
  local run=$1 v pids=() n=0
  shift
  if [ "${CL_VERSIONS_PARALLEL:-1}" != 1 ] || [ $# -le 1 ]; then
    for v in "$@"; do cl_version_run "$v" "$run"; done
    return
  fi
  # downloads first, one at a time (a cold run: one private APT state and
  # npm cache); a failure is counted by that version's own run
  for v in "$@"; do
    case $v in 17|18) bash "$CL_VERSIONS_SCRIPTS/fetch-pg.sh" "$v" >/dev/null || true ;; esac
  done
  for v in "$@"; do
    [ $n -gt 0 ] && sleep 15
    n=$((n + 1))
    rm -f "$run/v$v.counts"
    (
      exec >"$run/v$v.out" 2>&1
      CL_PASSED=0 CL_FAILED=0 CL_SKIPPED=0 CL_FAILURES=() CL_SKIPS=()
      cl_version_run "$v" "$run"
      { printf 'V_PASSED=%q V_FAILED=%q V_SKIPPED=%q\n' "$CL_PASSED" "$CL_FAILED" "$CL_SKIPPED"
        printf 'V_FAILURES=('
        [ ${#CL_FAILURES[@]} -gt 0 ] && printf '%q ' "${CL_FAILURES[@]}"
        printf ')\nV_SKIPS=('
        [ ${#CL_SKIPS[@]} -gt 0 ] && printf '%q ' "${CL_SKIPS[@]}"
        printf ')\n'
      } >"$run/v$v.counts"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  for v in "$@"; do
    cat "$run/v$v.out" >&2
    local V_PASSED=0 V_FAILED=1 V_SKIPPED=0 V_FAILURES=("PostgreSQL $v: left no counts") V_SKIPS=()
    # shellcheck disable=SC1090
    [ -f "$run/v$v.counts" ] && . "$run/v$v.counts"
    CL_PASSED=$((CL_PASSED + V_PASSED)); CL_FAILED=$((CL_FAILED + V_FAILED))
    CL_SKIPPED=$((CL_SKIPPED + V_SKIPPED))
    [ ${#V_FAILURES[@]} -gt 0 ] && CL_FAILURES+=("${V_FAILURES[@]}")
    [ ${#V_SKIPS[@]} -gt 0 ] && CL_SKIPS+=("${V_SKIPS[@]}")
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  . "$CL_VERSIONS_SCRIPTS/env.sh"
  . "$CL_VERSIONS_SCRIPTS/testlib.sh"
  cl_install_deps || { echo "installing the packages failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  RUN=$(mktemp -d /tmp/callogs_versions.XXXXXX); chmod 755 "$RUN"
  trap cl_stop_all EXIT
  T0=$(date +%s)
  # shellcheck disable=SC2046
  cl_versions_run "$RUN" $(echo "${@:-15 17 18}")
  cl_log "versions took $(( $(date +%s) - T0 )) s (work directory $RUN)"
  cl_summary
fi
