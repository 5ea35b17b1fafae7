import pytest

from crawler.canonical import BadURL, canonical_url, url_key

PP = "publishingportal"
ARTICLE = "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383"


@pytest.mark.parametrize(
    "url",
    [
        ARTICLE,
        "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
        "?ItemID=28383&l=Tintrongtinh&lv=11",
        "http://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?l=Khac&ItemID=28383",
        "https://SGDDT.BacKan.gov.vn:443/NoiDung/TinTuc/Pages/chi-tiet-tin-tuc.aspx?itemid=28383",
        "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383#top",
        "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383%20",
        "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383&amp;",
        " https://sgddt.backan.gov.vn/noidung//tintuc/./Pages/chi-tiet-tin-tuc.aspx?ItemID=28383). ",
        "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
        "?ItemID=28383&utm_source=zalo&ASP.NET_SessionId=abc",
    ],
)
def test_publishingportal_key_is_host_path_itemid(url):
    assert url_key(url, PP) == (
        "https://sgddt.backan.gov.vn/noidung/tintuc/pages/chi-tiet-tin-tuc.aspx?ItemID=28383"
    )


def test_canonical_url_keeps_scheme_and_case_but_drops_category():
    url = "http://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=9&l=Khac&lv=11"
    assert canonical_url(url, PP) == (
        "http://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=9"
    )


def test_publishingportal_subsites_are_different_articles():
    a = "https://x.gov.vn/hoat-dong-xuc-tien/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=90"
    b = "https://x.gov.vn/antoanthongtin/Pages/chi-tiet-tin-tuc.aspx?ItemID=90"
    assert url_key(a, PP) != url_key(b, PP)
    assert url_key(a, PP) != url_key(a.replace("=90", "=91"), PP)


def test_family_without_canonical_params_keeps_real_params_drops_sessions():
    url = ("http://Portal.gov.vn/tin-tuc/?page=2&id=7&jsessionid=ABC&sid=9&PHPSESSID=x"
           "&utm_medium=social&fbclid=zz#comments")
    assert canonical_url(url, "liferay") == "http://portal.gov.vn/tin-tuc?id=7&page=2"
    assert url_key(url, "liferay") == "https://portal.gov.vn/tin-tuc?id=7&page=2"
    # Liferay paths are case-sensitive: the key keeps the case.
    assert url_key("https://p.gov.vn/Chi-Tiet/-/view-article/1/5/a", "liferay").endswith("/Chi-Tiet/-/view-article/1/5/a")


def test_path_session_tokens_and_percent_encoding():
    a = "https://p.gov.vn/chi-tiet-tin/-/view-article/1/123/gi%c3%a1o-d%E1%BB%A5c;jsessionid=F00"
    b = "https://p.gov.vn/chi-tiet-tin/-/view-article/1/123/giáo-dục/"
    assert url_key(a, "liferay") == url_key(b, "liferay")
    assert url_key(a, "liferay") == (
        "https://p.gov.vn/chi-tiet-tin/-/view-article/1/123/gi%C3%A1o-d%E1%BB%A5c"
    )


def test_unknown_family_behaves_like_generic():
    url = "https://a.gov.vn/news.php?id=5&utm_source=x"
    assert url_key(url, "no-such-family") == url_key(url, None) == "https://a.gov.vn/news.php?id=5"


def test_non_default_port_is_kept():
    assert canonical_url("http://a.gov.vn:8080/x?id=1", None) == "http://a.gov.vn:8080/x?id=1"


@pytest.mark.parametrize("bad", ["", "   ", "ftp://a.gov.vn/x", "/relative/path", "https:///x"])
def test_bad_urls_raise_a_clear_error(bad):
    with pytest.raises(BadURL):
        url_key(bad, PP)


def test_family_identity_params_apply_only_when_present():
    # A PublishingPortal URL of another shape keeps its query: two legacy links are two
    # articles, and a listing page keeps its category and page.
    a = url_key("https://backan.gov.vn/Pages/ViewNews.aspx?ID=1", "publishingportal")
    b = url_key("https://backan.gov.vn/Pages/ViewNews.aspx?ID=2", "publishingportal")
    assert a != b
    listing = canonical_url("https://backan.gov.vn/noidung/tintuc/Pages/tin-tuc.aspx?l=Tintrongtinh&Page=2",
                            "publishingportal")
    assert listing.endswith("tin-tuc.aspx?Page=2&l=Tintrongtinh")
