/*-------------------------------------------------------------------------
 *
 * callogs_fdw.c
 *		  Foreign-data wrapper callbacks for the Call Logs REST API.
 *
 * Planning: restriction clauses on call_type, call_status and the date
 * column become API query parameters (deparse.c); every clause is still
 * checked locally.  A LIMIT over an unfiltered single-table scan lowers
 * page_size and stops fetching, and count(*) over fully pushed, exact
 * conditions is answered from the API's "count" with one request per
 * stream.  Costs charge a network round trip per page.
 *
 * Execution: the page walker (scan.c) produces call-log objects, which
 * convert.c turns into virtual tuples.  When the node may be rescanned
 * (EXEC_FLAG_REWIND) the rows are kept in a tuplestore and replayed while
 * the parameters stay the same.  EXPLAIN shows the requests without
 * sending any.
 *
 * IDENTIFICATION
 *		  src/callogs_fdw.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_am.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "commands/vacuum.h"
#include "executor/execAsync.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "executor/tuptable.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "storage/latch.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"
#include "utils/tuplestore.h"

#include "callogs_fdw.h"

PG_MODULE_MAGIC;

/* Cost of one page: a network round trip dwarfs any local work. */
#define CALLOGS_PAGE_COST		1000.0
#define CALLOGS_DEFAULT_ROWS	10000.0

/* Bound on the rows a LIMIT makes a scan fetch per row it asks for. */
#define CALLOGS_MAX_FETCH_FACTOR	10000.0

/*
 * fdw_private of a ForeignScan plan, by position.  The condition values
 * themselves are the plan's fdw_exprs, parallel to the kinds and operators;
 * when a LIMIT bounds the fetch, its count and offset expressions follow
 * them in fdw_exprs.  The foreign table is the range table entry's
 * relation (for an upper relation, the one base relation of fs_relids).
 */
enum FdwScanPrivateIndex
{
	FdwScanPrivateCondKinds,	/* IntList: CallogsCondKind per condition */
	FdwScanPrivateCondOps,		/* IntList: CallogsCondOp per condition */
	FdwScanPrivateAttrs,		/* IntList: attnums the query uses */
	FdwScanPrivateLimit,		/* Float: rows fetched per row the LIMIT
								 * asks for; -1: no LIMIT bounds the fetch */
	FdwScanPrivateCountOnly,	/* Boolean: answered from "count" */
	FdwScanPrivateOutputs,		/* IntList: CallogsOutput per fdw_scan_tlist
								 * entry of a count answered by "count" */
	FdwScanPrivateOrder			/* IntList: (attnum, nulls first, NULLs
								 * dropped by a local filter) of the order
								 * the plan relies on, or NIL */
};

/*
 * What a column of a count answered from "count" holds (an upper relation:
 * count(*) with or without GROUP BY call_type / call_status).
 */
typedef enum CallogsOutput
{
	CALLOGS_OUT_COUNT,			/* the group's count(*) */
	CALLOGS_OUT_CALL_TYPE,		/* the group's call_type */
	CALLOGS_OUT_CALL_STATUS		/* the group's call_status */
} CallogsOutput;

/* Planner state of a base or upper relation (RelOptInfo.fdw_private). */
typedef struct CallogsRelInfo
{
	Oid			relid;
	CallogsOptions opts;
	CallogsConds conds;			/* the pushed conditions */
	bool		all_exact;		/* the API's count is the exact answer */
	bool		countable;		/* every clause is a pushed call_type or
								 * call_status condition: "count" answers it
								 * when the values are documented */
	List	   *inexact;		/* clauses the API does not apply exactly */
	List	   *attrs_used;
	double		limit_rows;		/* rows a LIMIT needs fetched, for costs */
	double		fetch_factor;	/* rows fetched per row the filters pass */
	double		streams;		/* estimated request streams */
	double		fetched_rows;	/* rows the API is expected to return */
	AttrNumber	order_att;		/* the scan delivers this column newest
								 * first (0: no usable order) */
	AttrNumber	type_att;		/* column fed by "call_type" (0: none) */
	AttrNumber	status_att;		/* column fed by "call_status" (0: none) */
	/* an upper relation: count(*) [GROUP BY call_type, call_status] */
	bool		group_type;
	bool		group_status;
	List	   *scan_tlist;		/* fdw_scan_tlist */
	List	   *outputs;		/* CallogsOutput per scan_tlist entry */
	List	   *having;			/* HAVING, checked on the grouped rows */
} CallogsRelInfo;

/* One row of a count answered from "count". */
typedef struct CallogsGroup
{
	const char *type;			/* NULL unless grouped by call_type */
	const char *status;			/* NULL unless grouped by call_status */
	int64		count;
} CallogsGroup;

/* Executor state of a scan (ForeignScanState.fdw_state). */
typedef struct CallogsScanState
{
	Oid			relid;
	char	   *relname;
	CallogsOptions opts;
	CallogsConds conds;			/* kinds, ops and value expressions */
	List	   *cond_states;	/* ExprStates of the condition values */
	List	   *cond_values;	/* their Consts in this execution */
	Oid			date_typid;
	bool		count_only;
	List	   *outputs;		/* count_only: CallogsOutput per column */
	bool		group_type;		/* count_only: GROUP BY call_type */
	bool		group_status;	/* count_only: GROUP BY call_status */
	AttrNumber	type_att;
	AttrNumber	status_att;
	CallogsGroup *groups;		/* count_only: the rows to return */
	int			ngroups;
	int			next_group;
	bool		count_local;	/* count_only: counted row by row (a value
								 * the API does not document) */
	double		limit_factor;	/* -1: no LIMIT bounds the fetch */
	ExprState  *limit_count;	/* the LIMIT's count and offset */
	ExprState  *limit_offset;
	double		limit_rows;		/* rows this execution expects to need */
	int			page_size;		/* what the scan asks for (also EXPLAIN);
								 * 0: known only at execution */
	AttrNumber	order_att;		/* order checked as rows arrive (0: none) */
	bool		order_nulls_first;	/* the placement of NULLs claimed */
	bool		order_nulls_dropped;	/* a local filter drops NULLs */
	bool		order_started;	/* a row was checked in this execution */
	TimestampTz order_prev;
	int64		order_rows;		/* rows checked in this execution */
	CallogsColumn *columns;
	int			ncolumns;
	int			natts;			/* attributes of the foreign table */
	TupleDesc	tupdesc;		/* the foreign table's row type */
	MemoryContext scan_cxt;		/* the remote scan; reset on rescan */
	CallogsScan *scan;
	CallogsFilter filter;
	bool		filter_ready;
	bool		remote_done;
	bool		count_returned;
	Tuplestorestate *store;		/* rows kept for rescans, or NULL */
	TupleTableSlot *replay_slot;	/* minimal-tuple slot to read the store */
	bool		store_eof;		/* read pointer has passed the stored rows */
	bool		async;			/* run by an asynchronous Append */
	bool		would_block;	/* async: the next page is still in transit */
	bool		async_fd_made;	/* async: async_fd was asked for */
	int			async_fd;		/* async: our wait descriptor, or -1 */
	CallogsStats stats;			/* for EXPLAIN ANALYZE */
	CallogsPaging paging;		/* of the scans already ended */
	int			executions;
} CallogsScanState;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(callogs_fdw_handler);
PG_FUNCTION_INFO_V1(callogs_fdw_stats);
PG_FUNCTION_INFO_V1(callogs_fdw_stats_reset);

/*
 * _PG_init
 *		Load-time setup: GUCs and libcurl.
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("callogs_fdw.log_requests",
							 "Logs every Call Logs API request (never the token).",
							 "Each request line is logged with its HTTP status, time and size.",
							 &callogs_log_requests,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("callogs_fdw.allow_insecure_url",
							 "Lets servers not owned by a superuser use http:// or loopback urls.",
							 NULL,
							 &callogs_allow_insecure_url,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("callogs_fdw.allow_private_addresses",
							 "Lets servers not owned by a superuser reach private networks.",
							 "10/8, 172.16/12, 192.168/16, 100.64/10, IPv6 unique-local fc00::/7 and site-local fec0::/10; this machine, link-local addresses and cloud metadata services stay refused.",
							 &callogs_allow_private_addresses,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("callogs_fdw.max_page_memory",
							"Memory for API pages held or being parsed, per backend.",
							"A page arriving past it fails its query (SQLSTATE 53400).",
							&callogs_max_page_memory,
							256 * 1024, 1024, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("callogs_fdw.max_transfers",
							"HTTP transfers a backend runs at once, across all its scans.",
							"Further requests wait in the backend's queue; libcurl keeps at most as many connections, idle ones included.",
							&callogs_max_transfers,
							32, 1, 256,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("callogs_fdw.debug_fail_request_start",
							   "Testing aid: requests whose URL contains this text fail to start.",
							   "As if libcurl could not create a handle; for tests only.",
							   &callogs_debug_fail_start,
							   "",
							   PGC_SUSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	callogs_shmem_init();
	MarkGUCPrefixReserved("callogs_fdw");
	callogs_http_init();
}

/* ---- planning ---- */

/*
 * estimate_rows
 *		Rows before local filtering: ANALYZE's count, the estimated_rows
 *		option, or a constant, reduced for each pushed condition.
 */
static double
estimate_rows(PlannerInfo *root, RelOptInfo *baserel, CallogsRelInfo *fpinfo)
{
	double		rows;
	ListCell   *lck,
			   *lco;

	if (fpinfo->opts.estimated_rows >= 0)
		rows = fpinfo->opts.estimated_rows;
	else if (baserel->tuples > 0)
		rows = baserel->tuples;
	else
		rows = CALLOGS_DEFAULT_ROWS;

	fpinfo->streams = 1;
	forboth(lck, fpinfo->conds.kinds, lco, fpinfo->conds.ops)
	{
		CallogsCondKind kind = (CallogsCondKind) lfirst_int(lck);
		CallogsCondOp op = (CallogsCondOp) lfirst_int(lco);

		switch (kind)
		{
			case CALLOGS_COND_CALL_TYPE:
				rows *= 1.0 / CALLOGS_NUM_CALL_TYPES;
				break;
			case CALLOGS_COND_CALL_STATUS:
				rows *= 1.0 / CALLOGS_NUM_CALL_STATUSES;
				break;
			case CALLOGS_COND_DATE:
				rows *= (op == CALLOGS_OP_EQ) ? 0.01 : 0.3;
				break;
		}
		if (op == CALLOGS_OP_ANY)
		{
			rows *= 2;
			fpinfo->streams *= 2;
		}
	}
	return clamp_row_est(rows);
}

