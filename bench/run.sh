#!/usr/bin/env bash
# bench/run.sh: the callogs_fdw benchmark in one go.
#
#   CL_PG_CONFIG=/path/to/a/non-assert/pg_config bash bench/run.sh   # ~10 minutes on 2 cores
#
# Installs what it needs (Debian: nginx, wrk, postgresql-plpython3-15),
# renders static pages of 100,000 (and 10,000 / 1,000,000) call logs into a
# temp dir, with page-number next links (the documented API's shape, the
# main case), without links and with opaque cursor links, serves them with
# its own nginx (0 ms) and one bench/delay_server.py per added latency (20
# and 50 ms per request), starts a throwaway PostgreSQL 15, measures wire
# (curl), by hand (PL/Python), SQL only (COPY FROM PROGRAM) and callogs_fdw
# at several concurrencies, the newest-10 query and a GROUP BY count, and
# prints a markdown table, also written to bench/results/latest.md.
# Everything it starts is stopped on exit.
#
# The PostgreSQL measured is the one CL_PG_CONFIG names (default: Debian's
# /usr/lib/postgresql/15/bin/pg_config): the extension is rebuilt from this
# checkout and installed there, and the cluster runs from there.  On a
# shared machine, point CL_PG_CONFIG at a private copy (the installation is
# relocatable: copy /usr/lib/postgresql/15, /usr/share/postgresql/15 and
# /usr/include/postgresql under one directory, keeping their layout).  An
# assert-enabled build is refused: its CPU figures mean nothing
# (BENCH_ALLOW_CASSERT=1 overrides).
#
# The PostgreSQL measured is the one CL_PG_CONFIG names (default: Debian's
# /usr/lib/postgresql/15/bin/pg_config): the extension is rebuilt from this
# checkout and installed there, and the cluster runs from there.  On a
# shared machine, point CL_PG_CONFIG at a private copy (the installation is
# relocatable: copy /usr/lib/postgresql/15, /usr/share/postgresql/15 and
# /usr/include/postgresql under one directory, keeping their layout).  An
# assert-enabled build is refused: its CPU figures mean nothing
# (BENCH_ALLOW_CASSERT=1 overrides).
#
# Environment: BENCH_REPS (3), BENCH_REPS_SLOW (1: repetitions of the
# sequential methods at an added latency, up to ~50 s each), BENCH_DELAYS
# ("20,50": added latencies in ms, one delay_server each), BENCH_PAGE_SIZE
# (100), BENCH_WRK_SECS (5), BENCH_KEEP=1 keeps the temp dir,
# BENCH_WAIT_QUIET (180): seconds to wait, before measuring, for other
# processes to leave the CPUs idle (the report shows how busy they were).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/env.sh
source "$BENCH_DIR/../scripts/env.sh"

REPS=${BENCH_REPS:-3}
REPS_SLOW=${BENCH_REPS_SLOW:-1}
DELAYS=${BENCH_DELAYS:-20,50}
PAGE_SIZE=${BENCH_PAGE_SIZE:-100}
WRK_SECS=${BENCH_WRK_SECS:-5}

export CL_WORK
CL_WORK=$(mktemp -d /tmp/clbench.XXXX)
chmod 755 "$CL_WORK"
NGINX_PID= BENCH_PID=
DELAY_PIDS=()

