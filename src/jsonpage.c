/*-------------------------------------------------------------------------
 *
 * jsonpage.c
 *		  Backend-independent decoding of one page of the Call Logs API,
 *		  over json-c.
 *
 * The transport feeds response bytes to a ClJsonParser as they arrive;
 * json-c (json_tokener_parse_ex, JSON_TOKENER_STRICT, nesting bounded by
 * json_tokener_new_ex) does all the parsing and builds the tree.
 *
 * Before json-c sees a byte, a byte classifier looks at it.  It tracks only
 * where the byte is (inside a string or an escape, inside a number or
 * literal, how many containers are open and whether the innermost is an
 * object) and does three things json-c 0.16 does not:
 *
 *	1. Memory budget (issue 10, section 3).  json-c mallocs per value: an
 *	   empty object costs about 800 bytes, so a hostile page of "[{},{},..."
 *	   grows to 260 times its size.  The classifier keeps an upper bound of
 *	   what json-c will have allocated for the bytes seen so far (constants
 *	   EST_* below, measured against glibc malloc and checked by
 *	   test/unit/test_budget.c) and charges it, with the bytes themselves,
 *	   to the parser's ClBudget before json-c parses them.
 *	2. Strictness.  JSON_TOKENER_STRICT still accepts NaN, Infinity,
 *	   -Infinity, leading zeros ("00", "-01"), "1." and "1.e5" and single-
 *	   quoted keys, and raw control characters inside strings.  The
 *	   classifier holds every number to RFC 8259's grammar, allows only
 *	   '-', digits, 't', 'f' and 'n' to start a number or literal (json-c
 *	   checks the literals' spelling) and refuses bytes below 0x20 inside
 *	   strings.
 *	3. The end of the document.  Bytes after the value are refused
 *	   (CL_PARSE_TRAILING) in the same chunk and in later ones: json-c
 *	   would start parsing a second document.
 *
 * A feed runs the classifier over the new bytes first; where it stops (an
 * error, the budget, max_bytes), json-c is fed only the bytes before that
 * point, and if json-c finds an error there, json-c's error wins.  Each
 * side decides byte by byte, so how the bytes are split into feeds changes
 * nothing (the fuzzer checks this; it also hides json-c's resumption of a
 * number split across feeds, which accepted "1" + "-1" as 1).
 *
 * JSON_TOKENER_VALIDATE_UTF8 is not used: json-c 0.16 keeps its UTF-8 state
 * in a local variable of json_tokener_parse_ex, so a character split
 * across two feeds is reported as invalid, and its check accepts overlong
 * forms and surrogates anyway.  Strings are validated where they are used:
 * convert.c turns them into the database encoding (pg_any_to_server), and
 * error messages replace invalid bytes.
 *
 * What json-c does and the accessors below account for:
 *	- integers: a negative one below INT64_MIN is clamped to INT64_MIN
 *	  (strtoll), a positive one above UINT64_MAX to UINT64_MAX (strtoull),
 *	  silently; those two values therefore read as out of range.  Integers
 *	  between INT64_MAX and UINT64_MAX are kept exactly, as uint64.
 *	- doubles keep the text as written (json_object_new_double_s).
 *	- "-0" would be the integer 0, its sign lost: json-c is fed "-0." in
 *	  its place, a double -0.0 whose text is then made "-0" again
 *	  (classify, fix_neg_zeros), so that it stays a number as written.
 *	- strings keep their length (\u0000 included); a lone surrogate escape
 *	  becomes U+FFFD; a key is cut at a \u0000.
 *	- a repeated key keeps the last value, at the first one's position.
 *
 * cl_page_decode then checks the shape of a page (an object with a
 * non-negative integer "count", an array "data", optional string-or-null
 * "next" and "previous").  The fast value parsers for ISO 8601 timestamps
 * and "H:MM:SS" durations live here too, so that the fuzzer reaches them.
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

#include <json_object.h>
#include <json_object_iterator.h>
#include <linkhash.h>
#include <json_tokener.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the memory budget ---- */

/*
 * What json-c allocates, as upper bounds in bytes of glibc malloc chunks
 * (request + 8, rounded up to 16, at least 32) on a 64-bit machine, for
 * json-c 0.16 (json_object.c, linkhash.c, arraylist.c, json_tokener.c):
 *
 * EST_TOKENER: the tokener, its stack (24 bytes per level of max_depth),
 *	its printbuf, and the locale copies each json_tokener_parse_ex makes.
 * EST_OBJECT: '{': json_object_object (64) + lh_table (64) + 16 hash
 *	entries of 40 bytes (656); glibc measures 784.
 * EST_ARRAY: '[': json_object_array (64) + array_list (48) + 32 slots (272)
 *	until ']' shrinks them; glibc measures 384.
 * EST_ENTRY, EST_RESIZE: an object's table doubles when an insertion finds
 *	it 66 % full (lh_table_insert_w_hash): the new table (40 bytes per
 *	entry, one chunk) and a temporary lh_table; the old table is freed
 *	after the copy (it was charged before).
 * EST_SLOT: an array doubles its slots when full (array_list_add): the new
 *	slots; realloc may hold old and new at once (the old were charged).
 * EST_KEY + EST_KEY_BYTE per byte: a key is strdup'ed by the tokener, then
 *	again into the table before the first copy is freed: two chunks of
 *	length + 24 at most.
 * EST_STRING + 1 per byte: json_object_string with the text inline:
 *	48 + length + 1 (at least 57), a chunk of at most length + 72.
 * EST_SCALAR + 1 per byte: a number, true or false (json_object_int,
 *	_double, _boolean: 64) and a double's text (strdup: length + 24 at
 *	most); null allocates nothing but is charged the same.
 * EST_PRINTBUF_BYTE: each byte by which the longest string or token grows:
 *	the tokener collects every string and token in one printbuf that
 *	doubles by realloc (old + new at once).
 * Nested deeper than CL_SC_LEVELS (only with a max_depth above it), the
 * classifier does not follow the containers and charges flat upper
 * bounds: EST_FLAT_MEMBER per key (182 bytes of table per member, the
 * worst case of a table just doubled, with the old one still there) and
 * EST_FLAT_ELEMENT per element (slots at twice the elements, plus the old
 * ones during realloc).
 *
 * test/unit/test_budget.c checks these against glibc after every feed;
 * the fuzzer and test_jsonpage.c against ASan's count of the bytes
 * requested, at their peak inside each feed.
 */
