"""A third demo site, in another family: a Liferay portal (asset publishers, portlets).

What makes a Liferay portal hard for a crawler, each present here:

- **Session tokens in every link.** Article links carry ``p_p_auth`` (a token that differs
  on every page) and the portlet's ``_<portlet>_redirect`` (the page the link was printed
  on), so one article is linked under a different URL from every page.
- **Listings paged by ``_cur``** (``?p_p_id=...&_<portlet>_cur=2``), and a second listing
  whose older items come only through a **"Xem thêm" button** that GETs the next items as
  an HTML fragment: the first button names it in ``data-url``, the fragment's own button
  in an ``onclick`` loader.
- **Portlet chrome titles.** Every portlet has a title bar (``h2.portlet-title``:
  "Chi tiết tin", "Các tin khác"); the article's headline is its own ``h3``.
- **Static pages with rich text** (``Giới thiệu``, ``Chức năng nhiệm vụ``, ``Cơ cấu tổ
  chức``): web content displays with a heading and long paragraphs, no date: not news.
- **"Các tin khác"** under every article, a calendar and a search page (traps), a login
  link and action URLs (``p_p_lifecycle=1``, state-changing: never requested).
- Each article page names its canonical URL (``<link rel="canonical">``), which drops the
  ``/web/guest`` prefix of the links: that is the URL the archive must record.

    with LiferayPortal(n_articles=60) as site:
        site.start_url, site.articles, site.static_titles, site.requests
"""

from __future__ import annotations

import hashlib
import html
from urllib.parse import parse_qs, quote, urlsplit

from .content import generate
from .loopback import LoopbackSite

SITE = "Sở Tư pháp tỉnh Demo"
PER_PAGE = 8  # asset publisher page size (_cur pages and load-more batches alike)
NEWS = ("tin-tuc", "101_INSTANCE_t1N3ws", "Tin tức - Sự kiện")  # paged by _cur
NOTICES = ("thong-bao", "101_INSTANCE_tB4o9x", "Thông báo")  # "Xem thêm" fragments
STATIC = {
    "/gioi-thieu": ("Giới thiệu chung",
                    "Sở Tư pháp tỉnh Demo là cơ quan chuyên môn thuộc Ủy ban nhân dân tỉnh, có "
                    "chức năng tham mưu, giúp Ủy ban nhân dân tỉnh quản lý nhà nước về công tác "
                    "xây dựng và thi hành pháp luật, theo dõi thi hành pháp luật, kiểm tra, xử lý "
                    "văn bản quy phạm pháp luật, kiểm soát thủ tục hành chính."),
    "/chuc-nang-nhiem-vu": ("Chức năng, nhiệm vụ",
                            "Trình Ủy ban nhân dân tỉnh dự thảo quyết định, chỉ thị; quy hoạch, "
                            "kế hoạch dài hạn, 05 năm và hằng năm; chương trình, đề án, dự án "
                            "và các văn bản khác thuộc thẩm quyền ban hành của Ủy ban nhân dân "
                            "tỉnh trong lĩnh vực tư pháp."),
    "/co-cau-to-chuc": ("Cơ cấu tổ chức",
                        "Lãnh đạo Sở gồm Giám đốc và không quá 03 Phó Giám đốc. Các phòng "
                        "chuyên môn, nghiệp vụ gồm Văn phòng, Thanh tra, Phòng Xây dựng, kiểm "
                        "tra và theo dõi thi hành pháp luật, Phòng Hành chính tư pháp, Phòng "
                        "Bổ trợ tư pháp; đơn vị sự nghiệp gồm Trung tâm Trợ giúp pháp lý nhà "
                        "nước và Phòng Công chứng số 1."),
}
TRAPS = ("/lich-cong-tac", "/tim-kiem", "/c/portal/login")
_PARAGRAPH = '<p style="text-align: justify;">{}</p>'


