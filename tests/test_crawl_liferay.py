"""The crawl of a Liferay portal (crawler/demo/liferay.py), as a new user runs it: every
article once under its canonical URL with exact fields, the notices only a "Xem thêm"
button loads found, no static page archived, no trap or action URL fetched, no session
token requested."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

import pytest

from crawler.demo.liferay import LiferayPortal

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s",
        "PROGRESS_ENABLED=False", "--no-media"]


@pytest.fixture(scope="module")
def liferay(tmp_path_factory):
    db = tmp_path_factory.mktemp("archive") / "archive.db"
    with LiferayPortal(n_articles=60) as site:
        out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                              site.start_url, "--db", str(db), *FAST],
                             cwd=tmp_path_factory.mktemp("home"), capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        yield site, db


def rows(db, sql, *params):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_every_article_once_under_its_canonical_url_with_exact_fields(liferay):
    site, db = liferay
    archived = rows(db, "select * from articles")
    truth = {a["url"]: a for a in site.articles}
    assert len(truth) == 60
    assert Counter(r["url"] for r in archived) == Counter(set(truth))
    for r in archived:
        want = truth[r["url"]]
        assert r["family"] == "liferay"
        assert (r["title"], r["published"], r["summary"], r["body"]) == (
            want["title"], want["published"], want["summary"], want["body"]), r["url"]
        assert r["title"] not in site.portlet_titles
        # The canonical URL (no /web/guest, no token) is one the server answers.
        assert site.answer(urlsplit(r["url"]).path)[0] == 200


def test_each_article_fetched_once_and_no_token_requested(liferay):
    site, _ = liferay
    fetched = Counter(urlsplit(path).path.rsplit("/", 1)[1] for path, status in site.requests
                      if "/content/" in path and status == 200)
    assert fetched == Counter({a["slug"]: 1 for a in site.articles})
    for path, _ in site.requests:
        names = {k for k, _ in parse_qsl(urlsplit(path).query)}
        assert not any(n in ("p_auth", "p_p_auth") or n.endswith("_redirect") for n in names), path


def test_load_more_fragments_and_cur_pages_were_read(liferay):
    site, _ = liferay
    paths = [path for path, status in site.requests if status == 200]
    fragments = [p for p in paths if "p_p_lifecycle=2" in p]
    pages = [p for p in paths if "_cur=" in p]
    assert len(fragments) == len(set(fragments)) >= 1
    assert len(pages) == len(set(pages)) >= 1


def test_no_static_page_archived_and_no_trap_fetched(liferay):
    site, db = liferay
    titles = {r["title"] for r in rows(db, "select title from articles")}
    assert not titles & set(site.static_titles)
    for path, _ in site.requests:
        assert not path.startswith(site.traps), path
        assert "p_p_lifecycle=1" not in path, path