#define EST_TOKENER			4096
#define EST_OBJECT			800
#define EST_ARRAY			400
#define EST_ENTRY			40
#define EST_RESIZE			(16 + 64)
#define EST_SLOT			8
#define EST_KEY				48
#define EST_KEY_BYTE		2
#define EST_STRING			72
#define EST_SCALAR			88
#define EST_PRINTBUF_BYTE	3
#define EST_FLAT_MEMBER		192
#define EST_FLAT_ELEMENT	24

/*
 * cl_budget_init
 *		A budget of limit bytes (0: no limit), nothing charged.
 */
void
cl_budget_init(ClBudget *b, size_t limit)
{
	b->limit = limit;
	b->used = 0;
	b->peak = 0;
}

/* What may still be charged to b (SIZE_MAX without a budget or limit). */
static size_t
budget_room(const ClBudget *b)
{
	if (b == NULL || b->limit == 0)
		return SIZE_MAX;
	return b->used < b->limit ? b->limit - b->used : 0;
}

/*
 * The most bytes a budget held at once since cl_budget_trim last gave
 * freed memory back to the system (process-wide: a backend is
 * single-threaded).
 */
static size_t peak_since_trim = 0;

/* Charge n bytes unconditionally, keeping the peak. */
static void
budget_add(ClBudget *b, size_t n)
{
	if (b == NULL)
		return;
	b->used = n > SIZE_MAX - b->used ? SIZE_MAX : b->used + n;
	if (b->used > b->peak)
		b->peak = b->used;
	if (b->used > peak_since_trim)
		peak_since_trim = b->used;
}

/*
 * cl_budget_charge
 *		Charge bytes to b if they fit under its limit.  Returns false, and
 *		charges nothing, if they do not.  For callers other than the parser
 *		(the transport's own buffers).
 */
bool
cl_budget_charge(ClBudget *b, size_t bytes)
{
	if (bytes > budget_room(b))
		return false;
	budget_add(b, bytes);
	return true;
}

/*
 * cl_budget_release
 *		Give back bytes charged earlier.
 */
void
cl_budget_release(ClBudget *b, size_t bytes)
{
	if (b == NULL)
		return;
	b->used = bytes > b->used ? 0 : b->used - bytes;
}

/*
 * cl_budget_trim
 *		If a budget held more than threshold bytes at once since the last
 *		trim, give the memory malloc keeps after pages were freed back to
 *		the system (glibc's malloc_trim(0): free pages anywhere in the heap,
 *		not only at its top); true if it did.  json-c allocates a page's
 *		tree in many small chunks: after a 900 kB page of "[{},{},..."
 *		(240 MB of objects) was freed, glibc kept the backend's RSS at
 *		250 MB until it disconnected.  Call it where pages were just freed
 *		(the end of a scan, after an error).  The threshold leaves ordinary
 *		scans alone: what they free is reused by the next scan, and a trim
 *		costs a walk over malloc's free chunks (6 ms after 300000 freed
 *		objects) and page faults when the memory is needed again.  Does
 *		nothing without glibc.
 */
bool
cl_budget_trim(size_t threshold)
{
	if (peak_since_trim <= threshold)
		return false;
	peak_since_trim = 0;
#ifdef __GLIBC__
	(void) malloc_trim(0);
	return true;
#else
	return false;
#endif
}

/*
 * The charge a finished root carries, as json-c user data: released by
 * json-c when the root is freed (json_object_put calls release_charge).
 */
typedef struct ClCharge
{
	ClBudget   *budget;
	size_t		bytes;
} ClCharge;

static void
release_charge(struct json_object *jso, void *userdata)
{
	ClCharge   *c = (ClCharge *) userdata;

	(void) jso;
	cl_budget_release(c->budget, c->bytes);
	free(c);
}

/*
 * cl_json_charge
 *		What a root returned by cl_parser_finish holds charged to its
 *		budget (0 for a number at the top level: see cl_parser_finish).
 */
size_t
cl_json_charge(const ClJson *root)
{
	ClCharge   *c;

	/* a double's user data is its text, never ours */
	if (root == NULL || json_object_get_type(root) == json_type_double)
		return 0;
	c = (ClCharge *) json_object_get_userdata((ClJson *) root);
	return c ? c->bytes : 0;
}

/* ---- the byte classifier ---- */

/* Where the classifier is (ClJsonParser.sc_state). */
enum
{
	SC_VALUE = 0,				/* between tokens, outside strings */
	SC_STRING,					/* inside a string */
	SC_ESCAPE,					/* after a backslash in a string */
	SC_TOKEN,					/* inside a number or literal */
	SC_DONE						/* after the top-level value */
};

/*
 * Inside a token (ClJsonParser.sc_num): RFC 8259 section 6, number =
 * [ minus ] int [ frac ] [ exp ]; a literal is left to json-c.
 */
enum
{
	N_LITERAL,					/* true, false, null: json-c checks them */
	N_MINUS,					/* "-" */
	N_ZERO,						/* "0" or "-0": no digit may follow */
	N_INT,						/* integer digits */
	N_DOT,						/* "." needs a digit */
	N_FRAC,						/* fraction digits */
	N_EXP,						/* "e" needs a sign or digit */
	N_EXP_SIGN,					/* "e+" needs a digit */
	N_EXP_DIGITS,				/* exponent digits */
	N_ERROR
};

static inline bool
is_json_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes inside a string that need no attention: not '"', '\\', below 0x20. */
static const bool string_plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x22 '"' */
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x5c '\\' */
	[0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x90] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xa0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xb0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xc0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xd0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xe0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xf0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * plain_run
 *		The end of the run of plain string bytes starting at buf[i]: eight
 *		bytes at a time while none of them is '"', '\\' or below 0x20 (the
 *		usual bit tricks: a byte b of x is zero in x ^ c exactly when b == c,
 *		and (x - 0x20..) & ~x & 0x80.. is nonzero exactly when some byte is
 *		below 0x20), then byte by byte.
 */
static inline size_t
plain_run(const unsigned char *buf, size_t i, size_t len)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = UINT64_C(0x8080808080808080);

	while (i + 8 <= len)
	{
		uint64_t	x,
					q,
					b,
					hit;

		memcpy(&x, buf + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		hit = (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x)) & highs;
		if (hit)
		{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* the lowest flag is a real one (borrows only run upwards) */
			return i + ((size_t) __builtin_ctzll(hit) >> 3);
#else
			break;
#endif
		}
		i += 8;
	}
	while (i < len && string_plain[buf[i]])
		i++;
	return i;
}

