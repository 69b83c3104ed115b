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
 * and parsed while its bytes arrive.  Waiting loops on curl_multi_poll
 * with a short timeout and CHECK_FOR_INTERRUPTS, so cancel and
 * statement_timeout act within 100 ms.
 *
 * libcurl callbacks never call palloc or ereport: they record what
 * happened in the request and return an error code; errors are raised
 * once curl has returned.  All malloc'd state (easy handles, header
 * lists, parsed pages) hangs off the fetcher, whose memory context
 * reset callback frees it, so an ERROR anywhere leaks nothing.
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
#include <sys/select.h>
#include <sys/socket.h>
#include <curl/curl.h>

#include "common/pg_prng.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "callogs_fdw.h"

/* Longest wait between two interrupt checks. */
#define CALLOGS_POLL_MS			100
#define CALLOGS_BACKOFF_BASE_MS	200
#define CALLOGS_ERROR_BODY_LEN	2048

typedef enum RequestState
{
	REQ_PENDING,				/* queued, not handed to curl yet */
	REQ_RUNNING,				/* transfer in progress */
	REQ_DONE					/* finished: result or failure recorded */
} RequestState;

/* Why a callback stopped a transfer. */
typedef enum AbortReason
{
	ABORT_NONE,
	ABORT_TOO_BIG,
	ABORT_BAD_JSON,
	ABORT_INTERRUPT,
	ABORT_BLOCKED_HOST
} AbortReason;

struct CallogsFetcher
{
	MemoryContext cxt;
	CallogsOptions opts;		/* strings copied into cxt */
	struct curl_slist *headers; /* malloc'd by curl */
	dlist_head requests;		/* every live request of this fetcher */
	CallogsStats *stats;		/* per-scan counters, or NULL */
	MemoryContextCallback cleanup;
};

struct CallogsRequest
{
	dlist_node	node;			/* in fetcher->requests */
	dlist_node	pending_node;	/* in pending_requests while PENDING */
	CallogsFetcher *fetcher;
	char	   *url;
	int			stream;
	int			page;
	bool		may_be_past_end;	/* a 404 means "no such page" */
	RequestState state;
	int			attempts;
	TimestampTz not_before;
	TimestampTz started;

	/* the current transfer */
	CURL	   *easy;
	ClJsonParser parser;
	bool		parser_live;
	long		status;
	AbortReason abort_reason;
	size_t		bytes;
	char		body[CALLOGS_ERROR_BODY_LEN];	/* start of an error body */
	size_t		body_len;
	char		retry_after[64];
	char		errbuf[CURL_ERROR_SIZE];

	/* the outcome */
	ClJson *root;			/* parsed page, on success */
	bool		past_end;
	bool		failed;
	int			fail_code;
	char	   *fail_msg;
	char	   *fail_detail;
	char	   *fail_hint;
};

CallogsStats callogs_session_stats;
bool		callogs_log_requests = false;

static CURLM *callogs_multi = NULL;
static dlist_head pending_requests = DLIST_STATIC_INIT(pending_requests);
static int	running_transfers = 0;

/* Per-server request spacing for max_requests_per_second. */
typedef struct RateSlot
{
	Oid			serverid;
	TimestampTz next_start;
} RateSlot;

#define MAX_RATE_SLOTS 64
static RateSlot rate_slots[MAX_RATE_SLOTS];
static int	n_rate_slots = 0;

/* The wait set our sockets were last added to (see add_wait_events). */
static WaitEventSet *registered_set = NULL;
static int	registered_count = 0;	/* events in that set after we added */
static int	registered_n = 0;	/* sockets we added to it */

static void fetcher_cleanup(void *arg);
static void release_transfer(CallogsRequest *req);
static void finish_transfer(CallogsRequest *req, CURLcode cres);

/*
 * callogs_http_init
 *		Initialize libcurl once per backend, from _PG_init.
 */
void
callogs_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl")));
}

/*
 * get_multi
 *		The backend's curl multi handle, created on first use and kept for keep-alive.
 */
