/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Which WHERE clauses of a call_logs scan become API query parameters,
 *		  and how the parameters are written.
 *
 * The API can filter on call_type, call_status and a date range.  The
 * planner side (callogs_classify_conditions) picks the restriction clauses
 * whose meaning is certain to be a superset remotely: equality and
 * = ANY on the call_type/call_status columns, and range comparisons on the
 * date column, each against a value that does not depend on the row (a
 * constant, a parameter or a stable expression).  Every clause is still
 * checked locally by PostgreSQL, so pushdown only ever saves requests.
 *
 * The executor side (callogs_compute_filter) evaluates the values, keeps
 * only the documented filter values, intersects repeated conditions into
 * the tightest filter, detects contradictions, and turns date conditions
 * into a range of instants that every matching row lies in, whatever UTC
 * offset the API wrote it in and whatever the session TimeZone.
 * callogs_stream_params then writes the parameters of each request stream,
 * widened so that the API's answer is a superset whatever its
 * inclusivity, and never a bound ISO 8601 cannot write.  EXPLAIN goes
 * through the same two functions, with placeholders for values known only
 * at execution.
 *
 * IDENTIFICATION
 *		  src/deparse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "foreign/foreign.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "callogs_fdw.h"

const char *const callogs_call_types[] = {"inbound", "outbound"};
const char *const callogs_call_statuses[] = {"completed", "missed", "failed"};

/*
 * callogs_field_column
 *		The attnum of the text or varchar column fed by JSON key field, or
 *		InvalidAttrNumber: the columns call_type and call_status conditions
 *		(and grouped counts) apply to.
 */
AttrNumber
callogs_field_column(Relation rel, const char *field)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		const char *name = NameStr(att->attname);
		ListCell   *lc;

		if (att->attisdropped)
			continue;
		foreach(lc, GetForeignColumnOptions(RelationGetRelid(rel), att->attnum))
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "field") == 0)
				name = defGetString(def);
		}
		if (strcmp(name, field) == 0)
		{
			Oid			t = getBaseType(att->atttypid);

			/* only text-like columns compare with text equality */
			if (t == TEXTOID || t == VARCHAROID)
				return att->attnum;
			return InvalidAttrNumber;
		}
	}
	return InvalidAttrNumber;
}

/*
 * callogs_date_column_type
 *		Resolve the table option date_column to a column and its type;
 *		InvalidOid when date pushdown is disabled.
 */
Oid
callogs_date_column_type(Relation rel, const CallogsOptions *opts,
						 AttrNumber *attnum)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	*attnum = InvalidAttrNumber;
	if (opts->date_column == NULL || opts->date_column[0] == '\0')
		return InvalidOid;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		Oid			t;

		if (att->attisdropped || strcmp(NameStr(att->attname), opts->date_column) != 0)
			continue;
		t = getBaseType(att->atttypid);
		if ((t != TIMESTAMPTZOID && t != TIMESTAMPOID && t != DATEOID) &&
			!opts->date_column_set)
			return InvalidOid;	/* the default does not fit: no pushdown */
		if (t != TIMESTAMPTZOID && t != TIMESTAMPOID && t != DATEOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("date_column \"%s\" of foreign table \"%s\" must be of type timestamptz, timestamp or date",
							opts->date_column, RelationGetRelationName(rel)),
					 errhint("Set the table option date_column to another column, or to '' to disable date pushdown.")));
		*attnum = att->attnum;
		return t;
	}
	if (!opts->date_column_set)
		return InvalidOid;		/* no such column: no date pushdown */
	ereport(ERROR,
			(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
			 errmsg("date_column \"%s\" is not a column of foreign table \"%s\"",
					opts->date_column, RelationGetRelationName(rel)),
			 errhint("Set the table option date_column to the column the API's start_date and end_date filter on, or to '' to disable date pushdown.")));
	return InvalidOid;			/* keep compiler quiet */
}

