/*-------------------------------------------------------------------------
 *
 * http.c
 *		  The libcurl transport of callogs_fdw.
 *
 * Every transfer of the backend runs on one curl multi handle that lives
 * as long as the backend, so connections (and HTTP/2 sessions) are kept
 * alive across pages, scans and queries.  A scan owns a CallogsFetcher;
 * each page is a CallogsRequest that is queued, started as soon as the
 * rate limit allows, retried with backoff when the failure is transient,
 * and parsed while its bytes arrive.
 *
 * Waiting.  The multi handle runs in libcurl's "multi_socket" mode: curl
 * tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when its
 * next timeout is due (CURLMOPT_TIMERFUNCTION).  We keep those sockets in
 * one epoll descriptor per backend, together with a timerfd programmed to
 * the earliest of curl's timeout and our own deadlines (a backoff before a
 * retry, a rate-limit slot).  That one descriptor is readable exactly when
 * the transport has work to do, so
 *
 *	- a synchronous wait sleeps on a WaitEventSet of the process latch, the
 *	  epoll descriptor and postmaster death: no polling interval, and a
 *	  cancel or statement_timeout (which set the latch) is seen at once;
 *	- a scan under an asynchronous Append registers a dup() of the epoll
 *	  descriptor of its own in the Append's WaitEventSet: exactly one event
 *	  per subplan, as PostgreSQL sizes that set (see callogs_fdw.c).
 *
 * Failures belong to their request.  Starting, running and settling a
 * transfer never raise an error: whatever goes wrong (no easy handle, out
 * of memory, an HTTP error, a refused address) is recorded on the request
 * it happened to, and raised only when that request is waited on, by the
 * scan that owns it.  This matters because driving the multi handle for
 * one scan also starts and settles the requests of every other scan of the
 * backend (an outer cursor, another partition, an enclosing query while a
 * subtransaction runs).
 *
 * libcurl callbacks never call palloc or ereport: they record what
 * happened in the request and return an error code.  All malloc'd state
 * (easy handles, header lists, parsed pages) hangs off the fetcher, whose
 * memory context reset callback frees it, so an ERROR anywhere (also a
 * subtransaction abort while other scans' transfers go on) frees exactly
 * that scan's transfers and nothing else.
 *
 * IDENTIFICATION
 *		  src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "catalog/namespace.h"
#include "common/pg_prng.h"
#include "lib/ilist.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "callogs_fdw.h"

#define CALLOGS_BACKOFF_BASE_MS	200
#define CALLOGS_ERROR_BODY_LEN	2048
#define CALLOGS_MSG_LEN			1024	/* longest recorded failure text */
#define CALLOGS_EPOLL_BATCH		32	/* socket events handled per epoll_wait */

/*
 * The longest single sleep of the transport, in ms.  Every wait (rate
 * limit, Retry-After, backoff, curl's timeouts) is computed in int64 from
 * its deadline and clamped to this before it reaches an int: PostgreSQL's
 * WaitEventSetWait takes 0..INT_MAX (and asserts it).  A longer wait is
 * slept in several rounds of the wait loop, which recomputes the deadline.
 */
#define CALLOGS_MAX_SLEEP_MS	INT64CONST(60000)

typedef enum RequestState
{
	REQ_PENDING,				/* queued, not handed to curl yet */
	REQ_RUNNING,				/* transfer in progress */
	REQ_DONE					/* finished: page, past_end or failure set */
} RequestState;

/* Why a callback stopped a transfer. */
typedef enum AbortReason
{
	ABORT_NONE,
	ABORT_BUDGET,
	ABORT_TOO_BIG,
	ABORT_BAD_JSON,
	ABORT_BLOCKED_HOST
} AbortReason;

struct CallogsFetcher
{
	MemoryContext cxt;
	CallogsOptions opts;		/* strings copied into cxt */
	struct curl_slist *headers; /* malloc'd by curl */
	dlist_head requests;		/* every live request of this fetcher */
	size_t		charged;		/* bytes its requests hold against the budget */
	CallogsStats *stats;		/* per-scan counters, or NULL */
	const char *url_hint;		/* hint of a 404 on page 1 (url's path) */
	const char *probe_call;		/* callogs_fdw_probe(...) call, for hints */
	dlist_node	live_node;		/* in live_fetchers: its token is scrubbed */
	MemoryContextCallback cleanup;
};

struct CallogsRequest
{
	dlist_node	node;			/* in fetcher->requests */
	dlist_node	pending_node;	/* in transport.pending while PENDING */
	CallogsFetcher *fetcher;
	char	   *url;
	int			stream;
	int			page;
	int			flags;			/* CALLOGS_REQ_* */
	RequestState state;
	int			attempts;		/* transfers started */
	TimestampTz not_before;		/* PENDING: do not start before this */
	TimestampTz started;

	/* the current transfer */
	CURL	   *easy;
	bool		in_multi;		/* easy was added to the multi handle */
	ClJsonParser parser;
	bool		parser_live;
	long		status;			/* HTTP status of the last attempt, or 0 */
	AbortReason abort_reason;
	size_t		bytes;
	size_t		charged;		/* bytes held against page_budget */
	char		body[CALLOGS_ERROR_BODY_LEN];	/* start of an error body */
	size_t		body_len;
	char		retry_after[64];
	char		errbuf[CURL_ERROR_SIZE];
	const char *refused_why;	/* netcheck.c's reason an address was refused */
	char		refused_ip[INET6_ADDRSTRLEN];
	bool		no_fd;			/* a socket was refused: AcquireExternalFD failed */
	bool		fd_flushed;		/* idle connections were closed for it once */

	/* the outcome (state REQ_DONE) */
	ClJson	   *root;			/* parsed page, on success */
	bool		past_end;		/* 404 after retries, CALLOGS_REQ_404_PAST_END */
	bool		failed;
	int			fail_code;		/* SQLSTATE */
	const char *fail_msg;		/* primary message, without the API's text */
	const char *fail_api_msg;	/* the API's own message (UTF-8), or NULL */
	const char *fail_detail;	/* NULL: the request line and server */
	const char *fail_hint;
};

/*
 * The backend's transport: one multi handle, the epoll descriptor holding
 * curl's sockets and the timerfd, the wait set for synchronous waits, and
 * the requests not yet handed to curl.
 */
typedef struct Transport
{
	CURLM	   *multi;
	int			epfd;			/* epoll: curl's sockets + timerfd */
	int			timerfd;		/* CLOCK_MONOTONIC, absolute deadlines */
	bool		watch_failed;	/* an epoll_ctl failed: poll as a fallback */
	WaitEventSet *wait_set;		/* latch, epfd, postmaster death */
	int			latch_pos;		/* position of the latch in wait_set */
	dlist_head	pending;		/* PENDING requests of every fetcher */
	int			running;		/* transfers handed to curl */
	int			conn_limit;		/* callogs_max_transfers as curl has it */
	int			fd_limit;		/* transfers the descriptors allow, or 0 */
	bool		flush_idle;		/* close the idle connections when none runs */
	int64		own_due_ms;		/* ms until a PENDING request is due, or -1 */
	int64		own_due_us;		/* ... as a CLOCK_MONOTONIC time, or -1 */
	int64		curl_due_us;	/* curl's next timeout, CLOCK_MONOTONIC, or -1 */
	int64		armed_us;		/* the timerfd's deadline, or -1 (disarmed,
								 * or its expiry read) */
	uint64		settled;		/* requests settled so far (see callogs_http_settled) */
} Transport;

/*
 * The backend's budget for API pages (issue 10 section 3): every page held
 * or being parsed, across all scans, at most callogs_fdw.max_page_memory.
 * The JSON decoder charges it directly, as bytes arrive and before json-c
 * allocates for them: the bytes received plus its upper bound of the tree
 * json-c builds (jsonpage.c).  A finished page carries its charge until
 * cl_json_free, a parser until cl_parser_free.  The limit is read from the
 * setting before each feed.
 */
static ClBudget page_budget;

/* callogs_fdw.max_page_memory, in kB */
int			callogs_max_page_memory = 256 * 1024;

/*
 * callogs_fdw.max_transfers: transfers the backend hands to curl at once,
 * across all its scans (issue 10 round 2, finding 4: an asynchronous
 * Append over 150 organizations had 672 TLS connections open, 627 MB, and
 * plain http ran out of file descriptors).  The other requests wait in the
 * backend's queue (transport.pending), holding no handle, socket or
 * parser.  curl gets the same number as its limit on connections, idle
 * ones included (CURLMOPT_MAX_TOTAL_CONNECTIONS, CURLMOPT_MAXCONNECTS), so
 * that the sockets and TLS sessions of a backend are bounded by it.
 */
int			callogs_max_transfers = 32;

/*
 * Easy handles of finished transfers, reset and kept for the next ones:
 * creating a handle for each page cost about 7% of a scan's CPU.  A reset
 * handle keeps nothing of its request (curl_easy_reset clears every
 * option, the token's header list included); connections live in the
 * multi handle either way.
 */
#define CALLOGS_EASY_POOL 16
static CURL *easy_pool[CALLOGS_EASY_POOL];
static int	easy_pool_n = 0;

static Transport transport = {
	.epfd = -1,
	.timerfd = -1,
	.own_due_ms = -1,
	.own_due_us = -1,
	.curl_due_us = -1,
	.armed_us = -1,
};

CallogsStats callogs_session_stats;
bool		callogs_log_requests = false;

/*
 * Every fetcher alive in the backend, for callogs_scrub_secrets: the
 * tokens they send are removed from any text of the API's that reaches a
 * message, whichever scan the text belongs to.
 */
static dlist_head live_fetchers = DLIST_STATIC_INIT(live_fetchers);

/*
 * Testing hook (callogs_fdw.debug_fail_request_start, superuser only, not
 * shown): a request whose URL contains this text fails to start as if
 * libcurl could not create a handle.  The only way to show, without
 * exhausting memory, that such a failure belongs to its own request.
 */
char	   *callogs_debug_fail_start = NULL;

static void fetcher_cleanup(void *arg);
static const char *req_printf(CallogsRequest *req, const char *fallback,
							  const char *fmt,...) pg_attribute_printf(3, 4);
static void release_transfer(CallogsRequest *req);
static void budget_release(CallogsRequest *req);
static void finish_transfer(CallogsRequest *req, CURLcode cres);