bench_cleanup() {
  local rc=$?
  set +e
  [ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  for p in "${DELAY_PIDS[@]}"; do
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  cl_stop_all
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    cl_log "kept $CL_WORK"
  else
    rm -rf "$CL_WORK"
  fi
  exit $rc
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

cl_install_deps nginx wrk postgresql-plpython3-15
if "$CL_PG_CONFIG" --configure | grep -q -- --enable-cassert && [ "${BENCH_ALLOW_CASSERT:-0}" != 1 ]; then
  echo "bench: $CL_PG_CONFIG is an assert-enabled build; CPU figures would be meaningless" >&2
  echo "bench: set CL_PG_CONFIG to a production build (or BENCH_ALLOW_CASSERT=1)" >&2
  exit 2
fi
if [ ! -f "$("$CL_PG_CONFIG" --pkglibdir)/plpython3.so" ]; then
  echo "bench: $("$CL_PG_CONFIG" --pkglibdir) has no plpython3.so (copy it from postgresql-plpython3-15)" >&2
  exit 2
fi
# objects built against another PostgreSQL must not be linked in
cl_log "building callogs_fdw from $CL_REPO for $CL_PG_CONFIG"
make -C "$CL_REPO" -s PG_CONFIG="$CL_PG_CONFIG" clean >/dev/null
make -C "$CL_REPO" -s PG_CONFIG="$CL_PG_CONFIG" >/dev/null
make -C "$CL_REPO" -s PG_CONFIG="$CL_PG_CONFIG" install >/dev/null

cl_log "rendering pages into $CL_WORK/www"
"$CL_PY" "$BENCH_DIR/gen_pages.py" "$CL_WORK/www" 1000000 "$PAGE_SIZE" \
  d100k=100000:missed,completed,failed/page n100k=100000/none c100k=100000/cursor \
  d10k=10000/page d1m=1000000/page >"$CL_WORK/pages.json"

cl_log "starting nginx"
NGINX_PORT=$(cl_free_port)
mkdir -p "$CL_WORK/nginx-tmp"
sed -e "s#@WORK@#$CL_WORK#g" -e "s#@PORT@#$NGINX_PORT#g" \
  "$BENCH_DIR/nginx.conf.in" >"$CL_WORK/nginx.conf"
nginx -q -t -c "$CL_WORK/nginx.conf" -p "$CL_WORK" 2>"$CL_WORK/nginx.t" \
  || { cat "$CL_WORK/nginx.t" >&2; exit 1; }
nginx -c "$CL_WORK/nginx.conf" -p "$CL_WORK" >"$CL_WORK/nginx.out" 2>&1 &
NGINX_PID=$!

DELAY_ARGS=
for ms in ${DELAYS//,/ }; do
  cl_log "starting delay_server ($ms ms)"
  port=$(cl_free_port)
  "$CL_PY" "$BENCH_DIR/delay_server.py" --root "$CL_WORK/www" --port "$port" \
    --delay-ms "$ms" --datasets d100k,n100k,c100k --log "$CL_WORK/delay$ms.access.log" \
    --ready-file "$CL_WORK/delay$ms.ready" >"$CL_WORK/delay$ms.out" 2>&1 &
  DELAY_PIDS+=($!)
  DELAY_ARGS="${DELAY_ARGS:+$DELAY_ARGS,}$ms:$port"
done

for _ in $(seq 1 300); do
  ready=1
  for ms in ${DELAYS//,/ }; do [ -s "$CL_WORK/delay$ms.ready" ] || ready=0; done
  [ $ready = 1 ] && curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && break
  sleep 0.1
done
for ms in ${DELAYS//,/ }; do
  [ -s "$CL_WORK/delay$ms.ready" ] || { cat "$CL_WORK/delay$ms.out" >&2; exit 1; }
done
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || { cat "$CL_WORK/nginx.out" "$CL_WORK/nginx.error.log" >&2; exit 1; }

cl_start_postgres

mkdir -p "$BENCH_DIR/results"
"$CL_PY" "$BENCH_DIR/bench.py" --work "$CL_WORK" --nginx-port "$NGINX_PORT" \
  --delays "$DELAY_ARGS" --page-size "$PAGE_SIZE" \
  --summary "$CL_WORK/pages.json" --reps "$REPS" --reps-slow "$REPS_SLOW" \
  --wrk-secs "$WRK_SECS" --out "$BENCH_DIR/results/latest.md" \
  --json-out "$BENCH_DIR/results/latest.json" --wait-quiet "${BENCH_WAIT_QUIET:-180}" \
  --pg-config "$CL_PG_CONFIG" &
BENCH_PID=$!
wait "$BENCH_PID"
BENCH_PID=
cl_log "written $BENCH_DIR/results/latest.md"
