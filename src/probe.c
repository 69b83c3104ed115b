/*-------------------------------------------------------------------------
 *
 * probe.c
 *		  callogs_fdw_probe(): ask the provider what no document settles.
 *
 * The pushdown of callogs_fdw rests on facts about the provider that its
 * documents leave open (docs: the API's open questions): which field
 * start_date/end_date filter on, whether their bounds are inclusive,
 * whether a bare date or only a timestamp is accepted, the real page-size
 * cap, whether "next" links are page numbers or cursors, whether filter
 * values are case-sensitive, whether rows carry "id", what a page past the
 * end returns.  A wrong date_column silently loses rows.  The probe asks a
 * fixed, small number of cheap questions and returns one row per fact:
 * what it found, how it knows, and the option setting it recommends (or
 * "cannot tell").
 *
 * The questions (at most 11 requests, PROBE_MAX_QUESTIONS in one case,
 * plus the transport's retries of a 429 or 5xx; every one but the first
 * asks for page_size=1 and reads "count"):
 *
 *	1. the first page as the scans ask for it, with the table's (or
 *	   server's) page_size, so that every limit the scans keep holds for the
 *	   probe too: the total, the rows the API really puts on a page (its
 *	   cap), the "next" link, the ids, the JSON fields of the rows and the
 *	   newest calls with their three timestamps.  When the API refuses that
 *	   page_size with HTTP 400 (a page-size ceiling), page 1 is asked again
 *	   at the documented 100 (or 20), which is recommended: one more
 *	   question, the only case that asks PROBE_MAX_QUESTIONS (12);
 *	2. a page past the end (count + 1), judged with the count that answer
 *	   carries and the age of the call it holds;
 *	3-4. start_date=1970-01-01 as a timestamp and as a bare date: which
 *	   format is accepted (the other gets HTTP 400), and how many calls
 *	   have a non-null date field;
 *	5-7. (timestamps accepted) three windows of +-1 ms around the
 *	   creation_time, start_time and end_time of one known call: the
 *	   count of each, compared with what each field would give on the
 *	   first page, tells the field;
 *	8-9. windows that end / start exactly on that call's value: inclusive
 *	   or exclusive bounds;
 *	   or 5. (bare dates only) end_date = the newest call's day: whether
 *	   end_date is inclusive (assuming the API reads a date in UTC), the
 *	   field being told by which calls a date filter drops (null fields);
 *	   not asked when the first page does not reach back to that day;
 *	10-11. call_status as the first call has it, and in upper case.
 *
 * Predictions are computed from the first page, which holds every call
 * newer than its oldest one (rows are newest first); windows are chosen
 * above that oldest call by more than the longest call on the page, so
 * that older calls cannot fall into them.  Calls that arrive while the
 * probe runs can make a comparison fail: the fact is then "cannot tell",
 * never a verdict (each answer's own count is what is compared).
 *
 * date_column takes a column, not a JSON field: the field the API filters
 * on is mapped to the table's column that reads it (its "field" option),
 * and the current setting is judged by the field its column reads.
 *
 * Every request goes through the scans' transport (http.c: retries, rate
 * limit, cancel, memory budget, address checks) and URL builder (url.c):
 * the token is sent only to the server's url, never to a "next" link
 * (links are only looked at).  Only a superuser or the server's owner may
 * probe it.
 *
 * IDENTIFICATION
 *		  src/probe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_server.h"
#include "commands/defrem.h"
#include "common/int.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "callogs_fdw.h"

#define PROBE_MAX_QUESTIONS		12	/* 11, and page 1 again at a page_size
										 * the API accepts */
#define PROBE_MS				INT64CONST(1000)	/* one millisecond, in us */

/* The date fields the API may filter on. */
typedef enum ProbeField
{
	PF_CREATION,
	PF_START,
	PF_END,
	PF_NFIELDS
} ProbeField;

static const char *const field_names[PF_NFIELDS] = {
	"creation_time", "start_time", "end_time"
};

/* What the probe keeps of one call of the first page. */
typedef struct ProbeCall
{
	bool		has[PF_NFIELDS];	/* the field is a timestamp (not null) */
	TimestampTz t[PF_NFIELDS];
	bool		whole_ms[PF_NFIELDS];	/* no digits below the millisecond */
	char	   *status;			/* call_status, or NULL */
	char	   *id;				/* a string "id", or NULL */
} ProbeCall;

/* What the first page's "next" link says about paging (as scan.c sees it). */
typedef enum ProbeLinks
{
	PL_NONE,					/* no link */
	PL_REFUSED,					/* a link the scans refuse (origin, scheme) */
	PL_REPEAT,					/* a link back to the page it is on */
	PL_PAGES,					/* page 2 of the same request */
	PL_CURSORS					/* anything else: followed one by one */
} ProbeLinks;

/* The answer to one question. */
typedef struct ProbeAnswer
{
	long		status;			/* HTTP status */
	bool		ok;				/* a 2xx page */
	int64		count;			/* its "count" */
	size_t		ndata;			/* rows on it */
	bool		has_row_t;		/* its first call has a creation_time */
	TimestampTz row_t;			/* ... this one */
	const char *message;		/* the API's message of a 400 or 404 */
	char	   *query;			/* the query asked, for the evidence */
} ProbeAnswer;

typedef struct Probe
{
	CallogsOptions opts;
	ForeignServer *server;
	ForeignTable *table;		/* or NULL */
	MemoryContext cxt;			/* the fetcher's: deleted at the end */
	CallogsFetcher *fetcher;
	CallogsStats stats;
	int			asked;			/* questions asked (requests, not retries) */
	ReturnSetInfo *rsinfo;

	/* the table's columns, when a table is probed */
	CallogsColumn *cols;
	int			ncols;

	/* the first page */
	int			first_size;		/* the page_size it was asked with */
	char	   *first_query;	/* its query, for the evidence */
	int64		total;			/* the API's count */
	int			ncalls;
	ProbeCall  *calls;
	TimestampTz span;			/* longest start/end after creation seen */
	List	   *keys;			/* JSON keys of its rows */
	ProbeLinks	links;			/* its "next" link */
	const char *links_why;		/* PL_REFUSED: why */

	/* the date questions */
	bool		ts_ok;			/* timestamps accepted */
	bool		date_ok;		/* bare dates accepted */
	int64		wide_count;		/* count of start_date=1970-01-01, or -1 */
	int			field;			/* the date field found, or -1 */
} Probe;

static bool read_instant(ClJson *obj, const char *field, TimestampTz *out,
						 bool *whole_ms);

/* ---- reading the page (jsonpage.h's accessors) ---- */

/* The i-th call object of a decoded page. */
static ClJson *
probe_row(const ClPage *page, size_t i)
{
	return cl_page_row(page, i);
}

/* A JSON string's bytes and length, or NULL if v is not a string. */
static const char *
probe_string(const ClJson *v, size_t *len)
{
	return cl_string(v, len);
}

/* Add the keys of a JSON object to a list of distinct key strings. */
static List *
probe_add_keys(List *keys, const ClJson *obj)
{
	const void *pos = NULL;
	const char *key;
	ClJson	   *value;

	while (cl_object_next(obj, &pos, &key, &value))
	{
		ListCell   *lc;
		bool		found = false;

		foreach(lc, keys)
			if (strcmp((char *) lfirst(lc), key) == 0)
				found = true;
		if (!found)
			keys = lappend(keys, pstrdup(key));
	}
	return keys;
}

/* ---- output ---- */

/*
 * add_fact
 *		One row of the result: the fact, what was found, how the probe knows,
 *		the recommended setting, and the requests the fact took.
 */
