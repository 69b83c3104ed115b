"""The server's url as the scan sends it (issue 9 attack, finding 3).

    /usr/bin/python3 -m unittest test/url_test.py

A url whose own query names a parameter the scan sets (page, page_size,
start_date, end_date, call_type, call_status) would send it twice, and the
API would answer with one of the two values: count(*) of the url's
call_status while a WHERE clause asks for another.  Such a url is refused
by the option validator and, for a url stored before this check, wherever
it is used (EXPLAIN, the scan).  A "next" link that changes a parameter of
the url (a cursor) means the first page did not start at the beginning: an
ERROR.  Bytes a URL may not hold raw (non-ASCII, spaces) are refused with
the percent-encoded url in the HINT.  Other query parameters are kept.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdwtest import *  # noqa: E402,F401,F403

DB = "url_test"
TAG = "urlt"


def setUpModule():
    recreate_database(DB).close()


def tearDownModule():
    drop_database(DB)


class BaseUrlQuery(FdwTestCase):
    DB = DB

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = emu_url(scenario(TAG, rows=1000, anchor="2025-11-30T00:00:00Z"))
        create_table(cls.conn, "u", cls.base)

    def set_url(self, url):
        """Store url as the server's url, bypassing the validator: a url
        stored before the check (or by an older version) must still be
        refused where it is used."""
        query(self.conn, "UPDATE pg_foreign_server SET srvoptions = "
                         "array_cat(ARRAY['url=' || %s], (SELECT array_agg(o) FROM "
                         "unnest(srvoptions) o WHERE o NOT LIKE 'url=%%')) "
                         "WHERE srvname = 'u_srv'", (url,))

    def tearDown(self):
        self.set_url(self.base)

    def test_validator_refuses_scan_parameters(self):
        for param, advice in (("call_status=missed", "WHERE condition"),
                              ("page=5", "LIMIT and OFFSET"),
                              ("page_size=3", "page_size option"),
                              ("x=1&start_date=2025-11-01", "creation_time"),
                              ("call%5Ftype=inbound", "WHERE condition")):
            e = self.assertFails("ALTER SERVER u_srv OPTIONS (SET url %s)"
                                 % sql_literal(self.base + "?" + param),
                                 FDW_INVALID_ATTRIBUTE_VALUE,
                                 r"the url sets the query parameter \"[a-z_]+\", "
                                 r"which the scan sets itself")
            self.assertIn(advice, e.diag.message_hint)

    def test_use_refuses_scan_parameters(self):
        """The tester's case: count(*) 572 (the url's missed calls) while
        WHERE call_status = 'completed' returned completed calls."""
        self.set_url(self.base + "?call_status=missed")
        emu_reset(TAG)
        for sql in ("SELECT count(*) FROM u",
                    "SELECT count(id) FROM u WHERE call_status = 'completed'",
                    "EXPLAIN SELECT * FROM u"):
            e = self.assertFails(sql, FDW_INVALID_ATTRIBUTE_VALUE,
                                 r"the url of server \"u_srv\" sets the query "
                                 r"parameter \"call_status\"")
            self.assertIn('Remove "call_status=missed" from the url option',
                          e.diag.message_hint)
        self.assertEqual(api_requests(TAG), [])

    def test_page_in_url_refused(self):
        self.set_url(self.base + "?page=5")
        self.assertFails("SELECT count(id) FROM u", FDW_INVALID_ATTRIBUTE_VALUE,
                         r"sets the query parameter \"page\"")

    def test_non_ascii_refused_with_encoded_hint(self):
        e = self.assertFails("ALTER SERVER u_srv OPTIONS (SET url %s)"
                             % sql_literal(self.base + "?q=\u20ac"),
                             FDW_INVALID_ATTRIBUTE_VALUE,
                             r"the url contains a non-ASCII character")
        self.assertIn(self.base + "?q=%E2%82%AC", e.diag.message_hint)
        self.set_url(self.base + "?q=a b")
        e = self.assertFails("SELECT count(id) FROM u", FDW_INVALID_ATTRIBUTE_VALUE,
                             r"the url of server \"u_srv\" contains a space")
        self.assertIn("ALTER SERVER u_srv OPTIONS (SET url '%s?q=a%%20b')" % self.base,
                      e.diag.message_hint)

    def test_other_parameters_kept(self):
        """Parameters the scan does not set are sent on every page, encoded
        as written; names differ by case (Page_size is not page_size)."""
        url = self.base + "?x=a+b&y=%E2%82%AC&Page_size=7"
        query(self.conn, "ALTER SERVER u_srv OPTIONS (SET url %s)" % sql_literal(url))
        emu_reset(TAG)
        self.assertEqual(query(self.conn, "SELECT count(id) FROM u")[0][0], 1000)
        log = api_requests(TAG)
        self.assertEqual(len(log), 10)
        for e in log:
            self.assertIn("?x=a+b&y=%E2%82%AC&Page_size=7&page_size=100&page=", e["path"])


class CursorInUrl(FdwTestCase):
    """links=cursor: a url carrying the cursor of page 2 makes the first
    request start at page 2; its "next" link sets another cursor."""
    DB = DB

    def test_cursor_of_url_changed_by_link(self):
        base = emu_url(scenario(TAG + "c", rows=1000, links="cursor",
                                anchor="2025-11-30T00:00:00Z"))
        create_table(self.conn, "uc", base)
        import json
        import urllib.request
        req = urllib.request.Request(base + "?page_size=100&page=1",
                                     headers={"Authorization": "Token " + TOKEN,
                                              "Org-Handle": "acme"})
        with urllib.request.urlopen(req, timeout=10) as r:
            nxt = json.loads(r.read())["next"]
        cursor = nxt.split("cursor=", 1)[1]
        query(self.conn, "ALTER SERVER uc_srv OPTIONS (SET url %s)"
                         % sql_literal(base + "?cursor=" + cursor))
        e = self.assertFails("SELECT count(id) FROM uc", FDW_INVALID_STRING_FORMAT,
                             r"link sets the query parameter \"cursor\" of the "
                             r"server's url to another value")
        self.assertIn("remove it from the url option", e.diag.message_primary)


if __name__ == "__main__":
    unittest.main()