/* Strip binary-compatible relabeling (varchar to text) off a Var. */
static Var *
column_var(Node *node, Index relid)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node && IsA(node, Var) &&
		((Var *) node)->varno == (int) relid && ((Var *) node)->varlevelsup == 0)
		return (Var *) node;
	return NULL;
}

/*
 * value_is_pushable
 *		A value the executor can compute once per scan: no column of any
 *		relation, nothing volatile, no subplan or aggregate.
 */
static bool
value_is_pushable(Node *node)
{
	return node != NULL &&
		!contain_var_clause(node) &&
		!contain_volatile_functions(node) &&
		!contain_subplans(node) &&
		!contain_agg_clause(node) &&
		!contain_window_function(node);
}

/*
 * datetime_opfamily
 *		The btree operator family of date/timestamp comparisons (cached).
 */
static Oid
datetime_opfamily(void)
{
	static Oid	opf = InvalidOid;

	if (!OidIsValid(opf))
		opf = get_opfamily_oid(BTREE_AM_OID,
							   list_make1(makeString("datetime_ops")), false);
	return opf;
}

/* ---- documented filter values ---- */

/*
 * value_mask
 *		The bit of the documented call_type or call_status value s, or -1
 *		when s is not documented (exact, case-sensitive comparison).
 */
static int
value_mask(CallogsCondKind kind, const char *s)
{
	const char *const *vals = kind == CALLOGS_COND_CALL_TYPE ?
	callogs_call_types : callogs_call_statuses;
	int			n = kind == CALLOGS_COND_CALL_TYPE ?
	CALLOGS_NUM_CALL_TYPES : CALLOGS_NUM_CALL_STATUSES;

	for (int i = 0; i < n; i++)
		if (strcmp(s, vals[i]) == 0)
			return 1 << i;
	return -1;
}

/*
 * filter_value_mask
 *		The documented values a call_type/call_status condition admits, as a
 *		bitmask over the documented values: 0 for "= NULL" or an empty
 *		array (never true), -1 when a value is not documented (the condition
 *		then stays a local filter only: a typo gives zero rows, never an API
 *		400).  Serves the planner (is the API's count exact?) and the
 *		executor (which values to send) alike.
 */
static int
filter_value_mask(CallogsCondKind kind, CallogsCondOp op, Datum value, bool isnull)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			mask = 0;

	if (isnull)
		return 0;
	if (op == CALLOGS_OP_EQ)
		return value_mask(kind, TextDatumGetCString(value));

	arr = DatumGetArrayTypeP(value);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		int			m;

		if (nulls[i])
			continue;
		m = value_mask(kind, TextDatumGetCString(elems[i]));
		if (m < 0)
			return -1;
		mask |= m;
	}
	return mask;
}

/*
 * exact_filter_value
 *		Whether a pushed call_type/call_status condition is known at plan
 *		time and sent as it is, so that the API's count is exactly its
 *		answer (count(*) pushdown).
 */
static bool
exact_filter_value(Expr *expr, CallogsCondKind kind, CallogsCondOp op)
{
	Const	   *c = (Const *) expr;

	return IsA(expr, Const) &&
		filter_value_mask(kind, op, c->constvalue, c->constisnull) >= 0;
}

/*
 * add_cond
 *		Append one pushed condition to the three parallel lists.
 */
static void
add_cond(CallogsConds *conds, CallogsCondKind kind, CallogsCondOp op, Node *value)
{
	conds->kinds = lappend_int(conds->kinds, (int) kind);
	conds->ops = lappend_int(conds->ops, (int) op);
	conds->exprs = lappend(conds->exprs, value);
}

/*
 * callogs_classify_conditions
 *		Find the restriction clauses of baserel that can be sent to the API:
 *		their kinds, operators and value expressions (parallel lists), and
 *		whether the API's count is exact for the whole WHERE clause (every
 *		clause pushed, values documented constants, no date bound).
 *		*inexact (when not NULL) gets the RestrictInfos the API does not
 *		apply exactly: what still filters the API's rows locally.
 */
