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
 * Values from the network are hostile, and json-c's getters coerce and
 * clamp: every value is read through the type-checking accessors of
 * jsonpage.h.  Strings are checked for NUL and validated into the database
 * encoding, integers are exact and range-checked (one json-c may have
 * clamped is out of range), numbers keep their text as written, and any
 * value that cannot become the column's type raises an ERROR whose context
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
#include "utils/numeric.h"
#include "utils/rel.h"

#include "callogs_fdw.h"

/* Longest string accepted for a non-text scalar column. */
#define CALLOGS_MAX_SCALAR_TEXT 256

/*
 * callogs_shorten_utf8
 *		A printable copy of s (len bytes of UTF-8 from the API, NULs
 *		allowed) cut to about maxlen bytes on a character boundary and
 *		marked "...", for a message: the token is scrubbed from the whole
 *		text first (callogs_scrub_secrets_len), then the text is cut, and a
 *		token prefix the cut leaves at the end becomes "[token]"
 *		(callogs_secret_tail), so that no cut token survives (issue 10
 *		round 3, finding 1).  Every place that shortens the API's text
 *		comes here.  Control bytes and bytes that are not UTF-8 are shown
 *		as \xNN; the result is UTF-8.
 */
char *
callogs_shorten_utf8(const char *s, size_t len, size_t maxlen)
{
	StringInfoData buf;
	size_t		i = 0;
	size_t		keep;

	s = callogs_scrub_secrets_len(s, len, &len);
	initStringInfo(&buf);
	while (i < len && (size_t) buf.len < maxlen)
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
	{
		keep = callogs_secret_tail(buf.data, buf.len);
		if (keep < (size_t) buf.len)
		{
			buf.len = keep;
			buf.data[keep] = '\0';
			appendStringInfoString(&buf, "[token]");
		}
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/*
 * callogs_shorten
 *		callogs_shorten_utf8 to CALLOGS_ERR_VALUE_LEN bytes, valid in the
 *		database encoding ('?' for each byte outside ASCII elsewhere than in
 *		UTF-8), for error messages.
 */
char *
callogs_shorten(const char *s, size_t len)
{
	char	   *out = callogs_shorten_utf8(s, len, CALLOGS_ERR_VALUE_LEN);

	/* the message must be valid in the server encoding */
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		for (char *p = out; *p; p++)
			if ((unsigned char) *p >= 0x80)
				*p = '?';
	}
	return out;
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
		c->kind = classify_type(getBaseType(att->atttypid), att->atttypmod);
		c->is_string = TypeCategory(getBaseType(att->atttypid)) == TYPCATEGORY_STRING;
		c->is_number = TypeCategory(getBaseType(att->atttypid)) == TYPCATEGORY_NUMERIC;
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
	/* columns fed by the same key: converted together, the key found once */
	for (int i = 0; i < n; i++)
	{
		cols[i].next_same = -1;
		cols[i].same_field = false;
	}
	for (int i = 0; i < n; i++)
	{
		int			last = i;

		if (cols[i].same_field || cols[i].kind == CALLOGS_CONV_CONSTANT)
			continue;
		for (int j = i + 1; j < n; j++)
		{
			if (cols[j].kind != CALLOGS_CONV_CONSTANT && !cols[j].same_field &&
				strcmp(cols[i].field, cols[j].field) == 0)
			{
				cols[j].same_field = true;
				cols[last].next_same = j;
				last = j;
			}
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
	ClJson	   *value;
} ConvContext;

/*
 * value_for_message
 *		The JSON text of v, shortened and printable, for an error message;
 *		an integer json-c may have clamped has no text to show.
 */
static char *
value_for_message(ClJson *v)
{
	size_t		len;
	const char *text = cl_json_text(v, &len);

	if (text == NULL)
		return pstrdup("(an integer beyond the 64-bit range)");
	return callogs_shorten(text, len);
}

/*
 * conversion_error_callback
 *		Error context naming the column, its JSON field and the shortened
 *		value: the one place a conversion error shows the value.
 */
static void
conversion_error_callback(void *arg)
{
	ConvContext *cc = (ConvContext *) arg;

	if (cc->col == NULL)
		return;
	errcontext("column \"%s\" (JSON field \"%s\") of foreign table \"%s\", value %s",
			   cc->col->attname, cc->col->field, cc->relname,
			   value_for_message(cc->value));
}

/*
 * conversion_error
 *		Raise an error about a value that cannot feed the column, naming
 *		both; the value itself is shown by the error context.
 */
pg_noreturn static void
conversion_error(CallogsColumn *col, int code, const char *why)
{
	ereport(ERROR,
			(errcode(code),
			 errmsg("cannot convert JSON field \"%s\" to column \"%s\" of type %s: %s",
					col->field, col->attname, format_type_be(col->typid), why)));
}

/*
 * wrong_json_type
 *		HV004 (fdw_invalid_data_type): a JSON value whose kind (boolean,
 *		object, array) cannot feed the column.
 */
pg_noreturn static void
wrong_json_type(CallogsColumn *col, ClJson *v)
{
	conversion_error(col, ERRCODE_FDW_INVALID_DATA_TYPE,
					 psprintf("a JSON %s cannot be stored in this column",
							  cl_type_name(v)));
}

/*
 * out_of_range
 *		22003: an integer json-c may have clamped, or one that does not fit
 *		the column; never store a clamped number.
 */
pg_noreturn static void
out_of_range(CallogsColumn *col, const char *why)
{
	conversion_error(col, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, why);
}

/*
 * refuse_clamped
 *		22003 for an integer json-c may have clamped (-9223372036854775808,
 *		18446744073709551615), whatever the column type: checked before any
 *		other judgement of the value (its kind, its range), so that the two
 *		untrusted integers give the same error in every column (README,
 *		"Type mapping").
 */
static void
refuse_clamped(CallogsColumn *col, ClJson *v)
{
	if (cl_json_int_clamped(v))
		out_of_range(col, "the integer is out of the range json-c reads exactly");
}

/*
 * json_text
 *		The JSON text of v (see cl_json_text) in the database encoding,
 *		NUL-terminated, and its length.  22003 if it holds an integer
 *		json-c may have clamped; the encoding's error (22021, 22P05) for a
 *		string that is not valid UTF-8 or has no equivalent.
 */
static char *
json_text(CallogsColumn *col, ClJson *v, size_t *len)
{
	const char *text = cl_json_text(v, len);
	char	   *conv;

	if (text == NULL)
		out_of_range(col, cl_type(v) == CL_JSON_INT ?
					 "the integer is out of the range json-c reads exactly" :
					 "the value holds an integer out of the range json-c reads exactly");
	conv = pg_any_to_server(text, (int) *len, PG_UTF8);
	if (conv == text)
		return pnstrdup(text, *len);
	*len = strlen(conv);
	return conv;
}

/*
 * server_string
 *		A JSON string validated into the database encoding; NUL is refused
 *		(22P05) because no PostgreSQL text can hold it.  In a UTF-8 database
 *		the result is json-c's own buffer (not a copy): read-only, valid as
 *		long as the page.
 */
static const char *
server_string(CallogsColumn *col, ClJson *v, size_t *len)
{
	const char *s = cl_string(v, len);
	const char *conv;

	if (memchr(s, '\0', *len) != NULL)
		conversion_error(col, ERRCODE_UNTRANSLATABLE_CHARACTER,
						 "the string contains a NUL character (\\u0000)");
	conv = pg_any_to_server(s, (int) *len, PG_UTF8);
	if (conv != s)
		*len = strlen(conv);
	return conv;
}

/*
 * scalar_text
 *		The text a scalar value hands to an input function (palloc'd): a
 *		string as is, a number or boolean as its JSON text (a double as
 *		written).  Objects and arrays are HV004.
 */
static char *
scalar_text(CallogsColumn *col, ClJson *v)
{
	size_t		len;
	const char *s;

	switch (cl_type(v))
	{
		case CL_JSON_STRING:
			s = server_string(col, v, &len);
			if (len > CALLOGS_MAX_SCALAR_TEXT && !col->is_string)
				conversion_error(col, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
								 "the string is too long for this type");
			return pnstrdup(s, len);
		case CL_JSON_INT:
		case CL_JSON_DOUBLE:
		case CL_JSON_BOOLEAN:
			/* the input function judges the number as written */
			return json_text(col, v, &len);
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
 *		general date/time parser; unusual forms fall back to it (timestamptz_in,
 *		timestamp_in).  A non-string is HV004.
 */
static Datum
convert_timestamp(CallogsColumn *col, ClJson *v, bool with_tz)
{
	ClTimestamp ts;
	const char *s;
	size_t		n;

	refuse_clamped(col, v);
	if (cl_type(v) != CL_JSON_STRING)
		conversion_error(col, ERRCODE_FDW_INVALID_DATA_TYPE,
						 psprintf("expected a string, got a JSON %s",
								  cl_type_name(v)));
	s = cl_string(v, &n);
	if (cl_parse_timestamp(s, n, &ts) && (ts.has_tz || !with_tz))
	{
		Timestamp	result;

		if (callogs_timestamp_from_parts(&ts, with_tz, &result))
			return TimestampGetDatum(result);
	}
	return input_function(col, scalar_text(col, v));
}

/*
 * callogs_timestamp_from_parts
 *		The Timestamp of a parsed RFC 3339 timestamp (cl_parse_timestamp):
 *		with at_offset, the instant its UTC offset (0 when it has none)
 *		names, as timestamptz_in would read it; without, its wall-clock
 *		fields as timestamp_in would.  tm2timestamp does the arithmetic;
 *		false when the result is out of PostgreSQL's range.
 */
bool
callogs_timestamp_from_parts(const ClTimestamp *ts, bool at_offset, Timestamp *out)
{
	struct pg_tm tm;
	int			tz = ts->has_tz ? -ts->tz_offset : 0;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = ts->year;
	tm.tm_mon = ts->month;
	tm.tm_mday = ts->day;
	tm.tm_hour = ts->hour;
	tm.tm_min = ts->minute;
	tm.tm_sec = ts->second;
	return tm2timestamp(&tm, ts->usec, at_offset ? &tz : NULL, out) == 0 &&
		IS_VALID_TIMESTAMP(*out);
}

/*
 * decimal_seconds
 *		Microseconds of a JSON number with a fraction or an exponent ("12.5",
 *		"1e2", "1.5E-3"), read exactly as numeric (numeric_in, as written)
 *		and rounded to the microsecond; 22015 beyond the range of an
 *		interval's time, as for integer seconds.
 */
static int64_t
decimal_seconds(CallogsColumn *col, ClJson *v)
{
	size_t		len;
	char	   *text = json_text(col, v, &len);
	Datum		secs;
	Datum		usec;
	Datum		lo = NumericGetDatum(int64_to_numeric(PG_INT64_MIN));
	Datum		hi = NumericGetDatum(int64_to_numeric(PG_INT64_MAX));

	secs = DirectFunctionCall3(numeric_in, CStringGetDatum(text),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	usec = DirectFunctionCall2(numeric_mul, secs,
							   NumericGetDatum(int64_to_numeric(USECS_PER_SEC)));
	usec = DirectFunctionCall2(numeric_round, usec, Int32GetDatum(0));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, usec, lo)) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, usec, hi)) > 0)
		conversion_error(col, ERRCODE_INTERVAL_FIELD_OVERFLOW,
						 "the number of seconds is out of range");
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, usec));
}