static CURLM *
get_multi(void)
{
	if (callogs_multi == NULL)
	{
		callogs_multi = curl_multi_init();
		if (callogs_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl multi handle")));
		curl_multi_setopt(callogs_multi, CURLMOPT_MAXCONNECTS, 64L);
		curl_multi_setopt(callogs_multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
	}
	return callogs_multi;
}

static char *
copy_opt(MemoryContext cxt, const char *s)
{
	return s ? MemoryContextStrdup(cxt, s) : NULL;
}

/*
 * callogs_fetcher_create
 *		A fetcher whose requests use opts and whose malloc'd state is freed
 *		when cxt is reset or deleted.
 */
CallogsFetcher *
callogs_fetcher_create(MemoryContext cxt, const CallogsOptions *opts,
					   CallogsStats *stats)
{
	CallogsFetcher *f = MemoryContextAllocZero(cxt, sizeof(CallogsFetcher));
	char	   *hdr;
	struct curl_slist *list = NULL;
	const char *lines[4];

	f->cxt = cxt;
	f->opts = *opts;
	f->opts.url = copy_opt(cxt, opts->url);
	f->opts.org_handle = copy_opt(cxt, opts->org_handle);
	f->opts.token = copy_opt(cxt, opts->token);
	f->opts.server_name = copy_opt(cxt, opts->server_name);
	f->opts.table_name = copy_opt(cxt, opts->table_name);
	f->opts.ca_file = copy_opt(cxt, opts->ca_file);
	f->opts.date_column = copy_opt(cxt, opts->date_column);
	f->stats = stats;
	dlist_init(&f->requests);

	f->cleanup.func = fetcher_cleanup;
	f->cleanup.arg = f;
	MemoryContextRegisterResetCallback(cxt, &f->cleanup);

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
	/* do not leave the token lying around in palloc'd memory */
	hdr = (char *) lines[1];
	explicit_bzero(hdr, strlen(hdr));
	pfree(hdr);
	pfree((char *) lines[0]);
	return f;
}

/*
 * fetcher_cleanup
 *		Memory context callback: free every curl handle and parsed page
 *		the fetcher's requests still hold.  Runs during error recovery too,
 *		so it must not throw.
 */
static void
fetcher_cleanup(void *arg)
{
	CallogsFetcher *f = (CallogsFetcher *) arg;
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &f->requests)
	{
		CallogsRequest *req = dlist_container(CallogsRequest, node, iter.cur);

		release_transfer(req);
		if (req->root)
			cl_json_free(req->root);
		req->root = NULL;
		dlist_delete(&req->node);
	}
	if (f->headers)
		curl_slist_free_all(f->headers);
	f->headers = NULL;
}

/*
 * release_transfer
 *		Drop the curl side of a request: the easy handle (removed from the
 *		multi handle first) and the parser.  Safe in any state.
 */
static void
release_transfer(CallogsRequest *req)
{
	if (req->state == REQ_PENDING)
		dlist_delete(&req->pending_node);
	if (req->easy)
	{
		if (req->state == REQ_RUNNING)
		{
			curl_multi_remove_handle(callogs_multi, req->easy);
			running_transfers--;
		}
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
	}
	if (req->parser_live)
		cl_parser_free(&req->parser);
	req->parser_live = false;
	req->state = REQ_DONE;
}

/*
 * callogs_request_release
 *		The caller is done with a request: free everything it holds.
 */
void
callogs_request_release(CallogsRequest *req)
{
	release_transfer(req);
	if (req->root)
		cl_json_free(req->root);
	req->root = NULL;
	dlist_delete(&req->node);
	if (req->fail_msg)
		pfree(req->fail_msg);
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
 *		Queue a GET of url.  It starts at the next drive of the multi handle
 *		that the rate limit allows.
 */
CallogsRequest *
callogs_request_submit(CallogsFetcher *f, const char *url, int stream,
					   int page, bool may_be_past_end)
{
	CallogsRequest *req = MemoryContextAllocZero(f->cxt, sizeof(CallogsRequest));

	req->fetcher = f;
	req->url = MemoryContextStrdup(f->cxt, url);
	req->stream = stream;
	req->page = page;
	req->may_be_past_end = may_be_past_end;
	req->state = REQ_PENDING;
	req->not_before = 0;
	dlist_push_tail(&f->requests, &req->node);
	dlist_push_tail(&pending_requests, &req->pending_node);
	return req;
}

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

/* ---- libcurl callbacks: no palloc, no ereport ---- */

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
		if (!cl_parser_feed(&req->parser, ptr, n))
		{
			req->abort_reason = req->parser.status == CL_PARSE_TOO_BIG ?
				ABORT_TOO_BIG : ABORT_BAD_JSON;
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
 * progress_cb
 *		CURLOPT_XFERINFOFUNCTION: abort the transfer when a cancel or
 *		termination is pending (reported by CHECK_FOR_INTERRUPTS later).
 */
static int
progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	CallogsRequest *req = (CallogsRequest *) clientp;

	if ((QueryCancelPending || ProcDiePending) && INTERRUPTS_CAN_BE_PROCESSED())
	{
		req->abort_reason = ABORT_INTERRUPT;
		return 1;
	}
	return 0;
}

/*
 * sockaddr_is_local
 *		Loopback, unspecified or link-local addresses.
 */
static bool
sockaddr_is_local(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
	{
		const unsigned char *a = (const unsigned char *)
		&((const struct sockaddr_in *) sa)->sin_addr;

		return a[0] == 127 || a[0] == 0 || (a[0] == 169 && a[1] == 254);
	}
	if (sa->sa_family == AF_INET6)
	{
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6) ||
			IN6_IS_ADDR_LINKLOCAL(a6))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			return a6->s6_addr[12] == 127 || a6->s6_addr[12] == 0;
	}
	return false;
}

