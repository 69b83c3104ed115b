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
 * Build (see scripts/fuzz.sh):
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     test/fuzz/fuzz_jsonpage.c src/jsonpage.c $(pkg-config --cflags --libs json-c)
 *
 * test/unit/test_jsonpage.c includes this file and calls
 * LLVMFuzzerTestOneInput on every file of test/fuzz/regressions/.
 */
#include "jsonpage.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink;	/* unsigned: wraps, no UB */

static void
fuzz_value(cl_json_object *v)
{
	int64_t		i;

	if (json_object_is_type(v, json_type_string))
	{
		const char *s = json_object_get_string(v);
		size_t		n = (size_t) json_object_get_string_len(v);
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
	else if (json_object_is_type(v, json_type_int))
	{
		if (cl_json_get_int64(v, &i))
			fuzz_sink += (uint64_t) i;
	}
}

/*
 * Opt-in differential oracle (CL_FUZZ_DIFFERENTIAL=1 in the environment):
 * the chunked parse must agree with a parse of the whole body in one feed,
 * on the status and on the value.  Off by default because json-c 0.16 makes
 * the two disagree on known cases (see the unit tests).
 */
static int	fuzz_differential = -1;

static ClParseStatus
fuzz_parse_whole(const char *body, size_t len, size_t max_bytes,
				 cl_json_object **out)
{
	ClJsonParser p;
	ClParseStatus s;

	*out = NULL;
	if (!cl_parser_init(&p, 64, max_bytes))
	{
		cl_parser_free(&p);
		return CL_PARSE_NOMEM;
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
	cl_json_object *root;
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
	if (strnlen(p.errmsg, sizeof(p.errmsg)) >= sizeof(p.errmsg))
		abort();
	if (fuzz_differential < 0)
		fuzz_differential = getenv("CL_FUZZ_DIFFERENTIAL") != NULL;
	if (fuzz_differential)
	{
		cl_json_object *whole;
		ClParseStatus ws = fuzz_parse_whole(body, len, max_bytes, &whole);

		if (ws != p.status || (whole == NULL) != (root == NULL) ||
			(whole != NULL && !json_object_equal(whole, root)))
			abort();
		json_object_put(whole);
	}
	cl_parser_free(&p);

	if (root != NULL)
	{
		ClPage		page;
		char		err[CL_ERRMSG_LEN];

		err[0] = '\0';
		if (cl_page_decode(root, &page, err, sizeof(err)))
		{
			if (page.count < 0 || page.data == NULL)
				abort();
			if (page.next != NULL && strlen(page.next) != page.next_len)
				abort();
			for (size_t r = 0; r < page.ndata; r++)
			{
				cl_json_object *row = json_object_array_get_idx(page.data, r);

				if (!json_object_is_type(row, json_type_object))
					continue;
				/*
				 * json_object_object_foreach would declare its variables as
				 * struct json_object, a tag jsonpage.h renamed: use the
				 * iterator API instead.
				 */
				struct json_object_iterator it = json_object_iter_begin(row);
				struct json_object_iterator end = json_object_iter_end(row);

				while (!json_object_iter_equal(&it, &end))
				{
					fuzz_sink += (uint64_t) strlen(json_object_iter_peek_name(&it));
					fuzz_value(json_object_iter_peek_value(&it));
					json_object_iter_next(&it);
				}
				fuzz_sink += (uint64_t) strlen(
					json_object_to_json_string_ext(row, JSON_C_TO_STRING_PLAIN));
			}
		}
		else if (strnlen(err, sizeof(err)) >= sizeof(err))
			abort();
		json_object_put(root);
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
