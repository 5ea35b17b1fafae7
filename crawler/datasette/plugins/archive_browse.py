"""Datasette plugin: the archive's reading pages and the server's manners.

- ``/archive/articles`` (HTML): search results a person reads (title linked to the
  article, Vietnamese date, site name, byline, a snippet with the matched words marked),
  newest first, oldest first or by relevance, facets by site, year and byline, and a
  date range typed ``DD/MM/YYYY``; count and facets from ``crawler.browse.FacetIndex``.
  Any other table argument (``_where``, ``col__gt``, ``_facet`` ..., or ``_table=1``)
  gets Datasette's own table page, and ``articles.json`` stays Datasette's JSON API.
- ``/archive/articles/ID`` (HTML): the article as it was published, its images,
  attachments, history with a diff between versions, and where it came from.
- JSON list columns are rendered as lists, and sent decoded in the JSON API.
- Client errors answer 4xx with one line, never a traceback (Datasette's default
  handler prints a 45 KB one through ``rich`` for each); writes answer 405.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import traceback
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from datasette import Response, hookimpl
from datasette.database import QueryInterrupted
from datasette.plugins import pm
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import BadRequest, Base400, NotFound
from datasette.views.base import DatasetteError
from datasette.views.table import TableView
from markupsafe import Markup, escape

from crawler.browse import (
    FacetIndex,
    Search,
    SearchError,
    body_diff,
    mark,
    parse_day,
    query_terms,
    snippet,
    utc_label,
    vn_date,
    word_diff,
)

DB = "archive"
PAGE_SIZE = 20
MAX_PAGE = 500
# Columns holding JSON lists or objects, per table.
JSON_COLUMNS = {
    "articles": ("captions", "warnings"),
    "article_versions": ("captions", "images", "attachments", "warnings"),
    "crawls": ("sites", "settings"),
}
# Arguments the reading page understands; any other sends the request to Datasette's
# table page.
SEARCH_ARGS = {"_search", "q", "_searchmode", "site", "year", "byline", "from", "to",
               "_sort", "_sort_desc", "page"}
SORTS = {"newest": "newest first", "oldest": "oldest first", "relevance": "most relevant"}

# Datasette's default exception handler prints every exception with rich (locals
# included): 45 KB and 355 ms per bad request. This plugin's handler replaces it.
if pm.get_plugin("datasette.handle_exception") is not None:
    pm.unregister(name="datasette.handle_exception")


# --------------------------------------------------------------------------- helpers


def _facet_index(datasette, db) -> FacetIndex:
    indexes = datasette.__dict__.setdefault("_vngov_facet_indexes", {})
    key = (db.name, str(db.path))
    if key not in indexes:
        for old in [k for k in indexes if k[0] == db.name]:
            del indexes[old]  # a replaced snapshot's arrays
        indexes[key] = FacetIndex()
    return indexes[key]


def _time_limit(datasette) -> int:
    return datasette.setting("sql_time_limit_ms") or 1000


def _url(request, **changes) -> str:
    args = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=False)
            if k not in changes and k != "page"]
    for k, v in changes.items():
        if v not in (None, ""):
            args.append((k, str(v)))
    return request.path + ("?" + urlencode(args) if args else "")


def _marked(pieces) -> Markup:
    out = []
    for text, hit in pieces:
        out.append(f"<mark>{escape(text)}</mark>" if hit else str(escape(text)))
    return Markup("".join(out))


def _diff_html(pieces) -> Markup:
    out = []
    for op, text in pieces:
        t = escape(text)
        out.append(f"<del>{t}</del>" if op == "-" else f"<ins>{t}</ins>" if op == "+" else str(t))
    return Markup("".join(out))


def _json_list(value):
    if not isinstance(value, str) or value[:1] not in ("[", "{"):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _one(args, name):
    values = args.getlist(name)
    return values[-1].strip() if values else ""


# --------------------------------------------------------------------------- search page


def _search_from(request) -> Search:
    args = request.args
    q = _one(args, "_search") or _one(args, "q")
    mode = _one(args, "_searchmode")
    sort = "newest"
    if _one(args, "_sort") in ("oldest", "published"):
        sort = "oldest"
    elif _one(args, "_sort") == "relevance":
        sort = "relevance"
    year = _one(args, "year")
    if year and not year.isdigit():
        raise BadRequest(f"year must be a number, not {year!r}")
    page = _one(args, "page") or "1"
    if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
        raise BadRequest(f"page must be a number from 1 to {MAX_PAGE}")
    try:
        date_from = parse_day(_one(args, "from"))
        date_to = parse_day(_one(args, "to"), end=True)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if date_from and date_to and date_from > date_to:
        raise BadRequest("the date range ends before it starts")
    return Search(q=q, raw=mode == "raw", sort=sort, site=_one(args, "site") or None,
                  year=int(year) if year else None, byline=_one(args, "byline") or None,
                  date_from=date_from, date_to=date_to, page=int(page), size=PAGE_SIZE)


def _json_url(datasette, search: Search) -> str:
    """The same selection in Datasette's JSON API (its own parameters)."""
    args = [("_search", search.q), ("_searchmode", "raw" if search.raw else ""),
            ("site", search.site), ("year", search.year), ("byline", search.byline),
            ("published__gte", search.date_from.isoformat() if search.date_from else ""),
            ("published__lt", (search.date_to + timedelta(days=1)).isoformat()
             if search.date_to else ""),
            ("_sort", "published" if search.sort == "oldest" else "")]
    query = urlencode([(k, v) for k, v in args if v not in (None, "")])
    return datasette.urls.table(DB, "articles", format="json") + ("?" + query if query else "")


