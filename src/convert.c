/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Conversion of call-log JSON values into column Datums.
 *
 * Each column of the foreign table is fed by one JSON key (the column
 * option "field", default the column name).  The common types are built
 * directly (text, integers, boolean, timestamps from ISO 8601, intervals
 * from "H:MM:SS" or seconds); every other type goes through its input
 * function on the value's text.  A JSON null or a missing key is NULL.
 *
 * Values from the network are hostile: strings are checked for NUL and
 * validated into the database encoding, integers are range-checked, and
 * any value that cannot become the column's type raises an ERROR that
 * names the column, the field and a shortened copy of the value.
 *
 * IDENTIFICATION
 *		  src/convert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "parser/parse_coerce.h"
#include "foreign/foreign.h"
#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "callogs_fdw.h"

/*
 * callogs_fdw.fast_conversion: build common types directly rather than via
 * their input functions.  Off only to measure what it saves.
 */
bool		callogs_fast_conversion = true;

/* Longest string accepted for a non-text scalar column. */
#define CALLOGS_MAX_SCALAR_TEXT 256

/*
 * callogs_shorten
 *		A printable copy of s cut to CALLOGS_ERR_VALUE_LEN bytes (on a
 *		character boundary), for error messages.
 */
char *
callogs_shorten(const char *s, size_t len)
{
	StringInfoData buf;
	size_t		i = 0;

	initStringInfo(&buf);
	while (i < len && buf.len < CALLOGS_ERR_VALUE_LEN)
	{
		unsigned char c = (unsigned char) s[i];
		int			clen = 1;

		if (c >= 0x80)
		{
			clen = pg_utf_mblen((const unsigned char *) s + i);
			if (i + clen > len || !pg_utf8_islegal((const unsigned char *) s + i, clen))
			{
				appendStringInfo(&buf, "\\x%02x", c);
				i++;
				continue;
			}
			appendBinaryStringInfo(&buf, s + i, clen);
		}
		else if (c < 0x20 || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, (char) c);
		i += clen;
	}
	if (i < len)
		appendStringInfoString(&buf, "...");
	/* the message must be valid in the server encoding */
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		for (int k = 0; k < buf.len; k++)
			if ((unsigned char) buf.data[k] >= 0x80)
				buf.data[k] = '?';
	}
	return buf.data;
}

static Datum input_function(CallogsColumn *col, char *text);

/*
 * classify_type
 *		Pick the conversion of a column type.
 */
static CallogsConvKind
classify_type(Oid typid, int32 typmod)
{
	switch (typid)
	{
		case TEXTOID:
			return CALLOGS_CONV_TEXT;
		case VARCHAROID:
			return typmod < 0 ? CALLOGS_CONV_TEXT : CALLOGS_CONV_GENERIC;
		case INT2OID:
			return CALLOGS_CONV_INT2;
		case INT4OID:
			return CALLOGS_CONV_INT4;
		case INT8OID:
			return CALLOGS_CONV_INT8;
		case BOOLOID:
			return CALLOGS_CONV_BOOL;
		case TIMESTAMPTZOID:
			return typmod < 0 ? CALLOGS_CONV_TIMESTAMPTZ : CALLOGS_CONV_GENERIC;
		case TIMESTAMPOID:
			return typmod < 0 ? CALLOGS_CONV_TIMESTAMP : CALLOGS_CONV_GENERIC;
		case INTERVALOID:
			return typmod < 0 ? CALLOGS_CONV_INTERVAL : CALLOGS_CONV_GENERIC;
		case JSONOID:
		case JSONBOID:
			return CALLOGS_CONV_JSON;
		default:
			return CALLOGS_CONV_GENERIC;
	}
}

/*
 * callogs_build_columns
 *		Describe the columns listed in attnums (all columns if NIL): their
 *		JSON key and conversion.
 */