static void
add_fact(Probe *p, const char *fact, const char *finding, const char *evidence,
		 const char *recommendation, int requests)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	/* the API's text (messages, JSON keys, links) never shows the token */
	values[0] = CStringGetTextDatum(callogs_scrub_secrets(fact));
	values[1] = CStringGetTextDatum(callogs_scrub_secrets(finding));
	if (evidence)
		values[2] = CStringGetTextDatum(callogs_scrub_secrets(evidence));
	else
		nulls[2] = true;
	values[3] = CStringGetTextDatum(callogs_scrub_secrets(recommendation));
	values[4] = Int32GetDatum(requests);
	tuplestore_putvalues(p->rsinfo->setResult, p->rsinfo->setDesc, values, nulls);
}

/* Whether an option list (DefElem) names the option. */
static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	return false;
}

/*
 * set_table_option
 *		The recommendation to set a foreign-table option: the ALTER FOREIGN
 *		TABLE command (ADD or SET) when a table was probed, else in words.
 */
static char *
set_table_option(Probe *p, const char *name, const char *value, const char *why)
{
	if (p->table)
		return psprintf("ALTER FOREIGN TABLE %s OPTIONS (%s %s %s)%s",
						quote_qualified_identifier(get_namespace_name(get_rel_namespace(p->table->relid)),
												   get_rel_name(p->table->relid)),
						has_option(p->table->options, name) ? "SET" : "ADD",
						name, quote_literal_cstr(value), why);
	return psprintf("set the option %s to %s on the foreign tables of server %s%s",
					name, quote_literal_cstr(value),
					quote_identifier(p->server->servername), why);
}

/*
 * set_page_size
 *		The recommendation to set page_size: on the table when it sets its
 *		own, else on the server.
 */
static char *
set_page_size(Probe *p, int value, const char *why)
{
	char		v[16];

	snprintf(v, sizeof(v), "%d", value);
	if (p->table && has_option(p->table->options, "page_size"))
		return set_table_option(p, "page_size", v, why);
	return psprintf("ALTER SERVER %s OPTIONS (%s page_size %s)%s",
					quote_identifier(p->server->servername),
					has_option(p->server->options, "page_size") ? "SET" : "ADD",
					quote_literal_cstr(v), why);
}

/* ---- asking ---- */

/* The query part of a request URL, for the evidence column. */
static char *
url_query(const char *url)
{
	StringInfoData buf;
	char	   *q;

	initStringInfo(&buf);
	callogs_url_path(url, &buf);
	q = strchr(buf.data, '?');
	return q ? q + 1 : buf.data;
}

/* Parameters: name=value pairs, NULL-terminated. */
static List *
params_of(const char *name,...)
{
	va_list		args;
	List	   *params = NIL;
	const char *n = name;

	va_start(args, name);
	while (n != NULL)
	{
		const char *v = va_arg(args, const char *);

		params = callogs_url_param(params, n, v, false);
		n = va_arg(args, const char *);
	}
	va_end(args);
	return params;
}

/*
 * bad_answer
 *		A 2xx page that is not a Call Logs page: SQLSTATE HV00A, as a scan
 *		would raise it.  Never returns.
 */
pg_noreturn static void
bad_answer(Probe *p, const char *query, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 errmsg("call logs API returned an unexpected response: %s",
					callogs_scrub_secrets(why)),
			 errdetail("Probe of server \"%s\", request ?%s.",
					   p->server->servername, query)));
}

/*
 * ask
 *		One question: GET the server's url with params and page_size=1,
 *		through the scans' transport.  A 400 or 404 is an answer (its
 *		status and the API's message); 401, 403, 429 and 5xx after retries,
 *		and network failures raise the scans' errors.  A page's answer keeps
 *		its count, its number of rows and its first call's creation_time.
 */
static void
ask(Probe *p, List *params, ProbeAnswer *a)
{
	char	   *url;
	CallogsRequest *req;
	ClJson	   *root;

	params = callogs_url_param(params, "page_size", "1", false);
	url = callogs_url_build(p->opts.url, params);
	memset(a, 0, sizeof(*a));
	a->query = url_query(url);
	p->asked++;
	Assert(p->asked <= PROBE_MAX_QUESTIONS);
	req = callogs_request_submit(p->fetcher, url, 0, 1, CALLOGS_REQ_CLIENT_ERROR_OK);
	root = callogs_request_wait(req);
	a->status = callogs_request_status(req);
	if (root == NULL)
		a->message = callogs_request_api_message(req);
	else
	{
		ClPage		page;
		char		err[CL_ERRMSG_LEN];

		if (!cl_page_decode(root, &page, err, sizeof(err)))
			bad_answer(p, a->query, err);
		a->ok = true;
		a->count = page.count;
		a->ndata = page.ndata;
		if (page.ndata > 0 && cl_type(probe_row(&page, 0)) == CL_JSON_OBJECT)
		{
			bool		whole_ms;

			a->has_row_t = read_instant(probe_row(&page, 0), "creation_time",
										&a->row_t, &whole_ms);
		}
	}
	callogs_request_release(req);
}

/* "HTTP 400 (Invalid start_date: ...)" or "count 12" of an answer. */
static char *
answer_text(const ProbeAnswer *a)
{
	if (a->ok)
		return psprintf("count " INT64_FORMAT, a->count);
	if (a->message)
		return psprintf("HTTP %ld (%s)", a->status, a->message);
	return psprintf("HTTP %ld", a->status);
}

/* ---- the first page ---- */

/*
 * read_instant
 *		A call's timestamp field as an instant (a timestamp without offset
 *		is read as UTC); false when absent, null or not a timestamp.
 */
static bool
read_instant(ClJson *obj, const char *field, TimestampTz *out, bool *whole_ms)
{
	ClJson	   *v;
	const char *s;
	size_t		len;
	ClTimestamp ts;

	if (!cl_object_get(obj, field, &v) || (s = probe_string(v, &len)) == NULL ||
		!cl_parse_timestamp(s, len, &ts) ||
		!callogs_timestamp_from_parts(&ts, true, out))
		return false;
	*whole_ms = ts.usec % 1000 == 0;
	return true;
}

/* A JSON string member as a palloc'd C string, or NULL. */
static char *
read_string(ClJson *obj, const char *field)
{
	ClJson	   *v;
	const char *s;
	size_t		len;

	if (!cl_object_get(obj, field, &v) || (s = probe_string(v, &len)) == NULL ||
		memchr(s, '\0', len) != NULL)
		return NULL;
	return pnstrdup(s, len);
}

/*
 * ask_first
 *		Page 1 with page_size = size, through the scans' transport.
 *		Returns its decoded root, the request left in *reqp for the caller
 *		to release, or NULL when the API answered HTTP 400 (status and
 *		message in *a; a page_size the API refuses).  A 404 is asked again
 *		as a scan asks it, so that its error is the scans' own (with the
 *		hint on the url); 401, 403, a 429 or 5xx after retries, network
 *		failures and the limits (max_response_bytes,
 *		callogs_fdw.max_page_memory) raise the scans' errors.  *stream is
 *		the request without "page", as a scan's stream URL.
 */
static ClJson *
ask_first(Probe *p, int size, ProbeAnswer *a, char **stream, char **url,
		  CallogsRequest **reqp)
{
	char		v[16];
	CallogsRequest *req;
	ClJson	   *root;

	snprintf(v, sizeof(v), "%d", size);
	*stream = callogs_url_build(p->opts.url, params_of("page_size", v, NULL));
	*url = callogs_url_build(*stream, params_of("page", "1", NULL));
	memset(a, 0, sizeof(*a));
	a->query = url_query(*url);
	p->asked++;
	Assert(p->asked <= PROBE_MAX_QUESTIONS);
	req = callogs_request_submit(p->fetcher, *url, 0, 1, CALLOGS_REQ_CLIENT_ERROR_OK);
	root = callogs_request_wait(req);
	a->status = callogs_request_status(req);
	if (root == NULL && a->status != 400)
	{
		/* a 404 on page 1: raise it as a scan would (never returns) */
		callogs_request_release(req);
		req = callogs_request_submit(p->fetcher, *url, 0, 1, 0);
		root = callogs_request_wait(req);
		a->status = callogs_request_status(req);
	}
	if (root == NULL)
	{
		a->message = callogs_request_api_message(req);
		callogs_request_release(req);
		*reqp = NULL;
		return NULL;
	}
	a->ok = true;
	*reqp = req;
	return root;
}