async def search_page(request, send, datasette):
    if ("_table" in request.args or set(request.args) - SEARCH_ARGS
            or _one(request.args, "_sort") not in ("", *SORTS, "published")
            or _one(request.args, "_sort_desc") not in ("", "published")):
        # Datasette's table page for everything else (column filters, _where, _facet ...).
        request.scope["url_route"]["kwargs"]["format"] = None
        return await TableView.as_view(datasette)(request, send)
    db = datasette.get_database(DB)
    search = _search_from(request)
    index = _facet_index(datasette, db)

    def run(conn):
        with sqlite_timelimit(conn, _time_limit(datasette) * 3):
            results = index.search(conn, search)
            rows = []
            if results.ids:
                marks = ",".join("?" * len(results.ids))
                cur = conn.execute(
                    "select a.id, a.site, s.name, a.title, a.published, a.byline, a.url, "
                    "a.status, a.summary, substr(a.body, 1, 20000), a.version "
                    f"from articles a left join sites s on s.host = a.site where a.id in ({marks})",
                    results.ids)
                by_id = {r[0]: r for r in cur.fetchall()}
                rows = [by_id[i] for i in results.ids if i in by_id]
            names = dict(conn.execute(
                "select host, name from sites where name is not null").fetchall())
            return results, rows, names

    try:
        results, rows, names = await db.execute_fn(run)
    except SearchError as exc:
        raise BadRequest(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise BadRequest("the search took too long; add words or a filter") from exc
        raise
    terms = query_terms(search.q, raw=search.raw)
    items = []
    for (aid, site, name, title, published, byline, url, status, summary, body,
         version) in rows:
        text = " ".join(t for t in (summary, body) if t)
        items.append({
            "id": aid, "href": datasette.urls.row(DB, "articles", aid),
            "title": _marked(mark(title or "(no title)", terms)),
            "date": vn_date(published), "site": name or site, "host": site,
            "byline": byline, "url": url, "gone": status == "gone", "version": version,
            "snippet": _marked(snippet(text, terms)),
        })
    facets = []
    labels = {"site": "Site", "year": "Year", "byline": "Byline"}
    for fname, pairs in results.facets.items():
        selected = getattr(search, fname)
        facets.append({
            "name": fname, "label": labels[fname],
            "selected": None if selected is None else {
                "label": names.get(selected, selected) if fname == "site" else selected,
                "clear": _url(request, **{fname: None})},
            "items": [{"label": names.get(v, v) if fname == "site" else v, "count": c,
                       "href": _url(request, **{fname: v})} for v, c in pairs],
        })
    pages = (results.count + PAGE_SIZE - 1) // PAGE_SIZE
    context = {
        "database": DB, "table": "articles", "search": search, "items": items,
        "archive_title": (datasette.metadata("title") or "Archive"),
        "count": results.count, "facets": facets, "page": search.page,
        "pages": min(pages, MAX_PAGE),
        "prev_url": _url(request, page=search.page - 1) if search.page > 1 else None,
        "next_url": _url(request, page=search.page + 1)
        if search.page < min(pages, MAX_PAGE) else None,
        "sort_links": [{"label": label, "href": _url(request, _sort=key, _sort_desc=None),
                        "current": search.sort == key} for key, label in SORTS.items()
                       if key != "relevance" or search.q],
        "date_from": _one(request.args, "from"), "date_to": _one(request.args, "to"),
        "table_url": datasette.urls.table(DB, "articles") + "?" + urlencode(
            [("_table", "1")] + ([("_search", search.q)] if search.q else [])),
        "json_url": _json_url(datasette, search),
    }
    html = await datasette.render_template("archive_search.html", context, request=request,
                                           view_name="table")
    return Response.html(html)


# --------------------------------------------------------------------------- article page


async def article_page(request, datasette):
    db = datasette.get_database(DB)
    article_id = int(request.url_vars["pks"])
    version_arg = request.args.get("version", "")
    if version_arg and not version_arg.isdigit():
        raise BadRequest("version must be a number")

    def run(conn):
        factory, conn.row_factory = conn.row_factory, sqlite3.Row
        try:
            a = conn.execute(
                "select a.*, s.name as site_name from articles a "
                "left join sites s on s.host = a.site where a.id = ?", [article_id]).fetchone()
            if a is None:
                return None
            versions = conn.execute(
                "select version, fetched_at, crawl_id, fetched_url, content_hash, title "
                "from article_versions where article_id = ? order by version",
                [article_id]).fetchall()
            shown = int(version_arg) if version_arg else a["version"]
            v = conn.execute(
                "select * from article_versions where article_id = ? and version = ?",
                [article_id, shown]).fetchone()
            prev = conn.execute(
                "select * from article_versions where article_id = ? and version = ?",
                [article_id, shown - 1]).fetchone() if v is not None else None
            urls = conn.execute(
                "select url, first_seen, last_seen from article_urls where article_id = ? "
                "order by first_seen", [article_id]).fetchall()
            local = dict(conn.execute(
                "select src, local_path from images where article_id = ? "
                "and local_path is not null", [article_id]).fetchall())
            return (dict(a), [dict(r) for r in versions], dict(v) if v else None,
                    dict(prev) if prev else None, [dict(u) for u in urls], local)
        finally:
            conn.row_factory = factory

    found = await db.execute_fn(run)
    if found is None:
        raise NotFound(f"no article {article_id} in the archive")
    a, versions, v, prev, urls, _local = found
    if v is None:
        raise NotFound(f"article {article_id} has no version {version_arg}")
    images = _json_list(v["images"]) or []
    attachments = _json_list(v["attachments"]) or []
    paragraphs = [p for p in (v["body"] or "").split("\n\n") if p]
    # Where each image goes: after the paragraph the record names ("paragraph"), else
    # all of them after the first paragraph (the record does not say where they were).
    placed: dict[int, list] = {}
    for im in images:
        if not isinstance(im, dict) or not im.get("src"):
            continue
        at = im.get("paragraph")
        at = at if isinstance(at, int) and 0 <= at <= len(paragraphs) else min(1, len(paragraphs))
        placed.setdefault(at, []).append(im)
    blocks = []
    for i in range(len(paragraphs) + 1):
        for im in placed.get(i, []):
            blocks.append({"image": im})
        if i < len(paragraphs):
            blocks.append({"lines": paragraphs[i].split("\n")})
    diff = None
    if prev is not None:
        diff = {
            "from": prev["version"], "to": v["version"],
            "fields": [
                {"label": label, "html": _diff_html(word_diff(prev[f], v[f]))}
                for f, label in (("title", "Title"), ("published", "Date"),
                                 ("summary", "Lead"), ("byline", "Byline"),
                                 ("source", "Source"))
                if (prev[f] or "") != (v[f] or "")],
            "body": [dict(b, html=_diff_html(b["pieces"])) if b["op"] == "changed" else b
                     for b in body_diff(prev["body"], v["body"])],
            "images": (prev["images"] or "[]") != (v["images"] or "[]"),
        }
    context = {
        "database": DB, "table": "articles", "a": a, "v": v, "blocks": blocks,
        "attachments": [x for x in attachments if isinstance(x, dict) and x.get("url")],
        "date": vn_date(v["published"], weekday=True) or "no publication date",
        "site": a["site_name"] or a["site"], "versions": [
            dict(x, fetched=utc_label(x["fetched_at"]),
                 href=datasette.urls.row(DB, "articles", a["id"]) + f"?version={x['version']}")
            for x in versions],
        "current": v["version"] == a["version"], "diff": diff, "aliases": urls,
        "v_fetched": utc_label(v["fetched_at"]),
        "first_seen": utc_label(a["first_seen"]), "last_seen": utc_label(a["last_seen"]),
        "gone_since": utc_label(a["gone_since"]),
        "json_url": datasette.urls.row(DB, "articles", a["id"], format="json"),
        "cite_url": datasette.absolute_url(request, datasette.urls.row(DB, "articles", a["id"])
                                           + ("" if v["version"] == a["version"]
                                              else f"?version={v['version']}")),
        "versions_url": datasette.urls.table(DB, "article_versions")
        + f"?article_id={a['id']}",
        "search_url": datasette.urls.table(DB, "articles"),
    }
    html = await datasette.render_template("archive_article.html", context, request=request,
                                           view_name="row")
    return Response.html(html)


async def archive_info(datasette):
    """What is served: the file (or public snapshot) behind /archive/ and when it was taken."""
    info = dict(getattr(datasette, "_vngov", {}) or {})
    db = datasette.databases.get(DB)
    info.update(database=DB, mutable=bool(db and db.is_mutable))
    return Response.json(info)


SCHEMA_DOC = Path(__file__).resolve().parents[3] / "docs" / "SCHEMA.md"


async def schema_page(request, datasette):
    """docs/SCHEMA.md, rendered: what every table and column means."""
    from markdown_it import MarkdownIt

    if not SCHEMA_DOC.exists():
        raise NotFound("docs/SCHEMA.md is not installed with this copy")
    html = MarkdownIt("commonmark").enable("table").render(
        SCHEMA_DOC.read_text(encoding="utf-8"))
    page = await datasette.render_template(
        "archive_doc.html", {"doc": Markup(html), "title": "The archive: schema"},
        request=request)
    return Response.html(page)


@hookimpl
def startup(datasette):
    async def inner():
        db = datasette.databases.get(DB)
        if db is None:
            return
        index = _facet_index(datasette, db)
        try:
            await db.execute_fn(index.refresh)  # load the search page's arrays now
        except sqlite3.DatabaseError as exc:
            print(f"archive: search facets not loaded: {exc}", file=sys.stderr)

    return inner


@hookimpl
def register_routes(datasette):
    return [
        (r"^/-/archive\.json$", archive_info),
        (r"^/-/schema$", schema_page),
        (rf"^/(?P<database>{DB})/(?P<table>articles)$", search_page),
        (rf"^/(?P<database>{DB})/(?P<table>articles)/(?P<pks>\d+)$", article_page),
    ]


# --------------------------------------------------------------------------- JSON lists


def _vn_day(text, end=0):
    try:
        day = parse_day(text, end=bool(end))
    except ValueError:
        return None  # not a date: compares as unknown, no row matches
    return day.isoformat() if day else None


@hookimpl
def prepare_connection(conn):
    # For canned queries: vn_day('31/12/2022') = '2022-12-31'; a year alone is its
    # first day (its last with vn_day(x, 1)).
    conn.create_function("vn_day", -1, _vn_day, deterministic=True)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != DB:
        return None
    if table is None and column == "title" and value:
        # Canned queries: a title links to its article when the row has the id.
        try:
            article_id = row["id"]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(article_id, int):
            return Markup(f'<a href="{datasette.urls.row(DB, "articles", article_id)}">'
                          f"{escape(value)}</a>")
        return None
    if column == "published" and isinstance(value, str) and value:
        # As Vietnamese readers write it; the stored ISO text in datetime/title.
        return Markup(f'<time datetime="{escape(value)}" title="{escape(value)}">'
                      f"{escape(vn_date(value))}</time>")
    if column not in JSON_COLUMNS.get(table, ()):
        return None
    data = _json_list(value)
    if isinstance(data, list):
        if not data:
            return Markup('<span class="empty-list">(none)</span>')
        items = []
        for item in data:
            if isinstance(item, dict):
                link = item.get("src") or item.get("url")
                label = item.get("caption") or item.get("name") or ""
                if link:
                    items.append(f'<a href="{escape(link)}" rel="nofollow noopener">'
                                 f'{escape(link)}</a>' + (f" - {escape(label)}" if label else ""))
                else:
                    items.append(escape(json.dumps(item, ensure_ascii=False)))
            else:
                items.append(str(escape(item)))
        return Markup('<ul class="json-list">' + "".join(f"<li>{i}</li>" for i in items)
                      + "</ul>")
    if isinstance(data, dict):
        return Markup('<dl class="json-object">' + "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(json.dumps(val, ensure_ascii=False))}</dd>"
            for k, val in data.items()) + "</dl>")
    return None


