/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Option validator of callogs_fdw and the merged option set of a
 *		  foreign table.
 *
 * Options are declared once, in a table that says where each may appear
 * and whether only a superuser may set it.  The validator checks names and
 * values at CREATE/ALTER time; callogs_get_options merges server, table
 * and user mapping options at plan and execution time and applies the
 * defaults.
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <curl/curl.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "callogs_fdw.h"

/* superuser-only GUC: lets non-superusers use http:// or loopback urls */
bool		callogs_allow_insecure_url = false;

typedef enum CallogsOptType
{
	OPT_STRING,
	OPT_INT,
	OPT_INT64,
	OPT_REAL,
	OPT_BOOL
} CallogsOptType;

typedef struct CallogsOptionDef
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	CallogsOptType type;
	double		min;			/* numeric bounds, inclusive */
	double		max;
	double		user_max;		/* above this, superuser only (0: no cap) */
} CallogsOptionDef;

/*
 * Caps for non-superusers on options whose product multiplies what one
 * query may hold or how long it may keep going (issue 10 section 3), as
 * postgres_fdw keeps its dangerous options for superusers: the defaults
 * and ordinary values stay open to everyone.
 */
#define USER_MAX_RESPONSE_BYTES	(32.0 * 1024 * 1024)
#define USER_MAX_CONCURRENCY	8
#define USER_MAX_TIMEOUT_MS		300000	/* 5 minutes */
#define USER_MAX_WAIT_MS		60000
#define USER_MAX_RETRIES		10
#define USER_MAX_ANALYZE_PAGES	1000

static const CallogsOptionDef callogs_options[] = {
	{"url", ForeignServerRelationId, OPT_STRING},
	{"org_handle", ForeignServerRelationId, OPT_STRING},
	{"page_size", ForeignServerRelationId, OPT_INT, 1, CALLOGS_MAX_PAGE_SIZE},
	{"timeout_ms", ForeignServerRelationId, OPT_INT, 1, 3600000, USER_MAX_TIMEOUT_MS},
	{"connect_timeout_ms", ForeignServerRelationId, OPT_INT, 1, 600000, USER_MAX_WAIT_MS},
	{"stall_timeout_ms", ForeignServerRelationId, OPT_INT, 1000, 3600000, USER_MAX_WAIT_MS},
	{"max_retries", ForeignServerRelationId, OPT_INT, 0, 100, USER_MAX_RETRIES},
	{"retry_max_wait_ms", ForeignServerRelationId, OPT_INT, 0, 3600000, USER_MAX_WAIT_MS},
	{"max_requests_per_second", ForeignServerRelationId, OPT_REAL, 0, CALLOGS_MAX_RATE},
	{"max_response_bytes", ForeignServerRelationId, OPT_INT64, 1024, 1024.0 * 1024 * 1024, USER_MAX_RESPONSE_BYTES},
	{"concurrency", ForeignServerRelationId, OPT_INT, 1, CALLOGS_MAX_CONCURRENCY, USER_MAX_CONCURRENCY},
	{"pushdown", ForeignServerRelationId, OPT_BOOL},
	{"use_remote_estimate", ForeignServerRelationId, OPT_BOOL},
	{"async_capable", ForeignServerRelationId, OPT_BOOL},
	{"ssl_verify", ForeignServerRelationId, OPT_BOOL},
	{"ca_file", ForeignServerRelationId, OPT_STRING},
	{"proxy", ForeignServerRelationId, OPT_STRING},
	{"org_handle", ForeignTableRelationId, OPT_STRING},
	{"page_size", ForeignTableRelationId, OPT_INT, 1, CALLOGS_MAX_PAGE_SIZE},
	{"concurrency", ForeignTableRelationId, OPT_INT, 1, CALLOGS_MAX_CONCURRENCY, USER_MAX_CONCURRENCY},
	{"pushdown", ForeignTableRelationId, OPT_BOOL},
	{"use_remote_estimate", ForeignTableRelationId, OPT_BOOL},
	{"async_capable", ForeignTableRelationId, OPT_BOOL},
	{"date_column", ForeignTableRelationId, OPT_STRING},
	{"date_format", ForeignTableRelationId, OPT_STRING},
	{"estimated_rows", ForeignTableRelationId, OPT_REAL, 0, 1e15},
	{"analyze_max_pages", ForeignTableRelationId, OPT_INT, 1, 100000, USER_MAX_ANALYZE_PAGES},
	{"order_column", ForeignTableRelationId, OPT_STRING},
	{"token", UserMappingRelationId, OPT_STRING},
	{"field", AttributeRelationId, OPT_STRING},
	{NULL, InvalidOid, OPT_STRING}
};