/*
 * refuse_first
 *		Page 1 was refused with HTTP 400 at page_size a->query and at the
 *		smaller page_size of b (or b is NULL: there was none to try): no
 *		filter parameter was sent, so it is not pushdown.  SQLSTATE HV024,
 *		as a scan's 400.  Never returns.
 */
pg_noreturn static void
refuse_first(Probe *p, const ProbeAnswer *a, const ProbeAnswer *b)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("call logs API answered HTTP 400 Bad Request%s%s",
					(b ? b : a)->message ? ": " : "",
					(b ? b : a)->message ? (b ? b : a)->message : ""),
			 b ? errdetail("Probe of server \"%s\": page 1 was refused as ?%s and as ?%s, without any filter parameter.",
						   p->server->servername, a->query, b->query) :
			 errdetail("Probe of server \"%s\": page 1 was refused as ?%s, without any filter parameter.",
					   p->server->servername, a->query),
			 errhint("Check the url option of server \"%s\", and the page_size option (now %d).",
					 p->server->servername, p->opts.page_size)));
}

/*
 * read_first
 *		Keep what the probe needs of a first page (its calls' timestamps,
 *		statuses and ids, the JSON keys, the kind of its "next" link),
 *		replacing what an earlier first page left.  The page was asked with
 *		page_size = size as url (stream: the same without "page").
 */
static void
read_first(Probe *p, ClJson *root, const ProbeAnswer *a, int size,
		   const char *stream, const char *url)
{
	ClPage		page;
	char		err[CL_ERRMSG_LEN];

	if (!cl_page_decode(root, &page, err, sizeof(err)))
		bad_answer(p, a->query, err);

	p->first_size = size;
	p->first_query = a->query;
	p->total = page.count;
	p->ncalls = (int) page.ndata;
	p->calls = palloc0(sizeof(ProbeCall) * Max(p->ncalls, 1));
	p->span = 0;
	p->keys = NIL;
	for (int i = 0; i < p->ncalls; i++)
	{
		ClJson	   *obj = probe_row(&page, i);
		ProbeCall  *c = &p->calls[i];

		if (cl_type(obj) != CL_JSON_OBJECT)
			bad_answer(p, a->query, psprintf("element %d of \"data\" is not an object", i));
		for (int f = 0; f < PF_NFIELDS; f++)
			c->has[f] = read_instant(obj, field_names[f], &c->t[f], &c->whole_ms[f]);
		for (int f = PF_START; f < PF_NFIELDS; f++)
			if (c->has[PF_CREATION] && c->has[f])
				p->span = Max(p->span, c->t[f] - c->t[PF_CREATION]);
		c->status = read_string(obj, "call_status");
		c->id = read_string(obj, "id");
		p->keys = probe_add_keys(p->keys, obj);
	}

	/*
	 * The "next" link, as a scan judges it on page 1 (scan.c, take_page):
	 * refused unless on the server's origin; page 2 of the same request
	 * means page numbers; a link back to this very page repeats forever
	 * (a scan refuses it when it meets it again); anything else is a
	 * cursor, followed one by one.
	 */
	p->links = PL_NONE;
	p->links_why = NULL;
	if (page.next != NULL)
	{
		const char *why = NULL;
		char	   *next = NULL;

		if (page.next_len < CALLOGS_MAX_URL_LEN)
			next = callogs_url_follow(p->opts.url, url, page.next, page.next_len, &why);
		else
			why = "the \"next\" link is too long";
		if (next == NULL)
		{
			p->links = PL_REFUSED;
			p->links_why = why;
		}
		else if (strcmp(next, url) == 0 || callogs_url_is_page_link(stream, next, 1))
			p->links = PL_REPEAT;
		else if (callogs_url_is_page_link(stream, next, 2))
			p->links = PL_PAGES;
		else
			p->links = PL_CURSORS;
	}
}

/*
 * first_page
 *		Question 1: page 1 as the scans ask for it, with the table's (or
 *		server's) page_size: within every limit the scans keep
 *		(max_response_bytes, callogs_fdw.max_page_memory, the API's own
 *		page-size ceiling), so that the probe works wherever the scans do.
 *		When the API refuses that page_size with HTTP 400 (a ceiling: the
 *		scans fail too), page 1 is asked again at the documented 100 (or 20)
 *		and that page_size is recommended.  Reports the total, the page-size
 *		cap, the "next" links and the ids.  Other errors are the scans' own
 *		(a 404 hints at the url, a 401 at the token, a page over
 *		max_response_bytes at page_size ...).
 */