void
callogs_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
							const CallogsOptions *opts,
							CallogsConds *conds, bool *all_exact,
							List **inexact)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Relation	rel;
	AttrNumber	type_att,
				status_att,
				date_att;
	Oid			date_type;
	ListCell   *lc;

	memset(conds, 0, sizeof(*conds));
	*all_exact = true;
	if (inexact)
		*inexact = NIL;
	if (!opts->pushdown)
	{
		*all_exact = baserel->baserestrictinfo == NIL;
		if (inexact)
			*inexact = list_copy(baserel->baserestrictinfo);
		return;
	}

	rel = table_open(rte->relid, NoLock);
	type_att = callogs_field_column(rel, "call_type");
	status_att = callogs_field_column(rel, "call_status");
	date_type = callogs_date_column_type(rel, opts, &date_att);
	table_close(rel, NoLock);

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Expr	   *clause = ri->clause;
		bool		pushed = false;
		bool		exact = false;

		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;
			Node	   *left = linitial(op->args);
			Node	   *right = lsecond(op->args);
			Var		   *var = column_var(left, baserel->relid);
			Node	   *value = right;
			bool		commuted = false;

			if (var == NULL)
			{
				var = column_var(right, baserel->relid);
				value = left;
				commuted = true;
			}
			if (var != NULL && value_is_pushable(value))
			{
				if (op->opno == TextEqualOperator &&
					(var->varattno == type_att || var->varattno == status_att) &&
					var->varattno != InvalidAttrNumber)
				{
					CallogsCondKind kind = var->varattno == type_att ?
					CALLOGS_COND_CALL_TYPE : CALLOGS_COND_CALL_STATUS;

					add_cond(conds, kind, CALLOGS_OP_EQ, value);
					pushed = true;
					exact = exact_filter_value((Expr *) value, kind, CALLOGS_OP_EQ);
				}
				else if (date_att != InvalidAttrNumber && var->varattno == date_att &&
						 (var->vartype == date_type) &&
						 (exprType(value) == DATEOID ||
						  exprType(value) == TIMESTAMPOID ||
						  exprType(value) == TIMESTAMPTZOID))
				{
					int			strategy = get_op_opfamily_strategy(op->opno,
																	datetime_opfamily());
					int			cop;

					if (commuted && strategy != BTEqualStrategyNumber && strategy != 0)
						strategy = BTMaxStrategyNumber + 1 - strategy;
					switch (strategy)
					{
						case BTLessStrategyNumber:
							cop = CALLOGS_OP_LT;
							break;
						case BTLessEqualStrategyNumber:
							cop = CALLOGS_OP_LE;
							break;
						case BTEqualStrategyNumber:
							cop = CALLOGS_OP_EQ;
							break;
						case BTGreaterEqualStrategyNumber:
							cop = CALLOGS_OP_GE;
							break;
						case BTGreaterStrategyNumber:
							cop = CALLOGS_OP_GT;
							break;
						default:
							cop = -1;
							break;
					}
					if (cop >= 0)
					{
						add_cond(conds, CALLOGS_COND_DATE, (CallogsCondOp) cop, value);
						pushed = true;
					}
				}
			}
		}
		else if (IsA(clause, ScalarArrayOpExpr))
		{
			ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
			Var		   *var = column_var(linitial(sa->args), baserel->relid);
			Node	   *value = lsecond(sa->args);

			if (sa->useOr && sa->opno == TextEqualOperator && var != NULL &&
				var->varattno != InvalidAttrNumber &&
				(var->varattno == type_att || var->varattno == status_att) &&
				exprType(value) == TEXTARRAYOID && value_is_pushable(value))
			{
				CallogsCondKind kind = var->varattno == type_att ?
				CALLOGS_COND_CALL_TYPE : CALLOGS_COND_CALL_STATUS;

				add_cond(conds, kind, CALLOGS_OP_ANY, value);
				pushed = true;
				exact = exact_filter_value((Expr *) value, kind, CALLOGS_OP_ANY);
			}
		}
		if (!pushed || !exact)
		{
			*all_exact = false;
			if (inexact)
				*inexact = lappend(*inexact, ri);
		}
	}
}

