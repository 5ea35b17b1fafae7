"""The archive in a real Datasette server (python -m crawler serve) on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


def build_archive(path: Path, record_factory) -> dict[int, int]:
    ids = {}
    with Archive(path) as archive:
        archive.upsert_site("sgddt.backan.gov.vn", name="Sở GD&ĐT Bắc Kạn",
                            family="publishingportal", province="Bắc Kạn", level="sở")
        crawl = archive.start_crawl(["backan-sgddt", "chomoi-pgd"], {"DOWNLOAD_DELAY": 1})
        for item, site, published, title, body, byline in ARTICLES:
            url = f"https://{site}/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID={item}&l=Tin"
            rec = record_factory(url=url, site=site, published=published, title=title, body=body,
                                 byline=byline, summary=None, captions=[], images=[],
                                 attachments=[])
            archive.save_article(rec, crawl_id=crawl, fetched_at="2024-04-01T00:00:00+00:00")
            ids[item] = archive.find_article(url)
        # Article 2 is edited after publication: a second version.
        url2 = "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=2"
        rec = record_factory(url=url2, site="sgddt.backan.gov.vn", published="2023-10-02",
                             title=ARTICLES[1][3], body=ARTICLES[1][4] + "\n\nĐính chính.",
                             byline="Ngọc Tú", summary=None, captions=[], images=[],
                             attachments=[])
        assert archive.save_article(rec, crawl_id=crawl) == "changed"
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
    changed = server.json("/archive/changed_after_publication.json", _shape="array")
    assert [(r["id"], r["versions"]) for r in changed] == [(ids[2], 2)]
    months = server.json("/archive/articles_per_site_per_month.json", _shape="array")
    assert {"site": "pgd.chomoi.gov.vn", "month": "2024-03", "articles": 1} in months


def test_article_page_shows_paragraphs_escaped(served):
    server, ids = served
    r = server.client.get(f"/archive/articles/{ids[1]}")
    assert r.status_code == 200
    html = r.text
    assert '<h2 class="article-title">Hội nghị giáo dục và đào tạo</h2>' in html
    assert "<p>Đoạn đầu tiên.</p>" in html
    assert "<p>Đoạn thứ hai &lt;script&gt;alert(1)&lt;/script&gt; nói về đào tạo.</p>" in html
    assert "<script>alert(1)</script>" not in html
    # Other tables keep Datasette's ordinary row page.
    assert 'class="article-view"' not in server.client.get("/archive/sites/sgddt.backan.gov.vn").text


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


def test_public_is_immutable_and_read_only(tmp_path, record_factory):
    path = tmp_path / "public.db"
    ids = build_archive(path, record_factory)
    server = Server(path, "--public")
    before = path.read_bytes()
    try:
        dbs = server.json("/-/databases.json")
        assert [(d["name"], d["is_mutable"]) for d in dbs] == [("public", False)]
        assert search_ids(server, "dao tao", db="public") == [ids[1]]
        assert server.client.get("/public.db").status_code == 403
        r = server.client.get("/public.json", params={"sql": "update articles set title = 'x'"})
        assert r.status_code == 400 and "must be a SELECT" in r.json()["error"]
        assert server.client.post("/public", data={"sql": "delete from articles"}).status_code == 405
        assert search_ids(server, "dao tao", db="public") == [ids[1]]
    finally:
        server.stop()
    # serve --public folded the WAL into the file first; the server wrote nothing.
    wal = Path(str(path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert path.read_bytes() == before


def test_serve_refuses_a_missing_archive(tmp_path):
    r = subprocess.run([sys.executable, "-m", "crawler", "serve", "--db", str(tmp_path / "no.db")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "no archive at" in r.stderr
