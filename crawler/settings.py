"""Scrapy settings for the portal crawler. Every non-default setting says why.

`scrapy.cfg` points here; `python -m crawler crawl` loads the same module, so both ways
of running a crawl behave alike. Override any of them with `-s NAME=VALUE`.
"""

BOT_NAME = "vngovnews"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Be polite: these are small, publicly funded servers (PORTALS.md "Be polite").
CONTACT = "https://github.com/vn-gov-news-archive/crawler (archive@vngovnews.org)"
USER_AGENT = f"vngovnews-archiver/0.1 (+{CONTACT})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16  # across sites; one site never gets more than the next line
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Items (articles) are written one at a time on one SQLite connection: Scrapy's default of
# 100 only starts 100 idle asyncio tasks per answer (~1 ms of CPU each; bench/crawl_bench.py).
CONCURRENT_ITEMS = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 0.5
# A stalled government server should not hold a slot for Scrapy's default 180 s:
# give up after 30 s and retry later (BackoffRetryMiddleware slows the site down).
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Each failing incident doubles the site's delay up to this (crawler.middlewares).
BACKOFF_MAX_DELAY = 15.0
# A 429 or 503 with Retry-After (seconds or an HTTP date) holds the whole site that long
# (crawler.middlewares): its retry and its next requests. A server asking for more than
# this is waited this long (a typo'd "86400" must not stall a nightly crawl for a day).
RETRY_AFTER_MAX = 300
# Articles are a few hundred KB; anything past 20 MB is not a page we want.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
# Work per page stays bounded (spiders/portal.py): parsing costs ~50x a page's bytes in
# memory, so a page over MAX_PAGE_BYTES is not parsed; a tree over MAX_PAGE_ELEMENTS (a
# link farm; an article page has a few thousand) is not read as an article; at most
# MAX_LINKS_PER_PAGE links of a page are read (a 100,000-link page sent 20,002 requests).
# Each with an error row saying so. 0 switches a cap off.
MAX_PAGE_BYTES = 5 * 1024 * 1024  # = DOWNLOAD_WARNSIZE; a 7 MB page parsed peaks at 374 MB
MAX_PAGE_ELEMENTS = 50_000
MAX_LINKS_PER_PAGE = 2000
# Traps the family rules miss still end: link depth and per-site page caps. Depth counts
# hops away from listings; following a listing's pagination ("Trang sau", postback pages,
# "Xem thêm") is not a hop, so a 2,000-page archive listing is read to its end.
DEPTH_LIMIT = 0
LINK_HOP_LIMIT = 6
SITE_PAGE_CAP = 20000

# Enforces CONCURRENT_REQUESTS_PER_DOMAIN, which Scrapy >= 2.14 overshoots without a delay.
DOWNLOADER = "crawler.downloader.PoliteDownloader"

DOWNLOADER_MIDDLEWARES = {
    # Scrapy's robots.txt handling, plus: a robots.txt answering 5xx means complete
    # disallow for that host this run (RFC 9309 2.3.1.4), with error rows saying so.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsTxtMiddleware": 100,
    "crawler.middlewares.SitePageCapMiddleware": 120,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.RedirectRecorder": 650,
    # Scrapy's meta refresh handling, without decoding every page to look for one.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.MetaRefreshMiddleware": 580,
    # Above HttpCompression (590) and Redirect (600): the answer as received, into WARC.
    "crawler.middlewares.WarcCaptureMiddleware": 950,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
}
ITEM_PIPELINES = {
    "pipelines.archive.ArchivePipeline": 300,
    "pipelines.media.MediaPipeline": 400,
}
EXTENSIONS = {
    "crawler.progress.Progress": 500,
    # Per-site locks under plain `scrapy crawl`, `failed` when nothing was fetched.
    "crawler.lifecycle.CrawlLifecycle": 100,
}
# The one de-duplication layer: the crawl state's keys, canonical URLs (crawler/frontier.py):
# one article under many URLs (category, session tokens) is fetched once.
DUPEFILTER_CLASS = "crawler.frontier.FrontierDupeFilter"

# Incremental runs (crawler/frontier.py). A site's first run, and any run with
# CRAWL_FULL (`crawl --full`), walks every listing and revalidates every known article;
# later runs stop paging a listing after STALE_LISTING_PAGES pages that show no new
# article, and ask for a known article again only when it is due: REVISIT_POLICY is
# "AGE_DAYS:EVERY_DAYS,...", by the article's age (published, else first seen).
CRAWL_FULL = False
STALE_LISTING_PAGES = 2
REVISIT_POLICY = "7:1,30:3,90:14,365:60,*:180"
REVISIT_OTHER_DAYS = 30  # pages that are neither articles nor listings
REVISIT_ERROR_DAYS = 7  # URLs that failed

# Where the archive lives; everything a crawl writes goes beside it.
ARCHIVE_DB = "data/archive.db"
# Records are committed a few at a time, each batch in one transaction with the frontier
# rows it completes (crawler/frontier.py): at most this many records, at most this many
# seconds after the first of them. A crash (kill -9) loses at most that much work, which
# the frontier still has pending; one commit (and one WARC fsync) per article cost more
# than reading it. 1 commits each record at once.
ARCHIVE_COMMIT_ITEMS = 8
ARCHIVE_COMMIT_SECONDS = 0.25
# Every request and answer, as received, in WARC files under warc/SITE/ beside the archive
# (crawler/warc.py); a file is closed and the next begun past WARC_MAX_SIZE bytes.
WARC_ENABLED = True
WARC_MAX_SIZE = 1024 * 1024 * 1024
# Content images and attachments of archived articles, downloaded (the site's own hosts
# only, at most MEDIA_MAX_BYTES each) and kept under files/ beside the archive by their
# SHA-256 (pipelines/media.py). `crawl --no-media` sets MEDIA_ENABLED = False.
MEDIA_ENABLED = True
MEDIA_MAX_BYTES = 50 * 1024 * 1024
# Crawl logs go to logs/ beside it, one file per crawl; the newest LOG_KEEP are kept.
LOG_KEEP = 30
# Set by crawler.runner (`python -m crawler crawl`, Scrapyd jobs), which takes the sites'
# locks itself; under plain `scrapy crawl` the CrawlLifecycle extension takes them.
SITE_LOCKS_HELD = False
PROGRESS_ENABLED = True
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
TELNETCONSOLE_ENABLED = False
# Articles are read (crawler.extract) in this many worker processes while the crawl goes
# on fetching and discovering (crawler/extractpool.py): about half of a crawl's CPU, on
# another core. 0 reads them in the crawl's own process (a machine with one core).
EXTRACT_WORKERS = 1
