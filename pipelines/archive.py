"""Writes crawl items into the SQLite archive through crawler.store (the one write path)."""

from __future__ import annotations

import json
from collections import Counter

from scrapy import signals

from crawler.frontier import ARTICLE, ERROR, CrawlState
from crawler.items import ArticleItem, FetchErrorItem, NotModifiedItem
from crawler.runner import archive_path
from crawler.store import InvalidRecord
from crawler.warc import location_of, sync_crawl

# Settings worth keeping with each crawl row: what shaped its politeness and reach.
RECORDED_SETTINGS = (
    "USER_AGENT", "ROBOTSTXT_OBEY", "CONCURRENT_REQUESTS_PER_DOMAIN", "AUTOTHROTTLE_ENABLED",
    "DOWNLOAD_DELAY", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "SITE_PAGE_CAP", "LINK_HOP_LIMIT",
)


class ArchivePipeline:
    """Writes items through the crawl state's archive connection: each record or error row
    commits in the same transaction as the frontier rows it completes, a few records per
    transaction (ARCHIVE_COMMIT_ITEMS, ARCHIVE_COMMIT_SECONDS; crawler/frontier.py)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.path = archive_path(crawler.settings)
        self.state = CrawlState.of(crawler)
        self.counts: Counter = self.state.counts
        self.archive = None
        self.crawl_id: int | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):
        spider = spider or self.crawler.spider
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.archive = self.state.open(self.path)
        settings = {k: self.crawler.settings.get(k) for k in RECORDED_SETTINGS}
        sites = list(self.state.sites.values())
        for site in sites:
            for host in site.hosts:
                self.archive.upsert_site(
                    host, name=site.name, family=None if site.family == "auto" else site.family,
                    province=site.province, level=site.level, key=site.key,
                )
        # The runner (crawler/runner.py) opens the crawl row before Scrapy starts and
        # passes its id; a plain `scrapy crawl` opens it here.
        self.crawl_id = self.crawler.settings.getint("CRAWL_ID") or self.archive.start_crawl(
            [s.key for s in sites], json.loads(json.dumps(settings, default=str))
        )
        spider.crawl_id = self.crawl_id
        # The pages' WARC records are on disk before the versions pointing at them commit.
        self.state.before_commit.append(lambda: sync_crawl(self.crawler))
        self.state.begin(self.crawl_id)

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1

    def process_item(self, item, spider=None):
        if isinstance(item, ArticleItem):
            # The page's WARC record: known now, written with the batch.
            where = location_of(self.crawler, item.keys,
                                (item.record.get("url") if isinstance(item.record, dict)
                                 else None, item.requested_url))
            self.state.commit(lambda archive: self._article(archive, item, where), self._count)
        elif isinstance(item, NotModifiedItem):
            self.state.commit(lambda archive: self._not_modified(archive, item), self._count)
        elif isinstance(item, FetchErrorItem):
            self.state.commit(lambda archive: self._error(archive, item), self._count)
        return item

    def _article(self, archive, item: ArticleItem, where) -> str:  # noqa: ANN001
        article_id = None
        try:
            outcome = archive.save_article(
                item.record, crawl_id=self.crawl_id, fetched_at=item.fetched_at, warc=where
            )
            article_id = archive.last_article_id
        except InvalidRecord:
            outcome = "errors"  # the store wrote the fetch_errors row saying why
        except Exception as exc:  # noqa: BLE001 - the row says what happened; crawl goes on
            archive.record_error(
                self.crawl_id, item.record.get("url") or item.requested_url,
                f"not archived: {type(exc).__name__}: {exc}", status=item.http_status,
            )
            outcome = "errors"
        url = item.record.get("url") if isinstance(item.record, dict) else None
        self.state.done(item.keys, ARTICLE if article_id else ERROR, url=url,
                        site_key=item.site, article_id=article_id, etag=item.etag,
                        last_modified=item.last_modified)
        return outcome

    def _not_modified(self, archive, item: NotModifiedItem) -> str:
        article_id = item.article_id or archive.find_article(item.url)
        if article_id is None:
            archive.record_error(
                self.crawl_id, item.url, "HTTP 304 Not Modified to a request without "
                "validators, for a URL the archive holds no article for: nothing to archive",
                status=304)
            self.state.done(item.keys, ERROR, site_key=item.site)
            return "errors"
        outcome = archive.touch_article(article_id, crawl_id=self.crawl_id,
                                        seen_at=item.fetched_at, url=item.url)
        self.state.done(item.keys, ARTICLE, url=item.url, site_key=item.site,
                        article_id=article_id, etag=item.etag,
                        last_modified=item.last_modified)
        return outcome

    def _error(self, archive, item: FetchErrorItem) -> str:
        if item.status in (404, 410) and item.kind == "page":
            archive.mark_gone(item.url, crawl_id=self.crawl_id, status_code=item.status)
        archive.record_error(
            self.crawl_id, item.url, item.reason, status=item.status, attempts=item.attempts
        )
        self.state.done(item.keys, ERROR, site_key=item.site, kind=item.kind)
        return "errors"

    def spider_closed(self, spider, reason):
        if self.archive is None:
            return
        self.state.finish(reason)
        stats = self.crawler.stats
        # URLs that redirected to an article (legacy links) become its aliases.
        redirects = self.state.redirects
        for source, target in redirects.items():
            seen = {source}
            while target in redirects and target not in seen:  # follow chains
                seen.add(target)
                target = redirects[target]
            self.archive.add_alias(target, source)
        # The store counts articles and errors as it writes them; pages only Scrapy knows.
        counts = {"pages_fetched": stats.get_value("response_received_count", 0)}
        status = "finished" if reason == "finished" else f"stopped: {reason}"
        self.archive.finish_crawl(self.crawl_id, status, counts)