/* A byte that ends a number or literal (json-c stops at these too). */
static inline bool
ends_token(unsigned char c)
{
	return is_json_space(c) || c == ',' || c == ']' || c == '}' ||
		c == ':' || c == '[' || c == '{' || c == '"';
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The next state of the number grammar after byte c. */
static uint8_t
number_next(uint8_t s, unsigned char c)
{
	switch (s)
	{
		case N_LITERAL:
			return N_LITERAL;
		case N_MINUS:
			return c == '0' ? N_ZERO : is_digit(c) ? N_INT : N_ERROR;
		case N_ZERO:
			return c == '.' ? N_DOT : (c == 'e' || c == 'E') ? N_EXP : N_ERROR;
		case N_INT:
			return is_digit(c) ? N_INT : c == '.' ? N_DOT :
				(c == 'e' || c == 'E') ? N_EXP : N_ERROR;
		case N_DOT:
			return is_digit(c) ? N_FRAC : N_ERROR;
		case N_FRAC:
			return is_digit(c) ? N_FRAC : (c == 'e' || c == 'E') ? N_EXP : N_ERROR;
		case N_EXP:
			return (c == '+' || c == '-') ? N_EXP_SIGN : is_digit(c) ? N_EXP_DIGITS : N_ERROR;
		case N_EXP_SIGN:
		case N_EXP_DIGITS:
			return is_digit(c) ? N_EXP_DIGITS : N_ERROR;
	}
	return N_ERROR;
}

static inline bool
number_complete(uint8_t s)
{
	return s == N_LITERAL || s == N_ZERO || s == N_INT || s == N_FRAC ||
		s == N_EXP_DIGITS;
}

/* One more byte of a string or token: its cost. */
static inline size_t
token_byte(ClJsonParser *p)
{
	size_t		cost = p->sc_byte_cost;

	if (++p->sc_tok_len > p->sc_max_tok)
	{
		p->sc_max_tok = p->sc_tok_len;
		cost += EST_PRINTBUF_BYTE;
	}
	return cost;
}

/*
 * add_item
 *		A value starts (is_key: a key) in the innermost container: what its
 *		table or slots grow by, as json-c grows them.
 */
static size_t
add_item(ClJsonParser *p, bool is_key)
{
	int			d = p->sc_depth;

	if (d == 0)
		return 0;				/* the top-level value */
	if (d > CL_SC_LEVELS)
		return is_key ? EST_FLAT_MEMBER : EST_FLAT_ELEMENT;
	if (p->sc_level[d - 1].is_object)
	{
		uint32_t	n = p->sc_level[d - 1].count,
					size = p->sc_level[d - 1].size;

		if (!is_key)
			return 0;			/* counted at its key */
		if (size >= UINT32_MAX / 4)
			return EST_FLAT_MEMBER; /* beyond what the counters follow */
		p->sc_level[d - 1].count = n + 1;
		/* lh_table_insert_w_hash: resize if count >= size * 0.66 */
		if ((uint64_t) n * 100 >= (uint64_t) size * 66)
		{
			p->sc_level[d - 1].size = size * 2;
			return (size_t) size * 2 * EST_ENTRY + EST_RESIZE;
		}
		return 0;
	}
	else
	{
		uint32_t	n = p->sc_level[d - 1].count + 1,
					size = p->sc_level[d - 1].size;

		if (size >= UINT32_MAX / 4)
			return EST_FLAT_ELEMENT;
		p->sc_level[d - 1].count = n;
		/* array_list_add: the n-th element makes a list of size n double */
		if (n >= size)
		{
			p->sc_level[d - 1].size = size * 2;
			return (size_t) size * 2 * EST_SLOT + 16;
		}
		return 0;
	}
}

/* Is the innermost container an object (or unknown, beyond the levels)? */
static inline bool
in_object(const ClJsonParser *p)
{
	return p->sc_depth > CL_SC_LEVELS ||
		(p->sc_depth > 0 && p->sc_level[p->sc_depth - 1].is_object);
}

/* A container opens: its cost. */
static size_t
open_container(ClJsonParser *p, bool is_obj)
{
	size_t		cost = add_item(p, false) + (is_obj ? EST_OBJECT : EST_ARRAY);

	if (p->sc_depth < CL_SC_LEVELS)
	{
		p->sc_level[p->sc_depth].is_object = is_obj;
		p->sc_level[p->sc_depth].count = 0;
		p->sc_level[p->sc_depth].size = is_obj ? 16 : 32;
	}
	p->sc_depth++;
	p->sc_expect_key = is_obj;
	return cost;
}

/*
 * classify
 *		Run the classifier over buf[0..len).  Returns how many bytes it
 *		accepts: len, or the index of the first byte it refuses, with
 *		*fail and *what saying why.  *cost grows by the budget charge of the
 *		accepted bytes (the bytes themselves and the estimate of json-c's
 *		allocations for them); a byte that would take *cost past room is
 *		refused with CL_PARSE_BUDGET.
 */
static size_t
classify(ClJsonParser *p, const unsigned char *buf, size_t len, size_t room,
		 size_t *cost, ClParseStatus *fail, const char **what)
{
	size_t		total = *cost;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c;
		size_t		add = 1;	/* the byte itself */

		if (p->sc_state == SC_STRING && string_plain[buf[i]])
		{
			/* most bytes: a run of plain string bytes, charged at once */
			size_t		j = i + 1;
			size_t		n,
						tok,
						grow;

			j = plain_run(buf, j, len);
			n = j - i;
			tok = p->sc_tok_len + n;
			grow = tok > p->sc_max_tok ? tok - p->sc_max_tok : 0;
			add = n * (1 + (size_t) p->sc_byte_cost) + grow * EST_PRINTBUF_BYTE;
			if (add <= room - total)
			{
				p->sc_tok_len = tok;
				p->sc_max_tok += grow;
				total += add;
				p->sc_estimate += add - n;
				i = j - 1;
				continue;
			}
			/* the budget runs out inside the run: find the byte, one by one */
			add = 1;
		}
		c = buf[i];
		switch (p->sc_state)
		{
			case SC_STRING:
				if (c == '"')
				{
					p->sc_state = p->sc_depth == 0 ? SC_DONE : SC_VALUE;
					break;
				}
				if (c < 0x20)
				{
					*fail = CL_PARSE_SYNTAX;
					*what = "control character in a string";
					goto stop;
				}
				if (c == '\\')
					p->sc_state = SC_ESCAPE;
				add += token_byte(p);
				break;

			case SC_ESCAPE:
				/* json-c checks the escape */
				p->sc_state = SC_STRING;
				add += token_byte(p);
				break;

			case SC_TOKEN:
				if (!ends_token(c))
				{
					p->sc_num = number_next(p->sc_num, c);
					if (p->sc_num == N_ERROR)
					{
						*fail = CL_PARSE_SYNTAX;
						*what = "invalid number";
						goto stop;
					}
					add += token_byte(p);
					break;
				}
				if (!number_complete(p->sc_num))
				{
					*fail = CL_PARSE_SYNTAX;
					*what = "invalid number";
					goto stop;
				}
				if (p->sc_num == N_ZERO && p->sc_tok_len == 2)
				{
					/*
					 * "-0": json-c would make it the integer 0, losing the
					 * sign.  Stop before the delimiter: advance feeds json-c
					 * a "." here, so that it makes the double -0.0 with the
					 * text "-0." (a spelling the classifier refuses in any
					 * input, so it marks this case only), which
					 * fix_neg_zeros turns back into "-0".  The byte json-c
					 * gets in addition is charged here.
					 */
					add = 1 + EST_PRINTBUF_BYTE;
					if (add > room - total)
					{
						*fail = CL_PARSE_BUDGET;
						*what = NULL;
						goto stop;
					}
					total += add;
					p->sc_estimate += add;
					p->sc_num = N_FRAC;
					p->sc_neg_zero = true;
					goto stop;
				}
				p->sc_state = p->sc_depth == 0 ? SC_DONE : SC_VALUE;
				/* c itself is a delimiter: look at it in the new state */
				if (p->sc_state == SC_DONE)
				{
					if (is_json_space(c))
						break;
					*fail = CL_PARSE_TRAILING;
					*what = "unexpected data after the JSON value";
					goto stop;
				}
				/* FALLTHROUGH */

			case SC_VALUE:
				switch (c)
				{
					case ' ':
					case '\t':
					case '\n':
					case '\r':
						break;
					case ':':
						p->sc_expect_key = false;
						break;
					case '{':
						add += open_container(p, true);
						break;
					case '[':
						add += open_container(p, false);
						break;
					case '}':
					case ']':
						if (p->sc_depth == 0)
						{
							*fail = CL_PARSE_SYNTAX;
							*what = "unexpected character";
							goto stop;
						}
						p->sc_depth--;
						p->sc_expect_key = false;
						if (p->sc_depth == 0)
							p->sc_state = SC_DONE;
						break;
					case ',':
						p->sc_expect_key = in_object(p);
						break;
					case '"':
						p->sc_state = SC_STRING;
						p->sc_tok_len = 0;
						if (p->sc_depth > CL_SC_LEVELS)
						{
							/* key or value: charge for both */
							add += add_item(p, true) + EST_STRING + EST_KEY;
							p->sc_byte_cost = EST_KEY_BYTE;
						}
						else if (p->sc_expect_key && in_object(p))
						{
							add += add_item(p, true) + EST_KEY;
							p->sc_byte_cost = EST_KEY_BYTE;
						}
						else
						{
							add += add_item(p, false) + EST_STRING;
							p->sc_byte_cost = 1;
						}
						p->sc_expect_key = false;
						break;
					case '-':
					case '0':
					case '1':
					case '2':
					case '3':
					case '4':
					case '5':
					case '6':
					case '7':
					case '8':
					case '9':
					case 't':
					case 'f':
					case 'n':
						p->sc_state = SC_TOKEN;
						p->sc_num = c == '-' ? N_MINUS : c == '0' ? N_ZERO :
							is_digit(c) ? N_INT : N_LITERAL;
						if (p->sc_depth == 0 && c == 'n')
							p->sc_top_null = true;
						p->sc_tok_len = 0;
						p->sc_byte_cost = 1;
						p->sc_expect_key = false;
						add += add_item(p, false) + EST_SCALAR + token_byte(p);
						break;
					default:
						/* NaN, Infinity, ', /, a BOM, ... */
						*fail = CL_PARSE_SYNTAX;
						*what = "unexpected character";
						goto stop;
				}
				break;

			case SC_DONE:
				if (!is_json_space(c))
				{
					*fail = CL_PARSE_TRAILING;
					*what = "unexpected data after the JSON value";
					goto stop;
				}
				break;
		}
		if (add > room - total)
		{
			*fail = CL_PARSE_BUDGET;
			*what = NULL;
			goto stop;
		}
		total += add;
		p->sc_estimate += add - 1;
	}
stop:
	*cost = total;
	return i;
}