static void
first_page(Probe *p)
{
	int			size = p->opts.page_size;
	ProbeAnswer a1,
				a2;
	char	   *stream;
	char	   *url;
	CallogsRequest *req;
	ClJson	   *root;
	int			refused = 0;	/* the scans' page_size, refused */
	int			with_id = 0;
	int			distinct_ids = 0;
	int			cap = 0;		/* rows the API puts on a page, when short */

	root = ask_first(p, size, &a1, &stream, &url, &req);
	if (root == NULL)
	{
		int			fallback = size > 100 ? 100 : size > 20 ? 20 : 0;

		if (fallback == 0)
			refuse_first(p, &a1, NULL);
		refused = size;
		size = fallback;
		root = ask_first(p, size, &a2, &stream, &url, &req);
		if (root == NULL)
			refuse_first(p, &a1, &a2);
		read_first(p, root, &a2, size, stream, url);
	}
	else
		read_first(p, root, &a1, size, stream, url);
	callogs_request_release(req);

	add_fact(p, "calls",
			 psprintf(INT64_FORMAT " calls (the API's count)", p->total),
			 psprintf("%s: %d rows, count " INT64_FORMAT, p->first_query, p->ncalls, p->total),
			 "nothing to change", 1);

	/* the page-size cap */
	if (p->ncalls < p->first_size && p->total > p->ncalls)
		cap = Max(p->ncalls, 1);
	if (refused)
		add_fact(p, "page_size cap",
				 cap ?
				 psprintf("page_size %d refused with HTTP 400; at most %d rows per page", refused, cap) :
				 psprintf("page_size %d refused with HTTP 400; page_size %d accepted", refused, size),
				 psprintf("%s: %s; %s: %d rows, count " INT64_FORMAT,
						  a1.query, answer_text(&a1), a2.query, p->ncalls, p->total),
				 set_page_size(p, cap ? cap : size,
							   psprintf(" (required: now %d, and every query fails with HTTP 400 until then)",
										refused)),
				 1);
	else if (p->ncalls > p->first_size)
		add_fact(p, "page_size cap",
				 "none: the API ignores page_size",
				 psprintf("asked for %d rows, got %d", p->first_size, p->ncalls),
				 "cannot tell: scans count pages by page_size; report it to the API's provider",
				 0);
	else if (cap)
		add_fact(p, "page_size cap",
				 psprintf("at most %d rows per page", cap),
				 psprintf("asked for %d rows, got %d of " INT64_FORMAT,
						  p->first_size, p->ncalls, p->total),
				 set_page_size(p, cap, psprintf(" (now %d; larger pages come back short)",
												p->opts.page_size)),
				 0);
	else if (p->total > p->ncalls)
		add_fact(p, "page_size cap",
				 psprintf("at least %d rows per page (page_size; the probe asks for no larger page)",
						  p->first_size),
				 psprintf("asked for %d rows, got %d", p->first_size, p->ncalls),
				 "nothing to change", 0);
	else
		add_fact(p, "page_size cap",
				 psprintf("cannot tell: all " INT64_FORMAT " calls fit on one page", p->total),
				 psprintf("asked for %d rows, got %d", p->first_size, p->ncalls),
				 "cannot tell", 0);

	/* "next" links */
	if (p->links == PL_NONE && p->total > p->ncalls)
		add_fact(p, "next links", "none: pages are asked for by number",
				 "the first page has no \"next\" link",
				 "nothing to change", 0);
	else if (p->links == PL_NONE)
		add_fact(p, "next links", "cannot tell: one page holds every call",
				 "the first page has no \"next\" link", "cannot tell", 0);
	else if (p->links == PL_REFUSED)
		add_fact(p, "next links", psprintf("refused by the scans: %s", p->links_why),
				 "the first page's \"next\" link",
				 "cannot tell: scans will fail with SQLSTATE HV00A; report it to the API's provider",
				 0);
	else if (p->links == PL_REPEAT && p->total > p->ncalls)
		add_fact(p, "next links",
				 "refused by the scans: the \"next\" link repeats the page it is on",
				 "the first page's \"next\" link leads to that same page",
				 "cannot tell: scans of more than one page will fail with SQLSTATE HV00A; report it to the API's provider",
				 0);
	else if (p->links == PL_REPEAT)
		add_fact(p, "next links",
				 "cannot tell: one page holds every call (its \"next\" link repeats that page, which scans refuse once there are more)",
				 "the first page's \"next\" link leads to that same page",
				 "cannot tell", 0);
	else if (p->links == PL_PAGES)
		add_fact(p, "next links",
				 "page numbers: pages are fetched by number, concurrency at a time",
				 "the first page's \"next\" link is page 2 of the same request",
				 "nothing to change", 0);
	else
		add_fact(p, "next links",
				 "opaque cursors: pages are followed one after another (concurrency does not apply)",
				 "the first page's \"next\" link is not page 2 of the same request",
				 p->total > p->ncalls && p->opts.page_size < CALLOGS_MAX_PAGE_SIZE && !cap ?
				 psprintf("nothing to change; optional: a larger page_size (now %d, at most %d, if the API takes it) means fewer round trips one after another",
						  p->opts.page_size, CALLOGS_MAX_PAGE_SIZE) :
				 "nothing to change", 0);

	/* ids */
	for (int i = 0; i < p->ncalls; i++)
	{
		bool		seen = false;

		if (p->calls[i].id == NULL)
			continue;
		with_id++;
		for (int j = 0; j < i && !seen; j++)
			seen = p->calls[j].id && strcmp(p->calls[j].id, p->calls[i].id) == 0;
		if (!seen)
			distinct_ids++;
	}
	if (p->ncalls == 0)
		add_fact(p, "row ids", "cannot tell: the API has no calls", NULL, "cannot tell", 0);
	else if (with_id == p->ncalls && distinct_ids == with_id)
		add_fact(p, "row ids", "every call carries an \"id\"",
				 psprintf("%d of %d rows of the first page, all distinct", with_id, p->ncalls),
				 "nothing to change: rows that calls arriving during a scan push onto the next page are dropped by their id",
				 0);
	else if (distinct_ids < with_id)
		add_fact(p, "row ids",
				 psprintf("ids repeat: %d calls carry %d distinct ids", with_id, distinct_ids),
				 psprintf("%d of %d rows of the first page have a string \"id\"",
						  with_id, p->ncalls),
				 "cannot tell: scans drop a call whose id they have returned already, so calls sharing an id are lost; report it to the API's provider",
				 0);
	else
		add_fact(p, "row ids",
				 with_id == 0 ? "no call carries an \"id\"" :
				 psprintf("%d of %d calls carry an \"id\" (%d distinct)",
						  with_id, p->ncalls, distinct_ids),
				 psprintf("%d of %d rows of the first page have a string \"id\"",
						  with_id, p->ncalls),
				 "nothing to set; calls arriving during a scan can make rows without an id come back twice: cache them by a natural key (docs/caching.md)",
				 0);
}

/* ---- the questions after the first page ---- */

/*
 * row_age
 *		Where the call an answer carried stands against the first page's
 *		calls (rows come newest first): -1 older than all of them (and than
 *		its newest), 1 at least as new as its newest (page 1 again, or a
 *		call that arrived since), 0 when it cannot be told (no creation_time,
 *		or in between).
 */
static int
row_age(Probe *p, const ProbeAnswer *a)
{
	TimestampTz newest,
				oldest;

	if (!a->has_row_t || p->ncalls == 0 ||
		!p->calls[0].has[PF_CREATION] || !p->calls[p->ncalls - 1].has[PF_CREATION])
		return 0;
	newest = p->calls[0].t[PF_CREATION];
	oldest = p->calls[p->ncalls - 1].t[PF_CREATION];
	if (a->row_t <= oldest && a->row_t < newest)
		return -1;
	if (a->row_t >= newest)
		return 1;
	return 0;
}

/*
 * past_end
 *		Question 2: page count+1 of page_size=1.  Both a 404 and an empty
 *		page are handled by the scans.  Rows there are judged with the
 *		counts each answer carries and the age of the call returned: when
 *		the answer's own count covers the page, calls arrived since the
 *		first page (a busy provider, not a broken one); a call as new as
 *		page 1's means the API ignores "page" (harmless when "next" links
 *		are cursors, which scans follow instead); an older call past the
 *		count means the count is too low.
 */
static void
past_end(Probe *p)
{
	ProbeAnswer a;
	char		page[32];
	int64		pageno;
	int			age;
	bool		exists_now;
	char	   *evidence;
	const char *arrived;

	if (pg_add_s64_overflow(Max(p->total, 1), 1, &pageno))
	{
		add_fact(p, "page past the end",
				 "cannot tell: \"count\" leaves no page number past it",
				 psprintf("%s: count " INT64_FORMAT, p->first_query, p->total),
				 "cannot tell: report the count to the API's provider", 0);
		return;
	}
	snprintf(page, sizeof(page), INT64_FORMAT, pageno);
	ask(p, params_of("page", page, NULL), &a);
	if (!a.ok)
	{
		add_fact(p, "page past the end", psprintf("HTTP %ld", a.status),
				 psprintf("%s: %s", a.query, answer_text(&a)),
				 "nothing to change: scans end there when \"count\" says the page cannot exist",
				 1);
		return;
	}
	if (a.ndata == 0)
	{
		add_fact(p, "page past the end", "an empty page",
				 psprintf("%s: no rows, count " INT64_FORMAT, a.query, a.count),
				 "nothing to change", 1);
		return;
	}

	age = row_age(p, &a);
	exists_now = a.count >= pageno;
	evidence = psprintf("%s: %zu rows, count " INT64_FORMAT "; the first page: count " INT64_FORMAT "%s",
						a.query, a.ndata, a.count, p->total,
						age < 0 ? "; the call returned is older than the first page's" :
						age > 0 ? "; the call returned is as new as the first page's newest, or newer" : "");
	arrived = psprintf("calls arrived while probing (count " INT64_FORMAT ", then " INT64_FORMAT "), so page " INT64_FORMAT " exists now",
					   p->total, a.count, pageno);
	if (age > 0)
		add_fact(p, "page past the end",
				 "rows: the API ignores \"page\" (a page past the end holds the newest calls)",
				 evidence,
				 p->links == PL_CURSORS ?
				 "nothing to change: its \"next\" links are cursors, which scans follow one by one (no page is asked for by number after the first)" :
				 "cannot tell: scans of more than one page will fail with SQLSTATE HV00A; report it to the API's provider",
				 1);
	else if (exists_now && age < 0)
		add_fact(p, "page past the end",
				 psprintf("cannot tell: %s; its call is older than the first page's, so the API honours \"page\"",
						  arrived),
				 evidence,
				 "nothing to change: scans end where \"count\" says the page cannot exist, and handle a 404 or an empty page there; run the probe again when fewer calls arrive to see which",
				 1);
	else if (exists_now)
		add_fact(p, "page past the end",
				 psprintf("cannot tell: %s", arrived),
				 evidence,
				 "nothing to change: scans end where \"count\" says the page cannot exist; run the probe again when fewer calls arrive",
				 1);
	else if (age < 0)
		add_fact(p, "page past the end",
				 "rows: the API's count is too low (a page past it holds older calls)",
				 evidence,
				 "cannot tell: scans end where \"count\" says, so calls past it are not returned (or fail with SQLSTATE HV00A when following links); report it to the API's provider",
				 1);
	else
		add_fact(p, "page past the end",
				 "rows: the API ignores \"page\", or its count is too low",
				 evidence,
				 "cannot tell: scans of more than one page may fail with SQLSTATE HV00A; report it to the API's provider",
				 1);
}

