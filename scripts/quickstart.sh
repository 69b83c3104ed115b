#!/usr/bin/env bash
# Command 1 of the README: install what is needed, build and install
# callogs_fdw, start a throwaway PostgreSQL 15 and the bundled Call Logs API
# emulator, create the server, user mapping and call_logs, and open psql.
#   bash scripts/quickstart.sh             # interactive psql
#   bash scripts/quickstart.sh --examples  # run example queries and exit
set -euo pipefail
. "$(dirname "$0")/env.sh"

cl_install_deps
cl_build_install
trap cl_stop_all EXIT
cl_start_emulator --rows 25000
cl_start_postgres
cl_demo_sql | psql -q -v ON_ERROR_STOP=1 -d postgres
psql -q -d postgres -c "CREATE TABLE contacts (phone text PRIMARY KEY, name text);
  INSERT INTO contacts SELECT DISTINCT source_number, 'Customer ' || row_number() OVER () FROM (SELECT source_number FROM call_logs WHERE call_type = 'inbound' LIMIT 50) s ON CONFLICT DO NOTHING;"

if [ "${1:-}" = "--examples" ]; then
  psql -d postgres -v ON_ERROR_STOP=1 -e <<'SQL'
SELECT count(*) FROM call_logs;
SELECT call_status, count(*) FROM call_logs GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT * FROM call_logs WHERE call_status = 'missed';
SELECT id, source_number, call_status, creation_time FROM call_logs
 WHERE call_status = 'missed' ORDER BY creation_time DESC LIMIT 5;
SELECT c.name, count(*) AS calls, sum(l.call_duration) AS talk_time
  FROM call_logs l JOIN contacts c ON c.phone = l.source_number
 GROUP BY c.name ORDER BY calls DESC LIMIT 5;
SQL
else
  cat <<MSG

callogs_fdw is ready: PostgreSQL on 127.0.0.1:$PGPORT, emulator on 127.0.0.1:$EMU_PORT.
Try:  SELECT * FROM call_logs WHERE call_status = 'missed' LIMIT 10;
Leaving psql stops both.
MSG
  psql -d postgres
fi
