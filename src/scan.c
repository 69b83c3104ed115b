/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The page walker of callogs_fdw: turns a filter into request streams
 *		  and hands out call-log objects in page order.
 *
 * A filter becomes one request stream per (call_type, call_status) pair.
 * Each stream starts with page 1.  Its answer tells how to go on:
 *
 *	- with a "next" link, the stream follows the links one after another
 *	  (only to the origin of the server's url, never twice to the same
 *	  link, never more pages than "count" can explain);
 *	- otherwise "count" and the number of rows the server really put on
 *	  page 1 (it may cap page_size silently) give the number of pages, and
 *	  the remaining pages are fetched with up to `concurrency` requests in
 *	  flight, delivered strictly in page order.
 *
 * A stream ends when its rows reach "count", when a page comes back empty,
 * or when a page after the first answers 404.  At most `concurrency` pages
 * (in flight or waiting to be read) exist at any time, so memory does not
 * grow with the result; a page's parsed tree is freed as soon as its last
 * row has been handed out.  Objects that carry an "id" seen recently in
 * this scan (rows shifted across a page boundary by new calls) are skipped,
 * and a page answered before new calls pushed rows into it is fetched again
 * (fetched_too_early).
 *
 * IDENTIFICATION
 *		  src/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "callogs_fdw.h"

/* Upper bound on pages per stream, whatever "count" claims. */
#define CALLOGS_MAX_PAGES		10000000

/*
 * Ids remembered to drop rows seen twice: two generations of this many,
 * the older one forgotten when the newer fills, so memory stays bounded
 * (2 MB) whatever the size of the scan.
 */
#define CALLOGS_ID_GENERATION	65536

/*
 * A set of 64-bit hashes (open addressing, 0 = empty), for the ids seen in
 * a scan and the "next" links followed: 8 bytes per entry.
 */
typedef struct HashSet
{
	uint64	   *slots;
	uint64		mask;			/* nslots - 1 */
	uint64		count;
} HashSet;

typedef struct StreamState
{
	char	   *query;			/* filters and page_size, no page */
	bool		started;		/* page 1 submitted */
	bool		page1_done;		/* page 1 decoded */
	bool		finished;		/* nothing more to submit or read */
	bool		link_mode;		/* following "next" links */
	char	   *next_url;		/* link mode: the link to submit next */
	int			next_page;		/* count mode: next page number to submit */
	int64		known_pages;	/* count mode: pages that exist */
	int64		max_count;
	int64		last_count;		/* "count" of the page read last */
	int			refetched_page; /* last page asked for again (see below) */
	int64		rows_seen;
	int			capacity;		/* rows the server puts on a full page */
	int			pages_read;
	List	   *queue;			/* submitted requests, in page order */
	HashSet		links;
} StreamState;

struct CallogsScan
{
	MemoryContext cxt;
	CallogsFetcher *fetcher;
	CallogsOptions opts;
	CallogsStats *stats;
	int			page_size;		/* what each request asks for */
	int			window;			/* max pages submitted and unread */
	int			outstanding;
	int			nstreams;
	StreamState *streams;
	int			cur_stream;
	CallogsRequest *cur_req;	/* the page being read */
	ClJson *cur_data;
	size_t		cur_idx;
	size_t		cur_n;
	double		limit_rows;		/* -1: no limit */
	double		rows_submitted; /* rows the submitted pages may hold */
	int			max_pages;		/* 0: no limit (ANALYZE sets one) */
	int			pages_submitted;
	int64		reported_count; /* sum of page-1 counts */
	HashSet		ids[2];			/* id hashes: two generations */
	int			ids_cur;		/* the generation being filled */
};

/* ---- hash sets ---- */

/*
 * hashset_init
 *		An empty set of nslots (a power of two) slots in cxt.
 */
static void
hashset_init(HashSet *hs, MemoryContext cxt, uint64 nslots)
{
	hs->slots = MemoryContextAllocZero(cxt, nslots * sizeof(uint64));
	hs->mask = nslots - 1;
	hs->count = 0;
}

