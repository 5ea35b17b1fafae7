"""The crawl of a portal whose CMS no family describes: articles read generically, the
site's template learned from its pages and kept in the archive, no chrome in a record."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from crawler.demo.commune import NOTICE, CommunePortal

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s",
        "PROGRESS_ENABLED=False"]


def crawl(site: CommunePortal, db, cwd):
    out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                          site.start_url, "--db", str(db), *FAST], cwd=cwd,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]


@pytest.fixture(scope="module")
def commune(tmp_path_factory):
    db = tmp_path_factory.mktemp("archive") / "archive.db"
    with CommunePortal(n_articles=30) as site:
        crawl(site, db, tmp_path_factory.mktemp("home"))
        yield site, db


def rows(db, sql, *params):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_every_article_archived_once_with_exact_fields_and_no_chrome(commune):
    site, db = commune
    got = {r["url"]: r for r in rows(db, "select * from articles")}
    truth = {a["url"]: a for a in site.articles}
    assert set(got) == set(truth)  # the "Giới thiệu" pages and listings are not articles
    for url, want in truth.items():
        row = got[url]
        assert (row["title"], row["published"], row["byline"]) == (
            want["title"], want["published"], want["byline"]), url
        assert row["body"] == want["body"], url
        assert row["family"] == "generic"
        for chrome in site.chrome:
            assert chrome not in (row["body"] or "") + (row["title"] or ""), (url, chrome)


def test_the_learned_template_is_kept_with_the_site(commune):
    site, db = commune
    (row,) = rows(db, "select * from site_templates")
    assert row["site"] == site.base_url.removeprefix("http://")
    template = json.loads(row["template"])
    texts = {text for _, text in template["blocks"]}
    assert NOTICE in texts and "Trang chủ" in texts
    assert row["pages"] >= 5


def test_each_page_fetched_once(commune):
    site, _ = commune
    paths = [p for p, status in site.requests if status == 200 and p.startswith("/tin-tuc/bai-")]
    assert len(paths) == len(set(paths)) == len(site.articles)
