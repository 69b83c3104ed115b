/*-------------------------------------------------------------------------
 *
 * test_jsonpage.c
 *		Unit tests of src/jsonpage.c (the page decoder over json-c), built
 *		with AddressSanitizer and UndefinedBehaviorSanitizer, without
 *		PostgreSQL.  No framework: CHECK prints one line per failing check;
 *		the last line is "unit: N passed, M failed".
 *
 * Run: make -s -C test/unit check
 *
 * IDENTIFICATION
 *		  test/unit/test_jsonpage.c
 *
 *-------------------------------------------------------------------------
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
	"OK", "SYNTAX", "DEPTH", "TOO_BIG", "TRAILING", "TRUNCATED", "NOMEM", "BUDGET"
};

static const char *
st(ClParseStatus s)
{
	return (unsigned) s < sizeof(status_names) / sizeof(status_names[0]) ?
		status_names[s] : "?";
}

/*
 * Parse buf in chunks of `chunk` bytes (0: all at once), with max_bytes,
 * depth and budget.  Returns the status; *out gets the root (caller frees)
 * or NULL; errmsg (if given) the parser's message.
 */
static ClParseStatus
parse_full(const char *buf, size_t len, size_t chunk, size_t max_bytes,
		   int depth, ClBudget *budget, ClJson **out, char *errmsg)
{
	ClJsonParser p;
	ClJson	   *root = NULL;
	ClParseStatus s;

	if (!cl_parser_init(&p, depth, max_bytes, budget))
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
parse_chunked(const char *buf, size_t len, size_t chunk, size_t max_bytes,
			  int depth, ClJson **out, char *errmsg)
{
	return parse_full(buf, len, chunk, max_bytes, depth, NULL, out, errmsg);
}

static ClParseStatus
parse_str(const char *s, size_t chunk, ClJson **out)
{
	return parse_chunked(s, strlen(s), chunk, 0, 64, out, NULL);
}

/* A page as the API sends it (variant A and B rows). */
static const char *const PAGE_A =
	"{\"count\": 3, \"status_code\": 200, \"message\": \"Call logs fetched successfully\", "
	"\"next\": \"http://api.test/v1/call-logs?page=2\", \"previous\": null, \"data\": ["
	"{\"id\": \"call_abc123def456\", \"source_number\": \"+919876543210\", "
	"\"destination_number\": \"+911234567890\", \"call_type\": \"outbound\", "
	"\"call_status\": \"completed\", \"creation_time\": \"2025-11-18T10:30:00.000Z\", "
	"\"start_time\": \"2025-11-18T10:30:05.000Z\", \"end_time\": \"2025-11-18T10:35:30.000Z\", "
	"\"call_duration\": \"0:05:25\", \"end_reason\": \"customer-ended-call\", \"bridge\": 1},"
	"{\"source_number\": \"caf\xc3\xa9 \\u00e9\\n\", \"call_type\": \"inbound\", "
	"\"call_status\": \"missed\", \"creation_time\": \"2026-02-07T05:57:00Z\", "
	"\"start_time\": null, \"end_time\": null, \"call_duration\": 207, "
	"\"end_reason\": \"no_answer\", \"tags\": [1, -2.50e+1, [true, {\"x\": null}]]}"
	"]}  \n";

/*
 * Every way of cutting doc into two feeds, and into chunks of 1..17 bytes,
 * gives the same status, message and tree as one feed.
 */
static void
check_every_split(const char *doc, size_t len, int depth)
{
	ClJson	   *ref,
			   *o;
	char		rerr[CL_ERRMSG_LEN],
				err[CL_ERRMSG_LEN];
	ClParseStatus s0 = parse_chunked(doc, len, 0, 0, depth, &ref, rerr);
	char	   *rc = NULL;
	size_t		rlen = 0;
	int			bad = 0;

	if (ref)
		rc = fuzz_canonical(ref, &rlen);
	for (size_t k = 1; k < len + 17; k++)
	{
		ClJsonParser p;
		ClParseStatus s;
		bool		same;

		if (k < len)
		{
			/* two feeds: [0, k) and [k, len) */
			cl_parser_init(&p, depth, 0, NULL);
			if (cl_parser_feed(&p, doc, k))
				(void) cl_parser_feed(&p, doc + k, len - k);
			o = cl_parser_finish(&p);
			s = p.status;
			snprintf(err, sizeof(err), "%s", p.errmsg);
			cl_parser_free(&p);
		}
		else
			s = parse_chunked(doc, len, k - len + 1, 0, depth, &o, err);
		same = s == s0 && strcmp(err, rerr) == 0 && (o == NULL) == (ref == NULL);
		if (same && o)
		{
			size_t		glen;
			char	   *g = fuzz_canonical(o, &glen);

			same = glen == rlen && memcmp(g, rc, glen) == 0;
			free(g);
		}
		if (!same && bad++ < 3)
			CHECK(same, "%s %zu of [%.50s]: %s (%s) vs at once %s (%s)",
				  k < len ? "split at" : "chunks of", k < len ? k : k - len + 1,
				  doc, st(s), err, st(s0), rerr);
		cl_json_free(o);
	}
	if (bad == 0)
		npassed++;
	free(rc);
	cl_json_free(ref);
}

static void
test_chunking(void)
{
	ClJson	   *whole;

	CHECK(parse_str(PAGE_A, 0, &whole) == CL_PARSE_OK, "whole page");
	cl_json_free(whole);
	check_every_split(PAGE_A, strlen(PAGE_A), 64);
	/* a multi-byte character cut between its bytes, escapes cut, numbers cut */
	check_every_split("{\"count\":1,\"data\":[{\"name\":\"caf\xc3\xa9\xf0\x9f\x93\x9e\","
					  "\"e\":\"\\ud83d\\udcde\\\"\\\\\",\"n\":-12.5e-3,\"i\":9223372036854775807,"
					  "\"u\":18446744073709551614,\"b\":false,\"z\":null}]}", 0 + strlen(
					  "{\"count\":1,\"data\":[{\"name\":\"caf\xc3\xa9\xf0\x9f\x93\x9e\","
					  "\"e\":\"\\ud83d\\udcde\\\"\\\\\",\"n\":-12.5e-3,\"i\":9223372036854775807,"
					  "\"u\":18446744073709551614,\"b\":false,\"z\":null}]}"), 64);
	/* errors at every position of a split */
	check_every_split("{\"count\":1,\"data\":[1-1]}", 24, 64);	/* json-c alone took "1"+"-1" as 1 */
	check_every_split("{\"count\":1,\"data\":[]} x", 23, 64);
	check_every_split("{\"count\":1,\"data\":[01]}", 23, 64);
	check_every_split("{\"count\":1,\"data\":[\"a\x01\"]}", 26, 64);
	check_every_split("{\"count\":1,\"data\":[1,]}", 23, 64);
	check_every_split("{\"count\":1,\"data\":[{\"a\":1", 25, 64);
}

/*
 * One document: its status at once must be `want`, and every split agrees.
 */
static void
expect_status(const char *doc, size_t len, ClParseStatus want)
{
	ClJson	   *o;
	char		err[CL_ERRMSG_LEN];
	ClParseStatus s = parse_chunked(doc, len, 0, 0, 64, &o, err);

	CHECK(s == want, "[%.*s]: %s (%s), want %s", (int) len, doc, st(s), err, st(want));
	CHECK((o != NULL) == (want == CL_PARSE_OK), "[%.*s]: value iff OK", (int) len, doc);
	cl_json_free(o);
	check_every_split(doc, len, 64);
}

/* Strict RFC 8259 grammar, whatever json-c's strict mode lets through. */
static void
test_strict_grammar(void)
{
	static const struct
	{
		const char *doc;
		ClParseStatus want;
	}			cases[] = {
		/* the brief's list: trailing comma, comments, single quotes, ... */
		{"[1,]", CL_PARSE_SYNTAX},
		{"{\"a\":1,}", CL_PARSE_SYNTAX},
		{"{\"count\":1,\"data\":[],}", CL_PARSE_SYNTAX},
		{"[1/*c*/]", CL_PARSE_SYNTAX},
		{"//c\n[1]", CL_PARSE_SYNTAX},
		{"[1]//c", CL_PARSE_TRAILING},
		{"# c\n[1]", CL_PARSE_SYNTAX},
		{"{'count':1}", CL_PARSE_SYNTAX},		/* json-c strict accepts it */
		{"{\"a\":'x'}", CL_PARSE_SYNTAX},
		{"[00]", CL_PARSE_SYNTAX},			/* json-c strict: 0 */
		{"[01]", CL_PARSE_SYNTAX},
		{"[-01]", CL_PARSE_SYNTAX},			/* json-c strict: -1 */
		{"[-00]", CL_PARSE_SYNTAX},
		{"[NaN]", CL_PARSE_SYNTAX},			/* json-c strict: NaN */
		{"[Infinity]", CL_PARSE_SYNTAX},		/* json-c strict: inf */
		{"[-Infinity]", CL_PARSE_SYNTAX},
		{"[nan]", CL_PARSE_SYNTAX},
		{"[infinity]", CL_PARSE_SYNTAX},
		{"[1] x", CL_PARSE_TRAILING},
		{"{}{}", CL_PARSE_TRAILING},
		{"[1]]", CL_PARSE_TRAILING},
		{"{\"a\":1}\xc2\xa0", CL_PARSE_TRAILING},	/* NBSP is not JSON space */
		{"{}\x00", CL_PARSE_TRAILING},
		{"1 2", CL_PARSE_TRAILING},
		{"\"a\"\"b\"", CL_PARSE_TRAILING},
		{"{", CL_PARSE_TRUNCATED},
		{"{\"a\"", CL_PARSE_TRUNCATED},
		{"{\"a\":", CL_PARSE_TRUNCATED},
		{"{\"a\":[1,", CL_PARSE_TRUNCATED},
		{"{\"data\":[{\"x\":[1,2", CL_PARSE_TRUNCATED},
		{"[\"\\", CL_PARSE_TRUNCATED},
		{"[\"\\u00", CL_PARSE_TRUNCATED},
		{"\"abc", CL_PARSE_TRUNCATED},
		{"[fals", CL_PARSE_TRUNCATED},
		{"[1.", CL_PARSE_TRUNCATED},
		{"[-", CL_PARSE_TRUNCATED},
		{" \n ", CL_PARSE_TRUNCATED},
		/* numbers */
		{"[0.]", CL_PARSE_SYNTAX},			/* json-c strict: 0 */
		{"[1.e5]", CL_PARSE_SYNTAX},			/* json-c strict: 1e5 */
		{"[.5]", CL_PARSE_SYNTAX},
		{"[+1]", CL_PARSE_SYNTAX},
		{"[1e]", CL_PARSE_SYNTAX},
		{"[1e+]", CL_PARSE_SYNTAX},
		{"[-]", CL_PARSE_SYNTAX},
		{"[--1]", CL_PARSE_SYNTAX},
		{"[1-1]", CL_PARSE_SYNTAX},
		{"[0x10]", CL_PARSE_SYNTAX},
		{"[1.5.2]", CL_PARSE_SYNTAX},
		{"[1e5e3]", CL_PARSE_SYNTAX},
		{"1.", CL_PARSE_SYNTAX},				/* ends at the end: not a number */
		{"-", CL_PARSE_SYNTAX},
		{"-a", CL_PARSE_SYNTAX},
		{"123x", CL_PARSE_SYNTAX},
		{"[-0, 0, -0.0e-0, 1E+2, 1e-2, 123.456e789, 1e05]", CL_PARSE_OK},
		{"[99999999999999999999999999999]", CL_PARSE_OK},
		{"123", CL_PARSE_OK},
		/* separators, keys, literals */
		{"[,1]", CL_PARSE_SYNTAX},
		{"[1,,2]", CL_PARSE_SYNTAX},
		{"[1 2]", CL_PARSE_SYNTAX},
		{"{\"a\" 1}", CL_PARSE_SYNTAX},
		{"{\"a\":1 \"b\":2}", CL_PARSE_SYNTAX},
		{"{1:2}", CL_PARSE_SYNTAX},
		{"{a:1}", CL_PARSE_SYNTAX},
		{"[True]", CL_PARSE_SYNTAX},
		{"[nul]", CL_PARSE_SYNTAX},
		{"[nulll]", CL_PARSE_SYNTAX},
		{"[truefalse]", CL_PARSE_SYNTAX},
		{"truex", CL_PARSE_SYNTAX},
		{"]", CL_PARSE_SYNTAX},
		{"[}", CL_PARSE_SYNTAX},
		{"true", CL_PARSE_OK},
		{"null", CL_PARSE_SYNTAX},			/* not a page: its own message */
		{" null ", CL_PARSE_SYNTAX},
		/* strings */
		{"[\"a\tb\"]", CL_PARSE_SYNTAX},		/* raw control characters: json-c takes them */
		{"[\"a\nb\"]", CL_PARSE_SYNTAX},
		{"[\"a\x1f\"]", CL_PARSE_SYNTAX},
		{"[\"a\x7f\"]", CL_PARSE_OK},		/* DEL is allowed */
		{"[\"\\x41\"]", CL_PARSE_SYNTAX},		/* invalid escapes */
		{"[\"\\a\"]", CL_PARSE_SYNTAX},
		{"[\"\\'\"]", CL_PARSE_SYNTAX},
		{"[\"\\u12\"]", CL_PARSE_SYNTAX},
		{"[\"\\u12G4\"]", CL_PARSE_SYNTAX},
		{"[\"\\uD83D\\uDE00\"]", CL_PARSE_OK},
		{"[\"\\u0000\"]", CL_PARSE_OK},
		{"[\"\\uD800\"]", CL_PARSE_OK},		/* json-c: U+FFFD */
		{"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", CL_PARSE_OK},
		{"[\"\xff\xfe\"]", CL_PARSE_OK},		/* UTF-8 is the backend's job */
		{"[\"\xed\xa0\x80\"]", CL_PARSE_OK},
		{"\xef\xbb\xbf{}", CL_PARSE_SYNTAX},	/* BOM */
		{"\f{}", CL_PARSE_SYNTAX},
		{"", CL_PARSE_TRUNCATED},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		size_t		len = strlen(cases[i].doc);

		if (strcmp(cases[i].doc, "{}") == 0 && cases[i].want == CL_PARSE_TRAILING)
			len = 3;			/* "{}\x00" */
		expect_status(cases[i].doc, len, cases[i].want);
	}
	/* the same, each as a row of a page (deep in the tree, not at the top) */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		doc[256];
		ClParseStatus want = cases[i].want;

		if (cases[i].doc[0] != '[' || want == CL_PARSE_TRUNCATED ||
			want == CL_PARSE_TRAILING)
			continue;
		snprintf(doc, sizeof(doc), "{\"count\":1,\"data\":[{\"v\":%s}]}", cases[i].doc);
		expect_status(doc, strlen(doc), want);
	}

	/* the messages */
	{
		char		err[CL_ERRMSG_LEN];
		ClJson	   *o;

		CHECK(parse_chunked("null", 4, 1, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strstr(err, "JSON null") != NULL, "null message: %s", err);
		CHECK(parse_chunked("[1,]", 4, 0, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strcmp(err, "unexpected character at byte 3") == 0, "json-c's message: %s", err);
		CHECK(parse_chunked("[NaN]", 5, 0, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strcmp(err, "unexpected character at byte 1") == 0, "NaN message: %s", err);
		CHECK(parse_chunked("[01]", 4, 0, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strcmp(err, "invalid number at byte 2") == 0, "leading zero message: %s", err);
		CHECK(parse_chunked("[\"\x01\"]", 5, 0, 0, 64, &o, err) == CL_PARSE_SYNTAX &&
			  strcmp(err, "control character in a string at byte 2") == 0,
			  "control character message: %s", err);
		CHECK(parse_chunked("{} x", 4, 1, 0, 64, &o, err) == CL_PARSE_TRAILING &&
			  strcmp(err, "unexpected data after the JSON value at byte 3") == 0,
			  "trailing message: %s", err);
		CHECK(parse_chunked("{\"a\":[", 6, 2, 0, 64, &o, err) == CL_PARSE_TRUNCATED &&
			  strstr(err, "incomplete") != NULL, "truncated message: %s", err);
		CHECK(parse_chunked("", 0, 1, 0, 64, &o, err) == CL_PARSE_TRUNCATED &&
			  strstr(err, "empty") != NULL, "empty body message: %s", err);
	}
}

/* Trailing bytes in the same feed and in later feeds; feeding after errors. */
static void
test_trailing_and_errors(void)
{
	ClJsonParser p;
	ClJson	   *o;
	ClParseStatus s;
	const char *b = "{\"count\":0,\"data\":[]}";

	/* the value ends exactly at a feed's end; garbage comes later */
	cl_parser_init(&p, 64, 0, NULL);
	CHECK(cl_parser_feed(&p, b, strlen(b)), "page");
	CHECK(cl_parser_feed(&p, " \r\n\t", 4), "blanks after the page");
	CHECK(!cl_parser_feed(&p, "  x", 3) && p.status == CL_PARSE_TRAILING,
		  "garbage in a later feed: %s", st(p.status));
	CHECK(strstr(p.errmsg, "byte 27") != NULL, "offset of the garbage: %s", p.errmsg);
	CHECK(!cl_parser_feed(&p, " ", 1), "feed after an error fails");
	CHECK(cl_parser_finish(&p) == NULL, "no value after trailing garbage");
	cl_parser_free(&p);			/* frees the completed root too (ASan) */

	/* a second document in a later feed */
	CHECK((s = parse_chunked("{}{}", 4, 2, 0, 64, &o, NULL)) == CL_PARSE_TRAILING,
		  "second document in the next feed: %s", st(s));

	/* after an error, feed keeps failing and finish returns NULL */
	cl_parser_init(&p, 64, 0, NULL);
	CHECK(!cl_parser_feed(&p, "]", 1), "feed ']' fails");
	CHECK(!cl_parser_feed(&p, "{}", 2), "feed after error fails");
	CHECK(cl_parser_finish(&p) == NULL && p.status == CL_PARSE_SYNTAX,
		  "finish after error: %s", st(p.status));
	CHECK(p.errmsg[0] != '\0', "error message set");
	cl_parser_free(&p);

	/* a parser freed mid-stream, holding a partial tree (ASan: no leak) */
	cl_parser_init(&p, 64, 0, NULL);
	CHECK(cl_parser_feed(&p, PAGE_A, strlen(PAGE_A) / 2), "half a page");
	cl_parser_free(&p);
	cl_parser_free(&p);

	/* a zeroed parser may be freed; feeding it fails cleanly */
	memset(&p, 0, sizeof(p));
	cl_parser_free(&p);
	CHECK(!cl_parser_feed(&p, "{}", 2) && p.status == CL_PARSE_NOMEM, "uninitialized parser");

	/* a depth bomb */
	{
		size_t		n = 100000;
		char	   *bomb = malloc(n);

		memset(bomb, '[', n);
		CHECK((s = parse_chunked(bomb, n, 0, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "depth bomb at once: %s", st(s));
		CHECK((s = parse_chunked(bomb, n, 1, 0, 64, &o, NULL)) == CL_PARSE_DEPTH,
			  "depth bomb 1-byte: %s", st(s));
		memset(bomb, '{', n);
		CHECK((s = parse_chunked(bomb, n, 0, 0, 64, &o, NULL)) == CL_PARSE_SYNTAX,
			  "'{' bomb is a syntax error (key expected): %s", st(s));
		free(bomb);
	}
}

/* max_bytes: checked as bytes arrive. */
static void
test_max_bytes(void)
{
	const char *b = "{\"count\":0,\"data\":[]}";
	size_t		n = strlen(b);
	ClJson	   *o;
	char		err[CL_ERRMSG_LEN];
	ClParseStatus s;

	CHECK((s = parse_chunked(b, n, 0, n - 1, 64, &o, err)) == CL_PARSE_TOO_BIG,
		  "max_bytes-1 at once: %s", st(s));
	CHECK(strstr(err, "too large") != NULL, "message: %s", err);
	CHECK((s = parse_chunked(b, n, 1, n - 1, 64, &o, NULL)) == CL_PARSE_TOO_BIG,
		  "max_bytes-1 1-byte: %s", st(s));
	CHECK((s = parse_chunked(b, n, 3, n, 64, &o, NULL)) == CL_PARSE_OK,
		  "exactly max_bytes: %s", st(s));
	cl_json_free(o);
	CHECK((s = parse_chunked("12345", 5, 0, 5, 64, &o, NULL)) == CL_PARSE_OK,
		  "bare number of exactly max_bytes: %s", st(s));
	cl_json_free(o);
	/* an error before the limit is reported as itself */
	CHECK((s = parse_chunked("[1,]xxxxxxxx", 12, 0, 6, 64, &o, NULL)) == CL_PARSE_SYNTAX,
		  "syntax error before the limit: %s", st(s));
	/* the limit is checked before the bytes are parsed: a huge feed fails at once */
	{
		ClJsonParser p;
		size_t		big = 1 << 20;
		char	   *buf = malloc(big);

		memset(buf, ' ', big);
		buf[0] = '[';
		cl_parser_init(&p, 64, 1000, NULL);
		CHECK(!cl_parser_feed(&p, buf, big) && p.status == CL_PARSE_TOO_BIG,
			  "1 MB feed with max_bytes 1000: %s", st(p.status));
		CHECK(p.charged < 1000 + 4096 + 1000, "only the first 1000 bytes were looked at: %zu",
			  p.charged);
		cl_parser_free(&p);
		free(buf);
	}
}

/* Nesting: json-c counts levels of values; the top-level value is level 1. */
static void
test_depth(void)
{
	char		b[300];
	ClParseStatus s;
	ClJson	   *o;
	char		err[CL_ERRMSG_LEN];

	for (int n = 62; n <= 66; n++)
	{
		memset(b, '[', (size_t) n);
		memset(b + n, ']', (size_t) n);
		s = parse_chunked(b, 2 * (size_t) n, 0, 0, 64, &o, err);
		CHECK(s == (n <= 64 ? CL_PARSE_OK : CL_PARSE_DEPTH),
			  "%d nested arrays, depth 64: %s", n, st(s));
		cl_json_free(o);
		check_every_split(b, 2 * (size_t) n, 64);
	}
	/* a scalar inside 64 arrays is on level 65 */
	memset(b, '[', 63);
	b[63] = '1';
	memset(b + 64, ']', 63);
	CHECK((s = parse_chunked(b, 127, 0, 0, 64, &o, NULL)) == CL_PARSE_OK,
		  "scalar inside 63 arrays: %s", st(s));
	cl_json_free(o);
	memset(b, '[', 64);
	b[64] = '1';
	memset(b + 65, ']', 64);
	CHECK((s = parse_chunked(b, 129, 0, 0, 64, &o, err)) == CL_PARSE_DEPTH,
		  "scalar inside 64 arrays: %s", st(s));
	CHECK(strcmp(err, "JSON nested too deeply at byte 64") == 0, "depth message: %s", err);
	/* a page's rows count too */
	{
		char		d[600];
		size_t		k = 0;

		k += (size_t) sprintf(d + k, "{\"count\":0,\"data\":[");	/* levels 1, 2 */
		for (int i = 0; i < 61; i++)
			k += (size_t) sprintf(d + k, "{\"a\":");				/* 3..63 */
		k += (size_t) sprintf(d + k, "1");								/* 64 */
		for (int i = 0; i < 61; i++)
			d[k++] = '}';
		d[k++] = ']';
		d[k++] = '}';
		CHECK((s = parse_chunked(d, k, 0, 0, 64, &o, NULL)) == CL_PARSE_OK,
			  "value on level 64 of a page: %s", st(s));
		cl_json_free(o);
		CHECK((s = parse_chunked(d, k, 7, 0, 63, &o, NULL)) == CL_PARSE_DEPTH,
			  "the same with depth 63: %s", st(s));
	}
}

/* Integers exactly, or out of range; never a clamped number. */
static void
test_integers(void)
{
	const char *doc = "[9223372036854775807, -9223372036854775807, -42, 0, -0, "
		"-9223372036854775808, -9223372036854775809, -99999999999999999999, "
		"9223372036854775808, 18446744073709551614, 18446744073709551615, "
		"18446744073709551616, 99999999999999999999999, 3.0, 1e2, \"5\", null, true]";
	char		err[CL_ERRMSG_LEN];
	ClJson	   *a = cl_json_parse(doc, strlen(doc), 64, err, sizeof(err));
	int64_t		v = 123;
	size_t		len;
	const char *t = NULL;

	CHECK(a != NULL && cl_array_length(a) == 18, "integer array: %s", err);
	if (a == NULL || cl_array_length(a) != 18)
		return;
#define EL(i) cl_array_get(a, (i))
	CHECK(cl_json_get_int64(EL(0), &v) && v == INT64_MAX, "INT64_MAX exact");
	CHECK(cl_json_get_int64(EL(1), &v) && v == -INT64_MAX, "-INT64_MAX exact");
	CHECK(cl_json_get_int64(EL(2), &v) && v == -42, "-42");
	CHECK(cl_json_get_int64(EL(3), &v) && v == 0, "0");
	/* "-0" keeps its sign: a double whose text is "-0" as written */
	CHECK(!cl_json_get_int64(EL(4), &v) && cl_type(EL(4)) == CL_JSON_DOUBLE &&
		  (t = cl_json_text(EL(4), &len)) && strcmp(t, "-0") == 0 && len == 2,
		  "-0: a double, text as written");
	/* json-c clamps below INT64_MIN to INT64_MIN: INT64_MIN cannot be trusted */
	for (int i = 5; i <= 7; i++)
	{
		v = 123;
		CHECK(!cl_json_get_int64(EL(i), &v) && v == 123 && cl_json_int_clamped(EL(i)) &&
			  cl_json_text(EL(i), &len) == NULL, "element %d: clamped, refused", i);
	}
	/* above INT64_MAX, json-c keeps uint64 exactly */
	CHECK(!cl_json_get_int64(EL(8), &v) && !cl_json_int_clamped(EL(8)) &&
		  (t = cl_json_text(EL(8), &len)) && strcmp(t, "9223372036854775808") == 0 && len == 19,
		  "2^63: not int64, exact text");
	CHECK(!cl_json_get_int64(EL(9), &v) && !cl_json_int_clamped(EL(9)) &&
		  (t = cl_json_text(EL(9), &len)) && strcmp(t, "18446744073709551614") == 0,
		  "2^64-2: exact text");
	/* json-c clamps above UINT64_MAX to UINT64_MAX: refused too */
	for (int i = 10; i <= 12; i++)
		CHECK(!cl_json_get_int64(EL(i), &v) && cl_json_int_clamped(EL(i)) &&
			  cl_json_text(EL(i), &len) == NULL, "element %d: clamped, refused", i);
	/* other types are never read as integers */
	for (int i = 13; i <= 17; i++)
	{
		v = 123;
		CHECK(!cl_json_get_int64(EL(i), &v) && v == 123 && !cl_json_int_clamped(EL(i)),
			  "element %d (%s) is not an integer", i, cl_type_name(EL(i)));
	}
	CHECK(cl_type(EL(13)) == CL_JSON_DOUBLE && (t = cl_json_text(EL(13), &len)) &&
		  strcmp(t, "3.0") == 0, "a double keeps its text: %s", t ? t : "(null)");
	CHECK((t = cl_json_text(EL(14), &len)) && strcmp(t, "1e2") == 0 && len == 3,
		  "1e2 as written");
	/* a container holding a clamped integer has no exact text */
	CHECK(cl_json_text(a, &len) == NULL, "array with a clamped integer: no text");
	CHECK(!cl_json_get_int64(NULL, &v), "NULL refused");
#undef EL
	cl_json_free(a);

	{
		const char *doc2 = "{\"a\":[1,{\"b\":-2.50}],\"s\":\"x/\\u0000\"}";

		a = cl_json_parse(doc2, strlen(doc2), 64, err, sizeof(err));
	}
	t = NULL;
	CHECK(a && (t = cl_json_text(a, &len)) &&
		  strcmp(t, "{\"a\":[1,{\"b\":-2.50}],\"s\":\"x/\\u0000\"}") == 0 && len == strlen(t),
		  "compact JSON text, number as written, '/' not escaped: %s", t ? t : err);
	cl_json_free(a);
}

/* Strings, keys, lookups, duplicate keys. */
static void
test_tree(void)
{
	const char *doc =
		"{\"count\": 2, \"k\\u00e9y\": \"caf\\u00e9\\ud83d\\ude00\", \"nul\": \"a\\u0000b\","
		" \"n\": null, \"t\": true, \"f\": false, \"dup\": 1, \"o\": {\"x\": [1], \"x\": 2},"
		" \"dup\": \"last\", \"lone\": \"\\udc00\", \"k\\u0000cut\": 7, \"data\": [ {}, [1 ,2], \"s\", 7 ] }";
	char		err[CL_ERRMSG_LEN];
	ClJson	   *r = cl_json_parse(doc, strlen(doc), 64, err, sizeof(err));
	ClJson	   *v,
			   *w;
	const char *s;
	size_t		len;
	bool		b;

	CHECK(r != NULL, "tree doc: %s", err);
	if (r == NULL)
		return;
	check_every_split(doc, strlen(doc), 64);
	CHECK(cl_type(r) == CL_JSON_OBJECT, "root: %s", cl_type_name(r));
	CHECK(cl_object_get(r, "k\xc3\xa9y", &v) && (s = cl_string(v, &len)) && len == 9 &&
		  memcmp(s, "caf\xc3\xa9\xf0\x9f\x98\x80", 9) == 0, "escaped key, surrogate pair");
	CHECK(cl_object_get(r, "nul", &v) && (s = cl_string(v, &len)) && len == 3 &&
		  memcmp(s, "a\0b", 4) == 0, "\\u0000 gives a NUL counted in the length");
	CHECK(cl_object_get(r, "n", &v) && v == NULL && cl_type(v) == CL_JSON_NULL,
		  "JSON null is a member, NULL");
	CHECK(!cl_object_get(r, "absent", &v) && v == NULL, "absent key");
	CHECK(!cl_object_get(NULL, "x", &w) && w == NULL, "get on NULL");
	CHECK(cl_object_get(r, "t", &v) && cl_json_get_bool(v, &b) && b, "true");
	CHECK(cl_object_get(r, "f", &v) && cl_json_get_bool(v, &b) && !b, "false");
	CHECK(!cl_json_get_bool(NULL, &b), "null is not a boolean");
	CHECK(cl_object_get(r, "dup", &v) && (s = cl_string(v, &len)) && strcmp(s, "last") == 0,
		  "duplicate key: the last value wins");
	CHECK(cl_object_get(r, "o", &v) && cl_object_get(v, "x", &w) && cl_type(w) == CL_JSON_INT,
		  "duplicate key in a nested object");
	CHECK((s = cl_json_text(v, &len)) && strcmp(s, "{\"x\":2}") == 0,
		  "a repeated key once, last value, first place: %s", s ? s : "");
	CHECK(cl_object_get(r, "lone", &v) && (s = cl_string(v, &len)) && len == 3 &&
		  memcmp(s, "\xef\xbf\xbd", 3) == 0, "a lone surrogate becomes U+FFFD");
	CHECK(cl_object_get(r, "k", &v) && cl_type(v) == CL_JSON_INT, "a key is cut at \\u0000");
	CHECK(cl_string(NULL, &len) == NULL && len == 0, "cl_string of null");
	/* members in the order of their first appearance, each key once */
	{
		static const char *const keys[] = {"count", "k\xc3\xa9y", "nul", "n", "t", "f",
		"dup", "o", "lone", "k", "data"};
		const void *pos = NULL;
		const char *key;
		size_t		i = 0;
		bool		order = true;

		while (cl_object_next(r, &pos, &key, &v))
		{
			if (i >= 11 || strcmp(key, keys[i]) != 0)
				order = false;
			if (i == 6 && strcmp(cl_string(v, &len), "last") != 0)
				order = false;	/* "dup": its last value, at its first place */
			i++;
		}
		CHECK(order && i == 11 && cl_object_length(r) == 11, "member walk: %zu members", i);
		pos = NULL;
		CHECK(!cl_object_next(NULL, &pos, &key, &v) && !cl_object_next(v, &pos, &key, &v) &&
			  cl_object_length(NULL) == 0, "walking a non-object");
	}
	CHECK(cl_object_get(r, "data", &v) && cl_array_length(v) == 4 &&
		  cl_type(cl_array_get(v, 0)) == CL_JSON_OBJECT &&
		  cl_array_length(cl_array_get(v, 1)) == 2 &&
		  cl_type(cl_array_get(v, 2)) == CL_JSON_STRING &&
		  cl_array_get(v, 4) == NULL, "data elements");
	CHECK(cl_array_length(r) == 0 && cl_array_get(r, 0) == NULL, "an object is no array");
	CHECK(strcmp(cl_type_name(NULL), "null") == 0 && strcmp(cl_type_name(r), "object") == 0,
		  "type names");
	CHECK((s = cl_json_text(NULL, &len)) && strcmp(s, "null") == 0 && len == 4, "null text");
	cl_json_free(r);
	cl_json_free(NULL);

	/* a bare scalar */
	r = cl_json_parse(" 42 ", 4, 64, err, sizeof(err));
	CHECK(r && cl_type(r) == CL_JSON_INT, "bare int");
	cl_json_free(r);
	r = cl_json_parse("[1", 2, 64, err, sizeof(err));
	CHECK(r == NULL && strstr(err, "incomplete") != NULL, "cl_json_parse error: %s", err);
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
		cl_json_free(r); \
	} while (0)

static void
test_page_decode(void)
{
	ClPage		pg;
	char		e[CL_ERRMSG_LEN];
	ClJson	   *r = NULL;
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
		CHECK(cl_type(cl_page_row(&pg, 0)) == CL_JSON_OBJECT &&
			  cl_type(cl_page_row(&pg, 1)) == CL_JSON_OBJECT && cl_page_row(&pg, 2) == NULL,
			  "rows");
	}
	cl_json_free(r);

	DECODE_FAILS("[]", "the response is a JSON array, not an object");
	DECODE_FAILS("\"x\"", "string");
	DECODE_FAILS("42", "int");
	DECODE_FAILS("{\"count\":0}", "the response has no \"data\" key");
	DECODE_FAILS("{\"count\":0,\"data\":{}}", "\"data\" is a JSON object, not an array");
	DECODE_FAILS("{\"count\":0,\"data\":null}", "\"data\" is a JSON null");
	DECODE_FAILS("{\"count\":0,\"data\":\"[]\"}", "not an array");
	DECODE_FAILS("{\"count\":0,\"data\":1.5}", "\"data\" is a JSON double");
	DECODE_FAILS("{\"data\":[]}", "the response has no \"count\" key");
	DECODE_FAILS("{\"count\":-1,\"data\":[]}", "\"count\" is not a non-negative 64-bit integer: -1");
	DECODE_FAILS("{\"count\":\"5\",\"data\":[]}", "\"count\" is not a non-negative 64-bit integer: \"5\"");
	DECODE_FAILS("{\"count\":1.5,\"data\":[]}", "integer: 1.5");
	DECODE_FAILS("{\"count\":1.0,\"data\":[]}", "integer: 1.0");
	DECODE_FAILS("{\"count\":1e3,\"data\":[]}", "integer: 1e3");
	DECODE_FAILS("{\"count\":null,\"data\":[]}", "integer: null");
	DECODE_FAILS("{\"count\":true,\"data\":[]}", "integer: true");
	DECODE_FAILS("{\"count\":{\"n\":1},\"data\":[]}", "integer: {\"n\":1}");
	DECODE_FAILS("{\"count\":9223372036854775808,\"data\":[]}",
				 "\"count\" is out of the 64-bit integer range");	/* 2^63 */
	DECODE_FAILS("{\"count\":18446744073709551615,\"data\":[]}",
				 "\"count\" is out of the 64-bit integer range");
	DECODE_FAILS("{\"count\":99999999999999999999999,\"data\":[]}",
				 "\"count\" is out of the 64-bit integer range");
	DECODE_FAILS("{\"count\":-9223372036854775809,\"data\":[]}", "(out of range)");
	DECODE_FAILS("{\"count\":-9223372036854775808,\"data\":[]}", "(out of range)");
	DECODE_FAILS("{\"count\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"data\":[]}",
				 "integer: a JSON string of 57 bytes");	/* never cut: see issue 10 round 3 */
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":true}", "\"next\" is a JSON boolean, not a string");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":5}", "\"next\" is a JSON int");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":{}}", "\"next\" is a JSON object");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":[\"x\"]}", "\"next\" is a JSON array");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"next\":\"a\\u0000b\"}", "\"next\" contains a NUL character");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"previous\":1}", "\"previous\" is a JSON int, not a string");
	DECODE_FAILS("{\"count\":0,\"data\":[],\"previous\":\"a\\u0000\"}", "\"previous\" contains a NUL");

	ok = decode("{\"count\":9223372036854775807,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.count == INT64_MAX, "2^63-1: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":0,\"data\":[],\"next\":null,\"previous\":null}", &pg, e, &r);
	CHECK(ok && pg.next == NULL && pg.ndata == 0, "next null: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":0,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.next == NULL && pg.count == 0, "next absent: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":0,\"data\":[],\"next\":\"\"}", &pg, e, &r);
	CHECK(ok && pg.next == NULL, "next empty string: %s", e);
	cl_json_free(r);

	ok = decode("{\"count\":7,\"data\":[1,\"x\",{},null],\"next\":\"/p?page=3\","
				"\"previous\":\"/p?page=1\"}", &pg, e, &r);
	CHECK(ok && pg.next && pg.next_len == 9 && pg.ndata == 4 && pg.count == 7 &&
		  cl_page_row(&pg, 3) == NULL, "next string, previous string: %s", e);
	cl_json_free(r);

	/* duplicate keys: the last one wins */
	ok = decode("{\"count\":-1,\"count\":2,\"data\":[]}", &pg, e, &r);
	CHECK(ok && pg.count == 2, "duplicate count: %s", e);
	cl_json_free(r);
}

