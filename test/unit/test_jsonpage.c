/*
 * test_jsonpage.c
 *		Unit tests for src/jsonpage.c.  No framework: CHECK prints one line
 *		per failing check; the last line is "unit: N passed, M failed".
 *
 * Run: make -s -C test/unit check
 */
#include "jsonpage.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the fuzz target itself, so regressions go through the same path */
#include "../fuzz/fuzz_jsonpage.c"

static int	npassed,
			nfailed;

#define CHECK(cond, ...) \
	do { \
		if (cond) npassed++; \
		else { \
			nfailed++; \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__); \
			putchar('\n'); \
		} \
	} while (0)

static const char *const status_names[] = {
	"OK", "SYNTAX", "DEPTH", "TOO_BIG", "TRAILING", "TRUNCATED", "NOMEM"
};

static const char *
st(ClParseStatus s)
{
	return (unsigned) s < sizeof(status_names) / sizeof(status_names[0]) ?
		status_names[s] : "?";
}

/*
 * Parse buf in chunks of `chunk` bytes (0: all at once).  Returns the
 * status; *out gets the root (caller frees) or NULL.
 */
static ClParseStatus
parse_chunked(const char *buf, size_t len, size_t chunk, size_t max_bytes,
			  int depth, ClJson **out, char *errmsg)
{
	ClJsonParser p;
	ClJson *root = NULL;
	ClParseStatus s;

	if (!cl_parser_init(&p, depth, max_bytes))
	{
		cl_parser_free(&p);
		*out = NULL;
		return CL_PARSE_NOMEM;
	}
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
	{
		size_t		n = len - off < chunk ? len - off : chunk;

		if (!cl_parser_feed(&p, buf + off, n))
			break;
	}
	root = cl_parser_finish(&p);
	s = p.status;
	if (errmsg)
		snprintf(errmsg, CL_ERRMSG_LEN, "%s", p.errmsg);
	cl_parser_free(&p);
	cl_parser_free(&p);			/* documented safe to call twice */
	*out = root;
	return s;
}

static ClParseStatus
parse_str(const char *s, size_t chunk, ClJson **out)
{
	return parse_chunked(s, strlen(s), chunk, 0, 64, out, NULL);
}

/* Status only; frees the value. */
static ClParseStatus
status_of(const char *s, size_t chunk)
{
	ClJson *o;
	ClParseStatus r = parse_str(s, chunk, &o);

	if (o)
		cl_json_free(o);
	return r;
}

static const char *const PAGE_A =
	"{\"count\": 3, \"next\": \"http://api.test/v1/call-logs?page=2\", "
	"\"previous\": null, \"data\": ["
	"{\"id\": 1, \"caller\": \"+15550100\", \"duration\": \"0:05:25\", "
	"\"start\": \"2025-11-18T10:30:00.000Z\", \"bridge\": 7},"
	"{\"id\": 2, \"caller\": \"caf\xc3\xa9 \\u00e9\\n\", \"duration\": \"12:00:00\", "
	"\"start\": \"2025-11-18T10:31:00.123Z\", \"bridge\": -1, \"tags\": [1, [2, {\"x\": null}]]}"
	"]}  \n";

static void
test_chunking(void)
{
	ClJson	   *whole,
			   *o;
	char	   *ref;
	size_t		reflen;

	CHECK(parse_str(PAGE_A, 0, &whole) == CL_PARSE_OK, "whole page");
	if (!whole)
		return;
	ref = fuzz_canonical(whole, &reflen);
	for (size_t chunk = 1; chunk <= 17; chunk++)
	{
		ClParseStatus s = parse_str(PAGE_A, chunk, &o);

		CHECK(s == CL_PARSE_OK, "chunk %zu: %s", chunk, st(s));
		if (o)
		{
			size_t		glen;
			char	   *got = fuzz_canonical(o, &glen);

			CHECK(glen == reflen && memcmp(ref, got, glen) == 0,
				  "chunk %zu differs: %s", chunk, got);
			free(got);
			cl_json_free(o);
		}
	}
	free(ref);
	cl_json_free(whole);
}

