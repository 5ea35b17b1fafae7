"""The archive as a reader sees it: headless Chromium (Debian's ``chromium``; ``.ci/run``
installs it) opens the search results and an article page served by the real
``python -m crawler serve`` on 127.0.0.1, and the test reads the rendered DOM: the text,
the marked words, and whether the images loaded (from a local image server)."""

from __future__ import annotations

import functools
import http.server
import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import lxml.html
import pytest
from test_datasette import Server

from crawler.store import Archive

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (.ci/run installs Debian's chromium)")


def png(width: int, height: int) -> bytes:
    """A plain grey PNG."""
    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    (root / "le-khai-giang.png").write_bytes(png(320, 200))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory, images):
    from conftest import make_record

    path = tmp_path_factory.mktemp("browse") / "whatever-name.db"
    ids = {}
    with Archive(path) as archive:
        archive.upsert_site("sgddt.backan.gov.vn", name="Sở GD&ĐT Bắc Kạn")
        crawl = archive.start_crawl(["backan-sgddt"], {})
        for i, (published, title, body) in enumerate([
            ("2023-09-05", "Lễ khai giảng năm học mới tại Chợ Mới",
             "Sáng 5/9, các trường tổ chức lễ khai giảng.\n\nHọc sinh đến trường đông đủ."),
            ("2024-02-01", "Tập huấn công tác thi đua",
             "Nội dung không liên quan.\n\nĐoạn hai."),
            ("2024-09-05", "Khai giang: nam hoc 2024 - 2025",
             "Toàn tỉnh có 120 trường khai giảng.\n\nĐoạn hai."),
        ], 1):
            url = f"https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID={i}"
            archive.save_article(make_record(
                url=url, published=published, title=title, body=body, summary=None,
                captions=["Học sinh dự lễ khai giảng"] if i == 1 else [],
                images=[{"src": f"{images}/le-khai-giang.png", "caption": "Học sinh dự lễ khai giảng"},
                        {"src": f"{images}/da-xoa.png", "caption": "Ảnh đã bị xoá"}] if i == 1 else [],
                attachments=[]), crawl_id=crawl)
            ids[i] = archive.find_article(url)
        archive.finish_crawl(crawl, "finished")
    server = Server(path)
    yield server, ids
    server.stop()


def rendered(url: str, tmp_path: Path) -> lxml.html.HtmlElement:
    """The DOM after Chromium loaded the page (scripts and image loads done)."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1000",
         "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "<html" in out.stdout, out.stderr[-2000:]
    return lxml.html.fromstring(out.stdout)


def text(el) -> str:
    return " ".join(el.text_content().split())


def test_search_results_in_a_browser(served, tmp_path):
    server, ids = served
    dom = rendered(f"{server.base}/archive/articles?_search=khai+giảng", tmp_path)
    results = dom.cssselect("li.result")
    assert [text(r.cssselect(".result-title")[0]) for r in results] == [
        "Khai giang: nam hoc 2024 - 2025", "Lễ khai giảng năm học mới tại Chợ Mới"]
    assert [r.cssselect(".result-title a")[0].get("href") for r in results] == [
        f"/archive/articles/{ids[3]}", f"/archive/articles/{ids[1]}"]
    assert text(results[1].cssselect(".result-meta")[0]) == "05/09/2023 · Sở GD&ĐT Bắc Kạn · Ngọc Tú"
    # Marked whatever the marks: "khai giang" and "khai giảng" alike.
    assert [m.text for m in results[0].cssselect("mark")] == ["Khai", "giang", "khai", "giảng"]
    assert [m.text for m in results[1].cssselect(".result-snippet mark")] == ["khai", "giảng"]
    assert text(dom.cssselect(".results-count strong")[0]) == "2"
    years = [text(li) for li in dom.cssselect(".facet-year li")]
    assert years == ["2024 1", "2023 1"]
    sites = [text(li) for li in dom.cssselect(".facet-site li")]
    assert sites == ["Sở GD&ĐT Bắc Kạn 2"]


def test_date_range_in_a_browser(served, tmp_path):
    server, ids = served
    dom = rendered(f"{server.base}/archive/articles?_search=khai+giang&from=01/01/2024&to=31/12/2024",
                   tmp_path)
    assert [r.get("href") for r in dom.cssselect(".result-title a")] == [f"/archive/articles/{ids[3]}"]
    assert dom.cssselect("#from")[0].get("value") == "01/01/2024"


def test_article_page_in_a_browser(served, tmp_path):
    server, ids = served
    dom = rendered(f"{server.base}/archive/articles/{ids[1]}", tmp_path)
    assert text(dom.cssselect("h1.article-title")[0]) == "Lễ khai giảng năm học mới tại Chợ Mới"
    assert text(dom.cssselect(".article-meta")[0]) == "Thứ Ba, 05/09/2023 · Sở GD&ĐT Bắc Kạn · Ngọc Tú"
    body = dom.cssselect(".article-body")[0]
    assert [text(p) for p in body.cssselect("p")] == [
        "Sáng 5/9, các trường tổ chức lễ khai giảng.", "Học sinh đến trường đông đủ."]
    figures = body.cssselect("figure")
    # The image that exists loaded; the one the portal deleted is shown as missing.
    assert [f.get("data-state") for f in figures] == ["loaded", "broken"]
    assert text(figures[0].cssselect("figcaption")[0]) == "Học sinh dự lễ khai giảng"
    # In the text, after the first paragraph.
    children = [c.tag for c in body]
    assert children[:3] == ["p", "figure", "figure"]
    facts = text(dom.cssselect(".article-facts")[0])
    assert "First archived" in facts and "Last seen online" in facts
    assert dom.cssselect(".article-facts a")[0].get("href").startswith("https://sgddt.backan.gov.vn/")
