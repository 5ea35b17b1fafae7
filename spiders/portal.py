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
from urllib.parse import urlsplit

import scrapy
from scrapy.http import FormRequest, Request, TextResponse
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.extract import extract_record
from crawler.items import ArticleItem, FetchErrorItem
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
    custom_settings: dict = {}

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
        self.pages: dict[str, int] = dict.fromkeys(self.family, 0)
        self.capped: set[str] = set()
        self.postbacks_seen: set[tuple] = set()

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
        self.pages[site.key] += 1
        ctype = response.headers.get("Content-Type", b"").decode("latin-1") or None
        rec = extract_record(response.body, response.url, content_type=ctype,
                             profiles=self.profiles)
        codes = rec.warning_codes
        known = self.family.get(site.key)
        if known is None and rec.family != "generic":
            self.family[site.key] = known = rec.family
            self.logger.info("site %s recognized as family %s", site.key, rec.family)
        fam = self.profiles.family(known) if known else None
        is_article = "not_article" not in codes and bool(rec.body)
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
        yield from self._follow(response, site, fam)

    def _follow(self, response: TextResponse, site: Site, fam):
        hops = response.meta.get("hops", 0)
        rules = self.profiles.crawl
        for link in response.xpath("//link[@rel='alternate'][contains(@type, 'rss') or "
                                   "contains(@type, 'atom')]/@href").getall():
            url = response.urljoin(link.strip())
            if self._allowed(url, site):
                yield self._request(url, site, hops=hops, priority=15,
                                    callback=self.parse_feed, kind="feed")
        for a in response.xpath("//a[@href]"):
            href = a.attrib["href"].strip()
            if href.lower().startswith("javascript:"):
                yield from self._postback(response, site, href, hops)
                continue
            url = response.urljoin(href).split("#", 1)[0]
            if not self._allowed(url, site):
                continue
            text = " ".join(a.xpath("normalize-space(.)").getall())
            continuation = bool(
                rules.more_text.match(text) or text.strip().isdigit() or _PAGE_PARAM.search(url)
            )
            if fam and fam.is_article_url(url):
                yield self._request(url, site, hops=hops + 1, priority=20)
            elif continuation:
                yield self._request(url, site, hops=hops, priority=10)
            elif hops < self.hop_limit:
                listing = bool(fam and fam.is_listing_url(url))
                yield self._request(url, site, hops=hops + 1, priority=10 if listing else 0)

    def _postback(self, response: TextResponse, site: Site, href: str, hops: int):
        m = _POSTBACK.search(href)
        if not m:
            return
        target, arg = m.groups()
        rules = self.profiles.crawl
        if not (rules.postback_arg.match(arg) and rules.postback_target.search(target)):
            return
        form = response.xpath("//form[.//input[@name='__VIEWSTATE']]")
        if not form:
            return
        key = (response.url.split("#")[0], target, arg)
        if not arg.isdigit():  # Next/Prev are relative to the page we are on
            key += (hash(form.xpath(".//input[@name='__VIEWSTATE']/@value").get()),)
        if key in self.postbacks_seen or self._over_cap(site):
            return
        self.postbacks_seen.add(key)
        yield FormRequest.from_response(
            response, formxpath="//form[.//input[@name='__VIEWSTATE']]",
            formdata={"__EVENTTARGET": target, "__EVENTARGUMENT": arg},
            dont_click=True, dont_filter=True, callback=self.parse, errback=self.on_error,
            priority=10,
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

    def _over_cap(self, site: Site) -> bool:
        cap = site.page_cap or self.page_cap
        if self.pages[site.key] >= cap:
            if site.key not in self.capped:
                self.capped.add(site.key)
                self.logger.warning("site %s reached its page cap (%d); not following more",
                                    site.key, cap)
            return True
        return False

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
        if site.allow_paths and not any(parts.path.startswith(p) for p in site.allow_paths):
            return False
        return not self._over_cap(site)
