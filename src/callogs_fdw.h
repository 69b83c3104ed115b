/*-------------------------------------------------------------------------
 *
 * callogs_fdw.h
 *		  Shared declarations of the foreign data wrapper for the Call Logs
 *		  REST API.
 *
 * The extension is split by responsibility, as postgres_fdw is:
 *
 *	callogs_fdw.c	FDW callbacks (planning, execution, ANALYZE, IMPORT)
 *	option.c		option validator and the merged option set of a table
 *	deparse.c		which WHERE clauses become API query parameters
 *	scan.c			the page walker: request streams, paging, concurrency
 *	url.c			request URLs, built with libcurl's URL API
 *	http.c			the libcurl transport: retries, rate limit, cancel
 *	shmem.c			shared memory: rate table, the activity view
 *	probe.c			callogs_fdw_probe: what the provider's API does
 *	convert.c		JSON value to Datum conversion
 *	jsonpage.c		backend-independent JSON page decoding (fuzzed alone)
 *
 * IDENTIFICATION
 *		  src/callogs_fdw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CALLOGS_FDW_H
#define CALLOGS_FDW_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "jsonpage.h"

/* Limits that bound what a hostile server can make us do. */
#define CALLOGS_MAX_PAGE_SIZE		1000
#define CALLOGS_MAX_JSON_DEPTH		64
#define CALLOGS_MAX_URL_LEN			4096
#define CALLOGS_MAX_CONCURRENCY		32
#define CALLOGS_ERR_VALUE_LEN		60	/* shortened values in messages */
#define CALLOGS_API_MSG_LEN			200 /* the API's error text in messages */
#define CALLOGS_TOKEN_PREFIX_MIN	4	/* token prefixes scrubbed at a cut */
#define CALLOGS_DEFAULT_URL "https://unpod.dev/api/v2/platform/call-logs/"

/*
 * max_requests_per_second: 0 is no limit; otherwise at least
 * CALLOGS_MIN_RATE, and at least CALLOGS_USER_MIN_RATE on a server not
 * owned by a superuser (checked when set and when used: a slower rate holds
 * a slot of the shared rate table for 1/rate seconds).  Every spacing is
 * therefore at most CALLOGS_MAX_SPACING_US.
 */
#define CALLOGS_MIN_RATE			0.001
#define CALLOGS_USER_MIN_RATE		0.1
#define CALLOGS_MAX_RATE			100000.0
#define CALLOGS_MAX_SPACING_US		INT64CONST(1000000000)	/* 1 / CALLOGS_MIN_RATE */

/* The documented filter values; anything else is never sent. */
#define CALLOGS_NUM_CALL_TYPES		2
#define CALLOGS_NUM_CALL_STATUSES	3
extern const char *const callogs_call_types[];
extern const char *const callogs_call_statuses[];

typedef enum CallogsDateFormat
{
	CALLOGS_DATE_FORMAT_DATE,	/* YYYY-MM-DD, widened to a superset */
	CALLOGS_DATE_FORMAT_TIMESTAMP	/* exact ISO 8601 in UTC */
} CallogsDateFormat;

/*
 * The merged options of one foreign table, its server and the user mapping
 * of the user the scan runs as.  Table options override server options.
 */
typedef struct CallogsOptions
{
	Oid			serverid;
	Oid			userid;			/* user whose mapping is used */
	Oid			relid;			/* the foreign table, or InvalidOid */
	char	   *server_name;
	char	   *table_name;		/* NULL outside a table context */
	char	   *url;
	char	   *org_handle;		/* NULL if not set anywhere */
	char	   *token;			/* NULL if the user mapping has none */
	bool		has_user_mapping;
	bool		public_mapping; /* the mapping used is the PUBLIC one */
	int			page_size;
	int			timeout_ms;
	int			connect_timeout_ms;
	int			stall_timeout_ms;	/* abort a transfer silent this long */
	int			max_retries;
	int			retry_max_wait_ms;
	double		max_requests_per_second;	/* 0 = unlimited */
	int64		max_response_bytes;
	int			concurrency;
	bool		pushdown;
	bool		use_remote_estimate;
	bool		async_capable;	/* allow asynchronous Append */
	bool		ssl_verify;
	char	   *ca_file;
	bool		owner_superuser;	/* the server is owned by a superuser */
	bool		restrict_hosts;	/* server owner may not reach this machine */
	bool		allow_private;	/* ... but may reach private networks */
	char	   *proxy;			/* superuser-chosen proxy, or NULL: none */
	char	   *date_column;	/* "" disables date pushdown */
	bool		date_column_set;	/* given explicitly (else a default) */
	char	   *order_column;	/* rows come newest first on it; "" none */
	bool		order_column_set;	/* given explicitly (else a default) */
	CallogsDateFormat date_format;
	double		estimated_rows;	/* -1 when unset */
	int			analyze_max_pages;
} CallogsOptions;

