"""A crawl killed with SIGKILL (or stopped with SIGTERM) and started again with the same
command finishes the same archive an uninterrupted crawl writes, without fetching the
articles it already holds again. The real CLI in a subprocess against the demo portal."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.demo import DemoPortal

ARTICLES = 80
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_ENABLED=False",
        "-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=2"]


def article_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path.lower(), parse_qs(parts.query).get("ItemID", [""])[0]


def command(portal: DemoPortal, db: Path) -> list[str]:
    return [sys.executable, "-m", "crawler", "crawl", "--start-url", portal.start_url,
            "--db", str(db), *FAST]


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


def run_until(portal: DemoPortal, db: Path, cwd: Path, articles: int, sig: int) -> int:
    """Start the crawl, wait until the archive holds ``articles`` articles, send ``sig``;
    returns how many the archive held when the signal went."""
    proc = subprocess.Popen(command(portal, db), cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        held = 0
        while proc.poll() is None and time.monotonic() < deadline:
            held = count(db, "select count(*) from articles")
            if held >= articles:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        os.kill(proc.pid, sig)
        proc.wait(timeout=120)  # SIGTERM drains: in-flight answers finish, no new requests
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return held


def finish(portal: DemoPortal, db: Path, cwd: Path) -> subprocess.CompletedProcess:
    out = subprocess.run(command(portal, db), cwd=cwd, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode in (0, 1), out.stdout[-2000:] + out.stderr[-3000:]  # 1: partial
    return out


def article_requests(portal: DemoPortal) -> int:
    return sum(1 for method, path, _ in portal.requests
               if method == "GET" and "chi-tiet-tin-tuc.aspx" in path)


def hashes(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        return {article_key(url): h for url, h in
                conn.execute("select url, content_hash from articles")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def portal():
    with DemoPortal(n_articles=ARTICLES, seed=11, slow_delay=0.2) as portal:
        yield portal


@pytest.fixture(scope="module")
def reference(portal, tmp_path_factory):
    """An uninterrupted crawl of the portal: its archive and its article requests (the
    archive holds absolute image URLs, so both crawls ask the same host and port)."""
    home = tmp_path_factory.mktemp("reference")
    db = home / "archive.db"
    before = article_requests(portal)
    finish(portal, db, home)
    return hashes(db), article_requests(portal) - before


def check_archive(db: Path, portal: DemoPortal, reference_hashes: dict) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("pragma foreign_key_check").fetchall() == []
        urls = [u for (u,) in conn.execute("select url from articles")]
        statuses = [s for (s,) in conn.execute("select status from crawls order by id")]
        pending = conn.execute("select count(*) from frontier where state = 'pending'").fetchone()[0]
    finally:
        conn.close()
    keys = Counter(article_key(u) for u in urls)
    assert max(keys.values()) == 1  # every article once
    assert set(keys) == {article_key(a["url"]) for a in portal.articles}
    assert hashes(db) == reference_hashes  # the same content as an uninterrupted crawl
    assert statuses[-1] == "finished" and pending == 0


def test_killed_three_times_then_finished_equals_one_crawl(portal, reference, tmp_path):
    reference_hashes, reference_requests = reference
    db = tmp_path / "archive.db"
    before = article_requests(portal)
    portal.delay = 0.02  # slow enough to interrupt at a chosen point
    try:
        held = [run_until(portal, db, tmp_path, round(ARTICLES * share), signal.SIGKILL)
                for share in (0.1, 0.5, 0.9)]
        assert held[0] < held[1] < held[2] < ARTICLES  # each run went on from the last
    finally:
        portal.delay = 0.0
    finish(portal, db, tmp_path)
    sent = article_requests(portal) - before
    check_archive(db, portal, reference_hashes)
    assert sent <= 1.5 * reference_requests, (sent, reference_requests)
    # The killed runs' rows do not stay "running": the next run marks them.
    conn = sqlite3.connect(db)
    statuses = [s for (s,) in conn.execute("select status from crawls order by id")]
    conn.close()
    assert statuses == ["interrupted"] * 3 + ["finished"]


def test_sigterm_drains_and_the_next_run_resumes(portal, reference, tmp_path):
    reference_hashes, reference_requests = reference
    db = tmp_path / "archive.db"
    before = article_requests(portal)
    portal.delay = 0.02
    try:
        run_until(portal, db, tmp_path, ARTICLES // 3, signal.SIGTERM)
    finally:
        portal.delay = 0.0
    conn = sqlite3.connect(db)
    (status,) = conn.execute("select status from crawls order by id desc").fetchone()
    pending = conn.execute("select count(*) from frontier where state = 'pending'").fetchone()[0]
    conn.close()
    assert status == "stopped: shutdown"  # closed by Scrapy's graceful shutdown
    assert pending > 0  # what was left is on record
    finish(portal, db, tmp_path)
    sent = article_requests(portal) - before
    check_archive(db, portal, reference_hashes)
    assert sent <= 1.5 * reference_requests, (sent, reference_requests)
