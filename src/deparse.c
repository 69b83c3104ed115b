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
 * the tightest filter, detects contradictions, and widens date bounds so
 * that the API's answer is always a superset, whatever its inclusivity.
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
#include "foreign/foreign.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
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
 * find_field_column
 *		The attnum of the column fed by JSON key field, or InvalidAttrNumber.
 */
static AttrNumber
find_field_column(Relation rel, const char *field)
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

static int
cond_code(CallogsCondKind kind, CallogsCondOp op)
{
	return (int) kind * 16 + (int) op;
}

/*
 * const_is_documented
 *		Whether a constant is one of the documented filter values (or NULL).
 */
static bool
const_is_documented(Const *c, CallogsCondKind kind)
{
	const char *const *vals = kind == CALLOGS_COND_CALL_TYPE ?
	callogs_call_types : callogs_call_statuses;
	int			n = kind == CALLOGS_COND_CALL_TYPE ?
	CALLOGS_NUM_CALL_TYPES : CALLOGS_NUM_CALL_STATUSES;
	char	   *s;

	if (c->constisnull)
		return true;			/* a contradiction is exact too */
	s = TextDatumGetCString(c->constvalue);
	for (int i = 0; i < n; i++)
		if (strcmp(s, vals[i]) == 0)
			return true;
	return false;
}

/*
 * exact_filter_value
 *		Whether a pushed call_type/call_status value is known at plan time
 *		and documented, so the API's count for it is exactly the answer.
 */
static bool
exact_filter_value(Expr *expr, CallogsCondKind kind, bool is_array)
{
	Const	   *c;

	if (!IsA(expr, Const))
		return false;
	c = (Const *) expr;
	if (!is_array)
		return const_is_documented(c, kind);
	if (c->constisnull)
		return true;
	{
		ArrayType  *arr = DatumGetArrayTypeP(c->constvalue);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			Const		tmp = *c;

			tmp.consttype = TEXTOID;
			tmp.constisnull = nulls[i];
			tmp.constvalue = elems[i];
			if (!nulls[i] && !const_is_documented(&tmp, kind))
				return false;
		}
	}
	return true;
}

/*
 * callogs_classify_conditions
 *		Find the restriction clauses of baserel that can be sent to the API.
 *		Returns the encoded (kind, op) codes and the value expressions in
 *		two parallel lists, and whether the API's count is exact for the
 *		whole WHERE clause (every clause pushed, values documented
 *		constants, no date bound).
 */
void
callogs_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
							const CallogsOptions *opts,
							List **cond_codes, List **cond_exprs,
							bool *all_exact)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Relation	rel;
	AttrNumber	type_att,
				status_att,
				date_att;
	Oid			date_type;
	ListCell   *lc;

	*cond_codes = NIL;
	*cond_exprs = NIL;
	*all_exact = true;
	if (!opts->pushdown)
	{
		*all_exact = baserel->baserestrictinfo == NIL;
		return;
	}

	rel = table_open(rte->relid, NoLock);
	type_att = find_field_column(rel, "call_type");
	status_att = find_field_column(rel, "call_status");
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

					*cond_codes = lappend_int(*cond_codes, cond_code(kind, CALLOGS_OP_EQ));
					*cond_exprs = lappend(*cond_exprs, value);
					pushed = true;
					exact = exact_filter_value((Expr *) value, kind, false);
				}
				else if (date_att != InvalidAttrNumber && var->varattno == date_att &&
						 (var->vartype == date_type) &&
						 (exprType(value) == DATEOID ||
						  exprType(value) == TIMESTAMPOID ||
						  exprType(value) == TIMESTAMPTZOID))
				{
					int			strategy = get_op_opfamily_strategy(op->opno,
																	datetime_opfamily());
					CallogsCondOp cop;

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
					if ((int) cop >= 0)
					{
						*cond_codes = lappend_int(*cond_codes, cond_code(CALLOGS_COND_DATE, cop));
						*cond_exprs = lappend(*cond_exprs, value);
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

				*cond_codes = lappend_int(*cond_codes, cond_code(kind, CALLOGS_OP_ANY));
				*cond_exprs = lappend(*cond_exprs, value);
				pushed = true;
				exact = exact_filter_value((Expr *) value, kind, true);
			}
		}
		if (!pushed || !exact)
			*all_exact = false;
	}
}