/*
 * remote_count
 *		use_remote_estimate: ask the API for "count" with one page_size=1
 *		request per stream, using the conditions known at plan time.
 */
static double
remote_count(CallogsRelInfo *fpinfo, Oid date_typid)
{
	CallogsConds known = {NIL, NIL, NIL};
	ListCell   *lck,
			   *lco,
			   *lcv;
	CallogsFilter filter;
	MemoryContext cxt;
	MemoryContext oldcxt;
	CallogsScan *scan;
	int64		count;

	forthree(lck, fpinfo->conds.kinds, lco, fpinfo->conds.ops, lcv, fpinfo->conds.exprs)
	{
		if (!IsA(lfirst(lcv), Const))
			continue;
		known.kinds = lappend_int(known.kinds, lfirst_int(lck));
		known.ops = lappend_int(known.ops, lfirst_int(lco));
		known.exprs = lappend(known.exprs, lfirst(lcv));
	}
	callogs_check_usable(&fpinfo->opts);
	callogs_compute_filter(&known, known.exprs, date_typid, &filter);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "callogs_fdw estimate",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	scan = callogs_scan_create(cxt, &fpinfo->opts, &filter, -1, true, NULL);
	count = callogs_scan_count(scan);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return (double) count;
}

/*
 * timestamptz_btree_opfamily
 *		The btree operator family that orders timestamptz values (cached).
 */
static Oid
timestamptz_btree_opfamily(void)
{
	static Oid	opf = InvalidOid;

	if (!OidIsValid(opf))
		opf = get_opclass_family(GetDefaultOpClass(TIMESTAMPTZOID, BTREE_AM_OID));
	return opf;
}

/*
 * order_column_att
 *		The column named by the table option order_column, on which the API
 *		answers newest first, or InvalidAttrNumber when the scan cannot
 *		promise an order: the option is '', or the default column
 *		(creation_time) is missing or not a timestamptz.  Only a timestamptz
 *		column is ordered like the API's instants: a timestamp or date
 *		column holds the wall-clock time as written, whose order is not the
 *		instants' when rows carry different UTC offsets (API.md, question 7).
 *		An explicit order_column that does not fit is an error: SQLSTATE
 *		HV007 (no such column) or HV004 (not a timestamptz).
 */
static AttrNumber
order_column_att(Relation rel, const CallogsOptions *opts)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	if (opts->order_column == NULL || opts->order_column[0] == '\0')
		return InvalidAttrNumber;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), opts->order_column) != 0)
			continue;
		if (att->atttypid == TIMESTAMPTZOID)
			return att->attnum;
		if (!opts->order_column_set)
			return InvalidAttrNumber;	/* the default does not fit: no order */
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("order_column \"%s\" of foreign table \"%s\" must be of type timestamp with time zone",
						opts->order_column, RelationGetRelationName(rel)),
				 errdetail("Only instants are ordered as the API orders its rows; the wall-clock times of a timestamp or date column are not when rows carry different UTC offsets."),
				 errhint("Declare the column as timestamptz, or set the table option order_column to '' to sort locally.")));
	}
	if (!opts->order_column_set)
		return InvalidAttrNumber;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
			 errmsg("order_column \"%s\" is not a column of foreign table \"%s\"",
					opts->order_column, RelationGetRelationName(rel)),
			 errhint("Set the table option order_column to the column the API returns newest first, or to '' if the API has no usable order.")));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/*
 * known_filter
 *		The filter of the pushed conditions whose values are plan-time
 *		constants (those known only at execution are left out), computed by
 *		the executor's own callogs_compute_filter: what every execution
 *		sends at least, and whether a constant is a value the API does not
 *		document (filter->inexact: a local filter only).
 */
static void
known_filter(CallogsRelInfo *fpinfo, CallogsFilter *filter)
{
	CallogsConds known = {NIL, NIL, NIL};
	ListCell   *lck,
			   *lco,
			   *lcv;

	forthree(lck, fpinfo->conds.kinds, lco, fpinfo->conds.ops, lcv, fpinfo->conds.exprs)
	{
		if (!IsA(lfirst(lcv), Const))
			continue;
		known.kinds = lappend_int(known.kinds, lfirst_int(lck));
		known.ops = lappend_int(known.ops, lfirst_int(lco));
		known.exprs = lappend(known.exprs, lfirst(lcv));
	}
	callogs_compute_filter(&known, known.exprs, InvalidOid, filter);
}

/*
 * one_stream
 *		Whether every execution of the scan is at most one request stream, so
 *		that its rows come in the API's order: no = ANY whose array is known
 *		only at execution, and at most one value per column among the
 *		constants (IN lists fan out into one stream per value, read one
 *		after another, which breaks the order).  An equality whose value is
 *		known only at execution does not narrow the constants down: its
 *		value may turn out undocumented ('Missed', 'busy'), and then stays
 *		a local filter, leaving an IN list's streams as they are.
 */
static bool
one_stream(CallogsRelInfo *fpinfo)
{
	CallogsFilter filter;
	ListCell   *lco,
			   *lcv;

	forboth(lco, fpinfo->conds.ops, lcv, fpinfo->conds.exprs)
		if (!IsA(lfirst(lcv), Const) && lfirst_int(lco) == CALLOGS_OP_ANY)
			return false;
	known_filter(fpinfo, &filter);
	return callogs_filter_nstreams(&filter) <= 1;
}

/*
 * fetch_factor
 *		How many rows the API is expected to return for each row that passes
 *		the clauses it does not apply exactly (1 when it applies them all):
 *		a LIMIT of n fetches about n times this many rows ahead.
 */
static double
fetch_factor(PlannerInfo *root, CallogsRelInfo *fpinfo)
{
	Selectivity sel;

	if (fpinfo->inexact == NIL)
		return 1.0;
	sel = clauselist_selectivity(root, fpinfo->inexact, 0, JOIN_INNER, NULL);
	if (sel <= 1.0 / CALLOGS_MAX_FETCH_FACTOR)
		return CALLOGS_MAX_FETCH_FACTOR;
	return Max(1.0, 1.0 / sel);
}

/*
 * callogsGetForeignRelSize
 *		Merge the options, classify the conditions and estimate the rows.
 */
static void
callogsGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
						 Oid foreigntableid)
{
	CallogsRelInfo *fpinfo = palloc0(sizeof(CallogsRelInfo));
	Oid			userid = callogs_planner_userid(root, baserel);
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	double		rows;
	Relation	rel;
	AttrNumber	date_att;
	Oid			date_typid;

	baserel->fdw_private = fpinfo;
	fpinfo->relid = foreigntableid;
	callogs_get_options(foreigntableid, userid, &fpinfo->opts);
	/* a url the scan cannot send is refused by EXPLAIN too */
	callogs_url_check_base(fpinfo->opts.url, fpinfo->opts.server_name);
	callogs_classify_conditions(root, baserel, &fpinfo->opts,
								&fpinfo->conds, &fpinfo->all_exact,
								&fpinfo->inexact);

	rel = table_open(foreigntableid, NoLock);
	fpinfo->type_att = callogs_field_column(rel, "call_type");
	fpinfo->status_att = callogs_field_column(rel, "call_status");
	/*
	 * pushdown 'false' trusts the API with paging only: not its default
	 * order either (an order_column given explicitly is still relied on)
	 */
	fpinfo->order_att = fpinfo->opts.pushdown || fpinfo->opts.order_column_set ?
		order_column_att(rel, &fpinfo->opts) : InvalidAttrNumber;
	date_typid = fpinfo->opts.pushdown ?
		callogs_date_column_type(rel, &fpinfo->opts, &date_att) : InvalidOid;
	table_close(rel, NoLock);

	/*
	 * count(*) is answered from "count" when every clause is a pushed
	 * call_type/call_status condition, or when there is no clause at all.
	 * A constant the API does not document ('busy') is never sent, so
	 * "count" cannot answer it: no count path then (the plan shows the
	 * row-by-row scan it executes).  A value known only at execution is
	 * checked then: if undocumented, the rows are counted one by one.
	 */
	fpinfo->countable = fpinfo->opts.pushdown ?
		list_length(fpinfo->conds.kinds) == list_length(baserel->baserestrictinfo) &&
		!list_member_int(fpinfo->conds.kinds, CALLOGS_COND_DATE) :
		baserel->baserestrictinfo == NIL;
	if (fpinfo->countable && fpinfo->conds.kinds != NIL)
	{
		CallogsFilter known;

		known_filter(fpinfo, &known);
		if (known.inexact)
			fpinfo->countable = false;
	}

	/* the order holds only within one request stream */
	if (fpinfo->order_att != InvalidAttrNumber && !one_stream(fpinfo))
		fpinfo->order_att = InvalidAttrNumber;

	/* the columns the query reads: convert only those */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   baserel->relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
		fpinfo->attrs_used = NIL;	/* whole row: all columns */
	else
	{
		int			i = -1;

		while ((i = bms_next_member(attrs, i)) >= 0)
		{
			AttrNumber	attno = i + FirstLowInvalidHeapAttributeNumber;

			if (attno > 0)
				fpinfo->attrs_used = lappend_int(fpinfo->attrs_used, attno);
		}
		if (fpinfo->attrs_used == NIL)
			fpinfo->attrs_used = list_make1_int(-1);	/* no column at all */
	}

	/*
	 * Rows a literal LIMIT makes the scan fetch, for the costs (whether
	 * the LIMIT bounds the fetch is decided per path, see limit_applies).
	 */
	fpinfo->fetch_factor = fetch_factor(root, fpinfo);
	fpinfo->limit_rows = root->limit_tuples > 0 ?
		root->limit_tuples * fpinfo->fetch_factor : -1;

	rows = estimate_rows(root, baserel, fpinfo);
	if (fpinfo->opts.use_remote_estimate)
		rows = clamp_row_est(remote_count(fpinfo, date_typid));
	fpinfo->fetched_rows = rows;

	/* what remains after the local re-check of every clause */
	if (baserel->tuples > 0 && !fpinfo->opts.use_remote_estimate)
		baserel->rows = clamp_row_est(baserel->tuples *
									  clauselist_selectivity(root, baserel->baserestrictinfo,
															 0, JOIN_INNER, NULL));
	else
		baserel->rows = rows;
}

