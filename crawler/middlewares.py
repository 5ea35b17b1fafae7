"""Downloader components switched on in settings: polite retries (Retry-After), the page
cap, redirects noted (loops refused), robots.txt per RFC 9309, meta refresh looked for
only where the bytes can hold one. Their state lives in ``crawler.frontier.CrawlState``."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as _ScrapyMetaRefresh
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _ScrapyRobotsTxt
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

from .frontier import CrawlState

logger = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, timeouts, connection errors) plus backoff for the whole site.

    Each retry doubles the site's download delay (up to AUTOTHROTTLE_MAX_DELAY), so a server
    that answers with errors is asked less often, not more; AutoThrottle brings the delay
    back down as answers come back healthy.
    """

    _last_backoff: dict

    def __init__(self, settings):  # noqa: ANN001
        super().__init__(settings)
        self._last_backoff = {}
        # Retry-After: slot key -> monotonic time before which no request of that site goes.
        self._hold_until = {}

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001
        from scrapy import signals

        mw = super().from_crawler(crawler)
        # Seen before the downloader hands the site's next queued request to the network.
        crawler.signals.connect(mw._response_downloaded, signal=signals.response_downloaded)
        return mw

    # -- Retry-After ---------------------------------------------------------
    def _response_downloaded(self, response, request, spider=None):  # noqa: ANN001
        """A 429 or 503 with ``Retry-After`` (seconds or an HTTP date, at most
        RETRY_AFTER_MAX): no request of that site goes out before then: not its retry, not
        the requests already queued for it, not the ones still to come."""
        if response.status not in (429, 503):
            return
        wait = retry_after(response.headers.get("Retry-After"))
        if wait is None or wait <= 0:
            return
        cap = self.crawler.settings.getfloat("RETRY_AFTER_MAX", 300.0)
        if wait > cap:
            logger.warning("%s asks to wait %.0f s (Retry-After); waiting RETRY_AFTER_MAX, "
                           "%.0f s", request.url, wait, cap)
            wait = cap
        downloader = getattr(getattr(self.crawler, "engine", None), "downloader", None)
        if downloader is None:
            return
        key = downloader.get_slot_key(request)
        until = time.monotonic() + wait
        if until > self._hold_until.get(key, 0.0):
            logger.info("%s answered %d with Retry-After: holding site %s for %.1f s",
                        request.url, response.status, request.meta.get("site") or key, wait)
        for held in (key, request.meta.get("site")):  # the host, and all hosts of its site
            if held and until > self._hold_until.get(held, 0.0):
                self._hold_until[held] = until
        slot = downloader.slots.get(key)
        if slot is not None:
            # Requests already in the slot's queue passed process_request: the slot sends
            # the next one no sooner than its (jittered, non-zero) delay after lastseen.
            slot.lastseen = max(slot.lastseen, until)
            slot.delay = max(slot.delay, 0.5)

    async def process_request(self, request, spider=None):  # noqa: ANN001
        downloader = getattr(getattr(self.crawler, "engine", None), "downloader", None)
        if not self._hold_until or downloader is None:
            return None
        keys = (downloader.get_slot_key(request), request.meta.get("site"))
        while (left := max((self._hold_until.get(k, 0.0) for k in keys if k), default=0.0)
               - time.monotonic()) > 0:
            if not self.crawler.crawling:
                raise IgnoreRequest("shutting down: left for the next run")
            await _sleep(min(left, 1.0))  # wakes each second to notice a stop
        return None

    def _retry(self, request: Request, reason):  # noqa: ANN001 - Scrapy's signature
        if not self.crawler.crawling:
            return None  # shutting down: no retries, so stopping takes one DOWNLOAD_TIMEOUT
        new_request = super()._retry(request, reason)
        if new_request is not None:
            self._back_off(request, reason)
        return new_request

    def _back_off(self, request: Request, reason) -> None:  # noqa: ANN001
        slot = self._slot(request)
        if slot is None:
            return
        # Failures of requests already in flight are one incident, not many: back off at
        # most once per current delay, or concurrent failures would compound the delay.
        key = id(slot)
        now = time.monotonic()
        if now - self._last_backoff.get(key, -1e9) < max(slot.delay, 1.0):
            return
        self._last_backoff[key] = now
        cap = self.crawler.settings.getfloat("BACKOFF_MAX_DELAY", 15.0)
        slot.delay = min(cap, max(slot.delay * 2, 1.0))
        logger.info("backing off %s after %s: delay now %.1f s", request.url, reason, slot.delay)

    def process_response(self, request, response, spider=None):  # noqa: ANN001
        result = super().process_response(request, response)
        if result is response and response.status < 400:
            # A healthy answer halves what backing off added, down to the configured delay.
            slot = self._slot(request)
            base = self.crawler.settings.getfloat("DOWNLOAD_DELAY", 0.0)
            if slot is not None and slot.delay > base:
                slot.delay = max(base, slot.delay / 2 if slot.delay / 2 > 0.05 else base)
        return result

    def _slot(self, request: Request):
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        if downloader is None:
            return None
        return downloader.slots.get(downloader.get_slot_key(request))