/* ---- the parser ---- */

/*
 * Tokeners of finished parses are kept for the next ones (the process is
 * single-threaded): json_tokener_new_ex callocs the stack of max_depth
 * levels, a request large enough to make glibc consolidate every chunk the
 * previous page freed, once per page.  Only the tokener of a document
 * json-c completed is kept: its state is then back to the start (no open
 * level, no pending surrogate escape), which json_tokener_reset alone does
 * not ensure after a parse cut short.  A kept tokener holds no tree and is
 * charged to no budget; at most TOKENER_CACHE are kept.
 */
#define TOKENER_CACHE 8
static struct json_tokener *tokener_cache[TOKENER_CACHE];
static int	tokener_cache_depth[TOKENER_CACHE];
static int	n_tokener_cache = 0;

/* A tokener for max_depth, from the cache if one is there. */
static struct json_tokener *
tokener_get(int max_depth)
{
	for (int i = n_tokener_cache - 1; i >= 0; i--)
	{
		if (tokener_cache_depth[i] == max_depth)
		{
			struct json_tokener *tok = tokener_cache[i];

			tokener_cache[i] = tokener_cache[n_tokener_cache - 1];
			tokener_cache_depth[i] = tokener_cache_depth[n_tokener_cache - 1];
			n_tokener_cache--;
			return tok;
		}
	}
	return json_tokener_new_ex(max_depth);
}

/* Give back the tokener of a completed document: kept, or freed. */
static void
tokener_put(struct json_tokener *tok, int max_depth)
{
	if (n_tokener_cache < TOKENER_CACHE)
	{
		json_tokener_reset(tok);
		tokener_cache[n_tokener_cache] = tok;
		tokener_cache_depth[n_tokener_cache] = max_depth;
		n_tokener_cache++;
	}
	else
		json_tokener_free(tok);
}

static bool
parser_fail(ClJsonParser *p, ClParseStatus status, const char *msg)
{
	p->status = status;
	snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg);
	return false;
}

/*
 * budget_fail
 *		The reason of a CL_PARSE_BUDGET failure, with the numbers.
 */
static bool
budget_fail(ClJsonParser *p)
{
	const ClBudget *b = p->budget;

	p->status = CL_PARSE_BUDGET;
	snprintf(p->errmsg, sizeof(p->errmsg),
			 "decoding the response would exceed the memory budget of %zu bytes "
			 "(%zu bytes held, %zu of them by this response)",
			 b ? b->limit : (size_t) 0, b ? b->used : (size_t) 0, p->charged);
	return false;
}

