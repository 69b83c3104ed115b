/*-------------------------------------------------------------------------
 *
 * test_budget.c
 *		Calibration of the parser's memory estimate against what json-c
 *		really allocates with glibc's malloc (issue 10, section 3).
 *
 * Built without sanitizers (they replace malloc): mallinfo2() gives the
 * bytes glibc has handed out, in chunks (request + 8, rounded to 16), plus
 * mmap'ed blocks.  For each shape, a document is fed in 16 kB chunks (as
 * libcurl delivers them); after every feed the growth since the parser was
 * created must not exceed the parser's estimate (sc_estimate), and for
 * real call-log pages (of more than a few rows: the tokener's fixed charge
 * dominates a page of one row) the estimate must not be wildly above it
 * (at most MAX_RATIO_REAL times).  The hostile shapes are the ones of issue 10:
 * dense "[[],[],...]", "[{},{},...]" and the like, where json-c's tree is
 * 40 to 270 times the bytes.  Prints one line per shape, then
 * "budget: N passed, M failed".
 *
 * The peaks inside a feed (a hash table being rehashed, an array or the
 * tokener's buffer being realloc'ed) are checked by the fuzzer and by
 * test_jsonpage.c through ASan's allocator hooks.
 *
 * IDENTIFICATION
 *		  test/unit/test_budget.c
 *
 *-------------------------------------------------------------------------
 */
#include "jsonpage.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* real call-log pages: estimate / json-c's bytes at most this */
#define MAX_RATIO_REAL 2.5

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

/* Bytes glibc has handed out now. */
static size_t
heap_used(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/* A growing text buffer (test helper). */
typedef struct Buf
{
	char	   *data;
	size_t		len,
				cap;
} Buf;

static void
put(Buf *b, const char *s)
{
	size_t		n = strlen(s);

	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			abort();
	}
	memcpy(b->data + b->len, s, n + 1);
	b->len += n;
}

/* prefix, n units (the last one's trailing comma dropped), suffix */
static void
repeat(Buf *b, const char *prefix, const char *unit, size_t n, const char *suffix)
{
	put(b, prefix);
	for (size_t i = 0; i < n; i++)
		put(b, unit);
	if (n > 0 && b->data[b->len - 1] == ',')
		b->len--;
	b->data[b->len] = '\0';
	put(b, suffix);
}

/*
 * A page of call logs as the API documents them (API.md), alternating the
 * two variants: milliseconds or not, "H:MM:SS" or seconds, id and bridge
 * present or absent, null start/end times for missed calls.
 */
static void
real_page(Buf *b, int rows)
{
	char		row[1024];

	put(b, "{\"count\": 25000, \"status_code\": 200, \"message\": \"Call logs fetched successfully\", "
		"\"next\": null, \"previous\": null, \"data\": [");
	for (int i = 0; i < rows; i++)
	{
		if (i % 2 == 0)
			snprintf(row, sizeof(row),
					 "%s{\"id\": \"call_%012x\", \"source_number\": \"+9198765%05d\", "
					 "\"destination_number\": \"+9112345%05d\", \"call_type\": \"outbound\", "
					 "\"call_status\": \"completed\", \"creation_time\": \"2025-11-18T10:%02d:00.000Z\", "
					 "\"start_time\": \"2025-11-18T10:%02d:05.000Z\", \"end_time\": \"2025-11-18T10:%02d:30.000Z\", "
					 "\"call_duration\": \"0:05:25\", \"end_reason\": \"customer-ended-call\", \"bridge\": %d}",
					 i ? ", " : "", i * 7919, i, i, i % 60, i % 60, i % 60, i % 3);
		else
			snprintf(row, sizeof(row),
					 "%s{\"source_number\": \"+9198765%05d\", \"destination_number\": \"+9112345%05d\", "
					 "\"call_type\": \"inbound\", \"call_status\": \"missed\", "
					 "\"creation_time\": \"2026-02-07T05:%02d:00Z\", \"start_time\": null, "
					 "\"end_time\": null, \"call_duration\": %d, \"end_reason\": \"no_answer\"}",
					 i ? ", " : "", i, i, i % 60, i * 3);
		put(b, row);
	}
	put(b, "]}");
}

/*
 * Feed doc in 16 kB chunks; check the estimate after every feed; return
 * the largest growth seen and the final estimate.
 */