/*
 * limit_value_ok
 *		Whether a LIMIT or OFFSET expression can be evaluated by the scan
 *		when it starts: a constant or an expression of query parameters
 *		($1 of a generic plan), nothing volatile, no column, no sub-select
 *		(PARAM_EXEC), no aggregate.
 */
static bool
limit_value_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return ((Param *) node)->paramkind != PARAM_EXTERN;
	if (IsA(node, Var) || IsA(node, SubPlan) || IsA(node, AlternativeSubPlan) ||
		IsA(node, SubLink) || IsA(node, Aggref) || IsA(node, WindowFunc) ||
		IsA(node, PlaceHolderVar))
		return true;
	return expression_tree_walker(node, limit_value_walker, context);
}

static bool
limit_value_ok(Node *expr)
{
	return expr != NULL &&
		!limit_value_walker(expr, NULL) &&
		!contain_volatile_functions(expr);
}

/*
 * limit_applies
 *		Whether the query's LIMIT bounds what a scan of rel with these
 *		pathkeys must fetch: the LIMIT sits right above the scan (one table,
 *		no grouping, aggregate, DISTINCT, window or set-returning function,
 *		no row locks) and nothing is sorted in between: no ORDER BY, or one
 *		the scan's order already satisfies.  Local filters may remain: the
 *		fetch is bounded by their selectivity (fetch_factor), and the scan
 *		fetches on, without bound, when more rows are asked for than that.
 *		A LIMIT given as a parameter ($1 of a generic plan) counts as well:
 *		its value is read when the scan starts.  Not for an ORDER BY whose
 *		first key only the scan satisfies: an incremental sort and a full
 *		sort above the same path cannot be told apart here.
 */
static bool
limit_applies(PlannerInfo *root, RelOptInfo *rel, List *pathkeys)
{
	Query	   *parse = root->parse;

	if (parse->limitCount == NULL ||
		!limit_value_ok(parse->limitCount) ||
		(parse->limitOffset != NULL && !limit_value_ok(parse->limitOffset)))
		return false;
	if (parse->groupClause || parse->groupingSets || parse->distinctClause ||
		parse->hasAggs || parse->hasWindowFuncs || parse->hasTargetSRFs ||
		root->hasHavingQual || parse->rowMarks != NIL || parse->setOperations)
		return false;
	if (bms_membership(root->all_baserels) != BMS_SINGLETON || root->hasJoinRTEs)
		return false;
	if (parse->sortClause != NIL &&
		!pathkeys_contained_in(root->sort_pathkeys, pathkeys))
		return false;
	return true;
}

/*
 * scan_costs
 *		One round trip per page; pages of a stream beyond the first overlap
 *		`concurrency` at a time.  A LIMIT that bounds the fetch of these
 *		pathkeys caps the rows fetched.
 */
static void
scan_costs(PlannerInfo *root, RelOptInfo *baserel, CallogsRelInfo *fpinfo,
		   List *pathkeys, double rows, Cost *startup, Cost *total)
{
	double		fetched = rows;
	double		pages;

	if (fpinfo->limit_rows > 0 && limit_applies(root, baserel, pathkeys))
		fetched = Min(fetched, fpinfo->limit_rows);
	pages = Max(1.0, ceil(fetched / fpinfo->opts.page_size)) * fpinfo->streams;
	*startup = CALLOGS_PAGE_COST;
	*total = *startup +
		(pages - 1) * CALLOGS_PAGE_COST / Max(1, fpinfo->opts.concurrency) +
		fetched * (cpu_tuple_cost * 10);
}

/*
 * ec_has_column
 *		Whether the equivalence class has a member that is column attno of
 *		rel (postgres_fdw's find_em_for_rel, for one plain column).
 */
static bool
ec_has_column(EquivalenceClass *ec, RelOptInfo *rel, AttrNumber attno)
{
	ListCell   *lc;

	foreach(lc, callogs_ec_members(ec, rel))
	{
		EquivalenceMember *em = (EquivalenceMember *) lfirst(lc);
		Expr	   *e = em->em_expr;

		while (e && IsA(e, RelabelType))
			e = ((RelabelType *) e)->arg;
		if (bms_equal(em->em_relids, rel->relids) && e && IsA(e, Var) &&
			((Var *) e)->varno == (int) rel->relid &&
			((Var *) e)->varattno == attno &&
			((Var *) e)->varlevelsup == 0)
			return true;
	}
	return false;
}

/*
 * order_pathkey_ok
 *		Whether the scan of baserel can deliver the order of pathkey: the
 *		order column descending, as the API answers.  NULLS FIRST and LAST
 *		alike: every row has a value (check_order raises an error for one
 *		that has none, unless a local filter drops it).
 */
static bool
order_pathkey_ok(PathKey *pk, RelOptInfo *baserel, CallogsRelInfo *fpinfo)
{
	EquivalenceClass *ec = pk->pk_eclass;

	return callogs_pathkey_is_desc(pk) &&
		pk->pk_opfamily == timestamptz_btree_opfamily() &&
		!ec->ec_has_const && !ec->ec_has_volatile &&
		ec_has_column(ec, baserel, fpinfo->order_att);
}

/*
 * order_pathkeys
 *		The orders a scan of baserel offers, each as a pathkeys list of one
 *		key on the order column, descending, found as postgres_fdw's
 *		get_useful_pathkeys_for_relation finds them: the first key of the
 *		query's pathkeys (ORDER BY, a window's ORDER BY, GROUP BY) when it
 *		asks for that order, and, for merge joins, the equivalence classes
 *		of merge-joinable join clauses on the column (NULLS FIRST and
 *		NULLS LAST: a merge join may use either).  An order of no use is
 *		not offered: it would be checked for nothing.
 */
static List *
order_pathkeys(PlannerInfo *root, RelOptInfo *baserel, CallogsRelInfo *fpinfo)
{
	List	   *ecs = NIL;
	List	   *result = NIL;
	Oid			opfamily = timestamptz_btree_opfamily();
	ListCell   *lc;

	if (fpinfo->order_att == InvalidAttrNumber)
		return NIL;

	if (root->query_pathkeys != NIL &&
		order_pathkey_ok((PathKey *) linitial(root->query_pathkeys), baserel, fpinfo))
		result = lappend(result, list_make1(linitial(root->query_pathkeys)));

	if (baserel->has_eclass_joins)
	{
		foreach(lc, root->eq_classes)
		{
			EquivalenceClass *ec = (EquivalenceClass *) lfirst(lc);

			if (eclass_useful_for_merging(root, ec, baserel))
				ecs = list_append_unique_ptr(ecs, ec);
		}
	}
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = (RestrictInfo *) lfirst(lc);

		if (ri->mergeopfamilies == NIL)
			continue;
		update_mergeclause_eclasses(root, ri);
		if (bms_overlap(baserel->relids, ri->right_ec->ec_relids))
			ecs = list_append_unique_ptr(ecs, ri->right_ec);
		else if (bms_overlap(baserel->relids, ri->left_ec->ec_relids))
			ecs = list_append_unique_ptr(ecs, ri->left_ec);
	}
	foreach(lc, ecs)
	{
		EquivalenceClass *ec = (EquivalenceClass *) lfirst(lc);

		if (!list_member_oid(ec->ec_opfamilies, opfamily))
			continue;
		for (int nulls_first = 1; nulls_first >= 0; nulls_first--)
		{
			PathKey    *pk = callogs_make_desc_pathkey(root, ec, opfamily,
													   nulls_first);
			List	   *pathkeys = list_make1(pk);

			if (order_pathkey_ok(pk, baserel, fpinfo) &&
				!list_member(result, pathkeys))
				result = lappend(result, pathkeys);
		}
	}
	return result;
}

/*
 * callogsGetForeignPaths
 *		An unordered path, and a path for each order the API's newest-first
 *		answer gives that the query or a merge join can use.  No
 *		parameterized path: the API cannot join.
 */
static void
callogsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	CallogsRelInfo *fpinfo = (CallogsRelInfo *) baserel->fdw_private;
	Cost		startup,
				total;
	ListCell   *lc;

	scan_costs(root, baserel, fpinfo, NIL, fpinfo->fetched_rows, &startup, &total);
	total += baserel->baserestrictinfo ? baserel->rows * cpu_operator_cost : 0;
	add_path(baserel, (Path *)
			 callogs_create_foreignscan_path(root, baserel, NULL, baserel->rows,
											 startup, total, NIL, NULL, NULL, NIL));

	foreach(lc, order_pathkeys(root, baserel, fpinfo))
	{
		List	   *pathkeys = (List *) lfirst(lc);

		scan_costs(root, baserel, fpinfo, pathkeys, fpinfo->fetched_rows,
				   &startup, &total);
		total += baserel->baserestrictinfo ? baserel->rows * cpu_operator_cost : 0;
		/* the order check: where the order is of no use, the plain path wins */
		total += fpinfo->fetched_rows * cpu_operator_cost;
		add_path(baserel, (Path *)
				 callogs_create_foreignscan_path(root, baserel, NULL, baserel->rows,
												 startup, total, pathkeys,
												 NULL, NULL, NIL));
	}
}

/*
 * drops_nulls
 *		Whether one of the clauses is false or NULL when column attno of
 *		relation relid is NULL: IS NOT NULL, or a strict operator on the
 *		column itself (creation_time > x), so that rows without a value
 *		never pass the local filter.
 */
static bool
drops_nulls(List *clauses, Index relid, AttrNumber attno)
{
	ListCell   *lc;

	foreach(lc, clauses)
	{
		Node	   *clause = (Node *) lfirst(lc);
		List	   *args;
		ListCell   *la;

		if (IsA(clause, NullTest) && ((NullTest *) clause)->nulltesttype == IS_NOT_NULL &&
			!((NullTest *) clause)->argisrow)
			args = list_make1(((NullTest *) clause)->arg);
		else if (IsA(clause, OpExpr) && op_strict(((OpExpr *) clause)->opno))
			args = ((OpExpr *) clause)->args;
		else
			continue;
		foreach(la, args)
		{
			Node	   *arg = (Node *) lfirst(la);

			while (arg && IsA(arg, RelabelType))
				arg = (Node *) ((RelabelType *) arg)->arg;
			if (arg && IsA(arg, Var) && ((Var *) arg)->varno == (int) relid &&
				((Var *) arg)->varattno == attno && ((Var *) arg)->varlevelsup == 0)
				return true;
		}
	}
	return false;
}

