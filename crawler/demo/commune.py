"""A second demo site: a commune portal on a home-grown CMS that no family describes.

Its chrome is the kind no rule names: a hotline box in the content column, a notice at
the end of every article's text (it reads like prose: only its recurring at the same
place on every page gives it away), a "Tin cùng chuyên mục" box, a visitor counter, a
footer. It exists to prove that the crawl reads unknown markup generically and
learns the site's template (``crawler/templates.py``) so that none of that chrome reaches
a record. Articles reuse the main demo portal's generated stories (titles, paragraphs,
bylines), laid out differently.

    with CommunePortal(n_articles=40) as site:
        site.start_url            # "http://127.0.0.1:PORT/"
        site.articles             # ground truth: [{url, title, published, body, byline}]
        site.chrome               # texts that must never appear in a record
"""

from __future__ import annotations

import html

from .content import generate
from .loopback import LoopbackSite

PER_PAGE = 10
HOTLINE = "Đường dây nóng tiếp nhận phản ánh, kiến nghị của người dân: 0209.3870.999"
NOTICE = ("Mọi ý kiến đóng góp xin gửi về Bộ phận Tiếp nhận và Trả kết quả, Ủy ban nhân dân "
          "xã Tân Thành, thôn Trung, điện thoại 0209.3870.888, trong giờ hành chính.")
FOOTER = ("Bản quyền thuộc Ủy ban nhân dân xã Tân Thành, huyện Bạch Thông, tỉnh Bắc Kạn. "
          "Chịu trách nhiệm nội dung: Chủ tịch UBND xã.")
MENU = ["Trang chủ", "Giới thiệu", "Tin tức - Sự kiện", "Văn bản", "Thủ tục hành chính",
        "Liên hệ"]
STATIC = ["/", "/gioi-thieu.html", "/tin-tuc", "/van-ban.html", "/thu-tuc-hanh-chinh.html",
          "/lien-he.html"]
ABOUT = ("Xã Tân Thành nằm ở phía nam huyện Bạch Thông, có diện tích tự nhiên 2.930 ha, "
         "gồm 11 thôn với 1.024 hộ, 4.300 nhân khẩu, đồng bào các dân tộc Tày, Kinh, Dao "
         "cùng sinh sống. Kinh tế chủ yếu là nông nghiệp, trồng lúa, ngô, cây ăn quả và "
         "chăn nuôi gia súc, gia cầm.")


class CommunePortal(LoopbackSite):
    """The commune site and its ground truth; deterministic for (n_articles, seed)."""

    def __init__(self, n_articles: int = 40, seed: int = 5):
        stories, _ = generate(max(n_articles, 20), seed)
        stories = [a for a in stories if a.status == "ok" and not a.prefix][:n_articles]
        self.stories = sorted(stories, key=lambda a: a.when, reverse=True)  # newest first
        super().__init__()

    # ------------------------------------------------------------------ truth
    def _path(self, i: int) -> str:
        return f"/tin-tuc/bai-{self.stories[i].item_id}.html"

    @property
    def articles(self) -> list[dict]:
        return [{"url": self.base_url + self._path(i), "title": a.title,
                 "published": a.when.strftime("%Y-%m-%d"),
                 "body": "\n\n".join([a.lead, *a.paragraphs]), "byline": a.byline}
                for i, a in enumerate(self.stories)]

    @property
    def chrome(self) -> list[str]:
        return [HOTLINE, NOTICE, FOOTER, "Tin cùng chuyên mục", "Thống kê truy cập",
                "Đang trực tuyến", *MENU[1:]]

    # ------------------------------------------------------------------ pages
    def _layout(self, title: str, main: str, related: str = "") -> bytes:
        menu = " ".join(f'<span class="mn-i"><a href="{STATIC[k]}">'
                        f"{html.escape(t)}</a></span>" for k, t in enumerate(MENU))
        return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)} | Xã Tân Thành</title>
