"""Polite under faults, and every failure on record: the real CLI (Scrapy and the portal
spider) in a subprocess against a misbehaving server on 127.0.0.1 (crawler/demo/faults.py)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

from crawler.demo.faults import FaultSite
from crawler.middlewares import retry_after

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_ENABLED=False",
        "-s", "MEDIA_ENABLED=False", "-s", "WARC_ENABLED=False"]


def crawl(site: FaultSite, tmp_path: Path, *settings: str, timeout=240) -> tuple[
        subprocess.CompletedProcess, Path]:
    db = tmp_path / "archive.db"
    out = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--start-url", site.start_url, "--db", str(db),
         *FAST, *settings], capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    return out, db


def rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def errors(db: Path) -> dict[str, str]:
    return {r["url"].split("/", 3)[3]: r["reason"]
            for r in rows(db, "select url, reason from fetch_errors")}


# --------------------------------------------------------------------------- Retry-After


def test_retry_after_values():
    assert retry_after(b"3") == 3.0
    assert retry_after(" 120 ") == 120.0
    assert 8 < retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10
    assert retry_after(formatdate(time.time() - 10, usegmt=True)) < 0  # past: no wait
    assert retry_after(b"soon") is None and retry_after(None) is None


def test_retry_after_holds_the_retry_and_the_sites_next_requests(tmp_path):
    # 503 + Retry-After: 3, then 200. Scrapy alone retries after 1-3 s (backoff, jitter).
    # Articles link the next one: a chain the crawl walks one page at a time.
    with FaultSite(retry_after=3, routes=("/busy", "/article/1"), articles=5) as site:
        out, db = crawl(site, tmp_path)
        busy = site.hits("/busy")
        hits = site.hits()
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert len(busy) == 2
    assert busy[1] - busy[0] >= 3.0
    # The site's other requests wait too: after the 503 at most the one request that was
    # already on its way (CONCURRENT_REQUESTS_PER_DOMAIN = 2) reaches the server early.
    early = [t for t in hits if busy[0] < t < busy[0] + 3.0]
    assert len(early) <= 1, early
    assert any(t >= busy[0] + 3.0 for t in hits if t != busy[1])  # some were held
    titles = {r["url"].rsplit("/", 1)[1] for r in rows(db, "select url from articles")}
    assert titles == {"busy", *(str(n) for n in range(1, 6))}
    assert rows(db, "select * from fetch_errors") == []


def test_retry_after_is_capped_by_retry_after_max(tmp_path):
    with FaultSite(retry_after=3600, routes=("/busy",)) as site:
        out, db = crawl(site, tmp_path, "-s", "RETRY_AFTER_MAX=2")
        busy = site.hits("/busy")
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert len(busy) == 2 and busy[1] - busy[0] >= 2.0
    assert "waiting RETRY_AFTER_MAX" in (tmp_path / "logs").glob("*.log").__next__().read_text()


def test_a_retry_after_hold_does_not_hold_up_sigterm(tmp_path):
    # The site asks for 120 s; SIGTERM still drains at once (the held requests stay
    # pending for the next run, no error rows).
    with FaultSite(retry_after=120, routes=("/busy", "/article/1"), articles=5) as site:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "--start-url", site.start_url,
             "--db", str(tmp_path / "archive.db"), *FAST], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not site.hits("/busy") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # inside the hold
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=100)  # well inside the 120 s asked for
        asked = site.hits("/busy")
    assert len(asked) == 1
    assert proc.returncode == 1, out + err[-3000:]
    assert "stopped: shutdown" in out
    assert rows(tmp_path / "archive.db", "select * from fetch_errors") == []


# --------------------------------------------------------------------------- robots.txt


def test_robots_txt_5xx_means_no_crawling_of_that_host_with_a_row_saying_so(tmp_path):
    with FaultSite(robots_status=503, routes=("/article/1",)) as site:
        out, db = crawl(site, tmp_path, "-s", "RETRY_TIMES=1")
        paths = site.paths()
    # Asked twice (one retry), then nothing else of that host: complete disallow.
    assert paths == ["/robots.txt", "/robots.txt"], paths
    assert out.returncode == 3, out.stdout + out.stderr[-3000:]  # failed: nothing fetched
    (error,) = rows(db, "select url, reason from fetch_errors")
    assert error["url"] == site.start_url
    assert error["reason"] == ("robots.txt answered HTTP 503 (after retries): host not crawled "
                               "this run (RFC 9309: a server error means complete disallow)")
    assert error["reason"] in out.stdout  # the summary prints the reasons
    (row,) = rows(db, "select status from crawls")
    assert row["status"] == "failed"


def test_unreachable_robots_txt_means_no_crawling_of_that_host(tmp_path):
    # The server hangs up on robots.txt (and answers everything else).
    with FaultSite(robots_status=0, routes=("/article/1",)) as site:
        out, db = crawl(site, tmp_path, "-s", "RETRY_TIMES=1")
        paths = site.paths()
    assert paths == ["/robots.txt", "/robots.txt"], paths
    assert out.returncode == 3, out.stdout + out.stderr[-3000:]
    (error,) = rows(db, "select url, reason from fetch_errors")
    assert error["url"] == site.start_url
    assert error["reason"].startswith("robots.txt could not be fetched (")
    assert error["reason"].endswith("): host not crawled this run (RFC 9309: an unreachable "
                                    "robots.txt means complete disallow)")
    assert "Traceback" not in out.stderr


def test_robots_txt_4xx_means_allow_all_and_it_is_fetched_once(tmp_path):
    with FaultSite(robots_status=404, routes=("/article/1",), articles=3) as site:
        out, db = crawl(site, tmp_path)
        paths = site.paths()
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert paths.count("/robots.txt") == 1  # Scrapy's fetch; the spider reads the same parse
    assert {"/article/1", "/article/2", "/article/3"} <= set(paths)
    assert len(rows(db, "select * from articles")) == 3
    assert rows(db, "select * from fetch_errors") == []


# --------------------------------------------------------------------------- meta refresh


class RefreshSite(FaultSite):
    """Two pages whose only content is a meta refresh to an article: one in UTF-8 and
    one in UTF-16 (its bytes never spell "refresh" in ASCII)."""

    def answer(self, path: str) -> tuple[int, dict, bytes]:
        page = ('<!doctype html><html><head><meta http-equiv="Refresh" content="0; '
                'url={}"></head><body></body></html>')
        if path == "/moved":
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page.format(
                "/article/1").encode()
        if path == "/moved16":
            return 200, {"Content-Type": "text/html; charset=utf-16"}, page.format(
                "/article/2").encode("utf-16")
        return super().answer(path)


def test_a_page_that_only_refreshes_to_an_article_leads_to_it(tmp_path):
    with RefreshSite(routes=("/moved", "/moved16"), articles=1) as site:
        out, db = crawl(site, tmp_path)
        paths = site.paths()
    assert out.returncode == 0, out.stderr[-3000:]
    assert {"/moved", "/moved16", "/article/1", "/article/2"} <= set(paths)
    archived = {r["url"].split("/", 3)[3] for r in rows(db, "select url from articles")}
    assert archived == {"article/1", "article/2"}
    assert errors(db) == {}


# --------------------------------------------------------------------------- failures on record


def test_every_url_not_archived_has_a_row_saying_why(tmp_path):
    routes = ("/loop-a", "/chain/0", "/bomb", "/big", "/stream", "/deep", "/empty", "/article/1")
    with FaultSite(routes=routes, chain=25, bomb_mb=8, big_mb=3, deep=300, articles=1) as site:
        out, db = crawl(site, tmp_path, "-s", f"DOWNLOAD_MAXSIZE={2 << 20}")
        asked = site.hits("/chain/0"), site.hits("/loop-a"), site.hits("/loop-b")
        robots = site.hits("/robots.txt")
    assert len(robots) == 1  # one robots.txt fetch for the host: obeyed and read for sitemaps
    assert out.returncode == 1, out.stdout + out.stderr[-3000:]  # partial: some errors
    assert "partial" in out.stdout
    host = site.start_url
    assert errors(db) == {
        "loop-a": f"redirect loop: {host}loop-a -> {host}loop-b -> {host}loop-a",
        "chain/0": f"more than 20 redirects in a row ({host}chain/0 -> ... -> {host}chain/20): "
                   "not followed further",
        "bomb": f"the page inflates past DOWNLOAD_MAXSIZE ({2 << 20} bytes) when decompressed "
                "(a compression bomb?): not read",
        "big": f"the page is larger than DOWNLOAD_MAXSIZE ({2 << 20} bytes; it announced "
               f"{len(site.answer('/big')[2])}): not downloaded",
        "deep": "page nested deeper than the HTML parser reads (255 levels): the rest of the "
                "page is lost, not read as an article",
        "stream": f"download cancelled (most likely the page passed DOWNLOAD_MAXSIZE, {2 << 20} "
                  "bytes, while being received): not downloaded",
        "empty": "empty answer (HTTP 200 with no content): nothing to read",
    }
    assert [len(a) for a in asked] == [1, 1, 1]  # the loop went round once, no more
    assert [r["url"] for r in rows(db, "select url from articles")] == [f"{host}article/1"]
    assert "Traceback" not in out.stderr


def test_work_per_page_is_capped_and_a_link_farm_is_not_an_article(tmp_path):
    with FaultSite(routes=("/farm", "/big"), farm_links=30_000, big_mb=3) as site:
        out, db = crawl(site, tmp_path, "-s", "MAX_LINKS_PER_PAGE=25",
                        "-s", f"MAX_PAGE_BYTES={2 << 20}", "-s", f"DOWNLOAD_MAXSIZE={4 << 20}")
        paths = site.paths()
        big = len(site.answer("/big")[2])
    assert out.returncode == 1, out.stdout + out.stderr[-3000:]  # partial: some errors
    farm_links = [p for p in paths if p.startswith("/farm/")]
    assert 0 < len(farm_links) <= 25  # links read per page: at most MAX_LINKS_PER_PAGE
    found = errors(db)
    assert found["farm"] == ("page of 60007 elements, over MAX_PAGE_ELEMENTS (50000): its links "
                             "read (at most MAX_LINKS_PER_PAGE), not read as an article")
    assert found["big"] == f"page of {big} bytes, over MAX_PAGE_BYTES ({2 << 20}): not read"
    assert rows(db, "select * from articles") == []
    log = next((tmp_path / "logs").glob("*.log")).read_text()
    assert log.count("links; the rest are not read") == 1
