"""Every HTTP exchange of a crawl, as received, in WARC/1.1 files beside the archive.

``WarcCaptureMiddleware`` (a downloader middleware at 950, above HttpCompression at 590
and Redirect at 600, so it sees each answer before Scrapy decompresses or follows it)
hands each request and response to the crawl's :class:`WarcWriter`, which writes, with
warcio, to ``warc/SITE/`` beside the archive:

- a ``request`` record (method, path with its query string, the headers Scrapy sends, a
  POST's body with its ``Content-Type`` and ``Content-Length``), directly followed by
- a ``response`` record with ``WARC-Concurrent-To`` naming the request: the status code
  and protocol, every header value as received (each ``Set-Cookie``), the body as it came
  (still gzip- or br-encoded when the server encoded it; a chunked body de-chunked, as
  Twisted removes the chunking and its header; a ``Transfer-Encoding`` header that does
  reach us becomes ``X-Archive-Orig-Transfer-Encoding`` and ``Content-Length`` the
  body's), and ``WARC-Payload-Digest`` over that body;
- or a ``revisit`` record: ``identical-payload-digest`` when the URL answered the same
  bytes as its last capture, ``server-not-modified`` for a 304; both with
  ``WARC-Refers-To-Target-URI`` and ``WARC-Refers-To-Date`` of the capture that holds
  the payload (kept in the archive's ``warc_captures`` table).

Each run writes its own files (``vngov-CRAWLID-TIME-NNNNN.warc.gz``), one gzip member per
record, each record written with one ``write``; a file is rotated at ``WARC_MAX_SIZE``
and starts with a ``warcinfo`` record (software, version, settings, crawl id). While a
file is open a ``.open`` marker lies beside it; a run that finds a marker (the writer
was killed) cuts the file after its last whole record. ``sync`` flushes and fsyncs the
files and only then writes the capture rows, so a record the archive points to exists.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

logger = logging.getLogger(__name__)

SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
DEFAULT_MAX_SIZE = 1024 * 1024 * 1024  # 1 GiB, the customary WARC file size
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def software() -> str:
    try:
        own = version("vn-gov-news-archive")
    except PackageNotFoundError:
        own = "0"
    return f"vn-gov-news-archive/{own} (Scrapy {version('scrapy')}, warcio {version('warcio')})"


def payload_digest(body: bytes) -> str:
    """``sha1:BASE32`` as WARC-Payload-Digest spells it (warcio's form)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def warc_date(when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}Z"


@dataclass
class Location:
    """Where a record lies: a file (relative to the archive's folder), offset, length."""

    file: str
    offset: int
    length: int


class _File:
    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.marker = path.with_name(path.name + ".open")
        self.marker.touch()
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.synced = self.size

    def append(self, data: bytes) -> int:
        offset = self.size
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)
        return offset

    def sync(self) -> None:
        if self.synced < self.size:
            os.fsync(self.fd)
            self.synced = self.size

    def close(self) -> None:
        self.sync()
        os.close(self.fd)
        self.marker.unlink(missing_ok=True)


def repair(path: Path) -> int:
    """Cut a WARC file after its last whole exchange (a writer killed mid-record: a
    request record whose answer is torn goes too); returns the bytes removed."""
    good = 0
    try:
        with open(path, "rb") as fh:
            it = ArchiveIterator(fh)
            for record in it:
                record.content_stream().read()
                it.read_to_end(record)
                if record.rec_type != "request":
                    good = it.get_record_offset() + it.get_record_length()
    except Exception:  # noqa: BLE001 - a torn member ends the readable part
        pass
    size = path.stat().st_size
    if size > good:
        with open(path, "r+b") as fh:
            fh.truncate(good)
            os.fsync(fh.fileno())
    return size - good


