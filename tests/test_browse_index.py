"""crawler/browse.py on real archive files: the search page's count, facets and order
equal what SQL says, also after the file changes; dates, snippets and diffs."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import date

import pytest

from crawler.browse import (
    FacetIndex,
    Search,
    SearchError,
    body_diff,
    fold,
    mark,
    parse_day,
    query_terms,
    snippet,
    vn_date,
    word_diff,
)
from crawler.store import Archive, match_expression

WORDS = "giáo dục đào tạo hội nghị uỷ ban ủy ban nhân dân hòa hoà khai giảng năm học".split()
SITES = ["a.gov.vn", "b.gov.vn", "c.gov.vn"]
BYLINES = ["Ngọc Tú", "Thanh Tuyền", None]


def fill(archive: Archive, crawl: int, rng: random.Random, start: int, n: int) -> None:
    for i in range(start, start + n):
        published = None if i % 17 == 0 else (
            f"{rng.randrange(2015, 2025)}-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}"
            + ("T08:30:00+07:00" if i % 5 == 0 else ""))
        archive.save_article({
            "url": f"https://{SITES[i % 3]}/tin/{i}.html", "title": f"Tin {i} "
            + " ".join(rng.choices(WORDS, k=3)), "published": published,
            "body": " ".join(rng.choices(WORDS, k=30)), "byline": BYLINES[i % 3],
        }, crawl_id=crawl)


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        crawl = archive.start_crawl(["t"], {})
        fill(archive, crawl, random.Random(7), 0, 300)
        archive.crawl = crawl
        yield archive


def sql_truth(conn, q: str, where: str = "1", params=()):
    match = match_expression(q)
    rows = conn.execute(
        "select id, site, year, byline from articles where rowid in (select rowid from "
        f"articles_fts where articles_fts match ?) and {where} order by published desc, id desc",
        [match, *params]).fetchall()
    return ([r[0] for r in rows], Counter(r[1] for r in rows), Counter(r[2] for r in rows if r[2]),
            Counter(r[3] for r in rows if r[3]))


@pytest.mark.parametrize("q", ["giao duc", "đào", "uy ban", "hoa", "khai giảng năm"])
def test_count_facets_and_order_equal_sql(archive, q):
    conn = archive.db.conn
    index = FacetIndex()
    ids, sites, years, bylines = sql_truth(conn, q)
    r = index.search(conn, Search(q=q, size=500))
    assert r.count == len(ids) > 0
    # Newest first: undated last; equal dates by id, newest first. Same as SQL's order
    # except that SQL sorts a date before the same date with a time.
    assert sorted(r.ids) == sorted(ids)
    keys = [conn.execute("select coalesce(substr(published, 1, 16), '') from articles "
                         "where id = ?", [i]).fetchone()[0] for i in r.ids]
    assert keys == sorted(keys, reverse=True)
    assert dict(r.facets["site"]) == dict(sites)
    assert dict(r.facets["year"]) == dict(years)
    assert dict(r.facets["byline"]) == dict(bylines)
    # Pages: the second page continues the first.
    p1 = index.search(conn, Search(q=q, size=7, page=1)).ids
    p2 = index.search(conn, Search(q=q, size=7, page=2)).ids
    assert p1 + p2 == r.ids[:14]


def test_filters_and_date_range_equal_sql(archive):
    conn = archive.db.conn
    index = FacetIndex()
    r = index.search(conn, Search(q="giao duc", site="b.gov.vn", byline="Thanh Tuyền",
                                  date_from=date(2018, 1, 1), date_to=date(2021, 12, 31),
                                  size=500))
    ids, *_ = sql_truth(conn, "giao duc", "site = ? and byline = ? and substr(published, 1, 10) "
                        "between ? and ?", ["b.gov.vn", "Thanh Tuyền", "2018-01-01", "2021-12-31"])
    assert sorted(r.ids) == sorted(ids) and r.count == len(ids) > 0
    everything = index.search(conn, Search(size=1000))
    assert everything.count == 300
    assert index.search(conn, Search(year=2019, size=1000)).count == conn.execute(
        "select count(*) from articles where year = 2019").fetchone()[0]
    oldest = index.search(conn, Search(sort="oldest", size=1000)).ids
    dated = [i for i in oldest if conn.execute(
        "select published from articles where id = ?", [i]).fetchone()[0]]
    assert oldest[:len(dated)] == dated  # undated last either way


def test_arrays_follow_the_file(archive):
    conn = archive.db.conn
    index = FacetIndex()
    before = index.search(conn, Search(q="giao duc")).count
    fill(archive, archive.crawl, random.Random(8), 300, 50)  # new articles
    # An article changes its byline and date (a new version).
    archive.save_article({"url": "https://a.gov.vn/tin/3.html", "title": "Tin 3 giáo dục",
                          "published": "2030-01-01", "body": "giáo dục", "byline": "Người Mới"},
                         crawl_id=archive.crawl)
    after = index.search(conn, Search(q="giao duc", size=1))
    ids, sites, years, bylines = sql_truth(conn, "giao duc")
    assert after.count == len(ids) and after.count > before
    assert after.ids == [ids[0]] == [archive.find_article("https://a.gov.vn/tin/3.html")]
    assert dict(after.facets["byline"]) == dict(bylines)
    assert dict(after.facets["year"]) == dict(years)


def test_hit_lists_longer_than_the_value_limit(archive):
    """The server limits every value to 32 MB; the hit list of a common word in a large
    archive may be longer (8 bytes an article): lifted for these queries only."""
    conn = archive.db.conn
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 500)
    try:
        r = FacetIndex().search(conn, Search(q="giao", size=1))
        assert r.count == conn.execute(
            "select count(*) from articles_fts where articles_fts match 'giao'").fetchone()[0]
        assert r.count * 2 > 500  # its group_concat is longer than the limit
        assert conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) == 500
        with pytest.raises(sqlite3.DataError):
            conn.execute("select group_concat(rowid) from articles_fts "
                         "where articles_fts match 'giao'").fetchone()
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)


def test_relevance_and_bad_syntax(archive):
    conn = archive.db.conn
    index = FacetIndex()
    r = index.search(conn, Search(q="khai giang", sort="relevance", size=5))
    best = [row[0] for row in conn.execute(
        "select rowid from articles_fts where articles_fts match ? order by rank limit 5",
        [match_expression("khai giang")])]
    assert r.ids == best
    with pytest.raises(SearchError):
        index.search(conn, Search(q='"unclosed AND', raw=True))
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("select 1 from articles_fts where articles_fts match ?", ["AND AND"]).fetchall()


def test_dates_snippets_and_diffs():
    assert vn_date("2023-09-11") == "11/09/2023"
    assert vn_date("2023-09-11T08:30:00+07:00") == "11/09/2023 08:30"
    assert vn_date("tháng 9") == "tháng 9"
    assert vn_date("2023-09-11", weekday=True) == "Thứ Hai, 11/09/2023"
    assert vn_date("2023-09-17T08:30:00+07:00", weekday=True) == "Chủ Nhật, 17/09/2023 08:30"
    assert parse_day("31/12/2022") == date(2022, 12, 31)
    assert parse_day("1/2/2022") == date(2022, 2, 1)
    assert parse_day("2022-02-01") == date(2022, 2, 1)
    assert parse_day("2022") == date(2022, 1, 1) and parse_day("2022", end=True) == date(2022, 12, 31)
    assert parse_day("") is None
    for bad in ("31/02/2022", "2022/12/31", "mai", "12/2022"):
        with pytest.raises(ValueError, match="DD/MM/YYYY"):
            parse_day(bad)
    text = "Ủy ban nhân dân xã Thuận Hoà tổ chức lễ. Đào tạo và ĐÀO TẠO."
    assert len(fold(text)) == len(text)
    terms = query_terms("uy ban dao tao")
    assert [t for t, hit in mark(text, terms) if hit] == ["Ủy", "ban", "Đào", "tạo", "ĐÀO", "TẠO"]
    prefix = query_terms("hoa*", raw=True)
    assert [t for t, hit in mark(text, prefix) if hit] == ["Hoà"]
    long = " ".join(f"từ{i}" for i in range(200)) + " giáo dục " + " ".join(
        f"chữ{i}" for i in range(200))
    pieces = snippet(long, query_terms("giao duc"), words=40)
    shown = "".join(t for t, _ in pieces)
    assert shown.startswith("… ") and shown.endswith(" …") and len(shown.split()) <= 44
    assert [t for t, hit in pieces if hit] == ["giáo", "dục"]
    assert word_diff("Uỷ ban xã tổ chức.", "Uỷ ban huyện tổ chức lễ.") == [
        ("=", "Uỷ ban "), ("-", "xã"), ("+", "huyện"), ("=", " tổ chức"), ("+", " lễ"), ("=", ".")]
    diff = body_diff("A.\n\nB.\n\nC.\n\nD.\n\nE.", "A.\n\nB.\n\nC đã sửa.\n\nD.\n\nE.\n\nF.")
    assert [d["op"] for d in diff] == ["same", "context", "changed", "context", "context", "added"]