/* Insert h; returns false if it was already there. */
static bool
hashset_add(HashSet *hs, uint64 h, MemoryContext cxt)
{
	uint64		i;

	if (h == 0)
		h = 1;
	if ((hs->count + 1) * 4 > (hs->mask + 1) * 3)
	{
		HashSet		bigger;
		uint64		nslots = (hs->mask + 1) * 2;

		bigger.slots = MemoryContextAllocExtended(cxt, nslots * sizeof(uint64),
												  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		bigger.mask = nslots - 1;
		bigger.count = 0;
		for (uint64 k = 0; k <= hs->mask; k++)
			if (hs->slots[k] != 0)
				(void) hashset_add(&bigger, hs->slots[k], cxt);
		pfree(hs->slots);
		*hs = bigger;
	}
	for (i = h & hs->mask; hs->slots[i] != 0; i = (i + 1) & hs->mask)
		if (hs->slots[i] == h)
			return false;
	hs->slots[i] = h;
	hs->count++;
	return true;
}

static bool
hashset_contains(const HashSet *hs, uint64 h)
{
	if (hs->slots == NULL)
		return false;
	if (h == 0)
		h = 1;
	for (uint64 i = h & hs->mask; hs->slots[i] != 0; i = (i + 1) & hs->mask)
		if (hs->slots[i] == h)
			return true;
	return false;
}

/*
 * id_seen
 *		Whether an object id was seen recently in this scan; remembers it.
 *		Rows shifted by new calls reappear within a page or two, far inside
 *		the window of the last CALLOGS_ID_GENERATION..2x ids.
 */
static bool
id_seen(CallogsScan *scan, uint64 h)
{
	HashSet    *cur;

	if (hashset_contains(&scan->ids[0], h) || hashset_contains(&scan->ids[1], h))
		return true;
	cur = &scan->ids[scan->ids_cur];
	if (cur->slots == NULL)
		hashset_init(cur, scan->cxt, CALLOGS_ID_GENERATION * 2);
	(void) hashset_add(cur, h, scan->cxt);
	if (cur->count >= CALLOGS_ID_GENERATION)
	{
		HashSet    *older;

		scan->ids_cur = 1 - scan->ids_cur;
		older = &scan->ids[scan->ids_cur];
		if (older->slots != NULL)
		{
			memset(older->slots, 0, (older->mask + 1) * sizeof(uint64));
			older->count = 0;
		}
	}
	return false;
}

static uint64
hash_string(const char *s, size_t len)
{
	return hash_bytes_extended((const unsigned char *) s, (int) len, 0x63616c6c);
}

/* ---- setup ---- */

/*
 * callogs_scan_create
 *		Prepare a scan of the streams of filter; nothing is sent yet.
 *		limit_rows >= 0 bounds the rows the executor will ask for.
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
	scan->fetcher = callogs_fetcher_create(cxt, opts, stats);
	scan->limit_rows = limit_rows;
	scan->page_size = opts->page_size;
	if (count_only)
		scan->page_size = 1;
	else if (limit_rows >= 0 && limit_rows < scan->page_size)
		scan->page_size = Max(1, (int) limit_rows);
	scan->window = Max(1, opts->concurrency);
	scan->nstreams = callogs_filter_nstreams(filter);
	scan->streams = palloc0(sizeof(StreamState) * Max(scan->nstreams, 1));
	for (int s = 0; s < scan->nstreams; s++)
	{
		StreamState *st = &scan->streams[s];
		StringInfoData q;

		initStringInfo(&q);
		callogs_stream_query(filter, opts, s, &q);
		callogs_append_param(&q, "page_size", psprintf("%d", scan->page_size));
		st->query = q.data;
		st->next_page = 1;
		st->known_pages = 1;
		st->capacity = scan->page_size;
		hashset_init(&st->links, cxt, 64);
	}
	MemoryContextSwitchTo(oldcxt);
	return scan;
}

void
callogs_scan_set_max_pages(CallogsScan *scan, int max_pages)
{
	scan->max_pages = max_pages;
}

/* The URL of page `page` of a stream. */
static char *
page_url(CallogsScan *scan, StreamState *st, int page)
{
	StringInfoData url;

	initStringInfo(&url);
	appendStringInfoString(&url, scan->opts.url);
	appendStringInfoChar(&url, strchr(scan->opts.url, '?') ? '&' : '?');
	appendStringInfoString(&url, st->query);
	appendStringInfo(&url, "&page=%d", page);
	return url.data;
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
	if (!st->started)
		return true;
	if (!st->page1_done)
		return false;
	if (st->link_mode)
		return st->next_url != NULL;
	return st->next_page <= st->known_pages;
}

/*
 * submit_next
 *		Request the stream's next page: page 1, the next link, or page n+1.
 */
static void
submit_next(CallogsScan *scan, StreamState *st, int s)
{
	CallogsRequest *req;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);

	if (!st->started)
	{
		char	   *url = page_url(scan, st, 1);

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
		char	   *url = page_url(scan, st, st->next_page);

		req = callogs_request_submit(scan->fetcher, url, s, st->next_page, true);
		pfree(url);
		st->next_page++;
	}
	st->queue = lappend(st->queue, req);
	scan->outstanding++;
	scan->pages_submitted++;
	scan->rows_submitted += st->capacity;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * refill
 *		Submit pages, in delivery order, until the window is full, the LIMIT
 *		is covered or nothing more is known to exist.
 */
static void
refill(CallogsScan *scan)
{
	while (scan->outstanding < scan->window)
	{
		int			s;

		if (scan->limit_rows >= 0 && scan->rows_submitted >= scan->limit_rows)
			return;
		if (scan->max_pages > 0 && scan->pages_submitted >= scan->max_pages)
			return;
		for (s = scan->cur_stream; s < scan->nstreams; s++)
		{
			StreamState *st = &scan->streams[s];

			if (stream_can_submit(scan, st))
			{
				submit_next(scan, st, s);
				break;
			}
			/* later streams only start once this one knows its pages */
			if (!st->finished && !st->page1_done)
				continue;
		}
		if (s >= scan->nstreams)
			return;
	}
}

/*
 * discard_queue
 *		End a stream: cancel and free its requested pages.
 */
static void
discard_queue(CallogsScan *scan, StreamState *st)
{
	ListCell   *lc;

	foreach(lc, st->queue)
	{
		callogs_request_release((CallogsRequest *) lfirst(lc));
		scan->outstanding--;
	}
	list_free(st->queue);
	st->queue = NIL;
	if (st->next_url)
		pfree(st->next_url);
	st->next_url = NULL;
	st->finished = true;
}

/* ---- reading pages ---- */

/*
 * bad_page
 *		Raise an error about a page of unexpected shape.
 */
pg_noreturn static void
bad_page(CallogsScan *scan, CallogsRequest *req, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
			 errmsg("call logs API returned an unexpected response: %s", why),
			 errdetail("Page %d of request stream %d on server \"%s\".",
					   callogs_request_page(req), callogs_request_stream(req) + 1,
					   scan->opts.server_name)));
}

