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
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
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
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "storage/latch.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
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

/*
 * fdw_private of a ForeignScan plan, by position.  The condition values
 * themselves are the plan's fdw_exprs, parallel to the kinds and operators.
 * The foreign table is the range table entry's relation.
 */
enum FdwScanPrivateIndex
{
	FdwScanPrivateCondKinds,	/* IntList: CallogsCondKind per condition */
	FdwScanPrivateCondOps,		/* IntList: CallogsCondOp per condition */
	FdwScanPrivateAttrs,		/* IntList: attnums the query uses */
	FdwScanPrivateLimit,		/* Integer: rows the executor may need, -1 */
	FdwScanPrivateCountOnly		/* Boolean: pushed-down count(*) */
};

/* Planner state of a base relation (RelOptInfo.fdw_private). */
typedef struct CallogsRelInfo
{
	Oid			relid;
	CallogsOptions opts;
	CallogsConds conds;			/* the pushed conditions */
	bool		all_exact;		/* the API's count is the exact answer */
	List	   *attrs_used;
	double		limit_rows;
	double		streams;		/* estimated request streams */
	double		fetched_rows;	/* rows the API is expected to return */
} CallogsRelInfo;

/* Executor state of a scan (ForeignScanState.fdw_state). */
typedef struct CallogsScanState
{
	Oid			relid;
	char	   *relname;
	CallogsOptions opts;
	CallogsConds conds;			/* kinds, ops and value expressions */
	List	   *cond_states;	/* ExprStates of the condition values */
	Oid			date_typid;
	bool		count_only;
	double		limit_rows;
	int			page_size;		/* what the scan asks for (also EXPLAIN) */
	CallogsColumn *columns;
	int			ncolumns;
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
							 "10/8, 172.16/12, 192.168/16, 100.64/10 and IPv6 unique-local fc00::/7; this machine and link-local addresses stay refused.",
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
	callogs_classify_conditions(root, baserel, &fpinfo->opts,
								&fpinfo->conds, &fpinfo->all_exact);

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
	 * A LIMIT can bound the fetch when this table is all the query reads,
	 * nothing is filtered locally and nothing is sorted.
	 */
	fpinfo->limit_rows = -1;
	if (root->limit_tuples > 0 &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		baserel->baserestrictinfo == NIL &&
		root->parse->sortClause == NIL &&
		root->parse->rowMarks == NIL &&
		!root->hasJoinRTEs)
		fpinfo->limit_rows = root->limit_tuples;

	rows = estimate_rows(root, baserel, fpinfo);
	if (fpinfo->opts.use_remote_estimate)
	{
		rel = table_open(foreigntableid, NoLock);
		date_typid = fpinfo->opts.pushdown ?
			callogs_date_column_type(rel, &fpinfo->opts, &date_att) : InvalidOid;
		table_close(rel, NoLock);
		rows = clamp_row_est(remote_count(fpinfo, date_typid));
	}
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
 * scan_costs
 *		One round trip per page; pages of a stream beyond the first overlap
 *		`concurrency` at a time.
 */
static void
scan_costs(CallogsRelInfo *fpinfo, double rows, Cost *startup, Cost *total)
{
	double		fetched = rows;
	double		pages;

	if (fpinfo->limit_rows > 0)
		fetched = Min(fetched, fpinfo->limit_rows);
	pages = Max(1.0, ceil(fetched / fpinfo->opts.page_size)) * fpinfo->streams;
	*startup = CALLOGS_PAGE_COST;
	*total = *startup +
		(pages - 1) * CALLOGS_PAGE_COST / Max(1, fpinfo->opts.concurrency) +
		fetched * (cpu_tuple_cost * 10);
}

/*
 * callogsGetForeignPaths
 *		One unparameterized path: the API cannot join.
 */
static void
callogsGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	CallogsRelInfo *fpinfo = (CallogsRelInfo *) baserel->fdw_private;
	Cost		startup,
				total;

	scan_costs(fpinfo, fpinfo->fetched_rows, &startup, &total);
	total += baserel->baserestrictinfo ? baserel->rows * cpu_operator_cost : 0;
	add_path(baserel, (Path *)
			 callogs_create_foreignscan_path(root, baserel, NULL, baserel->rows,
											 startup, total, NIL, NULL, NULL, NIL));
}

/*
 * callogsGetForeignPlan
 *		Build the ForeignScan: every clause stays a local filter, the pushed
 *		condition values become fdw_exprs.
 */