/*
 * callogs_http_init
 *		Initialize libcurl once per backend, from _PG_init.  The multi
 *		handle and its descriptors are created on first use (get_transport).
 */
void
callogs_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl")));
	dlist_init(&transport.pending);
}

/*
 * The wait event every wait on the API reports in pg_stat_activity is
 * callogs_wait_event() of src/compat.h: "CallLogsAPI" from PostgreSQL 17,
 * the generic "Extension" before.
 */

/* ---- the clock of deadlines ---- */

/* Microseconds on CLOCK_MONOTONIC, the clock of the timerfd. */
static int64
mono_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- curl's multi_socket callbacks: no palloc, no ereport ---- */

/*
 * socket_cb
 *		CURLMOPT_SOCKETFUNCTION: keep the epoll descriptor watching exactly
 *		what curl wants of socket s.  curl may reuse a descriptor number
 *		without telling us it closed the old one, so "modify" falls back to
 *		"add" and a failed removal is ignored (closing a socket removes it
 *		from epoll anyway).  A failure to watch is remembered: waits then
 *		poll (see transport_sleep) rather than hang.
 */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev;

	if (what == CURL_POLL_REMOVE)
	{
		(void) epoll_ctl(transport.epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(transport.epfd, EPOLL_CTL_MOD, s, &ev) != 0 &&
		(errno != ENOENT || epoll_ctl(transport.epfd, EPOLL_CTL_ADD, s, &ev) != 0))
		transport.watch_failed = true;
	return 0;
}

/*
 * program_timer
 *		Program the timerfd to the earliest of curl's next timeout and the
 *		moment the first PENDING request is due (backoff, rate limit), or
 *		disarm it.  Setting a timerfd also clears an expiry not yet read.
 *		A deadline at most CALLOGS_TIMER_SLACK_US after the one already set
 *		keeps the timer as it is (it fires a little early: curl and the
 *		pending queue just find nothing due yet), which saves a system call
 *		on almost every drive: curl moves its timeout by microseconds each
 *		time.  Only system calls: safe inside curl callbacks.
 */
#define CALLOGS_TIMER_SLACK_US 1000

