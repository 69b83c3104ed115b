/*-------------------------------------------------------------------------
 *
 * jsonpage.c
 *		  Backend-independent decoding of one page of the Call Logs API.
 *
 * The transport feeds response bytes to a ClJsonParser as they arrive;
 * cl_page_decode then checks the shape of the complete value (an object
 * with a non-negative integer "count", an array "data" and an optional
 * string "next").  The fast value parsers for ISO 8601 timestamps and
 * "H:MM:SS" durations live here too, so that the fuzzer reaches them.
 *
 * Nothing in this file may use PostgreSQL's memory or error machinery:
 * it is called from libcurl callbacks, from the unit tests and from the
 * fuzzer.  json-c allocates with malloc; the caller owns what it returns.
 *
 * IDENTIFICATION
 *		  src/jsonpage.c
 *
 *-------------------------------------------------------------------------
 */
#include "jsonpage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json-c takes int lengths: feed huge buffers in slices. */
#define CL_FEED_SLICE (1 << 20)

static bool
is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
only_space(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_json_space(buf[i]))
			return false;
	return true;
}

static bool
parser_fail(ClJsonParser *p, ClParseStatus status, const char *msg)
{
	p->status = status;
	snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg);
	return false;
}

/*
 * cl_parser_init
 *		Prepare a parser that refuses values nested deeper than max_depth
 *		and inputs longer than max_bytes (0: no limit).
 */
