/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		  Shared memory of callogs_fdw: request spacing per server across
 *		  backends (max_requests_per_second), and one activity slot per
 *		  backend for watching scans from other sessions.
 *
 * Shared memory exists only when the library is in shared_preload_libraries
 * (PostgreSQL reserves it at postmaster start: shmem_request_hook, then
 * shmem_startup_hook).  Then
 *
 *	- a fixed table of callogs_fdw.rate_limit_servers slots, one per
 *	  (database, server) with max_requests_per_second, under one LWLock,
 *	  holds the start of the server's last request; the next may start
 *	  1/rate later, with the rate of the options in force when it asks (a
 *	  raised rate takes effect at once: issue 10 round 3, finding 3).  Every
 *	  backend reserves its request's moment there, so the rate holds for the
 *	  server as a whole, however many sessions use it.  A slot whose moment
 *	  (the last start plus the spacing it was reserved with) has passed
 *	  constrains nothing and is reused for another server.  When
 *	  every slot is still running (more servers rate limited at this moment
 *	  than slots), a request never waits for another server's slot (another
 *	  role's, maybe: issue 10 round 2, finding 3): its server is spaced by
 *	  the backend's own table until a slot frees up, and the backend warns
 *	  once (callogs_rate_warn).  Nothing is overwritten; a slot is held at
 *	  most 1/rate seconds, at most 10 s for servers not owned by a
 *	  superuser (the option's floor, option.c).
 *	- an array of CallogsActivity, one per backend, written only by its
 *	  backend (a change counter lets readers take consistent copies, as
 *	  PgBackendStatus does), read by other sessions through the view
 *	  callogs_fdw_activity (callogs_fdw_activity()): each backend's scans
 *	  in progress (server, table, pages done of pages known, rows) and its
 *	  transport's requests in flight, retries and Retry-After wait.
 *
 * Without preloading, the table lives in the backend's own memory (grown
 * as needed, so it is never full): requests are spaced per backend (N
 * sessions may send N times the rate), and there are no activity slots:
 * the view shows nothing and says why.  The README says so.
 *
 * IDENTIFICATION
 *		  src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "callogs_fdw.h"

#define CALLOGS_SHMEM_NAME		"callogs_fdw"
#define CALLOGS_LOCAL_RATE_MIN	16	/* first size of the backend's table */

/* callogs_fdw.rate_limit_servers: slots of the shared rate table */
int			callogs_rate_limit_servers = 128;

/*
 * One server's spacing: the start of its last request, from which the rate
 * in force (the options of the query asking) gives the next allowed start,
 * so that raising max_requests_per_second takes effect at once (issue 10
 * round 3, finding 3); and until when the slot is held, for reuse.
 */
typedef struct CallogsRateSlot
{
	Oid			dbid;			/* InvalidOid: free */
	Oid			serverid;
	TimestampTz last_start;		/* 0: none yet */
	TimestampTz next_start;		/* held until then (last_start + spacing) */
	bool		warned;			/* backend's table: the fallback was reported */
} CallogsRateSlot;

typedef struct CallogsShared
{
	LWLock	   *lock;			/* protects rate[] */
	int			nrate;
	int			nactivity;
	CallogsActivity *activity;	/* nactivity slots, after rate[] */
	CallogsRateSlot rate[FLEXIBLE_ARRAY_MEMBER];
} CallogsShared;

static CallogsShared *shared = NULL;
/* The backend's own rate table (TopMemoryContext), grown when full. */
static CallogsRateSlot *local_rate = NULL;
static int	local_nrate = 0;

/* A server whose requests fell back to the backend's table, not yet reported. */
static Oid	rate_warn_server = InvalidOid;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * shared_size
 *		Bytes of the shared struct: the rate table, then one activity slot
 *		per backend (MaxBackends is known by the time the hooks run).
 */
static Size
shared_size(void)
{
	Size		size = offsetof(CallogsShared, rate);

	size = add_size(size, mul_size(callogs_rate_limit_servers, sizeof(CallogsRateSlot)));
	size = MAXALIGN(size);
	size = add_size(size, mul_size(MaxBackends, sizeof(CallogsActivity)));
	return size;
}