/*
 * valid_option_names
 *		The comma-separated list of the options valid in a catalog, for the
 *		hint of an unknown option.
 */
static char *
valid_option_names(Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const CallogsOptionDef *opt = callogs_options; opt->name; opt++)
	{
		if (opt->context != context)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
	}
	return buf.data;
}

/*
 * find_option
 *		The definition of option name in a catalog; *elsewhere if valid in another.
 */
static const CallogsOptionDef *
find_option(const char *name, Oid context, bool *elsewhere)
{
	*elsewhere = false;
	for (const CallogsOptionDef *opt = callogs_options; opt->name; opt++)
	{
		if (strcmp(opt->name, name) != 0)
			continue;
		if (opt->context == context)
			return opt;
		*elsewhere = true;
	}
	return NULL;
}

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "server";
		case ForeignTableRelationId:
			return "foreign table";
		case UserMappingRelationId:
			return "user mapping";
		case AttributeRelationId:
			return "column";
		default:
			return "foreign data wrapper";
	}
}

/*
 * check_numeric_value
 *		Parse a numeric option value, checking its range.
 */
static double
check_numeric_value(const CallogsOptionDef *opt, const char *value)
{
	char	   *end;
	double		v;

	errno = 0;
	if (opt->type == OPT_REAL)
		v = strtod(value, &end);
	else
		v = (double) strtoll(value, &end, 10);
	while (*end == ' ')
		end++;
	if (end == value || *end != '\0' || errno != 0 || isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						opt->name, value),
				 errhint("The value must be %s.",
						 opt->type == OPT_REAL ? "a number" : "an integer")));
	if (v < opt->min || v > opt->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("value %s is out of range for option \"%s\"",
						value, opt->name),
				 errhint("Valid values are between %.0f and %.0f.",
						 opt->min, opt->max)));
	return v;
}

/*
 * url_error
 *		Refuse a url option value.  The value is echoed only when it cannot
 *		hold a secret (no "@": a user name or password would be shown).
 */
static void
url_error(const char *url, const char *detail)
{
	bool		echo = strchr(url, '@') == NULL;

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 echo ?
			 errmsg("invalid value for option \"url\": \"%s\"",
					callogs_shorten(url, strlen(url))) :
			 errmsg("invalid value for option \"url\""),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("The url must be an absolute http:// or https:// URL without user name or password, such as \"%s\".",
					 CALLOGS_DEFAULT_URL)));
}

/*
 * check_url
 *		A url option must be an absolute http(s) URL, written plainly:
 *		"scheme://host" with exactly two slashes (libcurl would also take
 *		"https:/host"), no user name or password (never echoed), no
 *		fragment (everything after "#" is never sent), a host in ASCII
 *		letters, digits, dots, hyphens and underscores, or an IPv6 literal
 *		(no percent-encoding, backslashes or non-ASCII: libcurl would decode
 *		or IDN-convert them, so "%6cocalhost" or a fullwidth "localhost"
 *		would become localhost).  Plain http and hosts that are this
 *		machine, link-local or (unless allowed) private are for superusers,
 *		or when a superuser set callogs_fdw.allow_insecure_url; the same
 *		check (netcheck.c) refuses resolved addresses at connect time.
 *		SQLSTATE HV024 for a malformed url, 42501 for a refused one.
 */