/* ---- executor side: the filter of one execution ---- */

/*
 * The largest UTC offset a timestamp can carry and still be read
 * (PostgreSQL accepts up to +-15:59:59; real zones stay within +-14 h), and
 * the largest offset of any time zone from the tz database, which the zone
 * the API reads a bare date in can have.  (A session TimeZone can go
 * further: see session_offset_range.)
 */
#define CALLOGS_MAX_UTC_OFFSET	(16 * USECS_PER_HOUR)

/*
 * The most a session TimeZone can differ from UTC: PostgreSQL accepts any
 * offset below a week (SET TIME ZONE 160, '<+100>-100').
 */
#define CALLOGS_MAX_SESSION_OFFSET	(7 * USECS_PER_DAY)

/*
 * session_offset_range
 *		The smallest and largest UTC offset (east positive, microseconds)
 *		the session TimeZone gives wall-clock times near the instant v.
 *
 *		PostgreSQL compares a timestamp or date column with a timestamptz
 *		value by reading the column's wall-clock time w in the session
 *		TimeZone (timestamp2timestamptz, DetermineTimeZoneOffset): w's
 *		instant is w minus the zone's offset at w.  Every w whose instant
 *		lies on either side of v is within a week of v (no offset reaches
 *		a week), so the offsets in force during v - 8 days .. v + 8 days,
 *		from the zone's transitions (pg_next_dst_boundary), are all that
 *		matter.  A fixed-offset zone has one; tz database zones stay within
 *		16 hours, but POSIX and numeric zones do not.  When the zone cannot
 *		be read, the widest offsets PostgreSQL accepts are returned.
 */
static void
session_offset_range(TimestampTz v, int64 *lo, int64 *hi)
{
	long int	gmtoff;
	pg_time_t	t;
	pg_time_t	end;

	if (session_timezone != NULL &&
		pg_get_timezone_offset(session_timezone, &gmtoff))
	{
		*lo = *hi = (int64) gmtoff * USECS_PER_SEC;
		return;
	}
	t = timestamptz_to_time_t(v) - 8 * SECS_PER_DAY;
	end = t + 16 * SECS_PER_DAY;
	*lo = PG_INT64_MAX;
	*hi = PG_INT64_MIN;
	for (int i = 0; i < 64 && session_timezone != NULL; i++)
	{
		long int	before_gmtoff,
					after_gmtoff;
		int			before_isdst,
					after_isdst;
		pg_time_t	boundary;
		int			r = pg_next_dst_boundary(&t, &before_gmtoff, &before_isdst,
											 &boundary, &after_gmtoff,
											 &after_isdst, session_timezone);

		if (r < 0)
			break;
		*lo = Min(*lo, (int64) before_gmtoff * USECS_PER_SEC);
		*hi = Max(*hi, (int64) before_gmtoff * USECS_PER_SEC);
		if (r == 0 || boundary > end)
			return;
		*lo = Min(*lo, (int64) after_gmtoff * USECS_PER_SEC);
		*hi = Max(*hi, (int64) after_gmtoff * USECS_PER_SEC);
		t = boundary;
	}
	/* unreadable zone, or a transition every few hours: the widest */
	*lo = -CALLOGS_MAX_SESSION_OFFSET;
	*hi = CALLOGS_MAX_SESSION_OFFSET;
}

/*
 * widen
 *		t moved by delta microseconds, or false when that leaves the range
 *		of timestamps (the bound is then not sent: a superset).
 */
