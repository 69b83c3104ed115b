/*-------------------------------------------------------------------------
 *
 * fuzz_jsonpage.c
 *		libFuzzer target for src/jsonpage.c (the page decoder over json-c).
 *
 * Input layout: byte 0 picks how the body is cut into feeds (bits 0-2:
 * chunks of 1, 2, 3, 7, 16, 64 or 4096 bytes, or 7: chunks of
 * pseudo-random sizes drawn from the body itself) and whether limits apply
 * (bit 3: a small max_bytes and a small memory budget, bits 4-7 pick how
 * small); the rest is the HTTP body, fed to a ClJsonParser exactly as the
 * libcurl write callback would.
 *
 * Oracles (an abort is a finding):
 *	- the chunked parse and a parse of the whole body in one feed agree on
 *	  the status, the message and, on success, on a canonical form of the
 *	  tree built through the accessors (types, exact integers, a double's
 *	  text, string bytes with their length, keys in order);
 *	- accessor invariants: a string's length, an integer's text reads back
 *	  as its value, a double's text is an RFC 8259 number;
 *	- the budget: the parser's estimate is at least what json-c really
 *	  allocated, counted through the sanitizer allocator's malloc/free
 *	  hooks (peak of live bytes during every feed), and every charge is
 *	  released when the parser and the page are freed;
 *	- a decoded page: count >= 0, data an array, next without NUL;
 *	  every row's fields go through the fast timestamp/duration parsers;
 *	- cl_error_message on the same bytes: printable, bounded.
 *
 * Build (see scripts/fuzz.sh):
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     $(pkg-config --cflags json-c) test/fuzz/fuzz_jsonpage.c src/jsonpage.c \
 *     $(pkg-config --libs json-c)
 *
 * test/unit/test_jsonpage.c includes this file and calls
 * LLVMFuzzerTestOneInput on every file of test/fuzz/regressions/.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_jsonpage.c
 *
 *-------------------------------------------------------------------------
 */
#include "jsonpage.h"

#include <errno.h>
#include <json_object.h>
#include <json_object_iterator.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;	/* unsigned: wraps, no UB */

/* ---- live bytes, through the sanitizer allocator's hooks ---- */

/* compiler-rt's allocator interface (gcc ships no header for it) */
extern int	__sanitizer_install_malloc_and_free_hooks(void (*malloc_hook) (const volatile void *, size_t),
													  void (*free_hook) (const volatile void *));
extern size_t __sanitizer_get_allocated_size(const volatile void *p);

static size_t fuzz_live;		/* bytes allocated and not freed */
static size_t fuzz_peak;		/* highest fuzz_live since the last reset */
static int	fuzz_hooks = -1;	/* installed? */

static void
fuzz_malloc_hook(const volatile void *p, size_t size)
{
	(void) p;
	fuzz_live += size;
	if (fuzz_live > fuzz_peak)
		fuzz_peak = fuzz_live;
}

static void
fuzz_free_hook(const volatile void *p)
{
	if (p)
		fuzz_live -= __sanitizer_get_allocated_size(p);
}

static void
fuzz_install_hooks(void)
{
	if (fuzz_hooks < 0)
		fuzz_hooks = __sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook,
															   fuzz_free_hook) != 0;
}

/* ---- canonical form of a tree ---- */

typedef struct FuzzBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} FuzzBuf;