/* A buffer of prefix + n times unit (without its last byte if sep) + suffix. */
static char *
repeat_doc(const char *prefix, const char *unit, size_t n, const char *suffix, size_t *len)
{
	size_t		pl = strlen(prefix),
				ul = strlen(unit),
				sl = strlen(suffix);
	char	   *b = malloc(pl + ul * n + sl + 1);
	char	   *p = b;

	memcpy(p, prefix, pl);
	p += pl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	if (n > 0 && p[-1] == ',')
		p--;					/* no trailing comma */
	memcpy(p, suffix, sl);
	p += sl;
	*p = '\0';
	*len = (size_t) (p - b);
	return b;
}

/* The memory budget: charging, moving the charge to the page, releasing. */
static void
test_budget(void)
{
	ClBudget	b;
	ClJson	   *o,
			   *o2;
	ClParseStatus s;
	char		err[CL_ERRMSG_LEN];
	size_t		len = strlen(PAGE_A);
	size_t		charge;

	/* no limit: the charge is the bytes plus the estimate, and moves to the page */
	cl_budget_init(&b, 0);
	s = parse_full(PAGE_A, len, 0, 0, 64, &b, &o, err);
	CHECK(s == CL_PARSE_OK, "page with a budget: %s", err);
	charge = b.used;
	CHECK(charge > len + 4096 && charge == cl_json_charge(o) && b.peak == charge,
		  "page holds its charge: used %zu, page %zu, peak %zu", b.used, cl_json_charge(o), b.peak);
	cl_json_free(o);
	CHECK(b.used == 0 && b.peak == charge, "freeing the page released it: %zu", b.used);

	/* the same charge whatever the feeds */
	for (size_t chunk = 1; chunk < 40; chunk += 7)
	{
		cl_budget_init(&b, 0);
		s = parse_full(PAGE_A, len, chunk, 0, 64, &b, &o, err);
		CHECK(s == CL_PARSE_OK && b.used == charge, "chunks of %zu: %zu vs %zu", chunk, b.used, charge);
		cl_json_free(o);
	}

	/* a limit one byte short fails, at the same byte whatever the feeds */
	for (size_t chunk = 0; chunk < 40; chunk += 13)
	{
		cl_budget_init(&b, charge - 1);
		s = parse_full(PAGE_A, len, chunk, 0, 64, &b, &o, err);
		CHECK(s == CL_PARSE_BUDGET && o == NULL, "limit charge-1, chunks of %zu: %s", chunk, st(s));
		CHECK(strstr(err, "memory budget of") != NULL, "budget message: %s", err);
		CHECK(b.used == 0 && b.peak < charge, "failed parse released its charge: used %zu peak %zu",
			  b.used, b.peak);
	}
	cl_budget_init(&b, charge);
	s = parse_full(PAGE_A, len, 5, 0, 64, &b, &o, err);
	CHECK(s == CL_PARSE_OK && b.used == charge, "a limit of exactly the charge: %s", err);
	cl_json_free(o);

	/* two pages share a budget: the second fits only after the first is freed */
	cl_budget_init(&b, charge + charge / 2);
	CHECK(parse_full(PAGE_A, len, 0, 0, 64, &b, &o, err) == CL_PARSE_OK, "first page");
	CHECK((s = parse_full(PAGE_A, len, 0, 0, 64, &b, &o2, err)) == CL_PARSE_BUDGET,
		  "second page while the first is held: %s", st(s));
	CHECK(b.used == charge, "the failed second page gave back its part: %zu", b.used);
	CHECK(strstr(err, "bytes held") != NULL, "message says what is held: %s", err);
	cl_json_free(o);
	CHECK(parse_full(PAGE_A, len, 0, 0, 64, &b, &o2, err) == CL_PARSE_OK, "second page later");
	cl_json_free(o2);
	CHECK(b.used == 0, "all released");

	/* a parser freed mid-stream releases what it charged */
	{
		ClJsonParser p;

		cl_budget_init(&b, 0);
		cl_parser_init(&p, 64, 0, &b);
		CHECK(cl_parser_feed(&p, PAGE_A, len / 2) && b.used > 0 && b.used == p.charged,
			  "half a page charged: %zu", b.used);
		cl_parser_free(&p);
		CHECK(b.used == 0, "freed mid-stream: %zu", b.used);
	}

	/* the budget API for the transport's own buffers */
	cl_budget_init(&b, 100);
	CHECK(cl_budget_charge(&b, 60) && b.used == 60, "charge 60");
	CHECK(!cl_budget_charge(&b, 41) && b.used == 60, "41 more refused, nothing charged");
	CHECK(cl_budget_charge(&b, 40) && b.used == 100 && b.peak == 100, "exactly to the limit");
	cl_budget_release(&b, 100);
	CHECK(b.used == 0 && b.peak == 100, "released, peak kept");
	cl_budget_init(&b, 0);
	CHECK(cl_budget_charge(&b, SIZE_MAX / 2), "no limit");
	cl_budget_release(&b, SIZE_MAX / 2);

	/*
	 * Hostile shapes: refused before json-c allocates much.  1 MB of
	 * "[{},{},..." would grow to ~270 MB in json-c; with a 16 MB budget the
	 * parse stops early and json-c's live bytes (ASan's count) stay under it.
	 */
	{
		static const char *const units[] = {"{},", "[],", "1,", "\"\",", "{\"a\":{}},", "[[[[]]]],"};

		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		{
			size_t		n,
						dlen;
			char	   *doc;
			size_t		before = fuzz_live;

			n = (1 << 20) / strlen(units[u]);
			doc = repeat_doc("{\"count\":1,\"data\":[", units[u], n, "]}", &dlen);
			cl_budget_init(&b, 16 << 20);
			fuzz_peak = fuzz_live;
			s = parse_full(doc, dlen, 16384, 0, 64, &b, &o, err);
			CHECK(s == CL_PARSE_BUDGET, "%s x %zu over 16 MB: %s", units[u], n, st(s));
			if (fuzz_hooks == 1)
				CHECK(fuzz_peak - before <= (size_t) (16 << 20),
					  "%s: json-c's peak %zu stayed under the budget", units[u], fuzz_peak - before);
			CHECK(b.peak <= (size_t) (16 << 20), "%s: budget peak %zu", units[u], b.peak);
			cl_json_free(o);
			CHECK(b.used == 0, "%s: all released", units[u]);
			free(doc);
		}
	}
}