/*
 * prereq_cb
 *		Called once the connection is made (new or reused), before the
 *		request and its token are sent: for servers owned by non-superusers,
 *		refuse this machine whatever name resolved to it.
 */
static int
prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		  int conn_primary_port, int conn_local_port)
{
	CallogsRequest *req = (CallogsRequest *) clientp;
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;

	if (!req->fetcher->opts.restrict_hosts)
		return CURL_PREREQFUNC_OK;
	memset(&sa4, 0, sizeof(sa4));
	memset(&sa6, 0, sizeof(sa6));
	if (inet_pton(AF_INET, conn_primary_ip, &sa4.sin_addr) == 1)
	{
		sa4.sin_family = AF_INET;
		if (!sockaddr_is_local((struct sockaddr *) &sa4))
			return CURL_PREREQFUNC_OK;
	}
	else if (inet_pton(AF_INET6, conn_primary_ip, &sa6.sin6_addr) == 1)
	{
		sa6.sin6_family = AF_INET6;
		if (!sockaddr_is_local((struct sockaddr *) &sa6))
			return CURL_PREREQFUNC_OK;
	}
	req->abort_reason = ABORT_BLOCKED_HOST;
	return CURL_PREREQFUNC_ABORT;
}

/* ---- starting transfers ---- */

#define SETOPT(h, opt, val) \
	do { if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) ok = false; } while (0)

/*
 * start_transfer
 *		Create the easy handle of one attempt and add it to the multi handle.
 */
