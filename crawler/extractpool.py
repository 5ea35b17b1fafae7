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
crawl process is gone (``kill -9``): their pipe from it reaches its end, and a thread
checks the parent every second.

Each worker is fed through a pair of pipes that the crawl's own event loop reads and
writes (``loop.add_reader``/``add_writer``, non-blocking): no executor threads in the
crawl process. ``concurrent.futures.ProcessPoolExecutor`` had two (its manager and its
queue feeder), and every page handed over woke them, with the reactor then waiting for
the GIL (0.3-0.4 s of the crawl process's CPU in a 1,000-article crawl). Messages are
pickles framed as ``multiprocessing.Connection`` frames them (a 4-byte big-endian
length), so a worker reads and answers with ``recv_bytes``/``send_bytes``; a worker
answers its tasks in the order it got them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import pickle
import select
import signal
import struct
import threading
import time
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


def _worker_main(parent: int, tasks, answers) -> None:  # noqa: ANN001
    """A worker's life: read a task, answer it, until the crawl closes its pipe (or dies)."""
    _worker_init(parent)
    import crawler.extract  # noqa: F401 - imported now, not with the first page

    calls = {"extract": extract_in_worker, "scan": scan_in_worker, "peak": _peak_kb}
    while True:
        try:
            task = tasks.recv_bytes()
        except (EOFError, OSError):
            return  # the crawl closed the pipe, or is gone
        name, args = pickle.loads(task)
        try:
            answer = (True, calls[name](*args))
        except BaseException as exc:  # noqa: BLE001 - raised in the crawl process
            answer = (False, exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an answer that does not pickle
            data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        try:
            answers.send_bytes(data)
        except OSError:
            return


class _Worker:
    """The crawl's end of one worker: its process, its pipes, what it was given."""

    def __init__(self, ctx, parent: int):  # noqa: ANN001
        task_r, task_w = ctx.Pipe(duplex=False)
        answer_r, answer_w = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker_main, args=(parent, task_r, answer_w),
                                   name="extract-worker", daemon=True)
        self.process.start()
        task_r.close()  # the worker's ends: theirs alone now
        answer_w.close()
        self._conns = (task_w, answer_r)  # kept open (closing them closes the fds)
        self.wfd, self.rfd = task_w.fileno(), answer_r.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.out = bytearray()  # framed tasks not yet written
        self.inbuf = bytearray()  # answer bytes read, not yet a whole frame
        self.waiting: collections.deque = collections.deque()  # futures, in task order
        self.writing = False

    def close(self) -> None:
        for conn in self._conns:
            conn.close()


class _Pool:
    """Worker processes fed through pipes the asyncio loop reads and writes itself."""

    def __init__(self, workers: int):
        ctx = multiprocessing.get_context("spawn")
        parent = os.getpid()
        self.workers = [_Worker(ctx, parent) for _ in range(workers)]
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: collections.deque = collections.deque()  # (future, task) not yet given
        # Every future not yet resolved, in the order the pages were handed over, and the
        # answers that came before an earlier page's: answers are delivered in that order
        # (with several workers a short page read after a long one waits for it), so the
        # links of pages are queued in the order the pages arrived from the network,
        # as when the crawl reads every page itself.
        self.order: collections.deque = collections.deque()
        self.answers: dict = {}
        self.broken = False

    @property
    def processes(self) -> list:
        return [w.process for w in self.workers]

    def submit(self, name: str, *args) -> asyncio.Future:  # noqa: ANN002
        if self.broken:
            raise BrokenProcessPool("an extraction worker died")
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self._attach(loop)
        future = loop.create_future()
        self.queue.append((future, pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)))
        self.order.append(future)
        self._feed()
        if self.broken:
            future.exception()  # failed with the others in _break; raised here instead
            raise BrokenProcessPool("an extraction worker died")
        return future

    def _feed(self) -> None:
        """Hand queued tasks to workers, the least busy first, up to 3 each (one
        running, two in its pipe, about what ProcessPoolExecutor kept out): a worker
        finds its next pages in its pipe when it is done, even while the event loop is
        busy. Answers are delivered in the order the pages were handed over
        (``_release``), whichever worker read them. The rest wait here."""
        while self.queue:
            worker = min(self.workers, key=lambda w: len(w.waiting))
            if len(worker.waiting) >= 3:
                return
            future, data = self.queue.popleft()
            if future.done():  # cancelled while queued
                continue
            worker.waiting.append(future)
            worker.out += struct.pack("!i", len(data))
            worker.out += data
            self._write(worker)
            if self.broken:
                return

    def _attach(self, loop) -> None:  # noqa: ANN001
        self._detach()  # from the loop it was read by before, if any
        self.loop = loop
        for worker in self.workers:
            loop.add_reader(worker.rfd, self._read, worker)

    def _write(self, worker: _Worker) -> None:
        try:
            while worker.out:
                n = os.write(worker.wfd, worker.out)
                del worker.out[:n]
        except BlockingIOError:
            if not worker.writing:  # the rest when the pipe has room
                self.loop.add_writer(worker.wfd, self._write, worker)
                worker.writing = True
            return
        except OSError:
            self._break()
            return
        if worker.writing:
            self.loop.remove_writer(worker.wfd)
            worker.writing = False

    def _read(self, worker: _Worker) -> None:
        try:
            while True:
                chunk = os.read(worker.rfd, 1 << 20)
                if not chunk:
                    self._break()  # the worker is gone
                    return
                worker.inbuf += chunk
                if len(chunk) < 1 << 20:
                    break
        except BlockingIOError:
            pass
        except OSError:
            self._break()
            return
        buf = worker.inbuf
        while len(buf) >= 4:
            (size,) = struct.unpack_from("!i", buf)
            if len(buf) < 4 + size:
                break
            with memoryview(buf) as view:
                ok, value = pickle.loads(view[4:4 + size])
            del buf[:4 + size]
            future = worker.waiting.popleft()
            if not future.done():  # (else cancelled meanwhile)
                self.answers[future] = (ok, value)
        self._release()
        if self.queue:
            self._feed()

    def _release(self) -> None:
        """Resolve the answered futures at the head of ``order``."""
        order, answers = self.order, self.answers
        while order:
            first = order[0]
            if first.done():  # cancelled: nothing to deliver
                order.popleft()
                answers.pop(first, None)
                continue
            got = answers.pop(first, None)
            if got is None:
                return  # its answer is still to come
            order.popleft()
            ok, value = got
            if ok:
                first.set_result(value)
            else:
                first.set_exception(value)

    def _break(self) -> None:
        """A worker died: every page handed over and not yet delivered fails (the spider
        then reads pages itself)."""
        if self.broken:
            return
        self.broken = True
        self._detach()
        for future in self.order:  # every future not yet resolved
            if not future.done():
                future.set_exception(BrokenProcessPool("an extraction worker died"))
        self.order.clear()
        self.answers.clear()
        self.queue.clear()
        for worker in self.workers:
            worker.waiting.clear()

    def _detach(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            for worker in self.workers:
                self.loop.remove_reader(worker.rfd)
                if worker.writing:
                    self.loop.remove_writer(worker.wfd)
                    worker.writing = False

    def peaks(self, timeout: float = 5.0) -> list[int]:
        """Each idle worker's peak RSS in KB, asked for and waited for here (blocking: the
        pool is closing)."""
        self._detach()
        data = pickle.dumps(("peak", ()))
        peaks = []
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            if worker.out or worker.waiting:
                continue  # still busy: no figure (the crawl stopped with pages in flight)
            os.set_blocking(worker.wfd, True)
            os.write(worker.wfd, struct.pack("!i", len(data)) + data)
            buf = worker.inbuf
            while len(buf) < 4 or len(buf) < 4 + struct.unpack_from("!i", buf)[0]:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([worker.rfd], [], [], left)[0]:
                    raise TimeoutError("no answer from an extraction worker")
                chunk = os.read(worker.rfd, 1 << 20)
                if not chunk:
                    raise EOFError("an extraction worker is gone")
                buf += chunk
            (size,) = struct.unpack_from("!i", buf)
            ok, value = pickle.loads(bytes(buf[4:4 + size]))
            del buf[:4 + size]
            if ok:
                peaks.append(value[1])
        return peaks

    def shutdown(self, wait: bool = True) -> None:
        """Close the pipes (each worker ends after the task it is reading, if any) and,
        with ``wait``, join the processes (killed if they do not end within 10 s)."""
        self._detach()
        for future in self.order:
            future.cancel()
        self.order.clear()
        self.answers.clear()
        self.queue.clear()
        for worker in self.workers:
            for future in worker.waiting:
                future.cancel()
            worker.waiting.clear()
            worker.close()
        if not wait:
            for worker in self.workers:
                if worker.process.is_alive():
                    worker.process.kill()
        for worker in self.workers:
            worker.process.join(10 if wait else 5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


class Extractor:
    """``await extractor.extract(body, url, ctype, template)`` -> ``crawler.extract.Record``.

    With ``workers`` > 0 the record is read in a worker process; otherwise (or when a
    worker died) here, at once."""

    def __init__(self, profiles, workers: int = 0):  # noqa: ANN001
        self.profiles = profiles
        self.workers = max(0, int(workers))
        self.pool: _Pool | None = None
        self.worker_peak_kb: list[int] = []
        if self.workers:
            # Started now (imports included) rather than with the first page.
            self.pool = _Pool(self.workers)

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
            return await self.pool.submit("extract", body, url, ctype, template)
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
            return await self.pool.submit("scan", body, url, ctype, template, known,
                                          link_cap, element_cap)
        except BrokenProcessPool:
            logger.warning("the extraction workers died; extracting in the crawl process")
            self.close(wait=False)
            return None

    def close(self, wait: bool = True) -> None:
        """Stop the workers (waits for them to exit, so none is left behind)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        if wait and not pool.broken and os.path.exists("/proc/self/status"):
            # Their peak memory, for bench/crawl_bench.py.
            try:
                self.worker_peak_kb = pool.peaks()
            except Exception:  # noqa: BLE001 - a figure, never a reason to fail the close
                pass
        pool.shutdown(wait=wait)


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