static void
fb_put(FuzzBuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		ncap = b->cap ? b->cap : 256;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		b->data = realloc(b->data, ncap);
		if (b->data == NULL)
			abort();
		b->cap = ncap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* a length-prefixed byte string: unambiguous whatever the bytes */
static void
fb_lstr(FuzzBuf *b, char tag, const char *s, size_t n)
{
	char		hdr[32];
	int			k = snprintf(hdr, sizeof(hdr), "%c%zu:", tag, n);

	fb_put(b, hdr, (size_t) k);
	fb_put(b, s, n);
}

/* Is s[0..len) an RFC 8259 number (what the classifier admits)? */
static int
fuzz_is_number(const char *s, size_t len)
{
	size_t		i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < len && s[i] == '.')
	{
		if (++i >= len || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == len;
}

/*
 * Serialize v through the accessors, checking their invariants on the way.
 */
static void
fuzz_serialize(FuzzBuf *b, ClJson *v, int depth)
{
	char		hdr[64];
	int			k;
	size_t		len;
	const char *s;

	if (depth > 200)
		abort();
	switch (cl_type(v))
	{
		case CL_JSON_NULL:
			if (v != NULL)
				abort();
			fb_put(b, "n", 1);
			break;
		case CL_JSON_BOOLEAN:
			{
				bool		t;

				if (!cl_json_get_bool(v, &t))
					abort();
				fb_put(b, t ? "T" : "F", 1);
				break;
			}
		case CL_JSON_INT:
			{
				int64_t		i;

				s = cl_json_text(v, &len);
				if (cl_json_int_clamped(v))
				{
					if (s != NULL || cl_json_get_int64(v, &i))
						abort();	/* a clamped value never reads */
					fb_put(b, "I?", 2);
				}
				else if (s == NULL)
					abort();
				else
				{
					char	   *end;

					/* the text reads back as the value, and is a number */
					if (!fuzz_is_number(s, len))
						abort();
					errno = 0;
					if (cl_json_get_int64(v, &i))
					{
						if (strtoll(s, &end, 10) != i || *end || errno)
							abort();
					}
					else if (s[0] == '-' || strtoull(s, &end, 10) <= (unsigned long long) INT64_MAX ||
							 *end || errno)
						abort();	/* not int64: must be above INT64_MAX */
					fb_lstr(b, 'I', s, len);
				}
				break;
			}
		case CL_JSON_DOUBLE:
			s = cl_json_text(v, &len);
			/* a fraction or exponent, or "-0" (kept a double for its sign) */
			if (s == NULL || !fuzz_is_number(s, len) ||
				(strpbrk(s, ".eE") == NULL && strcmp(s, "-0") != 0))
				abort();
			fb_lstr(b, 'D', s, len);
			break;
		case CL_JSON_STRING:
			s = cl_string(v, &len);
			if (s == NULL || s[len] != '\0' || strlen(s) > len)
				abort();
			fb_lstr(b, 'S', s, len);
			if (cl_json_text(v, &len) == NULL || len < 2)
				abort();
			break;
		case CL_JSON_ARRAY:
			{
				size_t		n = cl_array_length(v);

				k = snprintf(hdr, sizeof(hdr), "[%zu", n);
				fb_put(b, hdr, (size_t) k);
				for (size_t i = 0; i < n; i++)
					fuzz_serialize(b, cl_array_get(v, i), depth + 1);
				fb_put(b, "]", 1);
				break;
			}
		case CL_JSON_OBJECT:
			{
				struct json_object_iterator it = json_object_iter_begin(v);
				struct json_object_iterator end = json_object_iter_end(v);
				const void *pos = NULL;
				const char *ckey;
				ClJson	   *cval;
				size_t		n = 0;

				fb_put(b, "{", 1);
				for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
				{
					const char *key = json_object_iter_peek_name(&it);
					ClJson	   *got;

					fb_lstr(b, 'K', key, strlen(key));
					/* a lookup finds the member iterated */
					if (!cl_object_get(v, key, &got) || got != json_object_iter_peek_value(&it))
						abort();
					/* cl_object_next walks the same members in the same order */
					if (!cl_object_next(v, &pos, &ckey, &cval) || ckey != key || cval != got)
						abort();
					n++;
					fuzz_serialize(b, got, depth + 1);
				}
				if (cl_object_next(v, &pos, &ckey, &cval) || n != cl_object_length(v))
					abort();
				fb_put(b, "}", 1);
				break;
			}
		default:
			abort();
	}
}

/* The canonical text of a tree; caller frees. */
static char *
fuzz_canonical(ClJson *root, size_t *len)
{
	FuzzBuf		b = {NULL, 0, 0};

	fuzz_serialize(&b, root, 0);
	*len = b.len;
	return b.data;
}

/* A row field through the fast value parsers, as convert.c would. */
static void
fuzz_value(ClJson *v)
{
	size_t		n;
	const char *s = cl_string(v, &n);
	int64_t		i;

	if (s != NULL)
	{
		ClTimestamp ts;
		int64_t		usec;

		if (cl_parse_timestamp(s, n, &ts))
		{
			/* a successful parse must be in range */
			if (ts.month < 1 || ts.month > 12 || ts.day < 1 || ts.day > 31 ||
				ts.hour < 0 || ts.hour > 23 || ts.minute < 0 || ts.minute > 59 ||
				ts.second < 0 || ts.second > 59 || ts.usec < 0 ||
				ts.usec > 999999 || ts.tz_offset < -15 * 3600 ||
				ts.tz_offset > 15 * 3600)
				abort();
			fuzz_sink += (uint64_t) (ts.year + ts.usec);
		}
		if (cl_parse_duration(s, n, &usec))
		{
			if (usec < 0)
				abort();
			fuzz_sink += (uint64_t) usec;
		}
	}
	else if (cl_json_get_int64(v, &i))
		fuzz_sink += (uint64_t) i;
}

/* ---- parsing ---- */

/* The outcome of one parse. */
typedef struct FuzzResult
{
	ClParseStatus status;
	char		errmsg[CL_ERRMSG_LEN];
	ClJson	   *root;
	size_t		charge;			/* cl_json_charge(root) */
} FuzzResult;

/* a tiny deterministic generator for chunk sizes */
static uint32_t
fuzz_rand(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 16;
}

/*
 * Parse body in chunks (chunk 0: at once; SIZE_MAX: pseudo-random sizes),
 * with the limits given, checking the budget estimate against the live
 * bytes after every feed.
 */
static void
fuzz_parse(const char *body, size_t len, size_t chunk, size_t max_bytes,
		   ClBudget *budget, FuzzResult *r)
{
	ClJsonParser p;
	size_t		base = fuzz_live;
	uint32_t	rs = (uint32_t) len * 2654435761u;

	memset(r, 0, sizeof(*r));
	fuzz_peak = fuzz_live;
	if (cl_parser_init(&p, 64, max_bytes, budget))
	{
		for (size_t off = 0; off < len;)
		{
			size_t		n = chunk == 0 ? len :
				chunk == SIZE_MAX ? 1 + fuzz_rand(&rs) % 97 : chunk;

			if (n > len - off)
				n = len - off;
			if (!cl_parser_feed(&p, body + off, n))
				break;
			off += n;
			/* json-c allocated no more than the estimate (peak too) */
			if (fuzz_hooks == 1 && fuzz_peak - base > p.sc_estimate)
			{
				fprintf(stderr, "budget: live peak %zu > estimate %zu after %zu bytes\n",
						fuzz_peak - base, p.sc_estimate, off);
				abort();
			}
			if (budget && p.charged > budget->used)
				abort();
		}
		r->root = cl_parser_finish(&p);
	}
	r->status = p.status;
	snprintf(r->errmsg, sizeof(r->errmsg), "%s", p.errmsg);
	if ((r->root == NULL) != (p.status != CL_PARSE_OK))
		abort();				/* finish must explain a NULL */
	if (r->root == NULL && p.errmsg[0] == '\0')
		abort();
	if (strnlen(p.errmsg, sizeof(p.errmsg)) >= sizeof(p.errmsg))
		abort();
	if (r->root && budget && cl_type(r->root) != CL_JSON_DOUBLE &&
		cl_json_charge(r->root) != budget->used)
		abort();				/* the charge moved to the root */
	r->charge = cl_json_charge(r->root);
	cl_parser_free(&p);
	cl_parser_free(&p);			/* safe twice */
	if (budget && budget->used != r->charge)
		abort();				/* the parser kept nothing charged */
}

static int	fuzz_differential = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunk_sizes[8] = {1, 2, 3, 7, 16, 64, 4096, SIZE_MAX};
	size_t		chunk,
				max_bytes,
				limit;
	const char *body;
	size_t		len;
	char		msg[CL_ERRMSG_LEN];
	ClBudget	budget,
				wbudget;
	FuzzResult	r,
				w;

	if (size == 0)
		return 0;
	fuzz_install_hooks();
	if (fuzz_differential < 0)
	{
		const char *e = getenv("CL_FUZZ_DIFFERENTIAL");

		fuzz_differential = !(e && strcmp(e, "0") == 0);
	}
	chunk = chunk_sizes[data[0] & 7];
	/* bit 3: a small response limit and a small budget; bits 4-7: how small */
	max_bytes = (data[0] & 8) ? (size_t) ((data[0] >> 4) * 64 + 1) : 0;
	limit = (data[0] & 8) ? (size_t) ((data[0] >> 4) * 2048 + 4096) : 0;
	body = (const char *) data + 1;
	len = size - 1;

	cl_budget_init(&budget, limit);
	fuzz_parse(body, len, chunk, max_bytes, &budget, &r);

	if (fuzz_differential)
	{
		size_t		clen = 0,
					wlen = 0;
		char	   *canon = NULL,
				   *wcanon = NULL;

		cl_budget_init(&wbudget, limit);
		fuzz_parse(body, len, 0, max_bytes, &wbudget, &w);
		if (r.root)
			canon = fuzz_canonical(r.root, &clen);
		if (w.root)
			wcanon = fuzz_canonical(w.root, &wlen);
		if (r.status != w.status || strcmp(r.errmsg, w.errmsg) != 0 ||
			(canon == NULL) != (wcanon == NULL) ||
			(canon && (clen != wlen || memcmp(canon, wcanon, clen) != 0)) ||
			r.charge != w.charge)
		{
			fprintf(stderr, "differential: chunk %zu: status %d (%s) charge %zu, "
					"whole: %d (%s) charge %zu\nchunked: %s\nwhole:   %s\n",
					chunk, (int) r.status, r.errmsg, r.charge, (int) w.status,
					w.errmsg, w.charge, canon ? canon : "-", wcanon ? wcanon : "-");
			abort();
		}
		free(canon);
		free(wcanon);
		cl_json_free(w.root);
		if (wbudget.used != 0)
			abort();
	}
	else if (r.root)
	{
		/* always walk the whole tree: the invariants are checked there */
		size_t		clen;
		char	   *canon = fuzz_canonical(r.root, &clen);

		fuzz_sink += clen;
		free(canon);
	}

	if (r.root != NULL)
	{
		ClPage		page;
		char		err[CL_ERRMSG_LEN];

		err[0] = '\0';
		if (cl_page_decode(r.root, &page, err, sizeof(err)))
		{
			if (page.count < 0 || page.data == NULL || page.root != r.root)
				abort();
			if (cl_type(page.data) != CL_JSON_ARRAY ||
				page.ndata != cl_array_length(page.data))
				abort();
			if (page.next != NULL && (strlen(page.next) != page.next_len || page.next_len == 0))
				abort();
			for (size_t i = 0; i < page.ndata; i++)
			{
				ClJson	   *row = cl_page_row(&page, i);

				if (row != cl_array_get(page.data, i))
					abort();
				if (cl_type(row) == CL_JSON_OBJECT)
				{
					struct json_object_iterator it = json_object_iter_begin(row);
					struct json_object_iterator end = json_object_iter_end(row);

					for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
						fuzz_value(json_object_iter_peek_value(&it));
				}
			}
			if (cl_page_row(&page, page.ndata) != NULL)
				abort();
		}
		else if (err[0] == '\0' || strnlen(err, sizeof(err)) >= sizeof(err))
			abort();
		cl_json_free(r.root);
	}
	if (budget.used != 0)
		abort();				/* freeing the page released its charge */

	/* the same bytes as an error body, with a roomy and a tiny buffer */
	{
		const char *m = cl_error_message(body, len, msg, sizeof(msg));

		if (m != NULL)
		{
			size_t		n = strlen(m);

			if (n >= sizeof(msg) || n == 0)
				abort();
			for (size_t k = 0; k < n; k++)
				if ((unsigned char) m[k] < 0x20 || m[k] == 0x7f)
					abort();
		}
		(void) cl_error_message(body, len, msg, 8);
	}
	return 0;
}
