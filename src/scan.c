/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The page walker of callogs_fdw: turns a filter into request streams
 *		  and hands out call-log objects in page order.
 *
 * A filter becomes one request stream per (call_type, call_status) pair.
 * Each stream starts with page 1.  Its answer tells how to go on:
 *
 *	- with a "next" link that is not simply page 2 of the same request
 *	  (an opaque cursor), the stream follows the links one after another
 *	  (only to the origin of the server's url, never twice to the same
 *	  link, never more pages than "count" can explain);
 *	- otherwise (no links, or page-number links) "count" and the number of
 *	  rows the server really put on page 1 (it may cap page_size silently)
 *	  give the number of pages, and the remaining pages are fetched with up
 *	  to `concurrency` requests in flight, delivered strictly in page order.
 *	  With page-number links, each page's own "next" link is checked
 *	  against the prediction (page n's link is page n+1 of the same
 *	  request) when the page is read, in page order: a link by page
 *	  number to another page or with other parameters is an error (the
 *	  API contradicts itself), and a page with a "next" link must be full;
 *	  a link that is no page number (a cursor) falls back to following the
 *	  links from that page on, the pages fetched ahead by number being
 *	  dropped unread, so that no row is lost or returned twice (API.md,
 *	  open question 8).
 *
 * A stream ends when its rows reach "count", or when a page comes back
 * empty, a page after the first answers 404 (after the transport's
 * retries) or a page has no "next" link.  Once its rows are handed out,
 * the rows it returned (repeats dropped) must reach the "count" of the
 * last page read, within what rows shifting during the scan explains (the
 * spread of the counts seen): otherwise the scan raises an ERROR instead
 * of returning a short answer.
 *
 * Each page is checked whole when it arrives, before any of its rows is
 * handed out (take_page): against its own "count" (a page asked for by
 * number must be counted by it; the page that reaches "count" has no
 * "next" link), for progress (a page of rows all seen before, or without
 * ids a copy of the page before, that new calls do not explain), and with
 * an order column for the order of all its rows.  A page fetched
 * concurrently that was answered before the page before it is fetched again
 * once, after which the stream keeps one page in flight
 * (fetched_too_early).  A stream never reads more than
 * CALLOGS_SHIFT_FACTOR times the pages its "count" explains.
 *
 * At most `concurrency` pages (in flight or waiting to be read) exist at
 * any time, so memory does not grow with the result; a page's parsed tree
 * is freed as soon as its last row has been handed out.  Objects that
 * carry an "id" seen recently in this scan (rows shifted across a page
 * boundary by new calls) are skipped, and a page answered before new calls
 * pushed rows into it is fetched again (fetched_too_early).
 *
 * Every request URL comes from callogs_stream_url (the stream's filters
 * and page_size, also shown by EXPLAIN) plus the page number, through
 * url.c.
 *
 * IDENTIFICATION
 *		  src/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "common/int.h"
#include "utils/memutils.h"

#include "callogs_fdw.h"

/* Upper bound on pages per stream, whatever "count" claims. */
#define CALLOGS_MAX_PAGES		10000000

/*
 * Ids remembered to drop rows seen twice: two generations, the older one
 * forgotten when the newer fills, so that memory stays bounded whatever
 * the size of the scan.  A row comes back only while new calls push it
 * along with the scan: within the pages in flight and a page or two
 * after, or, when calls arrive a page or more per request, for at most
 * CALLOGS_MAX_IDLE_PAGES pages of nothing new.  A generation holds the
 * ids of twice that many windows of pages (id_generation): between
 * CALLOGS_ID_MIN_GENERATION and CALLOGS_ID_GENERATION ids, 128 kB to 1 MB
 * a generation.  The defaults (4 pages of 100 rows) remember 6400 to
 * 12800 ids; an asynchronous Append reads all its partitions at once, and
 * each scan holds its sets until it ends.
 */
#define CALLOGS_ID_GENERATION	32768
#define CALLOGS_ID_MIN_GENERATION	4096

/*
 * The sets of ids and links start this small and grow (simplehash doubles
 * them) with the rows and links a scan really sees: a set created at its
 * final size costs 1 MB (65536 buckets of 16 bytes, zeroed) in every scan,
 * 400 MB for 400 one-row partitions (issue 10, section 3).
 */
#define CALLOGS_SET_INITIAL		64

/*
 * Once the pages held at once (as charged to callogs_fdw.max_page_memory)
 * reached more than this many bytes, the end of a scan gives the memory
 * malloc kept of them back to the system (cl_budget_trim).  Ordinary
 * scans hold less (the defaults, 4 pages of 100 rows: 1 MB; the most a
 * non-superuser may ask for, 8 pages of 1000 rows: 20 MB).
 */
#define CALLOGS_TRIM_BYTES		(32 * 1024 * 1024)

/*
 * Pages in a row that bring no row not seen already, before the scan gives
 * up: an API that ignores the page number (or a "count" far above what its
 * pages hold) would otherwise be read page after page for as long as
 * "count" claims (finding 6 of the attack on issue 13).
 */
#define CALLOGS_MAX_STALE_PAGES	3	/* its message says "3rd" */

/*
 * Pages in a row that bring no row not seen already although new calls
 * explain it ("count" grew by a page or more each time): calls arriving
 * faster than the scan reads them.  A busy API answering pages fetched
 * concurrently can do it for a whole window of pages fetched ahead, each
 * answered late and holding only new calls (which ordered scans leave
 * out), and again for the next window: the limit is this plus twice the
 * window (check_progress).  The scan still ends: see CALLOGS_SHIFT_FACTOR.
 */
#define CALLOGS_MAX_IDLE_PAGES	8

/*
 * Pages a stream may read beyond what its smallest "count" explains:
 * CALLOGS_SHIFT_FACTOR times as many, plus CALLOGS_SHIFT_SLACK.  New calls
 * push rows into later pages, so a busy API takes more pages than "count"
 * over the page's rows; one whose new calls outrun the scan (more new rows
 * per request than the pages walk) would never end.
 */
#define CALLOGS_SHIFT_FACTOR	4
#define CALLOGS_SHIFT_SLACK		16

/*
 * A set of 64-bit hashes (of the ids seen, of the "next" links followed),
 * from PostgreSQL's lib/simplehash.h.  The keys are already hashes: their
 * low bits select the bucket.
 */
typedef struct HashEntry
{
	uint64		hash;
	char		status;
} HashEntry;

#define SH_PREFIX hashset
#define SH_ELEMENT_TYPE HashEntry
#define SH_KEY_TYPE uint64
#define SH_KEY hash
#define SH_HASH_KEY(tb, key) ((uint32) ((key) ^ ((key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct StreamState
{
	char	   *url;			/* filters and page_size, no page */
	bool		started;		/* page 1 submitted */
	bool		page1_done;		/* page 1 decoded */
	bool		finished;		/* nothing more to submit or read */
	bool		link_mode;		/* following "next" links */
	bool		page_links;		/* page 1's "next" was page 2: check each */
	char	   *next_url;		/* link mode: the link to submit next */
	int			next_page;		/* count mode: next page number to submit */
	int64		known_pages;	/* count mode: pages that exist */
	int64		max_count;		/* largest "count" seen */
	int64		min_count;		/* smallest "count" seen */
	int64		last_count;		/* "count" of the page read last */
	int64		first_count;	/* "count" of page 1 */
	int64		new_calls;		/* rows dropped as calls newer than those
								 * handed out (check_rows) */
	int			refetched_page; /* last page asked for again (see below) */
	int64		rows_received;	/* rows of the pages read, repeats included */
	int64		rows_delivered; /* rows handed out (repeats dropped) */
	int			end_page;		/* the page that ended the stream */
	const char *end_how;		/* how it did, for the message */
	bool		verified;		/* the end was checked against "count" */
	int			capacity;		/* rows the server puts on a full page */
	int			pages_read;
	int64		rows_fresh;		/* rows received not seen before */
	int			stale_pages;	/* pages in a row with no row not seen, unexplained */
	int			idle_pages;		/* pages in a row with no row not seen */
	uint64		prev_sig;		/* hash of the rows of the page read last */
	bool		one_ahead;		/* re-fetched once: one page in flight */
	List	   *queue;			/* submitted requests, in page order */
	hashset_hash *links;		/* hashes of the "next" links followed, or
								 * NULL before the first */
} StreamState;