static void
measure(const char *name, const char *doc, size_t len, bool real)
{
	ClJsonParser p;
	ClJson	   *root;
	size_t		base,
				worst = 0,
				tree;
	bool		covered = true;
	size_t		chunk = 16384;

	base = heap_used();
	if (!cl_parser_init(&p, 64, 0, NULL))
		abort();
	for (size_t off = 0; off < len; off += chunk)
	{
		size_t		n = len - off < chunk ? len - off : chunk;
		size_t		grown;

		if (!cl_parser_feed(&p, doc + off, n))
		{
			printf("FAIL %s: %s\n", name, p.errmsg);
			nfailed++;
			cl_parser_free(&p);
			return;
		}
		grown = heap_used() - base;
		if (grown > worst)
			worst = grown;
		if (grown > p.sc_estimate)
		{
			if (covered)
				printf("FAIL %s: after %zu bytes json-c holds %zu bytes, estimate %zu\n",
					   name, off + n, grown, p.sc_estimate);
			covered = false;
		}
	}
	root = cl_parser_finish(&p);
	CHECK(root != NULL, "%s: %s", name, p.errmsg);
	cl_parser_free(&p);
	tree = heap_used() - base;	/* the page alone, tokener freed */
	CHECK(covered, "%s: the estimate covers json-c after every feed", name);
	printf("%-34s %9zu bytes  json-c peak %10zu (%6.1fx bytes)  page %10zu  estimate %10zu (%4.2fx peak)\n",
		   name, len, worst, (double) worst / (double) len, tree, p.sc_estimate,
		   (double) p.sc_estimate / (double) worst);
	if (real && len > 4096)		/* the fixed 4 kB for the tokener dominates smaller pages */
		CHECK((double) p.sc_estimate <= MAX_RATIO_REAL * (double) worst,
			  "%s: estimate %zu within %.1fx of json-c's %zu", name, p.sc_estimate,
			  MAX_RATIO_REAL, worst);
	cl_json_free(root);
}

int
main(void)
{
	static const char *const units[] = {
		"[],", "{},", "1,", "-1.5e3,", "-0,", "\"\",", "\"xxxxxxx\",", "true,", "null,",
		"[1],", "{\"a\":1},", "{\"a\":{}},", "[[[[[[[[]]]]]]]],", "[{},[],{\"\":[]}],",
		"\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",",
		"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11},",
		"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,"
		"\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17,\"r\":18,\"s\":19,"
		"\"t\":20,\"u\":21,\"v\":22},",
	};
	Buf			b = {NULL, 0, 0};
	char		name[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* json-c's one-time set-up (hash seed) outside the measurements */
	cl_json_free(cl_json_parse("{\"a\":[1]}", 9, 64, NULL, 0));

	printf("hostile shapes (1 MB of each unit in \"data\"):\n");
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
	{
		b.len = 0;
		repeat(&b, "{\"count\":1,\"data\":[", units[u], (1 << 20) / strlen(units[u]), "]}");
		snprintf(name, sizeof(name), "%.30s", units[u]);
		measure(name, b.data, b.len, false);
	}
	/* objects with many distinct keys: the hash table doubles again and again */
	for (int n = 10; n <= 100000; n *= 10)
	{
		char		key[32];

		b.len = 0;
		put(&b, "{\"count\":0,\"data\":[],\"o\":{");
		for (int i = 0; i < n; i++)
		{
			snprintf(key, sizeof(key), "%s\"k%d\":%d", i ? "," : "", i, i);
			put(&b, key);
		}
		put(&b, "}}");
		snprintf(name, sizeof(name), "object of %d keys", n);
		measure(name, b.data, b.len, false);
	}
	/* deep nesting, many times */
	b.len = 0;
	put(&b, "[");
	for (int i = 0; i < 2000; i++)
	{
		char		d[200];

		d[0] = i ? ',' : ' ';
		memset(d + 1, '[', 63);
		memset(d + 64, ']', 63);
		d[127] = '\0';
		put(&b, d);
	}
	put(&b, "]");
	measure("2000 x 63 nested arrays", b.data, b.len, false);
	/* one huge key, string and number */
	b.len = 0;
	repeat(&b, "{\"", "k", 1 << 20, "\":1,\"count\":0,\"data\":[]}");
	measure("a 1 MB key", b.data, b.len, false);
	b.len = 0;
	repeat(&b, "{\"count\":0,\"data\":[],\"s\":\"", "s", 1 << 20, "\"}");
	measure("a 1 MB string", b.data, b.len, false);
	b.len = 0;
	repeat(&b, "{\"count\":0,\"data\":[],\"d\":1.", "5", 1 << 20, "}");
	measure("a 1 MB number", b.data, b.len, false);

	printf("real call-log pages:\n");
	{
		static const int rows[] = {1, 20, 100, 1000};

		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		{
			b.len = 0;
			real_page(&b, rows[i]);
			snprintf(name, sizeof(name), "page of %d call logs", rows[i]);
			measure(name, b.data, b.len, true);
		}
	}
	free(b.data);
	printf("budget: %d passed, %d failed\n", npassed, nfailed);
	return nfailed > 0 ? 1 : 0;
}
