"""Datasette plugin: ``?_search=`` on the archive's articles, insensitive to Vietnamese marks.

The archive's full-text index is contentless and holds text with đ written d (see
``crawler.store``), so Datasette's built-in search cannot use it as is: this plugin reads
the same ``_search``, ``_search_COLUMN`` and ``_searchmode`` parameters, folds the query
the way the index was folded, and picks the WHERE clause that reaches the first page
fastest (``crawler.search.search_plan``). Every clause selects exactly the matching rows.
Configured per table in metadata: ``plugins: vngov-archive: fts_table: ...``.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils.asgi import BadRequest

from crawler.store import match_expression, search_fold, search_plan, search_where

PLUGIN = "vngov-archive"
# Arguments that narrow a table page; with any of them the plain plan is used. (Not
# _next: the next page of a newest-first search walks the same index, see migration 003.)
_NARROWING = ("_where", "_through")


# Per connection: no value (string or blob) larger than this, and no SQL text longer
# than that, so no query can make the server allocate a gigabyte
# (``select randomblob(1e9)`` fails at once with "string or blob too big").
MAX_VALUE_BYTES = 32_000_000
MAX_SQL_BYTES = 100_000


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    # For canned queries: ``match search_match(:q)`` folds and escapes like _search does.
    conn.create_function("search_match", 1, lambda q: match_expression(q or ""),
                         deterministic=True)
    conn.create_function("search_fold", 1, lambda t: search_fold(t) if t else t,
                         deterministic=True)


def _sort_column(request, table_metadata) -> str | None:
    for arg in ("_sort", "_sort_desc"):
        if request.args.get(arg):
            return request.args[arg]
    return table_metadata.get("sort") or table_metadata.get("sort_desc") or "id"


async def _check_syntax(db, fts_table: str, match: str) -> None:
    """FTS5 syntax errors in a raw search are the client's: 400, not 500."""

    def check(conn):
        conn.execute(f"select 1 from [{fts_table}] where [{fts_table}] match ? limit 1",
                     [match]).fetchall()

    try:
        await db.execute_fn(check)
    except sqlite3.OperationalError as exc:
        raise BadRequest(f"Bad search: {exc}") from exc


# trylast: runs after Datasette's own search filter, so this supports_search wins.
@hookimpl(trylast=True)
def filters_from_request(request, database, table, datasette):
    config = datasette.plugin_config(PLUGIN, database=database, table=table) or {}
    fts_table = config.get("fts_table")
    if not fts_table or not table:
        return None

    async def inner():
        table_metadata = datasette.table_metadata(database, table)
        db = datasette.get_database(database)
        # A sort by a column the table does not have is the client's mistake: 400.
        columns = set(await db.table_columns(table)) | {"rowid"}
        for arg in ("_sort", "_sort_desc"):
            if request.args.get(arg) and request.args[arg] not in columns:
                raise BadRequest(f"Cannot sort table by {request.args[arg]}")
        raw = table_metadata.get("searchmode") == "raw"
        if request.args.get("_searchmode") in ("raw", "escaped"):
            raw = request.args["_searchmode"] == "raw"
        searches = {
            key: request.args[key] for key in request.args
            if key.startswith("_search") and key != "_searchmode" and request.args[key].strip()
        }
        context = {"supports_search": True}
        if not searches:
            return FilterArguments([], extra_context=context)
        if "_search" in searches:
            query = searches["_search"]
            match = match_expression(query, raw=raw)
            if raw:
                await _check_syntax(db, fts_table, match)
            plan = "in"
            narrowed = any(not k.startswith("_") for k in request.args) or any(
                k in request.args for k in _NARROWING)
            streaming = _sort_column(request, table_metadata) in config.get(
                "streaming_sorts", ["id"])
            if streaming and not narrowed:
                plan = await db.execute_fn(
                    lambda conn: search_plan(conn, match, fts_table=fts_table, table=table))
            where = search_where(plan, fts_table=fts_table, table=table, param="vngov_search")
            context.update(search=query, search_plan=plan)
            return FilterArguments(
                [where], {"vngov_search": match}, [f'search matches "{query}"'], context
            )
        columns = await db.table_columns(fts_table)
        wheres, params, descriptions = [], {}, []
        for i, (key, query) in enumerate(searches.items()):
            column = key.split("_search_", 1)[-1]
            if key == "_search" or column not in columns:
                raise BadRequest(f"Cannot search by that column: {column}")
            name = f"vngov_search_{i}"
            if raw:
                await _check_syntax(db, fts_table, match_expression(query, raw=raw))
            wheres.append(search_where("in", fts_table=fts_table, table=table, param=name,
                                       column=column))
            params[name] = match_expression(query, raw=raw)
            descriptions.append(f'search column "{column}" matches "{query}"')
            context["search"] = query
        return FilterArguments(wheres, params, descriptions, context)

    return inner