struct CallogsScan
{
	MemoryContext cxt;
	CallogsFetcher *fetcher;
	CallogsOptions opts;
	CallogsStats *stats;
	int			page_size;		/* what each request asks for */
	int			window;			/* max pages submitted and unread */
	int			outstanding;	/* pages submitted and not released */
	int			nstreams;
	StreamState *streams;
	int			cur_stream;
	CallogsRequest *cur_req;	/* the page being read */
	ClPage		cur_page;
	size_t		cur_idx;
	double		limit_rows;		/* -1: no limit */
	int64		rows_returned;	/* rows handed out */
	int			max_pages;		/* 0: no limit (ANALYZE sets one) */
	int			activity;		/* entry in callogs_fdw_activity, or -1 */
	MemoryContextCallback activity_cb;	/* frees it if cxt goes first */
	MemoryContextCallback trim_cb;	/* cl_budget_trim when cxt goes */
	int			pages_submitted;
	int64		reported_count; /* sum of page-1 counts */
	hashset_hash *ids[2];		/* id hashes: two generations */
	int			ids_cur;		/* the generation being filled */
	int64		max_page_rows;	/* most rows a page brought (id_generation) */
	CallogsPaging paging;		/* how the pages were asked for */
	bool	   *cur_repeat;		/* rows of cur_page seen before (dropped) */
	const char *order_field;	/* JSON key rows come newest first on, or NULL */
	const char *order_colname;	/* its column, for messages */
	const char *order_relname;	/* the foreign table, for messages */
	bool		order_started;	/* order_last is set */
	hashset_hash *tie_sigs;		/* without ids: signatures of the rows handed
								 * out at order_last (check_rows) */
	TimestampTz order_last;		/* oldest order value handed out */
};

static void activity_end(void *arg);
static void trim_at_reset(void *arg);
static void report_progress(CallogsScan *scan);

/* ---- rows and their ids ---- */

/*
 * page_row
 *		The i-th element of the page's "data" array.
 */
static inline ClJson *
page_row(const ClPage *page, size_t i)
{
	return cl_page_row(page, i);
}

/*
 * hash_string
 *		A 64-bit hash of len bytes (ids, links).
 */
static uint64
hash_string(const char *s, size_t len)
{
	return hash_bytes_extended((const unsigned char *) s, (int) len, 0x63616c6c);
}

/*
 * id_generation
 *		The ids a generation holds (see CALLOGS_ID_GENERATION): twice
 *		CALLOGS_MAX_IDLE_PAGES windows of the largest pages seen (a server
 *		may put more rows on a page than page_size asks for).
 */
static int64
id_generation(const CallogsScan *scan)
{
	int64		rows = Max(scan->page_size, scan->max_page_rows);
	int64		g = 2 * CALLOGS_MAX_IDLE_PAGES * (int64) scan->window * Max(rows, 1);

	return Min(Max(g, CALLOGS_ID_MIN_GENERATION), CALLOGS_ID_GENERATION);
}

/*
 * id_seen
 *		Whether an object id was seen recently in this scan; remembers it.
 *		Rows shifted by new calls reappear within a page or two, inside the
 *		window of the last id_generation()..2x ids.
 */
static bool
id_seen(CallogsScan *scan, uint64 h)
{
	hashset_hash *cur;
	bool		found;

	if (scan->ids[1 - scan->ids_cur] &&
		hashset_lookup(scan->ids[1 - scan->ids_cur], h) != NULL)
		return true;
	if (scan->ids[scan->ids_cur] == NULL)
		scan->ids[scan->ids_cur] = hashset_create(scan->cxt, CALLOGS_SET_INITIAL, NULL);
	cur = scan->ids[scan->ids_cur];
	(void) hashset_insert(cur, h, &found);
	if (found)
		return true;
	if (cur->members >= id_generation(scan))
	{
		/* the older generation is forgotten; this one becomes the older */
		scan->ids_cur = 1 - scan->ids_cur;
		if (scan->ids[scan->ids_cur])
			hashset_reset(scan->ids[scan->ids_cur]);
	}
	return false;
}

/*
 * row_id_hash
 *		The hash of a call-log object's string "id"; false when it has none
 *		(variant B of the API).
 */
static bool
row_id_hash(ClJson *obj, uint64 *h)
{
	ClJson	   *id;
	const char *s;
	size_t		len;

	if (!cl_object_get(obj, "id", &id) || (s = cl_string(id, &len)) == NULL)
		return false;
	*h = hash_string(s, len);
	return true;
}

/*
 * row_signature
 *		A 64-bit hash of a row without an id: its keys, string values,
 *		integers and the kinds of its other values, in order.  Two pages
 *		with the same signature hold, as far as it can tell, the same rows
 *		(check_progress).  Strings are read in place: serializing each row
 *		(cl_json_text) cost a fifth of a variant B scan's time.
 */
static uint64
row_signature(ClJson *obj)
{
	const void *pos = NULL;
	const char *key;
	ClJson	   *v;
	uint64		h = 0;

	while (cl_object_next(obj, &pos, &key, &v))
	{
		const char *s;
		size_t		len;
		int64_t		i;
		uint64		part;

		h = hash_combine64(h, hash_string(key, strlen(key)));
		if (cl_type(v) == CL_JSON_STRING && (s = cl_string(v, &len)) != NULL)
			part = hash_string(s, len);
		else if (cl_type(v) == CL_JSON_INT && cl_json_get_int64(v, &i))
			part = hash_bytes_uint32_extended((uint32) i, (uint64) i >> 32);
		else
			part = (uint64) cl_type(v) + 1;
		h = hash_combine64(h, part);
	}
	return h;
}

/*
 * id_known
 *		Whether an id hash was seen recently in this scan, without
 *		remembering it (fetched_too_early's look at a page not read yet).
 */
static bool
id_known(CallogsScan *scan, uint64 h)
{
	for (int g = 0; g < 2; g++)
		if (scan->ids[g] && hashset_lookup(scan->ids[g], h) != NULL)
			return true;
	return false;
}

/*
 * row_order_value
 *		The value of the scan's order field in a row, as a timestamptz, when
 *		it is a string in the API's ISO 8601 form with a UTC offset (the
 *		fast path of convert.c's convert_timestamp, through the same
 *		callogs_timestamp_from_parts).
 *		False for anything else (absent, null, other forms): such a row is
 *		checked after conversion, when it is handed out (check_order in
 *		callogs_fdw.c), and a NULL there is an error of its own.
 */