static void
check_url(const char *url)
{
	CURLU	   *u;
	char	   *host = NULL;
	const char *rest = url;
	const char *why;
	size_t		auth_len;
	bool		is_http = false;
	bool		ok;

	if (strlen(url) >= CALLOGS_MAX_URL_LEN)
		url_error(url, "The url is too long.");
	if (pg_strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
	{
		rest = url + 7;
		is_http = true;
	}
	else
		url_error(url, NULL);
	if (*rest == '/' || *rest == '\0')
		url_error(url, "A host must follow \"//\".");

	/* the authority as written: up to the path, query or fragment */
	auth_len = strcspn(rest, "/?#");
	if (memchr(rest, '@', auth_len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"url\": a user name or password is not allowed"),
				 errhint("Store the API token in a user mapping: CREATE USER MAPPING ... OPTIONS (token '...').")));
	if (strchr(url, '#') != NULL)
		url_error(url, "A url must not contain a fragment (\"#...\"): nothing after \"#\" is sent to the API.");
	for (size_t i = 0; i < auth_len; i++)
	{
		unsigned char c = (unsigned char) rest[i];

		if (c >= 0x80)
			url_error(url, "The host must be written in ASCII: use the IDNA form (\"xn--...\") of an internationalized name.");
		if (c <= 0x20 || c == 0x7f || c == '%' || c == '\\')
			url_error(url, "The host must not contain spaces, control characters, percent-encoding or backslashes.");
	}

	u = curl_url();
	if (u == NULL)
		elog(ERROR, "out of memory");
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
	if (ok && host[0] != '[')
		ok = host[0] != '\0' &&
			strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == strlen(host);
	why = ok && !superuser() && !callogs_allow_insecure_url ?
		callogs_host_refused(host, callogs_allow_private_addresses) : NULL;
	if (host)
		curl_free(host);
	curl_url_cleanup(u);
	if (!ok)
		url_error(url, NULL);
	/* what only a use of the url would refuse: refused now already */
	callogs_url_check_base(url, NULL);

	if (superuser() || callogs_allow_insecure_url)
		return;
	if (why != NULL && callogs_refusal_is_private(why))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may use a url that points to a private network"),
				 errdetail("The host is %s.", why),
				 errhint("A superuser can allow private networks with the setting callogs_fdw.allow_private_addresses, or any host with callogs_fdw.allow_insecure_url.")));
	if (is_http || why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may use a url that is not https or that points to this machine"),
				 why ? errdetail("The host is %s.", why) : 0,
				 errhint("A superuser can allow it with the setting callogs_fdw.allow_insecure_url.")));
}

/*
 * check_rate
 *		max_requests_per_second is 0 (no limit) or at least CALLOGS_MIN_RATE,
 *		and at least CALLOGS_USER_MIN_RATE unless privileged (the validator:
 *		the user setting it is a superuser; at use time: the server's owner
 *		is).  A slower rate would hold a slot of the shared rate table for
 *		1/rate seconds and make every wait on it that long (issue 10 round
 *		2, findings 1 and 3).  server is NULL in the validator, the server's
 *		name at use time (the value was stored by an older version, or the
 *		server was given to a non-superuser since).  given is the value as
 *		written, for the validator's message (%g would round 0.000999 to
 *		the floor it is refused for).  SQLSTATE HV024 below the floor, 42501
 *		below the floor of non-superusers.
 */
static void
check_rate(double rate, const char *given, bool privileged, const char *server)
{
	if (rate == 0)
		return;
	if (rate < CALLOGS_MIN_RATE)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 server ?
				 errmsg("max_requests_per_second of server \"%s\" is below %g", server,
						CALLOGS_MIN_RATE) :
				 errmsg("value %s is out of range for option \"max_requests_per_second\"", given),
				 server ?
				 errhint("Raise it with ALTER SERVER %s OPTIONS (SET max_requests_per_second '%g'), or set it to 0 for no limit.",
						 quote_identifier(server), CALLOGS_MIN_RATE) :
				 errhint("Valid values are 0 (no limit) and %g to %g requests per second.",
						 CALLOGS_MIN_RATE, CALLOGS_MAX_RATE)));
	if (rate < CALLOGS_USER_MIN_RATE && !privileged)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 server ?
				 errmsg("max_requests_per_second of server \"%s\" is below %g, and the server is not owned by a superuser",
						server, CALLOGS_USER_MIN_RATE) :
				 errmsg("only a superuser may set option \"max_requests_per_second\" below %g",
						CALLOGS_USER_MIN_RATE),
				 errdetail("A slower rate keeps a slot of the shared rate table, and every request to the server waits, for 1/rate seconds."),
				 server ?
				 errhint("Raise it with ALTER SERVER %s OPTIONS (SET max_requests_per_second '%g'), or set it to 0 for no limit.",
						 quote_identifier(server), CALLOGS_USER_MIN_RATE) :
				 errhint("Valid values for other users are 0 (no limit) and %g to %g requests per second.",
						 CALLOGS_USER_MIN_RATE, CALLOGS_MAX_RATE)));
}

