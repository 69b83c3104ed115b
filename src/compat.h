/*-------------------------------------------------------------------------
 *
 * compat.h
 *		  Every difference between the PostgreSQL major versions callogs_fdw
 *		  supports (15, 16, 17, 18), in one place.
 *
 * The callbacks call the names defined here instead of testing
 * PG_VERSION_NUM themselves, as the multi-version extensions do (see
 * STYLE.md, trap 16).  Each entry says which release changed what.
 *
 *	  pg_noreturn						18 replaced pg_attribute_noreturn()
 *	  callogs_planner_userid()			16 moved checkAsUser out of the RTE
 *	  callogs_executor_userid()			16: the plan carries checkAsUser
 *	  callogs_create_foreignscan_path()	17 fdw_restrictinfo, 18 disabled_nodes
 *	  callogs_create_foreign_upper_path()	17 fdw_restrictinfo, 18 disabled_nodes
 *	  callogs_analyze_delay_point()		18 vacuum_delay_point(bool is_analyze)
 *	  callogs_wait_event()				17 named wait events for extensions
 *	  ExplainState, ExplainProperty*()	18 moved to explain_state.h and
 *										explain_format.h
 *	  callogs_pathkey_is_desc(),
 *	  callogs_make_desc_pathkey()		18 PathKey.pk_cmptype, a CompareType
 *	  callogs_ec_members()				18 keeps child members apart
 *
 * Copyright (c) 2025, callogs_fdw developers
 *
 * IDENTIFICATION
 *		  src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CALLOGS_COMPAT_H
#define CALLOGS_COMPAT_H

#include "postgres.h"

#include "commands/explain.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "parser/parsetree.h"
#include "catalog/pg_foreign_server.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"
#if PG_VERSION_NUM < 170000
#include "storage/backendid.h"
#else
#include "storage/procnumber.h"
#endif

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "callogs_fdw supports PostgreSQL 15, 16, 17 and 18"
#endif

#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

/*
 * pg_noreturn
 *		Marks a function that never returns (it raises an ERROR).  18 has
 *		pg_noreturn, written before the return type, and no longer
 *		pg_attribute_noreturn(); before 18 GCC's attribute may stand there
 *		too.  Write: pg_noreturn static void f(...);
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * callogs_planner_userid
 *		The user whose user mapping a scan of "rel" uses, at plan time: the
 *		view owner for a table read through a view, else the current user.
 *		16 moved permissions from the RangeTblEntry (checkAsUser) to
 *		RTEPermissionInfo and gave the planner rel->userid (postgres_fdw's
 *		postgresGetForeignRelSize does the same).
 */
