"""The demo portal's pages and routes (no sockets here: ``Site.handle`` maps a request to a
``Response``; ``portal.py`` serves it over HTTP).

A SharePoint 2013 PublishingPortal of a provincial Department of Education and Training,
with one sub-site (``/congdoan``). See ``crawler/demo/__init__.py`` for what it contains.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from urllib.parse import parse_qs, quote, urlsplit

from ..text import fold
from . import files, markup
from .content import (
    CATEGORY_WEIGHTS,
    MAIN_CATEGORIES,
    MAIN_PREFIX,
    SUB_CATEGORIES,
    SUB_PREFIX,
    Article,
    generate,
)
from .content import _article as _new_article

PER_PAGE = 10
PAGER_TARGET = "ctl00$ctl42$g_3f1c$Pager"
SITE_NAME = "Sở Giáo dục và Đào tạo tỉnh Demo"
SUB_NAME = "Công đoàn ngành Giáo dục tỉnh Demo"
FEED_SIZE = 30
OFFSITE = [
    ("https://chinhphu.vn/", "Cổng TTĐT Chính phủ"),
    ("https://moet.gov.vn/", "Bộ Giáo dục và Đào tạo"),
    ("http://example.org/lien-ket/tinh-demo", "Cổng TTĐT tỉnh Demo"),
    ("https://example.org/thu-vien-dien-tu/", "Thư viện điện tử"),
]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (the slow page)


# What the main home page shows first (DemoPortal(discovery=...)): "home", the portal's
# own home page; the others a plain page in no family's markup, so that the crawler meets
# articles before it knows the site's family: "sitemap" (no links: robots.txt's sitemap
# comes first), "feed" (only the RSS feed), "listings" (every listing, shuffled), "links"
# (every URL of every article, category and session-token variants, shuffled).
DISCOVERY = ("home", "sitemap", "feed", "listings", "links")


class Site:
    def __init__(self, n_articles: int = 300, seed: int = 1, discovery: str = "home"):
        if discovery not in DISCOVERY:
            raise ValueError(f"discovery must be one of {', '.join(DISCOVERY)}")
        self.discovery = discovery
        self.seed = seed
        self.n_articles = n_articles
        self.articles, self.phantom = generate(n_articles, seed)
        self.by_key = {(a.prefix, a.item_id): a for a in self.articles}
        self.list_guid = "{" + str(uuid.UUID(self._h("list-guid")[:32])).upper() + "}"
        self._failed_once: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        main = [a for a in self.articles if a.prefix == MAIN_PREFIX]
        self.cal_year, self.cal_month = self.articles[-1].when.year, self.articles[-1].when.month
        rng = random.Random(f"site-{seed}")
        ok = [a for a in main if a.status == "ok"]
        self.featured = rng.sample(ok, min(6, len(ok)))  # linked by legacy ViewNews URLs
        self.most_read = rng.sample([a for a in ok if a not in self.featured], min(6, len(ok) - 6))
        self._index()
        # Article pages are cached as first rendered (sidebar, related news): an article
        # nobody edits stays byte-identical, with the same validators, in the later state.
        self.frozen_newest = dict(self.newest)
        self.frozen_listings = dict(self.listings)
        self.later = False
        self.new: list[Article] = []  # the later state's additions
        self.edited: list[Article] = []
        self.deleted: list[Article] = []
        # article pages that render a "Tin xem nhiều" box (main-site pages that answer 200)
        self._sid_ks = sorted({a.item_id % 3 for a in main if a.status != "always_500"})

    def _index(self) -> None:
        """Newest-first lists and listings (the phantom sits in Tintrongtinh)."""
        live = [a for a in self.articles if a.status != "deleted"]
        main = [a for a in live if a.prefix == MAIN_PREFIX]
        sub = [a for a in live if a.prefix == SUB_PREFIX]
        self.newest = {MAIN_PREFIX: sorted(main, key=lambda a: a.when, reverse=True),
                       SUB_PREFIX: sorted(sub, key=lambda a: a.when, reverse=True)}
        self.listings: dict[tuple[str, str], list[Article]] = {}
        for code, _, _ in MAIN_CATEGORIES:
            items = [a for a in main if code in a.categories]
            if code == "Tintrongtinh":
                items.append(self.phantom)
            self.listings[(MAIN_PREFIX, code)] = sorted(items, key=lambda a: a.when, reverse=True)
        self.listings[(SUB_PREFIX, "Tinhoatdong")] = self.newest[SUB_PREFIX]

    def advance(self, n_new: int = 15) -> None:
        """The later state (a night later): ``n_new`` articles on top, edits at several
        depths (newest, middle, oldest), one article deleted (404), the rest as they were."""
        if self.later:
            return
        self.later = True
        rng = random.Random(f"later-{self.seed}")
        top = max(a.when for a in self.articles)
        ids = {p: max(a.item_id for a in self.articles if a.prefix == p)
               for p in (MAIN_PREFIX, SUB_PREFIX)}
        codes = [c for c, _, _ in MAIN_CATEGORIES]
        for k in range(n_new):
            prefix = SUB_PREFIX if k % 7 == 3 else MAIN_PREFIX
            ids[prefix] += 1
            cats = ["Tinhoatdong"] if prefix else [rng.choices(codes, CATEGORY_WEIGHTS)[0]]
            when = (top + timedelta(hours=3 * (k + 1))).replace(second=0)
            self.new.append(_new_article(rng, self.seed, ids[prefix], prefix, cats, when))
        ok = sorted((a for a in self.articles if a.status == "ok" and a.prefix == MAIN_PREFIX
                     and a not in self.featured and a not in self.most_read),
                    key=lambda a: a.when)
        later = top + timedelta(days=1)
        for a in (ok[-2], ok[len(ok) // 2], ok[3]):  # newest, middle, oldest
            a.paragraphs = [*a.paragraphs[:-1], a.paragraphs[-1] + " (Cập nhật: bổ sung "
                            "thông tin theo báo cáo của các đơn vị.)"]
            a.modified = later
            self.edited.append(a)
        gone = ok[len(ok) // 3]
        gone.status = "deleted"
        self.deleted.append(gone)
        self.articles.extend(self.new)
        self.by_key.update({(a.prefix, a.item_id): a for a in self.new})
        self._index()

    def validators(self, a: Article, body: bytes) -> dict:
        """ETag (over the bytes) and Last-Modified (the item's last edit) of an article page."""
        when = (a.modified or a.when).replace(tzinfo=_TZ)
        return {"ETag": '"' + hashlib.sha1(body).hexdigest()[:20] + '"',
                "Last-Modified": format_datetime(when.astimezone(UTC), usegmt=True)}

    @staticmethod
    def not_modified(resp: Response, headers) -> Response:  # noqa: ANN001
        """304 when the request's validators match (If-None-Match wins, RFC 9110 13.2.2)."""
        if headers is None or resp.status != 200 or "ETag" not in resp.headers:
            return resp
        inm = headers.get("If-None-Match")
        ims = headers.get("If-Modified-Since")
        if inm is not None:
            match = resp.headers["ETag"] in [t.strip() for t in inm.split(",")] or inm == "*"
        elif ims is not None:
            try:
                match = parsedate_to_datetime(resp.headers["Last-Modified"]) <= \
                    parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                match = False
        else:
            return resp
        if not match:
            return resp
        keep = {k: resp.headers[k] for k in ("ETag", "Last-Modified")}
        return Response(304, b"", resp.content_type, keep)

    # ------------------------------------------------------------------ helpers
    def _h(self, *parts) -> str:
        return hashlib.sha256("|".join(map(str, (self.seed, *parts))).encode()).hexdigest()

    def related(self, a: Article) -> list[Article]:
        listings = self.listings if a in self.new else self.frozen_listings
        same = [x for x in listings[(a.prefix, a.category)] if x.status != "missing"]
        i = same.index(a)
        older = same[i + 1:i + 6]
        return older if len(older) >= 3 else (same[max(0, i - 5):i] + older)[:5]

    def sid(self, a: Article, k: int) -> str:
        return self._h("sid", a.item_id, k)[:24]

    def sid_path(self, a: Article, k: int) -> str:
        return a.path() + "&sid=" + self.sid(a, k)

    def legacy_path(self, a: Article) -> str:
        return f"{a.prefix}/Pages/ViewNews.aspx?ID={a.item_id}"

    def url_variants(self, a: Article) -> list[str]:
        """Every path (with query) by which some page links this article."""
        out = [a.path(c) for c in a.categories]
        if a in self.most_read:
            out += [self.sid_path(a, k) for k in self._sid_ks]
        if a in self.featured:
            out.append(self.legacy_path(a))
        return out

    def viewstate(self, *parts, size: int = 900) -> str:
        state = "|".join(map(str, parts))
        raw = b"\xff\x01\x0f\x0f\x05\x0a" + f"-{self._h('vs', state)[:9]}|{state}|".encode() + b"\x00"
        filler = b""
        i = 0
        while len(filler) < size:
            filler += hashlib.sha256(f"{self.seed}{state}{i}".encode()).digest()
            i += 1
        return base64.b64encode(raw + filler[:size]).decode()

    @staticmethod
    def read_viewstate(value: str) -> dict | None:
        try:
            raw = base64.b64decode(value.encode(), validate=True)
        except (ValueError, TypeError):
            return None
        if not raw.startswith(b"\xff\x01"):
            return None
        try:
            text = raw[6:].split(b"\x00", 1)[0].split(b"|", 1)[1].decode("utf-8", "replace")
        except IndexError:
            return None
        out = {}
        for part in text.split("|"):
            if "=" in part:
                k, _, v = part.partition("=")
                out[k] = v
        return out

    # ------------------------------------------------------------------ shell
    def shell(self, *, prefix: str, title: str, action: str, viewstate: str, main: str,
              crumbs: list[tuple[str, str]], sidebar: bool = True,
              newest: dict | None = None) -> bytes:
        sub = prefix == SUB_PREFIX
        site_name = SUB_NAME if sub else SITE_NAME
        feed = f"/_layouts/15/listfeed.aspx?List={self.list_guid}"
        digest = "0x" + self._h("digest", action)[:40].upper() + ",11 Sep 2023 08:00:00 -0000"
        evval = base64.b64encode(bytes.fromhex(self._h("ev", action)[:96])).decode()
        cats = SUB_CATEGORIES if sub else MAIN_CATEGORIES
        menu_news = "\n".join(
            f'<li class="dynamic"><a class="dynamic menu-item" href="{prefix}/noidung/tintuc/Pages/'
            f'tin-tuc.aspx?l={code}"><span class="menu-item-text">{label}</span></a></li>'
            for code, label, _ in cats
        )
        crumb_html = ' <span class="s4-breadcrumbRootNode">›</span> '.join(
            f'<a href="{href}">{escape(text)}</a>' if href else f'<span class="s4-breadcrumbCurrentNode">{escape(text)}</span>'
            for text, href in crumbs
        )
        side = self.sidebar(prefix, newest) if sidebar else ""
        links = "\n".join(
            f'<option value="{u}">{escape(t)}</option>' for u, t in OFFSITE
        )
        page = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html dir="ltr" lang="vi-VN">
<head><meta name="GENERATOR" content="Microsoft SharePoint" /><meta http-equiv="Content-type" content="text/html; charset=utf-8" /><meta http-equiv="X-UA-Compatible" content="IE=10" /><meta http-equiv="Expires" content="0" />
<meta name="viewport" content="width=device-width, initial-scale=1.0" />
<title>
\t{escape(title)}
</title>
<link rel="alternate" type="application/rss+xml" title="Tin tức - {escape(SITE_NAME)}" href="{feed}" />
<link rel="shortcut icon" href="/Style%20Library/PublishingPortal/images/favicon.ico" type="image/vnd.microsoft.icon" id="favicon" />
<link rel="stylesheet" type="text/css" href="/_layouts/15/1066/styles/Themable/corev15.css?rev=2bpHeX9U8DH09TB5zpJcsQ%3D%3DTAG0"/>
<link rel="stylesheet" type="text/css" href="/Style%20Library/PublishingPortal/css/style.css"/>
<link rel="stylesheet" type="text/css" href="/Style%20Library/PublishingPortal/css/megamenu.css"/>
<script type="text/javascript" src="/_layouts/15/init.js?rev=HZ0dOP8yVRWxVdP9NlbLmA%3D%3DTAG0"></script>
<script type="text/javascript" src="/ScriptResource.axd?d=ukDKF4xlVbUUGgJCWbnVPd3a&amp;t=ffffffffecf19baa"></script>
<script type="text/javascript" src="/_layouts/15/blank.js?rev=ZaOXZEobVwykPO9g8hq%2F8A%3D%3DTAG0"></script>
<script type="text/javascript" src="/Style%20Library/PublishingPortal/js/jquery-1.11.1.min.js"></script>
<script type="text/javascript">RegisterSod("require.js", "\\u002f_layouts\\u002f15\\u002frequire.js?rev=4UhLIF\\u00252FezOvmGnh\\u00252Fs0LLpA\\u00253D\\u00253DTAG0");</script>
<script type="text/javascript">
//<![CDATA[
var _spPageContextInfo = {{webServerRelativeUrl: "{prefix or '/'}", webAbsoluteUrl: "", siteAbsoluteUrl: "", serverRequestPath: "{escape(action)}", layoutsUrl: "_layouts/15", webTitle: "{escape(site_name)}", webTemplate: "53", currentLanguage: 1066, currentUICultureName: "vi-VN", userId: 0, alertsEnabled: false, siteServerRelativeUrl: "/"}};
//]]>
</script>
<script>
  (function(i,s,o,g,r,a,m){{i['GoogleAnalyticsObject']=r;i[r]=i[r]||function(){{
  (i[r].q=i[r].q||[]).push(arguments)}},i[r].l=1*new Date();a=s.createElement(o),
  m=s.getElementsByTagName(o)[0];a.async=1;a.src=g;m.parentNode.insertBefore(a,m)
  }})(window,document,'script','https://www.google-analytics.com/analytics.js','ga');
  ga('create', 'UA-00000000-1', 'auto');
  ga('send', 'pageview');
</script>
<style type="text/css">
  .s4-skipribbonshortcut {{ display:none; }}
  #s4-bodyContainer {{ min-width: 1000px; }}
</style>
</head>
<body>
<div id="imgPrefetch" style="display:none">
<img src="/_layouts/15/images/spcommon.png?rev=23" />
</div>
<noscript><div class='noindex'>Có thể bạn đang cố truy cập site này từ trình duyệt bảo mật trên máy chủ. Vui lòng bật tập lệnh và tải lại trang này.</div></noscript>
<form method="post" action="{escape(action)}" id="aspnetForm">
<div class="aspNetHidden">
<input type="hidden" name="_wpcmWpid" id="_wpcmWpid" value="" />
<input type="hidden" name="wpcmVal" id="wpcmVal" value="" />
<input type="hidden" name="MSOWebPartPage_PostbackSource" id="MSOWebPartPage_PostbackSource" value="" />
<input type="hidden" name="MSOTlPn_SelectedWpId" id="MSOTlPn_SelectedWpId" value="" />
<input type="hidden" name="MSOTlPn_View" id="MSOTlPn_View" value="0" />
<input type="hidden" name="MSOGallery_FilterString" id="MSOGallery_FilterString" value="" />
<input type="hidden" name="__EVENTTARGET" id="__EVENTTARGET" value="" />
<input type="hidden" name="__EVENTARGUMENT" id="__EVENTARGUMENT" value="" />
<input type="hidden" name="__REQUESTDIGEST" id="__REQUESTDIGEST" value="{digest}" />
<input type="hidden" name="__VIEWSTATE" id="__VIEWSTATE" value="{viewstate}" />
</div>

<script type="text/javascript">
//<![CDATA[
var theForm = document.forms['aspnetForm'];
if (!theForm) {{
    theForm = document.aspnetForm;
}}
function __doPostBack(eventTarget, eventArgument) {{
    if (!theForm.onsubmit || (theForm.onsubmit() != false)) {{
        theForm.__EVENTTARGET.value = eventTarget;
        theForm.__EVENTARGUMENT.value = eventArgument;
        theForm.submit();
    }}
}}
//]]>
</script>
<div class="aspNetHidden">
\t<input type="hidden" name="__VIEWSTATEGENERATOR" id="__VIEWSTATEGENERATOR" value="BAB98CB3" />
\t<input type="hidden" name="__EVENTVALIDATION" id="__EVENTVALIDATION" value="{evval}" />
</div>
<div id="s4-ribbonrow" class="ms-dialogHidden">
  <div id="globalNavBox" class="noindex">
    <div id="ribbonBox">
      <div id="s4-ribboncont">
        <div class="ms-cui-ribbonTopBars"><div class="ms-cui-topBar1"></div><div class="ms-cui-topBar2"><div class="ms-cui-jewel-container" style="display:none"></div></div></div>
      </div>
      <span id="DeltaSPRibbon"></span>
    </div>
    <div id="DeltaSPNavigation" class="ms-hide"><span id="ctl00_ctl50_ctl00_SPNavigation_ctl00_publishingConsoleV4"></span></div>
  </div>
  <div class="ms-signInLink"><a href="/_layouts/15/Authenticate.aspx?Source=%2FPages%2Fdefault%2Easpx" class="ms-signInLink" style="display:inline;">Đăng nhập</a></div>
</div>
<div id="s4-workspace" class="ms-core-overlay">
<div id="s4-bodyContainer">
  <div id="header" class="header">
    <div class="top-bar">
      <span class="today">Cổng thông tin điện tử</span>
      <a href="/Pages/default.aspx">Trang chủ</a> | <a href="/Pages/lien-he.aspx">Liên hệ</a> |
      <a href="mailto:sogddt@demo.gov.vn">sogddt@demo.gov.vn</a>
      <div class="search-box" id="SearchBox">
        <input name="ctl00$PlaceHolderSearchArea$SmallSearchInputBox1$csr_sbox" maxlength="255" title="Tìm kiếm..." id="ctl00_PlaceHolderSearchArea_SmallSearchInputBox1_csr_sbox" type="text" value="" placeholder="Tìm kiếm..." />
        <a title="Tìm kiếm" class="ms-srch-sb-searchLink" href="javascript: {{}}" onclick="window.location='/Pages/tim-kiem.aspx?k='+encodeURIComponent(document.getElementById('ctl00_PlaceHolderSearchArea_SmallSearchInputBox1_csr_sbox').value);return false;"><img src="/_layouts/15/images/searchresultui.png?rev=23" alt="Tìm kiếm" /></a>
        <a class="adv-search" href="/Pages/tim-kiem.aspx?k=&amp;adv=1">Tìm kiếm nâng cao</a>
      </div>
    </div>
    <div class="banner">
      <a href="{prefix}/Pages/default.aspx"><img src="/Style%20Library/PublishingPortal/images/banner-sogd.jpg" alt="{escape(site_name)}" /></a>
      <h1 class="site-name" style="display:none">{escape(site_name)}</h1>
    </div>
    <div id="megamenu" class="megamenu noindex">
      <ul class="root static">
        <li class="static"><a class="static menu-item" href="/Pages/default.aspx"><span class="menu-item-text">Trang chủ</span></a></li>
        <li class="static"><a class="static menu-item" href="/gioi-thieu/Pages/default.aspx"><span class="menu-item-text">Giới thiệu</span></a></li>
        <li class="static dynamic-children"><a class="static dynamic-children menu-item" href="{prefix}/noidung/tintuc/Pages/tin-tuc.aspx?l={cats[0][0]}"><span class="menu-item-text">Tin tức - Sự kiện</span></a>
          <ul class="dynamic">
{menu_news}
          </ul>
        </li>
        <li class="static"><a class="static menu-item" href="/noidung/tintuc/Pages/tin-tuc.aspx?l=Vanban"><span class="menu-item-text">Văn bản</span></a></li>
        <li class="static"><a class="static menu-item" href="/lich-cong-tac/Pages/lich.aspx?thang={self.cal_month}&amp;nam={self.cal_year}"><span class="menu-item-text">Lịch công tác</span></a></li>
        <li class="static"><a class="static menu-item" href="{SUB_PREFIX}/Pages/default.aspx"><span class="menu-item-text">Công đoàn ngành</span></a></li>
        <li class="static"><a class="static menu-item" href="javascript:void(0)" onclick="window.open('https://moet.gov.vn/')"><span class="menu-item-text">Cơ sở dữ liệu ngành</span></a></li>
        <li class="static"><a class="static menu-item" href="/Pages/lien-he.aspx"><span class="menu-item-text">Liên hệ</span></a></li>
      </ul>
    </div>
    <div class="marquee-news"><marquee scrollamount="3">Chào mừng bạn đến với Cổng thông tin điện tử {escape(site_name)}</marquee></div>
  </div>
  <div class="breadcrumb-wrap"><span id="ctl00_PlaceHolderTitleBreadcrumb_ContentMap">{crumb_html}</span></div>
  <div id="contentRow">
    <div id="contentBox" aria-live="polite" aria-relevant="all">
      <div id="DeltaPlaceHolderMain">
        <a id="mainContent" name="mainContent" tabindex="-1"></a>
        <div class="row-fluid">
          <div class="col-main span8">
{main}
          </div>
          <div class="col-right span4">
{side}
          </div>
        </div>
      </div>
    </div>
  </div>
  <div id="lienket" class="lienket-website">
    <span class="lbl">Liên kết website:</span>
    <select onchange="if(this.value!='') window.open(this.value);"><option value="">-- Chọn liên kết --</option>
{links}
    </select>
    <div class="banner-links">
      <a href="https://chinhphu.vn/" target="_blank"><img src="/Style%20Library/PublishingPortal/images/lk-chinhphu.jpg" alt="Cổng TTĐT Chính phủ" /></a>
      <a href="https://moet.gov.vn/" target="_blank"><img src="/Style%20Library/PublishingPortal/images/lk-moet.jpg" alt="Bộ GD&amp;ĐT" /></a>
      <a href="http://example.org/lien-ket/tinh-demo" target="_blank"><img src="/Style%20Library/PublishingPortal/images/lk-tinh.jpg" alt="Cổng TTĐT tỉnh" /></a>
    </div>
  </div>
  <div id="footer" class="footer">
    <p><strong>CỔNG THÔNG TIN ĐIỆN TỬ {escape(site_name.upper())}</strong></p>
    <p>Cơ quan chủ quản: {escape(SITE_NAME)}. Địa chỉ: Số 12, đường Trường Chinh, phường Đức Xuân, thành phố Demo, tỉnh Demo.</p>
    <p>Điện thoại: <a href="tel:02093870000">0209.3870.000</a> - Fax: 0209.3870.001 - Email: <a href="mailto:sogddt@demo.gov.vn">sogddt@demo.gov.vn</a></p>
    <p>Giấy phép số 28/GP-TTĐT ngày 14/3/2016 của Sở Thông tin và Truyền thông tỉnh Demo. Ghi rõ nguồn "{escape(SITE_NAME)}" khi phát hành lại thông tin từ website này.</p>
    <p class="counter">Lượt truy cập: <span>{int(self._h("counter")[:6], 16):,}</span> | Đang trực tuyến: <span>{int(self._h("online", action)[:2], 16)}</span></p>
    <a href="#" onclick="window.scrollTo(0,0);return false;" class="back-to-top">Về đầu trang</a>
  </div>
</div>
</div>
<script type="text/javascript">
//<![CDATA[
var _fV4UI=true;
function ZoomIn(){{var e=document.getElementById('noidung');if(e){{e.style.fontSize='larger';}}}}
function ZoomOut(){{var e=document.getElementById('noidung');if(e){{e.style.fontSize='smaller';}}}}
ExecuteOrDelayUntilScriptLoaded(function(){{}}, 'sp.js');
//]]>
</script>
</form>
<span id="DeltaPlaceHolderUtilityContent"></span>
</body>
</html>
"""
        return page.encode("utf-8")

    def webpart(self, name: str, inner: str, wpq: int, *, noindex: bool = True) -> str:
        gid = str(uuid.UUID(self._h("wp", name)[:32]))
        return f"""<div class="ms-webpart-zone ms-fullWidth">
<div id="MSOZoneCell_WebPartWPQ{wpq}" class="s4-wpcell-plain ms-webpartzone-cell ms-webpart-cell-vertical ms-fullWidth ">
<div class="ms-webpart-chrome ms-webpart-chrome-vertical ms-webpart-chrome-fullWidth ">
  <div class="ms-webpart-chrome-title" id="WebPartTitleWPQ{wpq}">
    <span title="PublishingPortal - {name} - Use for formatted text, tables, and images." id="WebPartCaptionWPQ{wpq}" class="js-webpart-titleCell">
      <h2 style="text-align:justify;" class="ms-webpart-titleText"><nobr><span>PublishingPortal - {name}</span><span id="WebPartCaptionWPQ{wpq}"></span></nobr></h2>
    </span>
  </div>
  <div webpartid="{gid}" haspers="false" id="WebPartWPQ{wpq}" width="100%" class="ms-WPBody {'noindex ' if noindex else ''}" allowdelete="false" style="">
{inner}
  </div>
  <div class="ms-clear"></div>
</div>
</div>
</div>"""

    def sidebar(self, prefix: str, newest: dict | None = None) -> str:
        latest = [a for a in (newest or self.newest)[prefix]][:8]
        items = "\n".join(
            f'<li><a href="{a.path()}" title="{escape(a.title)}">{escape(a.title)}</a> '
            f'<span class="ngay-dang">({a.when.strftime("%d/%m/%Y")})</span></li>'
            for a in latest
        )
        box = f'<div class="tinmoinhat"><h3 class="box-title">Tin mới nhất</h3><ul>\n{items}\n</ul></div>'
        cal = (f'<div class="lich-box"><h3 class="box-title">Lịch công tác</h3>'
               f'<a href="/lich-cong-tac/Pages/lich.aspx?thang={self.cal_month}&amp;nam={self.cal_year}">'
               f'Xem lịch công tác tháng {self.cal_month}/{self.cal_year}</a></div>')
        tags = " ".join(
            f'<a href="/Pages/tim-kiem.aspx?k={quote(t)}">{escape(t)}</a>'
            for t in ("tuyển sinh", "chuyển đổi số", "thi tốt nghiệp", "học sinh giỏi")
        )
        return (self.webpart("Block_TinMoiNhat", box, 12)
                + self.webpart("Block_LichCongTac", cal, 13)
                + self.webpart("Block_TuKhoa", f'<div class="tag-cloud">{tags}</div>', 14))

    def teaser(self, a: Article, cat: str, *, big: bool = False) -> str:
        href = escape(a.path(cat))
        thumb = ""
        if a.images:
            thumb = (f'<a class="thumb" href="{href}"><img src="{a.images[0].path}" '
                     f'alt="" width="150" height="100" /></a>')
        lead = escape(a.lead[:220] + ("…" if len(a.lead) > 220 else ""))
        return (f'<div class="news-item{" news-item-big" if big else ""} clearfix">{thumb}\n'
                f'<h3 class="news-title"><a href="{href}">{escape(a.title)}</a></h3>\n'
                f'<div class="news-date">{a.when.strftime("%d/%m/%Y")}</div>\n'
                f'<div class="news-mota">{lead}</div></div>')

    # ------------------------------------------------------------------ pages
    def splash(self) -> bytes:
        """The plain home page of a ``discovery`` order other than "home"."""
        head = links = ""
        rng = random.Random(f"splash-{self.seed}-{self.discovery}")
        if self.discovery == "feed":
            head = (f'<link rel="alternate" type="application/rss+xml" title="Tin tức" '
                    f'href="/_layouts/15/listfeed.aspx?List={self.list_guid}" />')
        elif self.discovery == "listings":
            hrefs = [f"{prefix}/noidung/tintuc/Pages/tin-tuc.aspx?l={code}"
                     for prefix, code in self.listings]
            rng.shuffle(hrefs)
            links = "\n".join(f'<li><a href="{escape(h)}">Chuyên mục {i}</a></li>'
                              for i, h in enumerate(hrefs))
        elif self.discovery == "links":
            hrefs = [p for a in self.articles if a.status != "missing"
                     for p in self.url_variants(a)]
            # Per-visit tokens a portal prints in its links (&s=<24 hex>).
            hrefs += [f"{a.path()}&s={self.sid(a, k)}" for a in self.articles[::7]
                      if a.prefix == MAIN_PREFIX and a.status == "ok" for k in (7, 8)]
            rng.shuffle(hrefs)
            links = "\n".join(f'<li><a href="{escape(h)}">Bài {i}</a></li>'
                              for i, h in enumerate(hrefs))
        return (f'<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8" />'
                f'<title>{escape(SITE_NAME)}</title>{head}</head><body>'
                f'<h1>{escape(SITE_NAME)}</h1><p>Cổng thông tin điện tử đang được nâng cấp.</p>'
                f'<ul>{links}</ul></body></html>\n').encode()

    def home(self, prefix: str) -> bytes:
        blocks = []
        cats = SUB_CATEGORIES if prefix == SUB_PREFIX else MAIN_CATEGORIES
        for code, label, _ in cats:
            items = [a for a in self.listings[(prefix, code)] if a.status != "missing"][:5]
            teasers = "\n".join(self.teaser(a, code, big=i == 0) for i, a in enumerate(items))
            blocks.append(
                f'<div class="home-block"><h2 class="home-block-title"><a href="{prefix}/noidung/'
                f'tintuc/Pages/tin-tuc.aspx?l={code}">{label}</a></h2>\n{teasers}\n'
                f'<a class="view-all" href="{prefix}/noidung/tintuc/Pages/tin-tuc.aspx?l={code}">'
                f"Xem tất cả</a></div>")
        if prefix == MAIN_PREFIX:
            feat = "\n".join(
                f'<li><a href="{self.legacy_path(a)}">{escape(a.title)}</a></li>'
                for a in self.featured
            )
            blocks.insert(0, f'<div class="tin-noi-bat"><h2>Tin nổi bật</h2><ul>{feat}</ul></div>')
        main = self.webpart("Block_TrangChu", "\n".join(blocks), 2, noindex=False)
        name = SUB_NAME if prefix == SUB_PREFIX else SITE_NAME
        action = f"{prefix}/Pages/default.aspx"
        return self.shell(prefix=prefix, title=f"Trang chủ - {name}", action=action,
                          viewstate=self.viewstate("home", prefix), main=main,
                          crumbs=[("Trang chủ", None)])

    def listing(self, prefix: str, code: str, page: int | None, before: int | None) -> Response:
        cats = SUB_CATEGORIES if prefix == SUB_PREFIX else MAIN_CATEGORIES
        kinds = {c: k for c, _, k in cats}
        labels = {c: lab for c, lab, _ in cats}
        if code not in kinds:
            return self.not_found()
        kind = kinds[code]
        items = self.listings[(prefix, code)]
        base = f"{prefix}/noidung/tintuc/Pages/tin-tuc.aspx?l={code}"
        n_pages = max(1, -(-len(items) // PER_PAGE))
        pager = ""
        if kind == "more":
            if before is not None:
                items = [a for a in items if a.item_id < before]
            shown = items[:PER_PAGE]
            if len(items) > PER_PAGE:
                pager = (f'<div class="xemthem"><a href="{escape(base)}&amp;before='
                         f'{shown[-1].item_id}">Xem thêm</a></div>')
            page = 1
        else:
            page = min(max(1, page or 1), n_pages)
            shown = items[(page - 1) * PER_PAGE:page * PER_PAGE]
            pager = self.pager(kind, base, page, n_pages)
        teasers = "\n".join(self.teaser(a, code) for a in shown)
        inner = (f'<div class="danhsach-tin"><h2 class="cat-title">{labels[code]}</h2>\n'
                 f"{teasers}\n</div>\n{pager}")
        main = self.webpart("Block_DanhSachTin", inner, 2, noindex=False)
        action = f"./tin-tuc.aspx?l={code}"
        body = self.shell(
            prefix=prefix, title=f"{labels[code]} - {SUB_NAME if prefix else SITE_NAME}",
            action=action, viewstate=self.viewstate(f"l={code}", f"Page={page}"), main=main,
            crumbs=[("Trang chủ", f"{prefix}/Pages/default.aspx"), ("Tin tức", None),
                    (labels[code], None)])
        return Response(200, body)

    def pager(self, kind: str, base: str, page: int, n_pages: int) -> str:
        if n_pages <= 1:
            return ""

        def link(n: int, text: str) -> str:
            if kind == "postback":
                return f"<a href=\"javascript:__doPostBack('{PAGER_TARGET}','{n}')\">{text}</a>"
            return f'<a href="{escape(base)}&amp;Page={n}">{text}</a>'

        lo, hi = max(1, page - 2), min(n_pages, page + 2)
        parts = []
        if page > 1:
            parts.append(link(1, "Trang đầu"))
            parts.append(link(page - 1, "Trang trước"))
        for n in range(lo, hi + 1):
            parts.append(f'<span class="current">{n}</span>' if n == page else link(n, str(n)))
        if page < n_pages:
            parts.append(link(page + 1, "Trang sau"))
            parts.append(link(n_pages, "Trang cuối"))
        return '<div class="pager phantrang">' + " ".join(parts) + "</div>"

    def article_page(self, a: Article, query: str) -> bytes:
        sub = a.prefix == SUB_PREFIX
        q = parse_qs(query)
        cat = (q.get("l") or [a.category])[0]
        cats = SUB_CATEGORIES if sub else MAIN_CATEGORIES
        label = {c: lab for c, lab, _ in cats}.get(cat, "Tin tức")
        print_href = f"{a.prefix}/noidung/tintuc/Pages/in-bai-viet.aspx?ItemID={a.item_id}"
        title = escape(a.title)
        lead = escape(a.lead, quote=False)
        if sub:
            head = (f'<div class="ngaydang">Ngày đăng: {a.date_text}</div>\n'
                    f'<div class="tieude">{title}</div>\n'
                    f'<div class="tomtat"><strong>{lead}</strong></div>')
        else:
            head = (f'<h1 class="title">{title}</h1>\n'
                    f'<div class="sapo"><p><strong>{lead}</strong></p></div>')
        tools = f"""<div class="news-toolbar">
  <a href="javascript:void(0);" onclick="ZoomIn()" class="zoom-in">Tăng cỡ chữ</a>
  <a href="javascript:void(0);" onclick="ZoomOut()" class="zoom-out">Giảm cỡ chữ</a>
  <a class="print" href="{print_href}" target="_blank" title="In bài viết"><img src="/_layouts/15/images/print.gif" alt="In" /></a>
  <a class="email" href="mailto:?subject={quote(a.title)}&amp;body=" title="Gửi email"><img src="/_layouts/15/images/email.gif" alt="Email" /></a>
  <span class="luotxem">Lượt xem: {a.views}</span>
</div>"""
        if sub:
            toolbar = f"{tools}\n{head}"
        else:
            toolbar = f'<div class="toolbar-top"><span class="date">{a.date_text}</span>\n{tools}</div>\n{head}'
        body = markup.body(a, self.seed)
        att = ""
        if a.attachments:
            lis = "\n".join(
                f'<li><img src="/_layouts/15/images/ic{f.kind}.png" width="16" height="16" alt="" /> '
                f'<a href="{f.path}" target="_blank">{escape(f.name)}</a></li>'
                for f in a.attachments
            )
            att = f'<div class="file-dinhkem"><span class="lbl">Tệp đính kèm:</span><ul>\n{lis}\n</ul></div>'
        share = (f'<div class="social-share"><a href="https://www.facebook.com/sharer/sharer.php?u='
                 f'{quote(a.path(), safe="")}" target="_blank"><img src="/_layouts/15/images/facebook.png" '
                 f'width="16" height="16" alt="Facebook" /></a> <a href="https://zalo.me/share?u='
                 f'{quote(a.path(), safe="")}" target="_blank">Zalo</a></div>')
        rel_items = []
        for r in self.related(a):
            href = r.path(cat) if cat in r.categories else r.path()
            rel_items.append(f'<li><a href="{escape(href)}">{escape(r.title)}</a> '
                             f'<span class="date">({r.when.strftime("%d/%m/%Y")})</span></li>')
        rel_cls, rel_title = ("tinkhac", "Các tin khác") if sub else ("tinlienquan", "Tin liên quan")
        related = (f'<div class="{rel_cls}"><h3 class="tlq-title">{rel_title}</h3><ul>\n'
                   + "\n".join(rel_items) + "\n</ul></div>")
        view = (f'<div id="noidung" class="noidung-tin">\n<div class="ms-rtestate-field">\n{body}\n</div>\n'
                f"</div>\n{att}\n{share}\n{related}")
        main = self.webpart("Block_BanTin_Toolbar", toolbar, 3) + "\n" + \
            self.webpart("Block_BanTin_ViewData", view, 4)
        if not sub:
            k = a.item_id % 3
            mr = "\n".join(f'<li><a href="{escape(self.sid_path(m, k))}">{escape(m.title)}</a></li>'
                           for m in self.most_read)
            main += "\n" + self.webpart(
                "Block_TinXemNhieu", f'<div class="tinxemnhieu"><h3>Tin xem nhiều</h3><ul>{mr}</ul></div>', 5)
        action = "./chi-tiet-tin-tuc.aspx?" + query
        return self.shell(
            prefix=a.prefix, title=a.title, action=action,
            viewstate=self.viewstate("item", a.prefix, a.item_id, size=1400), main=main,
            newest=None if a in self.new else self.frozen_newest,
            crumbs=[("Trang chủ", f"{a.prefix}/Pages/default.aspx"),
                    (label, f"{a.prefix}/noidung/tintuc/Pages/tin-tuc.aspx?l={cat}"),
                    ("Chi tiết tin", None)])

    def print_page(self, a: Article) -> bytes:
        pars = "\n".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8" /><title>In bài viết - {escape(a.title)}</title>
<meta name="robots" content="noindex, nofollow" /></head>
<body onload="window.print()"><div class="print-page"><h2>{escape(a.title)}</h2><p>{a.date_text}</p>
<p><b>{escape(a.lead)}</b></p>{pars}<p align="right"><b>{escape(a.byline or '')}</b></p>
<p><a href="javascript:window.print()">In trang</a> | <a href="javascript:window.close()">Đóng</a></p></div></body></html>""".encode()

    def search_page(self, k: str) -> bytes:
        fk = fold(k)
        hits = [a for a in self.newest[MAIN_PREFIX] if fk and fk in fold(a.title)][:20]
        res = "\n".join(f'<li><a href="{escape(a.path())}">{escape(a.title)}</a></li>' for a in hits)
        inner = (f'<div class="ms-srch-result"><p>Kết quả tìm kiếm cho "{escape(k)}": {len(hits)}'
                 f" kết quả</p><ul>{res}</ul>"
                 f'<a href="/Pages/tim-kiem.aspx?k={quote(k)}&amp;start1=11">Trang sau</a></div>')
        return self.shell(prefix="", title="Tìm kiếm", action=f"./tim-kiem.aspx?k={quote(k)}",
                          viewstate=self.viewstate("search", k), main=self.webpart(
                              "Block_TimKiem", inner, 2),
                          crumbs=[("Trang chủ", "/Pages/default.aspx"), ("Tìm kiếm", None)])

    def calendar(self, month: int, year: int) -> bytes:
        rng = random.Random(f"cal-{self.seed}-{year}-{month}")
        nm, ny = (1, year + 1) if month == 12 else (month + 1, year)
        pm, py = (12, year - 1) if month == 1 else (month - 1, year)
        rows = "\n".join(
            f"<tr><td>{d:02d}/{month:02d}/{year}</td><td>{rng.choice(['08:00', '14:00', '07:30'])}</td>"
            f"<td>{escape(rng.choice(['Giám đốc Sở họp giao ban', 'Kiểm tra công tác dạy học tại huyện Hòa An', 'Họp Hội đồng thi đua khen thưởng', 'Làm việc với Phòng GD&ĐT Yên Bình', 'Dự Hội nghị trực tuyến với Bộ GD&ĐT']))}</td></tr>"
            for d in sorted(rng.sample(range(1, 29), 5))
        )
        inner = (f'<div class="lich-cong-tac"><h2>Lịch công tác tháng {month}/{year}</h2>'
                 f'<table class="lich"><tr><th>Ngày</th><th>Giờ</th><th>Nội dung</th></tr>{rows}</table>'
                 f'<div class="lich-nav"><a href="/lich-cong-tac/Pages/lich.aspx?thang={pm}&amp;nam={py}">« Tháng trước</a> '
                 f'<a href="/lich-cong-tac/Pages/lich.aspx?thang={nm}&amp;nam={ny}">Tháng sau »</a></div></div>')
        return self.shell(prefix="", title=f"Lịch công tác tháng {month}/{year}",
                          action=f"./lich.aspx?thang={month}&nam={year}",
                          viewstate=self.viewstate("cal", month, year),
                          main=self.webpart("Block_LichCongTac", inner, 2),
                          crumbs=[("Trang chủ", "/Pages/default.aspx"), ("Lịch công tác", None)])

    def static_page(self, title: str, text: str) -> bytes:
        inner = f'<div class="ms-rtestate-field"><h2>{escape(title)}</h2><p>{escape(text)}</p></div>'
        return self.shell(prefix="", title=title, action="./default.aspx",
                          viewstate=self.viewstate("static", title),
                          main=self.webpart("Block_NoiDung", inner, 2),
                          crumbs=[("Trang chủ", "/Pages/default.aspx"), (title, None)])

    def not_found(self) -> Response:
        body = self.shell(prefix="", title="Không tìm thấy trang", action="./404.aspx",
                          viewstate=self.viewstate("404"), sidebar=False,
                          main='<div class="error-404"><h2>Không tìm thấy trang</h2><p>Trang bạn yêu cầu '
                          'không tồn tại hoặc đã bị xóa.</p><a href="/Pages/default.aspx">Về trang chủ</a></div>',
                          crumbs=[("Trang chủ", "/Pages/default.aspx")])
        return Response(404, body)

    @staticmethod
    def server_error() -> Response:
        body = (b"<!DOCTYPE html><html><head><title>Runtime Error</title></head><body bgcolor=\"white\">"
                b"<span><H1>Server Error in '/' Application.<hr width=100% size=1 color=silver></H1>"
                b"<h2> <i>Runtime Error</i> </h2></span><b> Description: </b>An application error "
                b"occurred on the server.</body></html>")
        return Response(500, body)

    def feed(self, host_base: str) -> bytes:
        items = []
        for a in [a for a in self.newest[MAIN_PREFIX]][:FEED_SIZE]:
            link = escape(host_base + a.path())
            items.append(f"""<item>
<title>{escape(a.title)}</title>
<link>{link}</link>
<description><![CDATA[<div><b>Tóm tắt:</b> {escape(a.lead)}</div>]]></description>
<author>{escape(a.byline or 'Văn phòng Sở')}</author>
<pubDate>{format_datetime(a.when.replace(tzinfo=_TZ))}</pubDate>
<guid isPermaLink="true">{link}</guid>
</item>""")
        now = format_datetime(self.newest[MAIN_PREFIX][0].when.replace(tzinfo=_TZ))
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<!--RSS generated by Microsoft SharePoint Foundation RSS Generator-->
<?xml-stylesheet type="text/xsl" href="/_layouts/15/RssXslt.aspx?List={self.list_guid}" version="1.0"?>
<rss version="2.0">
<channel>
<title>{escape(SITE_NAME)}: Tin tức</title>
<link>{escape(host_base)}/noidung/tintuc/Pages/tin-tuc.aspx?l=Tintrongtinh</link>
<description>Nguồn cấp RSS cho danh sách Tin tức.</description>
<lastBuildDate>{now}</lastBuildDate>
<generator>Microsoft SharePoint Foundation RSS Generator</generator>
<ttl>60</ttl>
<language>vi-VN</language>
{chr(10).join(items)}
</channel>
</rss>
""".encode()

    def sitemap_articles(self) -> list[Article]:
        return [a for i, a in enumerate(self.articles) if i % 3 == 0]

    def sitemap(self, host_base: str) -> bytes:
        urls = [f"<url><loc>{escape(host_base)}/Pages/default.aspx</loc><changefreq>daily</changefreq></url>"]
        for a in self.sitemap_articles():
            urls.append(f"<url><loc>{escape(host_base + a.path())}</loc>"
                        f"<lastmod>{a.when.strftime('%Y-%m-%d')}</lastmod></url>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                + "\n".join(urls) + "\n</urlset>\n").encode()

    def robots(self, host_base: str) -> bytes:
        return (
            "User-agent: *\n"
            "Allow: /_layouts/15/listfeed.aspx\n"
            "Disallow: /_layouts/\n"
            "Disallow: /Pages/tim-kiem.aspx\n"
            "Disallow: /noidung/tintuc/Pages/in-bai-viet.aspx\n"
            f"Disallow: {SUB_PREFIX}/_layouts/\n"
            f"Disallow: {SUB_PREFIX}/Pages/tim-kiem.aspx\n"
            f"Disallow: {SUB_PREFIX}/noidung/tintuc/Pages/in-bai-viet.aspx\n"
            "\n"
            f"Sitemap: {host_base}/sitemap.xml\n"
        ).encode()

    # ------------------------------------------------------------------ routing
    def attachment(self, prefix: str, item_id: int, fname: str):
        a = self.by_key.get((prefix, item_id))
        if a is None or a.status == "always_500":
            return None
        for f in a.attachments:
            if f.path.rsplit("/", 1)[1].lower() == fname.lower():
                return a, f
        return None

    def handle(self, method: str, target: str, form: dict | None = None,
               host_base: str = "http://127.0.0.1", headers=None) -> Response:  # noqa: ANN001
        """One request -> one response. ``target`` is the path with its query string;
        ``headers`` (the request's) make article pages answer conditional requests."""
        return self.not_modified(self._handle(method, target, form, host_base), headers)

    def _handle(self, method: str, target: str, form: dict | None = None,
                host_base: str = "http://127.0.0.1") -> Response:
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        low = path.lower()
        prefix = ""
        if low == SUB_PREFIX or low.startswith(SUB_PREFIX + "/"):
            prefix, low = SUB_PREFIX, low[len(SUB_PREFIX):]
        if low in ("", "/"):
            return Response(302, headers={"Location": f"{prefix}/Pages/default.aspx"})
        if not prefix:
            if low == "/robots.txt":
                return Response(200, self.robots(host_base), "text/plain; charset=utf-8")
            if low == "/sitemap.xml":
                return Response(200, self.sitemap(host_base), "application/xml; charset=utf-8")
            if low == "/_layouts/15/listfeed.aspx":
                lst = (q.get("List") or q.get("list") or "").strip().upper()
                if lst.strip("{}") != self.list_guid.strip("{}"):
                    return Response(404, b"<html><body>List does not exist.</body></html>")
                return Response(200, self.feed(host_base), "text/xml; charset=utf-8")
            if low == "/lich-cong-tac/pages/lich.aspx":
                try:
                    m, y = int(q.get("thang", "")), int(q.get("nam", ""))
                    if not (1 <= m <= 12 and 1 <= y <= 9999):
                        raise ValueError
                except ValueError:
                    m, y = self.cal_month, self.cal_year
                return Response(200, self.calendar(m, y))
            if low == "/gioi-thieu/pages/default.aspx":
                return Response(200, self.static_page(
                    "Giới thiệu", f"{SITE_NAME} là cơ quan chuyên môn thuộc UBND tỉnh Demo, tham "
                    "mưu, giúp UBND tỉnh quản lý nhà nước về giáo dục và đào tạo."))
            if low == "/pages/lien-he.aspx":
                return Response(200, self.static_page(
                    "Liên hệ", "Số 12, đường Trường Chinh, thành phố Demo. Điện thoại: 0209.3870.000."))
        if low == "/pages/default.aspx":
            if not prefix and self.discovery != "home":
                return Response(200, self.splash())
            return Response(200, self.home(prefix))
        if low == "/pages/tim-kiem.aspx":
            return Response(200, self.search_page(q.get("k", "")))
        if low == "/pages/viewnews.aspx":
            a = self.by_key.get((prefix, _int(q.get("ID") or q.get("id"))))
            if a is None:
                return self.not_found()
            return Response(301, headers={"Location": host_base + a.path()})
        if low == "/noidung/tintuc/pages/tin-tuc.aspx":
            code = q.get("l", "")
            page = _int(q.get("Page") or q.get("page"))
            before = _int(q.get("before"))
            kinds = {c: k for c, _, k in (SUB_CATEGORIES if prefix else MAIN_CATEGORIES)}
            if kinds.get(code) == "postback":
                page = None  # this listing pages only through postbacks
                if method == "POST":
                    vs = (form or {}).get("__VIEWSTATE", "")
                    state = self.read_viewstate(vs) if vs else None
                    if state is None:
                        return Response(400, b"<html><body><h2>Validation of viewstate failed: "
                                        b"__VIEWSTATE is missing or invalid.</h2></body></html>")
                    page = _int(state.get("Page")) or 1
                    if (form or {}).get("__EVENTTARGET") == PAGER_TARGET:
                        page = _int((form or {}).get("__EVENTARGUMENT")) or page
            return self.listing(prefix, code, page, before)
        if low == "/noidung/tintuc/pages/chi-tiet-tin-tuc.aspx":
            a = self.by_key.get((prefix, _int(q.get("ItemID") or q.get("itemid"))))
            if a is None or a.status == "deleted":
                return self.not_found()
            if a.status == "always_500":
                return self.server_error()
            if a.status == "fail_once":
                with self._lock:
                    first = (a.prefix, a.item_id) not in self._failed_once
                    self._failed_once.add((a.prefix, a.item_id))
                if first:
                    return self.server_error()
            body = self.article_page(a, query)
            resp = Response(200, body, headers=self.validators(a, body))
            if a.status == "slow":
                resp.delay = -1.0  # the portal fills in its slow_delay
            return resp
        if low == "/noidung/tintuc/pages/in-bai-viet.aspx":
            a = self.by_key.get((prefix, _int(q.get("ItemID"))))
            return Response(200, self.print_page(a)) if a else self.not_found()
        if low.startswith("/noidung/tintuc/lists/tintuc/attachments/"):
            bits = path.split("/")
            found = self.attachment(prefix, _int(bits[-2]), bits[-1])
            if not found:
                return self.not_found()
            a, f = found
            lines = [a.lead, *a.paragraphs[:3]]
            if f.kind == "pdf":
                return Response(200, files.pdf(f.title, lines), "application/pdf")
            return Response(200, files.docx(f.title, lines), "application/vnd.openxmlformats-"
                            "officedocument.wordprocessingml.document")
        if low.endswith((".jpg", ".jpeg", ".png", ".gif")) and (
                "/publishingimages/" in low or low.startswith(("/picturelibrary/", "/_layouts/",
                                                               "/style library/"))):
            return Response(200, _JPEG, "image/jpeg")
        if low.startswith(("/_layouts/", "/style library/")) and low.endswith((".css", ".js")):
            ctype = "text/css" if low.endswith(".css") else "application/javascript"
            return Response(200, b"/* demo */\n", ctype)
        return self.not_found()

    def mark_served(self, a: Article) -> None:
        """Count a served request against a fail-once page (offline rendering helper)."""
        with self._lock:
            self._failed_once.add((a.prefix, a.item_id))


def _int(v) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


_TZ = datetime.strptime("+0700", "%z").tzinfo
_JPEG = files.jpeg()