/*
 * callogs_fdw_validator
 *		Validate the options given to a foreign data wrapper, server, user
 *		mapping, foreign table or column.
 */
PG_FUNCTION_INFO_V1(callogs_fdw_validator);

Datum
callogs_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options_list = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;

	foreach(cell, options_list)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const CallogsOptionDef *opt;
		bool		elsewhere;
		char	   *value;

		opt = find_option(def->defname, catalog, &elsewhere);
		if (opt == NULL)
		{
			if (strcmp(def->defname, "token") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"token\" is only valid in a user mapping"),
						 errhint("Store the API token with CREATE USER MAPPING ... OPTIONS (token '...'), where other users cannot read it.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for a %s",
							def->defname, context_name(catalog)),
					 elsewhere ?
					 errdetail("Option \"%s\" is not valid in this context.", def->defname) : 0,
					 errhint("Valid options in this context are: %s.",
							 *valid_option_names(catalog) ?
							 valid_option_names(catalog) : "none")));
		}

		value = defGetString(def);
		switch (opt->type)
		{
			case OPT_INT:
			case OPT_INT64:
			case OPT_REAL:
				if (check_numeric_value(opt, value) > opt->user_max &&
					opt->user_max > 0 && !superuser())
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("only a superuser may set option \"%s\" above %.0f",
									opt->name, opt->user_max),
							 errdetail("Values above it multiply the memory or time one query may take."),
							 errhint("Valid values for other users are between %.0f and %.0f.",
									 opt->min, opt->user_max)));
				break;
			case OPT_BOOL:
				(void) defGetBoolean(def);
				break;
			case OPT_STRING:
				break;
		}

		if (strcmp(opt->name, "url") == 0)
			check_url(value);
		else if (strcmp(opt->name, "max_requests_per_second") == 0)
			check_rate(strtod(value, NULL), value, superuser(), NULL);
		else if (strcmp(opt->name, "org_handle") == 0 ||
				 strcmp(opt->name, "field") == 0 ||
				 strcmp(opt->name, "token") == 0)
		{
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must not be empty", opt->name)));
			if (strcmp(opt->name, "org_handle") == 0 ||
				strcmp(opt->name, "token") == 0)
			{
				/* these go into HTTP headers: no control characters */
				for (const char *p = value; *p; p++)
					if ((unsigned char) *p < 0x20 || *p == 0x7f)
						ereport(ERROR,
								(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
								 errmsg("option \"%s\" must not contain control characters",
										opt->name)));
			}
		}
		else if (strcmp(opt->name, "date_format") == 0)
		{
			if (strcmp(value, "date") != 0 && strcmp(value, "timestamp") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"date_format\": \"%s\"",
								value),
						 errhint("Valid values are \"date\" and \"timestamp\".")));
		}
		else if (strcmp(opt->name, "ssl_verify") == 0)
		{
			if (!defGetBoolean(def) && !superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only a superuser may turn off ssl_verify")));
		}
		else if (strcmp(opt->name, "proxy") == 0)
		{
			/* a proxy decides which hosts are reached: the superuser's call */
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only a superuser may set proxy")));
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"proxy\" must not be empty")));
		}
		else if (strcmp(opt->name, "ca_file") == 0)
		{
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only a superuser may set ca_file")));
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"ca_file\" must be an absolute path")));
		}
	}

	PG_RETURN_VOID();
}

/*
 * apply_option
 *		Store one option (already validated) into opts.
 */