/*
 * callogsGetForeignPlan
 *		Build the ForeignScan: every clause stays a local filter, the pushed
 *		condition values become fdw_exprs, followed by the LIMIT's count and
 *		offset when they bound the fetch.  A path with pathkeys relies on the
 *		API's order, which the scan checks as rows arrive.  For an upper
 *		relation (a count answered from "count") the scan's tuples are the
 *		groups: fdw_scan_tlist holds their columns and counts, HAVING is
 *		the scan's local filter.
 */
static ForeignScan *
callogsGetForeignPlan(PlannerInfo *root, RelOptInfo *foreignrel,
					  Oid foreigntableid, ForeignPath *best_path,
					  List *tlist, List *scan_clauses, Plan *outer_plan)
{
	CallogsRelInfo *fpinfo = (CallogsRelInfo *) foreignrel->fdw_private;
	List	   *fdw_private;
	List	   *fdw_exprs = list_copy(fpinfo->conds.exprs);
	List	   *fdw_scan_tlist = NIL;
	List	   *attrs = fpinfo->attrs_used;
	List	   *order = NIL;
	Index		scan_relid;
	bool		count_only = false;
	double		factor = -1;

	if (IS_UPPER_REL(foreignrel))
	{
		scan_relid = 0;
		count_only = true;
		fdw_scan_tlist = fpinfo->scan_tlist;
		scan_clauses = fpinfo->having;
	}
	else
	{
		scan_relid = foreignrel->relid;
		scan_clauses = extract_actual_clauses(scan_clauses, false);

		if (best_path->path.pathkeys != NIL)
		{
			PathKey    *pk = (PathKey *) linitial(best_path->path.pathkeys);

			order = list_make3_int(fpinfo->order_att, pk->pk_nulls_first,
								   drops_nulls(scan_clauses, scan_relid,
											   fpinfo->order_att));
			/* the order column is converted, to be checked */
			if (attrs != NIL)
			{
				attrs = list_delete_int(list_copy(attrs), -1);
				attrs = list_append_unique_int(attrs, fpinfo->order_att);
			}
		}
		if (limit_applies(root, foreignrel, best_path->path.pathkeys))
		{
			Query	   *parse = root->parse;

			factor = fpinfo->fetch_factor;
			fdw_exprs = lappend(fdw_exprs, copyObject(parse->limitCount));
			fdw_exprs = lappend(fdw_exprs, parse->limitOffset ?
								(Node *) copyObject(parse->limitOffset) :
								(Node *) makeConst(INT8OID, -1, InvalidOid, sizeof(int64),
										  Int64GetDatum(0), false, FLOAT8PASSBYVAL));
		}
	}

	fdw_private = list_make5(fpinfo->conds.kinds,
							 fpinfo->conds.ops,
							 attrs,
							 makeFloat(psprintf("%.17g", factor)),
							 makeBoolean(count_only));
	fdw_private = lappend(fdw_private, fpinfo->outputs);
	fdw_private = lappend(fdw_private, order);

	return make_foreignscan(tlist, scan_clauses, scan_relid,
							fdw_exprs, fdw_private,
							fdw_scan_tlist, NIL, outer_plan);
}

/*
 * count_aggref_ok
 *		Whether an aggregate is count(*), or count() of a non-null constant
 *		or of a grouped column (never null in a group of documented
 *		values), so that each group's value is its count.
 */
static bool
count_aggref_ok(Aggref *agg, RelOptInfo *input_rel, List *group_atts)
{
	TargetEntry *tle;
	Node	   *arg;

	if (agg->aggfilter || agg->aggdistinct || agg->aggorder ||
		agg->aggsplit != AGGSPLIT_SIMPLE || agg->agglevelsup != 0 ||
		agg->aggkind != AGGKIND_NORMAL)
		return false;
	if (agg->aggfnoid == F_COUNT_ && agg->aggstar)
		return true;
	if (agg->aggfnoid != F_COUNT_ANY || list_length(agg->args) != 1)
		return false;
	tle = linitial_node(TargetEntry, agg->args);
	arg = (Node *) tle->expr;
	while (arg && IsA(arg, RelabelType))
		arg = (Node *) ((RelabelType *) arg)->arg;
	if (IsA(arg, Const))
		return !((Const *) arg)->constisnull;
	return IsA(arg, Var) && ((Var *) arg)->varno == (int) input_rel->relid &&
		((Var *) arg)->varlevelsup == 0 &&
		list_member_int(group_atts, ((Var *) arg)->varattno);
}

/*
 * count_expr_ok
 *		Whether an output or HAVING expression of the grouping can be
 *		computed from the groups: its columns are grouped columns and its
 *		aggregates counts (count_aggref_ok); nothing else (no sub-select,
 *		window function or placeholder).  Adds what the scan must produce
 *		to *tlist.
 */
static bool
count_expr_ok(Node *expr, RelOptInfo *input_rel, List *group_atts, List **tlist)
{
	List	   *pieces;
	ListCell   *lc;

	if (contain_subplans(expr))
		return false;
	pieces = pull_var_clause(expr, PVC_INCLUDE_AGGREGATES |
							 PVC_INCLUDE_WINDOWFUNCS | PVC_INCLUDE_PLACEHOLDERS);
	foreach(lc, pieces)
	{
		Node	   *n = (Node *) lfirst(lc);

		if (IsA(n, Var))
		{
			Var		   *v = (Var *) n;

			if (v->varno != (int) input_rel->relid || v->varlevelsup != 0 ||
				!list_member_int(group_atts, v->varattno))
				return false;
		}
		else if (!IsA(n, Aggref) ||
				 !count_aggref_ok((Aggref *) n, input_rel, group_atts))
			return false;
	}
	*tlist = add_to_flat_tlist(*tlist, pieces);
	return true;
}

/*
 * group_column_ok
 *		Whether a GROUP BY item is a plain text (or unconstrained varchar)
 *		column fed by "call_type" or "call_status", grouped with text
 *		equality.  Returns its attnum, or InvalidAttrNumber.
 */
static AttrNumber
group_column_ok(PlannerInfo *root, RelOptInfo *input_rel, CallogsRelInfo *fpinfo,
				SortGroupClause *sgc)
{
	Node	   *expr = get_sortgroupclause_expr(sgc, root->parse->targetList);
	Var		   *var;

	while (expr && IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	if (expr == NULL || !IsA(expr, Var) || sgc->eqop != TextEqualOperator)
		return InvalidAttrNumber;
	var = (Var *) expr;
	if (var->varno != (int) input_rel->relid || var->varlevelsup != 0 ||
		!(var->vartype == TEXTOID || (var->vartype == VARCHAROID && var->vartypmod < 0)))
		return InvalidAttrNumber;
	if (var->varattno != InvalidAttrNumber &&
		(var->varattno == fpinfo->type_att || var->varattno == fpinfo->status_att))
		return var->varattno;
	return InvalidAttrNumber;
}

/*
 * callogsGetForeignUpperPaths
 *		count(*) answered by the API's "count", as postgres_fdw pushes
 *		aggregates (add_foreign_grouping_paths):
 *
 *		- without GROUP BY: one page_size=1 request per stream, when every
 *		  clause is a pushed call_type/call_status condition (countable);
 *		- GROUP BY call_type and/or call_status: one page_size=1 request per
 *		  combination of the grouped values (the documented ones, or those
 *		  the conditions allow; at most 6), when every condition is pushed
 *		  exactly with documented constants (all_exact); groups with no
 *		  rows are left out, as SQL would.  The API documents the values
 *		  (it refuses others), so every row is in one of these groups.
 *
 *		The outputs may be the grouped columns, count(*) (or count of a
 *		grouped column or a constant) and expressions of these; HAVING of
 *		the same is checked on the groups.  Anything else stays local.
 */
static void
callogsGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
							RelOptInfo *input_rel, RelOptInfo *output_rel,
							void *extra)
{
	CallogsRelInfo *fpinfo = (CallogsRelInfo *) input_rel->fdw_private;
	Query	   *parse = root->parse;
	PathTarget *target = output_rel->reltarget;
	List	   *group_atts = NIL;
	List	   *tlist = NIL;
	List	   *having = NIL;
	List	   *outputs = NIL;
	ListCell   *lc;
	CallogsRelInfo *upper;
	double		groups = 1;

	if (stage != UPPERREL_GROUP_AGG || fpinfo == NULL ||
		input_rel->reloptkind != RELOPT_BASEREL || output_rel->fdw_private)
		return;
	if (parse->groupingSets || parse->hasWindowFuncs || parse->hasTargetSRFs ||
		(!parse->hasAggs && parse->groupClause == NIL))
		return;
	if (parse->groupClause == NIL ? !fpinfo->countable :
		!(fpinfo->all_exact && fpinfo->opts.pushdown))
		return;

	foreach(lc, parse->groupClause)
	{
		AttrNumber	att = group_column_ok(root, input_rel, fpinfo,
										  lfirst_node(SortGroupClause, lc));

		if (att == InvalidAttrNumber)
			return;
		group_atts = list_append_unique_int(group_atts, att);
	}

	if (target == NULL || target->exprs == NIL)
		return;
	foreach(lc, target->exprs)
		if (!count_expr_ok((Node *) lfirst(lc), input_rel, group_atts, &tlist))
			return;
	if (extra && ((GroupPathExtraData *) extra)->havingQual)
	{
		having = (List *) ((GroupPathExtraData *) extra)->havingQual;
		foreach(lc, having)
			if (!count_expr_ok((Node *) lfirst(lc), input_rel, group_atts, &tlist))
				return;
	}

	foreach(lc, tlist)
	{
		Node	   *e = (Node *) lfirst_node(TargetEntry, lc)->expr;

		if (IsA(e, Aggref))
			outputs = lappend_int(outputs, CALLOGS_OUT_COUNT);
		else if (((Var *) e)->varattno == fpinfo->type_att)
			outputs = lappend_int(outputs, CALLOGS_OUT_CALL_TYPE);
		else
			outputs = lappend_int(outputs, CALLOGS_OUT_CALL_STATUS);
	}

	upper = palloc(sizeof(CallogsRelInfo));
	*upper = *fpinfo;
	upper->group_type = list_member_int(group_atts, fpinfo->type_att);
	upper->group_status = list_member_int(group_atts, fpinfo->status_att);
	upper->scan_tlist = tlist;
	upper->outputs = outputs;
	upper->having = having;
	if (upper->group_type)
		groups *= CALLOGS_NUM_CALL_TYPES;
	if (upper->group_status)
		groups *= CALLOGS_NUM_CALL_STATUSES;
	output_rel->fdw_private = upper;
	add_path(output_rel, (Path *)
			 callogs_create_foreign_upper_path(root, output_rel, target, groups,
											   CALLOGS_PAGE_COST,
											   CALLOGS_PAGE_COST + groups,
											   NIL, NULL, NIL));
}

