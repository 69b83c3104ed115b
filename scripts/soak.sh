#!/usr/bin/env bash
# scripts/soak.sh [soak.py options]: soak test of callogs_fdw.
#
# Runs test/soak.py: N queries (default 2000, all of which must run within
# --seconds, default 170) from a few sessions against emulator scenarios
# covering every fault kind (--seed picks the random options), then checks
# the server log for crashed backends and that backend memory stayed flat.
# Exits non-zero on failure.
#
# Uses the cluster and emulator given by PGPORT / EMU_PORT (and CL_WORK for
# the server log) if set; otherwise starts its own throwaway PostgreSQL 15
# and emulator with the scripts/env.sh functions and stops them on exit.
# Does not build or install the extension.
set -uo pipefail
. "$(dirname "$0")/env.sh"
export PATH="/usr/lib/postgresql/15/bin:$PATH"

own_pg=0; own_emu=0; EMU_WORK=
cleanup() {
  if [ "$own_pg" = 1 ] && [ -f "$PGDATA/postmaster.pid" ]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ "$own_emu" = 1 ] && [ -f "$EMU_WORK/emu.pid" ]; then
    kill "$(cat "$EMU_WORK/emu.pid")" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# fresh work directories, so that nothing of another run is touched
if [ -z "${EMU_PORT:-}" ]; then
  saved_work=${CL_WORK:-}
  CL_WORK=$(mktemp -d /tmp/callogs_soak.XXXXXX); EMU_WORK=$CL_WORK
  own_emu=1; cl_start_emulator || exit 1
  CL_WORK=$saved_work
fi
if [ -z "${PGPORT:-}" ]; then
  CL_WORK=${EMU_WORK:-$(mktemp -d /tmp/callogs_soak.XXXXXX)}
  own_pg=1; cl_start_postgres || exit 1
fi
export CL_WORK
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
[ -n "${CL_WORK:-}" ] && [ -f "$CL_WORK/postgres.log" ] \
  || cl_log "warning: no \$CL_WORK/postgres.log; the server log cannot be checked"

cd "$CL_REPO"
"$CL_PY" test/soak.py "$@"
