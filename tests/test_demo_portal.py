"""The bundled demo portal, checked over real HTTP on 127.0.0.1 (urllib, no crawler)."""

from __future__ import annotations

import io
import re
import time
import urllib.error
import urllib.request
import zipfile
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit
from urllib.robotparser import RobotFileParser
from xml.etree import ElementTree

import pytest
from lxml import html as lxml_html

from crawler.demo import DemoPortal
from crawler.extract import extract_article

ARTICLE_PATH = "/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
PAGER = "ctl00$ctl42$g_3f1c$Pager"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, data: dict | None = None) -> tuple[int, dict, bytes]:
    body = urlencode(data).encode() if data is not None else None
    try:
        with _opener.open(urllib.request.Request(url, data=body), timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def portal():
    with DemoPortal(n_articles=300, seed=1, slow_delay=0.3) as p:
        yield p


def doc(body: bytes):
    return lxml_html.document_fromstring(body)


def teasers(body: bytes) -> list[str]:
    return doc(body).xpath("//div[contains(@class,'news-item')]//h3/a/@href")


def key(href: str) -> tuple[str, int]:
    """(site prefix, ItemID) of an article link."""
    parts = urlsplit(href)
    return parts.path[: -len(ARTICLE_PATH)], int(parse_qs(parts.query)["ItemID"][0])


def form_fields(body: bytes) -> dict:
    form = doc(body).get_element_by_id("aspnetForm")
    return {i.get("name"): i.get("value") or "" for i in form.xpath(".//input[@type='hidden']")}


def walk_get(portal, url: str) -> list[list[str]]:
    pages = []
    while url:
        status, _, body = fetch(url)
        assert status == 200
        pages.append(teasers(body))
        nxt = doc(body).xpath("//div[contains(@class,'pager')]//a[normalize-space()='Trang sau']/@href")
        url = urljoin(url, nxt[0]) if nxt else None
    return pages


def walk_postback(portal, url: str) -> list[list[str]]:
    status, _, body = fetch(url)
    assert status == 200
    pages = [teasers(body)]
    while True:
        nxt = re.search(r"__doPostBack\('([^']+)','(\d+)'\)\">Trang sau", body.decode())
        if not nxt:
            return pages
        fields = form_fields(body)
        fields.update({"__EVENTTARGET": nxt.group(1), "__EVENTARGUMENT": nxt.group(2)})
        status, _, body = fetch(url, fields)
        assert status == 200
        pages.append(teasers(body))


def walk_more(portal, url: str) -> list[list[str]]:
    pages = []
    while url:
        status, _, body = fetch(url)
        assert status == 200
        pages.append(teasers(body))
        more = doc(body).xpath("//a[normalize-space()='Xem thêm']/@href")
        url = urljoin(url, more[0]) if more else None
    return pages


def all_listing_pages(portal) -> dict[str, list[list[str]]]:
    walkers = {"get": walk_get, "postback": walk_postback, "more": walk_more}
    return {name: walkers[portal.pagination[name]](portal, url)
            for name, url in portal.listing_urls.items()}


# ---------------------------------------------------------------------------- listings
def test_get_pagination(portal):
    url = portal.listing_urls["Tintrongtinh"]
    status, _, body = fetch(url)
    assert status == 200
    assert len(teasers(body)) == 10
    hrefs = doc(body).xpath("//div[contains(@class,'pager')]//a/@href")
    assert "/noidung/tintuc/Pages/tin-tuc.aspx?l=Tintrongtinh&Page=2" in hrefs
    pages = walk_get(portal, url)
    assert len(pages) >= 5
    assert all(len(p) == 10 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 10
    flat = [key(h) for p in pages for h in p]
    assert len(flat) == len(set(flat))  # pages never repeat an article
    _, _, p2 = fetch(url + "&Page=2")
    assert teasers(p2) == pages[1]


def test_postback_pagination(portal):
    url = portal.listing_urls["Tinhoatdong"]
    assert portal.pagination["Tinhoatdong"] == "postback"
    _, _, body = fetch(url)
    text = body.decode()
    assert f"javascript:__doPostBack('{PAGER}','2')" in text
    assert "Page=" not in "".join(doc(body).xpath("//div[contains(@class,'pager')]//a/@href"))
    page1 = teasers(body)
    assert len(page1) == 10
    # a GET cannot reach page 2, whatever the query says
    _, _, again = fetch(url + "&Page=2")
    assert teasers(again) == page1
    fields = form_fields(body)
    assert fields["__VIEWSTATE"] and "__EVENTVALIDATION" in fields
    fields.update({"__EVENTTARGET": PAGER, "__EVENTARGUMENT": "2"})
    status, _, p2 = fetch(url, fields)
    assert status == 200
    page2 = teasers(p2)
    assert len(page2) == 10 and not set(page2) & set(page1)
    # the answer's own form carries page 2's view state: "Trang sau" from there is page 3
    state = portal.site.read_viewstate(form_fields(p2)["__VIEWSTATE"])
    assert state == {"l": "Tinhoatdong", "Page": "2"}
    # a postback without __VIEWSTATE is refused
    del fields["__VIEWSTATE"]
    status, _, _ = fetch(url, fields)
    assert status == 400
    pages = walk_postback(portal, url)
    assert len(pages) >= 3
    flat = [key(h) for p in pages for h in p]
    assert len(flat) == len(set(flat))


def test_more_cursor(portal):
    url = portal.listing_urls["Thongbao"]
    _, _, body = fetch(url)
    more = doc(body).xpath("//a[normalize-space()='Xem thêm']/@href")
    last_id = key(teasers(body)[-1])[1]
    assert more == [f"/noidung/tintuc/Pages/tin-tuc.aspx?l=Thongbao&before={last_id}"]
    pages = walk_more(portal, url)
    assert len(pages) >= 3
    ids = [key(h)[1] for p in pages for h in p]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    expected = sum(1 for a in portal.articles if "Thongbao" in a["categories"]) + sum(
        1 for b in portal.site.articles if b.status == "always_500" and "Thongbao" in b.categories)
    assert len(ids) == expected


def test_listings_cover_every_article(portal):
    pages = all_listing_pages(portal)
    linked = {key(h) for name in pages for p in pages[name] for h in p}
    truth = {(("/" + a["subsite"]) if a["subsite"] else "", a["item_id"]) for a in portal.articles}
    assert len(truth) == 300
    assert truth <= linked
    broken = {key(b["url"]) for b in portal.broken_items}
    assert broken <= linked  # the 404 teaser and the always-500 pages are linked too
    assert linked == truth | broken
    # the sub-site is a listing of its own
    assert any(k[0] == "/congdoan" for k in linked)
    # one article, several URLs: the same ItemID is linked from two categories
    multi = [a for a in portal.articles if len(a["categories"]) > 1]
    assert multi
    a = multi[0]
    hrefs = {h for name in a["categories"] for p in pages[name] for h in p}
    assert {portal.base_url + h for h in hrefs} >= {
        u for u in a["urls"] if "sid=" not in u and "ViewNews" not in u}


# ---------------------------------------------------------------------------- URLs
def test_url_variants_serve_the_same_article(portal):
    with_sid = [a for a in portal.articles if any("sid=" in u for u in a["urls"])]
    assert len(with_sid) == 6  # the "Tin xem nhiều" box
    assert all(sum("sid=" in u for u in a["urls"]) == 3 for a in with_sid)
    multi = next(a for a in portal.articles if len(a["categories"]) > 1 and a["status"] == "ok")
    legacy = next(a for a in portal.articles if any("ViewNews" in u for u in a["urls"]))
    for a in (with_sid[0], multi, legacy):
        assert a["url"] == a["urls"][0]
        for u in a["urls"]:
            status, headers, body = fetch(u)
            if "ViewNews" in u:
                assert status == 301 and headers["Location"] == a["url"]
                continue
            assert status == 200
            assert extract_article(body, u)["title"] == a["title"]


def test_legacy_redirects(portal):
    assert len(portal.redirects) == 6
    for old, new in portal.redirects.items():
        status, headers, _ = fetch(old)
        assert status == 301 and headers["Location"] == new
        assert re.search(r"ItemID=\d+&l=\w+&lv=11$", new)
    _, _, home = fetch(portal.base_url + "/Pages/default.aspx")
    legacy = doc(home).xpath("//a[contains(@href,'ViewNews.aspx')]/@href")
    assert {portal.base_url + h for h in legacy} == set(portal.redirects)
    status, headers, _ = fetch(portal.base_url + "/")
    assert status == 302 and headers["Location"] == "/Pages/default.aspx"


def test_robots_txt(portal):
    status, headers, body = fetch(portal.base_url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    lines = text.splitlines()
    assert lines[0] == "User-agent: *"
    for rule in ("Disallow: /_layouts/", "Allow: /_layouts/15/listfeed.aspx",
                 "Disallow: /Pages/tim-kiem.aspx", "Disallow: /noidung/tintuc/Pages/in-bai-viet.aspx"):
        assert rule in lines
    assert f"Sitemap: {portal.sitemap_url}" in lines
    rp = RobotFileParser()
    rp.parse(lines)
    assert rp.can_fetch("vngov-test", portal.feed_url)
    assert not rp.can_fetch("vngov-test", portal.base_url + "/_layouts/15/init.js")
    assert not rp.can_fetch("vngov-test", portal.base_url + "/Pages/tim-kiem.aspx?k=abc")
    assert not rp.can_fetch("vngov-test", portal.base_url +
                            "/noidung/tintuc/Pages/in-bai-viet.aspx?ItemID=1")
    assert rp.can_fetch("vngov-test", portal.articles[0]["url"])
    protego = pytest.importorskip("protego")  # what Scrapy uses
    robots = protego.Protego.parse(text)
    assert robots.can_fetch(portal.feed_url, "vngov-test")
    assert not robots.can_fetch(portal.base_url + "/_layouts/15/sp.js", "vngov-test")


def test_feed(portal):
    _, _, home = fetch(portal.base_url + "/Pages/default.aspx")
    hrefs = doc(home).xpath("//link[@rel='alternate'][@type='application/rss+xml']/@href")
    assert hrefs and portal.base_url + hrefs[0] == portal.feed_url
    _, _, art = fetch(portal.articles[5]["url"])
    assert doc(art).xpath("//link[@rel='alternate'][@type='application/rss+xml']/@href") == hrefs
    status, headers, body = fetch(portal.feed_url)
    assert status == 200 and "xml" in headers["Content-Type"]
    rss = ElementTree.fromstring(body)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    items = rss.findall("./channel/item")
    assert len(items) == 30
    main = [a for a in portal.site.articles if a.prefix == ""]
    newest = [portal.base_url + a.path() for a in main[::-1][:30]]
    assert [i.findtext("link") for i in items] == newest
    truth = {a["url"]: a for a in portal.articles}
    for i in items:
        if i.findtext("link") in truth:
            assert i.findtext("title") == truth[i.findtext("link")]["title"]
    # the braces may arrive percent-encoded
    status, _, _ = fetch(portal.feed_url.replace("{", "%7B").replace("}", "%7D"))
    assert status == 200


def test_sitemap_is_a_subset(portal):
    status, _, body = fetch(portal.sitemap_url)
    assert status == 200
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in ElementTree.fromstring(body).findall("s:url/s:loc", ns)]
    arts = [u for u in locs if ARTICLE_PATH in u]
    canonical = {a["url"] for a in portal.articles} | set(portal.broken)
    assert set(arts) <= canonical
    assert 50 < len(arts) < len(portal.articles)


# ---------------------------------------------------------------------------- errors
def test_fail_once_then_ok():
    with DemoPortal(n_articles=40, seed=3) as p:
        assert len(p.flaky) == 3
        url = p.flaky[0]
        path = url[len(p.base_url):]
        assert fetch(url)[0] == 500
        status, _, body = fetch(url)
        assert status == 200
        assert extract_article(body, url)["title"] == next(
            a["title"] for a in p.articles if a["url"] == url)
        assert [r for r in p.requests if r[1] == path] == [("GET", path, 500), ("GET", path, 200)]
        # a fail-once article is archivable; the always-500 ones are not
        assert url in {a["url"] for a in p.articles}


def test_broken_pages(portal):
    assert len(portal.broken) == 3
    truth = {a["url"] for a in portal.articles}
    for item in portal.broken_items:
        assert item["url"] not in truth
        for _ in range(2):
            assert fetch(item["url"])[0] == item["status"]
    statuses = sorted(b["status"] for b in portal.broken_items)
    assert statuses == [404, 500, 500]


def test_slow_page(portal):
    t = time.monotonic()
    status, _, _ = fetch(portal.slow_url)
    assert status == 200 and time.monotonic() - t >= 0.3
    assert portal.slow_url in {a["url"] for a in portal.articles}


# ---------------------------------------------------------------------------- traps, files
def test_traps_are_linked_and_endless(portal):
    a = portal.articles[10]
    _, _, body = fetch(a["url"])
    hrefs = doc(body).xpath("//a/@href")
    assert any(h.startswith("/noidung/tintuc/Pages/in-bai-viet.aspx?ItemID=") for h in hrefs)
    assert any(h.startswith("/Pages/tim-kiem.aspx?k=") for h in hrefs)
    assert any(h.startswith("mailto:") for h in hrefs)
    assert any(h.startswith("javascript:") for h in hrefs)
    assert {"https://chinhphu.vn/", "http://example.org/lien-ket/tinh-demo"} <= set(hrefs)
    cal = [h for h in hrefs if h.startswith("/lich-cong-tac/Pages/lich.aspx")][0]
    url = portal.base_url + cal
    seen = []
    for _ in range(14):
        status, _, body = fetch(url)
        assert status == 200
        q = parse_qs(urlsplit(url).query)
        seen.append((int(q["nam"][0]), int(q["thang"][0])))
        nxt = doc(body).xpath("//a[contains(., 'Tháng sau')]/@href")
        url = portal.base_url + nxt[0]
    months = [y * 12 + m for y, m in seen]
    assert months == list(range(months[0], months[0] + 14))  # one month per step, no end
    # print views and search answer (a crawler must not ask: robots.txt disallows them)
    assert fetch(portal.base_url + "/Pages/tim-kiem.aspx?k=tuy%E1%BB%83n+sinh")[0] == 200
    logged = [r for r in portal.requests if r[1].startswith("/Pages/tim-kiem.aspx")]
    assert logged and logged[-1][2] == 200


def test_attachments_images_are_real_files(portal):
    a = next(a for a in portal.articles if len(a["attachments"]) >= 2)
    kinds = set()
    for att in a["attachments"]:
        status, headers, body = fetch(att["url"])
        assert status == 200
        if att["url"].endswith(".pdf"):
            assert body.startswith(b"%PDF-1.4") and body.rstrip().endswith(b"%%EOF")
            assert headers["Content-Type"] == "application/pdf"
        else:
            assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(body)).namelist()
        kinds.add(att["url"].rsplit(".", 1)[1])
    img = next(a for a in portal.articles if a["images"])["images"][0]["src"]
    status, headers, body = fetch(img)
    assert status == 200 and body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"
    assert fetch(portal.base_url + "/noidung/tintuc/Lists/TinTuc/Attachments/1/none.pdf")[0] == 404


# ---------------------------------------------------------------------------- ground truth
def test_ground_truth_matches_the_extractor(portal):
    """Every page holds exactly its ground truth, as the extractor reads it."""
    fields = ("title", "published", "summary", "body", "captions", "images", "byline",
              "source", "attachments", "site", "family")
    for a in portal.articles:
        rec = extract_article(portal.page(a), a["url"])
        assert {f: rec[f] for f in fields} == {f: a[f] for f in fields}, a["item_id"]
        assert rec["warnings"] == []
    sub = next(a for a in portal.articles if a["subsite"])
    _, _, body = fetch(sub["url"])
    page = doc(body)
    assert page.xpath("//div[@class='tieude']/text()") == [sub["title"]]
    assert page.xpath("//div[@class='tomtat']")


def test_ground_truth_shape_and_determinism(portal):
    arts = portal.articles
    assert len(arts) == 300
    assert len({(a["subsite"], a["item_id"]) for a in arts}) == 300
    years = {a["published"][:4] for a in arts}
    assert years == {str(y) for y in range(2019, 2025)}
    assert any("T" in a["published"] for a in arts) and any(len(a["published"]) == 10 for a in arts)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:00\+07:00)?", a["published"]) for a in arts)
    assert all(3 <= len(a["body"].split("\n\n")) <= 8 for a in arts)
    assert all(0 <= len(a["images"]) <= 3 for a in arts)
    assert any(a["source"] for a in arts) and any(a["attachments"] for a in arts)
    assert all(a["url"].endswith(f"ItemID={a['item_id']}&l={a['categories'][0]}&lv=11") for a in arts)
    assert DemoPortal(n_articles=300, seed=1).site.articles[7].title == portal.site.articles[7].title
    other = DemoPortal(n_articles=300, seed=2)
    assert [a.title for a in other.site.articles[:20]] != [a.title for a in portal.site.articles[:20]]