<meta property="og:title" content="{html.escape(title)}">
<script>window.dataLayer=window.dataLayer||[];</script>
<style>.kz-wrap{{display:flex}}.kz-col{{flex:3}}.kz-side{{flex:1}}</style></head>
<body><div class="kz-top"><div class="kz-brand">CỔNG THÔNG TIN ĐIỆN TỬ XÃ TÂN THÀNH</div>
<div class="kz-nav">{menu}</div></div>
<div class="kz-wrap"><div class="kz-col">
<div class="kz-hotline"><div>{HOTLINE}</div></div>
{main}
{related}
</div>
<div class="kz-side"><div class="kz-box">Thống kê truy cập</div>
<div class="kz-stat">Đang trực tuyến: 17</div><div class="kz-stat">Tổng lượt truy cập: 1.284.906</div></div>
</div>
<div class="kz-foot"><div>{FOOTER}</div><div>Địa chỉ: thôn Trung, xã Tân Thành</div></div>
</body></html>""".encode()

    def _article_page(self, i: int) -> bytes:
        a = self.stories[i]
        paras = [f'<p style="text-align:justify">{html.escape(a.lead)}</p>']
        paras += [f'<p style="text-align:justify">{html.escape(p)}</p>' for p in a.paragraphs]
        byline = (f'<p style="text-align:right"><b>{html.escape(a.byline)}</b></p>'
                  if a.byline else "")
        main = (f'<div class="kz-head">{html.escape(a.title)}</div>'
                f'<div class="kz-when">Đăng ngày {a.when.strftime("%d/%m/%Y")}</div>'
                f'<div class="kz-text">{"".join(paras)}{byline}'
                f'<div class="kz-note">{NOTICE}</div></div>')
        same = [j for j in range(len(self.stories)) if j != i][:5]
        related = ('<div class="kz-more"><b>Tin cùng chuyên mục</b><ul>' + "".join(
            f'<li><a href="{self._path(j)}">{html.escape(self.stories[j].title)}</a></li>'
            for j in same) + "</ul></div>")
        return self._layout(a.title, main, related)

    def _listing(self, page: int) -> bytes:
        start = (page - 1) * PER_PAGE
        items = "".join(
            f'<div class="kz-item"><a href="{self._path(j)}">'
            f"{html.escape(self.stories[j].title)}</a>"
            f'<span class="kz-d">{self.stories[j].when.strftime("%d/%m/%Y")}</span></div>'
            for j in range(start, min(start + PER_PAGE, len(self.stories))))
        pages = (len(self.stories) + PER_PAGE - 1) // PER_PAGE
        pager = "".join(f'<a href="/tin-tuc?trang={p}">{p}</a> ' for p in range(1, pages + 1))
        main = f'<div class="kz-cat">Tin tức - Sự kiện</div>{items}<div class="kz-pg">{pager}</div>'
        return self._layout("Tin tức - Sự kiện", main)

    def _about(self) -> bytes:
        return self._layout("Giới thiệu", f'<div class="kz-head">Giới thiệu chung</div>'
                                          f'<div class="kz-text"><p>{ABOUT}</p></div>')

    def answer(self, path: str) -> tuple[int, bytes, str]:
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", "text/plain"
        if path in ("/", "/tin-tuc") or path.startswith("/tin-tuc?trang="):
            page = int(path.rpartition("=")[2]) if "trang=" in path else 1
            return 200, self._listing(page), "text/html; charset=utf-8"
        if path in STATIC[1:]:
            return 200, self._about(), "text/html; charset=utf-8"
        for i in range(len(self.stories)):
            if path == self._path(i):
                return 200, self._article_page(i), "text/html; charset=utf-8"
        return 404, self._layout("Không tìm thấy", "<p>Không tìm thấy trang.</p>"), \
            "text/html; charset=utf-8"

    # ------------------------------------------------------------------ server