/*
 * convert_interval
 *		An interval from integer or decimal seconds (a JSON number: "325",
 *		"12.5", "1e2") or "H:MM:SS"; other strings via interval_in.  A
 *		boolean, object or array is HV004; seconds out of range are 22015;
 *		an integer json-c may have clamped is 22003.
 */
static Datum
convert_interval(CallogsColumn *col, ClJson *v)
{
	Interval   *iv;
	int64_t		usec;
	const char *s;
	size_t		n;

	refuse_clamped(col, v);
	if (cl_type(v) == CL_JSON_BOOLEAN || cl_type(v) == CL_JSON_OBJECT ||
		cl_type(v) == CL_JSON_ARRAY)
		wrong_json_type(col, v);
	if (cl_type(v) == CL_JSON_INT)
	{
		int64_t		secs;

		if (!cl_json_get_int64(v, &secs) ||
			secs > PG_INT64_MAX / USECS_PER_SEC || secs < PG_INT64_MIN / USECS_PER_SEC)
			conversion_error(col, ERRCODE_INTERVAL_FIELD_OVERFLOW,
							 "the number of seconds is out of range");
		usec = secs * USECS_PER_SEC;
	}
	else if (cl_type(v) == CL_JSON_DOUBLE)
		usec = decimal_seconds(col, v);
	else if ((s = cl_string(v, &n)) != NULL && cl_parse_duration(s, n, &usec))
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
 * duration_in_integer
 *		A "H:MM:SS" string (variant A's call_duration) for an integer column:
 *		the input function's own error (22P02, same text), with a HINT that
 *		names the type that reads it (issue 14).
 */
static void
duration_in_integer(CallogsColumn *col, ClJson *v)
{
	int64_t		usec;
	size_t		len;
	const char *s = cl_string(v, &len);

	if (s == NULL || memchr(s, ':', len) == NULL || !cl_parse_duration(s, len, &usec))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					format_type_be(col->typid), callogs_shorten(s, len)),
			 errhint("The API sends a duration (H:MM:SS): declare column \"%s\" as interval.",
					 col->attname)));
}