static void
start_transfer(CallogsRequest *req)
{
	CallogsFetcher *f = req->fetcher;
	const CallogsOptions *o = &f->opts;
	CURL	   *h;
	bool		ok = true;
	long		stall_s;

	dlist_delete(&req->pending_node);
	req->state = REQ_DONE;		/* until it is really running */
	req->status = 0;
	req->abort_reason = ABORT_NONE;
	req->bytes = 0;
	req->body_len = 0;
	req->body[0] = '\0';
	req->retry_after[0] = '\0';
	req->errbuf[0] = '\0';

	if (!cl_parser_init(&req->parser, CALLOGS_MAX_JSON_DEPTH,
						(size_t) o->max_response_bytes))
	{
		cl_parser_free(&req->parser);
		ereport(ERROR, (errcode(ERRCODE_FDW_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	req->parser_live = true;

	h = curl_easy_init();
	if (h == NULL)
		ereport(ERROR, (errcode(ERRCODE_FDW_OUT_OF_MEMORY),
						errmsg("could not create a libcurl handle")));
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
	SETOPT(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	SETOPT(h, CURLOPT_XFERINFODATA, req);
	SETOPT(h, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h, CURLOPT_PREREQFUNCTION, prereq_cb);
	SETOPT(h, CURLOPT_PREREQDATA, req);
	SETOPT(h, CURLOPT_ERRORBUFFER, req->errbuf);
	SETOPT(h, CURLOPT_PRIVATE, req);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not configure libcurl"),
				 errdetail("This libcurl lacks a feature callogs_fdw needs (version 7.85 or later is required).")));

	if (curl_multi_add_handle(get_multi(), h) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not start an HTTP transfer")));
	req->state = REQ_RUNNING;
	running_transfers++;
	req->attempts++;
	req->started = GetCurrentTimestamp();
	callogs_session_stats.requests++;
	if (f->stats)
		f->stats->requests++;
}

/*
 * rate_limit_delay
 *		With max_requests_per_second, return how long the next request to
 *		the server must wait (0: it may start now, and the slot is taken).
 */
static long
rate_limit_delay(const CallogsOptions *o, TimestampTz now)
{
	RateSlot   *slot = NULL;
	int64		spacing;

	if (o->max_requests_per_second <= 0)
		return 0;
	for (int i = 0; i < n_rate_slots; i++)
		if (rate_slots[i].serverid == o->serverid)
			slot = &rate_slots[i];
	if (slot == NULL)
	{
		slot = &rate_slots[n_rate_slots < MAX_RATE_SLOTS ? n_rate_slots++ : 0];
		slot->serverid = o->serverid;
		slot->next_start = 0;
	}
	if (slot->next_start > now)
		return (long) ((slot->next_start - now + 999) / 1000);
	spacing = (int64) (1000000.0 / o->max_requests_per_second);
	slot->next_start = Max(now, slot->next_start) + spacing;
	return 0;
}

/*
 * start_due_requests
 *		Start every pending request whose time has come; return the number of
 *		milliseconds until the next one is due (or -1 if none waits).
 */
static long
start_due_requests(void)
{
	dlist_mutable_iter iter;
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = -1;

	dlist_foreach_modify(iter, &pending_requests)
	{
		CallogsRequest *req = dlist_container(CallogsRequest, pending_node, iter.cur);
		long		wait_ms = 0;

		if (req->not_before > now)
			wait_ms = (long) ((req->not_before - now + 999) / 1000);
		else
			wait_ms = rate_limit_delay(&req->fetcher->opts, now);
		if (wait_ms == 0)
			start_transfer(req);
		else if (next_ms < 0 || wait_ms < next_ms)
			next_ms = wait_ms;
	}
	return next_ms;
}

/*
 * process_completions
 *		Let curl work, then settle every transfer that finished.
 */
static int
process_completions(void)
{
	int			finished = 0;

	CURLMsg    *msg;
	int			queued;
	int			still;

	if (callogs_multi == NULL)
		return 0;
	curl_multi_perform(callogs_multi, &still);
	while ((msg = curl_multi_info_read(callogs_multi, &queued)) != NULL)
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
 *		Seconds to wait from a Retry-After value (seconds or HTTP date), or -1.
 */
static double
parse_retry_after(const char *value)
{
	char	   *end;
	double		secs;
	time_t		when;

	if (value[0] == '\0')
		return -1;
	secs = strtod(value, &end);
	if (end != value && *end == '\0')
		return secs < 0 ? 0 : secs;
	when = curl_getdate(value, NULL);
	if (when == (time_t) -1)
		return -1;
	secs = difftime(when, time(NULL));
	return secs < 0 ? 0 : secs;
}

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
 * fail_request
 *		Record a final failure; it is raised when the request is consumed.
 */
static void
fail_request(CallogsRequest *req, int code, char *msg, char *detail, char *hint)
{
	req->failed = true;
	req->fail_code = code;
	req->fail_msg = msg;
	req->fail_detail = detail;
	req->fail_hint = hint;
	req->state = REQ_DONE;
	callogs_session_stats.errors++;
	if (req->fetcher->stats)
		req->fetcher->stats->errors++;
}

/*
 * schedule_retry
 *		Queue another attempt after an exponential, jittered backoff, or
 *		after Retry-After (capped by retry_max_wait_ms).  Returns false when
 *		the attempts are used up.
 */
static bool
schedule_retry(CallogsRequest *req, double retry_after)
{
	const CallogsOptions *o = &req->fetcher->opts;
	double		delay_ms;

	if (req->attempts > o->max_retries)
		return false;
	if (retry_after >= 0)
		delay_ms = retry_after * 1000.0;
	else
	{
		double		base = CALLOGS_BACKOFF_BASE_MS * pow(2.0, req->attempts - 1);

		delay_ms = base / 2 + pg_prng_double(&pg_global_prng_state) * base / 2;
	}
	delay_ms = Min(delay_ms, (double) o->retry_max_wait_ms);
	release_transfer(req);
	req->state = REQ_PENDING;
	req->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) delay_ms);
	dlist_push_tail(&pending_requests, &req->pending_node);
	callogs_session_stats.retries++;
	if (req->fetcher->stats)
		req->fetcher->stats->retries++;
	return true;
}

/*
 * request_detail
 *		The DETAIL of a failed request: its path and query, and the server.
 */
static char *
request_detail(CallogsRequest *req)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "Request: GET ");
	callogs_url_path(req->url, &buf);
	appendStringInfo(&buf, " on server \"%s\".", req->fetcher->opts.server_name);
	return buf.data;
}

static char *
attempts_text(CallogsRequest *req)
{
	return req->attempts > 1 ? psprintf(" after %d attempts", req->attempts) : pstrdup("");
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
 * finish_transfer
 *		Decide what a finished attempt means: a page, the end of the pages, a
 *		retry, or a failure to report.
 */
static void
finish_transfer(CallogsRequest *req, CURLcode cres)
{
	CallogsFetcher *f = req->fetcher;
	MemoryContext oldcxt = MemoryContextSwitchTo(f->cxt);
	long		status = 0;
	double		elapsed_ms;
	char		apimsg[200];
	const char *message;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	req->status = status;
	elapsed_ms = (double) (GetCurrentTimestamp() - req->started) / 1000.0;
	callogs_session_stats.bytes += req->bytes;
	if (f->stats)
		f->stats->bytes += req->bytes;

	if (callogs_log_requests)
	{
		StringInfoData path;

		initStringInfo(&path);
		callogs_url_path(req->url, &path);
		elog(LOG, "callogs_fdw: GET %s -> %ld%s in %.1f ms, %zu bytes%s%s",
			 path.data, status, cres == CURLE_OK ? "" : " (transfer failed)",
			 elapsed_ms, req->bytes,
			 cres == CURLE_OK ? "" : ": ",
			 cres == CURLE_OK ? "" : curl_easy_strerror(cres));
		pfree(path.data);
	}

	if (req->abort_reason == ABORT_TOO_BIG || cres == CURLE_FILESIZE_EXCEEDED)
	{
		fail_request(req, ERRCODE_FDW_INVALID_STRING_LENGTH_OR_BUFFER_LENGTH,
					 psprintf("call logs API response exceeds max_response_bytes (" INT64_FORMAT " bytes)",
							  f->opts.max_response_bytes),
					 request_detail(req),
					 pstrdup("Lower page_size, or raise the server option max_response_bytes."));
	}
	else if (req->abort_reason == ABORT_BAD_JSON)
	{
		fail_request(req, ERRCODE_FDW_INVALID_STRING_FORMAT,
					 psprintf("call logs API returned invalid JSON: %s",
							  req->parser.errmsg),
					 request_detail(req), NULL);
	}
	else if (req->abort_reason == ABORT_INTERRUPT)
	{
		fail_request(req, ERRCODE_QUERY_CANCELED,
					 pstrdup("call logs API request interrupted"),
					 request_detail(req), NULL);
	}
	else if (req->abort_reason == ABORT_BLOCKED_HOST)
	{
		fail_request(req, ERRCODE_INSUFFICIENT_PRIVILEGE,
					 psprintf("server \"%s\" may not connect to this machine",
							  f->opts.server_name),
					 pstrdup("The server's url resolved to a loopback or link-local address, and the server is not owned by a superuser."),
					 pstrdup("A superuser can allow it with the setting callogs_fdw.allow_insecure_url."));
	}
	else if (cres != CURLE_OK)
	{
		if (!(curl_error_is_transient(cres) && schedule_retry(req, -1)))
		{
			const char *what = req->errbuf[0] ? req->errbuf : curl_easy_strerror(cres);

			fail_request(req,
						 cres == CURLE_PEER_FAILED_VERIFICATION ||
						 cres == CURLE_COULDNT_CONNECT ||
						 cres == CURLE_COULDNT_RESOLVE_HOST ||
						 cres == CURLE_OPERATION_TIMEDOUT ||
						 cres == CURLE_SSL_CONNECT_ERROR ?
						 ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_FDW_ERROR,
						 psprintf("call logs API request failed%s: %s",
								  attempts_text(req), what),
						 request_detail(req),
						 cres == CURLE_PEER_FAILED_VERIFICATION ?
						 pstrdup("The server's TLS certificate could not be verified: an unknown CA (set the server option ca_file to the CA that signed it) or a host name the certificate does not name (fix the url).") :
						 cres == CURLE_OPERATION_TIMEDOUT ?
						 pstrdup("Raise the server options timeout_ms, connect_timeout_ms or stall_timeout_ms if the API is slow.") :
						 NULL);
		}
	}
	else if (status >= 200 && status < 300)
	{
		req->root = cl_parser_finish(&req->parser);
		if (req->root == NULL)
			fail_request(req, ERRCODE_FDW_INVALID_STRING_FORMAT,
						 psprintf("call logs API returned invalid JSON: %s",
								  req->parser.errmsg),
						 request_detail(req), NULL);
		else
			req->state = REQ_DONE;
	}
	else if (status == 404 && req->may_be_past_end)
	{
		req->past_end = true;
		req->state = REQ_DONE;
	}
	else if ((status == 429 || status >= 500) &&
			 schedule_retry(req, parse_retry_after(req->retry_after)))
	{
		/* queued again */
	}
	else
	{
		int			code = ERRCODE_FDW_ERROR;
		char	   *hint = NULL;

		message = cl_error_message(req->body, req->body_len, apimsg, sizeof(apimsg));
		switch (status)
		{
			case 400:
				code = ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
				hint = pstrdup("The API refused a query parameter; set the table option pushdown to false to send only paging parameters.");
				break;
			case 401:
				code = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
				hint = psprintf("Check the token option of the user mapping for server \"%s\".",
								f->opts.server_name);
				break;
			case 403:
				code = ERRCODE_INSUFFICIENT_PRIVILEGE;
				hint = psprintf("Check the org_handle option (\"%s\") of server \"%s\" or its foreign table.",
								f->opts.org_handle, f->opts.server_name);
				break;
			case 404:
				code = ERRCODE_FDW_TABLE_NOT_FOUND;
				hint = psprintf("Check the url option of server \"%s\".", f->opts.server_name);
				break;
			case 429:
				hint = pstrdup("Set the server option max_requests_per_second, or raise max_retries.");
				break;
			default:
				if (status >= 300 && status < 400)
					hint = psprintf("Redirects are not followed; set the url option of server \"%s\" to the final address.",
									f->opts.server_name);
				else if (status >= 500)
					hint = pstrdup("The API failed on its side; try again later, or raise max_retries.");
				break;
		}
		fail_request(req, code,
					 psprintf("call logs API answered HTTP %ld%s%s%s%s",
							  status, http_reason(status), attempts_text(req),
							  message ? ": " : "", message ? message : ""),
					 request_detail(req), hint);
	}

	if (req->state == REQ_DONE)
		release_transfer(req);
	MemoryContextSwitchTo(oldcxt);
}

/* ---- waiting ---- */

/*
 * drive_once
 *		Start due requests, let curl work and settle finished transfers.
 *		Unless that finished `target` (or, without a target, anything), sleep
 *		at most timeout_ms until a socket is ready or a request is due.
 */
static void
drive_once(CallogsRequest *target, long timeout_ms)
{
	long		due_ms = start_due_requests();
	int			finished = process_completions();
	TimestampTz before;
	CallogsStats *s = &callogs_session_stats;

	if (timeout_ms <= 0)
		return;
	if (target ? target->state == REQ_DONE : finished > 0)
		return;
	if (due_ms >= 0 && due_ms < timeout_ms)
		timeout_ms = Max(due_ms, 1);

	before = GetCurrentTimestamp();
	pgstat_report_wait_start(callogs_wait_event());
	if (running_transfers > 0)
		curl_multi_poll(get_multi(), NULL, 0, (int) timeout_ms, NULL);
	else
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, callogs_wait_event());
		ResetLatch(MyLatch);
	}
	pgstat_report_wait_end();
	s->wait_ms += (double) (GetCurrentTimestamp() - before) / 1000.0;
	CHECK_FOR_INTERRUPTS();
}