/*
 * cl_parser_init
 *		Prepare p to parse one document nested at most max_depth deep (as
 *		json-c counts: the top-level value is level 1, so 64 admits 64
 *		nested arrays but not a scalar inside the 64th), of at most
 *		max_bytes bytes (0: no limit), charging budget (NULL: none).
 *		Returns false if out of memory (p->status says so); call
 *		cl_parser_free in any case.
 */
bool
cl_parser_init(ClJsonParser *p, int max_depth, size_t max_bytes, ClBudget *budget)
{
	memset(p, 0, sizeof(*p));
	p->max_depth = max_depth < 1 ? 1 : max_depth;
	p->max_bytes = max_bytes;
	p->budget = budget;
	p->sc_state = SC_VALUE;
	p->tok = tokener_get(p->max_depth);
	if (p->tok == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "out of memory");
	json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT);
	return true;
}

/*
 * jsonc_feed
 *		Hand buf[0..len) to json-c; base is the offset of buf[0] in the
 *		document (for messages).  The classifier has accepted these bytes.
 */
static bool
jsonc_feed(ClJsonParser *p, const char *buf, size_t len, size_t base)
{
	while (len > 0 && !p->done)
	{
		int			n = len > (size_t) (1 << 30) ? (1 << 30) : (int) len;
		ClJson	   *obj = json_tokener_parse_ex(p->tok, buf, n);
		enum json_tokener_error jerr = json_tokener_get_error(p->tok);
		size_t		end = json_tokener_get_parse_end(p->tok);

		if (jerr == json_tokener_continue)
		{
			buf += n;
			len -= (size_t) n;
			base += (size_t) n;
			continue;
		}
		if (jerr != json_tokener_success)
		{
			json_object_put(obj);
			p->status = jerr == json_tokener_error_depth ?
				CL_PARSE_DEPTH : CL_PARSE_SYNTAX;
			snprintf(p->errmsg, sizeof(p->errmsg), "%s at byte %zu",
					 jerr == json_tokener_error_depth ? "JSON nested too deeply" :
					 json_tokener_error_desc(jerr), base + end);
			return false;
		}

		/*
		 * json-c says the value is complete.  It is, if the classifier
		 * agrees and json-c read all it was given (after the value there
		 * can be only blanks, which json-c eats); otherwise a malloc
		 * failed inside json-c, which returns a part of the tree, or
		 * nothing, with its error still "success".
		 */
		if (p->sc_state != SC_DONE || end != (size_t) n ||
			(obj == NULL && !p->sc_top_null))
		{
			json_object_put(obj);
			return parser_fail(p, CL_PARSE_NOMEM,
							   "out of memory while parsing the response");
		}
		p->root = obj;
		p->done = true;
	}
	return true;
}

/*
 * advance
 *		Classify buf[0..len) and hand what the classifier accepted to
 *		json-c.  base is the offset of buf[0] in the document.
 */
static bool
advance(ClJsonParser *p, const char *buf, size_t len, size_t base)
{
	ClParseStatus fail = CL_PARSE_OK;
	const char *what = NULL;
	size_t		room = budget_room(p->budget);
	size_t		cost = 0;
	size_t		accepted;

	if (p->charged == 0)
	{
		/* the tokener itself, charged with the first bytes */
		if (EST_TOKENER > room)
			return budget_fail(p);
		cost = EST_TOKENER;
		p->sc_estimate += EST_TOKENER;
	}
	for (;;)
	{
		accepted = classify(p, (const unsigned char *) buf, len, room, &cost, &fail, &what);
		budget_add(p->budget, cost);
		p->charged += cost;
		if (!p->done && !jsonc_feed(p, buf, accepted, base))
			return false;
		if (!p->sc_neg_zero)
			break;
		/* a "-0" ended at buf[accepted]: json-c gets "." (see classify) */
		p->sc_neg_zero = false;
		p->neg_zeros++;
		if (!p->done && !jsonc_feed(p, ".", 1, base + accepted))
			return false;
		buf += accepted;
		len -= accepted;
		base += accepted;
		room = budget_room(p->budget);
		cost = 0;
	}
	if (fail == CL_PARSE_BUDGET)
		return budget_fail(p);
	if (fail != CL_PARSE_OK)
	{
		p->status = fail;
		snprintf(p->errmsg, sizeof(p->errmsg), "%s at byte %zu", what, base + accepted);
		return false;
	}
	return true;
}

/*
 * cl_parser_feed
 *		Feed the next bytes of the document.  Returns false once the input
 *		is known to be bad, too big or over the budget; p->status and
 *		p->errmsg then say why, and every later call fails too.
 */
bool
cl_parser_feed(ClJsonParser *p, const char *buf, size_t len)
{
	size_t		base = p->nbytes;
	bool		too_big = false;

	if (p->status != CL_PARSE_OK)
		return false;
	if (p->tok == NULL)
		return parser_fail(p, CL_PARSE_NOMEM, "parser not initialized");
	if (len == 0)
		return true;
	if (p->max_bytes > 0 && len > p->max_bytes - p->nbytes)
	{
		/* parse up to the limit: an error before it is reported as such */
		len = p->max_bytes - p->nbytes;
		too_big = true;
	}
	p->nbytes += len;
	if (len > 0 && !advance(p, buf, len, base))
		return false;
	if (too_big)
	{
		p->status = CL_PARSE_TOO_BIG;
		snprintf(p->errmsg, sizeof(p->errmsg),
				 "response too large (more than %zu bytes)", p->max_bytes);
		return false;
	}
	return true;
}

/*
 * fix_neg_zeros
 *		Give every double json-c made of an injected "-0." (see classify)
 *		its text as written, "-0": the text is the double's user data, a
 *		malloc'd copy that json-c's serializer prints up to its NUL, so it
 *		is cut in place.  Only such doubles have that text: the classifier
 *		refuses "-0." in the input.
 */
static void
fix_neg_zeros(ClJson *v)
{
	switch (json_object_get_type(v))
	{
		case json_type_double:
			{
				char	   *text = json_object_get_userdata(v);

				if (text != NULL && strcmp(text, "-0.") == 0)
					text[2] = '\0';
				break;
			}
		case json_type_array:
			for (size_t i = 0, n = json_object_array_length(v); i < n; i++)
				fix_neg_zeros(json_object_array_get_idx(v, i));
			break;
		case json_type_object:
			{
				struct json_object_iterator it = json_object_iter_begin(v);
				struct json_object_iterator end = json_object_iter_end(v);

				for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
					fix_neg_zeros(json_object_iter_peek_value(&it));
				break;
			}
		default:
			break;
	}
}

