"""``python -m crawler serve``: the archive in Datasette, with the metadata, templates and
search plugin shipped in ``crawler/datasette/``."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import yaml

from .store import Archive

HERE = Path(__file__).with_name("datasette")
METADATA = HERE / "metadata.yml"
TEMPLATES = HERE / "templates"
PLUGINS = HERE / "plugins"
# The database name metadata.yml is written for; renamed to the served file's stem.
METADATA_DB = "archive"
SETTINGS = {
    # Table pages show the start of long bodies; the article page shows all of it.
    "truncate_cells_html": 400,
    "default_page_size": 50,
    # Suggesting facets runs a query per column over the whole result: seconds on a
    # large archive. The useful facets are configured in metadata.yml.
    "suggest_facets": False,
}


class ServeError(Exception):
    """The archive cannot be served; the message says why."""


def metadata_for(db_name: str) -> dict:
    """The shipped metadata, its database section named after the served file."""
    meta = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    databases = meta.get("databases", {})
    if METADATA_DB in databases and db_name != METADATA_DB:
        databases[db_name] = databases.pop(METADATA_DB)
    return meta


def prepare(db: Path, *, public: bool) -> None:
    """Bring the file to the current schema and, for immutable serving, fold the WAL in."""
    if not db.exists():
        raise ServeError(f"no archive at {db}: run a crawl first (python -m crawler demo)")
    try:
        with Archive(db) as archive:
            if public:
                # Immutable readers ignore the -wal file: everything must be in the main file.
                archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError as exc:
        if not public:
            raise ServeError(f"cannot open {db} as an archive: {exc}") from exc
        # A read-only copy for the public is served as it is.


def datasette_args(db: Path, metadata_path: Path, *, host: str, port: int,
                   public: bool) -> list[str]:
    args = ["serve", "-i", str(db)] if public else ["serve", str(db)]
    args += [
        "--metadata", str(metadata_path),
        "--template-dir", str(TEMPLATES),
        "--plugins-dir", str(PLUGINS),
        "--host", host,
        "--port", str(port),
    ]
    settings = dict(SETTINGS)
    if public:
        # Read-only for the public: immutable file, no whole-file download.
        settings["allow_download"] = False
    for name, value in settings.items():
        text = ("on" if value else "off") if isinstance(value, bool) else str(value)
        args += ["--setting", name, text]
    return args


def serve(db: str | Path, *, host: str = "127.0.0.1", port: int = 8001,
          public: bool = False) -> int:
    """Run Datasette on the archive until interrupted."""
    from datasette.cli import cli

    db = Path(db).expanduser().resolve()
    prepare(db, public=public)
    with tempfile.TemporaryDirectory(prefix="vngov-serve-") as tmp:
        metadata_path = Path(tmp) / "metadata.json"
        metadata_path.write_text(json.dumps(metadata_for(db.stem), ensure_ascii=False),
                                 encoding="utf-8")
        args = datasette_args(db, metadata_path, host=host, port=port, public=public)
        try:
            cli.main(args=args, prog_name="datasette", standalone_mode=False)
        except KeyboardInterrupt:
            pass
    return 0
