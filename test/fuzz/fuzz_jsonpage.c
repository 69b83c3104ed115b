/*
 * fuzz_jsonpage.c
 *		libFuzzer target for src/jsonpage.c (backend-independent page decoder).
 *
 * Input layout: byte 0 picks the chunk size (and whether a small max_bytes
 * limit applies); the rest is the HTTP body, fed to a ClJsonParser in
 * chunks exactly as the libcurl write callback would.  A decoded page is
 * then walked like the scan does: every field of every row object goes
 * through the fast value parsers.
 *
 * Differential oracle (on by default; CL_FUZZ_DIFFERENTIAL=0 turns it
 * off): the chunked parse must agree with a parse of the whole body in one
 * feed, on the status and, on success, on a canonical serialization of the
 * tree (types, raw text of every node, decoded strings, keys, integers).
 *
 * Build (see scripts/fuzz.sh):
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     test/fuzz/fuzz_jsonpage.c src/jsonpage.c
 *
 * test/unit/test_jsonpage.c includes this file and calls
 * LLVMFuzzerTestOneInput on every file of test/fuzz/regressions/.
 */
#include "jsonpage.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;	/* unsigned: wraps, no UB */

/* ---- canonical serialization of a ClJson tree ---- */

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
fb_lstr(FuzzBuf *b, const char *s, size_t n)
{
	char		hdr[32];
	int			k = snprintf(hdr, sizeof(hdr), "%zu:", n);

	fb_put(b, hdr, (size_t) k);
	fb_put(b, s, n);
}

/*
 * Serialize v, checking the node invariants on the way (an abort is a
 * finding): raw and str are NUL-terminated at their lengths, integers
 * agree with their text, a string without escapes decodes to its text.
 */
static void
fuzz_serialize(FuzzBuf *b, const ClJson *v, int depth)
{
	char		hdr[64];
	int			k;

	if (v == NULL || depth > 200)
		abort();
	if (v->raw == NULL || v->raw[v->raw_len] != '\0')
		abort();
	k = snprintf(hdr, sizeof(hdr), "(%d", (int) v->type);
	fb_put(b, hdr, (size_t) k);
	fb_lstr(b, v->raw, v->raw_len);
	switch (v->type)
	{
		case CL_JSON_NULL:
			break;
		case CL_JSON_BOOLEAN:
			if (strcmp(v->raw, v->boolean ? "true" : "false") != 0)
				abort();
			fb_put(b, v->boolean ? "T" : "F", 1);
			break;
		case CL_JSON_INT:
			{
				long long	ll;
				char	   *end;

				errno = 0;
				ll = strtoll(v->raw, &end, 10);
				if (*end != '\0')
					abort();
				if (v->int_ok != (errno == 0) || (v->int_ok && ll != v->i))
					abort();
				k = snprintf(hdr, sizeof(hdr), "%d/%lld", (int) v->int_ok,
							 v->int_ok ? (long long) v->i : 0LL);
				fb_put(b, hdr, (size_t) k);
				break;
			}
		case CL_JSON_DOUBLE:
			if (strpbrk(v->raw, ".eE") == NULL)
				abort();
			break;
		case CL_JSON_STRING:
			if (v->str == NULL || v->str[v->str_len] != '\0')
				abort();
			if (v->raw_len < 2 || v->raw[0] != '"' || v->raw[v->raw_len - 1] != '"')
				abort();
			if (memchr(v->raw, '\\', v->raw_len) == NULL &&
				(v->str_len != v->raw_len - 2 ||
				 memcmp(v->str, v->raw + 1, v->str_len) != 0))
				abort();
			if (v->str_len > v->raw_len)
				abort();		/* decoding never grows */
			fb_lstr(b, v->str, v->str_len);
			break;
		case CL_JSON_OBJECT:
			k = snprintf(hdr, sizeof(hdr), "{%zu", v->n);
			fb_put(b, hdr, (size_t) k);
			if (v->n && v->members == NULL)
				abort();
			for (size_t i = 0; i < v->n; i++)
			{
				if (v->members[i].key == NULL ||
					v->members[i].key[v->members[i].key_len] != '\0')
					abort();
				fb_lstr(b, v->members[i].key, v->members[i].key_len);
				fuzz_serialize(b, v->members[i].value, depth + 1);
			}
			break;
		case CL_JSON_ARRAY:
			k = snprintf(hdr, sizeof(hdr), "[%zu", v->n);
			fb_put(b, hdr, (size_t) k);
			if (v->n && v->elements == NULL)
				abort();
			for (size_t i = 0; i < v->n; i++)
				fuzz_serialize(b, v->elements[i], depth + 1);
			break;
		default:
			abort();
	}
	fb_put(b, ")", 1);
}

/* The canonical text of a tree; caller frees. */
static char *
fuzz_canonical(const ClJson *root, size_t *len)
{
	FuzzBuf		b = {NULL, 0, 0};

	fuzz_serialize(&b, root, 0);
	*len = b.len;
	return b.data;
}