static void
program_timer(void)
{
	int64		at = transport.curl_due_us;
	struct itimerspec its;

	if (transport.timerfd < 0)
		return;
	if (transport.own_due_us >= 0 && (at < 0 || transport.own_due_us < at))
		at = transport.own_due_us;
	if (at < 0 ? transport.armed_us < 0 :
		(transport.armed_us >= 0 && transport.armed_us <= at &&
		 at - transport.armed_us <= CALLOGS_TIMER_SLACK_US))
		return;
	transport.armed_us = at;
	memset(&its, 0, sizeof(its));
	if (at >= 0)
	{
		its.it_value.tv_sec = at / 1000000;
		its.it_value.tv_nsec = (at % 1000000) * 1000;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;	/* zero would disarm */
	}
	(void) timerfd_settime(transport.timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * timer_cb
 *		CURLMOPT_TIMERFUNCTION: curl's next timeout changed (-1: none).
 */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	transport.curl_due_us = timeout_ms < 0 ? -1 :
		mono_now_us() + (int64) timeout_ms * 1000;
	program_timer();
	return 0;
}

/*
 * arm_timer
 *		Outside curl's callbacks: take curl's next timeout from
 *		curl_multi_timeout (authoritative, so that a timeout is never lost
 *		because curl saw no change worth a callback) and program the timer.
 */
static void
arm_timer(void)
{
	long		curl_ms = -1;

	if (transport.multi == NULL ||
		curl_multi_timeout(transport.multi, &curl_ms) != CURLM_OK)
		curl_ms = -1;
	transport.curl_due_us = curl_ms < 0 ? -1 : mono_now_us() + (int64) curl_ms * 1000;
	program_timer();
}

/*
 * apply_connection_limit
 *		Give curl callogs_fdw.max_transfers as its limit on connections
 *		(open and kept alive) when the setting changed.  Only curl calls:
 *		safe while driving the transport.
 */
static void
apply_connection_limit(void)
{
	if (transport.multi == NULL || transport.conn_limit == callogs_max_transfers)
		return;
	transport.conn_limit = callogs_max_transfers;
	curl_multi_setopt(transport.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
					  (long) callogs_max_transfers);
	curl_multi_setopt(transport.multi, CURLMOPT_MAXCONNECTS,
					  (long) callogs_max_transfers);
}

/*
 * get_transport
 *		The backend's multi handle, created on first use with its epoll
 *		descriptor, timerfd and wait set, all kept for the backend's life
 *		(connections stay alive across queries).  ERRCODE_FDW_OUT_OF_MEMORY
 *		when any of them cannot be created.
 */
static CURLM *
get_transport(void)
{
	struct epoll_event ev;

	if (transport.multi != NULL)
		return transport.multi;

	if (transport.epfd < 0)
	{
		ReserveExternalFD();
		transport.epfd = epoll_create1(EPOLL_CLOEXEC);
		if (transport.epfd < 0)
		{
			ReleaseExternalFD();
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create an epoll descriptor: %m")));
		}
	}
	if (transport.timerfd < 0)
	{
		ReserveExternalFD();
		transport.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (transport.timerfd < 0)
		{
			ReleaseExternalFD();
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a timer descriptor: %m")));
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.fd = transport.timerfd;
		if (epoll_ctl(transport.epfd, EPOLL_CTL_ADD, transport.timerfd, &ev) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not watch the timer descriptor: %m")));
	}
	if (transport.wait_set == NULL)
	{
		/* for the backend's life */
		WaitEventSet *set = callogs_create_wait_event_set(3);

		transport.latch_pos = AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET,
												MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		AddWaitEventToSet(set, WL_SOCKET_READABLE, transport.epfd, NULL, NULL);
		transport.wait_set = set;
	}

	transport.multi = curl_multi_init();
	if (transport.multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	transport.conn_limit = 0;
	apply_connection_limit();
	curl_multi_setopt(transport.multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
	curl_multi_setopt(transport.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(transport.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	return transport.multi;
}

/*
 * flush_idle_connections
 *		Close every connection in curl's cache, when no transfer runs, by
 *		replacing the multi handle (curl_multi_cleanup closes the cached
 *		connections through closesocket_cb, which gives their descriptors
 *		back to fd.c).  For a request that found no descriptor for a new
 *		connection while idle ones held them all.
 */
static void
flush_idle_connections(void)
{
	transport.flush_idle = false;
	if (transport.multi == NULL || transport.running > 0)
		return;
	curl_multi_cleanup(transport.multi);
	transport.multi = NULL;
	transport.curl_due_us = -1;
	(void) get_transport();
}

/*
 * url_404_hint
 *		The HINT of a 404 on a first page, made once per fetcher (nothing
 *		may be allocated while a transfer is settled): when the url has no
 *		path, or its path is the documented one without its final "/",
 *		the ALTER SERVER that fixes it (issue 14); a path that only lacks a
 *		final "/" is said to, with the documented path to compare (adding
 *		the "/" was never tried: it is not offered as a fix); otherwise
 *		"check the url".
 */
static const char *
url_404_hint(MemoryContext cxt, const CallogsOptions *opts)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	bool		no_path;
	char	   *fixed = callogs_url_fix_path(opts->url, &no_path);
	char	   *hint;

	if (fixed == NULL)
		hint = psprintf("Check the url option of server \"%s\".", opts->server_name);
	else if (no_path)
		hint = psprintf("The url of server \"%s\" has no path, and the Call Logs API answers at /api/v2/platform/call-logs/: ALTER SERVER %s OPTIONS (SET url %s).",
						opts->server_name, quote_identifier(opts->server_name),
						quote_literal_cstr(fixed));
	else
	{
		static const char documented[] = "/api/v2/platform/call-logs/";
		size_t		end = strcspn(fixed, "?#");
		size_t		dlen = strlen(documented);

		if (end >= dlen && strncmp(fixed + end - dlen, documented, dlen) == 0)
			hint = psprintf("The path of the url of server \"%s\" is the documented /api/v2/platform/call-logs/ without its final \"/\": ALTER SERVER %s OPTIONS (SET url %s).",
							opts->server_name, quote_identifier(opts->server_name),
							quote_literal_cstr(fixed));
		else
			hint = psprintf("The path of the url of server \"%s\" does not end in \"/\", and the documented path is /api/v2/platform/call-logs/: check the url option.",
							opts->server_name);
	}
	MemoryContextSwitchTo(oldcxt);
	return hint;
}

/*
 * probe_call_text
 *		The call of callogs_fdw_probe that a hint names, as SQL that runs
 *		when copied: the server's name and the table's schema-qualified,
 *		quoted name as literals ('Weird Srv', 'public."My Table"').  Made
 *		once per fetcher, as url_404_hint (nothing may be looked up while
 *		a transfer is settled).
 */
static const char *
probe_call_text(MemoryContext cxt, const CallogsOptions *opts)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	char	   *nsp = NULL;
	char	   *call;

	if (OidIsValid(opts->relid) && opts->table_name != NULL)
		nsp = get_namespace_name(get_rel_namespace(opts->relid));
	if (nsp != NULL)
		call = psprintf("SELECT * FROM callogs_fdw_probe(%s, %s)",
						quote_literal_cstr(opts->server_name),
						quote_literal_cstr(quote_qualified_identifier(nsp, opts->table_name)));
	else
		call = psprintf("SELECT * FROM callogs_fdw_probe(%s)",
						quote_literal_cstr(opts->server_name));
	MemoryContextSwitchTo(oldcxt);
	return call;
}

/* A copy of an option string in cxt (NULL stays NULL). */
static char *
copy_opt(MemoryContext cxt, const char *s)
{
	return s ? MemoryContextStrdup(cxt, s) : NULL;
}

/*
 * callogs_fetcher_create
 *		A fetcher whose requests use opts and whose malloc'd state is freed
 *		when cxt is reset or deleted.  ERRCODE_FDW_OUT_OF_MEMORY if curl
 *		cannot allocate the header list (raised for this scan only: nothing
 *		is shared yet).
 */
CallogsFetcher *
callogs_fetcher_create(MemoryContext cxt, const CallogsOptions *opts,
					   CallogsStats *stats)
{
	CallogsFetcher *f;
	struct curl_slist *list = NULL;
	char	   *lines[4];

	(void) get_transport();

	f = MemoryContextAllocZero(cxt, sizeof(CallogsFetcher));
	f->cxt = cxt;
	f->opts = *opts;
	f->opts.url = copy_opt(cxt, opts->url);
	f->opts.org_handle = copy_opt(cxt, opts->org_handle);
	f->opts.token = copy_opt(cxt, opts->token);
	f->opts.server_name = copy_opt(cxt, opts->server_name);
	f->opts.table_name = copy_opt(cxt, opts->table_name);
	f->opts.ca_file = copy_opt(cxt, opts->ca_file);
	f->opts.proxy = copy_opt(cxt, opts->proxy);
	f->opts.date_column = copy_opt(cxt, opts->date_column);
	f->stats = stats;
	f->url_hint = url_404_hint(cxt, opts);
	f->probe_call = probe_call_text(cxt, opts);
	dlist_init(&f->requests);

	f->cleanup.func = fetcher_cleanup;
	f->cleanup.arg = f;
	MemoryContextRegisterResetCallback(cxt, &f->cleanup);
	dlist_push_tail(&live_fetchers, &f->live_node);

	lines[0] = psprintf("Org-Handle: %s", opts->org_handle ? opts->org_handle : "");
	lines[1] = psprintf("Authorization: Token %s", opts->token ? opts->token : "");
	lines[2] = "Accept: application/json";
	lines[3] = "User-Agent: callogs_fdw/1.0";
	for (int i = 0; i < 4; i++)
	{
		struct curl_slist *next = curl_slist_append(list, lines[i]);

		if (next == NULL)
		{
			curl_slist_free_all(list);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
		list = next;
	}
	f->headers = list;
	pfree(lines[0]);
	pfree(lines[1]);
	return f;
}

/*
 * request_detach
 *		Free what a request holds outside palloc (its curl transfer, its
 *		parsed page, its share of page_budget) and take it off its fetcher's
 *		list.  Never throws: fetcher_cleanup calls it during error recovery.
 */
static void
request_detach(CallogsRequest *req)
{
	release_transfer(req);
	if (req->root)
		cl_json_free(req->root);
	req->root = NULL;
	budget_release(req);
	dlist_delete(&req->node);
}

/*
 * fetcher_cleanup
 *		Memory context callback: free every curl handle and parsed page
 *		the fetcher's requests still hold.  Runs during error recovery and
 *		subtransaction abort too, so it must not throw; it touches only this
 *		fetcher's requests (other scans' transfers go on).
 */
static void
fetcher_cleanup(void *arg)
{
	CallogsFetcher *f = (CallogsFetcher *) arg;
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &f->requests)
	{
		CallogsRequest *req = dlist_container(CallogsRequest, node, iter.cur);

		request_detach(req);
	}
	if (f->headers)
		curl_slist_free_all(f->headers);
	f->headers = NULL;
	dlist_delete(&f->live_node);
}

/*
 * budget_account
 *		Count n more bytes that req's parser charged to page_budget for the
 *		request, its fetcher and the scan's peak (EXPLAIN ANALYZE VERBOSE).
 *		Called from the write callback: only arithmetic.
 */
static void
budget_account(CallogsRequest *req, size_t n)
{
	CallogsFetcher *f = req->fetcher;

	req->charged += n;
	f->charged += n;
	if (f->stats && (int64) f->charged > f->stats->peak_memory)
		f->stats->peak_memory = (int64) f->charged;
}

/*
 * budget_release
 *		req's page was freed, or an attempt's parser dropped: its charge is
 *		back in page_budget (cl_json_free, cl_parser_free); forget it here.
 */
static void
budget_release(CallogsRequest *req)
{
	Assert(req->fetcher->charged >= req->charged);
	req->fetcher->charged -= req->charged;
	req->charged = 0;
}

/*
 * release_transfer
 *		Drop the curl side of a request: out of the pending queue, the easy
 *		handle (removed from the multi handle first) and the parser.  Safe in
 *		any state; leaves the outcome fields alone.
 */
static void
release_transfer(CallogsRequest *req)
{
	if (req->state == REQ_PENDING)
		dlist_delete(&req->pending_node);
	if (req->easy)
	{
		/*
		 * Whether it is in the multi handle, not the state: a settled
		 * request is marked done before its transfer is released.
		 */
		if (req->in_multi)
		{
			curl_multi_remove_handle(transport.multi, req->easy);
			transport.running--;
			req->in_multi = false;
		}
		if (easy_pool_n < CALLOGS_EASY_POOL)
		{
			curl_easy_reset(req->easy);
			easy_pool[easy_pool_n++] = req->easy;
		}
		else
			curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	if (req->parser_live)
		cl_parser_free(&req->parser);
	req->parser_live = false;
	if (req->root == NULL)
		budget_release(req);	/* a parsed page keeps its charge */
	req->state = REQ_DONE;
}

/*
 * callogs_request_release
 *		The caller is done with a request: free everything it holds.
 */
void
callogs_request_release(CallogsRequest *req)
{
	request_detach(req);
	pfree(req->url);
	pfree(req);
}

/*
 * callogs_fetcher_cancel_all
 *		Stop every transfer of the fetcher and free its requests.
 */
void
callogs_fetcher_cancel_all(CallogsFetcher *f)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &f->requests)
		callogs_request_release(dlist_container(CallogsRequest, node, iter.cur));
}

/*
 * callogs_request_submit
 *		Queue a GET of url.  It starts at the next drive of the transport
 *		that the rate limit allows.  flags: CALLOGS_REQ_404_PAST_END, when a
 *		404 may mean "no such page" (retried like a 5xx, then handed back
 *		as a NULL page with callogs_request_status() 404); without it a 404
 *		is an error.
 */
CallogsRequest *
callogs_request_submit(CallogsFetcher *f, const char *url, int stream,
					   int page, int flags)
{
	CallogsRequest *req = MemoryContextAllocZero(f->cxt, sizeof(CallogsRequest));

	req->fetcher = f;
	req->url = MemoryContextStrdup(f->cxt, url);
	req->stream = stream;
	req->page = page;
	req->flags = flags;
	req->state = REQ_PENDING;
	req->not_before = 0;
	dlist_push_tail(&f->requests, &req->node);
	dlist_push_tail(&transport.pending, &req->pending_node);
	return req;
}

/* The stream and page a request was submitted for. */
int
callogs_request_stream(CallogsRequest *req)
{
	return req->stream;
}

int
callogs_request_page(CallogsRequest *req)
{
	return req->page;
}

/*
 * callogs_request_status
 *		The HTTP status of the request's last attempt (0 if none answered):
 *		404 when callogs_request_wait returned NULL for a page past the end.
 */
long
callogs_request_status(CallogsRequest *req)
{
	return req->status;
}

/*
 * callogs_request_api_message
 *		The API's own message (its "message" field, UTF-8 as sent, cut to
 *		CALLOGS_API_MSG_LEN bytes) of an error answer handed back by
 *		CALLOGS_REQ_CLIENT_ERROR_OK, or NULL: palloc'd, without the token,
 *		scrubbed whole before it is cut (callogs_shorten_utf8).
 */
const char *
callogs_request_api_message(CallogsRequest *req)
{
	char		buf[CALLOGS_ERROR_BODY_LEN + 8];
	const char *m;

	if (req->body_len == 0)
		return NULL;
	m = cl_error_message(req->body, req->body_len, buf, sizeof(buf));
	return m ? callogs_shorten_utf8(m, strlen(m), CALLOGS_API_MSG_LEN) : NULL;
}

/* ---- secrets in the API's text ---- */

/* What a token becomes in a message. */
#define CALLOGS_TOKEN_SHOWN "[token]"

/* The value of a hex digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * secret_match
 *		The length of the text at p (up to end) that spells secret (of
 *		length n), each byte as is or percent-encoded (%XX, either case; a
 *		space also as "+"), as a URL, a "next" link or an echoed header may
 *		carry it; 0 when it does not.  With partial, text that ends while
 *		spelling a prefix of secret counts too, and *spelled tells how many
 *		bytes of secret it spelled.
 */
static size_t
secret_match(const char *p, const char *end, const char *secret, size_t n,
			 bool partial, size_t *spelled)
{
	const char *q = p;
	size_t		i;

	for (i = 0; i < n && q < end; i++)
	{
		unsigned char want = (unsigned char) secret[i];

		if ((unsigned char) *q == want)
			q++;
		else if (*q == '%' && end - q >= 3 && hex_value(q[1]) >= 0 &&
				 hex_value(q[2]) >= 0 &&
				 hex_value(q[1]) * 16 + hex_value(q[2]) == want)
			q += 3;
		else if (want == ' ' && *q == '+')
			q++;
		else if (partial && *q == '%' && end - q < 3 &&
				 (end - q == 1 || hex_value(q[1]) >= 0))
		{
			q = end;			/* a %XX the end cuts: as far as it goes */
			break;
		}
		else
			return 0;
	}
	if (spelled)
		*spelled = i;
	if (i < n && !partial)
		return 0;
	return q - p;
}

/*
 * scrub_one
 *		text (len bytes, which may hold NULs) with every spelling of secret
 *		(see secret_match) replaced by CALLOGS_TOKEN_SHOWN; text itself when
 *		there is none.  *outlen is the length of the result.
 */
static char *
scrub_one(char *text, size_t len, const char *secret, size_t *outlen)
{
	size_t		n = secret ? strlen(secret) : 0;
	const char *end = text + len;
	StringInfoData out;
	const char *p;
	const char *copied;

	*outlen = len;
	if (n == 0 || text == NULL)
		return text;
	for (p = text; p < end; p++)
		if (secret_match(p, end, secret, n, false, NULL) > 0)
			break;
	if (p == end)
		return text;			/* the usual case: nothing to copy */
	initStringInfo(&out);
	copied = text;
	while (p < end)
	{
		size_t		mlen = secret_match(p, end, secret, n, false, NULL);

		if (mlen == 0)
		{
			p++;
			continue;
		}
		appendBinaryStringInfo(&out, copied, p - copied);
		appendStringInfoString(&out, CALLOGS_TOKEN_SHOWN);
		p += mlen;
		copied = p;
	}
	appendBinaryStringInfo(&out, copied, end - copied);
	*outlen = out.len;
	return out.data;
}

/*
 * callogs_scrub_secrets
 *		text (from the API: its error message, a "next" link, a value, a
 *		key) with the token of every fetcher alive in the backend replaced
 *		by "[token]", as is or percent-encoded, so that an API that echoes
 *		the token (401 "bad credentials: Token ...") never puts it into an
 *		error, a log line or the probe's output (issue 10 round 2, finding
 *		5).  The token is the whole Authorization value but "Token ", so
 *		that is scrubbed too.  Returns text itself when it holds no token,
 *		else a palloc'd copy.  NULL stays NULL.  Text is scrubbed whole,
 *		before anything shortens it (callogs_shorten_utf8): a token cut in
 *		two no longer matches.
 */
char *
callogs_scrub_secrets(const char *text)
{
	size_t		len;

	if (text == NULL)
		return NULL;
	return callogs_scrub_secrets_len(text, strlen(text), &len);
}

/*
 * callogs_scrub_secrets_len
 *		callogs_scrub_secrets of len bytes that may hold NULs (a JSON
 *		string's): *outlen is the result's length; the result is text
 *		itself when it holds no token, else a palloc'd, NUL-terminated copy.
 */
char *
callogs_scrub_secrets_len(const char *text, size_t len, size_t *outlen)
{
	dlist_iter	iter;
	char	   *out = (char *) text;

	*outlen = len;
	if (text == NULL)
		return NULL;
	dlist_foreach(iter, &live_fetchers)
	{
		CallogsFetcher *f = dlist_container(CallogsFetcher, live_node, iter.cur);

		out = scrub_one(out, *outlen, f->opts.token, outlen);
	}
	return out;
}

/*
 * callogs_secret_tail
 *		Where a token prefix starts at the end of text (len bytes), or len
 *		when there is none: text that was scrubbed and then shortened may end
 *		with the start of a token that the API's text had next to a full
 *		one, or that the cut itself left.  A prefix counts from
 *		CALLOGS_TOKEN_PREFIX_MIN bytes of the token (the whole token when it
 *		is shorter), spelled as secret_match reads it.  The caller replaces
 *		text from there by "[token]".
 */
size_t
callogs_secret_tail(const char *text, size_t len)
{
	dlist_iter	iter;
	size_t		best = len;

	if (text == NULL)
		return 0;
	dlist_foreach(iter, &live_fetchers)
	{
		CallogsFetcher *f = dlist_container(CallogsFetcher, live_node, iter.cur);
		const char *secret = f->opts.token;
		size_t		n = secret ? strlen(secret) : 0;
		size_t		need = Min(n, CALLOGS_TOKEN_PREFIX_MIN);
		size_t		from;

		if (n == 0)
			continue;
		/* a prefix spelled percent-encoded takes at most 3 bytes a byte */
		from = len > 3 * n ? len - 3 * n : 0;
		for (size_t start = from; start + need <= len && start < best; start++)
		{
			size_t		spelled;

			if (secret_match(text + start, text + len, secret, n, true, &spelled) > 0 &&
				spelled >= need)
			{
				best = start;
				break;
			}
		}
	}
	return best;
}

/* ---- libcurl transfer callbacks: no palloc, no ereport ---- */

/*
 * write_cb
 *		CURLOPT_WRITEFUNCTION: feed a 2xx body to the parser, keep the start of
 *		an error body; abort (return 0) past max_response_bytes or on bad JSON.
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	CallogsRequest *req = (CallogsRequest *) userdata;
	size_t		n = size * nmemb;

	if (req->status == 0)
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
	req->bytes += n;
	if (req->status >= 200 && req->status < 300)
	{
		size_t		before = req->parser.charged;
		bool		ok;

		/* the parser charges page_budget itself, before json-c allocates */
		page_budget.limit = (size_t) callogs_max_page_memory * 1024;
		ok = cl_parser_feed(&req->parser, ptr, n);
		budget_account(req, req->parser.charged - before);
		if (!ok)
		{
			req->abort_reason = req->parser.status == CL_PARSE_BUDGET ? ABORT_BUDGET :
				req->parser.status == CL_PARSE_TOO_BIG ? ABORT_TOO_BIG : ABORT_BAD_JSON;
			return 0;
		}
	}
	else
	{
		size_t		room = sizeof(req->body) - 1 - req->body_len;
		size_t		take = n < room ? n : room;

		memcpy(req->body + req->body_len, ptr, take);
		req->body_len += take;
		req->body[req->body_len] = '\0';
		if (req->bytes > (size_t) req->fetcher->opts.max_response_bytes)
		{
			req->abort_reason = ABORT_TOO_BIG;
			return 0;
		}
	}
	return n;
}

/*
 * header_cb
 *		CURLOPT_HEADERFUNCTION: remember Retry-After.
 */
static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	CallogsRequest *req = (CallogsRequest *) userdata;
	size_t		n = size * nitems;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && pg_strncasecmp(buffer, name, sizeof(name) - 1) == 0)
	{
		size_t		start = sizeof(name) - 1;
		size_t		len;

		while (start < n && (buffer[start] == ' ' || buffer[start] == '\t'))
			start++;
		len = n - start;
		while (len > 0 && (buffer[start + len - 1] == '\r' ||
						   buffer[start + len - 1] == '\n' ||
						   buffer[start + len - 1] == ' '))
			len--;
		if (len >= sizeof(req->retry_after))
			len = sizeof(req->retry_after) - 1;
		memcpy(req->retry_after, buffer + start, len);
		req->retry_after[len] = '\0';
	}
	return n;
}