@hookimpl
def asgi_wrapper(datasette):
    """Writes answer 405; the JSON API sends JSON list columns decoded (``_json``)."""

    def wrap(app):
        async def wrapped(scope, receive, send):
            if scope["type"] == "http":
                method = scope.get("method", "GET")
                path = scope.get("path", "")
                if method not in ("GET", "HEAD", "OPTIONS") and not path.startswith("/-/"):
                    body = json.dumps({"ok": False, "status": 405,
                                       "error": "this archive is read-only"}).encode()
                    await send({"type": "http.response.start", "status": 405, "headers": [
                        (b"content-type", b"application/json; charset=utf-8"),
                        (b"allow", b"GET, HEAD")]})
                    await send({"type": "http.response.body", "body": body})
                    return
                parts = path.strip("/").split("/")
                if len(parts) >= 2 and parts[0] == DB and path.endswith(".json"):
                    table = parts[1].removesuffix(".json")
                    columns = JSON_COLUMNS.get(table)
                    qs = scope.get("query_string", b"").decode("latin-1")
                    if columns and "_json=" not in qs:
                        extra = "&".join(f"_json={c}" for c in columns)
                        scope = dict(scope, query_string=(
                            (qs + "&" if qs else "") + extra).encode("latin-1"))
            await app(scope, receive, send)

        return wrapped

    return wrap