def retry_after(value: bytes | str | None) -> float | None:
    """Seconds a ``Retry-After`` value asks for (delay-seconds or an HTTP date), None
    when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


async def _sleep(seconds: float) -> None:
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class SitePageCapMiddleware:
    """At most SITE_PAGE_CAP page requests per site go out (a site's own ``page_cap`` in
    the registry wins); the rest are dropped. The last guard against traps. The counts
    live in the crawl state."""

    def __init__(self, crawler):  # noqa: ANN001
        self.crawler = crawler
        self.state = CrawlState.of(crawler)

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001
        return cls(crawler)

    def process_request(self, request: Request, spider=None):  # noqa: ANN001
        key = request.meta.get("site")
        if key and not self.crawler.crawling:
            # Shutting down (SIGTERM): what was waiting (for robots.txt, a slot) stays
            # pending in the frontier for the next run; only what is in flight finishes.
            raise IgnoreRequest("shutting down: left for the next run")
        if not key or request.meta.get("kind") not in ("page", "feed", "sitemap"):
            return None
        cap = self.state.page_cap_of(key)
        sent = self.state.sent
        if sent.get(key, 0) >= cap:
            if sent[key] == cap:  # say it once per site
                sent[key] += 1
                logger.warning("site %s reached its page cap (%d); not fetching more", key, cap)
            raise IgnoreRequest(f"page cap ({cap}) reached for site {key}")
        sent[key] = sent.get(key, 0) + 1
        return None


class RedirectRecorder:
    """Notes every redirect a page request meets (legacy ``?ID=`` links, http->https) in
    the crawl state's ``redirects``, even when the target was already fetched and the
    redirected request is dropped as a duplicate; the archive pipeline keeps them as the
    article's aliases. Sits above RedirectMiddleware (600) so it sees the 3xx answer."""

    def __init__(self, crawler=None):  # noqa: ANN001
        self.crawler = crawler
        self.state = CrawlState.of(crawler) if crawler is not None else None

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001
        return cls(crawler)

    def process_response(self, request: Request, response, spider=None):  # noqa: ANN001
        location = response.headers.get("Location")
        if 300 <= response.status < 400 and location:
            target = urljoin(request.url, location.decode("latin-1"))
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if target.split("#", 1)[0] in chain:
                # A -> B -> A: one error row saying so (Scrapy would go round until
                # REDIRECT_MAX_TIMES, or the duplicate filter would end it in silence).
                raise IgnoreRequest("redirect loop: " + " -> ".join([*chain, target]))
            if request.method == "GET" and self.state is not None:
                self.state.redirects[request.url] = target
        return response


# Scrapy reads a refresh in the first 4,096 characters of the text: at most 4 bytes each
# in UTF-8 (and in the other encodings the crawl meets, ASCII letters are these bytes).
_REFRESH_SCAN_BYTES = 4 * 4096


class MetaRefreshMiddleware(_ScrapyMetaRefresh):
    """Scrapy's (a page whose ``<meta http-equiv="refresh">`` points elsewhere is followed
    there), except that a page whose first bytes do not even spell "refresh" is let
    through at once: Scrapy decodes every page's text to look, which the crawl otherwise
    never needs in this process (the extraction worker reads the bytes). A page that may
    be in UTF-16 or UTF-32 (NUL bytes at its head) is looked at by Scrapy."""

    def process_response(self, request: Request, response, spider=None):  # noqa: ANN001
        head = response.body[:_REFRESH_SCAN_BYTES]
        if b"\0" not in head and b"refresh" not in head.lower():
            return response
        return super().process_response(request, response)


