"""End-to-end crawl speed on the demo portal, against a bare Scrapy spider fetching the same URLs.

    .venv/bin/python bench/crawl_bench.py [--articles 300] [--concurrency 8] [--rounds 3]
    .venv/bin/python bench/crawl_bench.py --grow 300,1000,3000,10000   # cost as it grows
    .venv/bin/python bench/crawl_bench.py --rounds 1 --profile ours.prof  # where time goes

Both runs use the same relaxed politeness (no delay, no AutoThrottle, N requests in
flight) against one demo portal served by this process on 127.0.0.1; each crawl runs in
its own child process (Twisted's reactor starts once per process), which reports its
wall time and peak RSS. The bare spider GETs exactly the URLs our crawl fetched (taken
from the portal's request log) and does nothing with the answers: the cost of discovery,
extraction and the archive is what the ratio shows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RELAXED = {
    "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "PROGRESS_ENABLED": False,
    "LOG_LEVEL": "WARNING", "DOWNLOAD_TIMEOUT": 10, "RETRY_TIMES": 2, "BACKOFF_MAX_DELAY": 0,
}


def child_ours(start_url: str, db: str, concurrency: int, capture: bool = True) -> dict:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from spiders.portal import PortalSpider

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict({**RELAXED, "ARCHIVE_DB": db,
                      "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency}, priority="cmdline")
    if not capture:
        settings.setdict({"WARC_ENABLED": False, "MEDIA_ENABLED": False}, priority="cmdline")
    settings.setdict(json.loads(os.environ.get("CRAWL_BENCH_SET") or "{}"), priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PortalSpider)
    process.crawl(crawler, start_url=start_url)
    profile = os.environ.get("CRAWL_BENCH_PROFILE")
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    process.start()
    elapsed = time.perf_counter() - t0
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    import sqlite3

    articles = sqlite3.connect(db).execute("select count(*) from articles").fetchone()[0]
    extractor = getattr(crawler.spider, "extractor", None)
    return {"elapsed": elapsed, "articles": articles,
            "pages": crawler.stats.get_value("response_received_count", 0),
            "rss_workers_mb": sum(getattr(extractor, "worker_peak_kb", None) or [0]) / 1024}


def peak_rss_mb() -> float:
    """This process's peak RSS since it started (VmHWM: getrusage's ru_maxrss also counts
    the bench process it was forked from, before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_bare(urls_file: str, concurrency: int) -> dict:

    urls = json.loads(Path(urls_file).read_text())

    class Bare(url_list_spider(urls)):
        name = "bare"

        def parse(self, response):
            pass

    elapsed, crawler = run_plain(Bare, concurrency)
    return {"elapsed": elapsed, "pages": crawler.stats.get_value("response_received_count", 0)}


def url_list_spider(urls: list[str]):  # noqa: ANN201
    """A Scrapy spider class that GETs ``urls``, each once, into ``self.parse``."""
    import scrapy

    class UrlList(scrapy.Spider):
        async def start(self):
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    return UrlList


def run_plain(spider_cls, concurrency: int):  # noqa: ANN001, ANN201
    """(seconds, crawler) of a reference spider over the URL list, with our downloader
    (it enforces the in-flight limit Scrapy >= 2.14 overshoots, so every run really keeps
    --concurrency requests in flight) and our CONCURRENT_ITEMS (4, crawler/settings.py;
    Scrapy's default 100 costs bare Scrapy ~0.5 ms of CPU per answer)."""
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess({**RELAXED, "ROBOTSTXT_OBEY": False,
                              "DOWNLOADER": "crawler.downloader.PoliteDownloader",
                              "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                              "CONCURRENT_REQUESTS": 16, "HTTPERROR_ALLOW_ALL": True,
                              "CONCURRENT_ITEMS": 4})
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler)
    t0 = time.perf_counter()
    process.start()
    return time.perf_counter() - t0, crawler


