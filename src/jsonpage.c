/*-------------------------------------------------------------------------
 *
 * jsonpage.c
 *		  Backend-independent decoding of one page of the Call Logs API.
 *
 * The transport feeds response bytes to a ClJsonParser as they arrive.
 * The parser is our own: a page is an object whose members, and the
 * elements of an array member such as "data", are parsed one by one as
 * soon as their bytes are complete, into ClJson nodes allocated from one
 * arena that is freed in one go.  A resumable scan finds where the next
 * value ends, so each byte is scanned once and each value parsed once,
 * however the bytes are split.
 * The grammar is RFC 8259, strictly: no comments, no single quotes, no
 * trailing commas, no control characters in strings, numbers as written;
 * nesting is bounded; integers are read exactly (out of int64 is flagged,
 * never clamped).  Strings are not UTF-8-checked here: the backend
 * validates them into the database encoding when it converts them.
 *
 * cl_page_decode then checks the shape of a page (an object with a
 * non-negative integer "count", an array "data" and an optional string
 * "next").  The fast value parsers for ISO 8601 timestamps and "H:MM:SS"
 * durations live here too, so that the fuzzer reaches them.
 *
 * Nothing in this file may use PostgreSQL's memory or error machinery:
 * it is called from libcurl callbacks, from the unit tests and from the
 * fuzzer.
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

/* ---- arena ---- */

#define CL_ARENA_BLOCK (64 * 1024)

typedef struct ClArenaBlock
{
	struct ClArenaBlock *next;
	size_t		used;
	size_t		size;
	char		data[];
} ClArenaBlock;

struct ClArena
{
	ClArenaBlock *head;
	size_t		total;			/* bytes of blocks */
	size_t		limit;			/* refuse to grow past this */
};

/*
 * Decoded values take several times the bytes of their text (a node per
 * value): bound the tree, so that a page of a million tiny values cannot
 * make us allocate gigabytes.
 */
#define CL_ARENA_MIN_LIMIT	((size_t) 64 * 1024 * 1024)
#define CL_ARENA_FACTOR		8

/*
 * Standard blocks of freed pages are kept for the next pages (the process
 * is single-threaded): a scan then parses page after page in the same
 * memory instead of faulting fresh pages in from the kernel each time.
 */
#define CL_BLOCK_CACHE 32
static ClArenaBlock *block_cache[CL_BLOCK_CACHE];
static int	n_block_cache = 0;

/* the same for the parsers' input buffers */
#define CL_BUF_CACHE 8
#define CL_BUF_SIZE 65536
static char *buf_cache[CL_BUF_CACHE];
static int	n_buf_cache = 0;

static ClArena *
arena_create(void)
{
	return calloc(1, sizeof(ClArena));
}

static void
arena_free(ClArena *a)
{
	ClArenaBlock *b;

	if (a == NULL)
		return;
	b = a->head;
	while (b)
	{
		ClArenaBlock *next = b->next;

		if (b->size == CL_ARENA_BLOCK && n_block_cache < CL_BLOCK_CACHE)
			block_cache[n_block_cache++] = b;
		else
			free(b);
		b = next;
	}
	free(a);
}

/* size bytes, 8-aligned; NULL when out of memory */
static void *
arena_alloc(ClArena *a, size_t size)
{
	ClArenaBlock *b = a->head;

	size = (size + 7) & ~(size_t) 7;
	if (b == NULL || b->size - b->used < size)
	{
		size_t		bsize = size > CL_ARENA_BLOCK / 4 ? size : CL_ARENA_BLOCK;

		if (a->total + bsize > a->limit)
			return NULL;
		a->total += bsize;
		if (bsize == CL_ARENA_BLOCK && n_block_cache > 0)
			b = block_cache[--n_block_cache];
		else
			b = malloc(sizeof(ClArenaBlock) + bsize);
		if (b == NULL)
			return NULL;
		b->size = bsize;
		b->used = 0;
		if (size > CL_ARENA_BLOCK / 4 && a->head)
		{
			/* a big one: keep filling the current block afterwards */
			b->next = a->head->next;
			a->head->next = b;
		}
		else
		{
			b->next = a->head;
			a->head = b;
		}
	}
	b->used += size;
	return b->data + b->used - size;
}

/* ---- the value parser ---- */

typedef enum
{
	PV_OK,
	PV_MORE,					/* the value runs past the bytes we have */
	PV_ERROR
} PvResult;