static bool
widen(TimestampTz t, int64 delta, TimestampTz *result)
{
	if (pg_add_s64_overflow(t, delta, result))
		return false;
	return IS_VALID_TIMESTAMP(*result);
}

/*
 * A range of instants, each side optional: what the API is asked for.
 */
typedef struct InstantRange
{
	bool		has_lo;
	TimestampTz lo;
	bool		lo_incl;
	bool		has_hi;
	TimestampTz hi;
	bool		hi_incl;
	bool		empty;			/* no row can satisfy the condition */
} InstantRange;

/*
 * date_condition_range
 *		The instants at which a row satisfying "date_column op value" can
 *		have been stamped by the API: a superset, whatever UTC offset the
 *		API wrote the row's timestamp in and whatever the session TimeZone.
 *
 *		A timestamptz column compares instants, exactly as PostgreSQL does
 *		(a timestamp or date value is converted in the session TimeZone,
 *		as timestamptz_cmp_timestamp and date_cmp_timestamptz do).
 *
 *		A timestamp column holds the wall-clock time as written (the offset
 *		dropped), and a date column that wall-clock time's date: first the
 *		range of wall-clock times w is derived, following PostgreSQL's
 *		cross-type comparisons (timestamp_cmp_date, date_cmp_timestamp; a
 *		timestamptz value is compared through the session TimeZone, by the
 *		offsets session_offset_range finds); then an instant is w minus
 *		the row's offset, within CALLOGS_MAX_UTC_OFFSET.  So the bounds
 *		are widened by the largest offsets on each side.
 */
static void
date_condition_range(Oid coltype, CallogsCondOp op, Oid valtype, Datum value,
					 InstantRange *r)
{
	bool		want_lo = (op == CALLOGS_OP_GT || op == CALLOGS_OP_GE || op == CALLOGS_OP_EQ);
	bool		want_hi = (op == CALLOGS_OP_LT || op == CALLOGS_OP_LE || op == CALLOGS_OP_EQ);
	TimestampTz v;
	int			overflow = 0;
	TimestampTz wlo = 0,
				whi = 0;

	memset(r, 0, sizeof(*r));

	/* the value as a point on the time line PostgreSQL compares it on */
	if (valtype == TIMESTAMPTZOID)
		v = DatumGetTimestampTz(value);
	else if (valtype == TIMESTAMPOID)
		v = coltype == TIMESTAMPTZOID ?
			timestamp2timestamptz_opt_overflow(DatumGetTimestamp(value), &overflow) :
			DatumGetTimestamp(value);
	else
		v = coltype == TIMESTAMPTZOID ?
			date2timestamptz_opt_overflow(DatumGetDateADT(value), &overflow) :
			date2timestamp_opt_overflow(DatumGetDateADT(value), &overflow);
	if (overflow > 0)
		v = DT_NOEND;
	else if (overflow < 0)
		v = DT_NOBEGIN;

	if (TIMESTAMP_NOT_FINITE(v))
	{
		/* -infinity/infinity: no bound on that side, or no row at all */
		if ((want_lo && v == DT_NOEND) || (want_hi && v == DT_NOBEGIN))
			r->empty = true;
		return;
	}

	if (coltype == TIMESTAMPTZOID)
	{
		r->has_lo = want_lo;
		r->lo = v;
		r->lo_incl = op != CALLOGS_OP_GT;
		r->has_hi = want_hi;
		r->hi = v;
		r->hi_incl = op != CALLOGS_OP_LT;
		return;
	}

	/* wall-clock range [wlo, whi] of the rows that satisfy the condition */
	if (valtype == TIMESTAMPTZOID)
	{
		/*
		 * compared through the session TimeZone: w's instant is w minus the
		 * zone's offset at w, so w lies within v plus the offsets in force
		 */
		int64		off_lo,
					off_hi;

		session_offset_range(v, &off_lo, &off_hi);
		want_lo = want_lo && widen(v, off_lo, &wlo);
		want_hi = want_hi && widen(v, off_hi, &whi);
	}
	else
	{
		wlo = v;
		whi = v;
	}
	if (coltype == DATEOID)
	{
		/*
		 * d op value, with d <= w < d + 1 day.  A date value is a midnight
		 * that d's midnight is compared with exactly; a timestamp (or
		 * timestamptz) value is compared with d's midnight.
		 */
		if (valtype == DATEOID && op == CALLOGS_OP_GT)
			want_lo = want_lo && widen(wlo, USECS_PER_DAY, &wlo);
		if (!(valtype == DATEOID && op == CALLOGS_OP_LT))
			want_hi = want_hi && widen(whi, USECS_PER_DAY, &whi);
	}

	/* the row's own offset: its instant is within that much of w */
	r->has_lo = want_lo && widen(wlo, -CALLOGS_MAX_UTC_OFFSET, &r->lo);
	r->lo_incl = true;
	r->has_hi = want_hi && widen(whi, CALLOGS_MAX_UTC_OFFSET, &r->hi);
	r->hi_incl = true;
}

