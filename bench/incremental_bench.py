"""Nightly and --full runs, and resuming after kill -9, measured on the demo portal.

    .venv/bin/python bench/incremental_bench.py [--articles 300] [--new 15]

1. A first crawl of the portal; the portal moves to its later state (``--new`` articles on
   top, three edited, one deleted); the nightly run; then ``crawl --full``. Requests are
   counted by the portal and shown as fractions of the first crawl's.
2. A crawl killed with SIGKILL when the archive holds 10%, 50% and 90% of the articles,
   the same command each time, then run to its end: article requests of all runs against
   one uninterrupted crawl's.

Every crawl is the real CLI in a subprocess (``python -m crawler crawl``) with no delay
and no AutoThrottle, against one portal served by this process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.demo import DemoPortal  # noqa: E402

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s",
        "PROGRESS_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=10", "-s", "RETRY_TIMES=2"]
ARTICLE = "chi-tiet-tin-tuc.aspx"
# Images and attached documents the crawl downloads with an article (pipelines/media.py).
MEDIA = ("/PublishingImages/", "/PictureLibrary/", "/Attachments/")


def command(portal: DemoPortal, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "crawler", "crawl", "--start-url", portal.start_url,
            "--db", str(db), *FAST, *extra]


def crawl(portal: DemoPortal, db: Path, *extra: str) -> tuple[list, float]:
    portal.clear_requests()
    t0 = time.perf_counter()
    out = subprocess.run(command(portal, db, *extra), capture_output=True, text=True,
                         cwd=db.parent)
    if out.returncode not in (0, 1):
        raise SystemExit(out.stdout[-2000:] + out.stderr[-2000:])
    return portal.requests, time.perf_counter() - t0


def count(db: Path, sql: str) -> int:
    try:
        conn = sqlite3.connect(db, timeout=10)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def incremental(args, work: Path) -> None:
    db = work / "incremental.db"
    with DemoPortal(n_articles=args.articles, seed=1, slow_delay=0.3) as portal:
        first, t_first = crawl(portal, db)
        portal.advance(args.new)
        nightly, t_nightly = crawl(portal, db)
        full, t_full = crawl(portal, db, "--full")
        new = {a["url"].split("?", 1)[1].split("&")[0] for a in portal.new_articles}
        touched = new | {a["url"].split("?", 1)[1].split("&")[0]
                         for a in portal.edited + portal.deleted}
    conn = sqlite3.connect(db)
    held = {u.split("?", 1)[1].split("&")[0] for (u,) in conn.execute("select url from articles")}
    rows = conn.execute("select articles_new, articles_changed, articles_unchanged, "
                        "articles_gone from crawls order by id").fetchall()
    conn.close()
    unchanged_200 = [p for m, p, s in full if ARTICLE in p and s == 200
                     and p.split("?", 1)[1].split("&")[0] not in touched]
    print(f"{args.articles}-article portal, then {args.new} new, 3 edited, 1 deleted\n")
    pages_first = [r for r in first if not any(m in r[1] for m in MEDIA)]
    print(f"{'run':10} {'requests':>9} {'of first':>9} {'pages':>6} {'of first':>9} "
          f"{'article':>8} {'304':>5} {'new/changed/unchanged/gone':>28} {'time':>7}")
    for name, reqs, took, row in (("first", first, t_first, rows[0]),
                                  ("nightly", nightly, t_nightly, rows[1]),
                                  ("--full", full, t_full, rows[2])):
        arts = Counter(s for m, p, s in reqs if ARTICLE in p)
        pages = [r for r in reqs if not any(m in r[1] for m in MEDIA)]
        print(f"{name:10} {len(reqs):>9} {len(reqs) / len(first):>9.3f} {len(pages):>6} "
              f"{len(pages) / len(pages_first):>9.3f} {sum(arts.values()):>8} {arts[304]:>5} "
              f"{'/'.join(map(str, row)):>28} {took:>6.1f}s")
    print("(requests: everything the portal answered, the articles' images and documents "
          "included; pages: without them)")
    print(f"\nnightly found {len(new & held)} of {len(new)} new articles; "
          f"--full downloaded {len(unchanged_200)} unchanged article pages with a 200")


def kills(args, work: Path) -> None:
    with DemoPortal(n_articles=args.articles, seed=1, slow_delay=0.3) as portal:
        ref = work / "reference.db"
        reqs, _ = crawl(portal, ref)
        one = sum(1 for m, p, s in reqs if ARTICLE in p)
        db = work / "killed.db"
        portal.clear_requests()
        portal.delay = 0.01
        held = []
        for share in (0.1, 0.5, 0.9):
            proc = subprocess.Popen(command(portal, db), cwd=work, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while proc.poll() is None and count(db, "select count(*) from articles") \
                    < share * args.articles:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            held.append(count(db, "select count(*) from articles"))
        portal.delay = 0.0
        killed = sum(1 for m, p, s in portal.requests if ARTICLE in p)
        reqs, _ = crawl(portal, db)
        last = sum(1 for m, p, s in reqs if ARTICLE in p)
    conn = sqlite3.connect(db)
    same = dict(conn.execute("select key, content_hash from articles").fetchall())
    ok = conn.execute("pragma integrity_check").fetchone()[0]
    fk = conn.execute("pragma foreign_key_check").fetchall()
    conn.close()
    conn = sqlite3.connect(ref)
    reference = dict(conn.execute("select key, content_hash from articles").fetchall())
    conn.close()
    print(f"\nkilled (SIGKILL) with {held} articles archived, then run to the end:")
    print(f"  article requests: {killed} in the killed runs + {last} in the last = "
          f"{killed + last}; one uninterrupted crawl: {one} ({(killed + last) / one:.2f}x)")
    print(f"  archive: {len(same)} articles, same content as the uninterrupted crawl: "
          f"{same == reference}; integrity_check {ok}; foreign_key_check "
          f"{'ok' if not fk else fk}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--new", type=int, default=15)
    parser.add_argument("--no-kills", dest="kills", action="store_false")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        incremental(args, Path(tmp))
        if args.kills:
            kills(args, Path(tmp))


if __name__ == "__main__":
    main()