static inline Oid
callogs_planner_userid(PlannerInfo *root, RelOptInfo *rel)
{
#if PG_VERSION_NUM >= 160000
	return OidIsValid(rel->userid) ? rel->userid : GetUserId();
#else
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

/*
 * callogs_executor_userid
 *		The same user at execution time.  From 16 the plan node carries it
 *		(ForeignScan.checkAsUser, as ExecCheckPermissions sees it); before,
 *		the range table entry of the scanned relation (for an upper rel,
 *		scanrelid is 0: the first base relation of fs_relids).
 */
static inline Oid
callogs_executor_userid(ForeignScan *fsplan, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	Index		rtindex;
	RangeTblEntry *rte;

	if (fsplan->scan.scanrelid > 0)
		rtindex = fsplan->scan.scanrelid;
	else
		rtindex = (Index) bms_next_member(fsplan->fs_relids, -1);
	rte = exec_rt_fetch(rtindex, estate);
	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

/*
 * callogs_create_foreignscan_path
 *		create_foreignscan_path() with the arguments of 15.  17 added
 *		fdw_restrictinfo (the join clauses an FDW join enforces: NIL for a
 *		base relation), 18 disabled_nodes (0: the path is not disabled).
 */
static inline ForeignPath *
callogs_create_foreignscan_path(PlannerInfo *root, RelOptInfo *rel,
								PathTarget *target, double rows,
								Cost startup_cost, Cost total_cost,
								List *pathkeys, Relids required_outer,
								Path *fdw_outerpath, List *fdw_private)
{
#if PG_VERSION_NUM >= 180000
	return create_foreignscan_path(root, rel, target, rows, 0,
								   startup_cost, total_cost, pathkeys,
								   required_outer, fdw_outerpath, NIL,
								   fdw_private);
#elif PG_VERSION_NUM >= 170000
	return create_foreignscan_path(root, rel, target, rows,
								   startup_cost, total_cost, pathkeys,
								   required_outer, fdw_outerpath, NIL,
								   fdw_private);
#else
	return create_foreignscan_path(root, rel, target, rows,
								   startup_cost, total_cost, pathkeys,
								   required_outer, fdw_outerpath,
								   fdw_private);
#endif
}

/*
 * callogs_create_foreign_upper_path
 *		create_foreign_upper_path() with the arguments of 15 (see above).
 */
static inline ForeignPath *
callogs_create_foreign_upper_path(PlannerInfo *root, RelOptInfo *rel,
								  PathTarget *target, double rows,
								  Cost startup_cost, Cost total_cost,
								  List *pathkeys, Path *fdw_outerpath,
								  List *fdw_private)
{
#if PG_VERSION_NUM >= 180000
	return create_foreign_upper_path(root, rel, target, rows, 0,
									 startup_cost, total_cost, pathkeys,
									 fdw_outerpath, NIL, fdw_private);
#elif PG_VERSION_NUM >= 170000
	return create_foreign_upper_path(root, rel, target, rows,
									 startup_cost, total_cost, pathkeys,
									 fdw_outerpath, NIL, fdw_private);
#else
	return create_foreign_upper_path(root, rel, target, rows,
									 startup_cost, total_cost, pathkeys,
									 fdw_outerpath, fdw_private);
#endif
}

/*
 * callogs_analyze_delay_point
 *		Cost-based delay point of ANALYZE's sampling loop; 18 added the
 *		is_analyze argument (vacuum_delay_point(true), as acquire_sample_rows
 *		passes).
 */
static inline void
callogs_analyze_delay_point(void)
{
#if PG_VERSION_NUM >= 180000
	vacuum_delay_point(true);
#else
	vacuum_delay_point();
#endif
}

/*
 * CALLOGS_WAIT_EVENT_NAME
 *		What pg_stat_activity.wait_event shows from 17 on while a backend
 *		waits on the Call Logs API (wait_event_type 'Extension').
 */
#define CALLOGS_WAIT_EVENT_NAME "CallLogsAPI"

/*
 * callogs_wait_event
 *		The wait_event_info to pass to WaitLatch/WaitEventSetWait/
 *		pgstat_report_wait_start whenever a backend waits on the API.
 *
 *		From 17, a named custom wait event (WaitEventExtensionNew, allocated
 *		in shared memory on first use and the same for every backend); it is
 *		looked up lazily because _PG_init may run in the postmaster, before
 *		shared memory exists.  Before 17, the generic PG_WAIT_EXTENSION
 *		("Extension").  Do not call it inside a libcurl callback: the first
 *		call takes a lock and may raise an ERROR.
 */
static inline uint32
callogs_wait_event(void)
{
#if PG_VERSION_NUM >= 170000
	static uint32 wait_event_info = 0;

	if (wait_event_info == 0)
		wait_event_info = WaitEventExtensionNew(CALLOGS_WAIT_EVENT_NAME);
	return wait_event_info;
#else
	return PG_WAIT_EXTENSION;
#endif
}

/*
 * callogs_create_wait_event_set
 *		A WaitEventSet of nevents that lives as long as the backend.  From
 *		17 a set is owned by a ResourceOwner or, with NULL, by nobody; before
 *		17 it is allocated in a memory context.
 */
static inline WaitEventSet *
callogs_create_wait_event_set(int nevents)
{
#if PG_VERSION_NUM >= 170000
	return CreateWaitEventSet(NULL, nevents);
#else
	return CreateWaitEventSet(TopMemoryContext, nevents);
#endif
}

/*
 * callogs_server_usage_ok
 *		Whether role may use foreign server serverid (USAGE privilege).  16
 *		replaced pg_foreign_server_aclcheck by object_aclcheck.
 */
static inline bool
callogs_server_usage_ok(Oid serverid, Oid role)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(ForeignServerRelationId, serverid, role,
						   ACL_USAGE) == ACLCHECK_OK;
#else
	return pg_foreign_server_aclcheck(serverid, role, ACL_USAGE) == ACLCHECK_OK;
#endif
}

/*
 * callogs_my_backend_index
 *		This backend's 0-based index among MaxBackends-sized per-backend
 *		arrays: 17 renamed MyBackendId (1-based) to MyProcNumber (0-based).
 */
static inline int
callogs_my_backend_index(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyBackendId - 1;
#endif
}

/*
 * callogs_pathkey_is_desc, callogs_make_desc_pathkey
 *		Whether a pathkey sorts descending, and the canonical descending
 *		pathkey of an equivalence class: 18 replaced PathKey.pk_strategy (a
 *		btree strategy number) with pk_cmptype (a CompareType), which
 *		make_canonical_pathkey takes too.
 */
#if PG_VERSION_NUM >= 180000
#define callogs_pathkey_is_desc(pk) ((pk)->pk_cmptype == COMPARE_GT)
#define callogs_make_desc_pathkey(root, ec, opfamily, nulls_first) \
	make_canonical_pathkey((root), (ec), (opfamily), COMPARE_GT, (nulls_first))
#else
#define callogs_pathkey_is_desc(pk) ((pk)->pk_strategy == BTGreaterStrategyNumber)
#define callogs_make_desc_pathkey(root, ec, opfamily, nulls_first) \
	make_canonical_pathkey((root), (ec), (opfamily), BTGreaterStrategyNumber, \
						   (nulls_first))
#endif

/*
 * callogs_ec_members
 *		The members of an equivalence class that can stand for rel: its
 *		parent members and, when rel is a child (a partition, an appendrel
 *		member), the child members of rel.  Before 18 they are all in
 *		ec_members (child members marked em_is_child); 18 keeps child
 *		members apart, reached through an EquivalenceMemberIterator.  The
 *		caller still matches each member's em_relids.
 */
static inline List *
callogs_ec_members(EquivalenceClass *ec, RelOptInfo *rel)
{
#if PG_VERSION_NUM >= 180000
	EquivalenceMemberIterator it;
	EquivalenceMember *em;
	List	   *members = NIL;

	setup_eclass_member_iterator(&it, ec, rel->relids);
	while ((em = eclass_member_iterator_next(&it)) != NULL)
		members = lappend(members, em);
	return members;
#else
	return ec->ec_members;
#endif
}

#endif							/* CALLOGS_COMPAT_H */