/*
 * convert_integer
 *		A range-checked smallint/integer/bigint from a JSON integer (exact:
 *		out of range, or possibly clamped by json-c, is 22003) or from the
 *		text of a string or double (the input function judges it).
 */
static Datum
convert_integer(CallogsColumn *col, ClJson *v)
{
	int64_t		i;

	if (cl_type(v) == CL_JSON_BOOLEAN)
		wrong_json_type(col, v);
	if (cl_type(v) != CL_JSON_INT)
	{
		duration_in_integer(col, v);
		return input_function(col, scalar_text(col, v));
	}
	if (!cl_json_get_int64(v, &i))
		out_of_range(col, cl_json_int_clamped(v) ?
					 "the integer is out of the range json-c reads exactly" :
					 "the number is out of range");
	switch (col->kind)
	{
		case CALLOGS_CONV_INT2:
			if (i < PG_INT16_MIN || i > PG_INT16_MAX)
				out_of_range(col, "the number is out of range for type smallint");
			return Int16GetDatum((int16) i);
		case CALLOGS_CONV_INT4:
			if (i < PG_INT32_MIN || i > PG_INT32_MAX)
				out_of_range(col, "the number is out of range for type integer");
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
	ClJsonType	type = cl_type(v);
	size_t		len;

	switch (col->kind)
	{
		case CALLOGS_CONV_TEXT:
			if (type == CL_JSON_STRING)
			{
				const char *s = server_string(col, v, &len);

				return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
			}
			else
			{
				/* numbers, booleans, objects and arrays as JSON text */
				char	   *s = json_text(col, v, &len);

				return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
			}
		case CALLOGS_CONV_INT2:
		case CALLOGS_CONV_INT4:
		case CALLOGS_CONV_INT8:
			return convert_integer(col, v);
		case CALLOGS_CONV_BOOL:
			{
				bool		b;

				if (cl_json_get_bool(v, &b))
					return BoolGetDatum(b);
				return input_function(col, scalar_text(col, v));
			}
		case CALLOGS_CONV_TIMESTAMPTZ:
			return convert_timestamp(col, v, true);
		case CALLOGS_CONV_TIMESTAMP:
			return convert_timestamp(col, v, false);
		case CALLOGS_CONV_INTERVAL:
			return convert_interval(col, v);
		case CALLOGS_CONV_JSON:
			return input_function(col, json_text(col, v, &len));
		case CALLOGS_CONV_CONSTANT:
			return col->constval;
		case CALLOGS_CONV_GENERIC:
			refuse_clamped(col, v);
			/* a number column takes numbers and numeric strings only */
			if (col->is_number &&
				(type == CL_JSON_BOOLEAN || type == CL_JSON_OBJECT || type == CL_JSON_ARRAY))
				wrong_json_type(col, v);
			if (type == CL_JSON_OBJECT || type == CL_JSON_ARRAY)
				return input_function(col, json_text(col, v, &len));
			return input_function(col, scalar_text(col, v));
	}
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * convert_member
 *		Convert the value v of one JSON key into every column it feeds
 *		(columns[i] and the chain of next_same).
 */
static void
convert_member(ConvContext *cc, CallogsColumn *columns, int i, ClJson *v,
			   Datum *values, bool *nulls)
{
	if (v == NULL)
		return;					/* JSON null: the columns stay NULL */
	for (; i >= 0; i = columns[i].next_same)
	{
		CallogsColumn *col = &columns[i];

		cc->col = col;
		cc->value = v;
		values[col->attnum - 1] = convert_value(col, v);
		nulls[col->attnum - 1] = false;
	}
}

/*
 * convert_row
 *		Fill values/nulls (indexed by attnum - 1) from one call-log object.
 *		Columns not listed stay NULL, as do columns whose key is missing or
 *		null.  Errors name the column and field.
 *
 *		The members are walked once, in their order, and matched to the
 *		columns starting after the column matched last: the API writes its
 *		keys in the same order in every row, so each member usually costs
 *		one comparison, cheaper than a hash lookup per column.  An object
 *		with many more members than the query needs is read by lookups.
 */
static void
convert_row(ClJson *obj, CallogsColumn *columns, int ncolumns,
			const char *relname, Datum *values, bool *nulls)
{
	ConvContext cc;
	ErrorContextCallback errcallback;
	int			nkeys = 0;

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

		if (col->kind == CALLOGS_CONV_CONSTANT)
		{
			values[idx] = col->constval;
			nulls[idx] = false;
			continue;
		}
		values[idx] = (Datum) 0;
		nulls[idx] = true;
		if (!col->same_field)
			nkeys++;
	}

	if (cl_object_length(obj) > (size_t) (2 * nkeys + 4))
	{
		for (int i = 0; i < ncolumns; i++)
		{
			ClJson	   *v;

			if (columns[i].kind != CALLOGS_CONV_CONSTANT && !columns[i].same_field &&
				cl_object_get(obj, columns[i].field, &v))
				convert_member(&cc, columns, i, v, values, nulls);
		}
	}
	else if (nkeys > 0)
	{
		const void *pos = NULL;
		const char *key;
		ClJson	   *v;
		int			next = 0;

		while (cl_object_next(obj, &pos, &key, &v))
		{
			for (int k = 0; k < ncolumns; k++)
			{
				int			i = (next + k) % ncolumns;
				CallogsColumn *col = &columns[i];

				if (col->kind == CALLOGS_CONV_CONSTANT || col->same_field ||
					strcmp(col->field, key) != 0)
					continue;
				convert_member(&cc, columns, i, v, values, nulls);
				next = i + 1;
				break;
			}
		}
	}

	error_context_stack = errcallback.previous;
}

/*
 * callogs_convert_row
 *		convert_row, whose errors never show the token: a conversion error
 *		shows the API's value (in the CONTEXT line, and in the message of a
 *		type's input function), and an API may echo the token in any value
 *		(issue 10 round 2, finding 5).  An error is caught, every text of it
 *		scrubbed (callogs_scrub_secrets) and raised again: the cost is one
 *		PG_TRY per row.
 */
void
callogs_convert_row(ClJson *obj, CallogsColumn *columns, int ncolumns,
					const char *relname, Datum *values, bool *nulls)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		convert_row(obj, columns, ncolumns, relname, values, nulls);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = callogs_scrub_secrets(edata->message);
		edata->detail = callogs_scrub_secrets(edata->detail);
		edata->detail_log = callogs_scrub_secrets(edata->detail_log);
		edata->hint = callogs_scrub_secrets(edata->hint);
		edata->context = callogs_scrub_secrets(edata->context);
		ReThrowError(edata);
	}
	PG_END_TRY();
}
