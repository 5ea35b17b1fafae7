"""A crawl's life beside the archive: per-site locks, the crawl id on every log line, and
the end state (``failed`` when nothing was fetched).

Locks are files in the archive's folder, ``locks/SITE.lock``, held with ``flock(2)`` for
as long as the crawl runs and holding ``pid host since`` for the next one to read. The
kernel drops the lock when its process dies, however it dies (``kill -9`` included), so
a dead holder's lock is simply taken over.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s crawl %(crawl_id)s [%(name)s] %(levelname)s: %(message)s"
_current_log: CrawlLog | None = None


class _CrawlFormatter(logging.Formatter):
    """Lines of a multi-line message (settings, stats, tracebacks) carry the id too."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\n", f"\ncrawl {record.crawl_id} | ") if "\n" in text else text


class CrawlLog(logging.FileHandler):
    """A crawl's log file, ``logs/crawl-STAMP-ID.log``, with the crawl id on every line.

    The id exists once the pipeline has created the crawl's row; lines logged before (Scrapy
    starting up) wait in memory and are written with it.
    """

    def __init__(self, folder: Path, datefmt: str | None = None, *, path: Path | None = None):
        self.stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.folder = Path(folder)
        self.fixed = path is not None  # a name given (Scrapyd's job log): kept as is
        super().__init__(path or self.folder / f"crawl-{self.stamp}.log", encoding="utf-8",
                         delay=True)
        self.setFormatter(_CrawlFormatter(LOG_FORMAT, datefmt))
        self.crawl_id = None
        self.pending: list[logging.LogRecord] = []
        global _current_log
        _current_log = self

    @property
    def path(self) -> Path:
        return Path(self.baseFilename)

    def emit(self, record: logging.LogRecord) -> None:
        if self.crawl_id is None and self.pending is not None and len(self.pending) < 100_000:
            self.pending.append(record)
            return
        record.crawl_id = self.crawl_id if self.crawl_id is not None else "-"
        super().emit(record)

    def start(self, crawl_id: int) -> None:
        """The crawl's row exists: name the file after it, write what waited."""
        self.acquire()
        try:
            if self.stream is None and not self.fixed:
                self.baseFilename = str(self.folder / f"crawl-{self.stamp}-{crawl_id}.log")
            self.crawl_id = crawl_id
        finally:
            self.release()
        self._flush_pending()

    def _flush_pending(self) -> None:
        pending, self.pending = self.pending, None
        for record in pending or ():
            self.emit(record)

    def finish(self) -> None:
        """The crawl is over (logging's own shutdown may close() us earlier: Scrapy's
        dictConfig does, and a closed file handler opens its file again on the next line)."""
        global _current_log
        if self.pending:
            self._flush_pending()  # never got an id: written with "-"
        if _current_log is self:
            _current_log = None
        self.close()


class LockHeld(RuntimeError):
    """Another live process is crawling a site; the message is one line naming it."""

    def __init__(self, key: str, holder: dict, path: Path):
        self.key, self.holder, self.path = key, holder, path
        who = f"pid {holder.get('pid', '?')}"
        if holder.get("host") and holder.get("host") != socket.gethostname():
            who += f" on {holder['host']}"
        since = holder.get("since", "an unknown time")
        super().__init__(f"site {key} is already being crawled by {who} since {since} "
                         f"(lock {path}); not starting")


def _lock_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", key) + ".lock"


