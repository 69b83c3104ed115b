#!/usr/bin/env bash
# scripts/mutate.sh [mutate.py options]: the mutation check.
#
# Applies each deliberate small break listed in scripts/mutate.py (LIMIT
# stop removed, rescan replay off, runtime parameters dropped, concurrency
# forced to 1, a mid-scan 404 ending the stream, date widening a day short,
# id de-duplication off, page order swapped, count check off, token in a
# log line, ...) to a scratch copy of this checkout, builds it, and runs the
# suites that should catch it.  Fails if any break survives (or no longer
# applies, or a suite fails on the unbroken source); prints the table
# "mutation | caught by".
#
# Self-contained: its own scratch copy of the source (the working tree,
# uncommitted edits included), its own copy of the assert-enabled
# PostgreSQL (scripts/build-assert-pg.sh, cached; CL_MUT_PG_PREFIX names
# another relocatable installation), its own cluster and emulator, all
# removed at exit.  It never installs into another PostgreSQL, so it can
# run beside scripts/test.sh.  About 10-15 minutes on 2 cores; CI runs it
# when CL_MUTATE=1 (scripts/test.sh).
#
#   bash scripts/mutate.sh                   # every mutation
#   bash scripts/mutate.sh --list
#   bash scripts/mutate.sh --only page-order-swapped,count-check-off
set -uo pipefail
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SCRIPTS/.." && pwd)

for a in "$@"; do
  case $a in
    --list|--check|-h|--help) exec /usr/bin/python3 "$SCRIPTS/mutate.py" "$@" ;;
  esac
done

MUT_WORK=$(mktemp -d /tmp/callogs_mutate.XXXXXX)
chmod 755 "$MUT_WORK"
export CL_MUT_SRC="$MUT_WORK/src"

# the scratch copy: tracked and new (not ignored) files of the working tree
mkdir -p "$CL_MUT_SRC"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$REPO" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null) \
    | tar -xf - -C "$CL_MUT_SRC" || { echo "copying the source failed"; exit 1; }
else
  cp -a "$REPO/." "$CL_MUT_SRC/" && make -s -C "$CL_MUT_SRC" clean >/dev/null 2>&1
fi

# its own PostgreSQL: a copy of a relocatable (assert-enabled) installation
prefix=${CL_MUT_PG_PREFIX:-$(bash "$SCRIPTS/build-assert-pg.sh")} \
  || { echo "no assert-enabled PostgreSQL (scripts/build-assert-pg.sh failed)"; exit 1; }
cp -a "$prefix" "$MUT_WORK/pg" || exit 1
export CL_PG_CONFIG="$MUT_WORK/pg/bin/pg_config"

# the helpers of scripts/env.sh, on the scratch copy and its own work dir
unset PGDATA PGPORT EMU_PORT
export CL_WORK="$MUT_WORK/work"
mkdir -p "$CL_WORK"
. "$CL_MUT_SRC/scripts/env.sh"
cleanup() {
  cl_stop_all
  rm -rf "$MUT_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cl_pg_paths || exit 1
cl_build_install || { echo "the unmutated source does not build"; exit 1; }
cl_start_emulator || exit 1
preload=$(type cl_has_pg_cron >/dev/null 2>&1 && cl_has_pg_cron && echo pg_cron)
CL_PRELOAD=${preload:-} cl_start_postgres || exit 1
export PGHOST PGPORT PGUSER PGDATA EMU_PORT CL_PGBIN CL_WORK

cd "$CL_MUT_SRC" || exit 1
/usr/bin/python3 "$SCRIPTS/mutate.py" "$@"
rc=$?
# a mutated build must never crash the server unnoticed either: the log is
# only informative here (mutations may well crash it), kept on failure
if [ "$rc" -ne 0 ]; then
  keep=/tmp/callogs_mutate_failed.$$.log
  cp "$CL_WORK/postgres.log" "$keep" 2>/dev/null && echo "server log kept in $keep"
fi
exit $rc
