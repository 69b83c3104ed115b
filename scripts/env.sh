#!/usr/bin/env bash
# scripts/env.sh: shared helpers of quickstart.sh and test.sh.
# Installs the Debian packages the project needs, builds and installs the
# extension, and starts a throwaway PostgreSQL 15 cluster (as the
# unprivileged user "postgres") and the Call Logs API emulator, each on a
# free port.  Source it; call cl_stop_all on exit.

CL_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CL_PY=/usr/bin/python3
# The PostgreSQL installation to build against and run: Debian's 15 by
# default; CL_PG_CONFIG names another (an assert-enabled build, another
# version, a private copy per developer).
CL_PG_CONFIG=${CL_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CL_PKGS="postgresql-15 postgresql-server-dev-15 postgresql-plpython3-15
  libcurl4-openssl-dev libjson-c-dev pkg-config make gcc clang-14 curl default-jre-headless
  python3 python3-psycopg2 libipc-run-perl libclang-rt-14-dev
  postgresql-15-cron libpostgresql-jdbc-java"

cl_log() { printf '== %s\n' "$*" >&2; }

# Install missing Debian packages (needs root).
cl_install_deps() {
  local missing=() p
  for p in $CL_PKGS "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    cl_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  cl_pg_paths
}

# PATH and CL_PGBIN for the installation CL_PG_CONFIG names.
cl_pg_paths() {
  CL_PGBIN=$("$CL_PG_CONFIG" --bindir) || return 1
  export CL_PG_CONFIG CL_PGBIN
  export PATH="$CL_PGBIN:$PATH"
}

# Build (from clean: objects of another installation's headers must not be
# reused) with -Werror, and install into the installation CL_PG_CONFIG names.
cl_build_install() {
  cl_log "building callogs_fdw against $("$CL_PG_CONFIG" --version) ($CL_PG_CONFIG)"
  cl_pg_paths || return 1
  make -C "$CL_REPO" -s PG_CONFIG="$CL_PG_CONFIG" clean >/dev/null 2>&1
  make -C "$CL_REPO" -s -j"$(nproc)" PG_CONFIG="$CL_PG_CONFIG" >/dev/null || return 1
  make -C "$CL_REPO" -s PG_CONFIG="$CL_PG_CONFIG" install >/dev/null
}

# Whether the installation CL_PG_CONFIG names has pg_cron.
cl_has_pg_cron() {
  [ -f "$("$CL_PG_CONFIG" --pkglibdir)/pg_cron.so" ] &&
    [ -f "$("$CL_PG_CONFIG" --sharedir)/extension/pg_cron.control" ]
}

cl_free_port() {
  "$CL_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Start the emulator: cl_start_emulator [extra args...]; sets EMU_PORT.
cl_start_emulator() {
  CL_WORK=${CL_WORK:-$(mktemp -d /tmp/callogs_fdw.XXXXXX)}; export CL_WORK
  chmod 755 "$CL_WORK"
  EMU_PORT=$(cl_free_port)
  "$CL_PY" "$CL_REPO/emulator/callogs_emulator.py" --port "$EMU_PORT" \
    --ready-file "$CL_WORK/emu.ready" --pidfile "$CL_WORK/emu.pid" "$@" \
    >"$CL_WORK/emulator.out" 2>&1 &
  for _ in $(seq 1 100); do [ -s "$CL_WORK/emu.ready" ] && break; sleep 0.1; done
  [ -s "$CL_WORK/emu.ready" ] || { cat "$CL_WORK/emulator.out" >&2; return 1; }
  export EMU_PORT
  cl_log "emulator on http://127.0.0.1:$EMU_PORT"
}

# Start a throwaway cluster; sets PGHOST/PGPORT/PGUSER/PGDATA.
cl_start_postgres() {
  CL_WORK=${CL_WORK:-$(mktemp -d /tmp/callogs_fdw.XXXXXX)}; export CL_WORK
  chmod 755 "$CL_WORK"
  export PGDATA="$CL_WORK/pgdata" PGHOST=127.0.0.1 PGUSER=postgres
  PGPORT=$(cl_free_port); export PGPORT
  mkdir -p "$PGDATA" "$CL_WORK/sock"
  chown postgres:postgres "$PGDATA" "$CL_WORK/sock"
  runuser -u postgres -- "$CL_PGBIN/initdb" -D "$PGDATA" -A trust \
    -U postgres -E UTF8 --locale=C.UTF-8 >"$CL_WORK/initdb.log" 2>&1 \
    || { cat "$CL_WORK/initdb.log" >&2; return 1; }
  cat >>"$PGDATA/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CL_WORK/sock'
log_line_prefix = '%m [%p] '
shared_preload_libraries = '${CL_PRELOAD:-}'
cron.database_name = 'postgres'
max_connections = 50
CONF
  touch "$CL_WORK/postgres.log"; chown postgres:postgres "$CL_WORK/postgres.log"
  runuser -u postgres -- "$CL_PGBIN/pg_ctl" -D "$PGDATA" -w \
    -l "$CL_WORK/postgres.log" start >/dev/null \
    || { cat "$CL_WORK/postgres.log" >&2; return 1; }
  cl_log "PostgreSQL $("$CL_PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT (log: $CL_WORK/postgres.log)"
}

# Wait (at most 60 s) until the cluster accepts connections again, e.g.
# after a crashed backend made it restart, so that the next suite is
# judged on its own rather than on the crash (which the log check reports).
cl_wait_ready() {
  local i
  for i in $(seq 1 120); do
    /usr/lib/postgresql/15/bin/pg_isready -q -h "$PGHOST" -p "$PGPORT" -t 1 && return 0
    sleep 0.5
  done
  cl_log "PostgreSQL on port $PGPORT does not accept connections"
  return 1
}

cl_stop_all() {
  if [ -n "${PGDATA:-}" ] && [ -f "$PGDATA/postmaster.pid" ]; then
    runuser -u postgres -- "$CL_PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "${CL_WORK:-}" ] && [ -f "$CL_WORK/emu.pid" ]; then
    local pid _
    pid=$(cat "$CL_WORK/emu.pid")
    kill "$pid" 2>/dev/null || true
    # the emulator removes its files as it exits: wait, so that a caller
    # removing CL_WORK next does not race it (at most 5 s)
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

# The SQL a user runs: server, user mapping and call_logs for the emulator.
cl_demo_sql() {
  cat <<SQL
CREATE EXTENSION IF NOT EXISTS callogs_fdw;
CREATE SERVER callogs FOREIGN DATA WRAPPER callogs_fdw
  OPTIONS (url 'http://127.0.0.1:$EMU_PORT/api/v2/platform/call-logs/', org_handle 'acme');
CREATE USER MAPPING FOR CURRENT_USER SERVER callogs OPTIONS (token 'secret');
CREATE FOREIGN TABLE call_logs (
  id text, source_number text, destination_number text,
  call_type text, call_status text,
  creation_time timestamptz, start_time timestamptz, end_time timestamptz,
  call_duration interval, end_reason text, bridge integer
) SERVER callogs;
SQL
}