static ForeignScan *
callogsGetForeignPlan(PlannerInfo *root, RelOptInfo *foreignrel,
					  Oid foreigntableid, ForeignPath *best_path,
					  List *tlist, List *scan_clauses, Plan *outer_plan)
{
	CallogsRelInfo *fpinfo;
	List	   *fdw_private;
	List	   *fdw_scan_tlist = NIL;
	Index		scan_relid;
	bool		count_only = false;

	if (IS_UPPER_REL(foreignrel))
	{
		/* pushed-down count(*): fpinfo belongs to the input relation */
		fpinfo = (CallogsRelInfo *) foreignrel->fdw_private;
		scan_relid = 0;
		count_only = true;
		fdw_scan_tlist = add_to_flat_tlist(NIL, best_path->path.pathtarget->exprs);
		scan_clauses = NIL;
	}
	else
	{
		fpinfo = (CallogsRelInfo *) foreignrel->fdw_private;
		scan_relid = foreignrel->relid;
		scan_clauses = extract_actual_clauses(scan_clauses, false);
	}

	fdw_private = list_make5(fpinfo->conds.kinds,
							 fpinfo->conds.ops,
							 fpinfo->attrs_used,
							 makeInteger(fpinfo->limit_rows > 0 && !count_only ?
										 (int) Min(fpinfo->limit_rows, PG_INT32_MAX) : -1),
							 makeBoolean(count_only));

	return make_foreignscan(tlist, scan_clauses, scan_relid,
							copyObject(fpinfo->conds.exprs), fdw_private,
							fdw_scan_tlist, NIL, outer_plan);
}

/*
 * callogsGetForeignUpperPaths
 *		count(*) without GROUP BY over a scan whose conditions the API
 *		applies exactly is the API's "count": offer a path that sends one
 *		page_size=1 request per stream.
 */
static void
callogsGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
							RelOptInfo *input_rel, RelOptInfo *output_rel,
							void *extra)
{
	CallogsRelInfo *fpinfo = (CallogsRelInfo *) input_rel->fdw_private;
	Query	   *parse = root->parse;
	PathTarget *target;
	ListCell   *lc;
	CallogsRelInfo *upper;

	if (stage != UPPERREL_GROUP_AGG || fpinfo == NULL ||
		input_rel->reloptkind != RELOPT_BASEREL || output_rel->fdw_private)
		return;
	if (!fpinfo->all_exact || !fpinfo->opts.pushdown)
		return;
	if (parse->groupClause || parse->groupingSets || parse->havingQual ||
		parse->hasWindowFuncs || parse->hasTargetSRFs || !parse->hasAggs)
		return;

	target = root->upper_targets[UPPERREL_GROUP_AGG];
	if (target == NULL || target->exprs == NIL)
		return;
	foreach(lc, target->exprs)
	{
		Aggref	   *agg = (Aggref *) lfirst(lc);

		if (!IsA(agg, Aggref) || agg->aggfnoid != F_COUNT_ || !agg->aggstar ||
			agg->aggfilter || agg->aggdistinct || agg->aggorder ||
			agg->aggsplit != AGGSPLIT_SIMPLE || agg->agglevelsup != 0)
			return;
	}

	upper = palloc(sizeof(CallogsRelInfo));
	*upper = *fpinfo;
	output_rel->fdw_private = upper;
	add_path(output_rel, (Path *)
			 callogs_create_foreign_upper_path(root, output_rel, target, 1,
											   CALLOGS_PAGE_COST, CALLOGS_PAGE_COST + 1,
											   NIL, NULL, NIL));
}

/* ---- execution ---- */

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

	node->fdw_state = fsstate;
	fsstate->conds.kinds = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateCondKinds);
	fsstate->conds.ops = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateCondOps);
	fsstate->conds.exprs = fsplan->fdw_exprs;
	attrs = (List *) list_nth(fsplan->fdw_private, FdwScanPrivateAttrs);
	fsstate->limit_rows = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateLimit));
	fsstate->count_only = boolVal(list_nth(fsplan->fdw_private, FdwScanPrivateCountOnly));

	/* the foreign table: a pushed-down count(*) scans the one base relation */
	if (fsplan->scan.scanrelid > 0)
		rtindex = fsplan->scan.scanrelid;
	else
		rtindex = (Index) bms_next_member(fsplan->fs_relids, -1);
	rte = exec_rt_fetch(rtindex, estate);
	fsstate->relid = rte->relid;
	userid = callogs_executor_userid(fsplan, estate);
	callogs_get_options(fsstate->relid, userid, &fsstate->opts);
	fsstate->page_size = callogs_scan_page_size(&fsstate->opts, fsstate->limit_rows,
												fsstate->count_only);

	rel = node->ss.ss_currentRelation ? node->ss.ss_currentRelation :
		table_open(fsstate->relid, AccessShareLock);
	fsstate->relname = pstrdup(RelationGetRelationName(rel));
	fsstate->date_typid = fsstate->opts.pushdown ?
		callogs_date_column_type(rel, &fsstate->opts, &date_att) : InvalidOid;
	if (!fsstate->count_only)
		fsstate->columns = callogs_build_columns(rel, attrs, fsstate->opts.org_handle,
												 &fsstate->ncolumns);
	if (rel != node->ss.ss_currentRelation)
		table_close(rel, AccessShareLock);

	fsstate->cond_states = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);
	fsstate->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
											  "callogs_fdw scan",
											  ALLOCSET_DEFAULT_SIZES);
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
 * compute_filter
 *		Evaluate the condition values (parameters, stable expressions) and
 *		build the filter of this execution.
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
		consts = lappend(consts, makeConst(type, -1, InvalidOid, typlen,
										   value, isnull, typbyval));
	}
	callogs_compute_filter(&fsstate->conds, consts, fsstate->date_typid,
						   &fsstate->filter);
	MemoryContextSwitchTo(oldcxt);
	fsstate->filter_ready = true;
}

