"""Archival fidelity, end to end: the real spider through Scrapy in a subprocess against the
demo portal on 127.0.0.1 writes WARC files that the standard tools read (warcio check,
cdxj-indexer, pywb replay), article versions that point at their records and re-extract
to what is stored, revisit records for unchanged answers, and the images and documents
themselves under files/."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo import DemoPortal
from crawler.records import content_hash, normalize_content
from crawler.store import Archive
from crawler.warc import (
    SERVER_NOT_MODIFIED,
    WarcWriter,
    files_of,
    read_record,
    reread,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s",
        "PROGRESS_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=1"]
IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


def article_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path.lower(), parse_qs(parts.query).get("ItemID", [""])[0]


def crawl(portal: DemoPortal, db: Path, *extra: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                          portal.start_url, "--db", str(db), *FAST, *extra],
                         capture_output=True, text=True, timeout=300, cwd=db.parent)
    assert out.returncode in (0, 1), out.stdout[-2000:] + out.stderr[-3000:]  # 1: partial
    return out


def rows(db: Path, sql: str, *params) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def records(path: Path) -> list:
    """Every record of a WARC file: (type, WARC headers, HTTP headers, payload, offset)."""
    out = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            body = rec.content_stream().read()
            out.append((rec.rec_type, rec.rec_headers, rec.http_headers, body,
                        it.get_record_offset()))
    return out


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Three crawls of one portal: the first; a --full one answered 304 (validators); a
    --full one answered 200 with the same bytes (the server ignores validators)."""
    folder = tmp_path_factory.mktemp("warc")
    db = folder / "archive.db"
    runs = []
    with DemoPortal(n_articles=80, seed=4, slow_delay=0.2) as portal:
        for extra, validators in (((), True), (("--full",), True), (("--full",), False)):
            portal.validators = validators
            before = set(files_of(folder))
            crawl(portal, db, *extra)
            runs.append(sorted(set(files_of(folder)) - before))
        yield portal, db, folder, runs