/* ---- execution ---- */

/* limit_rows of a LIMIT known only at execution (a generic plan's $1) */
#define CALLOGS_LIMIT_RUNTIME	(-2)

static double const_limit_rows(Const *count, Const *offset, double factor);

/*
 * callogsBeginForeignScan
 *		Set up the scan state; nothing is sent until the first row is asked
 *		for, so plain EXPLAIN makes no network call.
 */
static void
callogsBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	CallogsScanState *fsstate = palloc0(sizeof(CallogsScanState));
	Index		rtindex;
	RangeTblEntry *rte;
	Oid			userid;
	Relation	rel;
	AttrNumber	date_att;
	List	   *attrs;
	List	   *order;
	int			nconds;

	node->fdw_state = fsstate;
	fsstate->conds.kinds = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateCondKinds);
	fsstate->conds.ops = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateCondOps);
	nconds = list_length(fsstate->conds.kinds);
	fsstate->conds.exprs = list_truncate(list_copy(fsplan->fdw_exprs), nconds);
	attrs = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateAttrs);
	fsstate->limit_factor = floatVal(list_nth(fsplan->fdw_private, FdwScanPrivateLimit));
	fsstate->count_only = boolVal(list_nth(fsplan->fdw_private, FdwScanPrivateCountOnly));
	fsstate->outputs = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateOutputs);
	order = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateOrder);
	if (order != NIL)
	{
		fsstate->order_att = (AttrNumber) linitial_int(order);
		fsstate->order_nulls_first = lsecond_int(order) != 0;
		fsstate->order_nulls_dropped = lthird_int(order) != 0;
	}

	/* the foreign table: a pushed-down count(*) scans the one base relation */
	if (fsplan->scan.scanrelid > 0)
		rtindex = fsplan->scan.scanrelid;
	else
		rtindex = (Index) bms_next_member(fsplan->fs_relids, -1);
	rte = exec_rt_fetch(rtindex, estate);
	fsstate->relid = rte->relid;
	userid = callogs_executor_userid(fsplan, estate);
	callogs_get_options(fsstate->relid, userid, &fsstate->opts);
	fsstate->limit_rows = -1;
	if (fsstate->limit_factor > 0)
	{
		Node	   *count = list_nth(fsplan->fdw_exprs, nconds);
		Node	   *offset = list_nth(fsplan->fdw_exprs, nconds + 1);

		/* a literal LIMIT is known now (EXPLAIN); a parameter at execution */
		if (IsA(count, Const) && IsA(offset, Const))
			fsstate->limit_rows = const_limit_rows((Const *) count, (Const *) offset,
												   fsstate->limit_factor);
		else
			fsstate->limit_rows = CALLOGS_LIMIT_RUNTIME;
	}
	/* page_size: decided with the filter (requests_of) */

	rel = node->ss.ss_currentRelation ? node->ss.ss_currentRelation :
		table_open(fsstate->relid, AccessShareLock);
	fsstate->relname = pstrdup(RelationGetRelationName(rel));
	fsstate->natts = RelationGetDescr(rel)->natts;
	fsstate->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	fsstate->date_typid = fsstate->opts.pushdown ?
		callogs_date_column_type(rel, &fsstate->opts, &date_att) : InvalidOid;
	if (fsstate->count_only)
	{
		ListCell   *lc;

		/* the grouped columns, and what a row-by-row count compares */
		fsstate->type_att = callogs_field_column(rel, "call_type");
		fsstate->status_att = callogs_field_column(rel, "call_status");
		foreach(lc, fsstate->outputs)
		{
			if (lfirst_int(lc) == CALLOGS_OUT_CALL_TYPE)
				fsstate->group_type = true;
			else if (lfirst_int(lc) == CALLOGS_OUT_CALL_STATUS)
				fsstate->group_status = true;
		}
		attrs = NIL;
		if (fsstate->type_att != InvalidAttrNumber)
			attrs = lappend_int(attrs, fsstate->type_att);
		if (fsstate->status_att != InvalidAttrNumber)
			attrs = lappend_int(attrs, fsstate->status_att);
		if (attrs == NIL)
			attrs = list_make1_int(-1);
	}
	fsstate->columns = callogs_build_columns(rel, attrs, fsstate->opts.org_handle,
											 &fsstate->ncolumns);
	if (rel != node->ss.ss_currentRelation)
		table_close(rel, AccessShareLock);

	fsstate->cond_states = ExecInitExprList(fsstate->conds.exprs, (PlanState *) node);
	if (fsstate->limit_factor > 0)
	{
		fsstate->limit_count = ExecInitExpr(list_nth(fsplan->fdw_exprs, nconds),
											(PlanState *) node);
		fsstate->limit_offset = ExecInitExpr(list_nth(fsplan->fdw_exprs, nconds + 1),
											 (PlanState *) node);
	}
	fsstate->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "callogs_fdw scan",
											  ALLOCSET_SMALL_SIZES);
	if ((eflags & EXEC_FLAG_REWIND) && !fsstate->count_only)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);

		fsstate->store = tuplestore_begin_heap(false, false, work_mem);
		fsstate->replay_slot = ExecAllocTableSlot(&estate->es_tupleTable,
												  node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
												  &TTSOpsMinimalTuple);
		MemoryContextSwitchTo(oldcxt);
	}
	fsstate->store_eof = true;
	fsstate->async = node->ss.ps.async_capable;
}

/*
 * group_filter
 *		A count grouped by call_type and/or call_status asks for each grouped
 *		value the conditions leave open: a grouped column without a
 *		condition gets all its documented values, one stream each.
 */
static void
group_filter(CallogsFilter *filter, bool by_type, bool by_status)
{
	if (by_type && filter->ntypes == 0)
	{
		for (int i = 0; i < CALLOGS_NUM_CALL_TYPES; i++)
			filter->types[i] = callogs_call_types[i];
		filter->ntypes = CALLOGS_NUM_CALL_TYPES;
		filter->types_verbatim = false;
	}
	if (by_status && filter->nstatuses == 0)
	{
		for (int i = 0; i < CALLOGS_NUM_CALL_STATUSES; i++)
			filter->statuses[i] = callogs_call_statuses[i];
		filter->nstatuses = CALLOGS_NUM_CALL_STATUSES;
		filter->statuses_verbatim = false;
	}
}

/*
 * compute_filter
 *		Evaluate the condition values (parameters, stable expressions) and
 *		build the filter of this execution; the values are kept (in the
 *		scan's memory) for a count made row by row.
 */
static void
compute_filter(ForeignScanState *node, CallogsScanState *fsstate)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	List	   *consts = NIL;
	ListCell   *lc;
	MemoryContext oldcxt;

	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	foreach(lc, fsstate->cond_states)
	{
		ExprState  *state = (ExprState *) lfirst(lc);
		Oid			type = exprType((Node *) state->expr);
		int16		typlen;
		bool		typbyval;
		bool		isnull;
		Datum		value;

		value = ExecEvalExpr(state, econtext, &isnull);
		get_typlenbyval(type, &typlen, &typbyval);
		MemoryContextSwitchTo(fsstate->scan_cxt);
		consts = lappend(consts, makeConst(type, -1, InvalidOid, typlen,
										   isnull ? (Datum) 0 :
										   datumCopy(value, typbyval, typlen),
										   isnull, typbyval));
		MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	}
	callogs_compute_filter(&fsstate->conds, consts, fsstate->date_typid,
						   &fsstate->filter);
	if (fsstate->count_only)
		group_filter(&fsstate->filter, fsstate->group_type, fsstate->group_status);
	MemoryContextSwitchTo(oldcxt);
	fsstate->cond_values = consts;
	fsstate->filter_ready = true;
}

/*
 * limit_rows_of
 *		The rows an execution expects to need for a LIMIT of count rows
 *		after offset rows: their sum times the fetch factor of the local
 *		filters; -1 (no bound) for a NULL count (LIMIT ALL).  A negative
 *		count or offset never gets here: the Limit node has refused it.
 */
static double
limit_rows_of(Datum count, bool count_null, Datum offset, bool offset_null,
			  double factor)
{
	double		rows;

	if (count_null || DatumGetInt64(count) < 0)
		return -1;
	rows = (double) DatumGetInt64(count);
	if (!offset_null && DatumGetInt64(offset) > 0)
		rows += (double) DatumGetInt64(offset);
	return ceil(rows * factor);
}

/*
 * const_limit_rows
 *		limit_rows_of a literal LIMIT and OFFSET.
 */
static double
const_limit_rows(Const *count, Const *offset, double factor)
{
	return limit_rows_of(count->constvalue, count->constisnull,
						 offset->constvalue, offset->constisnull, factor);
}

/*
 * compute_limit
 *		limit_rows_of this execution's LIMIT and OFFSET (a literal, or a
 *		parameter of a generic plan); -1 when no LIMIT bounds the fetch.
 */
static double
compute_limit(ForeignScanState *node, CallogsScanState *fsstate)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	bool		count_null;
	bool		offset_null;
	Datum		count;
	Datum		offset;

	if (fsstate->limit_factor <= 0)
		return -1;
	count = ExecEvalExprSwitchContext(fsstate->limit_count, econtext, &count_null);
	offset = ExecEvalExprSwitchContext(fsstate->limit_offset, econtext, &offset_null);
	return limit_rows_of(count, count_null, offset, offset_null,
						 fsstate->limit_factor);
}

/*
 * requests_of
 *		What a scan of filter sends, decided in one place for the execution
 *		(start_remote_scan) and for EXPLAIN alike: whether a count is read
 *		from "count" (*count_api: every call_type/call_status value of the
 *		filter is documented, so the API applies them all) or counted row by
 *		row, and the page_size of its requests (0: known only at execution,
 *		a LIMIT $1).  A value known only at execution (EXPLAIN of a generic
 *		plan) counts as documented here; EXPLAIN says it is checked then.
 */