class LiferayPortal(LoopbackSite):
    """The Liferay site and its ground truth; deterministic for (n_articles, seed)."""

    headers = {"Liferay-Portal": "Liferay Community Edition Portal 7.4.3"}

    def __init__(self, n_articles: int = 60, seed: int = 7):
        stories, _ = generate(2 * n_articles + 20, seed)  # a third are sub-site or broken
        stories = [a for a in stories if a.status == "ok" and not a.prefix][:n_articles]
        stories.sort(key=lambda a: a.when, reverse=True)  # newest first
        # Two thirds news (paged by _cur), one third notices ("Xem thêm" fragments).
        self.lists = {NEWS: [a for i, a in enumerate(stories) if i % 3],
                      NOTICES: [a for i, a in enumerate(stories) if not i % 3]}
        self.list_of = {a.item_id: lst for lst, items in self.lists.items() for a in items}
        self.by_slug = {self._slug(a): a for a in stories}
        self.stories = stories
        super().__init__()
        self._served = 0

    # ------------------------------------------------------------------ truth
    @staticmethod
    def _slug(a) -> str:  # noqa: ANN001
        return f"bai-viet-{a.item_id}"

    def _canonical(self, a) -> str:  # noqa: ANN001
        name, portlet, _ = self.list_of[a.item_id]
        return f"/{name}/-/asset_publisher/{portlet.rsplit('_', 1)[1]}/content/{self._slug(a)}"

    @property
    def articles(self) -> list[dict]:
        """One dict per article a correct crawl archives; ``url`` is the canonical one."""
        return [{"url": self.base_url + self._canonical(a), "title": a.title,
                 "published": a.when.strftime("%Y-%m-%d"), "summary": a.lead,
                 "body": "\n\n".join(a.paragraphs), "slug": self._slug(a)}
                for a in self.stories]

    @property
    def static_titles(self) -> list[str]:
        return [title for title, _ in STATIC.values()]

    portlet_titles = ("Chi tiết tin", "Các tin khác", "Tin tức - Sự kiện", "Thông báo",
                      "Liên kết website")
    traps = TRAPS

    # ------------------------------------------------------------------ links
    def _token(self) -> str:
        """A p_p_auth token: different on every page served (as per session)."""
        with self._lock:
            self._served += 1
            n = self._served
        return hashlib.sha256(f"auth-{n}".encode()).hexdigest()[:8]

    def _link(self, a, page: str) -> str:  # noqa: ANN001
        """How the asset publisher links an article from ``page``: /web/guest prefix, the
        page's token and the page it was printed on."""
        _, portlet, _ = self.list_of[a.item_id]
        return (f"/web/guest{self._canonical(a)}?p_p_auth={self._token()}"
                f"&_{portlet}_redirect={quote(page, safe='')}")

    # ------------------------------------------------------------------ pages
    def _layout(self, title: str, portlets: str, *, canonical: str | None = None) -> bytes:
        menu = "".join(f'<li><a href="{href}"><span>{html.escape(text)}</span></a></li>'
                       for href, text in [("/", "Trang chủ"), ("/gioi-thieu", "Giới thiệu"),
                                          ("/chuc-nang-nhiem-vu", "Chức năng, nhiệm vụ"),
                                          ("/co-cau-to-chuc", "Cơ cấu tổ chức"),
                                          (f"/{NEWS[0]}", NEWS[2]),
                                          (f"/{NOTICES[0]}", NOTICES[2]),
                                          ("/lich-cong-tac?thang=5&nam=2024", "Lịch công tác"),
                                          ("/tim-kiem?q=", "Tìm kiếm")])
        link = (f'<link rel="canonical" href="{html.escape(self.base_url + canonical)}" />'
                if canonical else "")
        return f"""<!DOCTYPE html>
<html class="ltr" dir="ltr" lang="vi-VN"><head><title>{html.escape(title)} - {SITE}</title>
<meta content="text/html; charset=UTF-8" http-equiv="content-type" />{link}
<script src="/o/frontend-js-web/liferay/global.bundle.js"></script>
<script>Liferay.currentURL = '/'; Liferay.authToken = '{self._token()}';</script>
</head><body class="controls-visible guest-site signed-out public-page site">
<header id="banner"><div class="site-name">{SITE}</div>
<nav id="navigation"><ul>{menu}</ul></nav>
<a href="/c/portal/login?p_l_id=20143" class="sign-in">Đăng nhập</a></header>
<section id="content"><div class="columns-2" id="main-content">
<div class="portlet-layout row"><div class="col-md-8 portlet-column" id="column-1">
{portlets}
</div><div class="col-md-4 portlet-column" id="column-2">
{self._portlet("3_INSTANCE_lk", "Liên kết website",
               '<ul><li><a href="https://chinhphu.vn/">Cổng TTĐT Chính phủ</a></li>'
               '<li><a href="https://moj.gov.vn/">Bộ Tư pháp</a></li></ul>')}
{self._portlet("poll", "Thăm dò ý kiến",
               f'<a href="/?p_p_id=poll&amp;p_p_lifecycle=1&amp;p_auth={self._token()}'
               f'&amp;_poll_vote=1">Bình chọn</a>')}
</div></div></div></section>
<footer id="footer"><p>Bản quyền thuộc {SITE}. Địa chỉ: số 5, đường Hùng Vương.</p></footer>
</body></html>""".encode()

    @staticmethod
    def _portlet(portlet: str, title: str, body: str) -> str:
        return (f'<div class="portlet-boundary portlet-boundary_{portlet.split("_")[0]}_ '
                f'portlet-static" id="p_p_id_{portlet}_"><section class="portlet" '
                f'id="portlet_{portlet}"><div class="portlet-content">'
                f'<h2 class="portlet-title"><span class="portlet-title-text">'
                f'{html.escape(title)}</span></h2>'
                f'<div class="portlet-content-container"><div class="portlet-body">{body}'
                f'</div></div></div></section></div>')

    def _entries(self, items, page: str) -> str:  # noqa: ANN001
        return "".join(
            f'<div class="asset-abstract"><h3 class="asset-title"><a href="'
            f'{html.escape(self._link(a, page))}">{html.escape(a.title)}</a></h3>'
            f'<span class="metadata-publish-date">{a.when.strftime("%d/%m/%Y")}</span>'
            f'<div class="asset-summary">{html.escape(a.lead[:120])}…</div></div>'
            for a in items)

    def home(self) -> bytes:
        blocks = []
        for lst in (NEWS, NOTICES):
            name, portlet, title = lst
            items = self.lists[lst][:4]
            blocks.append(self._portlet(portlet, title, self._entries(items, "/") +
                                        f'<a class="view-all" href="/{name}">Xem tất cả</a>'))
        return self._layout("Trang chủ", "".join(blocks))

    def news_page(self, cur: int) -> bytes:
        name, portlet, title = NEWS
        items = self.lists[NEWS]
        pages = (len(items) + PER_PAGE - 1) // PER_PAGE
        cur = min(max(cur, 1), pages)
        here = f"/{name}" if cur == 1 else f"/{name}?p_p_id={portlet}&_{portlet}_cur={cur}"

        def href(n: int) -> str:
            return html.escape(f"/{name}?p_p_id={portlet}&p_p_lifecycle=0&p_p_state=normal"
                               f"&_{portlet}_delta={PER_PAGE}&_{portlet}_cur={n}")

        pager = "".join(f'<li><a href="{href(n)}">{n}</a></li>' if n != cur else
                        f'<li class="active"><span>{n}</span></li>' for n in range(1, pages + 1))
        if cur < pages:
            pager += f'<li><a href="{href(cur + 1)}">Tiếp</a></li>'
        body = (self._entries(items[(cur - 1) * PER_PAGE:cur * PER_PAGE], here)
                + f'<ul class="pagination lfr-pagination-buttons">{pager}</ul>')
        return self._layout(title, self._portlet(portlet, title, body))

    def _more_url(self, start: int) -> str:
        name, portlet, _ = NOTICES
        return (f"/{name}?p_p_id={portlet}&p_p_lifecycle=2&p_p_resource_id=loadMore"
                f"&_{portlet}_start={start}")

    def notices_page(self) -> bytes:
        name, portlet, title = NOTICES
        items = self.lists[NOTICES]
        body = f'<div class="news-list">{self._entries(items[:PER_PAGE], "/" + name)}</div>'
        if len(items) > PER_PAGE:
            body += (f'<div class="load-more text-center"><button type="button" '
                     f'class="btn btn-primary" data-url="{html.escape(self._more_url(PER_PAGE))}"'
                     f'>Xem thêm</button></div>')
        return self._layout(title, self._portlet(portlet, title, body))

    def fragment(self, start: int) -> bytes:
        """The next items of the notices, as the "Xem thêm" button loads them."""
        name, _, _ = NOTICES
        items = self.lists[NOTICES]
        out = self._entries(items[start:start + PER_PAGE], "/" + name)
        if start + PER_PAGE < len(items):
            out += (f'<div class="load-more"><a href="javascript:void(0);" class="btn" '
                    f'onclick="loadMore(this, \'{self._more_url(start + PER_PAGE)}\');'
                    f' return false;">Xem thêm</a></div>')
        return out.encode()

    def article_page(self, a, page: str) -> bytes:  # noqa: ANN001
        lst = self.list_of[a.item_id]
        same = [x for x in self.lists[lst] if x is not a][:5]
        text = "".join(_PARAGRAPH.format(html.escape(p)) for p in a.paragraphs)
        detail = (f'<div class="asset-full-content"><h3 class="header-title">'
                  f'{html.escape(a.title)}</h3>'
                  f'<div class="metadata-publish-date"><span class="date">'
                  f'{a.when.strftime("%d/%m/%Y")}</span></div>'
                  f'<div class="lead"><strong>{html.escape(a.lead)}</strong></div>'
                  f'<div class="journal-content-article">{text}</div></div>')
        others = self._portlet("101_INSTANCE_kh4c", "Các tin khác",
                               f'<ul class="other-news">{self._entries(same, page)}</ul>')
        return self._layout(a.title, self._portlet(lst[1], "Chi tiết tin", detail) + others,
                            canonical=self._canonical(a))

    def static_page(self, path: str) -> bytes:
        title, text = STATIC[path]
        body = (f'<div class="journal-content-article"><h2>{html.escape(title)}</h2>'
                + "".join(_PARAGRAPH.format(html.escape(text)) for _ in range(3)) + "</div>")
        return self._layout(title, self._portlet("56_INSTANCE_wcd", title, body))

    def answer(self, target: str) -> tuple[int, bytes, str]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        html_type = "text/html; charset=utf-8"
        if path == "/robots.txt":
            return 200, b"User-agent: *\nDisallow: /c/portal/\n", "text/plain"
        if path == "/" and q.get("p_p_lifecycle") == "1":
            return 200, self._layout("Bình chọn", "<p>Cảm ơn bạn đã bình chọn.</p>"), html_type
        if path == "/":
            return 200, self.home(), html_type
        if path in STATIC:
            return 200, self.static_page(path), html_type
        if path == f"/{NEWS[0]}":
            cur = q.get(f"_{NEWS[1]}_cur", "1")
            return 200, self.news_page(int(cur) if cur.isdigit() else 1), html_type
        if path == f"/{NOTICES[0]}":
            if q.get("p_p_lifecycle") == "2":
                start = q.get(f"_{NOTICES[1]}_start", "")
                if not start.isdigit():
                    return 400, b"bad start", "text/plain"
                return 200, self.fragment(int(start)), html_type
            return 200, self.notices_page(), html_type
        if path.startswith(TRAPS):
            return 200, self._layout("Lịch công tác", "<p>Không có lịch.</p>"), html_type
        slug = path.rsplit("/", 1)[-1]
        a = self.by_slug.get(slug)
        if a is not None and path.removeprefix("/web/guest") == self._canonical(a):
            return 200, self.article_page(a, parts.path), html_type
        return 404, self._layout("Không tìm thấy", "<p>Trang không tồn tại.</p>"), html_type

    # ------------------------------------------------------------------ server