/* What a value parse needs: the bytes, the arena, the failure report. */
typedef struct PCtx
{
	const char *buf;
	size_t		len;
	bool		at_end;			/* no more bytes will come */
	ClArena    *arena;
	int			max_depth;
	ClParseStatus status;
	char	   *errmsg;
	size_t		base;			/* offset of buf[0] in the whole input */
} PCtx;

static PvResult parse_value(PCtx *c, size_t *pos, int depth, ClJson **out);

static PvResult
pv_fail(PCtx *c, ClParseStatus status, const char *what, size_t pos)
{
	c->status = status;
	if (status == CL_PARSE_SYNTAX)
		snprintf(c->errmsg, CL_ERRMSG_LEN, "%s at byte %zu", what, c->base + pos);
	else
		snprintf(c->errmsg, CL_ERRMSG_LEN, "%s", what);
	return PV_ERROR;
}

static PvResult
pv_nomem(PCtx *c)
{
	return pv_fail(c, CL_PARSE_NOMEM,
				   "the response holds too many values to decode (or out of memory)", 0);
}

static bool
is_json_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static size_t
skip_space(const char *buf, size_t len, size_t pos)
{
	while (pos < len && is_json_space(buf[pos]))
		pos++;
	return pos;
}

static ClJson *
new_node(PCtx *c, ClJsonType type, size_t start, size_t end)
{
	ClJson	   *v = arena_alloc(c->arena, sizeof(ClJson));
	char	   *raw;

	if (v == NULL)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->type = type;
	raw = arena_alloc(c->arena, end - start + 1);
	if (raw == NULL)
		return NULL;
	memcpy(raw, c->buf + start, end - start);
	raw[end - start] = '\0';
	v->raw = raw;
	v->raw_len = end - start;
	return v;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
read_hex4(const char *s)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		int			h = hexval(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t
put_utf8(char *out, unsigned int cp)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * parse_string
 *		A string starting at *pos (the quote).  Sets the decoded text (NUL
 *		terminated; \u0000 gives a NUL inside) and its length.
 */
static PvResult
parse_string(PCtx *c, size_t *pos, const char **str, size_t *str_len)
{
	const char *buf = c->buf;
	size_t		p = *pos + 1;
	size_t		start = p;
	bool		escapes = false;
	char	   *out;
	size_t		o = 0;

	/* find the end first: most strings have no escape */
	for (;;)
	{
		if (p >= c->len)
			return c->at_end ? pv_fail(c, CL_PARSE_TRUNCATED,
									   "JSON value is incomplete (truncated response?)", p) : PV_MORE;
		if (buf[p] == '"')
			break;
		if ((unsigned char) buf[p] < 0x20)
			return pv_fail(c, CL_PARSE_SYNTAX, "control character in a string", p);
		if (buf[p] == '\\')
		{
			escapes = true;
			if (p + 1 >= c->len)
				return c->at_end ? pv_fail(c, CL_PARSE_TRUNCATED,
										   "JSON value is incomplete (truncated response?)", p) : PV_MORE;
			p += 2;
			continue;
		}
		p++;
	}

	out = arena_alloc(c->arena, p - start + 1);
	if (out == NULL)
		return pv_nomem(c);
	if (!escapes)
	{
		memcpy(out, buf + start, p - start);
		o = p - start;
	}
	else
	{
		for (size_t q = start; q < p;)
		{
			if (buf[q] != '\\')
			{
				out[o++] = buf[q++];
				continue;
			}
			q++;
			switch (buf[q])
			{
				case '"':
				case '\\':
				case '/':
					out[o++] = buf[q++];
					break;
				case 'b':
					out[o++] = '\b';
					q++;
					break;
				case 'f':
					out[o++] = '\f';
					q++;
					break;
				case 'n':
					out[o++] = '\n';
					q++;
					break;
				case 'r':
					out[o++] = '\r';
					q++;
					break;
				case 't':
					out[o++] = '\t';
					q++;
					break;
				case 'u':
					{
						int			cp;

						if (q + 5 > p || (cp = read_hex4(buf + q + 1)) < 0)
							return pv_fail(c, CL_PARSE_SYNTAX, "invalid \\u escape", q);
						q += 5;
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							int			lo;

							if (q + 6 > p || buf[q] != '\\' || buf[q + 1] != 'u' ||
								(lo = read_hex4(buf + q + 2)) < 0xDC00 || lo > 0xDFFF)
								return pv_fail(c, CL_PARSE_SYNTAX,
											   "invalid \\u surrogate pair", q);
							q += 6;
							cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						}
						else if (cp >= 0xDC00 && cp <= 0xDFFF)
							return pv_fail(c, CL_PARSE_SYNTAX, "invalid \\u surrogate pair", q);
						/* at most 6 escaped bytes give at most 4 bytes */
						o += put_utf8(out + o, (unsigned int) cp);
						break;
					}
				default:
					return pv_fail(c, CL_PARSE_SYNTAX, "invalid escape in a string", q);
			}
		}
	}
	out[o] = '\0';
	*str = out;
	*str_len = o;
	*pos = p + 1;
	return PV_OK;
}

/*
 * parse_number
 *		RFC 8259 number syntax; integers are read exactly into int64 when
 *		they fit.
 */
static PvResult
parse_number(PCtx *c, size_t *pos, ClJson **out)
{
	const char *buf = c->buf;
	size_t		p = *pos;
	bool		neg = false,
				is_int = true,
				ok = true;
	uint64_t	mag = 0;
	ClJson	   *v;

#define NEED(cond) do { if (p >= c->len) { if (!c->at_end) return PV_MORE; \
		return pv_fail(c, CL_PARSE_TRUNCATED, "JSON value is incomplete (truncated response?)", p); } \
		if (!(cond)) return pv_fail(c, CL_PARSE_SYNTAX, "invalid number", p); } while (0)

	if (buf[p] == '-')
	{
		neg = true;
		p++;
	}
	NEED(buf[p] >= '0' && buf[p] <= '9');
	if (buf[p] == '0')
		p++;
	else
	{
		while (p < c->len && buf[p] >= '0' && buf[p] <= '9')
		{
			unsigned	d = (unsigned) (buf[p] - '0');

			if (mag > (UINT64_MAX - d) / 10)
				ok = false;
			else
				mag = mag * 10 + d;
			p++;
		}
	}
	if (p < c->len && buf[p] == '.')
	{
		is_int = false;
		p++;
		NEED(buf[p] >= '0' && buf[p] <= '9');
		while (p < c->len && buf[p] >= '0' && buf[p] <= '9')
			p++;
	}
	if (p < c->len && (buf[p] == 'e' || buf[p] == 'E'))
	{
		is_int = false;
		p++;
		NEED(1);
		if (buf[p] == '+' || buf[p] == '-')
			p++;
		NEED(buf[p] >= '0' && buf[p] <= '9');
		while (p < c->len && buf[p] >= '0' && buf[p] <= '9')
			p++;
	}