bool
cl_parser_init(ClJsonParser *p, int max_depth, size_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	p->max_bytes = max_bytes;
	p->tok = json_tokener_new_ex(max_depth);
	if (p->tok == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
	/*
	 * No JSON_TOKENER_VALIDATE_UTF8: json-c rejects a character split
	 * across two feeds.  Strings are validated into the database encoding
	 * when they are converted.  ALLOW_TRAILING_CHARS lets us report
	 * trailing data ourselves, as such.
	 */
	json_tokener_set_flags(p->tok,
						   JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	return true;
}

/*
 * cl_parser_feed
 *		Feed the next bytes of the document.  Returns false once the input
 *		is known to be bad; p->status and p->errmsg then say why.
 */
bool
cl_parser_feed(ClJsonParser *p, const char *buf, size_t len)
{
	if (p->status != CL_PARSE_OK)
		return false;
	if (p->tok == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "parser not initialized");
	if (p->max_bytes > 0 && len > p->max_bytes - p->nbytes)
	{
		p->nbytes += len;
		return parser_fail(p, CL_PARSE_TOO_BIG, "response too large");
	}
	p->nbytes += len;

	while (len > 0)
	{
		size_t		slice = len > CL_FEED_SLICE ? CL_FEED_SLICE : len;
		cl_json_object *obj;
		enum json_tokener_error jerr;

		if (p->root != NULL)
		{
			/* The value is complete: only whitespace may follow. */
			if (!only_space(buf, slice))
				return parser_fail(p, CL_PARSE_TRAILING,
								   "unexpected data after the JSON value");
			buf += slice;
			len -= slice;
			continue;
		}

		obj = json_tokener_parse_ex(p->tok, buf, (int) slice);
		jerr = json_tokener_get_error(p->tok);
		if (obj == NULL && jerr == json_tokener_success)
			return parser_fail(p, CL_PARSE_SYNTAX,
							   "the response is a JSON null, not an object");
		if (obj != NULL)
		{
			size_t		used = json_tokener_get_parse_end(p->tok);

			p->root = obj;
			if (used < slice && !only_space(buf + used, slice - used))
				return parser_fail(p, CL_PARSE_TRAILING,
								   "unexpected data after the JSON value");
		}
		else if (jerr == json_tokener_error_depth)
			return parser_fail(p, CL_PARSE_DEPTH,
							   "JSON nested too deeply");
		else if (jerr != json_tokener_continue)
		{
			char		msg[CL_ERRMSG_LEN];

			snprintf(msg, sizeof(msg), "%s at byte %zu",
					 json_tokener_error_desc(jerr),
					 p->nbytes - len + json_tokener_get_parse_end(p->tok));
			return parser_fail(p, CL_PARSE_SYNTAX, msg);
		}
		buf += slice;
		len -= slice;
	}
	return true;
}

/*
 * cl_parser_finish
 *		Signal the end of input.  Returns the parsed value, which the caller
 *		then owns (free it with json_object_put), or NULL with p->status set.
 */
cl_json_object *
cl_parser_finish(ClJsonParser *p)
{
	cl_json_object *root;

	if (p->status != CL_PARSE_OK)
		return NULL;
	if (p->root == NULL && p->nbytes > 0)
	{
		/* a bare top-level number needs a delimiter to complete */
		cl_json_object *obj = json_tokener_parse_ex(p->tok, " ", 1);

		if (obj != NULL)
			p->root = obj;
		else if (json_tokener_get_error(p->tok) == json_tokener_success)
		{
			parser_fail(p, CL_PARSE_SYNTAX,
						"the response is a JSON null, not an object");
			return NULL;
		}
	}
	if (p->root == NULL)
	{
		parser_fail(p, CL_PARSE_TRUNCATED,
					p->nbytes == 0 ? "empty response body" :
					"JSON value is incomplete (truncated response?)");
		return NULL;
	}
	root = p->root;
	p->root = NULL;
	return root;
}

/*
 * cl_parser_free
 *		Release everything the parser holds, including an unclaimed value.
 *		Safe to call twice.
 */
void
cl_parser_free(ClJsonParser *p)
{
	if (p->tok != NULL)
		json_tokener_free(p->tok);
	p->tok = NULL;
	if (p->root != NULL)
		json_object_put(p->root);
	p->root = NULL;
}

/*
 * cl_json_get_int64
 *		Read an integer that json-c did not clamp.  json-c saturates values
 *		outside int64 (or uint64) silently, so the extremes are refused.
 */
bool
cl_json_get_int64(cl_json_object *v, int64_t *out)
{
	int64_t		i;

	if (!json_object_is_type(v, json_type_int))
		return false;
	i = json_object_get_int64(v);
	if (i == INT64_MAX || i == INT64_MIN)
		return false;
	*out = i;
	return true;
}

static const char *
json_type_label(cl_json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/*
 * cl_page_decode
 *		Check that root has the shape of a Call Logs page and fill page with
 *		pointers into it.  On failure, err holds a one-line reason.
 */
bool
cl_page_decode(cl_json_object *root, ClPage *page, char *err, size_t errlen)
{
	cl_json_object *v;

	memset(page, 0, sizeof(*page));
	page->root = root;

	if (!json_object_is_type(root, json_type_object))
	{
		snprintf(err, errlen, "the response is a JSON %s, not an object",
				 json_type_label(root));
		return false;
	}

	if (!json_object_object_get_ex(root, "data", &v))
	{
		snprintf(err, errlen, "the response has no \"data\" key");
		return false;
	}
	if (!json_object_is_type(v, json_type_array))
	{
		snprintf(err, errlen, "\"data\" is a JSON %s, not an array",
				 json_type_label(v));
		return false;
	}
	page->data = v;
	page->ndata = json_object_array_length(v);

	if (!json_object_object_get_ex(root, "count", &v))
	{
		snprintf(err, errlen, "the response has no \"count\" key");
		return false;
	}
	if (json_object_is_type(v, json_type_int) && !cl_json_get_int64(v, &page->count))
	{
		snprintf(err, errlen, "\"count\" is out of the 64-bit integer range");
		return false;
	}
	if (!cl_json_get_int64(v, &page->count) || page->count < 0)
	{
		char		shown[48];
		const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);

		snprintf(shown, sizeof(shown), "%s", text ? text : "?");
		snprintf(err, errlen,
				 "\"count\" is not a non-negative 64-bit integer: %s", shown);
		return false;
	}

	if (json_object_object_get_ex(root, "next", &v) && v != NULL)
	{
		if (!json_object_is_type(v, json_type_string))
		{
			snprintf(err, errlen, "\"next\" is a JSON %s, not a string",
					 json_type_label(v));
			return false;
		}
		page->next = json_object_get_string(v);
		page->next_len = (size_t) json_object_get_string_len(v);
		if (page->next_len == 0)
			page->next = NULL;
		else if (strlen(page->next) != page->next_len)
		{
			snprintf(err, errlen, "\"next\" contains a NUL character");
			return false;
		}
	}
	return true;
}

/*
 * utf8_char_len
 *		Length of the valid UTF-8 character at s (at most n bytes), or 0.
 */
static size_t
utf8_char_len(const unsigned char *s, size_t n)
{
	size_t		len;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	else if ((s[0] & 0xE0) == 0xC0)
		len = 2, cp = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, cp = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		(cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/*
 * cl_error_message
 *		Extract the API's "message" (or "detail"/"error") from an error body,
 *		printable and shortened to outlen.  Returns NULL if there is none.
 */
const char *
cl_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	static const char *const keys[] = {"message", "detail", "error"};
	json_tokener *tok;
	cl_json_object *root;
	const char *result = NULL;

	if (body == NULL || len == 0 || outlen < 8)
		return NULL;
	tok = json_tokener_new_ex(8);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, body, len > 65536 ? 65536 : (int) len);
	json_tokener_free(tok);
	if (root == NULL)
		return NULL;

	if (json_object_is_type(root, json_type_object))
	{
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !result; k++)
		{
			cl_json_object *v;
			const char *s;
			size_t		n,
						o = 0,
						i = 0;

			if (!json_object_object_get_ex(root, keys[k], &v) ||
				!json_object_is_type(v, json_type_string))
				continue;
			s = json_object_get_string(v);
			n = (size_t) json_object_get_string_len(v);
			while (i < n && o + 4 < outlen)
			{
				unsigned char c = (unsigned char) s[i];
				size_t		clen = utf8_char_len((const unsigned char *) s + i, n - i);

				if (clen == 0)
				{
					out[o++] = '?'; /* not UTF-8: never into a message */
					i++;
				}
				else if (clen == 1)
				{
					out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
					i++;
				}
				else
				{
					if (o + clen + 4 >= outlen)
						break;
					memcpy(out + o, s + i, clen);
					o += clen;
					i += clen;
				}
			}
			if (i < n)
			{
				/* shortened, on a character boundary (room was kept) */
				memcpy(out + o, "...", 3);
				o += 3;
			}
			out[o] = '\0';
			if (o > 0)
				result = out;
		}
	}
	json_object_put(root);
	return result;
}

/* Parse exactly n decimal digits. */
static bool
parse_digits(const char *s, size_t len, size_t *pos, int n, int *out)
{
	int			v = 0;

	if (*pos + n > len)
		return false;
	for (int i = 0; i < n; i++)
	{
		char		c = s[*pos + i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*pos += n;
	*out = v;
	return true;
}

/* Parse ".ffffff" (1 to 6 digits) into microseconds; absent is 0. */
static bool
parse_fraction(const char *s, size_t len, size_t *pos, int *usec)
{
	int			v = 0,
				n = 0;

	*usec = 0;
	if (*pos >= len || s[*pos] != '.')
		return true;
	(*pos)++;
	while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9')
	{
		if (n == 6)
			return false;		/* would need rounding: leave it to PG */
		v = v * 10 + (s[*pos] - '0');
		n++;
		(*pos)++;
	}
	if (n == 0)
		return false;
	for (; n < 6; n++)
		v *= 10;
	*usec = v;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return (month == 2 && leap) ? 29 : mdays[month - 1];
}

/*
 * cl_parse_timestamp
 *		Parse the ISO 8601 forms the API sends: YYYY-MM-DD[T ]HH:MM[:SS[.f]]
 *		with an optional Z or +-HH[:MM] zone.  Anything unusual returns false
 *		so that the caller falls back to PostgreSQL's own input function,
 *		which accepts more and reports errors in its own words.
 */
bool
cl_parse_timestamp(const char *s, size_t len, ClTimestamp *ts)
{
	size_t		pos = 0;

	memset(ts, 0, sizeof(*ts));
	if (!parse_digits(s, len, &pos, 4, &ts->year) || pos >= len || s[pos++] != '-' ||
		!parse_digits(s, len, &pos, 2, &ts->month) || pos >= len || s[pos++] != '-' ||
		!parse_digits(s, len, &pos, 2, &ts->day))
		return false;
	if (ts->year < 1 || ts->month < 1 || ts->month > 12 ||
		ts->day < 1 || ts->day > days_in_month(ts->year, ts->month))
		return false;
	if (pos >= len || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
		return false;
	pos++;
	if (!parse_digits(s, len, &pos, 2, &ts->hour) || pos >= len || s[pos++] != ':' ||
		!parse_digits(s, len, &pos, 2, &ts->minute))
		return false;
	if (pos < len && s[pos] == ':')
	{
		pos++;
		if (!parse_digits(s, len, &pos, 2, &ts->second) ||
			!parse_fraction(s, len, &pos, &ts->usec))
			return false;
	}
	if (ts->hour > 23 || ts->minute > 59 || ts->second > 59)
		return false;

	if (pos < len && (s[pos] == 'Z' || s[pos] == 'z'))
	{
		ts->has_tz = true;
		pos++;
	}
	else if (pos < len && (s[pos] == '+' || s[pos] == '-'))
	{
		int			sign = s[pos] == '-' ? -1 : 1;
		int			h,
					m = 0;

		pos++;
		if (!parse_digits(s, len, &pos, 2, &h))
			return false;
		if (pos < len && s[pos] == ':')
		{
			pos++;
			if (!parse_digits(s, len, &pos, 2, &m))
				return false;
		}
		else if (pos < len && !parse_digits(s, len, &pos, 2, &m))
			return false;
		if (h > 14 || m > 59)
			return false;
		ts->has_tz = true;
		ts->tz_offset = sign * (h * 3600 + m * 60);
	}
	return pos == len;
}

/*
 * cl_parse_duration
 *		Parse "H:MM:SS" or "HH:MM:SS" (hours not padded, optional fraction)
 *		into microseconds.  Returns false for any other form.
 */
bool
cl_parse_duration(const char *s, size_t len, int64_t *usec)
{
	size_t		pos = 0;
	int64_t		hours = 0;
	int			ndigits = 0,
				minutes,
				seconds,
				frac;

	while (pos < len && s[pos] >= '0' && s[pos] <= '9')
	{
		if (++ndigits > 7)
			return false;
		hours = hours * 10 + (s[pos] - '0');
		pos++;
	}
	if (ndigits == 0 || pos >= len || s[pos++] != ':')
		return false;
	if (!parse_digits(s, len, &pos, 2, &minutes) || pos >= len || s[pos++] != ':' ||
		!parse_digits(s, len, &pos, 2, &seconds) ||
		!parse_fraction(s, len, &pos, &frac))
		return false;
	if (pos != len || minutes > 59 || seconds > 59)
		return false;
	*usec = ((hours * 60 + minutes) * 60 + seconds) * INT64_C(1000000) + frac;
	return true;
}