def read_record(root: Path, file: str, offset: int, length: int):
    """The payload of the record at ``file``/``offset`` (decoded: no content encoding),
    with its URL and HTTP headers: ``(url, status_and_headers, body bytes)``."""
    with open(root / file, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    for record in ArchiveIterator(io.BytesIO(data)):
        body = record.content_stream().read()
        return record.rec_headers.get_header("WARC-Target-URI"), record.http_headers, body
    raise ValueError(f"no WARC record at {file}:{offset}")


class WarcWriter:
    """The WARC files of one crawl (see the module docstring). ``db`` is the archive's
    connection (``sqlite_utils.Database``) for the capture rows; ``crawl_id`` names the
    run in file names and warcinfo."""

    def __init__(self, root: Path, *, crawl_id: int | None, db=None, settings: dict | None = None,  # noqa: ANN001
                 max_size: int = DEFAULT_MAX_SIZE):
        self.root = Path(root)  # the archive's folder
        self.crawl_id = crawl_id or 0
        self.db = db
        self.settings = settings or {}
        self.max_size = max_size
        self.files: dict[str, _File] = {}
        self.serial: dict[str, int] = {}
        self.last: dict[str, tuple[str, str, Location]] = {}  # url -> (digest, date, loc)
        self.by_key: dict[str, Location] = {}  # frontier key of a request -> its payload
        self.pending: list[tuple] = []  # capture rows waiting for the fsync
        self.counts = {"response": 0, "revisit": 0, "request": 0, "bytes": 0}
        self._writer = WARCWriter(None, gzip=True, warc_version="1.1")
        self._stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        self._repaired: set[str] = set()

    # -- files
    def _file(self, site: str) -> _File:
        site = _SAFE.sub("_", site) or "unknown"
        current = self.files.get(site)
        if current is not None and current.size < self.max_size:
            return current
        if current is not None:
            current.close()
        folder = self.root / "warc" / site
        folder.mkdir(parents=True, exist_ok=True)
        if site not in self._repaired:
            self._repaired.add(site)
            for marker in folder.glob("*.warc.gz.open"):
                torn = marker.with_name(marker.name.removesuffix(".open"))
                if torn.exists():
                    cut = repair(torn)
                    if cut:
                        logger.warning("WARC file %s: cut %d bytes of a record torn by an "
                                       "interrupted run", torn, cut)
                marker.unlink(missing_ok=True)
        self.serial[site] = self.serial.get(site, 0) + 1
        name = f"vngov-{self.crawl_id:06d}-{self._stamp}-{self.serial[site]:05d}.warc.gz"
        path = folder / name
        handle = _File(path, f"warc/{site}/{name}")
        self.files[site] = handle
        info = {
            "software": software(), "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "isPartOf": f"vngov-crawl-{self.crawl_id}", "crawl-id": self.crawl_id,
            "site": site, "hostname": os.uname().nodename,
            "robots": "obey" if self.settings.get("ROBOTSTXT_OBEY", True) else "ignore",
            "http-header-user-agent": self.settings.get("USER_AGENT"),
            "settings": json.dumps(self.settings, ensure_ascii=False, sort_keys=True,
                                   default=str),
        }
        self._append(handle, [self._writer.create_warcinfo_record(name, info)])
        return handle

    def _append(self, handle: _File, records) -> list[Location]:  # noqa: ANN001
        out = io.BytesIO()
        spans = []
        for record in records:
            start = out.tell()
            self._writer._write_warc_record(out, record)
            spans.append((start, out.tell() - start))
        data = out.getvalue()
        base = handle.append(data)  # one write: a killed writer tears at most this
        self.counts["bytes"] += len(data)
        return [Location(handle.rel, base + s, n) for s, n in spans]

    # -- capture
    def previous(self, url: str) -> tuple[str, str, Location] | None:
        """The last capture of ``url`` holding a payload: (digest, WARC-Date, location)."""
        hit = self.last.get(url)
        if hit is None and self.db is not None:
            row = self.db.execute(
                "select payload_digest, warc_date, warc_file, warc_offset, warc_length "
                "from warc_captures where url = ?", [url]).fetchone()
            if row:
                hit = (row[0], row[1], Location(row[2], row[3], row[4]))
                self.last[url] = hit
        return hit

    def location(self, url: str) -> Location | None:
        """The record holding the payload of ``url``'s latest capture."""
        hit = self.previous(url)
        return hit[2] if hit else None

    def capture(self, site: str, *, method: str, url: str, request_headers: list,
                request_body: bytes, status: int, protocol: str | None,
                response_headers: list, body: bytes) -> Location:
        """Write one exchange; returns the location of the record holding its payload:
        its response record, or for a revisit the earlier capture it refers to."""
        handle = self._file(site)
        date = warc_date()
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proto = protocol if protocol and protocol.startswith("HTTP/") else "HTTP/1.1"
        req_headers = list(request_headers)
        names = {k.lower() for k, _ in req_headers}
        if "host" not in names:
            req_headers.insert(0, ("Host", parts.netloc))
        if request_body and "content-length" not in names:
            req_headers.append(("Content-Length", str(len(request_body))))
        req_http = StatusAndHeaders(f"{method} {target} {proto}", req_headers,
                                    is_http_request=True)
        request = self._writer.create_warc_record(
            url, "request", payload=io.BytesIO(request_body or b""),
            length=len(request_body or b""), http_headers=req_http,
            warc_headers_dict={"WARC-Date": date})
        request_id = request.rec_headers.get_header("WARC-Record-ID")
        resp_headers = []
        chunked = None
        for name, value in response_headers:
            if name.lower() == "transfer-encoding":
                chunked = value
                continue
            resp_headers.append((name, value))
        if chunked is not None:
            resp_headers = [(n, v) for n, v in resp_headers if n.lower() != "content-length"]
            resp_headers += [("X-Archive-Orig-Transfer-Encoding", chunked),
                             ("Content-Length", str(len(body)))]
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        http = StatusAndHeaders(f"{status} {phrase}".strip(), resp_headers, protocol=proto)
        digest = payload_digest(body)
        warc_headers = {"WARC-Date": date, "WARC-Concurrent-To": request_id}
        before = self.previous(url) if method == "GET" else None
        if status == 304 and before is not None:
            kind = "revisit"
            record = self._writer.create_warc_record(url, "revisit", http_headers=http,
                                                     warc_headers_dict=warc_headers)
            record.rec_headers.add_header("WARC-Profile", SERVER_NOT_MODIFIED)
            record.rec_headers.add_header("WARC-Refers-To-Target-URI", url)
            record.rec_headers.add_header("WARC-Refers-To-Date", before[1])
            record.rec_headers.add_header("WARC-Payload-Digest", before[0])
        elif before is not None and before[0] == digest and status != 304:
            kind = "revisit"
            record = self._writer.create_revisit_record(
                url, digest, url, before[1], http_headers=http, warc_headers_dict=warc_headers)
        else:
            kind = "response"
            record = self._writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=http, warc_headers_dict=warc_headers)
        _, where = self._append(handle, [request, record])
        self.counts["request"] += 1
        self.counts[kind] += 1
        if kind == "response" and method == "GET" and status != 304:
            self.last[url] = (digest, date, where)
            self.pending.append((url, digest, date, where.file, where.offset, where.length,
                                 status, self.crawl_id))
        return before[2] if kind == "revisit" else where

    def sync(self) -> None:
        """fsync what is written, then record the captures (in the caller's transaction,
        if one is open on ``db``)."""
        for handle in self.files.values():
            handle.sync()
        if self.pending and self.db is not None:
            rows, self.pending = self.pending, []
            self.db.conn.executemany(
                "insert into warc_captures (url, payload_digest, warc_date, warc_file, "
                "warc_offset, warc_length, status, crawl_id) values (?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict(url) do update set payload_digest = excluded.payload_digest, "
                "warc_date = excluded.warc_date, warc_file = excluded.warc_file, "
                "warc_offset = excluded.warc_offset, warc_length = excluded.warc_length, "
                "status = excluded.status, crawl_id = excluded.crawl_id", rows)

    def close(self) -> None:
        if self.db is not None:
            with self.db.atomic():
                self.sync()
        for handle in self.files.values():
            handle.close()
        self.files = {}