static void
fuzz_value(const ClJson *v)
{
	int64_t		i;

	if (cl_type(v) == CL_JSON_STRING)
	{
		const char *s = v->str;
		size_t		n = v->str_len;
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
	else if (cl_type(v) == CL_JSON_INT)
	{
		if (cl_json_get_int64(v, &i))
			fuzz_sink += (uint64_t) i;
	}
}

static int	fuzz_differential = -1;

/*
 * The same body fed in one piece.  With a max_bytes limit and a longer
 * body, the chunked parse stops at the first chunk that crosses the limit,
 * having parsed the chunks before it: feed exactly that prefix (without
 * finishing) and expect its error, or TOO_BIG if the prefix is fine.
 */
static ClParseStatus
fuzz_parse_whole(const char *body, size_t len, size_t chunk, size_t max_bytes,
				 ClJson **out)
{
	ClJsonParser p;
	ClParseStatus s;

	*out = NULL;
	if (!cl_parser_init(&p, 64, max_bytes))
	{
		cl_parser_free(&p);
		return CL_PARSE_NOMEM;
	}
	if (max_bytes > 0 && len > max_bytes)
	{
		size_t		prefix = max_bytes / chunk * chunk;

		if (prefix > 0)
			(void) cl_parser_feed(&p, body, prefix);
		s = p.status == CL_PARSE_OK ? CL_PARSE_TOO_BIG : p.status;
		cl_parser_free(&p);
		return s;
	}
	(void) cl_parser_feed(&p, body, len);
	*out = cl_parser_finish(&p);
	s = p.status;
	cl_parser_free(&p);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunk_sizes[8] = {1, 2, 3, 7, 16, 64, 4096, 1 << 20};
	ClJsonParser p;
	ClJson	   *root;
	size_t		chunk,
				max_bytes;
	const char *body;
	size_t		len;
	char		msg[CL_ERRMSG_LEN];

	if (size == 0)
		return 0;
	chunk = chunk_sizes[data[0] & 7];
	/* bit 3: a small response limit; bits 4-7 pick how small */
	max_bytes = (data[0] & 8) ? (size_t) ((data[0] >> 4) * 16 + 1) : 0;
	body = (const char *) data + 1;
	len = size - 1;

	if (!cl_parser_init(&p, 64, max_bytes))
	{
		cl_parser_free(&p);
		return 0;
	}
	for (size_t off = 0; off < len; off += chunk)
	{
		size_t		n = len - off < chunk ? len - off : chunk;

		if (!cl_parser_feed(&p, body + off, n))
			break;
	}
	root = cl_parser_finish(&p);
	if (root == NULL && p.status == CL_PARSE_OK)
		abort();				/* finish must explain a NULL */
	if (root != NULL && p.status != CL_PARSE_OK)
		abort();
	if (root == NULL && p.errmsg[0] == '\0')
		abort();
	if (strnlen(p.errmsg, sizeof(p.errmsg)) >= sizeof(p.errmsg))
		abort();
	if (fuzz_differential < 0)
	{
		const char *e = getenv("CL_FUZZ_DIFFERENTIAL");

		fuzz_differential = !(e && strcmp(e, "0") == 0);
	}
	if (root != NULL)
	{
		/* always walk the whole tree: the invariants are checked there */
		size_t		clen;
		char	   *canon = fuzz_canonical(root, &clen);

		if (fuzz_differential)
		{
			ClJson	   *whole;
			ClParseStatus ws = fuzz_parse_whole(body, len, chunk, max_bytes, &whole);
			size_t		wlen;
			char	   *wcanon;

			if (ws != CL_PARSE_OK || whole == NULL)
			{
				fprintf(stderr, "differential: chunk %zu OK, whole %d\n", chunk, (int) ws);
				abort();
			}
			wcanon = fuzz_canonical(whole, &wlen);
			if (wlen != clen || memcmp(wcanon, canon, clen) != 0)
			{
				fprintf(stderr, "differential: chunk %zu tree differs\n"
						"chunked: %s\nwhole:   %s\n", chunk, canon, wcanon);
				abort();
			}
			free(wcanon);
			cl_json_free(whole);
		}
		fuzz_sink += clen;
		free(canon);
	}
	else if (fuzz_differential)
	{
		ClJson	   *whole;
		ClParseStatus ws = fuzz_parse_whole(body, len, chunk, max_bytes, &whole);

		if (ws != p.status || whole != NULL)
		{
			fprintf(stderr, "differential: chunk %zu status %d (%s), whole %d\n",
					chunk, (int) p.status, p.errmsg, (int) ws);
			abort();
		}
	}
	cl_parser_free(&p);

	if (root != NULL)
	{
		ClPage		page;
		char		err[CL_ERRMSG_LEN];

		err[0] = '\0';
		if (cl_page_decode(root, &page, err, sizeof(err)))
		{
			if (page.count < 0 || page.data == NULL || page.root != root)
				abort();
			if (cl_type(page.data) != CL_JSON_ARRAY || page.ndata != page.data->n)
				abort();
			if (page.next != NULL && strlen(page.next) != page.next_len)
				abort();
			for (size_t r = 0; r < page.ndata; r++)
			{
				const ClJson *row = page.data->elements[r];

				if (cl_type(row) != CL_JSON_OBJECT)
					continue;
				for (size_t m = 0; m < row->n; m++)
				{
					ClJson	   *got;

					fuzz_sink += (uint64_t) row->members[m].key_len;
					fuzz_value(row->members[m].value);
					/* lookups find the last member of that name */
					if (strlen(row->members[m].key) == row->members[m].key_len)
					{
						if (!cl_object_get(row, row->members[m].key, &got) || got == NULL)
							abort();
					}
				}
				fuzz_sink += (uint64_t) row->raw_len;
			}
		}
		else if (err[0] == '\0' || strnlen(err, sizeof(err)) >= sizeof(err))
			abort();
		cl_json_free(root);
	}

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
