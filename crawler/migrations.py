"""The archive's schema, as sqlite-utils migrations: opening an archive
(crawler.store.Archive) applies the pending ones, and so does
``sqlite-utils migrate ARCHIVE.db crawler/migrations.py`` (``--list`` lists them).
Imports are absolute so that sqlite-utils can load this file by its path.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from crawler.search import create_fts, rebuild_fts

SCHEMA_VERSION = 8
MIGRATIONS = Migrations("vngov-archive")
COUNT_COLUMNS = (
    "pages_fetched", "articles_new", "articles_changed", "articles_unchanged",
    "articles_gone", "errors",
)

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
    create_fts(db)
    rebuild_fts(db)


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
        from crawler.sites import load_sites

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



@MIGRATIONS(name="007_warc_media")
def _m007_warc_media(db: Database) -> None:
    """Back to the source (crawler/warc.py, crawler/media.py): each version points at the
    WARC record it was read from; the latest payload capture of each URL (for revisit
    records); downloaded images and attachments, content-addressed under files/."""
    versions = db["article_versions"]
    versions.add_column("warc_file", str)
    versions.add_column("warc_offset", int)
    versions.add_column("warc_length", int)
    for table in ("images", "attachments"):
        db[table].add_column("sha256", str)
        db[table].add_column("size", int)
        db[table].add_column("type", str)
    db["images"].create_index(["src"], if_not_exists=True)
    db["attachments"].create_index(["url"], if_not_exists=True)
    db["warc_captures"].create(
        {"url": str, "payload_digest": str, "warc_date": str, "warc_file": str,
         "warc_offset": int, "warc_length": int, "status": int, "crawl_id": int},
        pk="url", not_null={"payload_digest", "warc_date", "warc_file", "warc_offset",
                            "warc_length"},
    )
    db["media"].create(
        {"url": str, "site": str, "state": str, "reason": str, "sha256": str, "size": int,
         "type": str, "local_path": str, "fetched_at": str, "crawl_id": int},
        pk="url", not_null={"state"},
    )
    db["media"].create_index(["sha256"])