def child_hand(urls_file: str, concurrency: int, db: str) -> dict:
    """A hand-written spider as a user would write one with the usual tools: Scrapy GETs the
    same URLs, every HTML answer goes through trafilatura (text and metadata) and is
    inserted into SQLite, one commit per page. No discovery, no versions, no search index:
    less work than ours, but the extraction a user would reach for."""
    import sqlite3

    import trafilatura

    urls = json.loads(Path(urls_file).read_text())
    conn = sqlite3.connect(db)
    conn.execute("pragma journal_mode = wal")
    conn.execute("create table pages (url text primary key, title text, date text, "
                 "author text, text text)")

    class Hand(url_list_spider(urls)):
        name = "hand"

        def parse(self, response):
            if response.status != 200 or b"html" not in (
                    response.headers.get("Content-Type") or b""):
                return
            doc = trafilatura.bare_extraction(response.text, url=response.url,
                                              with_metadata=True, include_comments=False,
                                              include_tables=True)
            if not doc:
                return
            doc = doc.as_dict() if hasattr(doc, "as_dict") else doc
            with conn:
                conn.execute("insert or replace into pages values (?, ?, ?, ?, ?)",
                             (response.url, doc.get("title"), doc.get("date"),
                              doc.get("author"), doc.get("text")))

    elapsed, crawler = run_plain(Hand, concurrency)
    stored = conn.execute("select count(*) from pages").fetchone()[0]
    return {"elapsed": elapsed, "pages": crawler.stats.get_value("response_received_count", 0),
            "stored": stored}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the portal waits before each answer (a real server's "
                             "response time; 0 = loopback speed)")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of our first crawl to FILE (pstats format)")
    parser.add_argument("--no-capture", action="store_true",
                        help="our crawl without WARC capture and media downloads")
    parser.add_argument("--grow", metavar="N,N,...",
                        help="instead of the comparison: our crawl alone at each portal size "
                             "(time per article, peak RSS), e.g. --grow 300,1000,3000,10000")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for our crawl (e.g. -s EXTRACT_WORKERS=0)")
    parser.add_argument("--hand", action="store_true",
                        help="also run a hand-written spider (Scrapy + trafilatura + one "
                             "SQLite commit per page) over the same URLs")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.set:
        os.environ["CRAWL_BENCH_SET"] = json.dumps(dict(kv.split("=", 1) for kv in args.set))
    if args.profile:
        os.environ["CRAWL_BENCH_PROFILE"] = str(Path(args.profile).resolve())
    if args.child:
        kind, *rest = args.child
        if kind == "ours":
            result = child_ours(rest[0], rest[1], int(rest[2]), rest[3:] != ["nocapture"])
        elif kind == "hand":
            result = child_hand(rest[0], int(rest[1]), rest[2])
        else:
            result = child_bare(rest[0], int(rest[1]))
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The crawl process and its extraction workers live side by side: both count.
        result["peak_rss_mb"] = peak_rss_mb() + result.get("rss_workers_mb", 0)
        result["cpu_main"] = me.ru_utime + me.ru_stime
        # Extraction workers (EXTRACT_WORKERS), joined when the crawl closed.
        result["cpu_workers"] = kids.ru_utime + kids.ru_stime
        print(json.dumps(result))
        return

    from crawler.demo import DemoPortal

    def fresh_portal(port: int = 0) -> DemoPortal:
        """A new portal for every run, so each run meets the same fail-once pages."""
        portal = DemoPortal(n_articles=args.articles, seed=1, slow_delay=0.5)
        if args.latency:
            handle = portal.site.handle

            def with_latency(*a, **kw):
                response = handle(*a, **kw)
                response.delay = response.delay or args.latency
                return response

            portal.site.handle = with_latency
        portal.start(port=port)
        return portal

    if args.grow:
        print(f"{'articles':>9}{'archived':>10}{'pages':>7}{'seconds':>9}{'ms/article':>12}"
              f"{'CPU ms/article':>16}{'peak RSS MB':>13}{'server CPU s':>14}")
        for n in (int(x) for x in args.grow.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                portal = DemoPortal(n_articles=n, seed=1, slow_delay=0.5)
                portal.start()
                cpu0 = time.process_time()
                try:
                    r = run_child("ours", portal.start_url, f"{tmp}/archive.db",
                                  str(args.concurrency), *(["nocapture"] if args.no_capture else []))
                finally:
                    portal.stop()
            a = max(r["articles"], 1)
            print(f"{n:>9}{r['articles']:>10}{r['pages']:>7}{r['elapsed']:>9.2f}"
                  f"{1000 * r['elapsed'] / a:>12.2f}{1000 * (r['cpu_main'] + r.get('cpu_workers', 0)) / a:>16.2f}"
                  f"{r['peak_rss_mb']:>13.0f}{time.process_time() - cpu0:>14.2f}", flush=True)
        return

    runs: dict[str, list] = {"ours": [], "bare": [], "hand": []}

    def timed(kind: str, *child_args: str) -> dict:
        """One child run; ``server_cpu``: the CPU this process (the demo portal's threads;
        it does nothing else meanwhile) spent serving it, on the same two cores."""
        cpu0 = time.process_time()
        result = run_child(kind, *child_args)
        result["server_cpu"] = time.process_time() - cpu0
        runs[kind].append(result)
        return result

    with tempfile.TemporaryDirectory() as tmp:
        portal = fresh_portal()
        port = int(portal.base_url.rsplit(":", 1)[1])
        portal.stop()
        fetched: list[str] = []
        posts = 0
        for i in range(args.rounds):
            portal = fresh_portal(port)
            timed("ours", portal.start_url, f"{tmp}/archive{i}.db", str(args.concurrency),
                  *(["nocapture"] if args.no_capture else []))
            if not fetched:
                fetched = [portal.base_url + path for method, path, _ in portal.requests
                           if method == "GET"]
                posts = sum(1 for method, _, _ in portal.requests if method == "POST")
                Path(f"{tmp}/urls.json").write_text(json.dumps(fetched))
            portal.stop()
            portal = fresh_portal(port)
            timed("bare", f"{tmp}/urls.json", str(args.concurrency))
            portal.stop()
            if args.hand:
                portal = fresh_portal(port)
                timed("hand", f"{tmp}/urls.json", str(args.concurrency), f"{tmp}/hand{i}.db")
                portal.stop()

    def median(kind: str) -> dict:
        ordered = sorted(runs[kind], key=lambda r: r["elapsed"])
        return ordered[len(ordered) // 2]

    ours, bare = median("ours"), median("bare")
    a = ours["articles"]
    print(f"demo portal: {args.articles} articles; {len(fetched)} GETs + {posts} POSTs "
          f"fetched by our crawl; {args.concurrency} requests in flight, no delays; "
          f"server latency {args.latency * 1000:.0f} ms; median of {args.rounds} rounds"
          + ("; ours without WARC and media" if args.no_capture else ""))
    print(f"{'':40}{'seconds':>9}{'articles/s':>12}{'ratio':>7}{'CPU s':>8}{'server CPU s':>14}"
          f"{'peak RSS MB':>13}")
    rows = [("ours (discover+extract+archive)", ours),
            ("bare Scrapy (same GET URLs)", bare)]
    if runs["hand"]:
        rows.append(("hand-written (Scrapy+trafilatura+SQLite)", median("hand")))
    for label, r in rows:
        cpu = r["cpu_main"] + r.get("cpu_workers", 0)
        print(f"{label:40}{r['elapsed']:>9.2f}{a / r['elapsed']:>12.1f}"
              f"{bare['elapsed'] / r['elapsed']:>7.2f}{cpu:>8.2f}{r['server_cpu']:>14.2f}"
              f"{r['peak_rss_mb']:>13.0f}")
    print(f"ratio (ours / bare, articles per second): {bare['elapsed'] / ours['elapsed']:.2f}")
    print(f"articles archived: {a}; pages fetched: ours {ours['pages']}, bare {bare['pages']}"
          + (f", hand-written {median('hand')['pages']} ({median('hand')['stored']} stored)"
             if runs["hand"] else ""))
    print(f"CPU seconds (whole child process, imports included): ours {ours['cpu_main']:.2f}"
          f" + extraction workers {ours.get('cpu_workers', 0):.2f}, bare {bare['cpu_main']:.2f}")


if __name__ == "__main__":
    main()