/*
 * take_page
 *		Account for a page that just arrived and decide how its stream goes
 *		on.  Returns false if the page ended the stream without rows.
 */
static bool
take_page(CallogsScan *scan, StreamState *st, CallogsRequest *req, ClJson *root)
{
	ClPage		page;
	char		err[CL_ERRMSG_LEN];
	int			pageno = callogs_request_page(req);

	if (root == NULL)
	{
		/* 404 after the first page: there is no such page */
		discard_queue(scan, st);
		return false;
	}
	if (!cl_page_decode(root, &page, err, sizeof(err)))
		bad_page(scan, req, err);

	st->pages_read++;
	st->last_count = page.count;
	if (scan->stats)
	{
		scan->stats->pages++;
		scan->stats->rows += page.ndata;
	}
	callogs_session_stats.pages++;
	callogs_session_stats.rows += page.ndata;
	st->rows_seen += page.ndata;
	st->max_count = Max(st->max_count, page.count);

	if (!st->page1_done)
	{
		st->page1_done = true;
		scan->reported_count += page.count;
		/* a short first page that is not the last reveals a server cap */
		if ((int64) page.ndata < page.count && page.ndata < (size_t) scan->page_size)
		{
			scan->rows_submitted -= st->capacity - (double) page.ndata;
			st->capacity = Max(1, (int) page.ndata);
		}
		st->link_mode = page.next != NULL;
	}

	if (page.ndata == 0 || st->rows_seen >= st->max_count)
	{
		discard_queue(scan, st);
		st->finished = true;
	}
	else if (st->link_mode)
	{
		int64		explainable = (st->max_count + st->capacity - 1) / st->capacity;

		if (page.next == NULL)
			st->finished = true;
		else if (!callogs_same_origin(scan->opts.url, page.next))
			bad_page(scan, req,
					 "the \"next\" link points to another origin than the server's url");
		else if (page.next_len >= CALLOGS_MAX_URL_LEN)
			bad_page(scan, req, "the \"next\" link is too long");
		else if (!hashset_add(&st->links, hash_string(page.next, page.next_len), scan->cxt))
			bad_page(scan, req, "the \"next\" link repeats a page already read");
		else if (st->pages_read >= explainable + 1)
			bad_page(scan, req,
					 psprintf("more pages than \"count\" (" INT64_FORMAT ") can explain",
							  st->max_count));
		else
			st->next_url = MemoryContextStrdup(scan->cxt, page.next);
	}
	else
	{
		int64		pages = (st->max_count + st->capacity - 1) / st->capacity;

		st->known_pages = Min(pages, CALLOGS_MAX_PAGES);
		if (pageno >= st->known_pages && st->queue == NIL)
			st->finished = true;
	}
	return page.ndata > 0;
}

