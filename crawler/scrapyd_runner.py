"""Scrapyd's job runner for this project (``runner = crawler.scrapyd_runner`` in
``deploy/scrapyd/scrapyd.conf``).

For each job Scrapyd starts ``python -m crawler.scrapyd_runner crawl portal -s NAME=VALUE
... -a NAME=VALUE ...`` (the spider arguments of ``schedule.json``, e.g. ``site=NAME``).
This runs the job through :func:`crawler.runner.run_crawl`, as ``python -m crawler crawl``
does: the same input checks, per-site locks, crawl row, log (Scrapyd's ``LOG_FILE``, every
line with the crawl id) and exit codes. A refused job writes its one line to that log.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .runner import (
    EXIT_LOCKED,
    EXIT_USAGE,
    LockHeld,
    UsageError,
    archive_path,
    exit_code,
    run_crawl,
)


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in (item.partition("=") for item in items)]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "crawl":  # `list` (Scrapyd's listspiders.json) and the rest
        import os

        from scrapy.cmdline import execute

        os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
        execute(["scrapy", *argv])  # exits
    parser = argparse.ArgumentParser(prog="python -m crawler.scrapyd_runner")
    parser.add_argument("command", choices=["crawl"])
    parser.add_argument("spider")
    parser.add_argument("-s", dest="settings", action="append", default=[])
    parser.add_argument("-a", dest="arguments", action="append", default=[])
    args = parser.parse_args(argv)
    settings = _pairs(args.settings)
    special = {name: value for name, value in settings
               if name in ("ARCHIVE_DB", "LOG_FILE", "LOG_LEVEL")}
    overrides = [f"{name}={value}" for name, value in settings if name not in special]
    # Progress redraws are for people at a terminal, not a job log.
    if not any(name == "PROGRESS_ENABLED" for name, _ in settings):
        overrides.append("PROGRESS_ENABLED=False")
    log_file = Path(special["LOG_FILE"]) if special.get("LOG_FILE") else None
    spider_kwargs = {name: value for name, value in _pairs(args.arguments)
                     if not name.startswith("_")}  # _job: Scrapyd's own

    def say(message: str) -> None:
        print(f"crawler (scrapyd job): {message}", file=sys.stderr, flush=True)
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with log_file.open("a", encoding="utf-8") as f:
                f.write(f"crawler (scrapyd job): {message}\n")

    if args.spider != "portal":
        say(f"unknown spider {args.spider!r}; this project has one: portal")
        return EXIT_USAGE
    try:
        row = run_crawl(spider_kwargs, archive_path(special.get("ARCHIVE_DB")), overrides,
                        special.get("LOG_LEVEL") or "INFO", log_file=log_file,
                        warn=lambda m: say(f"warning: {m}"))
    except UsageError as exc:
        say(str(exc))
        return EXIT_USAGE
    except LockHeld as exc:
        say(str(exc))
        return EXIT_LOCKED
    return exit_code(row)


if __name__ == "__main__":
    sys.exit(main())