/*
 * acquire_fd_with_spares
 *		AcquireExternalFD, but only while spare more would still be
 *		available after it: PostgreSQL itself takes external descriptors as
 *		it runs (an asynchronous Append's WaitEventSet is an epoll
 *		descriptor, created after the scans have started their transfers,
 *		and fails the query when none is left), so curl's sockets and the
 *		scans' wait descriptors never take the last ones.  fd.c does not say
 *		how many are left: the spares are acquired and given back.  Never
 *		throws.
 */
#define CALLOGS_SPARE_FDS 4

static bool
acquire_fd_with_spares(int spare)
{
	int			got = 0;

	while (got <= spare && AcquireExternalFD())
		got++;
	if (got <= spare)
	{
		while (got-- > 0)
			ReleaseExternalFD();
		return false;
	}
	while (got-- > 1)
		ReleaseExternalFD();
	return true;
}

/*
 * opensocket_cb
 *		CURLOPT_OPENSOCKETFUNCTION: before connecting to each address a name
 *		resolved to, refuse what a server owned by a non-superuser may not
 *		reach (netcheck.c): no TCP connection is ever made to it.  curl then
 *		tries the name's other addresses; if none is left the transfer fails
 *		with CURLE_COULDNT_CONNECT and finish_transfer reports the refusal.
 *		With a proxy (a superuser's choice) the address is the proxy's:
 *		which hosts are reached is then the proxy's policy.
 */
static curl_socket_t
opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	CallogsRequest *req = (CallogsRequest *) clientp;
	const CallogsOptions *o = &req->fetcher->opts;
	const char *why;

	if (o->restrict_hosts && o->proxy == NULL &&
		(why = callogs_address_refused(&address->addr, o->allow_private)) != NULL)
	{
		req->refused_why = why;
		if (address->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *) &address->addr)->sin_addr,
					  req->refused_ip, sizeof(req->refused_ip));
		else if (address->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &address->addr)->sin6_addr,
					  req->refused_ip, sizeof(req->refused_ip));
		return CURL_SOCKET_BAD;
	}
	/*
	 * Count the socket among fd.c's external descriptors, as postgres_fdw
	 * counts libpq's, so that the backend's own files and curl's sockets
	 * together stay within max_files_per_process.  AcquireExternalFD never
	 * throws: it only says no.
	 */
	if (!acquire_fd_with_spares(CALLOGS_SPARE_FDS))
	{
		req->no_fd = true;
		return CURL_SOCKET_BAD;
	}
	{
		curl_socket_t sock = socket(address->family,
									address->socktype | SOCK_CLOEXEC,
									address->protocol);

		if (sock == CURL_SOCKET_BAD)
			ReleaseExternalFD();
		return sock;
	}
}

/*
 * closesocket_cb
 *		CURLOPT_CLOSESOCKETFUNCTION: close a socket opensocket_cb opened and
 *		give its slot back to fd.c's count.  curl keeps this callback with
 *		the connection, which may outlive the request that opened it, so
 *		clientp is not used.
 */
static int
closesocket_cb(void *clientp, curl_socket_t sock)
{
	(void) clientp;
	ReleaseExternalFD();
	return close(sock);
}

/*
 * prereq_cb
 *		CURLOPT_PREREQFUNCTION: called before the request (and its token) is
 *		sent, on a new or a reused connection.  A kept-alive connection may
 *		have been opened for another server (a superuser's): check its peer
 *		with the same rule as opensocket_cb.
 */
static int
prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		  int conn_primary_port, int conn_local_port)
{
	CallogsRequest *req = (CallogsRequest *) clientp;
	const CallogsOptions *o = &req->fetcher->opts;
	const char *why;

	if (!o->restrict_hosts || o->proxy != NULL ||
		(why = callogs_ip_text_refused(conn_primary_ip, o->allow_private)) == NULL)
		return CURL_PREREQFUNC_OK;
	req->refused_why = why;
	snprintf(req->refused_ip, sizeof(req->refused_ip), "%s", conn_primary_ip);
	req->abort_reason = ABORT_BLOCKED_HOST;
	return CURL_PREREQFUNC_ABORT;
}

/* ---- recording outcomes: never ereport, never fail on out-of-memory ---- */

/*
 * req_printf
 *		Format a message into the fetcher's memory without ever throwing:
 *		on out-of-memory, the static fallback is returned instead.  Driving
 *		the transport settles other scans' requests too, so nothing on this
 *		path may raise an error on their behalf.
 */