/* ---- date_column: a column, judged by the JSON field it reads ---- */

/* Whether date_column may name a column of this type (deparse.c). */
static bool
is_date_type(Oid typid)
{
	Oid			t = getBaseType(typid);

	return t == TIMESTAMPTZOID || t == TIMESTAMPOID || t == DATEOID;
}

/*
 * column_of_field
 *		The probed table's column that JSON field feeds (its field option,
 *		by default its name) and that date_column may name, or NULL: a
 *		timestamptz column first (its bounds are exact; timestamp and date
 *		columns are widened by 16 hours), then the first by position.
 */
static const CallogsColumn *
column_of_field(Probe *p, const char *field)
{
	const CallogsColumn *best = NULL;

	for (int i = 0; i < p->ncols; i++)
	{
		const CallogsColumn *c = &p->cols[i];

		if (c->kind == CALLOGS_CONV_CONSTANT || strcmp(c->field, field) != 0 ||
			!is_date_type(c->typid))
			continue;
		if (best == NULL ||
			(getBaseType(c->typid) == TIMESTAMPTZOID &&
			 getBaseType(best->typid) != TIMESTAMPTZOID))
			best = c;
	}
	return best;
}

/*
 * current_date_setting
 *		What the probed table's date_column does now, as deparse.c's
 *		callogs_date_column_type resolves it: the JSON field its column
 *		reads (*field; NULL when no date bound is sent), and *broken when it
 *		names no usable column, so that every query with a date condition
 *		fails.  Returns the setting in words for a recommendation.
 */
static char *
current_date_setting(Probe *p, const char **field, bool *broken)
{
	const char *name = p->opts.date_column;
	const char *q = quote_literal_cstr(name ? name : "");

	*field = NULL;
	*broken = false;
	if (name == NULL || name[0] == '\0')
		return pstrdup("''");
	for (int i = 0; i < p->ncols; i++)
	{
		const CallogsColumn *c = &p->cols[i];

		if (strcmp(c->attname, name) != 0)
			continue;
		if (!is_date_type(c->typid))
		{
			if (!p->opts.date_column_set)
				return psprintf("the default %s, not a date column: no date bounds are sent", q);
			*broken = true;
			return psprintf("%s, not a timestamptz, timestamp or date column: queries with a date condition fail", q);
		}
		*field = c->field;
		return psprintf("%s, which reads JSON field %s", q, c->field);
	}
	if (!p->opts.date_column_set)
		return psprintf("the default %s, which names no column: no date bounds are sent", q);
	*broken = true;
	return psprintf("%s, which names no column: queries with a date condition fail", q);
}

/*
 * date_column_rec
 *		The date_column recommendation when the API's start_date/end_date
 *		filter on JSON field want (or also, a field that gives the same
 *		rows, or -1; want -1: the API filters on no field).  date_column
 *		takes a column: the one recommended is the column that field feeds,
 *		the current setting is judged by the field its column reads, and
 *		'' (no date bounds, always safe) is recommended when no column
 *		reads the field.  Without a table, in words.
 */
static char *
date_column_rec(Probe *p, int want, int also, const char *why)
{
	const char *cur_field;
	bool		broken;
	char	   *cur;
	const CallogsColumn *col;

	if (p->table == NULL)
	{
		if (want < 0)
			return psprintf("set the option date_column to '' on the foreign tables of server %s%s",
							quote_identifier(p->server->servername), why);
		return psprintf("on each foreign table of server %s, set date_column to the column that reads JSON field %s (its field option, or its name)%s%s, or to '' if no column does; callogs_fdw_probe(%s, 'table') checks a table",
						quote_identifier(p->server->servername), field_names[want],
						also >= 0 ? " or " : "", also >= 0 ? field_names[also] : "",
						quote_literal_cstr(p->server->servername));
	}

	cur = current_date_setting(p, &cur_field, &broken);
	if (want < 0)
	{
		if (cur_field == NULL && !broken)
			return psprintf("nothing to change (date_column is %s)", cur);
		return set_table_option(p, "date_column", "", psprintf(" (now %s%s)", cur, why));
	}
	if (cur_field != NULL &&
		(strcmp(cur_field, field_names[want]) == 0 ||
		 (also >= 0 && strcmp(cur_field, field_names[also]) == 0)))
		return psprintf("nothing to change (date_column is %s)", cur);
	col = column_of_field(p, field_names[want]);
	if (col == NULL && also >= 0)
		col = column_of_field(p, field_names[also]);
	if (col != NULL)
		return set_table_option(p, "date_column", col->attname,
								psprintf(" (now %s%s)", cur, why));
	if (cur_field == NULL && !broken)
		return psprintf("nothing to change (date_column is %s; no date column reads JSON field %s, so date conditions are filtered locally)",
						cur, field_names[want]);
	return set_table_option(p, "date_column", "",
							psprintf(" (now %s; no date column reads JSON field %s%s)",
									 cur, field_names[want], why));
}

/*
 * date_formats
 *		Questions 3 and 4: start_date=1970-01-01, as a timestamp and as a
 *		bare date, before any call: the format the API refuses gets 400;
 *		the count says how many calls have a non-null date field.
 */
static void
date_formats(Probe *p)
{
	TimestampTz epoch = SetEpochTimestamp();
	ProbeAnswer ts,
				d;
	const char *cur = p->opts.date_format == CALLOGS_DATE_FORMAT_DATE ? "date" : "timestamp";
	char	   *evidence;
	const char *finding;
	char	   *rec;

	ask(p, params_of("start_date", callogs_format_instant(epoch, CALLOGS_DATE_FORMAT_TIMESTAMP), NULL), &ts);
	ask(p, params_of("start_date", callogs_format_instant(epoch, CALLOGS_DATE_FORMAT_DATE), NULL), &d);
	p->ts_ok = ts.ok;
	p->date_ok = d.ok;
	p->wide_count = ts.ok ? ts.count : d.ok ? d.count : -1;
	evidence = psprintf("%s: %s; %s: %s", ts.query, answer_text(&ts), d.query, answer_text(&d));

	if (ts.ok && d.ok)
	{
		finding = "timestamps and bare dates";
		rec = strcmp(cur, "timestamp") == 0 ? pstrdup("nothing to change") :
			set_table_option(p, "date_format", "timestamp",
							 " (exact bounds: fewer rows fetched than whole days widened by 16 hours)");
	}
	else if (ts.ok)
	{
		finding = "timestamps only: a bare date gets an error";
		rec = strcmp(cur, "timestamp") == 0 ? pstrdup("nothing to change") :
			set_table_option(p, "date_format", "timestamp",
							 " (required: queries with a date condition fail with HTTP 400 until then)");
	}
	else if (d.ok)
	{
		finding = "bare dates only: a timestamp gets an error";
		rec = strcmp(cur, "date") == 0 ? pstrdup("nothing to change") :
			set_table_option(p, "date_format", "date",
							 " (required: queries with a date condition fail with HTTP 400 until then)");
	}
	else
	{
		finding = "neither a timestamp nor a bare date";
		rec = date_column_rec(p, -1, -1, "; the API refuses both forms: send no date bounds");
	}
	add_fact(p, "date format", finding, evidence, rec, 2);
}

