/*-------------------------------------------------------------------------
 *
 * orgtables.c
 *		  callogs_add_org_table(): one organization's foreign table as a
 *		  partition of a table partitioned by LIST (org_handle).
 *
 * The SQL-callable entry points of the extension take text (and text[])
 * arguments, the types an unknown literal resolves to, so that an overload
 * in a schema later on the caller's search_path can never be a better
 * match than the extension's function (issue 10 round 2, finding 2; with
 * "name" or "regclass" parameters, an attacker's (text, text, text) won
 * for the README's own call).  Names given as text are resolved here, in
 * C, with the caller's search_path, as regclass input would: a table name
 * as the caller sees it, a quoted name, a schema-qualified name.
 *
 * What runs with the caller's rights is only ever the caller's: the parent
 * must belong to the caller (or a role the caller is a member of; a
 * superuser's membership in every role does not count), and its partition
 * key must be exactly LIST (org_handle) on pg_catalog.text with the
 * default operator class, so that coercing the partition bound runs no
 * function of another role (a domain's CHECK did).  The statements run
 * with search_path = pg_catalog, pg_temp, and every name in them is
 * quoted and qualified.
 *
 * IDENTIFICATION
 *		  src/orgtables.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "partitioning/partdefs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "callogs_fdw.h"

/* child names: "<parent>_<org_handle>", or cut + "_" + 8 hex digits */
#define CHILD_CUT_BYTES		(NAMEDATALEN - 1 - 9)

/*
 * owns_parent_callback
 *		RangeVarGetRelidExtended callback: before the parent is locked,
 *		refuse it unless the current user is its owner or a member of the
 *		owning role.  Unlike PostgreSQL's ownership checks, a superuser is
 *		not the owner of every table here: adding a partition to another
 *		role's table would run that role's arrangements (triggers cloned,
 *		bounds coerced) with the superuser's rights, and put the superuser's
 *		foreign table under a table the other role controls.  SQLSTATE 42501.
 */
static void
owns_parent_callback(const RangeVar *relation, Oid relId, Oid oldRelId,
					 void *arg)
{
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(relId))
		return;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relId));
	if (!HeapTupleIsValid(tuple))
		return;					/* dropped concurrently */
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	if (!is_member_of_role_nosuper(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", relation->relname),
				 errdetail("callogs_add_org_table adds partitions only to a table of the caller's own (or of a role the caller is a member of), also for a superuser: nothing of another role's table may run with the caller's rights."),
				 errhint("Call it as the table's owner, or create the partition with CREATE FOREIGN TABLE ... PARTITION OF.")));
}

/*
 * check_partition_key
 *		The parent must be partitioned by LIST on one column, org_handle, of
 *		type pg_catalog.text (not a domain: its CHECK would run when the
 *		bound is coerced) with text's default btree operator class.
 *		SQLSTATE 42809.
 */
static void
check_partition_key(Relation rel)
{
	PartitionKey key;
	const char *why = NULL;

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not partitioned", RelationGetRelationName(rel)),
				 errhint("Create the parent with callogs_create_org_tables().")));
	key = RelationGetPartitionKey(rel);
	if (key->strategy != PARTITION_STRATEGY_LIST)
		why = "It is not partitioned by LIST.";
	else if (key->partnatts != 1 || key->partattrs[0] == 0)
		why = "Its partition key is not one column.";
	else if (strcmp(NameStr(TupleDescAttr(RelationGetDescr(rel), key->partattrs[0] - 1)->attname),
					"org_handle") != 0)
		why = "Its partition key is not the column org_handle.";
	else if (key->parttypid[0] != TEXTOID)
		why = "Its column org_handle is not of type pg_catalog.text (a domain's CHECK would run when a bound is coerced).";
	else if (key->partopfamily[0] !=
			 get_opclass_family(GetDefaultOpClass(TEXTOID, BTREE_AM_OID)))
		why = "Its partition key does not use the default operator class of text.";
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not partitioned by LIST (org_handle) on a pg_catalog.text column",
						RelationGetRelationName(rel)),
				 errdetail("%s", why),
				 errhint("Create the parent with callogs_create_org_tables().")));
}

/*
 * child_name
 *		"<parent>_<org_handle>" with the handle as is; over NAMEDATALEN - 1
 *		bytes, cut on a character boundary to CHILD_CUT_BYTES and followed
 *		by "_" and the first 8 hex digits of the SHA-256 of the handle in
 *		UTF-8, so that long handles stay apart (as 1.1's PL/pgSQL did).
 */