def test_linked_urls_are_exactly_the_ground_truth_variants():
    """Render every reachable page (no HTTP): article links == the union of ``urls``."""
    p = DemoPortal(n_articles=60, seed=5)
    p.base_url = "http://demo.test"
    disallowed = p.disallowed_prefixes
    seen, queue, linked = set(), ["/Pages/default.aspx", "/congdoan/Pages/default.aspx"], set()
    posts: list[tuple[str, dict]] = []
    while queue or posts:
        if queue:
            target = queue.pop()
            r = p.render(target)
            if r.status == 500:
                r = p.render(target)  # fail-once
        else:
            target, form = posts.pop()
            r = p.render(target, "POST", form)
        if r.status != 200 or not r.content_type.startswith("text/html"):
            continue
        body = r.body
        for href in doc(body).xpath("//a/@href"):
            full = urljoin("http://demo.test" + target, href)
            parts = urlsplit(full)
            if parts.netloc != "demo.test":
                continue
            path = parts.path + ("?" + parts.query if parts.query else "")
            if ARTICLE_PATH in path or "ViewNews" in path:
                linked.add(full)
            if (path.startswith(disallowed) or path.startswith(p.trap_prefixes)
                    or "/Attachments/" in path or path in seen):
                continue
            seen.add(path)
            queue.append(path)
        text = body.decode()
        for arg in set(re.findall(r"__doPostBack\('[^']*Pager','(\d+)'\)", text)):
            key_ = (target, arg)
            if key_ not in seen:
                seen.add(key_)
                fields = form_fields(body)
                fields.update({"__EVENTTARGET": PAGER, "__EVENTARGUMENT": arg})
                posts.append((target, fields))
    expected = {u for a in p.articles for u in a["urls"]} | {
        u for b in p.broken_items for u in b["urls"]}
    assert linked == expected


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    try:
        with _opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_article_pages_answer_conditional_requests():
    with DemoPortal(n_articles=30, seed=4) as portal:
        url = next(a["url"] for a in portal.articles if a["status"] == "ok")
        status, headers, body = _get(url)
        assert status == 200 and headers["ETag"].startswith('"') and headers["Last-Modified"]
        etag, modified = headers["ETag"], headers["Last-Modified"]
        assert _get(url, {"If-None-Match": etag})[:1] == (304,)
        status, headers, body = _get(url, {"If-Modified-Since": modified})
        assert (status, body, headers["ETag"]) == (304, b"", etag)
        assert _get(url, {"If-None-Match": '"other"'})[0] == 200
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        assert _get(url, {"If-None-Match": '"other"', "If-Modified-Since": modified})[0] == 200
    with DemoPortal(n_articles=30, seed=4, validators=False) as portal:
        url = next(a["url"] for a in portal.articles if a["status"] == "ok")
        assert _get(url, {"If-None-Match": etag})[0] == 200  # a server that ignores them


