"""The archive: one SQLite file that crawls write into and Datasette serves.

Every write goes through :class:`Archive`. The schema lives in the migrations below
(``sqlite_utils.migrations``); opening an archive upgrades it in place. Nothing is
overwritten: each distinct content an article ever had is a row of
``article_versions``; ``articles`` shows the newest. See ``docs/SCHEMA.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .canonical import BadURL, canonical_url, host_of, url_key
from .text import INVISIBLE, clean

SCHEMA_VERSION = 7
MIGRATIONS = Migrations("vngov-archive")

# The fields of an extracted record that are the article's content: what the content
# hash covers and what makes a new version. Not the fetch time, URL, family or warnings.
CONTENT_FIELDS = (
    "title", "published", "summary", "body", "captions", "images", "byline", "source",
    "attachments", "language",
)
# Columns of the full-text index, in order (see _search_text).
FTS_COLUMNS = ("title", "summary", "body", "captions", "byline")
FTS_TOKENIZER = "unicode61 remove_diacritics 2"
COUNT_COLUMNS = (
    "pages_fetched", "articles_new", "articles_changed", "articles_unchanged",
    "articles_gone", "errors",
)
_SPACES = re.compile(r"[^\S\n]+")


class InvalidRecord(ValueError):
    """A record the archive refuses; a ``fetch_errors`` row says why."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- schema


