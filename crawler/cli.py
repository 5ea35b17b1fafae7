"""Command line: ``python -m crawler <command>``; each command is a thin layer over a library call."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lxml import html as lxml_html

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).with_name("samples")


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


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on embedded data: extract the bundled sample pages and show the records."""
    from rich.console import Console
    from rich.table import Table

    from .extract import extract_article

    console = Console()
    pages = sorted(SAMPLES.glob("*.html"))
    table = Table(title=f"{len(pages)} bundled sample pages -> records")
    for col in ("page", "family", "published", "title", "paragraphs", "images", "byline", "warnings"):
        table.add_column(col, overflow="fold")
    out = Path(args.out) if args.out else None
    lines = []
    for path in pages:
        rec = extract_article(path.read_bytes(), _url_from_page(path.read_bytes(), str(path)))
        lines.append(json.dumps(rec, ensure_ascii=False))
        table.add_row(
            path.stem, rec["family"], rec["published"] or "-", (rec["title"] or "-")[:60],
            str(len((rec["body"] or "").split("\n\n"))), str(len(rec["images"])),
            rec["byline"] or "-", ", ".join(w.split(":")[0] for w in rec["warnings"]) or "-",
        )
    console.print(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print(f"records written to {out} (JSON Lines)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crawler", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="extract article records from saved pages (JSON / JSON Lines)")
    p.add_argument("pages", nargs="+", help="saved HTML files")
    p.add_argument("--url", help="the page's URL (one file only); default: canonical link, og:url, else the path")
    p.add_argument("--content-type", help="the HTTP Content-Type header the page came with")
    p.add_argument("--pretty", action="store_true", help="indent the JSON of a single page")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("demo", help="the main job on the embedded demo data")
    p.add_argument("--out", default=str(ROOT / "data" / "demo-records.jsonl"),
                   help="where to write the records (JSON Lines)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("families", help="list the layout families the extractor knows")
    p.set_defaults(func=cmd_families)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