static bool
row_order_value(CallogsScan *scan, ClJson *obj, TimestampTz *value)
{
	ClJson	   *v;
	const char *s;
	size_t		n;
	ClTimestamp ts;

	if (!cl_object_get(obj, scan->order_field, &v) ||
		cl_type(v) != CL_JSON_STRING || (s = cl_string(v, &n)) == NULL ||
		!cl_parse_timestamp(s, n, &ts) || !ts.has_tz)
		return false;
	return callogs_timestamp_from_parts(&ts, true, value);
}

/* ---- setup ---- */

/*
 * callogs_scan_page_size
 *		The page_size a scan asks for: 1 for a count(*) answered from
 *		"count", the LIMIT when it is below the page_size option.  EXPLAIN
 *		shows the same.
 */
int
callogs_scan_page_size(const CallogsOptions *opts, double limit_rows,
					   bool count_only)
{
	if (count_only)
		return 1;
	if (limit_rows >= 0 && limit_rows < opts->page_size)
		return Max(1, (int) limit_rows);
	return opts->page_size;
}

/*
 * callogs_stream_url
 *		The request of stream number `stream` of filter without its page
 *		number: the server's url, the filter's parameters, page_size.  The
 *		scan adds page=N to it; EXPLAIN shows it.  A page_size of 0 is one
 *		known only at execution (a LIMIT $1): EXPLAIN shows "(runtime)".
 */
char *
callogs_stream_url(const CallogsOptions *opts, const CallogsFilter *filter,
				   int stream, int page_size)
{
	List	   *params = callogs_stream_params(filter, opts->date_format, stream);

	if (page_size > 0)
		params = callogs_url_param(params, "page_size", psprintf("%d", page_size), false);
	else
		params = callogs_url_param(params, "page_size", "(runtime)", true);
	return callogs_url_build(opts->url, params);
}

/*
 * page_url
 *		The URL of page `page` of a stream (palloc'd; nothing else is left
 *		allocated, so that a scan of many pages does not grow).
 */
static char *
page_url(StreamState *st, int page)
{
	char		number[16];
	CallogsUrlParam param = {"page", number, false};
	List	   *params;
	char	   *url;

	snprintf(number, sizeof(number), "%d", page);
	params = list_make1(&param);
	url = callogs_url_build(st->url, params);
	list_free(params);
	return url;
}

/*
 * callogs_scan_create
 *		Prepare a scan of the streams of filter; nothing is sent yet.
 *		limit_rows >= 0 is the number of rows the executor is expected to
 *		ask for: it bounds how far ahead pages are fetched, never how many
 *		rows the scan returns.
 */
CallogsScan *
callogs_scan_create(MemoryContext cxt, const CallogsOptions *opts,
					const CallogsFilter *filter, double limit_rows,
					bool count_only, CallogsStats *stats)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	CallogsScan *scan = palloc0(sizeof(CallogsScan));

	scan->cxt = cxt;
	scan->opts = *opts;
	scan->stats = stats;

	/*
	 * Registered before the fetcher's callbacks, this one runs after them
	 * when cxt is reset or deleted (the end of the query, an error): once
	 * the fetcher has freed the pages.
	 */
	scan->trim_cb.func = trim_at_reset;
	scan->trim_cb.arg = NULL;
	MemoryContextRegisterResetCallback(cxt, &scan->trim_cb);
	scan->fetcher = callogs_fetcher_create(cxt, opts, stats);
	scan->limit_rows = count_only ? -1 : limit_rows;
	scan->page_size = callogs_scan_page_size(opts, limit_rows, count_only);
	scan->window = Max(1, opts->concurrency);
	scan->nstreams = callogs_filter_nstreams(filter);
	scan->streams = palloc0(sizeof(StreamState) * Max(scan->nstreams, 1));
	for (int s = 0; s < scan->nstreams; s++)
	{
		StreamState *st = &scan->streams[s];

		st->url = callogs_stream_url(opts, filter, s, scan->page_size);
		st->next_page = 1;
		st->known_pages = 1;
		st->capacity = scan->page_size;
		/* st->links: created by the first link followed */
	}
	scan->activity = callogs_activity_scan_begin(opts, scan->nstreams);
	scan->activity_cb.func = activity_end;
	scan->activity_cb.arg = scan;
	MemoryContextRegisterResetCallback(cxt, &scan->activity_cb);
	MemoryContextSwitchTo(oldcxt);
	return scan;
}

/*
 * callogs_scan_set_order
 *		The plan relies on the rows coming newest first on the JSON key
 *		field (a timestamptz column): every row of a page is checked when the
 *		page arrives, before any of its rows is handed out, so that a LIMIT
 *		never returns rows an unread part of the page would have replaced.
 */
void
callogs_scan_set_order(CallogsScan *scan, const char *field,
					   const char *colname, const char *relname)
{
	scan->order_field = MemoryContextStrdup(scan->cxt, field);
	scan->order_colname = MemoryContextStrdup(scan->cxt, colname);
	scan->order_relname = MemoryContextStrdup(scan->cxt, relname);
}

/*
 * callogs_scan_set_max_pages
 *		Stop after max_pages pages (ANALYZE's sample of the newest calls).
 */
void
callogs_scan_set_max_pages(CallogsScan *scan, int max_pages)
{
	scan->max_pages = max_pages;
}

/* ---- submitting ---- */

/*
 * stream_can_submit
 *		Whether the stream has a page known to exist and not yet requested.
 */
static bool
stream_can_submit(CallogsScan *scan, StreamState *st)
{
	if (st->finished)
		return false;
	if (scan->max_pages > 0 && scan->pages_submitted >= scan->max_pages)
		return false;
	if (!st->started)
		return true;
	if (!st->page1_done)
		return false;
	if (st->link_mode)
		return st->next_url != NULL;
	if (st->one_ahead && st->queue != NIL)
		return false;
	return st->next_page <= st->known_pages;
}

/*
 * submit_next
 *		Request the stream's next page: page 1, the next link, or page n+1.
 *		Pages after the first may answer 404 past the end ("count" decides
 *		what that means, see end_stream).
 */
static void
submit_next(CallogsScan *scan, StreamState *st, int s)
{
	CallogsRequest *req;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);

	if (!st->started)
	{
		char	   *url = page_url(st, 1);

		req = callogs_request_submit(scan->fetcher, url, s, 1, false);
		pfree(url);
		st->started = true;
		st->next_page = 2;
	}
	else if (st->link_mode)
	{
		req = callogs_request_submit(scan->fetcher, st->next_url, s,
									 st->pages_read + list_length(st->queue) + 1, true);
		pfree(st->next_url);
		st->next_url = NULL;
	}
	else
	{
		char	   *url = page_url(st, st->next_page);

		req = callogs_request_submit(scan->fetcher, url, s, st->next_page, true);
		pfree(url);
		st->next_page++;
	}
	st->queue = lappend(st->queue, req);
	scan->outstanding++;
	scan->pages_submitted++;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * rows_ahead
 *		Rows the scan may still hand out without another request: what is
 *		left of the current page and the capacity of the pages requested.
 */
static double
rows_ahead(CallogsScan *scan)
{
	double		rows = 0;

	if (scan->cur_req != NULL)
		rows += scan->cur_page.ndata - scan->cur_idx;
	for (int s = scan->cur_stream; s < scan->nstreams; s++)
		rows += (double) list_length(scan->streams[s].queue) * scan->streams[s].capacity;
	return rows;
}

/*
 * refill
 *		Submit pages ahead, in delivery order, until the window is full,
 *		nothing more is known to exist, or the pages ahead cover the LIMIT.
 *		Page 1 of later streams may go out while an earlier stream is read.
 *		The LIMIT only bounds this prefetching: when repeats were dropped or
 *		pages came back short, the scan goes on as long as rows are asked
 *		for (see callogs_scan_next).
 */