/*
 * callogs_shmem_request
 *		shmem_request_hook: reserve our memory and one LWLock.
 */
static void
callogs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche(CALLOGS_SHMEM_NAME, 1);
}

/*
 * callogs_shmem_startup
 *		shmem_startup_hook: find (or, first, initialize) our struct.
 */
static void
callogs_shmem_startup(void)
{
	bool		found;
	CallogsShared *s;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	s = ShmemInitStruct(CALLOGS_SHMEM_NAME, shared_size(), &found);
	if (!found)
	{
		memset(s, 0, shared_size());
		s->lock = &(GetNamedLWLockTranche(CALLOGS_SHMEM_NAME))->lock;
		s->nrate = callogs_rate_limit_servers;
		s->nactivity = MaxBackends;
	}
	s->activity = (CallogsActivity *)
		((char *) s + MAXALIGN(offsetof(CallogsShared, rate) +
							   sizeof(CallogsRateSlot) * s->nrate));
	LWLockRelease(AddinShmemInitLock);
	shared = s;
}

/*
 * callogs_shmem_init
 *		From _PG_init: when the library is being preloaded (the only time
 *		shared memory can be had), define the size setting and install the
 *		hooks.  Otherwise the rate table is the backend's own, and the
 *		setting is defined all the same, as a placeholder that does nothing
 *		(PGC_SIGHUP: PostgreSQL allows a PGC_POSTMASTER setting only at
 *		postmaster start): a value that ALTER SYSTEM stored while the library
 *		was preloaded is then kept quietly, instead of being removed with a
 *		WARNING in every session that loads the library
 *		(MarkGUCPrefixReserved, issue 14).
 */
