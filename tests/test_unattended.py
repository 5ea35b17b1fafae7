"""Crawls run unattended (cron, systemd, scrapyd): input mistakes refused in one line before
anything starts, per-site locks, exit codes, the crawl lifecycle in `crawls`, `status`,
logs. The real CLI in subprocesses against the demo portal on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.demo import DemoPortal
from crawler.lifecycle import LockHeld, SiteLocks
from crawler.runner import _prune_logs, archive_path, without_sites
from crawler.sites import load_sites
from crawler.status import site_statuses
from crawler.store import Archive

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "PROGRESS_ENABLED=False"]


def cli(*args, cwd=None, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize("args, says", [
    (["--start-url", "example.gov.vn"], "start URL 'example.gov.vn' needs http:// or https://"),
    (["--start-url", "https://x.gov.vn/", "--family", "sharepoint"],
     "unknown family 'sharepoint'; known: auto, publishingportal"),
    (["--start-url", "https://x.gov.vn/", "-s", "SITE_PAGE_CAP=abc"],
     "setting SITE_PAGE_CAP='abc': expected an integer"),
    (["--start-url", "https://x.gov.vn/", "-s", "DOWNLOAD_DELAY=fast"],
     "setting DOWNLOAD_DELAY='fast': expected a number"),
    (["--start-url", "https://x.gov.vn/", "-s", "ROBOTSTXT_OBEY=perhaps"],
     "setting ROBOTSTXT_OBEY='perhaps': expected a boolean"),
    (["--start-url", "https://x.gov.vn/", "-s", "DOWNLOAD_DELAY"], "-s expects NAME=VALUE"),
    (["no-such-site"], "unknown site(s) no-such-site"),
    (["backan-sgddt", "--all"], "give site names, --all or --start-url, not site names and --all"),
    (["backan-sgddt", "--family", "liferay"], "--family applies to --start-url"),
    (["--start-url", "https://x.gov.vn/", "--log-level", "chatty"], "log level 'chatty'"),
])
def test_input_mistakes_are_one_line_before_anything_starts(tmp_path, args, says):
    db = tmp_path / "a" / "archive.db"
    out = cli("crawl", *args, "--db", str(db), cwd=tmp_path)
    assert out.returncode == 2
    assert says in one_line(out.stderr)
    assert out.stdout == ""  # no empty "crawl ?: ?" table
    assert not db.parent.exists()  # nothing written


def _read_only(path: Path) -> None:
    """Make a file or folder unwritable, even for root (immutable attribute)."""
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"chattr +i does not work here: {done.stderr.decode().strip()}")


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


def test_read_only_archive_file_and_folder_refused_in_one_line(tmp_path):
    ro_file = tmp_path / "file" / "archive.db"
    Archive(ro_file).close()
    ro_folder = tmp_path / "folder"
    ro_folder.mkdir()
    _read_only(ro_file)
    _read_only(ro_folder)
    try:
        out = cli("crawl", "--start-url", "https://x.gov.vn/", "--db", str(ro_file))
        assert out.returncode == 2
        assert one_line(out.stderr) == f"crawler crawl: archive {ro_file} is read-only: cannot write to it"
        out = cli("crawl", "--start-url", "https://x.gov.vn/", "--db",
                  str(ro_folder / "archive.db"))
        assert out.returncode == 2
        assert f"cannot write in folder {ro_folder}" in one_line(out.stderr)
        assert list(ro_folder.iterdir()) == []
        assert not (ro_file.parent / "locks").exists()
    finally:
        _writable(ro_file)
        _writable(ro_folder)


def test_archive_path_is_resolved_in_one_place(tmp_path):
    assert archive_path(None) == ROOT / "data" / "archive.db"
    assert archive_path("x/a.db") == ROOT / "x" / "a.db"  # ARCHIVE_DB: from the project
    assert archive_path("x/a.db", base=tmp_path) == tmp_path / "x" / "a.db"  # --db: from cwd
    assert archive_path("~/a.db") == Path.home() / "a.db"

    class FakeSettings(dict):
        getdict = dict.get

    assert archive_path(FakeSettings(ARCHIVE_DB=str(tmp_path / "b.db"))) == tmp_path / "b.db"


# --------------------------------------------------------------------------- locks


def test_site_locks_exclusive_per_site_and_released(tmp_path):
    first = SiteLocks(tmp_path, ["a.gov.vn", "b.gov.vn"]).acquire()
    holder = json.loads((tmp_path / "locks" / "a.gov.vn.lock").read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    with pytest.raises(LockHeld) as err:
        SiteLocks(tmp_path, ["c.gov.vn", "b.gov.vn"]).acquire()
    assert f"site b.gov.vn is already being crawled by pid {os.getpid()} since" in str(err.value)
    # All or nothing: c was not left locked by the refused attempt.
    with SiteLocks(tmp_path, ["c.gov.vn"]):
        pass
    first.release()
    assert (tmp_path / "locks" / "a.gov.vn.lock").read_text() == ""
    with SiteLocks(tmp_path, ["a.gov.vn", "b.gov.vn"]) as again:
        assert again.taken_over == []  # released cleanly: nothing to take over


def test_a_multi_site_crawl_leaves_out_the_sites_another_crawl_holds(tmp_path):
    other = SiteLocks(tmp_path, ["b.gov.vn"]).acquire()
    try:
        mine = SiteLocks(tmp_path, ["a.gov.vn", "b.gov.vn", "c.gov.vn"]).acquire(skip_held=True)
        assert sorted(mine.held) == ["a.gov.vn", "c.gov.vn"]
        assert [h.key for h in mine.skipped] == ["b.gov.vn"]
        mine.release()
        with pytest.raises(LockHeld):  # every site held: nothing to crawl
            SiteLocks(tmp_path, ["b.gov.vn"]).acquire(skip_held=True)
    finally:
        other.release()
    # The spider's arguments without the held sites (--all becomes the others by name).
    registry = list(load_sites())
    kwargs = without_sites({"all": "1", "full": "1"}, {registry[0]})
    assert kwargs == {"sites": ",".join(registry[1:]), "full": "1"}
    assert without_sites({"start_url": "https://x.gov.vn/", "family": "auto"},
                         {"x.gov.vn"}) == {}


def test_plain_scrapy_crawl_takes_the_lock_too(tmp_path):
    db = tmp_path / "archive.db"
    with DemoPortal(n_articles=20, seed=13) as portal:
        host = portal.start_url.split("//")[1].strip("/")
        with SiteLocks(tmp_path, [host]):
            out = subprocess.run(
                [sys.executable, "-m", "scrapy", "crawl", "portal", "-a",
                 f"start_url={portal.start_url}", "-s", f"ARCHIVE_DB={db}", *FAST],
                cwd=ROOT, capture_output=True, text=True, timeout=120)
        sent = list(portal.requests)
    assert out.returncode == 4, out.stderr[-2000:]
    assert f"crawler: site {host} is already being crawled by pid {os.getpid()}" in out.stderr
    assert "Traceback" not in out.stderr
    assert sent == [] and not db.exists()


def test_dead_running_crawls_marked_interrupted(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        gone = archive.start_crawl(["a"], {}, pid=dead.pid)
        alive = archive.start_crawl(["b"], {}, pid=os.getppid())
        locked = archive.start_crawl(["c"], {}, pid=os.getppid())
        elsewhere = archive.start_crawl(["d"], {}, pid=dead.pid, host="another-host")
        assert set(archive.mark_interrupted(locked_sites=["c"])) == {gone, locked}
        status = dict(archive.db.execute("select id, status from crawls").fetchall())
    assert status == {gone: "interrupted", alive: "running", locked: "interrupted",
                      elsewhere: "running"}


# --------------------------------------------------------------------------- crawls


def _wait_for(check, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_lock_refuses_a_second_crawl_of_a_site_other_sites_run_dead_holder_taken_over(tmp_path):
    db = tmp_path / "archive" / "archive.db"
    with DemoPortal(n_articles=60, seed=11) as slow, DemoPortal(n_articles=20, seed=12) as other:
        # A polite first crawl (one request a second): still running while we look.
        first = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", "--start-url", slow.start_url,
             "--db", str(db), "-s", "PROGRESS_ENABLED=False", "-s", "AUTOTHROTTLE_ENABLED=False",
             "-s", "DOWNLOAD_DELAY=1", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            lock = db.parent / "locks" / (slow.start_url.split("//")[1].strip("/").replace(":", "_")
                                          + ".lock")
            holder = _wait_for(lambda: lock.exists() and lock.read_text().strip()
                               and json.loads(lock.read_text()), "the first crawl's lock")
            assert holder["pid"] == first.pid
            # Once it fetches articles, its robots.txt requests are behind it; a second
            # crawl would start with robots.txt.
            _wait_for(lambda: any("chi-tiet" in p for _, p, _ in slow.requests),
                      "the first crawl's first article")
            robots_before = [p for _, p, _ in slow.requests if p == "/robots.txt"]
            crawls_before = rows(db, "select id from crawls")

            # The same site again: refused at once, one line naming the holder.
            second = cli("crawl", "--start-url", slow.start_url, "--db", str(db), *FAST,
                         cwd=tmp_path)
            assert second.returncode == 4
            line = one_line(second.stderr)
            assert f"is already being crawled by pid {first.pid} since {holder['since']}" in line
            assert second.stdout == ""
            assert rows(db, "select id from crawls") == crawls_before  # no row, no crawl
            assert [p for _, p, _ in slow.requests if p == "/robots.txt"] == robots_before
            assert first.poll() is None

            # Another site into the same archive runs meanwhile; a misspelt setting is
            # one warning and the crawl goes on.
            out = cli("crawl", "--start-url", other.start_url, "--db", str(db), *FAST,
                      "-s", "DOWNLAOD_TIMEOUT=5", cwd=tmp_path)
            assert out.returncode in (0, 1), out.stderr[-2000:]
            warning = [x for x in out.stderr.splitlines() if "DOWNLAOD_TIMEOUT" in x]
            assert len(warning) == 1 and "did you mean DOWNLOAD_TIMEOUT?" in warning[0]
            assert first.poll() is None
            by_status = {r["status"] for r in rows(db, "select status from crawls")}
            assert "running" in by_status and by_status & {"finished"}
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()

        # The holder died: its lock is taken over, its row marked interrupted.
        again = cli("crawl", "--start-url", slow.start_url, "--db", str(db), *FAST, cwd=tmp_path)
        assert again.returncode in (0, 1), again.stderr[-2000:]
        assert f"took over the lock of pid {first.pid}" in again.stderr
        (killed,) = rows(db, "select * from crawls where pid = ?", first.pid)
        assert killed["status"] == "interrupted" and killed["finished"]
        last = rows(db, "select * from crawls order by id desc limit 1")[0]
        assert last["status"] == "finished" and last["pid"] != first.pid
        assert lock.read_text() == ""  # released at the end

    status = cli("status", "--db", str(db))
    assert status.returncode == 0
    slow_host = slow.start_url.split("//")[1].strip("/")
    site_lines = [x for x in status.stdout.splitlines() if slow_host in x]
    assert site_lines and ("partial" in site_lines[0] or " ok " in site_lines[0])


def test_unreachable_site_fails_with_exit_3_and_reasons(tmp_path):
    db = tmp_path / "archive.db"
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    out = cli("crawl", "--start-url", url, "--db", str(db), *FAST, "-s", "RETRY_TIMES=0",
              cwd=tmp_path)
    assert out.returncode == 3, out.stdout + out.stderr[-2000:]
    (row,) = rows(db, "select * from crawls")
    assert row["status"] == "failed" and row["pages_fetched"] == 0
    assert row["pid"] and row["host"] == socket.gethostname()
    assert "(failed, exit 3)" in out.stdout and "nothing was fetched:" in out.stdout
    (error,) = rows(db, "select reason from fetch_errors")
    assert "Connection" in error["reason"] and error["reason"] in out.stdout

    status = cli("status", "--db", str(db))
    assert status.returncode == 0
    host = url.split("//")[1].strip("/")
    assert f"failing (last run failed, was interrupted or stopped): {host}" in status.stdout
    assert f"overdue (no successful run in 36 h): {host}" in status.stdout


def test_status_of_a_missing_or_unreadable_archive_is_one_line(tmp_path):
    out = cli("status", "--db", str(tmp_path / "none.db"))
    assert out.returncode == 2 and one_line(out.stderr).endswith(f"no archive at {tmp_path / 'none.db'}")
    (tmp_path / "junk.db").write_text("not sqlite")
    out = cli("status", "--db", str(tmp_path / "junk.db"))
    assert out.returncode == 2 and "cannot read" in one_line(out.stderr)


def test_status_last_run_per_site_overdue_and_failing(tmp_path):
    db = tmp_path / "archive.db"
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def at(hours_ago: float) -> str:
        return (now - timedelta(hours=hours_ago)).isoformat(timespec="seconds")

    with Archive(db) as archive:
        def crawl(sites, status, started, took_h, errors=0, new=0):
            crawl_id = archive.start_crawl(sites, {})
            archive.db["crawls"].update(crawl_id, {
                "status": status, "started": at(started), "finished": at(started - took_h),
                "errors": errors, "articles_new": new})
            return crawl_id

        crawl(["fresh"], "finished", 30, 1, new=5)
        crawl(["fresh"], "finished", 2, 0.5, errors=2, new=1)   # partial, recent
        crawl(["stale"], "finished", 50, 1)                     # ok but 50 h ago
        crawl(["broken"], "finished", 20, 1)
        crawl(["broken"], "failed", 1, 0.1, errors=1)           # last run failed
    statuses = {s.site: s for s in site_statuses(db, now=now)}
    assert statuses["fresh"].result == "partial (2 errors)"
    assert statuses["fresh"].took == timedelta(minutes=30)
    assert (statuses["fresh"].overdue, statuses["fresh"].failing) == (False, False)
    assert (statuses["stale"].result, statuses["stale"].overdue) == ("ok", True)
    assert statuses["stale"].failing is False
    assert (statuses["broken"].result, statuses["broken"].failing) == ("failed", True)
    assert statuses["broken"].overdue is False  # succeeded 19 h ago
    assert site_statuses(db, now=now, overdue_hours=10)[0].overdue is True  # broken


def test_status_of_a_crawl_of_several_sites_is_per_site(tmp_path, record_factory):
    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        crawl_id = archive.start_crawl(["a.gov.vn", "b.gov.vn"], {})
        for n in (1, 2):
            archive.save_article(record_factory(
                url=f"https://a.gov.vn/Pages/chi-tiet-tin-tuc.aspx?ItemID={n}",
                title=f"Tin {n}"), crawl_id=crawl_id)
        archive.record_error(crawl_id, "https://b.gov.vn/", "DNSLookupError: no such host")
        archive.finish_crawl(crawl_id, "finished")
    statuses = {s.site: s for s in site_statuses(db)}
    a, b = statuses["a.gov.vn"], statuses["b.gov.vn"]
    assert (a.result, a.last["articles_new"], a.last["errors"], a.failing) == ("ok", 2, 0, False)
    assert (b.result, b.last["articles_new"], b.last["errors"], b.failing) == ("failed", 0, 1, True)
    assert b.overdue and not a.overdue  # b never succeeded


def test_old_logs_rotated(tmp_path):
    for i in range(35):
        path = tmp_path / f"crawl-20260101-0000{i:02d}-{i}.log"
        path.write_text("x")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    (tmp_path / "other.txt").write_text("kept")
    _prune_logs(tmp_path, keep=30)
    left = sorted(p.name for p in tmp_path.glob("crawl-*.log"))
    assert len(left) == 29  # room for the log about to be written
    assert left[0] == "crawl-20260101-000006-6.log"
    assert (tmp_path / "other.txt").exists()


def test_demo_on_a_busy_port_says_so_and_archives_nothing(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = cli("demo", "--port", str(port), "--db", str(tmp_path / "a.db"), timeout=60)
    assert out.returncode == 2
    assert one_line(out.stderr).startswith(f"crawler demo: port {port} on 127.0.0.1 is taken")
    assert not (tmp_path / "a.db").exists()  # never a second demo site


def test_make_demo_with_port_8931_taken_fails_in_one_line():
    archive = ROOT / "data" / "archive.db"
    before = archive.stat().st_mtime_ns if archive.exists() else None
    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 8931))
        busy.listen()
    except OSError:
        pass  # someone else holds it: taken all the same
    try:
        # -o: the virtualenv is there; do not reinstall it for this.
        out = subprocess.run(["make", "-s", "-o", ".venv/.installed", "demo"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    finally:
        busy.close()
    assert out.returncode != 0
    ours = [x for x in out.stderr.splitlines() if not x.startswith("make")]
    assert ours == ["crawler demo: port 8931 on 127.0.0.1 is taken (Address already in use); "
                    "stop what holds it (another demo?) and run again"], out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    after = archive.stat().st_mtime_ns if archive.exists() else None
    assert after == before  # no duplicate demo site, nothing written