static void
refill(CallogsScan *scan)
{
	while (scan->outstanding < scan->window)
	{
		int			s;

		if (scan->limit_rows >= 0 &&
			scan->rows_returned + rows_ahead(scan) >= scan->limit_rows)
			return;
		for (s = scan->cur_stream; s < scan->nstreams; s++)
		{
			StreamState *st = &scan->streams[s];

			if (stream_can_submit(scan, st))
			{
				submit_next(scan, st, s);
				break;
			}
		}
		if (s >= scan->nstreams)
			return;
	}
}

/*
 * drop_queued
 *		Cancel and free the pages a stream requested and has not read yet.
 */
static void
drop_queued(CallogsScan *scan, StreamState *st)
{
	ListCell   *lc;

	foreach(lc, st->queue)
	{
		callogs_request_release((CallogsRequest *) lfirst(lc));
		scan->outstanding--;
	}
	list_free(st->queue);
	st->queue = NIL;
}

/*
 * discard_queue
 *		Stop a stream: cancel and free its requested pages.
 */
static void
discard_queue(CallogsScan *scan, StreamState *st)
{
	drop_queued(scan, st);
	if (st->next_url)
		pfree(st->next_url);
	st->next_url = NULL;
	st->finished = true;
}

/* ---- reading pages ---- */

/*
 * bad_page
 *		Raise an error about a page of unexpected shape.  SQLSTATE HV00A.
 */
pg_noreturn static void
bad_page(CallogsScan *scan, CallogsRequest *req, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 errmsg("call logs API returned an unexpected response: %s",
					callogs_scrub_secrets(why)),
			 errdetail("Page %d of request stream %d on server \"%s\".",
					   callogs_request_page(req), callogs_request_stream(req) + 1,
					   scan->opts.server_name)));
}

/*
 * contradiction
 *		Raise an error about a page that contradicts the API's own "count",
 *		"next" link or order: SQLSTATE HV00A, the page in the DETAIL and a
 *		HINT naming what to do.
 */
pg_noreturn static void
contradiction(CallogsScan *scan, CallogsRequest *req, const char *why,
			  const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 errmsg("call logs API returned an unexpected response: %s", why),
			 errdetail("Page %d of request stream %d on server \"%s\" %s.",
					   callogs_request_page(req), callogs_request_stream(req) + 1,
					   scan->opts.server_name, detail),
			 errhint("%s", hint)));
}

#define HINT_REPORT "Run the query again; if it fails again, report the inconsistency to the API's provider."
#define HINT_SHIFT "New calls arrived faster than the scan read its pages: run the query again when fewer calls arrive, lower the option concurrency (pages fetched ahead are answered later, when more calls have arrived), or raise the option page_size so that a page holds more rows than arrive between two requests."

/*
 * order_error
 *		Raise the error of a row (number rowno of the scan, repeats not
 *		counted) whose order value is newer than prev, the one before it:
 *		the API does not sort as order_column says.  The same message as
 *		check_order in callogs_fdw.c, which checks the rows handed out.
 *		SQLSTATE HV00A, with a hint naming the table option order_column.
 */
pg_noreturn static void
order_error(CallogsScan *scan, TimestampTz value, TimestampTz prev, int64 rowno)
{
	/* timestamptz_to_str answers in a static buffer */
	char	   *p = pstrdup(timestamptz_to_str(prev));

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 errmsg("call logs API returned rows out of order: %s %s came after %s",
					scan->order_colname, timestamptz_to_str(value), p),
			 errdetail("Row " INT64_FORMAT " of foreign table \"%s\" breaks the order the query relies on (%s descending).",
					   rowno, scan->order_relname, scan->order_colname),
			 errhint("If the API does not return the newest rows first on \"%s\", set the option order_column of foreign table \"%s\" to the column it does, or to '' to sort locally.",
					 scan->order_colname, scan->order_relname)));
}

/*
 * check_rows
 *		Look at every row of a page that just arrived, before any of them is
 *		handed out: each must be a JSON object; rows whose id was seen (new
 *		calls pushed them across a page boundary) are marked in
 *		scan->cur_repeat, to be dropped; with an order field, the page must
 *		be newest first, and its new rows must not be newer than those
 *		handed out already.
 *
 *		A row newer than those handed out is, in an API that sorts, a call
 *		that arrived during the scan, or (without ids) a copy of a row
 *		handed out that new calls pushed onto this page; so is, without
 *		ids, a row as old as the oldest handed out that is a copy of one of
 *		those (same signature: tie_sigs).  Neither belongs in the answer (a
 *		scan may leave out calls that arrive while it runs).  They are
 *		dropped as long as "count" grew by as many since the stream began
 *		(growth: its growth since the smallest "count", less the rows
 *		dropped this way before), whatever the size of the shift and
 *		whenever the page was answered.  More such rows than that means the
 *		API does not sort: an error whose hint names order_column.  Returns
 *		the rows not seen before; *sig is a hash of the page's rows when
 *		none has an id (variant B), else 0.  SQLSTATE HV00A.
 */
static int64
check_rows(CallogsScan *scan, StreamState *st, CallogsRequest *req,
		   const ClPage *page, int64 growth, uint64 *sig)
{
	int64		fresh = 0;
	int64		newer = 0;
	int64		copies = 0;
	bool		ids = false;
	bool		have_prev = false;
	TimestampTz prev = 0;
	TimestampTz oldest = 0;
	TimestampTz first_newer = 0;
	int64		newer_pos = 0;
	bool		have_oldest = false;
	uint64	   *rowsig = NULL;
	char	   *kind = NULL;	/* 1: newer, 2: a copy of the oldest */

	*sig = 0;
	scan->max_page_rows = Max(scan->max_page_rows, (int64) page->ndata);
	scan->cur_repeat = MemoryContextAllocZero(scan->cxt, Max(page->ndata, 1));
	if (scan->order_field != NULL)
	{
		rowsig = palloc0(sizeof(uint64) * Max(page->ndata, 1));
		kind = palloc0(Max(page->ndata, 1));
	}
	for (size_t i = 0; i < page->ndata; i++)
	{
		ClJson	   *obj = page_row(page, i);
		uint64		h;
		TimestampTz v;
		bool		has_id;

		if (cl_type(obj) != CL_JSON_OBJECT)
			bad_page(scan, req, psprintf("element %zu of \"data\" is not an object", i));
		has_id = row_id_hash(obj, &h);
		if (has_id)
		{
			ids = true;
			scan->cur_repeat[i] = id_seen(scan, h);
		}
		else
		{
			h = row_signature(obj);
			*sig = hash_combine64(*sig, h);
			if (rowsig)
				rowsig[i] = h;
		}
		if (!scan->cur_repeat[i])
			fresh++;
		if (scan->order_field == NULL || !row_order_value(scan, obj, &v))
			continue;
		if (have_prev && v > prev)
			order_error(scan, v, prev, scan->rows_returned + fresh);
		have_prev = true;
		prev = v;
		if (scan->cur_repeat[i])
			continue;
		if (scan->order_started && v > scan->order_last)
		{
			if (newer++ == 0)
			{
				first_newer = v;
				newer_pos = fresh;
			}
			kind[i] = 1;
			continue;
		}
		if (!has_id && scan->order_started && v == scan->order_last &&
			scan->tie_sigs != NULL && hashset_lookup(scan->tie_sigs, h) != NULL)
		{
			copies++;
			kind[i] = 2;
			continue;
		}
		have_oldest = true;
		oldest = v;
	}
	/* growth is negative when "count" went down: only newer rows are errors */
	if (newer > 0 && newer > growth)
		order_error(scan, first_newer, scan->order_last,
					scan->rows_returned + newer_pos);
	if (newer > 0 || (copies > 0 && newer + copies <= growth))
	{
		/*
		 * New calls (and copies of rows handed out), no more than "count"
		 * grew by: dropped.  The rows the scan still needs come on the
		 * later pages, answered later still; check_progress bounds the
		 * pages that bring nothing else.  Copies of the oldest rows that
		 * growth does not explain are kept (variant B: each may be a row
		 * of its own with the same values), as old as order_last.
		 */
		bool		with_copies = newer + copies <= growth;

		for (size_t i = 0; i < page->ndata; i++)
			if (kind[i] == 1 || (kind[i] == 2 && with_copies))
			{
				scan->cur_repeat[i] = true;
				fresh--;
				st->new_calls++;
			}
	}
	if (have_oldest)
	{
		/*
		 * Without ids, remember the signatures of the rows handed out at
		 * the oldest time (at most a generation of ids' worth): a copy of
		 * one of them on a later page is as old, not newer.
		 */
		if (!ids && rowsig != NULL)
		{
			if (scan->tie_sigs == NULL)
				scan->tie_sigs = hashset_create(scan->cxt, CALLOGS_SET_INITIAL, NULL);
			else if (oldest != scan->order_last)
				hashset_reset(scan->tie_sigs);
			for (size_t i = 0; i < page->ndata; i++)
			{
				TimestampTz v;
				bool		found;

				if (scan->cur_repeat[i] ||
					scan->tie_sigs->members >= id_generation(scan) ||
					!row_order_value(scan, page_row(page, i), &v) || v != oldest)
					continue;
				(void) hashset_insert(scan->tie_sigs, rowsig[i], &found);
			}
		}
		scan->order_started = true;
		scan->order_last = oldest;
	}
	if (rowsig)
	{
		pfree(rowsig);
		pfree(kind);
	}
	if (ids)
		*sig = 0;
	return fresh;
}