void
callogs_shmem_init(void)
{
	static int	unused_rate_limit_servers = 128;

	/* a PGC_POSTMASTER setting may only be defined at postmaster start */
	if (!process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("callogs_fdw.rate_limit_servers",
								"Servers whose max_requests_per_second is kept in shared memory at the same time (no effect: callogs_fdw is not in shared_preload_libraries).",
								"Takes effect when callogs_fdw is in shared_preload_libraries, at server start.",
								&unused_rate_limit_servers,
								128, 1, 100000,
								PGC_SIGHUP,
								0,
								NULL, NULL, NULL);
		return;
	}
	DefineCustomIntVariable("callogs_fdw.rate_limit_servers",
							"Servers whose max_requests_per_second is kept in shared memory at the same time.",
							"When more servers are rate limited at the same moment, the others are spaced per session until a slot frees up (with a WARNING).",
							&callogs_rate_limit_servers,
							128, 1, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = callogs_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = callogs_shmem_startup;
}

/*
 * callogs_shmem_available
 *		Whether the shared table and activity slots exist (preloaded).
 */
bool
callogs_shmem_available(void)
{
	return shared != NULL;
}

/*
 * find_slot
 *		The slot of (this database, serverid) in a table of n slots, else a
 *		free one or one whose moment has passed (it constrains nothing), set
 *		up for the server with no reservation; NULL when every slot is held
 *		by another server until later.
 */
static CallogsRateSlot *
find_slot(CallogsRateSlot *slots, int n, Oid serverid, TimestampTz now)
{
	CallogsRateSlot *reusable = NULL;

	for (int i = 0; i < n; i++)
	{
		CallogsRateSlot *s = &slots[i];

		if (s->dbid == MyDatabaseId && s->serverid == serverid)
			return s;
		if (reusable == NULL && (s->dbid == InvalidOid || s->next_start <= now))
			reusable = s;
	}
	if (reusable != NULL)
	{
		reusable->dbid = MyDatabaseId;
		reusable->serverid = serverid;
		reusable->last_start = 0;
		reusable->next_start = 0;
		reusable->warned = false;
	}
	return reusable;
}

/*
 * reserve_slot
 *		Reserve the start of one request on a server's slot: returns the
 *		microseconds to wait (0: reserved, start now).  The next start is
 *		due spacing (of the rate in force now, not of the rate the last
 *		request was sent at) after the last one: a raised rate takes effect
 *		at once, a lowered one too.  last_elsewhere is the last start the
 *		server had in the other table, so that moving between tables never
 *		starts two requests closer than the spacing.
 */
static int64
reserve_slot(CallogsRateSlot *slot, int64 spacing, TimestampTz now,
			 TimestampTz last_elsewhere)
{
	TimestampTz last = Max(slot->last_start, last_elsewhere);

	if (last > 0 && last + spacing > now)
	{
		/* held until then (a lowered rate holds it longer) */
		slot->next_start = Max(slot->next_start, last + spacing);
		return last + spacing - now;
	}
	slot->last_start = now;
	slot->next_start = now + spacing;
	return 0;
}

/*
 * local_slot
 *		The server's slot in the backend's own table, which grows (doubling,
 *		in TopMemoryContext) rather than ever being full.  NULL only when
 *		memory for a larger table cannot be had (never raises: see
 *		callogs_rate_reserve).
 */
static CallogsRateSlot *
local_slot(Oid serverid, TimestampTz now)
{
	CallogsRateSlot *slot = NULL;
	CallogsRateSlot *grown;
	int			n;

	if (local_rate != NULL)
		slot = find_slot(local_rate, local_nrate, serverid, now);
	if (slot != NULL)
		return slot;
	n = local_nrate == 0 ? CALLOGS_LOCAL_RATE_MIN : local_nrate * 2;
	grown = MemoryContextAllocExtended(TopMemoryContext, sizeof(CallogsRateSlot) * n,
									   MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO);
	if (grown == NULL)
		return NULL;
	if (local_rate != NULL)
	{
		memcpy(grown, local_rate, sizeof(CallogsRateSlot) * local_nrate);
		pfree(local_rate);
	}
	local_rate = grown;
	local_nrate = n;
	return find_slot(local_rate, local_nrate, serverid, now);
}

/* The last start the backend's table holds for a server, or 0. */
static TimestampTz
local_last_start(Oid serverid)
{
	for (int i = 0; i < local_nrate; i++)
		if (local_rate[i].dbid == MyDatabaseId && local_rate[i].serverid == serverid)
			return local_rate[i].last_start;
	return 0;
}

/*
 * rate_spacing_us
 *		Microseconds between two request starts at per_second, computed in
 *		double and clamped before it becomes an integer: never more than
 *		CALLOGS_MAX_SPACING_US (the slowest rate the options allow), so that
 *		a value below it (set before the floor existed) neither overflows
 *		nor turns the limit off; at least 1.
 */
static int64
rate_spacing_us(double per_second)
{
	double		spacing = 1000000.0 / per_second;

	if (!(spacing < (double) CALLOGS_MAX_SPACING_US))
		return CALLOGS_MAX_SPACING_US;	/* also +inf and NaN */
	return Max((int64) spacing, 1);
}

/*
 * callogs_rate_reserve
 *		max_requests_per_second for a server: reserve the start of one
 *		request now, or return how many ms to wait before asking again (an
 *		int64: the caller clamps it before it reaches a wait).  Across
 *		backends when preloaded, per backend otherwise, and per backend
 *		while the shared table has no slot for the server (never waiting
 *		for another server's slot; callogs_rate_warn reports it).  Never
 *		raises: called while driving the transport for any scan.
 */
int64
callogs_rate_reserve(Oid serverid, double per_second, TimestampTz now)
{
	int64		spacing;
	int64		wait_us = -1;
	CallogsRateSlot *slot;

	if (!(per_second > 0))
		return 0;
	spacing = rate_spacing_us(per_second);
	if (shared)
	{
		TimestampTz before = local_last_start(serverid);

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		slot = find_slot(shared->rate, shared->nrate, serverid, now);
		if (slot != NULL)
			wait_us = reserve_slot(slot, spacing, now, before);
		LWLockRelease(shared->lock);
		if (slot != NULL)
			return wait_us > 0 ? (wait_us + 999) / 1000 : 0;
	}

	/* not preloaded, or the shared table is full: the backend's own */
	slot = local_slot(serverid, now);
	if (slot == NULL)
		return 100;				/* out of memory: ask again a little later */
	if (shared && !slot->warned)
	{
		slot->warned = true;
		rate_warn_server = serverid;
	}
	wait_us = reserve_slot(slot, spacing, now, 0);
	return wait_us > 0 ? (wait_us + 999) / 1000 : 0;
}

/*
 * callogs_rate_warn
 *		Report, once per server and backend, that a server's requests fell
 *		back to per-session spacing because every slot of the shared table
 *		was held (callogs_rate_reserve cannot raise anything itself).  Called
 *		where a WARNING may be raised: when a request is waited on.
 */
void
callogs_rate_warn(void)
{
	ForeignServer *server;
	Oid			serverid = rate_warn_server;

	if (!OidIsValid(serverid))
		return;
	rate_warn_server = InvalidOid;
	server = GetForeignServerExtended(serverid, FSV_MISSING_OK);
	ereport(WARNING,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("callogs_fdw.rate_limit_servers is full: requests to server \"%s\" are spaced by this session alone",
					server ? server->servername : "?"),
			 errdetail("All %d slots of the shared rate table are held by other servers; until one frees up, other sessions' requests to this server are not counted, so the API may see its max_requests_per_second times the number of sessions using it.",
					   shared ? shared->nrate : 0),
			 errhint("Raise callogs_fdw.rate_limit_servers (takes effect at the next server restart).")));
}

