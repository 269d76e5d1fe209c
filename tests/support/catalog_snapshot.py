"""A comparable description of everything an extension installs, and the differences between two of them.

``snapshot(conn)`` reads the catalogs of one database and describes every object
that belongs to extension pg_steward (``pg_depend.deptype = 'e'``), the schema
``steward`` (named in the control file, so created by CREATE EXTENSION but not a
member) and the extension's own row (version, requirements, the tables it
registered with ``pg_extension_config_dump``). Nothing in it is an OID: objects
are named by ``pg_identify_object`` identities, types by ``format_type``,
expressions by the ``pg_get_*def`` functions (rendered with ``search_path`` set
to ``pg_catalog``, so every name outside the catalog is schema-qualified). Two
databases that hold the same objects therefore give equal snapshots, whatever
order the objects were created in and whatever OIDs they got.

``diff(a, b)`` lists the differences as readable lines, e.g.
``function steward.version(): config: a=['search_path=pg_catalog, pg_temp'] b=[...]``.

``strays(conn)`` lists what the snapshot deliberately leaves out: objects in the
extension's schemas that do not belong to it (a leftover of an upgrade script that
ran ``ALTER EXTENSION ... DROP`` and forgot the ``DROP``, say).

The upgrade tests (test_upgrades.py) compare "version A, then ALTER EXTENSION
UPDATE TO B" with "CREATE EXTENSION ... VERSION B".
"""

from __future__ import annotations

import difflib
from typing import Any

import psycopg
from psycopg.rows import dict_row

EXTENSION = "pg_steward"
SCHEMA = "steward"

Snapshot = dict[str, Any]

# ACLs: NULL means "the default for the owner"; coalesce, then sort, so that a
# GRANT followed by the matching REVOKE compares equal to never granting.
_ACL = "ARRAY(SELECT a::text FROM unnest(coalesce({acl}, acldefault({kind}, {owner}))) AS a ORDER BY 1)"
_INIT_ACL = (
    "(SELECT ARRAY(SELECT a::text FROM unnest(i.initprivs) AS a ORDER BY 1) FROM pg_init_privs AS i "
    " WHERE i.classoid = {catalog}::regclass AND i.objoid = {oid} AND i.objsubid = 0 AND i.privtype = 'e')"
)
_COMMENT = (
    "(SELECT description FROM pg_description AS d "
    " WHERE d.classoid = {catalog}::regclass AND d.objoid = {oid} AND d.objsubid = {subid})"
)


def _acl(acl: str, kind: str, owner: str) -> str:
    """``kind``: an SQL expression of type "char", as acldefault() takes it ('f', 'n', 'r', 's', 'T')."""
    return _ACL.format(acl=acl, kind=kind, owner=owner)


_SCHEMA_ACL = _acl("n.nspacl", "'n'", "n.nspowner")
_FUNCTION_ACL = _acl("p.proacl", "'f'", "p.proowner")
_TYPE_ACL = _acl("t.typacl", "'T'", "t.typowner")
_RELATION_ACL = _acl("c.relacl", "(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\"", "c.relowner")


def _init_acl(catalog: str, oid: str) -> str:
    return _INIT_ACL.format(catalog=f"'{catalog}'", oid=oid)


def _comment(catalog: str, oid: str, subid: str = "0") -> str:
    return _COMMENT.format(catalog=f"'{catalog}'", oid=oid, subid=subid)


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _row(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any]:
    rows = _rows(conn, query, params)
    assert len(rows) == 1, (query, params, rows)
    return rows[0]