/*
 * callogs_request_wait
 *		Drive all transfers of the backend until req is done, then raise its
 *		failure if it has one.  Returns the page (owned by req) or NULL when
 *		the page is past the last one.
 */
ClJson *
callogs_request_wait(CallogsRequest *req)
{
	TimestampTz before = GetCurrentTimestamp();

	while (req->state != REQ_DONE)
	{
		CHECK_FOR_INTERRUPTS();
		drive_once(req, CALLOGS_POLL_MS);
	}
	if (req->fetcher->stats)
		req->fetcher->stats->wait_ms += (double) (GetCurrentTimestamp() - before) / 1000.0;

	if (req->failed)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(req->fail_code),
				 errmsg_internal("%s", req->fail_msg),
				 req->fail_detail ? errdetail_internal("%s", req->fail_detail) : 0,
				 req->fail_hint ? errhint("%s", req->fail_hint) : 0));
	}
	return req->past_end ? NULL : req->root;
}

/*
 * callogs_request_ready
 *		Non-blocking: let curl work once and tell whether req is done.
 */
bool
callogs_request_ready(CallogsRequest *req)
{
	if (req->state != REQ_DONE)
		drive_once(req, 0);
	return req->state == REQ_DONE;
}

/*
 * callogs_http_wait_any
 *		Block until some transfer makes progress or timeout_ms passes.
 */
