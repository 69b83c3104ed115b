/*-------------------------------------------------------------------------
 *
 * url.c
 *		  Request URLs of callogs_fdw, built with libcurl's URL API.
 *
 * Every URL the extension requests or shows is made here, never by
 * concatenating strings:
 *
 *	- callogs_url_build: the server's url (its own query kept, any
 *	  fragment dropped) with query parameters appended and percent-encoded
 *	  by curl_url_set(CURLUPART_QUERY, CURLU_APPENDQUERY | CURLU_URLENCODE).
 *	  The scan, its retries and EXPLAIN all go through it.
 *	- callogs_url_follow: a "next" link resolved against the stream's
 *	  request, accepted only on the origin of the server's url.
 *	- callogs_url_is_page_link: whether a "next" link is just the next
 *	  page number, so that pages can be fetched concurrently;
 *	  callogs_url_is_page_number_link: whether it is a link by page number
 *	  at all (the scan's check of each page's link).
 *	- callogs_url_path: the path and query of a URL, which is what EXPLAIN,
 *	  error messages and the request log show (a URL never holds the token).
 *
 * CURLU handles and the strings libcurl returns are malloc'd: each function
 * frees them on its way out, and in a PG_CATCH block on an ERROR (out of
 * memory) in between, so nothing leaks.
 *
 * IDENTIFICATION
 *		  src/url.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "callogs_fdw.h"
#include "utils/builtins.h"

/*
 * callogs_url_param
 *		Append a query parameter to a list of parameters (palloc'd in the
 *		current memory context).  A verbatim value is appended as is: only
 *		EXPLAIN's placeholders for values known at execution ("$1",
 *		"(runtime)") are verbatim; everything sent is percent-encoded.
 */
List *
callogs_url_param(List *params, const char *name, const char *value,
				  bool verbatim)
{
	CallogsUrlParam *p = palloc(sizeof(CallogsUrlParam));

	p->name = name;
	p->value = value;
	p->verbatim = verbatim;
	return lappend(params, p);
}

/*
 * url_error
 *		Raise the error of a URL libcurl refused.  SQLSTATE HV024: the url
 *		option (or a value derived from it) is not a valid URL.
 */
pg_noreturn static void
url_error(CURLUcode rc, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("could not build the call logs API request URL: %s",
					curl_url_strerror(rc)),
			 errdetail("libcurl refused %s.", what),
			 errhint("Check the url option of the server.")));
}

/*
 * callogs_url_build
 *		base_url with params appended to its query, in order, each
 *		"name=value" percent-encoded by libcurl (CURLU_URLENCODE: a '&',
 *		'=', '+' or '#' in a value cannot start another parameter).  The
 *		base url's own query is kept and its fragment, which a client never
 *		sends, is dropped.  Returns a palloc'd absolute URL.
 *
 *		SQLSTATE HV024 when libcurl refuses the base url or a parameter.
 */