/*
 * end_stream
 *		Page `page` ended the stream: it brought the rows to "count", came
 *		back empty, answered 404, had no "next" link, or was the last page
 *		"count" explains.  Nothing more is fetched; verify_stream checks
 *		the end against "count" once the stream's rows have been handed out.
 */
static void
end_stream(CallogsScan *scan, StreamState *st, int page, const char *how)
{
	discard_queue(scan, st);
	st->end_page = page;
	st->end_how = how;
}

/*
 * verify_stream
 *		A stream ended: the rows it handed out must reach the "count" of the
 *		last page read, within what rows shifting during the scan explains.
 *		New calls push rows down (repeats are dropped, so fewer rows than
 *		the last "count", by at most its growth); deletions pull rows up
 *		and lower "count" (a row can be missed, by at most the shrinkage).
 *		So the rows handed out plus the spread of the counts seen must reach
 *		the last count.  Anything less would be a short answer with no error
 *		(pages that answered 404 or came back empty in the middle, a "count"
 *		that lies, an API that ignores the page number): raise SQLSTATE
 *		HV00A instead.
 */
static void
verify_stream(CallogsScan *scan, StreamState *st, int s)
{
	int64		shifted = st->max_count - st->min_count;

	int64		repeats = st->rows_received - st->rows_delivered;

	st->verified = true;
	if (st->rows_delivered + shifted < st->last_count)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("call logs API returned an unexpected response: its pages ended after " INT64_FORMAT " of " INT64_FORMAT " rows",
						st->rows_delivered, st->last_count),
				 errdetail("Page %d of request stream %d on server \"%s\" %s%s; the last \"count\" received was " INT64_FORMAT ".",
						   st->end_page, s + 1, scan->opts.server_name, st->end_how,
						   repeats > 0 ?
						   psprintf(", after " INT64_FORMAT " rows that repeated rows already returned", repeats) : "",
						   st->last_count),
				 errhint("The API's pages hold fewer rows than its \"count\"; run the query again, and if it fails again, report the inconsistency to the API's provider.")));
}

/*
 * url_shown
 *		The path and query of url as error details show them (as the
 *		request log does: secrets scrubbed), palloc'd.
 */
static char *
url_shown(const char *url)
{
	StringInfoData buf;

	initStringInfo(&buf);
	callogs_url_path(url, &buf);
	return pstrdup(callogs_scrub_secrets(buf.data));
}

/*
 * follow_link
 *		The URL a page's "next" link leads to (in the scan's memory), or an
 *		error (HV00A) when it is not a URL of the server's origin.
 */
static char *
follow_link(CallogsScan *scan, StreamState *st, CallogsRequest *req,
			const ClPage *page)
{
	const char *why;
	char	   *next;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);

	if (page->next_len >= CALLOGS_MAX_URL_LEN)
		bad_page(scan, req, "the \"next\" link is too long");
	next = callogs_url_follow(scan->opts.url, st->url, page->next,
							  page->next_len, &why);
	MemoryContextSwitchTo(oldcxt);
	if (next == NULL)
		bad_page(scan, req, why);
	return next;
}

/*
 * pages_for
 *		Pages of capacity rows that count rows fill, without the overflow of
 *		(count + capacity - 1) / capacity: an API's count may be anything up
 *		to INT64_MAX.
 */
static inline int64
pages_for(int64 count, int capacity)
{
	int64		cap = Max(capacity, 1);

	return count / cap + (count % cap != 0);
}

/*
 * shift_explains
 *		Whether new calls explain that a page brought no row not seen
 *		before (fresh rows: 0).  A page asked for by number, page k of
 *		capacity c, answered with "count" C_k where page 1 had C_1, holds
 *		the rows that were at positions (k - 1) * c + 1 - (C_k - C_1) to
 *		(k - 1) * c + n - (C_k - C_1) when page 1 was answered (n: its
 *		rows): the calls that arrived in between pushed them down.  All of
 *		them were returned already when the last of them is within the
 *		rows handed out before the page (pages are read in page order).
 *		Comparing "count" with the page read just before fails under
 *		concurrency: the two pages were answered at different moments, so
 *		the growth between them says nothing about where either started
 *		(a busy API failed with "its pages bring no new rows").  An API
 *		that ignores the page number has a "count" that does not grow:
 *		page k >= 2 then starts past the rows handed out, and is not
 *		explained.  Following links, a page's position is unknown: "count"
 *		must have grown by the page's rows since the page before.
 */
static bool
shift_explains(StreamState *st, CallogsRequest *req, const ClPage *page,
			   int64 fresh, int64 growth)
{
	int64		shift;
	int64		last;

	if (st->link_mode)
		return growth >= (int64) page->ndata;
	if (pg_sub_s64_overflow(page->count, st->first_count, &shift))
		return false;
	last = (int64) (callogs_request_page(req) - 1) * st->capacity + (int64) page->ndata;
	/* last - shift cannot overflow: last is below 2^55, shift above -2^63 */
	if (shift < 0)
		return false;
	return last - shift <= st->rows_fresh - fresh;
}

