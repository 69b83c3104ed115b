--
-- IMPORT FOREIGN SCHEMA creates call_logs with the canonical columns
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET intervalstyle = 'postgres';
SELECT emu_server('imp', 'tag=imp,rows=150,anchor=2025-11-30T00:00:00Z');
CREATE SCHEMA imported;
IMPORT FOREIGN SCHEMA callogs FROM SERVER imp INTO imported;
\d imported.call_logs
SELECT count(*), count(DISTINCT id) FROM (SELECT * FROM imported.call_logs) s WHERE id IS NOT NULL;
SELECT * FROM imported.call_logs LIMIT 2;
-- options: the table's name and organization
IMPORT FOREIGN SCHEMA callogs FROM SERVER imp INTO imported
  OPTIONS (table_name 'acme_calls', org_handle 'acme');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imported.acme_calls'::regclass;
-- LIMIT TO / EXCEPT name tables
IMPORT FOREIGN SCHEMA callogs LIMIT TO (other_name) FROM SERVER imp INTO imported;
IMPORT FOREIGN SCHEMA callogs EXCEPT (call_logs) FROM SERVER imp INTO imported;
SELECT relname FROM pg_class WHERE relkind = 'f' AND relnamespace = 'imported'::regnamespace ORDER BY 1;
CREATE SCHEMA imported2;
IMPORT FOREIGN SCHEMA callogs LIMIT TO (call_logs) FROM SERVER imp INTO imported2;
SELECT relname FROM pg_class WHERE relkind = 'f' AND relnamespace = 'imported2'::regnamespace ORDER BY 1;
DROP SCHEMA imported2 CASCADE;
-- errors
IMPORT FOREIGN SCHEMA public FROM SERVER imp INTO imported;
IMPORT FOREIGN SCHEMA callogs FROM SERVER imp INTO imported OPTIONS (format 'csv');
DROP SCHEMA imported CASCADE;
DROP SERVER imp CASCADE;
