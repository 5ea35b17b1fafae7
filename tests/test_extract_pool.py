"""Articles read in worker processes (``EXTRACT_WORKERS``, crawler/extractpool.py): the
archive is the same as with extraction in the crawl's own process, and no worker
outlives its crawl, whether it ends normally, is stopped or is killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crawler.demo import DemoPortal
from crawler.demo.liferay import LiferayPortal

# A generous timeout: the two crawls compared must not differ by a page that timed out on
# a busy machine.
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s",
        "PROGRESS_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=20", "-s", "RETRY_TIMES=2",
        "--no-media"]
TAG = "EXTRACT_POOL_TEST_TAG"


def command(start_url: str, db: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "crawler", "crawl", "--start-url", start_url, "--db",
            str(db), *FAST, "-s", f"EXTRACT_WORKERS={workers}"]


def tagged(tag: str) -> list[int]:
    """Processes started with this tag in their environment (a crawl and its workers)."""
    needle = f"{TAG}={tag}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:  # a zombie is gone, only not yet reaped
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def gone(tag: str, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while tagged(tag):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def crawl(start_url: str, db: Path, workers: int, cwd: Path) -> str:
    """Run a crawl to its end; returns the tag its processes carried."""
    tag = uuid.uuid4().hex
    out = subprocess.run(command(start_url, db, workers), cwd=cwd, capture_output=True,
                         text=True, timeout=300, env={**os.environ, TAG: tag})
    assert out.returncode in (0, 1), out.stdout[-2000:] + out.stderr[-3000:]
    return tag


def archive(db: Path, base: str) -> dict:
    """Every article by its key, with every field a reader sees (the portal's address
    left out)."""
    host = base.split("://", 1)[1]
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        out = {}
        for row in conn.execute("select a.*, v.images, v.attachments from articles a join "
                                "article_versions v on v.article_id = a.id and v.version = "
                                "a.version"):
            # content_hash covers the image URLs, with the portal's port in them.
            fields = {k: row[k] for k in row.keys() if k not in (
                "id", "first_seen", "last_seen", "last_changed", "first_crawl", "last_crawl",
                "content_hash")}
            out[row["key"].replace(host, "HOST")] = json.loads(
                json.dumps(fields, ensure_ascii=False).replace(host, "HOST"))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("site", ["publishing", "liferay"])
def test_same_archive_with_and_without_workers_and_none_left(site, tmp_path):
    made = {"publishing": lambda: DemoPortal(n_articles=60, seed=5, slow_delay=0.2),
            "liferay": lambda: LiferayPortal(n_articles=40)}[site]
    results, errors, answered = {}, {}, {}
    for workers in (0, 2):
        with made() as portal:  # a fresh portal each: the same fail-once pages
            db = tmp_path / f"archive{workers}.db"
            tag = crawl(portal.start_url, db, workers, tmp_path)
            assert gone(tag, within=1.0), "a worker outlived its crawl"
            results[workers] = archive(db, portal.base_url)
            host = portal.base_url.split("://", 1)[1]
            # Every URL the portal answers an article under (its category variants).
            answered[workers] = {u.replace(host, "HOST") for a in portal.articles
                                 for u in [a["url"], *a.get("urls", [])]}
            conn = sqlite3.connect(db)
            errors[workers] = conn.execute("select url, reason from fetch_errors").fetchall()
            conn.close()
    assert len(results[0]) >= 40
    assert set(results[2]) == set(results[0]), (set(results[2]) ^ set(results[0]), errors)
    for key, article in results[0].items():
        other = results[2][key]
        # Without a canonical link, the recorded URL is the first of the article's URLs
        # that answered, which depends on the order links were found in (with workers, a
        # page's links are queued when its worker answers): any of its true URLs. Every
        # other field is the same.
        assert article["url"] in answered[0] and other["url"] in answered[2], key
        assert {k: v for k, v in other.items() if k != "url"} == {
            k: v for k, v in article.items() if k != "url"}, key


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_outlives_a_killed_or_stopped_crawl(sig, tmp_path):
    with DemoPortal(n_articles=200, seed=6, slow_delay=0.2) as portal:
        portal.delay = 0.02
        tag = uuid.uuid4().hex
        proc = subprocess.Popen(command(portal.start_url, tmp_path / "archive.db", 1),
                                cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={**os.environ, TAG: tag})
        try:
            deadline = time.monotonic() + 60
            while len(tagged(tag)) < 2 and time.monotonic() < deadline:  # its worker is up
                time.sleep(0.05)
            time.sleep(1.0)  # articles in flight
            assert proc.poll() is None, "the crawl ended before it could be interrupted"
            assert len(tagged(tag)) >= 2
            os.kill(proc.pid, sig)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert gone(tag), f"worker processes left behind after {sig.name}: {tagged(tag)}"


def test_a_dead_worker_means_extraction_here_and_the_same_record():
    from crawler.extractpool import Extractor
    from crawler.profiles import load

    fixture = next(Path(__file__).parent.glob("fixtures/**/*.html"))
    body, url = fixture.read_bytes(), "https://sgddt.backan.gov.vn/tin/1.html"
    here = Extractor(load(), 0)
    pool = Extractor(load(), 1)

    async def run():  # noqa: ANN202
        expected = await here.extract(body, url, "text/html; charset=utf-8", None)
        first = await pool.extract(body, url, "text/html; charset=utf-8", None)
        for process in pool.pool.processes:
            os.kill(process.pid, signal.SIGKILL)
            process.join()
        second = await pool.extract(body, url, "text/html; charset=utf-8", None)
        return expected, first, second

    try:
        expected, first, second = asyncio.run(run())
    finally:
        pool.close()
    assert first.as_dict() == expected.as_dict() == second.as_dict()
    assert pool.pool is None  # broken: closed, extraction went on here
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_many_pages_in_flight_each_get_their_own_record_and_scan():
    """Two workers, 24 pages handed over at once (most wait in the pool's queue, the
    answers come back interleaved): each page gets its own record and links, exactly as
    read in the crawl's own process."""
    from crawler.extractpool import Extractor, read_and_scan
    from crawler.profiles import load

    profiles = load()
    # A broken, an empty and a truncated page among them.
    fixtures = sorted(Path(__file__).parent.glob("fixtures/pages/*.html"))[:12]
    assert len(fixtures) == 12
    pages = [(f.read_bytes(), f"https://site{i}.gov.vn/tin/{i}.html") for i, f in
             enumerate(fixtures)]
    here = Extractor(profiles, 0)
    pool = Extractor(profiles, 2)

    async def run():  # noqa: ANN202
        return await asyncio.gather(
            *(pool.extract(body, url, None, None) for body, url in pages),
            *(pool.scan(body, url, None, None, None, 2000, 50_000) for body, url in pages))

    try:
        got = asyncio.run(run())
    finally:
        pool.close()
    records, scans = got[:12], got[12:]
    for (body, url), rec, scanned in zip(pages, records, scans, strict=True):
        assert rec.as_dict() == here.here(body, url, None, None).as_dict()
        unreadable, scan, rec2 = read_and_scan(body, url, None, None, None, 2000, 50_000,
                                               profiles)
        assert scanned[0] == unreadable
        assert (scanned[1] is None) == (scan is None)
        if scan is not None:  # every field (postback forms: which ones)
            assert {**vars(scanned[1]), "postbacks": sorted(scanned[1].postbacks)} == {
                **vars(scan), "postbacks": sorted(scan.postbacks)}
        assert (scanned[2] is None) == (rec2 is None)
        if rec2 is not None:
            assert scanned[2].as_dict() == rec2.as_dict()
    assert pool.pool is None
    import multiprocessing

    assert multiprocessing.active_children() == []
