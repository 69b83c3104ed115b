#!/usr/bin/env bash
# Command 1 of the README: install what is needed, build and install
# callogs_fdw, start a throwaway PostgreSQL 15 and the bundled Call Logs API
# emulator (25,000 calls ending now, made by 2,000 customers who call again
# and again), create the server, user mapping, call_logs and a small local
# contacts table, and open psql.  Leaving psql stops both and removes the
# throwaway cluster.
#   bash scripts/quickstart.sh                # interactive psql
#   bash scripts/quickstart.sh --examples     # run example queries and exit
#   bash scripts/quickstart.sh --no-install   # the Debian packages are already there
#   bash scripts/quickstart.sh --no-build     # the extension is already built and installed
# CL_PG_CONFIG names another PostgreSQL installation (default: Debian's 15).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
}

examples=0 install=1 build=1
for arg in "$@"; do
  case "$arg" in
    --examples) examples=1 ;;
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "quickstart.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

. "$(dirname "$0")/env.sh"

# always a throwaway work directory of our own, even when called from a
# shell that has another cluster's environment
unset CL_WORK PGDATA PGPORT PGHOST EMU_PORT
CL_WORK=$(mktemp -d /tmp/callogs_quickstart.XXXXXX); export CL_WORK
cleanup() {
  cl_stop_all
  rm -rf "$CL_WORK" 2>/dev/null || { sleep 1; rm -rf "$CL_WORK"; }
}

if [ "$install" = 1 ]; then
  cl_install_deps
else
  cl_pg_paths || { echo "quickstart.sh: no PostgreSQL at $CL_PG_CONFIG (drop --no-install)" >&2; exit 1; }
fi
if [ "$build" = 1 ]; then
  cl_build_install
elif [ ! -f "$("$CL_PG_CONFIG" --sharedir)/extension/callogs_fdw.control" ]; then
  echo "quickstart.sh: callogs_fdw is not installed in $("$CL_PG_CONFIG" --sharedir) (drop --no-build)" >&2
  exit 1
fi
trap cleanup EXIT
cl_start_emulator --rows 25000
cl_start_postgres
cl_demo_sql | psql -q -v ON_ERROR_STOP=1 -d postgres
# contacts: the 50 customers who called in most recently (each calls several times)
psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE TABLE contacts (phone text PRIMARY KEY, name text);
  INSERT INTO contacts SELECT phone, 'Customer ' || row_number() OVER (ORDER BY last_call DESC)
    FROM (SELECT source_number AS phone, max(creation_time) AS last_call
            FROM (SELECT source_number, creation_time FROM call_logs
                   WHERE call_type = 'inbound' LIMIT 400) r
           GROUP BY 1 ORDER BY 2 DESC LIMIT 50) s;"

if [ "$examples" = 1 ]; then
  psql -d postgres -v ON_ERROR_STOP=1 -e <<'SQL'
SELECT count(*) FROM call_logs;
SELECT call_status, count(*) FROM call_logs WHERE creation_time > now() - interval '7 days' GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_status = 'missed';
SELECT id, source_number, call_status, creation_time FROM call_logs
 WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 5;
SELECT c.name, count(*) AS calls, sum(l.call_duration) AS talk_time
  FROM call_logs l JOIN contacts c ON c.phone = l.source_number
 GROUP BY c.name ORDER BY calls DESC LIMIT 5;
SELECT count(*) AS contacts, min(calls) AS fewest_calls, round(avg(calls), 1) AS average_calls
  FROM (SELECT c.phone, count(l.id) AS calls
          FROM contacts c LEFT JOIN call_logs l ON l.source_number = c.phone
         GROUP BY c.phone) s;
SQL
else
  cat <<MSG

callogs_fdw is ready: PostgreSQL on 127.0.0.1:$PGPORT, emulator on 127.0.0.1:$EMU_PORT.
Try:  SELECT * FROM call_logs WHERE call_status = 'missed' LIMIT 10;
Leaving psql stops both.
MSG
  psql -d postgres
fi