static const char *
req_printf(CallogsRequest *req, const char *fallback, const char *fmt,...)
{
	char		buf[CALLOGS_MSG_LEN];
	va_list		args;
	size_t		len;
	char	   *copy;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	len = strlen(buf);
	copy = MemoryContextAllocExtended(req->fetcher->cxt, len + 1, MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
		return fallback;
	memcpy(copy, buf, len + 1);
	return copy;
}

/*
 * req_strdup
 *		A copy of s, whole, in the fetcher's memory, or NULL on out-of-memory;
 *		never throws (see req_printf).  For the API's text, which is
 *		scrubbed whole before it is shortened (raise_failure).
 */
static const char *
req_strdup(CallogsRequest *req, const char *s)
{
	size_t		len = strlen(s);
	char	   *copy = MemoryContextAllocExtended(req->fetcher->cxt, len + 1,
												  MCXT_ALLOC_NO_OOM);

	if (copy != NULL)
		memcpy(copy, s, len + 1);
	return copy;
}

/*
 * fail_request
 *		Record the final failure of a request; it is raised when (and only
 *		when) the request is waited on.  msg, detail and hint are static or
 *		in the fetcher's memory; api_msg is the API's own text (UTF-8),
 *		converted to the database encoding when raised.  The DETAIL always
 *		ends with the request line (request_detail), after detail if any.
 */
static void
fail_request(CallogsRequest *req, int code, const char *msg,
			 const char *api_msg, const char *detail, const char *hint)
{
	req->failed = true;
	req->fail_code = code;
	req->fail_msg = msg;
	req->fail_api_msg = api_msg;
	req->fail_detail = detail;
	req->fail_hint = hint;
	req->state = REQ_DONE;
	callogs_session_stats.errors++;
	if (req->fetcher->stats)
		req->fetcher->stats->errors++;
}

/* ---- starting transfers ---- */

#define SETOPT(h, opt, val) \
	do { if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) ok = false; } while (0)

/*
 * start_transfer
 *		Create the easy handle of one attempt and add it to the multi
 *		handle.  Never raises: this runs while any scan of the backend is
 *		being waited on, so a failure (out of memory, a libcurl without a
 *		needed feature) is recorded on this request and raised when its own
 *		scan waits on it.  Returns whether the transfer runs.
 */
static bool
start_transfer(CallogsRequest *req)
{
	CallogsFetcher *f = req->fetcher;
	const CallogsOptions *o = &f->opts;
	CURL	   *h;
	bool		ok = true;
	long		stall_s;

	dlist_delete(&req->pending_node);
	req->state = REQ_DONE;		/* not pending any more: set below */
	req->status = 0;
	req->abort_reason = ABORT_NONE;
	req->bytes = 0;
	req->body_len = 0;
	req->body[0] = '\0';
	req->retry_after[0] = '\0';
	req->errbuf[0] = '\0';
	req->refused_why = NULL;
	req->refused_ip[0] = '\0';
	req->no_fd = false;

	if (!cl_parser_init(&req->parser, CALLOGS_MAX_JSON_DEPTH,
						(size_t) o->max_response_bytes, &page_budget))
	{
		cl_parser_free(&req->parser);
		fail_request(req, ERRCODE_FDW_OUT_OF_MEMORY,
					 "out of memory while starting a call logs API request",
					 NULL, NULL, NULL);
		return false;
	}
	req->parser_live = true;

	h = easy_pool_n > 0 ? easy_pool[--easy_pool_n] : curl_easy_init();
	if (h != NULL && callogs_debug_fail_start && callogs_debug_fail_start[0] &&
		strstr(req->url, callogs_debug_fail_start) != NULL)
	{
		curl_easy_cleanup(h);
		h = NULL;
	}
	if (h == NULL)
	{
		release_transfer(req);
		fail_request(req, ERRCODE_FDW_OUT_OF_MEMORY,
					 "could not create a libcurl handle", NULL, NULL, NULL);
		return false;
	}
	req->easy = h;

	/* whole seconds, never shorter than asked; moot if timeout_ms is shorter */
	stall_s = (o->stall_timeout_ms + 999) / 1000;
	SETOPT(h, CURLOPT_URL, req->url);
	SETOPT(h, CURLOPT_HTTPHEADER, f->headers);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, (long) o->timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long) o->connect_timeout_ms);
	if (o->stall_timeout_ms < o->timeout_ms)
	{
		SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		SETOPT(h, CURLOPT_LOW_SPEED_TIME, stall_s);
	}
	/* after a failure, do not trust the kept-alive connections */
	if (req->attempts > 0)
		SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(h, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(h, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	/* wait for HTTP/2 multiplexing only where it can exist (TLS) */
	if (pg_strncasecmp(req->url, "https:", 6) == 0)
		SETOPT(h, CURLOPT_PIPEWAIT, 1L);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_TCP_NODELAY, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, o->ssl_verify ? 1L : 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, o->ssl_verify ? 2L : 0L);
	if (o->ca_file)
		SETOPT(h, CURLOPT_CAINFO, o->ca_file);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) o->max_response_bytes);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, req);
	SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, req);
	SETOPT(h, CURLOPT_NOPROGRESS, 1L);
	/* environment proxies (http_proxy, ALL_PROXY ...) are never used */
	SETOPT(h, CURLOPT_PROXY, o->proxy ? o->proxy : "");
	SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	SETOPT(h, CURLOPT_OPENSOCKETDATA, req);
	SETOPT(h, CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
	SETOPT(h, CURLOPT_CLOSESOCKETDATA, NULL);
	SETOPT(h, CURLOPT_PREREQFUNCTION, prereq_cb);
	SETOPT(h, CURLOPT_PREREQDATA, req);
	SETOPT(h, CURLOPT_ERRORBUFFER, req->errbuf);
	SETOPT(h, CURLOPT_PRIVATE, req);
	if (!ok)
	{
		release_transfer(req);
		fail_request(req, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
					 "could not configure libcurl",
					 NULL,
					 "This libcurl lacks a feature callogs_fdw needs (version 7.85 or later is required).",
					 NULL);
		return false;
	}

	if (curl_multi_add_handle(transport.multi, h) != CURLM_OK)
	{
		release_transfer(req);
		fail_request(req, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
					 "could not start an HTTP transfer", NULL, NULL, NULL);
		return false;
	}
	req->state = REQ_RUNNING;
	req->in_multi = true;
	transport.running++;
	req->attempts++;
	req->started = GetCurrentTimestamp();
	callogs_session_stats.requests++;
	if (f->stats)
		f->stats->requests++;
	callogs_activity_transport(transport.running, 0, 0);
	return true;
}

/*
 * start_due_requests
 *		Start every pending request whose time has come, in the order they
 *		were queued, as long as fewer than callogs_fdw.max_transfers run,
 *		and remember in transport.own_due_ms when the next one is due (-1:
 *		none waits, or only for a running transfer to finish, which calls
 *		this again).  A request that cannot start is settled as failed (its
 *		own scan raises it); the others start regardless.
 */
static void
start_due_requests(void)
{
	dlist_mutable_iter iter;
	TimestampTz now = GetCurrentTimestamp();
	int64		next_ms = -1;

	apply_connection_limit();
	dlist_foreach_modify(iter, &transport.pending)
	{
		CallogsRequest *req = dlist_container(CallogsRequest, pending_node, iter.cur);
		int64		wait_ms = 0;

		/* no more now: a transfer that finishes starts the next */
		if (transport.running >= callogs_max_transfers ||
			(transport.fd_limit > 0 && transport.running >= transport.fd_limit))
			break;
		if (req->not_before > now)
			wait_ms = (req->not_before - now + 999) / 1000;
		else
			wait_ms = callogs_rate_reserve(req->fetcher->opts.serverid,
										   req->fetcher->opts.max_requests_per_second,
										   now);
		if (wait_ms == 0)
		{
			if (!start_transfer(req))
				transport.settled++;
		}
		else if (next_ms < 0 || wait_ms < next_ms)
			next_ms = wait_ms;
	}
	/* a deadline further than a sleep is slept towards in rounds */
	if (next_ms > CALLOGS_MAX_SLEEP_MS)
		next_ms = CALLOGS_MAX_SLEEP_MS;
	transport.own_due_ms = next_ms;
	transport.own_due_us = next_ms < 0 ? -1 : mono_now_us() + next_ms * 1000;
}

/*
 * process_completions
 *		Settle every transfer curl reports finished; returns how many.
 */
static int
process_completions(void)
{
	int			finished = 0;
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(transport.multi, &queued)) != NULL)
	{
		CallogsRequest *req = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
		if (req != NULL)
		{
			finish_transfer(req, msg->data.result);
			finished++;
		}
	}
	return finished;
}

/* ---- settling a finished transfer ---- */

/*
 * parse_retry_after
 *		Seconds to wait from a Retry-After value, or -1 when absent or
 *		unreadable: delay-seconds (digits only) or an HTTP date (RFC 9110
 *		section 10.2.3, read by curl_getdate).  Whatever the server sends,
 *		the result is finite and at most CALLOGS_RETRY_AFTER_MAX_S: a
 *		caller converting it to ms cannot overflow (schedule_retry caps it
 *		by retry_max_wait_ms anyway).
 */
#define CALLOGS_RETRY_AFTER_MAX_S	86400.0

static double
parse_retry_after(const char *value)
{
	double		secs = 0;
	time_t		when;
	size_t		ndigits = strspn(value, "0123456789");

	if (value[0] == '\0')
		return -1;
	if (value[ndigits] == '\0')
	{
		for (const char *p = value; *p && secs < CALLOGS_RETRY_AFTER_MAX_S; p++)
			secs = secs * 10 + (*p - '0');
		return Min(secs, CALLOGS_RETRY_AFTER_MAX_S);
	}
	when = curl_getdate(value, NULL);
	if (when == (time_t) -1)
		return -1;
	secs = difftime(when, time(NULL));
	if (!(secs > 0))
		return 0;
	return Min(secs, CALLOGS_RETRY_AFTER_MAX_S);
}

/* The reason phrase shown after a status code in messages. */
static const char *
http_reason(long status)
{
	switch (status)
	{
		case 400:
			return " Bad Request";
		case 401:
			return " Unauthorized";
		case 403:
			return " Forbidden";
		case 404:
			return " Not Found";
		case 429:
			return " Too Many Requests";
		case 500:
			return " Internal Server Error";
		case 502:
			return " Bad Gateway";
		case 503:
			return " Service Unavailable";
		case 504:
			return " Gateway Timeout";
		default:
			return "";
	}
}

/*
 * schedule_retry
 *		Queue another attempt after an exponential, jittered backoff, or
 *		after Retry-After (capped by retry_max_wait_ms).  Returns the wait in
 *		ms, or -1 when the attempts are used up.
 */