void
callogs_http_wait_any(long timeout_ms)
{
	drive_once(NULL, timeout_ms);
}

/*
 * callogs_http_add_wait_events
 *		Add the sockets curl is waiting on to an executor wait set (once per
 *		set, whichever scan asks first), for asynchronous Append.  Returns
 *		the number of sockets the set watches for us.
 */
int
callogs_http_add_wait_events(WaitEventSet *set, void *user_data)
{
	fd_set		rfds,
				wfds,
				efds;
	int			maxfd = -1;
	int			n = 0;

	if (callogs_multi == NULL)
		return 0;
	if (set == registered_set && registered_n > 0 &&
		GetNumRegisteredWaitEvents(set) >= registered_count)
		return registered_n;	/* already registered in this set */
	FD_ZERO(&rfds);
	FD_ZERO(&wfds);
	FD_ZERO(&efds);
	if (curl_multi_fdset(callogs_multi, &rfds, &wfds, &efds, &maxfd) != CURLM_OK)
		return 0;
	for (int fd = 0; fd <= maxfd; fd++)
	{
		uint32		events = 0;

		if (FD_ISSET(fd, &rfds))
			events |= WL_SOCKET_READABLE;
		if (FD_ISSET(fd, &wfds))
			events |= WL_SOCKET_WRITEABLE;
		if (events)
		{
			AddWaitEventToSet(set, events, fd, NULL, user_data);
			n++;
		}
	}
	registered_set = set;
	registered_count = GetNumRegisteredWaitEvents(set);
	registered_n = n;
	return n;
}

/*
 * callogs_http_idle_wait
 *		Nothing to wait on but timers (a backoff, a rate limit): sleep a
 *		little rather than let an asynchronous Append spin.
 */
void
callogs_http_idle_wait(void)
{
	long		due_ms = start_due_requests();

	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 due_ms >= 0 ? Min(Max(due_ms, 1), 10) : 10,
					 callogs_wait_event());
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}