static void
test_parser_status(void)
{
	static const size_t chunks[] = {0, 1, 2, 5};
	char		err[CL_ERRMSG_LEN];
	ClJson *o;
	ClParseStatus s;

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
	{
		size_t		c = chunks[i];

		CHECK((s = status_of("{\"count\":0,\"data\":[]} x", c)) == CL_PARSE_TRAILING,
			  "trailing garbage chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"data\":[]}{}", c)) == CL_PARSE_TRAILING,
			  "second value chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"data\":[]} \r\n\t ", c)) == CL_PARSE_OK,
			  "trailing whitespace chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"data\":[", c)) == CL_PARSE_TRUNCATED,
			  "truncated chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"da", c)) == CL_PARSE_TRUNCATED,
			  "truncated in key chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":1,\"data\":[],}", c)) == CL_PARSE_SYNTAX,
			  "trailing comma chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"data\":[1,]}", c)) == CL_PARSE_SYNTAX,
			  "trailing comma in array chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{'count':1}", c)) == CL_PARSE_SYNTAX,
			  "single-quoted key, chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"a\":'x'}", c)) == CL_PARSE_SYNTAX,
			  "single-quoted value chunk %zu: %s", c, st(s));
		/*
		 * Strings are not UTF-8-checked by the parser (it is not the
		 * parser's job): convert.c validates them into the database
		 * encoding, and error messages replace invalid bytes.
		 */
		CHECK((s = status_of("{\"s\":\"\xff\"}", c)) == CL_PARSE_OK,
			  "invalid UTF-8 0xff is left to conversion, chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"s\":\"\xc3\"}", c)) == CL_PARSE_OK,
			  "truncated UTF-8 sequence is left to conversion, chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"s\":\"\xc0\xaf\"}", c)) == CL_PARSE_OK,
			  "overlong UTF-8 C0 AF is left to conversion, chunk %zu: %s", c, st(s));
		CHECK((s = status_of("[NaN]", c)) == CL_PARSE_SYNTAX,
			  "NaN, chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"data\":[tr", c)) == CL_PARSE_TRUNCATED,
			  "truncated inside a literal chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"data\":[\"ab", c)) == CL_PARSE_TRUNCATED,
			  "truncated inside a string chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"count\":0,\"data\":[12", c)) == CL_PARSE_TRUNCATED,
			  "truncated inside a number chunk %zu: %s", c, st(s));
		CHECK((s = status_of("null", c)) == CL_PARSE_SYNTAX,
			  "top-level null is refused as a page, chunk %zu: %s", c, st(s));
		CHECK((s = status_of("[null, true, false, -0.5e3]", c)) == CL_PARSE_OK,
			  "literals chunk %zu: %s", c, st(s));
		CHECK((s = status_of("{\"s\":\"\xe2\x82\xac\"}", c)) == CL_PARSE_OK,
			  "valid 3-byte UTF-8 chunk %zu: %s", c, st(s));
		CHECK((s = status_of("123", c)) == CL_PARSE_OK,
			  "bare number completes at finish chunk %zu: %s", c, st(s));
		CHECK((s = status_of("\"x\"", c)) == CL_PARSE_OK,
			  "bare string chunk %zu: %s", c, st(s));
		CHECK((s = status_of("   ", c)) == CL_PARSE_TRUNCATED,
			  "whitespace only chunk %zu: %s", c, st(s));
	}

	/* trailing garbage split so that the value ends exactly at a chunk edge */
	{
		const char *b = "{\"count\":0,\"data\":[]}garbage";
		size_t		edge = strlen("{\"count\":0,\"data\":[]}");

		CHECK((s = parse_chunked(b, strlen(b), edge, 0, 64, &o, NULL)) == CL_PARSE_TRAILING,
			  "garbage in next chunk: %s", st(s));
		CHECK(o == NULL, "no value on trailing garbage");
		if (o)
			cl_json_free(o);
	}

	/* a multi-byte character split across two feeds (libcurl chunks) */
	{
		const char *b = "{\"count\":1,\"data\":[{\"name\":\"caf\xc3\xa9\"}]}";
		size_t		at = strchr(b, '\xc3') - b + 1;	/* between C3 and A9 */

		CHECK((s = parse_chunked(b, strlen(b), at, 0, 64, &o, err)) == CL_PARSE_OK,
			  "UTF-8 split across chunks: %s (%s)", st(s), err);
		if (o)
			cl_json_free(o);
	}

	/* a malformed number split across feeds (json-c accepted "5-1" as 5) */
	CHECK((s = status_of("{\"count\":5-1,\"data\":[]}", 1)) == CL_PARSE_SYNTAX,
		  "\"5-1\" split across 1-byte feeds: %s", st(s));
	CHECK((s = status_of("{\"count\":5-1,\"data\":[]}", 0)) == CL_PARSE_SYNTAX,
		  "\"5-1\" in one feed: %s", st(s));

	/* empty body */
	CHECK((s = parse_chunked("", 0, 1, 0, 64, &o, err)) == CL_PARSE_TRUNCATED,
		  "empty body: %s", st(s));
	CHECK(o == NULL && strstr(err, "empty") != NULL, "empty body message: %s", err);

	/* depth bomb */
	{
		size_t		n = 100000;
		char	   *bomb = malloc(n);

		memset(bomb, '[', n);
		CHECK((s = parse_chunked(bomb, n, 0, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "depth bomb at once: %s", st(s));
		CHECK(o == NULL, "depth bomb value");
		CHECK((s = parse_chunked(bomb, n, 1, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "depth bomb 1-byte: %s", st(s));
		memset(bomb, '{', n);
		CHECK((s = parse_chunked(bomb, n, 0, 0, 64, &o, NULL)) == CL_PARSE_SYNTAX,
			  "'{' bomb is a syntax error (key expected): %s", st(s));
		free(bomb);
	}
	{
		char		b[200];

		memset(b, 0, sizeof(b));
		memset(b, '[', 10);
		memset(b + 10, ']', 10);
		/* max_depth N admits N nested containers (the top level is 1) */
		CHECK((s = parse_chunked(b, 20, 0, 0, 9, &o, NULL)) == CL_PARSE_DEPTH,
			  "depth 10 with limit 9: %s", st(s));
		if (o)
			cl_json_free(o);
		CHECK((s = parse_chunked(b, 20, 0, 0, 10, &o, NULL)) == CL_PARSE_OK,
			  "depth 10 with limit 10: %s", st(s));
		if (o)
			cl_json_free(o);
	}

	/* max_bytes */
	{
		const char *b = "{\"count\":0,\"data\":[]}";
		size_t		n = strlen(b);

		CHECK((s = parse_chunked(b, n, 0, n - 1, 64, &o, NULL)) == CL_PARSE_TOO_BIG,
			  "max_bytes-1 at once: %s", st(s));
		CHECK((s = parse_chunked(b, n, 1, n - 1, 64, &o, NULL)) == CL_PARSE_TOO_BIG,
			  "max_bytes-1 1-byte: %s", st(s));
		CHECK((s = parse_chunked(b, n, 3, n, 64, &o, NULL)) == CL_PARSE_OK,
			  "exactly max_bytes: %s", st(s));
		if (o)
			cl_json_free(o);
		CHECK((s = parse_chunked("12345", 5, 0, 5, 64, &o, NULL)) == CL_PARSE_OK,
			  "bare number of exactly max_bytes: %s", st(s));
		if (o)
			cl_json_free(o);
	}
	/* after an error, feed keeps failing and finish returns NULL */
	{
		ClJsonParser p;

		cl_parser_init(&p, 64, 0);
		CHECK(!cl_parser_feed(&p, "]", 1), "feed ']' fails");
		CHECK(!cl_parser_feed(&p, "{}", 2), "feed after error fails");
		CHECK(cl_parser_finish(&p) == NULL && p.status == CL_PARSE_SYNTAX,
			  "finish after error: %s", st(p.status));
		CHECK(p.errmsg[0] != '\0', "error message set");
		cl_parser_free(&p);
	}
}


/*
 * Parse doc at once and in every chunk size 1..8 (and all at once with
 * max_bytes = len): the status and the canonical tree must not change.
 * Returns the status of the parse at once.
 */
static ClParseStatus
check_invariant(const char *doc, size_t len, int depth)
{
	ClJson	   *ref,
			   *o;
	ClParseStatus s0 = parse_chunked(doc, len, 0, 0, depth, &ref, NULL);
	char	   *rc = NULL;
	size_t		rlen = 0;

	if (ref)
		rc = fuzz_canonical(ref, &rlen);
	for (size_t chunk = 1; chunk <= 9; chunk++)
	{
		ClParseStatus s = parse_chunked(doc, len, chunk == 9 ? 0 : chunk,
										chunk == 9 ? len : 0, depth, &o, NULL);
		bool		same = s == s0 && (o == NULL) == (ref == NULL);

		if (same && o)
		{
			size_t		glen;
			char	   *g = fuzz_canonical(o, &glen);

			same = glen == rlen && memcmp(g, rc, glen) == 0;
			free(g);
		}
		if (!same)
			CHECK(same, "chunk %zu of [%.60s]: %s vs at once %s", chunk, doc, st(s), st(s0));
		else
			npassed++;
		cl_json_free(o);
	}
	free(rc);
	cl_json_free(ref);
	return s0;
}

/* Strict RFC 8259 grammar, and every case independent of chunking. */
static void
test_strict_grammar(void)
{
	static const struct
	{
		const char *doc;
		ClParseStatus want;
	}			cases[] = {
		{"{'count':1}", CL_PARSE_SYNTAX},
		{"{\"a\":'x'}", CL_PARSE_SYNTAX},
		{"[NaN]", CL_PARSE_SYNTAX},
		{"[Infinity]", CL_PARSE_SYNTAX},
		{"[-Infinity]", CL_PARSE_SYNTAX},
		{"[0.]", CL_PARSE_SYNTAX},
		{"[00]", CL_PARSE_SYNTAX},
		{"[01]", CL_PARSE_SYNTAX},
		{"[-01]", CL_PARSE_SYNTAX},
		{"[+1]", CL_PARSE_SYNTAX},
		{"[.5]", CL_PARSE_SYNTAX},
		{"[1.]", CL_PARSE_SYNTAX},
		{"[1.e5]", CL_PARSE_SYNTAX},
		{"[1e]", CL_PARSE_SYNTAX},
		{"[1e+]", CL_PARSE_SYNTAX},
		{"[-]", CL_PARSE_SYNTAX},
		{"[--1]", CL_PARSE_SYNTAX},
		{"[0x10]", CL_PARSE_SYNTAX},
		{"[1,]", CL_PARSE_SYNTAX},
		{"{\"a\":1,}", CL_PARSE_SYNTAX},
		{"[,1]", CL_PARSE_SYNTAX},
		{"[1,,2]", CL_PARSE_SYNTAX},
		{"[1 2]", CL_PARSE_SYNTAX},
		{"{\"a\" 1}", CL_PARSE_SYNTAX},
		{"{\"a\":1 \"b\":2}", CL_PARSE_SYNTAX},
		{"{1:2}", CL_PARSE_SYNTAX},
		{"{a:1}", CL_PARSE_SYNTAX},
		{"[1]//c", CL_PARSE_TRAILING},
		{"[1/*c*/]", CL_PARSE_SYNTAX},
		{"//c\n[1]", CL_PARSE_SYNTAX},
		{"# c\n[1]", CL_PARSE_SYNTAX},
		{"[True]", CL_PARSE_SYNTAX},
		{"[nul]", CL_PARSE_SYNTAX},
		{"[nulll]", CL_PARSE_SYNTAX},
		{"[truefalse]", CL_PARSE_SYNTAX},
		{"[\"a\tb\"]", CL_PARSE_SYNTAX},		/* raw control character */
		{"[\"a\nb\"]", CL_PARSE_SYNTAX},
		{"[\"a\x1f\"]", CL_PARSE_SYNTAX},
		{"[\"a\x7f\"]", CL_PARSE_OK},		/* DEL is allowed */
		{"[\"\\x41\"]", CL_PARSE_SYNTAX},	/* invalid escapes */
		{"[\"\\a\"]", CL_PARSE_SYNTAX},
		{"[\"\\'\"]", CL_PARSE_SYNTAX},
		{"[\"\\u12\"]", CL_PARSE_SYNTAX},
		{"[\"\\u12G4\"]", CL_PARSE_SYNTAX},
		{"[\"\\uD800\"]", CL_PARSE_SYNTAX},	/* lone high surrogate */
		{"[\"\\uDC00\"]", CL_PARSE_SYNTAX},	/* lone low surrogate */
		{"[\"\\uD800\\u0041\"]", CL_PARSE_SYNTAX},
		{"[\"\\uD800\\uD800\"]", CL_PARSE_SYNTAX},
		{"[\"\\uD800x\"]", CL_PARSE_SYNTAX},
		{"[\"\\uD83D\\uDE00\"]", CL_PARSE_OK},
		{"[\"\\u0000\"]", CL_PARSE_OK},
		{"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", CL_PARSE_OK},
		{"[\"\xff\xfe\"]", CL_PARSE_OK},		/* UTF-8 is the backend's job */
		{"[\"\xed\xa0\x80\"]", CL_PARSE_OK},
		{"[-0, 0, -0.0e-0, 1E+2, 1e-2, 123.456e789]", CL_PARSE_OK},
		{"[99999999999999999999999999999]", CL_PARSE_OK},
		{"null", CL_PARSE_SYNTAX},
		{" null ", CL_PARSE_SYNTAX},
		{"true", CL_PARSE_OK},
		{"-", CL_PARSE_TRUNCATED},
		{"-a", CL_PARSE_SYNTAX},
		{"1.", CL_PARSE_TRUNCATED},
		{"1e", CL_PARSE_TRUNCATED},
		{"1e-", CL_PARSE_TRUNCATED},
		{"[1.", CL_PARSE_TRUNCATED},
		{"[-", CL_PARSE_TRUNCATED},
		{"{\"a\":1.", CL_PARSE_TRUNCATED},
		{"[\"\\", CL_PARSE_TRUNCATED},
		{"[\"\\u00", CL_PARSE_TRUNCATED},
		{"\"abc", CL_PARSE_TRUNCATED},
		{"[fals", CL_PARSE_TRUNCATED},
		{"{", CL_PARSE_TRUNCATED},
		{"[", CL_PARSE_TRUNCATED},
		{"{\"a\"", CL_PARSE_TRUNCATED},
		{"{\"a\":", CL_PARSE_TRUNCATED},
		{"{\"a\":[", CL_PARSE_TRUNCATED},
		{"{\"a\":[1,", CL_PARSE_TRUNCATED},
		{"{\"a\":{\"b\":", CL_PARSE_TRUNCATED},
		{"{\"data\":[{\"x\":[1,2", CL_PARSE_TRUNCATED},
		{"", CL_PARSE_TRUNCATED},
		{" \n ", CL_PARSE_TRUNCATED},
		{"[1] x", CL_PARSE_TRAILING},
		{"[1]]", CL_PARSE_TRAILING},
		{"{}{}", CL_PARSE_TRAILING},
		{"1 2", CL_PARSE_TRAILING},
		{"\"a\"\"b\"", CL_PARSE_TRAILING},
		{"truex", CL_PARSE_TRAILING},
		{"123x", CL_PARSE_TRAILING},
		{"{}\x00", CL_PARSE_TRAILING},
		{"\xef\xbb\xbf{}", CL_PARSE_SYNTAX},	/* BOM */
		{"{\"a\":1}\xc2\xa0", CL_PARSE_TRAILING},	/* NBSP is not JSON space */
		{"\f{}", CL_PARSE_SYNTAX},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		size_t		len = strlen(cases[i].doc);
		ClParseStatus s;

		if (strcmp(cases[i].doc, "{}\x00") == 0)
			len = 3;
		s = check_invariant(cases[i].doc, len, 64);
		CHECK(s == cases[i].want, "[%s]: %s, want %s", cases[i].doc, st(s),
			  st(cases[i].want));
	}
	/* the same set, each inside a page's data array (the streamed path) */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		doc[256];
		ClParseStatus s,
					want = cases[i].want;

		if (cases[i].doc[0] != '[' || strchr(cases[i].doc, ']') == NULL ||
			strstr(cases[i].doc, "]]") != NULL || strstr(cases[i].doc, "//") != NULL)
			continue;
		snprintf(doc, sizeof(doc), "{\"count\":1,\"data\":[{\"v\":%s}]}", cases[i].doc);
		if (want == CL_PARSE_TRAILING)
			want = CL_PARSE_SYNTAX;		/* not at the end any more */
		s = check_invariant(doc, strlen(doc), 64);
		CHECK(s == want, "in a row [%s]: %s, want %s", doc, st(s), st(want));
	}

	/* top-level null has its own message */
	{
		char		err[CL_ERRMSG_LEN];
		ClJson	   *o;

		CHECK(parse_chunked("null", 4, 1, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strstr(err, "JSON null") != NULL, "null message: %s", err);
		CHECK(parse_chunked("[1,]", 4, 0, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strstr(err, "byte") != NULL, "syntax message has the offset: %s", err);
	}
}

/* Exact content of the tree: types, raw text, decoded strings, keys. */
static void
test_tree(void)
{
	const char *doc =
		"{\"count\": 2, \"k\\u00e9y\": \"caf\\u00e9\\ud83d\\ude00\", \"nul\": \"a\\u0000b\","
		" \"n\": null, \"t\": true, \"f\": false, \"d\": -1.5e+3, \"big\": 123456789012345678901,"
		" \"o\": {\"x\": [1, {\"y\": \"z\"}], \"x\": 2}, \"esc\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\","
		" \"data\": [ {\"id\": 1, \"tags\": [ \"a\" , [ ] ]}, [1 ,2], \"s\", 7 ] }";
	char		err[CL_ERRMSG_LEN];
	ClJson	   *r = cl_json_parse(doc, strlen(doc), 64, err, sizeof(err));
	ClJson	   *v,
			   *w;

	CHECK(r != NULL, "tree doc: %s", err);
	if (r == NULL)
		return;
	CHECK(check_invariant(doc, strlen(doc), 64) == CL_PARSE_OK, "tree doc chunked");
	CHECK(cl_type(r) == CL_JSON_OBJECT && r->n == 11, "root: %s n=%zu", cl_type_name(r), r->n);
	CHECK(strcmp(r->raw, "{...}") == 0 && r->raw_len == 5, "streamed root raw: %s", r->raw);
	CHECK(r->members[1].key_len == 4 && memcmp(r->members[1].key, "k\xc3\xa9y", 4) == 0,
		  "escaped key decoded");
	v = r->members[1].value;
	CHECK(cl_type(v) == CL_JSON_STRING && v->str_len == 9 &&
		  memcmp(v->str, "caf\xc3\xa9\xf0\x9f\x98\x80", 9) == 0,
		  "surrogate pair to 4-byte UTF-8: len %zu", v->str_len);
	CHECK(strcmp(v->raw, "\"caf\\u00e9\\ud83d\\ude00\"") == 0, "string raw: %s", v->raw);
	CHECK(cl_object_get(r, "nul", &v) && v->str_len == 3 && memcmp(v->str, "a\0b", 4) == 0,
		  "\\u0000 gives a NUL counted in str_len");
	CHECK(cl_object_get(r, "n", &v) && v != NULL && cl_type(v) == CL_JSON_NULL &&
		  strcmp(v->raw, "null") == 0, "JSON null is a node");
	CHECK(!cl_object_get(r, "absent", &v) && v == NULL, "absent key");
	CHECK(!cl_object_get(v, "x", &w), "get on NULL");
	CHECK(cl_object_get(r, "t", &v) && cl_type(v) == CL_JSON_BOOLEAN && v->boolean, "true");
	CHECK(cl_object_get(r, "f", &v) && cl_type(v) == CL_JSON_BOOLEAN && !v->boolean, "false");
	CHECK(cl_object_get(r, "d", &v) && cl_type(v) == CL_JSON_DOUBLE &&
		  strcmp(v->raw, "-1.5e+3") == 0, "double raw: %s", v ? v->raw : "");
	CHECK(cl_object_get(r, "big", &v) && cl_type(v) == CL_JSON_INT && !v->int_ok &&
		  strcmp(v->raw, "123456789012345678901") == 0, "big int kept exact");
	CHECK(cl_object_get(r, "o", &v) && cl_type(v) == CL_JSON_OBJECT && v->n == 2 &&
		  strcmp(v->raw, "{\"x\": [1, {\"y\": \"z\"}], \"x\": 2}") == 0,
		  "nested object raw: %s", v ? v->raw : "");
	CHECK(cl_object_get(v, "x", &w) && cl_type(w) == CL_JSON_INT && w->i == 2,
		  "duplicate key: last wins");
	CHECK(cl_type(v->members[0].value) == CL_JSON_ARRAY &&
		  strcmp(v->members[0].value->raw, "[1, {\"y\": \"z\"}]") == 0, "inner array raw");
	CHECK(cl_object_get(r, "esc", &v) && v->str_len == 8 &&
		  memcmp(v->str, "\"\\/\b\f\n\r\t", 8) == 0, "simple escapes");
	CHECK(cl_object_get(r, "data", &v) && cl_type(v) == CL_JSON_ARRAY && v->n == 4 &&
		  strcmp(v->raw, "[...]") == 0, "data streamed: raw %s", v ? v->raw : "");
	if (v && v->n == 4)
	{
		CHECK(strcmp(v->elements[0]->raw, "{\"id\": 1, \"tags\": [ \"a\" , [ ] ]}") == 0,
			  "row raw: %s", v->elements[0]->raw);
		CHECK(strcmp(v->elements[1]->raw, "[1 ,2]") == 0 && v->elements[1]->n == 2,
			  "array in data raw: %s", v->elements[1]->raw);
		CHECK(cl_type(v->elements[2]) == CL_JSON_STRING && cl_type(v->elements[3]) == CL_JSON_INT,
			  "scalars in data");
	}
	CHECK(strcmp(cl_type_name(NULL), "null") == 0, "type name of NULL");
	cl_json_free(r);
	cl_json_free(NULL);

	/* a top-level array streams; arrays inside it are parsed whole */
	r = cl_json_parse("[[1], {\"a\":[2]}]", 16, 64, err, sizeof(err));
	CHECK(r && strcmp(r->raw, "[...]") == 0 && r->n == 2 &&
		  strcmp(r->elements[0]->raw, "[1]") == 0, "top array: %s", r ? r->raw : err);
	cl_json_free(r);
	/* a bare scalar keeps its text */
	r = cl_json_parse(" 42 ", 4, 64, err, sizeof(err));
	CHECK(r && cl_type(r) == CL_JSON_INT && r->i == 42 && strcmp(r->raw, "42") == 0,
		  "bare int");
	cl_json_free(r);
	r = cl_json_parse("[1", 2, 64, err, sizeof(err));
	CHECK(r == NULL && strstr(err, "incomplete") != NULL, "cl_json_parse error: %s", err);
}

/* Nesting: the top-level container counts as depth 1. */
static void
test_depth(void)
{
	char		b[300];
	ClJson	   *o;
	ClParseStatus s;

	for (int n = 58; n <= 66; n++)
	{
		memset(b, '[', (size_t) n);
		memset(b + n, ']', (size_t) n);
		s = check_invariant(b, 2 * (size_t) n, 64);
		CHECK(s == (n <= 64 ? CL_PARSE_OK : CL_PARSE_DEPTH),
			  "%d-deep array with limit 64: %s", n, st(s));
	}
	/* objects and the streamed data array count too */
	{
		char		d[600];
		size_t		k = 0;

		k += (size_t) sprintf(d + k, "{\"count\":0,\"data\":[");	/* depth 2 */
		for (int i = 0; i < 58; i++)
			k += (size_t) sprintf(d + k, "{\"a\":");				/* 3..60 */
		k += (size_t) sprintf(d + k, "1");
		for (int i = 0; i < 58; i++)
			d[k++] = '}';
		d[k++] = ']';
		d[k++] = '}';
		d[k] = '\0';
		CHECK((s = check_invariant(d, k, 64)) == CL_PARSE_OK, "60-deep page: %s", st(s));
		CHECK((s = check_invariant(d, k, 60)) == CL_PARSE_OK, "60-deep page, limit 60: %s", st(s));
		CHECK((s = check_invariant(d, k, 59)) == CL_PARSE_DEPTH, "60-deep page, limit 59: %s", st(s));
	}
	CHECK((s = check_invariant("{\"data\":[]}", 11, 1)) == CL_PARSE_DEPTH,
		  "streamed data array at depth 2, limit 1: %s", st(s));
	CHECK((s = check_invariant("{\"data\":[]}", 11, 2)) == CL_PARSE_OK,
		  "streamed data array at depth 2, limit 2: %s", st(s));
	CHECK((s = check_invariant("{\"o\":{}}", 8, 1)) == CL_PARSE_DEPTH,
		  "object at depth 2, limit 1: %s", st(s));
	CHECK((s = check_invariant("[[]]", 4, 1)) == CL_PARSE_DEPTH,
		  "array at depth 2, limit 1: %s", st(s));
	CHECK((s = check_invariant("[]", 2, 1)) == CL_PARSE_OK, "[] limit 1: %s", st(s));
	CHECK((s = check_invariant("[1]", 3, 1)) == CL_PARSE_OK, "[1] limit 1: %s", st(s));

	/* a deep bomb inside a row, and of objects */
	{
		size_t		n = 100000;
		char	   *bomb = malloc(n + 32);
		size_t		k = (size_t) sprintf(bomb, "{\"count\":0,\"data\":[");

		memset(bomb + k, '[', n - k);
		CHECK((s = parse_chunked(bomb, n, 0, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "bomb in data at once: %s", st(s));
		CHECK((s = parse_chunked(bomb, n, 1, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "bomb in data 1-byte: %s", st(s));
		k = (size_t) sprintf(bomb, "[");
		for (; k + 5 < n; k += 5)
			memcpy(bomb + k, "{\"a\":", 5);
		CHECK((s = parse_chunked(bomb, k, 0, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "object bomb at once: %s", st(s));
		CHECK((s = parse_chunked(bomb, k, 7, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "object bomb 7-byte: %s", st(s));
		free(bomb);
	}
}

/* Decode a literal; returns the decode result, err filled. */
static bool
decode(const char *json, ClPage *page, char *err, ClJson **root)
{
	ClParseStatus s = parse_str(json, 0, root);

	err[0] = '\0';
	if (s != CL_PARSE_OK || *root == NULL)
	{
		snprintf(err, CL_ERRMSG_LEN, "parse failed: %s", st(s));
		return false;
	}
	return cl_page_decode(*root, page, err, CL_ERRMSG_LEN);
}

#define DECODE_FAILS(json, needle) \
	do { \
		ClPage pg; char e[CL_ERRMSG_LEN]; ClJson *r = NULL; \
		bool ok_ = decode(json, &pg, e, &r); \
		CHECK(!ok_ && strstr(e, needle) != NULL, \
			  "decode %s: ok=%d err=\"%s\" (want \"%s\")", json, ok_, e, needle); \
		if (r) cl_json_free(r); \
	} while (0)

static void
test_page_decode(void)
{
	ClPage		pg;
	char		e[CL_ERRMSG_LEN];
	ClJson *r = NULL;
	bool		ok;

	ok = decode(PAGE_A, &pg, e, &r);
	CHECK(ok, "page A: %s", e);
	if (ok)
	{
		CHECK(pg.count == 3, "count %lld", (long long) pg.count);
		CHECK(pg.ndata == 2, "ndata %zu", pg.ndata);
		CHECK(pg.root == r, "root");
		CHECK(pg.next && strcmp(pg.next, "http://api.test/v1/call-logs?page=2") == 0 &&
			  pg.next_len == strlen(pg.next), "next %s", pg.next ? pg.next : "(null)");
	}
	cl_json_free(r);

	DECODE_FAILS("[]", "array");
	DECODE_FAILS("\"x\"", "string");
	DECODE_FAILS("42", "int");
	DECODE_FAILS("{\"count\":0}", "\"data\"");
	DECODE_FAILS("{\"count\":0,\"data\":{}}", "\"data\" is a JSON object");
	DECODE_FAILS("{\"count\":0,\"data\":null}", "\"data\" is a JSON null");
	DECODE_FAILS("{\"count\":0,\"data\":\"[]\"}", "not an array");
	DECODE_FAILS("{\"data\":[]}", "no \"count\"");
	DECODE_FAILS("{\"count\":-1,\"data\":[]}", "-1");
	DECODE_FAILS("{\"count\":\"5\",\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":1.5,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":1.0,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":1e3,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":null,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":true,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":9223372036854775808,\"data\":[]}", "count");	/* 2^63 */
	DECODE_FAILS("{\"count\":18446744073709551615,\"data\":[]}", "count");	/* 2^64-1 */
	DECODE_FAILS("{\"count\":18446744073709551616,\"data\":[]}", "count");	/* 2^64 */
	DECODE_FAILS("{\"count\":99999999999999999999999,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":-9223372036854775809,\"data\":[]}", "count");
	DECODE_FAILS("{\"count\":9223372036854775808,\"data\":[]}",
				 "\"count\" is out of the 64-bit integer range");
	DECODE_FAILS("{\"count\":99999999999999999999999,\"data\":[]}",
				 "\"count\" is out of the 64-bit integer range");
	DECODE_FAILS("{\"count\":-9223372036854775808,\"data\":[]}", "-9223372036854775808");
	DECODE_FAILS("{\"count\":-0.5,\"data\":[]}", "-0.5");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":true}", "\"next\" is a JSON boolean");
	DECODE_FAILS("{\"count\":0,\"data\":1.5}", "\"data\" is a JSON double");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":5}", "\"next\" is a JSON int");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":{}}", "\"next\"");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":\"a\\u0000b\"}", "NUL");

	ok = decode("{\"count\":9223372036854775807,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.count == INT64_MAX, "2^63-1: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":9223372036854775806,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.count == INT64_C(9223372036854775806), "2^63-2: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":0,\"data\":[],\"next\":null}", &pg, e, &r);
	CHECK(ok && pg.next == NULL && pg.ndata == 0, "next null: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":0,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.next == NULL && pg.count == 0, "next absent: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":0,\"data\":[],\"next\":\"\"}", &pg, e, &r);
	CHECK(ok && pg.next == NULL, "next empty string: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":7,\"data\":[1,\"x\",{}],\"next\":\"/p?page=3\"}", &pg, e, &r);
	CHECK(ok && pg.next && pg.next_len == 9 && pg.ndata == 3 && pg.count == 7,
		  "next string: %s", e);
	cl_json_free(r);

	/* duplicate keys: the last one wins (as in jsonb) */
	ok = decode("{\"count\":-1,\"count\":2,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.count == 2, "duplicate count: %s", e);
	cl_json_free(r);

	/* cl_json_get_int64 directly */
	{
		int64_t		v = 123;
		ClJson	   *o = cl_json_parse("[9223372036854775807, -9223372036854775808, -42, "
									  "3.0, 9223372036854775808, -9223372036854775809, "
									  "\"5\", null, -0]",
									  strlen("[9223372036854775807, -9223372036854775808, -42, "
											 "3.0, 9223372036854775808, -9223372036854775809, "
											 "\"5\", null, -0]"), 64, e, sizeof(e));

		CHECK(o != NULL && o->n == 9, "int64 array: %s", e);
		if (o != NULL && o->n == 9)
		{
			CHECK(cl_json_get_int64(o->elements[0], &v) && v == INT64_MAX, "INT64_MAX exact");
			CHECK(cl_json_get_int64(o->elements[1], &v) && v == INT64_MIN, "INT64_MIN exact");
			CHECK(cl_json_get_int64(o->elements[2], &v) && v == -42, "-42");
			v = 123;
			CHECK(!cl_json_get_int64(o->elements[3], &v) && v == 123, "double refused");
			CHECK(cl_type(o->elements[3]) == CL_JSON_DOUBLE, "3.0 is a double");
			CHECK(!cl_json_get_int64(o->elements[4], &v) && v == 123, "2^63 refused");
			CHECK(cl_type(o->elements[4]) == CL_JSON_INT && !o->elements[4]->int_ok &&
				  strcmp(o->elements[4]->raw, "9223372036854775808") == 0,
				  "2^63 kept as text: %s", o->elements[4]->raw);
			CHECK(!cl_json_get_int64(o->elements[5], &v) && !o->elements[5]->int_ok &&
				  strcmp(o->elements[5]->raw, "-9223372036854775809") == 0,
				  "-2^63-1 refused, kept as text");
			CHECK(!cl_json_get_int64(o->elements[6], &v), "string refused");
			CHECK(!cl_json_get_int64(o->elements[7], &v), "null refused");
			CHECK(cl_json_get_int64(o->elements[8], &v) && v == 0, "-0");
		}
		cl_json_free(o);
		CHECK(!cl_json_get_int64(NULL, &v), "NULL refused");
	}
}

static void
test_error_message(void)
{
	char		out[64];
	const char *m;

#define EM(s) cl_error_message((s), strlen(s), out, sizeof(out))
	m = EM("{\"message\": \"Invalid API key\"}");
	CHECK(m && strcmp(m, "Invalid API key") == 0, "message: %s", m ? m : "(null)");
	m = EM("{\"detail\": \"Not found.\"}");
	CHECK(m && strcmp(m, "Not found.") == 0, "detail: %s", m ? m : "(null)");
	m = EM("{\"error\": \"rate limited\", \"message\": \"slow down\"}");
	CHECK(m && strcmp(m, "slow down") == 0, "message wins: %s", m ? m : "(null)");
	m = EM("{\"message\": 42, \"error\": \"boom\"}");
	CHECK(m && strcmp(m, "boom") == 0, "non-string message skipped: %s", m ? m : "(null)");
	m = EM("<html><head><title>500 Internal Server Error</title></head></html>");
	CHECK(m == NULL, "HTML body: %s", m);
	m = EM("");
	CHECK(m == NULL, "empty body");
	CHECK(cl_error_message(NULL, 5, out, sizeof(out)) == NULL, "NULL body");
	m = EM("{\"message\": \"\"}");
	CHECK(m == NULL, "empty message");
	m = EM("{\"other\": \"x\"}");
	CHECK(m == NULL, "no message key");
	m = EM("[\"message\"]");
	CHECK(m == NULL, "array body");
	m = EM("{\"message\": \"a\\u0000b\\tc\\nd\\u001fe\\u007ff\"}");
	CHECK(m && strcmp(m, "a b c d e f") == 0, "control chars: [%s]", m ? m : "(null)");
	CHECK(cl_error_message("{\"message\":\"x\"}", 15, out, 7) == NULL, "outlen < 8");
	/* body not NUL-terminated: only len bytes are read */
	{
		char		b[20];

		memcpy(b, "{\"message\":\"hi\"}XXX", 19);
		b[19] = 'Y';
		m = cl_error_message(b, 16, out, sizeof(out));
		CHECK(m && strcmp(m, "hi") == 0, "unterminated body: %s", m ? m : "(null)");
	}

	/* long ASCII message: shortened with "..." */
	{
		char		body[600];
		char		big[256];

		strcpy(body, "{\"message\": \"");
		for (int i = 0; i < 500; i++)
			strcat(body, "x");
		strcat(body, "\"}");
		m = cl_error_message(body, strlen(body), out, sizeof(out));
		CHECK(m && strlen(m) < sizeof(out) && strlen(m) > 40 &&
			  strcmp(m + strlen(m) - 3, "...") == 0, "long: %s", m ? m : "(null)");
		m = cl_error_message(body, strlen(body), big, sizeof(big));
		CHECK(m && strlen(m) < sizeof(big) && strlen(m) > 200 &&
			  strcmp(m + strlen(m) - 3, "...") == 0, "long 256: %zu", m ? strlen(m) : 0);
	}
	/* long multibyte message: never a split UTF-8 sequence, at any outlen */
	{
		static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};

		for (int c = 0; c < 3; c++)
		{
			char		body[1200];
			char		o2[128];

			strcpy(body, "{\"message\": \"a");
			for (int i = 0; i < 150; i++)
				strcat(body, chars[c]);
			strcat(body, "\"}");
			for (size_t outlen = 8; outlen <= sizeof(o2); outlen++)
			{
				size_t		n,
							i = 0;
				bool		valid = true;

				m = cl_error_message(body, strlen(body), o2, outlen);
				if (!m)
				{
					CHECK(m != NULL, "multibyte %d outlen %zu: NULL", c, outlen);
					continue;
				}
				n = strlen(m);
				/* walk the UTF-8 before the "..." */
				if (n < 3 || strcmp(m + n - 3, "...") != 0 || n >= outlen)
					valid = false;
				else
				{
					n -= 3;
					while (i < n)
					{
						unsigned char b = (unsigned char) m[i];
						size_t		l = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;

						if (l == 0 || i + l > n)
						{
							valid = false;
							break;
						}
						i += l;
					}
				}
				if (!valid)
					CHECK(valid, "multibyte %d outlen %zu: [%s]", c, outlen, m);
				else
					npassed++;
			}
		}
	}
	/* a message that fits exactly is not shortened */
	{
		m = cl_error_message("{\"message\":\"0123456789\"}", 24, out, 15);
		CHECK(m && strcmp(m, "0123456789") == 0, "exact fit: %s", m ? m : "(null)");
	}
#undef EM
}

static bool
ts(const char *s, ClTimestamp *t)
{
	return cl_parse_timestamp(s, strlen(s), t);
}

static void
test_timestamp(void)
{
	ClTimestamp t;

	CHECK(ts("2025-11-18T10:30:00.000Z", &t) && t.year == 2025 && t.month == 11 &&
		  t.day == 18 && t.hour == 10 && t.minute == 30 && t.second == 0 &&
		  t.usec == 0 && t.has_tz && t.tz_offset == 0, "ms Z");
	CHECK(ts("2025-11-18T10:30:00.123Z", &t) && t.usec == 123000, "ms value %d", t.usec);
	CHECK(ts("2026-02-07T05:57:00Z", &t) && t.year == 2026 && t.month == 2 &&
		  t.day == 7 && t.hour == 5 && t.minute == 57 && t.has_tz, "no ms");
	CHECK(ts("2026-02-07T05:57:00+05:30", &t) && t.has_tz &&
		  t.tz_offset == 5 * 3600 + 30 * 60, "+05:30 -> %d", t.tz_offset);
	CHECK(ts("2026-02-07T05:57:00-0800", &t) && t.has_tz &&
		  t.tz_offset == -8 * 3600, "-0800 -> %d", t.tz_offset);
	CHECK(ts("2026-02-07T05:57:00-08", &t) && t.tz_offset == -8 * 3600, "-08");
	CHECK(ts("2026-02-07t05:57:00z", &t) && t.has_tz, "lowercase t/z");
	CHECK(ts("2026-02-07 05:57:00", &t) && !t.has_tz, "space, no zone");
	CHECK(ts("2026-02-07T05:57", &t) && t.second == 0, "no seconds");
	CHECK(ts("2026-02-07T05:57:00.123456Z", &t) && t.usec == 123456, "6 digits");
	CHECK(ts("2026-02-07T05:57:00.5", &t) && t.usec == 500000, "1 digit");
	CHECK(!ts("2026-02-07T05:57:00.1234567Z", &t), "7 digits -> fallback");
	CHECK(!ts("2026-02-07T05:57:00.Z", &t), "dot without digits");
	CHECK(ts("2024-02-29T00:00:00Z", &t) && t.day == 29, "Feb 29 leap");
	CHECK(ts("2000-02-29T00:00:00Z", &t), "Feb 29 2000");
	CHECK(!ts("2025-02-29T00:00:00Z", &t), "Feb 29 non-leap");
	CHECK(!ts("1900-02-29T00:00:00Z", &t), "Feb 29 1900");
	CHECK(!ts("2025-04-31T00:00:00Z", &t), "Apr 31");
	CHECK(!ts("2025-13-01T00:00:00Z", &t), "month 13");
	CHECK(!ts("2025-00-01T00:00:00Z", &t), "month 0");
	CHECK(!ts("2025-01-00T00:00:00Z", &t), "day 0");
	CHECK(!ts("0000-01-01T00:00:00Z", &t), "year 0");
	CHECK(!ts("2025-11-18T24:00:00Z", &t), "hour 24");
	CHECK(!ts("2025-11-18T23:60:00Z", &t), "minute 60");
	CHECK(!ts("2025-11-18T23:59:60Z", &t), "leap second -> fallback");
	CHECK(!ts("2025-11-18T10:30:00+15:00", &t), "offset +15");
	CHECK(!ts("2025-11-18T10:30:00+05:60", &t), "offset minutes 60");
	CHECK(!ts("2025-11-18T10:30:00+5", &t), "offset one digit");
	CHECK(!ts("2025-11-18T10:30:00+05:", &t), "offset with dangling colon");
	CHECK(!ts("2025-11-18T10:30:00+05:3", &t), "offset one minute digit");
	CHECK(ts("2025-11-18T10:30:00+14:00", &t) && t.tz_offset == 14 * 3600, "offset +14");
	CHECK(!ts("2025-11-18T10:30:00Zjunk", &t), "junk after Z");
	CHECK(!ts("2025-11-18T10:30:00ZZ", &t), "ZZ");
	CHECK(!ts("2025-11-18", &t), "date only -> fallback");
	CHECK(!ts("2025-11-18T", &t), "T only");
	CHECK(!ts("2025-11-18T10", &t), "hour only");
	CHECK(!ts("2025-1-18T10:30:00Z", &t), "unpadded month");
	CHECK(!ts("garbage", &t), "garbage");
	CHECK(!ts("", &t), "empty");
	CHECK(!ts("20251118T103000Z", &t), "basic format -> fallback");
	CHECK(!ts("-2025-11-18T10:30:00Z", &t), "negative year");
	/* length is honoured: no read past len, and a prefix is parsed alone */
	CHECK(cl_parse_timestamp("2025-11-18T10:30:00Zxyz", 20, &t) && t.has_tz, "len prefix");
	CHECK(!cl_parse_timestamp("2025-11-18T10:30:00Z", 19 - 3, &t) || t.second == 0,
		  "short len");
	{
		/* every prefix of a valid string, in an exact-size heap buffer (ASan) */
		const char *full = "2025-11-18T10:30:00.123+05:30";

		for (size_t n = 0; n <= strlen(full); n++)
		{
			char	   *b = malloc(n ? n : 1);

			memcpy(b, full, n);
			(void) cl_parse_timestamp(b, n, &t);
			npassed++;
			free(b);
		}
	}
}

static bool
dur(const char *s, int64_t *u)
{
	return cl_parse_duration(s, strlen(s), u);
}

static void
test_duration(void)
{
	int64_t		u = -7;

	CHECK(dur("0:05:25", &u) && u == INT64_C(325000000), "0:05:25 -> %lld", (long long) u);
	CHECK(dur("12:00:00", &u) && u == INT64_C(43200) * 1000000, "12:00:00");
	CHECK(dur("123:59:59", &u) && u == (INT64_C(123) * 3600 + 59 * 60 + 59) * 1000000,
		  "123:59:59");
	CHECK(dur("00:00:00", &u) && u == 0, "zero");
	CHECK(dur("0:00:01.5", &u) && u == 1500000, "fraction .5 -> %lld", (long long) u);
	CHECK(dur("0:00:01.000001", &u) && u == 1000001, "fraction 6 digits");
	CHECK(!dur("0:00:01.0000001", &u), "fraction 7 digits");
	CHECK(!dur("0:00:01.", &u), "dot without digits");
	CHECK(dur("9999999:59:59", &u) && u > 0, "7-digit hours");
	CHECK(!dur("10000000:00:00", &u), "8-digit hours");
	CHECK(!dur("1:60:00", &u), "1:60:00");
	CHECK(!dur("1:00:60", &u), "1:00:60");
	CHECK(!dur("5:25", &u), "5:25");
	CHECK(!dur("", &u), "empty");
	CHECK(!dur(":05:25", &u), "no hours");
	CHECK(!dur("1:5:25", &u), "unpadded minutes");
	CHECK(!dur("-1:00:00", &u), "negative");
	CHECK(!dur("1:00:00 ", &u), "trailing space");
	CHECK(!dur("325", &u), "integer seconds -> not this form");
	CHECK(!dur("PT5M25S", &u), "ISO 8601 duration -> fallback");
	CHECK(cl_parse_duration("0:05:25junk", 7, &u) && u == 325000000, "len honoured");
	{
		const char *full = "123:59:59.999";

		for (size_t n = 0; n <= strlen(full); n++)
		{
			char	   *b = malloc(n ? n : 1);

			memcpy(b, full, n);
			(void) cl_parse_duration(b, n, &u);
			npassed++;
			free(b);
		}
	}
}

/* Feed a few whole documents through the fuzz target (ASan/UBSan watch). */
static void
test_fuzz_target(void)
{
	static const char *const docs[] = {
		"",
		"{\"count\":1,\"data\":[{\"id\":1,\"start\":\"2025-11-18T10:30:00.000Z\",\"duration\":\"0:05:25\"}]}",
		"{\"message\":\"nope\"}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		for (int b = 0; b < 256; b += 5)
		{
			size_t		n = strlen(docs[i]) + 1;
			uint8_t    *buf = malloc(n);

			buf[0] = (uint8_t) b;
			memcpy(buf + 1, docs[i], n - 1);
			CHECK(LLVMFuzzerTestOneInput(buf, n) == 0, "fuzz target doc %zu", i);
			free(buf);
		}
}

/* Every file in test/fuzz/regressions/ through the fuzz target. */
static void
test_regressions(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	int			nfiles = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
	{
		char		path[4096];
		FILE	   *f;
		uint8_t    *buf;
		long		n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		if (n < 0)
			n = 0;
		buf = malloc(n ? (size_t) n : 1);
		n = (long) fread(buf, 1, (size_t) n, f);
		fclose(f);
		printf("regression: %s (%ld bytes)\n", de->d_name, n);
		fflush(stdout);
		CHECK(LLVMFuzzerTestOneInput(buf, (size_t) n) == 0, "regression %s", de->d_name);
		free(buf);
		nfiles++;
	}
	closedir(d);
	(void) nfiles;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_chunking();
	test_parser_status();
	test_strict_grammar();
	test_tree();
	test_depth();
	test_page_decode();
	test_error_message();
	test_timestamp();
	test_duration();
	test_fuzz_target();
	test_regressions(argc > 1 ? argv[1] : "../fuzz/regressions");
	printf("unit: %d passed, %d failed\n", npassed, nfailed);
	return nfailed > 0 ? 1 : 0;
}
