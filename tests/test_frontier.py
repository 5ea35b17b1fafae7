"""The crawl state with a real Scrapy crawler object and a real SQLite archive: what is
written when, what the next run asks for first, and the revisit policy."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.frontier import (
    ARTICLE,
    LISTING,
    CrawlState,
    FrontierDupeFilter,
    Row,
    parse_revisit_policy,
)
from crawler.items import NotModifiedItem
from crawler.store import Archive
from spiders.portal import PortalSpider

START = "https://sgddt.backan.gov.vn/"
ARTICLE_URL = "https://sgddt.backan.gov.vn/noidung/tintuc/Pages/chi-tiet-tin-tuc.aspx?ItemID={}&l=A"
SITE = "sgddt.backan.gov.vn"


def open_state(db, **settings) -> tuple[CrawlState, object]:
    crawler = get_crawler(PortalSpider, {"ARCHIVE_DB": str(db), **settings})
    spider = PortalSpider.from_crawler(crawler, start_url=START, family="publishingportal")
    state = CrawlState.of(crawler)
    archive = state.open(db)
    crawl_id = archive.start_crawl([SITE], {})
    state.begin(crawl_id)
    return state, spider


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_page_is_done_only_with_its_out_links(tmp_path, monkeypatch):
    monkeypatch.setattr("crawler.frontier.FLUSH_EVERY", 1e9)  # only commits write here
    db = tmp_path / "a.db"
    state, _ = open_state(db, ARCHIVE_COMMIT_ITEMS=1)
    listing = state.key_of(START + "list", "publishingportal")
    state.claim(listing, START + "list", SITE)
    links = [state.key_of(ARTICLE_URL.format(i), "publishingportal") for i in range(3)]
    for i, key in enumerate(links):
        assert state.claim(key, ARTICLE_URL.format(i), SITE, hops=1)
    assert not state.claim(links[0], ARTICLE_URL.format(0), SITE)  # one de-duplication layer
    state.done([listing], LISTING, site_key=SITE)
    # Nothing written yet (buffered) ...
    assert rows(db, "select count(*) from frontier") == [(0,)]

    # ... until a record commits: then the links and the done mark go in together. A
    # record that fails takes back only what it wrote, its own done mark included: its
    # page stays pending (the next run asks for it again), the rest is not lost.
    def boom(archive):
        state.done([links[0]], ARTICLE, url=ARTICLE_URL.format(0), site_key=SITE)
        archive.db.execute("insert into fetch_errors (url, reason, at) values ('x', 'y', 'z')")
        raise RuntimeError("disk full")

    state.commit(boom)  # logged; the crawl goes on
    assert sorted(rows(db, "select state, count(*) from frontier group by state")) == [
        ("done", 1), ("pending", 3)]
    assert rows(db, "select count(*) from fetch_errors") == [(0,)]


def test_records_commit_a_few_at_a_time_with_their_frontier_rows(tmp_path, monkeypatch):
    monkeypatch.setattr("crawler.frontier.FLUSH_EVERY", 1e9)
    db = tmp_path / "a.db"
    state, _ = open_state(db, ARCHIVE_COMMIT_ITEMS=3, ARCHIVE_COMMIT_SECONDS=0.2)
    keys = [state.key_of(ARTICLE_URL.format(i), "publishingportal") for i in range(5)]
    written, synced = [], []
    state.before_commit.append(lambda: synced.append(len(written)))

    def record(i):  # noqa: ANN202
        def write(archive):  # noqa: ANN001, ANN202
            state.done([keys[i]], ARTICLE, url=ARTICLE_URL.format(i), site_key=SITE)
            return i
        return write

    for i in range(5):
        state.claim(keys[i], ARTICLE_URL.format(i), SITE, hops=1)
    for i in range(2):
        state.commit(record(i), written.append)
    # Two records queued: nothing in the archive yet (a kill now loses them, and the
    # frontier, not written either, does not claim them).
    assert rows(db, "select count(*) from frontier") == [(0,)] and written == []
    state.commit(record(2), written.append)  # the third: one transaction for all three
    assert written == [0, 1, 2] and synced == [3]  # WARC hook once, before the commit
    assert sorted(rows(db, "select state, count(*) from frontier group by state")) == [
        ("done", 3), ("pending", 2)]
    state.commit(record(3), written.append)
    state._tick()  # the timer: not yet old enough
    assert written == [0, 1, 2]
    import time

    time.sleep(0.25)
    state._tick()  # ARCHIVE_COMMIT_SECONDS after it was queued: written
    assert written == [0, 1, 2, 3]
    assert rows(db, "select count(*) from frontier where state = 'done'") == [(4,)]
    state.commit(record(4), written.append)
    state.finish("shutdown")  # whatever is queued is written when the crawl closes
    assert written == [0, 1, 2, 3, 4]
    assert rows(db, "select count(*) from frontier where state = 'done'") == [(5,)]


def test_resume_schedules_pending_and_skips_done_articles(tmp_path):
    db = tmp_path / "a.db"
    state, _ = open_state(db)
    keys = [state.key_of(ARTICLE_URL.format(i), "publishingportal") for i in range(4)]
    for i, key in enumerate(keys):
        state.claim(key, ARTICLE_URL.format(i), SITE, hops=1, priority=20)
    state.flush()
    # One article done (it would be in the record's transaction), then the process dies.
    state.done([keys[0]], ARTICLE, url=ARTICLE_URL.format(0), site_key=SITE, etag='"x"')
    state.flush()
    state.archive.close()

    again, _ = open_state(db)
    assert again.resumed[SITE] and again.run[SITE] == state.run[SITE]
    assert {r.key for r in again.scheduled} == set(keys[1:])
    assert keys[0] in again.seen  # done in this run: not asked for again
    again.finish("finished")
    assert rows(db, "select finished is not null from frontier_sites") == [(1,)]
    again.archive.close()
    third, _ = open_state(db)
    assert not third.resumed[SITE] and third.mode[SITE] == "nightly"


def test_revisit_policy_by_age():
    rules = parse_revisit_policy("7:1,30:7,*:180")
    assert rules == [(7, 1), (30, 7), (float("inf"), 180)]
    with pytest.raises(ValueError):
        parse_revisit_policy("7-1")


@pytest.mark.parametrize(("published_days", "fetched_days", "due"), [
    (3, 0.5, False), (3, 1.5, True),  # a recent article: daily
    (20, 5, False), (20, 8, True),  # up to a month old: weekly
    (900, 100, False), (900, 200, True),  # old: every 180 days
])
def test_known_articles_are_due_by_age(tmp_path, published_days, fetched_days, due):
    state, _ = open_state(tmp_path / "a.db", REVISIT_POLICY="7:1,30:7,*:180")
    now = datetime.now(UTC)
    row = Row(key="k", site=SITE, url=ARTICLE_URL.format(1), kind="page", hops=1, priority=20,
              state="done", run=0, outcome=ARTICLE, article_id=1, etag=None,
              last_modified=None,
              fetched_at=(now - timedelta(days=fetched_days)).isoformat(timespec="seconds"),
              published=(now - timedelta(days=published_days)).date().isoformat())
    assert state._due(row) is due


def test_dupefilter_passes_claimed_requests_and_filters_redirects_to_known(tmp_path):
    state, spider = open_state(tmp_path / "a.db")
    request = spider._request(ARTICLE_URL.format(7), spider.sites[0], hops=1)
    dupes = FrontierDupeFilter(state)
    assert not dupes.request_seen(request)  # claimed when made
    # A redirect to an article already claimed is a duplicate; its origin is done.
    legacy = spider._request("https://sgddt.backan.gov.vn/Pages/ViewNews.aspx?ID=7",
                             spider.sites[0], hops=1)
    redirected = legacy.replace(url=ARTICLE_URL.format(7).replace("&l=A", "&l=B"))
    assert dupes.request_seen(redirected)
    state.flush()
    assert rows(tmp_path / "a.db", "select outcome from frontier where key like '%ViewNews%'") \
        == [("redirect",)]


def test_304_answers(tmp_path):
    state, spider = open_state(tmp_path / "a.db")
    url = ARTICLE_URL.format(9)
    known = Request(url, meta={"site": SITE, "key": "k", "key_url": url, "article_id": 5})
    item = spider._not_modified(HtmlResponse(url, status=304, request=known,
                                             headers={"ETag": '"v2"'}), spider.sites[0])
    assert isinstance(item, NotModifiedItem) and (item.article_id, item.etag) == (5, '"v2"')
    # A 304 to a request that sent no validators: the pipeline finds the article by URL.
    plain = Request(url, meta={"site": SITE, "key": "k", "key_url": url})
    item = spider._not_modified(HtmlResponse(url, status=304, request=plain), spider.sites[0])
    assert isinstance(item, NotModifiedItem) and item.article_id is None


def test_304_to_a_plain_request_known_or_not(tmp_path, record_factory):
    from pipelines.archive import ArchivePipeline

    db = tmp_path / "a.db"
    crawler = get_crawler(PortalSpider, {"ARCHIVE_DB": str(db), "ARCHIVE_COMMIT_ITEMS": 1})
    crawler.spider = PortalSpider.from_crawler(crawler, start_url=START)
    pipe = ArchivePipeline.from_crawler(crawler)
    pipe.open_spider(crawler.spider)
    record = record_factory()
    pipe.archive.save_article(record, crawl_id=pipe.crawl_id, fetched_at="2026-01-01T00:00:00+00:00")
    pipe.process_item(NotModifiedItem(article_id=None, url=record["url"], site=SITE,
                                      fetched_at="2026-02-01T00:00:00+00:00"))
    assert rows(db, "select last_seen from articles") == [("2026-02-01T00:00:00+00:00",)]
    unknown = ARTICLE_URL.format(404404)
    pipe.process_item(NotModifiedItem(article_id=None, url=unknown, site=SITE,
                                      fetched_at="2026-02-01T00:00:00+00:00"))
    (reason,) = rows(db, "select reason from fetch_errors")
    assert "304 Not Modified" in reason[0] and "no article" in reason[0]
    assert rows(db, "select count(*) from articles") == [(1,)]


def test_touch_article_moves_last_seen_only(tmp_path, record_factory):
    with Archive(tmp_path / "a.db") as archive:
        crawl = archive.start_crawl(["x"], {})
        archive.save_article(record_factory(), crawl_id=crawl, fetched_at="2026-01-01T00:00:00+00:00")
        article_id = archive.last_article_id
        before = dict(archive.db["articles"].get(article_id))
        later = archive.start_crawl(["x"], {})
        assert archive.touch_article(article_id, crawl_id=later,
                                     seen_at="2026-02-01T00:00:00+00:00") == "unchanged"
        after = dict(archive.db["articles"].get(article_id))
        assert after["last_seen"] == "2026-02-01T00:00:00+00:00" and after["last_crawl"] == later
        assert {k: v for k, v in after.items() if k not in ("last_seen", "last_crawl")} == \
            {k: v for k, v in before.items() if k not in ("last_seen", "last_crawl")}
        assert archive.db["crawls"].get(later)["articles_unchanged"] == 1


def test_stale_pages_site_then_family_then_setting(tmp_path):
    # The PublishingPortal family says 2 (families.toml); the setting's default is 2 too,
    # so the setting is moved to tell them apart.
    state, _ = open_state(tmp_path / "a.db", STALE_LISTING_PAGES=5)
    key = next(iter(state.sites))
    assert state.stale_pages_of(key) == 2  # the family's value wins over the setting
    state.sites[key].stale_pages = 4
    assert state.stale_pages_of(key) == 4  # the site's own wins over the family's
    state.sites[key].stale_pages = None
    state.family[key] = None
    assert state.stale_pages_of(key) == 5  # no family known: the setting