CallogsColumn *
callogs_build_columns(Relation rel, List *attnums, const char *org_handle,
					  int *ncolumns)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	CallogsColumn *cols = palloc0(sizeof(CallogsColumn) * Max(tupdesc->natts, 1));
	int			n = 0;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		CallogsColumn *c;
		List	   *options;
		ListCell   *lc;
		Oid			infunc;

		if (att->attisdropped)
			continue;
		if (attnums != NIL && !list_member_int(attnums, att->attnum))
			continue;

		c = &cols[n++];
		c->attnum = att->attnum;
		c->attname = pstrdup(NameStr(att->attname));
		c->field = c->attname;
		c->typid = att->atttypid;
		c->typmod = att->atttypmod;
		options = GetForeignColumnOptions(RelationGetRelid(rel), att->attnum);
		foreach(lc, options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "field") == 0)
				c->field = defGetString(def);
		}
		c->kind = callogs_fast_conversion ?
			classify_type(getBaseType(att->atttypid), att->atttypmod) :
			CALLOGS_CONV_GENERIC;
		c->is_string = TypeCategory(getBaseType(att->atttypid)) == TYPCATEGORY_STRING;
		getTypeInputInfo(att->atttypid, &infunc, &c->typioparam);
		fmgr_info(infunc, &c->infunc);
		/* a domain must go through its input function for its checks */
		if (getBaseType(att->atttypid) != att->atttypid)
			c->kind = CALLOGS_CONV_GENERIC;
		if (strcmp(c->field, CALLOGS_FIELD_ORG_HANDLE) == 0)
		{
			c->kind = CALLOGS_CONV_CONSTANT;
			c->constval = input_function(c, pstrdup(org_handle ? org_handle : ""));
		}
	}
	*ncolumns = n;
	return cols;
}

/* State for the error context of a conversion. */
typedef struct ConvContext
{
	const char *relname;
	CallogsColumn *col;
	ClJson *value;
} ConvContext;

/*
 * conversion_error_callback
 *		Error context naming the column, its JSON field and the shortened value.
 */
static void
conversion_error_callback(void *arg)
{
	ConvContext *cc = (ConvContext *) arg;
	const char *text;

	if (cc->col == NULL)
		return;
	text = cc->value ? cc->value->raw : "null";
	errcontext("column \"%s\" (JSON field \"%s\") of foreign table \"%s\", value %s",
			   cc->col->attname, cc->col->field, cc->relname,
			   callogs_shorten(text, strlen(text)));
}

pg_noreturn static void conversion_error(CallogsColumn *col, ClJson *v, int code, const char *why);

/* A JSON value whose type (boolean, object, array) cannot feed the column. */
pg_noreturn static void
wrong_json_type(CallogsColumn *col, ClJson *v)
{
	conversion_error(col, v, ERRCODE_FDW_INVALID_DATA_TYPE,
					 psprintf("a JSON %s cannot be stored in this column",
							  cl_type_name(v)));
}

/*
 * conversion_error
 *		Raise an error about a value that cannot feed the column, naming both.
 */
pg_noreturn static void
conversion_error(CallogsColumn *col, ClJson *v, int code, const char *why)
{
	const char *text = v->raw;

	ereport(ERROR,
			(errcode(code),
			 errmsg("cannot convert JSON field \"%s\" to column \"%s\" of type %s: %s",
					col->field, col->attname, format_type_be(col->typid), why),
			 errdetail("The value was %s.", callogs_shorten(text, strlen(text)))));
}

/*
 * server_string
 *		A JSON string validated into the database encoding; NUL is refused
 *		because no PostgreSQL text can hold it.
 */
static char *
server_string(CallogsColumn *col, ClJson *v, size_t *len)
{
	const char *s = v->str;
	int			n = v->str_len;

	if (memchr(s, '\0', n) != NULL)
		conversion_error(col, v, ERRCODE_UNTRANSLATABLE_CHARACTER,
						 "the string contains a NUL character (\\u0000)");
	s = pg_any_to_server(s, n, PG_UTF8);
	*len = (s == v->str) ? (size_t) n : strlen(s);
	return (char *) s;
}

