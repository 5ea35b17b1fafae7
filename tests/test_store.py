import json
import sqlite3

import pytest
from sqlite_utils import Database

from crawler.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Archive,
    InvalidRecord,
    content_hash,
    match_expression,
    normalize_content,
    search_plan,
    search_where,
)

T1, T2, T3 = "2024-01-01T00:00:00+00:00", "2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "data" / "archive.db") as arc:
        yield arc


@pytest.fixture
def crawl(archive):
    return archive.start_crawl(["sgddt.backan.gov.vn"], {"DOWNLOAD_DELAY": 1})


def row(archive, sql, *params):
    cur = archive.db.execute(sql, params)
    cols = [d[0] for d in cur.description]
    found = cur.fetchone()
    return dict(zip(cols, found, strict=True)) if found else None


def test_archive_file_is_wal_with_foreign_keys_and_current_schema(tmp_path):
    path = tmp_path / "new" / "a.db"
    Archive(path).close()
    assert path.exists()
    conn = sqlite3.connect(path)
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    db = Database(path)
    assert {"sites", "crawls", "articles", "article_versions", "images", "attachments",
            "fetch_errors", "article_urls", "articles_fts"} <= set(db.table_names())
    fks = {(fk.column, fk.other_table) for fk in db["article_versions"].foreign_keys}
    assert fks == {("article_id", "articles"), ("crawl_id", "crawls")}
    assert ("site", "sites") in {(fk.column, fk.other_table) for fk in db["articles"].foreign_keys}
    indexed = {tuple(ix.columns) for ix in db["articles"].indexes}
    assert {("site",), ("published",), ("first_seen",), ("year",), ("key",),
            ("published", "id")} <= indexed
    assert [m.name for m in MIGRATIONS.applied(db)][:4] == [
        "001_initial", "002_search_and_aliases", "003_newest_first_indexes",
        "004_crawl_process"]
    with Archive(path) as again:  # reopening applies nothing
        assert again.migrate() == []
        assert again.db.execute("pragma foreign_keys").fetchone()[0] == 1


def test_new_article_is_stored_with_versions_images_attachments(archive, crawl, record_factory):
    assert archive.save_article(record_factory(), crawl_id=crawl, fetched_at=T1) == "new"
    art = row(archive, "select * from articles")
    # The URL the record names (the one that answered), the key without the category.
    assert art["url"] == ("https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
                          "?ItemID=28383&l=Tintrongtinh&lv=11")
    assert art["key"] == ("https://sgddt.backan.gov.vn/noidung/tintuc/pages/chi-tiet-tin-tuc.aspx"
                          "?ItemID=28383")
    assert art["site"] == "sgddt.backan.gov.vn" and art["family"] == "publishingportal"
    assert art["title"] == "Hội nghị triển khai nhiệm vụ năm học 2023 – 2024"
    assert art["published"] == "2023-09-11" and art["year"] == 2023
    assert json.loads(art["captions"]) == ["Đại biểu dự Hội nghị tại Sở GD&ĐT"]
    assert (art["version"], art["status"]) == (1, "live")
    assert art["first_seen"] == art["last_seen"] == art["last_changed"] == T1
    assert art["first_crawl"] == art["last_crawl"] == crawl
    ver = row(archive, "select * from article_versions")
    assert (ver["article_id"], ver["version"], ver["crawl_id"], ver["fetched_at"]) == (
        art["id"], 1, crawl, T1)
    assert ver["content_hash"] == art["content_hash"] and ver["body"] == art["body"]
    images = archive.db.execute(
        "select position, src, caption from images where article_id = ? order by position",
        [art["id"]]).fetchall()
    assert images == [
        (1, "https://sgddt.backan.gov.vn/PictureLibrary/ab12/image003.jpg",
         "Đại biểu dự Hội nghị tại Sở GD&ĐT"),
        (2, "https://sgddt.backan.gov.vn/PictureLibrary/ab12/image004.jpg", None),
    ]
    assert archive.db.execute("select url, name from attachments").fetchall() == [
        ("https://sgddt.backan.gov.vn/Documents/kh.pdf", "Kế hoạch")]
    site = row(archive, "select * from sites")
    assert (site["host"], site["family"]) == ("sgddt.backan.gov.vn", "publishingportal")
    assert archive.article_count() == 1