def test_later_state_new_edited_deleted_and_the_rest_byte_identical():
    portal = DemoPortal(n_articles=60, seed=4)
    before = {a["url"]: portal.render(urlsplit(a["url"]).path + "?" + urlsplit(a["url"]).query)
              for a in portal.articles if a["status"] == "ok"}
    portal.advance(15)
    assert len(portal.new_articles) == 15 and len(portal.edited) == 3 and len(portal.deleted) == 1
    edited = {a["url"] for a in portal.edited}
    deleted = {a["url"] for a in portal.deleted}
    for url, old in before.items():
        target = urlsplit(url).path + "?" + urlsplit(url).query
        new = portal.render(target)
        if url in deleted:
            assert new.status == 404
        elif url in edited:
            assert new.status == 200 and new.body != old.body
            assert new.headers["ETag"] != old.headers["ETag"]
            assert new.headers["Last-Modified"] != old.headers["Last-Modified"]
        else:
            assert (new.body, new.headers) == (old.body, old.headers), url
    # The new articles are on top of the listings and in the truth; the deleted one is not.
    truth = {a["url"] for a in portal.articles}
    assert {a["url"] for a in portal.new_articles} <= truth and not deleted & truth
    newest = max(portal.articles, key=lambda a: a["published"])
    assert newest["url"] in {a["url"] for a in portal.new_articles}
    listing = portal.render("/noidung/tintuc/Pages/tin-tuc.aspx?l=Tintrongtinh").body.decode()
    new_here = [a for a in portal.new_articles if "Tintrongtinh" in a["categories"]]
    assert new_here
    first = re.search(r'class="news-title"><a href="[^"]*ItemID=(\d+)', listing).group(1)
    assert int(first) == max(a["item_id"] for a in new_here)
