--
-- Column types: every type a user would reasonably declare
--
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SELECT emu_server('types_a', 'tag=types,rows=120,links=0,anchor=2025-11-30T00:00:00Z');
CREATE FOREIGN TABLE calls_typed (
  id varchar(20),
  caller varchar OPTIONS (field 'source_number'),
  callee text OPTIONS (field 'destination_number'),
  call_status char(9),
  created timestamptz OPTIONS (field 'creation_time'),
  started timestamp OPTIONS (field 'start_time'),
  call_day date OPTIONS (field 'creation_time'),
  call_duration interval,
  end_reason text,
  bridge smallint,
  bridge4 integer OPTIONS (field 'bridge'),
  bridge8 bigint OPTIONS (field 'bridge'),
  bridge_num numeric(5,1) OPTIONS (field 'bridge'),
  bridge_txt text OPTIONS (field 'bridge'),
  bridge_json json OPTIONS (field 'bridge'),
  duration_jsonb jsonb OPTIONS (field 'call_duration'),
  not_in_api text,
  whole_row jsonb OPTIONS (field 'no_such_key')
) SERVER types_a;
SET timezone = 'UTC';
SELECT * FROM calls_typed LIMIT 3;
SET timezone = 'America/New_York';
SELECT created, started, call_day FROM calls_typed LIMIT 2;
RESET timezone;
SELECT count(*), count(not_in_api), count(whole_row) FROM (SELECT * FROM calls_typed) s;

-- a scalar-only query converts only the columns it uses
SELECT sum(bridge8), max(call_duration) FROM calls_typed;