/*
 * start_remote_scan
 *		Create the page walker for this execution.
 */
static void
start_remote_scan(ForeignScanState *node, CallogsScanState *fsstate)
{
	callogs_check_usable(&fsstate->opts);
	compute_filter(node, fsstate);
	fsstate->scan = callogs_scan_create(fsstate->scan_cxt, &fsstate->opts,
										&fsstate->filter, fsstate->limit_rows,
										fsstate->count_only, &fsstate->stats);
	fsstate->executions++;
}

/*
 * callogsIterateForeignScan
 *		The next row: replayed from the tuplestore on a rescan, otherwise
 *		converted from the next call-log object.
 */
static TupleTableSlot *
callogsIterateForeignScan(ForeignScanState *node)
{
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ClJson *obj;

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
	{
		int64		count;

		fsstate->remote_done = true;
		count = callogs_scan_count(fsstate->scan);
		for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
		{
			slot->tts_values[i] = Int64GetDatum(count);
			slot->tts_isnull[i] = false;
		}
		return ExecStoreVirtualTuple(slot);
	}

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
		callogs_scan_end(fsstate->scan);
	fsstate->scan = NULL;
	MemoryContextReset(fsstate->scan_cxt);
	fsstate->remote_done = false;
	fsstate->filter_ready = false;
}

/*
 * callogsReScanForeignScan
 *		Replay the stored rows when no parameter changed; otherwise fetch
 *		again with the new values.
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
 * callogsExplainForeignScan
 *		Show the request of each stream, built by the same code the scan
 *		uses (filter, page_size, URL), without the network: values known
 *		only at execution show as $n (a query parameter) or (runtime).
 *		With ANALYZE, the filter of the last execution and what the scan
 *		actually sent and received.
 */
static void
callogsExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CallogsScanState *fsstate = (CallogsScanState *) node->fdw_state;
	CallogsFilter filter;
	int			n;

	if (fsstate->filter_ready)
		filter = fsstate->filter;
	else
		callogs_compute_filter(&fsstate->conds, fsstate->conds.exprs,
							   fsstate->date_typid, &filter);

	n = callogs_filter_nstreams(&filter);
	if (n == 0)
		ExplainPropertyText("API Request", "none (the conditions contradict each other)", es);
	for (int s = 0; s < n; s++)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "GET ");
		callogs_url_path(callogs_stream_url(&fsstate->opts, &filter, s,
											fsstate->page_size), &buf);
		ExplainPropertyText("API Request", buf.data, es);
	}

	if (fsstate->count_only)
		ExplainPropertyText("Aggregate", "count(*) answered by the API's count", es);
	if (fsstate->limit_rows > 0 && !fsstate->count_only)
		ExplainPropertyInteger("Row Limit", NULL, (int64) fsstate->limit_rows, es);

	if (es->analyze)
	{
		CallogsStats *st = &fsstate->stats;

		ExplainPropertyInteger("API Requests", NULL, st->requests, es);
		ExplainPropertyInteger("API Pages", NULL, st->pages, es);
		ExplainPropertyInteger("API Rows", NULL, st->rows, es);
		if (es->verbose)
		{
			ExplainPropertyInteger("API Bytes", NULL, st->bytes, es);
			ExplainPropertyInteger("API Retries", NULL, st->retries, es);
			if (es->timing)
				ExplainPropertyFloat("API Wait Time", "ms", st->wait_ms, 3, es);
			ExplainPropertyInteger("API Memory Peak", "kB",
								   (st->peak_memory + 1023) / 1024, es);
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
 *		canonical columns.  Option org_handle sets the table's org.
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
			table_name = defGetString(def);
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
	appendStringInfo(&buf,
					 "CREATE FOREIGN TABLE %s (\n"
					 "  id text,\n"
					 "  source_number text,\n"
					 "  destination_number text,\n"
					 "  call_type text,\n"
					 "  call_status text,\n"
					 "  creation_time timestamptz,\n"
					 "  start_time timestamptz,\n"
					 "  end_time timestamptz,\n"
					 "  call_duration interval,\n"
					 "  end_reason text,\n"
					 "  bridge integer\n"
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