/*
 * check_progress
 *		A page after the first must bring rows not seen before, unless new
 *		calls explain it (shift_explains: "count" grew enough since page 1
 *		to push all of its rows into those handed out): a page made
 *		only of rows already returned (by id), or without ids the very rows
 *		of the previous page (by a hash of their text), is no progress.  An
 *		API that ignores the page number would otherwise hand out copies of
 *		its first page (without ids) or be read for as long as "count"
 *		claims (with ids).  Without ids a copy is an error at once (its rows
 *		would be returned twice); with ids after CALLOGS_MAX_STALE_PAGES in
 *		a row (its rows are dropped).  And however the pages come, a stream
 *		never reads more than CALLOGS_SHIFT_FACTOR times the pages its
 *		smallest "count" explains (plus CALLOGS_SHIFT_SLACK): new calls that
 *		outrun the scan would keep it going for ever.  SQLSTATE HV00A.
 */
static void
check_progress(CallogsScan *scan, StreamState *st, CallogsRequest *req,
			   const ClPage *page, int64 fresh, uint64 sig, int64 growth)
{
	bool		explained = shift_explains(st, req, page, fresh, growth);
	int64		pages;
	int64		limit;

	if (st->pages_read > 1 && page->ndata > 0)
	{
		if (sig != 0 && sig == st->prev_sig && !explained)
			contradiction(scan, req, "a page repeats the page before it",
						  psprintf("holds the same %zu rows as the page before it, and \"count\" (" INT64_FORMAT ") did not grow enough to push them down",
								   page->ndata, page->count),
						  "The API seems to ignore the page number: check the server's url (ALTER SERVER ... OPTIONS (SET url ...)), or report the inconsistency to the API's provider.");
		if (fresh == 0 &&
			++st->idle_pages >= CALLOGS_MAX_IDLE_PAGES + 2 * scan->window)
			contradiction(scan, req, "its rows shift faster than the scan reads them",
						  psprintf("is the %dth page in a row that brings no row not returned already (\"count\" " INT64_FORMAT ", grown by " INT64_FORMAT " since the page before)",
								   st->idle_pages, page->count, growth),
						  HINT_SHIFT);
		if (fresh == 0 && !explained)
		{
			if (++st->stale_pages >= CALLOGS_MAX_STALE_PAGES)
				contradiction(scan, req, "its pages bring no new rows",
							  psprintf("is the 3rd page in a row whose %zu rows were all returned already, and \"count\" (" INT64_FORMAT ") did not grow enough to push them down",
									   page->ndata, page->count),
							  "The API seems to ignore the page number, or its \"count\" exceeds its rows: check the server's url, or report the inconsistency to the API's provider.");
		}
		else if (fresh > 0)
			st->stale_pages = st->idle_pages = 0;
	}
	st->prev_sig = sig;

	/* count may be anything up to INT64_MAX: no sum may overflow */
	pages = pages_for(st->min_count, st->capacity);
	if (pages > (PG_INT64_MAX - CALLOGS_SHIFT_SLACK) / CALLOGS_SHIFT_FACTOR)
		limit = PG_INT64_MAX;
	else
		limit = CALLOGS_SHIFT_FACTOR * pages + CALLOGS_SHIFT_SLACK;
	if (st->pages_read > limit)
		contradiction(scan, req, "its rows shift faster than the scan reads them",
					  psprintf("is page %d read, although \"count\" (" INT64_FORMAT " at the least, " INT64_FORMAT " now) explains " INT64_FORMAT " pages of %d rows",
							   st->pages_read, st->min_count, page->count,
							   pages, st->capacity),
					  HINT_SHIFT);
}

/*
 * take_page
 *		Account for a page that just arrived (root NULL: it answered 404)
 *		and decide how its stream goes on.  Every row of the page is checked
 *		before any is handed out (check_rows, check_progress), and the page
 *		against "count": a page requested by number holds rows from
 *		(page - 1) * capacity on, so its own "count" must reach past its
 *		last row; a stream following links must not return more distinct
 *		rows than the largest "count"; and a page that brings the rows to
 *		"count" must be the last (no "next" link: API.md says it is null
 *		at the end).  New calls only raise "count" on later pages and
 *		push rows down, so a healthy API passes all three.  Returns false
 *		if the page holds no rows.  SQLSTATE HV00A.
 */