/* ---- activity slots ---- */

/*
 * Writers bracket their changes with these, as PgBackendStatus's
 * PGSTAT_BEGIN_WRITE_ACTIVITY does: an odd counter means "being written".
 */
#define ACTIVITY_BEGIN_WRITE(a) \
	do { (a)->changecount++; pg_write_barrier(); } while (0)
#define ACTIVITY_END_WRITE(a) \
	do { pg_write_barrier(); (a)->changecount++; } while (0)

static CallogsActivity *my_slot = NULL; /* once claimed by this backend */

/*
 * activity_exit
 *		on_shmem_exit: the backend is leaving; its slot shows nothing more
 *		(its scans may not have ended if it exits in the middle of one).
 */
static void
activity_exit(int code, Datum arg)
{
	CallogsActivity *a = my_slot;

	if (a == NULL)
		return;
	ACTIVITY_BEGIN_WRITE(a);
	a->pid = 0;
	for (int i = 0; i < CALLOGS_ACTIVITY_SCANS; i++)
		a->scans[i].in_use = false;
	ACTIVITY_END_WRITE(a);
	my_slot = NULL;
}

/*
 * my_activity
 *		This backend's activity slot, or NULL (not preloaded, or a process
 *		without a backend id).  The first use claims it: whatever a backend
 *		that had the same id left there is cleared, and the slot is cleared
 *		again when this backend exits.
 */
static CallogsActivity *
my_activity(void)
{
	int			i = callogs_my_backend_index();
	CallogsActivity *a;

	if (my_slot != NULL)
		return my_slot;
	if (shared == NULL || i < 0 || i >= shared->nactivity)
		return NULL;
	a = &shared->activity[i];
	ACTIVITY_BEGIN_WRITE(a);
	a->pid = MyProcPid;
	a->dbid = MyDatabaseId;
	a->userid = GetSessionUserId();
	a->statement_start = 0;
	a->requests_in_flight = 0;
	a->retries = 0;
	a->retry_wait_until = 0;
	for (int j = 0; j < CALLOGS_ACTIVITY_SCANS; j++)
		a->scans[j].in_use = false;
	ACTIVITY_END_WRITE(a);
	on_shmem_exit(activity_exit, (Datum) 0);
	my_slot = a;
	return a;
}

/*
 * activity_for_statement
 *		The slot, with the counters of an earlier statement cleared, or NULL
 *		while no scan of this backend has claimed it: the transport calls
 *		this while settling any request, where nothing may raise an error,
 *		so it never claims the slot itself (callogs_activity_scan_begin
 *		does, where an error is allowed).
 */
