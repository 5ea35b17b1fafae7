"""The items spiders yield and pipelines consume, defined once."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArticleItem:
    """One fetched article page and the record extracted from it."""

    record: dict
    site: str  # registry key of the site crawled
    fetched_at: str  # UTC ISO timestamp
    http_status: int = 200
    requested_url: str = ""  # before redirects
    content_type: str | None = None
    keys: list[str] = field(default_factory=list)  # frontier keys this answer completes
    etag: str | None = None  # validators of the answer, for conditional revisits
    last_modified: str | None = None


@dataclass
class FetchErrorItem:
    """A URL that still failed after retries (or answered 4xx); the crawl goes on."""

    url: str
    site: str
    reason: str
    status: int | None = None
    attempts: int = 1
    when: str = ""
    kind: str = "page"  # page | feed | sitemap
    keys: list[str] = field(default_factory=list)  # frontier keys this failure completes


@dataclass
class NotModifiedItem:
    """An article answered 304 Not Modified: only ``last_seen`` moves. ``article_id`` is
    None when the request carried no validators (the pipeline finds it by URL)."""

    article_id: int | None
    url: str
    site: str
    fetched_at: str
    keys: list[str] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
