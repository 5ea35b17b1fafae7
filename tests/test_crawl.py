"""End to end: the real spider, run through Scrapy in a subprocess as users run it, against
the demo portal on 127.0.0.1; then the archive it wrote is checked against ground truth."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.demo import DemoPortal

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_ENABLED=False"]


def article_key(url: str) -> tuple[str, str]:
    """(site path, ItemID): how ground truth and archive rows are matched."""
    parts = urlsplit(url)
    return parts.path.lower(), parse_qs(parts.query).get("ItemID", [""])[0]


def crawl(args: list[str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "crawler", "crawl", *args], cwd=cwd,
                         capture_output=True, text=True, timeout=timeout)
    # 1 is "partial": the demo portal's broken pages are fetch errors by design.
    assert out.returncode in (0, 1), out.stdout[-2000:] + out.stderr[-4000:]
    return out


def rows(db: Path, sql: str, *params) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo_crawl(tmp_path_factory):
    """One crawl of a 120-article portal, run from an unrelated working directory."""
    home = tmp_path_factory.mktemp("home")
    db = tmp_path_factory.mktemp("archive") / "archive.db"
    with DemoPortal(n_articles=120, seed=3, slow_delay=0.3) as portal:
        out = crawl(["--start-url", portal.start_url, "--db", str(db), *FAST,
                     "-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=2"], cwd=home)
        yield portal, db, out, portal.requests


def test_never_more_than_two_requests_in_flight(demo_crawl):
    # The default CONCURRENT_REQUESTS_PER_DOMAIN, held even with DOWNLOAD_DELAY=0.
    portal = demo_crawl[0]
    assert 1 <= portal.max_in_flight <= 2


def test_every_article_archived_once_with_its_fields(demo_crawl):
    portal, db, _, _ = demo_crawl
    truth = {article_key(a["url"]): a for a in portal.articles}
    archived = rows(db, "select * from articles")
    keys = Counter(article_key(r["url"]) for r in archived)
    assert len(truth) == portal.summary()["articles"] == 120  # broken ones come on top
    assert set(keys) == set(truth)
    assert max(keys.values()) == 1  # one article, one row, whatever URLs led to it
    for r in archived:
        a = truth[article_key(r["url"])]
        assert r["title"] == a["title"]
        assert r["published"] == a["published"]
        assert r["summary"] == a["summary"]
        assert r["body"] == a["body"]
        assert r["byline"] == a["byline"]
        assert r["source"] == a["source"]
        assert json.loads(r["captions"] or "[]") == a["captions"]
        assert r["status"] == "live" and r["version"] == 1
        images = rows(db, "select src, caption from images where article_id = ? order by position",
                      r["id"])
        assert [dict(i) for i in images] == [
            {"src": i["src"], "caption": i["caption"]} for i in a["images"]]
        # Where each photo stands among the paragraphs survives the crawl and the store.
        (version,) = rows(db, "select images from article_versions where article_id = ?", r["id"])
        assert json.loads(version["images"]) == a["images"]
        files = rows(db, "select url, name from attachments where article_id = ? order by position",
                     r["id"])
        assert [dict(f) for f in files] == a["attachments"]


def test_legacy_urls_that_redirect_are_kept_as_aliases(demo_crawl):
    portal, db, _, _ = demo_crawl
    aliases = {r["url"]: r["article_id"] for r in rows(db, "select url, article_id from article_urls")}
    archived = {r["id"]: article_key(r["url"]) for r in rows(db, "select id, url from articles")}
    kept = [legacy for legacy in portal.redirects if legacy in aliases]
    # A legacy link whose target was already fetched is not followed again (the redirect
    # lands on a known URL); the featured legacy links on the home page come first.
    assert kept
    for legacy in kept:
        assert archived[aliases[legacy]] == article_key(portal.redirects[legacy])


def test_every_article_page_fetched_once(demo_crawl):
    portal, _, _, requests = demo_crawl
    fetched = Counter(
        article_key(path)[1] for method, path, status in requests
        if method == "GET" and status == 200 and "chi-tiet-tin-tuc.aspx" in path
    )
    assert fetched, "no article page was fetched"
    assert max(fetched.values()) == 1, [k for k, n in fetched.items() if n > 1]


def test_no_trap_disallowed_or_offsite_fetch(demo_crawl):
    portal, _, _, requests = demo_crawl
    paths = [path for _, path, _ in requests]
    assert "/robots.txt" in paths
    for path in paths:
        assert not path.startswith(portal.trap_prefixes), path
        if path.startswith(portal.allowed_exceptions):
            continue
        assert not any(p in path for p in portal.disallowed_prefixes), path
    # Every request the portal saw came to it; off-site links (chinhphu.vn, example.org)
    # would have failed in the crawl log as DNS errors had they been requested.
    assert all(not p.startswith("http") for p in paths)


def test_listings_read_through_every_pagination_kind(demo_crawl):
    portal, _, _, requests = demo_crawl
    posts = [path for method, path, status in requests if method == "POST" and status == 200]
    assert posts, "postback pagination was never followed"
    assert any("before=" in path for _, path, _ in requests)  # "Xem thêm" cursor
    assert any("Page=" in path for _, path, _ in requests)  # GET pagination
    assert any("listfeed.aspx" in path for _, path, _ in requests)  # the RSS feed
    assert any(path == "/sitemap.xml" for _, path, _ in requests)  # from robots.txt


def test_errors_recorded_and_flaky_pages_archived(demo_crawl):
    portal, db, _, _ = demo_crawl
    errors = rows(db, "select url, reason, status, attempts from fetch_errors")
    failed = {article_key(e["url"]): e for e in errors}
    assert set(failed) == {article_key(u) for u in portal.broken}
    statuses = sorted(e["status"] for e in errors)
    assert statuses == [404, 500, 500]
    for e in errors:
        assert e["reason"] == f"HTTP {e['status']}"
        assert e["attempts"] == (3 if e["status"] == 500 else 1)  # RETRY_TIMES=2 -> 3 tries
    archived = {article_key(r["url"]) for r in rows(db, "select url from articles")}
    assert {article_key(u) for u in portal.flaky} <= archived


def test_crawl_row_and_summary(demo_crawl):
    portal, db, out, _ = demo_crawl
    (crawl_row,) = rows(db, "select * from crawls")
    assert crawl_row["status"] == "finished"
    assert crawl_row["articles_new"] == len(portal.articles) and crawl_row["errors"] == 3
    assert crawl_row["pages_fetched"] >= len(portal.articles)
    assert "articles new" in out.stdout and "python -m crawler serve" in out.stdout
    # Everything the crawl wrote lives beside the archive.
    assert list((db.parent / "logs").glob("crawl-*.log"))


def test_recrawl_of_the_same_portal_changes_nothing(demo_crawl, tmp_path):
    """The next run is incremental: listings are read from their newest page until two
    pages show nothing new; known articles are not due, nothing is fetched again."""
    portal, db, _, _ = demo_crawl
    copy = tmp_path / "archive.db"
    copy.write_bytes(db.read_bytes())
    before = {r["id"]: dict(r) for r in rows(copy, "select * from articles")}
    portal.clear_requests()
    crawl(["--start-url", portal.start_url, "--db", str(copy), *FAST], cwd=tmp_path)
    sent = portal.requests
    crawls = rows(copy, "select * from crawls order by id")
    assert [c["status"] for c in crawls] == ["finished", "finished"]
    assert (crawls[1]["articles_new"], crawls[1]["articles_changed"],
            crawls[1]["articles_unchanged"], crawls[1]["errors"]) == (0, 0, 0, 0)
    assert not [p for _, p, _ in sent if "chi-tiet-tin-tuc.aspx" in p]
    assert len(sent) < 0.2 * crawls[0]["pages_fetched"]
    after = {r["id"]: dict(r) for r in rows(copy, "select * from articles")}
    assert after == before
    assert rows(copy, "select count(*) n from article_versions")[0]["n"] == len(portal.articles)


def test_scrapy_crawl_from_the_repo_root_and_timeouts_recorded(tmp_path):
    """The plain Scrapy way works too; a page slower than DOWNLOAD_TIMEOUT is retried, then
    recorded as an error, and the crawl goes on."""
    db = tmp_path / "archive.db"
    with DemoPortal(n_articles=20, seed=5, slow_delay=4.0) as portal:
        out = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "portal", "-a", f"start_url={portal.start_url}",
             "-s", f"ARCHIVE_DB={db}", *FAST, "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1",
             "-s", "LOG_LEVEL=WARNING"],
            cwd=ROOT, capture_output=True, text=True, timeout=180,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        slow = portal.slow_url
        truth = {article_key(a["url"]) for a in portal.articles}
    errors = rows(db, "select url, reason, attempts from fetch_errors")
    slow_errors = [e for e in errors if article_key(e["url"]) == article_key(slow)]
    assert len(slow_errors) == 1
    assert "Timeout" in slow_errors[0]["reason"] and slow_errors[0]["attempts"] == 2
    archived = {article_key(r["url"]) for r in rows(db, "select url from articles")}
    assert archived == truth - {article_key(slow)}


def test_page_cap_stops_a_site(tmp_path):
    db = tmp_path / "archive.db"
    with DemoPortal(n_articles=60, seed=7, slow_delay=0.1) as portal:
        # Images and attachments are no pages: not capped, so not downloaded here.
        crawl(["--start-url", portal.start_url, "--db", str(db), *FAST, "--no-media",
               "-s", "SITE_PAGE_CAP=15"], cwd=tmp_path)
        sent = [p for m, p, s in portal.requests if p != "/robots.txt"]
    (row,) = rows(db, "select pages_fetched, articles_new, errors from crawls")
    # 15 requests go out (pages, feeds and sitemaps; a redirect or a retry counts again);
    # robots.txt comes on top.
    assert len(sent) == 15
    assert row["pages_fetched"] <= 15 + 2
    assert row["articles_new"] < 60 and row["errors"] == 0  # capped pages are no errors