/* in netcheck.c */
struct sockaddr;
extern bool callogs_allow_private_addresses;
extern const char *callogs_address_refused(const struct sockaddr *sa,
										   bool allow_private);
extern const char *callogs_ip_text_refused(const char *text, bool allow_private);
extern const char *callogs_host_refused(const char *host, bool allow_private);
extern bool callogs_refusal_is_private(const char *why);

/* in option.c */
extern void callogs_get_options(Oid foreigntableid, Oid userid,
								CallogsOptions *opts);
extern void callogs_get_server_options(Oid serverid, Oid userid,
									   CallogsOptions *opts);
extern void callogs_check_usable(const CallogsOptions *opts);
extern bool callogs_allow_insecure_url;

/*
 * A column of the foreign table: which JSON key feeds it and how its value
 * is converted.
 */
typedef enum CallogsConvKind
{
	CALLOGS_CONV_TEXT,			/* text, or varchar without typmod */
	CALLOGS_CONV_INT2,
	CALLOGS_CONV_INT4,
	CALLOGS_CONV_INT8,
	CALLOGS_CONV_BOOL,
	CALLOGS_CONV_TIMESTAMPTZ,
	CALLOGS_CONV_TIMESTAMP,
	CALLOGS_CONV_INTERVAL,
	CALLOGS_CONV_JSON,			/* json or jsonb: the serialized value */
	CALLOGS_CONV_GENERIC,		/* the type's input function on the text */
	CALLOGS_CONV_CONSTANT		/* virtual column: the same value each row */
} CallogsConvKind;

/* Column option field '@org_handle': the table's organization. */
#define CALLOGS_FIELD_ORG_HANDLE "@org_handle"

typedef struct CallogsColumn
{
	AttrNumber	attnum;
	char	   *attname;
	char	   *field;			/* JSON key */
	Oid			typid;
	int32		typmod;
	CallogsConvKind kind;
	FmgrInfo	infunc;
	Oid			typioparam;
	Datum		constval;		/* CALLOGS_CONV_CONSTANT */
	bool		is_string;		/* a string type: no length cap on input */
	bool		is_number;		/* a numeric type (numeric, real, double
								 * precision, a domain over one): a JSON
								 * boolean, object or array is HV004 */
	bool		same_field;		/* an earlier column has the same field */
	int			next_same;		/* next column with the same field, or -1 */
} CallogsColumn;

/* in convert.c */
extern CallogsColumn *callogs_build_columns(Relation rel, List *attnums,
											const char *org_handle,
											int *ncolumns);
extern void callogs_convert_row(ClJson *obj, CallogsColumn *columns,
								int ncolumns, const char *relname,
								Datum *values, bool *nulls);
extern char *callogs_shorten(const char *s, size_t len);
extern char *callogs_shorten_utf8(const char *s, size_t len, size_t maxlen);
extern bool callogs_timestamp_from_parts(const ClTimestamp *ts, bool at_offset,
										 Timestamp *out);

/*
 * Pushdown.  A pushed condition is a (kind, op, value) triple; the three
 * parts are kept in parallel lists, the kinds and operators as integers in
 * the plan's fdw_private, the values as the plan's fdw_exprs so that the
 * executor can evaluate Params and stable expressions at run time.
 */
typedef enum CallogsCondKind
{
	CALLOGS_COND_CALL_TYPE,
	CALLOGS_COND_CALL_STATUS,
	CALLOGS_COND_DATE
} CallogsCondKind;

typedef enum CallogsCondOp
{
	CALLOGS_OP_EQ,				/* scalar = */
	CALLOGS_OP_ANY,				/* = ANY(array) */
	CALLOGS_OP_LT,
	CALLOGS_OP_LE,
	CALLOGS_OP_GT,
	CALLOGS_OP_GE
} CallogsCondOp;

typedef struct CallogsConds
{
	List	   *kinds;			/* IntList of CallogsCondKind */
	List	   *ops;			/* IntList of CallogsCondOp */
	List	   *exprs;			/* the value side of each condition */
} CallogsConds;