static int
requests_of(CallogsScanState *fsstate, const CallogsFilter *filter,
			double limit_rows, bool *count_api)
{
	*count_api = fsstate->count_only && !filter->inexact;
	if (limit_rows == CALLOGS_LIMIT_RUNTIME && !*count_api)
		return 0;
	return callogs_scan_page_size(&fsstate->opts, limit_rows, *count_api);
}

/*
 * start_remote_scan
 *		Create the page walker for this execution.  A count whose values
 *		the API does not all document (a parameter that turned out to be
 *		'busy') cannot be read from "count": its rows are fetched and
 *		counted (count_local).
 */
static void
start_remote_scan(ForeignScanState *node, CallogsScanState *fsstate)
{
	bool		count_api;

	callogs_check_usable(&fsstate->opts);
	compute_filter(node, fsstate);
	fsstate->limit_rows = compute_limit(node, fsstate);
	fsstate->page_size = requests_of(fsstate, &fsstate->filter,
									 fsstate->limit_rows, &count_api);
	fsstate->count_local = fsstate->count_only && !count_api;
	fsstate->scan = callogs_scan_create(fsstate->scan_cxt, &fsstate->opts,
										&fsstate->filter, fsstate->limit_rows,
										count_api, &fsstate->stats);
	/* rows must come in order: the scan checks each page as it arrives */
	for (int i = 0; i < fsstate->ncolumns && fsstate->order_att != InvalidAttrNumber; i++)
		if (fsstate->columns[i].attnum == fsstate->order_att &&
			fsstate->columns[i].kind == CALLOGS_CONV_TIMESTAMPTZ)
		{
			callogs_scan_set_order(fsstate->scan, fsstate->columns[i].field,
								   fsstate->columns[i].attname, fsstate->relname);
			break;
		}
	fsstate->order_started = false;
	fsstate->order_rows = 0;
	fsstate->executions++;
}

/*
 * check_order
 *		The plan relies on the rows coming in the API's order: descending on
 *		order_att (ties in any order), every row with a value.  The API
 *		documents both (newest first; every call has a creation_time); each
 *		row is checked as it arrives, so that a row that breaks the order is
 *		an error, never a wrong answer.  A NULL has no place in the order
 *		(NULLS FIRST or LAST alike: those the scan never reads could belong
 *		before the rows it returned), unless a local filter drops it anyway
 *		(order_nulls_dropped: a strict condition on the column).  SQLSTATE
 *		HV00A, with a hint naming the table option order_column.
 */
static void
check_order(CallogsScanState *fsstate, TupleTableSlot *slot)
{
	int			i = fsstate->order_att - 1;
	const char *colname = NameStr(TupleDescAttr(slot->tts_tupleDescriptor, i)->attname);
	TimestampTz value;

	fsstate->order_rows++;
	if (slot->tts_isnull[i])
	{
		if (fsstate->order_nulls_dropped)
			return;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("call logs API returned a row whose %s is NULL", colname),
				 errdetail("Row " INT64_FORMAT " of foreign table \"%s\" has no place in the order the query relies on (%s descending).",
						   fsstate->order_rows, fsstate->relname, colname),
				 errhint("If the API's rows can lack \"%s\", set the option order_column of foreign table \"%s\" to '' to sort locally.",
						 colname, fsstate->relname)));
	}
	value = DatumGetTimestampTz(slot->tts_values[i]);
	if (fsstate->order_started && value > fsstate->order_prev)
	{
		/* timestamptz_to_str answers in a static buffer */
		char	   *prev = pstrdup(timestamptz_to_str(fsstate->order_prev));

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("call logs API returned rows out of order: %s %s came after %s",
						colname, timestamptz_to_str(value), prev),
				 errdetail("Row " INT64_FORMAT " of foreign table \"%s\" breaks the order the query relies on (%s descending).",
						   fsstate->order_rows, fsstate->relname, colname),
				 errhint("If the API does not return the newest rows first on \"%s\", set the option order_column of foreign table \"%s\" to the column it does, or to '' to sort locally.",
						 colname, fsstate->relname)));
	}
	fsstate->order_started = true;
	fsstate->order_prev = value;
}

/*
 * cond_matches
 *		Whether the call_type/call_status columns of a converted row satisfy
 *		the pushed condition (kind, op, value): text equality under the
 *		column's collation, as the local filter would compare.
 */
static bool
cond_matches(CallogsScanState *fsstate, CallogsCondKind kind, CallogsCondOp op,
			 Const *value, Datum *values, bool *nulls)
{
	AttrNumber	att = kind == CALLOGS_COND_CALL_TYPE ?
		fsstate->type_att : fsstate->status_att;
	Oid			collation;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;

	if (att == InvalidAttrNumber || nulls[att - 1] || value->constisnull)
		return false;
	collation = TupleDescAttr(fsstate->tupdesc, att - 1)->attcollation;
	if (op == CALLOGS_OP_EQ)
		return DatumGetBool(DirectFunctionCall2Coll(texteq, collation,
													values[att - 1],
													value->constvalue));
	deconstruct_array(DatumGetArrayTypeP(value->constvalue), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &elem_nulls, &n);
	for (int i = 0; i < n; i++)
		if (!elem_nulls[i] &&
			DatumGetBool(DirectFunctionCall2Coll(texteq, collation,
												 values[att - 1], elems[i])))
			return true;
	return false;
}

/*
 * count_rows
 *		count(*) of a filter with a value the API does not document: fetch
 *		the rows of the documented conditions and count those that satisfy
 *		every condition, as the local filter would have.
 */