/*
 * value_label
 *		How EXPLAIN shows a condition value known only at execution: $n for
 *		a query parameter, (runtime) for anything else.
 */
static const char *
value_label(Node *value)
{
	if (IsA(value, Param) && ((Param *) value)->paramkind == PARAM_EXTERN)
		return psprintf("$%d", ((Param *) value)->paramid);
	return "(runtime)";
}

/*
 * filter_values
 *		The values to send for call_type or call_status into out[]: the
 *		placeholder label of a value known only at execution (verbatim), or
 *		the documented values in mask when the conditions restrict them.
 *		Returns how many (0: no filter on it).
 */
static int
filter_values(const char *label, bool restricted, int mask,
			  const char *const *documented, int ndocumented,
			  const char **out, bool *verbatim)
{
	int			n = 0;

	*verbatim = label != NULL;
	if (label)
		out[n++] = label;
	else if (restricted)
		for (int i = 0; i < ndocumented; i++)
			if (mask & (1 << i))
				out[n++] = documented[i];
	return n;
}

/*
 * callogs_compute_filter
 *		The tightest filter the pushed conditions allow.  values[i] is a
 *		Const when the value is known (at execution: always), anything else
 *		when it is not (EXPLAIN of a generic plan): such a condition shows
 *		as a placeholder and cannot be sent.  Conditions on undocumented
 *		values stay local only; contradictions make the filter empty.
 */
