"""Running a crawl as a library call: what ``python -m crawler crawl``, ``crawler demo``,
cron, systemd and scrapyd share.

    from crawler.runner import archive_path, run_crawl, exit_code
    row = run_crawl({"site": "backan-sgddt"}, archive_path("/srv/archive/vn.db"))
    sys.exit(exit_code(row))

Before anything starts, every input is checked (``UsageError``: one line saying what is
wrong), then the sites' locks are taken (``LockHeld``: one line naming the holder), dead
crawls of those sites are marked ``interrupted``, the crawl's row is created (so every log
line carries its id) and the spider runs in this process. Scrapyd jobs come here too
(``crawler.scrapyd_runner``); under plain ``scrapy crawl``
``crawler.lifecycle.CrawlLifecycle`` takes the locks.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .canonical import host_of
from .lifecycle import LockHeld, SiteLocks

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARCHIVE = "data/archive.db"

# Exit codes of `python -m crawler crawl` (README "Scheduled crawls").
EXIT_OK = 0  # finished, no URL failed
EXIT_PARTIAL = 1  # finished with fetch_errors rows, or stopped before the end
EXIT_USAGE = 2  # an input mistake; nothing started
EXIT_FAILED = 3  # nothing fetched (site unreachable, every start URL failing)
EXIT_LOCKED = 4  # another crawl holds a site's lock; nothing started

# Settings whose Scrapy default is an int but that are read as floats.
_FLOAT_SETTINGS = {"DNS_TIMEOUT", "DOWNLOAD_DELAY", "DOWNLOAD_TIMEOUT"}
_BOOL_VALUES = {"0", "1", "true", "false", "True", "False"}

__all__ = [
    "EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "LockHeld",
    "UsageError", "archive_path", "check_archive_writable", "exit_code", "run_crawl",
    "site_keys", "validate",
]


class UsageError(ValueError):
    """An input mistake, found before anything starts; the message is one line."""


# --------------------------------------------------------------------------- inputs


def archive_path(value=None, *, base: Path | None = None) -> Path:
    """The archive file: ``value`` (a path, or Scrapy settings: their ``ARCHIVE_DB``; ``~``
    expanded; relative to ``base``, by default the project root, since cron starts us in
    ``$HOME``), else ``data/archive.db`` in the project. The one place an archive path is
    resolved (CLI ``--db`` and the ``ARCHIVE_DB`` setting)."""
    if hasattr(value, "getdict"):  # scrapy.settings.Settings
        value = value.get("ARCHIVE_DB")
    if not value:
        return ROOT / DEFAULT_ARCHIVE
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base or ROOT) / path
    return Path(os.path.abspath(path))


def check_archive_writable(path: Path) -> None:
    """UsageError unless the archive, and the folder its journal, ``locks/`` and ``logs/``
    go to, can be written (created if missing)."""
    if path.is_dir():
        raise UsageError(f"archive {path} is a folder; give a file, e.g. {path / 'archive.db'}")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise UsageError(f"archive {path} is read-only: cannot write to it")
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot create folder {path.parent}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in folder {existing} (the archive {path.name}, its "
                         "journal, locks/ and logs/ go there)")
    for sub in ("locks", "logs"):
        folder = path.parent / sub
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write in folder {folder}")


def check_start_url(url: str) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = f"; did you mean https://{url.strip()}" if not parts.scheme else ""
        raise UsageError(f"start URL {url!r} needs http:// or https:// and a host{hint}")


def check_family(name: str) -> None:
    from .profiles import load

    known = [f.name for f in load().families]
    if name != "auto" and name not in known:
        raise UsageError(f"unknown family {name!r}; known: auto, {', '.join(known)} "
                         "(`python -m crawler families`)")


def _defaults() -> dict:
    from scrapy.settings import default_settings

    from . import settings as ours

    names = {}
    for module in (default_settings, ours):
        names.update({k: getattr(module, k) for k in dir(module) if k.isupper()})
    return names


def parse_overrides(items: list[str]) -> tuple[dict[str, str], list[str]]:
    """``-s NAME=VALUE`` items -> ({name: value}, warnings). A value that cannot be what the
    setting takes (its default is an int, float or bool) is a UsageError; a name no
    component declares is a warning (it may be a typo)."""
    defaults = _defaults()
    values: dict[str, str] = {}
    warnings = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-s expects NAME=VALUE, got {item!r}")
        if name not in defaults:
            close = difflib.get_close_matches(name, defaults, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"unknown setting {name} (no Scrapy or crawler setting has that "
                            f"name{hint}): passed on, probably unused")
        else:
            default = defaults[name]
            kind = ("bool" if isinstance(default, bool) else
                    "number" if isinstance(default, float) or name in _FLOAT_SETTINGS else
                    "integer" if isinstance(default, int) else None)
            if kind and not _fits(value.strip(), kind):
                raise UsageError(f"setting {name}={value!r}: expected {'an' if kind == 'integer' else 'a'} "
                                 f"{kind if kind != 'bool' else 'boolean (true/false, 1/0)'}, "
                                 f"like its default {default!r}")
        values[name] = value
    return values, warnings


def _fits(value: str, kind: str) -> bool:
    if kind == "bool":
        return value in _BOOL_VALUES
    try:
        int(value) if kind == "integer" else float(value)
    except ValueError:
        return False
    return True


def site_keys(spider_kwargs: dict) -> list[str]:
    """The site keys a crawl covers, as the spider names them (and locks them)."""
    from .sites import load_sites

    registry = load_sites()
    if spider_kwargs.get("all"):
        return list(registry)
    keys = [k for k in (spider_kwargs.get("sites") or "").split(",") if k]
    if spider_kwargs.get("site"):
        keys.append(spider_kwargs["site"])
    unknown = [k for k in keys if k not in registry]
    if unknown:
        raise UsageError(f"unknown site(s) {', '.join(unknown)}; see `python -m crawler sites`")
    if spider_kwargs.get("start_url"):
        keys.append(host_of(spider_kwargs["start_url"].strip()))
    if not keys:
        raise UsageError("name a site, --all, or --start-url URL")
    return keys


def validate(spider_kwargs: dict, db: Path, overrides: list[str] | None = None,
             log_level: str = "INFO") -> tuple[list[str], dict[str, str], list[str]]:
    """Every check that needs no network: (site keys, setting overrides, warnings)."""
    if spider_kwargs.get("start_url"):
        check_start_url(spider_kwargs["start_url"])
        check_family(spider_kwargs.get("family") or "auto")
    keys = site_keys(spider_kwargs)
    values, warnings = parse_overrides(overrides or [])
    level = values.get("LOG_LEVEL", log_level)
    if not isinstance(logging.getLevelName(str(level).upper()), int):
        raise UsageError(f"log level {level!r}: one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    check_archive_writable(db)
    return keys, values, warnings


# --------------------------------------------------------------------------- running


def _settings(db: Path, values: dict[str, str], log_level: str):
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("ARCHIVE_DB", str(db), priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    for name, value in values.items():
        settings.set(name, value, priority="cmdline")
    return settings


def _prune_logs(logs: Path, keep: int) -> None:
    """Only the newest ``keep`` crawl logs stay (the one about to be written included)."""
    def age(path: Path) -> tuple[float, str]:
        try:
            return path.stat().st_mtime, path.name
        except OSError:  # removed meanwhile by another crawl's pruning
            return 0.0, path.name

    old = sorted(logs.glob("crawl-*.log"), key=age)
    for path in old[: max(0, len(old) - max(keep, 1) + 1)]:
        try:
            path.unlink()
        except OSError:
            pass


def run_crawl(spider_kwargs: dict, db: Path, overrides: list[str] | None = None,
              log_level: str = "INFO", *, warn: Callable[[str], None] | None = None,
              log_file: Path | None = None) -> dict:
    """Check the inputs, take the sites' locks, run the portal spider in this process and
    return the crawl's row from the archive (plus ``log_file`` and ``reasons``: the most
    frequent fetch error reasons). Raises UsageError or LockHeld before anything starts.
    The log goes to ``logs/`` beside the archive unless ``log_file`` names it."""
    keys, values, warnings = validate(spider_kwargs, db, overrides, log_level)
    for message in warnings:
        (warn or print)(message)
    # One site: LockHeld if another crawl has it. Several (--all at night): the ones
    # another crawl still has are left out, the others crawled; LockHeld if all are held.
    locks = SiteLocks(db.parent, keys)
    locks.acquire(skip_held=len(keys) > 1)  # LockHeld: nothing written, no request sent
    try:
        for held in locks.skipped:
            (warn or print)(f"{held}".replace("; not starting", "; crawling the other sites"))
        for dead in locks.taken_over:
            (warn or print)(f"site {dead['site']}: took over the lock of pid {dead.get('pid')} "
                            f"(since {dead.get('since')}), which is no longer running")
        if locks.skipped:
            keys = [k for k in keys if k in locks.held]
            spider_kwargs = without_sites(spider_kwargs, {h.key for h in locks.skipped})
        return _run_locked(spider_kwargs, db, keys, values, log_level, log_file)
    finally:
        locks.release()


def without_sites(spider_kwargs: dict, skipped: set[str]) -> dict:
    """The spider's arguments with some sites left out (registry sites as ``sites=``)."""
    from .sites import load_sites

    kwargs = {k: v for k, v in spider_kwargs.items() if k not in ("all", "site", "sites")}
    registry = load_sites()
    chosen = [k for k in site_keys(spider_kwargs) if k in registry and k not in skipped]
    if chosen:
        kwargs["sites"] = ",".join(chosen)
    start_url = kwargs.get("start_url")
    if start_url and host_of(start_url.strip()) in skipped:
        kwargs.pop("start_url")
        kwargs.pop("family", None)
    return kwargs


