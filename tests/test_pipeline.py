"""The archive pipeline with a real Scrapy crawler object and a real SQLite file."""

import sqlite3
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from crawler.extract import extract_article
from crawler.frontier import CrawlState
from crawler.items import ArticleItem, FetchErrorItem
from pipelines.archive import ArchivePipeline
from spiders.portal import PortalSpider

PAGE = Path(__file__).parent / "fixtures" / "pages" / "seed_000_publishingportal.html"
URL = "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID=28383&l=Tintrongtinh&lv=11"


@pytest.fixture
def pipeline(tmp_path):
    db = tmp_path / "archive.db"
    # Each record committed at once (the crawl commits a few per transaction), so the
    # archive can be read after every item.
    crawler = get_crawler(PortalSpider, {"ARCHIVE_DB": str(db), "ARCHIVE_COMMIT_ITEMS": 1})
    crawler.spider = PortalSpider.from_crawler(crawler, start_url="https://sgddt.backan.gov.vn/")
    pipe = ArchivePipeline.from_crawler(crawler)
    pipe.open_spider(crawler.spider)
    yield pipe, crawler, db


def query(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_article_then_404_then_close(pipeline):
    pipe, crawler, db = pipeline
    record = extract_article(PAGE.read_bytes(), URL)
    item = ArticleItem(record=record, site="sgddt.backan.gov.vn", fetched_at="2026-11-25T01:00:00+00:00")
    pipe.process_item(item)
    pipe.process_item(item)  # seen again, unchanged
    assert query(db, "select title, byline, version, status from articles") == [
        (record["title"], "Ngọc Tú", 1, "live")]
    # The same article under another category URL answers 404: it is gone, content kept.
    other = URL.replace("l=Tintrongtinh", "l=Tinhoatdong")
    pipe.process_item(FetchErrorItem(url=other, site="sgddt.backan.gov.vn", reason="HTTP 404",
                                     status=404, when="2026-11-25T02:00:00+00:00"))
    assert query(db, "select status, byline from articles") == [("gone", "Ngọc Tú")]
    assert query(db, "select reason, status from fetch_errors") == [("HTTP 404", 404)]
    pipe.spider_closed(crawler.spider, "finished")
    assert query(db, "select status, articles_new, articles_unchanged, errors from crawls") == [
        ("finished", 1, 1, 1)]


def test_unusable_record_leaves_a_row_and_the_crawl_goes_on(pipeline):
    pipe, crawler, db = pipeline
    bad = extract_article(b"", URL)  # nothing extracted
    pipe.process_item(ArticleItem(record=bad, site="x", fetched_at="2026-11-25T01:00:00+00:00"))
    weird = dict(extract_article(PAGE.read_bytes(), URL), url="not a url")
    pipe.process_item(ArticleItem(record=weird, site="x", fetched_at="2026-11-25T01:00:00+00:00"))
    reasons = [r[0] for r in query(db, "select reason from fetch_errors order by rowid")]
    assert len(reasons) == 2 and all(reasons)
    assert query(db, "select count(*) from articles") == [(0,)]
    good = extract_article(PAGE.read_bytes(), URL)
    pipe.process_item(ArticleItem(record=good, site="x", fetched_at="2026-11-25T01:00:00+00:00"))
    assert query(db, "select count(*) from articles") == [(1,)]


def test_urls_that_redirected_here_find_the_article(pipeline):
    pipe, crawler, db = pipeline
    record = extract_article(PAGE.read_bytes(), URL)
    legacy = "https://sgddt.backan.gov.vn/Pages/ViewNews.aspx?ID=28383"
    hop = "http://sgddt.backan.gov.vn/Pages/ViewNews.aspx?ID=28383"
    pipe.process_item(ArticleItem(record=record, site="x", fetched_at="2026-11-25T01:00:00+00:00"))
    CrawlState.of(crawler).redirects.update({hop: legacy, legacy: URL})  # http -> https -> article
    pipe.spider_closed(crawler.spider, "finished")
    assert sorted(r[0] for r in query(db, "select url from article_urls")) == sorted([URL, legacy, hop])
    # The legacy link dies later: the article it led to is gone, content kept.
    pipe.process_item(FetchErrorItem(url=legacy, site="x", reason="HTTP 404", status=404))
    assert query(db, "select status, byline from articles") == [("gone", "Ngọc Tú")]