void
callogs_compute_filter(const CallogsConds *conds, List *values,
					   Oid date_typid, CallogsFilter *filter)
{
	int			type_mask = (1 << CALLOGS_NUM_CALL_TYPES) - 1;
	int			status_mask = (1 << CALLOGS_NUM_CALL_STATUSES) - 1;
	bool		type_restricted = false;
	bool		status_restricted = false;
	const char *type_label = NULL;
	const char *status_label = NULL;
	ListCell   *lck,
			   *lco,
			   *lcv;

	memset(filter, 0, sizeof(*filter));

	forthree(lck, conds->kinds, lco, conds->ops, lcv, values)
	{
		CallogsCondKind kind = (CallogsCondKind) lfirst_int(lck);
		CallogsCondOp op = (CallogsCondOp) lfirst_int(lco);
		Node	   *value = (Node *) lfirst(lcv);
		Const	   *c = IsA(value, Const) ? (Const *) value : NULL;

		if (kind == CALLOGS_COND_DATE)
		{
			InstantRange r;

			if (c == NULL)
			{
				if (op == CALLOGS_OP_GT || op == CALLOGS_OP_GE || op == CALLOGS_OP_EQ)
					filter->lower_runtime = true;
				if (op == CALLOGS_OP_LT || op == CALLOGS_OP_LE || op == CALLOGS_OP_EQ)
					filter->upper_runtime = true;
				continue;
			}
			if (c->constisnull)
			{
				filter->empty = true;
				continue;
			}
			date_condition_range(date_typid, op, c->consttype, c->constvalue, &r);
			if (r.empty)
				filter->empty = true;
			if (r.has_lo &&
				(!filter->has_lower || r.lo > filter->lower ||
				 (r.lo == filter->lower && !r.lo_incl)))
			{
				filter->has_lower = true;
				filter->lower = r.lo;
				filter->lower_inclusive = r.lo_incl;
			}
			if (r.has_hi &&
				(!filter->has_upper || r.hi < filter->upper ||
				 (r.hi == filter->upper && !r.hi_incl)))
			{
				filter->has_upper = true;
				filter->upper = r.hi;
				filter->upper_inclusive = r.hi_incl;
			}
		}
		else if (c == NULL)
		{
			if (kind == CALLOGS_COND_CALL_TYPE && type_label == NULL)
				type_label = value_label(value);
			else if (kind == CALLOGS_COND_CALL_STATUS && status_label == NULL)
				status_label = value_label(value);
		}
		else
		{
			int			m = filter_value_mask(kind, op, c->constvalue, c->constisnull);

			if (m < 0)
			{
				filter->inexact = true;
				continue;		/* stays a local filter only */
			}
			if (kind == CALLOGS_COND_CALL_TYPE)
			{
				type_mask &= m;
				type_restricted = true;
			}
			else
			{
				status_mask &= m;
				status_restricted = true;
			}
		}
	}

	if ((type_restricted && type_mask == 0) ||
		(status_restricted && status_mask == 0))
		filter->empty = true;
	if (filter->has_lower && filter->has_upper &&
		(filter->lower > filter->upper ||
		 (filter->lower == filter->upper &&
		  !(filter->lower_inclusive && filter->upper_inclusive))))
		filter->empty = true;

	filter->ntypes = filter_values(type_label, type_restricted, type_mask,
								   callogs_call_types, CALLOGS_NUM_CALL_TYPES,
								   filter->types, &filter->types_verbatim);
	filter->nstatuses = filter_values(status_label, status_restricted, status_mask,
									  callogs_call_statuses, CALLOGS_NUM_CALL_STATUSES,
									  filter->statuses, &filter->statuses_verbatim);
}

/*
 * callogs_filter_nstreams
 *		How many request streams the filter needs: the cross product of the
 *		call_type and call_status values (0 for a contradiction).
 */
int
callogs_filter_nstreams(const CallogsFilter *filter)
{
	if (filter->empty)
		return 0;
	return Max(filter->ntypes, 1) * Max(filter->nstatuses, 1);
}

/* ---- writing the parameters ---- */

/*
 * floor_day
 *		Midnight UTC of the day holding t.
 */
static TimestampTz
floor_day(TimestampTz t)
{
	TimestampTz d = t - (t % USECS_PER_DAY);

	if (t % USECS_PER_DAY < 0)
		d -= USECS_PER_DAY;
	return d;
}

/*
 * format_instant
 *		Write a UTC instant (already on a millisecond, or a midnight for
 *		date_format 'date') as the API expects it: YYYY-MM-DD, or
 *		YYYY-MM-DDTHH:MM:SS.mmmZ.  Returns NULL when the instant is outside
 *		the years 0001 to 9999, which ISO 8601 cannot write without an
 *		agreement the API never made: such a bound is not sent.
 */