/*
 * page_count
 *		Calls of the first page whose field f lies between lo and hi, each
 *		bound inclusive or not: what a window would count if the API filtered
 *		on f.
 */
static int64
page_count(Probe *p, int f, TimestampTz lo, bool lo_incl, TimestampTz hi, bool hi_incl)
{
	int64		n = 0;

	for (int i = 0; i < p->ncalls; i++)
	{
		ProbeCall  *c = &p->calls[i];

		if (c->has[f] &&
			(lo_incl ? c->t[f] >= lo : c->t[f] > lo) &&
			(hi_incl ? c->t[f] <= hi : c->t[f] < hi))
			n++;
	}
	return n;
}

/* Whether some call of the first page has field f exactly at t. */
static bool
page_has_at(Probe *p, TimestampTz t)
{
	for (int i = 0; i < p->ncalls; i++)
		for (int f = 0; f < PF_NFIELDS; f++)
			if (p->calls[i].has[f] && p->calls[i].t[f] == t)
				return true;
	return false;
}

/*
 * pick_call
 *		A call of the first page whose three timestamps are whole
 *		milliseconds more than 2 ms apart, far enough above the page's
 *		oldest call that no older call can fall into a window around them,
 *		and whose windows give each field a different count on the page
 *		(and the same count whether the API's bounds are inclusive or not).
 *		The newest call is skipped: calls arriving now could join it.
 *		Returns its index, or -1.
 */
static int
pick_call(Probe *p, int64 pred[PF_NFIELDS][PF_NFIELDS])
{
	TimestampTz floor;

	if (p->ncalls < 2 || !p->calls[p->ncalls - 1].has[PF_CREATION])
		return -1;
	floor = p->calls[p->ncalls - 1].t[PF_CREATION] + p->span + 2 * PROBE_MS;
	for (int i = 1; i < p->ncalls; i++)
	{
		ProbeCall  *c = &p->calls[i];
		bool		ok = true;

		for (int f = 0; f < PF_NFIELDS && ok; f++)
		{
			ok = c->has[f] && c->whole_ms[f] && c->t[f] - PROBE_MS > floor &&
				!page_has_at(p, c->t[f] - PROBE_MS) && !page_has_at(p, c->t[f] + PROBE_MS);
			for (int g = 0; g < f && ok; g++)
				ok = c->t[f] - c->t[g] > 2 * PROBE_MS ||
					c->t[g] - c->t[f] > 2 * PROBE_MS;
		}
		if (!ok)
			continue;
		for (int f = 0; f < PF_NFIELDS; f++)
			for (int w = 0; w < PF_NFIELDS; w++)
				pred[f][w] = page_count(p, f, c->t[w] - PROBE_MS, true,
										c->t[w] + PROBE_MS, true);
		for (int f = 0; f < PF_NFIELDS && ok; f++)
			for (int g = 0; g < f && ok; g++)
				ok = pred[f][0] != pred[g][0] || pred[f][1] != pred[g][1] ||
					pred[f][2] != pred[g][2];
		if (ok)
			return i;
	}
	return -1;
}

/* A timestamp bound as the API gets it. */
static char *
ts_text(TimestampTz t)
{
	return callogs_format_instant(t, CALLOGS_DATE_FORMAT_TIMESTAMP);
}

/*
 * bound_fact
 *		Whether a bound is inclusive: the window asked counts what the
 *		first page predicts for an inclusive or an exclusive bound.
 */
static void
bound_fact(Probe *p, const char *fact, const ProbeAnswer *a, int64 incl, int64 excl)
{
	const char *finding;

	if (!a->ok || incl == excl)
		finding = "cannot tell";
	else if (a->count == incl)
		finding = "inclusive";
	else if (a->count == excl)
		finding = "exclusive";
	else
		finding = "cannot tell: neither prediction holds";
	add_fact(p, fact, finding,
			 psprintf("%s: %s; on the first page, an inclusive bound gives " INT64_FORMAT ", an exclusive one " INT64_FORMAT,
					  a->query, answer_text(a), incl, excl),
			 "nothing to change: the bounds callogs_fdw sends include the rows either way",
			 1);
}

/*
 * date_field_timestamps
 *		Questions 5 to 9, when the API takes timestamps: windows of +-1 ms
 *		around the creation_time, start_time and end_time of one call; the
 *		field whose first-page counts match all three answers is the one
 *		the API filters on.  Then a window ending and one starting exactly
 *		on that call's value tell whether end_date and start_date are
 *		inclusive.
 */
static void
date_field_timestamps(Probe *p)
{
	int64		pred[PF_NFIELDS][PF_NFIELDS];
	ProbeAnswer a[PF_NFIELDS];
	int			r = pick_call(p, pred);
	int			found = -1;
	int			matches = 0;
	bool		all_total = true;
	StringInfoData ev;
	ProbeCall  *c;

	if (r < 0)
	{
		add_fact(p, "date field",
				 "cannot tell: no call of the first page has three distinct timestamps far enough from the others",
				 psprintf("%d calls on the first page", p->ncalls),
				 "cannot tell: date_column '' is always safe (no date bounds are sent)", 0);
		return;
	}
	c = &p->calls[r];
	initStringInfo(&ev);
	for (int w = 0; w < PF_NFIELDS; w++)
	{
		ask(p, params_of("start_date", ts_text(c->t[w] - PROBE_MS),
						 "end_date", ts_text(c->t[w] + PROBE_MS), NULL), &a[w]);
		appendStringInfo(&ev, "%s+-1 ms around the %s of call %d (%s): %s",
						 w > 0 ? "; " : "", field_names[w], r + 1, ts_text(c->t[w]),
						 answer_text(&a[w]));
		if (!a[w].ok || a[w].count != p->total)
			all_total = false;
	}
	for (int f = 0; f < PF_NFIELDS; f++)
	{
		bool		ok = true;

		for (int w = 0; w < PF_NFIELDS; w++)
			ok = ok && a[w].ok && a[w].count == pred[f][w];
		if (ok)
		{
			found = f;
			matches++;
		}
	}
	appendStringInfoString(&ev, "; on the first page, filtering on");
	for (int f = 0; f < PF_NFIELDS; f++)
		appendStringInfo(&ev, "%s %s would give " INT64_FORMAT "/" INT64_FORMAT "/" INT64_FORMAT,
						 f > 0 ? "," : "", field_names[f], pred[f][0], pred[f][1], pred[f][2]);

	if (matches == 1)
		add_fact(p, "date field", psprintf("start_date and end_date filter on %s", field_names[found]),
				 ev.data,
				 date_column_rec(p, found, -1, "; a wrong date_column loses rows"), 3);
	else if (all_total && p->total > 1)
		add_fact(p, "date field", "none: the API ignores start_date and end_date",
				 ev.data,
				 date_column_rec(p, -1, -1, "; dates are filtered locally"), 3);
	else
		add_fact(p, "date field", "cannot tell: no field matches every answer",
				 ev.data,
				 "cannot tell: date_column '' is always safe (no date bounds are sent)", 3);
	p->field = matches == 1 ? found : -1;
	if (p->field < 0)
		return;

	/* inclusivity, on the value of the field found */
	{
		TimestampTz x = c->t[p->field];
		ProbeAnswer e,
					s;

		ask(p, params_of("start_date", ts_text(x - PROBE_MS), "end_date", ts_text(x), NULL), &e);
		bound_fact(p, "end_date bound", &e,
				   page_count(p, p->field, x - PROBE_MS, true, x, true),
				   page_count(p, p->field, x - PROBE_MS, true, x, false));
		ask(p, params_of("start_date", ts_text(x), "end_date", ts_text(x + PROBE_MS), NULL), &s);
		bound_fact(p, "start_date bound", &s,
				   page_count(p, p->field, x, true, x + PROBE_MS, true),
				   page_count(p, p->field, x, false, x + PROBE_MS, true));
	}
}