static bool
take_page(CallogsScan *scan, StreamState *st, CallogsRequest *req, ClJson *root,
		  ClPage *page)
{
	char		err[CL_ERRMSG_LEN];
	int			pageno = callogs_request_page(req);
	bool		by_number = !st->link_mode;
	bool		first = !st->page1_done;
	int64		growth;
	int64		newcalls;
	int64		fresh;
	uint64		sig;

	/*
	 * API Paging counts the pages after the first as they are read (a page
	 * queued and never sent, or dropped, is not counted; a re-fetched page
	 * once)
	 */
	if (st->page1_done)
	{
		if (st->link_mode)
			scan->paging.pages_by_link++;
		else
			scan->paging.pages_by_number++;
	}

	if (root == NULL)
	{
		/* only pages after the first may be past the end */
		end_stream(scan, st, pageno, "answered HTTP 404");
		return false;
	}
	if (!cl_page_decode(root, page, err, sizeof(err)))
		bad_page(scan, req, err);

	growth = st->pages_read > 0 ? page->count - st->last_count : 0;
	st->pages_read++;
	st->last_count = page->count;
	if (scan->stats)
	{
		scan->stats->pages++;
		scan->stats->rows += page->ndata;
	}
	callogs_session_stats.pages++;
	callogs_session_stats.rows += page->ndata;
	st->rows_received += page->ndata;
	st->max_count = Max(st->max_count, page->count);
	st->min_count = st->pages_read == 1 ? page->count : Min(st->min_count, page->count);

	if (!st->page1_done)
	{
		st->page1_done = true;
		st->first_count = page->count;
		/* saturating: each count may be up to INT64_MAX */
		if (pg_add_s64_overflow(scan->reported_count, page->count,
								&scan->reported_count))
			scan->reported_count = PG_INT64_MAX;
		/* a short first page that is not the last reveals a server cap */
		if ((int64) page->ndata < page->count && page->ndata < (size_t) scan->page_size)
			st->capacity = Max(1, (int) page->ndata);
	}

	/*
	 * Rows newer than those handed out that new calls explain: the growth
	 * of "count" since the stream began, less the rows dropped as such
	 * (saturating: counts may be anything up to INT64_MAX)
	 */
	if (pg_sub_s64_overflow(page->count, st->min_count, &newcalls) ||
		pg_sub_s64_overflow(newcalls, st->new_calls, &newcalls))
		newcalls = 0;
	fresh = check_rows(scan, st, req, page, newcalls, &sig);
	st->rows_fresh += fresh;

	if (by_number && page->ndata > 0 &&
		page->count < (int64) (pageno - 1) * st->capacity + (int64) page->ndata)
		contradiction(scan, req, "a page holds rows past its \"count\"",
					  psprintf("holds rows " INT64_FORMAT " to " INT64_FORMAT ", but its \"count\" is " INT64_FORMAT,
							   (int64) (pageno - 1) * st->capacity + 1,
							   (int64) (pageno - 1) * st->capacity + (int64) page->ndata,
							   page->count),
					  HINT_REPORT);
	if (!by_number && st->rows_fresh > st->max_count)
		contradiction(scan, req, "its pages hold more rows than its \"count\"",
					  psprintf("brings the distinct rows received to " INT64_FORMAT ", but the largest \"count\" received was " INT64_FORMAT,
							   st->rows_fresh, st->max_count),
					  HINT_REPORT);
	check_progress(scan, st, req, page, fresh, sig, growth);

	if (first && page->next != NULL)
	{
		/*
		 * A "next" link means following links one by one, unless it is just
		 * page 2 of this request: then pages are fetched concurrently, and
		 * each page's own link is checked below.
		 */
		char	   *next = follow_link(scan, st, req, page);

		st->page_links = callogs_url_is_page_link(st->url, next, 2);
		st->link_mode = !st->page_links;
		if (st->page_links)
			scan->paging.links_checked++;
		pfree(next);
	}
	else if (st->page_links && !st->link_mode && page->next != NULL)
	{
		/*
		 * Page-number links: this page's "next" must be the page after it,
		 * with the same parameters.  A link by page number that is not (it
		 * skips or repeats a page, changes page_size, names the page
		 * twice) contradicts the links before it: following it would skip
		 * or repeat rows in silence, and a LIMIT that stops early never
		 * sees the end of the stream, where "count" is checked.  An error
		 * at once.  A link that is no page number (an opaque cursor from
		 * here on) is followed: pages are read in order, so the rows
		 * handed out so far are those of pages 1..pageno-1, and the pages
		 * fetched ahead by number are dropped unread.  (No "next" at all
		 * is left to "count" to judge, as without links.)
		 */
		char	   *next = follow_link(scan, st, req, page);

		if (callogs_url_is_page_link(st->url, next, pageno + 1))
			scan->paging.links_checked++;
		else if (callogs_url_is_page_number_link(st->url, next))
			contradiction(scan, req, "a \"next\" link is not the following page",
						  psprintf("links to %s, which is not page %d of the request \"%s\"",
								   url_shown(next), pageno + 1, url_shown(st->url)),
						  HINT_REPORT);
		else
		{
			drop_queued(scan, st);
			st->link_mode = true;
			scan->paging.fallbacks++;
		}
		pfree(next);
	}

	/*
	 * A page asked for by number that says more follow (a "next" link) is
	 * full: page k holds rows (k - 1) * capacity + 1 on, and a short one
	 * in the middle means a row is missing from the stream (new calls
	 * only push rows along, deletions pull later rows up).  An error at
	 * once, as a LIMIT may never read the end of the stream.
	 */
	if (by_number && page->next != NULL && (int64) page->ndata < st->capacity)
		contradiction(scan, req, "a page is short of rows although a \"next\" link follows",
					  psprintf("holds %zu rows, pages hold %d, and it has a \"next\" link",
							   page->ndata, st->capacity),
					  HINT_REPORT);

	if (st->rows_received >= st->max_count)
	{
		/* as many rows as "count" promised have come: the last page */
		if (page->next != NULL)
			contradiction(scan, req, "a \"next\" link after the rows reached \"count\"",
						  psprintf("brought the rows received to " INT64_FORMAT ", its \"count\" is " INT64_FORMAT ", and it still has a \"next\" link",
								   st->rows_received, page->count),
						  HINT_REPORT);
		end_stream(scan, st, pageno, "brought the rows received to \"count\"");
	}
	else if (page->ndata == 0)
		end_stream(scan, st, pageno, "was empty");
	else if (st->link_mode)
	{
		int64		explainable = pages_for(st->max_count, st->capacity);
		bool		found;

		if (page->next == NULL)
			end_stream(scan, st, pageno, "had no \"next\" link");
		else if (st->pages_read >= explainable + 1)
			bad_page(scan, req,
					 psprintf("more pages than \"count\" (" INT64_FORMAT ") can explain",
							  st->max_count));
		else
		{
			char	   *next = follow_link(scan, st, req, page);

			if (st->links == NULL)
				st->links = hashset_create(scan->cxt, CALLOGS_SET_INITIAL, NULL);
			(void) hashset_insert(st->links, hash_string(next, strlen(next)), &found);
			if (found)
				bad_page(scan, req, "the \"next\" link repeats a page already read");
			st->next_url = next;
		}
	}
	else
	{
		int64		pages = pages_for(st->max_count, st->capacity);

		st->known_pages = Min(pages, CALLOGS_MAX_PAGES);
		if (pageno >= st->known_pages && st->queue == NIL)
			end_stream(scan, st, pageno, "was the last page \"count\" explains");
	}
	report_progress(scan);
	return page->ndata > 0;
}

/*
 * fetched_too_early
 *		Rows are newest first, so calls arriving during a scan push rows
 *		towards later pages.  When pages are fetched concurrently, page k+1
 *		can be answered before page k: if page k then reports more rows in
 *		all ("count") than page k+1 did, the rows pushed from page k into
 *		page k+1 in between may be in neither copy.  With ids, a copy whose
 *		first row was seen already overlaps page k and lost nothing: it is
 *		kept.  Otherwise ask for page k+1 again (once): the new copy starts
 *		where page k ended, and rows it repeats are dropped by their id.
 *		Pages fetched ahead of it are as old: they are dropped, and the
 *		stream goes on with one page in flight (each requested after the
 *		one before was answered), so that a busy API is not asked for every
 *		page twice and the scan always ends.  Returns true if the page was
 *		requeued.
 */
