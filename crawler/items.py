"""The items spiders yield and pipelines consume, defined once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ArticleItem:
    """One fetched article page and the record extracted from it."""

    record: dict
    site: str  # registry key of the site crawled
    fetched_at: str  # UTC ISO timestamp
    http_status: int = 200
    requested_url: str = ""  # before redirects
    content_type: str | None = None


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