static char *
format_instant(TimestampTz t, CallogsDateFormat fmt)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return NULL;
	if (fmt == CALLOGS_DATE_FORMAT_DATE)
		return psprintf("%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

/*
 * floor_ms, ceil_ms
 *		The millisecond at or before / at or after t (API timestamps have
 *		millisecond precision).
 */
static TimestampTz
floor_ms(TimestampTz t)
{
	int64		r = t % 1000;

	return t - (r < 0 ? r + 1000 : r);
}

static TimestampTz
ceil_ms(TimestampTz t)
{
	TimestampTz f = floor_ms(t);

	return f == t ? t : f + 1000;
}

/*
 * start_date_value, end_date_value
 *		The start_date / end_date to send for the filter's bounds, so that
 *		the API's answer is a superset of the rows in the bounds whatever
 *		its inclusivity, or NULL when the bound cannot be sent.
 *
 *		date_format 'timestamp': the bound to the millisecond in UTC, one
 *		millisecond further out when inclusive (so that an exclusive
 *		start_date/end_date still includes it).
 *
 *		date_format 'date': the API reads a bare date as a day in a zone
 *		no document names (UTC, its own, the organization's).  We assume
 *		only that the zone is a real one, within CALLOGS_MAX_UTC_OFFSET of
 *		UTC: start_date is the UTC day of the lower bound minus that, and
 *		end_date the day after the UTC day of the upper bound plus that,
 *		so both an inclusive and an exclusive end_date cover the bound.
 */
static char *
start_date_value(const CallogsFilter *filter, CallogsDateFormat fmt)
{
	TimestampTz t = filter->lower;

	if (fmt == CALLOGS_DATE_FORMAT_DATE)
	{
		if (!widen(t, -CALLOGS_MAX_UTC_OFFSET, &t))
			return NULL;
		return format_instant(floor_day(t), fmt);
	}
	return format_instant(floor_ms(filter->lower_inclusive ? t - 1 : t), fmt);
}

static char *
end_date_value(const CallogsFilter *filter, CallogsDateFormat fmt)
{
	TimestampTz t = filter->upper;

	if (fmt == CALLOGS_DATE_FORMAT_DATE)
	{
		if (!widen(t, CALLOGS_MAX_UTC_OFFSET, &t) ||
			!widen(floor_day(t), USECS_PER_DAY, &t))
			return NULL;
		return format_instant(t, fmt);
	}
	return format_instant(ceil_ms(filter->upper_inclusive ? t + 1 : t), fmt);
}

/*
 * date_param
 *		Append start_date or end_date: "(runtime)" (verbatim) when known only
 *		at execution, else value when there is one to send.
 */
static List *
date_param(List *params, const char *name, bool runtime, const char *value)
{
	if (runtime)
		return callogs_url_param(params, name, "(runtime)", true);
	if (value)
		return callogs_url_param(params, name, value, false);
	return params;
}

/*
 * callogs_stream_params
 *		The filter parameters of request stream number `stream` (0-based),
 *		as a list for callogs_url_build: call_type, call_status, start_date,
 *		end_date, each only when it restricts the answer.  Placeholders of
 *		values known only at execution (EXPLAIN) are verbatim.
 */
List *
callogs_stream_params(const CallogsFilter *filter, CallogsDateFormat fmt,
					  int stream)
{
	List	   *params = NIL;
	int			nstatus = Max(filter->nstatuses, 1);

	if (filter->ntypes > 0)
		params = callogs_url_param(params, "call_type",
								   filter->types[stream / nstatus],
								   filter->types_verbatim);
	if (filter->nstatuses > 0)
		params = callogs_url_param(params, "call_status",
								   filter->statuses[stream % nstatus],
								   filter->statuses_verbatim);
	params = date_param(params, "start_date", filter->lower_runtime,
						filter->has_lower ? start_date_value(filter, fmt) : NULL);
	params = date_param(params, "end_date", filter->upper_runtime,
						filter->has_upper ? end_date_value(filter, fmt) : NULL);
	return params;
}

/*
 * callogs_format_instant
 *		A UTC instant written as the API's date parameters take it (see
 *		format_instant): the probe (probe.c) asks its questions in exactly
 *		the form the scans send.  NULL outside the years 0001-9999.
 */
char *
callogs_format_instant(TimestampTz t, CallogsDateFormat fmt)
{
	return format_instant(t, fmt);
}
