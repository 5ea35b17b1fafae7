"""Incremental by default, ``--full`` when asked: the real CLI in a subprocess against the
demo portal, which is crawled, then moved to its "later" state (new articles on top,
three edited, one deleted, every other page byte-identical with the same validators)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.demo import DemoPortal

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_ENABLED=False",
        "-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=2"]
ARTICLE = "chi-tiet-tin-tuc.aspx"


def item(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.path.lower(), int(parse_qs(parts.query)["ItemID"][0])


def crawl(portal: DemoPortal, db: Path, *extra: str) -> tuple[dict, list]:
    """One crawl; its crawl row and the requests the portal served for it."""
    portal.clear_requests()
    # --no-media: these tests count page requests (images and attachments are tested in
    # tests/test_warc.py).
    out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                          portal.start_url, "--db", str(db), *FAST, "--no-media", *extra],
                         capture_output=True, text=True, timeout=240, cwd=db.parent)
    assert out.returncode in (0, 1), out.stdout[-2000:] + out.stderr[-3000:]  # 1: partial
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("select * from crawls order by id desc limit 1").fetchone())
    conn.close()
    return row, portal.requests


def articles(db: Path) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {item(r["url"]): dict(r) for r in conn.execute("select * from articles")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def later(tmp_path_factory):
    """First crawl, then the portal a night later, then the nightly run."""
    db = tmp_path_factory.mktemp("incremental") / "archive.db"
    with DemoPortal(n_articles=120, seed=2, slow_delay=0.2) as portal:
        first, first_requests = crawl(portal, db)
        before = articles(db)
        portal.advance(15)
        nightly, nightly_requests = crawl(portal, db)
        yield portal, db, first_requests, before, nightly, nightly_requests


def test_nightly_finds_every_new_article_with_few_requests(later):
    portal, db, first_requests, before, nightly, requests = later
    new = {item(a["url"]) for a in portal.new_articles}
    held = articles(db)
    assert new <= set(held) and nightly["articles_new"] == 15
    assert nightly["status"] == "finished"
    # Only the new articles' pages were asked for; known ones are not due yet.
    asked = {item(p) for m, p, s in requests if ARTICLE in p}
    assert asked == new
    assert len(requests) <= 45 and len(requests) <= 0.25 * len(first_requests)
    # Nothing known changed: the edited and deleted articles wait for their revisit.
    for key, row in before.items():
        assert held[key]["content_hash"] == row["content_hash"]
        assert held[key]["status"] == "live"


def test_nightly_stops_paging_a_listing_after_pages_with_nothing_new(later):
    portal, _, first_requests, _, _, requests = later
    pages = Counter(p.split("&")[0] for m, p, s in requests if "/Pages/tin-tuc.aspx" in p)
    first_pages = Counter(p.split("&")[0] for m, p, s in first_requests if "/Pages/tin-tuc.aspx" in p)
    assert set(pages) == set(first_pages)  # every listing read from its first page
    new = {(a.prefix, a.item_id) for a in portal.site.new}
    for (prefix, code), items in portal.site.listings.items():
        listing = f"{prefix}/noidung/tintuc/Pages/tin-tuc.aspx?l={code}"
        total = -(-len(items) // 10)
        with_new = -(-sum((a.prefix, a.item_id) in new for a in items) // 10)  # on top
        # Pages with new articles, then K = 2 pages with none; a listing whose newest
        # article is still its watermark stops at its first page.
        expected = min(total, with_new + 2) if with_new else 1
        assert pages[listing] == expected, (listing, pages[listing], expected, total)
    assert sum(pages.values()) < sum(first_pages.values())


def test_full_revalidates_edits_deletions_and_downloads_nothing_unchanged(later, tmp_path):
    portal, db, _, before, _, _ = later
    copy = tmp_path / "archive.db"
    copy.write_bytes(db.read_bytes())
    row, requests = crawl(portal, copy, "--full")
    edited = {item(a["url"]) for a in portal.edited}
    deleted = {item(a["url"]) for a in portal.deleted}
    answers = {}
    for _method, path, status in requests:
        if ARTICLE in path:
            answers.setdefault(item(path), []).append(status)
    unchanged = set(before) - edited - deleted
    # Every unchanged article was revalidated and answered 304: none downloaded again.
    assert {k for k in unchanged if 200 in answers.get(k, [])} == set()
    assert all(answers[k] == [304] for k in unchanged
               if k in answers and 500 not in answers[k])
    assert (row["articles_new"], row["articles_changed"], row["articles_gone"]) == (0, 3, 1)
    held = articles(copy)
    truth = {item(a["url"]): a for a in portal.articles}
    for key in edited:
        assert held[key]["version"] == 2 and held[key]["body"] == truth[key]["body"]
    (gone,) = deleted
    assert held[gone]["status"] == "gone" and held[gone]["body"] == before[gone]["body"]
    conn = sqlite3.connect(copy)
    assert conn.execute("select count(*) from article_versions").fetchone()[0] == len(held) + 3
    conn.close()


def test_due_articles_are_revalidated_and_servers_ignoring_validators_handled(later, tmp_path):
    portal, db, _, _, _, _ = later
    copy = tmp_path / "archive.db"
    copy.write_bytes(db.read_bytes())
    held = articles(copy)
    live = {k for k, r in held.items() if r["status"] == "live"} - {
        item(a["url"]) for a in portal.edited + portal.deleted}
    # Everything due (REVISIT_POLICY): conditional requests, 304s, last_seen moves.
    row, requests = crawl(portal, copy, "-s", "REVISIT_POLICY=*:0")
    statuses = Counter(s for m, p, s in requests if ARTICLE in p)
    assert statuses[200] == 3 and statuses[304] >= len(live) - 3  # the edited ones changed
    assert row["articles_changed"] == 3 and row["articles_unchanged"] == statuses[304]
    after = articles(copy)
    moved = [k for k in live if after[k]["last_seen"] > held[k]["last_seen"]]
    assert moved and all(after[k]["version"] == held[k]["version"] for k in live)
    # A server that ignores the validators answers 200: same content, nothing new stored.
    portal.validators = False
    try:
        row, requests = crawl(portal, copy, "-s", "REVISIT_POLICY=*:0")
    finally:
        portal.validators = True
    statuses = Counter(s for m, p, s in requests if ARTICLE in p)
    assert statuses[304] == 0 and statuses[200] >= len(live)
    assert row["articles_changed"] == 0 and row["articles_unchanged"] >= len(live)
    final = articles(copy)
    assert all(final[k]["content_hash"] == after[k]["content_hash"] for k in live)


def test_validators_are_stored_per_fetched_url(later):
    _, db, _, _, _, _ = later
    conn = sqlite3.connect(db)
    rows = conn.execute("select url, etag, last_modified from frontier "
                        "where outcome = 'article'").fetchall()
    marks = conn.execute("select count(*) from frontier_marks").fetchone()[0]
    conn.close()
    assert rows and all(etag and modified for _, etag, modified in rows)
    assert all(ARTICLE in url for url, _, _ in rows)
    assert marks >= 5  # a watermark per listing


def test_demo_shows_a_first_crawl_then_a_nightly_one_and_full(tmp_path):
    """`crawler demo`: the first crawl, the portal a night later, the nightly run, then
    --full; afterwards the shipped "changed" and "gone" canned queries have rows."""
    import socket

    import yaml

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "archive.db"
    out = subprocess.run([sys.executable, "-m", "crawler", "demo", "--db", str(db), "--port",
                          str(port), "--articles", "40", "-s", "PROGRESS_ENABLED=False"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "a night later: 15 new articles on top, 3 edited, 1 deleted" in out.stdout
    assert "crawl --full" in out.stdout
    conn = sqlite3.connect(db)
    crawls = conn.execute("select articles_new, articles_changed, articles_gone from crawls "
                          "order by id").fetchall()
    metadata = Path(__file__).resolve().parent.parent / "crawler/datasette/metadata.yml"
    queries = yaml.safe_load(metadata.read_text(encoding="utf-8"))["databases"]["archive"]["queries"]
    changed = conn.execute(queries["changed_after_publication"]["sql"]).fetchall()
    gone = conn.execute(queries["gone_articles"]["sql"]).fetchall()
    conn.close()
    assert crawls == [(40, 0, 0), (15, 0, 0), (0, 3, 1)]
    assert len(changed) == 3 and len(gone) == 1