static double
schedule_retry(CallogsRequest *req, double retry_after)
{
	const CallogsOptions *o = &req->fetcher->opts;
	double		delay_ms;

	if (req->attempts > o->max_retries)
		return -1;
	if (retry_after >= 0)
		delay_ms = retry_after * 1000.0;
	else
	{
		double		base = CALLOGS_BACKOFF_BASE_MS * pow(2.0, req->attempts - 1);

		delay_ms = base / 2 + pg_prng_double(&pg_global_prng_state) * base / 2;
	}
	/* capped as a double, so that the int64 below cannot overflow */
	if (!(delay_ms >= 0))
		delay_ms = 0;
	delay_ms = Min(delay_ms, (double) o->retry_max_wait_ms);
	release_transfer(req);
	req->state = REQ_PENDING;
	req->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) delay_ms);
	dlist_push_tail(&transport.pending, &req->pending_node);
	callogs_session_stats.retries++;
	if (req->fetcher->stats)
		req->fetcher->stats->retries++;
	callogs_activity_transport(transport.running, 1,
							   retry_after >= 0 ? req->not_before : -1);
	return delay_ms;
}

/*
 * curl_error_is_transient
 *		Transport failures worth another attempt.
 */
static bool
curl_error_is_transient(CURLcode c)
{
	switch (c)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_PARTIAL_FILE:
		case CURLE_GOT_NOTHING:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_BAD_CONTENT_ENCODING:
			return true;
		default:
			return false;
	}
}

/*
 * log_attempt
 *		The request log line of one attempt (callogs_fdw.log_requests):
 *		status, time, size, and what happens next when it is retried (the
 *		wait, and whether Retry-After asked for it).  Never the token: it
 *		lives in a header, and a URL that holds it (a "next" link of the
 *		API's) is scrubbed.
 */
static void
log_attempt(CallogsRequest *req, long status, CURLcode cres, double elapsed_ms,
			double retry_ms, bool from_retry_after)
{
	StringInfoData path;
	StringInfoData next;

	initStringInfo(&path);
	initStringInfo(&next);
	callogs_url_path(req->url, &path);
	if (retry_ms >= 0)
		appendStringInfo(&next, "; retry %d of %d in %.0f ms (%s)",
						 req->attempts, req->fetcher->opts.max_retries, retry_ms,
						 from_retry_after ? "Retry-After" : "backoff");
	elog(LOG, "callogs_fdw: GET %s -> %ld%s in %.1f ms, %zu bytes%s%s%s",
		 callogs_scrub_secrets(path.data), status,
		 cres == CURLE_OK ? "" : " (transfer failed)",
		 elapsed_ms, req->bytes,
		 cres == CURLE_OK ? "" : ": ",
		 cres == CURLE_OK ? "" : curl_easy_strerror(cres),
		 next.data);
	pfree(path.data);
	pfree(next.data);
}

/*
 * names_parameter
 *		Whether the API's error text names one of the n parameters (any case).
 */
static bool
names_parameter(const char *message, const char *const *names, int n)
{
	if (message == NULL)
		return false;
	for (const char *p = message; *p; p++)
		for (int i = 0; i < n; i++)
			if (pg_strncasecmp(p, names[i], strlen(names[i])) == 0)
				return true;
	return false;
}

/*
 * request_param
 *		Whether the query of a request URL (as callogs_url_build made it)
 *		has a parameter of that name; its value, still percent-encoded and
 *		cut to size, in value.  Plain string work: it runs while a transfer
 *		is settled, where nothing may be allocated.
 */
static bool
request_param(const char *url, const char *name, char *value, size_t size)
{
	const char *q = strchr(url, '?');
	size_t		nlen = strlen(name);

	if (q == NULL)
		return false;
	for (q++; *q && *q != '#'; q += strcspn(q, "&#"), q += (*q == '&'))
	{
		if (strncmp(q, name, nlen) == 0 && (q[nlen] == '=' || q[nlen] == '&' ||
											q[nlen] == '#' || q[nlen] == '\0'))
		{
			if (value != NULL && size > 0)
			{
				const char *v = q[nlen] == '=' ? q + nlen + 1 : q + nlen;
				size_t		n = Min(size - 1, strcspn(v, "&#"));

				/* no strlcpy: Debian's 18 headers expect it from glibc, bookworm's lacks it */
				memcpy(value, v, n);
				value[n] = '\0';
			}
			return true;
		}
	}
	return false;
}

/*
 * bad_request_hint
 *		The HINT of an HTTP 400 (issue 14), by what the request sent and
 *		what the API's text names: a date parameter, the date pushdown
 *		options (the format the API did not take, the field it filters on),
 *		not all of pushdown; page_size, or a request with no filter
 *		parameter at all (only paging), the page_size option (the url when
 *		page_size is no more than the documented default of 20), never
 *		pushdown, which would send the same request; otherwise pushdown.
 *		callogs_fdw_probe(), named as a call that runs, tells which.  Never
 *		raises.
 */
static const char *
bad_request_hint(CallogsRequest *req, const char *message)
{
	static const char *const dates[] = {"start_date", "end_date"};
	static const char *const filters[] = {"call_type", "call_status", "start_date", "end_date"};
	static const char *const size_names[] = {"page_size"};
	const CallogsOptions *o = &req->fetcher->opts;
	bool		filtered = false;
	char		size[16] = "?";

	for (int i = 0; i < (int) lengthof(filters); i++)
		filtered = filtered || request_param(req->url, filters[i], NULL, 0);
	(void) request_param(req->url, "page_size", size, sizeof(size));

	if (names_parameter(message, dates, lengthof(dates)))
		return req_printf(req,
						  "The API refused a date bound: set the foreign table option date_format (\"date\" or \"timestamp\"), or date_column to '' to send no date bounds.",
						  "The API refused a date bound sent as a %s: set the option date_format of foreign table \"%s\" to '%s', or date_column to '' to send no date bounds; %s shows which format and date field the API uses.",
						  o->date_format == CALLOGS_DATE_FORMAT_DATE ? "bare date" : "timestamp",
						  o->table_name ? o->table_name : "?",
						  o->date_format == CALLOGS_DATE_FORMAT_DATE ? "timestamp" : "date",
						  req->fetcher->probe_call);
	if (names_parameter(message, size_names, lengthof(size_names)))
		return req_printf(req,
						  "The API refused the page size: lower the option page_size of the foreign table or its server.",
						  "The API refused page_size=%s: lower the option page_size of the foreign table or of server \"%s\" (the API's documents suggest 20 to 100); %s finds one the API accepts.",
						  size, o->server_name, req->fetcher->probe_call);
	if (!filtered && atoi(size) > 20)
		return req_printf(req,
						  "The API refused a request without filter parameters: lower the option page_size, or check the url option of the server.",
						  "The API refused a request that sent no filter parameter, only paging (page_size=%s): lower the option page_size of the foreign table or of server \"%s\", or check its url option; %s tells what the API accepts.",
						  size, o->server_name, req->fetcher->probe_call);
	if (!filtered)
		return req_printf(req,
						  "The API refused a request without filter parameters: check the url option of the server.",
						  "The API refused a request that sent no filter parameter, only paging (page_size=%s, at most the documented default of 20): check the url option of server \"%s\"; %s tells what the API accepts.",
						  size, o->server_name, req->fetcher->probe_call);
	return "The API refused a query parameter; set the table option pushdown to false to send only paging parameters.";
}

/*
 * finish_transfer
 *		Decide what a finished attempt means: a page, the end of the pages, a
 *		retry, or a failure recorded on the request.  Never raises (see
 *		req_printf): it runs while any scan of the backend is waited on.
 */