char *
callogs_url_build(const char *base_url, List *params)
{
	CURLU	   *volatile h = NULL;
	char	   *volatile out = NULL;
	char	   *volatile result = NULL;
	volatile CURLUcode rc = CURLUE_OK;
	const char *volatile what = "the server's url";

	PG_TRY();
	{
		ListCell   *lc;

		h = curl_url();
		if (h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		rc = curl_url_set(h, CURLUPART_URL, base_url, 0);
		if (rc == CURLUE_OK)
			rc = curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
		foreach(lc, params)
		{
			CallogsUrlParam *p = (CallogsUrlParam *) lfirst(lc);
			char	   *pair;

			if (rc != CURLUE_OK)
				break;
			pair = psprintf("%s=%s", p->name, p->value);
			rc = curl_url_set(h, CURLUPART_QUERY, pair,
							  CURLU_APPENDQUERY | (p->verbatim ? 0 : CURLU_URLENCODE));
			pfree(pair);
			if (rc != CURLUE_OK)
				what = psprintf("the query parameter \"%s\"", p->name);
		}
		if (rc == CURLUE_OK)
		{
			char	   *s = NULL;

			rc = curl_url_get(h, CURLUPART_URL, &s, 0);
			out = s;
			what = "the assembled URL";
		}
		if (rc == CURLUE_OK)
			result = pstrdup(out);
	}
	PG_CATCH();
	{
		curl_free(out);
		curl_url_cleanup(h);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_free(out);
	curl_url_cleanup(h);

	if (rc != CURLUE_OK)
		url_error(rc, what);
	return result;
}

/*
 * callogs_url_path
 *		Append the path and query of url to buf, as the request line shows
 *		them: what EXPLAIN, error details and the request log print.  Never
 *		raises an error but out of memory (it also runs while settling a
 *		finished transfer); an unparsable url shows as "(invalid URL)".
 *		Returns buf->data.
 */
const char *
callogs_url_path(const char *url, StringInfo buf)
{
	CURLU	   *volatile h = NULL;
	char	   *volatile path = NULL;
	char	   *volatile query = NULL;

	PG_TRY();
	{
		char	   *p = NULL;
		char	   *q = NULL;

		h = curl_url();
		if (h != NULL &&
			curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
			curl_url_get(h, CURLUPART_PATH, &p, 0) == CURLUE_OK)
		{
			path = p;
			if (curl_url_get(h, CURLUPART_QUERY, &q, 0) == CURLUE_OK)
				query = q;
			appendStringInfoString(buf, path);
			if (query)
				appendStringInfo(buf, "?%s", query);
		}
		else
			appendStringInfoString(buf, "(invalid URL)");
	}
	PG_CATCH();
	{
		curl_free(path);
		curl_free(query);
		curl_url_cleanup(h);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(h);
	return buf->data;
}

/*
 * same_origin
 *		Whether two parsed URLs share scheme, host and port (RFC 6454
 *		origin; default ports made explicit), and the second carries no
 *		user name: a "next" link may not send the token elsewhere.
 *		Called inside callogs_url_follow's PG_TRY; frees what it gets.
 */
static bool
same_origin(CURLU *a, CURLU *b)
{
	char	   *sa = NULL,
			   *sb = NULL,
			   *ha = NULL,
			   *hb = NULL,
			   *pa = NULL,
			   *pb = NULL,
			   *ub = NULL;
	bool		same = false;

	if (curl_url_get(a, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
		curl_url_get(a, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
		curl_url_get(a, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_USER, &ub, 0) == CURLUE_NO_USER)
		same = pg_strcasecmp(sa, sb) == 0 && pg_strcasecmp(ha, hb) == 0 &&
			strcmp(pa, pb) == 0;
	curl_free(sa);
	curl_free(sb);
	curl_free(ha);
	curl_free(hb);
	curl_free(pa);
	curl_free(pb);
	curl_free(ub);
	return same;
}

static bool query_params(const char *url, char **path, List **params);

/*
 * changed_base_param
 *		The name of a query parameter of the server's url (base_url) that
 *		link sets to another value, or NULL: such a parameter is one the
 *		paging controls (a cursor), so the url's own value made the first
 *		page start elsewhere than the beginning.  Values are compared
 *		decoded (query_params), so "a+b" and "a%20b" are the same.
 */
static char *
changed_base_param(const char *base_url, const char *link)
{
	char	   *path;
	List	   *bparams;
	List	   *lparams;
	ListCell   *lb;
	ListCell   *ll;

	if (!query_params(base_url, &path, &bparams) || bparams == NIL ||
		!query_params(link, &path, &lparams))
		return NULL;
	foreach(lb, bparams)
	{
		const char *b = (const char *) lfirst(lb);
		size_t		namelen = strcspn(b, "=");
		bool		named = false;
		bool		same = false;

		foreach(ll, lparams)
		{
			const char *l = (const char *) lfirst(ll);

			if (strcspn(l, "=") != namelen || strncmp(b, l, namelen) != 0)
				continue;
			named = true;
			if (strcmp(b, l) == 0)
				same = true;
		}
		if (named && !same)
			return pnstrdup(b, namelen);
	}
	return NULL;
}

/*
 * callogs_url_follow
 *		The URL to request for a "next" link: link (len bytes, not
 *		necessarily NUL-terminated) resolved against stream_url, the
 *		stream's request (an absolute link stays as it is; a relative one
 *		keeps the request's scheme, host and path), its fragment dropped.  Returns NULL and sets *why when the
 *		link is not a URL, leaves the origin (scheme, host, port) of
 *		base_url, the server's url, or sets a query parameter of base_url
 *		to another value (changed_base_param).
 */
char *
callogs_url_follow(const char *base_url, const char *stream_url,
				   const char *link, size_t len, const char **why)
{
	CURLU	   *volatile base = NULL;
	CURLU	   *volatile h = NULL;
	char	   *volatile out = NULL;
	char	   *volatile result = NULL;
	char	   *linkz = pnstrdup(link, len);

	*why = NULL;
	PG_TRY();
	{
		char	   *s = NULL;

		base = curl_url();
		h = curl_url();
		if (base == NULL || h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		if (strlen(linkz) != len)
			*why = "the \"next\" link contains a NUL byte";
		else if (curl_url_set(base, CURLUPART_URL, base_url, 0) != CURLUE_OK ||
				 curl_url_set(h, CURLUPART_URL, stream_url, 0) != CURLUE_OK ||
				 curl_url_set(h, CURLUPART_URL, linkz, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
			*why = "the \"next\" link is not a URL";
		else if (!same_origin(base, h))
			*why = "the \"next\" link points to another origin than the server's url";
		else if (curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
				 curl_url_get(h, CURLUPART_URL, &s, 0) != CURLUE_OK)
			*why = "the \"next\" link is not a URL";
		else
		{
			out = s;
			result = pstrdup(out);
		}
	}
	PG_CATCH();
	{
		curl_free(out);
		curl_url_cleanup(h);
		curl_url_cleanup(base);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_free(out);
	curl_url_cleanup(h);
	curl_url_cleanup(base);
	pfree(linkz);
	if (result != NULL)
	{
		char	   *name = changed_base_param(base_url, result);

		if (name != NULL)
		{
			*why = psprintf("the \"next\" link sets the query parameter \"%s\" of the server's url to another value: the paging sets it, so remove it from the url option",
							callogs_shorten(name, strlen(name)));
			result = NULL;
		}
	}
	return result;
}

/*
 * cmp_strings
 *		list_sort comparator of C strings.
 */
static int
cmp_strings(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/*
 * query_params
 *		The path and the query parameters of an absolute URL, each decoded
 *		(application/x-www-form-urlencoded: '+' is a space), the parameters
 *		sorted as "name=value" strings.  libcurl splits scheme, host, path
 *		and query; a query is split at '&' here, as that form defines, and
 *		each part decoded by curl_easy_unescape.  False if url is not a URL.
 */
static bool
query_params(const char *url, char **path, List **params)
{
	CURLU	   *volatile h = NULL;
	char	   *volatile rawpath = NULL;
	char	   *volatile query = NULL;
	char	   *volatile dec = NULL;
	volatile bool ok = false;

	*path = NULL;
	*params = NIL;
	PG_TRY();
	{
		char	   *p = NULL;
		char	   *q = NULL;

		h = curl_url();
		if (h != NULL &&
			curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
			curl_url_get(h, CURLUPART_PATH, &p, CURLU_URLDECODE) == CURLUE_OK)
		{
			rawpath = p;
			*path = pstrdup(rawpath);
			ok = true;
			if (curl_url_get(h, CURLUPART_QUERY, &q, 0) == CURLUE_OK)
			{
				char	   *copy;
				char	   *part;
				char	   *save = NULL;

				query = q;
				copy = pstrdup(query);
				for (char *c = copy; *c; c++)
					if (*c == '+')
						*c = ' ';
				for (part = strtok_r(copy, "&", &save); part;
					 part = strtok_r(NULL, "&", &save))
				{
					int			len = 0;

					dec = curl_easy_unescape(NULL, part, 0, &len);
					if (dec == NULL || (size_t) len != strlen(dec))
					{
						ok = false; /* out of memory, or a %00 */
						break;
					}
					*params = lappend(*params, pstrdup(dec));
					curl_free(dec);
					dec = NULL;
				}
			}
		}
	}
	PG_CATCH();
	{
		curl_free(dec);
		curl_free(rawpath);
		curl_free(query);
		curl_url_cleanup(h);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_free(dec);
	curl_free(rawpath);
	curl_free(query);
	curl_url_cleanup(h);
	if (ok)
		list_sort(*params, cmp_strings);
	return ok;
}

/*
 * The query parameters a scan sets itself (API.md: the filter and paging
 * parameters).  A server url whose own query names one of them would send
 * it twice, and the API would pick one: its answer would then disagree
 * with the query's conditions (count(*) of call_status=missed while WHERE
 * call_status = 'completed' returns completed calls) or start elsewhere
 * than page 1.
 */
static const char *const scan_params[] = {
	"page", "page_size", "start_date", "end_date", "call_type", "call_status"
};

/*
 * what_instead
 *		The hint's advice for a scan parameter found in a url's query.
 */
static const char *
what_instead(const char *name)
{
	if (strcmp(name, "call_type") == 0 || strcmp(name, "call_status") == 0)
		return psprintf("filter with a WHERE condition on the column fed by %s instead (it is sent to the API)", name);
	if (strcmp(name, "start_date") == 0 || strcmp(name, "end_date") == 0)
		return "filter with a WHERE condition on creation_time instead (it is sent to the API)";
	if (strcmp(name, "page_size") == 0)
		return "set the page_size option of the server or table instead";
	return "use LIMIT and OFFSET instead: the scan asks for every page itself";
}

/*
 * callogs_url_check_base
 *		Refuse a server url that the scan cannot send as it is written: a
 *		byte outside printable ASCII after the host (a space, a control
 *		character, or a non-ASCII character that libcurl would send raw:
 *		RFC 3986 wants it percent-encoded, and the API would read it in an
 *		encoding of its choosing), or a query parameter the scan sets
 *		itself (scan_params: sent twice, the API picks one).  Called where a
 *		url is used (callogs_check_usable: planning, scans, ANALYZE, the
 *		probe) and by the option validator; server_name is NULL there.
 *		SQLSTATE HV024, with a HINT naming the fix.
 */
void
callogs_url_check_base(const char *url, const char *server_name)
{
	const char *rest = strstr(url, "://");
	const char *tail;
	const char *where = server_name ?
		psprintf("the url of server \"%s\"", server_name) : "the url";
	char	   *path;
	List	   *params;
	ListCell   *lc;

	if (rest == NULL)
		return;					/* not a URL: libcurl reports it */
	rest += 3;
	tail = rest + strcspn(rest, "/?#");

	for (const unsigned char *c = (const unsigned char *) tail; *c; c++)
	{
		if (*c > 0x20 && *c < 0x7f)
			continue;
		{
			StringInfoData fixed;

			/* the url with every such byte percent-encoded (RFC 3986 2.1) */
			initStringInfo(&fixed);
			appendBinaryStringInfo(&fixed, url, tail - url);
			for (const unsigned char *d = (const unsigned char *) tail; *d; d++)
			{
				if (*d > 0x20 && *d < 0x7f)
					appendStringInfoChar(&fixed, (char) *d);
				else
					appendStringInfo(&fixed, "%%%02X", *d);
			}
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("%s contains %s", where,
							*c >= 0x80 ? "a non-ASCII character" :
							*c == ' ' ? "a space" : "a control character"),
					 errdetail("A URL holds printable ASCII only; libcurl would send the byte 0x%02X as it is.", *c),
					 errhint("Percent-encode it (UTF-8 bytes as %%XX): %s%s.",
							 server_name ? psprintf("ALTER SERVER %s OPTIONS (SET url ",
													quote_identifier(server_name)) : "",
							 server_name ? psprintf("%s)", quote_literal_cstr(fixed.data)) :
							 quote_literal_cstr(fixed.data))));
		}
	}

	if (!query_params(url, &path, &params))
		return;					/* libcurl reports a URL it refuses */
	foreach(lc, params)
	{
		const char *param = (const char *) lfirst(lc);
		size_t		namelen = strcspn(param, "=");

		for (size_t i = 0; i < lengthof(scan_params); i++)
		{
			if (strlen(scan_params[i]) != namelen ||
				strncmp(param, scan_params[i], namelen) != 0)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("%s sets the query parameter \"%s\", which the scan sets itself",
							where, scan_params[i]),
					 errdetail("The scan sends page, page_size, start_date, end_date, call_type and call_status from the query's conditions and its paging; sent twice, the API would answer with one of the two values."),
					 errhint("Remove \"%s\" from the url option, and %s.",
							 callogs_shorten(param, strlen(param)),
							 what_instead(scan_params[i]))));
		}
	}
}

/*
 * callogs_url_is_page_link
 *		Whether link (an absolute URL from callogs_url_follow) is page
 *		`page` of stream_url in page-number form: the same path, and the
 *		same query parameters plus page=<page>, in any order and encoding.
 *		Such "next" links (the usual shape in common web frameworks) let
 *		the scan fetch pages concurrently instead of following them.
 */
bool
callogs_url_is_page_link(const char *stream_url, const char *link, int page)
{
	char	   *spath,
			   *lpath;
	List	   *sparams,
			   *lparams;
	ListCell   *ls,
			   *ll;

	if (!query_params(stream_url, &spath, &sparams) ||
		!query_params(link, &lpath, &lparams) ||
		strcmp(spath, lpath) != 0)
		return false;
	sparams = lappend(sparams, psprintf("page=%d", page));
	list_sort(sparams, cmp_strings);
	if (list_length(sparams) != list_length(lparams))
		return false;
	forboth(ls, sparams, ll, lparams)
		if (strcmp((char *) lfirst(ls), (char *) lfirst(ll)) != 0)
			return false;
	return true;
}

/*
 * callogs_url_is_page_number_link
 *		Whether link (an absolute URL from callogs_url_follow) has the path
 *		of stream_url and a "page" query parameter: a link by page number,
 *		whatever its other parameters.  A stream whose links were checked
 *		as page numbers (callogs_url_is_page_link) and that gets such a
 *		link for another page, or with other parameters, has an API that
 *		contradicts itself; a link without a page parameter is an opaque
 *		cursor the scan may follow.
 */
bool
callogs_url_is_page_number_link(const char *stream_url, const char *link)
{
	char	   *spath,
			   *lpath;
	List	   *sparams,
			   *lparams;
	ListCell   *ll;

	if (!query_params(stream_url, &spath, &sparams) ||
		!query_params(link, &lpath, &lparams) ||
		strcmp(spath, lpath) != 0)
		return false;
	foreach(ll, lparams)
		if (strncmp((char *) lfirst(ll), "page=", 5) == 0)
			return true;
	return false;
}

/*
 * callogs_url_fix_path
 *		For the hint of a 404 on the first page (issue 14): when the path of
 *		url lacks what the API's path has, the url the user probably meant,
 *		palloc'd; NULL when the path ends in "/" already or url is not a
 *		URL.  A url without a path ("http://host:port", path "/") gets the
 *		documented path /api/v2/platform/call-logs/ (*no_path set); a path
 *		that does not end in "/" gets one (the API's path ends in "/").
 *		libcurl's URL API reads the path; the suggestion is the url as the
 *		user wrote it (same case, same percent-encoding, query kept) with
 *		the missing part inserted where the path ends, since a hint is text
 *		to copy, never a URL that is requested.
 */
char *
callogs_url_fix_path(const char *url, bool *no_path)
{
	CURLU	   *volatile h = NULL;
	char	   *volatile path = NULL;
	volatile bool lacks_slash = false;
	const char *authority;
	size_t		end;

	*no_path = false;
	PG_TRY();
	{
		char	   *p = NULL;

		h = curl_url();
		if (h != NULL &&
			curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
			curl_url_get(h, CURLUPART_PATH, &p, 0) == CURLUE_OK)
		{
			size_t		len;

			path = p;
			len = strlen(path);
			if (len <= 1)
				*no_path = true;
			else if (path[len - 1] != '/')
				lacks_slash = true;
		}
	}
	PG_CATCH();
	{
		curl_free(path);
		curl_url_cleanup(h);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_free(path);
	curl_url_cleanup(h);
	if (!*no_path && !lacks_slash)
		return NULL;

	/* where the path ends: the query, if any (check_url refuses "#") */
	authority = strstr(url, "://");
	if (authority == NULL)
		return NULL;
	authority += 3;
	end = (authority - url) + strcspn(authority, "?#");
	if (*no_path)
	{
		/* "http://host:port" or "http://host:port/": the documented path */
		size_t		host_end = (authority - url) + strcspn(authority, "/?#");

		return psprintf("%.*s/api/v2/platform/call-logs/%s", (int) host_end, url,
						url + end);
	}
	return psprintf("%.*s/%s", (int) end, url, url + end);
}