def _run_locked(spider_kwargs, db, keys, values, log_level, log_file=None) -> dict:
    from scrapy.crawler import CrawlerProcess

    from spiders.portal import PortalSpider

    from .lifecycle import CrawlLog
    from .store import Archive

    settings = _settings(db, values, log_level)
    settings.set("SITE_LOCKS_HELD", True, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    with Archive(db) as archive:
        archive.mark_interrupted(locked_sites=keys)
    logs = db.parent / "logs"
    if log_file is None:
        logs.mkdir(parents=True, exist_ok=True)
        _prune_logs(logs, settings.getint("LOG_KEEP", 30))
    else:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    # Our own log handler, not Scrapy's: it names the file after the crawl and puts the
    # crawl id on every line, the lines logged before the crawl's row exists included.
    log = CrawlLog(logs, settings.get("LOG_DATEFORMAT"), path=log_file)
    log.setLevel(str(settings.get("LOG_LEVEL")).upper())
    error = None
    crawler = None
    logging.root.addHandler(log)
    try:
        process = CrawlerProcess(settings)
        logging.root.setLevel(logging.NOTSET)
        crawler = process.create_crawler(PortalSpider)
        process.crawl(crawler, **spider_kwargs)
        process.start()
    except Exception as exc:  # noqa: BLE001 - said in the summary and the log
        logging.getLogger(__name__).exception("crawl failed")
        error = f"{type(exc).__name__}: {exc}"
    finally:
        logging.root.removeHandler(log)
        log.finish()
    crawl_id = getattr(getattr(crawler, "spider", None), "crawl_id", None)
    row: dict = {}
    if crawl_id:
        with Archive(db) as archive:
            row = dict(archive.db["crawls"].get(crawl_id))
            if row["status"] == "running":  # the crawl never reached its end
                archive.finish_crawl(crawl_id, f"failed: {error or 'stopped without closing'}")
                row = dict(archive.db["crawls"].get(crawl_id))
            row["reasons"] = error_reasons(archive, crawl_id)
    else:
        row = {"status": f"failed: {error or 'the crawl did not start'}", "reasons": []}
    row["log_file"] = str(log.path)
    return row


def error_reasons(archive, crawl_id: int, limit: int = 5) -> list[tuple[str, int]]:
    """The most frequent ``fetch_errors`` reasons of a crawl: [(reason, count)]."""
    return [tuple(r) for r in archive.db.execute(
        "select reason, count(*) n from fetch_errors where crawl_id = ? group by reason "
        "order by n desc, reason limit ?", [crawl_id, limit]).fetchall()]


def exit_code(row: dict) -> int:
    """The exit code a crawl's row stands for (see the EXIT_* constants)."""
    status = str(row.get("status") or "")
    if not row or status.startswith("failed"):
        return EXIT_FAILED
    if status == "finished":
        return EXIT_PARTIAL if row.get("errors") else EXIT_OK
    return EXIT_PARTIAL  # stopped early, interrupted