/*
 * cl_parser_finish
 *		Signal the end of input.  Returns the parsed value, which the caller
 *		then owns (free it with cl_json_free), or NULL with p->status set.
 *		The value carries the budget charge of the parse (see jsonpage.h),
 *		except a number at the top level (json-c keeps a double's text as
 *		its user data): its charge is released by cl_parser_free.
 */
ClJson *
cl_parser_finish(ClJsonParser *p)
{
	ClJson	   *root;

	if (p->status != CL_PARSE_OK)
		return NULL;
	if (p->tok == NULL)
	{
		parser_fail(p, CL_PARSE_NOMEM, "parser not initialized");
		return NULL;
	}
	if (p->nbytes == 0)
	{
		parser_fail(p, CL_PARSE_TRUNCATED, "empty response body");
		return NULL;
	}
	if (!p->done)
	{
		/* a number or literal at the top level ends only at a delimiter */
		if (p->sc_state == SC_TOKEN && p->sc_depth == 0 &&
			!advance(p, " ", 1, p->nbytes))
			return NULL;
		if (!p->done)
		{
			parser_fail(p, CL_PARSE_TRUNCATED,
						"JSON value is incomplete (truncated response?)");
			return NULL;
		}
	}
	if (p->root == NULL)
	{
		parser_fail(p, CL_PARSE_SYNTAX, "the response is a JSON null, not an object");
		return NULL;
	}
	root = p->root;
	if (p->neg_zeros > 0)
		fix_neg_zeros(root);
	if (json_object_get_type(root) != json_type_double)
	{
		ClCharge   *c = malloc(sizeof(ClCharge));

		if (c == NULL)
		{
			parser_fail(p, CL_PARSE_NOMEM, "out of memory");
			return NULL;
		}
		c->budget = p->budget;
		c->bytes = p->charged;
		json_object_set_userdata(root, c, release_charge);
		p->charged = 0;
	}
	p->root = NULL;
	/* the tokener is no longer needed: free it now */
	tokener_put(p->tok, p->max_depth);
	p->tok = NULL;
	return root;
}

/*
 * cl_parser_free
 *		Release everything the parser holds: the tokener, the partial tree,
 *		a value never claimed by cl_parser_finish, and the parser's charge.
 *		Safe to call twice, and on a zeroed or failed-init parser.
 */
void
cl_parser_free(ClJsonParser *p)
{
	if (p->tok != NULL)
		json_tokener_free(p->tok);	/* frees the partial tree too */
	p->tok = NULL;
	json_object_put(p->root);
	p->root = NULL;
	cl_budget_release(p->budget, p->charged);
	p->charged = 0;
}

/*
 * cl_json_parse
 *		Parse a whole document (no size limit, no budget); NULL with a
 *		reason in err on failure.
 */
ClJson *
cl_json_parse(const char *buf, size_t len, int max_depth, char *err, size_t errlen)
{
	ClJsonParser p;
	ClJson	   *root = NULL;

	if (cl_parser_init(&p, max_depth, 0, NULL) && cl_parser_feed(&p, buf, len))
		root = cl_parser_finish(&p);
	if (root == NULL && err)
		snprintf(err, errlen, "%s", p.errmsg);
	cl_parser_free(&p);
	return root;
}

/*
 * cl_json_free
 *		Free a value returned by cl_parser_finish or cl_json_parse (a root,
 *		never a value inside one), and release its budget charge.
 */
void
cl_json_free(ClJson *root)
{
	json_object_put(root);
}

/* ---- accessors ---- */

ClJsonType
cl_type(const ClJson *v)
{
	return v ? (ClJsonType) json_object_get_type(v) : CL_JSON_NULL;
}

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
 *		The member named key (json-c keeps one per key: the last value
 *		given).  False when there is none or obj is not an object; a JSON
 *		null is a member (true, *value NULL).
 */
bool
cl_object_get(const ClJson *obj, const char *key, ClJson **value)
{
	*value = NULL;
	if (cl_type(obj) != CL_JSON_OBJECT)
		return false;
	return json_object_object_get_ex(obj, key, value);
}

/* The number of members of an object (0 for anything else). */
size_t
cl_object_length(const ClJson *obj)
{
	return cl_type(obj) == CL_JSON_OBJECT ? (size_t) json_object_object_length(obj) : 0;
}

/*
 * cl_object_next
 *		Walk the members of obj in their order (json-c keeps the order of
 *		first appearance): *pos NULL starts; each call sets *key and *value
 *		(NULL for JSON null) of the next member and returns true, false at
 *		the end or if obj is not an object.
 */
bool
cl_object_next(const ClJson *obj, const void **pos, const char **key, ClJson **value)
{
	struct lh_entry *e;

	if (*pos == NULL)
	{
		if (cl_type(obj) != CL_JSON_OBJECT)
			return false;
		e = lh_table_head(json_object_get_object(obj));
	}
	else
		e = lh_entry_next((const struct lh_entry *) *pos);
	if (e == NULL)
		return false;
	*pos = e;
	*key = (const char *) lh_entry_k(e);
	*value = (ClJson *) lh_entry_v(e);
	return true;
}

size_t
cl_array_length(const ClJson *arr)
{
	return cl_type(arr) == CL_JSON_ARRAY ? json_object_array_length(arr) : 0;
}

/* The i-th element of an array (NULL: out of range, not an array, or null). */
ClJson *
cl_array_get(const ClJson *arr, size_t i)
{
	if (cl_type(arr) != CL_JSON_ARRAY)
		return NULL;
	return json_object_array_get_idx(arr, i);
}

bool
cl_json_get_bool(const ClJson *v, bool *out)
{
	if (cl_type(v) != CL_JSON_BOOLEAN)
		return false;
	*out = json_object_get_boolean(v) != 0;
	return true;
}

/* How json-c holds an integer. */
typedef enum
{
	INT_I64,					/* exactly, in int64 */
	INT_U64,					/* exactly, above INT64_MAX */
	INT_CLAMPED					/* maybe clamped by strtoll/strtoull */
} IntKind;

/*
 * int_kind
 *		json-c stores an integer as int64, or as uint64 above INT64_MAX, and
 *		has no public way to ask which: json_object_get_uint64 above
 *		INT64_MAX means uint64.  INT64_MIN and UINT64_MAX are what
 *		strtoll/strtoull return for anything beyond them (ERANGE, which
 *		json-c ignores): they cannot be told from a clamped value.
 */