#undef NEED
	/* a number ends only at a delimiter: at the end of the bytes so far, wait */
	if (p >= c->len && !c->at_end)
		return PV_MORE;
	v = new_node(c, is_int ? CL_JSON_INT : CL_JSON_DOUBLE, *pos, p);
	if (v == NULL)
		return pv_nomem(c);
	if (is_int && ok)
	{
		if (!neg && mag <= (uint64_t) INT64_MAX)
			v->i = (int64_t) mag;
		else if (neg && mag <= (uint64_t) INT64_MAX + 1)
			v->i = mag == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) mag;
		else
			ok = false;
		v->int_ok = ok;
	}
	*out = v;
	*pos = p;
	return PV_OK;
}

static PvResult
parse_literal(PCtx *c, size_t *pos, const char *word, ClJsonType type, bool b,
			  ClJson **out)
{
	size_t		n = strlen(word);
	size_t		have = c->len - *pos;
	ClJson	   *v;

	if (have < n)
	{
		if (memcmp(c->buf + *pos, word, have) != 0)
			return pv_fail(c, CL_PARSE_SYNTAX, "unexpected character", *pos);
		return c->at_end ? pv_fail(c, CL_PARSE_TRUNCATED,
								   "JSON value is incomplete (truncated response?)", *pos) : PV_MORE;
	}
	if (memcmp(c->buf + *pos, word, n) != 0)
		return pv_fail(c, CL_PARSE_SYNTAX, "unexpected character", *pos);
	v = new_node(c, type, *pos, *pos + n);
	if (v == NULL)
		return pv_nomem(c);
	v->boolean = b;
	*pos += n;
	*out = v;
	return PV_OK;
}

/* A growing array of pointers or members in the arena (old copies wasted). */
static void *
grow(PCtx *c, void *old, size_t used, size_t *cap, size_t elem)
{
	size_t		ncap = *cap ? *cap * 2 : 8;
	void	   *n = arena_alloc(c->arena, ncap * elem);

	if (n == NULL)
		return NULL;
	if (used)
		memcpy(n, old, used * elem);
	*cap = ncap;
	return n;
}