class RobotsTxtMiddleware(_ScrapyRobotsTxt):
    """Scrapy's (one robots.txt fetch per host, shared with the spider's sitemaps through
    the ``robots_parsed`` signal), plus RFC 9309 section 2.3.1.4: a robots.txt that still
    answers 5xx after the retries, or cannot be fetched at all, means complete disallow;
    the host is not crawled this run and each URL of it gets an error row saying why. 4xx
    means no rules (allow all)."""

    def __init__(self, crawler):  # noqa: ANN001
        super().__init__(crawler)
        self.unavailable: dict[str, str] = {}  # netloc -> why it is not crawled

    async def _parse_robots(self, response, netloc, request):  # noqa: ANN001
        if 500 <= response.status < 600:
            self.unavailable[netloc] = (
                f"robots.txt answered HTTP {response.status} (after retries): host not "
                f"crawled this run (RFC 9309: a server error means complete disallow)")
            logger.error("%s: %s", response.url, self.unavailable[netloc])
            response = response.replace(body=b"User-agent: *\nDisallow: /\n")
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc, netloc):  # noqa: ANN001
        # Unreachable (connection refused or reset, timeout, DNS) after the retries: the
        # same as a server error for RFC 9309. Not while stopping: then it is left pending.
        if isinstance(exc, IgnoreRequest) or not self.crawler.crawling:
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        why = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        self.unavailable[netloc] = (
            f"robots.txt could not be fetched ({why}): host not crawled this run "
            f"(RFC 9309: an unreachable robots.txt means complete disallow)")
        logger.error("%s: %s", netloc, self.unavailable[netloc])
        from scrapy.utils.misc import build_from_crawler

        rp_dfd = self._parsers[netloc]
        self._parsers[netloc] = rules = build_from_crawler(
            self._parserimpl, self.crawler, b"User-agent: *\nDisallow: /\n")
        rp_dfd.callback(rules)

    def process_request_2(self, rp, request):  # noqa: ANN001
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            why = self.unavailable.get(urlsplit(request.url).netloc)
            if why:
                raise IgnoreRequest(why) from None
            raise


class WarcCaptureMiddleware:
    """Every request and its answer, as received, into the crawl's WARC files
    (crawler/warc.py). At 950: above HttpCompressionMiddleware (590) and
    RedirectMiddleware (600), so ``process_response`` sees the raw body and status before
    Scrapy decompresses or follows it, and ``process_request`` has run after every
    middleware that adds headers. ``WARC_ENABLED = False`` switches it off."""

    def __init__(self, crawler):  # noqa: ANN001
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("WARC_ENABLED", True):
            raise NotConfigured
        self.crawler = crawler
        self.state = CrawlState.of(crawler)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001
        return cls(crawler)

    def writer(self):  # noqa: ANN201
        from .warc import warc_writer

        return warc_writer(self.crawler)

    def process_response(self, request: Request, response, spider=None):  # noqa: ANN001
        if not request.url.startswith(("http://", "https://")):
            return response
        try:
            site = request.meta.get("site")
            if not site:
                known = self.state.site_of_url(request.url)
                site = known.key if known is not None else urlsplit(request.url).netloc
            where = self.writer().capture(
                site, method=request.method, url=request.url,
                request_headers=_pairs(request.headers), request_body=request.body or b"",
                status=response.status, protocol=getattr(response, "protocol", None),
                response_headers=_pairs(response.headers), body=response.body)
            request.meta["warc"] = where
            if request.meta.get("key"):
                self.writer().by_key[request.meta["key"]] = where
        except Exception as exc:  # noqa: BLE001 - the crawl goes on; the log says why
            logger.error("WARC capture of %s failed: %s: %s", request.url,
                         type(exc).__name__, exc)
        return response

    def spider_closed(self, spider=None, reason=None):  # noqa: ANN001
        from .warc import close_writer

        close_writer(self.crawler)


def _pairs(headers) -> list[tuple[str, str]]:  # noqa: ANN001
    """Every (name, value) of Scrapy ``Headers``, repeated names kept (Set-Cookie)."""
    out = []
    for name, values in headers.items():
        for value in values:
            out.append((name.decode("latin-1"), value.decode("latin-1")))
    return out