static bool
fetched_too_early(CallogsScan *scan, StreamState *st, CallogsRequest *req,
				  ClJson *root)
{
	ClPage		page;
	char		err[CL_ERRMSG_LEN];
	int			pageno = callogs_request_page(req);
	char	   *url;
	CallogsRequest *again;
	MemoryContext oldcxt;
	uint64		h;

	if (root == NULL || st->link_mode || pageno <= 1 ||
		pageno == st->refetched_page ||
		!cl_page_decode(root, &page, err, sizeof(err)) ||
		page.count >= st->last_count)
		return false;
	if (page.ndata > 0 && cl_type(page_row(&page, 0)) == CL_JSON_OBJECT &&
		row_id_hash(page_row(&page, 0), &h) && id_known(scan, h))
		return false;

	oldcxt = MemoryContextSwitchTo(scan->cxt);
	drop_queued(scan, st);
	st->next_page = pageno + 1;
	st->one_ahead = true;
	url = page_url(st, pageno);
	again = callogs_request_submit(scan->fetcher, url, callogs_request_stream(req),
								   pageno, true);
	pfree(url);
	st->queue = lcons(again, st->queue);
	st->refetched_page = pageno;
	scan->outstanding++;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * release_current
 *		Done with the page being read: free it.
 */
static void
release_current(CallogsScan *scan)
{
	if (scan->cur_req != NULL)
	{
		callogs_request_release(scan->cur_req);
		scan->cur_req = NULL;
		scan->outstanding--;
	}
	if (scan->cur_repeat != NULL)
		pfree(scan->cur_repeat);
	scan->cur_repeat = NULL;
	memset(&scan->cur_page, 0, sizeof(scan->cur_page));
	scan->cur_idx = 0;
}

/*
 * forget_seen
 *		Free the sets of ids and links once every stream has ended: a scan
 *		that read many rows holds up to 2 MB there, and the executor keeps
 *		a finished scan until the end of the query (every partition of an
 *		Append).
 */
static void
forget_seen(CallogsScan *scan)
{
	for (int g = 0; g < 2; g++)
	{
		if (scan->ids[g] != NULL)
			hashset_destroy(scan->ids[g]);
		scan->ids[g] = NULL;
	}
	if (scan->tie_sigs != NULL)
		hashset_destroy(scan->tie_sigs);
	scan->tie_sigs = NULL;
	for (int s = 0; s < scan->nstreams; s++)
	{
		if (scan->streams[s].links != NULL)
			hashset_destroy(scan->streams[s].links);
		scan->streams[s].links = NULL;
	}
}

/*
 * trim_at_reset
 *		Memory-context reset callback of a scan: the pages are freed by now
 *		(normal end, cancel, error); give what malloc kept of them back to
 *		the system if they were large (cl_budget_trim).  No palloc, no
 *		ereport: it may run during abort.
 */
static void
trim_at_reset(void *arg)
{
	(void) arg;
	(void) cl_budget_trim(CALLOGS_TRIM_BYTES);
}

/*
 * callogs_scan_next
 *		The next call-log object of the scan, in page order, or NULL at the
 *		end.  The object stays valid until the next call.  With
 *		would_block given (an asynchronous Append), return NULL with
 *		*would_block set instead of waiting for a page still in transit.
 */
ClJson *
callogs_scan_next(CallogsScan *scan, bool *would_block)
{
	if (would_block)
		*would_block = false;
	for (;;)
	{
		StreamState *st;
		CallogsRequest *req;
		ClJson	   *root;

		while (scan->cur_req != NULL && scan->cur_idx < scan->cur_page.ndata)
		{
			size_t		i = scan->cur_idx++;
			ClJson	   *obj = page_row(&scan->cur_page, i);

			if (scan->cur_repeat != NULL && scan->cur_repeat[i])
				continue;		/* shifted across a page boundary: seen */
			if (scan->limit_rows >= 0 && scan->rows_returned >= scan->limit_rows)
			{
				/*
				 * More rows are asked for than the LIMIT was expected to
				 * need (local filters dropped some, WITH TIES): fetch ahead
				 * without bound from now on.
				 */
				scan->limit_rows = -1;
			}
			scan->rows_returned++;
			scan->streams[scan->cur_stream].rows_delivered++;
			return obj;
		}
		release_current(scan);

		/* skip streams with nothing more to read, checking how they ended */
		while (scan->cur_stream < scan->nstreams)
		{
			st = &scan->streams[scan->cur_stream];
			if (st->queue != NIL || stream_can_submit(scan, st))
				break;
			if (st->finished && !st->verified)
				verify_stream(scan, st, scan->cur_stream);
			scan->cur_stream++;
		}
		if (scan->cur_stream >= scan->nstreams)
		{
			forget_seen(scan);
			(void) cl_budget_trim(CALLOGS_TRIM_BYTES);
			return NULL;
		}
		refill(scan);
		st = &scan->streams[scan->cur_stream];
		if (st->queue == NIL)
		{
			/*
			 * Rows are still asked for although the pages ahead covered the
			 * LIMIT (repeats dropped, short pages): fetch on.
			 */
			submit_next(scan, st, scan->cur_stream);
		}

		req = (CallogsRequest *) linitial(st->queue);
		if (would_block && !callogs_request_ready(req))
		{
			*would_block = true;
			return NULL;
		}
		st->queue = list_delete_first(st->queue);
		scan->cur_req = req;
		root = callogs_request_wait(req);
		if (fetched_too_early(scan, st, req, root))
		{
			release_current(scan);
			continue;			/* asked again: wait for the new copy */
		}
		if (!take_page(scan, st, req, root, &scan->cur_page))
			memset(&scan->cur_page, 0, sizeof(scan->cur_page));
		scan->cur_idx = 0;
		refill(scan);
	}
}

/*
 * callogs_scan_count
 *		The total of "count" over the streams: one page_size=1 request per
 *		stream, all in flight together.
 */
int64
callogs_scan_count(CallogsScan *scan)
{
	return callogs_scan_counts(scan, NULL);
}

/*
 * callogs_scan_counts
 *		The "count" of each stream into counts[stream] (when not NULL) and
 *		their total: one page_size=1 request per stream, all in flight
 *		together.  SQLSTATE HV00A for a page 1 that is not a page, or
 *		counts whose total overflows.
 */
int64
callogs_scan_counts(CallogsScan *scan, int64 *counts)
{
	int64		total = 0;

	scan->max_pages = scan->nstreams;
	scan->window = Max(scan->window, scan->nstreams);
	refill(scan);
	for (int s = 0; s < scan->nstreams; s++)
	{
		StreamState *st = &scan->streams[s];

		while (st->queue != NIL)
		{
			CallogsRequest *req = (CallogsRequest *) linitial(st->queue);
			ClJson	   *root;
			ClPage		page;
			char		err[CL_ERRMSG_LEN];

			st->queue = list_delete_first(st->queue);
			root = callogs_request_wait(req);
			if (root == NULL)
				bad_page(scan, req, "the first page answered 404");
			if (!cl_page_decode(root, &page, err, sizeof(err)))
				bad_page(scan, req, err);
			if (scan->stats)
				scan->stats->pages++;
			if (counts)
				counts[s] = page.count;
			total += page.count;
			if (total < 0)
				bad_page(scan, req, "the counts overflow");
			st->page1_done = true;
			st->pages_read = 1;
			st->known_pages = 1;
			report_progress(scan);
			callogs_request_release(req);
			scan->outstanding--;
		}
	}
	return total;
}

/*
 * callogs_scan_paging
 *		Add how this scan asked for its pages to *paging (EXPLAIN ANALYZE
 *		VERBOSE says which way a scan went).
 */
void
callogs_scan_paging(CallogsScan *scan, CallogsPaging *paging)
{
	paging->pages_by_number += scan->paging.pages_by_number;
	paging->pages_by_link += scan->paging.pages_by_link;
	paging->links_checked += scan->paging.links_checked;
	paging->fallbacks += scan->paging.fallbacks;
}

/*
 * callogs_scan_reported_count
 *		The sum of the "count" of each stream's first page (ANALYZE's total).
 */
int64
callogs_scan_reported_count(CallogsScan *scan)
{
	return scan->reported_count;
}

/* ---- progress for the view callogs_fdw_activity (shmem.c) ---- */

/*
 * report_progress
 *		Publish the scan's progress: the streams whose first page arrived,
 *		the pages read, the pages the API's "count" implies for those
 *		streams (following links, "count" over the rows a page holds), and
 *		the rows received.  Called for every page.
 */
static void
report_progress(CallogsScan *scan)
{
	int			known = 0;
	int64		done = 0;
	int64		pages = 0;
	int64		rows = 0;

	if (scan->activity < 0)
		return;
	for (int s = 0; s < scan->nstreams; s++)
	{
		StreamState *st = &scan->streams[s];

		done += st->pages_read;
		rows += st->rows_received;
		if (!st->page1_done)
			continue;
		known++;
		/* saturating: a count near INT64_MAX on several streams */
		if (pg_add_s64_overflow(pages,
								st->link_mode ?
								Max(pages_for(st->max_count, st->capacity),
									st->pages_read) :
								Max(st->known_pages, st->pages_read),
								&pages))
			pages = PG_INT64_MAX;
	}
	callogs_activity_scan_progress(scan->activity, known, done, pages, rows);
}

/*
 * activity_end
 *		Memory context callback (also after an ERROR): the scan's entry in
 *		callogs_fdw_activity is free again.
 */
static void
activity_end(void *arg)
{
	CallogsScan *scan = (CallogsScan *) arg;

	callogs_activity_scan_end(scan->activity);
	scan->activity = -1;
}

/*
 * callogs_scan_end
 *		Stop every transfer of the scan and free its pages.
 */
void
callogs_scan_end(CallogsScan *scan)
{
	callogs_activity_scan_end(scan->activity);
	scan->activity = -1;
	callogs_fetcher_cancel_all(scan->fetcher);
	scan->cur_req = NULL;
	memset(&scan->cur_page, 0, sizeof(scan->cur_page));
	for (int s = 0; s < scan->nstreams; s++)
	{
		scan->streams[s].queue = NIL;
		scan->streams[s].finished = true;
	}
	scan->outstanding = 0;
}