/* ---- executor side ---- */

/* Bitmask of documented values matching s; -1 when s is undocumented. */
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
 *		The set of documented values a condition admits, as a bitmask over
 *		the documented values, or -1 when it cannot be expressed (an
 *		undocumented value: the condition then stays local only).
 */
static int
filter_value_mask(CallogsCondKind kind, CallogsCondOp op, Datum value, bool isnull)
{
	int			mask = 0;

	if (isnull)
		return 0;				/* = NULL and = ANY(NULL) are never true */
	if (op == CALLOGS_OP_EQ)
		return value_mask(kind, TextDatumGetCString(value));
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

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
	}
	return mask;
}

/*
 * bound_instant
 *		The UTC instant a date condition value stands for, following
 *		PostgreSQL's comparison semantics for the column's type (a
 *		timestamp column holds the API's UTC wall-clock time).
 */
static TimestampTz
bound_instant(Oid coltype, Oid valtype, Datum value)
{
	if (coltype == TIMESTAMPTZOID)
	{
		if (valtype == TIMESTAMPTZOID)
			return DatumGetTimestampTz(value);
		if (valtype == TIMESTAMPOID)
			return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, value));
		return DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, value));
	}
	/* timestamp and date columns: the value as UTC wall clock */
	if (valtype == TIMESTAMPTZOID)
		return (TimestampTz) DatumGetTimestamp(DirectFunctionCall1(timestamptz_timestamp, value));
	if (valtype == TIMESTAMPOID)
		return (TimestampTz) DatumGetTimestamp(value);
	return (TimestampTz) DatumGetTimestamp(DirectFunctionCall1(date_timestamp, value));
}

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
 * callogs_compute_filter
 *		Evaluate the pushed conditions (values[i] is a Datum in a Const-like
 *		holder: the caller passes Const nodes) into the tightest filter.
 */