static char *
child_name(const char *parent, const char *org_handle)
{
	char	   *child = psprintf("%s_%s", parent, org_handle);
	char	   *utf8;
	bytea	   *in;
	bytea	   *digest;
	const unsigned char *d;
	int			len;

	if (strlen(child) < NAMEDATALEN)
		return child;
	utf8 = pg_server_to_any(org_handle, strlen(org_handle), PG_UTF8);
	in = (bytea *) palloc(VARHDRSZ + strlen(utf8));
	SET_VARSIZE(in, VARHDRSZ + strlen(utf8));
	memcpy(VARDATA(in), utf8, strlen(utf8));
	digest = DatumGetByteaPP(DirectFunctionCall1(sha256_bytea, PointerGetDatum(in)));
	d = (const unsigned char *) VARDATA_ANY(digest);
	len = pg_mbcliplen(child, strlen(child), CHILD_CUT_BYTES);
	return psprintf("%.*s_%02x%02x%02x%02x", len, child, d[0], d[1], d[2], d[3]);
}

/*
 * run_ddl
 *		Run one statement with search_path = pg_catalog, pg_temp (restored
 *		after, also on error), as the caller.
 */
static void
run_ddl(const char *sql)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute failed: %s", sql);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
}

PG_FUNCTION_INFO_V1(callogs_add_org_table);

/*
 * callogs_add_org_table
 *		callogs_add_org_table(parent text, org_handle text, server text)
 *		RETURNS regclass: create "<parent>_<org_handle>" (see child_name) in
 *		the parent's schema as a foreign table on server, a partition FOR
 *		VALUES IN (org_handle), with the table option org_handle and its
 *		column org_handle filled from it (field '@org_handle').  parent is
 *		resolved with the caller's search_path (quoted and qualified names
 *		work) and locked as CREATE ... PARTITION OF locks it.  Errors:
 *		22004 (a null argument), 22023 (an empty org_handle), 42P01 (no
 *		such table), 42501 (not the parent's owner), 42809 (not partitioned
 *		by LIST (org_handle) on text), and those of CREATE FOREIGN TABLE
 *		(no such server, no USAGE on it, a handle already added: 42P07).
 */
Datum
callogs_add_org_table(PG_FUNCTION_ARGS)
{
	char	   *org_handle;
	char	   *server;
	RangeVar   *rv;
	Oid			relid;
	Oid			nspid;
	Relation	rel;
	char	   *nsp;
	char	   *parent;
	char	   *child;
	Oid			childid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parent and server must not be null")));
	if (PG_ARGISNULL(1) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("org_handle must not be empty"),
				 errhint("Pass the organization's handle, as sent in the Org-Handle header.")));
	org_handle = text_to_cstring(PG_GETARG_TEXT_PP(1));
	server = text_to_cstring(PG_GETARG_TEXT_PP(2));

	/* in the caller's search_path, as regclass input does */
	rv = makeRangeVarFromNameList(textToQualifiedNameList(PG_GETARG_TEXT_PP(0)));
	relid = RangeVarGetRelidExtended(rv, AccessExclusiveLock, 0,
									 owns_parent_callback, NULL);
	rel = relation_open(relid, NoLock);
	check_partition_key(rel);
	nspid = RelationGetNamespace(rel);
	nsp = get_namespace_name(nspid);
	parent = pstrdup(RelationGetRelationName(rel));
	relation_close(rel, NoLock);

	child = child_name(parent, org_handle);
	run_ddl(psprintf("CREATE FOREIGN TABLE %s PARTITION OF %s FOR VALUES IN (%s) SERVER %s OPTIONS (org_handle %s)",
					 quote_qualified_identifier(nsp, child),
					 quote_qualified_identifier(nsp, parent),
					 quote_literal_cstr(org_handle),
					 quote_identifier(server),
					 quote_literal_cstr(org_handle)));
	run_ddl(psprintf("ALTER FOREIGN TABLE %s ALTER COLUMN org_handle OPTIONS (ADD field %s)",
					 quote_qualified_identifier(nsp, child),
					 quote_literal_cstr(CALLOGS_FIELD_ORG_HANDLE)));
	childid = get_relname_relid(child, nspid);
	if (!OidIsValid(childid))
		elog(ERROR, "callogs_fdw: the new partition \"%s\" is not found", child);
	PG_RETURN_OID(childid);
}