def test_unchanged_article_only_moves_last_seen(archive, crawl, record_factory):
    archive.save_article(record_factory(), crawl_id=crawl, fetched_at=T1)
    before = row(archive, "select * from articles")
    crawl2 = archive.start_crawl(["sgddt.backan.gov.vn"], {})
    # Warnings and surrounding whitespace are not content.
    again = record_factory(warnings=["no_date: x"], title="  Hội nghị triển khai nhiệm vụ năm "
                           "học 2023 – 2024 ", body=record_factory()["body"] + "\n\n")
    assert archive.save_article(again, crawl_id=crawl2, fetched_at=T2) == "unchanged"
    after = row(archive, "select * from articles")
    assert after["last_seen"] == T2 and after["last_crawl"] == crawl2
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"last_seen", "last_crawl"}
    assert archive.db["article_versions"].count == 1


def test_changed_article_gets_a_new_version_and_keeps_the_old(archive, crawl, record_factory):
    archive.save_article(record_factory(), crawl_id=crawl, fetched_at=T1)
    crawl2 = archive.start_crawl(["sgddt.backan.gov.vn"], {})
    edited = record_factory(body="Nội dung đã sửa.", images=[])
    assert archive.save_article(edited, crawl_id=crawl2, fetched_at=T2) == "changed"
    art = row(archive, "select * from articles")
    assert (art["version"], art["body"], art["last_changed"], art["first_seen"]) == (
        2, "Nội dung đã sửa.", T2, T1)
    versions = archive.db.execute(
        "select version, crawl_id, fetched_at, body, images from article_versions "
        "order by version").fetchall()
    assert [v[:3] for v in versions] == [(1, crawl, T1), (2, crawl2, T2)]
    assert versions[0][3].startswith("Ngày 11/9") and versions[1][3] == "Nội dung đã sửa."
    assert len(json.loads(versions[0][4])) == 2 and json.loads(versions[1][4]) == []
    assert archive.db["images"].count == 0
    # Changing back is a change too: a third version, history intact.
    assert archive.save_article(record_factory(), crawl_id=crawl2, fetched_at=T3) == "changed"
    assert archive.db.execute("select max(version) from article_versions").fetchone()[0] == 3
    assert row(archive, "select version from articles")["version"] == 3


def test_one_article_under_many_urls(archive, crawl, record_factory):
    base = "sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383"
    urls = [f"https://{base}&l=Tintrongtinh&lv=11", f"http://{base}&l=Khac",
            f"https://{base}&utm_source=zalo#top", f"https://{base}%20"]
    outcomes = [archive.save_article(record_factory(url=u), crawl_id=crawl) for u in urls]
    assert outcomes == ["new", "unchanged", "unchanged", "unchanged"]
    assert archive.article_count() == 1
    aliases = {u for (u,) in archive.db.execute("select url from article_urls")}
    assert aliases == set(urls)
    other = record_factory(url=f"https://{base.replace('28383', '28384')}")
    assert archive.save_article(other, crawl_id=crawl) == "new"
    assert archive.article_count() == 2


def test_gone_article_keeps_its_content_and_can_come_back(archive, crawl, record_factory):
    archive.save_article(record_factory(), crawl_id=crawl, fetched_at=T1)
    crawl2 = archive.start_crawl(["sgddt.backan.gov.vn"], {})
    # The 404 arrives under another category URL of the same article.
    url = ("http://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx"
           "?l=Other&ItemID=28383")
    assert archive.mark_gone(url, crawl_id=crawl2, status_code=410) is True
    art = row(archive, "select * from articles")
    assert (art["status"], art["gone_status"], art["last_seen"]) == ("gone", 410, T1)
    assert art["body"].startswith("Ngày 11/9") and art["version"] == 1
    assert archive.mark_gone("https://sgddt.backan.gov.vn/nothing.aspx?ItemID=1",
                             crawl_id=crawl2) is False
    assert archive.save_article(record_factory(), crawl_id=crawl2, fetched_at=T3) == "unchanged"
    art = row(archive, "select * from articles")
    assert (art["status"], art["gone_since"], art["last_seen"]) == ("live", None, T3)


