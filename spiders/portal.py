"""The portal spider: one mechanism for every site; what differs per site is profile data.

    scrapy crawl portal -a site=backan-sgddt
    scrapy crawl portal -a sites=backan,quangtri
    scrapy crawl portal -a start_url=https://example.gov.vn/ -a family=auto

It finds articles through listing pages (GET pagination, ASP.NET postbacks, "Xem thêm"
cursors), feeds and sitemaps, recognizes articles by their content, and yields items; the
pipelines write the archive. What it has seen and what is left to do is the crawl state
(``crawler.frontier``): a killed crawl resumes, a nightly one fetches what is new or due.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.canonical import strip_session
from crawler.extract import read_page
from crawler.extractpool import Extractor
from crawler.frontier import (
    ARTICLE,
    LISTING,
    NEXT,
    PAGE,
    SKIPPED,
    CrawlState,
    host_of,
    page_number,
)
from crawler.items import ArticleItem, FetchErrorItem, NotModifiedItem
from crawler.pagescan import POSTBACK, scan_tree
from crawler.profiles import load
from crawler.sites import Site, adhoc_site, load_sites

_SKIP_EXT = re.compile(
    r"(?i)\.(pdf|docx?|xlsx?|pptx?|rar|zip|7z|odt|ods|jpe?g|png|gif|bmp|webp|svg|mp[34]|avi|"
    r"wmv|flv|mov|exe|msi|apk|css|js|ico|xml)$"
)
_PAGE_PARAM = re.compile(r"(?i)[?&](page|p|trang|pageindex|before|after|cursor|start|offset)=")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PortalSpider(scrapy.Spider):
    name = "portal"

    def __init__(self, site: str | None = None, sites: str | None = None,
                 start_url: str | None = None, family: str = "auto", all: str | None = None,
                 full: str | None = None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.profiles = load()
        registry = load_sites()
        chosen: list[Site] = []
        keys = [k for k in (sites or "").split(",") if k] + ([site] if site else [])
        if all:
            keys = list(registry)
        for key in keys:
            if key not in registry:
                known = ", ".join(sorted(registry))
                raise ValueError(f"unknown site {key!r}; known sites: {known}")
            chosen.append(registry[key])
        if start_url:
            if family != "auto" and self.profiles.family(family) is None:
                raise ValueError(f"unknown family {family!r}")
            chosen.append(adhoc_site(start_url, family))
        if not chosen:
            raise ValueError("give a site (-a site=NAME), several (-a sites=A,B) or -a start_url=URL")
        self.sites = chosen
        self.full = str(full or "").lower() not in ("", "0", "false", "no")
        self.allowed_domains = sorted({urlsplit(u).hostname for s in chosen for u in s.start_urls})
        self.site_deny = {s.key: [re.compile(p) for p in s.deny] for s in chosen}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.state = CrawlState.of(crawler)
        spider.state.add_sites(spider.sites)
        if spider.full:
            spider.state.full_requested = True
        spider.hop_limit = spider.state.hop_limit
        # Sitemaps are read from the robots.txt Scrapy fetches to obey it: one fetch a host.
        spider.own_robots = not crawler.settings.getbool("ROBOTSTXT_OBEY")
        spider.held_sitemaps = {}
        crawler.signals.connect(spider.robots_parsed, signal=signals.robots_parsed)
        spider.held = {}  # host -> [(bytes, content type, ArticleItem)] awaiting a template
        spider.link_capped = set()  # sites told that a page had over MAX_LINKS_PER_PAGE links
        spider.feeds_decided = set()  # (site, family, feed URL) asked for or refused
        spider.site_hosts = {}  # site key -> its hosts (for _allowed)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        # Articles are read in EXTRACT_WORKERS worker processes (crawler/extractpool.py).
        spider.extractor = Extractor(spider.profiles, crawler.settings.getint("EXTRACT_WORKERS", 0))
        crawler.signals.connect(spider.close_extractor, signal=signals.spider_closed)
        crawler.signals.connect(spider.close_extractor, signal=signals.engine_stopped)
        return spider

    def close_extractor(self, *args, **kwargs) -> None:
        self.extractor.close()

    @property
    def family(self) -> dict[str, str | None]:
        return self.state.family

    # -- start -------------------------------------------------------------
    async def start(self):
        state = self.state
        # What the frontier holds first: pending URLs of an interrupted run, known
        # articles due for a revisit (conditional requests).
        for row in state.scheduled:
            request = self._from_row(row)
            if request is not None:
                yield request
        state.scheduled = []
        for site in self.sites:
            for url in site.start_urls:
                yield self._request(url, site, hops=0, priority=5, force=True)
            for host in site.hosts if self.own_robots else ():
                scheme = urlsplit(site.start_urls[0]).scheme
                request = self._request(f"{scheme}://{host}/robots.txt", site, hops=0,
                                        priority=30, callback=self.parse_robots, kind="robots")
                if request is not None:
                    yield request

    def _request(self, url: str, site: Site, *, hops: int, priority: int = 0,
                 callback=None, kind: str = "page", key: str | None = None,
                 force: bool = False, meta: dict | None = None) -> Request | None:
        """A request for a URL claimed now (None: already claimed this run)."""
        family = self.state.family.get(site.key)
        # The cleanest known URL is the one requested: no session tokens.
        url = strip_session(url, family)
        key = key or self.state.key_of(url, family)
        if not self.state.claim(key, url, site.key, kind=kind, hops=hops, priority=priority,
                                force=force):
            return None
        request = Request(
            url, callback=callback or self._callbacks[kind](self), errback=self.on_error,
            priority=priority,
            meta={"site": site.key, "family": family, "hops": hops, "kind": kind, "key": key,
                  "handle_httpstatus_list": [304], **(meta or {})},
        )
        request.meta["key_url"] = request.url  # as Scrapy escaped it
        return request

    def _from_row(self, row) -> Request | None:  # noqa: ANN001
        """A request for a frontier row (already claimed when the state loaded it)."""
        site = self.state.sites.get(row.site)
        if site is None or row.kind not in self._callbacks:
            return None
        headers = {}
        if row.outcome == ARTICLE and row.article_id:
            # Revalidate under the URL whose validators were stored.
            if row.etag:
                headers["If-None-Match"] = row.etag
            if row.last_modified:
                headers["If-Modified-Since"] = row.last_modified
        request = Request(
            row.url, callback=self._callbacks[row.kind](self), errback=self.on_error,
            priority=row.priority or (20 if row.outcome == ARTICLE else 0), headers=headers,
            meta={"site": site.key, "family": self.state.family.get(site.key),
                  "hops": row.hops or 0, "kind": row.kind, "key": row.key,
                  "article_id": row.article_id, "handle_httpstatus_list": [304]},
        )
        request.meta["key_url"] = request.url
        return request

    _callbacks = {
        "page": lambda self: self.parse, "feed": lambda self: self.parse_feed,
        "sitemap": lambda self: self.parse_sitemap, "robots": lambda self: self.parse_robots,
    }

    def _keys(self, response) -> list[str]:
        """Frontier keys an answer completes: where it landed, then what was asked for."""
        meta = response.meta
        keys = []
        if response.url != meta.get("key_url"):
            keys.append(self.state.key_of(response.url, self.state.family.get(meta.get("site"))))
        if meta.get("key"):
            keys.append(meta["key"])
        return keys

    def _done(self, response, outcome: str) -> None:
        meta = response.meta
        self.state.done(self._keys(response), outcome, url=response.url,
                        site_key=meta.get("site", ""), kind=meta.get("kind", "page"),
                        hops=meta.get("hops", 0))

    # -- pages -------------------------------------------------------------
    async def parse(self, response):
        site = self._site_of(response)
        if site is None:
            return
        if response.status == 304:
            yield self._not_modified(response, site)
            return
        if not isinstance(response, TextResponse):
            self._done(response, PAGE)
            return
        try:
            async for out in self._parse_page(response, site):
                yield out
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the crawl
            self.logger.exception("could not process %s", response.url)
            yield self._error(response.url, site, f"processing failed: {type(exc).__name__}: "
                              f"{exc}", response.status, keys=self._keys(response))

    def _not_modified(self, response, site: Site):
        # A revalidation carries its article; a 304 to a plain request (some servers send
        # one) is resolved by the pipeline from the URL, or recorded as a failure.
        return NotModifiedItem(
            article_id=response.meta.get("article_id"), url=response.url, site=site.key,
            fetched_at=_now(), keys=self._keys(response), **self._validators(response))

    @staticmethod
    def _validators(response) -> dict:
        def header(name: str) -> str | None:
            value = response.headers.get(name)
            return value.decode("latin-1").strip() if value else None

        return {"etag": header("ETag"), "last_modified": header("Last-Modified")}

    async def _parse_page(self, response, site: Site):
        ctype = response.headers.get("Content-Type", b"").decode("latin-1") or None
        settings = self.crawler.settings
        limit = settings.getint("MAX_PAGE_BYTES")
        if limit and len(response.body) > limit:
            # Parsing costs ~50x the bytes in memory (a 19 MB page took 967 MB).
            yield self._error(response.url, site, f"page of {len(response.body)} bytes, over "
                              f"MAX_PAGE_BYTES ({limit}): not read", response.status,
                              keys=self._keys(response))
            return
        host = host_of(response.url)
        link_cap = settings.getint("MAX_LINKS_PER_PAGE")
        element_cap = settings.getint("MAX_PAGE_ELEMENTS")
        known = self.state.family.get(site.key)
        got = None
        learner = self.state.learners.get(host)
        if learner is not None and learner.pages >= self.state.template_pages:
            # The host's template is learned: a worker (EXTRACT_WORKERS > 0) parses the
            # page once, reads what the links need (crawler.pagescan) and the record;
            # this process does not parse it. None: no workers (or they broke).
            got = await self.extractor.scan(
                response.body, response.url, ctype, self.state.templates.get(host), known,
                link_cap, element_cap)
        if got is not None:
            page = None
            unreadable, scan, remote_rec = got
        else:
            # Parse once: links are read from the same tree the extractor then consumes.
            page = read_page(response.body, response.url, content_type=ctype)
            unreadable, remote_rec = page.unreadable, None
            scan = None if page.root is None else scan_tree(
                page.root, link_cap=link_cap, element_cap=element_cap,
                rules=self.profiles.crawl, detect=known is None, profiles=self.profiles)
        unread = self._unreadable_tree(scan) if scan is not None else None
        if unreadable == "empty_input":  # busy servers answer 200 with nothing
            unread = f"empty answer (HTTP {response.status} with no content): nothing to read"
        known = self.state.family.get(site.key)
        if known is None and scan is not None and scan.family is not None:
            # Learn the family before reading links, so this page's links already get
            # the family's canonical URLs (one article, one fetch).
            known = scan.family
            self.state.learn_family(site.key, known)
            self.logger.info("site %s recognized as family %s", site.key, known)
        hops = response.meta.get("hops", 0)
        fam = self.profiles.family(known) if known else None
        for sitemap in self._sitemaps(self.held_sitemaps.pop(site.key, []), site):
            yield sitemap
        follow = list(self._links(scan, response, site, known, hops)) if scan is not None else []
        # Out-links are claimed (queued in the frontier) before this page is done.
        tally = {"new": 0, "same_head": self._watermark(scan, response, site, fam)}
        requests = list(self._requests(follow, scan, response, site, fam, hops, tally))
        # The site's template (learned from its pages, kept in the archive) keeps its
        # menus, footers and boxes out of the record even where no family rule names them.
        true_url = self._true_url(scan, response, site, known)
        template = self.state.template_for(host, page.root if page is not None else None)
        if unread:
            rec, is_article = None, False  # links read (capped); the tree is not an article
        elif fam is not None and fam.is_listing_url(response.url) and not fam.is_article_url(
                response.url):
            # A page of the family's listing shape is a listing: its links are all it
            # gives (reading it as an article would cost the generic reader's 20 ms).
            rec, is_article = None, False
        else:
            # Held back when the host's template is still being learned (decided now: the
            # pages read while this one is extracted may finish learning it).
            held = self.state.template_pending(host)
            # Fetching goes on while the page is read (in a worker process when
            # EXTRACT_WORKERS > 0): its links are queued first.
            for request in requests:
                yield request
            requests = []
            if got is not None:
                rec = remote_rec  # read in the worker (None: it judged the page no article)
                if isinstance(rec, BaseException):
                    raise rec
            else:
                if self.extractor.pool is not None:
                    page = None  # the worker reads the bytes: no parsed tree kept meanwhile
                rec = await self.extractor.extract(response.body, response.url, ctype,
                                                   template, page=page)
            is_article = rec is not None and self._is_article(rec, known, fam, response.url)
        if is_article:
            record = rec.as_dict()
            record["url"] = true_url
            item = ArticleItem(
                record=record, site=site.key, fetched_at=_now(),
                http_status=response.status,
                requested_url=response.request.url if response.request else response.url,
                content_type=ctype, keys=self._keys(response), **self._validators(response),
            )
            if held:
                # The first pages of a site with no template yet: held (with their bytes)
                # until the template is learned, then read again with it.
                self.held.setdefault(host, []).append((response.body, ctype, item,
                                                       response.url))
            else:
                yield item
        elif unread:
            yield self._error(response.url, site, unread, response.status,
                              keys=self._keys(response))
        else:
            self._done(response, self._page_kind(response, fam, hops, tally["new"]))
        if self.held.get(host) and not self.state.template_pending(host):
            async for item in self._release(host):
                yield item
        for request in requests:
            yield request

    def _unreadable_tree(self, scan) -> str | None:  # noqa: ANN001
        """Why a parsed page is not read as an article (None: it can be): more elements
        than MAX_PAGE_ELEMENTS (a link farm, a generated dump), or nested so deep that
        lxml stopped parsing (libxml2 keeps 255 levels and drops the rest)."""
        cap = self.crawler.settings.getint("MAX_PAGE_ELEMENTS")
        if cap:
            n = scan.elements
            if n > cap:
                return (f"page of {n} elements, over MAX_PAGE_ELEMENTS ({cap}): its links read "
                        f"(at most MAX_LINKS_PER_PAGE), not read as an article")
        if scan.too_deep:
            return ("page nested deeper than the HTML parser reads (255 levels): the rest of "
                    "the page is lost, not read as an article")
        return None

    def _true_url(self, scan, response, site: Site, family: str | None) -> str:
        """The article's URL for the archive: the page's own same-site ``rel=canonical``
        when it has one, else the URL that answered; without session parameters.

        A canonical link that cannot be this article's is ignored: the site's root or a
        start page, or one another page of this crawl already named (a CMS that prints
        the same canonical link on every page would otherwise fold all its articles into
        one)."""
        answered = strip_session(response.url, family)
        if scan is None:
            return answered
        href = scan.canonical
        if not href or not href.strip():
            return answered
        base = scan.base or response.url
        url = strip_session(urljoin(base, href.strip()), family)
        parts = urlsplit(url)
        if (parts.scheme not in ("http", "https") or host_of(url) not in site.hosts
                or (parts.path in ("", "/") and not parts.query)):
            return answered
        key = self.state.key_of(url, family)
        if key in {self.state.key_of(u, family) for u in site.start_urls}:
            return answered
        page = self.state.key_of(response.url, family)
        named = getattr(self, "canonical_named", None)
        if named is None:
            named = self.canonical_named = {}
        if named.setdefault(key, page) != page:
            return answered
        return url

    @staticmethod
    def _is_article(rec, known, fam, url: str) -> bool:  # noqa: ANN001
        is_article = "not_article" not in rec.warning_codes and bool(rec.body)
        if is_article and known and rec.family == "generic":
            # A family site's page the family does not recognize as an article (about
            # pages, contact pages) counts only when its URL has the article shape.
            is_article = bool(fam and fam.is_article_url(url))
        return is_article

    async def _release(self, host: str):
        """The held articles of a host, read again with its template (learned from the
        pages seen so far when the crawl ends before TEMPLATE_LEARN_PAGES)."""
        learner = self.state.learners.get(host)
        if learner is not None and host not in self.state.stored_templates:
            self.state.templates[host] = learner.template()
        template = self.state.templates.get(host)
        held = self.held.pop(host, [])
        records = [None] * len(held)
        if template:
            records = await asyncio.gather(*(
                self.extractor.extract(body, page_url, ctype, template)
                for body, ctype, _item, page_url in held))
        for (_body, _ctype, item, _url), rec in zip(held, records, strict=True):
            if rec is not None and rec.body:
                item.record = {**rec.as_dict(), "url": item.record["url"]}
            yield item

    def spider_idle(self):
        """Nothing left to fetch but held articles (a site too small to learn a template
        from): one data: request whose callback releases them."""
        if any(self.held.values()):
            request = Request("data:,held", callback=self._release_all, dont_filter=True,
                              priority=100, meta={"kind": "held", "dont_obey_robotstxt": True,
                                                  "allow_offsite": True})
            self.crawler.engine.crawl(request)
            raise DontCloseSpider

    async def _release_all(self, response):
        for host in list(self.held):
            async for item in self._release(host):
                yield item

    @staticmethod
    def _page_kind(response, fam, hops: int, new_articles: int) -> str:
        """NEXT: a listing's later page (reached by walking the listing); LISTING (asked
        for every run): a start page, a page of the family's listing shape, or, where
        the family names no listing shape, a page that led to new articles; else PAGE."""
        meta = response.meta
        if "cont" in meta or "postback" in meta:
            return NEXT
        if hops == 0 or (fam is not None and fam.is_listing_url(response.url)):
            return LISTING
        if (fam is None or not fam.listing_url) and new_articles:
            return LISTING
        return PAGE

    def _watermark(self, scan, response, site: Site, fam) -> bool:
        """On a listing's first page, note its newest article (the watermark); True when a
        nightly run finds the same one on top as last time."""
        meta = response.meta
        if (scan is None or fam is None or not fam.is_listing_url(response.url)
                or "cont" in meta or "postback" in meta or page_number(response.url) != 1
                or _PAGE_PARAM.search(response.url)):
            return False
        base = scan.base or response.url
        for href in scan.hrefs:
            if href is None:
                continue
            url = urljoin(base, href.strip())
            if fam.is_article_url(url) and self._allowed(url, site):
                newest = self.state.key_of(url, fam.name)
                listing = meta.get("key") or self.state.key_of(response.url, fam.name)
                before = self.state.watermarks.get((site.key, listing))
                self.state.watermark(site.key, listing, newest)
                return self.state.is_nightly(site.key) and before == newest
        return False

    def _links(self, scan, response, site: Site, known: str | None, hops: int):
        """(kind, url, text) of every link worth a decision, from the page's scan (read
        before extraction prunes its tree); postbacks as (kind, href, text)."""
        base = scan.base or response.url
        for href in scan.feeds:
            yield "feed", urljoin(base, href.strip()), ""
        decided = self.state.hrefs_decided
        seen = self.state.seen
        cap = self.crawler.settings.getint("MAX_LINKS_PER_PAGE")
        texts = scan.texts
        for n, href in enumerate(scan.hrefs):
            if cap and n >= cap:
                if site.key not in self.link_capped:  # said once per site
                    self.link_capped.add(site.key)
                    self.logger.warning("%s has more than MAX_LINKS_PER_PAGE (%d) links; the "
                                        "rest are not read (said once per site)", response.url, cap)
                break
            href = (href or "").strip()
            if not href:
                continue
            # Menus and sidebars repeat the same links on every page: a site-absolute
            # href (or a mailto:/tel: one, never followed) decided once is decided for
            # good, before any joining or parsing.
            absolute = (href.startswith(("/", "http://", "https://"))
                        and not href.startswith("//")) or href.startswith(("mailto:", "tel:"))
            if absolute and (site.key, href) in decided:
                continue
            if href[:11].lower() == "javascript:":
                if "__doPostBack" in href:
                    yield "postback", href, texts[n]
                continue
            url = urljoin(base, href).split("#", 1)[0]
            # Cheap rules first (off-site, traps, documents), the canonical URL after.
            seen_key = self.state.key_of(url, known) if self._allowed(url, site) else None
            if seen_key is None or seen_key in seen:
                if absolute:
                    decided.add((site.key, href))
                continue
            yield "link", (url, seen_key, href if absolute else None), texts[n]
        # "Xem thêm" buttons that load the next items by GET: the URL in a data-url
        # (data-href, data-load-url, data-next) attribute, or quoted in the onclick
        # loader of a "more" button. Discovery, like postbacks; the answer (often an HTML
        # fragment) is read as a page of the listing.
        for urls, text in scan.loaders:
            for found in urls:
                url = urljoin(base, found.strip()).split("#", 1)[0]
                seen_key = self.state.key_of(url, known) if self._allowed(url, site) else None
                if seen_key is not None and seen_key not in seen:
                    yield "link", (url, seen_key, None), text

    def _requests(self, follow, scan, response, site: Site, fam, hops: int, tally: dict):
        rules = self.profiles.crawl
        state = self.state
        feeds_decided = self.feeds_decided
        continuations = []
        new_articles = 0
        for kind, target, text in follow:
            if kind == "postback":
                continuations.append((kind, target, " ".join(text.split())))
                continue
            if kind == "feed":
                # Every page names the site's feed: decided (asked for, or refused) the
                # first time, it is decided for good under the same family.
                fed = (site.key, state.family.get(site.key), target)
                if fed in feeds_decided:
                    continue
                if self._allowed(target, site):
                    request = self._request(target, site, hops=hops, priority=15, kind="feed")
                    if request is not None:
                        yield request
                feeds_decided.add(fed)
                continue
            url, seen_key, href = target
            if seen_key in state.seen:
                continue  # the same link twice on one page
            text = " ".join(text.split())
            if rules.more_text.match(text) or text.isdigit() or _PAGE_PARAM.search(url):
                continuations.append((kind, target, text))
                continue
            # Listings go first so discovery stays ahead of fetching articles.
            if fam and fam.is_article_url(url):
                request = self._request(url, site, hops=hops + 1, priority=20, key=seen_key)
                new_articles += request is not None and state.is_new(seen_key)
            elif hops < self.hop_limit:
                listing = bool(fam and fam.is_listing_url(url))
                request = self._request(url, site, hops=hops + 1, priority=25 if listing else 0,
                                        key=seen_key)
            else:
                continue  # too deep from here; may still come from a shallower page
            if href:
                state.hrefs_decided.add((site.key, href))
            if request is not None:
                yield request
        tally["new"] = new_articles
        if tally.get("same_head") and not new_articles:
            continuations = []  # the listing's newest article is still its watermark
        yield from self._continue(continuations, scan, response, site, fam, hops)

    def _continue(self, continuations, scan, response, site: Site, fam, hops: int):
        """Pagination. A full run follows every page link; a nightly run walks a listing
        newest first, one next page at a time, and stops after K pages with nothing new
        (no article the archive did not hold when the run began, other than those earlier
        pages of this walk showed: a sidebar of the newest articles repeats on every page)."""
        meta = {"cont": True}
        if continuations and self.state.is_nightly(site.key):
            counted = response.meta.get("counted", frozenset())
            fresh = self._fresh_articles(scan, response, site, fam) - counted
            stale = 0 if fresh else response.meta.get("stale", 0) + 1
            if stale >= self.state.stale_pages_of(site.key):
                return
            current = response.meta.get("page_no") or page_number(response.url)
            continuations = [c for c in continuations if self._is_next(c, current)]
            meta = {"cont": True, "stale": stale, "page_no": current + 1,
                    "counted": counted | fresh}
        for kind, target, _text in continuations:
            if kind == "postback":
                request = self._postback(scan, response, site, target, hops, meta)
            else:
                url, seen_key, href = target
                request = self._request(url, site, hops=hops, priority=30, key=seen_key,
                                        meta=meta)
                if href:
                    self.state.hrefs_decided.add((site.key, href))
            if request is not None:
                yield request

    def _fresh_articles(self, scan, response, site: Site, fam) -> frozenset:
        """Keys of the articles this page links that the archive did not hold when the run
        began (every link of the page, those decided on earlier pages included)."""
        base = scan.base or response.url
        family = fam.name if fam else None
        out = set()
        for href in scan.hrefs:
            if href is None:
                continue
            url = urljoin(base, href.strip()).split("#", 1)[0]
            if (fam is None or fam.is_article_url(url)) and self._allowed(url, site):
                key = self.state.key_of(url, family)
                if self.state.is_new(key):
                    out.add(key)
        return frozenset(out)

    def _is_next(self, continuation, current: int) -> bool:
        kind, target, text = continuation
        if self.profiles.crawl.more_text.match(text):
            return True
        if kind == "postback":
            m = POSTBACK.search(target)
            return bool(m and m.group(2) in (str(current + 1), "Page$Next"))
        return text == str(current + 1)

    def _postback(self, scan, response, site: Site, href: str, hops: int, meta: dict):
        m = POSTBACK.search(href)
        if not m:
            return None
        target, arg = m.groups()
        rules = self.profiles.crawl
        if not (rules.postback_arg.match(arg) and rules.postback_target.search(target)):
            return None
        if not scan.has_form:
            return None
        key = (response.url.split("#")[0], target, arg)
        if not arg.isdigit():  # Next/Prev are relative to the page we are on
            key += (hash(scan.viewstate),)
        if key in self.state.postbacks_seen:
            return None
        self.state.postbacks_seen.add(key)
        # The form POSTed as a browser would (crawler.pagescan, read with the page).
        # Never stored in the frontier: a saved __VIEWSTATE is stale by the next run.
        data = scan.postbacks.get((target, arg))
        if data is None:
            return None
        if isinstance(data, BaseException):
            raise data
        return data.to_scrapy(
            callback=self.parse, errback=self.on_error, dont_filter=True, priority=30,
            meta={"site": site.key, "family": self.state.family.get(site.key), "hops": hops,
                  "kind": "page", "postback": f"{target} {arg}", **meta},
        )

    # -- feeds, robots, sitemaps --------------------------------------------
    def parse_feed(self, response):
        site = self._site_of(response)
        if site is None:
            return
        links = response.xpath("//*[local-name()='item']/*[local-name()='link']/text() | "
                               "//*[local-name()='entry']/*[local-name()='link']/@href").getall()
        requests = []
        for link in links:
            url = response.urljoin(link.strip())
            if self._allowed(url, site):
                requests.append(self._request(url, site, hops=1, priority=20))
        self._done(response, LISTING)
        yield from (r for r in requests if r is not None)

    def robots_parsed(self, robotparser, request):  # noqa: ANN001
        """Scrapy read a host's robots.txt (to obey it): its sitemaps are listings too."""
        site = self.state.site_of_url(request.url)
        rules = getattr(robotparser, "rp", None)  # Protego, Scrapy's default parser
        if site is None or rules is None:
            return
        urls = [urljoin(request.url, url.strip()) for url in rules.sitemaps]
        if self.state.family.get(site.key) is None:
            # Its links get the family's keys once the first page tells the family.
            self.held_sitemaps.setdefault(site.key, []).extend(urls)
            return
        for sitemap in self._sitemaps(urls, site):
            self.crawler.engine.crawl(sitemap)

    def _sitemaps(self, urls: list[str], site: Site):
        for url in urls:
            if self._allowed(url, site, check_ext=False):
                sitemap = self._request(url, site, hops=1, priority=15, kind="sitemap")
                if sitemap is not None:
                    yield sitemap

    def parse_robots(self, response):
        site = self.state.site_of_url(response.url)
        if site is None:
            return
        requests = []
        for url in sitemap_urls_from_robots(response.body, base_url=response.url):
            if self._allowed(url, site, check_ext=False):
                requests.append(self._request(url, site, hops=1, priority=15, kind="sitemap"))
        self._done(response, LISTING)
        yield from (r for r in requests if r is not None)

    def parse_sitemap(self, response):
        site = self._site_of(response)
        if site is None:
            return
        try:
            sitemap = Sitemap(response.body)
        except Exception as exc:  # noqa: BLE001 - a broken sitemap is one error, not a crash
            yield self._error(response.url, site, f"unreadable sitemap: {exc}", response.status,
                              kind="sitemap", keys=self._keys(response))
            return
        requests = []
        for entry in sitemap:
            url = entry.get("loc", "").strip()
            if sitemap.type == "sitemapindex":
                if self._allowed(url, site, check_ext=False):
                    requests.append(self._request(url, site, hops=1, priority=15,
                                                  kind="sitemap"))
            elif self._allowed(url, site):
                requests.append(self._request(url, site, hops=1, priority=20))
        self._done(response, LISTING)
        yield from (r for r in requests if r is not None)

    # -- errors ------------------------------------------------------------
    def on_error(self, failure):
        request = failure.request
        meta = request.meta
        kind = meta.get("kind", "page")
        site = self.state.site_of_url(request.url)
        response = getattr(failure.value, "response", None)
        keys = [k for k in (meta.get("key"),) if k]
        if not self.crawler.crawling and not failure.check(HttpError):
            return  # stopped while waiting or in flight: still pending, the next run asks
        if kind == "robots" or site is None:
            # No robots.txt is normal; RobotsTxtMiddleware handles it.
            self.state.done(keys, LISTING, site_key=meta.get("site", ""), kind=kind)
            return
        status = response.status if response is not None else None
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            reason = self._ignored(failure)
            if reason is None:
                # A decision (robots.txt rule, page cap, off-site), logged where made.
                self.state.done(keys, SKIPPED, site_key=site.key, kind=kind, fetched=False)
                return
        elif status is not None:
            reason = f"HTTP {status}"
        else:
            reason = self._failed(failure)
        # A redirect's failure is the URL the crawl asked for.
        url = (meta.get("redirect_urls") or [request.url])[0]
        yield self._error(url, site, reason, status,
                          attempts=meta.get("retry_times", 0) + 1, kind=kind, keys=keys)

    def _ignored(self, failure) -> str | None:  # noqa: ANN001
        """None for a request the crawl decided not to make (robots.txt disallows it, the
        page cap, off-site, stopping); else the reason a person reads for a failure."""
        msg = str(failure.value)
        if msg == "Forbidden by robots.txt" or msg.startswith(
                ("page cap (", "Filtered offsite", "shutting down")):
            return None
        settings = self.crawler.settings
        if msg == "max redirections reached":  # scrapy.downloadermiddlewares.redirect
            meta = failure.request.meta
            chain = [*meta.get("redirect_urls", []), failure.request.url]
            return (f"more than {settings.getint('REDIRECT_MAX_TIMES')} redirects in a row "
                    f"({chain[0]} -> ... -> {chain[-1]}): not followed further")
        if "during decompression" in msg:  # scrapy.downloadermiddlewares.httpcompression
            return (f"the page inflates past DOWNLOAD_MAXSIZE ({settings.getint('DOWNLOAD_MAXSIZE')}"
                    f" bytes) when decompressed (a compression bomb?): not read")
        return msg  # redirect loop, robots.txt answering 5xx: the message says it

    def _failed(self, failure) -> str:  # noqa: ANN001
        exc = failure.value
        limit = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        if failure.check(DownloadCancelledError) and "download max size" in str(exc):
            # Scrapy: "Expected to receive N bytes ..." (Content-Length) or "Received N ..."
            size = re.search(r"^(Expected to receive|Received) (\d+) bytes", str(exc))
            said = ""
            if size:
                said = f"; it announced {size[2]}" if size[1] != "Received" else \
                    f"; {size[2]} received when it was stopped"
            return f"the page is larger than DOWNLOAD_MAXSIZE ({limit} bytes{said}): not downloaded"
        if failure.check(DownloadCancelledError) and not str(exc):
            # Scrapy's HTTP/1.1 handler cancels a body passing DOWNLOAD_MAXSIZE as it
            # arrives (no Content-Length) with no message; it logs the size.
            return (f"download cancelled (most likely the page passed DOWNLOAD_MAXSIZE, {limit} "
                    f"bytes, while being received): not downloaded")
        return f"{type(exc).__name__}: {exc}".strip().rstrip(":")

    def _error(self, url, site, reason, status=None, attempts=1, kind="page", keys=()):
        return FetchErrorItem(url=url, site=site.key, reason=reason, status=status,
                              attempts=attempts, when=_now(), kind=kind, keys=list(keys))

    # -- rules -------------------------------------------------------------
    def _site_of(self, response) -> Site | None:
        return self.state.sites.get(response.meta.get("site"))

    def _allowed(self, url: str, site: Site, *, check_ext: bool = True) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return False
        hosts = self.site_hosts.get(site.key)
        if hosts is None:  # Site.hosts builds its list on every call
            hosts = self.site_hosts[site.key] = frozenset(site.hosts)
        if parts.netloc.lower() not in hosts:  # host_of(url)
            return False  # off-site, other sub-domains included: never requested
        if check_ext and _SKIP_EXT.search(parts.path):
            return False
        if self.profiles.crawl.denied(url) or any(p.search(url) for p in self.site_deny[site.key]):
            return False
        return not site.allow_paths or any(parts.path.startswith(p) for p in site.allow_paths)
