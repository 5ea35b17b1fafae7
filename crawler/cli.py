"""Command line: ``python -m crawler <command>``; each command is a thin layer over a library call."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lxml import html as lxml_html

ROOT = Path(__file__).resolve().parent.parent


def _url_from_page(data: bytes, fallback: str) -> str:
    """``<link rel=canonical>``, else ``og:url``, else the file path."""
    try:
        root = lxml_html.document_fromstring(data[:200_000] or b"<html/>")
    except Exception:  # noqa: BLE001 - unreadable markup: keep the path
        return fallback
    for xp in ("//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content"):
        found = root.xpath(xp)
        if found and found[0].strip().startswith(("http://", "https://")):
            return found[0].strip()
    return fallback


def cmd_extract(args: argparse.Namespace) -> int:
    from .extract import extract_article

    if args.url and len(args.pages) > 1:
        print("crawler extract: --url applies to one page; give one file with --url", file=sys.stderr)
        return 2
    status = 0
    for page in args.pages:
        path = Path(page)
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"crawler extract: cannot read {page}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
            continue
        url = args.url or _url_from_page(data, str(path))
        record = extract_article(data, url, content_type=args.content_type)
        indent = 2 if len(args.pages) == 1 and args.pretty else None
        print(json.dumps(record, ensure_ascii=False, indent=indent))
    return status


def cmd_families(args: argparse.Namespace) -> int:
    from .profiles import load

    for fam in load().families:
        print(f"{fam.name:18} {fam.description}")
    print(f"{'generic':18} fallback: trafilatura main-content extraction")
    return 0


# The demo portal is ours and on loopback: no need to wait between requests there.
DEMO_SETTINGS = [
    "AUTOTHROTTLE_ENABLED=False", "DOWNLOAD_DELAY=0", "DOWNLOAD_TIMEOUT=10", "RETRY_TIMES=2",
]


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on embedded data: serve the demo portal, crawl it into the archive."""
    from rich.console import Console

    from .demo import DemoPortal

    console = Console()
    db = _db_arg(args.db)
    portal = DemoPortal(n_articles=args.articles, seed=1)
    try:
        base = portal.start(port=args.port)
    except OSError:
        base = portal.start(port=0)  # the usual port is taken: any free one
    expected = portal.summary()
    console.print(
        f"demo portal at {base}: {expected['articles']} articles "
        f"({expected['url_variants']} URLs), GET/postback/'Xem thêm' listings, feed, sitemap, "
        f"traps, {expected['fail_once']} flaky and {expected['always_500'] + 1} broken pages"
    )
    try:
        row = run_crawl({"start_url": portal.start_url, "family": "auto"}, db,
                        DEMO_SETTINGS + args.set, args.log_level)
    finally:
        portal.stop()
    _print_crawl(row, db)
    return 0 if str(row.get("status", "")).startswith("finished") else 1


def _scrapy_settings(db: Path, overrides: list[str], log_level: str):
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("ARCHIVE_DB", str(db), priority="cmdline")
    logs = db.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    settings.set("LOG_FILE", str(logs / f"crawl-{stamp}.log"), priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"crawler: -s expects NAME=VALUE, got {item!r}")
        settings.set(name.strip(), value, priority="cmdline")
    return settings


def run_crawl(spider_kwargs: dict, db: Path, overrides: list[str] | None = None,
              log_level: str = "INFO") -> dict:
    """Run the portal spider in this process; return the crawl's row from the archive."""
    from scrapy.crawler import CrawlerProcess

    from spiders.portal import PortalSpider

    settings = _scrapy_settings(db, overrides or [], log_level)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PortalSpider)
    process.crawl(crawler, **spider_kwargs)
    process.start()
    spider = crawler.spider
    crawl_id = getattr(spider, "crawl_id", None)
    from .store import Archive

    row = {}
    if crawl_id:
        archive = Archive(db)
        row = dict(archive.db["crawls"].get(crawl_id))
        archive.close()
    row["log_file"] = settings.get("LOG_FILE")
    return row


def _print_crawl(row: dict, db: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"crawl {row.get('id', '?')}: {row.get('status', '?')}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("pages_fetched", "articles_new", "articles_changed", "articles_unchanged",
                "errors", "started", "finished"):
        table.add_row(key.replace("_", " "), str(row.get(key, "")))
    console = Console()
    console.print()
    console.print(table)
    console.print(f"archive: {db}\nlog: {row.get('log_file')}")
    console.print(f"browse it: {sys.executable} -m crawler serve --db {db}")


def _db_arg(value: str | None) -> Path:
    return Path(value).expanduser().resolve() if value else ROOT / "data" / "archive.db"


def cmd_crawl(args: argparse.Namespace) -> int:
    from .sites import load_sites

    registry = load_sites()
    if args.all:
        kwargs = {"all": "1"}
    elif args.start_url:
        kwargs = {"start_url": args.start_url, "family": args.family}
    elif args.sites:
        unknown = [s for s in args.sites if s not in registry]
        if unknown:
            print(f"crawler crawl: unknown site(s) {', '.join(unknown)}; "
                  "see `python -m crawler sites`", file=sys.stderr)
            return 2
        kwargs = {"sites": ",".join(args.sites)}
    else:
        print("crawler crawl: name a site, --all, or --start-url URL", file=sys.stderr)
        return 2
    db = _db_arg(args.db)
    row = run_crawl(kwargs, db, args.set, args.log_level)
    _print_crawl(row, db)
    return 0 if str(row.get("status", "")).startswith("finished") else 1


def cmd_sites(args: argparse.Namespace) -> int:
    from .sites import load_sites

    for site in load_sites().values():
        mark = "" if site.verified else "  (not yet verified)"
        print(f"{site.key:16} {site.family:17} {site.name}{mark}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Open the archive in Datasette (read-only and immutable with --public)."""
    from .serve import ServeError, serve

    try:
        return serve(_db_arg(args.db), host=args.host, port=args.port, public=args.public)
    except ServeError as exc:
        print(f"crawler serve: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crawler", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="extract article records from saved pages (JSON / JSON Lines)")
    p.add_argument("pages", nargs="+", help="saved HTML files")
    p.add_argument("--url", help="the page's URL (one file only); default: canonical link, og:url, else the path")
    p.add_argument("--content-type", help="the HTTP Content-Type header the page came with")
    p.add_argument("--pretty", action="store_true", help="indent the JSON of a single page")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("demo", help="the main job: crawl the bundled demo portal into the archive")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("--port", type=int, default=8931, help="demo portal port (default 8931)")
    p.add_argument("--articles", type=int, default=300, help="articles in the demo portal")
    p.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                   help="Scrapy setting override (repeatable)")
    p.add_argument("--log-level", default="INFO", help="log file level (default INFO)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("crawl", help="crawl registered sites, or any portal by start URL")
    p.add_argument("sites", nargs="*", help="site names from `python -m crawler sites`")
    p.add_argument("--all", action="store_true", help="every site in the registry")
    p.add_argument("--start-url", help="crawl a portal that has no profile")
    p.add_argument("--family", default="auto", help="layout family for --start-url (default: auto)")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                   help="Scrapy setting override (repeatable)")
    p.add_argument("--log-level", default="INFO", help="log file level (default INFO)")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("sites", help="list the registered sites")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser("serve", help="browse the archive in Datasette")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    p.add_argument("--public", action="store_true",
                   help="read-only for the public: immutable database, no download")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("families", help="list the layout families the extractor knows")
    p.set_defaults(func=cmd_families)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