static void
apply_option(CallogsOptions *opts, DefElem *def)
{
	const char *name = def->defname;
	char	   *value = defGetString(def);

	if (strcmp(name, "url") == 0)
		opts->url = value;
	else if (strcmp(name, "org_handle") == 0)
		opts->org_handle = value;
	else if (strcmp(name, "token") == 0)
		opts->token = value;
	else if (strcmp(name, "page_size") == 0)
		opts->page_size = atoi(value);
	else if (strcmp(name, "timeout_ms") == 0)
		opts->timeout_ms = atoi(value);
	else if (strcmp(name, "connect_timeout_ms") == 0)
		opts->connect_timeout_ms = atoi(value);
	else if (strcmp(name, "stall_timeout_ms") == 0)
		opts->stall_timeout_ms = atoi(value);
	else if (strcmp(name, "max_retries") == 0)
		opts->max_retries = atoi(value);
	else if (strcmp(name, "retry_max_wait_ms") == 0)
		opts->retry_max_wait_ms = atoi(value);
	else if (strcmp(name, "max_requests_per_second") == 0)
		opts->max_requests_per_second = strtod(value, NULL);
	else if (strcmp(name, "max_response_bytes") == 0)
		opts->max_response_bytes = strtoll(value, NULL, 10);
	else if (strcmp(name, "concurrency") == 0)
		opts->concurrency = atoi(value);
	else if (strcmp(name, "pushdown") == 0)
		opts->pushdown = defGetBoolean(def);
	else if (strcmp(name, "use_remote_estimate") == 0)
		opts->use_remote_estimate = defGetBoolean(def);
	else if (strcmp(name, "ssl_verify") == 0)
		opts->ssl_verify = defGetBoolean(def);
	else if (strcmp(name, "async_capable") == 0)
		opts->async_capable = defGetBoolean(def);
	else if (strcmp(name, "ca_file") == 0)
		opts->ca_file = value;
	else if (strcmp(name, "proxy") == 0)
		opts->proxy = value;
	else if (strcmp(name, "date_column") == 0)
	{
		opts->date_column = value;
		opts->date_column_set = true;
	}
	else if (strcmp(name, "date_format") == 0)
		opts->date_format = strcmp(value, "timestamp") == 0 ?
			CALLOGS_DATE_FORMAT_TIMESTAMP : CALLOGS_DATE_FORMAT_DATE;
	else if (strcmp(name, "estimated_rows") == 0)
		opts->estimated_rows = strtod(value, NULL);
	else if (strcmp(name, "analyze_max_pages") == 0)
		opts->analyze_max_pages = atoi(value);
	else if (strcmp(name, "order_column") == 0)
	{
		opts->order_column = value;
		opts->order_column_set = true;
	}
}

/*
 * apply_options
 *		Apply a list of options in order (later ones win).
 */
static void
apply_options(CallogsOptions *opts, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
		apply_option(opts, (DefElem *) lfirst(lc));
}

/*
 * apply_user_mapping
 *		Apply the options of userid's user mapping for serverid (or of the
 *		PUBLIC one), as GetUserMapping finds it, but without failing when
 *		there is none: that is reported later, naming the objects to fix.
 */
static void
apply_user_mapping(CallogsOptions *opts, Oid userid, Oid serverid)
{
	HeapTuple	tp;
	Datum		datum;
	bool		isnull;

	tp = SearchSysCache2(USERMAPPINGUSERSERVER,
						 ObjectIdGetDatum(userid), ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
	{
		tp = SearchSysCache2(USERMAPPINGUSERSERVER,
							 ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
		opts->public_mapping = true;
	}
	if (!HeapTupleIsValid(tp))
	{
		opts->public_mapping = false;
		return;
	}
	opts->has_user_mapping = true;
	datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp,
							Anum_pg_user_mapping_umoptions, &isnull);
	if (!isnull)
		apply_options(opts, untransformRelOptions(datum));
	ReleaseSysCache(tp);
}

/*
 * callogs_get_server_options
 *		Defaults, then server options, then the user mapping of userid: the
 *		options of a server outside any table (callogs_fdw_probe).
 */
void
callogs_get_server_options(Oid serverid, Oid userid, CallogsOptions *opts)
{
	ForeignServer *server = GetForeignServer(serverid);

	memset(opts, 0, sizeof(*opts));
	opts->serverid = serverid;
	opts->userid = userid;
	opts->server_name = server->servername;
	opts->url = CALLOGS_DEFAULT_URL;
	opts->page_size = 100;
	opts->timeout_ms = 30000;
	opts->connect_timeout_ms = 10000;
	opts->stall_timeout_ms = 10000;
	opts->max_retries = 3;
	opts->retry_max_wait_ms = 30000;
	opts->max_requests_per_second = 0;
	opts->max_response_bytes = INT64CONST(32) * 1024 * 1024;
	opts->concurrency = 4;
	opts->pushdown = true;
	opts->use_remote_estimate = false;
	opts->ssl_verify = true;
	opts->async_capable = true;
	opts->date_column = "creation_time";
	opts->date_format = CALLOGS_DATE_FORMAT_DATE;
	opts->estimated_rows = -1;
	opts->analyze_max_pages = 10;
	opts->order_column = "creation_time";

	apply_options(opts, server->options);

	/* the owner decides what hosts the server may reach (netcheck.c) */
	opts->owner_superuser = superuser_arg(server->owner);
	opts->restrict_hosts = !opts->owner_superuser && !callogs_allow_insecure_url;
	opts->allow_private = callogs_allow_private_addresses;

	/* a missing mapping is reported at query time by callogs_check_usable */
	apply_user_mapping(opts, userid, serverid);
}

/*
 * callogs_get_options
 *		The merged options of a foreign table as seen by userid.
 */
void
callogs_get_options(Oid foreigntableid, Oid userid, CallogsOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);

	callogs_get_server_options(table->serverid, userid, opts);
	opts->relid = foreigntableid;
	opts->table_name = get_rel_name(foreigntableid);
	apply_options(opts, table->options);
}