static IntKind
int_kind(const ClJson *v, int64_t *i, uint64_t *u)
{
	uint64_t	w = json_object_get_uint64(v);
	int64_t		s;

	if (w > (uint64_t) INT64_MAX)
	{
		*u = w;
		return w == UINT64_MAX ? INT_CLAMPED : INT_U64;
	}
	s = json_object_get_int64(v);
	if (s == INT64_MIN)
		return INT_CLAMPED;
	*i = s;
	return INT_I64;
}

/*
 * cl_json_get_int64
 *		An integer that json-c holds exactly and that fits int64; false for
 *		anything else (another type, out of range, or possibly clamped:
 *		-9223372036854775808 is refused with everything below it).
 */
bool
cl_json_get_int64(const ClJson *v, int64_t *out)
{
	int64_t		i;
	uint64_t	u;

	if (cl_type(v) != CL_JSON_INT || int_kind(v, &i, &u) != INT_I64)
		return false;
	*out = i;
	return true;
}

/*
 * cl_json_int_clamped
 *		An integer whose value json-c may have clamped (see int_kind): its
 *		true value is unknown, so it can be neither stored nor shown.
 */
bool
cl_json_int_clamped(const ClJson *v)
{
	int64_t		i;
	uint64_t	u;

	return cl_type(v) == CL_JSON_INT && int_kind(v, &i, &u) == INT_CLAMPED;
}

/*
 * cl_string
 *		A JSON string's decoded bytes (NUL-terminated; \u0000 gives a NUL
 *		inside, counted in *len).  NULL for any other type.
 */
const char *
cl_string(const ClJson *v, size_t *len)
{
	if (cl_type(v) != CL_JSON_STRING)
	{
		*len = 0;
		return NULL;
	}
	*len = (size_t) json_object_get_string_len(v);
	return json_object_get_string((ClJson *) v);
}

/* Does v hold an integer json-c may have clamped? */
static bool
holds_clamped(ClJson *v)
{
	switch (cl_type(v))
	{
		case CL_JSON_INT:
			return cl_json_int_clamped(v);
		case CL_JSON_ARRAY:
			for (size_t i = 0, n = json_object_array_length(v); i < n; i++)
				if (holds_clamped(json_object_array_get_idx(v, i)))
					return true;
			return false;
		case CL_JSON_OBJECT:
			{
				struct json_object_iterator it = json_object_iter_begin(v);
				struct json_object_iterator end = json_object_iter_end(v);

				for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
					if (holds_clamped(json_object_iter_peek_value(&it)))
						return true;
				return false;
			}
		default:
			return false;
	}
}

/*
 * cl_json_text
 *		The JSON text of a value: a double exactly as written, an integer
 *		from its exact value, a string quoted and escaped, an object or
 *		array re-serialized compactly by json-c (a repeated key once, with
 *		its last value).  NULL when an integer json-c may have clamped is in
 *		it.  The text lives as long as v (json-c caches it in v).
 */