# --------------------------------------------------------------------------- errors


@hookimpl
def handle_exception(datasette, request, exception):
    """One answer per error, no traceback: 4xx for what the client asked wrong, 500 with
    one log line for the rest."""

    async def inner():
        title = None
        if isinstance(exception, Base400):
            status, message = exception.status, exception.args[0]
        elif isinstance(exception, DatasetteError):
            status, message, title = exception.status, exception.message, exception.title
            if status == 500 and str(message).startswith("Cannot sort"):
                status = 400
            if exception.message_is_html:
                message = Markup(message)
        elif isinstance(exception, QueryInterrupted):
            status, message = 400, "the query took too long"
        elif isinstance(exception, (sqlite3.OperationalError, sqlite3.DataError)) and any(
                s in str(exception) for s in (
                    "fts5", "too big", "too long", "interrupted", "no such column",
                    "syntax error", "user-defined function raised exception")):
            status, message = 400, f"cannot run that: {exception}"
        else:
            status, message = 500, "internal error"
            frames = traceback.extract_tb(exception.__traceback__)
            where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            print(f"archive server error on {request.path}: "
                  f"{type(exception).__name__}: {exception}{where}", file=sys.stderr, flush=True)
        info = {"ok": False, "error": str(message), "status": status, "title": title}
        if request.path.split("?")[0].endswith(".json"):
            return Response.json(info, status=status)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        return Response.html(await template.render_async(dict(
            info, error=message, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
            menu_links=lambda: [])), status=status)

    return inner