-- values the API may send, injected into one field of every row
CREATE FUNCTION try_value(field text, value text, coltype text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE 'DROP SERVER IF EXISTS tv CASCADE';
  PERFORM emu_server('tv', format('tag=tv,rows=2,fault=wrong_types,wrong_field=%s,wrong_value=%s',
                                  field, urlencode(value)));
  EXECUTE format('CREATE FOREIGN TABLE tv_t (v %s OPTIONS (field %L)) SERVER tv', coltype, field);
  EXECUTE 'SELECT string_agg(coalesce(v::text, ''NULL''), '' | '') FROM tv_t' INTO result;
  EXECUTE 'DROP SERVER tv CASCADE';
  PERFORM emu_log('tv');
  RETURN result;
EXCEPTION WHEN OTHERS THEN
  EXECUTE 'DROP SERVER IF EXISTS tv CASCADE';
  PERFORM emu_log('tv');
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
SET client_min_messages = warning;
SELECT v.value, v.coltype, try_value('end_reason', v.value, v.coltype) AS result
FROM (VALUES
  -- timestamps: milliseconds or not, Z or an offset, out of range
  ('"2025-11-18T10:30:00.000Z"', 'timestamptz'),
  ('"2026-02-07T05:57:00Z"', 'timestamptz'),
  ('"2025-11-18T10:30:00+05:30"', 'timestamptz'),
  ('"2025-11-18T10:30:00.123456789Z"', 'timestamptz'),
  ('"2025-11-18 10:30:00-0800"', 'timestamp'),
  ('"2025-11-18T10:30:00Z"', 'date'),
  -- timestamp and date columns keep the time as written, in any offset
  -- (PostgreSQL reads offsets up to 15:59: date pushdown widens by 16 h)
  ('"2025-11-30T05:00:00+05:00"', 'timestamp'),
  ('"2025-11-30T23:30:00-12:00"', 'date'),
  ('"2025-11-30T01:00:00+14:00"', 'date'),
  ('"2025-11-30T01:00:00+15:59"', 'timestamp'),
  ('"2025-11-30T01:00:00+16:00"', 'timestamptz'),
  ('"294277-01-01T00:00:00Z"', 'timestamptz'),
  ('"2025-02-30T00:00:00Z"', 'timestamptz'),
  ('"yesterday-ish"', 'timestamptz'),
  ('1763461800', 'timestamptz'),
  -- intervals: H:MM:SS, HH:MM:SS, seconds
  ('"0:05:25"', 'interval'),
  ('"12:34:56"', 'interval'),
  ('"123:00:01"', 'interval'),
  ('207', 'interval'),
  ('12.5', 'interval'),
  ('"1 day 02:00:00"', 'interval'),
  ('"5 minutes-ish"', 'interval'),
  ('true', 'interval'),
  -- integers and numerics
  ('1', 'smallint'),
  ('70000', 'smallint'),
  ('"42"', 'integer'),
  ('2147483648', 'integer'),
  ('9223372036854775807', 'bigint'),
  ('9223372036854775808', 'bigint'),
  ('18446744073709551616', 'numeric'),
  ('12.5', 'integer'),
  ('12.5', 'numeric'),
  ('1.5e3', 'numeric'),
  ('1e400', 'float8'),
  ('"abc"', 'integer'),
  ('{"a": 1}', 'integer'),
  ('[1, 2]', 'bigint'),
  -- booleans
  ('true', 'boolean'),
  ('0', 'boolean'),
  ('"yes"', 'boolean'),
  ('"maybe"', 'boolean'),
  -- text from any JSON value; NUL and long strings
  ('"plain"', 'text'),
  ('42', 'text'),
  ('{"nested": [1, "x"]}', 'text'),
  ('"caf\u00e9 \ud83d\udcde"', 'text'),
  ('"a\u0000b"', 'text'),
  ('"toolong"', 'varchar(3)'),
  ('"toolong"', 'char(3)'),
  -- json and jsonb keep the JSON value
  ('{"nested": [1, "x"]}', 'jsonb'),
  ('"0:05:25"', 'json'),
  ('null', 'integer'),
  ('"a\u0000b"', 'jsonb')
) v(value, coltype);
RESET client_min_messages;

-- a JSON value of the wrong kind is HV004 in number columns too; the two
-- integers json-c may have clamped are 22003 in every column type; an
-- interval takes decimal seconds in any JSON number form
SET client_min_messages = warning;
SELECT v.value, v.coltype, try_value('end_reason', v.value, v.coltype) AS result
FROM (VALUES
  ('{"a": 1}', 'numeric'),
  ('[1]', 'real'),
  ('true', 'double precision'),
  ('false', 'numeric(5,1)'),
  ('-9223372036854775808', 'interval'),
  ('18446744073709551615', 'interval'),
  ('-9223372036854775808', 'timestamptz'),
  ('18446744073709551615', 'timestamp'),
  ('18446744073709551615', 'date'),
  ('-9223372036854775808', 'numeric'),
  ('9223372036854775808', 'interval'),
  ('1e2', 'interval'),
  ('1.5E-1', 'interval'),
  ('-2.0000005', 'interval'),
  ('1e400', 'interval'),
  ('{"s": 1}', 'interval'),
  ('[325]', 'interval'),
  -- a number as written: -0 keeps its sign where the type has one
  ('-0', 'text'),
  ('-0', 'json'),
  ('{"a": [-0, 0, -0.0]}', 'text'),
  ('-0', 'double precision'),
  ('-0', 'numeric'),
  ('-0', 'integer')
) v(value, coltype);
RESET client_min_messages;

-- errors name the column, the JSON field and the (shortened) value
\set VERBOSITY default
SELECT emu_server('bad_ts', 'tag=badts,rows=3,fault=wrong_types,wrong_field=creation_time,wrong_value=%22not-a-time-' || repeat('x', 200) || '%22');
SELECT emu_table('calls_bad_ts', 'bad_ts');
SELECT id, creation_time FROM calls_bad_ts;
SELECT id FROM calls_bad_ts;
SELECT emu_server('bad_type', 'tag=badtype,rows=3,fault=wrong_types,wrong_field=bridge,wrong_value=%7B%22x%22%3A1%7D');
SELECT emu_table('calls_bad_type', 'bad_type');
SELECT bridge FROM calls_bad_type;
SELECT emu_server('ts_range', 'tag=tsrange,rows=3,fault=ts_out_of_range');
SELECT emu_table('calls_ts_range', 'ts_range');
SELECT creation_time FROM calls_ts_range;
SELECT start_time FROM calls_ts_range;
-- every field of a call log with a wrong type
SELECT emu_server('all_wrong', 'tag=allwrong,rows=3,fault=wrong_types');
SELECT emu_table('calls_all_wrong', 'all_wrong');
SELECT id FROM calls_all_wrong;
SELECT source_number FROM calls_all_wrong;
SELECT call_type FROM calls_all_wrong;
SELECT creation_time FROM calls_all_wrong;
SELECT call_duration FROM calls_all_wrong;
SELECT bridge FROM calls_all_wrong;
-- duplicate keys: the last value wins, as in jsonb
SELECT emu_server('dups', 'tag=dups,rows=3,fault=dup_keys');
SELECT emu_table('calls_dups', 'dups');
SELECT call_status FROM calls_dups;
-- a NUL escape and a 1 MB string
SELECT emu_server('nul', 'tag=nul,rows=3,fault=nul_escape');
SELECT emu_table('calls_nul', 'nul');
SELECT source_number FROM calls_nul;
SELECT count(*) FROM calls_nul WHERE id IS NOT NULL;
SELECT emu_server('big', 'tag=big,rows=3,fault=big_string');
SELECT emu_table('calls_big', 'big');
SELECT id, length(end_reason) FROM calls_big;
SELECT call_duration FROM calls_bad_ts;
\set VERBOSITY terse

-- this file's objects
SET client_min_messages = warning;
DROP SERVER types_a, bad_ts, bad_type, ts_range, all_wrong, dups, nul, big CASCADE;
DROP FUNCTION try_value(text, text, text);
RESET client_min_messages;
