"""The portal spider: one mechanism for every site; what differs per site is profile data.

    scrapy crawl portal -a site=backan-sgddt
    scrapy crawl portal -a sites=backan,quangtri
    scrapy crawl portal -a start_url=https://example.gov.vn/ -a family=auto

It finds articles through listing pages (GET pagination, ASP.NET postbacks, "Xem thêm"
cursors), feeds and sitemaps, recognizes articles by their content, and yields items; the
pipelines write the archive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import scrapy
from form2request import form2request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.extract import detect_family, extract_record, read_page
from crawler.items import ArticleItem, FetchErrorItem
from crawler.middlewares import canonical_for_fetch
from crawler.profiles import load
from crawler.sites import Site, adhoc_site, load_sites

_POSTBACK = re.compile(r"__doPostBack\(\s*['\"]([^'\"]*)['\"]\s*,\s*['\"]([^'\"]*)['\"]\s*\)")
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
                 *args, **kwargs):
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
        self.host_site: dict[str, Site] = {}
        for s in chosen:
            for host in s.hosts:
                self.host_site[host] = s
        self.allowed_domains = sorted({urlsplit(u).hostname for s in chosen for u in s.start_urls})
        # Family per site: from the registry, or learned from the first recognized page.
        self.family: dict[str, str | None] = {
            s.key: (None if s.family == "auto" else s.family) for s in chosen
        }
        self.site_deny = {s.key: [re.compile(p) for p in s.deny] for s in chosen}
        self.postbacks_seen: set[tuple] = set()
        self.links_seen: set[str] = set()
        self.hrefs_decided: set[tuple[str, str]] = set()
        self.redirects: dict[str, str] = {}  # URL -> where it redirected (RedirectRecorder)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.page_cap = crawler.settings.getint("SITE_PAGE_CAP", 20000)
        spider.hop_limit = crawler.settings.getint("LINK_HOP_LIMIT", 8)
        return spider

    # -- start -------------------------------------------------------------
    async def start(self):
        for site in self.sites:
            for url in site.start_urls:
                yield self._request(url, site, hops=0, priority=5)
            for host in site.hosts:
                scheme = urlsplit(site.start_urls[0]).scheme
                yield Request(f"{scheme}://{host}/robots.txt", callback=self.parse_robots,
                              errback=self.on_error, meta={"site": site.key, "kind": "robots"},
                              priority=30)

    def _request(self, url: str, site: Site, *, hops: int, priority: int = 0,
                 callback=None, kind: str = "page") -> Request:
        return Request(
            url, callback=callback or self.parse, errback=self.on_error, priority=priority,
            meta={"site": site.key, "family": self.family.get(site.key), "hops": hops,
                  "kind": kind},
        )

    # -- pages -------------------------------------------------------------
    def parse(self, response):
        site = self._site_of(response)
        if site is None or not isinstance(response, TextResponse):
            return
        try:
            yield from self._parse_page(response, site)
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the crawl
            self.logger.exception("could not process %s", response.url)
            yield self._error(response.url, site, f"processing failed: {type(exc).__name__}: "
                              f"{exc}", response.status)

    def _parse_page(self, response, site: Site):
        ctype = response.headers.get("Content-Type", b"").decode("latin-1") or None
        # Parse once: links are read from the same tree the extractor then consumes.
        page = read_page(response.body, response.url, content_type=ctype)
        known = self.family.get(site.key)
        if known is None and page.root is not None:
            # Learn the family before reading links, so this page's links already get
            # the family's canonical URLs (one article, one fetch).
            detected = detect_family(page.root, self.profiles)
            if detected is not None:
                self.family[site.key] = known = detected.name
                self.logger.info("site %s recognized as family %s", site.key, known)
        hops = response.meta.get("hops", 0)
        follow = list(self._links(page.root, response, site, known, hops)) if page.root is not None else []
        rec = extract_record(page, response.url, profiles=self.profiles)
        fam = self.profiles.family(known) if known else None
        is_article = "not_article" not in rec.warning_codes and bool(rec.body)
        if is_article and known and rec.family == "generic":
            # A family site's page the family does not recognize as an article (about
            # pages, contact pages) counts only when its URL has the article shape.
            is_article = bool(fam and fam.is_article_url(response.url))
        if is_article:
            yield ArticleItem(
                record=rec.as_dict(), site=site.key, fetched_at=_now(),
                http_status=response.status,
                requested_url=response.request.url if response.request else response.url,
                content_type=ctype,
            )
        yield from self._requests(follow, site, fam, hops)

    def _links(self, root, response, site: Site, known: str | None, hops: int):
        """(kind, url, text) of every link worth a decision, and postback requests, read
        from the page before extraction prunes its tree."""
        base = root.xpath("string(//base/@href)") or response.url
        for href in root.xpath("//link[@rel='alternate'][contains(@type, 'rss') or "
                               "contains(@type, 'atom')]/@href"):
            yield "feed", urljoin(base, href.strip()), ""
        decided = self.hrefs_decided
        for a in root.iter("a"):
            href = (a.get("href") or "").strip()
            if not href:
                continue
            # Menus and sidebars repeat the same links on every page: a site-absolute
            # href decided once is decided for good, before any joining or parsing.
            absolute = href.startswith(("/", "http://", "https://")) and not href.startswith("//")
            if absolute and (site.key, href) in decided:
                continue
            if href[:11].lower() == "javascript:":
                request = self._postback(root, response, site, href, hops)
                if request is not None:
                    yield "postback", request, ""
                continue
            url = urljoin(base, href).split("#", 1)[0]
            # Cheap rules first (off-site, traps, documents), the canonical URL after.
            seen_key = canonical_for_fetch(url, known) if self._allowed(url, site) else None
            if seen_key is None or seen_key in self.links_seen:
                if absolute:
                    decided.add((site.key, href))
                continue
            yield "link", (url, seen_key, href if absolute else None), a.text_content()

    def _requests(self, follow, site: Site, fam, hops: int):
        rules = self.profiles.crawl
        for kind, target, text in follow:
            if kind == "postback":
                yield target
                continue
            if kind == "feed":
                if self._allowed(target, site):
                    yield self._request(target, site, hops=hops, priority=15,
                                        callback=self.parse_feed, kind="feed")
                continue
            url, seen_key, href = target
            if seen_key in self.links_seen:
                continue  # the same link twice on one page
            text = " ".join(text.split())
            continuation = bool(
                rules.more_text.match(text) or text.isdigit() or _PAGE_PARAM.search(url)
            )
            # Listings go first so discovery stays ahead of fetching articles.
            if fam and fam.is_article_url(url):
                request = self._request(url, site, hops=hops + 1, priority=20)
            elif continuation:
                request = self._request(url, site, hops=hops, priority=30)
            elif hops < self.hop_limit:
                listing = bool(fam and fam.is_listing_url(url))
                request = self._request(url, site, hops=hops + 1, priority=25 if listing else 0)
            else:
                continue  # too deep from here; may still come from a shallower page
            self.links_seen.add(seen_key)
            if href:
                self.hrefs_decided.add((site.key, href))
            yield request

    def _postback(self, root, response, site: Site, href: str, hops: int):
        m = _POSTBACK.search(href)
        if not m:
            return None
        target, arg = m.groups()
        rules = self.profiles.crawl
        if not (rules.postback_arg.match(arg) and rules.postback_target.search(target)):
            return None
        forms = root.xpath("//form[.//input[@name='__VIEWSTATE']]")
        if not forms:
            return None
        key = (response.url.split("#")[0], target, arg)
        if not arg.isdigit():  # Next/Prev are relative to the page we are on
            key += (hash(forms[0].xpath("string(.//input[@name='__VIEWSTATE']/@value)")),)
        if key in self.postbacks_seen:
            return None
        self.postbacks_seen.add(key)
        # What a browser does for javascript:__doPostBack(target, arg): POST the whole
        # form (with its __VIEWSTATE) with __EVENTTARGET/__EVENTARGUMENT set, no button.
        data = form2request(forms[0], {"__EVENTTARGET": target, "__EVENTARGUMENT": arg},
                            click=False)
        return data.to_scrapy(
            callback=self.parse, errback=self.on_error, dont_filter=True, priority=30,
            meta={"site": site.key, "family": self.family.get(site.key), "hops": hops,
                  "kind": "page", "postback": f"{target} {arg}"},
        )

    # -- feeds, robots, sitemaps --------------------------------------------
    def parse_feed(self, response):
        site = self._site_of(response)
        if site is None:
            return
        links = response.xpath("//*[local-name()='item']/*[local-name()='link']/text() | "
                               "//*[local-name()='entry']/*[local-name()='link']/@href").getall()
        for link in links:
            url = response.urljoin(link.strip())
            if self._allowed(url, site):
                yield self._request(url, site, hops=1, priority=20)

    def parse_robots(self, response):
        site = self.host_site.get(urlsplit(response.url).netloc.lower())
        if site is None:
            return
        for url in sitemap_urls_from_robots(response.body, base_url=response.url):
            if self._allowed(url, site, check_ext=False):
                yield self._request(url, site, hops=1, priority=15,
                                    callback=self.parse_sitemap, kind="sitemap")

    def parse_sitemap(self, response):
        site = self._site_of(response)
        if site is None:
            return
        try:
            sitemap = Sitemap(response.body)
        except Exception as exc:  # noqa: BLE001 - a broken sitemap is one error, not a crash
            yield self._error(response.url, site, f"unreadable sitemap: {exc}", response.status,
                              kind="sitemap")
            return
        for entry in sitemap:
            url = entry.get("loc", "").strip()
            if sitemap.type == "sitemapindex":
                if self._allowed(url, site, check_ext=False):
                    yield self._request(url, site, hops=1, priority=15,
                                        callback=self.parse_sitemap, kind="sitemap")
            elif self._allowed(url, site):
                yield self._request(url, site, hops=1, priority=20)

    # -- errors ------------------------------------------------------------
    def on_error(self, failure):
        request = failure.request
        kind = request.meta.get("kind", "page")
        site = self.host_site.get(urlsplit(request.url).netloc.lower())
        response = getattr(failure.value, "response", None)
        if kind == "robots" or site is None:
            return  # no robots.txt is normal; RobotsTxtMiddleware handles it
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            return  # a decision (robots.txt, page cap), logged where made; not a failure
        status = response.status if response is not None else None
        if status is not None:
            reason = f"HTTP {status}"
        else:
            exc = failure.value
            reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        yield self._error(request.url, site, reason, status,
                          attempts=request.meta.get("retry_times", 0) + 1, kind=kind)

    def _error(self, url, site, reason, status=None, attempts=1, kind="page"):
        return FetchErrorItem(url=url, site=site.key, reason=reason, status=status,
                              attempts=attempts, when=_now(), kind=kind)

    # -- rules -------------------------------------------------------------
    def _site_of(self, response) -> Site | None:
        key = response.meta.get("site")
        return next((s for s in self.sites if s.key == key), None)

    def page_cap_of(self, site_key: str) -> int:
        """For SitePageCapMiddleware: the page cap of this site."""
        site = next((s for s in self.sites if s.key == site_key), None)
        return (site.page_cap if site and site.page_cap else None) or self.page_cap

    def _allowed(self, url: str, site: Site, *, check_ext: bool = True) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return False
        if parts.netloc.lower() not in site.hosts:
            return False  # off-site, other sub-domains included: never requested
        if check_ext and _SKIP_EXT.search(parts.path):
            return False
        if self.profiles.crawl.denied(url) or any(p.search(url) for p in self.site_deny[site.key]):
            return False
        return not site.allow_paths or any(parts.path.startswith(p) for p in site.allow_paths)