def test_crawl_rows_count_what_happened(archive, record_factory):
    crawl = archive.start_crawl(["a.gov.vn", "b.gov.vn"], {"DOWNLOAD_DELAY": 2})
    archive.save_article(record_factory(), crawl_id=crawl)
    archive.save_article(record_factory(), crawl_id=crawl)
    archive.save_article(record_factory(body="khác"), crawl_id=crawl)
    err = archive.record_error(crawl, "https://a.gov.vn/x", "TimeoutError: took too long",
                               attempts=3)
    archive.record_error(crawl, "https://a.gov.vn/y", "HTTP 500", status=500)
    archive.finish_crawl(crawl, "finished", {"pages_fetched": 42})
    c = row(archive, "select * from crawls where id = ?", crawl)
    assert json.loads(c["sites"]) == ["a.gov.vn", "b.gov.vn"]
    assert json.loads(c["settings"]) == {"DOWNLOAD_DELAY": 2}
    assert (c["status"], c["pages_fetched"], c["articles_new"], c["articles_changed"],
            c["articles_unchanged"], c["errors"]) == ("finished", 42, 1, 1, 1, 2)
    assert c["started"] <= c["finished"]
    e = row(archive, "select * from fetch_errors where id = ?", err)
    assert (e["crawl_id"], e["url"], e["status"], e["reason"], e["attempts"]) == (
        crawl, "https://a.gov.vn/x", None, "TimeoutError: took too long", 3)
    with pytest.raises(ValueError, match="unknown counts"):
        archive.finish_crawl(crawl, "finished", {"pages": 1})
    with pytest.raises(ValueError, match="no crawl with id 999"):
        archive.save_article(record_factory(), crawl_id=999)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"url": "not a url", "title": "x", "body": "y"}, "unusable URL"),
        ({"title": "x"}, "no 'url'"),
        ({"title": None, "body": "  ", "warnings": ["not_html: the bytes are not HTML"]},
         "no title and no text extracted \\(warnings: not_html"),
        ({"captions": "a string"}, "'captions' must be a list"),
        ({"images": [{"src": 5}]}, "images\\[0\\].src"),
    ],
)
def test_bad_records_are_refused_with_a_row_saying_why(archive, crawl, record_factory, bad,
                                                       message):
    record = record_factory(**bad)
    if "url" not in bad and "title" in bad and len(bad) == 1:
        del record["url"]
    archive.save_article(record_factory(), crawl_id=crawl)
    with pytest.raises(InvalidRecord, match=message):
        archive.save_article(record, crawl_id=crawl)
    err = row(archive, "select * from fetch_errors")
    assert err["reason"].startswith("invalid record: ") and err["crawl_id"] == crawl
    # The article already held is untouched.
    assert row(archive, "select version, body from articles")["version"] == 1
    assert archive.article_count() == 1


def test_upsert_site_fills_in_without_erasing(archive):
    archive.upsert_site("XA.gov.vn", name="Xã A", family="dotnetnuke")
    archive.upsert_site("xa.gov.vn", province="Bắc Kạn", level="xã")
    site = row(archive, "select * from sites")
    assert (site["host"], site["name"], site["family"], site["province"], site["level"]) == (
        "xa.gov.vn", "Xã A", "dotnetnuke", "Bắc Kạn", "xã")


