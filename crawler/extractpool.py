"""Extraction on another core: the spider hands a page's bytes to a worker process and
goes on fetching and discovering while the worker reads the record.

A site's first TEMPLATE_LEARN_PAGES pages (which teach its template) are parsed by the
spider itself, for their links, and only ``crawler.extract.extract_record`` runs in the
workers. After them the workers read the whole page (``read_and_scan``): they parse it
once, read what the spider needs to decide its links (``crawler.pagescan.Scan``: anchors,
feeds, loaders, postback forms, canonical link, size and depth, family) and then the
record, so the crawl process does not parse it at all. The records and the links are the
same with or without workers (``tests/test_extract_pool.py``). ``EXTRACT_WORKERS``
(crawler/settings.py) says how many; 0 reads everything in the crawl's own process.

Workers are started with ``spawn`` (never ``fork``: the crawl process runs Twisted's
threads), ignore SIGINT and SIGTERM (the crawl stops them once it has drained; a
graceful stop must not lose the extractions in flight), and exit by themselves when the
crawl process is gone (``kill -9``): a thread checks the parent every second.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

logger = logging.getLogger(__name__)

_profiles = None


def _worker_init(parent: int) -> None:
    global _profiles
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from .profiles import load

    _profiles = load()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)  # the crawl process died (kill -9): no orphan left behind

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ready() -> int:
    import crawler.extract  # noqa: F401 - imported now, not with the first page

    return os.getpid()


def _peak_kb() -> tuple[int, int]:
    """(pid, peak RSS in KB) of this worker."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return os.getpid(), int(line.split()[1])
    return os.getpid(), 0


def extract_in_worker(body: bytes, url: str, ctype: str | None, template):  # noqa: ANN001, ANN201
    from .extract import extract_record

    return extract_record(body, url, content_type=ctype, profiles=_profiles, template=template)


class Extractor:
    """``await extractor.extract(body, url, ctype, template)`` -> ``crawler.extract.Record``.

    With ``workers`` > 0 the record is read in a process pool; otherwise (or when the pool
    broke) here, at once."""

    def __init__(self, profiles, workers: int = 0):  # noqa: ANN001
        self.profiles = profiles
        self.workers = max(0, int(workers))
        self.pool: ProcessPoolExecutor | None = None
        self.worker_peak_kb: list[int] = []
        if self.workers:
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init, initargs=(os.getpid(),))
            # Start the workers now (imports included) rather than with the first page.
            self._warm = [self.pool.submit(_ready) for _ in range(self.workers)]

    def here(self, body: bytes, url: str, ctype: str | None, template, page=None):  # noqa: ANN001, ANN201
        from .extract import extract_record

        return extract_record(body if page is None else page, url, content_type=ctype,
                              profiles=self.profiles, template=template)

    async def extract(self, body: bytes, url: str, ctype: str | None, template,  # noqa: ANN001, ANN201
                      page=None):  # noqa: ANN001
        """The page's record. ``page``: its ``crawler.extract.Page`` when already read
        here (used, and its tree consumed, when there is no pool)."""
        if self.pool is None:
            return self.here(body, url, ctype, template, page)
        try:
            future: Future = self.pool.submit(extract_in_worker, body, url, ctype, template)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            logger.warning("the extraction workers died; extracting in the crawl process")
            self.close(wait=False)
            return self.here(body, url, ctype, template)

    async def scan(self, body: bytes, url: str, ctype: str | None, template,  # noqa: ANN001, ANN201
                   known: str | None, link_cap: int, element_cap: int):
        """``read_and_scan`` in a worker: (unreadable, scan, record); None when there is no
        pool or it broke (the spider then reads the page itself)."""
        if self.pool is None:
            return None
        try:
            future: Future = self.pool.submit(scan_in_worker, body, url, ctype, template, known,
                                              link_cap, element_cap)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            logger.warning("the extraction workers died; extracting in the crawl process")
            self.close(wait=False)
            return None

    def close(self, wait: bool = True) -> None:
        """Stop the workers (waits for them to exit, so none is left behind)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        if wait and os.path.exists("/proc/self/status"):
            # Their peak memory, for bench/crawl_bench.py (one answer per worker, likely).
            try:
                peaks = dict(f.result(timeout=5) for f in
                             [pool.submit(_peak_kb) for _ in range(self.workers)])
                self.worker_peak_kb = list(peaks.values())
            except Exception:  # noqa: BLE001 - a figure, never a reason to fail the close
                pass
        pool.shutdown(wait=wait, cancel_futures=True)


def read_and_scan(body: bytes, url: str, ctype: str | None, template, known: str | None,  # noqa: ANN001, ANN201
                  link_cap: int, element_cap: int, profiles):  # noqa: ANN001
    """(unreadable, scan, record) of a page whose site template is learned: parsed once,
    scanned for the spider (``crawler.pagescan``), then read as a record unless the spider
    would not read it (a tree over ``element_cap`` elements or too deep, an empty answer,
    a page of its family's listing shape). ``known``: the site's family, None to detect
    it here. The record is None when not read, or the exception extraction raised."""
    from .extract import read_page
    from .pagescan import scan_tree

    page = read_page(body, url, content_type=ctype)
    scan = None
    if page.root is not None:
        scan = scan_tree(page.root, link_cap=link_cap, element_cap=element_cap,
                         rules=profiles.crawl, detect=known is None, profiles=profiles)
        fam_name = known or scan.family
        fam = profiles.family(fam_name) if fam_name else None
        if (element_cap and scan.elements > element_cap) or scan.too_deep or (
                fam is not None and fam.is_listing_url(url) and not fam.is_article_url(url)):
            return page.unreadable, scan, None
    elif page.unreadable == "empty_input":
        return page.unreadable, None, None
    try:
        from .extract import extract_record

        rec = extract_record(page, url, content_type=ctype, profiles=profiles, template=template)
    except Exception as exc:  # noqa: BLE001 - raised in the spider, after the links are queued
        rec = exc
    return page.unreadable, scan, rec


def scan_in_worker(body: bytes, url: str, ctype: str | None, template, known: str | None,  # noqa: ANN001, ANN201
                   link_cap: int, element_cap: int):
    return read_and_scan(body, url, ctype, template, known, link_cap, element_cap, _profiles)