/*
 * fetched_too_early
 *		Rows are newest first, so calls arriving during a scan push rows
 *		towards later pages.  When pages are fetched concurrently, page k+1
 *		can be answered before page k: if page k then reports more rows in
 *		all ("count") than page k+1 did, the rows pushed from page k into
 *		page k+1 in between were in neither copy.  Ask for page k+1 again
 *		(once): the new copy starts where page k ended, and rows it repeats
 *		are dropped by their id.  Returns true if the page was requeued.
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

	if (root == NULL || st->link_mode || pageno <= 1 ||
		pageno == st->refetched_page ||
		!cl_page_decode(root, &page, err, sizeof(err)) ||
		page.count >= st->last_count)
		return false;

	oldcxt = MemoryContextSwitchTo(scan->cxt);
	url = page_url(scan, st, pageno);
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
 * callogs_scan_next
 *		The next call-log object of the scan, or NULL at the end.  The object
 *		stays valid until the next call.
 */
ClJson *
callogs_scan_next(CallogsScan *scan)
{
	return callogs_scan_next_nowait(scan, NULL);
}

/*
 * callogs_scan_next_nowait
 *		As callogs_scan_next; but with would_block given, return NULL with
 *		*would_block set instead of waiting for a page still in transit.
 */
ClJson *
callogs_scan_next_nowait(CallogsScan *scan, bool *would_block)
{
	if (would_block)
		*would_block = false;
	for (;;)
	{
		StreamState *st;
		CallogsRequest *req;
		ClJson *root;

		while (scan->cur_data != NULL && scan->cur_idx < scan->cur_n)
		{
			ClJson	   *obj = scan->cur_data->elements[scan->cur_idx++];
			ClJson	   *id;

			if (cl_type(obj) != CL_JSON_OBJECT)
				bad_page(scan, scan->cur_req,
						 psprintf("element %zu of \"data\" is not an object",
								  scan->cur_idx - 1));
			if (cl_object_get(obj, "id", &id) &&
				cl_type(id) == CL_JSON_STRING &&
				id_seen(scan, hash_string(id->str, id->str_len)))
				continue;		/* shifted across a page boundary: seen */
			return obj;
		}

		/* done with the current page: free it */
		if (scan->cur_req != NULL)
		{
			callogs_request_release(scan->cur_req);
			scan->cur_req = NULL;
			scan->cur_data = NULL;
			scan->outstanding--;
		}

		/* skip streams with nothing more to read */
		while (scan->cur_stream < scan->nstreams)
		{
			st = &scan->streams[scan->cur_stream];
			if (st->queue != NIL || stream_can_submit(scan, st))
				break;
			scan->cur_stream++;
		}
		refill(scan);
		if (scan->cur_stream >= scan->nstreams)
			return NULL;
		st = &scan->streams[scan->cur_stream];
		if (st->queue == NIL)
			return NULL;		/* LIMIT or max_pages reached */

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
			continue;			/* asked again: wait for the new copy */
		if (take_page(scan, st, req, root))
		{
			ClPage		page;
			char		err[CL_ERRMSG_LEN];

			(void) cl_page_decode(root, &page, err, sizeof(err));
			scan->cur_data = page.data;
			scan->cur_idx = 0;
			scan->cur_n = page.ndata;
		}
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
			ClJson *root;
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
			total += page.count;
			if (total < 0)
				bad_page(scan, req, "the counts overflow");
			callogs_request_release(req);
			scan->outstanding--;
		}
	}
	return total;
}

int64
callogs_scan_reported_count(CallogsScan *scan)
{
	return scan->reported_count;
}

/*
 * callogs_scan_end
 *		Stop every transfer of the scan and free its pages.
 */
void
callogs_scan_end(CallogsScan *scan)
{
	callogs_fetcher_cancel_all(scan->fetcher);
	scan->cur_req = NULL;
	scan->cur_data = NULL;
	for (int s = 0; s < scan->nstreams; s++)
	{
		scan->streams[s].queue = NIL;
		scan->streams[s].finished = true;
	}
	scan->outstanding = 0;
}
