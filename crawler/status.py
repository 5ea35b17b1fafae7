"""``python -m crawler status``: the last run of every site in an archive, and the sites
that need a look (no successful run for a while, or the last run failed).

Read-only: the archive is opened with ``mode=ro`` and nothing is written, so it is safe
while a crawl runs.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from .store import pid_alive

DEFAULT_OVERDUE_HOURS = 36.0


@dataclass
class SiteStatus:
    site: str
    last: dict  # the site's newest crawl row
    last_success: dict | None  # its newest crawl that finished
    result: str  # what the last run came to, in words
    overdue: bool
    failing: bool

    @property
    def took(self) -> timedelta | None:
        start, end = _time(self.last.get("started")), _time(self.last.get("finished"))
        return end - start if start and end else None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def result_of(row: dict) -> str:
    """A crawl row's outcome in words: ok, partial (N errors), failed, interrupted,
    running (pid N), stopped: REASON."""
    status = str(row.get("status") or "?")
    if status == "finished":
        return f"partial ({row['errors']} errors)" if row.get("errors") else "ok"
    if status == "running":
        pid, host = row.get("pid"), row.get("host")
        if pid and host == socket.gethostname() and not pid_alive(pid):
            return f"interrupted (pid {pid} is gone)"
        return f"running (pid {pid}{'' if host in (None, socket.gethostname()) else ' on ' + host})"
    return status


def site_statuses(db: Path, *, overdue_hours: float = DEFAULT_OVERDUE_HOURS,
                  now: datetime | None = None) -> list[SiteStatus]:
    """One SiteStatus per site that any crawl of the archive covered, by site name."""
    now = now or datetime.now(UTC)
    from .sites import load_sites

    registry = load_sites()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    last: dict[str, dict] = {}
    success: dict[str, dict] = {}
    try:
        for row in [dict(r) for r in conn.execute("select * from crawls order by id")]:
            try:
                sites = json.loads(row.get("sites") or "[]")
            except ValueError:
                sites = []
            for site in sites:
                hosts = registry[site].hosts if site in registry else [site]
                mine = row if len(sites) == 1 else _site_row(conn, row, hosts)
                last[site] = mine
                if mine.get("status") == "finished":
                    success[site] = mine
    finally:
        conn.close()
    out = []
    for site in sorted(last):
        row, ok = last[site], success.get(site)
        result = result_of(row)
        ok_at = _time(ok.get("finished") or ok.get("started")) if ok else None
        overdue = ok_at is None or now - ok_at > timedelta(hours=overdue_hours)
        failing = not (result == "ok" or result.startswith(("partial", "running")))
        out.append(SiteStatus(site, row, ok, result, overdue, failing))
    return out


def _site_row(conn: sqlite3.Connection, row: dict, hosts: list[str]) -> dict:
    """A crawl of several sites as one of them saw it: its own new, changed and gone
    articles and errors (the rows it got in that crawl); ``failed`` if it got errors and
    no article was archived or seen again."""
    marks = ", ".join("?" * len(hosts))

    def count(sql: str) -> int:
        return conn.execute(sql.format(marks=marks), [row["id"], *hosts]).fetchone()[0]

    seen = count("select count(*) from articles where last_crawl = ? and site in ({marks})")
    errors = sum(1 for (url,) in conn.execute(
        "select url from fetch_errors where crawl_id = ?", [row["id"]])
        if urlsplit(url).netloc.lower() in hosts)
    mine = dict(row, errors=errors, articles_new=count(
        "select count(*) from articles where first_crawl = ? and site in ({marks})"),
        articles_changed=count(
            "select count(*) from article_versions v join articles a on a.id = v.article_id "
            "where v.crawl_id = ? and v.version > 1 and a.site in ({marks})"),
        articles_gone=count("select count(*) from articles where last_crawl = ? and "
                            "status = 'gone' and site in ({marks})"))
    if row.get("status") == "finished" and errors and not seen:
        mine["status"] = "failed"
    return mine


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    hours = (now - when).total_seconds() / 3600
    return f"{hours:.0f} h ago" if hours >= 1.5 else f"{hours * 60:.0f} min ago"


def _when(when: datetime | None) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when else "-"


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else (
        f"{seconds // 60}m{seconds % 60:02d}s")


def print_status(db: Path, *, overdue_hours: float = DEFAULT_OVERDUE_HOURS) -> None:
    from rich.console import Console
    from rich.table import Table

    now = datetime.now(UTC)
    statuses = site_statuses(db, overdue_hours=overdue_hours, now=now)
    console = Console()
    if not console.is_terminal:  # cron mail, a pipe: no terminal width to fit
        console = Console(width=160)
    if not statuses:
        console.print(f"{db}: no crawl yet", markup=False)
        return
    table = Table(title=f"{db}: last run per site")
    table.add_column("site", overflow="fold")
    table.add_column("last run", no_wrap=True)
    for name in ("took", "new", "changed", "gone", "errors"):
        table.add_column(name, justify="right")
    table.add_column("result")
    table.add_column("crawl", justify="right")
    table.add_column("last success")
    for st in statuses:
        row = st.last
        ok_at = _time((st.last_success or {}).get("finished"))
        table.add_row(
            st.site, _when(_time(row.get("started"))), _duration(st.took),
            *(str(row.get(k) or 0) for k in ("articles_new", "articles_changed",
                                               "articles_gone", "errors")),
            st.result, str(row["id"]), _ago(ok_at, now),
            style="red" if st.failing else "yellow" if st.overdue else None,
        )
    console.print(table)
    overdue = [st.site for st in statuses if st.overdue]
    failing = [st.site for st in statuses if st.failing]
    console.print(f"overdue (no successful run in {overdue_hours:g} h): "
                  f"{', '.join(overdue) or 'none'}", markup=False)
    console.print(f"failing (last run failed, was interrupted or stopped): "
                  f"{', '.join(failing) or 'none'}", markup=False)