def test_every_file_passes_warcio_check(crawled):
    _, _, folder, runs = crawled
    files = files_of(folder)
    assert len(files) == 3 and [len(r) for r in runs] == [1, 1, 1]
    out = subprocess.run([str(BIN / "warcio"), "check", "-v", *map(str, files)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "digest pass" in out.stdout
    assert not list(folder.glob("warc/*/*.open"))  # every file closed properly


def test_each_exchange_is_kept_as_received(crawled):
    portal, _, _, runs = crawled
    recs = records(runs[0][0])
    assert recs[0][0] == "warcinfo"
    info = recs[0][3].decode()
    assert "software: vn-gov-news-archive/" in info and "crawl-id: 1" in info
    assert "settings: {" in info
    kinds = Counter()
    posts = 0
    for i, (kind, warc, http, body, _) in enumerate(recs[1:], 1):
        if kind != "request":
            continue
        # A request record is directly followed by its answer, which names it.
        nkind, nwarc, nhttp, nbody, _ = recs[i + 1]
        assert nkind in ("response", "revisit")
        assert nwarc.get_header("WARC-Concurrent-To") == warc.get_header("WARC-Record-ID")
        assert nwarc.get_header("WARC-Target-URI") == warc.get_header("WARC-Target-URI")
        url = warc.get_header("WARC-Target-URI")
        parts = urlsplit(url)
        method, target, proto = f"{http.protocol} {http.statusline}".split(" ")
        assert target == parts.path + (f"?{parts.query}" if parts.query else "")
        assert proto == "HTTP/1.1" and http.get_header("Host") == parts.netloc
        assert http.get_header("User-Agent", "").startswith("vngovnews-archiver/")
        if method == "POST":
            posts += 1
            assert b"__EVENTTARGET=" in body and b"__VIEWSTATE=" in body
            assert http.get_header("Content-Type") == "application/x-www-form-urlencoded"
            assert http.get_header("Content-Length") == str(len(body))
        if nkind == "response":
            assert nhttp.protocol == "HTTP/1.1"
            assert nwarc.get_header("WARC-Payload-Digest")
            length = nhttp.get_header("Content-Length")
            if length is not None:
                assert int(length) == len(nbody)
        path = parts.path.lower()
        for name, test in (("robots", path == "/robots.txt"), ("sitemap", "sitemap" in path),
                           ("feed", "listfeed" in path), ("image", path.endswith(".jpg")),
                           ("document", path.endswith((".pdf", ".docx"))),
                           ("article", "chi-tiet-tin-tuc" in path), ("post", method == "POST")):
            kinds[name] += bool(test)
    assert posts >= 1
    assert all(kinds[k] for k in ("robots", "sitemap", "feed", "image", "document", "article"))
    # Every status as the server gave it: the broken pages' 500s and the 404 too.
    statuses = {r[2].get_statuscode() for r in recs if r[0] == "response"}
    assert {"200", "404", "500"} <= statuses


def test_cdxj_indexer_finds_every_article_and_the_postback_listings(crawled):
    portal, db, folder, runs = crawled
    out = subprocess.run([str(BIN / "cdxj-indexer"), "--post-append", *map(str, runs[0])],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    import json

    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    post_keys = [line.split(" ", 1)[0] for line, e in zip(lines, entries, strict=True)
                 if e.get("method") == "POST"]
    # Each postback page has a key of its own (the demo's __VIEWSTATE keeps the key under
    # cdxj-indexer's 4,096-character cut; docs/SCHEMA.md says what a longer one means).
    assert len(set(post_keys)) == len(post_keys)
    ok = {article_key(e["url"]) for e in entries if e.get("status") == "200"}
    truth = {article_key(a["url"]) for a in portal.articles}
    assert truth <= ok
    posts = [e for e in entries if e.get("method") == "POST"]
    assert posts and all("__EVENTTARGET" in e.get("requestBody", "") for e in posts)
    assert all("tin-tuc.aspx" in e["url"] for e in posts)


@pytest.fixture(scope="module")
def wayback(crawled, tmp_path_factory):
    """pywb on 127.0.0.1 over a collection of the three crawls' WARC files."""
    found = os.environ.get("PYWB_BIN") or str(ROOT / ".venv-pywb" / "bin")
    wb_manager, wayback_bin = Path(found) / "wb-manager", Path(found) / "wayback"
    if not wayback_bin.exists():
        pytest.skip(f"pywb not installed at {found} (make test installs it in .venv-pywb)")
    _, _, _, runs = crawled
    home = tmp_path_factory.mktemp("pywb")
    subprocess.run([str(wb_manager), "init", "demo"], cwd=home, check=True, timeout=60,
                   capture_output=True)
    subprocess.run([str(wb_manager), "add", "demo", *(str(f) for r in runs for f in r)], cwd=home,
                   check=True, timeout=120, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(wayback_bin), "-p", str(port), "-b", "127.0.0.1"], cwd=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("wayback exited: " + proc.stderr.read().decode()[-2000:])
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_pywb_replays_an_article_and_a_postback_listing(crawled, wayback):
    portal, db, folder, runs = crawled
    recs = records(runs[0][0])
    article = next(r for r in recs if r[0] == "response"
                   and "chi-tiet-tin-tuc" in r[1].get_header("WARC-Target-URI")
                   and r[2].get_statuscode() == "200")
    url = article[1].get_header("WARC-Target-URI")
    stamp = "".join(c for c in article[1].get_header("WARC-Date") if c.isdigit())[:14]
    with urllib.request.urlopen(f"{wayback}/demo/{stamp}id_/{url}", timeout=30) as resp:
        assert resp.status == 200
        assert resp.read() == article[3]  # the page byte for byte, as archived
    i, post = next((i, r) for i, r in enumerate(recs)
                   if r[0] == "request" and r[2].protocol == "POST")
    answer = recs[i + 1]
    listing = post[1].get_header("WARC-Target-URI")
    request = urllib.request.Request(
        f"{wayback}/demo/{stamp}id_/{listing}", data=post[3], method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200
        assert resp.read() == answer[3]  # this postback's page, not the listing's first


def test_every_version_resolves_to_its_record_and_reextracts_to_it(crawled):
    _, db, folder, _ = crawled
    versions = rows(db, "select v.*, a.site from article_versions v "
                        "join articles a on a.id = v.article_id")
    assert len(versions) >= 80
    with Archive(db) as archive:
        for v in versions:
            assert v["warc_file"] and v["warc_length"] > 0
            url, _, body = read_record(folder, v["warc_file"], v["warc_offset"],
                                       v["warc_length"])
            assert article_key(url) == article_key(v["fetched_url"]) and body
            _, record = reread(folder, v["warc_file"], v["warc_offset"], v["warc_length"],
                               template=archive.load_template(v["site"]))
            assert content_hash(normalize_content(record)) == v["content_hash"]
    out = subprocess.run([sys.executable, "-m", "crawler", "reextract", "--db", str(db)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{len(versions)} pages read again from WARC, 0 changed" in out.stdout
    assert len(rows(db, "select id from article_versions")) == len(versions)


def test_reextract_writes_a_version_where_the_extraction_differs(crawled, tmp_path):
    _, db, folder, _ = crawled
    # A copy of the archive whose stored record of one article is not what its bytes
    # give (as after an extractor fix): reextract restores it as a new version.
    copy = tmp_path / "archive.db"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    shutil.copytree(folder / "warc", tmp_path / "warc")
    (target,) = rows(copy, "select id, title, content_hash from articles order by id limit 1")
    with sqlite3.connect(copy) as conn:
        conn.execute("update articles set content_hash = 'stale', title = 'Stale' "
                     "where id = ?", [target["id"]])
    out = subprocess.run([sys.executable, "-m", "crawler", "reextract", "--db", str(copy)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert ", 1 changed" in out.stdout
    (after,) = rows(copy, "select title, content_hash, version from articles where id = ?",
                    target["id"])
    assert after["title"] == target["title"] and after["content_hash"] == target["content_hash"]
    newest = rows(copy, "select warc_file, warc_offset from article_versions where "
                        "article_id = ? order by version", target["id"])
    assert len(newest) == 2 and tuple(newest[0]) == tuple(newest[1])


def test_unchanged_crawls_write_revisits_not_payloads(crawled):
    portal, db, folder, runs = crawled
    first = {r[1].get_header("WARC-Target-URI"): r for r in records(runs[0][0])
             if r[0] == "response" and r[2].protocol != "POST"}
    for run, profile in ((runs[1][0], SERVER_NOT_MODIFIED), (runs[2][0], IDENTICAL)):
        recs = records(run)
        pages = [r for r in recs if r[0] in ("response", "revisit")
                 and "chi-tiet-tin-tuc" in r[1].get_header("WARC-Target-URI")
                 and r[2].get_statuscode() in ("200", "304")]
        assert len(pages) >= 80
        for kind, warc, _http, body, _ in pages:
            url = warc.get_header("WARC-Target-URI")
            assert kind == "revisit" and body == b"", url
            assert warc.get_header("WARC-Profile") == profile
            assert warc.get_header("WARC-Refers-To-Target-URI") == url
            original = first[url][1]
            assert warc.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
            assert warc.get_header("WARC-Payload-Digest") == \
                original.get_header("WARC-Payload-Digest")
        # Each kind of unchanged answer is small: the third run is a fraction of the first.
        assert run.stat().st_size < runs[0][0].stat().st_size / 3
    # Versions keep pointing at the payload records of the first run.
    assert {v["warc_file"] for v in rows(db, "select warc_file from article_versions")} == \
        {str(runs[0][0].relative_to(folder))}


def test_images_and_attachments_on_disk_with_matching_hashes(crawled):
    portal, db, folder, runs = crawled
    media = {r["url"]: r for r in rows(db, "select * from media")}
    assert media and {r["state"] for r in media.values()} == {"stored"}
    warc_payloads = {}
    for (run,) in runs:
        for kind, warc, _http, body, _ in records(run):
            if kind == "response":
                warc_payloads[warc.get_header("WARC-Target-URI")] = body
    for table, column in (("images", "src"), ("attachments", "url")):
        linked = rows(db, f"select * from {table}")
        assert linked
        for row in linked:
            assert row["local_path"], row[column]
            data = (folder / row["local_path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row["sha256"]
            assert len(data) == row["size"] and row["local_path"].startswith(
                f"files/{row['sha256'][:2]}/")
            assert warc_payloads[row[column]] == data  # in the WARC too
            assert row["type"] in ("image/jpeg", "application/pdf", "application/vnd."
                                   "openxmlformats-officedocument.wordprocessingml.document")
    # One copy per content, however many articles use it.
    stored = list(folder.glob("files/*/*/*"))
    assert len(stored) == len({r["sha256"] for r in media.values()})
    # Media requests went to the portal once each, never twice over the three crawls.
    counts = Counter(p for m, p, s in portal.requests if p.endswith((".jpg", ".pdf", ".docx")))
    assert counts and max(counts.values()) == 1
    # They share the site's two slots with the pages: never more in flight.
    assert 1 <= portal.max_in_flight <= 2


def test_no_media_skips_downloads_but_keeps_warc(tmp_path):
    db = tmp_path / "archive.db"
    with DemoPortal(n_articles=20, seed=6, slow_delay=0.1) as portal:
        crawl(portal, db, "--no-media")
        paths = [p for m, p, s in portal.requests]
    assert not any(p.endswith((".jpg", ".pdf", ".docx")) for p in paths)
    assert not (tmp_path / "files").exists()
    assert rows(db, "select count(*) from media")[0][0] == 0
    assert rows(db, "select count(local_path) from images")[0][0] == 0
    assert rows(db, "select count(*) from images")[0][0] > 0
    assert len(files_of(tmp_path)) == 1


def test_kill_9_leaves_readable_warcs_and_resume_fetches_the_rest(tmp_path):
    db = tmp_path / "archive.db"
    with DemoPortal(n_articles=60, seed=8, slow_delay=0.1, delay=0.05) as portal:
        proc = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--start-url",
                                 portal.start_url, "--db", str(db), *FAST], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    if rows(db, "select count(*) from article_versions")[0][0] >= 10:
                        break
                except sqlite3.OperationalError:
                    continue
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        killed = files_of(tmp_path)
        assert len(killed) == 1 and list(tmp_path.glob("warc/*/*.open"))
        check = [str(Path(sys.executable).parent / "warcio"), "check", *map(str, killed)]
        out = subprocess.run(check, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout[-2000:]
        for v in rows(db, "select warc_file, warc_offset, warc_length from article_versions"):
            assert read_record(tmp_path, *v)[2]
        crawl(portal, db)  # resumes the killed run
        truth = {article_key(a["url"]) for a in portal.articles}
    assert {article_key(r["url"]) for r in rows(db, "select url from articles")} == truth
    files = files_of(tmp_path)
    assert len(files) == 2 and not list(tmp_path.glob("warc/*/*.open"))
    out = subprocess.run(check[:2] + list(map(str, files)), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout[-2000:]
    assert rows(db, "select count(*) from images where local_path is null")[0][0] == 0


# --------------------------------------------------------------------------- the writer


def test_writer_keeps_repeated_headers_post_bodies_and_encoded_bytes(tmp_path):
    import gzip

    page = "<html><body>Tin tức</body></html>".encode()
    raw = gzip.compress(page)
    writer = WarcWriter(tmp_path, crawl_id=7, settings={"USER_AGENT": "t"})
    where = writer.capture(
        "site", method="POST", url="http://x.gov.vn/a.aspx?l=Tin&Page=2",
        request_headers=[("Content-Type", "application/x-www-form-urlencoded")],
        request_body=b"__EVENTTARGET=p&__VIEWSTATE=abc", status=200, protocol="HTTP/1.1",
        response_headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                          ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
        body=raw)
    writer.close()
    (path,) = files_of(tmp_path)
    recs = records(path)
    assert [r[0] for r in recs] == ["warcinfo", "request", "response"]
    _, warc, http, body, _ = recs[1]
    assert f"{http.protocol} {http.statusline}" == "POST /a.aspx?l=Tin&Page=2 HTTP/1.1"
    assert body == b"__EVENTTARGET=p&__VIEWSTATE=abc"
    assert http.get_header("Content-Length") == str(len(body))
    _, warc, http, body, offset = recs[2]
    assert [v for k, v in http.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert http.get_header("Content-Encoding") == "gzip"
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert http.get_header("Content-Length") == str(len(raw))
    assert body == page  # readers decode the stored gzip bytes
    assert offset == where.offset
    with open(path, "rb") as fh:  # the stored payload is the bytes as received
        fh.seek(where.offset)
        stored = fh.read(where.length)
    rec = next(iter(ArchiveIterator(io.BytesIO(stored))))
    assert rec.raw_stream.read() == raw
    digest = warc.get_header("WARC-Payload-Digest")
    import base64

    assert digest == "sha1:" + base64.b32encode(hashlib.sha1(raw).digest()).decode()


def test_sqlite_utils_lists_and_applies_the_migrations(tmp_path):
    db = tmp_path / "a.db"
    tool = str(BIN / "sqlite-utils")
    listed = subprocess.run([tool, "migrate", str(db), str(ROOT / "crawler" / "migrations.py"),
                             "--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "001_initial" in listed.stdout and "007_warc_media" in listed.stdout
    applied = subprocess.run([tool, "migrate", str(db), str(ROOT / "crawler" / "migrations.py")],
                             capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stderr
    with Archive(db) as archive:
        assert archive.migrate() == []  # nothing left: the same migrations
        assert archive.schema_version == 8
        assert "warc_file" in archive.db["article_versions"].columns_dict
        assert {"sha256", "size", "type", "local_path"} <= set(archive.db["images"].columns_dict)


def test_capture_is_made_before_scrapy_decompresses(tmp_path):
    """A server answering gzip-encoded, chunked, with two Set-Cookie headers: the WARC
    holds the gzip bytes as sent (de-chunked) and both cookies."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = ("<html><head><title>Trang chủ</title></head><body><h1>Sở Demo</h1>"
            "<p>Tin tức</p></body></html>").encode()
    packed = gzip.compress(page)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            if self.path != "/":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Set-Cookie", "ASP.NET_SessionId=abc; path=/")
            self.send_header("Set-Cookie", "lang=vi; path=/")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(packed), 40):
                chunk = packed[i:i + 40]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        db = tmp_path / "archive.db"
        out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                              f"http://127.0.0.1:{server.server_address[1]}/", "--db",
                              str(db), *FAST], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
        assert out.returncode in (0, 1, 3), out.stderr[-3000:]
    finally:
        server.shutdown()
    (path,) = files_of(tmp_path)
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            if rec.rec_type == "response" and rec.rec_headers.get_header(
                    "WARC-Target-URI").endswith(f":{server.server_address[1]}/"):
                http = rec.http_headers
                raw = rec.raw_stream.read()
                break
        else:
            pytest.fail("no response record for the page")
    assert raw == packed  # the bytes as sent, not Scrapy's decompressed body
    assert http.get_header("Content-Encoding") == "gzip"
    assert [v for k, v in http.headers if k.lower() == "set-cookie"] == [
        "ASP.NET_SessionId=abc; path=/", "lang=vi; path=/"]
    # Twisted de-chunks the body and drops Transfer-Encoding: no header claims a length
    # or an encoding the stored bytes do not have (the record's length bounds them).
    assert http.get_header("Content-Length") is None
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_statuscode() == "200"
    check = subprocess.run([str(BIN / "warcio"), "check", str(path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout


def test_a_torn_last_record_is_cut_by_the_next_run(tmp_path):
    def exchange(writer, n):
        return writer.capture("site", method="GET", url=f"http://x.gov.vn/{n}",
                              request_headers=[], request_body=b"", status=200,
                              protocol="HTTP/1.1", response_headers=[("Content-Type",
                                                                      "text/html")],
                              body=b"<p>%d</p>" % n)

    first = WarcWriter(tmp_path, crawl_id=1)
    kept = exchange(first, 1)
    torn = exchange(first, 2)
    for handle in first.files.values():  # killed: never closed, marker left
        handle.sync()
    (path,) = files_of(tmp_path)
    with open(path, "r+b") as fh:  # the last record half written
        fh.truncate(torn.offset + torn.length // 2)
    assert path.with_name(path.name + ".open").exists()
    second = WarcWriter(tmp_path, crawl_id=2)
    exchange(second, 3)
    second.close()
    assert path.stat().st_size == kept.offset + kept.length
    assert not list(tmp_path.glob("warc/*/*.open"))
    out = subprocess.run([str(BIN / "warcio"), "check", *map(str, files_of(tmp_path))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout
    assert read_record(tmp_path, kept.file, kept.offset, kept.length)[2] == b"<p>1</p>"


def test_pywb_resolves_the_revisits_of_unchanged_crawls(crawled, wayback):
    _, _, _, runs = crawled
    first = {r[1].get_header("WARC-Target-URI"): r for r in records(runs[0][0])
             if r[0] == "response"}

    def revisit_of(run):  # noqa: ANN001, ANN202
        rec = next(r for r in records(run) if r[0] == "revisit"
                   and "chi-tiet-tin-tuc" in r[1].get_header("WARC-Target-URI"))
        stamp = "".join(c for c in rec[1].get_header("WARC-Date") if c.isdigit())[:14]
        return rec[1].get_header("WARC-Target-URI"), stamp

    # Same bytes again: replayed at the revisit's time with the original's payload.
    url, stamp = revisit_of(runs[2][0])
    with urllib.request.urlopen(f"{wayback}/demo/{stamp}id_/{url}", timeout=30) as resp:
        assert resp.status == 200
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(resp.headers["Memento-Datetime"])
        assert when.strftime("%Y%m%d%H%M%S") == stamp  # the revisit's capture, not the first
        assert resp.read() == first[url][3]
    # A 304: pywb replays the server's answer as archived (304, no body).
    url, stamp = revisit_of(runs[1][0])
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{wayback}/demo/{stamp}id_/{url}", timeout=30)
    assert answer.value.code == 304