static PvResult
expect_more(PCtx *c, size_t p)
{
	return c->at_end ? pv_fail(c, CL_PARSE_TRUNCATED,
							   "JSON value is incomplete (truncated response?)", p) : PV_MORE;
}

/*
 * parse_composite
 *		An object or array at *pos, complete.  Members of an object keep
 *		their order; a repeated key is kept (lookups take the last).
 */
static PvResult
parse_composite(PCtx *c, size_t *pos, int depth, ClJson **out)
{
	const char *buf = c->buf;
	bool		is_obj = buf[*pos] == '{';
	char		close = is_obj ? '}' : ']';
	size_t		p = *pos + 1;
	size_t		cap = 0,
				n = 0;
	ClJsonMember *members = NULL;
	ClJson	  **elements = NULL;
	ClJson	   *v;

	if (depth >= c->max_depth)
		return pv_fail(c, CL_PARSE_DEPTH, "JSON nested too deeply", p);
	p = skip_space(buf, c->len, p);
	if (p >= c->len)
		return expect_more(c, p);
	if (buf[p] != close)
	{
		for (;;)
		{
			const char *key = NULL;
			size_t		key_len = 0;
			ClJson	   *item;
			PvResult	r;

			p = skip_space(buf, c->len, p);
			if (p >= c->len)
				return expect_more(c, p);
			if (is_obj)
			{
				if (buf[p] != '"')
					return pv_fail(c, CL_PARSE_SYNTAX, "object key expected", p);
				if ((r = parse_string(c, &p, &key, &key_len)) != PV_OK)
					return r;
				p = skip_space(buf, c->len, p);
				if (p >= c->len)
					return expect_more(c, p);
				if (buf[p] != ':')
					return pv_fail(c, CL_PARSE_SYNTAX, "':' expected", p);
				p++;
			}
			if ((r = parse_value(c, &p, depth + 1, &item)) != PV_OK)
				return r;
			if (n == cap)
			{
				void	   *g = is_obj ? grow(c, members, n, &cap, sizeof(ClJsonMember)) :
				grow(c, elements, n, &cap, sizeof(ClJson *));

				if (g == NULL)
					return pv_nomem(c);
				if (is_obj)
					members = g;
				else
					elements = g;
			}
			if (is_obj)
			{
				members[n].key = key;
				members[n].key_len = key_len;
				members[n].value = item;
			}
			else
				elements[n] = item;
			n++;
			p = skip_space(buf, c->len, p);
			if (p >= c->len)
				return expect_more(c, p);
			if (buf[p] == ',')
			{
				p++;
				continue;
			}
			if (buf[p] == close)
				break;
			return pv_fail(c, CL_PARSE_SYNTAX,
						   is_obj ? "',' or '}' expected" : "',' or ']' expected", p);
		}
	}
	p++;						/* the closing bracket */
	v = new_node(c, is_obj ? CL_JSON_OBJECT : CL_JSON_ARRAY, *pos, p);
	if (v == NULL)
		return pv_nomem(c);
	v->n = n;
	v->members = members;
	v->elements = elements;
	*out = v;
	*pos = p;
	return PV_OK;
}

/*
 * parse_value
 *		One complete value at *pos (after optional whitespace); on PV_OK,
 *		*pos is just past it.  PV_MORE: the bytes end inside it.
 */
static PvResult
parse_value(PCtx *c, size_t *pos, int depth, ClJson **out)
{
	size_t		p = skip_space(c->buf, c->len, *pos);
	PvResult	r;

	if (p >= c->len)
		return expect_more(c, p);
	switch (c->buf[p])
	{
		case '{':
		case '[':
			r = parse_composite(c, &p, depth, out);
			break;
		case '"':
			{
				size_t		start = p;
				const char *s;
				size_t		slen;

				r = parse_string(c, &p, &s, &slen);
				if (r == PV_OK)
				{
					ClJson	   *v = new_node(c, CL_JSON_STRING, start, p);

					if (v == NULL)
						return pv_nomem(c);
					v->str = s;
					v->str_len = slen;
					*out = v;
				}
				break;
			}
		case 't':
			r = parse_literal(c, &p, "true", CL_JSON_BOOLEAN, true, out);
			break;
		case 'f':
			r = parse_literal(c, &p, "false", CL_JSON_BOOLEAN, false, out);
			break;
		case 'n':
			r = parse_literal(c, &p, "null", CL_JSON_NULL, false, out);
			break;
		default:
			if (c->buf[p] == '-' || (c->buf[p] >= '0' && c->buf[p] <= '9'))
				r = parse_number(c, &p, out);
			else
				r = pv_fail(c, CL_PARSE_SYNTAX, "unexpected character", p);
			break;
	}
	if (r == PV_OK)
		*pos = p;
	return r;
}