/*
 * scalar_text
 *		The text a scalar value hands to an input function: a string as is,
 *		a number or boolean as written.
 */
static char *
scalar_text(CallogsColumn *col, ClJson *v)
{
	size_t		len;
	char	   *s;

	switch (cl_type(v))
	{
		case CL_JSON_STRING:
			s = server_string(col, v, &len);
			if (len > CALLOGS_MAX_SCALAR_TEXT && !col->is_string)
				conversion_error(col, v, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
								 "the string is too long for this type");
			return s == v->str ? pnstrdup(s, len) : s;
		case CL_JSON_INT:
		case CL_JSON_DOUBLE:
		case CL_JSON_BOOLEAN:
			/* the number exactly as written: the input function judges it */
			return pstrdup(v->raw);
		default:
			wrong_json_type(col, v);
	}
}

/*
 * input_function
 *		Run the column type's input function on text.
 */
static Datum
input_function(CallogsColumn *col, char *text)
{
	return InputFunctionCall(&col->infunc, text, col->typioparam, col->typmod);
}

/*
 * convert_timestamp
 *		Build a timestamp(tz) from the API's ISO 8601 string without the
 *		general date/time parser; unusual forms fall back to it.
 */
static Datum
convert_timestamp(CallogsColumn *col, ClJson *v, bool with_tz)
{
	ClTimestamp ts;
	const char *s;
	int			n;

	if (!(cl_type(v) == CL_JSON_STRING))
		conversion_error(col, v, ERRCODE_FDW_INVALID_DATA_TYPE,
						 psprintf("expected a string, got a JSON %s",
								  cl_type_name(v)));
	s = v->str;
	n = v->str_len;
	if (cl_parse_timestamp(s, n, &ts) && (ts.has_tz || !with_tz))
	{
		struct pg_tm tm;
		Timestamp	result;
		int			tz = with_tz ? -ts.tz_offset : 0;

		tm.tm_year = ts.year;
		tm.tm_mon = ts.month;
		tm.tm_mday = ts.day;
		tm.tm_hour = ts.hour;
		tm.tm_min = ts.minute;
		tm.tm_sec = ts.second;
		if (tm2timestamp(&tm, ts.usec, with_tz ? &tz : NULL, &result) == 0 &&
			IS_VALID_TIMESTAMP(result))
			return TimestampGetDatum(result);
	}
	return input_function(col, scalar_text(col, v));
}

/*
 * convert_interval
 *		An interval from integer seconds or "H:MM:SS"; other forms via interval_in.
 */
static Datum
convert_interval(CallogsColumn *col, ClJson *v)
{
	Interval   *iv;
	int64_t		usec;

	if ((cl_type(v) == CL_JSON_BOOLEAN))
		wrong_json_type(col, v);
	if ((cl_type(v) == CL_JSON_INT))
	{
		int64_t		secs;

		if (!cl_json_get_int64(v, &secs) ||
			secs > PG_INT64_MAX / USECS_PER_SEC || secs < PG_INT64_MIN / USECS_PER_SEC)
			conversion_error(col, v, ERRCODE_INTERVAL_FIELD_OVERFLOW,
							 "the number of seconds is out of range");
		usec = secs * USECS_PER_SEC;
	}
	else if ((cl_type(v) == CL_JSON_STRING) &&
			 cl_parse_duration(v->str,
							   v->str_len, &usec))
	{
		/* parsed */
	}
	else
		return input_function(col, scalar_text(col, v));

	iv = palloc(sizeof(Interval));
	iv->time = usec;
	iv->day = 0;
	iv->month = 0;
	return IntervalPGetDatum(iv);
}

/*
 * convert_integer
 *		A range-checked smallint/integer/bigint from a JSON integer or its text.
 */
