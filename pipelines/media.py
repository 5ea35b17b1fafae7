"""Downloads the content images and attachments of archived articles (crawler/media.py
keeps them), through Scrapy's downloader: the same per-site concurrency, delays,
robots.txt and WARC capture as pages.

A media URL is done once its file is on disk and its ``media`` row committed (state
``stored``; ``failed``/``skipped`` with the reason otherwise). ``images`` and
``attachments`` rows of every article with that URL get its hash, size, type and path.
When the crawl is otherwise idle, rows of the crawl's sites still without a file and
with no ``media`` row (a run killed before their download, an archive older than this)
are fetched too. ``MEDIA_ENABLED = False`` (``crawl --no-media``) switches it off.
"""

from __future__ import annotations

import logging

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured

from crawler.canonical import host_of
from crawler.frontier import CrawlState
from crawler.items import ArticleItem
from crawler.media import allowed_host, media_type, store_file
from crawler.runner import archive_path
from crawler.store import utc_now

logger = logging.getLogger(__name__)


class MediaPipeline:
    def __init__(self, crawler):  # noqa: ANN001
        if not crawler.settings.getbool("MEDIA_ENABLED", True):
            raise NotConfigured
        self.crawler = crawler
        self.state = CrawlState.of(crawler)
        self.root = archive_path(crawler.settings).parent
        self.max_bytes = crawler.settings.getint("MEDIA_MAX_BYTES", 50 * 1024 * 1024)
        self.queued: set[str] = set()
        self.backfilled = False
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        return cls(crawler)

    def process_item(self, item, spider=None):  # noqa: ANN001
        if isinstance(item, ArticleItem) and isinstance(item.record, dict):
            urls = [im.get("src") for im in item.record.get("images") or []
                    if isinstance(im, dict)]
            urls += [a.get("url") for a in item.record.get("attachments") or []
                     if isinstance(a, dict)]
            wanted = self._unknown([u for u in urls if isinstance(u, str) and u])
            for url in wanted:
                self._request(url, item.site)
        return item

    def _unknown(self, urls: list[str]) -> list[str]:
        urls = [u for u in dict.fromkeys(urls) if u not in self.queued]
        if not urls or self.state.archive is None:
            return urls
        done = {row[0] for row in self.state.archive.db.execute(
            f"select url from media where url in ({', '.join('?' * len(urls))})", urls)}
        return [u for u in urls if u not in done]

    def _request(self, url: str, site_key: str) -> None:
        self.queued.add(url)
        site = self.state.sites.get(site_key)
        hosts = site.hosts if site is not None else []
        if not url.startswith(("http://", "https://")):
            self._record(url, site_key, "skipped", "not an http(s) URL")
            return
        if not allowed_host(host_of(url), hosts):
            self._record(url, site_key, "skipped", "not on the site's hosts")
            return
        self.crawler.engine.crawl(Request(
            url, callback=self._got, errback=self._failed, dont_filter=True, priority=-10,
            meta={"site": site_key, "kind": "media", "media_url": url,
                  "download_maxsize": self.max_bytes, "handle_httpstatus_all": True,
                  "allow_offsite": True}))

    def _got(self, response):  # noqa: ANN001
        meta = response.meta
        url, site_key = meta["media_url"], meta["site"]
        if response.status != 200:
            self._record(url, site_key, "failed", f"HTTP {response.status}")
            return
        ctype = media_type(response.headers.get("Content-Type", b"").decode("latin-1"), url)
        if ctype in ("text/html", "application/xhtml+xml"):
            # A login or error page answered 200 where a file was linked: not the file.
            self._record(url, site_key, "failed", f"answered a web page ({ctype}), not a file")
            return
        try:
            digest, size, rel = store_file(self.root, response.body, ctype, url)
        except OSError as exc:
            self._record(url, site_key, "failed", f"not stored: {exc}")
            return
        self._record(url, site_key, "stored", None, digest, size, ctype, rel)

    def _failed(self, failure):  # noqa: ANN001
        request = failure.request
        url = request.meta.get("media_url", request.url)
        reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self._record(url, request.meta.get("site", ""), "failed", reason[:300])

    def _record(self, url, site_key, state, reason, digest=None, size=None, ctype=None,  # noqa: ANN001
                rel=None) -> None:
        if state != "stored":
            logger.info("media %s %s: %s", url, state, reason)
        self.state.counts[f"media_{state}"] += 1

        def write(archive):  # noqa: ANN001, ANN202
            db = archive.db
            db.execute(
                "insert into media (url, site, state, reason, sha256, size, type, local_path, "
                "fetched_at, crawl_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict(url) "
                "do update set site = excluded.site, state = excluded.state, reason = "
                "excluded.reason, sha256 = excluded.sha256, size = excluded.size, type = "
                "excluded.type, local_path = excluded.local_path, fetched_at = "
                "excluded.fetched_at, crawl_id = excluded.crawl_id",
                [url, site_key, state, reason, digest, size, ctype, rel, utc_now(),
                 self.state.crawl_id])
            if rel:
                for table, column in (("images", "src"), ("attachments", "url")):
                    db.execute(f"update {table} set sha256 = ?, size = ?, type = ?, "
                               f"local_path = ? where {column} = ?",
                               [digest, size, ctype, rel, url])

        if self.state.archive is not None:
            self.state.commit(write)

    def spider_idle(self, spider=None):  # noqa: ANN001
        """Once per run: rows of this crawl's sites still without a file (and never tried)
        are fetched now."""
        if self.backfilled or self.state.archive is None:
            return
        self.backfilled = True
        self.state.flush()  # the records still in the batch are read below
        db = self.state.archive.db
        found = 0
        for key, site in self.state.sites.items():
            hosts = list(site.hosts)
            if not hosts:
                continue
            marks = ", ".join("?" * len(hosts))
            rows = db.execute(
                f"select i.src from images i join articles a on a.id = i.article_id "
                f"where a.site in ({marks}) and i.local_path is null union "
                f"select t.url from attachments t join articles a on a.id = t.article_id "
                f"where a.site in ({marks}) and t.local_path is null", hosts + hosts)
            for url in self._unknown([r[0] for r in rows]):
                self._request(url, key)
                found += 1
        if found:
            logger.info("media: %d files of earlier articles still to fetch", found)
            raise DontCloseSpider
