"""The extension's SQL scripts: versions, upgrade, and the SQL helpers'
resistance to search_path attacks (issue 10, section 1).

* CREATE EXTENSION installs 1.1 (the default), CREATE EXTENSION ... VERSION
  '1.0' then ALTER EXTENSION ... UPDATE reaches the same 1.1: same
  functions, same definitions.
* Every SQL-language or PL/pgSQL function of the extension runs with
  search_path = pg_catalog, pg_temp.
* Attack: an unprivileged role that may create objects in schema public
  (on the superuser's search_path) defines closer-matching or exact
  overloads of every function and operator the helpers call (1.0 and 1.1),
  each recording current_user and trying ALTER ROLE ... SUPERUSER; then the
  superuser runs the README's example.  On 1.0 the attacker's code runs as
  the superuser (checked here, so that the attack is known to work); on a
  fresh 1.1 and on 1.0 updated to 1.1 nothing of it runs, with the
  default search_path and with one that puts public before pg_catalog.
* Names: a parent name that needs quoting works; org handles that differ
  only by case or punctuation (Acme/acme, a-b/a_b) get different child
  tables; long handles are cut and told apart by a hash; the partitions
  scan their own organization's rows.

    /usr/bin/python3 -m unittest -q test/extension_test.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "extension_test"
ATTACKER = "callogs_ext_attacker"

# Functions and operators the helpers of 1.0 and 1.1 call, as overloads
# that beat (or, with public before pg_catalog, shadow) pg_catalog's for
# the argument types the helpers pass.  (name, args, return type, body
# computing the honest result from $1..$n).
TRAPS = [
    # 1.0
    ("unnest", "text[]", "SETOF text", "RETURN QUERY SELECT pg_catalog.unnest($1);"),
    ("format", "text, name", "text", "RETURN pg_catalog.format($1, $2);"),
    ("format", "text, name, name", "text", "RETURN pg_catalog.format($1, $2, $3);"),
    ("format", "text, name, name, text", "text", "RETURN pg_catalog.format($1, $2, $3, $4);"),
    ("format", "text, name, name, regclass, text, name, text", "text",
     "RETURN pg_catalog.format($1, $2, $3, $4, $5, $6, $7);"),
    ("left", "text, integer", "text", "RETURN pg_catalog.left($1, $2);"),
    ("lower", "text", "text", "RETURN pg_catalog.lower($1);"),
    ("regexp_replace", "text, text, text, text", "text",
     "RETURN pg_catalog.regexp_replace($1, $2, $3, $4);"),
    # 1.1
    ("format", "text, name, text, name, name, text, name, text", "text",
     "RETURN pg_catalog.format($1, $2, $3, $4, $5, $6, $7, $8);"),
    ("format", "text, name, text, text", "text", "RETURN pg_catalog.format($1, $2, $3, $4);"),
    ("octet_length", "text", "integer", "RETURN pg_catalog.octet_length($1);"),
    ("length", "text", "integer", "RETURN pg_catalog.length($1);"),
    ("substr", "text, integer, integer", "text", "RETURN pg_catalog.substr($1, $2, $3);"),
    ("encode", "bytea, text", "text", "RETURN pg_catalog.encode($1, $2);"),
    ("sha256", "bytea", "bytea", "RETURN pg_catalog.sha256($1);"),
    ("convert_to", "text, name", "bytea", "RETURN pg_catalog.convert_to($1, $2);"),
    ("current_schema", "", "name", "RETURN pg_catalog.current_schema();"),
]
# operators: (name, left type, right type, return type, body)
OP_TRAPS = [
    ("||", "name", "text", "text", "RETURN pg_catalog.textcat($1::text, $2);"),
    ("||", "text", "text", "text", "RETURN pg_catalog.textcat($1, $2);"),
    ("=", "oid", "regclass", "boolean", "RETURN $1 OPERATOR(pg_catalog.=) $2::oid;"),
    ("=", "oid", "oid", "boolean", "RETURN $1 OPERATOR(pg_catalog.=) $2;"),
    ("=", "text", "text", "boolean", "RETURN $1 OPERATOR(pg_catalog.=) $2;"),
    ("=", "name", "name", "boolean", "RETURN $1 OPERATOR(pg_catalog.=) $2;"),
    (">", "integer", "integer", "boolean", "RETURN $1 OPERATOR(pg_catalog.>) $2;"),
    ("-", "integer", "integer", "integer", "RETURN $1 OPERATOR(pg_catalog.-) $2;"),
]

TRAP_PROLOGUE = """
  INSERT INTO public.trap_log VALUES (current_user, %s);
  IF (SELECT rolsuper FROM pg_catalog.pg_roles
       WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
    BEGIN
      EXECUTE 'ALTER ROLE %s SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END IF;
"""


def setUpModule():
    drop_database(DB)
    drop_role(ATTACKER)
    admin = connect("postgres")
    with admin.cursor() as cur:
        cur.execute("CREATE ROLE %s LOGIN" % ATTACKER)
    admin.close()


def tearDownModule():
    drop_database(DB)
    drop_role(ATTACKER)


def fresh_db(version=None):
    """A new database with callogs_fdw at version (None: the default); an
    autocommit superuser connection to it."""
    admin = connect("postgres")
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
        cur.execute("CREATE DATABASE %s" % DB)
    admin.close()
    conn = connect(DB)
    query(conn, "CREATE EXTENSION callogs_fdw" + (" VERSION %s" % sql_literal(version)
                                                  if version else ""))
    return conn


def ext_functions(conn):
    """{signature: (language, proconfig, definition)} of the extension's functions."""
    rows = query(conn, """
        SELECT p.oid::regprocedure::text, l.lanname, p.proconfig, pg_get_functiondef(p.oid)
          FROM pg_depend d
          JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'callogs_fdw'
          JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
          JOIN pg_language l ON l.oid = p.prolang
         WHERE d.deptype = 'e'""")
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


class ExtensionScripts(unittest.TestCase):

    def tearDown(self):
        drop_database(DB)

    def setup_attack(self, conn):
        """As the attacker: trap overloads in schema public, which is on
        the superuser's search_path."""
        query(conn, "GRANT CREATE ON SCHEMA public TO %s" % ATTACKER)
        att = connect(DB, user=ATTACKER)
        try:
            query(att, "CREATE TABLE public.trap_log (who text, what text)")
            query(att, "GRANT INSERT, SELECT ON public.trap_log TO PUBLIC")
            for name, args, ret, body in TRAPS:
                query(att, "CREATE FUNCTION public.%s(%s) RETURNS %s LANGUAGE plpgsql AS $f$"
                           "BEGIN %s %s END $f$"
                      % (name, args, ret,
                         TRAP_PROLOGUE % (sql_literal("%s(%s)" % (name, args)), ATTACKER),
                         body))
            for i, (op, lt, rt, ret, body) in enumerate(OP_TRAPS):
                fn = "trap_op_%d" % i
                query(att, "CREATE FUNCTION public.%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS $f$"
                           "BEGIN %s %s END $f$"
                      % (fn, lt, rt, ret,
                         TRAP_PROLOGUE % (sql_literal("%s %s %s" % (lt, op, rt)), ATTACKER),
                         body))
                query(att, "CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, "
                           "FUNCTION = public.%s)" % (op, lt, rt, fn))
        finally:
            att.close()

    def run_readme_example(self, conn, search_path):
        """The superuser follows the README (many organizations)."""
        query(conn, "SET search_path = " + search_path)
        query(conn, "CREATE SERVER callogs FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                    "(url 'http://127.0.0.1:9/api/v2/platform/call-logs/', org_handle 'acme')")
        parts = query(conn, "SELECT callogs_create_org_tables('all_calls', 'callogs', "
                            "ARRAY['acme', 'globex', 'initech'])")
        one = query(conn, "SELECT callogs_add_org_table('all_calls', 'umbrella', 'callogs')")
        query(conn, "RESET search_path")
        return [r[0] for r in parts] + [one[0][0]]

    def trapped(self, conn):
        """What of the attacker's ran, as whom; and whether it is superuser now."""
        log = query(conn, "SELECT who, what FROM public.trap_log ORDER BY 1, 2")
        sup = query(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (ATTACKER,))[0][0]
        return log, sup

    def attack(self, version, update=False, search_path="\"$user\", public"):
        conn = fresh_db(version)
        try:
            if update:
                query(conn, "ALTER EXTENSION callogs_fdw UPDATE")
            self.setup_attack(conn)
            parts = self.run_readme_example(conn, search_path)
            return parts, self.trapped(conn)
        finally:
            query(conn, "ALTER ROLE %s NOSUPERUSER" % ATTACKER)
            conn.close()

    def test_1_0_was_taken_over(self):
        # the attack works against 1.0: its helpers run the attacker's
        # overloads as the superuser, who becomes the attacker's accomplice
        parts, (log, sup) = self.attack("1.0")
        self.assertEqual(parts, ["all_calls_acme", "all_calls_globex", "all_calls_initech",
                                 "all_calls_umbrella"], "the call returns normally")
        self.assertIn((PGUSER, "unnest(text[])"), log)
        self.assertIn((PGUSER, "name || text"), log)
        self.assertTrue(sup, "the attacker was not made superuser on 1.0")

    def check_safe(self, **kw):
        parts, (log, sup) = self.attack(**kw)
        self.assertEqual(parts, ["all_calls_acme", "all_calls_globex", "all_calls_initech",
                                 "all_calls_umbrella"])
        self.assertEqual(log, [], "attacker's code ran")
        self.assertFalse(sup)

    def test_1_1_fresh_is_safe(self):
        self.check_safe(version=None)

    def test_1_1_fresh_is_safe_public_before_pg_catalog(self):
        self.check_safe(version=None, search_path="public, pg_catalog")

    def test_1_0_updated_is_safe(self):
        self.check_safe(version="1.0", update=True)
        self.check_safe(version="1.0", update=True, search_path="public, pg_catalog")

    def test_update_with_traps_in_place_is_safe(self):
        """The traps are in place before ALTER EXTENSION UPDATE: the update
        script (and its check for squatted names) runs none of them."""
        conn = fresh_db("1.0")
        try:
            self.setup_attack(conn)
            query(conn, "ALTER EXTENSION callogs_fdw UPDATE")
            self.assertEqual(self.trapped(conn), ([], False))
            parts = self.run_readme_example(conn, "\"$user\", public")
            self.assertEqual(len(parts), 4)
            self.assertEqual(self.trapped(conn), ([], False))
        finally:
            query(conn, "ALTER ROLE %s NOSUPERUSER" % ATTACKER)
            conn.close()

    def test_squatted_names_block_the_update_clearly(self):
        """Issue 10 round 2, finding 9: a role with CREATE on the
        extension's schema pre-creates 1.1's function: the update cannot
        proceed (PostgreSQL gives extensions no way to take an object
        over), but it says what is in the way, whose it is, and what to
        drop, instead of "already exists" halfway through."""
        conn = fresh_db("1.0")
        try:
            query(conn, "GRANT CREATE ON SCHEMA public TO %s" % ATTACKER)
            att = connect(DB, user=ATTACKER)
            query(att, "CREATE FUNCTION public.callogs_fdw_probe(text, text) RETURNS integer "
                       "LANGUAGE sql AS 'SELECT 1'")
            query(att, "CREATE TABLE public.callogs_fdw_activity (x integer)")
            att.close()
            e = query_error(conn, "ALTER EXTENSION callogs_fdw UPDATE")
            self.assertIsNotNone(e, "the update went through")
            self.assertEqual(e.pgcode, "42710", error_text(e))
            self.assertEqual(e.diag.message_primary, "objects that callogs_fdw 1.1 creates already "
                             "exist in schema public and are not the extension's")
            self.assertEqual(e.diag.message_detail,
                             "function public.callogs_fdw_probe(text, text) (owner %s); "
                             "relation public.callogs_fdw_activity (owner %s)." % (ATTACKER, ATTACKER))
            self.assertIn("DROP FUNCTION public.callogs_fdw_probe(text, text); "
                          "DROP TABLE public.callogs_fdw_activity;", e.diag.message_hint)
            self.assertEqual(query(conn, "SELECT extversion FROM pg_extension "
                                         "WHERE extname = 'callogs_fdw'"), [("1.0",)])
            query(conn, "DROP FUNCTION public.callogs_fdw_probe(text, text)")
            query(conn, "DROP TABLE public.callogs_fdw_activity")
            query(conn, "ALTER EXTENSION callogs_fdw UPDATE")
            self.assertEqual(query(conn, "SELECT extversion FROM pg_extension "
                                         "WHERE extname = 'callogs_fdw'"), [("1.1",)])
        finally:
            conn.close()

    def test_versions_and_upgrade_path(self):
        conn = fresh_db()
        try:
            self.assertEqual(query(conn, "SELECT extversion FROM pg_extension "
                                         "WHERE extname = 'callogs_fdw'")[0][0], "1.1")
            self.assertEqual(query(conn, "SELECT default_version FROM pg_available_extensions "
                                         "WHERE name = 'callogs_fdw'")[0][0], "1.1")
            fresh = ext_functions(conn)
        finally:
            conn.close()
        conn = fresh_db("1.0")
        try:
            old = ext_functions(conn)
            self.assertIn("callogs_create_org_tables(name,name,text[])", old)
            query(conn, "ALTER EXTENSION callogs_fdw UPDATE TO '1.1'")
            self.assertEqual(query(conn, "SELECT extversion FROM pg_extension "
                                         "WHERE extname = 'callogs_fdw'")[0][0], "1.1")
            updated = ext_functions(conn)
            # nothing left behind outside the extension
            self.assertEqual(query(conn, "SELECT count(*) FROM pg_proc "
                                         "WHERE proname LIKE 'callogs%'")[0][0], len(updated))
        finally:
            conn.close()
        self.assertEqual(updated, fresh)
        self.assertEqual(sorted(fresh), [
            "callogs_add_org_table(text,text,text)",
            "callogs_create_org_tables(text,text,text[],text)",
            "callogs_fdw_activity()", "callogs_fdw_handler()",
            "callogs_fdw_probe(text,text)", "callogs_fdw_stats()", "callogs_fdw_stats_reset()",
            "callogs_fdw_validator(text[],oid)"])
        # every function a user calls with arguments takes text or text[]
        # (the types an unknown literal and ARRAY[...] of them resolve to),
        # so that no overload in another schema is a better match
        for sig in fresh:
            if sig.startswith("callogs_fdw_validator"):
                continue        # called by PostgreSQL by its oid
            args = sig[sig.index("(") + 1:-1]
            self.assertTrue(all(a in ("text", "text[]") for a in args.split(",") if a), sig)
        # every SQL or PL/pgSQL function has a fixed search_path
        for sig, (lang, config, _) in fresh.items():
            if lang in ("sql", "plpgsql"):
                self.assertEqual(config, ["search_path=pg_catalog, pg_temp"], sig)
            else:
                self.assertEqual(lang, "c", sig)


# Overloads of the entry points themselves, in a schema after the
# extension's on the caller's search_path (issue 10 round 2, finding 2):
# with name/regclass parameters, (text, text, text[]) and friends were the
# better match for unknown literals.  (name, args, return type, what to
# return)
ENTRY_TRAPS = [
    ("callogs_create_org_tables", "text, text, text[]", "SETOF regclass", "RETURN;"),
    ("callogs_create_org_tables", "text, text, text[], text", "SETOF regclass", "RETURN;"),
    ("callogs_create_org_tables", "VARIADIC text[]", "SETOF regclass", "RETURN;"),
    ("callogs_create_org_tables", "anyelement, anyelement, anyarray", "SETOF regclass", "RETURN;"),
    ("callogs_add_org_table", "text, text, text", "regclass", "RETURN NULL;"),
    ("callogs_add_org_table", "VARIADIC text[]", "regclass", "RETURN NULL;"),
    ("callogs_add_org_table", "text, text, text, text DEFAULT ''", "regclass", "RETURN NULL;"),
    ("callogs_add_org_table", "anyelement, anyelement, anyelement", "regclass", "RETURN NULL;"),
    ("callogs_fdw_probe", "text, text",
     "TABLE (fact text, finding text, evidence text, recommendation text, requests integer)", "RETURN;"),
    ("callogs_fdw_probe", "text",
     "TABLE (fact text, finding text, evidence text, recommendation text, requests integer)", "RETURN;"),
    ("callogs_fdw_probe", "VARIADIC text[]",
     "TABLE (fact text, finding text, evidence text, recommendation text, requests integer)", "RETURN;"),
]


class EntryPointOverloads(unittest.TestCase):
    """The README's calls, by a superuser whose search_path lists, after
    the extension's schema, a schema the attacker owns and filled with
    overloads of every entry point: none of them runs."""

    def tearDown(self):
        drop_database(DB)

    def attack(self, version=None, update=False):
        conn = fresh_db(version)
        try:
            return self.run_attack(conn, update)
        finally:
            query(conn, "ALTER ROLE %s NOSUPERUSER" % ATTACKER)
            conn.close()

    def run_attack(self, conn, update):
        if update:
            query(conn, "ALTER EXTENSION callogs_fdw UPDATE")
        query(conn, "CREATE SCHEMA atk AUTHORIZATION %s" % ATTACKER)
        query(conn, "CREATE TABLE public.trap_log (who text, what text)")
        query(conn, "GRANT INSERT ON public.trap_log TO PUBLIC")
        att = connect(DB, user=ATTACKER)
        try:
            for name, args, ret, body in ENTRY_TRAPS:
                query(att, "CREATE FUNCTION atk.%s(%s) RETURNS %s LANGUAGE plpgsql AS $f$"
                           "BEGIN %s %s END $f$"
                      % (name, args, ret,
                         TRAP_PROLOGUE % (sql_literal("%s(%s)" % (name, args)), ATTACKER), body))
        finally:
            att.close()
        # the README, with the emulator as the provider
        tag = "ext_entry_points"
        emu_reset(tag)
        url = emu_url(scenario(tag, rows=120))
        query(conn, 'SET search_path = "$user", public, atk')
        query(conn, "CREATE SERVER callogs FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                    "(url %s, org_handle 'acme')" % sql_literal(url))
        query(conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER callogs OPTIONS (token %s)"
              % sql_literal(TOKEN))
        query(conn, "IMPORT FOREIGN SCHEMA callogs FROM SERVER callogs INTO public")
        calls = {
            "probe": "SELECT fact FROM callogs_fdw_probe('callogs', 'call_logs') WHERE fact = 'calls'",
            "probe1": "SELECT fact FROM callogs_fdw_probe('callogs') WHERE fact = 'calls'",
            "create": "SELECT callogs_create_org_tables('all_calls', 'callogs', "
                      "ARRAY['acme', 'globex', 'initech'])::text",
            "add": "SELECT callogs_add_org_table('all_calls', 'umbrella', 'callogs')::text",
        }
        got = {}
        for what, sql in calls.items():
            try:
                got[what] = query(conn, sql)
            except psycopg2.Error as e:
                got[what] = "error: %s" % e.pgerror
        query(conn, "RESET search_path")
        log = query(conn, "SELECT who, what FROM public.trap_log ORDER BY 1, 2")
        sup = query(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (ATTACKER,))[0][0]
        return got, log, sup

    def check_safe(self, **kw):
        got, log, sup = self.attack(**kw)
        self.assertEqual(log, [], "the attacker's overload ran")
        self.assertFalse(sup)
        self.assertEqual(got, {"probe": [("calls",)], "probe1": [("calls",)],
                               "create": [("all_calls_acme",), ("all_calls_globex",),
                                          ("all_calls_initech",)],
                               "add": [("all_calls_umbrella",)]})

    def test_fresh(self):
        self.check_safe()

    def test_updated_from_1_0(self):
        self.check_safe(version="1.0", update=True)


class AttackerParent(FdwTestCase):
    """callogs_add_org_table on a parent it should not touch (issue 10
    round 2, finding 2): another role's table (its partition key a domain
    whose CHECK ran the attacker's function as the superuser), and keys
    other than LIST (org_handle) on pg_catalog.text."""

    @classmethod
    def setUpClass(cls):
        cls.conn = fresh_db()
        query(cls.conn, "CREATE TABLE public.trap_log (who text, what text)")
        query(cls.conn, "GRANT INSERT, SELECT ON public.trap_log TO PUBLIC")
        query(cls.conn, "GRANT CREATE ON SCHEMA public TO %s" % ATTACKER)
        query(cls.conn, "GRANT USAGE ON FOREIGN DATA WRAPPER callogs_fdw TO %s" % ATTACKER)
        query(cls.conn, "CREATE SERVER callogs FOREIGN DATA WRAPPER callogs_fdw OPTIONS "
                        "(url 'https://api.example.com/api/v2/platform/call-logs/', org_handle 'acme')")
        query(cls.conn, "GRANT USAGE ON FOREIGN SERVER callogs TO %s" % ATTACKER)
        cls.att = connect(DB, user=ATTACKER)
        query(cls.att, "CREATE FUNCTION public.org_ok(text) RETURNS boolean LANGUAGE plpgsql AS $f$"
                       "BEGIN %s RETURN true; END $f$"
              % (TRAP_PROLOGUE % (sql_literal("domain check"), ATTACKER)))
        query(cls.att, "CREATE DOMAIN public.org_dom AS text CHECK (public.org_ok(VALUE))")
        query(cls.att, "CREATE TABLE public.atk_parent (org_handle public.org_dom NOT NULL, id text) "
                       "PARTITION BY LIST (org_handle)")

    @classmethod
    def tearDownClass(cls):
        cls.att.close()
        cls.conn.close()
        query(connect("postgres"), "ALTER ROLE %s NOSUPERUSER" % ATTACKER)
        drop_database(DB)

    def trapped(self):
        return (query(self.conn, "SELECT who, what FROM public.trap_log"),
                query(self.conn, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (ATTACKER,))[0][0])

    def test_superuser_on_attackers_parent(self):
        """Was: the domain's CHECK ran as the superuser while the bound was
        coerced, and made the attacker a superuser."""
        e = query_error(self.conn, "SELECT callogs_add_org_table('atk_parent', 'su', 'callogs')")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"must be owner of table atk_parent")
        self.assertEqual(self.trapped(), ([], False))
        self.assertEqual(query(self.conn, "SELECT count(*) FROM pg_inherits "
                                          "WHERE inhparent = 'atk_parent'::regclass")[0][0], 0)

    def test_attacker_on_superusers_parent(self):
        query(self.conn, "CREATE TABLE su_parent (org_handle text NOT NULL, id text) "
                         "PARTITION BY LIST (org_handle)")
        self.addCleanup(query, self.conn, "DROP TABLE su_parent")
        query(self.conn, "GRANT SELECT ON su_parent TO %s" % ATTACKER)
        e = query_error(self.att, "SELECT callogs_add_org_table('public.su_parent', 'acme', 'callogs')")
        self.assertSqlState(e, INSUFFICIENT_PRIVILEGE, r"must be owner of table su_parent")

    def test_keys_other_than_org_handle_text(self):
        """Refused for everyone, the owner too: only LIST (org_handle) on
        pg_catalog.text with its default operator class."""
        e = query_error(self.att, "SELECT callogs_add_org_table('atk_parent', 'own', 'callogs')")
        self.assertSqlState(e, "42809", r"not partitioned by LIST \(org_handle\) on a pg_catalog.text column")
        self.assertIn("not of type pg_catalog.text", e.diag.message_detail)
        self.assertEqual(self.trapped()[0], [], "the domain's CHECK ran")
        shapes = {
            "by_range": ("(org_handle text, id text) PARTITION BY RANGE (org_handle)", "not partitioned by LIST"),
            "by_expr": ("(org_handle text, id text) PARTITION BY LIST (lower(org_handle))", "not one column"),
            "by_other": ("(org_handle text, id text) PARTITION BY LIST (id)", "not the column org_handle"),
            "by_two": ("(org_handle text, id text) PARTITION BY RANGE (org_handle, id)", "not partitioned by LIST"),
            "by_varchar": ("(org_handle varchar, id text) PARTITION BY LIST (org_handle)", "not of type pg_catalog.text"),
            "by_pattern_ops": ("(org_handle text, id text) PARTITION BY LIST (org_handle text_pattern_ops)",
                               "default operator class"),
        }
        for name, (ddl, why) in shapes.items():
            with self.subTest(shape=name):
                query(self.conn, "CREATE TABLE %s %s" % (name, ddl))
                self.addCleanup(query, self.conn, "DROP TABLE %s" % name)
                e = query_error(self.conn, "SELECT callogs_add_org_table(%s, 'acme', 'callogs')"
                                % sql_literal(name))
                self.assertSqlState(e, "42809")
                self.assertIn(why, e.diag.message_detail)
        query(self.conn, "CREATE TABLE plain_table (org_handle text)")
        self.addCleanup(query, self.conn, "DROP TABLE plain_table")
        self.assertFails("SELECT callogs_add_org_table('plain_table', 'acme', 'callogs')", "42809",
                         r'table "plain_table" is not partitioned')
        self.assertFails("SELECT callogs_add_org_table('no_such_table', 'acme', 'callogs')", "42P01")

    def test_attacker_own_parent_of_text_works(self):
        query(self.att, "CREATE TABLE atk_ok (org_handle text NOT NULL, id text) "
                        "PARTITION BY LIST (org_handle)")
        got = query(self.att, "SELECT callogs_add_org_table('atk_ok', 'acme', 'callogs')::text")
        self.assertEqual(got, [("atk_ok_acme",)])
        self.assertEqual(query(self.conn, "SELECT relowner::regrole::text FROM pg_class "
                                          "WHERE relname = 'atk_ok_acme'"), [(ATTACKER,)])
        query(self.att, "DROP TABLE atk_ok")


class OrgTableNames(FdwTestCase):
    """1.1: names are quoted, and told apart."""

    @classmethod
    def setUpClass(cls):
        cls.conn = fresh_db()
        tag = "ext_names"
        emu_reset(tag)
        cls.opts = scenario(tag, rows=120, orgs="acme+Acme+a-b+a_b")
        cls.url = emu_url(cls.opts)
        create_table(cls.conn, "plain", cls.url)
        query(cls.conn, "CREATE SCHEMA \"Other Schema\"")

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()
        drop_database(DB)

    def children(self, parent_oid):
        return query(self.conn, """
            SELECT c.relname, n.nspname, pg_get_expr(c.relpartbound, c.oid), ft.ftoptions
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
             WHERE i.inhparent = %s ORDER BY 1""", (parent_oid,))

    def test_case_and_punctuation_kept_apart(self):
        got = query(self.conn, "SELECT callogs_create_org_tables('calls', 'plain_srv', "
                               "ARRAY['acme', 'Acme', 'a-b', 'a_b'])::text")
        self.assertEqual([r[0] for r in got],
                         ["calls_acme", '"calls_Acme"', '"calls_a-b"', "calls_a_b"])
        kids = self.children(query(self.conn, "SELECT 'calls'::regclass::oid")[0][0])
        self.assertEqual([(k[0], k[2], k[3]) for k in kids], [
            ("calls_Acme", "FOR VALUES IN ('Acme')", ["org_handle=Acme"]),
            ("calls_a-b", "FOR VALUES IN ('a-b')", ["org_handle=a-b"]),
            ("calls_a_b", "FOR VALUES IN ('a_b')", ["org_handle=a_b"]),
            ("calls_acme", "FOR VALUES IN ('acme')", ["org_handle=acme"])])
        # each partition reads its own organization's rows
        want = {o: emu_totals(self.opts, org=o)["by_status"]["missed"]
                for o in ("acme", "Acme", "a-b", "a_b")}
        self.assertGreater(len(set(want.values())), 1, want)
        got = dict(query(self.conn, "SELECT org_handle, count(*) FROM calls "
                                    "WHERE call_status = 'missed' GROUP BY 1"))
        self.assertEqual(got, want)
        self.assertEqual(query(self.conn, "SELECT count(*) FROM calls WHERE org_handle = 'a-b'")[0][0],
                         120)
        query(self.conn, "DROP TABLE calls")

    def test_parent_that_needs_quoting(self):
        got = query(self.conn, "SELECT callogs_create_org_tables('All Calls', 'plain_srv', "
                               "ARRAY['acme'])::text")
        self.assertEqual(got, [('"All Calls_acme"',)])
        got = query(self.conn, "SELECT callogs_add_org_table('\"All Calls\"', 'O''Brien', "
                               "'plain_srv')::text")
        self.assertEqual(got, [('"All Calls_O\'Brien"',)])
        self.assertEqual(query(self.conn, "SELECT count(*) FROM \"All Calls\" "
                                          "WHERE org_handle = 'acme'")[0][0], 120)
        # another schema: given, or the caller's current schema by default
        got = query(self.conn, "SELECT callogs_create_org_tables('x', 'plain_srv', "
                               "ARRAY['acme'], 'Other Schema')::text")
        self.assertEqual(got, [('"Other Schema".x_acme',)])
        # a schema-qualified parent name
        got = query(self.conn, "SELECT callogs_add_org_table('\"Other Schema\".x', 'globex', "
                               "'plain_srv')::text")
        self.assertEqual(got, [('"Other Schema".x_globex',)])
        query(self.conn, "SET search_path = \"Other Schema\", public")
        try:
            got = query(self.conn, "SELECT callogs_create_org_tables('y', 'plain_srv', "
                                   "ARRAY['acme'])::text")
            self.assertEqual(got, [("y_acme",)])
            # a parent name as the caller's search_path finds it
            got = query(self.conn, "SELECT callogs_add_org_table('y', 'globex', 'plain_srv')::text")
            self.assertEqual(got, [("y_globex",)])
        finally:
            query(self.conn, "RESET search_path")
        self.assertEqual(query(self.conn, "SELECT n.nspname FROM pg_class c JOIN pg_namespace n "
                                          "ON n.oid = c.relnamespace WHERE relname = 'y_acme'"),
                         [("Other Schema",)])
        # no schema to create in
        query(self.conn, "SET search_path = no_such_schema")
        try:
            e = query_error(self.conn, "SELECT public.callogs_create_org_tables("
                                       "'z', 'plain_srv', ARRAY['acme'])")
            self.assertSqlState(e, "3F000", "no schema has been selected to create in")
        finally:
            query(self.conn, "RESET search_path")
        query(self.conn, "DROP TABLE \"All Calls\", \"Other Schema\".x, \"Other Schema\".y")

    def test_long_handles(self):
        a, b = "x" * 60, "x" * 59 + "y"
        got = query(self.conn, "SELECT callogs_create_org_tables('long', 'plain_srv', "
                               "ARRAY[%s, %s, 'k'])::text", (a, b))
        names = [r[0] for r in got]
        self.assertEqual(len(set(names)), 3, names)
        for n in names[:2]:
            self.assertRegex(n, r"^long_x{49}_[0-9a-f]{8}$")
            self.assertEqual(len(n.encode()), 63)
        self.assertEqual(names[2], "long_k")
        # multibyte: cut on a character boundary, within 63 bytes
        m = "ü" * 40
        got = query(self.conn, "SELECT callogs_add_org_table('long', %s, 'plain_srv')::text", (m,))[0][0]
        self.assertRegex(got, r"^\"long_ü{24}_[0-9a-f]{8}\"$")
        kids = self.children(query(self.conn, "SELECT 'long'::regclass::oid")[0][0])
        self.assertEqual(sorted(k[3][0] for k in kids),
                         sorted("org_handle=" + h for h in (a, b, "k", m)))
        query(self.conn, "DROP TABLE long")

    def test_bad_arguments(self):
        e = query_error(self.conn, "SELECT callogs_create_org_tables('b', 'plain_srv', "
                                   "ARRAY['acme', ''])")
        self.assertSqlState(e, "22023", "org_handle must not be empty")
        e = query_error(self.conn, "SELECT callogs_create_org_tables('b', 'plain_srv', NULL)")
        self.assertSqlState(e, "22004")
        # the same handle twice: PostgreSQL refuses the second partition
        e = query_error(self.conn, "SELECT callogs_create_org_tables('b', 'plain_srv', "
                                   "ARRAY['acme', 'acme'])")
        self.assertSqlState(e, "42P07")
        self.assertEqual(query(self.conn, "SELECT to_regclass('b')"), [(None,)],
                         "a failed call leaves nothing behind")


if __name__ == "__main__":
    unittest.main()