/*
 * mapping_hint
 *		The HINT for a missing user mapping (verb "CREATE") or a mapping
 *		without a token ("ALTER"), as the current user can act on it
 *		(issue 14).  PostgreSQL lets the server's owner create and alter any
 *		mapping of the server, and a role with USAGE on the server its own;
 *		anyone else would get "permission denied for foreign server", so
 *		they are told what to ask for instead: a mapping for the role, or a
 *		PUBLIC one, from the server's owner.
 */
static char *
mapping_hint(const CallogsOptions *opts, bool create)
{
	ForeignServer *server = GetForeignServer(opts->serverid);
	Oid			me = GetUserId();
	const char *srv = quote_identifier(opts->server_name);
	const char *role = GetUserNameFromId(opts->userid, true);
	const char *owner = GetUserNameFromId(server->owner, true);
	bool		is_owner = superuser() || has_privs_of_role(me, server->owner);
	bool		own_usage = opts->userid == me &&
		callogs_server_usage_ok(opts->serverid, me);
	const char *target;

	role = role ? role : "?";
	owner = owner ? owner : "?";
	if (!create && opts->public_mapping)
	{
		/* the PUBLIC mapping has no token: only the owner may change it */
		if (is_owner)
			return psprintf("Set it with ALTER USER MAPPING FOR PUBLIC SERVER %s OPTIONS (ADD token '...'), or create a mapping of its own for role \"%s\".",
							srv, role);
		return psprintf("The PUBLIC user mapping is used, and only the owner of server \"%s\" (role \"%s\") may change it: ask for ALTER USER MAPPING FOR PUBLIC SERVER %s OPTIONS (ADD token '...'), or for a mapping of your own.",
						opts->server_name, owner, srv);
	}
	target = opts->userid == me && (own_usage || is_owner) ? "CURRENT_USER" :
		quote_identifier(role);
	if (own_usage || is_owner)
		return create ?
			psprintf("Create one with CREATE USER MAPPING FOR %s SERVER %s OPTIONS (token '...').",
					 target, srv) :
			psprintf("Set it with ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD token '...').",
					 target, srv);

	/* CREATE/ALTER USER MAPPING would fail: "permission denied for foreign server" */
	return create ?
		psprintf("Only the owner of server \"%s\" (role \"%s\") may create it: ask for CREATE USER MAPPING FOR %s SERVER %s OPTIONS (token '...'), or for one FOR PUBLIC that every role uses.",
				 opts->server_name, owner, target, srv) :
		psprintf("Only the owner of server \"%s\" (role \"%s\") may change it: ask for ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD token '...').",
				 opts->server_name, owner, target, srv);
}

/*
 * check_caps
 *		The capped options (CallogsOptionDef.user_max) of one object's
 *		stored options, at use time: above its cap, an option is refused
 *		unless the object's owner is a superuser (privileged).  The
 *		validator checked the role that set the value, but a superuser may
 *		set 1 GB and then give the server or table to another role, which
 *		would then run with values it could never set itself (issue 10
 *		round 3, finding 4), as check_rate does for max_requests_per_second.
 *		kind is "server" or "foreign table", alter the statement that
 *		changes it.  SQLSTATE 42501 (refused, not clamped: a query never
 *		runs with other values than the ones its options show).
 */