class SiteLocks:
    """The locks of a crawl's sites: all taken, or none (LockHeld)."""

    def __init__(self, folder: Path, keys: list[str]):
        self.folder = Path(folder) / "locks"
        self.keys = sorted(set(keys))
        self.held: dict[str, int] = {}
        self.taken_over: list[dict] = []

    def acquire(self, *, skip_held: bool = False) -> SiteLocks:
        """Take every lock, or raise LockHeld (holding none). With ``skip_held``, a site
        another crawl holds is left out (``self.skipped``) unless every site is held."""
        self.skipped: list[LockHeld] = []
        self.folder.mkdir(parents=True, exist_ok=True)
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": datetime.now(UTC).astimezone().isoformat(timespec="seconds")})
        for key in self.keys:
            path = self.folder / _lock_name(key)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = LockHeld(key, _read(fd), path)
                os.close(fd)
                if skip_held:
                    self.skipped.append(held)
                    continue
                self.release()
                raise held from None
            previous = _read(fd)
            if previous:  # written by a process that died holding it
                self.taken_over.append({"site": key, **previous})
                logger.info("took over the lock of site %s from pid %s (gone)", key,
                            previous.get("pid"))
            os.ftruncate(fd, 0)
            os.pwrite(fd, (info + "\n").encode(), 0)
            self.held[key] = fd
        if self.skipped and not self.held:
            raise self.skipped[0]
        return self

    def release(self) -> None:
        for fd in self.held.values():
            try:
                os.ftruncate(fd, 0)  # an empty lock file: nobody is crawling
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self.held.clear()

    def __enter__(self) -> SiteLocks:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _with_id(crawl_id):
    def add(record: logging.LogRecord) -> bool:
        record.crawl_id = crawl_id
        return True

    return add


def _read(fd: int) -> dict:
    try:
        data = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        return json.loads(data) if data else {}
    except (OSError, ValueError):
        return {}


class CrawlLifecycle:
    """Scrapy extension (on in ``crawler/settings.py``).

    Under ``python -m crawler crawl`` and Scrapyd jobs the runner has taken the locks
    (``SITE_LOCKS_HELD``); under plain ``scrapy crawl`` this extension takes the locks
    (a held lock stops the crawl before any request) and marks dead crawls of those sites
    ``interrupted``. Either way it counts the pages that answered and, once the pipeline
    has closed the crawl, turns a ``finished`` crawl that fetched nothing into ``failed``.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.locks: SiteLocks | None = None
        self.pages_ok = 0

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals

        ext = cls(crawler)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        if not crawler.settings.getbool("SITE_LOCKS_HELD"):
            ext._take_locks()
        return ext

    def _archive(self):
        from .runner import archive_path

        return archive_path(self.crawler.settings.get("ARCHIVE_DB"))

    def _take_locks(self) -> None:
        from .store import Archive

        spider = self.crawler.spider
        keys = [s.key for s in getattr(spider, "sites", [])]
        db = self._archive()
        try:
            self.locks = SiteLocks(db.parent, keys).acquire()
        except LockHeld as exc:
            # Nothing opened yet (no archive, no request): end this process at once, with
            # one line in the job's log and on stderr, exit code 4 as the CLI's.
            logger.error("%s", exc)
            print(f"crawler: {exc}", file=sys.stderr, flush=True)
            logging.shutdown()
            os._exit(4)
        with Archive(db) as archive:
            archive.mark_interrupted(locked_sites=keys)

    def spider_opened(self, spider):
        crawl_id = getattr(spider, "crawl_id", None)
        if not crawl_id:
            return
        if _current_log is not None:  # python -m crawler crawl
            _current_log.start(crawl_id)
            return
        from scrapy.utils.log import get_scrapy_root_handler

        handler = get_scrapy_root_handler()
        if handler is not None:  # scrapy crawl / scrapyd: the id on every line from here
            handler.addFilter(_with_id(crawl_id))
            handler.setFormatter(_CrawlFormatter(LOG_FORMAT,
                                                 self.crawler.settings.get("LOG_DATEFORMAT")))

    def response_received(self, response, request, spider):
        if response.status < 400 and urlsplit(response.url).path != "/robots.txt":
            self.pages_ok += 1
            self.crawler.stats.set_value("lifecycle/pages_ok", self.pages_ok)

    def engine_stopped(self):
        try:
            crawl_id = getattr(self.crawler.spider, "crawl_id", None)
            if crawl_id and self.pages_ok == 0:
                from .store import Archive

                with Archive(self._archive(), migrate=False) as archive, archive.db.atomic():
                    archive.db.execute(
                        "update crawls set status = 'failed' where id = ? and status = 'finished'",
                        [crawl_id])
        finally:
            if self.locks is not None:
                self.locks.release()