static CallogsActivity *
activity_for_statement(void)
{
	CallogsActivity *a = my_slot;
	TimestampTz stmt = GetCurrentStatementStartTimestamp();

	if (a && a->statement_start != stmt)
	{
		ACTIVITY_BEGIN_WRITE(a);
		a->statement_start = stmt;
		a->requests_in_flight = 0;
		a->retries = 0;
		a->retry_wait_until = 0;
		ACTIVITY_END_WRITE(a);
	}
	return a;
}

/*
 * callogs_activity_transport
 *		The transport's part of this backend's activity: requests in flight
 *		now, retries in this statement, and, when a Retry-After is being
 *		waited out, until when (the latest such moment of the statement;
 *		-1 leaves it as it is).  retry_delta adds to the retries.
 */
void
callogs_activity_transport(int in_flight, int retry_delta,
						   TimestampTz retry_after_until)
{
	CallogsActivity *a = activity_for_statement();

	if (a == NULL)
		return;
	ACTIVITY_BEGIN_WRITE(a);
	a->requests_in_flight = in_flight;
	a->retries += retry_delta;
	if (retry_after_until > a->retry_wait_until)
		a->retry_wait_until = retry_after_until;
	ACTIVITY_END_WRITE(a);
}

/*
 * callogs_activity_read
 *		A consistent copy of backend slot i (0-based), for the activity
 *		view; false when there is no such slot or no backend uses it.
 */