static Datum
convert_integer(CallogsColumn *col, ClJson *v)
{
	int64_t		i;

	if ((cl_type(v) == CL_JSON_BOOLEAN))
		wrong_json_type(col, v);
	if (!(cl_type(v) == CL_JSON_INT))
		return input_function(col, scalar_text(col, v));
	if (!cl_json_get_int64(v, &i))
		conversion_error(col, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
						 "the number is out of range");
	switch (col->kind)
	{
		case CALLOGS_CONV_INT2:
			if (i < PG_INT16_MIN || i > PG_INT16_MAX)
				conversion_error(col, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
								 "the number is out of range for type smallint");
			return Int16GetDatum((int16) i);
		case CALLOGS_CONV_INT4:
			if (i < PG_INT32_MIN || i > PG_INT32_MAX)
				conversion_error(col, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
								 "the number is out of range for type integer");
			return Int32GetDatum((int32) i);
		default:
			return Int64GetDatum((int64) i);
	}
}

/*
 * convert_value
 *		One non-null JSON value to a Datum of the column's type.
 */
static Datum
convert_value(CallogsColumn *col, ClJson *v)
{
	ClJsonType type = cl_type(v);

	switch (col->kind)
	{
		case CALLOGS_CONV_TEXT:
			if (type == CL_JSON_STRING)
			{
				size_t		len;
				char	   *s = server_string(col, v, &len);

				return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
			}
			else
			{
				/* numbers, booleans, objects and arrays as JSON text */
				const char *s = v->raw;
				char	   *conv = pg_any_to_server(s, strlen(s), PG_UTF8);

				return PointerGetDatum(cstring_to_text(conv));
			}
		case CALLOGS_CONV_INT2:
		case CALLOGS_CONV_INT4:
		case CALLOGS_CONV_INT8:
			return convert_integer(col, v);
		case CALLOGS_CONV_BOOL:
			if (type == CL_JSON_BOOLEAN)
				return BoolGetDatum(v->boolean);
			return input_function(col, scalar_text(col, v));
		case CALLOGS_CONV_TIMESTAMPTZ:
			return convert_timestamp(col, v, true);
		case CALLOGS_CONV_TIMESTAMP:
			return convert_timestamp(col, v, false);
		case CALLOGS_CONV_INTERVAL:
			return convert_interval(col, v);
		case CALLOGS_CONV_JSON:
			{
				const char *s = v->raw;
				char	   *conv = pg_any_to_server(s, strlen(s), PG_UTF8);

				return input_function(col, conv == s ? pstrdup(s) : conv);
			}
		case CALLOGS_CONV_CONSTANT:
			return col->constval;
		case CALLOGS_CONV_GENERIC:
			if (type == CL_JSON_OBJECT || type == CL_JSON_ARRAY)
			{
				const char *s = v->raw;

				return input_function(col, pg_any_to_server(s, strlen(s), PG_UTF8));
			}
			return input_function(col, scalar_text(col, v));
	}
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * callogs_convert_row
 *		Fill values/nulls (indexed by attnum - 1) from one call-log object.
 *		Columns not listed stay NULL.  Errors name the column and field.
 */
void
callogs_convert_row(ClJson *obj, CallogsColumn *columns, int ncolumns,
					const char *relname, Datum *values, bool *nulls)
{
	ConvContext cc;
	ErrorContextCallback errcallback;

	cc.relname = relname;
	cc.col = NULL;
	cc.value = NULL;
	errcallback.callback = conversion_error_callback;
	errcallback.arg = &cc;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (int i = 0; i < ncolumns; i++)
	{
		CallogsColumn *col = &columns[i];
		int			idx = col->attnum - 1;
		ClJson *v = NULL;

		if (col->kind == CALLOGS_CONV_CONSTANT)
		{
			values[idx] = col->constval;
			nulls[idx] = false;
			continue;
		}
		if (!cl_object_get(obj, col->field, &v) || cl_type(v) == CL_JSON_NULL)
		{
			values[idx] = (Datum) 0;
			nulls[idx] = true;
			continue;
		}
		cc.col = col;
		cc.value = v;
		values[idx] = convert_value(col, v);
		nulls[idx] = false;
	}

	error_context_stack = errcallback.previous;
}