static int64
count_rows(CallogsScanState *fsstate)
{
	Datum	   *values = palloc(sizeof(Datum) * Max(fsstate->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(fsstate->natts, 1));
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext,
												 "callogs_fdw count row",
												 ALLOCSET_DEFAULT_SIZES);
	int64		count = 0;
	ClJson	   *obj;

	while ((obj = callogs_scan_next(fsstate->scan, NULL)) != NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
		bool		match = true;
		ListCell   *lck,
				   *lco,
				   *lcv;

		memset(nulls, true, sizeof(bool) * fsstate->natts);
		callogs_convert_row(obj, fsstate->columns, fsstate->ncolumns,
							fsstate->relname, values, nulls);
		forthree(lck, fsstate->conds.kinds, lco, fsstate->conds.ops,
				 lcv, fsstate->cond_values)
		{
			if (!cond_matches(fsstate, (CallogsCondKind) lfirst_int(lck),
							  (CallogsCondOp) lfirst_int(lco),
							  (Const *) lfirst(lcv), values, nulls))
			{
				match = false;
				break;
			}
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
		if (match)
			count++;
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(rowcxt);
	return count;
}

/*
 * fetch_groups
 *		The rows of a count answered from "count": one per group with rows
 *		(one in all without GROUP BY, even for zero rows).  Stream s asks
 *		for call_type types[s / nstatuses] and call_status
 *		statuses[s % nstatuses] (callogs_stream_params); streams of a group
 *		(a column grouped by, the other restricted to several values) add
 *		up.
 */
static void
fetch_groups(CallogsScanState *fsstate)
{
	CallogsFilter *f = &fsstate->filter;
	bool		grouped = fsstate->group_type || fsstate->group_status;
	int			nstreams = callogs_filter_nstreams(f);
	int			nstatus = Max(f->nstatuses, 1);
	int64	   *counts;
	MemoryContext oldcxt = MemoryContextSwitchTo(fsstate->scan_cxt);

	fsstate->groups = palloc0(sizeof(CallogsGroup) * Max(nstreams, 1));
	fsstate->ngroups = 0;
	fsstate->next_group = 0;
	if (fsstate->count_local)
	{
		fsstate->groups[0].count = count_rows(fsstate);
		fsstate->ngroups = 1;
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	counts = palloc0(sizeof(int64) * Max(nstreams, 1));
	if (nstreams > 0)
		(void) callogs_scan_counts(fsstate->scan, counts);
	if (!grouped)
		fsstate->ngroups = 1;
	for (int s = 0; s < nstreams; s++)
	{
		const char *type = fsstate->group_type ? f->types[s / nstatus] : NULL;
		const char *status = fsstate->group_status ? f->statuses[s % nstatus] : NULL;
		int			g;

		for (g = 0; g < fsstate->ngroups; g++)
			if (!grouped ||
				((type == NULL || strcmp(type, fsstate->groups[g].type) == 0) &&
				 (status == NULL || strcmp(status, fsstate->groups[g].status) == 0)))
				break;
		if (g == fsstate->ngroups)
		{
			if (counts[s] == 0)
				continue;		/* a group without rows does not exist */
			fsstate->groups[g].type = type;
			fsstate->groups[g].status = status;
			fsstate->ngroups++;
		}
		fsstate->groups[g].count += counts[s];
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * next_group
 *		The next row of a count answered from "count", in the scan slot
 *		(built from fdw_scan_tlist: each column a count or a grouped value).
 */
static TupleTableSlot *
next_group(CallogsScanState *fsstate, TupleTableSlot *slot)
{
	CallogsGroup *g;
	int			i = 0;
	ListCell   *lc;

	if (fsstate->groups == NULL)
		fetch_groups(fsstate);
	if (fsstate->next_group >= fsstate->ngroups)
	{
		fsstate->remote_done = true;
		return slot;
	}
	g = &fsstate->groups[fsstate->next_group++];
	foreach(lc, fsstate->outputs)
	{
		switch ((CallogsOutput) lfirst_int(lc))
		{
			case CALLOGS_OUT_COUNT:
				slot->tts_values[i] = Int64GetDatum(g->count);
				break;
			case CALLOGS_OUT_CALL_TYPE:
				slot->tts_values[i] = CStringGetTextDatum(g->type);
				break;
			case CALLOGS_OUT_CALL_STATUS:
				slot->tts_values[i] = CStringGetTextDatum(g->status);
				break;
		}
		slot->tts_isnull[i] = false;
		i++;
	}
	return ExecStoreVirtualTuple(slot);
}

/*
 * callogsIterateForeignScan
 *		The next row: replayed from the tuplestore on a rescan, otherwise
 *		converted from the next call-log object (and checked against the
 *		order the plan relies on).
 */
static TupleTableSlot *
callogsIterateForeignScan(ForeignScanState *node)
{
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ClJson	   *obj;

	ExecClearTuple(slot);

	if (fsstate->store && !fsstate->store_eof)
	{
		/*
		 * A tuplestore that spilled to disk reads each tuple into the current
		 * memory context, and the slot frees it at the next read: that must
		 * not be the per-tuple context, which the executor resets between
		 * calls (it freed the tuple the slot still held).
		 */
		MemoryContext oldcxt = MemoryContextSwitchTo(fsstate->replay_slot->tts_mcxt);
		bool		found = tuplestore_gettupleslot(fsstate->store, true, false,
													fsstate->replay_slot);

		MemoryContextSwitchTo(oldcxt);
		if (found)
			return ExecCopySlot(slot, fsstate->replay_slot);
		if (fsstate->remote_done)
			return slot;
		fsstate->store_eof = true;
	}
	if (fsstate->remote_done)
		return slot;

	if (fsstate->scan == NULL)
		start_remote_scan(node, fsstate);

	if (fsstate->count_only)
		return next_group(fsstate, slot);

	if (fsstate->async)
	{
		/* an asynchronous Append must not block here: see produce_async */
		obj = callogs_scan_next(fsstate->scan, &fsstate->would_block);
		if (fsstate->would_block)
			return slot;
	}
	else
		obj = callogs_scan_next(fsstate->scan, NULL);
	if (obj == NULL)
	{
		fsstate->remote_done = true;
		return slot;
	}
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	callogs_convert_row(obj, fsstate->columns, fsstate->ncolumns,
						fsstate->relname, slot->tts_values, slot->tts_isnull);
	if (fsstate->order_att != InvalidAttrNumber)
		check_order(fsstate, slot);
	ExecStoreVirtualTuple(slot);
	if (fsstate->store)
		tuplestore_puttupleslot(fsstate->store, slot);
	return slot;
}

/*
 * drop_remote_scan
 *		Stop the remote scan of this execution and free its memory.
 */
static void
drop_remote_scan(CallogsScanState *fsstate)
{
	if (fsstate->scan)
	{
		callogs_scan_paging(fsstate->scan, &fsstate->paging);
		callogs_scan_end(fsstate->scan);
	}
	fsstate->scan = NULL;
	MemoryContextReset(fsstate->scan_cxt);
	fsstate->groups = NULL;
	fsstate->cond_values = NIL;
	fsstate->remote_done = false;
	fsstate->filter_ready = false;
}

/*
 * callogsReScanForeignScan
 *		Replay the stored rows when no parameter changed; otherwise fetch
 *		again with the new values (a count asks "count" again).
 */
static void
callogsReScanForeignScan(ForeignScanState *node)
{
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;

	if (fsstate->store && node->ss.ps.chgParam == NULL && fsstate->scan != NULL)
	{
		tuplestore_rescan(fsstate->store);
		fsstate->store_eof = false;
		return;
	}
	drop_remote_scan(fsstate);
	if (fsstate->store)
		tuplestore_clear(fsstate->store);
	fsstate->store_eof = true;
}

/*
 * callogsEndForeignScan
 *		Stop transfers still in flight (LIMIT, early end of a join).
 */
static void
callogsEndForeignScan(ForeignScanState *node)
{
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;

	if (fsstate == NULL)
		return;
	drop_remote_scan(fsstate);
	if (fsstate->store)
		tuplestore_end(fsstate->store);
	fsstate->store = NULL;
}

/* ---- asynchronous execution (Append over many organizations) ---- */

/*
 * callogsIsForeignPathAsyncCapable
 *		Scans may run asynchronously under an Append, so that the requests
 *		of all its foreign tables (one per organization) are in flight
 *		together.  The option async_capable turns it off.
 */
static bool
callogsIsForeignPathAsyncCapable(ForeignPath *path)
{
	CallogsRelInfo *fpinfo = (CallogsRelInfo *) path->path.parent->fdw_private;

	return fpinfo != NULL && fpinfo->opts.async_capable;
}

/*
 * produce_async
 *		Answer an asynchronous request: a tuple (after the node's local
 *		filter and projection), the end of the scan, or "pending" while the
 *		next page is still in transit.
 */
static void
produce_async(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;
	TupleTableSlot *result;

	fsstate->would_block = false;
	result = areq->requestee->ExecProcNodeReal(areq->requestee);
	if (!TupIsNull(result))
		ExecAsyncRequestDone(areq, result);
	else if (fsstate->would_block)
		ExecAsyncRequestPending(areq);
	else
		ExecAsyncRequestDone(areq, NULL);
}

static void
callogsForeignAsyncRequest(AsyncRequest *areq)
{
	produce_async(areq);
}

/*
 * complete_pending_request
 *		Answer a request that waits for a callback from
 *		ForeignAsyncConfigureWait, as postgres_fdw's function of that name
 *		does: unlike Request and Notify, the caller reports neither the
 *		response nor the tuple, so we call ExecAsyncResponse and count the
 *		tuple in the node's instrumentation ourselves (EXPLAIN ANALYZE would
 *		otherwise miss it).  The request may stay pending.
 */
static void
complete_pending_request(AsyncRequest *areq)
{
	Assert(areq->callback_pending);
	areq->callback_pending = false;
	produce_async(areq);
	ExecAsyncResponse(areq);
	if (areq->requestee->instrument)
		InstrUpdateTupleCount(areq->requestee->instrument,
							  TupIsNull(areq->result) ? 0.0 : 1.0);
}

/*
 * callogsForeignAsyncConfigureWait
 *		Called for a pending request before the Append waits.  If the next
 *		row (or the end) is available now, complete the request here;
 *		otherwise register one event: this scan's own dup of the
 *		transport's epoll descriptor, readable whenever curl has socket
 *		events or a deadline (timeout, backoff, rate limit) is due.  The
 *		Append sizes its WaitEventSet for one event per async subplan, so
 *		one is all we may add; descriptors are never shared between
 *		subplans, and nothing about the set is remembered (each wait builds
 *		a new one).
 *
 *		PostgreSQL adds the latch to the set after these calls: setting it
 *		makes the Append come back at once, for a request completed here or
 *		for a page that this call's drive of the transport settled for a
 *		subplan that registered its event already.
 */
static void
callogsForeignAsyncConfigureWait(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;
	AppendState *requestor = (AppendState *) areq->requestor;
	uint64		settled = callogs_http_settled();

	complete_pending_request(areq);
	if (areq->request_complete)
	{
		SetLatch(MyLatch);
		return;
	}
	Assert(areq->callback_pending);
	if (callogs_http_settled() != settled)
		SetLatch(MyLatch);

	if (!fsstate->async_fd_made)
	{
		fsstate->async_fd = callogs_http_wait_fd(node->ss.ps.state->es_query_cxt);
		fsstate->async_fd_made = true;
		if (fsstate->async_fd < 0)
			elog(DEBUG1, "callogs_fdw: no descriptor left for the asynchronous scan of \"%s\"; it waits without one",
				 fsstate->relname);
	}
	if (fsstate->async_fd >= 0)
		AddWaitEventToSet(requestor->as_eventset, WL_SOCKET_READABLE,
						  fsstate->async_fd, NULL, areq);
	else
	{
		/*
		 * No descriptor left for this subplan: register nothing (the others'
		 * events and our next ConfigureWait call serve us), but never let
		 * the Append spin.
		 */
		callogs_http_short_wait(10);
	}
}

/*
 * callogsForeignAsyncNotify
 *		The transport has work: drive it and try to produce a row.
 */
static void
callogsForeignAsyncNotify(AsyncRequest *areq)
{
	produce_async(areq);
}

/* ---- EXPLAIN ---- */

/*
 * paging_text
 *		Which way the scans of a node asked for their pages, for EXPLAIN
 *		ANALYZE VERBOSE: by page number (concurrently), by following "next"
 *		links (one by one), or by page number until a link was not the next
 *		page.
 */
static char *
paging_text(const CallogsPaging *p)
{
	if (p->fallbacks > 0)
		return psprintf("page numbers, then next links one by one: a next link was not the following page (" INT64_FORMAT " pages by number, " INT64_FORMAT " by link)",
						p->pages_by_number, p->pages_by_link);
	if (p->pages_by_link > 0)
		return psprintf("next links one by one: they are not page numbers (" INT64_FORMAT " pages by link)",
						p->pages_by_link);
	if (p->links_checked > 0 && p->pages_by_number > 0)
		return psprintf("page numbers, concurrently: next links are page numbers (" INT64_FORMAT " pages by number, " INT64_FORMAT " links checked)",
						p->pages_by_number, p->links_checked);
	if (p->pages_by_number > 0)
		return psprintf("page numbers, concurrently: no next links (" INT64_FORMAT " pages by number)",
						p->pages_by_number);
	return "first pages only";
}

/*
 * callogsExplainForeignScan
 *		Show the request of each stream, built by the same code the scan
 *		uses (filter, page_size, URL), without the network: values known
 *		only at execution show as $n (a query parameter) or (runtime).
 *		The order the plan relies on (checked as rows arrive), a count
 *		answered from "count", the rows a LIMIT makes it fetch.  With
 *		ANALYZE, the filter of the last execution and what the scan
 *		actually sent and received; with VERBOSE too, how it paged.
 */
static void
callogsExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;
	CallogsFilter filter;
	int			n;
	int			page_size;
	bool		count_api;

	if (fsstate->filter_ready)
	{
		/* what the last execution sent */
		filter = fsstate->filter;
		page_size = fsstate->page_size;
		count_api = fsstate->count_only && !fsstate->count_local;
	}
	else
	{
		/* what an execution will send: the same decisions, without sending */
		callogs_compute_filter(&fsstate->conds, fsstate->conds.exprs,
							   fsstate->date_typid, &filter);
		if (fsstate->count_only)
			group_filter(&filter, fsstate->group_type, fsstate->group_status);
		page_size = requests_of(fsstate, &filter, fsstate->limit_rows, &count_api);
	}

	n = callogs_filter_nstreams(&filter);
	if (n == 0)
		ExplainPropertyText("API Request", "none (the conditions contradict each other)", es);
	for (int s = 0; s < n; s++)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "GET ");
		callogs_url_path(callogs_stream_url(&fsstate->opts, &filter, s,
											page_size), &buf);
		ExplainPropertyText("API Request", buf.data, es);
	}

	if (fsstate->order_att != InvalidAttrNumber)
	{
		Relation	rel = node->ss.ss_currentRelation;

		ExplainPropertyText("API Order",
							psprintf("%s DESC NULLS %s (checked as rows arrive)",
									 NameStr(TupleDescAttr(RelationGetDescr(rel),
														   fsstate->order_att - 1)->attname),
									 fsstate->order_nulls_first ? "FIRST" : "LAST"),
							es);
	}
	if (fsstate->count_only)
	{
		const char *what = fsstate->group_type && fsstate->group_status ?
			"count(*) per call_type and call_status" :
			fsstate->group_type ? "count(*) per call_type" :
			fsstate->group_status ? "count(*) per call_status" : "count(*)";

		const char *how;

		if (!count_api)
			how = "counted row by row (a value the API does not document)";
		else if (filter.types_verbatim || filter.statuses_verbatim)
			how = "answered by the API's count (counted row by row if a value known only at execution is not documented)";
		else
			how = "answered by the API's count";
		ExplainPropertyText("Aggregate", psprintf("%s %s", what, how), es);
	}
	if (fsstate->limit_rows == CALLOGS_LIMIT_RUNTIME)
		ExplainPropertyText("Row Limit", "(runtime)", es);
	else if (fsstate->limit_rows > 0 && !fsstate->count_only)
		ExplainPropertyInteger("Row Limit", NULL, (int64) fsstate->limit_rows, es);

	if (es->analyze)
	{
		CallogsStats *st = &fsstate->stats;

		ExplainPropertyInteger("API Requests", NULL, st->requests, es);
		ExplainPropertyInteger("API Pages", NULL, st->pages, es);
		ExplainPropertyInteger("API Rows", NULL, st->rows, es);
		if (es->verbose)
		{
			CallogsPaging paging = fsstate->paging;

			if (fsstate->scan)
				callogs_scan_paging(fsstate->scan, &paging);
			ExplainPropertyInteger("API Bytes", NULL, st->bytes, es);
			ExplainPropertyInteger("API Retries", NULL, st->retries, es);
			if (es->timing)
				ExplainPropertyFloat("API Wait Time", "ms", st->wait_ms, 3, es);
			ExplainPropertyInteger("API Memory Peak", "kB",
								   (st->peak_memory + 1023) / 1024, es);
			if (!fsstate->count_only || fsstate->count_local)
				ExplainPropertyText("API Paging", paging_text(&paging), es);
		}
	}
}

/* ---- writes are refused ---- */

static int
callogsIsForeignRelUpdatable(Relation rel)
{
	return 0;
}

/* ---- ANALYZE ---- */

/*
 * callogs_acquire_sample_rows
 *		Sample rows from the first analyze_max_pages pages (newest calls);
 *		the total comes from the API's count.  The sample is Vitter's
 *		reservoir, as in file_fdw's file_acquire_sample_rows: the first
 *		targrows rows fill rows[], then reservoir_get_next_S says how many
 *		rows to skip before the next one replaces a random earlier slot.
 */
static int
callogs_acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
							int targrows, double *totalrows,
							double *totaldeadrows)
{
	CallogsOptions opts;
	CallogsFilter filter;
	MemoryContext cxt;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	CallogsScan *scan;
	CallogsColumn *columns;
	int			ncolumns;
	TupleDesc	tupdesc = RelationGetDescr(relation);
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	ReservoirStateData rstate;
	double		seen = 0;		/* rows read so far ("t" in Vitter's paper) */
	double		rowstoskip = -1;	/* -1: compute the next skip */
	int			numrows = 0;
	ClJson	   *obj;

	callogs_get_options(RelationGetRelid(relation), GetUserId(), &opts);
	callogs_check_usable(&opts);
	memset(&filter, 0, sizeof(filter));
	columns = callogs_build_columns(relation, NIL, opts.org_handle, &ncolumns);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "callogs_fdw analyze",
								ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "callogs_fdw analyze row",
								   ALLOCSET_DEFAULT_SIZES);
	scan = callogs_scan_create(cxt, &opts, &filter, -1, false, NULL);
	callogs_scan_set_max_pages(scan, opts.analyze_max_pages);
	reservoir_init_selection_state(&rstate, targrows);

	while ((obj = callogs_scan_next(scan, NULL)) != NULL)
	{
		int			pos;

		callogs_analyze_delay_point();
		if (numrows < targrows)
			pos = numrows++;
		else
		{
			/* S is computed with the number of rows read before this one */
			if (rowstoskip < 0)
				rowstoskip = reservoir_get_next_S(&rstate, seen, targrows);
			if (rowstoskip <= 0)
			{
				pos = (int) (targrows * sampler_random_fract(&rstate.randstate));
				Assert(pos >= 0 && pos < targrows);
				heap_freetuple(rows[pos]);
			}
			else
				pos = -1;
			rowstoskip -= 1;
		}
		seen += 1;
		if (pos < 0)
			continue;

		oldcxt = MemoryContextSwitchTo(rowcxt);
		memset(nulls, true, sizeof(bool) * tupdesc->natts);
		callogs_convert_row(obj, columns, ncolumns,
							RelationGetRelationName(relation), values, nulls);
		MemoryContextSwitchTo(oldcxt);
		rows[pos] = heap_form_tuple(tupdesc, values, nulls);
		MemoryContextReset(rowcxt);
	}

	*totalrows = Max(seen, (double) callogs_scan_reported_count(scan));
	*totaldeadrows = 0;
	callogs_scan_end(scan);
	MemoryContextDelete(cxt);
	MemoryContextDelete(rowcxt);

	ereport(elevel,
			(errmsg("\"%s\": sampled %d rows from %.0f rows read; the API reports %.0f rows",
					RelationGetRelationName(relation), numrows, seen, *totalrows)));
	return numrows;
}