bool
callogs_activity_read(int i, CallogsActivity *out)
{
	volatile CallogsActivity *a;

	if (shared == NULL || i < 0 || i >= shared->nactivity)
		return false;
	a = &shared->activity[i];
	for (;;)
	{
		uint32		before = a->changecount;

		pg_read_barrier();
		memcpy(out, (const void *) a, sizeof(CallogsActivity));
		pg_read_barrier();
		if (before == a->changecount && (before & 1) == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return out->pid != 0;
}

/* ---- the scans of a backend ---- */

/*
 * callogs_activity_scan_begin
 *		A scan of opts's table starts: take a free scan entry of this
 *		backend's slot and name the server and table there.  Returns the
 *		entry, or -1 (not preloaded, or CALLOGS_ACTIVITY_SCANS scans in
 *		progress already: the view does not show this one).
 */
int
callogs_activity_scan_begin(const CallogsOptions *opts, int streams)
{
	CallogsActivity *a = my_activity();
	CallogsActivityScan *e;
	char	   *table = NULL;
	int			slot = -1;

	if (a == NULL)
		return -1;
	for (int i = 0; i < CALLOGS_ACTIVITY_SCANS && slot < 0; i++)
		if (!a->scans[i].in_use)
			slot = i;
	if (slot < 0)
		return -1;
	if (OidIsValid(opts->relid))
	{
		char	   *nsp = get_namespace_name(get_rel_namespace(opts->relid));
		char	   *rel = get_rel_name(opts->relid);

		if (nsp && rel)
			table = quote_qualified_identifier(nsp, rel);
	}
	e = &a->scans[slot];
	ACTIVITY_BEGIN_WRITE(a);
	e->in_use = true;
	e->serverid = opts->serverid;
	e->relid = opts->relid;
	snprintf(e->server, sizeof(e->server), "%s", opts->server_name ? opts->server_name : "");
	snprintf(e->table, sizeof(e->table), "%s", table ? table : "");
	e->started = GetCurrentTimestamp();
	e->streams = streams;
	e->streams_known = 0;
	e->pages_done = 0;
	e->pages_known = 0;
	e->rows = 0;
	ACTIVITY_END_WRITE(a);
	return slot;
}

/*
 * callogs_activity_scan_progress
 *		A scan's progress: streams whose first page arrived, pages read,
 *		pages that the API's "count" implies for those streams, rows
 *		received.  Only stores: called for every page.
 */
void
callogs_activity_scan_progress(int slot, int streams_known, int64 pages_done,
							   int64 pages_known, int64 rows)
{
	CallogsActivity *a = my_slot;
	CallogsActivityScan *e;

	if (a == NULL || slot < 0)
		return;
	e = &a->scans[slot];
	ACTIVITY_BEGIN_WRITE(a);
	e->streams_known = streams_known;
	e->pages_done = pages_done;
	e->pages_known = pages_known;
	e->rows = rows;
	ACTIVITY_END_WRITE(a);
}

/*
 * callogs_activity_scan_end
 *		The scan ended (or its memory was freed by an ERROR): free its entry.
 */
void
callogs_activity_scan_end(int slot)
{
	CallogsActivity *a = my_slot;

	if (a == NULL || slot < 0)
		return;
	ACTIVITY_BEGIN_WRITE(a);
	a->scans[slot].in_use = false;
	ACTIVITY_END_WRITE(a);
}

PG_FUNCTION_INFO_V1(callogs_fdw_activity);

/*
 * callogs_fdw_activity
 *		One row per scan in progress in any backend (the view
 *		callogs_fdw_activity): pid, user, database, server, table, start,
 *		streams, pages done and known, rows, and the backend's requests in
 *		flight, retries in its statement and Retry-After wait.  As
 *		pg_stat_activity does, the details of another role's scans are shown
 *		only to members of that role or of pg_read_all_stats (NULL
 *		otherwise).  Without shared memory (the library not in
 *		shared_preload_libraries) there are no rows, and a NOTICE says why.
 */
Datum
callogs_fdw_activity(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	TimestampTz now = GetCurrentTimestamp();
	CallogsActivity *a;

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (shared == NULL)
	{
		ereport(NOTICE,
				(errmsg("callogs_fdw_activity shows nothing: callogs_fdw is not in shared_preload_libraries"),
				 errhint("Add callogs_fdw to shared_preload_libraries and restart the server; callogs_fdw_stats() shows this session's own requests without it.")));
		return (Datum) 0;
	}
	a = palloc(sizeof(CallogsActivity));
	for (int b = 0; b < shared->nactivity; b++)
	{
		bool		visible;
		char	   *user;
		char	   *db;

		CHECK_FOR_INTERRUPTS();
		if (!callogs_activity_read(b, a))
			continue;
		visible = has_privs_of_role(GetUserId(), a->userid) ||
			has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
		user = GetUserNameFromId(a->userid, true);
		db = get_database_name(a->dbid);
		for (int i = 0; i < CALLOGS_ACTIVITY_SCANS; i++)
		{
			CallogsActivityScan *e = &a->scans[i];
			Datum		values[15];
			bool		nulls[15];

			if (!e->in_use)
				continue;
			memset(nulls, !visible, sizeof(nulls));
			values[0] = Int32GetDatum(a->pid);
			nulls[0] = false;
			values[1] = CStringGetTextDatum(user ? user : "?");
			nulls[1] = user == NULL;
			values[2] = CStringGetTextDatum(db ? db : "?");
			nulls[2] = db == NULL;
			values[3] = CStringGetTextDatum(e->server);
			values[4] = CStringGetTextDatum(e->table);
			if (e->table[0] == '\0')
				nulls[4] = true;
			values[5] = TimestampTzGetDatum(e->started);
			values[6] = Int32GetDatum(e->streams);
			values[7] = Int32GetDatum(e->streams_known);
			values[8] = Int64GetDatum(e->pages_done);
			values[9] = Int64GetDatum(e->pages_known);
			if (e->streams_known == 0)
				nulls[9] = true;	/* no first page yet: nothing known */
			values[10] = Int64GetDatum(e->rows);
			values[11] = Int32GetDatum(a->requests_in_flight);
			values[12] = Int64GetDatum(a->retries);
			values[13] = BoolGetDatum(a->retry_wait_until > now);
			values[14] = TimestampTzGetDatum(a->retry_wait_until);
			if (a->retry_wait_until <= now)
				nulls[14] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	pfree(a);
	return (Datum) 0;
}
