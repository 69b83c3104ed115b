/*-------------------------------------------------------------------------
 *
 * jsonpage.h
 *		  Backend-independent decoding of one page of the Call Logs API,
 *		  over json-c.
 *
 * Nothing here includes PostgreSQL headers or allocates with palloc, so the
 * same code runs inside the backend (also from libcurl callbacks), in unit
 * tests and under a fuzzer.  Every function reports failure through a
 * return value and a message buffer; none of them aborts.
 *
 * JSON is parsed by json-c (0.16): a parsed value is json-c's own
 * struct json_object, called ClJson here.  Read values only through the
 * accessors below: json-c's getters coerce and clamp silently, these check
 * the type and refuse what json-c may have clamped.
 *
 * Ownership and memory:
 *	- A ClJsonParser holds a json-c tokener and the partial tree; one
 *	  cl_parser_free() frees both, at any point (mid-stream too).
 *	- cl_parser_finish() hands the finished root to the caller; one
 *	  cl_json_free() frees the whole tree.
 *	- json-c mallocs per value, far beyond the bytes of a hostile page
 *	  (an empty object costs ~800 bytes).  A parser given a ClBudget charges
 *	  to it, as bytes arrive and before json-c sees them, the bytes received
 *	  plus an upper bound of what json-c allocates for them; going over the
 *	  limit fails the feed with CL_PARSE_BUDGET.  The charge of a finished
 *	  page moves to the page (cl_json_charge() tells how much) and is
 *	  released by cl_json_free(); a failed or abandoned parse releases it
 *	  in cl_parser_free().  The budget must outlive every page charged to it.
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
#define CL_SC_LEVELS 64			/* containers the classifier follows */

/* A JSON value: json-c's object (NULL is JSON null). */
typedef struct json_object ClJson;

/* The kinds of JSON value; the numbers are json-c's enum json_type. */
typedef enum ClJsonType
{
	CL_JSON_NULL = 0,
	CL_JSON_BOOLEAN = 1,
	CL_JSON_DOUBLE = 2,			/* a number with a fraction or exponent */
	CL_JSON_INT = 3,			/* an integer (read it with cl_json_get_int64) */
	CL_JSON_OBJECT = 4,
	CL_JSON_ARRAY = 5,
	CL_JSON_STRING = 6
} ClJsonType;

/*
 * A memory budget shared by every parser and page charged to it (the
 * backend has one).  Plain numbers: the owner reads used and peak.
 */
typedef struct ClBudget
{
	size_t		limit;			/* bytes; 0 = no limit */
	size_t		used;			/* bytes charged now */
	size_t		peak;			/* highest used since init */
} ClBudget;

extern void cl_budget_init(ClBudget *b, size_t limit);
extern bool cl_budget_charge(ClBudget *b, size_t bytes);
extern void cl_budget_release(ClBudget *b, size_t bytes);
extern bool cl_budget_trim(size_t threshold);

/* Outcome of feeding bytes to a ClJsonParser. */
typedef enum ClParseStatus
{
	CL_PARSE_OK = 0,
	CL_PARSE_SYNTAX,			/* not JSON (RFC 8259, strictly) */
	CL_PARSE_DEPTH,				/* nested deeper than allowed */
	CL_PARSE_TOO_BIG,			/* more bytes than max_bytes */
	CL_PARSE_TRAILING,			/* bytes after the JSON value */
	CL_PARSE_TRUNCATED,			/* input ended inside the value */
	CL_PARSE_NOMEM,				/* malloc failed */
	CL_PARSE_BUDGET				/* the memory budget would be exceeded */
} ClParseStatus;

/*
 * An incremental parser: bytes are fed as they arrive from the network, so
 * a page is parsed while it downloads.  Safe to call from a libcurl
 * callback (only malloc).  Read status and errmsg; the rest is private.
 */
typedef struct ClJsonParser
{
	ClParseStatus status;
	char		errmsg[CL_ERRMSG_LEN];
	size_t		nbytes;			/* bytes fed so far */
	size_t		charged;		/* bytes charged to the budget so far */

	/* private */
	struct json_tokener *tok;
	ClJson	   *root;			/* the value, once json-c completed it */
	bool		done;			/* the value is complete (root may be NULL) */
	int			max_depth;
	size_t		max_bytes;		/* 0 = unlimited */
	ClBudget   *budget;			/* NULL = none */
	/* the byte classifier (see jsonpage.c) */
	uint8_t		sc_state;
	uint8_t		sc_num;			/* number-grammar state inside a token */
	uint8_t		sc_byte_cost;	/* estimate per byte of this string/token */
	bool		sc_top_null;	/* the top-level value is a literal "n..." */
	bool		sc_expect_key;	/* the next string in this object is a key */
	int			sc_depth;		/* open containers */
	size_t		sc_tok_len;		/* bytes of the current string or token */
	size_t		sc_max_tok;		/* longest string or token so far */
	size_t		sc_estimate;	/* upper bound of json-c's allocations */
	bool		sc_neg_zero;	/* stopped after a "-0": json-c gets "." */
	size_t		neg_zeros;		/* "-0" numbers made doubles (see classify) */
	struct
	{
		bool		is_object;
		uint32_t	count;		/* members or elements so far */
		uint32_t	size;		/* hash entries or array slots charged */
	}			sc_level[CL_SC_LEVELS];	/* the open containers, outermost first */
} ClJsonParser;

extern bool cl_parser_init(ClJsonParser *p, int max_depth, size_t max_bytes,
						   ClBudget *budget);
extern bool cl_parser_feed(ClJsonParser *p, const char *buf, size_t len);
extern ClJson *cl_parser_finish(ClJsonParser *p);
extern void cl_parser_free(ClJsonParser *p);
extern ClJson *cl_json_parse(const char *buf, size_t len, int max_depth,
							 char *err, size_t errlen);
extern void cl_json_free(ClJson *root);
extern size_t cl_json_charge(const ClJson *root);

/* Accessors: each checks the type of v (which may be NULL = JSON null). */
extern ClJsonType cl_type(const ClJson *v);
extern const char *cl_type_name(const ClJson *v);
extern bool cl_object_get(const ClJson *obj, const char *key, ClJson **value);
extern size_t cl_array_length(const ClJson *arr);
extern ClJson *cl_array_get(const ClJson *arr, size_t i);
extern size_t cl_object_length(const ClJson *obj);
extern bool cl_object_next(const ClJson *obj, const void **pos, const char **key,
						   ClJson **value);
extern bool cl_json_get_bool(const ClJson *v, bool *out);
extern bool cl_json_get_int64(const ClJson *v, int64_t *out);
extern bool cl_json_int_clamped(const ClJson *v);
extern const char *cl_string(const ClJson *v, size_t *len);
extern const char *cl_json_text(ClJson *v, size_t *len);

/* A decoded page: borrowed pointers into root. */
typedef struct ClPage
{
	ClJson	   *root;
	int64_t		count;			/* total rows matching, all pages */
	ClJson	   *data;			/* the array of call-log objects */
	size_t		ndata;
	const char *next;			/* NULL when absent, null or "" */
	size_t		next_len;
} ClPage;

extern bool cl_page_decode(ClJson *root, ClPage *page, char *err, size_t errlen);
extern ClJson *cl_page_row(const ClPage *page, size_t i);
extern const char *cl_error_message(const char *body, size_t len,
									char *out, size_t outlen);

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