def files_of(root: Path) -> list[Path]:
    """Every WARC file under ``root``/warc."""
    return sorted((Path(root) / "warc").glob("*/*.warc.gz"))


def warc_writer(crawler) -> WarcWriter:  # noqa: ANN001
    """The crawl's writer, made on first use (after the archive pipeline opened the crawl
    row: its id names the files)."""
    writer = getattr(crawler, "_warc_writer", None)
    if writer is None:
        from .frontier import CrawlState
        from .runner import archive_path

        state = CrawlState.of(crawler)
        settings = crawler.settings
        recorded = {k: settings.get(k) for k in (
            "USER_AGENT", "ROBOTSTXT_OBEY", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY",
            "AUTOTHROTTLE_ENABLED", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "SITE_PAGE_CAP",
            "LINK_HOP_LIMIT", "CRAWL_FULL", "MEDIA_ENABLED", "MEDIA_MAX_BYTES", "WARC_MAX_SIZE")}
        writer = crawler._warc_writer = WarcWriter(
            archive_path(settings).parent, crawl_id=state.crawl_id,
            db=state.archive.db if state.archive is not None else None, settings=recorded,
            max_size=settings.getint("WARC_MAX_SIZE", DEFAULT_MAX_SIZE))
    return writer


def close_writer(crawler) -> None:  # noqa: ANN001
    writer = getattr(crawler, "_warc_writer", None)
    if writer is not None:
        writer.close()
        crawler._warc_writer = None
        crawler.stats.set_value("warc/records", writer.counts["response"] + writer.counts["revisit"])
        crawler.stats.set_value("warc/revisits", writer.counts["revisit"])
        crawler.stats.set_value("warc/bytes", writer.counts["bytes"])