void
callogs_compute_filter(List *codes, List *values, const CallogsOptions *opts,
					   Oid date_typid, CallogsFilter *filter)
{
	int			type_mask = (1 << CALLOGS_NUM_CALL_TYPES) - 1;
	int			status_mask = (1 << CALLOGS_NUM_CALL_STATUSES) - 1;
	bool		type_restricted = false;
	bool		status_restricted = false;
	ListCell   *lc1,
			   *lc2;

	memset(filter, 0, sizeof(*filter));

	forboth(lc1, codes, lc2, values)
	{
		int			code = lfirst_int(lc1);
		Const	   *c = lfirst_node(Const, lc2);
		CallogsCondKind kind = code / 16;
		CallogsCondOp op = code % 16;

		if (kind == CALLOGS_COND_DATE)
		{
			TimestampTz t;
			bool		lower = (op == CALLOGS_OP_GT || op == CALLOGS_OP_GE || op == CALLOGS_OP_EQ);
			bool		upper = (op == CALLOGS_OP_LT || op == CALLOGS_OP_LE || op == CALLOGS_OP_EQ);

			if (c->constisnull)
			{
				filter->empty = true;
				continue;
			}
			t = bound_instant(date_typid, c->consttype, c->constvalue);
			if (TIMESTAMP_NOT_FINITE(t))
			{
				/* -infinity/infinity: no bound on that side, or nothing */
				if ((lower && t == DT_NOEND) || (upper && t == DT_NOBEGIN))
					filter->empty = true;
				continue;
			}
			if (date_typid == DATEOID)
			{
				/* a date column holds whole UTC days */
				if (lower)
					t = floor_day(t);
			}
			if (lower && (!filter->has_lower || t > filter->lower ||
						  (t == filter->lower && op == CALLOGS_OP_GT)))
			{
				filter->has_lower = true;
				filter->lower = t;
				filter->lower_inclusive = op != CALLOGS_OP_GT;
			}
			if (upper)
			{
				TimestampTz u = t;
				bool		incl = op != CALLOGS_OP_LT;

				if (date_typid == DATEOID)
				{
					u = floor_day(t) + USECS_PER_DAY;
					incl = false;
				}
				if (!filter->has_upper || u < filter->upper ||
					(u == filter->upper && !incl))
				{
					filter->has_upper = true;
					filter->upper = u;
					filter->upper_inclusive = incl;
				}
			}
		}
		else
		{
			int			m = filter_value_mask(kind, op, c->constvalue, c->constisnull);

			if (m < 0)
				continue;		/* stays a local filter only */
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

	if (type_restricted)
		for (int i = 0; i < CALLOGS_NUM_CALL_TYPES; i++)
			if (type_mask & (1 << i))
				filter->types[filter->ntypes++] = callogs_call_types[i];
	if (status_restricted)
		for (int i = 0; i < CALLOGS_NUM_CALL_STATUSES; i++)
			if (status_mask & (1 << i))
				filter->statuses[filter->nstatuses++] = callogs_call_statuses[i];

	/*
	 * With exact timestamps and no upper bound, pin the window's end to now
	 * so that calls arriving during the scan do not shift the pages.
	 */
	if (!filter->has_upper && opts->date_format == CALLOGS_DATE_FORMAT_TIMESTAMP &&
		date_typid != InvalidOid)
	{
		filter->has_upper = true;
		filter->upper = GetCurrentTimestamp();
		filter->upper_inclusive = false;
		filter->upper_pinned = true;
	}
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

/*
 * callogs_append_param
 *		Append "&name=value" (or "name=value" first) with value
 *		percent-encoded except for characters safe in a query.
 */
void
callogs_append_param(StringInfo buf, const char *name, const char *value)
{
	if (buf->len > 0 && buf->data[buf->len - 1] != '?' && buf->data[buf->len - 1] != '&')
		appendStringInfoChar(buf, '&');
	appendStringInfo(buf, "%s=", name);
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || strchr("-._~:", *p))
			appendStringInfoChar(buf, (char) *p);
		else
			appendStringInfo(buf, "%%%02X", *p);
	}
}

/*
 * callogs_format_instant
 *		Write a UTC instant as the API expects it: YYYY-MM-DD, or
 *		YYYY-MM-DDTHH:MM:SS.mmmZ (rounded down, or up with round_up).
 */
static void
callogs_format_instant(TimestampTz t, CallogsDateFormat fmt, bool round_up,
					   StringInfo buf)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		ms_us;

	/* millisecond resolution, rounded in the widening direction */
	ms_us = t % 1000;
	if (ms_us < 0)
		ms_us += 1000;
	t -= ms_us;
	if (round_up && ms_us > 0)
		t += 1000;
	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date bound out of range for the call logs API")));
	if (fmt == CALLOGS_DATE_FORMAT_DATE)
		appendStringInfo(buf, "%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
	else
		appendStringInfo(buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
						 tm.tm_year, tm.tm_mon, tm.tm_mday,
						 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

/*
 * callogs_stream_query
 *		The query string of request stream number `stream` (0-based), without
 *		the page number: filters first, then page_size.
 */
void
callogs_stream_query(const CallogsFilter *filter, const CallogsOptions *opts,
					 int stream, StringInfo buf)
{
	int			nstatus = Max(filter->nstatuses, 1);

	if (filter->ntypes > 0)
		callogs_append_param(buf, "call_type", filter->types[stream / nstatus]);
	if (filter->nstatuses > 0)
		callogs_append_param(buf, "call_status", filter->statuses[stream % nstatus]);
	if (filter->has_lower)
	{
		StringInfoData v;

		initStringInfo(&v);
		callogs_format_instant(filter->lower, opts->date_format, false, &v);
		callogs_append_param(buf, "start_date", v.data);
		pfree(v.data);
	}
	if (filter->has_upper)
	{
		StringInfoData v;
		TimestampTz u = filter->upper;

		initStringInfo(&v);
		if (opts->date_format == CALLOGS_DATE_FORMAT_DATE)
		{
			/* the upper bound's day plus one: a superset either way */
			u = floor_day(u - (filter->upper_inclusive ? 0 : 1)) + USECS_PER_DAY;
			callogs_format_instant(u, opts->date_format, false, &v);
		}
		else
		{
			/* an inclusive bound must survive an exclusive end_date */
			if (filter->upper_inclusive)
				u += 1000 - 1;
			callogs_format_instant(u, opts->date_format, true, &v);
		}
		callogs_append_param(buf, "end_date", v.data);
		pfree(v.data);
	}
}