def snapshot(conn: psycopg.Connection, extension: str = EXTENSION, schema: str = SCHEMA) -> Snapshot:
    """Describe extension ``extension`` and schema ``schema`` in the database of ``conn``.

    The result maps "<object type> <identity>" (e.g. "function steward.version()",
    "table steward.t", "schema steward", "extension pg_steward") to a dict of
    that object's properties. Raises LookupError when the extension is missing.
    Runs in a transaction of its own with SET LOCAL settings (search_path and
    the output styles), so an autocommit session's settings are left as they
    were; inside an open transaction they last until that transaction ends.
    """
    with conn.transaction():
        conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        conn.execute("SET LOCAL IntervalStyle = 'postgres'")
        conn.execute("SET LOCAL extra_float_digits = 1")
        found = _rows(conn, "SELECT oid FROM pg_extension WHERE extname = %s", [extension])
        if not found:
            raise LookupError(f"extension {extension} is not installed in database {conn.info.dbname}")
        ext_oid = found[0]["oid"]

        result: Snapshot = {f"extension {extension}": _extension(conn, ext_oid)}
        members = _rows(
            conn,
            """
            SELECT d.classid::regclass::text AS catalog, d.objid, d.objsubid, o.type, o.identity
            FROM pg_depend AS d, LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) AS o
            WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = %s AND d.deptype = 'e'
            """,
            [ext_oid],
        )
        for member in members:
            key = f"{member['type']} {member['identity']}"
            describe = _DESCRIBERS.get(member["catalog"])
            entry = describe(conn, member["objid"]) if describe else _other(conn, member)
            entry["member"] = True
            result[key] = entry

        key = f"schema {schema}"
        if key not in result:
            nsp = _rows(conn, "SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
            result[key] = {**_schema(conn, nsp[0]["oid"]), "member": False} if nsp else {"exists": False}
        return result


def _extension(conn: psycopg.Connection, oid: int) -> dict[str, Any]:
    row = _row(
        conn,
        f"""
        SELECT e.extversion AS version, e.extrelocatable AS relocatable, e.extnamespace::regnamespace::text AS schema,
               ARRAY(SELECT r.extname::text FROM pg_depend AS d JOIN pg_extension AS r ON r.oid = d.refobjid
                     WHERE d.classid = 'pg_extension'::regclass AND d.objid = e.oid
                       AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'n'
                     ORDER BY 1) AS requires,
               ARRAY(SELECT c.config::regclass::text FROM unnest(e.extconfig) AS c(config)) AS config_tables,
               e.extcondition AS config_conditions,
               {_comment('pg_extension', 'e.oid')} AS comment
        FROM pg_extension AS e WHERE e.oid = %s
        """,
        [oid],
    )
    tables = row.pop("config_tables") or []
    conditions = row.pop("config_conditions") or []
    # pg_extension_config_dump(table, condition): one condition per table, in registration order.
    row["config_dump"] = dict(zip(tables, conditions, strict=False))
    if len(tables) != len(conditions):
        row["config_dump_mismatch"] = f"{len(tables)} tables, {len(conditions)} conditions"
    return row


def _schema(conn: psycopg.Connection, oid: int) -> dict[str, Any]:
    return _row(
        conn,
        f"""
        SELECT true AS exists, pg_get_userbyid(n.nspowner)::text AS owner,
               {_SCHEMA_ACL} AS acl,
               {_init_acl('pg_namespace', 'n.oid')} AS init_acl,
               {_comment('pg_namespace', 'n.oid')} AS comment
        FROM pg_namespace AS n WHERE n.oid = %s
        """,
        [oid],
    )


def _function(conn: psycopg.Connection, oid: int) -> dict[str, Any]:
    row = _row(
        conn,
        f"""
        SELECT p.prokind AS kind,
               pg_get_function_arguments(p.oid) AS arguments,
               pg_get_function_result(p.oid) AS result,
               l.lanname::text AS language,
               p.prosrc AS body,
               CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) END AS sql_body,
               p.probin AS probin,
               ARRAY(SELECT c FROM unnest(p.proconfig) AS c ORDER BY 1) AS config,
               p.prosecdef AS security_definer,
               p.provolatile::text AS volatility,
               p.proisstrict AS strict,
               p.proparallel::text AS parallel,
               p.proleakproof AS leakproof,
               p.procost::float8 AS cost,
               p.prorows::float8 AS rows,
               p.prosupport::regproc::text AS support,
               ARRAY(SELECT t::regtype::text FROM unnest(p.protrftypes) AS t ORDER BY 1) AS transforms,
               pg_get_userbyid(p.proowner)::text AS owner,
               {_FUNCTION_ACL} AS acl,
               {_init_acl('pg_proc', 'p.oid')} AS init_acl,
               {_comment('pg_proc', 'p.oid')} AS comment
        FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
        WHERE p.oid = %s
        """,
        [oid],
    )
    if row["kind"] == "a":
        row["aggregate"] = _row(
            conn,
            """
            SELECT a.aggkind::text AS kind, a.aggtransfn::regproc::text AS transition,
                   a.aggfinalfn::regproc::text AS final, a.aggcombinefn::regproc::text AS combine,
                   a.aggtranstype::regtype::text AS state_type, a.agginitval AS initial,
                   a.aggsortop::regoperator::text AS sort_operator
            FROM pg_aggregate AS a WHERE a.aggfnoid = %s
            """,
            [oid],
        )
    return row


def _relation(conn: psycopg.Connection, oid: int) -> dict[str, Any]:
    row = _row(
        conn,
        f"""
        SELECT c.relkind::text AS kind,
               c.relpersistence::text AS persistence,
               ARRAY(SELECT o FROM unnest(c.reloptions) AS o ORDER BY 1) AS options,
               (SELECT amname::text FROM pg_am WHERE oid = c.relam) AS access_method,
               c.relrowsecurity AS row_security,
               c.relforcerowsecurity AS force_row_security,
               c.relreplident::text AS replica_identity,
               CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
               pg_get_expr(c.relpartbound, c.oid) AS partition_bound,
               ARRAY(SELECT i.inhparent::regclass::text FROM pg_inherits AS i
                     WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS inherits,
               nullif(c.reloftype, 0)::regtype::text AS of_type,
               CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS view_definition,
               pg_get_userbyid(c.relowner)::text AS owner,
               {_RELATION_ACL} AS acl,
               {_init_acl('pg_class', 'c.oid')} AS init_acl,
               {_comment('pg_class', 'c.oid')} AS comment
        FROM pg_class AS c WHERE c.oid = %s
        """,
        [oid],
    )
    # Column options: only those one sets (n_distinct, ...). Options named pg_* are PostgreSQL's own
    # bookkeeping: the PostgreSQL 15 build these tests run on stamps "pg_attver=<number>" on every
    # column it creates, a number that differs from one CREATE to the next and defines nothing.
    columns = _rows(
        conn,
        f"""
        SELECT a.attname::text AS name,
               format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS not_null,
               pg_get_expr(ad.adbin, ad.adrelid) AS default,
               a.attidentity::text AS identity,
               a.attgenerated::text AS generated,
               CASE WHEN a.attcollation <> t.typcollation THEN
                   (SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname)
                    FROM pg_collation AS co JOIN pg_namespace AS n ON n.oid = co.collnamespace
                    WHERE co.oid = a.attcollation) END AS collation,
               a.attstorage::text AS storage,
               a.attstattarget AS statistics,
               ARRAY(SELECT o FROM unnest(a.attoptions) AS o WHERE o NOT LIKE 'pg\\_%%' ORDER BY 1) AS options,
               ARRAY(SELECT x::text FROM unnest(a.attacl) AS x ORDER BY 1) AS acl,
               {_comment('pg_class', 'a.attrelid', 'a.attnum')} AS comment
        FROM pg_attribute AS a
        JOIN pg_type AS t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        [oid],
    )
    row["column_order"] = [c["name"] for c in columns]
    row["columns"] = {c.pop("name"): c for c in columns}
    row["constraints"] = {
        r["name"]: {"definition": r["definition"], "comment": r["comment"]}
        for r in _rows(
            conn,
            f"""
            SELECT co.conname::text AS name, pg_get_constraintdef(co.oid, true) AS definition,
                   {_comment('pg_constraint', 'co.oid')} AS comment
            FROM pg_constraint AS co WHERE co.conrelid = %s
            """,
            [oid],
        )
    }
    row["indexes"] = {
        r["name"]: {"definition": r["definition"], "clustered": r["clustered"], "comment": r["comment"]}
        for r in _rows(
            conn,
            f"""
            SELECT ic.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition,
                   i.indisclustered AS clustered, {_comment('pg_class', 'i.indexrelid')} AS comment
            FROM pg_index AS i JOIN pg_class AS ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = %s
            """,
            [oid],
        )
    }
    row["triggers"] = {
        r["name"]: {"definition": r["definition"], "enabled": r["enabled"], "comment": r["comment"]}
        for r in _rows(
            conn,
            f"""
            SELECT tg.tgname::text AS name, pg_get_triggerdef(tg.oid, true) AS definition,
                   tg.tgenabled::text AS enabled, {_comment('pg_trigger', 'tg.oid')} AS comment
            FROM pg_trigger AS tg WHERE tg.tgrelid = %s AND NOT tg.tgisinternal
            """,
            [oid],
        )
    }
    row["rules"] = {
        r["name"]: {"definition": r["definition"], "comment": r["comment"]}
        for r in _rows(
            conn,
            f"""
            SELECT r.rulename::text AS name, pg_get_ruledef(r.oid, true) AS definition,
                   {_comment('pg_rewrite', 'r.oid')} AS comment
            FROM pg_rewrite AS r WHERE r.ev_class = %s AND r.rulename <> '_RETURN'
            """,
            [oid],
        )
    }
    row["policies"] = {
        r.pop("name"): r
        for r in _rows(
            conn,
            f"""
            SELECT po.polname::text AS name, po.polcmd::text AS command, po.polpermissive AS permissive,
                   ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
                         FROM unnest(po.polroles) AS r ORDER BY 1) AS roles,
                   pg_get_expr(po.polqual, po.polrelid) AS using,
                   pg_get_expr(po.polwithcheck, po.polrelid) AS with_check,
                   {_comment('pg_policy', 'po.oid')} AS comment
            FROM pg_policy AS po WHERE po.polrelid = %s
            """,
            [oid],
        )
    }
    if row["kind"] == "S":
        row["sequence"] = _row(
            conn,
            """
            SELECT s.seqtypid::regtype::text AS type, s.seqstart AS start, s.seqincrement AS increment,
                   s.seqmin AS min, s.seqmax AS max, s.seqcache AS cache, s.seqcycle AS cycle,
                   (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname)
                    FROM pg_depend AS d
                    JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) AS owned_by
            FROM pg_sequence AS s WHERE s.seqrelid = %s
            """,
            [oid],
        )
    return row


def _type(conn: psycopg.Connection, oid: int) -> dict[str, Any]:
    row = _row(
        conn,
        f"""
        SELECT t.typtype::text AS kind,
               pg_get_userbyid(t.typowner)::text AS owner,
               {_TYPE_ACL} AS acl,
               {_init_acl('pg_type', 't.oid')} AS init_acl,
               {_comment('pg_type', 't.oid')} AS comment,
               t.typrelid AS _relid
        FROM pg_type AS t WHERE t.oid = %s
        """,
        [oid],
    )
    relid, kind = row.pop("_relid"), row["kind"]
    if kind == "c":
        row["attributes"] = [
            r
            for r in _rows(
                conn,
                f"""
                SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type,
                       {_comment('pg_class', 'a.attrelid', 'a.attnum')} AS comment
                FROM pg_attribute AS a
                WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
                """,
                [relid],
            )
        ]
    elif kind == "e":
        row["labels"] = [
            r["label"]
            for r in _rows(
                conn, "SELECT enumlabel::text AS label FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder", [oid]
            )
        ]
    elif kind == "d":
        row.update(
            _row(
                conn,
                """
                SELECT format_type(t.typbasetype, t.typtypmod) AS base_type, t.typnotnull AS not_null,
                       t.typdefault AS default,
                       CASE WHEN t.typcollation <> b.typcollation THEN t.typcollation::regcollation::text END
                           AS collation
                FROM pg_type AS t JOIN pg_type AS b ON b.oid = t.typbasetype WHERE t.oid = %s
                """,
                [oid],
            )
        )
        row["constraints"] = {
            r["name"]: {"definition": r["definition"], "comment": r["comment"]}
            for r in _rows(
                conn,
                f"""
                SELECT co.conname::text AS name, pg_get_constraintdef(co.oid, true) AS definition,
                       {_comment('pg_constraint', 'co.oid')} AS comment
                FROM pg_constraint AS co WHERE co.contypid = %s
                """,
                [oid],
            )
        }
    elif kind == "r":
        row.update(
            _row(
                conn,
                """
                SELECT r.rngsubtype::regtype::text AS subtype, r.rngmultitypid::regtype::text AS multirange,
                       nullif(r.rngcollation, 0)::regcollation::text AS collation,
                       (SELECT quote_ident(n.nspname) || '.' || quote_ident(o.opcname)
                        FROM pg_opclass AS o JOIN pg_namespace AS n ON n.oid = o.opcnamespace
                        WHERE o.oid = r.rngsubopc) AS subtype_opclass,
                       r.rngcanonical::regproc::text AS canonical, r.rngsubdiff::regproc::text AS subtype_diff
                FROM pg_range AS r WHERE r.rngtypid = %s
                """,
                [oid],
            )
        )
    else:  # base and pseudo types
        row.update(
            _row(
                conn,
                """
                SELECT t.typinput::regproc::text AS input, t.typoutput::regproc::text AS output,
                       t.typreceive::regproc::text AS receive, t.typsend::regproc::text AS send,
                       t.typmodin::regproc::text AS typmod_in, t.typmodout::regproc::text AS typmod_out,
                       t.typanalyze::regproc::text AS analyze, t.typsubscript::regproc::text AS subscript,
                       t.typlen AS length, t.typbyval AS by_value, t.typalign::text AS alignment,
                       t.typstorage::text AS storage, t.typcategory::text AS category,
                       t.typispreferred AS preferred, t.typdelim::text AS delimiter,
                       nullif(t.typelem, 0)::regtype::text AS element, t.typdefault AS default
                FROM pg_type AS t WHERE t.oid = %s
                """,
                [oid],
            )
        )
    return row


def _other(conn: psycopg.Connection, member: dict[str, Any]) -> dict[str, Any]:
    """Any other kind of member (operator, cast, event trigger, ...): its identity and comment."""
    row = _row(
        conn,
        "SELECT (SELECT description FROM pg_description "
        "        WHERE classoid = %s::regclass AND objoid = %s AND objsubid = %s) AS comment",
        [member["catalog"], member["objid"], member["objsubid"]],
    )
    return {"catalog": member["catalog"], **row}


_DESCRIBERS = {
    "pg_proc": _function,
    "pg_class": _relation,
    "pg_type": _type,
    "pg_namespace": _schema,
}


def strays(conn: psycopg.Connection, extension: str = EXTENSION, schema: str = SCHEMA) -> list[str]:
    """Objects in ``schema`` (and in the schemas of the extension's members) that do not belong to the extension.

    Parts of other objects (indexes, row types, array types, TOAST tables,
    sequences owned by a column: anything with an automatic or internal
    dependency) are not strays; what ``snapshot`` says about their owner covers them.
    """
    rows = conn.execute(
        """
        WITH ext AS (SELECT oid FROM pg_extension WHERE extname = %(extension)s),
        members AS (
            SELECT d.classid, d.objid FROM pg_depend AS d, ext
            WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
        schemas AS (
            SELECT oid FROM pg_namespace WHERE nspname = %(schema)s
            UNION
            SELECT coalesce(p.pronamespace, c.relnamespace, t.typnamespace)
            FROM members AS m
            LEFT JOIN pg_proc AS p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
            LEFT JOIN pg_class AS c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
            LEFT JOIN pg_type AS t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
            EXCEPT
            SELECT oid FROM pg_namespace
            WHERE nspname IN ('pg_catalog', 'information_schema') OR nspname LIKE 'pg\\_toast%%'),
        candidates AS (
            SELECT 'pg_proc'::regclass AS classid, oid AS objid FROM pg_proc WHERE pronamespace IN (TABLE schemas)
            UNION ALL
            SELECT 'pg_class'::regclass, oid FROM pg_class WHERE relnamespace IN (TABLE schemas)
            UNION ALL
            SELECT 'pg_type'::regclass, oid FROM pg_type WHERE typnamespace IN (TABLE schemas)
            UNION ALL
            SELECT 'pg_operator'::regclass, oid FROM pg_operator WHERE oprnamespace IN (TABLE schemas)
            UNION ALL
            SELECT 'pg_collation'::regclass, oid FROM pg_collation WHERE collnamespace IN (TABLE schemas)
            UNION ALL
            SELECT 'pg_conversion'::regclass, oid FROM pg_conversion WHERE connamespace IN (TABLE schemas)
            UNION ALL
            SELECT 'pg_statistic_ext'::regclass, oid FROM pg_statistic_ext WHERE stxnamespace IN (TABLE schemas))
        SELECT pg_describe_object(k.classid, k.objid, 0)
        FROM candidates AS k
        WHERE NOT EXISTS (SELECT FROM pg_depend AS d
                          WHERE d.classid = k.classid AND d.objid = k.objid AND d.deptype IN ('a', 'i', 'e'))
        ORDER BY 1
        """,
        {"extension": extension, "schema": schema},
    ).fetchall()
    return [r[0] for r in rows]


def diff(a: Snapshot, b: Snapshot, names: tuple[str, str] = ("a", "b")) -> list[str]:
    """The differences between two snapshots, one readable line (or block, for long text) each.

    Lines start with the object ("function steward.version()") and the property
    path ("columns: id: default"), then say what each side has.
    """
    out: list[str] = []
    _diff(a, b, [], out, names)
    return out


def _diff(a: Any, b: Any, path: list[str], out: list[str], names: tuple[str, str]) -> None:
    where = ": ".join(path) or "(snapshot)"
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in b:
                out.append(f"{where}: {key}: only in {names[0]}" if path else f"{key}: only in {names[0]}")
            elif key not in a:
                out.append(f"{where}: {key}: only in {names[1]}" if path else f"{key}: only in {names[1]}")
            else:
                _diff(a[key], b[key], [*path, str(key)], out, names)
    elif a != b:
        if isinstance(a, str) and isinstance(b, str) and ("\n" in a or "\n" in b):
            lines = difflib.unified_diff(
                a.splitlines(), b.splitlines(), fromfile=names[0], tofile=names[1], n=1, lineterm=""
            )
            out.append(f"{where}: differs:\n    " + "\n    ".join(lines))
        else:
            out.append(f"{where}: {names[0]}={a!r} {names[1]}={b!r}")
