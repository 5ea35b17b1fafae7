"""The archive in a real Datasette server (python -m crawler serve) on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import lxml.html
import pytest
import yaml
from sqlite_utils import Database

from crawler.serve import METADATA
from crawler.store import Archive

ROOT = Path(__file__).resolve().parent.parent

ARTICLES = [
    # (ItemID, site, published, title, body, byline)
    (1, "sgddt.backan.gov.vn", "2023-09-11", "Hội nghị giáo dục và đào tạo",
     "Đoạn đầu tiên.\n\nĐoạn thứ hai <script>alert(1)</script> nói về đào tạo.", "Ngọc Tú"),
    (2, "sgddt.backan.gov.vn", "2023-10-02", "Thuận Hoà đón bằng công nhận",
     "Uỷ ban nhân dân xã Thuận Hoà tổ chức lễ.", "Ngọc Tú"),
    (3, "pgd.chomoi.gov.vn", "2024-01-15", "Hòa Bình tập huấn",
     "Ủy ban nhân dân huyện chỉ đạo tập huấn giáo dục.", "Thanh Tuyền"),
    (4, "pgd.chomoi.gov.vn", "2024-03-20", "Con dao của người thợ rèn",
     "Bài viết không liên quan.", None),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_archive(path: Path, record_factory,
                  image_base: str = "https://sgddt.backan.gov.vn/PictureLibrary") -> dict[int, int]:
    ids = {}
    with Archive(path) as archive:
        archive.upsert_site("sgddt.backan.gov.vn", name="Sở GD&ĐT Bắc Kạn",
                            family="publishingportal", province="Bắc Kạn", level="sở",
                            key="backan-sgddt")
        crawl = archive.start_crawl(["backan-sgddt", "chomoi-pgd"], {"DOWNLOAD_DELAY": 1})
        for item, site, published, title, body, byline in ARTICLES:
            url = f"https://{site}/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID={item}&l=Tin"
            media = {"captions": [], "images": [], "attachments": []}
            if item == 1:
                media = {
                    "captions": ["Đại biểu dự hội nghị"],
                    "images": [{"src": f"{image_base}/hoi-nghi.png",
                                "caption": "Đại biểu dự hội nghị"}],
                    "attachments": [{"url": f"https://{site}/Documents/ke-hoach.pdf",
                                     "name": "Kế hoạch năm học"}],
                }
            rec = record_factory(url=url, site=site, published=published, title=title, body=body,
                                 byline=byline, summary=None, **media)
            archive.save_article(rec, crawl_id=crawl, fetched_at="2024-04-01T00:00:00+00:00")
            ids[item] = archive.find_article(url)
        # Article 2 is edited after publication: a second version.
        url2 = "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=2"
        rec = record_factory(url=url2, site="sgddt.backan.gov.vn", published="2023-10-02",
                             title=ARTICLES[1][3], body=ARTICLES[1][4] + "\n\nĐính chính.",
                             byline="Ngọc Tú", summary=None, captions=[], images=[],
                             attachments=[])
        assert archive.save_article(rec, crawl_id=crawl) == "changed"
        archive.mark_gone(
            "https://pgd.chomoi.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=4",
            crawl_id=crawl, status_code=404)
        archive.record_error(crawl, "https://pgd.chomoi.gov.vn/x.aspx", "HTTP 500", status=500)
        archive.finish_crawl(crawl, "finished", {"pages_fetched": 9})
    return ids


class Server:
    def __init__(self, db: Path, *extra: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "serve", "--db", str(db), "--port",
             str(self.port), *extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.client = httpx.Client(base_url=self.base, timeout=20)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("datasette exited:\n" + self.proc.stdout.read())
            try:
                if self.client.get("/-/versions.json").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("datasette did not start in 30 s")
            time.sleep(0.2)

    def json(self, path: str, **params):
        r = self.client.get(path, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        return r.json()

    def stop(self):
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from conftest import make_record

    path = tmp_path_factory.mktemp("serve") / "archive.db"
    ids = build_archive(path, make_record)
    server = Server(path)
    yield server, ids
    server.stop()


def search_ids(server, query, db="archive", **more):
    rows = server.json(f"/{db}/articles.json", _search=query, _shape="objects", **more)["rows"]
    return [r["id"] for r in rows]


@pytest.mark.parametrize(
    "plain, marked, items",
    [
        ("giao duc", "giáo dục", [3, 1]),
        ("hoa", "hòa", [3, 2]),
        ("hoa", "hoà", [3, 2]),
        ("uy ban", "Ủy ban", [3, 2]),
        ("uy ban", "Uỷ ban", [3, 2]),
        ("dao tao", "đào tạo", [1]),
        ("dao", "đào", [4, 3, 1]),  # dao, đạo (chỉ đạo), đào
    ],
)
def test_search_ignores_vietnamese_marks_newest_first(served, plain, marked, items):
    server, ids = served
    want = [ids[i] for i in items]
    assert search_ids(server, plain) == want
    assert search_ids(server, marked) == want


def test_search_page_and_column_search(served):
    server, ids = served
    data = server.json("/archive/articles.json", _search="đào tạo", _shape="objects")
    assert data["human_description_en"] == (
        'where search matches "đào tạo" sorted by published descending')
    assert data["filtered_table_rows_count"] == 1
    assert data["rows"][0]["title"] == "Hội nghị giáo dục và đào tạo"
    rows = server.json("/archive/articles.json", _search_byline="ngọc tú", _shape="objects")
    assert sorted(r["id"] for r in rows["rows"]) == sorted([ids[1], ids[2]])
    # A search combined with a facet filter is still exact.
    assert search_ids(server, "uy ban", site="pgd.chomoi.gov.vn") == [ids[3]]
    html = server.client.get("/archive/articles", params={"_search": "giáo dục"}).text
    assert 'name="_search" value="giáo dục"' in html


def test_default_facets_and_sort(served):
    server, ids = served
    data = server.json("/archive/articles.json", _shape="objects")
    assert [r["id"] for r in data["rows"]] == [ids[4], ids[3], ids[2], ids[1]]  # newest first
    facets = data["facet_results"]
    assert set(facets) >= {"site", "year", "byline"}
    assert {f["value"]: f["count"] for f in facets["site"]["results"]} == {
        "sgddt.backan.gov.vn": 2, "pgd.chomoi.gov.vn": 2}
    assert {f["value"]: f["count"] for f in facets["year"]["results"]} == {2023: 2, 2024: 2}
    assert {f["value"]: f["count"] for f in facets["byline"]["results"]} == {
        "Ngọc Tú": 2, "Thanh Tuyền": 1}


def test_canned_queries(served):
    server, ids = served
    history = server.json("/archive/crawl_history.json", _shape="array")
    assert len(history) == 1
    assert (history[0]["status"], history[0]["pages_fetched"], history[0]["articles_new"],
            history[0]["articles_changed"], history[0]["errors"]) == ("finished", 9, 4, 1, 1)
    found = server.json("/archive/search_by_date.json", _shape="array", q="uy ban",
                        date_from="2024-01-01", date_to="2024-12-31")
    assert [r["id"] for r in found] == [ids[3]]
    # Dates as Vietnamese readers type them; empty words or dates mean no limit.
    found = server.json("/archive/search_by_date.json", _shape="array", q="uy ban",
                        date_from="01/01/2022", date_to="31/12/2023")
    assert [r["id"] for r in found] == [ids[2]]
    found = server.json("/archive/search_by_date.json", _shape="array", q="",
                        date_from="", date_to="")
    assert [r["id"] for r in found] == [ids[4], ids[3], ids[2], ids[1]]
    page = server.client.get("/archive/search_by_date", params={"q": "", "date_from": "",
                                                                "date_to": ""})
    assert page.status_code == 200 and "fts5" not in page.text
    first_open = server.client.get("/archive/search_by_date")
    assert first_open.status_code == 200 and "fts5" not in first_open.text
    assert f'<a href="/archive/articles/{ids[3]}">Hòa Bình tập huấn</a>' in page.text
    changed = server.json("/archive/changed_after_publication.json", _shape="array")
    assert [(r["id"], r["versions"]) for r in changed] == [(ids[2], 2)]
    months = server.json("/archive/articles_per_site_per_month.json", _shape="array")
    assert {"site": "pgd.chomoi.gov.vn", "month": "2024-03", "articles": 1} in months


def test_article_page_reads_as_an_article(served):
    server, ids = served
    r = server.client.get(f"/archive/articles/{ids[1]}")
    assert r.status_code == 200
    html = r.text
    assert '<h1 class="article-title">Hội nghị giáo dục và đào tạo</h1>' in html
    assert '<span class="article-date">Thứ Hai, 11/09/2023</span>' in html
    assert '<span class="article-site" title="sgddt.backan.gov.vn">Sở GD&amp;ĐT Bắc Kạn</span>' in html
    assert '<span class="article-byline">Ngọc Tú</span>' in html
    # Paragraphs, escaped; the image in the text with its caption under it.
    assert "<p>Đoạn đầu tiên.</p>" in html
    assert "<p>Đoạn thứ hai &lt;script&gt;alert(1)&lt;/script&gt; nói về đào tạo.</p>" in html
    assert "<script>alert(1)</script>" not in html
    first, image, second = (html.index("<p>Đoạn đầu tiên.</p>"),
                            html.index('src="https://sgddt.backan.gov.vn/PictureLibrary/hoi-nghi.png"'),
                            html.index("<p>Đoạn thứ hai"))
    assert first < image < second
    assert "<figcaption>Đại biểu dự hội nghị</figcaption>" in html
    assert ('<a href="https://sgddt.backan.gov.vn/Documents/ke-hoach.pdf" rel="nofollow noopener">'
            "Kế hoạch năm học</a>") in html
    assert "<dt>First archived</dt><dd>01/04/2024 00:00 UTC</dd>" in html
    assert (f'Archived 01/04/2024 00:00 UTC: <a href="{server.base}/archive/articles/{ids[1]}">'
            in html)
    # No row table under the article (Datasette's row page is at .json / the table).
    assert "rows-and-columns" not in html
    # Other tables keep Datasette's ordinary row page.
    assert 'class="article-view"' not in server.client.get("/archive/sites/sgddt.backan.gov.vn").text


def test_article_images_where_the_record_places_them(tmp_path, record_factory):
    """An image that names the paragraph it follows ("paragraph": paragraphs before it)
    is shown there; one that does not, after the first paragraph."""
    path = tmp_path / "archive.db"
    ids = build_archive(path, record_factory)
    with Archive(path) as archive:
        archive.db.execute(
            "update article_versions set images = ? where article_id = ?",
            ['[{"src": "https://x.gov.vn/a.png", "caption": "Sau đoạn hai", "paragraph": 2},'
             ' {"src": "https://x.gov.vn/b.png", "caption": "Không rõ chỗ"}]', ids[1]])
    server = Server(path)
    try:
        html = server.client.get(f"/archive/articles/{ids[1]}").text
    finally:
        server.stop()
    order = [html.index(s) for s in ("<p>Đoạn đầu tiên.</p>", "https://x.gov.vn/b.png",
                                     "<p>Đoạn thứ hai", "https://x.gov.vn/a.png", "</article>")]
    assert order == sorted(order)


def test_article_history_diff_and_gone_banner(served):
    server, ids = served
    html = server.client.get(f"/archive/articles/{ids[2]}").text
    assert "What changed from version 1 to 2" in html
    assert '<p class="para-added"><ins>Đính chính.</ins></p>' in html
    old = server.client.get(f"/archive/articles/{ids[2]}", params={"version": 1}).text
    assert "This is version 1 of 2" in old and "Đính chính" not in old
    assert server.client.get(f"/archive/articles/{ids[2]}", params={"version": 7}).status_code == 404
    assert server.client.get(f"/archive/articles/{ids[2]}", params={"version": "x"}).status_code == 400
    assert server.client.get("/archive/articles/999999").status_code == 404
    gone = server.client.get(f"/archive/articles/{ids[4]}").text
    assert 'class="banner banner-gone"' in gone and "HTTP 404" in gone
    # The row's JSON is still Datasette's.
    row = server.json(f"/archive/articles/{ids[1]}.json", _shape="objects")["rows"][0]
    assert row["title"] == "Hội nghị giáo dục và đào tạo"


def test_search_results_page(served):
    server, ids = served
    r = server.client.get("/archive/articles", params={"_search": "dao tao"})
    assert r.status_code == 200
    html = r.text
    assert "<strong>1</strong> article matching <q>dao tao</q>" in html
    assert (f'<h2 class="result-title"><a href="/archive/articles/{ids[1]}">Hội nghị giáo dục và '
            "<mark>đào</mark> <mark>tạo</mark></a></h2>") in html
    assert '<span class="result-date">11/09/2023</span>' in html
    assert ">Sở GD&amp;ĐT Bắc Kạn</span>" in html and '<span class="result-byline">Ngọc Tú</span>' in html
    assert "nói về <mark>đào</mark> <mark>tạo</mark>." in html
    # No cell holds a body: the snippet is all of the text there is.
    assert "rows-and-columns" not in html
    # Facets by site (its name), year and byline, counted over the hits.
    html = server.client.get("/archive/articles", params={"_search": "dao"}).text
    assert "<strong>3</strong> articles matching" in html
    assert 'Sở GD&amp;ĐT Bắc Kạn</a> <span class="facet-count">1</span>' in html
    assert '>pgd.chomoi.gov.vn</a> <span class="facet-count">2</span>' in html
    assert '>2024</a> <span class="facet-count">2</span>' in html
    # Newest first, oldest first.
    newest = [html.index(f'href="/archive/articles/{ids[i]}"') for i in (4, 3, 1)]
    assert newest == sorted(newest)
    oldest = server.client.get("/archive/articles", params={"_search": "dao", "_sort": "oldest"}).text
    order = [oldest.index(f'href="/archive/articles/{ids[i]}"') for i in (1, 3, 4)]
    assert order == sorted(order)
    assert server.client.get("/archive/articles", params={"_search": "dao", "_sort": "relevance"}
                             ).status_code == 200


def test_search_date_range_and_facet_filters(served):
    server, ids = served
    page = server.client.get("/archive/articles", params={
        "_search": "uy ban", "from": "01/01/2022", "to": "31/12/2023"}).text
    assert "<strong>1</strong> article matching" in page
    assert f'href="/archive/articles/{ids[2]}"' in page and f'href="/archive/articles/{ids[3]}"' not in page
    assert "published from 01/01/2022 to 31/12/2023" in page
    # The same selection in the JSON API.
    json_url = lxml.html.fromstring(page).xpath('//p[@class="other-views"]/a[1]/@href')[0]
    assert "published__gte=2022-01-01&published__lt=2024-01-01" in json_url
    assert [r["id"] for r in server.client.get(json_url + "&_shape=array").json()] == [ids[2]]
    everything = server.client.get("/archive/articles", params={"from": "", "to": ""}).text
    assert "<strong>4</strong> articles" in everything
    year = server.client.get("/archive/articles", params={"from": "2024", "to": "2024"}).text
    assert "<strong>2</strong> articles" in year
    site = server.client.get("/archive/articles", params={"site": "pgd.chomoi.gov.vn", "year": "2024",
                                                          "byline": "Thanh Tuyền"}).text
    assert "<strong>1</strong> article" in site and f'href="/archive/articles/{ids[3]}"' in site
    for bad in ({"from": "31/02/2023"}, {"to": "tomorrow"}, {"from": "02/01/2024", "to": "01/01/2024"},
                {"page": "0"}, {"year": "x"}):
        r = server.client.get("/archive/articles", params=bad)
        assert r.status_code == 400, bad
        assert "Traceback" not in r.text
    # Any other table argument gets Datasette's table page.
    table = server.client.get("/archive/articles", params={"title__contains": "Hòa"}).text
    assert "rows-and-columns" in table
    table = server.client.get("/archive/articles", params={"_table": "1", "_search": "dao"}).text
    assert "rows-and-columns" in table and "3 rows" in table
    # Dates as Vietnamese readers write them, sites by name, in Datasette's tables too.
    assert '<time datetime="2023-09-11" title="2023-09-11">11/09/2023</time>' in table
    assert ">Sở GD&amp;ĐT Bắc Kạn</a>" in table


def test_client_errors_are_4xx_without_tracebacks(tmp_path, record_factory):
    path = tmp_path / "archive.db"
    build_archive(path, record_factory)
    server = Server(path)
    try:
        c = server.client
        cases = [
            c.get("/archive/articles.json", params={"_sort": "nonexistent"}),
            c.get("/archive/articles", params={"_sort_desc": "nonexistent"}),
            c.get("/archive/articles.json", params={"_search": '"unclosed AND', "_searchmode": "raw"}),
            c.get("/archive/articles", params={"_search": "AND AND", "_searchmode": "raw"}),
            c.get("/archive.json", params={"sql": "select randomblob(1000000000)"}),
            c.get("/archive.json", params={"sql": "select nonsense from nowhere"}),
        ]
        for r in cases:
            assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text[:300])
            assert len(r.content) < 20_000 and "Traceback" not in r.text
        assert "too big" in cases[4].json()["error"]
        assert c.post("/archive/search_by_date", data={"q": "x"}).status_code == 405
        assert c.post("/archive/articles", data={}).status_code == 405
        assert c.get("/archive/articles.json", params={"_search": "dao"}).status_code == 200
    finally:
        server.stop()
    log = server.proc.stdout.read()
    assert "Traceback" not in log and "locals" not in log.lower(), log[-2000:]


def test_json_lists_rendered_and_decoded(served):
    server, ids = served
    crawl = server.json("/archive/crawls.json", _shape="array")[0]
    assert crawl["sites"] == ["backan-sgddt", "chomoi-pgd"]
    assert crawl["settings"] == {"DOWNLOAD_DELAY": 1}
    row = server.json(f"/archive/articles/{ids[1]}.json", _shape="array")[0]
    assert row["captions"] == ["Đại biểu dự hội nghị"]
    html = server.client.get("/archive/crawls").text
    assert '<ul class="json-list"><li>backan-sgddt</li><li>chomoi-pgd</li></ul>' in html


def test_crawls_join_sites(served):
    server, _ = served
    rows = server.json("/archive.json", _shape="array", sql=(
        "select c.id, s.host, s.name from crawls c join crawl_sites cs on cs.crawl_id = c.id "
        "join sites s on s.host = cs.site order by s.host"))
    assert rows == [{"id": 1, "host": "sgddt.backan.gov.vn", "name": "Sở GD&ĐT Bắc Kạn"}]


def test_migration_fills_registry_keys(tmp_path):
    from crawler.sites import load_sites
    from crawler.store import MIGRATIONS

    key, site = next(iter(load_sites().items()))
    db = Database(tmp_path / "old.db")
    MIGRATIONS.apply(db, stop_before="006_browse")
    db["sites"].insert({"host": site.hosts[0], "added": "2024-01-01T00:00:00+00:00"})
    db["crawls"].insert({"sites": f'["{key}"]', "started": "2024-01-01", "status": "finished"})
    db.close()
    with Archive(tmp_path / "old.db") as archive:
        assert archive.db.execute("select key from sites").fetchall() == [(key,)]
        assert archive.db.execute("select crawl_id, site from crawl_sites").fetchall() == [
            (1, site.hosts[0])]


def test_metadata_home_and_schema(served):
    server, _ = served
    meta = server.json("/-/metadata.json")
    assert meta["license"] and meta["source"] and meta["about_url"] == "/-/schema"
    db = server.client.get("/archive").text
    assert "`" not in db.split('<h2 id="tables">')[0].split("<h1")[1]  # no raw Markdown
    tables = [db.index(f'<h3><a href="/archive/{t}"') for t in ("articles", "article_versions",
                                                               "article_urls")]
    assert tables == sorted(tables)
    schema = server.client.get("/-/schema")
    assert schema.status_code == 200 and "<h1>The archive: schema</h1>" in schema.text


def test_metadata_describes_every_table_and_column(tmp_path, record_factory):
    path = tmp_path / "a.db"
    build_archive(path, record_factory)
    meta = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["archive"]["tables"]
    db = Database(path)
    for table in db.table_names():
        if table.startswith("articles_fts"):
            continue
        assert table in meta and meta[table].get("description"), table
        if meta[table].get("hidden"):
            continue
        assert meta[table].get("title"), table
        missing = set(db[table].columns_dict) - set(meta[table].get("columns", {}))
        assert not missing, (table, missing)


def test_public_serves_a_snapshot_as_archive(tmp_path, record_factory):
    path = tmp_path / "public.db"
    ids = build_archive(path, record_factory)
    snapshots = tmp_path / "snaps"
    server = Server(path, "--public", "--snapshot-dir", str(snapshots))
    before = path.read_bytes()
    try:
        # /archive/ whatever the file is called; immutable; the snapshot, not the file.
        dbs = server.json("/-/databases.json")
        assert [(d["name"], d["is_mutable"]) for d in dbs] == [("archive", False)]
        info = server.json("/-/archive.json")
        assert info["public"] and (snapshots / info["file"]).exists()
        assert search_ids(server, "dao tao") == [ids[1]]
        assert server.client.get("/archive.db").status_code == 403
        r = server.client.get("/archive.json", params={"sql": "update articles set title = 'x'"})
        assert r.status_code == 400 and "must be a SELECT" in r.json()["error"]
        assert server.client.post("/archive", data={"sql": "delete from articles"}).status_code == 405
        # A crawl writes the live file: the public does not see it until a refresh.
        with Archive(path) as archive:
            crawl = archive.start_crawl(["x"], {})
            archive.save_article(record_factory(
                url="https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=9",
                title="Tin mới sau ảnh chụp", body="Khai giảng năm học mới."), crawl_id=crawl)
        assert search_ids(server, "khai giang") == []
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while server.json("/-/archive.json")["file"] == info["file"]:
            assert time.monotonic() < deadline, "snapshot not refreshed"
            time.sleep(0.2)
        assert len(search_ids(server, "khai giang")) == 1
        assert ids[1] in search_ids(server, "dao tao")
        assert "Tin mới sau ảnh chụp" in server.client.get(
            "/archive/articles", params={"_search": "khai giảng"}).text
    finally:
        server.stop()
    # The server never wrote the crawl's file; its snapshots are removed on exit.
    assert not list(snapshots.glob("*.db"))
    with Archive(path) as archive:
        assert archive.article_count() == 5
    assert before  # read before the crawl wrote


def test_serve_refuses_a_missing_archive(tmp_path):
    r = subprocess.run([sys.executable, "-m", "crawler", "serve", "--db", str(tmp_path / "no.db")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "no archive at" in r.stderr