/* ---- the streaming top level ---- */

/*
 * The top-level value, and an array that is a member of a top-level object
 * (such as "data"), are parsed item by item as bytes arrive; any other
 * value is parsed whole once all its bytes are there.
 */
#define CL_STREAM_LEVELS 2

enum
{
	ST_START,					/* before the top-level value */
	ST_FIRST,					/* after '{' or '[': an item or the close */
	ST_ITEM,					/* after ',': an item */
	ST_SEP,						/* after an item: ',' or the close */
	ST_DONE						/* the value is complete */
};

/* A streamed container and the room its items array has. */
typedef struct StreamLevel
{
	ClJson	   *node;
	size_t		cap;
} StreamLevel;

struct ClStreamState
{
	StreamLevel levels[CL_STREAM_LEVELS];
	int			depth;
	/* an object member whose key is read, waiting for ':' or its value */
	const char *key;
	size_t		key_len;
	/* the scan for the end of the next value, resumed at each feed */
	size_t		scan_start;		/* absolute offset of the value, or -1 */
	size_t		scan_next;		/* absolute offset of the next byte to scan */
	int			scan_depth;
	bool		scan_in_string;
	bool		scan_escape;
	bool		scan_scalar;	/* a number or literal has begun */
};

enum
{
	ST_COLON = ST_DONE + 1,		/* after a member's key: ':' */
	ST_VALUE					/* after ':': the member's value */
};

/*
 * value_complete
 *		Whether the value starting at buf[q] is complete in the bytes we
 *		have.  The scan resumes where the last feed left it, so each byte is
 *		looked at once, and a value is then parsed once: slow or huge rows
 *		cost linear time and no wasted memory.  Nesting past max_depth
 *		counts as complete, so that the parse reports it at once.
 */
static bool
value_complete(ClJsonParser *p, size_t q)
{
	struct ClStreamState *ss = p->stream;
	size_t		abs = p->consumed + q;
	size_t		i;

	if (ss->scan_start != abs)
	{
		ss->scan_start = abs;
		ss->scan_next = abs;
		ss->scan_depth = 0;
		ss->scan_in_string = false;
		ss->scan_escape = false;
		ss->scan_scalar = false;
	}
	for (i = ss->scan_next - p->consumed; i < p->len; i++)
	{
		char		ch = p->buf[i];

		if (ss->scan_in_string)
		{
			if (ss->scan_escape)
				ss->scan_escape = false;
			else if (ch == '\\')
				ss->scan_escape = true;
			else if (ch == '"')
			{
				ss->scan_in_string = false;
				if (ss->scan_depth == 0)
					return true;
			}
			continue;
		}
		if (ss->scan_scalar && ss->scan_depth == 0)
		{
			/* a number or literal ends at anything that cannot be in it */
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
				  ch == '-' || ch == '+' || ch == '.' || ch == 'E'))
				return true;
			continue;
		}
		switch (ch)
		{
			case '"':
				ss->scan_in_string = true;
				break;
			case '{':
			case '[':
				if (++ss->scan_depth > p->max_depth)
					return true;
				break;
			case '}':
			case ']':
				if (--ss->scan_depth <= 0)
					return true;
				break;
			case ' ':
			case '\t':
			case '\n':
			case '\r':
			case ',':
			case ':':
				break;
			default:
				if (ss->scan_depth == 0)
					ss->scan_scalar = true;
				break;
		}
	}
	ss->scan_next = p->consumed + i;
	return false;
}

