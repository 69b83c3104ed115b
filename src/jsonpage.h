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

/*
 * PostgreSQL declares a SQL function named json_object, which clashes with
 * json-c's type of the same name: json-c's type is known here as
 * cl_json_object (struct tags do not matter to the linker).
 */
#define json_object cl_json_object
#include <json-c/json.h>
#undef json_object

#define CL_ERRMSG_LEN 256

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
 * network, so a page is parsed while it downloads and never buffered whole.
 * Safe to call from a libcurl callback (it only uses malloc).
 */
typedef struct ClJsonParser
{
	struct json_tokener *tok;
	cl_json_object *root;			/* the value, once complete */
	size_t		max_bytes;		/* 0 = unlimited */
	size_t		nbytes;			/* bytes fed so far */
	ClParseStatus status;
	char		errmsg[CL_ERRMSG_LEN];
} ClJsonParser;

extern bool cl_parser_init(ClJsonParser *p, int max_depth, size_t max_bytes);
extern bool cl_parser_feed(ClJsonParser *p, const char *buf, size_t len);
extern cl_json_object *cl_parser_finish(ClJsonParser *p);
extern void cl_parser_free(ClJsonParser *p);

/* A decoded page: borrowed pointers into root. */
typedef struct ClPage
{
	cl_json_object *root;
	int64_t		count;			/* total rows matching, all pages */
	cl_json_object *data;			/* the array of call-log objects */
	size_t		ndata;
	const char *next;			/* NULL when absent or null */
	size_t		next_len;
} ClPage;

extern bool cl_page_decode(cl_json_object *root, ClPage *page,
						   char *err, size_t errlen);
extern const char *cl_error_message(const char *body, size_t len,
									char *out, size_t outlen);

/* Checked integer read: false when the value is not an in-range integer. */
extern bool cl_json_get_int64(cl_json_object *v, int64_t *out);

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