/*
 * date_field_dates
 *		Bare dates only: whole days cannot single out a call, but a date
 *		filter drops the calls whose field is null (missed calls have no
 *		start_time or end_time in variant B), which tells creation_time
 *		(never null) from the others.  Then end_date = the newest call's
 *		(UTC) day: inclusive, it keeps that day.  One question.
 */
static void
date_field_dates(Probe *p)
{
	bool		nulls[PF_NFIELDS] = {false, false, false};
	bool		survives[PF_NFIELDS];
	int			nsurvive = 0;
	bool		dropped = p->wide_count < p->total;
	char	   *evidence;

	for (int i = 0; i < p->ncalls; i++)
		for (int f = 0; f < PF_NFIELDS; f++)
			if (!p->calls[i].has[f])
				nulls[f] = true;
	for (int f = 0; f < PF_NFIELDS; f++)
	{
		survives[f] = nulls[f] == dropped;
		if (survives[f])
			nsurvive++;
	}
	evidence = psprintf("start_date=1970-01-01 counts " INT64_FORMAT " of " INT64_FORMAT " calls; on the first page, start_time is %s, end_time %s",
						p->wide_count, p->total,
						nulls[PF_START] ? "null in some calls" : "never null",
						nulls[PF_END] ? "null in some" : "never null");
	p->field = -1;
	if (nsurvive == 1)
	{
		for (int f = 0; f < PF_NFIELDS; f++)
			if (survives[f])
				p->field = f;
		add_fact(p, "date field", psprintf("start_date and end_date filter on %s", field_names[p->field]),
				 evidence, date_column_rec(p, p->field, -1, "; a wrong date_column loses rows"), 0);
	}
	else if (dropped && survives[PF_START] && survives[PF_END] && !survives[PF_CREATION])
		add_fact(p, "date field",
				 "start_time or end_time (bare dates cannot tell them apart): a date filter drops the calls where they are null",
				 evidence,
				 date_column_rec(p, PF_START, PF_END,
								 "; with creation_time, calls whose start_time is null are lost; start_time and end_time give the same rows unless a call lasts over 16 hours"),
				 0);
	else if (dropped)
		add_fact(p, "date field",
				 "cannot tell: a date filter drops calls, but the first page does not show which field is null",
				 evidence,
				 "cannot tell: date_column '' is always safe (no date bounds are sent)", 0);
	else
		add_fact(p, "date field",
				 "cannot tell: bare dates are too coarse, and no date field is null on the first page",
				 evidence,
				 psprintf("nothing to change (date_column is %s): with date_format 'date' the bounds are widened by 16 hours, so the three fields give the same rows unless a call lasts over 16 hours",
						  quote_literal_cstr(p->opts.date_column)),
				 0);

	/* end_date inclusive? */
	if (p->ncalls > 0 && p->calls[0].has[PF_CREATION])
	{
		TimestampTz day = p->calls[0].t[PF_CREATION];
		ProbeCall  *oldest = &p->calls[p->ncalls - 1];
		ProbeAnswer a;
		const char *verdict = NULL;
		StringInfoData ev;

		day -= day % USECS_PER_DAY;

		/*
		 * The predictions count the calls of the newest day on the first
		 * page: it must hold them all (a page of page_size rows may not,
		 * on a busy provider).  The calls after it are older than its
		 * oldest, and their start and end come at most the page's longest
		 * call later.
		 */
		if (p->ncalls < p->total &&
			(!oldest->has[PF_CREATION] || oldest->t[PF_CREATION] + p->span >= day))
		{
			add_fact(p, "end_date bound",
					 "cannot tell: the first page does not reach back to the start of its newest call's day",
					 psprintf("%d calls on the first page, the oldest created at %s, the longest ending " INT64_FORMAT " s after its creation; the newest call's day starts at %s",
							  p->ncalls,
							  oldest->has[PF_CREATION] ? ts_text(oldest->t[PF_CREATION]) : "(no creation_time)",
							  (int64) (p->span / USECS_PER_SEC), ts_text(day)),
					 "nothing to change: the bounds callogs_fdw sends include the rows either way",
					 0);
			return;
		}
		ask(p, params_of("start_date", callogs_format_instant(SetEpochTimestamp(), CALLOGS_DATE_FORMAT_DATE),
						 "end_date", callogs_format_instant(day, CALLOGS_DATE_FORMAT_DATE), NULL), &a);
		initStringInfo(&ev);
		appendStringInfo(&ev, "%s: %s; on the first page, an inclusive / exclusive end_date gives",
						 a.query, answer_text(&a));

		/*
		 * What each field still possible predicts: inclusive, the calls of
		 * the newest day stay; exclusive, they go.  Inclusive when every
		 * such field's inclusive count holds (and differs from its
		 * exclusive one), exclusive when no inclusive count holds and some
		 * field's exclusive one does.
		 */
		{
			bool		all_incl = a.ok;
			bool		any_incl = false;
			bool		any_excl = false;
			bool		first = true;

			for (int f = 0; f < PF_NFIELDS; f++)
			{
				int64		incl,
							excl;

				if (!survives[f] && nsurvive > 0)
					continue;
				incl = p->wide_count - page_count(p, f, day + USECS_PER_DAY, true, DT_NOEND, true);
				excl = p->wide_count - page_count(p, f, day, true, DT_NOEND, true);
				appendStringInfo(&ev, "%s " INT64_FORMAT " / " INT64_FORMAT " filtering on %s",
								 first ? "" : ",", incl, excl, field_names[f]);
				first = false;
				if (!a.ok)
					continue;
				all_incl = all_incl && a.count == incl && incl != excl;
				any_incl = any_incl || a.count == incl;
				any_excl = any_excl || (a.count == excl && incl != excl);
			}
			verdict = !a.ok ? "cannot tell" :
				all_incl ? "inclusive" :
				!any_incl && any_excl ? "exclusive" : "cannot tell: the predictions disagree";
		}
		appendStringInfoString(&ev, " (assuming the API reads a bare date as a UTC day)");
		add_fact(p, "end_date bound", verdict, ev.data,
				 "nothing to change: the bounds callogs_fdw sends include the rows either way",
				 1);
	}
}

/*
 * filter_values
 *		Questions 10 and 11: call_status as the first call has it, and in
 *		upper case.  The first also shows whether the API applies the
 *		filter at all (count(*) pushdown trusts it).
 */
static void
filter_values(Probe *p)
{
	const char *v = NULL;
	char	   *upper;
	ProbeAnswer a,
				b;
	int64		on_page = 0;
	const char *finding;

	for (int i = 0; i < p->ncalls && v == NULL; i++)
		for (int k = 0; k < CALLOGS_NUM_CALL_STATUSES; k++)
			if (p->calls[i].status && strcmp(p->calls[i].status, callogs_call_statuses[k]) == 0)
				v = callogs_call_statuses[k];
	if (v == NULL)
	{
		add_fact(p, "filter values",
				 "cannot tell: no call of the first page has a documented call_status",
				 NULL, "cannot tell", 0);
		return;
	}
	for (int i = 0; i < p->ncalls; i++)
		if (p->calls[i].status && strcmp(p->calls[i].status, v) == 0)
			on_page++;
	upper = asc_toupper(v, strlen(v));
	ask(p, params_of("call_status", v, NULL), &a);
	ask(p, params_of("call_status", upper, NULL), &b);

	if (!a.ok)
		finding = "cannot tell: a documented value was refused";
	else if (!b.ok)
		finding = psprintf("case-sensitive: '%s' gets HTTP %ld", upper, b.status);
	else if (b.count == a.count)
		finding = psprintf("case-insensitive: '%s' counts as '%s'", upper, v);
	else if (b.count == 0)
		finding = psprintf("case-sensitive: '%s' matches no call", upper);
	else
		finding = "cannot tell";
	add_fact(p, "filter values", finding,
			 psprintf("%s: %s; %s: %s", a.query, answer_text(&a), b.query, answer_text(&b)),
			 "nothing to change: only the documented lower-case values are sent; other spellings stay local filters",
			 2);

	if (a.ok && a.count >= p->total && on_page < p->ncalls)
		add_fact(p, "call_status filter",
				 "ignored: the API counts every call for one status",
				 psprintf("%s: count " INT64_FORMAT " of " INT64_FORMAT "; %d of the first page's %d calls are '%s'",
						  a.query, a.count, p->total, (int) on_page, p->ncalls, v),
				 p->table ?
				 set_table_option(p, "pushdown", "false", " (count(*) would trust the API's count)") :
				 psprintf("ALTER SERVER %s OPTIONS (ADD pushdown 'false') (count(*) would trust the API's count)",
						  quote_identifier(p->server->servername)),
				 0);
	else if (a.ok)
		add_fact(p, "call_status filter", "applied",
				 psprintf("%s: count " INT64_FORMAT " of " INT64_FORMAT " calls", a.query, a.count, p->total),
				 "nothing to change", 0);
}