/*
 * The estimate against what json-c really allocates, counted by ASan's
 * allocator hooks (requested sizes, peak during each feed): checked by
 * fuzz_parse after every feed; here on the hostile shapes and on real
 * pages, every split into 16 kB chunks.  test_budget.c does the same with
 * glibc's malloc (mallinfo2) and prints the ratios.
 */
static void
test_estimate_covers_mallocs(void)
{
	static const char *const units[] = {
		"{},", "[],", "1,", "1.5,", "\"\",", "true,", "null,", "[1],", "{\"a\":1},",
		"{\"a\":{}},", "[[[[[[[[]]]]]]]],", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",",
		"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11},",
	};

	CHECK(fuzz_hooks == 1, "ASan's allocator hooks are installed");
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
	{
		size_t		dlen;
		char	   *doc = repeat_doc("{\"count\":1,\"data\":[", units[u], 20000, "]}", &dlen);
		FuzzResult	r;
		ClBudget	b;

		cl_budget_init(&b, 0);
		fuzz_parse(doc, dlen, 16384, 0, &b, &r);	/* aborts if the estimate is short */
		CHECK(r.status == CL_PARSE_OK, "%s x 20000: %s", units[u], r.errmsg);
		cl_json_free(r.root);
		free(doc);
	}
	/* one key with a huge name, one huge string, one huge number */
	{
		size_t		dlen;
		char	   *doc = repeat_doc("{\"", "k", 300000, "\":1,\"data\":[],\"count\":0}", &dlen);
		FuzzResult	r;

		fuzz_parse(doc, dlen, 4096, 0, NULL, &r);
		CHECK(r.status == CL_PARSE_OK, "huge key: %s", r.errmsg);
		cl_json_free(r.root);
		free(doc);
		doc = repeat_doc("{\"count\":0,\"data\":[],\"s\":\"", "s", 300000, "\"}", &dlen);
		fuzz_parse(doc, dlen, 4096, 0, NULL, &r);
		CHECK(r.status == CL_PARSE_OK, "huge string: %s", r.errmsg);
		cl_json_free(r.root);
		free(doc);
		doc = repeat_doc("{\"count\":0,\"data\":[],\"d\":1.", "5", 300000, "}", &dlen);
		fuzz_parse(doc, dlen, 4096, 0, NULL, &r);
		CHECK(r.status == CL_PARSE_OK, "huge number: %s", r.errmsg);
		cl_json_free(r.root);
		free(doc);
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
	/*
	 * a body cut short inside the message (the transport keeps 2 kB of an
	 * error body): what fits, on a character boundary, marked as cut
	 */
	m = EM("{\"status_code\": 400, \"x\": [1, {\"a\": \"}\"}], \"message\": \"abc def");
	CHECK(m && strcmp(m, "abc def...") == 0, "cut message: %s", m ? m : "(null)");
	m = EM("{\"message\": \"caf\xc3\xa9 \xe2\x82");
	CHECK(m && strcmp(m, "caf\xc3\xa9 ...") == 0, "cut inside a character: %s", m ? m : "(null)");
	m = EM("{\"message\": \"a\\u00e9\\n\\\"b\\u00");
	CHECK(m && strcmp(m, "a\xc3\xa9 \"b...") == 0, "cut inside an escape: %s", m ? m : "(null)");
	m = EM("{\"message\": \"x\\ud83d\\ude00y\\ud83d");
	CHECK(m && strcmp(m, "x\xf0\x9f\x98\x80y...") == 0, "cut inside a surrogate pair: %s", m ? m : "(null)");
	m = EM("{\"message\": \"done\", garbage");
	CHECK(m == NULL, "broken elsewhere, not cut: %s", m ? m : "(null)");
	m = EM("{\"detail\": \"partial det");
	CHECK(m && strcmp(m, "partial det...") == 0, "cut detail: %s", m ? m : "(null)");
	m = EM("{\"message\": \"");
	CHECK(m == NULL, "cut before any character");
	m = EM("{\"message\": \"\\q bad");
	CHECK(m == NULL, "bad escape: %s", m ? m : "(null)");
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
	fuzz_install_hooks();
	test_chunking();
	test_strict_grammar();
	test_trailing_and_errors();
	test_max_bytes();
	test_depth();
	test_integers();
	test_tree();
	test_page_decode();
	test_budget();
	test_estimate_covers_mallocs();
	test_error_message();
	test_timestamp();
	test_duration();
	test_fuzz_target();
	test_regressions(argc > 1 ? argv[1] : "../fuzz/regressions");
	printf("unit: %d passed, %d failed\n", npassed, nfailed);
	return nfailed > 0 ? 1 : 0;
}