def sync_crawl(crawler) -> None:  # noqa: ANN001
    """fsync the crawl's WARC files (before an archive row pointing into them commits)."""
    writer = getattr(crawler, "_warc_writer", None)
    if writer is not None:
        writer.sync()


def location_of(crawler, keys=(), urls=()) -> Location | None:  # noqa: ANN001
    """Where the payload of an answer lies: by the frontier keys of its request (the
    spider's claim; a redirected request keeps it, so the last answer wins), else by URL."""
    writer = getattr(crawler, "_warc_writer", None)
    if writer is None:
        return None
    for key in reversed(list(keys)):
        if key in writer.by_key:
            return writer.by_key[key]
    for url in urls:
        if url and writer.location(url) is not None:
            return writer.location(url)
    return None


# --------------------------------------------------------------------------- back to the source


def reread(root: Path, file: str, offset: int, length: int, *, template=None):  # noqa: ANN001, ANN201
    """The record the current extractor makes of the page stored at that WARC record
    (``crawler.extract.extract_record`` with the site's template): ``(url, record dict)``."""
    from .extract import extract_record

    url, http, body = read_record(root, file, offset, length)
    ctype = http.get_header("Content-Type") if http is not None else None
    return url, extract_record(body, url, content_type=ctype, template=template).as_dict()


def reextract(archive, *, site: str | None = None) -> dict:  # noqa: ANN001
    """Every article's newest version that points at a WARC record, extracted again from
    those bytes; a new version where the record differs. Returns the counts (``read``,
    ``changed``, ``unchanged``, ``unreadable``, ``crawl_id``)."""
    from .canonical import BadURL, host_of, url_key
    from .records import content_hash, normalize_content
    from .store import InvalidRecord

    root = archive.path.parent
    where, params = "", []
    if site:
        where = "and (a.site = ? or a.site in (select host from sites where key = ?))"
        params = [site, site]
    rows = archive.db.execute(
        "select a.id, a.site, a.url, a.key, a.content_hash, v.warc_file, v.warc_offset, "
        "v.warc_length, v.fetched_at from articles a join article_versions v on v.article_id = a.id "
        "and v.version = (select max(version) from article_versions w where "
        f"w.article_id = a.id and w.warc_file is not null) where 1 {where} order by a.id",
        params).fetchall()
    sites = sorted({row[1] for row in rows}) or ([site] if site else [])
    crawl_id = archive.start_crawl(sites, {"command": "reextract", "site": site})
    counts = {"read": 0, "changed": 0, "unchanged": 0, "unreadable": 0, "crawl_id": crawl_id}
    templates: dict = {}
    for _id, host, article_url, key, old_hash, file, offset, length, fetched_at in rows:
        if host not in templates:
            templates[host] = archive.load_template(host)
        try:
            url, record = reread(root, file, offset, length, template=templates[host])
            new_hash = content_hash(normalize_content(record))
        except Exception as exc:  # noqa: BLE001 - one unreadable record: a row, go on
            archive.record_error(crawl_id, f"{file}:{offset}", f"reextract: {type(exc).__name__}: "
                                 f"{exc}")
            counts["unreadable"] += 1
            continue
        counts["read"] += 1
        if new_hash == old_hash or not (record.get("title") or record.get("body")):
            counts["unchanged"] += 1
            continue
        if host_of(url) != host:
            archive.record_error(crawl_id, url, f"reextract: the record at {file}:{offset} "
                                 f"is of another site than article {article_url}")
            counts["unreadable"] += 1
            continue
        # The article keeps its identity (the URL the crawl archived it under: the page's
        # canonical link), whatever URL answered.
        record["url"] = article_url
        try:
            same = url_key(article_url, record.get("family") or None) == key
        except BadURL:
            same = False
        if not same:
            archive.record_error(crawl_id, article_url, "reextract: the new record (family "
                                 f"{record.get('family')}) keys to another article; left as it was")
            counts["unreadable"] += 1
            continue
        try:
            outcome = archive.save_article(record, crawl_id=crawl_id, fetched_at=fetched_at,
                                           warc=(file, offset, length))
        except InvalidRecord:
            counts["unreadable"] += 1
            continue
        counts["changed" if outcome == "changed" else "unchanged"] += 1
    archive.finish_crawl(crawl_id, "finished")
    return counts