/*
 * columns
 *		The table's columns whose JSON field appears in no call of the first
 *		page: a misspelled column (or field option) is NULL in every row,
 *		silently.  One row per such column, or one saying all were found.
 */
static void
columns(Probe *p)
{
	CallogsColumn *cols = p->cols;
	int			ncols = p->ncols;
	int			missing = 0;
	StringInfoData unread;
	char	   *relname;

	if (p->table == NULL)
	{
		add_fact(p, "columns", "cannot tell: no foreign table given",
				 NULL, psprintf("run callogs_fdw_probe(%s, 'your_table') to check its columns",
								quote_literal_cstr(p->server->servername)), 0);
		return;
	}
	if (p->ncalls == 0)
	{
		add_fact(p, "columns", "cannot tell: the API has no calls", NULL, "cannot tell", 0);
		return;
	}
	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(p->table->relid)),
										 get_rel_name(p->table->relid));

	/* the fields of the calls that no column reads */
	initStringInfo(&unread);
	{
		ListCell   *lc;

		foreach(lc, p->keys)
		{
			const char *key = (const char *) lfirst(lc);
			bool		read = false;

			for (int i = 0; i < ncols && !read; i++)
				read = cols[i].kind != CALLOGS_CONV_CONSTANT && strcmp(cols[i].field, key) == 0;
			if (!read)
				appendStringInfo(&unread, "%s%s", unread.len ? ", " : "", key);
		}
	}

	for (int i = 0; i < ncols; i++)
	{
		ListCell   *lc;
		bool		found = false;

		if (cols[i].kind == CALLOGS_CONV_CONSTANT)
			continue;
		foreach(lc, p->keys)
			if (strcmp((const char *) lfirst(lc), cols[i].field) == 0)
				found = true;
		if (found)
			continue;
		missing++;
		add_fact(p, psprintf("column %s", quote_identifier(cols[i].attname)),
				 psprintf("JSON field \"%s\" appears in none of the %d calls of the first page: the column is NULL in every row",
						  cols[i].field, p->ncalls),
				 unread.len ? psprintf("fields no column reads: %s", unread.data) :
				 "every field of the calls is read by a column",
				 psprintf("check the spelling, or name the JSON field: ALTER FOREIGN TABLE %s ALTER COLUMN %s OPTIONS (%s field '...'); drop the column if the API does not send it",
						  relname, quote_identifier(cols[i].attname),
						  has_option(GetForeignColumnOptions(p->table->relid, cols[i].attnum),
									 "field") ? "SET" : "ADD"),
				 0);
	}
	if (missing == 0)
		add_fact(p, "columns", "every column's JSON field appears on the first page",
				 unread.len ? psprintf("fields no column reads: %s", unread.data) :
				 "every field of the calls is read by a column",
				 "nothing to change", 0);
}

/* ---- the function ---- */

/*
 * check_probe_allowed
 *		Only a superuser or the server's owner (a member of the owning role)
 *		may probe a server: it sends requests with a user mapping's token and
 *		reports what the API answers.  SQLSTATE 42501.
 */
static void
check_probe_allowed(ForeignServer *server)
{
	if (superuser() || has_privs_of_role(GetUserId(), server->owner))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to probe server \"%s\"", server->servername),
			 errdetail("Only a superuser or the owner of the server may probe it.")));
}

PG_FUNCTION_INFO_V1(callogs_fdw_probe);

/*
 * callogs_fdw_probe
 *		callogs_fdw_probe(server text, foreign_table text DEFAULT NULL)
 *		RETURNS TABLE (fact, finding, evidence, recommendation, requests):
 *		see the file header.  The table, when given, must be on the server:
 *		its options (org_handle, date_column, date_format, page_size) and
 *		columns are the ones judged.  Arguments are text, the type an
 *		unknown literal resolves to, so that no overload in another schema
 *		is a better match (issue 10 round 2, finding 2); the table is
 *		resolved with the caller's search_path.  Errors: 42501 (not the
 *		owner), 42P01 (no such table), 22023
 *		(a table of another server), the scans' own for what the API
 *		answers (401, 403, 404 on the first page, network failures).
 */
Datum
callogs_fdw_probe(PG_FUNCTION_ARGS)
{
	Probe		probe;
	Probe	   *p = &probe;
	MemoryContext oldcxt;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the server to probe must not be null")));

	InitMaterializedSRF(fcinfo, 0);
	memset(p, 0, sizeof(*p));
	p->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	p->field = -1;
	p->wide_count = -1;
	p->server = GetForeignServerByName(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	check_probe_allowed(p->server);
	if (!PG_ARGISNULL(1))
	{
		/* a name as the caller's search_path finds it, as regclass input */
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(textToQualifiedNameList(PG_GETARG_TEXT_PP(1))),
											 AccessShareLock, false);

		if (get_rel_name(relid) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", relid)));
		if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a foreign table", get_rel_name(relid))));
		p->table = GetForeignTable(relid);
		if (p->table->serverid != p->server->serverid)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("foreign table \"%s\" is not on server \"%s\"",
							get_rel_name(relid), p->server->servername),
					 errhint("Pass a foreign table of server \"%s\", or no table.",
							 p->server->servername)));
		callogs_get_options(relid, GetUserId(), &p->opts);
	}
	else
		callogs_get_server_options(p->server->serverid, GetUserId(), &p->opts);

	if (p->opts.org_handle == NULL && p->table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no org_handle", p->server->servername),
				 errhint("Pass a foreign table that sets it: SELECT * FROM callogs_fdw_probe(%s, 'table_name').",
						 quote_literal_cstr(p->server->servername))));
	callogs_check_usable(&p->opts);

	p->cxt = AllocSetContextCreate(CurrentMemoryContext, "callogs_fdw probe",
								   ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(p->cxt);
	p->fetcher = callogs_fetcher_create(p->cxt, &p->opts, &p->stats);
	if (p->table)
	{
		Relation	rel = table_open(p->table->relid, AccessShareLock);

		p->cols = callogs_build_columns(rel, NIL, p->opts.org_handle, &p->ncols);
		table_close(rel, AccessShareLock);
	}

	first_page(p);
	past_end(p);
	if (p->ncalls > 0)
	{
		date_formats(p);
		if (p->ts_ok)
			date_field_timestamps(p);
		else if (p->date_ok)
			date_field_dates(p);
		filter_values(p);
	}
	columns(p);
	add_fact(p, "requests",
			 psprintf("%d questions, " INT64_FORMAT " requests (retries included) to server \"%s\"",
					  p->asked, p->stats.requests, p->server->servername),
			 psprintf("at most %d questions (%d when the API refuses page_size); the token is sent only to the server's url",
					  PROBE_MAX_QUESTIONS - 1, PROBE_MAX_QUESTIONS),
			 "nothing to change", (int) p->stats.requests);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(p->cxt);
	return (Datum) 0;
}