def test_content_hash_covers_content_not_fetch_details(record_factory):
    a = normalize_content(record_factory())
    b = normalize_content(record_factory(url="https://other/", warnings=["x"], family="generic",
                                         site="other"))
    assert content_hash(a) == content_hash(b)
    nfd = record_factory(title="Hội nghị triển khai nhiệm vụ năm học 2023 – 2024".encode()
                         .decode().replace("ộ", "o\u0323\u0302"))
    assert content_hash(normalize_content(nfd)) == content_hash(a)
    assert content_hash(normalize_content(record_factory(byline="Khác"))) != content_hash(a)


SEARCH_TEXTS = {
    "gd": {"title": "Ngành giáo dục tỉnh", "body": "Nội dung một."},
    "hoa1": {"title": "Hòa bình", "body": "Nội dung hai."},
    "hoa2": {"title": "Thuận Hoà", "body": "Nội dung ba."},
    "ub1": {"title": "Ủy ban nhân dân", "body": "Nội dung bốn."},
    "ub2": {"title": "Uỷ ban kiểm tra", "body": "Nội dung năm."},
    "dt": {"title": "Tin ngắn", "body": "Công tác đào tạo cán bộ."},
    "dao": {"title": "Con dao", "body": "Nội dung sáu."},
    "cap": {"title": "Tin ảnh", "body": "Nội dung bảy.", "captions": ["Đoàn công tác tại Đà Lạt"]},
    "by": {"title": "Tin tám", "body": "Nội dung tám.", "byline": "Đức Hùng"},
}


@pytest.fixture
def searchable(archive, crawl, record_factory):
    ids = {}
    for i, (name, fields) in enumerate(SEARCH_TEXTS.items()):
        rec = record_factory(url=f"https://x.gov.vn/Pages/a.aspx?ItemID={i}", captions=[],
                             images=[], summary=None, byline=None, published=f"2023-01-{i + 1:02}")
        rec.update(fields)
        archive.save_article(rec, crawl_id=crawl)
        ids[name] = archive.find_article(rec["url"])
    return ids


@pytest.mark.parametrize(
    "plain, marked, expected",
    [
        ("giao duc", "giáo dục", {"gd"}),
        ("hoa", "hòa", {"hoa1", "hoa2"}),
        ("hoa", "hoà", {"hoa1", "hoa2"}),
        ("uy ban", "Ủy ban", {"ub1", "ub2"}),
        ("uy ban", "Uỷ ban", {"ub1", "ub2"}),
        ("dao tao", "đào tạo", {"dt"}),
        ("dao", "đào", {"dt", "dao"}),
        ("doan cong tac", "Đoàn công tác", {"cap"}),
        ("duc hung", "Đức Hùng", {"by"}),
        ('"cong tac dao tao"', '"Công tác đào tạo"', {"dt"}),
    ],
)
def test_search_is_insensitive_to_vietnamese_marks(archive, searchable, plain, marked, expected):
    want = {searchable[name] for name in expected}
    for query in (plain, marked, marked.upper()):
        assert {r["id"] for r in archive.search(query)} == want, query


def test_search_index_follows_changes(archive, crawl, searchable, record_factory):
    rec = record_factory(url="https://x.gov.vn/Pages/a.aspx?ItemID=0", title="Đổi tiêu đề",
                         body="Nội dung mới", captions=[], images=[], summary=None, byline=None)
    assert archive.save_article(rec, crawl_id=crawl) == "changed"
    assert archive.search("giao duc") == []
    assert [r["id"] for r in archive.search("doi tieu de")] == [searchable["gd"]]
    archive.rebuild_search_index()
    assert [r["id"] for r in archive.search("đổi tiêu đề")] == [searchable["gd"]]
    assert archive.search("giao duc") == []