static void
finish_transfer(CallogsRequest *req, CURLcode cres)
{
	CallogsFetcher *f = req->fetcher;
	long		status = 0;
	double		elapsed_ms;
	double		retry_ms = -1;
	double		retry_after = -1;
	char		apimsg[CALLOGS_ERROR_BODY_LEN + 8];	/* the whole message */
	const char *message;
	int			tries = req->attempts;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	req->status = status;
	elapsed_ms = (double) (GetCurrentTimestamp() - req->started) / 1000.0;
	callogs_session_stats.bytes += req->bytes;
	if (f->stats)
		f->stats->bytes += req->bytes;

	if (req->abort_reason == ABORT_BUDGET)
	{
		fail_request(req, ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
					 req_printf(req, "call logs API pages exceed callogs_fdw.max_page_memory",
								"call logs API pages exceed callogs_fdw.max_page_memory (%d kB)",
								callogs_max_page_memory),
					 NULL,
					 req_printf(req, NULL,
								"This backend held %zu kB of other pages when this one had sent %zu kB (held with its decoded tree: %zu kB).",
								(page_budget.used - Min(page_budget.used, req->parser.charged)) / 1024,
								req->bytes / 1024, req->parser.charged / 1024),
					 "Lower page_size or concurrency, or ask a superuser to raise callogs_fdw.max_page_memory.");
	}
	else if (req->abort_reason == ABORT_TOO_BIG || cres == CURLE_FILESIZE_EXCEEDED)
	{
		fail_request(req, ERRCODE_FDW_INVALID_STRING_LENGTH_OR_BUFFER_LENGTH,
					 req_printf(req, "call logs API response exceeds max_response_bytes",
								"call logs API response exceeds max_response_bytes (" INT64_FORMAT " bytes)",
								f->opts.max_response_bytes),
					 NULL, NULL,
					 "Lower page_size, or raise the server option max_response_bytes.");
	}
	else if (req->abort_reason == ABORT_BAD_JSON)
	{
		fail_request(req, ERRCODE_FDW_INVALID_STRING_FORMAT,
					 req_printf(req, "call logs API returned invalid JSON",
								"call logs API returned invalid JSON: %s",
								req->parser.errmsg),
					 NULL, NULL, NULL);
	}
	else if (req->no_fd && cres == CURLE_COULDNT_CONNECT &&
			 transport.running > (req->in_multi ? 1 : 0))
	{
		/*
		 * No descriptor for a new connection, but other transfers run: wait
		 * for one of them (its connection is then reused, or its socket
		 * closed) instead of failing.  Until a transfer completes, no more
		 * than those run; each completion lets one more try (fd_limit).
		 * Not an attempt: nothing was sent.
		 */
		release_transfer(req);
		req->attempts--;
		req->state = REQ_PENDING;
		req->not_before = 0;
		dlist_push_head(&transport.pending, &req->pending_node);
		transport.fd_limit = Max(1, transport.running);
	}
	else if (req->no_fd && cres == CURLE_COULDNT_CONNECT && !req->fd_flushed)
	{
		/*
		 * Nothing else runs: the descriptors are held by idle connections
		 * in curl's cache (to this or other servers).  Close them, once,
		 * and try again (flush_idle_connections, from drive_transport).
		 */
		release_transfer(req);
		req->attempts--;
		req->fd_flushed = true;
		req->state = REQ_PENDING;
		req->not_before = 0;
		dlist_push_head(&transport.pending, &req->pending_node);
		transport.flush_idle = true;
	}
	else if (req->no_fd && cres == CURLE_COULDNT_CONNECT)
	{
		fail_request(req, ERRCODE_INSUFFICIENT_RESOURCES,
					 "out of file descriptors for call logs API connections",
					 NULL,
					 req_printf(req, NULL,
								"PostgreSQL lets a backend's connections use a third of the descriptors max_files_per_process (%d) allows, and they were in use.",
								max_files_per_process),
					 "Lower the server option concurrency or callogs_fdw.max_transfers, or raise max_files_per_process.");
	}
	else if (req->abort_reason == ABORT_BLOCKED_HOST ||
			 (req->refused_why != NULL && cres == CURLE_COULDNT_CONNECT))
	{
		bool		is_private = callogs_refusal_is_private(req->refused_why);

		fail_request(req, ERRCODE_INSUFFICIENT_PRIVILEGE,
					 is_private ?
					 req_printf(req, "server may not connect to a private network",
								"server \"%s\" may not connect to a private network",
								f->opts.server_name) :
					 req_printf(req, "server may not connect to this machine",
								"server \"%s\" may not connect to this machine",
								f->opts.server_name),
					 NULL,
					 /* the address itself only for a superuser: see raise_failure */
					 req_printf(req, "The server's url resolved to a refused address, and the server is not owned by a superuser.",
								"The server's url resolved to %s, and the server is not owned by a superuser.",
								req->refused_why),
					 is_private ?
					 "A superuser can allow private networks with the setting callogs_fdw.allow_private_addresses, or any host with callogs_fdw.allow_insecure_url." :
					 "A superuser can allow it with the setting callogs_fdw.allow_insecure_url.");
	}
	else if (cres != CURLE_OK)
	{
		/*
		 * A write error our write_cb did not ask for comes from curl's own
		 * content decoder, after it gave up on the body (a gzip body in
		 * several RFC 1952 members is one it refuses): a decoding failure,
		 * not a local write failure, whatever curl's text says.
		 */
		if (cres == CURLE_WRITE_ERROR && req->abort_reason == ABORT_NONE)
		{
			cres = CURLE_BAD_CONTENT_ENCODING;
			if (req->errbuf[0] == '\0' ||
				strstr(req->errbuf, "Failed writing") != NULL)
				snprintf(req->errbuf, sizeof(req->errbuf), "%s",
						 "its compressed body (Content-Encoding) could not be decoded");
		}
		if (!curl_error_is_transient(cres) ||
			(retry_ms = schedule_retry(req, -1)) < 0)
		{
			const char *what = req->errbuf[0] ? req->errbuf : curl_easy_strerror(cres);

			fail_request(req,
						 cres == CURLE_PEER_FAILED_VERIFICATION ||
						 cres == CURLE_COULDNT_CONNECT ||
						 cres == CURLE_COULDNT_RESOLVE_HOST ||
						 cres == CURLE_OPERATION_TIMEDOUT ||
						 cres == CURLE_SSL_CONNECT_ERROR ?
						 ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_FDW_ERROR,
						 tries > 1 ?
						 req_printf(req, "call logs API request failed",
									"call logs API request failed after %d attempts: %s",
									tries, what) :
						 req_printf(req, "call logs API request failed",
									"call logs API request failed: %s", what),
						 NULL, NULL,
						 cres == CURLE_PEER_FAILED_VERIFICATION ?
						 "The server's TLS certificate could not be verified: an unknown CA (set the server option ca_file to the CA that signed it) or a host name the certificate does not name (fix the url)." :
						 cres == CURLE_OPERATION_TIMEDOUT ?
						 "Raise the server options timeout_ms, connect_timeout_ms or stall_timeout_ms if the API is slow." :
						 cres == CURLE_COULDNT_CONNECT ?
						 req_printf(req, NULL,
									"Nothing accepted the connection: check the host and port in the url option of server \"%s\", and that the API can be reached from the database server.",
									f->opts.server_name) :
						 cres == CURLE_COULDNT_RESOLVE_HOST ?
						 req_printf(req, NULL,
									"The host name could not be resolved: check the host in the url option of server \"%s\", and the database server's DNS.",
									f->opts.server_name) :
						 cres == CURLE_BAD_CONTENT_ENCODING ?
						 "libcurl decodes gzip and deflate bodies of one member only: the API (or a proxy in front of it) sent a body that is corrupt or in several members." :
						 NULL);
		}
	}
	else if (status >= 200 && status < 300)
	{
		req->root = cl_parser_finish(&req->parser);
		if (req->root == NULL)
			fail_request(req, ERRCODE_FDW_INVALID_STRING_FORMAT,
						 req_printf(req, "call logs API returned invalid JSON",
									"call logs API returned invalid JSON: %s",
									req->parser.errmsg),
						 NULL, NULL, NULL);
		else
			req->state = REQ_DONE;
	}
	else if ((status == 429 || status >= 500 ||
			  (status == 404 && (req->flags & CALLOGS_REQ_404_PAST_END))) &&
			 (retry_ms = schedule_retry(req, retry_after = parse_retry_after(req->retry_after))) >= 0)
	{
		/* queued again */
	}
	else if (status == 404 && (req->flags & CALLOGS_REQ_404_PAST_END))
	{
		/* still 404 after the retries: the scan decides what it means */
		req->past_end = true;
		req->state = REQ_DONE;
	}
	else if ((status == 400 || status == 404) &&
			 (req->flags & CALLOGS_REQ_CLIENT_ERROR_OK))
	{
		/* the caller (the probe) reads the status and the API's message */
		req->past_end = true;
		req->state = REQ_DONE;
	}
	else
	{
		int			code = ERRCODE_FDW_ERROR;
		const char *hint = NULL;

		message = cl_error_message(req->body, req->body_len, apimsg, sizeof(apimsg));
		switch (status)
		{
			case 400:
				code = ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
				hint = bad_request_hint(req, message);
				break;
			case 401:
				code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
				hint = req_printf(req, NULL,
								  "Check the token option of the user mapping for server \"%s\".",
								  f->opts.server_name);
				break;
			case 403:
				code = ERRCODE_INSUFFICIENT_PRIVILEGE;
				hint = req_printf(req, NULL,
								  "Check the org_handle option (\"%s\") of server \"%s\" or its foreign table.",
								  f->opts.org_handle, f->opts.server_name);
				break;
			case 404:
				code = ERRCODE_FDW_TABLE_NOT_FOUND;
				hint = f->url_hint;
				break;
			case 429:
				hint = "Set the server option max_requests_per_second, or raise max_retries.";
				break;
			default:
				if (status >= 300 && status < 400)
					hint = req_printf(req, NULL,
									  "Redirects are not followed; set the url option of server \"%s\" to the final address.",
									  f->opts.server_name);
				else if (status >= 500)
					hint = "The API failed on its side; try again later, or raise max_retries.";
				break;
		}
		fail_request(req, code,
					 tries > 1 ?
					 req_printf(req, "call logs API answered an HTTP error",
								"call logs API answered HTTP %ld%s after %d attempts",
								status, http_reason(status), tries) :
					 req_printf(req, "call logs API answered an HTTP error",
								"call logs API answered HTTP %ld%s",
								status, http_reason(status)),
					 message ? req_strdup(req, message) : NULL,
					 NULL, hint);
	}

	if (callogs_log_requests)
		log_attempt(req, status, cres, elapsed_ms, retry_ms, retry_after >= 0);

	if (req->state == REQ_DONE)
	{
		release_transfer(req);
		transport.settled++;
		/* a descriptor may be free again: let one more transfer try */
		if (transport.fd_limit > 0 && ++transport.fd_limit >= callogs_max_transfers)
			transport.fd_limit = 0;
	}
	callogs_activity_transport(transport.running, 0, -1);
}

/* ---- driving and waiting ---- */

/*
 * transport_drive
 *		Without blocking: start the requests that are due, hand curl every
 *		socket event and expired timeout, settle the transfers that
 *		finished, and program the timerfd for what comes next.  Returns the
 *		number of requests settled.  Serves every scan of the backend.
 */
