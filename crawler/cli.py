"""Command line: ``python -m crawler <command>``; each command is a thin layer over a library call."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lxml import html as lxml_html

from .runner import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    LockHeld,
    UsageError,
    archive_path,
    exit_code,
    run_crawl,
)


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
    from .extract import extract_article, read_page
    from .profiles import load
    from .templates import TemplateLearner

    if args.url and len(args.pages) > 1:
        print("crawler extract: --url applies to one page; give one file with --url", file=sys.stderr)
        return 2
    known = ["auto", "generic", *(f.name for f in load().families)]
    if args.family not in known:
        print(f"crawler extract: unknown family {args.family!r} (known: {', '.join(known)})",
              file=sys.stderr)
        return 2
    status = 0
    pages = []
    for page in args.pages:
        path = Path(page)
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"crawler extract: cannot read {page}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
            continue
        pages.append((data, args.url or _url_from_page(data, str(path))))
    template = None
    if args.learn_template:
        # Pages of one site: what recurs at one place on most of them is its template.
        learner = TemplateLearner()
        for data, url in pages:
            root = read_page(data, url, content_type=args.content_type).root
            if root is not None:
                learner.observe(root)
        template = learner.template()
        if not template:
            print(f"crawler extract: --learn-template needs {learner.min_pages} pages of one "
                  f"site or more; got {learner.pages}: extracting without a template",
                  file=sys.stderr)
    for data, url in pages:
        record = extract_article(data, url, content_type=args.content_type,
                                 family=args.family, template=template)
        indent = 2 if len(args.pages) == 1 and args.pretty else None
        print(json.dumps(record, ensure_ascii=False, indent=indent))
    return status


def cmd_new_site(args: argparse.Namespace) -> int:
    """Add a site to the registry (and a fixture with a draft gold from a saved page)."""
    from .sites import RegistryError, new_site

    try:
        written = new_site(args.name, args.url, page=Path(args.page) if args.page else None,
                           name=args.title)
    except (RegistryError, OSError) as exc:
        print(f"crawler new-site: {exc}", file=sys.stderr)
        return 2
    print(f"added [sites.{args.name}] (family {written['family']}) to {written['registry']}")
    if "page" in written:
        print(f"fixture: {written['page']}\ngold to check and fill in: {written['gold']} "
              "(the fixture test refuses it while it says \"draft\")")
    print(f"crawl it: {sys.executable} -m crawler crawl {args.name}")
    return 0


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
    db = archive_path(args.db, base=Path.cwd())
    portal = DemoPortal(n_articles=args.articles, seed=1)
    try:
        base = portal.start(port=args.port)
    except OSError as exc:
        # Another port would make the demo another site (its host has the port): the
        # archive would hold every article twice. Say so instead.
        print(f"crawler demo: port {args.port} on 127.0.0.1 is taken ({exc.strerror or exc}); "
              "stop what holds it (another demo?) and run again", file=sys.stderr)
        return EXIT_USAGE
    expected = portal.summary()
    console.print(
        f"demo portal at {base}: {expected['articles']} articles "
        f"({expected['url_variants']} URLs), GET/postback/'Xem thêm' listings, feed, sitemap, "
        f"traps, {expected['fail_once']} flaky and {expected['always_500'] + 1} broken pages"
    )
    try:
        code = _run("demo", {"start_url": portal.start_url, "family": "auto"}, db,
                    DEMO_SETTINGS + args.set, args.log_level)
        if code in (EXIT_OK, EXIT_PARTIAL) and args.later:
            code = max(code, _demo_later(portal, db, args))
    finally:
        portal.stop()
    # The demo's broken pages are part of the show: a finished crawl is a success here.
    return EXIT_OK if code == EXIT_PARTIAL else code


def _demo_later(portal, db: Path, args: argparse.Namespace) -> int:
    """A night later: the portal gains articles, edits three, deletes one; the nightly
    (incremental) run, then ``--full``. Each in its own process (Twisted's reactor runs
    once per process); the portal keeps serving from this one."""
    import subprocess

    from rich.console import Console

    portal.advance()
    console = Console()
    code = EXIT_OK
    for title, extra in (
        (f"a night later: {len(portal.new_articles)} new articles on top, "
         f"{len(portal.edited)} edited, {len(portal.deleted)} deleted. The nightly run "
         "(incremental, the default):", []),
        ("crawl --full: every listing, every known article revalidated (conditional "
         "requests):", ["--full"]),
    ):
        console.print(f"\n{title}", markup=False)
        settings = [x for item in DEMO_SETTINGS + args.set for x in ("-s", item)]
        out = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--start-url",
                              portal.start_url, "--db", str(db), "--log-level",
                              args.log_level, *extra, *settings])
        code = max(code, EXIT_OK if out.returncode == EXIT_PARTIAL else out.returncode)
    return code


def _run(command: str, spider_kwargs: dict, db: Path, overrides: list[str],
         log_level: str) -> int:
    """run_crawl with its refusals as one line each; the summary; the exit code."""
    def warn(message: str) -> None:
        print(f"crawler {command}: warning: {message}", file=sys.stderr)

    try:
        row = run_crawl(spider_kwargs, db, overrides, log_level, warn=warn)
    except UsageError as exc:
        print(f"crawler {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LockHeld as exc:
        print(f"crawler {command}: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    _print_crawl(row, db)
    return exit_code(row)


def _print_crawl(row: dict, db: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    code = exit_code(row)
    result = {EXIT_OK: "success", EXIT_PARTIAL: "partial", EXIT_FAILED: "failed"}[code]
    table = Table(title=f"crawl {row.get('id', '?')}: {row.get('status', '?')} ({result}, "
                  f"exit {code})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("pages_fetched", "articles_new", "articles_changed", "articles_unchanged",
                "errors", "started", "finished"):
        table.add_row(key.replace("_", " "), str(row.get(key, "")))
    console = Console()
    console.print()
    console.print(table)
    reasons = row.get("reasons") or []
    if reasons and code == EXIT_FAILED:
        console.print("nothing was fetched:", markup=False)
    elif reasons:
        console.print("errors by reason:", markup=False)
    elif code == EXIT_FAILED:
        console.print("nothing was fetched, and no URL failed (robots.txt or the page cap "
                      "stopped every request?): see the log", markup=False)
    for reason, count in reasons:
        console.print(f"  {count:>5} x {reason}", markup=False, soft_wrap=True)
    console.print(f"archive: {db}\nlog: {row.get('log_file')}")
    if (db.parent / "warc").is_dir():
        console.print(f"WARC files: {db.parent / 'warc'}; images and documents: "
                      f"{db.parent / 'files'}", markup=False, soft_wrap=True)
    console.print(f"browse it: {sys.executable} -m crawler serve --db {db}")


def cmd_crawl(args: argparse.Namespace) -> int:
    targets = [name for name, given in (("site names", args.sites), ("--all", args.all),
                                        ("--start-url", args.start_url)) if given]
    mistake = None
    if len(targets) > 1:
        mistake = f"give site names, --all or --start-url, not {' and '.join(targets)}"
    elif args.family != "auto" and not args.start_url:
        mistake = ("--family applies to --start-url (a registered site's family is in "
                   "crawler/sites.toml)")
    if mistake:
        print(f"crawler crawl: {mistake}", file=sys.stderr)
        return EXIT_USAGE
    if args.all:
        kwargs = {"all": "1"}
    elif args.start_url:
        kwargs = {"start_url": args.start_url, "family": args.family}
    else:
        kwargs = {"sites": ",".join(args.sites)}
    if args.full:
        kwargs["full"] = "1"  # the spider's argument (scrapy crawl portal -a full=1)
    overrides = list(args.set) + ([] if args.media else ["MEDIA_ENABLED=False"])
    return _run("crawl", kwargs, archive_path(args.db, base=Path.cwd()), overrides,
                args.log_level)


def cmd_reextract(args: argparse.Namespace) -> int:
    from .store import Archive
    from .warc import reextract

    db = archive_path(args.db, base=Path.cwd())
    if not db.exists():
        print(f"crawler reextract: no archive at {db}", file=sys.stderr)
        return EXIT_USAGE
    with Archive(db) as archive:
        counts = reextract(archive, site=args.site)
    print(f"reextract (crawl {counts['crawl_id']}): {counts['read']} pages read again from "
          f"WARC, {counts['changed']} changed (a new version each), {counts['unchanged']} "
          f"unchanged, {counts['unreadable']} not re-extracted")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """The last run per site, and the sites overdue or failing (read-only)."""
    import sqlite3

    from .status import print_status

    db = archive_path(args.db, base=Path.cwd())
    if not db.is_file():
        print(f"crawler status: no archive at {db}", file=sys.stderr)
        return EXIT_USAGE
    try:
        print_status(db, overdue_hours=args.overdue_hours)
    except sqlite3.DatabaseError as exc:
        print(f"crawler status: cannot read {db} as an archive: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


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
        return serve(archive_path(args.db, base=Path.cwd()), host=args.host, port=args.port,
                     public=args.public, refresh_minutes=args.refresh,
                     snapshot_dir=args.snapshot_dir)
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
    p.add_argument("--family", default="auto",
                   help="auto (recognize), generic (family rules off) or a family name")
    p.add_argument("--learn-template", action="store_true",
                   help="the pages are of one site: learn its template (menus, footers, "
                        "sidebars) from them and keep it out of every record")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("new-site", help="add a portal to the site registry (sites.toml)")
    p.add_argument("name", help="registry key, e.g. laocai-sgddt")
    p.add_argument("url", help="start URL (absolute, with https://)")
    p.add_argument("--page", help="a saved article page of the site: its family is recognized "
                                  "and it becomes a fixture with a gold skeleton")
    p.add_argument("--title", help="the site's name (default: from the page, else the host)")
    p.set_defaults(func=cmd_new_site)

    p = sub.add_parser("demo", help="the main job: crawl the bundled demo portal into the archive")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("--port", type=int, default=8931, help="demo portal port (default 8931)")
    p.add_argument("--articles", type=int, default=300, help="articles in the demo portal")
    p.add_argument("--no-later", dest="later", action="store_false",
                   help="only the first crawl (default: then a night later, nightly and --full)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                   help="Scrapy setting override (repeatable)")
    p.add_argument("--log-level", default="INFO", help="log file level (default INFO)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("crawl", help="crawl registered sites, or any portal by start URL")
    p.add_argument("sites", nargs="*", help="site names from `python -m crawler sites`")
    p.add_argument("--all", action="store_true", help="every site in the registry")
    p.add_argument("--start-url", help="crawl a portal that has no profile")
    p.add_argument("--family", default="auto", help="layout family for --start-url (default: auto)")
    p.add_argument("--full", action="store_true",
                   help="walk every listing and revalidate every known article (default: "
                   "incremental: new articles, and known ones when due)")
    p.add_argument("--no-media", dest="media", action="store_false",
                   help="do not download the articles' images and attachments (default: "
                   "downloaded to files/ beside the archive)")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                   help="Scrapy setting override (repeatable)")
    p.add_argument("--log-level", default="INFO", help="log file level (default INFO)")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("status", help="last run per site; sites overdue or failing")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("--overdue-hours", type=float, default=36.0, metavar="N",
                   help="a site is overdue after N hours without a successful run (default 36)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("sites", help="list the registered sites")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser("serve", help="browse the archive in Datasette")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    p.add_argument("--public", action="store_true",
                   help="read-only for the public: a consistent snapshot of the archive "
                        "(SQLite backup), immutable, no download; SIGHUP refreshes it")
    p.add_argument("--refresh", type=float, metavar="MINUTES",
                   help="with --public: take a new snapshot every MINUTES")
    p.add_argument("--snapshot-dir",
                   help="with --public: where snapshots go (default: ARCHIVE-public/ beside it)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("reextract", help="extract every article again from its WARC record "
                       "with the current extractor; a new version where the record differs")
    p.add_argument("--db", help="archive file (default: data/archive.db in the project)")
    p.add_argument("--site", help="only this site (host or registry key)")
    p.set_defaults(func=cmd_reextract)

    p = sub.add_parser("families", help="list the layout families the extractor knows")
    p.set_defaults(func=cmd_families)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