@MIGRATIONS(name="001_initial")
def _m001_initial(db: Database) -> None:
    db["sites"].create(
        {"host": str, "name": str, "family": str, "province": str, "level": str, "added": str},
        pk="host",
    )
    db["crawls"].create(
        {
            "id": int, "sites": str, "started": str, "finished": str, "status": str,
            **{c: int for c in COUNT_COLUMNS}, "settings": str,
        },
        pk="id",
        defaults={c: 0 for c in COUNT_COLUMNS},
        not_null={"started", "status"},
    )
    db["articles"].create(
        {
            "id": int, "site": str, "url": str, "key": str, "family": str,
            "title": str, "published": str, "summary": str, "body": str, "captions": str,
            "byline": str, "source": str, "language": str, "warnings": str,
            "content_hash": str, "version": int, "status": str,
            "first_seen": str, "last_seen": str, "last_changed": str,
            "gone_since": str, "gone_status": int, "first_crawl": int, "last_crawl": int,
        },
        pk="id",
        not_null={"site", "url", "key", "content_hash", "version", "status", "first_seen",
                  "last_seen", "last_changed"},
        foreign_keys=[("site", "sites", "host"), ("first_crawl", "crawls", "id"),
                      ("last_crawl", "crawls", "id")],
    )
    db["articles"].create_index(["key"], unique=True)
    db["article_versions"].create(
        {
            "id": int, "article_id": int, "version": int, "content_hash": str,
            "fetched_at": str, "crawl_id": int, "fetched_url": str, "family": str,
            "title": str, "published": str, "summary": str, "body": str, "captions": str,
            "images": str, "byline": str, "source": str, "attachments": str,
            "language": str, "warnings": str,
        },
        pk="id",
        not_null={"article_id", "version", "content_hash", "fetched_at"},
        foreign_keys=[("article_id", "articles", "id"), ("crawl_id", "crawls", "id")],
    )
    db["article_versions"].create_index(["article_id", "version"], unique=True)
    db["images"].create(
        {"article_id": int, "position": int, "src": str, "caption": str, "local_path": str},
        pk=("article_id", "position"),
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["attachments"].create(
        {"article_id": int, "position": int, "url": str, "name": str, "local_path": str},
        pk=("article_id", "position"),
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["fetch_errors"].create(
        {"id": int, "crawl_id": int, "url": str, "status": int, "reason": str, "at": str,
         "attempts": int},
        pk="id",
        not_null={"url", "reason", "at"},
        foreign_keys=[("crawl_id", "crawls", "id")],
    )
    for table, cols in (
        ("articles", ["site"]), ("articles", ["published"]), ("articles", ["first_seen"]),
        ("article_versions", ["crawl_id"]), ("fetch_errors", ["crawl_id"]),
        ("fetch_errors", ["url"]),
    ):
        db[table].create_index(cols)


@MIGRATIONS(name="002_search_and_aliases")
def _m002_search(db: Database) -> None:
    """Year facet, every URL an article was seen under, diacritic-insensitive search."""
    articles = db["articles"]
    articles.add_column("year", int)
    # A transform puts the new column beside the date it comes from.
    order = [c.name for c in articles.columns]
    order.remove("year")
    order.insert(order.index("published") + 1, "year")
    articles.transform(column_order=order)
    db.execute(
        "update articles set year = cast(substr(published, 1, 4) as integer) "
        "where published glob '[12][0-9][0-9][0-9]*'"
    )
    for cols in (["year"], ["byline"], ["status"], ["last_changed"], ["site", "published"]):
        articles.create_index(cols, if_not_exists=True)
    db["article_urls"].create(
        {"url": str, "article_id": int, "first_seen": str, "last_seen": str},
        pk="url",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["article_urls"].create_index(["article_id"])
    db.execute(
        "insert into article_urls (url, article_id, first_seen, last_seen) "
        "select url, id, first_seen, last_seen from articles"
    )
    _create_fts(db)
    _rebuild_fts(db)


@MIGRATIONS(name="003_newest_first_indexes")
def _m003_newest_first(db: Database) -> None:
    """Indexes in the order Datasette pages newest first: ``order by X desc, id``.

    Datasette's next-page query adds ``id`` ascending as a tie-breaker; without an index
    in exactly that order SQLite sorts every older row (seconds at 1M articles).
    """
    for column in ("published", "first_seen", "last_changed"):
        db.execute(
            f"create index if not exists idx_articles_{column}_desc_id "
            f"on articles ({column} desc, id)"
        )


@MIGRATIONS(name="004_crawl_process")
def _m004_crawl_process(db: Database) -> None:
    """Which process runs a crawl (``pid`` on ``host``), so that the next run can tell a
    crawl that is still going from one that was killed (marked ``interrupted``)."""
    crawls = db["crawls"]
    crawls.add_column("pid", int)
    crawls.add_column("host", str)
    crawls.create_index(["status"], if_not_exists=True)


@MIGRATIONS(name="005_frontier")
def _m005_frontier(db: Database) -> None:
    """What is left to do, written with the records (crawler/frontier.py): every URL a
    crawl queued or finished, the run per site, and a watermark per listing."""
    db["frontier"].create(
        {"key": str, "site": str, "url": str, "kind": str, "hops": int, "priority": int,
         "state": str, "run": int, "outcome": str, "article_id": int, "etag": str,
         "last_modified": str, "fetched_at": str},
        pk="key", not_null={"site", "url", "kind", "state"},
        defaults={"hops": 0, "priority": 0},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["frontier"].create_index(["site", "state"])
    db["frontier"].create_index(["article_id"])
    db["frontier_sites"].create(
        {"site": str, "run": int, "mode": str, "family": str, "started": str,
         "finished": str, "crawl_id": int},
        pk="site", foreign_keys=[("crawl_id", "crawls", "id")],
    )
    db["frontier_marks"].create(
        {"site": str, "listing": str, "newest": str, "seen_at": str, "crawl_id": int},
        pk=("site", "listing"), foreign_keys=[("crawl_id", "crawls", "id")],
    )


@MIGRATIONS(name="006_site_templates")
def _m006_site_templates(db: Database) -> None:
    """Each site's learned template (crawler/templates.py): the text blocks that recur at
    one place on most of its pages, kept so that re-extraction strips them too."""
    db["site_templates"].create(
        {"site": str, "template": str, "pages": int, "blocks": int, "learned": str},
        pk="site",
    )


@MIGRATIONS(name="006_browse")
def _m006_browse(db: Database) -> None:
    """Crawls joinable to sites: ``crawls.sites`` names registry keys (or hosts, for a
    ``--start-url`` crawl), so ``sites.key`` records each host's registry key (filled
    from the registry now, and by the crawl from then on) and the view ``crawl_sites``
    has one row per (crawl, host)."""
    db["sites"].add_column("key", str)
    db["sites"].create_index(["key"], if_not_exists=True)
    try:
        from .sites import load_sites

        registry = load_sites()
    except Exception:  # noqa: BLE001 - a registry that does not load leaves keys empty
        registry = {}
    for key, site in registry.items():
        for host in site.hosts:
            db.execute("update sites set key = ? where host = ? and key is null", [key, host])
    db.execute(
        "create view crawl_sites as "
        "select c.id as crawl_id, s.host as site, j.value as named "
        "from crawls c join json_each(c.sites) j "
        "join sites s on s.host = j.value or s.key = j.value"
    )


def _create_fts(db: Database) -> None:
    # Contentless: the index holds no copy of the text (articles has it). The indexed
    # text has đ folded to d (search_fold); the tokenizer folds every other mark.
    # See docs/SCHEMA.md for why and what it costs.
    db.execute(
        "create virtual table articles_fts using fts5({}, content='', tokenize='{}')".format(
            ", ".join(FTS_COLUMNS), FTS_TOKENIZER
        )
    )


def _rebuild_fts(db: Database) -> None:
    rows = db.execute(f"select id, {', '.join(FTS_COLUMNS)} from articles")
    db.conn.executemany(
        f"insert into articles_fts (rowid, {', '.join(FTS_COLUMNS)}) values (?, ?, ?, ?, ?, ?)",
        ((row[0], *_fts_values(row[1:])) for row in rows.fetchall()),
    )


def _fts_values(values: Iterable[str | None]) -> list[str]:
    """The text the index holds for (title, summary, body, captions, byline)."""
    out = []
    for value in values:
        if value and value.startswith("["):  # captions are stored as a JSON list
            try:
                value = "\n".join(json.loads(value))
            except (ValueError, TypeError):
                pass
        out.append(search_fold(value) if value else "")
    return out


# --------------------------------------------------------------------------- content


def _text(value, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"field {field!r} must be text or null, not {type(value).__name__}")
    return clean(value) or None


def _body(value) -> str | None:
    """Paragraphs kept (blank line between), each line's spaces collapsed, NFC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"field 'body' must be text or null, not {type(value).__name__}")
    text = unicodedata.normalize("NFC", value.translate(INVISIBLE)).replace("\r\n", "\n")
    paragraphs = []
    for para in re.split(r"\n\s*\n", text):
        lines = [_SPACES.sub(" ", line).strip() for line in para.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) or None


def _list(value, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidRecord(f"field {field!r} must be a list, not {type(value).__name__}")
    return list(value)


def _links(value, field: str, key: str, label: str) -> list[dict]:
    out = []
    for i, item in enumerate(_list(value, field)):
        if not isinstance(item, dict):
            raise InvalidRecord(f"{field}[{i}] must be an object with {key!r} and {label!r}")
        target = _text(item.get(key), f"{field}[{i}].{key}")
        if target:
            out.append({key: target, label: _text(item.get(label), f"{field}[{i}].{label}")})
    return out


def normalize_content(record: dict) -> dict:
    """The content fields of a record, normalized (NFC, spaces, empty -> null)."""
    captions = []
    for i, cap in enumerate(_list(record.get("captions"), "captions")):
        text = _text(cap, f"captions[{i}]")
        if text:
            captions.append(text)
    return {
        "title": _text(record.get("title"), "title"),
        "published": _text(record.get("published"), "published"),
        "summary": _text(record.get("summary"), "summary"),
        "body": _body(record.get("body")),
        "captions": captions,
        "images": _links(record.get("images"), "images", "src", "caption"),
        "byline": _text(record.get("byline"), "byline"),
        "source": _text(record.get("source"), "source"),
        "attachments": _links(record.get("attachments"), "attachments", "url", "name"),
        "language": _text(record.get("language"), "language"),
    }


def content_hash(content: dict) -> str:
    """SHA-256 over the normalized content fields (``normalize_content``)."""
    blob = json.dumps({k: content.get(k) for k in CONTENT_FIELDS}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _year(published: str | None) -> int | None:
    if published and re.match(r"^[12]\d{3}", published):
        return int(published[:4])
    return None


# --------------------------------------------------------------------------- archive


class Archive:
    """An archive file: opened (created if missing), WAL, foreign keys on, migrated."""

    def __init__(self, path: str | Path, *, migrate: bool = True):
        self.path = Path(path)
        self.last_article_id: int | None = None  # the article save_article last wrote
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.path)
        self.db.conn.execute("PRAGMA busy_timeout = 10000")
        self.db.enable_wal()
        self.db.conn.execute("PRAGMA foreign_keys = ON")
        self.db.conn.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            self.migrate()

    # -- lifecycle

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied."""
        pending = [m.name for m in MIGRATIONS.pending(self.db)]
        if pending:
            MIGRATIONS.apply(self.db)
        return pending

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return len(MIGRATIONS.applied(self.db))

    # -- sites and crawls

    def upsert_site(self, host: str, name: str | None = None, family: str | None = None,
                    province: str | None = None, level: str | None = None,
                    key: str | None = None) -> None:
        """Add a site or fill in what is now known about it (None never erases a value).
        ``key`` is the site's registry key (what ``crawls.sites`` names)."""
        host = (host or "").strip().lower()
        if not host:
            raise ValueError("upsert_site: host is empty")
        given = {k: v for k, v in (("name", name), ("family", family), ("province", province),
                                    ("level", level), ("key", key)) if v is not None}
        with self.db.atomic():
            self._ensure_site(host, family)
            if given:
                self.db["sites"].upsert({"host": host, **given}, pk="host")

    def _ensure_site(self, host: str, family: str | None = None) -> None:
        self.db.execute(
            "insert into sites (host, family, added) values (?, ?, ?) on conflict(host) do "
            "update set family = coalesce(sites.family, excluded.family)",
            [host, family if family and family != "generic" else None, utc_now()],
        )

    def start_crawl(self, sites: list[str], settings: dict, *, pid: int | None = None,
                    host: str | None = None) -> int:
        """A new row in ``crawls`` (status running) naming the process that runs it (this
        one unless ``pid``/``host`` say otherwise); returns its id."""
        with self.db.atomic():
            cur = self.db.execute(
                "insert into crawls (sites, started, status, settings, pid, host) "
                "values (?, ?, ?, ?, ?, ?)",
                [json.dumps(list(sites), ensure_ascii=False), utc_now(), "running",
                 json.dumps(settings or {}, ensure_ascii=False, sort_keys=True, default=str),
                 os.getpid() if pid is None else pid, host or socket.gethostname()],
            )
        return cur.lastrowid

    def mark_interrupted(self, *, locked_sites: Iterable[str] = (),
                         alive: Callable[[int], bool] | None = None) -> list[int]:
        """Mark ``interrupted`` every ``running`` crawl whose process is gone: one of this
        host whose pid is dead, or one of a site whose lock the caller holds (no live crawl
        of that site can exist then). Returns the ids marked."""
        alive = alive or pid_alive
        here = socket.gethostname()
        locked = set(locked_sites)
        dead = []
        for crawl_id, sites, pid, host in self.db.execute(
            "select id, sites, pid, host from crawls where status = 'running'"
        ).fetchall():
            try:
                keys = set(json.loads(sites or "[]"))
            except ValueError:
                keys = set()
            if pid == os.getpid() and host == here:
                continue  # this process's own crawl
            if keys & locked or (host == here and pid and not alive(pid)):
                dead.append(crawl_id)
        if dead:
            with self.db.atomic():
                self.db.conn.executemany(
                    "update crawls set status = 'interrupted', finished = coalesce(finished, ?) "
                    "where id = ? and status = 'running'",
                    [(utc_now(), crawl_id) for crawl_id in dead],
                )
        return dead

    def finish_crawl(self, crawl_id: int, status: str, counts: dict | None = None) -> None:
        """Close a crawl. The store counts articles and errors itself; ``counts`` sets any of
        ``COUNT_COLUMNS`` explicitly (e.g. ``pages_fetched``, which only the spider knows)."""
        counts = dict(counts or {})
        unknown = sorted(set(counts) - set(COUNT_COLUMNS))
        if unknown:
            raise ValueError(f"finish_crawl: unknown counts {unknown}; known: {list(COUNT_COLUMNS)}")
        if not status or not isinstance(status, str):
            raise ValueError("finish_crawl: status must be a non-empty string")
        self._crawl(crawl_id)
        with self.db.atomic():
            self.db["crawls"].update(
                crawl_id, {"finished": utc_now(), "status": status,
                           **{k: int(v) for k, v in counts.items()}}
            )

    def _crawl(self, crawl_id: int) -> dict:
        row = self.db.execute("select * from crawls where id = ?", [crawl_id]).fetchone()
        if row is None:
            raise ValueError(f"no crawl with id {crawl_id!r}; call start_crawl() first")
        return row

    def _count(self, crawl_id: int | None, column: str) -> None:
        if crawl_id is not None:
            self.db.execute(f"update crawls set {column} = {column} + 1 where id = ?", [crawl_id])

    # -- articles

    def save_article(self, record: dict, *, crawl_id: int, fetched_at: str | None = None) -> str:
        """Store one extracted record; returns ``"new"``, ``"changed"`` or ``"unchanged"``.

        A record that cannot be an article (no usable URL, no title and no text, wrong
        field types) raises :class:`InvalidRecord` after a ``fetch_errors`` row says why;
        an article already held keeps its content.
        """
        self._crawl(crawl_id)
        fetched_at = fetched_at or utc_now()
        raw_url = record.get("url") if isinstance(record, dict) else None
        try:
            if not isinstance(record, dict):
                raise InvalidRecord(f"a record must be a dict, not {type(record).__name__}")
            family = record.get("family") or None
            if not isinstance(raw_url, str):
                raise InvalidRecord("the record has no 'url'")
            try:
                url = canonical_url(raw_url, family)
                key = url_key(raw_url, family)
            except BadURL as exc:
                raise InvalidRecord(f"unusable URL: {exc}") from exc
            content = normalize_content(record)
            if not content["title"] and not content["body"]:
                warnings = "; ".join(str(w) for w in record.get("warnings") or []) or "none"
                raise InvalidRecord(f"no title and no text extracted (warnings: {warnings})")
        except InvalidRecord as exc:
            self.record_error(crawl_id, str(raw_url or "?"), f"invalid record: {exc}")
            raise
        site = host_of(url)
        warnings = [str(w) for w in record.get("warnings") or []]
        digest = content_hash(content)
        with self.db.atomic():
            self._ensure_site(site, family)
            row = self.db.execute(
                "select id, content_hash, version, last_seen from articles where key = ?", [key]
            ).fetchone()
            if row is None:
                article_id = self._insert_article(
                    site, url, key, family, content, digest, warnings, crawl_id, fetched_at
                )
                outcome = "new"
            else:
                article_id, old_hash, version, last_seen = row
                if old_hash == digest:
                    self.db.execute(
                        "update articles set last_seen = max(last_seen, ?), last_crawl = ?, "
                        "status = 'live', gone_since = null, gone_status = null where id = ?",
                        [fetched_at, crawl_id, article_id],
                    )
                    outcome = "unchanged"
                else:
                    self._update_article(article_id, version + 1, url, family, content, digest,
                                         warnings, crawl_id, fetched_at)
                    outcome = "changed"
            self.db.execute(
                "insert into article_urls (url, article_id, first_seen, last_seen) "
                "values (?, ?, ?, ?) on conflict(url) do update set "
                "last_seen = max(last_seen, excluded.last_seen), article_id = excluded.article_id",
                [raw_url.strip(), article_id, fetched_at, fetched_at],
            )
            self._count(crawl_id, f"articles_{outcome}")
        self.last_article_id = article_id
        return outcome

    def touch_article(self, article_id: int, *, crawl_id: int, seen_at: str | None = None,
                      url: str | None = None) -> str:
        """The article answered as before (HTTP 304 Not Modified): ``last_seen`` and
        ``last_crawl`` move (a gone article is live again), nothing else; counted
        unchanged. Returns ``"unchanged"``."""
        self._crawl(crawl_id)
        seen_at = seen_at or utc_now()
        with self.db.atomic():
            cur = self.db.execute(
                "update articles set last_seen = max(last_seen, ?), last_crawl = ?, "
                "status = 'live', gone_since = null, gone_status = null where id = ?",
                [seen_at, crawl_id, article_id])
            if not cur.rowcount:
                raise ValueError(f"touch_article: no article with id {article_id!r}")
            if url:
                self.db.execute(
                    "update article_urls set last_seen = max(last_seen, ?) where url = ?",
                    [seen_at, url.strip()])
            self._count(crawl_id, "articles_unchanged")
        return "unchanged"

    def _row(self, url, family, content, digest, warnings, crawl_id, fetched_at) -> dict:
        return {
            "url": url, "family": family,
            **{k: content[k] for k in ("title", "published", "summary", "body", "byline",
                                        "source", "language")},
            "year": _year(content["published"]),
            "captions": json.dumps(content["captions"], ensure_ascii=False),
            "warnings": json.dumps(warnings, ensure_ascii=False),
            "content_hash": digest, "status": "live", "gone_since": None, "gone_status": None,
            "last_seen": fetched_at, "last_changed": fetched_at, "last_crawl": crawl_id,
        }

    def _insert_article(self, site, url, key, family, content, digest, warnings, crawl_id,
                        fetched_at) -> int:
        row = self._row(url, family, content, digest, warnings, crawl_id, fetched_at)
        row.update(site=site, key=key, version=1, first_seen=fetched_at, first_crawl=crawl_id)
        cols = list(row)
        cur = self.db.execute(
            f"insert into articles ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
            [row[c] for c in cols],
        )
        article_id = cur.lastrowid
        self._add_version(article_id, 1, url, family, content, digest, warnings, crawl_id,
                          fetched_at)
        self._set_children(article_id, content)
        self._index(article_id, content)
        return article_id

    def _update_article(self, article_id, version, url, family, content, digest, warnings,
                        crawl_id, fetched_at) -> None:
        self._unindex(article_id)
        row = self._row(url, family, content, digest, warnings, crawl_id, fetched_at)
        row["version"] = version
        sets = ", ".join(f"{c} = ?" for c in row)
        self.db.execute(f"update articles set {sets} where id = ?", [*row.values(), article_id])
        self._add_version(article_id, version, url, family, content, digest, warnings,
                          crawl_id, fetched_at)
        self._set_children(article_id, content)
        self._index(article_id, content)

    def _add_version(self, article_id, version, url, family, content, digest, warnings,
                     crawl_id, fetched_at) -> None:
        row = {
            "article_id": article_id, "version": version, "content_hash": digest,
            "fetched_at": fetched_at, "crawl_id": crawl_id, "fetched_url": url,
            "family": family,
            **{k: content[k] for k in ("title", "published", "summary", "body", "byline",
                                        "source", "language")},
            "captions": json.dumps(content["captions"], ensure_ascii=False),
            "images": json.dumps(content["images"], ensure_ascii=False),
            "attachments": json.dumps(content["attachments"], ensure_ascii=False),
            "warnings": json.dumps(warnings, ensure_ascii=False),
        }
        cols = list(row)
        self.db.execute(
            f"insert into article_versions ({', '.join(cols)}) "
            f"values ({', '.join('?' * len(cols))})",
            list(row.values()),
        )

    def _set_children(self, article_id: int, content: dict) -> None:
        # Local files of images that are still there survive a new version.
        local = dict(self.db.execute(
            "select src, local_path from images where article_id = ? and local_path is not null",
            [article_id]).fetchall())
        self.db.execute("delete from images where article_id = ?", [article_id])
        self.db.conn.executemany(
            "insert into images (article_id, position, src, caption, local_path) "
            "values (?, ?, ?, ?, ?)",
            [(article_id, i, im["src"], im["caption"], local.get(im["src"]))
             for i, im in enumerate(content["images"], 1)],
        )
        local = dict(self.db.execute(
            "select url, local_path from attachments where article_id = ? "
            "and local_path is not null", [article_id]).fetchall())
        self.db.execute("delete from attachments where article_id = ?", [article_id])
        self.db.conn.executemany(
            "insert into attachments (article_id, position, url, name, local_path) "
            "values (?, ?, ?, ?, ?)",
            [(article_id, i, a["url"], a["name"], local.get(a["url"]))
             for i, a in enumerate(content["attachments"], 1)],
        )

    def _index(self, article_id: int, content: dict) -> None:
        values = _fts_values([content["title"], content["summary"], content["body"],
                              "\n".join(content["captions"]), content["byline"]])
        self.db.execute(
            f"insert into articles_fts (rowid, {', '.join(FTS_COLUMNS)}) values (?, ?, ?, ?, ?, ?)",
            [article_id, *values],
        )

    def _unindex(self, article_id: int) -> None:
        # A contentless FTS5 table forgets a row only when given the exact text it indexed:
        # fold the stored row again (fold is deterministic).
        row = self.db.execute(
            f"select {', '.join(FTS_COLUMNS)} from articles where id = ?", [article_id]
        ).fetchone()
        self.db.execute(
            f"insert into articles_fts (articles_fts, rowid, {', '.join(FTS_COLUMNS)}) "
            "values ('delete', ?, ?, ?, ?, ?, ?)",
            [article_id, *_fts_values(row)],
        )

    def mark_gone(self, url: str, *, crawl_id: int, status_code: int = 404) -> bool:
        """An article we hold answered 404/410: status becomes gone, its content stays.
        Returns False when the URL is no article of the archive."""
        self._crawl(crawl_id)
        article_id = self.find_article(url)
        if article_id is None:
            return False
        with self.db.atomic():
            cur = self.db.execute(
                "update articles set status = 'gone', gone_since = coalesce(gone_since, ?), "
                "gone_status = ?, last_crawl = ? where id = ? and status != 'gone'",
                [utc_now(), status_code, crawl_id, article_id],
            )
            if cur.rowcount:
                self._count(crawl_id, "articles_gone")
        return True

    def find_article(self, url: str) -> int | None:
        """The id of the article a URL (any of its forms) belongs to, or None."""
        hit = self.db.execute(
            "select article_id from article_urls where url = ?", [url.strip()]
        ).fetchone()
        if hit:
            return hit[0]
        try:
            host = host_of(canonical_url(url))
        except BadURL:
            return None
        site = self.db.execute("select family from sites where host = ?", [host]).fetchone()
        families = [site[0]] if site and site[0] else []
        families += [None] + [f for (f,) in self.db.execute(
            "select distinct family from articles where site = ?", [host]).fetchall()]
        for family in dict.fromkeys(families):
            hit = self.db.execute(
                "select id from articles where key = ?", [url_key(url, family)]
            ).fetchone()
            if hit:
                return hit[0]
        return None

    def add_alias(self, url: str, alias: str, *, seen: str | None = None) -> bool:
        """Record that ``alias`` (e.g. a legacy ``?ID=`` link that redirects) leads to the
        article at ``url``, so a later 404 on it finds the article. False if none held."""
        article_id = self.find_article(url)
        if article_id is None or not alias.strip():
            return False
        seen = seen or utc_now()
        with self.db.atomic():
            self.db.execute(
                "insert into article_urls (url, article_id, first_seen, last_seen) "
                "values (?, ?, ?, ?) on conflict(url) do update set "
                "last_seen = max(last_seen, excluded.last_seen)",
                [alias.strip(), article_id, seen, seen],
            )
        return True

    def save_template(self, site: str, template) -> None:
        """Keep a site's learned template (``crawler.templates.SiteTemplate``)."""
        with self.db.atomic():
            self.db["site_templates"].upsert(
                {"site": site, "template": template.to_json(), "pages": template.pages,
                 "blocks": len(template.blocks), "learned": utc_now()}, pk="site")

    def load_template(self, site: str):
        """The site's learned template, or an empty one."""
        from .templates import SiteTemplate

        row = self.db.execute("select template from site_templates where site = ?",
                              [site]).fetchone()
        return SiteTemplate.from_json(row[0] if row else None)

    def record_error(self, crawl_id: int, url: str, reason: str, status: int | None = None,
                     attempts: int = 1) -> int:
        """A row in ``fetch_errors``: what failed, how, when, after how many attempts."""
        with self.db.atomic():
            cur = self.db.execute(
                "insert into fetch_errors (crawl_id, url, status, reason, at, attempts) "
                "values (?, ?, ?, ?, ?, ?)",
                [crawl_id, url, status, str(reason), utc_now(), attempts],
            )
            self._count(crawl_id, "errors")
        return cur.lastrowid

    def article_count(self) -> int:
        return self.db.execute("select count(*) from articles").fetchone()[0]

    def search(self, query: str, *, limit: int = 20, raw: bool = False) -> list[dict]:
        """The newest articles matching a search, as Datasette's ``_search`` finds them."""
        match = match_expression(query, raw=raw)
        where = search_where(search_plan(self.db.conn, match))
        cur = self.db.execute(
            f"select id, site, url, title, published, status from articles where {where} "
            "order by published desc, id desc limit :limit", {"search": match, "limit": limit}
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def rebuild_search_index(self) -> None:
        """Drop and refill the full-text index from ``articles``."""
        with self.db.atomic():
            self.db.execute("drop table if exists articles_fts")
            _create_fts(self.db)
            _rebuild_fts(self.db)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- search
#
# FTS5's unicode61 tokenizer with remove_diacritics 2 folds every Vietnamese mark but
# one: đ/Đ has no Unicode decomposition, so "dao" never matches "đào". The index and
# every query therefore see text with đ written as d (search_fold); both sides folded
# the same way, "dao tao" and "đào tạo" find the same rows.

_ESCAPE_FTS = re.compile(r'\s+|(".*?")')
# Measured on the 1,000,000-article bench (docs/BENCHMARKS.md): below RARE_MATCHES hits,
# materializing the hits and sorting them is cheapest; above, walking the sort index and
# checking each row against the hit list; once more than PROBE_SHARE of the archive
# matches, walking the sort index and asking FTS5 about each row (about 20 µs a row)
# reaches 101 hits before building a hit list would finish.
RARE_MATCHES = 2000
PROBE_CONSTANT = 17_000  # probe when share >= sqrt(PROBE_CONSTANT / articles)
SAMPLE_ROWS = 20_000


def search_fold(text: str) -> str:
    """What the index and a query see: NFC, with đ/Đ written d/D (see above)."""
    text = unicodedata.normalize("NFC", text)
    return text.replace("đ", "d").replace("Đ", "D")


def escape_fts(query: str) -> str:
    """Datasette's escaping: every word a quoted term, "quoted phrases" kept."""
    if query.count('"') % 2:
        query += '"'
    bits = [b for b in _ESCAPE_FTS.split(query) if b and b != '""']
    return " ".join(b if b.startswith('"') else f'"{b}"' for b in bits)


def match_expression(query: str, *, raw: bool = False) -> str:
    """The FTS5 MATCH argument for a user's search (raw: FTS5 syntax kept as typed)."""
    folded = search_fold(query)
    return folded if raw else escape_fts(folded)


def search_plan(conn: sqlite3.Connection, match: str, *, fts_table: str = "articles_fts",
                table: str = "articles") -> str:
    """How to find the newest hits of ``match`` fastest: ``"in"``, ``"scan"`` or ``"probe"``.

    Two bounded look-ups (under a millisecond at 1M articles) estimate how many articles
    match; see ``search_where`` for what each plan is.
    """
    try:
        hits = conn.execute(
            f"select count(*) from (select 1 from [{fts_table}] where [{fts_table}] match ? "
            f"limit {RARE_MATCHES})", [match]
        ).fetchone()[0]
    except sqlite3.OperationalError:
        return "in"  # a malformed raw query: let the real query report the error
    if hits < RARE_MATCHES:
        return "in"
    top = conn.execute(f"select max(rowid) from [{table}]").fetchone()[0] or 0
    low = max(0, top - SAMPLE_ROWS)
    sample = conn.execute(
        f"select count(*) from [{fts_table}] where [{fts_table}] match ? and rowid > ?",
        [match, low],
    ).fetchone()[0]
    share = sample / max(1, top - low)
    return "probe" if share >= min(0.5, (PROBE_CONSTANT / max(1, top)) ** 0.5) else "scan"


def search_where(plan: str, *, fts_table: str = "articles_fts", table: str = "articles",
                 param: str = "search", column: str | None = None) -> str:
    """The WHERE clause for a plan; every plan selects exactly the matching rows.

    ``in``: the hits drive the query (materialized, looked up, sorted).
    ``scan``: the ``+`` keeps SQLite from driving by rowid, so it walks the sort index
    and checks each row against the materialized hits, stopping at the page size.
    ``probe``: walks the sort index and asks FTS5 about each row; nothing materialized.
    """
    target = f"[{column}]" if column else f"[{fts_table}]"
    hits = f"select rowid from [{fts_table}] where {target} match :{param}"
    if plan == "probe":
        return (f"exists (select 1 from [{fts_table}] where {target} match :{param} "
                f"and [{fts_table}].rowid = [{table}].rowid)")
    if plan == "scan":
        return f"+[{table}].rowid in ({hits})"
    return f"[{table}].rowid in ({hits})"


__all__ = [
    "Archive", "InvalidRecord", "content_hash", "escape_fts", "match_expression",
    "normalize_content", "search_fold", "search_plan", "search_where",
]