static void
check_caps(List *options, Oid context, bool privileged, const char *kind,
		   const char *objname, const char *alter)
{
	ListCell   *lc;

	if (privileged)
		return;
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		bool		elsewhere;
		const CallogsOptionDef *opt = find_option(def->defname, context, &elsewhere);

		if (opt == NULL || opt->user_max <= 0 ||
			check_numeric_value(opt, defGetString(def)) <= opt->user_max)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("option \"%s\" of %s \"%s\" is above %.0f, and the %s is not owned by a superuser",
						opt->name, kind, objname, opt->user_max, kind),
				 errdetail("Values above %.0f multiply the memory or time one query may take: only a superuser may set them, on a %s a superuser owns.",
						   opt->user_max, kind),
				 errhint("Lower it with %s %s OPTIONS (SET %s '%.0f'), or a superuser can own the %s.",
						 alter, quote_identifier(objname), opt->name,
						 opt->user_max, kind)));
	}
}

/*
 * check_caps_at_use
 *		check_caps for the server's options (its owner decides) and the
 *		foreign table's (the table's owner decides), when either is used.
 */
static void
check_caps_at_use(const CallogsOptions *opts)
{
	ForeignServer *server = GetForeignServer(opts->serverid);

	check_caps(server->options, ForeignServerRelationId, opts->owner_superuser,
			   "server", server->servername, "ALTER SERVER");
	if (OidIsValid(opts->relid))
	{
		ForeignTable *table = GetForeignTable(opts->relid);
		HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(opts->relid));
		Oid			owner;

		if (!HeapTupleIsValid(tp))
			elog(ERROR, "cache lookup failed for relation %u", opts->relid);
		owner = ((Form_pg_class) GETSTRUCT(tp))->relowner;
		ReleaseSysCache(tp);
		check_caps(table->options, ForeignTableRelationId, superuser_arg(owner),
				   "foreign table", get_rel_name(opts->relid), "ALTER FOREIGN TABLE");
	}
}

/*
 * callogs_check_usable
 *		Refuse to talk to the API without what it needs, naming the object
 *		the user has to fix and, when the user may not fix it, whom to ask
 *		(mapping_hint): SQLSTATE HV00J.  Before that, what a server not
 *		owned by a superuser may not do is checked again at use time
 *		(check_rate, the caps of check_caps_at_use, and plain http:
 *		SQLSTATE 42501), since the validator
 *		ran for whoever set the option, under the settings of that moment
 *		(callogs_fdw.allow_insecure_url may be off now, the server may have
 *		been given to another owner, or the value stored by an older
 *		version).
 */
void
callogs_check_usable(const CallogsOptions *opts)
{
	/* what the owner may set is checked again: owners and values change */
	check_rate(opts->max_requests_per_second, NULL, opts->owner_superuser,
			   opts->server_name);
	check_caps_at_use(opts);
	callogs_url_check_base(opts->url, opts->server_name);
	if (opts->restrict_hosts && pg_strncasecmp(opts->url, "http://", 7) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("server \"%s\" may not use plain http", opts->server_name),
				 errdetail("Its url starts with http://, and the server is not owned by a superuser: the token would be sent in clear."),
				 errhint("Change its url to https://, or a superuser can allow it with the setting callogs_fdw.allow_insecure_url.")));

	if (!opts->has_user_mapping)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no user mapping for user \"%s\" on server \"%s\"",
						GetUserNameFromId(opts->userid, true) ?
						GetUserNameFromId(opts->userid, true) : "?",
						opts->server_name),
				 errhint("%s", mapping_hint(opts, true))));
	if (opts->token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("the user mapping for server \"%s\" has no token",
						opts->server_name),
				 errhint("%s", mapping_hint(opts, false))));
	if (opts->org_handle == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no org_handle is set for foreign table \"%s\" or server \"%s\"",
						opts->table_name ? opts->table_name : "?",
						opts->server_name),
				 errhint("Set it with ALTER SERVER %s OPTIONS (ADD org_handle '...'), or per table with ALTER FOREIGN TABLE.",
						 quote_identifier(opts->server_name))));
}