static bool
callogsAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
						   BlockNumber *totalpages)
{
	*func = callogs_acquire_sample_rows;
	*totalpages = 1;
	return true;
}

/* ---- IMPORT FOREIGN SCHEMA ---- */

/*
 * callogsImportForeignSchema
 *		The API has one resource: remote schema "callogs" holds one table,
 *		named by the option table_name (default call_logs), with the
 *		canonical columns.  Option org_handle sets the table's org.  An
 *		empty table_name is HV024 (not PostgreSQL's "zero-length delimited
 *		identifier" syntax error of the statement built here).
 */
static List *
callogsImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const char *table_name = "call_logs";
	const char *org_handle = NULL;
	ListCell   *lc;
	StringInfoData buf;

	if (strcmp(stmt->remote_schema, "callogs") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("schema \"%s\" is not present on foreign server \"%s\"",
						stmt->remote_schema, server->servername),
				 errhint("The Call Logs API has one remote schema: callogs.")));

	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "table_name") == 0)
		{
			table_name = defGetString(def);
			if (table_name[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"table_name\" must not be empty"),
						 errhint("Name the foreign table to create, or leave the option out for call_logs.")));
		}
		else if (strcmp(def->defname, "org_handle") == 0)
			org_handle = defGetString(def);
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for IMPORT FOREIGN SCHEMA",
							def->defname),
					 errhint("Valid options in this context are: table_name, org_handle.")));
	}

	initStringInfo(&buf);
	/*
	 * Types are schema-qualified: PostgreSQL parses the statement with the
	 * importing session's search_path, where "text" could be another
	 * role's domain whose CHECK runs as whoever reads the table (issue 10
	 * round 2, finding 8).
	 */
	appendStringInfo(&buf,
					 "CREATE FOREIGN TABLE %s (\n"
					 "  id pg_catalog.text,\n"
					 "  source_number pg_catalog.text,\n"
					 "  destination_number pg_catalog.text,\n"
					 "  call_type pg_catalog.text,\n"
					 "  call_status pg_catalog.text,\n"
					 "  creation_time pg_catalog.timestamptz,\n"
					 "  start_time pg_catalog.timestamptz,\n"
					 "  end_time pg_catalog.timestamptz,\n"
					 "  call_duration pg_catalog.interval,\n"
					 "  end_reason pg_catalog.text,\n"
					 "  bridge pg_catalog.int4\n"
					 ") SERVER %s",
					 quote_identifier(table_name),
					 quote_identifier(server->servername));
	if (org_handle)
		appendStringInfo(&buf, " OPTIONS (org_handle %s)", quote_literal_cstr(org_handle));
	return list_make1(buf.data);
}

/* ---- SQL-callable functions ---- */

Datum
callogs_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = callogsGetForeignRelSize;
	routine->GetForeignPaths = callogsGetForeignPaths;
	routine->GetForeignPlan = callogsGetForeignPlan;
	routine->GetForeignUpperPaths = callogsGetForeignUpperPaths;
	routine->BeginForeignScan = callogsBeginForeignScan;
	routine->IterateForeignScan = callogsIterateForeignScan;
	routine->ReScanForeignScan = callogsReScanForeignScan;
	routine->EndForeignScan = callogsEndForeignScan;
	routine->ExplainForeignScan = callogsExplainForeignScan;
	routine->IsForeignRelUpdatable = callogsIsForeignRelUpdatable;
	routine->AnalyzeForeignTable = callogsAnalyzeForeignTable;
	routine->ImportForeignSchema = callogsImportForeignSchema;
	routine->IsForeignPathAsyncCapable = callogsIsForeignPathAsyncCapable;
	routine->ForeignAsyncRequest = callogsForeignAsyncRequest;
	routine->ForeignAsyncConfigureWait = callogsForeignAsyncConfigureWait;
	routine->ForeignAsyncNotify = callogsForeignAsyncNotify;

	PG_RETURN_POINTER(routine);
}

/*
 * callogs_fdw_stats
 *		This session's request statistics.
 */
Datum
callogs_fdw_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	CallogsStats *s = &callogs_session_stats;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(s->requests);
	values[1] = Int64GetDatum(s->retries);
	values[2] = Int64GetDatum(s->pages);
	values[3] = Int64GetDatum(s->rows);
	values[4] = Int64GetDatum(s->bytes);
	values[5] = Int64GetDatum(s->errors);
	values[6] = Float8GetDatum(s->wait_ms);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

Datum
callogs_fdw_stats_reset(PG_FUNCTION_ARGS)
{
	memset(&callogs_session_stats, 0, sizeof(callogs_session_stats));
	PG_RETURN_VOID();
}
