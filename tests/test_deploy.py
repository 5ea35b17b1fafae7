"""deploy/: the cron line, the systemd units and Scrapyd, each tested as far as this machine
allows: a real Scrapyd on 127.0.0.1 crawls the demo portal; the units pass
`systemd-analyze verify`; every command they run is the real CLI's."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from crawler import settings as crawl_settings
from crawler.cli import build_parser, cmd_crawl
from crawler.demo import DemoPortal

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def crawl_args(argv: list[str]):
    """The arguments after `python -m crawler`, parsed by the real CLI's parser."""
    python, dash_m, module, *rest = argv
    assert python.endswith("/.venv/bin/python") and (dash_m, module) == ("-m", "crawler")
    return build_parser().parse_args(rest)


# --------------------------------------------------------------------------- systemd


def test_service_runs_the_real_crawl_command_and_drains_within_its_stop_timeout():
    service = unit(DEPLOY / "systemd" / "vngov-crawl.service")["Service"]
    args = crawl_args(shlex.split(service["ExecStart"]))
    assert args.func is cmd_crawl and args.all and args.db == "/srv/vngov/archive.db"
    assert "PROGRESS_ENABLED=False" in args.set
    assert service["WorkingDirectory"] == "/opt/vngov"
    assert shlex.split(service["ExecStart"])[0] == "/opt/vngov/.venv/bin/python"
    # SIGTERM lets requests in flight finish, each within DOWNLOAD_TIMEOUT (README).
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= crawl_settings.DOWNLOAD_TIMEOUT + 30
    assert service["SuccessExitStatus"].split() == ["1"]  # partial is a normal night
    assert service["ReadWritePaths"] == "/srv/vngov"  # the archive's folder, logs, locks


def test_timer_is_persistent_and_starts_the_service():
    timer = unit(DEPLOY / "systemd" / "vngov-crawl.timer")
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "vngov-crawl.service"
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed on this machine")
def test_units_pass_systemd_analyze_verify(tmp_path):
    # The shipped paths (/opt/vngov, /srv/vngov) pointed at this checkout, so that verify
    # can check that ExecStart is a real executable.
    for name in ("vngov-crawl.service", "vngov-crawl.timer"):
        text = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
        text = text.replace("/opt/vngov/.venv/bin/python", sys.executable)
        text = text.replace("/opt/vngov", str(ROOT)).replace("/srv/vngov", str(tmp_path))
        (tmp_path / name).write_text(text, encoding="utf-8")
    out = subprocess.run(["systemd-analyze", "verify", "vngov-crawl.service",
                          "vngov-crawl.timer"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "vngov-crawl" not in out.stderr, out.stderr  # no warning about our units
    calendar = unit(DEPLOY / "systemd" / "vngov-crawl.timer")["Timer"]["OnCalendar"]
    out = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "01:30:00" in out.stdout, out.stderr


# --------------------------------------------------------------------------- cron

CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def test_cron_line_is_valid_and_runs_the_real_crawl_command():
    jobs = [line for line in (DEPLOY / "cron" / "vngov-crawl").read_text().splitlines()
            if line.strip() and not line.startswith("#") and not re.match(r"^\w+=", line)]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 6)
    minute, hour, day, month, weekday, user, command = fields
    for field in (minute, hour, day, month, weekday):
        assert CRON_FIELD.match(field), field
    assert (int(minute), int(hour), user) == (30, 1, "vngov")
    assert "%" not in command  # cron would cut the command there
    syntax = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    words = shlex.split(command)
    start = words.index(".venv/bin/python")
    end = words.index(">", start)
    args = crawl_args(["/opt/vngov/.venv/bin/python", *words[start + 1:end]])
    assert args.func is cmd_crawl and args.all and args.db == "/srv/vngov/archive.db"
    assert words[:2] == ["cd", "/opt/vngov"]
    # Mail only on exit codes past "partial".
    assert "[ $rc -le 1 ] ||" in command


# --------------------------------------------------------------------------- scrapyd


def _key(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.path.lower(), urllib.parse.parse_qs(parts.query).get("ItemID", [""])[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, fields: list[tuple[str, str]]) -> dict:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path):
    """A real Scrapyd on 127.0.0.1, configured by deploy/scrapyd/ (only the port changed)."""
    if not (VENV_BIN / "scrapyd").exists():
        pytest.fail("scrapyd is not installed: pip install -e .[test]")
    home = tmp_path / "scrapyd"
    home.mkdir()
    shutil.copy(DEPLOY / "scrapyd" / "scrapy.cfg", home / "scrapy.cfg")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(DEPLOY / "scrapyd" / "scrapyd.conf")
    port = _free_port()
    conf["scrapyd"]["http_port"] = str(port)
    with open(home / "scrapyd.conf", "w") as f:
        conf.write(f)
    proc = subprocess.Popen([str(VENV_BIN / "scrapyd")], cwd=home, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "scrapyd did not start"
            time.sleep(0.3)
        yield base, home
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_scrapyd_crawls_the_demo_portal_into_the_archive_one_job_per_site(scrapyd, tmp_path):
    base, home = scrapyd
    assert _get(f"{base}/listprojects.json")["projects"] == ["vngov"]
    assert _get(f"{base}/listspiders.json?project=vngov")["spiders"] == ["portal"]
    db = tmp_path / "archive" / "archive.db"
    with DemoPortal(n_articles=20, seed=21) as portal:
        job = [("project", "vngov"), ("spider", "portal"), ("start_url", portal.start_url),
               ("setting", f"ARCHIVE_DB={db}"), ("setting", "PROGRESS_ENABLED=False"),
               ("setting", "DOWNLOAD_DELAY=0"), ("setting", "AUTOTHROTTLE_ENABLED=False"),
               ("setting", "RETRY_TIMES=1")]
        # The same site scheduled twice: one job crawls, the other ends at once.
        ids = [_post(f"{base}/schedule.json", job)["jobid"] for _ in range(2)]
        deadline = time.monotonic() + 240
        while True:
            jobs = _get(f"{base}/listjobs.json?project=vngov")
            if {j["id"] for j in jobs["finished"]} >= set(ids):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(1)
        truth = {_key(a["url"]) for a in portal.articles}
    logs = {i: (home / "var" / "logs" / "vngov" / "portal" / f"{i}.log").read_text() for i in ids}
    refused = [i for i, text in logs.items() if "is already being crawled by pid" in text]
    assert len(refused) == 1
    crawled = next(i for i in ids if i not in refused)
    conn = sqlite3.connect(db)
    try:
        crawls = conn.execute("select status, pid, articles_new, id from crawls").fetchall()
        archived = {_key(u) for (u,) in conn.execute("select url from articles")}
    finally:
        conn.close()
    assert len(crawls) == 1  # the refused job wrote nothing
    status, pid, new, crawl_id = crawls[0]
    assert status == "finished" and pid and new == len(truth) == 20
    assert archived == truth
    # Jobs go through crawler.runner.run_crawl (deploy/scrapyd: runner =
    # crawler.scrapyd_runner): every line of the job's log carries the crawl id, and the
    # refused job's log is its one line.
    lines = logs[crawled].splitlines()
    assert f" crawl {crawl_id} [scrapy.core.engine] INFO: Spider closed (finished)" in logs[crawled]
    assert all(f" crawl {crawl_id} [" in x or x.startswith(f"crawl {crawl_id} |") for x in lines)
    (line,) = logs[refused[0]].splitlines()
    assert line.startswith("crawler (scrapyd job): site 127.0.0.1:")
