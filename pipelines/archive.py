"""Writes crawl items into the SQLite archive through crawler.store (the one write path)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from scrapy import signals

from crawler.items import ArticleItem, FetchErrorItem
from crawler.store import Archive, InvalidRecord

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Settings worth keeping with each crawl row: what shaped its politeness and reach.
RECORDED_SETTINGS = (
    "USER_AGENT", "ROBOTSTXT_OBEY", "CONCURRENT_REQUESTS_PER_DOMAIN", "AUTOTHROTTLE_ENABLED",
    "DOWNLOAD_DELAY", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "SITE_PAGE_CAP", "LINK_HOP_LIMIT",
)


def archive_path(settings) -> Path:
    """ARCHIVE_DB, relative paths taken from the project root (cron runs us from $HOME)."""
    path = Path(settings.get("ARCHIVE_DB") or "data/archive.db").expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class ArchivePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.path = archive_path(crawler.settings)
        self.counts: Counter = Counter()
        self.archive = None
        self.crawl_id: int | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):

        spider = spider or self.crawler.spider
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.archive = Archive(self.path)
        settings = {k: self.crawler.settings.get(k) for k in RECORDED_SETTINGS}
        sites = getattr(spider, "sites", [])
        for site in sites:
            for host in site.hosts:
                self.archive.upsert_site(
                    host, name=site.name, family=None if site.family == "auto" else site.family,
                    province=site.province, level=site.level,
                )
        self.crawl_id = self.archive.start_crawl(
            [s.key for s in sites], json.loads(json.dumps(settings, default=str))
        )
        spider.crawl_id = self.crawl_id
        spider.archive_counts = self.counts

    def process_item(self, item, spider=None):
        if isinstance(item, ArticleItem):
            try:
                outcome = self.archive.save_article(
                    item.record, crawl_id=self.crawl_id, fetched_at=item.fetched_at
                )
            except InvalidRecord:
                self.counts["errors"] += 1  # the store wrote the fetch_errors row saying why
                return item
            except Exception as exc:  # noqa: BLE001 - the row says what happened; crawl goes on
                self.archive.record_error(
                    self.crawl_id, item.record.get("url") or item.requested_url,
                    f"not archived: {type(exc).__name__}: {exc}", status=item.http_status,
                )
                self.counts["errors"] += 1
                return item
            self.counts[outcome] += 1
        elif isinstance(item, FetchErrorItem):
            if item.status in (404, 410) and item.kind == "page":
                self.archive.mark_gone(item.url, crawl_id=self.crawl_id, status_code=item.status)
            self.archive.record_error(
                self.crawl_id, item.url, item.reason, status=item.status, attempts=item.attempts
            )
            self.counts["errors"] += 1
        return item

    def spider_closed(self, spider, reason):
        if self.archive is None:
            return
        stats = self.crawler.stats
        # URLs that redirected to an article (legacy links) become its aliases.
        for source, target in getattr(spider, "redirects", {}).items():
            seen = {source}
            while target in spider.redirects and target not in seen:  # follow chains
                seen.add(target)
                target = spider.redirects[target]
            self.archive.add_alias(target, source)
        # The store counts articles and errors as it writes them; pages only Scrapy knows.
        counts = {"pages_fetched": stats.get_value("response_received_count", 0)}
        status = "finished" if reason == "finished" else f"stopped: {reason}"
        self.archive.finish_crawl(self.crawl_id, status, counts)