static int
transport_drive(void)
{
	struct epoll_event events[CALLOGS_EPOLL_BATCH];
	uint64		settled_before = transport.settled;
	int			n;
	int			still;

	if (transport.multi == NULL)
		return 0;

	start_due_requests();

	n = epoll_wait(transport.epfd, events, lengthof(events), 0);
	for (int i = 0; i < n; i++)
	{
		int			fd = events[i].data.fd;
		uint32		ev = events[i].events;
		int			mask = 0;

		if (fd == transport.timerfd)
		{
			uint64		ticks;

			/*
			 * Drain the expirations (EAGAIN: none left).  A (void) cast does
			 * not silence glibc's warn_unused_result under _FORTIFY_SOURCE.
			 */
			if (read(transport.timerfd, &ticks, sizeof(ticks)) < 0)
				ticks = 0;
			transport.armed_us = -1;	/* expired: set it anew below */
			continue;
		}
		if (ev & (EPOLLIN | EPOLLHUP))
			mask |= CURL_CSELECT_IN;
		if (ev & EPOLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (ev & EPOLLERR)
			mask |= CURL_CSELECT_ERR;
		curl_multi_socket_action(transport.multi, fd, mask, &still);
	}

	/* curl's timeouts that are due (a few rounds at most: never spin) */
	for (int i = 0; i < 3; i++)
	{
		long		curl_ms = -1;

		if (curl_multi_timeout(transport.multi, &curl_ms) != CURLM_OK || curl_ms != 0)
			break;
		curl_multi_socket_action(transport.multi, CURL_SOCKET_TIMEOUT, 0, &still);
	}

	if (process_completions() > 0)
	{
		if (transport.flush_idle && transport.running == 0)
			flush_idle_connections();
		start_due_requests();	/* retries without a wait, freed rate slots */
	}
	arm_timer();
	return (int) (transport.settled - settled_before);
}

/*
 * clamp_sleep_ms
 *		A wait of ms milliseconds (-1: until something happens) as a timeout
 *		that WaitEventSetWait accepts: at most CALLOGS_MAX_SLEEP_MS (the
 *		callers' loops sleep again), any other negative value 0.
 */
static long
clamp_sleep_ms(int64 ms)
{
	if (ms == -1)
		return -1;
	if (ms < 0)
		return 0;
	return (long) Min(ms, CALLOGS_MAX_SLEEP_MS);
}

/*
 * transport_sleep
 *		Block until the transport has work (the epoll descriptor is
 *		readable: a socket event or a deadline on the timerfd), the latch is
 *		set (cancel, statement_timeout, a signal) or the postmaster dies; then
 *		CHECK_FOR_INTERRUPTS.  The timeout mirrors the timerfd's deadline as
 *		a safety net; only when an epoll_ctl failed does it poll (10 ms).
 *		Returns the time slept in ms.
 */
static double
transport_sleep(void)
{
	long		curl_ms = -1;
	int64		timeout;
	WaitEvent	event;
	TimestampTz before = GetCurrentTimestamp();
	double		slept;

	if (curl_multi_timeout(transport.multi, &curl_ms) != CURLM_OK)
		curl_ms = -1;
	timeout = curl_ms;
	if (transport.own_due_ms >= 0 && (timeout < 0 || transport.own_due_ms < timeout))
		timeout = transport.own_due_ms;
	if (transport.watch_failed && (timeout < 0 || timeout > 10))
		timeout = 10;

	ModifyWaitEvent(transport.wait_set, transport.latch_pos, WL_LATCH_SET, MyLatch);
	if (WaitEventSetWait(transport.wait_set, clamp_sleep_ms(timeout), &event, 1,
						 callogs_wait_event()) == 1 &&
		(event.events & WL_LATCH_SET))
		ResetLatch(MyLatch);
	slept = (double) (GetCurrentTimestamp() - before) / 1000.0;
	callogs_session_stats.wait_ms += slept;
	CHECK_FOR_INTERRUPTS();
	return slept;
}

/*
 * api_text_to_server
 *		The API's error text (UTF-8) in the database encoding, for a
 *		message: each character is converted on its own, and one that is
 *		not valid UTF-8 or has no equivalent in the database encoding
 *		becomes '?', so that a conversion error never hides the real one
 *		(issue 10 section 4).  Follows pg_any_to_server, without its errors.
 */
static char *
api_text_to_server(const char *utf8)
{
	int			enc = GetDatabaseEncoding();
	Oid			proc = InvalidOid;
	StringInfoData out;
	const unsigned char *p = (const unsigned char *) utf8;
	size_t		left = strlen(utf8);

	initStringInfo(&out);
	if (enc != PG_UTF8 && enc != PG_SQL_ASCII)
		proc = FindDefaultConversionProc(PG_UTF8, enc);
	while (left > 0)
	{
		int			l = pg_utf_mblen(p);

		if ((size_t) l > left || !pg_utf8_islegal(p, l))
		{
			appendStringInfoChar(&out, '?');
			p++;
			left--;
			continue;
		}
		if (l == 1 || enc == PG_UTF8 || enc == PG_SQL_ASCII)
			appendBinaryStringInfo(&out, (const char *) p, l);
		else
		{
			unsigned char src[8];
			unsigned char dst[8 * MAX_CONVERSION_GROWTH + 1];

			memcpy(src, p, l);
			if (OidIsValid(proc) &&
				pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, src, l,
											  dst, sizeof(dst), true) == l)
				appendStringInfoString(&out, (const char *) dst);
			else
				appendStringInfoChar(&out, '?');
		}
		p += l;
		left -= l;
	}
	return out.data;
}

/*
 * request_detail
 *		The DETAIL of a failed request: its path and query, and the server.
 *		Bytes outside ASCII (a "next" link from the API) are shown
 *		percent-encoded, so the text is valid in any database encoding.
 */
static char *
request_detail(CallogsRequest *req)
{
	StringInfoData path;
	StringInfoData buf;

	initStringInfo(&path);
	callogs_url_path(req->url, &path);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "Request: GET ");
	for (const unsigned char *p = (const unsigned char *) path.data; *p; p++)
	{
		if (*p >= 0x80 || *p < 0x20)
			appendStringInfo(&buf, "%%%02X", *p);
		else
			appendStringInfoChar(&buf, (char) *p);
	}
	appendStringInfo(&buf, " on server \"%s\".", req->fetcher->opts.server_name);
	pfree(path.data);
	return buf.data;
}

/*
 * raise_failure
 *		ereport the failure recorded on req, in the database encoding,
 *		without the token: the API's text is scrubbed whole, then shortened
 *		(callogs_shorten_utf8: a token prefix left at the cut goes too),
 *		and scrubbed again after its conversion (the token's bytes as sent,
 *		and as the database encoding spells it), and so is the rest of the message and detail (a "next"
 *		link in the request line, curl's text); the hint is ours alone,
 *		made of the server's options (readable by anyone, as the url in a
 *		404's ALTER SERVER is).  A refused address is
 *		shown to a superuser only: to the role that owns the server, the
 *		address its host name resolved to would tell what internal names
 *		resolve to (a DNS oracle); it sees why it was refused.
 *		CHECK_FOR_INTERRUPTS first, so that a cancel wins over a failure it
 *		may have caused.
 */
static void
raise_failure(CallogsRequest *req)
{
	const char *msg;
	const char *detail;

	CHECK_FOR_INTERRUPTS();
	msg = req->fail_api_msg ?
		psprintf("%s: %s", req->fail_msg,
				 callogs_scrub_secrets(api_text_to_server(callogs_shorten_utf8(req->fail_api_msg,
																			   strlen(req->fail_api_msg),
																			   CALLOGS_API_MSG_LEN)))) :
		req->fail_msg;
	detail = req->fail_detail;
	if (req->fail_code == ERRCODE_INSUFFICIENT_PRIVILEGE && req->refused_why &&
		req->refused_ip[0] && superuser())
		detail = psprintf("The server's url resolved to %s (%s), and the server is not owned by a superuser.",
						  req->refused_ip, req->refused_why);
	detail = detail ? psprintf("%s %s", detail, request_detail(req)) :
		request_detail(req);
	ereport(ERROR,
			(errcode(req->fail_code),
			 errmsg_internal("%s", callogs_scrub_secrets(msg)),
			 errdetail_internal("%s", callogs_scrub_secrets(detail)),
			 req->fail_hint ? errhint("%s", req->fail_hint) : 0));
}

/*
 * callogs_request_wait
 *		Drive the transport until req is done, then raise its failure if it
 *		has one (SQLSTATE as recorded: see finish_transfer).  Returns the
 *		page (owned by req), or NULL for a 404 of a request submitted with
 *		CALLOGS_REQ_404_PAST_END (callogs_request_status() tells 404).
 *		Cancel and statement_timeout interrupt the wait at once (57014).
 */
ClJson *
callogs_request_wait(CallogsRequest *req)
{
	double		waited = 0;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (req->state == REQ_DONE)
			break;
		transport_drive();
		if (req->state == REQ_DONE)
			break;
		waited += transport_sleep();
	}
	if (req->fetcher->stats)
		req->fetcher->stats->wait_ms += waited;
	callogs_rate_warn();		/* a fallback of the rate table, once */

	Assert(req->failed || req->past_end || req->root != NULL);
	if (req->failed)
		raise_failure(req);
	return req->past_end ? NULL : req->root;
}

/*
 * callogs_request_ready
 *		Non-blocking: let the transport work once and tell whether req is
 *		done (its page, its end or its failure can be had without waiting).
 */
bool
callogs_request_ready(CallogsRequest *req)
{
	if (req->state != REQ_DONE)
		transport_drive();
	return req->state == REQ_DONE;
}

/*
 * callogs_http_settled
 *		A counter of requests settled in this backend: comparing two
 *		readings tells whether some scan's page (or failure) became
 *		available in between.
 */
uint64
callogs_http_settled(void)
{
	return transport.settled;
}

/* A scan's dup of the epoll descriptor, closed with its memory context. */
typedef struct WaitFd
{
	int			fd;				/* -1 once closed */
	MemoryContextCallback cb;
} WaitFd;

/*
 * wait_fd_close
 *		Memory context callback: close a scan's descriptor and give its slot
 *		back to fd.c's count of external descriptors.
 */
static void
wait_fd_close(void *arg)
{
	WaitFd	   *w = (WaitFd *) arg;

	if (w->fd >= 0)
	{
		close(w->fd);
		ReleaseExternalFD();
	}
	w->fd = -1;
}

/*
 * callogs_http_wait_fd
 *		A descriptor of its own, readable whenever the transport has work,
 *		for one scan to register in an asynchronous Append's WaitEventSet
 *		(one event per subplan; several subplans never register the same
 *		descriptor).  It is a dup() of the backend's epoll descriptor, closed
 *		when cxt is reset or deleted.  Returns -1 when the process may not
 *		open another descriptor (AcquireExternalFD, as postgres_fdw does for
 *		its connections): the caller then waits without registering.
 */
int
callogs_http_wait_fd(MemoryContext cxt)
{
	WaitFd	   *w;

	(void) get_transport();
	/*
	 * One more spare than a socket leaves: a scan can wait without a
	 * descriptor of its own, but no transfer runs without a socket.
	 */
	if (!acquire_fd_with_spares(CALLOGS_SPARE_FDS + 1))
		return -1;
	w = MemoryContextAllocZero(cxt, sizeof(WaitFd));
	w->fd = dup(transport.epfd);
	if (w->fd < 0)
	{
		ReleaseExternalFD();
		return -1;
	}
	w->cb.func = wait_fd_close;
	w->cb.arg = w;
	MemoryContextRegisterResetCallback(cxt, &w->cb);
	return w->fd;
}

/*
 * callogs_http_short_wait
 *		Sleep on the transport for at most timeout_ms (or until it has work,
 *		the latch is set or a signal arrives).  Only for an asynchronous scan
 *		that could not get a descriptor of its own.
 */
void
callogs_http_short_wait(long timeout_ms)
{
	WaitEvent	event;

	(void) get_transport();
	ModifyWaitEvent(transport.wait_set, transport.latch_pos, WL_LATCH_SET, MyLatch);
	if (WaitEventSetWait(transport.wait_set, clamp_sleep_ms(timeout_ms), &event, 1,
						 callogs_wait_event()) == 1 &&
		(event.events & WL_LATCH_SET))
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}
