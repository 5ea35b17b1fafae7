"""One fetch per article whatever the order of discovery, and each article under a URL a
server answered, without session tokens.

The demo portal's home page is replaced by a plain page in no family's markup, so the
crawler meets links before it knows the site's family: the sitemap first (robots.txt),
the feed first, the listings first (shuffled), or every URL variant of every article at
once (category parameters, per-visit ``&s=`` and ``&sid=`` tokens, legacy redirects)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

import pytest

from crawler.demo import DemoPortal

ARTICLE_PAGE = "chi-tiet-tin-tuc.aspx"
RETRIES = 1  # RETRY_TIMES below: an always-500 page is asked 1 + RETRIES times
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_ENABLED=False",
        "--no-media"]


def crawl(args: list[str], cwd) -> None:  # noqa: ANN001
    out = subprocess.run([sys.executable, "-m", "crawler", "crawl", *args], cwd=cwd,
                         capture_output=True, text=True, timeout=240)
    # 1 is "partial": the demo portal's broken pages are fetch errors by design.
    assert out.returncode in (0, 1), out.stdout[-2000:] + out.stderr[-4000:]


def ident(path: str) -> tuple[str, str]:
    parts = urlsplit(path)
    query = {k.lower(): v for k, v in parse_qsl(parts.query)}
    return parts.path.lower().split("/noidung/")[0], query.get("itemid", "")


@pytest.mark.parametrize("discovery", ["sitemap", "feed", "listings", "links"])
def test_one_fetch_per_article_whatever_the_order(discovery, tmp_path):
    db = tmp_path / "archive.db"
    with DemoPortal(n_articles=60, seed=4, slow_delay=0.1, discovery=discovery) as portal:
        crawl(["--start-url", portal.start_url, "--db", str(db), *FAST,
               "-s", "DOWNLOAD_TIMEOUT=5", "-s", f"RETRY_TIMES={RETRIES}"], cwd=tmp_path)
        requests = portal.requests
        truth = {ident(urlsplit(a["url"]).path + "?" + urlsplit(a["url"]).query): a
                 for a in portal.articles}
        flaky = len(portal.flaky)
        broken = len(portal.broken) - 1  # the last is the 404 teaser, asked once
        base = portal.base_url
    article_gets = [(path, status) for method, path, status in requests
                    if method == "GET" and ARTICLE_PAGE in path.lower()]
    ok = Counter(ident(path) for path, status in article_gets if status == 200)
    assert set(ok) == set(truth)
    assert max(ok.values()) == 1, sorted(k for k, n in ok.items() if n > 1)
    # Every article fetch is an article, a retry of a flaky page or a broken page's tries.
    assert len(article_gets) == len(truth) + flaky + broken * (1 + RETRIES) + 1
    # No request carried a session token.
    for _, path, _ in requests:
        names = {k.lower() for k, _ in parse_qsl(urlsplit(path).query)}
        assert not names & {"s", "sid"}, path

    conn = sqlite3.connect(db)
    archived = conn.execute("select url from articles").fetchall()
    conn.close()
    assert Counter(ident(u[len(base):]) for (u,) in archived) == Counter(set(truth))
    answered = {base + path for path, status in article_gets if status == 200}
    for (url,) in archived:
        # The URL that answered (no page of the demo names a canonical one), never one
        # built by dropping its category parameters.
        assert url in answered, url
        assert "l=" in urlsplit(url).query
