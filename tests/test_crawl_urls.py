"""URLs the crawl requests, keys and records: session parameters (family data) removed,
everything else kept as written; keys that do not depend on the family learned so far."""

from __future__ import annotations

import pytest

from crawler.canonical import fetch_key, shape_family, strip_session
from crawler.profiles import ProfileError, load

PP = "https://sgddt.example.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
LR = "https://stp.example.gov.vn/web/guest/tin-tuc/-/asset_publisher/aB1/content/bai-viet-9"


def test_session_parameters_are_family_data():
    profiles = load()
    assert profiles.family("publishingportal").session_params == ["s"]
    assert "p_auth" in profiles.family("liferay").session_params


@pytest.mark.parametrize(("url", "family", "want"), [
    # PublishingPortal's per-visit token goes; the category parameters stay, in order.
    (f"{PP}?ItemID=7&l=Thongbao&lv=11&s=0123456789abcdef01234567", None,
     f"{PP}?ItemID=7&l=Thongbao&lv=11"),
    (f"{PP}?s=0123456789abcdef01234567&ItemID=7&l=Thongbao#top", "publishingportal",
     f"{PP}?ItemID=7&l=Thongbao"),
    # Liferay: p_p_auth, the portlet's redirect URL and p_auth go, _cur stays.
    (f"{LR}?p_p_auth=Xy12Ab&_101_INSTANCE_aB1_redirect=%2Ftin-tuc%3Fx%3D1", None, LR),
    ("https://stp.example.gov.vn/tin-tuc?p_p_id=101_INSTANCE_aB1&p_auth=9f8e7d"
     "&_101_INSTANCE_aB1_cur=3", "liferay",
     "https://stp.example.gov.vn/tin-tuc?p_p_id=101_INSTANCE_aB1&_101_INSTANCE_aB1_cur=3"),
    # Global ones on any site; a WordPress search's s= is not PublishingPortal's token.
    ("https://xa.example.vn/tin/bai-1.html;jsessionid=AB12?utm_source=zalo&id=4", None,
     "https://xa.example.vn/tin/bai-1.html?id=4"),
    ("https://xa.example.vn/?s=lua+gao", None, "https://xa.example.vn/?s=lua+gao"),
    # Nothing to remove: the URL exactly as written.
    ("https://xa.example.vn/a?b=%7E&a=1", None, "https://xa.example.vn/a?b=%7E&a=1"),
])
def test_strip_session(url, family, want):
    assert strip_session(url, family) == want


def test_article_keys_do_not_depend_on_the_family_learned_so_far():
    variants = [f"{PP}?ItemID=7&l=Thongbao&lv=11", f"{PP}?l=Vanban&ItemID=7",
                f"{PP}?ItemID=7&l=Thongbao&lv=11&s=0123456789abcdef01234567",
                f"{PP}?ItemID=7&sid=ba14bad76a5b6c5b59340a31"]
    assert shape_family(variants[0]) == "publishingportal"
    keys = {fetch_key(u, family) for u in variants for family in (None, "publishingportal")}
    assert keys == {f"{PP}?ItemID=7"}
    liferay = {fetch_key(f"{LR}?p_p_auth={t}&_101_INSTANCE_aB1_redirect=%2F{t}", family)
               for t in ("a1", "b2") for family in (None, "liferay")}
    assert liferay == {LR}


def test_a_bad_session_pattern_is_named(tmp_path):
    from crawler.profiles import PROFILE_PATH

    text = PROFILE_PATH.read_text(encoding="utf-8").replace(
        "session_params = ['s']", "session_params = ['s(']")
    bad = tmp_path / "families.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match="session_params"):
        load(bad)


def _true_urls(pages: dict[str, str]) -> dict[str, str]:
    """What the spider records as articles.url for each (answered URL -> <head> HTML)."""
    from lxml import html as lhtml
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.pagescan import scan_tree
    from spiders.portal import PortalSpider

    crawler = get_crawler(PortalSpider, {"ROBOTSTXT_OBEY": True})
    spider = PortalSpider.from_crawler(crawler, start_url="https://xa.example.vn/")
    site = spider.sites[0]
    out = {}
    for url, head in pages.items():
        body = f"<html><head>{head}</head><body><p>x</p></body></html>".encode()
        response = HtmlResponse(url, body=body, encoding="utf-8")
        scan = scan_tree(lhtml.fromstring(body), link_cap=0, element_cap=0,
                         rules=spider.profiles.crawl)
        out[url] = spider._true_url(scan, response, site, None)
    return out


def test_recorded_url_is_the_canonical_link_unless_it_cannot_be_the_article():
    got = _true_urls({
        # Its own canonical link (relative, session token dropped).
        "https://xa.example.vn/tin/bai-1.html?utm_source=zalo&from=home":
            '<link rel="canonical" href="/tin/bai-1.html?sid=77" />',
        # No canonical link: the URL that answered, without its session parameters.
        "https://xa.example.vn/tin/bai-2.html?jsessionid=A1&from=home": "",
        # Off-site and the site's root: not this article.
        "https://xa.example.vn/tin/bai-3.html": '<link rel="Canonical" href="https://other.vn/x" />',
        "https://xa.example.vn/tin/bai-4.html": '<link rel="canonical" href="https://xa.example.vn/" />',
        # Every page naming one canonical: the first keeps it, the others their own URL.
        "https://xa.example.vn/tin/bai-5.html": '<link rel="canonical" href="/tin/chung.html" />',
        "https://xa.example.vn/tin/bai-6.html": '<link rel="canonical" href="/tin/chung.html" />',
    })
    assert list(got.values()) == [
        "https://xa.example.vn/tin/bai-1.html", "https://xa.example.vn/tin/bai-2.html?from=home",
        "https://xa.example.vn/tin/bai-3.html", "https://xa.example.vn/tin/bai-4.html",
        "https://xa.example.vn/tin/chung.html", "https://xa.example.vn/tin/bai-6.html"]