const char *
cl_json_text(ClJson *v, size_t *len)
{
	const char *s;

	if (v == NULL)
	{
		*len = 4;
		return "null";
	}
	if (json_object_get_type(v) == json_type_double)
	{
		/* json_object_new_double_s keeps the text as the user data */
		s = json_object_get_userdata(v);
		if (s != NULL)
		{
			*len = strlen(s);
			return s;
		}
	}
	if (holds_clamped(v))
	{
		*len = 0;
		return NULL;
	}
	return json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
											 JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

/*
 * check_link
 *		A page's "next" or "previous": absent, null or a string without NUL
 *		(an empty string counts as null).  Anything else is an error.
 */
static bool
check_link(ClJson *root, const char *key, const char **link, size_t *link_len,
		   char *err, size_t errlen)
{
	ClJson	   *v;

	*link = NULL;
	*link_len = 0;
	if (!cl_object_get(root, key, &v) || v == NULL)
		return true;
	if (cl_type(v) != CL_JSON_STRING)
	{
		snprintf(err, errlen, "\"%s\" is a JSON %s, not a string", key, cl_type_name(v));
		return false;
	}
	*link = cl_string(v, link_len);
	if (strlen(*link) != *link_len)
	{
		snprintf(err, errlen, "\"%s\" contains a NUL character", key);
		return false;
	}
	if (*link_len == 0)
		*link = NULL;
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
	const char *ignored;
	size_t		ignored_len;

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
	page->ndata = json_object_array_length(v);

	if (!cl_object_get(root, "count", &v))
	{
		snprintf(err, errlen, "the response has no \"count\" key");
		return false;
	}
	if (cl_type(v) == CL_JSON_INT && !cl_json_get_int64(v, &page->count) &&
		json_object_get_int64(v) >= 0)
	{
		snprintf(err, errlen, "\"count\" is out of the 64-bit integer range");
		return false;
	}
	if (!cl_json_get_int64(v, &page->count) || page->count < 0)
	{
		size_t		len;
		const char *text = cl_json_text(v, &len);

		/*
		 * The value whole or not at all: the caller scrubs the token from
		 * the message, and a value cut here could keep a token's start.
		 */
		if (text == NULL)
			snprintf(err, errlen, "\"count\" is not a non-negative 64-bit integer: (out of range)");
		else if (len <= 40)
			snprintf(err, errlen, "\"count\" is not a non-negative 64-bit integer: %.*s",
					 (int) len, text);
		else
			snprintf(err, errlen, "\"count\" is not a non-negative 64-bit integer: a JSON %s of %zu bytes",
					 cl_type_name(v), len);
		page->count = 0;
		return false;
	}

	if (!check_link(root, "next", &page->next, &page->next_len, err, errlen) ||
		!check_link(root, "previous", &ignored, &ignored_len, err, errlen))
		return false;
	return true;
}

/*
 * cl_page_row
 *		The i-th element of the page's "data" (NULL past the end, or for a
 *		JSON null element).
 */
ClJson *
cl_page_row(const ClPage *page, size_t i)
{
	return i < page->ndata ? json_object_array_get_idx(page->data, i) : NULL;
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

/* ---- an error body cut short by its cap ---- */

/* Skip JSON whitespace in body[*p..len). */
static void
cut_skip_ws(const char *body, size_t len, size_t *p)
{
	while (*p < len && (body[*p] == ' ' || body[*p] == '\t' ||
						body[*p] == '\n' || body[*p] == '\r'))
		(*p)++;
}

/* Past the closing quote of a string whose opening quote is before *p. */
static bool
cut_skip_string(const char *body, size_t len, size_t *p)
{
	while (*p < len)
	{
		char		c = body[(*p)++];

		if (c == '\\')
			(*p)++;
		else if (c == '"')
			return *p <= len;
	}
	return false;
}

/* Past one JSON value starting at *p (not checked: only skipped). */
static bool
cut_skip_value(const char *body, size_t len, size_t *p)
{
	int			depth = 0;

	do
	{
		char		c;

		if (*p >= len)
			return false;
		c = body[(*p)++];
		if (c == '"')
		{
			if (!cut_skip_string(body, len, p))
				return false;
		}
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		else if (depth == 0)
		{
			/* a scalar: up to the next delimiter */
			while (*p < len && strchr(",}] \t\r\n", body[*p]) == NULL)
				(*p)++;
			return *p < len;
		}
	} while (depth > 0);
	return true;
}

/* The value of 4 hex digits at s, or -1. */
static long
cut_hex4(const char *s)
{
	long		v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * cut_string
 *		The characters of a JSON string (s: after its opening quote, n
 *		bytes) that the end of the body cuts short, decoded and printable
 *		as cl_error_message writes them, into out, ended by "...": only
 *		whole characters (a UTF-8 sequence or escape the cut splits is
 *		dropped).  NULL when the string ends before the body does (the
 *		body is broken elsewhere, not cut in this string), holds a bad
 *		escape, or nothing of it is left.
 */
static const char *
cut_string(const char *s, size_t n, char *out, size_t outlen)
{
	size_t		i = 0,
				o = 0;

	while (i < n)
	{
		unsigned char c = (unsigned char) s[i];
		char		ch[4];
		size_t		clen = 1;
		unsigned long cp;

		if (c == '"')
			return NULL;
		if (c == '\\')
		{
			if (i + 1 >= n)
				break;
			switch (s[i + 1])
			{
				case '"':
				case '\\':
				case '/':
					ch[0] = s[i + 1];
					i += 2;
					break;
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					ch[0] = ' ';
					i += 2;
					break;
				case 'u':
					if (i + 6 > n)
						goto cut;
					if (cut_hex4(s + i + 2) < 0)
						return NULL;
					cp = (unsigned long) cut_hex4(s + i + 2);
					i += 6;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						long		lo;

						if (i + 6 > n)
							goto cut;
						lo = (s[i] == '\\' && s[i + 1] == 'u') ? cut_hex4(s + i + 2) : -1;
						if (lo >= 0xDC00 && lo <= 0xDFFF)
						{
							cp = 0x10000 + ((cp - 0xD800) << 10) + (unsigned long) (lo - 0xDC00);
							i += 6;
						}
						else
							cp = 0xFFFD;
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
						cp = 0xFFFD;
					if (cp < 0x20 || cp == 0x7f)
						ch[0] = ' ';
					else if (cp < 0x80)
						ch[0] = (char) cp;
					else if (cp < 0x800)
					{
						ch[0] = (char) (0xC0 | (cp >> 6));
						ch[1] = (char) (0x80 | (cp & 0x3F));
						clen = 2;
					}
					else if (cp < 0x10000)
					{
						ch[0] = (char) (0xE0 | (cp >> 12));
						ch[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
						ch[2] = (char) (0x80 | (cp & 0x3F));
						clen = 3;
					}
					else
					{
						ch[0] = (char) (0xF0 | (cp >> 18));
						ch[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
						ch[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
						ch[3] = (char) (0x80 | (cp & 0x3F));
						clen = 4;
					}
					break;
				default:
					return NULL;
			}
		}
		else if (c < 0x80)
		{
			ch[0] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
			i++;
		}
		else
		{
			size_t		want = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 :
				(c & 0xF8) == 0xF0 ? 4 : 1;

			if (i + want > n)
				break;			/* a character the cut splits */
			clen = utf8_char_len((const unsigned char *) s + i, n - i);
			if (clen == 0)
			{
				ch[0] = '?';	/* not UTF-8: never into a message */
				clen = 1;
				i++;
			}
			else
			{
				memcpy(ch, s + i, clen);
				i += clen;
			}
		}
		if (o + clen + 4 > outlen)
			break;
		memcpy(out + o, ch, clen);
		o += clen;
	}
cut:
	if (o == 0)
		return NULL;
	memcpy(out + o, "...", 3);
	out[o + 3] = '\0';
	return out;
}

/*
 * cut_message
 *		For an error body that does not parse: the string value of the
 *		top-level key, when the body is cut short inside it (an API's
 *		message longer than the error-body cap, CALLOGS_ERROR_BODY_LEN):
 *		what fits, marked as cut (cut_string).  The members before it are
 *		skipped, not checked.  NULL otherwise.
 */
static const char *
cut_message(const char *body, size_t len, const char *key, char *out,
			size_t outlen)
{
	size_t		p = 0;
	size_t		klen = strlen(key);

	cut_skip_ws(body, len, &p);
	if (p >= len || body[p] != '{')
		return NULL;
	p++;
	for (;;)
	{
		size_t		kstart;
		bool		match;

		cut_skip_ws(body, len, &p);
		if (p >= len || body[p] != '"')
			return NULL;
		kstart = ++p;
		if (!cut_skip_string(body, len, &p))
			return NULL;
		match = p - 1 - kstart == klen && memcmp(body + kstart, key, klen) == 0;
		cut_skip_ws(body, len, &p);
		if (p >= len || body[p] != ':')
			return NULL;
		p++;
		cut_skip_ws(body, len, &p);
		if (p >= len)
			return NULL;
		if (match && body[p] == '"')
			return cut_string(body + p + 1, len - p - 1, out, outlen);
		if (!cut_skip_value(body, len, &p))
			return NULL;
		cut_skip_ws(body, len, &p);
		if (p >= len || body[p] != ',')
			return NULL;
		p++;
	}
}

/*
 * cl_error_message
 *		Extract the API's "message" (or "detail"/"error") from an error body,
 *		printable and shortened to outlen.  Returns NULL if there is none.
 *		A body that does not parse because it was cut short inside that
 *		string (the transport keeps the first 2 kB of an error body) gives
 *		what it holds, ending in "..." (cut_message).
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
	{
		/* a body cut by its cap inside the message: keep what fits */
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if ((result = cut_message(body, len, keys[k], out, outlen)) != NULL)
				return result;
		return NULL;
	}

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !result; k++)
	{
		ClJson	   *v;
		const char *s;
		size_t		n,
					o = 0,
					i = 0;

		if (!cl_object_get(root, keys[k], &v) || cl_type(v) != CL_JSON_STRING)
			continue;
		s = cl_string(v, &n);
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