static struct ClStreamState *
stream_of(ClJsonParser *p)
{
	return p->stream;
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
	p->max_depth = max_depth;
	p->state = ST_START;
	p->arena = arena_create();
	if (p->arena == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
	p->arena->limit = max_bytes > 0 && max_bytes < SIZE_MAX / CL_ARENA_FACTOR &&
		max_bytes * CL_ARENA_FACTOR > CL_ARENA_MIN_LIMIT ?
		max_bytes * CL_ARENA_FACTOR : CL_ARENA_MIN_LIMIT;
	p->stream = arena_alloc(p->arena, sizeof(struct ClStreamState));
	if (p->stream == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
	memset(p->stream, 0, sizeof(struct ClStreamState));
	p->stream->scan_start = (size_t) -1;
	return true;
}

static bool
add_item(ClJsonParser *p, PCtx *c, StreamLevel *lv, const char *key,
		 size_t key_len, ClJson *item)
{
	ClJson	   *node = lv->node;

	if (node->n == lv->cap)
	{
		void	   *g = node->type == CL_JSON_OBJECT ?
		grow(c, node->members, node->n, &lv->cap, sizeof(ClJsonMember)) :
		grow(c, node->elements, node->n, &lv->cap, sizeof(ClJson *));

		if (g == NULL)
			return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
		if (node->type == CL_JSON_OBJECT)
			node->members = g;
		else
			node->elements = g;
	}
	if (node->type == CL_JSON_OBJECT)
	{
		node->members[node->n].key = key;
		node->members[node->n].key_len = key_len;
		node->members[node->n].value = item;
	}
	else
		node->elements[node->n] = item;
	node->n++;
	return true;
}

static ClJson *
stream_node(PCtx *c, char open)
{
	ClJson	   *v = arena_alloc(c->arena, sizeof(ClJson));

	if (v == NULL)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->type = open == '{' ? CL_JSON_OBJECT : CL_JSON_ARRAY;
	/* the whole text of a streamed container is not kept */
	v->raw = open == '{' ? "{...}" : "[...]";
	v->raw_len = 5;
	return v;
}

/*
 * advance
 *		Parse as far as the bytes allow.  Returns false on a parse error.
 */
static bool
advance(ClJsonParser *p, bool at_end)
{
	struct ClStreamState *ss = stream_of(p);
	PCtx		c;
	size_t		pos = 0;

	c.buf = p->buf;
	c.len = p->len;
	c.at_end = at_end;
	c.arena = p->arena;
	c.max_depth = p->max_depth;
	c.status = CL_PARSE_OK;
	c.errmsg = p->errmsg;
	c.base = p->consumed;

	for (;;)
	{
		StreamLevel *lv = ss->depth > 0 ? &ss->levels[ss->depth - 1] : NULL;
		size_t		q = skip_space(c.buf, c.len, pos);
		char		ch;
		PvResult	r = PV_OK;

		if (q >= c.len)
		{
			pos = q;
			break;
		}
		ch = c.buf[q];
		if (p->state == ST_DONE)
		{
			p->status = CL_PARSE_TRAILING;
			snprintf(p->errmsg, sizeof(p->errmsg), "unexpected data after the JSON value");
			return false;
		}
		if (p->state == ST_START)
		{
			if (ch == '{' || ch == '[')
			{
				ClJson	   *node = stream_node(&c, ch);

				if (node == NULL)
					return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
				p->root = node;
				ss->levels[0].node = node;
				ss->levels[0].cap = 0;
				ss->depth = 1;
				p->state = ST_FIRST;
				pos = q + 1;
				continue;
			}
			if (!at_end && !value_complete(p, q))
				break;
			r = parse_value(&c, &q, 0, &p->root);
			if (r == PV_MORE)
				break;
			if (r != PV_OK)
				goto fail;
			if (p->root->type == CL_JSON_NULL)
				return parser_fail(p, CL_PARSE_SYNTAX,
								   "the response is a JSON null, not an object");
			p->state = ST_DONE;
			pos = q;
			continue;
		}

		/* inside a streamed object or array */
		{
			bool		is_obj = lv->node->type == CL_JSON_OBJECT;
			char		close = is_obj ? '}' : ']';

			if ((p->state == ST_FIRST || p->state == ST_SEP) && ch == close)
			{
				ss->depth--;
				pos = q + 1;
				p->state = ss->depth == 0 ? ST_DONE : ST_SEP;
				continue;
			}
			if (p->state == ST_SEP)
			{
				if (ch != ',')
				{
					pv_fail(&c, CL_PARSE_SYNTAX,
							is_obj ? "',' or '}' expected" : "',' or ']' expected", q);
					goto fail;
				}
				p->state = ST_ITEM;
				pos = q + 1;
				continue;
			}

			/* an object's key */
			if (is_obj && (p->state == ST_FIRST || p->state == ST_ITEM))
			{
				if (ch != '"')
				{
					pv_fail(&c, CL_PARSE_SYNTAX, "object key expected", q);
					goto fail;
				}
				if (!at_end && !value_complete(p, q))
					break;
				r = parse_string(&c, &q, &ss->key, &ss->key_len);
				if (r != PV_OK)
					goto fail;
				p->state = ST_COLON;
				pos = q;
				continue;
			}
			if (p->state == ST_COLON)
			{
				if (ch != ':')
				{
					pv_fail(&c, CL_PARSE_SYNTAX, "':' expected", q);
					goto fail;
				}
				p->state = ST_VALUE;
				pos = q + 1;
				continue;
			}

			/* a value: an array element, or the member's value */
			{
				ClJson	   *item;

				/* an array member of the top-level object streams too */
				if (is_obj && ch == '[' && ss->depth < CL_STREAM_LEVELS)
				{
					ClJson	   *arr = stream_node(&c, '[');

					if (arr == NULL)
						return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
					if (ss->depth + 1 > p->max_depth)
					{
						pv_fail(&c, CL_PARSE_DEPTH, "JSON nested too deeply", q);
						goto fail;
					}
					if (!add_item(p, &c, lv, ss->key, ss->key_len, arr))
						return false;
					ss->levels[ss->depth].node = arr;
					ss->levels[ss->depth].cap = 0;
					ss->depth++;
					p->state = ST_FIRST;
					pos = q + 1;
					continue;
				}
				if (!at_end && !value_complete(p, q))
					break;
				r = parse_value(&c, &q, ss->depth, &item);
				if (r == PV_MORE)
					break;
				if (r != PV_OK)
					goto fail;
				if (!add_item(p, &c, lv, is_obj ? ss->key : NULL,
							  is_obj ? ss->key_len : 0, item))
					return false;
				p->state = ST_SEP;
				pos = q;
			}
		}
	}

	/* drop what is consumed */
	if (pos > 0)
	{
		memmove(p->buf, p->buf + pos, p->len - pos);
		p->len -= pos;
		p->consumed += pos;
	}
	if (at_end && p->state != ST_DONE)
		return parser_fail(p, CL_PARSE_TRUNCATED,
						   p->nbytes == 0 ? "empty response body" :
						   "JSON value is incomplete (truncated response?)");
	return true;

fail:
	p->status = c.status;
	return false;
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
	if (p->arena == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "parser not initialized");
	if (p->max_bytes > 0 && len > p->max_bytes - p->nbytes)
	{
		p->nbytes += len;
		return parser_fail(p, CL_PARSE_TOO_BIG, "response too large");
	}
	if (len == 0)
		return true;
	p->nbytes += len;
	if (p->len + len + 1 > p->cap)
	{
		size_t		ncap = p->cap ? p->cap : CL_BUF_SIZE;
		char	   *nbuf;

		while (ncap < p->len + len + 1)
			ncap *= 2;
		if (p->buf == NULL && ncap == CL_BUF_SIZE && n_buf_cache > 0)
			nbuf = buf_cache[--n_buf_cache];
		else
			nbuf = realloc(p->buf, ncap);
		if (nbuf == NULL)
			return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
		p->buf = nbuf;
		p->cap = ncap;
	}
	memcpy(p->buf + p->len, buf, len);
	p->len += len;
	p->buf[p->len] = '\0';
	return advance(p, false);
}

/*
 * cl_parser_finish
 *		Signal the end of input.  Returns the parsed value, which the caller
 *		then owns (free it with cl_json_free), or NULL with p->status set.
 */
ClJson *
cl_parser_finish(ClJsonParser *p)
{
	ClJson	   *root;

	if (p->status != CL_PARSE_OK)
		return NULL;
	if (p->buf == NULL)
	{
		/* nothing was fed */
		parser_fail(p, CL_PARSE_TRUNCATED, "empty response body");
		return NULL;
	}
	if (!advance(p, true))
		return NULL;
	root = p->root;
	root->arena = p->arena;
	p->arena = NULL;
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
	if (p->buf != NULL && p->cap == CL_BUF_SIZE && n_buf_cache < CL_BUF_CACHE)
		buf_cache[n_buf_cache++] = p->buf;
	else
		free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
	arena_free(p->arena);
	p->arena = NULL;
	p->root = NULL;
	p->stream = NULL;
}

/*
 * cl_json_parse
 *		Parse a whole document; NULL with a reason in err on failure.
 */
ClJson *
cl_json_parse(const char *buf, size_t len, int max_depth, char *err, size_t errlen)
{
	ClJsonParser p;
	ClJson	   *root = NULL;

	if (cl_parser_init(&p, max_depth, 0) && cl_parser_feed(&p, buf, len))
		root = cl_parser_finish(&p);
	if (root == NULL && err)
		snprintf(err, errlen, "%s", p.errmsg);
	cl_parser_free(&p);
	return root;
}

/*
 * cl_json_free
 *		Free a value returned by cl_parser_finish or cl_json_parse.
 */
void
cl_json_free(ClJson *root)
{
	if (root != NULL)
		arena_free(root->arena);
}

/* ---- accessors ---- */

const char *
cl_type_name(const ClJson *v)
{
	switch (cl_type(v))
	{
		case CL_JSON_NULL:
			return "null";
		case CL_JSON_BOOLEAN:
			return "boolean";
		case CL_JSON_INT:
			return "int";
		case CL_JSON_DOUBLE:
			return "double";
		case CL_JSON_STRING:
			return "string";
		case CL_JSON_OBJECT:
			return "object";
		case CL_JSON_ARRAY:
			return "array";
	}
	return "?";
}

/*
 * cl_object_get
 *		The member named key (the last one, if the key repeats, as in
 *		jsonb).  False when there is none; a JSON null is a member.
 */
bool
cl_object_get(const ClJson *obj, const char *key, ClJson **value)
{
	size_t		klen;

	*value = NULL;
	if (cl_type(obj) != CL_JSON_OBJECT)
		return false;
	klen = strlen(key);
	for (size_t i = obj->n; i > 0; i--)
	{
		const ClJsonMember *m = &obj->members[i - 1];

		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
		{
			*value = m->value;
			return true;
		}
	}
	return false;
}

/*
 * cl_json_get_int64
 *		An integer that fits int64.
 */
bool
cl_json_get_int64(const ClJson *v, int64_t *out)
{
	if (cl_type(v) != CL_JSON_INT || !v->int_ok)
		return false;
	*out = v->i;
	return true;
}

/*
 * cl_page_decode
 *		Check that root has the shape of a Call Logs page and fill page with
 *		pointers into it.  On failure, err holds a one-line reason.
 */
bool
cl_page_decode(ClJson *root, ClPage *page, char *err, size_t errlen)
{
	ClJson	   *v;

	memset(page, 0, sizeof(*page));
	page->root = root;

	if (cl_type(root) != CL_JSON_OBJECT)
	{
		snprintf(err, errlen, "the response is a JSON %s, not an object",
				 cl_type_name(root));
		return false;
	}
	if (!cl_object_get(root, "data", &v))
	{
		snprintf(err, errlen, "the response has no \"data\" key");
		return false;
	}
	if (cl_type(v) != CL_JSON_ARRAY)
	{
		snprintf(err, errlen, "\"data\" is a JSON %s, not an array", cl_type_name(v));
		return false;
	}
	page->data = v;
	page->ndata = v->n;

	if (!cl_object_get(root, "count", &v))
	{
		snprintf(err, errlen, "the response has no \"count\" key");
		return false;
	}
	if (cl_type(v) == CL_JSON_INT && !v->int_ok)
	{
		snprintf(err, errlen, "\"count\" is out of the 64-bit integer range");
		return false;
	}
	if (!cl_json_get_int64(v, &page->count) || page->count < 0)
	{
		char		shown[48];

		snprintf(shown, sizeof(shown), "%s", v->raw);
		snprintf(err, errlen,
				 "\"count\" is not a non-negative 64-bit integer: %s", shown);
		return false;
	}

	if (cl_object_get(root, "next", &v) && cl_type(v) != CL_JSON_NULL)
	{
		if (cl_type(v) != CL_JSON_STRING)
		{
			snprintf(err, errlen, "\"next\" is a JSON %s, not a string", cl_type_name(v));
			return false;
		}
		page->next = v->str;
		page->next_len = v->str_len;
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
	ClJson	   *root;
	const char *result = NULL;

	if (body == NULL || len == 0 || outlen < 8)
		return NULL;
	root = cl_json_parse(body, len > 65536 ? 65536 : len, 8, NULL, 0);
	if (root == NULL)
		return NULL;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !result; k++)
	{
		ClJson	   *v;
		const char *s;
		size_t		n,
					o = 0,
					i = 0;

		if (!cl_object_get(root, keys[k], &v) || cl_type(v) != CL_JSON_STRING)
			continue;
		s = v->str;
		n = v->str_len;
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
	cl_json_free(root);
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