def test_every_search_plan_finds_the_same_rows_newest_first(archive, searchable, monkeypatch):
    conn = archive.db.conn
    match = match_expression("nội dung")
    found = {}
    for plan in ("in", "scan", "probe"):
        found[plan] = [r[0] for r in conn.execute(
            f"select id from articles where {search_where(plan)} "
            "order by published desc, id desc", {"search": match})]
    assert found["in"] == found["scan"] == found["probe"]
    assert len(found["in"]) == 8
    monkeypatch.setattr("crawler.search.RARE_MATCHES", 2)  # this archive is tiny
    assert search_plan(conn, match) == "probe"  # 8 of 9 articles match
    assert search_plan(conn, match_expression("công tác")) == "scan"  # 2 of 9
    assert search_plan(conn, match_expression("giáo dục")) == "in"  # 1
    assert search_plan(conn, 'unbalanced "(') == "in"  # the real query reports the error


def test_migrations_upgrade_a_v1_archive_in_place(tmp_path):
    path = tmp_path / "v1.db"
    db = Database(path)
    MIGRATIONS.apply(db, stop_before="002_search_and_aliases")
    assert "articles_fts" not in db.table_names()
    assert "year" not in db["articles"].columns_dict
    db["sites"].insert({"host": "x.gov.vn", "added": T1})
    db["crawls"].insert({"id": 1, "started": T1, "status": "finished", "sites": '["x.gov.vn"]'})
    db["articles"].insert({
        "id": 7, "site": "x.gov.vn", "url": "https://x.gov.vn/a.aspx?ItemID=7",
        "key": "https://x.gov.vn/a.aspx?ItemID=7", "family": "publishingportal",
        "title": "Đào tạo nghề", "published": "2019-05-02", "body": "Văn bản cũ.",
        "captions": "[]", "content_hash": "h", "version": 1, "status": "live",
        "first_seen": T1, "last_seen": T1, "last_changed": T1, "first_crawl": 1, "last_crawl": 1,
    })
    db["article_versions"].insert({"article_id": 7, "version": 1, "content_hash": "h",
                                   "fetched_at": T1, "crawl_id": 1, "title": "Đào tạo nghề"})
    db.close()

    with Archive(path) as archive:
        assert archive.schema_version == SCHEMA_VERSION
        art = row(archive, "select * from articles where id = 7")
        assert (art["title"], art["year"], art["body"]) == ("Đào tạo nghề", 2019, "Văn bản cũ.")
        cols = list(archive.db["articles"].columns_dict)
        assert cols.index("year") == cols.index("published") + 1
        assert [r["id"] for r in archive.search("dao tao")] == [7]
        assert archive.find_article("https://x.gov.vn/a.aspx?ItemID=7") == 7
        assert archive.db["article_versions"].count == 1
        assert archive.db.execute("pragma foreign_key_check").fetchall() == []
        # And the upgraded archive takes new writes.
        crawl = archive.start_crawl(["x.gov.vn"], {})
        assert archive.save_article(
            {"url": "https://x.gov.vn/a.aspx?ItemID=7", "family": "publishingportal",
             "title": "Đào tạo nghề", "published": "2019-05-02", "body": "Văn bản mới."},
            crawl_id=crawl) == "changed"
        assert row(archive, "select version from articles where id = 7")["version"] == 2


def test_store_bench_runs_at_tiny_size(tmp_path):
    """The scale bench's code at 400 articles, so it does not rot (figures: bench/)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "store_bench.py"
    spec = importlib.util.spec_from_file_location("store_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines = []
    result = bench.run(400, tmp_path / "bench.db", sample=400, out=lines.append)
    assert result["articles"] == 400
    assert 5_000 < result["bytes_per_article"] < 50_000
    mech = result["mechanisms"]
    assert mech["no index"] == 0
    ours = mech["contentless, đ folded (this archive)"]
    assert 0.8 < ours / mech["plain FTS5, external content (no đ folding)"] < 1.2
    assert ours < 0.6 * mech["folded shadow copy + FTS5 on it"]
    assert [w["label"] for w in result["words"]] == [
        "rare", "medium", "medium", "common", "very common"]
    for w in result["words"]:
        assert w["plan"] in ("in", "scan", "probe") and w["datasette_ms"] >= 0
    assert any("first page of _search=WORD" in line for line in lines)
