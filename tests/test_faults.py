"""Polite under faults, and every failure on record: the real CLI (Scrapy and the portal
spider) in a subprocess against a misbehaving server on 127.0.0.1 (crawler/demo/faults.py)."""

from __future__ import annotations

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
