"""A one-line progress display for people (Scrapy's own log is for debugging)."""

from __future__ import annotations

import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from .frontier import CrawlState


class Progress:
    """Pages, articles, errors and rate, redrawn every second with rich."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.started = time.monotonic()
        self.live = None
        self.loop = None

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("PROGRESS_ENABLED"):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def line(self) -> str:
        stats = self.crawler.stats
        counts = CrawlState.of(self.crawler).counts
        pages = stats.get_value("response_received_count", 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        articles = sum(counts.get(k, 0) for k in ("new", "changed", "unchanged"))
        return (
            f"pages {pages}  articles {articles} (new {counts.get('new', 0)}, "
            f"changed {counts.get('changed', 0)})  errors {counts.get('errors', 0)}  "
            f"{pages / elapsed:.1f} pages/s  {elapsed:.0f}s"
        )

    def opened(self, spider):
        from rich.console import Console
        from rich.live import Live

        self.started = time.monotonic()
        self.live = Live(self.line(), console=Console(stderr=True), refresh_per_second=4,
                         transient=False)
        self.live.start()
        self.loop = task.LoopingCall(lambda: self.live.update(self.line()))
        self.loop.start(1.0, now=False)

    def closed(self, spider, reason):
        if self.loop and self.loop.running:
            self.loop.stop()
        if self.live:
            self.live.update(self.line())
            self.live.stop()