/*
 * The filters of one scan once the condition values are known.  The date
 * bounds are instants that every row satisfying the query's date
 * conditions lies within (already widened for UTC offsets).  For EXPLAIN
 * of a plan whose values are known only at execution, a call_type or
 * call_status value can be a placeholder ("$1", "(runtime)") and a date
 * bound "(runtime)".
 */
typedef struct CallogsFilter
{
	bool		empty;			/* contradiction: send no request */
	int			ntypes;			/* 0 = no call_type filter */
	const char *types[CALLOGS_NUM_CALL_TYPES];
	bool		types_verbatim; /* types[0] is a placeholder */
	int			nstatuses;		/* 0 = no call_status filter */
	const char *statuses[CALLOGS_NUM_CALL_STATUSES];
	bool		statuses_verbatim;	/* statuses[0] is a placeholder */
	bool		has_lower;
	TimestampTz lower;
	bool		lower_inclusive;
	bool		has_upper;
	TimestampTz upper;
	bool		upper_inclusive;
	bool		lower_runtime;	/* a lower bound known only at execution */
	bool		upper_runtime;
	bool		inexact;		/* a call_type/call_status value is not
								 * documented: it is not sent (a local filter
								 * only), so "count" does not answer it */
} CallogsFilter;

/* in deparse.c */
extern void callogs_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
										const CallogsOptions *opts,
										CallogsConds *conds, bool *all_exact,
										List **inexact);
extern AttrNumber callogs_field_column(Relation rel, const char *field);
extern void callogs_compute_filter(const CallogsConds *conds, List *values,
								   Oid date_typid, CallogsFilter *filter);
extern int	callogs_filter_nstreams(const CallogsFilter *filter);
extern List *callogs_stream_params(const CallogsFilter *filter,
								   CallogsDateFormat fmt, int stream);
extern Oid	callogs_date_column_type(Relation rel, const CallogsOptions *opts,
									 AttrNumber *attnum);
extern char *callogs_format_instant(TimestampTz t, CallogsDateFormat fmt);

/* in url.c */
typedef struct CallogsUrlParam
{
	const char *name;
	const char *value;
	bool		verbatim;		/* an EXPLAIN placeholder: not encoded */
} CallogsUrlParam;

extern List *callogs_url_param(List *params, const char *name,
							   const char *value, bool verbatim);
extern char *callogs_url_build(const char *base_url, List *params);
extern const char *callogs_url_path(const char *url, StringInfo buf);
extern char *callogs_url_follow(const char *base_url, const char *stream_url,
								const char *link, size_t len, const char **why);
extern bool callogs_url_is_page_link(const char *stream_url, const char *link,
									 int page);
extern bool callogs_url_is_page_number_link(const char *stream_url,
											 const char *link);
extern char *callogs_url_fix_path(const char *url, bool *no_path);
extern void callogs_url_check_base(const char *url, const char *server_name);

/* in http.c */
typedef struct CallogsFetcher CallogsFetcher;
typedef struct CallogsRequest CallogsRequest;

typedef struct CallogsStats
{
	int64		requests;		/* HTTP requests sent, retries included */
	int64		retries;
	int64		pages;			/* pages decoded */
	int64		rows;			/* rows received */
	int64		bytes;			/* body bytes received (decoded) */
	int64		errors;
	double		wait_ms;		/* time spent waiting on the API */
	int64		peak_memory;	/* most bytes of pages held at once (scan) */
} CallogsStats;

extern CallogsStats callogs_session_stats;
extern bool callogs_log_requests;
extern char *callogs_debug_fail_start;
extern int	callogs_max_page_memory;
extern int	callogs_max_transfers;

extern void callogs_http_init(void);
extern CallogsFetcher *callogs_fetcher_create(MemoryContext cxt,
											  const CallogsOptions *opts,
											  CallogsStats *stats);
/* callogs_request_submit flags */
#define CALLOGS_REQ_404_PAST_END	0x01	/* a 404 may mean "no such page" */
#define CALLOGS_REQ_CLIENT_ERROR_OK	0x02	/* hand back a 400 or 404 (probe) */

extern CallogsRequest *callogs_request_submit(CallogsFetcher *fetcher,
											  const char *url, int stream,
											  int page, int flags);
