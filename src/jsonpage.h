/*-------------------------------------------------------------------------
 *
 * jsonpage.h
 *		  Backend-independent decoding of one page of the Call Logs API.
 *
 * Nothing here includes PostgreSQL headers or allocates with palloc, so the
 * same code runs inside the backend, in unit tests and under a fuzzer.
 * Every function reports failure through a return value and a message
 * buffer; none of them aborts.
 *
 * A page is parsed by our own streaming JSON parser into a compact tree
 * (ClJson nodes in one arena): the rows of "data" are parsed as their bytes
 * arrive, with no per-object hash tables, which is what made a general
 * JSON library the bottleneck of a scan.
 *
 * IDENTIFICATION
 *		  src/jsonpage.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CALLOGS_JSONPAGE_H
#define CALLOGS_JSONPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_ERRMSG_LEN 256

typedef enum ClJsonType
{
	CL_JSON_NULL = 0,
	CL_JSON_BOOLEAN,
	CL_JSON_INT,				/* an integer literal (maybe out of range) */
	CL_JSON_DOUBLE,				/* a number with a fraction or exponent */
	CL_JSON_STRING,
	CL_JSON_OBJECT,
	CL_JSON_ARRAY
} ClJsonType;

typedef struct ClJson ClJson;
typedef struct ClJsonMember ClJsonMember;
typedef struct ClArena ClArena;

/*
 * A parsed JSON value.  Every value keeps its original text (raw, NUL
 * terminated): numbers are read from it, composites are handed to json and
 * jsonb columns as it, and error messages show it.
 */
struct ClJson
{
	ClJsonType	type;
	bool		boolean;		/* CL_JSON_BOOLEAN */
	bool		int_ok;			/* CL_JSON_INT: fits in int64 */
	int64_t		i;				/* CL_JSON_INT with int_ok */
	const char *raw;			/* the value's JSON text */
	size_t		raw_len;
	const char *str;			/* CL_JSON_STRING: decoded, NUL terminated */
	size_t		str_len;		/* (may contain NUL bytes from \u0000) */
	size_t		n;				/* members or elements */
	ClJsonMember *members;		/* CL_JSON_OBJECT */
	ClJson	  **elements;		/* CL_JSON_ARRAY */
	ClArena    *arena;			/* set on a root only: frees the tree */
};

struct ClJsonMember
{
	const char *key;
	size_t		key_len;
	ClJson	   *value;
};

/* Outcome of feeding bytes to a ClJsonParser. */
typedef enum ClParseStatus
{
	CL_PARSE_OK = 0,
	CL_PARSE_SYNTAX,			/* not JSON */
	CL_PARSE_DEPTH,				/* nested deeper than allowed */
	CL_PARSE_TOO_BIG,			/* more bytes than max_bytes */
	CL_PARSE_TRAILING,			/* bytes after the JSON value */
	CL_PARSE_TRUNCATED,			/* input ended inside the value */
	CL_PARSE_NOMEM
} ClParseStatus;

/*
 * An incremental JSON parser: bytes are fed as they arrive from the
 * network, so a page is parsed while it downloads.  Safe to call from a
 * libcurl callback (it only uses malloc).
 */
typedef struct ClJsonParser
{
	char	   *buf;			/* bytes not yet consumed */
	size_t		len;
	size_t		cap;
	size_t		consumed;		/* bytes dropped from the front of buf */
	size_t		max_bytes;		/* 0 = unlimited */
	size_t		nbytes;			/* bytes fed so far */
	int			max_depth;
	int			state;			/* where the streaming top level is */
	ClArena    *arena;
	ClJson	   *root;			/* the value, built as it arrives */
	struct ClStreamState *stream;	/* the streamed containers now open */
	ClParseStatus status;
	char		errmsg[CL_ERRMSG_LEN];
} ClJsonParser;

extern bool cl_parser_init(ClJsonParser *p, int max_depth, size_t max_bytes);
extern bool cl_parser_feed(ClJsonParser *p, const char *buf, size_t len);
extern ClJson *cl_parser_finish(ClJsonParser *p);
extern void cl_parser_free(ClJsonParser *p);
extern ClJson *cl_json_parse(const char *buf, size_t len, int max_depth,
							 char *err, size_t errlen);
extern void cl_json_free(ClJson *root);

/* Accessors */
static inline ClJsonType
cl_type(const ClJson *v)
{
	return v ? v->type : CL_JSON_NULL;
}
extern const char *cl_type_name(const ClJson *v);
extern bool cl_object_get(const ClJson *obj, const char *key, ClJson **value);

/* A decoded page: borrowed pointers into root. */
typedef struct ClPage
{
	ClJson	   *root;
	int64_t		count;			/* total rows matching, all pages */
	ClJson	   *data;			/* the array of call-log objects */
	size_t		ndata;
	const char *next;			/* NULL when absent or null */
	size_t		next_len;
} ClPage;

extern bool cl_page_decode(ClJson *root, ClPage *page, char *err, size_t errlen);
extern const char *cl_error_message(const char *body, size_t len,
									char *out, size_t outlen);

/* Checked integer read: false when the value is not an in-range integer. */
extern bool cl_json_get_int64(const ClJson *v, int64_t *out);

/* Broken-down ISO 8601 timestamp, as the API writes them. */
typedef struct ClTimestamp
{
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int			usec;
	bool		has_tz;
	int			tz_offset;		/* seconds east of UTC */
} ClTimestamp;

extern bool cl_parse_timestamp(const char *s, size_t len, ClTimestamp *ts);
extern bool cl_parse_duration(const char *s, size_t len, int64_t *usec);

#endif							/* CALLOGS_JSONPAGE_H */
