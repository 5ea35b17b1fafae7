"""The archive: one SQLite file that crawls write into and Datasette serves.

Every write goes through :class:`Archive`. The schema lives in crawler/migrations.py
(``sqlite_utils.migrations``); opening an archive upgrades it in place. Nothing is
overwritten: each distinct content an article ever had is a row of
``article_versions``; ``articles`` shows the newest. See ``docs/SCHEMA.md``.

The archive's jobs live in four modules: this one (the writes), crawler/migrations.py
(the schema), crawler/records.py (normalization and content hash) and crawler/search.py
(full-text search). Their public names are importable from here too.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from .canonical import BadURL, canonical_url, host_of, strip_session, url_key
from .migrations import COUNT_COLUMNS, MIGRATIONS, SCHEMA_VERSION
from .records import CONTENT_FIELDS, InvalidRecord, content_hash, normalize_content, year_of
from .search import (
    FTS_COLUMNS,
    FTS_TOKENIZER,
    PROBE_CONSTANT,
    RARE_MATCHES,
    SAMPLE_ROWS,
    create_fts,
    escape_fts,
    fts_values,
    match_expression,
    rebuild_fts,
    search_fold,
    search_plan,
    search_where,
)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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

    def _check_crawl(self, crawl_id: int) -> None:
        """``_crawl`` once per crawl id (crawls are never deleted): a crawl writes many
        articles."""
        checked = self.__dict__.setdefault("_crawls_checked", set())
        if crawl_id not in checked:
            self._crawl(crawl_id)
            checked.add(crawl_id)

    def _count(self, crawl_id: int | None, column: str) -> None:
        if crawl_id is not None:
            self.db.execute(f"update crawls set {column} = {column} + 1 where id = ?", [crawl_id])

    # -- articles

    def save_article(self, record: dict, *, crawl_id: int, fetched_at: str | None = None,
                     warc=None) -> str:  # noqa: ANN001
        """Store one extracted record; returns ``"new"``, ``"changed"`` or ``"unchanged"``.
        ``warc``: where the page's bytes lie (``crawler.warc.Location`` or a (file, offset,
        length) tuple), kept with a new version.

        A record that cannot be an article (no usable URL, no title and no text, wrong
        field types) raises :class:`InvalidRecord` after a ``fetch_errors`` row says why;
        an article already held keeps its content.
        """
        self._check_crawl(crawl_id)
        fetched_at = fetched_at or utc_now()
        raw_url = record.get("url") if isinstance(record, dict) else None
        try:
            if not isinstance(record, dict):
                raise InvalidRecord(f"a record must be a dict, not {type(record).__name__}")
            family = record.get("family") or None
            if not isinstance(raw_url, str):
                raise InvalidRecord("the record has no 'url'")
            try:
                key = url_key(raw_url, family)
                # The URL the record names (one a server answered, or the page's own
                # canonical link), only without session parameters; the key identifies.
                url = strip_session(raw_url, family)
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
        self._warc = (warc.file, warc.offset, warc.length) if hasattr(warc, "file") else \
            tuple(warc) if warc else (None, None, None)
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
            "year": year_of(content["published"]),
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
        self._set_children(article_id, content, new=True)
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
        row["warc_file"], row["warc_offset"], row["warc_length"] = getattr(
            self, "_warc", (None, None, None))
        cols = list(row)
        self.db.execute(
            f"insert into article_versions ({', '.join(cols)}) "
            f"values ({', '.join('?' * len(cols))})",
            list(row.values()),
        )

    def _set_children(self, article_id: int, content: dict, new: bool = False) -> None:
        """The article's images and attachments rows (``new``: an article inserted just
        now, which has none to replace: articles are never deleted, so its id is fresh)."""
        # Files already downloaded (the media table, crawler/media.py) are linked at once:
        # one copy for every article and version that uses the same URL.
        def stored(urls):  # noqa: ANN001, ANN202
            urls = list(dict.fromkeys(urls))
            if not urls:
                return {}
            return {row[0]: row[1:] for row in self.db.execute(
                "select url, sha256, size, type, local_path from media where url in "
                f"({', '.join('?' * len(urls))}) and local_path is not null", urls)}

        for table, items, url, label in (("images", content["images"], "src", "caption"),
                                         ("attachments", content["attachments"], "url", "name")):
            files = stored([item[url] for item in items])
            if not new:
                self.db.execute(f"delete from {table} where article_id = ?", [article_id])
            if items:
                self.db.conn.executemany(
                    f"insert into {table} (article_id, position, {url}, {label}, sha256, size, "
                    "type, local_path) values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(article_id, i, item[url], item[label], *files.get(item[url], (None,) * 4))
                     for i, item in enumerate(items, 1)],
                )

    def _index(self, article_id: int, content: dict) -> None:
        values = fts_values([content["title"], content["summary"], content["body"],
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
            [article_id, *fts_values(row)],
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
            create_fts(self.db)
            rebuild_fts(self.db)


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


__all__ = [
    "CONTENT_FIELDS", "COUNT_COLUMNS", "FTS_COLUMNS", "FTS_TOKENIZER", "MIGRATIONS",
    "PROBE_CONSTANT", "RARE_MATCHES", "SAMPLE_ROWS", "SCHEMA_VERSION", "Archive",
    "InvalidRecord", "content_hash", "escape_fts", "match_expression", "normalize_content",
    "pid_alive", "search_fold", "search_plan", "search_where", "utc_now",
]