extern ClJson *callogs_request_wait(CallogsRequest *req);
extern bool callogs_request_ready(CallogsRequest *req);
extern long callogs_request_status(CallogsRequest *req);
extern const char *callogs_request_api_message(CallogsRequest *req);
extern void callogs_request_release(CallogsRequest *req);
extern void callogs_fetcher_cancel_all(CallogsFetcher *fetcher);
extern uint64 callogs_http_settled(void);
extern int	callogs_http_wait_fd(MemoryContext cxt);
extern void callogs_http_short_wait(long timeout_ms);
extern int	callogs_request_stream(CallogsRequest *req);
extern int	callogs_request_page(CallogsRequest *req);
extern char *callogs_scrub_secrets(const char *text);
extern char *callogs_scrub_secrets_len(const char *text, size_t len,
									   size_t *outlen);
extern size_t callogs_secret_tail(const char *text, size_t len);

/* in shmem.c */

/*
 * One backend's activity, in shared memory (preloaded only), for the view
 * callogs_fdw_activity: its scans in progress and its transport's state.
 * Written only by its backend, between two increments of changecount; read
 * with callogs_activity_read.
 */
#define CALLOGS_ACTIVITY_SCANS		16	/* scans shown per backend */
#define CALLOGS_ACTIVITY_NAME_LEN	(2 * NAMEDATALEN + 8)	/* "schema"."table" */

typedef struct CallogsActivityScan
{
	bool		in_use;
	Oid			serverid;
	Oid			relid;
	char		server[NAMEDATALEN];
	char		table[CALLOGS_ACTIVITY_NAME_LEN];	/* quoted, qualified */
	TimestampTz started;
	int			streams;		/* request streams of the scan */
	int			streams_known;	/* streams whose first page arrived */
	int64		pages_done;		/* pages read */
	int64		pages_known;	/* pages "count" implies for those streams */
	int64		rows;			/* rows received from the API */
} CallogsActivityScan;

typedef struct CallogsActivity
{
	uint32		changecount;	/* odd while being written */
	int			pid;			/* 0: never used, or its backend exited */
	Oid			dbid;
	Oid			userid;			/* the session's user */
	TimestampTz statement_start;	/* counters below are this statement's */
	/* the transport's part */
	int			requests_in_flight;
	int64		retries;
	TimestampTz retry_wait_until;	/* waiting out a Retry-After until, or 0 */
	/* the scans in progress */
	CallogsActivityScan scans[CALLOGS_ACTIVITY_SCANS];
} CallogsActivity;

extern int	callogs_rate_limit_servers;
extern void callogs_shmem_init(void);
extern bool callogs_shmem_available(void);
extern int64 callogs_rate_reserve(Oid serverid, double per_second, TimestampTz now);
extern void callogs_rate_warn(void);
extern void callogs_activity_transport(int in_flight, int retry_delta,
									   TimestampTz retry_after_until);
extern bool callogs_activity_read(int i, CallogsActivity *out);
extern int	callogs_activity_scan_begin(const CallogsOptions *opts, int streams);
extern void callogs_activity_scan_progress(int slot, int streams_known,
										   int64 pages_done, int64 pages_known,
										   int64 rows);
extern void callogs_activity_scan_end(int slot);

/* in scan.c */
typedef struct CallogsScan CallogsScan;

/* How a scan asked for its pages after the first (EXPLAIN ANALYZE VERBOSE). */
typedef struct CallogsPaging
{
	int64		pages_by_number;	/* asked for by page number */
	int64		pages_by_link;	/* asked for by following a "next" link */
	int64		links_checked;	/* "next" links found to be the next page */
	int64		fallbacks;		/* streams that went on by following links */
} CallogsPaging;

extern int	callogs_scan_page_size(const CallogsOptions *opts, double limit_rows,
								   bool count_only);
extern char *callogs_stream_url(const CallogsOptions *opts,
								const CallogsFilter *filter, int stream,
								int page_size);
extern CallogsScan *callogs_scan_create(MemoryContext cxt,
										const CallogsOptions *opts,
										const CallogsFilter *filter,
										double limit_rows, bool count_only,
										CallogsStats *stats);
extern ClJson *callogs_scan_next(CallogsScan *scan, bool *would_block);
extern int64 callogs_scan_count(CallogsScan *scan);
extern int64 callogs_scan_counts(CallogsScan *scan, int64 *counts);
extern void callogs_scan_paging(CallogsScan *scan, CallogsPaging *paging);
extern void callogs_scan_end(CallogsScan *scan);
extern void callogs_scan_set_max_pages(CallogsScan *scan, int max_pages);
extern void callogs_scan_set_order(CallogsScan *scan, const char *field,
								   const char *colname, const char *relname);
extern int64 callogs_scan_reported_count(CallogsScan *scan);

#endif							/* CALLOGS_FDW_H */
